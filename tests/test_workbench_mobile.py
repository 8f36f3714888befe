"""Phone (390×844) and tablet (768×1024) in a real headless Chromium: the header fits, no
horizontal scroll, the panels fold behind buttons, the report form fits the screen with the
point still in view."""

from __future__ import annotations

import pytest
from test_workbench_report import only_layers, rect, screen_xy


def open_page(chromium, base: str, width: int, height: int):
    context = chromium.new_context(viewport={"width": width, "height": height}, locale="ru-RU",
                                   is_mobile=width < 600, has_touch=width < 600)  # fmt: skip
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto(f"{base}/login?next=/map/gatchina")
    page.fill("input[name=username]", "dispatcher-gatchina")
    page.fill("input[name=password]", "demo-2026")
    page.click("button[type=submit]")
    page.wait_for_selector("body[data-ready='1']", state="attached", timeout=20_000)
    return context, page, problems


def widths(page) -> tuple[int, int]:
    """The page's and the header's scroll widths (equal to the window's when nothing sticks out)."""
    return tuple(
        page.evaluate(
            "[document.documentElement.scrollWidth, document.querySelector('.gis-header').scrollWidth]"
        )
    )


@pytest.mark.parametrize("size", [(390, 844), (768, 1024)])
def test_header_fits_and_panels_fold(chromium, live_server, size):
    width, height = size
    context, page, problems = open_page(chromium, live_server, width, height)
    assert widths(page) == (width, width)  # nothing sticks out: no horizontal scroll
    header = rect(page, ".gis-header")
    assert header["bottom"] - header["top"] <= 48  # one line
    # The user's name is folded away, the account (password change) stays one tap away.
    account = page.locator(".gis-user .gis-account-icon")
    assert account.is_visible() and account.get_attribute("href").startswith("/account/password")
    # The panel and the legend are folded: the map is the screen.
    assert not page.locator("#gis-panel").is_visible()
    legend = rect(page, ".gis-legend")
    assert (legend["right"] - legend["left"]) * (
        legend["bottom"] - legend["top"]
    ) < 0.05 * width * height
    # The municipality fills the screen (not the oblast shrunk behind a desktop's panel).
    assert page.evaluate("gisMap.map.getZoom()") >= 11
    page.click(".gis-panel-toggle")
    page.locator(".gis-queue-item").first.wait_for(timeout=10_000)
    panel = rect(page, "#gis-panel")
    assert panel["left"] >= 0 and panel["right"] <= width and panel["bottom"] <= height
    assert widths(page) == (width, width)
    assert problems == []
    context.close()


def test_report_form_fits_a_phone(chromium, live_server):
    context, page, problems = open_page(chromium, live_server, 390, 844)
    only_layers(page, ())
    lon, lat = 30.1280, 59.5650
    page.evaluate(f"gisMap.map.setView([{lat}, {lon}], 17, {{animate: false}}) && null")
    x, y = screen_xy(page, lon, lat)
    page.mouse.click(x, y)
    form = page.locator("#gis-report")
    form.wait_for(timeout=10_000)
    page.wait_for_timeout(300)
    box = rect(page, "#gis-report")
    header = rect(page, ".gis-header")
    assert box["top"] >= header["bottom"] and box["bottom"] <= 844
    assert box["left"] >= 0 and box["right"] <= 390
    submit = rect(page, "#gis-report button[type=submit]")
    assert submit["bottom"] <= 844 and submit["top"] >= box["top"]
    # The point clicked is still in view, above the sheet.
    point_lon, point_lat = (float(form.get_attribute(k)) for k in ("data-lon", "data-lat"))
    px, py = screen_xy(page, point_lon, point_lat)
    assert header["bottom"] < py < rect(page, "#gis-panel")["top"] and 0 < px < 390
    assert widths(page) == (390, 390)
    form.locator("textarea[name=description]").press("Escape")
    assert page.locator("#gis-report").count() == 0
    assert problems == []
    context.close()


def test_oblast_district_labels_never_overlap_on_a_phone(chromium, live_server):
    context = chromium.new_context(viewport={"width": 390, "height": 844}, locale="ru-RU",
                                   is_mobile=True, has_touch=True)  # fmt: skip
    page = context.new_page()
    page.goto(f"{live_server}/login?next=/")
    page.fill("input[name=username]", "dispatcher-oblast")
    page.fill("input[name=password]", "demo-2026")
    page.click("button[type=submit]")
    page.wait_for_selector("body[data-ready='1']", state="attached", timeout=20_000)
    page.wait_for_selector(".gis-district", timeout=10_000)
    read = (
        "() => [...document.querySelectorAll('.gis-district')].map(d => {"
        " const r = d.getBoundingClientRect(); return {slug: d.dataset.slug,"
        " shown: getComputedStyle(d).visibility === 'visible', open: +d.dataset.open,"
        " overdue: +d.dataset.overdue, box: [r.left, r.top, r.right, r.bottom]}; })"
    )

    def overlapping(labels):
        shown = [label for label in labels if label["shown"]]
        return [(a["slug"], b["slug"]) for i, a in enumerate(shown) for b in shown[i + 1 :]
                if a["box"][0] < b["box"][2] and b["box"][0] < a["box"][2]
                and a["box"][1] < b["box"][3] and b["box"][1] < a["box"][3]]  # fmt: skip

    labels = page.evaluate(read)
    assert len(labels) >= 4 and overlapping(labels) == []
    # Zoomed far out the districts' labels would sit on one another: the busiest keeps its own.
    page.evaluate("() => gisMap.map.setZoom(4, {animate: false})")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.gis-district')]"
        ".some(d => d.classList.contains('gis-cluttered'))",
        timeout=10_000,
    )
    labels = page.evaluate(read)
    assert overlapping(labels) == []
    busiest = max(labels, key=lambda label: (label["overdue"], label["open"]))
    assert next(label for label in labels if label["slug"] == busiest["slug"])["shown"]
    assert len(labels) >= 4  # hidden labels keep their figures (the tooltip names the district)
    context.close()
