"""Authentication everywhere: every non-public endpoint refuses an anonymous caller; tokens and
sessions authenticate; roles and a dispatcher's municipalities are what the account says."""

from __future__ import annotations

import base64
import re

from helpers import assert_error, expired_and_revoked_tokens, post_login
from sqlalchemy import text

from gis_app.web.access import PUBLIC_ENDPOINTS

SAMPLE = {
    "layer_id": "water_mains",
    "slug": "gatchina",
    "token_id": "1",
    "package": "leaflet",
    "filename": "leaflet.js",
}


def _routes(app):
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        public = rule.endpoint in PUBLIC_ENDPOINTS or getattr(view, "is_public", False)
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", lambda m: SAMPLE.get(m.group(1), "1"), rule.rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule.endpoint, method, path, public


def test_every_private_endpoint_refuses_anonymous_callers(app, anon_client):
    checked = 0
    for endpoint, method, path, public in _routes(app):
        if public:
            continue
        response = anon_client.open(path, method=method, headers={"Accept": "application/json"})
        assert response.status_code == 401, (endpoint, method, path, response.status_code)
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        checked += 1
    assert checked >= 10


def test_pages_send_people_to_the_login_form(anon_client):
    response = anon_client.get("/map/gatchina", headers={"Accept": "text/html"})
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/login?next=/map/gatchina")
    login = anon_client.get("/login")
    assert login.status_code == 200 and "Имя пользователя" in login.get_data(as_text=True)


def test_public_things_are_open(anon_client):
    for path in ("/vendor/leaflet/leaflet.js", "/static/app.css", "/login"):
        with anon_client.get(path) as response:
            assert response.status_code == 200, path


def test_bad_tokens_are_refused(anon_client, session):
    assert_error(
        anon_client.get("/api/layers", headers={"Authorization": "Basic YTpi"}),
        401,
        "invalid_token",
    )
    assert_error(
        anon_client.get("/api/layers", headers={"Authorization": "Bearer gis_nope"}),
        401,
        "invalid_token",
    )


def _basic(user: str, secret: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode()}


def test_basic_auth_takes_the_user_name_and_an_api_token(anon_client, tokens):
    """GIS clients whose dialogs offer only a user and a password (QGIS, GDAL's USERPWD) send
    the API token as the password; never the account's password, and never another's token."""
    me = anon_client.get("/api/me", headers=_basic("planner", tokens["planner"]))
    assert me.status_code == 200 and me.get_json()["username"] == "planner"
    assert (
        anon_client.get("/api/me", headers=_basic("PLANNER", tokens["planner"])).status_code == 200
    )
    for headers in (
        _basic("admin", tokens["planner"]),  # someone else's token
        _basic("planner", "demo-2026"),  # the account's password
        _basic("planner", ""),
        {"Authorization": "Basic not-base64!"},
        {"Authorization": "Basic " + base64.b64encode(b"no colon").decode()},
    ):
        assert_error(anon_client.get("/api/me", headers=headers), 401, "invalid_token")


def test_expired_and_revoked_tokens_stop_working(app, anon_client, session):
    for token in expired_and_revoked_tokens(session):
        assert_error(
            anon_client.get("/api/me", headers={"Authorization": f"Bearer {token}"}),
            401,
            "invalid_token",
        )


def test_disabled_user_is_locked_out_at_once(client_as, session):
    planner = client_as("planner")
    assert planner.get("/api/me").status_code == 200
    session.execute(text("UPDATE users SET is_active = false WHERE username = 'planner'"))
    session.flush()
    assert_error(planner.get("/api/me"), 401, "invalid_token")


def test_identity_of_each_role(client_as, session):
    ids = dict(session.execute(text("SELECT slug, id FROM municipalities")).all())
    me = client_as("dispatcher-gatchina").get("/api/me").get_json()
    assert me["role"] == "dispatcher"
    assert ids["gatchina"] in me["municipality_ids"] and ids["gatchinsky"] in me["municipality_ids"]
    assert ids["sosnovy-bor"] not in me["municipality_ids"]
    assert client_as("dispatcher").get("/api/me").get_json()["municipality_ids"] is None
    operator = client_as("operator").get("/api/me").get_json()
    vodokanal = session.execute(
        text("SELECT id FROM operators WHERE slug = 'demo-vodokanal-gatchina'")
    ).scalar_one()
    assert operator["role"] == "operator" and operator["operator_id"] == vodokanal
    assert client_as("planner").get("/api/me").get_json()["role"] == "planner"


