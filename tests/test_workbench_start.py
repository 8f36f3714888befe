"""The right start, in a real headless Chromium: a town's dispatcher lands on their municipality
with the most open incidents (the others one click away); the oblast map labels each district with
its open and overdue incidents, and a click on a district (not on the oblast's outline over it)
opens the district."""

from __future__ import annotations

import pytest
from helpers import hover_until, wait_map_still
from sqlalchemy import create_engine, text
from test_workbench_report import screen_xy

from gis_app import config
from gis_app.incidents.deadlines import OPEN_STATUSES, OVERDUE_SQL


@pytest.fixture(scope="module")
def engine(postgis_url):
    engine = create_engine(config.sqlalchemy_url(postgis_url))
    yield engine
    engine.dispose()


def login(chromium, base: str, username: str, path: str = "/login"):
    context = chromium.new_context(viewport={"width": 1400, "height": 900}, locale="ru-RU")
    page = context.new_page()
    page.goto(base + path)
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "demo-2026")
    page.click("button[type=submit]")
    page.wait_for_selector("body[data-ready='1']", state="attached", timeout=20_000)
    return context, page


def test_a_town_dispatcher_lands_on_their_busiest_municipality(chromium, live_server, engine):
    with engine.connect() as conn:
        busiest = conn.execute(
            text(
                "WITH RECURSIVE charge AS (SELECT um.municipality_id AS id FROM user_municipalities um"
                " JOIN users u ON u.id = um.user_id WHERE u.username = 'dispatcher-gatchina'"
                " UNION SELECT c.id FROM municipalities c JOIN charge ON c.parent_id = charge.id)"
                " SELECT m.slug FROM charge JOIN municipalities m ON m.id = charge.id"
                f" LEFT JOIN incidents i ON i.municipality_id = m.id AND i.status IN {OPEN_STATUSES!r}"
                " GROUP BY m.id ORDER BY count(i.id) DESC, ST_Area(m.geom) DESC LIMIT 1"
            )
        ).scalar()
    context, page = login(chromium, live_server, "dispatcher-gatchina")
    assert page.url.endswith(f"/map/{busiest}")
    # The other municipality of the charge is one click away, in the header.
    chips = page.locator(".gis-mine a")
    assert chips.count() == 2
    other = page.locator(".gis-mine a:not([aria-current])")
    slug = other.get_attribute("data-slug")
    other.click()
    page.wait_for_url(f"**/map/{slug}", wait_until="commit")
    page.wait_for_selector("body[data-ready='1']", state="attached", timeout=20_000)
    # The oblast stays reachable: the title links to the overview, which does not bounce back.
    page.click(".gis-brand")
    page.wait_for_selector("body[data-ready='1']", state="attached", timeout=20_000)
    assert "/map/" not in page.url
    context.close()


def test_oblast_map_labels_districts_and_opens_one_on_a_click(chromium, live_server, engine):
    with engine.connect() as conn:
        expected = {
            r.slug: (r.open, r.overdue)
            for r in conn.execute(
                text(
                    "WITH RECURSIVE tree AS (SELECT d.id AS district, d.id FROM municipalities d"
                    " JOIN municipalities o ON o.id = d.parent_id WHERE o.parent_id IS NULL"
                    " UNION ALL SELECT tree.district, c.id FROM municipalities c"
                    " JOIN tree ON c.parent_id = tree.id)"
                    " SELECT d.slug, count(i.id) AS open,"
                    f" count(i.id) FILTER (WHERE {OVERDUE_SQL}) AS overdue FROM tree"
                    " JOIN municipalities d ON d.id = tree.district LEFT JOIN incidents i"
                    f" ON i.municipality_id = tree.id AND i.status IN {OPEN_STATUSES!r}"
                    " GROUP BY d.slug"
                )
            )
        }
        probes = conn.execute(
            text(
                "SELECT ST_X(p), ST_Y(p) FROM (SELECT (ST_Dump(ST_GeneratePoints("
                " ST_Difference(d.geom, t.geom), 40, 7))).geom AS p FROM municipalities d,"
                " municipalities t WHERE d.slug = 'kirishsky' AND t.slug = 'kirishi') s"
            )
        ).all()
    context, page = login(chromium, live_server, "dispatcher-oblast", "/login?next=/")
    page.wait_for_selector(".gis-district", timeout=10_000)
    shown = page.evaluate(
        "Object.fromEntries([...document.querySelectorAll('.gis-district')].map(d =>"
        " [d.dataset.slug, [+d.dataset.open, +d.dataset.overdue]]))"
    )
    assert shown == {slug: list(v) for slug, v in expected.items()}
    kirishsky = page.locator(".gis-district[data-slug='kirishsky']").inner_text()
    assert f"{expected['kirishsky'][0]} открыт" in kirishsky
    # A point of the district where the canvas (the district's polygon) is on top, on a map
    # that has stopped moving (the start view may still be easing into place).
    wait_map_still(page)
    for lon, lat in probes:
        x, y = screen_xy(page, lon, lat)
        if page.evaluate(f"document.elementFromPoint({x}, {y}).tagName") == "CANVAS":
            break
    else:
        pytest.fail("no probe point of the district is free of labels and markers")
    tooltip = page.locator(".leaflet-tooltip")
    hover_until(page, x, y, tooltip)
    assert "Киришский" in tooltip.inner_text()  # the district, not the oblast over it
    page.mouse.click(x, y)
    page.wait_for_url("**/map/kirishsky", timeout=10_000)
    context.close()


def test_district_labels_leave_the_towns_markers_free_and_the_legend_folds_on_a_laptop(
    chromium, live_server
):
    """On a 1366x768 laptop the legend starts folded (it would cover most of the map's height)
    and stays as the user leaves it; a district's label hangs below its town's markers."""
    context = chromium.new_context(viewport={"width": 1366, "height": 768}, locale="ru-RU")
    page = context.new_page()
    page.goto(live_server + "/login?next=/")
    page.fill("input[name=username]", "dispatcher-oblast")
    page.fill("input[name=password]", "demo-2026")
    page.click("button[type=submit]")
    page.wait_for_selector("body[data-ready='1']", state="attached", timeout=20_000)
    page.wait_for_selector(".gis-district", timeout=10_000)
    wait_map_still(page)
    legend = page.locator(".gis-legend")
    assert "collapsed" in legend.get_attribute("class")
    overlaps = page.evaluate(
        """() => {
        const boxes = [...document.querySelectorAll('.gis-district')]
          .filter(b => getComputedStyle(b).visibility !== 'hidden')
          .map(b => b.getBoundingClientRect());
        const marks = [...document.querySelectorAll('.gis-incident-marker')]
          .map(m => m.getBoundingClientRect());
        // Covering, not touching: 2 px of a marker's shadow at a label's corner is allowed.
        const hit = (a, b) => a.left + 2 < b.right && b.left + 2 < a.right && a.top + 2 < b.bottom && b.top + 2 < a.bottom;
        return {labels: boxes.length, markers: marks.length,
                hits: boxes.filter(b => marks.some(m => hit(b, m))).length};
    }"""
    )
    assert overlaps["labels"] >= 4 and overlaps["markers"] > 0
    assert overlaps["hits"] == 0
    # Opened once, the legend stays open on the next page.
    page.click(".gis-legend h2")
    assert "collapsed" not in legend.get_attribute("class")
    page.reload()
    page.wait_for_selector("body[data-ready='1']", state="attached", timeout=20_000)
    assert "collapsed" not in page.locator(".gis-legend").get_attribute("class")
    assert page.locator(".gis-legend").inner_text().count("\n") > 10  # its rows are shown
    context.close()
