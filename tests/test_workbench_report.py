"""Reporting in few moves, in a real headless Chromium: the form opens fully visible with the
point in view, the point is the click (or the nearest point ON the asset, not a vertex), the
utility comes from what was clicked or must be chosen, Enter saves, Esc cancels, a stray click
keeps what was typed, and each candidate operator is listed once."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text
from test_workbench import Session_

from gis_app import config


@pytest.fixture(scope="module")
def engine(postgis_url):
    engine = create_engine(config.sqlalchemy_url(postgis_url))
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def main_point(engine):
    """A point 37 % along a Gatchina water main (between its vertices): id, lon, lat."""
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT id, ST_X(p), ST_Y(p) FROM (SELECT id,"
                " ST_LineInterpolatePoint(ST_GeometryN(geom, 1), 0.37) AS p FROM network_features"
                " WHERE layer_id = 'water_mains' AND external_id LIKE 'GAT-%'"
                " AND ST_Length(geom::geography) > 150 ORDER BY id LIMIT 1) s"
            )
        ).one()
    return row[0], row[1], row[2]


def screen_xy(page, lon: float, lat: float) -> tuple[float, float]:
    """Where a lon/lat is on the page, in CSS pixels."""
    return page.evaluate(
        f"(() => {{ const p = gisMap.map.latLngToContainerPoint([{lat}, {lon}]);"
        " const r = gisMap.map.getContainer().getBoundingClientRect();"
        " return [p.x + r.left, p.y + r.top]; })()"
    )


def only_layers(page, keep: tuple[str, ...]) -> None:
    """Switch every network layer off but `keep` (by layer id), through the map's own groups."""
    page.evaluate(
        "keep => gisMap.cfg.layers.forEach(l => { const g = window[l.group];"
        " if (keep.includes(l.id)) { if (!gisMap.map.hasLayer(g)) gisMap.map.addLayer(g); }"
        " else if (gisMap.map.hasLayer(g)) gisMap.map.removeLayer(g); })",
        list(keep),
    )


def rect(page, selector: str) -> dict:
    return page.evaluate(
        f"(() => {{ const r = document.querySelector({selector!r}).getBoundingClientRect();"
        " return {left: r.left, top: r.top, right: r.right, bottom: r.bottom}; })()"
    )


def overlap(a: dict, b: dict) -> bool:
    return not (
        a["right"] <= b["left"]
        or b["right"] <= a["left"]
        or a["bottom"] <= b["top"]
        or b["bottom"] <= a["top"]
    )


def metres_between(engine, a: tuple[float, float], b: tuple[float, float]) -> float:
    with engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT ST_Distance(ST_SetSRID(ST_MakePoint(:ax, :ay), 4326)::geography,"
                " ST_SetSRID(ST_MakePoint(:bx, :by), 4326)::geography)"
            ),
            {"ax": a[0], "ay": a[1], "bx": b[0], "by": b[1]},
        ).scalar()


def test_report_on_an_asset_lands_where_clicked_on_the_pipe(
    chromium, live_server, engine, main_point
):  # noqa: F811
    fid, lon, lat = main_point
    dispatcher = Session_(chromium, live_server, "dispatcher-gatchina")
    page = dispatcher.page
    only_layers(page, ("water_mains",))
    page.evaluate(f"gisMap.map.setView([{lat}, {lon}], 18, {{animate: false}}) && null")
    page.wait_for_function("() => +document.body.dataset.layer_water_mains > 0", timeout=15_000)
    x, y = screen_xy(page, lon, lat)
    page.mouse.click(x, y)
    page.locator(".leaflet-popup .gis-report-here").first.click()
    form = page.locator("#gis-report")
    form.wait_for(timeout=10_000)
    page.wait_for_selector(
        "#gis-report .gis-preview[data-rule='selected_feature']", state="attached"
    )
    # The water utility of the pipe, chosen for the dispatcher; the point on the pipe.
    assert form.locator("select[name=utility]").input_value() == "water"
    assert form.get_attribute("data-snapped") == "1"
    # The form is whole in the window, under the header, beside the queue and the legend.
    box = rect(page, "#gis-report")
    header = rect(page, ".gis-header")
    assert box["top"] >= header["bottom"] and box["bottom"] <= 900 and box["right"] <= 1400
    assert not overlap(box, rect(page, ".gis-legend"))
    assert not overlap(box, rect(page, "#gis-queue"))
    # The point stays in view: not under the panel, inside the map.
    px, py = screen_xy(page, lon, lat)
    panel = rect(page, "#gis-panel")
    assert header["bottom"] < py < 900 and 0 < px < panel["left"]
    form.locator("textarea[name=description]").fill("Порыв на трубе")
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        form.locator("textarea[name=description]").press("Enter")
    created = answer.value.json()
    assert answer.value.status == 201, created
    assert created["utility"] == "water" and created["responsible"]["feature_id"] == fid
    # Within a metre of the click, and on the pipe (not at a vertex far away).
    assert metres_between(engine, (created["lon"], created["lat"]), (lon, lat)) < 1.0
    with engine.connect() as conn:
        on_pipe = conn.execute(
            text(
                "SELECT ST_Distance(geom::geography,"
                " ST_SetSRID(ST_MakePoint(:x, :y), 4326)::geography) FROM network_features"
                " WHERE id = :id"
            ),
            {"x": created["lon"], "y": created["lat"], "id": fid},
        ).scalar()
    assert on_pipe < 0.05
    page.wait_for_selector(f"#gis-card[data-incident='{created['id']}']", state="attached")
    assert dispatcher.problems == []
    dispatcher.context.close()


