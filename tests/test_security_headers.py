"""Security headers (issue 11): nosniff everywhere; on HTML pages a Content-Security-Policy that
lets exactly the page's own inline scripts run, no framing, a same-origin referrer. The map
working in Chromium under this policy is tested by test_maps.py and test_workbench.py, which
fail on any console error (a CSP violation is one)."""

from __future__ import annotations

import base64
import hashlib
import re

from gis_app.web.headers import content_security_policy, script_hashes


def directives(response) -> dict[str, list[str]]:
    policy = response.headers["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in policy.split("; ")}


def test_map_page_lists_the_hash_of_each_inline_script(client):
    page = client.get("/map/gatchina", headers={"Accept": "text/html"})
    html = page.get_data(as_text=True)
    csp = directives(page)
    inline = re.findall(r"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", html, re.S)
    assert inline, "the Folium page has inline scripts"
    for body in inline:
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in csp["script-src"]
    assert "'unsafe-inline'" not in csp["script-src"] and "'unsafe-eval'" not in csp["script-src"]
    assert csp["frame-ancestors"] == ["'none'"] and csp["object-src"] == ["'none'"]
    assert page.headers["X-Frame-Options"] == "DENY"
    assert page.headers["Referrer-Policy"] == "same-origin"
    assert page.headers["X-Content-Type-Options"] == "nosniff"


def test_login_and_error_pages_have_the_policy_and_json_is_nosniff(client, anon_client):
    login = anon_client.get("/login")
    assert directives(login)["script-src"] == ["'self'"]
    assert login.headers["X-Frame-Options"] == "DENY"
    missing = client.get("/map/nowhere", headers={"Accept": "text/html"})
    assert missing.status_code == 404 and "Content-Security-Policy" in missing.headers
    api = client.get("/api/utilities")
    assert api.headers["X-Content-Type-Options"] == "nosniff"
    assert "Content-Security-Policy" not in api.headers


def test_an_injected_script_is_not_listed(app):
    page = "<script>var own = 1;</script><p><script>alert('injected')</script></p>"
    own = script_hashes("<script>var own = 1;</script>")
    with app.app_context():
        policy = content_security_policy("<script>var own = 1;</script>")
    assert own[0] in policy and len(script_hashes(page)) == 2
    assert script_hashes(page)[1] not in policy


def test_the_base_map_host_may_serve_images(app, client, monkeypatch):
    monkeypatch.setitem(
        app.config, "GIS_APP_BASEMAP_URL", "https://{s}.tile.openstreetmap.org/{z}/{x}/{y}.png"
    )
    page = client.get("/map/gatchina", headers={"Accept": "text/html"})
    assert "https://*.tile.openstreetmap.org" in directives(page)["img-src"]
