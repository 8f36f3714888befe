"""A layer page and an OGC items page check their credentials in the statement that reads the
revision (one round trip before the page, not two), by the same rules as every other request: a
bad, expired or revoked token, a disabled user or an ended login is refused with the same 401
JSON error, on every kind of page request, before any page is made."""

from __future__ import annotations

import pytest
from helpers import bad_credentials, post_login
from sqlalchemy import event, text

from gis_app.accounts.users import create_token

BOX = "29.9,59.5,30.3,59.7"
ITEMS = "/ogc/collections/road_segments/items"
LAYER = "/api/layers/road_segments.geojson"
# Every kind of page request: a page, a revalidation, one that fails on its own (an unknown
# collection, a bad parameter): a bad credential is refused first, as elsewhere.
REQUESTS = [
    (f"{ITEMS}?bbox={BOX}&limit=5", {}),
    (f"{ITEMS}?limit=5", {"If-None-Match": '"x"'}),
    (f"{LAYER}?bbox={BOX}&limit=5", {}),
    (f"{LAYER}?limit=5", {"If-None-Match": '"x"'}),
    ("/ogc/collections/no_such/items", {}),
    (f"{ITEMS}?limit=zero", {}),
    ("/api/layers/no_such.geojson", {}),
]


def assert_error(response, status: int, code: str) -> None:
    """A JSON error of the one shape."""
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert {"status", "code", "message", "details"} <= set(body)
    assert body["status"] == status and body["code"] == code


def _bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def test_bad_credentials_get_401_on_every_kind_of_page_request(anon_client, session, tokens):
    bad = bad_credentials(session, tokens["planner"])
    for url, extra in REQUESTS:
        for headers in bad:
            assert_error(anon_client.get(url, headers={**headers, **extra}), 401, "invalid_token")
        assert_error(anon_client.get(url, headers=extra), 401, "unauthorized")
    good = _bearer(tokens["planner"])
    statuses = [anon_client.get(url, headers={**good, **extra}).status_code
                for url, extra in REQUESTS]  # fmt: skip
    assert statuses == [200, 200, 200, 200, 404, 400, 404]


def test_a_disabled_user_is_refused_at_the_next_page(anon_client, session):
    token = create_token(session, "planner", "soon disabled")
    session.flush()
    assert anon_client.get(f"{LAYER}?limit=1", headers=_bearer(token)).status_code == 200
    session.execute(text("UPDATE users SET is_active = false WHERE username = 'planner'"))
    session.flush()
    for url in (f"{LAYER}?limit=1", f"{ITEMS}?limit=1"):
        assert_error(anon_client.get(url, headers=_bearer(token)), 401, "invalid_token")


@pytest.mark.parametrize("username", ["planner", "dispatcher-gatchina"])
def test_a_login_session_reads_pages_until_it_ends(app, connection, username):
    browser = app.test_client()
    assert post_login(browser, username=username, password="demo-2026").status_code == 302
    assert browser.get(f"{ITEMS}?limit=2").status_code == 200
    assert browser.get(f"{LAYER}?limit=2").status_code == 200
    page = browser.get("/map/gatchina").get_data(as_text=True)
    csrf = page.split('"csrfToken": "', 1)[1].split('"', 1)[0]
    cookie = browser.get_cookie("session").value
    assert browser.post("/logout", data={"csrf_token": csrf}).status_code == 302
    stolen = app.test_client()
    stolen.set_cookie("session", cookie)  # a copy of the cookie from before the logout
    for url in (f"{ITEMS}?limit=2", f"{LAYER}?limit=2"):
        assert_error(stolen.get(url), 401, "unauthorized")


def test_one_statement_before_the_page_and_the_etag_still_revalidates(client, connection):
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:
        seen.append(statement)

    assert client.get(f"{LAYER}?limit=1").status_code == 200  # the token's use marked now
    event.listen(connection, "before_cursor_execute", record)
    try:
        first = client.get(f"{LAYER}?bbox={BOX}&limit=3")
    finally:
        event.remove(connection, "before_cursor_execute", record)
    assert first.status_code == 200 and len(first.get_json()["features"]) == 3
    checked = [s for s in seen if "serving_revisions" in s or "api_tokens" in s]
    # The revision and the token in one statement (the client's token is checked here, unless
    # a cache remembered it: then it is not looked up at all).
    assert len(checked) == 1 and "serving_revisions" in checked[0]
    again = client.get(f"{LAYER}?bbox={BOX}&limit=3",
                       headers={"If-None-Match": first.headers["ETag"]})  # fmt: skip
    assert again.status_code == 304 and again.headers["ETag"] == first.headers["ETag"]
    assert first.headers["Cache-Control"] == "no-cache"