def test_utility_must_be_chosen_away_from_assets_and_typing_survives_stray_clicks(
    chromium,
    live_server,
    engine,
    main_point,
):
    fid, lon, lat = main_point
    dispatcher = Session_(chromium, live_server, "dispatcher-gatchina")
    page = dispatcher.page
    only_layers(page, ())
    page.evaluate(f"gisMap.map.setView([{lat}, {lon}], 18, {{animate: false}}) && null")
    # A click where no asset lies within 20 m (the first such probe around the main).
    far_lat = None
    with engine.connect() as conn:
        for north_m in (30, -30, 45, -45, 60, -60, 80, -80, 100, -100, 130, -130):
            probe = lat + north_m / 111_320
            near = conn.execute(
                text(
                    "SELECT EXISTS (SELECT 1 FROM network_features WHERE ST_DWithin(geom::geography,"
                    " ST_SetSRID(ST_MakePoint(:x, :y), 4326)::geography, 20)"
                    " OR ST_DWithin(geom::geography, ST_SetSRID(ST_MakePoint(:x2, :y), 4326)"
                    "::geography, 20))"
                ),
                {"x": lon, "x2": lon + 0.0002, "y": probe},
            ).scalar()
            if not near:
                far_lat = probe
                break
    assert far_lat is not None, "no empty spot near the main in the demo data"
    x, y = screen_xy(page, lon, far_lat)
    page.mouse.click(x, y)
    form = page.locator("#gis-report")
    form.wait_for(timeout=10_000)
    page.wait_for_function("() => document.querySelector('#gis-report').dataset.lat", timeout=5_000)
    # Never silently electricity: nothing is chosen, and Enter does not save.
    assert form.locator("select[name=utility]").input_value() == ""
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    description = form.locator("textarea[name=description]")
    description.fill("Нет воды в доме 5")
    description.press("Enter")
    assert "Выберите ресурс" in form.locator(".gis-error").inner_text()
    assert posts == []
    # A stray click on the map moves the point and keeps the words.
    x2, y2 = screen_xy(page, lon + 0.0002, far_lat)
    page.mouse.click(x2, y2)
    page.wait_for_function(
        f"() => Math.abs(+document.querySelector('#gis-report').dataset.lon - {lon + 0.0002}) < 1e-5",
        timeout=5_000,
    )
    assert description.input_value() == "Нет воды в доме 5"
    # One click on the utility's chip chooses it.
    form.locator(".gis-chip[data-utility='water']").click()
    assert form.locator("select[name=utility]").input_value() == "water"
    # Each operator once among the candidates, with the rules that named it.
    page.wait_for_selector(
        "#gis-report .gis-preview[data-rule]:not([data-rule=''])", state="attached"
    )
    names = [li.split(" — ")[0] for li in form.locator(".gis-candidates li").all_inner_texts()]
    assert len(names) == len(set(names))
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        form.locator("input[name=address]").fill("ул. Тестовая, 5")
        form.locator("input[name=address]").press("Enter")
    created = answer.value.json()
    assert answer.value.status == 201, created
    assert created["utility"] == "water" and created["address"] == "ул. Тестовая, 5"
    assert metres_between(engine, (created["lon"], created["lat"]), (lon + 0.0002, far_lat)) < 1.0
    # Esc cancels a new form.
    page.mouse.click(x, y)
    form.wait_for(timeout=10_000)
    form.locator("textarea[name=description]").press("Escape")
    assert page.locator("#gis-report").count() == 0
    assert dispatcher.problems == []
    dispatcher.context.close()
