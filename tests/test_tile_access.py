"""A tile checks its credentials inside its own statement (one round trip for the check, the
revision and the tile), by the same rules as every other request: a bad, expired or revoked token,
a disabled user or an ended login session is refused at once, with the same 401, on every kind of
tile request; and a bad token never gets a tile made."""

from __future__ import annotations

import base64
import math

import mapbox_vector_tile
import pytest
from helpers import bad_credentials, post_login
from sqlalchemy import text

from gis_app.accounts.credentials import Credentials
from gis_app.accounts.users import create_token
from gis_app.features.tiles import tile_answer

GATCHINA = (30.12, 59.56)


def _tile(z: int) -> str:
    lon, lat = GATCHINA
    n = 2**z
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return f"{z}/{int((lon + 180) / 360 * n)}/{y}"


TILE = f"/tiles/road_segments/{_tile(14)}.mvt"
# Every kind of tile request: a tile, a revalidation, below the tiles' zoom, and those that fail
# on their own (unknown layer, bad numbers): a bad credential is refused first, as elsewhere.
REQUESTS = [
    (TILE, {}),
    (TILE, {"If-None-Match": '"x"'}),
    ("/tiles/road_segments/3/4/2.mvt", {}),
    (f"/tiles/no_such_layer/{_tile(14)}.mvt", {}),
    ("/tiles/road_segments/14/a/1.mvt", {}),
]


def assert_error(response, status: int, code: str) -> None:
    """A JSON error of the one shape (with the OGC API's "description", as every /tiles error)."""
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == {"status", "code", "message", "details", "description"}
    assert body["status"] == status and body["code"] == code


def _bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def _basic(user: str, token: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{token}".encode()).decode()}


def test_bad_credentials_get_401_on_every_kind_of_tile_request(anon_client, session, tokens):
    bad = bad_credentials(session, tokens["planner"])
    for url, extra in REQUESTS:
        for headers in bad:
            assert_error(anon_client.get(url, headers={**headers, **extra}), 401, "invalid_token")
        assert_error(anon_client.get(url, headers=extra), 401, "unauthorized")
    # The same requests with a good token: answered.
    good = _basic("PLANNER", tokens["planner"])
    statuses = [anon_client.get(url, headers={**good, **extra}).status_code
                for url, extra in REQUESTS]  # fmt: skip
    assert statuses == [200, 200, 200, 404, 400]


def test_a_revoked_token_or_disabled_user_is_refused_at_the_next_tile(anon_client, session):
    token = create_token(session, "planner", "tile map")
    session.flush()
    first = anon_client.get(TILE, headers=_bearer(token))
    assert first.status_code == 200
    assert mapbox_vector_tile.decode(first.data)["road_segments"]["features"]
    session.execute(text("UPDATE api_tokens SET revoked_at = now() WHERE name = 'tile map'"))
    session.flush()
    assert_error(anon_client.get(TILE, headers=_bearer(token)), 401, "invalid_token")
    other = create_token(session, "planner", "tile map 2")
    session.flush()
    assert anon_client.get(TILE, headers=_bearer(other)).status_code == 200
    session.execute(text("UPDATE users SET is_active = false WHERE username = 'planner'"))
    session.flush()
    assert_error(anon_client.get(TILE, headers=_bearer(other)), 401, "invalid_token")


def test_a_tile_marks_the_token_used(anon_client, session):
    token = create_token(session, "planner", "tile mark")
    session.flush()
    assert anon_client.get(TILE, headers=_bearer(token)).status_code == 200
    used = session.execute(
        text("SELECT last_used_at FROM api_tokens WHERE name = 'tile mark'")
    ).scalar_one()
    assert used is not None


@pytest.mark.parametrize("username", ["planner", "dispatcher-gatchina"])
def test_a_login_session_draws_tiles_until_it_ends(app, connection, username):
    browser = app.test_client()
    assert post_login(browser, username=username, password="demo-2026").status_code == 302
    assert browser.get(TILE).status_code == 200
    page = browser.get("/map/gatchina").get_data(as_text=True)
    csrf = page.split('"csrfToken": "', 1)[1].split('"', 1)[0]
    cookie = browser.get_cookie("session").value
    assert browser.post("/logout", data={"csrf_token": csrf}).status_code == 302
    stolen = app.test_client()
    stolen.set_cookie("session", cookie)  # a copy of the cookie from before the logout
    assert_error(stolen.get(TILE), 401, "unauthorized")
    assert_error(browser.get(TILE), 401, "unauthorized")


def test_the_statement_makes_no_tile_for_bad_credentials(app, session, tokens):
    layer = app.extensions["gis_app"].get("road_segments")
    z, x, y = (int(n) for n in _tile(14).split("/"))
    good = tile_answer(session, layer, z, x, y, Credentials(token=tokens["planner"]))
    assert good.who.username == "planner" and good.mvt and good.tag != "empty"
    bad = tile_answer(session, layer, z, x, y, Credentials(token="gis_nope"))
    assert bad.who.user_id is None and bad.mvt is None and bad.tag == good.tag
    # No credentials to check (remembered, or checked before): the tile alone.
    assert tile_answer(session, layer, z, x, y).mvt == good.mvt


def _network_scans(connection, run) -> list[int]:
    """The loops of each scan of network_features in the plan of the one statement `run` sends."""
    import json

    from sqlalchemy import event

    sent = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        sent.append((statement, parameters))

    event.listen(connection, "before_cursor_execute", capture)
    try:
        run()
    finally:
        event.remove(connection, "before_cursor_execute", capture)
    statement, parameters = next(s for s in sent if "network_features" in s[0])
    plan = connection.exec_driver_sql(
        "EXPLAIN (ANALYZE, FORMAT JSON) " + statement, parameters
    ).scalar()
    plan = plan if isinstance(plan, list) else json.loads(plan)
    loops, todo = [], [plan[0]["Plan"]]
    while todo:
        node = todo.pop()
        if node.get("Relation Name") == "network_features":
            loops.append(node["Actual Loops"])
        todo += node.get("Plans", [])
    return loops


def test_a_bad_token_costs_no_tile_work(app, connection, session, tokens):
    """The tile's scan of network_features never runs for credentials that fail."""
    layer = app.extensions["gis_app"].get("road_segments")
    z, x, y = (int(n) for n in _tile(14).split("/"))

    def answer(token):
        return lambda: tile_answer(session, layer, z, x, y, Credentials(token=token))

    assert _network_scans(connection, answer("gis_nope")) == [0]
    assert _network_scans(connection, answer(tokens["planner"])) == [1]


def test_a_login_held_to_a_password_change_gets_no_tiles(app, session, tokens):
    """A login whose password an admin set is refused tiles until it is changed (as every other
    endpoint but the change itself); the user's API tokens work on."""
    browser = app.test_client()
    assert post_login(browser, username="planner", password="demo-2026").status_code == 302
    assert browser.get(TILE).status_code == 200
    session.execute(text("UPDATE users SET must_change_password = true WHERE username = 'planner'"))
    session.flush()
    assert_error(browser.get(TILE), 403, "password_change_required")
    assert_error(browser.get(f"/tiles/no_such_layer/{_tile(14)}.mvt"), 403,
                 "password_change_required")  # fmt: skip
    assert app.test_client().get(TILE, headers=_bearer(tokens["planner"])).status_code == 200
