"""The tile fast path (gis_app/web/tile_fast_path.py) answers the plain tile request exactly as
the tile view does, byte for byte and header for header, without running Flask; every other
request (refused credentials, revalidations, HEAD, other parameters) still goes through Flask."""

from __future__ import annotations

import base64
import math
import time

import mapbox_vector_tile
import pytest
from flask import request_started
from helpers import post_login
from pg_clusters import free_port
from sqlalchemy import text
from werkzeug.test import Client

from gis_app import create_app

GATCHINA = (30.12, 59.56)


def _tile(z: int, layer: str = "road_segments") -> str:
    lon, lat = GATCHINA
    n = 2**z
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return f"/tiles/{layer}/{z}/{int((lon + 180) / 360 * n)}/{y}.mvt"


@pytest.fixture
def flask_runs(app):
    """The list of paths Flask itself handled during the test (its request_started signal)."""
    seen: list[str] = []

    def started(sender, **extra):
        from flask import request

        seen.append(request.full_path)

    request_started.connect(started, app)
    yield seen
    request_started.disconnect(started, app)


def assert_error(response, status: int, code: str) -> None:
    """A JSON error of the one shape (with the OGC API's "description", as every /tiles error)."""
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == {"status", "code", "message", "details", "description"}
    assert body["status"] == status and body["code"] == code


def _client(wsgi_app, headers: dict) -> Client:
    """A client of `wsgi_app`; a "Cookie" in `headers` goes into its cookie jar."""
    client = Client(wsgi_app)
    if "Cookie" in headers:
        name, _, value = headers["Cookie"].partition("=")
        client.set_cookie(name, value)
    return client


def _get(wsgi_app, url: str, headers: dict, method: str = "GET"):
    plain = {k: v for k, v in headers.items() if k != "Cookie"}
    return _client(wsgi_app, headers).open(url, method=method, headers=plain)


def _both(app, url: str, headers: dict) -> tuple:
    """(answer through the app, answer of Flask alone) for the same request."""
    return _get(app, url, headers), _get(app.wsgi_app.wsgi_app, url, headers)


def _login_cookie(app, username: str = "planner") -> str:
    browser = app.test_client()
    assert post_login(browser, username=username, password="demo-2026").status_code == 302
    return browser.get_cookie("session").value


def test_the_fast_path_answers_as_the_view_does(app, connection, tokens, flask_runs):
    version = app.test_client().get(
        "/tiles/road_segments.json", headers={"Authorization": f"Bearer {tokens['admin']}"}
    )
    version = version.get_json()["version"]
    bearer = {"Authorization": f"Bearer {tokens['planner']}"}
    basic = {"Authorization": "Basic " + base64.b64encode(
        f"planner:{tokens['planner']}".encode()).decode()}  # fmt: skip
    cookie = {"Cookie": f"session={_login_cookie(app)}"}
    cases = [
        (_tile(14) + f"?v={version}", bearer),  # the map's request: cached for a day
        (_tile(14), bearer),  # no v: no-cache
        (_tile(14) + "?v=0123456789ab", bearer),  # an old v: no-cache
        (_tile(12) + f"?v={version}", {**bearer, "Accept-Encoding": "gzip, br"}),
        (_tile(10), basic),
        (_tile(3), bearer),  # below the tiles' zoom: empty
        (_tile(16, "power_substations"), bearer),
        (_tile(14) + f"?v={version}", cookie),  # a browser's login
        (_tile(13), {**cookie, "Accept-Encoding": "gzip;q=0"}),
    ]
    for url, headers in cases:
        flask_runs.clear()
        fast, flask_only = _both(app, url, headers)
        assert len(flask_runs) == 1, url  # the Flask-only request, not the fast path's
        assert fast.status_code == flask_only.status_code == 200, url
        assert list(fast.headers.items()) == list(flask_only.headers.items()), url
        assert fast.data == flask_only.data, url
    # Real tiles: a z14 tile of Gatchina holds road segments.
    tile = _get(app, _tile(14), bearer)
    assert mapbox_vector_tile.decode(tile.data)["road_segments"]["features"]
    assert _get(app, _tile(14), cookie).headers["Vary"].endswith("Cookie")


