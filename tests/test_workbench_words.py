"""Words, not codes, in both languages, in a real headless Chromium: the allowed values of layer
attributes from the layer files, categories, history steps and the reason line in English on the
English page; plural forms; every page has a title."""

from __future__ import annotations

import re

from sqlalchemy import create_engine, text
from test_workbench_report import only_layers, screen_xy

from gis_app import config


def login(chromium, base: str, path: str):
    context = chromium.new_context(viewport={"width": 1400, "height": 900}, locale="en-GB")
    page = context.new_page()
    page.goto(f"{base}/login?next={path}")
    page.fill("input[name=username]", "dispatcher-gatchina")
    page.fill("input[name=password]", "demo-2026")
    page.click("button[type=submit]")
    page.wait_for_selector("body[data-ready='1']", state="attached", timeout=20_000)
    return context, page


def test_english_page_speaks_english(chromium, live_server, postgis_url):
    engine = create_engine(config.sqlalchemy_url(postgis_url))
    with engine.connect() as conn:
        fid, lon, lat, material = conn.execute(
            text(
                "SELECT id, ST_X(p), ST_Y(p), attributes->>'material' FROM (SELECT id, attributes,"
                " ST_LineInterpolatePoint(ST_GeometryN(geom, 1), 0.5) AS p FROM network_features"
                " WHERE layer_id = 'water_mains' AND external_id LIKE 'GAT-%'"
                " AND attributes->>'material' = 'cast_iron' ORDER BY id LIMIT 1) s"
            )
        ).one()
        incident = conn.execute(
            text(
                "SELECT i.id FROM incidents i JOIN municipalities m ON m.id = i.municipality_id"
                " WHERE m.slug = 'gatchina' AND i.responsible_rule = 'nearest_feature'"
                " AND i.category = 'leak' ORDER BY i.id LIMIT 1"
            )
        ).scalar()
    engine.dispose()
    context, page = login(chromium, live_server, "/map/gatchina?lang=en")
    assert page.title() == "Gatchina — Utility networks and incidents"
    # The attribute's word from the layer file, not its code.
    only_layers(page, ("water_mains",))
    page.evaluate(f"gisMap.map.setView([{lat}, {lon}], 18, {{animate: false}}) && null")
    page.wait_for_function("() => +document.body.dataset.layer_water_mains > 0", timeout=15_000)
    page.mouse.click(*screen_xy(page, lon, lat))
    entry = page.locator(f".gis-identify .gis-popup[data-feature='{fid}']")
    entry.wait_for(timeout=5_000)
    assert material == "cast_iron" and "cast iron" in entry.inner_text()
    assert "cast_iron" not in entry.inner_text()
    page.keyboard.press("Escape")
    # The card: the category, the reason line and the history steps in English.
    page.evaluate(f"gisWorkbench.openCard({incident})")
    page.wait_for_selector(f"#gis-card[data-incident='{incident}']", state="attached")
    page.locator(".gis-history li").first.wait_for(timeout=5_000)
    card = page.locator("#gis-card")
    assert "Leak / burst" in card.inner_text()
    reason = card.locator(".gis-reason").inner_text()
    assert reason.startswith("Why: nearest network feature") and not re.search(
        "[а-яё]", reason, re.I
    )
    history = card.locator(".gis-history").inner_text()
    assert "created" in history and not re.search("[а-яё]", history.split("\n", 1)[1], re.I)
    # Plural forms in both languages.
    assert page.evaluate("GisWords.plural('en', 1, GisWords.T.en.features)") == "1 feature"
    assert page.evaluate("GisWords.plural('en', 4, GisWords.T.en.features)") == "4 features"
    assert page.evaluate("GisWords.plural('ru', 4, GisWords.T.ru.features)") == "4 объекта"
    assert page.evaluate("GisWords.plural('ru', 21, GisWords.T.ru.features)") == "21 объект"
    assert page.evaluate("GisWords.plural('ru', 11, GisWords.T.ru.features)") == "11 объектов"
    # The Russian page says the same in Russian, with a title too.
    page.goto(f"{live_server}/map/gatchina")
    page.wait_for_selector("body[data-ready='1']", state="attached", timeout=20_000)
    assert page.title() == "Гатчина — Карта сетей и инцидентов"
    page.evaluate(f"gisWorkbench.openCard({incident})")
    page.wait_for_selector(f"#gis-card[data-incident='{incident}']", state="attached")
    assert "Утечка / порыв" in page.locator("#gis-card").inner_text()
    assert page.locator("#gis-card .gis-reason").inner_text().startswith("Почему: ближайший объект")
    context.close()
