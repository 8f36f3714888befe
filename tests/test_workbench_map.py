"""The map of the workbench in a real headless Chromium: incident markers stay clickable above
the network lines at every zoom and after a pan; a click lists every feature near it and
hovering an entry highlights that feature."""

from __future__ import annotations

import pytest
from helpers import wait_map_still
from sqlalchemy import create_engine, text
from test_workbench import Session_
from test_workbench_report import screen_xy

from gis_app import config


@pytest.fixture(scope="module")
def incident_on_a_line(postgis_url):
    """A demo incident of Gatchina lying within a metre of a network line: id, lon, lat."""
    engine = create_engine(config.sqlalchemy_url(postgis_url))
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT i.id, ST_X(i.geom), ST_Y(i.geom) FROM incidents i"
                " JOIN municipalities m ON m.id = i.municipality_id WHERE m.slug = 'gatchina'"
                " AND i.status NOT IN ('closed', 'duplicate') AND EXISTS (SELECT 1 FROM"
                " network_features f WHERE GeometryType(f.geom) LIKE '%LINESTRING'"
                " AND ST_DWithin(f.geom::geography, i.geom::geography, 1)) ORDER BY i.id LIMIT 1"
            )
        ).one()
    engine.dispose()
    return row


def test_incident_marker_is_clickable_over_lines_at_every_zoom(chromium, live_server,
                                                                incident_on_a_line):  # fmt: skip
    iid, lon, lat = incident_on_a_line
    dispatcher = Session_(chromium, live_server, "dispatcher-gatchina")
    page = dispatcher.page
    for zoom, pan in ((13, None), (15, None), (17, None), (18, None), (18, (250, -120))):
        page.evaluate(f"gisMap.map.setView([{lat}, {lon}], {zoom}, {{animate: false}}) && null")
        if pan:
            page.evaluate(f"gisMap.map.panBy([{pan[0]}, {pan[1]}], {{animate: false}}) && null")
        wait_map_still(page)
        if zoom >= 17:  # lines are drawn under the marker, once the layers of the view load
            page.wait_for_function(
                f"() => gisMap.identifyDrawn(L.latLng({lat}, {lon})).length >= 1", timeout=20_000
            )
        x, y = screen_xy(page, lon, lat)
        on_top = page.evaluate(
            f"(() => {{ const e = document.elementFromPoint({x}, {y});"
            " const m = e && e.closest('.gis-incident-marker'); return m && +m.dataset.incident; })()"
        )
        assert on_top == iid, f"zoom {zoom}: {on_top} is on top, not incident {iid}"
        page.evaluate("document.querySelector('#gis-card').dataset.incident = ''")
        page.mouse.click(x, y)
        page.wait_for_selector(f"#gis-card[data-incident='{iid}']", state="attached", timeout=5_000)
    # No popup of a line and no report form opened under the marker's clicks.
    assert page.locator(".leaflet-popup").count() == 0 and page.locator("#gis-report").count() == 0
    assert dispatcher.problems == []
    dispatcher.context.close()


def test_hovering_an_entry_of_the_identify_popup_highlights_its_feature(chromium, live_server):
    dispatcher = Session_(chromium, live_server, "dispatcher-gatchina")
    page = dispatcher.page
    page.evaluate("gisMap.map.setView([59.5650, 30.1280], 17, {animate: false}) && null")
    page.wait_for_function("() => +document.body.dataset.layer_water_mains > 0", timeout=15_000)
    page.wait_for_timeout(800)
    # A place where several lines run within a few pixels of each other.
    spot = page.evaluate(
        "(() => { const r = gisMap.map.getContainer().getBoundingClientRect();"
        " for (let y = 150; y < 800; y += 7) for (let x = 300; x < 950; x += 7) {"
        " const ll = gisMap.map.containerPointToLatLng([x, y]);"
        " if (gisMap.identifyDrawn(ll).length >= 3) return [x + r.left, y + r.top]; } return null; })()"
    )
    assert spot is not None
    page.mouse.click(*spot)
    entries = page.locator(".gis-identify .gis-popup")
    entries.first.wait_for(timeout=5_000)
    assert entries.count() >= 3
    assert "объект" in page.locator(".gis-identify-count").inner_text()
    ids = [e.get_attribute("data-feature") for e in entries.all()]
    assert len(set(ids)) == len(ids)
    entries.nth(1).hover()
    page.wait_for_function(f"() => document.body.dataset.hovered === '{ids[1]}'", timeout=5_000)
    assert page.evaluate("gisMap.hover.getLayers().length") == 1
    entries.nth(2).hover()
    page.wait_for_function(f"() => document.body.dataset.hovered === '{ids[2]}'", timeout=5_000)
    # "Report on this asset" from an entry reports on that very feature.
    entries.nth(2).locator(".gis-report-here").click()
    page.wait_for_selector(
        "#gis-report .gis-preview[data-rule='selected_feature']", state="attached", timeout=10_000
    )
    assert page.locator("#gis-report").get_attribute("data-snapped") == "1"
    assert dispatcher.problems == []
    dispatcher.context.close()
