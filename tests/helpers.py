"""Helpers shared by the tests (import: `from helpers import ...`)."""

from __future__ import annotations

import base64
import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from gis_app import config

# Real OSM-derived data of the oblast, beside the repository (never copied into it); the tests
# that read it skip where it is absent.
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def post_login(test_client, **form):
    """POST the login form as a browser does: the form's CSRF token first (GET /login), then the
    fields; the response of the POST. `_headers` go with both requests."""
    import re

    headers = form.pop("_headers", None) or {}
    page = test_client.get("/login", headers=headers)
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True))
    data = {"csrf_token": found.group(1) if found else "", **form}
    return test_client.post("/login", data=data, headers=headers)


def assert_error(response, status: int, code: str) -> dict:
    """The response is a JSON error of the one shape, with this status and code."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"status", "code", "message", "details"}
    assert body["status"] == status and body["code"] == code
    assert body["message"]
    return body


def expired_and_revoked_tokens(session) -> tuple[str, str]:
    """Two of the planner's tokens made in `session` (rolled back after the test): one expired a
    minute ago, one revoked."""
    from gis_app.accounts.users import create_token

    expired = create_token(session, "planner", "expired")
    revoked = create_token(session, "planner", "revoked")
    session.execute(
        text("UPDATE api_tokens SET expires_at = :t WHERE name = 'expired'"),
        {"t": datetime.now(UTC) - timedelta(minutes=1)},
    )
    session.execute(text("UPDATE api_tokens SET revoked_at = now() WHERE name = 'revoked'"))
    session.flush()
    return expired, revoked


def bad_credentials(session, planner_token: str) -> list[dict]:
    """Authorization headers every protected request refuses with 401 invalid_token: an unknown
    token, an expired one, a revoked one, a good token under another user's name, and Basic
    that is not base64."""
    expired, revoked = expired_and_revoked_tokens(session)
    other = base64.b64encode(f"admin:{planner_token}".encode()).decode()
    return [{"Authorization": f"Bearer {token}"} for token in ("gis_nope", expired, revoked)] + [
        {"Authorization": f"Basic {other}"},
        {"Authorization": "Basic not-base64!"},
    ]


def assert_feature_collection(response) -> dict:
    """The response is an RFC 7946 FeatureCollection served as application/geo+json."""
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/geo+json"
    body = response.get_json()
    assert body["type"] == "FeatureCollection"
    for feature in body["features"]:
        assert feature["type"] == "Feature"
        assert isinstance(feature["id"], int)
        assert feature["geometry"]["type"] in {
            "Point",
            "LineString",
            "MultiLineString",
            "Polygon",
            "MultiPolygon",
            "MultiPoint",
        }
    return body


# Debian's Chromium, headless and quiet (Playwright drives it; no browser is ever downloaded).
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

SERVE = (
    "import sys; from werkzeug.serving import run_simple; from gis_app import create_app; "
    "run_simple('127.0.0.1', int(sys.argv[1]), create_app(), threaded=True)"
)


@contextmanager
def app_process(postgis_url: str, output=subprocess.DEVNULL):
    """The app served by a process of its own on a free port (its log to `output`); its URL."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "DATABASE_URL": postgis_url}
    proc = subprocess.Popen([sys.executable, "-c", SERVE, str(port)], env=env,
                            stdout=output, stderr=subprocess.STDOUT)  # fmt: skip
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.2)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


def recreate_database(url: str) -> None:
    """Drop and create the database named in `url` (connecting to the server's 'postgres' db)."""
    target = make_url(config.sqlalchemy_url(url))
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{target.database}"'))
    admin.dispose()


def wait_map_still(page, timeout_s: float = 15.0) -> None:
    """Wait until the page's Leaflet map (window.gisMap) has stopped moving: no zoom or pan
    animation, and the same view twice 250 ms apart. A point computed on a moving map is not
    where the mouse lands, and Leaflet's canvas ignores mouse moves while it animates."""
    view = (
        "() => { const m = gisMap.map, c = m.getCenter();"
        " const moving = m._animatingZoom || (m._panAnim && m._panAnim._inProgress);"
        " return moving ? null : [c.lat, c.lng, m.getZoom()]; }"
    )
    deadline = time.monotonic() + timeout_s
    last = None
    while time.monotonic() < deadline:
        now = page.evaluate(view)
        if now is not None and now == last:
            return
        last = now
        page.wait_for_timeout(250)
    raise AssertionError("the map kept moving for %.0f s" % timeout_s)


def hover_until(page, x: float, y: float, locator, attempts: int = 8) -> None:
    """Move the mouse onto (x, y) as a hand does, in small steps from a few pixels away, until
    `locator` shows. One synthetic move is a single event, which Leaflet's canvas may drop
    (it throttles hover handling to one event per 32 ms and skips moves during animations)."""
    for attempt in range(attempts):
        page.mouse.move(x - 4, y - 4, steps=2)
        page.mouse.move(x, y, steps=4)
        try:
            locator.wait_for(timeout=1_500)
            return
        except Exception:  # noqa: BLE001 - Playwright's TimeoutError: move again
            if attempt == attempts - 1:
                raise