def test_everything_else_goes_through_flask(app, connection, session, tokens, flask_runs):
    bearer = {"Authorization": f"Bearer {tokens['planner']}"}
    others = [
        ("GET", _tile(14), {"Authorization": "Bearer gis_nope"}, 401),
        ("GET", _tile(14), {}, 401),
        ("GET", _tile(14), {"Cookie": "session=forged"}, 401),
        ("GET", _tile(14), {**bearer, "If-None-Match": '"x"'}, 200),
        ("HEAD", _tile(14), bearer, 200),
        ("GET", _tile(14) + "?v=1&x=2", bearer, 200),
        ("GET", _tile(14, "no_such_layer"), bearer, 404),
        ("GET", "/tiles/road_segments/14/99999/1.mvt", bearer, 400),
        ("GET", _tile(14), {**bearer, "X-Note": "a\x01b"}, 400),
    ]
    for method, url, headers, status in others:
        flask_runs.clear()
        response = _get(app, url, headers, method)
        assert response.status_code == status, (method, url, headers)
        assert len(flask_runs) == 1, (method, url, headers)
    # A login held to a password change: refused by Flask, as before.
    cookie = {"Cookie": f"session={_login_cookie(app)}"}
    session.execute(text("UPDATE users SET must_change_password = true WHERE username = 'planner'"))
    session.flush()
    flask_runs.clear()
    assert _get(app, _tile(14), cookie).status_code == 403
    assert len(flask_runs) == 1


def test_database_errors_answer_503_once(postgis_url, tokens):
    """A full pool: one wait, then the app's 503 (not a second wait in Flask); a database that
    does not answer: 503 with Retry-After, in the one error shape."""
    app = create_app({
        "DATABASE_URL": postgis_url, "TESTING": True, "GIS_APP_DB_POOL_SIZE": 1,
        "GIS_APP_DB_MAX_OVERFLOW": 0, "GIS_APP_DB_POOL_TIMEOUT_S": 1, "GIS_APP_AUTH_CACHE_S": 0,
    })  # fmt: skip
    engine = app.config["ENGINE"]
    bearer = {"Authorization": f"Bearer {tokens['planner']}"}
    try:
        assert _get(app, _tile(14), bearer).status_code == 200
        held = engine.connect()  # the pool's only connection, busy elsewhere
        started = time.monotonic()
        response = _get(app, _tile(14), bearer)
        waited = time.monotonic() - started
        assert_error(response, 503, "database_busy")
        assert response.headers["Retry-After"] == "2" and 0.9 <= waited < 1.9, waited
        held.close()
        assert _get(app, _tile(14), bearer).status_code == 200
    finally:
        engine.dispose()
    closed = free_port(60150)  # nothing listens there
    down = create_app({"DATABASE_URL": postgis_url.rsplit("@", 1)[0] + f"@127.0.0.1:{closed}/x",
                       "TESTING": True})  # fmt: skip
    response = _get(down, _tile(14), bearer)
    assert_error(response, 503, "database_unavailable")
    assert int(response.headers["Retry-After"]) > 0
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_a_tile_is_the_same_bytes_whatever_the_plan(app, session, tokens):
    """Tile statements are prepared per connection and switch to a generic plan after five runs
    (a replica may plan otherwise too): a tile's bytes must not depend on the plan its rows came
    by. Here the rows come by the spatial index, then in table order."""
    from gis_app.accounts.credentials import Credentials
    from gis_app.features.tiles import tile_answer, tile_mvt

    layer = app.extensions["gis_app"].get("road_segments")
    session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))  # re-planned each run
    for z in (14, 12):
        x, y = _xy(z)
        tiles = []
        for scan in ("enable_seqscan", "enable_indexscan"):
            session.execute(text("SET LOCAL enable_bitmapscan = off"))
            session.execute(text("SET LOCAL enable_seqscan = on"))
            session.execute(text("SET LOCAL enable_indexscan = on"))
            session.execute(text(f"SET LOCAL {scan} = off"))
            tiles.append(tile_mvt(session, layer, z, x, y))
            tiles.append(
                tile_answer(session, layer, z, x, y, Credentials(token=tokens["planner"])).mvt
            )
        decoded = mapbox_vector_tile.decode(tiles[0])["road_segments"]["features"]
        assert len(decoded) > 5 and len(set(tiles)) == 1, z


def _xy(z: int) -> tuple[int, int]:
    lon, lat = GATCHINA
    n = 2**z
    return int((lon + 180) / 360 * n), int(
        (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n
    )
