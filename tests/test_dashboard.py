"""The accountability dashboard in a real headless Chromium with every outside request blocked:
tables and Chart.js charts from /api/kpi, drill-down oblast → district → operator → incidents,
the English version and the print view."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

from gis_app import config


@pytest.fixture(scope="module")
def demo_year(postgis_url) -> tuple[str, int]:
    """The year (Moscow time) most demo incidents were received in, and how many."""
    engine = create_engine(config.sqlalchemy_url(postgis_url))
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT extract(year FROM received_at AT TIME ZONE 'Europe/Moscow')::int, count(*)"
                " FROM incident_kpi_facts WHERE NOT is_duplicate GROUP BY 1 ORDER BY 2 DESC LIMIT 1"
            )
        ).one()
    engine.dispose()
    return str(row[0]), row[1]


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="ru-RU")
    problems: list[str] = []

    def route(r):
        if r.request.url.startswith(live_server):
            r.continue_()
        else:
            problems.append("outside " + r.request.url)
            r.abort()

    context.route("**/*", route)
    page = context.new_page()
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto(f"{live_server}/login?next=/dashboard")
    page.fill("input[name=username]", "dispatcher-oblast")
    page.fill("input[name=password]", "demo-2026")
    page.click("button[type=submit]")
    # Let the first view finish: a navigation that cuts off its requests leaves files open.
    ready(page)
    page.problems = problems
    yield page
    context.close()


def ready(page) -> None:
    page.wait_for_selector("body[data-ready='1']", state="attached", timeout=20_000)


def test_first_view_tables_and_charts_offline(page, live_server, demo_year):
    year, received = demo_year
    page.goto(f"{live_server}/dashboard?period={year}")
    ready(page)
    assert page.locator("h1").inner_text() == "Показатели работы организаций"
    total = page.locator("#operators tr.total td").nth(1).inner_text()
    assert int(total.replace("\u00a0", "").replace(" ", "")) == received
    assert page.locator("#operators tbody tr").count() >= 3
    labels = page.evaluate("Chart.getChart('operators-chart').data.labels.length")
    assert labels == min(15, page.locator("#operators tbody tr:not(.total)").count())
    assert page.evaluate("Chart.getChart('trend-chart').data.labels.length") >= 1
    assert page.evaluate("Chart.getChart('municipalities-chart').data.labels.length") >= 2
    # The map: one outline per municipality row, no base map, nothing from outside.
    rows = page.locator("#municipalities tbody tr").count()
    assert page.locator("#muni-map").get_attribute("data-shapes") == str(rows)
    assert page.locator("#muni-map path.leaflet-interactive").count() >= rows
    assert page.problems == []


def test_drill_down_oblast_district_operator_incidents(page, live_server, demo_year):
    year, _ = demo_year
    page.goto(f"{live_server}/dashboard?period={year}")
    ready(page)
    page.click("#municipalities a:text('Гатчинский муниципальный округ')")
    ready(page)
    assert "Гатчинский муниципальный округ" in page.locator("#crumbs").inner_text()
    names = page.locator("#municipalities tbody tr td:first-child").all_inner_texts()
    assert "Гатчина" in names and "Киришский муниципальный район" not in names
    assert "municipality=" in page.url
    first = page.locator("#operators tbody tr:not(.total)").first
    count = int(first.locator("td").nth(1).inner_text())
    first.locator("td a").first.click()
    page.wait_for_selector("#incidents-section:not([hidden])")
    assert page.locator("#incidents tbody tr").count() == count
    assert page.locator("#muni-map").get_attribute("data-shapes") == "1"  # Gatchina town
    page.click("#crumbs a:text('Вся область')")
    ready(page)
    assert "Киришский муниципальный район" in page.locator("#municipalities").inner_text()
    assert page.problems == []


def test_english_and_print(page, live_server, demo_year):
    year, _ = demo_year
    page.goto(f"{live_server}/dashboard?period={year}&lang=en")
    ready(page)
    assert page.locator("h1").inner_text() == "Utilities' performance"
    page.emulate_media(media="print")
    assert page.locator("#controls").is_hidden()
    assert page.locator("#operators").is_visible()
    assert page.problems == []