def _login(test_client, username="planner", password="demo-2026", next_=""):
    return post_login(test_client, username=username, password=password, next=next_)


def test_login_name_is_not_case_sensitive(app):
    """Phones capitalise the first letter; user names are lower case."""
    browser = app.test_client()
    response = post_login(browser, username=" Planner ", password="demo-2026")
    assert response.status_code == 302
    assert browser.get("/api/me").get_json()["username"] == "planner"
    form = app.test_client().get("/login").get_data(as_text=True)
    assert 'autocapitalize="none"' in form


def test_session_login_tokens_and_csrf(app, anon_client):
    assert _login(anon_client, password="wrong-password").status_code == 401
    response = _login(anon_client, next_="/map/gatchina")
    assert response.status_code == 302 and response.headers["Location"] == "/map/gatchina"
    assert anon_client.get("/api/me").get_json()["username"] == "planner"
    # A write by cookie alone is refused: another site could make the browser send it.
    assert_error(anon_client.post("/api/tokens", json={"name": "x"}), 403, "csrf_failed")
    page = anon_client.get("/map/gatchina").get_data(as_text=True)
    csrf = re.search(r'"csrfToken": "([^"]+)"', page).group(1)
    made = anon_client.post(
        "/api/tokens", json={"name": "qgis", "days": 30}, headers={"X-CSRF-Token": csrf}
    )
    assert made.status_code == 201
    token = made.get_json()["token"]
    listed = anon_client.get("/api/tokens").get_json()["tokens"]
    assert any(t["name"] == "qgis" for t in listed)
    assert all("token" not in t and "token_hash" not in t for t in listed)
    fresh = app.test_client()
    assert fresh.get("/api/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    token_id = next(t["id"] for t in listed if t["name"] == "qgis")
    assert (
        anon_client.delete(f"/api/tokens/{token_id}", headers={"X-CSRF-Token": csrf}).status_code
        == 204
    )
    assert fresh.get("/api/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    # Logout needs the session's token too (another site may not log users out)...
    assert_error(anon_client.post("/logout"), 403, "csrf_failed")
    cookie = anon_client.get_cookie("session").value
    assert anon_client.post("/logout", data={"csrf_token": csrf}).status_code == 302
    assert anon_client.get("/api/me").status_code == 401
    # ...and ends the session on the server: a copy of the cookie no longer logs anybody in.
    stolen = app.test_client()
    stolen.set_cookie("session", cookie)
    assert stolen.get("/api/me").status_code == 401
    # A new login works again.
    assert _login(anon_client).status_code == 302
    assert anon_client.get("/api/me").status_code == 200


def test_login_form_needs_its_csrf_token(app):
    browser = app.test_client()
    browser.get("/login")
    # A login posted by another site (no token of this form) logs nobody in.
    forged = browser.post("/login", data={"username": "planner", "password": "demo-2026"})
    assert forged.status_code == 403 and "The form expired" in forged.get_data(as_text=True)
    assert browser.get("/api/me").status_code == 401
    assert post_login(browser, username="planner", password="demo-2026").status_code == 302


def test_session_cookie_secure_setting(postgis_url):
    from gis_app import create_app

    app = create_app({"DATABASE_URL": postgis_url, "GIS_APP_SESSION_COOKIE_SECURE": 1})
    browser = app.test_client()
    response = post_login(browser, username="planner", password="demo-2026")
    cookies = response.headers.getlist("Set-Cookie")
    (login,) = [c for c in cookies if c.startswith("session=")]
    assert "Secure" in login and "HttpOnly" in login and "SameSite=Lax" in login
    # Every cookie of the service follows the setting (the read-your-writes one too).
    assert all("Secure" in c for c in cookies), cookies


def test_no_open_redirect_after_login(anon_client):
    for target in ("//evil.example/", "https://evil.example/", "javascript:alert(1)"):
        response = _login(anon_client, next_=target)
        # The fallback is the start page (a dispatcher's own municipality), never the target.
        assert response.headers["Location"] == "/start", target
        anon_client.post("/logout")


def test_users_cannot_revoke_each_others_tokens(client_as, session, tokens):
    other = session.execute(
        text(
            "SELECT t.id FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE u.username = 'admin'"
            " ORDER BY t.id LIMIT 1"
        )
    ).scalar_one()
    assert_error(client_as("planner").delete(f"/api/tokens/{other}"), 404, "token_not_found")
    bad = client_as("planner").post("/api/tokens", json={"days": 99999})
    assert_error(bad, 400, "invalid_parameter")
