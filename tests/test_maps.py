"""The map pages: small HTML that refers to every layer, no outside URL, working in a real browser
with every request outside the local server blocked."""

from __future__ import annotations

import re

import pytest

from gis_app.layers import layer_registry


@pytest.mark.parametrize(
    "path", ["/", "/map/gatchina", "/map/sosnovy-bor", "/map/gatchina?lang=en"]
)
def test_page_is_small_refers_to_every_layer_and_nothing_outside(app, client, path):
    response = client.get(path)
    assert response.status_code == 200 and response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert len(response.data) < 150_000
    for layer in layer_registry(app):
        assert f"/api/layers/{layer.id}.geojson" in html
        assert layer.style["color"] in html
    assert "/vendor/leaflet/leaflet.js" in html and "/vendor/leaflet/leaflet.css" in html
    # No CDN, no outside host: everything the page needs comes from this service.
    assert re.findall(r"""(?:src|href)=["']?(?:https?:)?//""", html) == []
    assert "cdn" not in html.lower()


def test_russian_first_english_available(client):
    ru = client.get("/map/gatchina").get_data(as_text=True)
    assert '<html lang="ru">' in ru and "Водопроводные сети" in ru and "Гатчина" in ru
    en = client.get("/map/gatchina?lang=en").get_data(as_text=True)
    assert '<html lang="en">' in en and "Water mains" in en


def test_vendor_assets_are_served(client):
    for path in (
        "/vendor/leaflet/leaflet.js",
        "/vendor/leaflet/leaflet.css",
        "/vendor/leaflet/images/layers.png",
    ):
        with client.get(path) as response:
            assert response.status_code == 200 and len(response.data) > 100
            assert "max-age" in response.headers["Cache-Control"]
    with client.get("/vendor/nothing/x.js") as response:
        assert response.status_code == 404


def open_page(browser, url: str, base: str, headers: dict | None = None):
    """A page on which every request outside `base` is blocked and every problem recorded."""
    context = browser.new_context(
        viewport={"width": 1280, "height": 800}, locale="ru-RU", extra_http_headers=headers or {}
    )
    problems, outside = [], []

    def route(r):
        if r.request.url.startswith(base):
            r.continue_()
        else:
            outside.append(r.request.url)
            r.abort()

    context.route("**/*", route)
    page = context.new_page()
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on(
        "response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None
    )
    page.goto(url)
    page.wait_for_selector("body[data-ready='1']", state="attached", timeout=20_000)
    return page, problems, outside


def test_gatchina_in_a_real_browser_offline(browser, live_server, auth_headers):
    page, problems, outside = open_page(
        browser, f"{live_server}/map/gatchina", live_server, auth_headers
    )
    page.wait_for_function("() => document.body.dataset.layer_water_mains > 0", timeout=20_000)
    page.wait_for_function("() => document.body.dataset.layer_power_lines > 0", timeout=20_000)
    assert int(page.evaluate("document.body.dataset.incidents")) > 0
    # Toggle the gas pipelines off and on in the layer control: the layer is fetched again.
    page.hover(".leaflet-control-layers")  # the control opens on hover
    label = page.locator(".leaflet-control-layers-overlays label", has_text="Газопроводы")
    label.locator("input").uncheck()
    page.evaluate("delete document.body.dataset.layer_gas_pipelines")
    label.locator("input").check()
    page.wait_for_function("() => document.body.dataset.layer_gas_pipelines > 0", timeout=20_000)
    # The map drew the networks: Leaflet's canvas renderer holds them.
    assert page.locator("canvas.leaflet-zoom-animated").count() >= 1
    assert problems == [] and outside == []
    page.context.close()


def test_login_then_oblast_overview_in_a_real_browser(browser, live_server):
    """A person logs in through the form and lands on the oblast map they asked for."""
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="ru-RU")
    context.route(
        "**/*", lambda r: r.continue_() if r.request.url.startswith(live_server) else r.abort()
    )
    page = context.new_page()
    page.goto(f"{live_server}/map/sosnovy-bor")
    assert "/login" in page.url
    page.fill("input[name=username]", "dispatcher-sosnovy-bor")
    page.fill("input[name=password]", "wrong-password")
    page.click("button[type=submit]")
    assert page.locator(".error").is_visible()
    page.fill("input[name=username]", "dispatcher-sosnovy-bor")
    page.fill("input[name=password]", "demo-2026")
    page.click("button[type=submit]")
    page.wait_for_selector("body[data-ready='1']", state="attached", timeout=20_000)
    assert page.url.endswith("/map/sosnovy-bor")
    assert "dispatcher-sosnovy-bor" in page.locator(".gis-user").inner_text()
    context.close()


def test_oblast_overview_in_a_real_browser(browser, live_server, auth_headers):
    page, problems, outside = open_page(browser, f"{live_server}/", live_server, auth_headers)
    assert page.locator(".gis-legend").is_visible()
    assert page.locator("select.gis-muni option").count() >= 8
    # Networks stay off on the overview until zoomed in; incidents are shown.
    assert int(page.evaluate("document.body.dataset.incidents")) > 0
    assert problems == [] and outside == []
    page.context.close()
