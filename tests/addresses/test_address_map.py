"""The address search box in a real headless Chromium, offline: the dispatcher types an address
as a caller says it, the map jumps there, the report form opens with the address and the
responsible operator; a click on the map fills the address from the reverse look-up."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session
from test_workbench import Session_

from addresses.osm_extract import building_centre, write_osm
from gis_app import config
from gis_app.addresses import import_osm


@pytest.fixture(scope="module")
def committed_addresses(postgis_url, tmp_path_factory):
    """The test extract imported and committed (the browser's server sees committed data only)."""
    engine = create_engine(config.sqlalchemy_url(postgis_url))
    with Session(engine) as session, session.begin():
        import_osm(session, write_osm(tmp_path_factory.mktemp("osm")))
    yield
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM address_generations"))
    engine.dispose()


def _layers_off(page) -> None:
    """Switch the network layers off, so a click lands on the map itself."""
    page.hover(".leaflet-control-layers")
    for title in page.evaluate("gisMap.cfg.layers.map(l => l.title)"):
        box = page.locator(".leaflet-control-layers-overlays label", has_text=title).locator(
            "input"
        )
        if box.is_checked():
            box.uncheck()
    page.mouse.move(700, 800)


def test_search_box_jumps_to_the_address_and_opens_the_report(
    browser, live_server, committed_addresses
):
    dispatcher = Session_(browser, live_server, "dispatcher-gatchina")
    page = dispatcher.page
    box = page.locator(".gis-address-input")
    assert box.get_attribute("placeholder").startswith("Найти адрес")
    box.fill("ул. Чехова, д.5")
    box.press("Enter")
    form = page.locator("form.gis-report")
    form.wait_for(timeout=10_000)
    assert form.locator("input[name=address]").input_value() == "Гатчина, улица Чехова, 5"
    # No asset was clicked, so the utility is the caller's to choose (never defaulted, issue 14):
    # one click on its chip, and the responsible operator is shown at once.
    form.locator(".gis-chip[data-utility='water']").click()
    page.wait_for_selector(".gis-report .gis-preview .gis-responsible", timeout=10_000)
    assert "Ответственный" in form.locator(".gis-preview").inner_text()
    lon, lat = building_centre("улица Чехова", "5")
    # The house is in view at zoom 18, below the centre (the form opens above it).
    x, y = page.evaluate(
        f"(() => {{ const p = gisMap.map.latLngToContainerPoint([{lat}, {lon}]);"
        " const s = gisMap.map.getSize(); return [p.x - s.x / 2, p.y - s.y / 2]; })()"
    )
    assert abs(x) < 5 and 100 < y < 220, (x, y)
    assert page.evaluate("gisMap.map.getZoom()") == 18

    # A typo lists the candidates instead of jumping.
    page.keyboard.press("Escape")
    page.evaluate("gisMap.map.closePopup() && null")
    box.fill("Чехава 5")
    items = page.locator(".gis-address-item")
    items.first.wait_for(timeout=10_000)
    assert items.first.inner_text() == "Гатчина, улица Чехова, 5"
    assert "Уточните" in page.locator(".gis-address-results").inner_text()
    # The keyboard picks a candidate too: arrow down, Enter.
    box.press("ArrowDown")
    page.keyboard.press("Enter")
    page.locator("form.gis-report").wait_for(timeout=10_000)
    address = page.locator("form.gis-report input[name=address]")
    assert address.input_value() == "Гатчина, улица Чехова, 5"
    assert dispatcher.problems == [], dispatcher.problems
    dispatcher.context.close()


def test_a_click_fills_the_address_from_the_reverse_look_up(
    browser, live_server, committed_addresses
):
    dispatcher = Session_(browser, live_server, "dispatcher-gatchina")
    page = dispatcher.page
    lon, lat = building_centre("улица Чехова", "7")
    page.evaluate(f"gisMap.map.setView([{lat}, {lon + 0.0001}], 18, {{animate: false}}) && null")
    _layers_off(page)
    x, y = page.evaluate(
        f"(() => {{ const p = gisMap.map.latLngToContainerPoint([{lat}, {lon + 0.0001}]);"
        " const r = gisMap.map.getContainer().getBoundingClientRect();"
        " return [p.x + r.left, p.y + r.top]; })()"
    )
    page.mouse.click(x, y)
    address = page.locator("form.gis-report input[name=address]")
    address.wait_for(timeout=10_000)
    page.wait_for_function(
        "() => document.querySelector('form.gis-report input[name=address]').value !== ''",
        timeout=10_000,
    )
    assert address.input_value() == "Гатчина, улица Чехова, 7"
    assert dispatcher.problems == [], dispatcher.problems
    dispatcher.context.close()


def test_an_ambiguous_open311_address_shows_its_candidates_on_the_card(
    browser, live_server, committed_addresses, app, postgis_url
):
    """A caller's address the search could not be sure of: the card lists the places it may
    mean, and a click on one shows it on the map."""
    import json
    import urllib.parse
    import urllib.request

    app.config["GIS_APP_OPEN311_API_KEYS"] = "test-open311-card"
    try:
        form = {
            "api_key": "test-open311-card",
            "service_code": "water",
            "address_string": "Чехава 5",
        }
        request = urllib.request.Request(
            f"{live_server}/open311/v2/requests.json",
            data=urllib.parse.urlencode(form).encode(),
        )
        with urllib.request.urlopen(request) as answer:
            incident_id = int(json.load(answer)[0]["service_request_id"])
    finally:
        app.config["GIS_APP_OPEN311_API_KEYS"] = ""
    dispatcher = Session_(browser, live_server, "dispatcher-gatchina")
    page = dispatcher.page
    page.evaluate(f"() => gisWorkbench.showIncident({incident_id})")
    candidates = page.locator("#gis-card .gis-geocode-candidates button")
    candidates.first.wait_for(timeout=15_000)
    assert "Адрес неоднозначен" in page.locator("#gis-card .gis-geocode-candidates").inner_text()
    assert "«Чехава 5»" in page.locator("#gis-card .gis-geocode-candidates").inner_text()
    labels = candidates.all_inner_texts()
    assert labels[0] == "1. Гатчина, улица Чехова, 5" and len(labels) >= 2
    candidates.nth(1).click()
    tip = page.locator(".gis-candidate-tip")
    tip.wait_for(timeout=10_000)
    assert tip.inner_text() == labels[1][3:]
    # The map shows the candidate, in the part of the map the panels leave free.
    second = labels[1][3:]
    engine = create_engine(config.sqlalchemy_url(postgis_url))
    with engine.connect() as conn:
        data = conn.execute(
            text(
                "SELECT data FROM incident_events WHERE incident_id = :id AND action = 'geocoded'"
            ),
            {"id": incident_id},
        ).scalar_one()
    chosen = next(c for c in data["candidates"] if c["label"] == second)
    inside = page.evaluate(
        f"() => gisMap.map.getBounds().contains([{chosen['lat']}, {chosen['lon']}])"
    )
    assert inside and page.evaluate("() => gisMap.map.getZoom()") >= 17
    assert dispatcher.problems == [], dispatcher.problems
    dispatcher.context.close()
    with engine.begin() as conn:  # the later tests count the demo's incidents
        conn.execute(text("DELETE FROM incidents WHERE id = :id"), {"id": incident_id})
    engine.dispose()
