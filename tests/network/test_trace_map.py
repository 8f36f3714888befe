"""The map's "show what is cut off", in a real headless Chromium, offline: from an incident's card
and from a feature's popup the trace is drawn (devices as their own markers) and listed."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import create_engine, text

from gis_app import config


@pytest.fixture(scope="module")
def demo_ids(postgis_url):
    """A Gatchina water incident on a main, and a main next to an operable valve."""
    engine = create_engine(config.sqlalchemy_url(postgis_url))
    with engine.connect() as conn:
        incident = conn.execute(
            text(
                "SELECT i.id FROM incidents i JOIN municipalities m ON m.id = i.municipality_id"
                " JOIN network_links l ON l.feature_id = i.feature_id"
                " WHERE m.slug = 'gatchina' ORDER BY i.id LIMIT 1"
            )
        ).scalar_one()
        main = conn.execute(
            text(
                "SELECT f.id FROM network_features f JOIN network_links l ON l.feature_id = f.id"
                " JOIN network_links v ON v.role = 'device' AND v.node_a = l.node_a"
                " WHERE f.layer_id = 'water_mains' AND f.external_id LIKE 'GAT-%' AND v.operable"
                " ORDER BY f.id LIMIT 1"
            )
        ).scalar_one()
    engine.dispose()
    return incident, main


def _page(browser, base: str, problems: list):
    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="ru-RU")

    def route(r):
        if r.request.url.startswith(base):
            r.continue_()
        else:
            problems.append("outside " + r.request.url)
            r.abort()

    context.route("**/*", route)
    page = context.new_page()
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.goto(f"{base}/login?next=/map/gatchina")
    page.fill("input[name=username]", "dispatcher-gatchina")
    page.fill("input[name=password]", "demo-2026")
    page.click("button[type=submit]")
    page.wait_for_selector("body[data-ready='1']", state="attached", timeout=20_000)
    page.wait_for_function("window.GisTrace !== undefined", timeout=10_000)
    return page


def test_the_incident_card_shows_what_is_cut_off(browser, live_server, demo_ids):
    problems: list[str] = []
    page = _page(browser, live_server, problems)
    incident, _ = demo_ids
    page.evaluate(f"gisWorkbench.openCard({incident})")
    button = page.locator("#gis-card button.gis-trace-show")
    button.wait_for(timeout=15_000)
    assert button.inner_text() == "Показать, что отключено"
    button.click()
    page.wait_for_selector("#gis-trace[data-state='ready']", state="attached", timeout=30_000)
    listed = page.locator("#gis-trace").inner_text()
    assert "Что отключено" in listed and "Потребителей отключено" in listed
    drawn = page.evaluate("GisTrace.layer.getLayers().length")
    assert drawn >= 1
    assert problems == []


def test_a_feature_popup_draws_the_isolation_with_valve_markers(browser, live_server, demo_ids):
    problems: list[str] = []
    page = _page(browser, live_server, problems)
    _, main = demo_ids
    # The popup the map builds for this feature (as a click on it would open it).
    page.evaluate(
        f"""fetch('/api/features/{main}', {{credentials: 'same-origin'}}).then(r => r.json())
        .then(f => {{
          const layer = gisMap.cfg.layers.find(l => l.id === 'water_mains');
          const c = f.geometry.coordinates[0];
          gisMap.map.setView([c[1], c[0]], 16, {{animate: false}});
          L.popup().setLatLng([c[1], c[0]]).setContent(gisMap.popupFor(layer, f)).openOn(gisMap.map);
        }})"""
    )
    button = page.locator(".leaflet-popup button.gis-trace-show")
    button.wait_for(timeout=15_000)
    button.click()
    page.wait_for_selector("#gis-trace[data-state='ready']", state="attached", timeout=30_000)
    assert page.locator(".gis-trace-device").count() >= 1
    assert "Закрыть / отключить" in page.locator("#gis-trace").inner_text()
    page.locator("#gis-trace .gis-close").click()
    assert page.evaluate("GisTrace.layer.getLayers().length") == 0
    assert problems == []


def test_the_card_says_which_cut_off_figures_were_computed(browser, live_server, demo_ids, engine):
    incident, _ = demo_ids
    columns = "consumers_cut_off, social_objects_cut_off, settlements_cut_off, cut_off_computed"
    with engine.begin() as conn:
        saved = conn.execute(
            text(f"SELECT {columns} FROM incidents WHERE id = :i"), {"i": incident}
        ).one()
        gatchina = dict(conn.execute(text(
            "SELECT id, slug, name_ru, name_en FROM municipalities WHERE slug = 'gatchina'"
        )).mappings().one())  # fmt: skip
        school = [{"name": "Школа №1", "kind": "school"}]
        figures = {"consumers_cut_off": 120, "social_objects_cut_off": school,
                   "settlements_cut_off": [], "utilities_cut_off": []}  # fmt: skip
        # As a trace leaves them, then a dispatcher adds Gatchina to the settlements cut off.
        conn.execute(
            text(
                "UPDATE incidents SET consumers_cut_off = 120, social_objects_cut_off ="
                " CAST(:s AS jsonb), settlements_cut_off = CAST(:t AS jsonb),"
                " cut_off_computed = CAST(:k AS jsonb) WHERE id = :i"
            ),
            {
                "i": incident,
                "s": json.dumps(school),
                "t": json.dumps([gatchina]),
                "k": json.dumps({"figures": figures}),
            },  # fmt: skip
        )
    try:
        problems: list[str] = []
        page = _page(browser, live_server, problems)
        page.evaluate(f"gisWorkbench.openCard({incident})")
        card = page.locator("#gis-card")
        card.locator("td", has_text="введено диспетчером").wait_for(timeout=15_000)
        rows = dict(
            zip(card.locator("table.gis-card-table th").all_inner_texts(),
                card.locator("table.gis-card-table td").all_inner_texts(), strict=False)
        )  # fmt: skip
        assert rows["Отключено потребителей"] == "120 (расчёт по сети)"
        assert rows["Социальные объекты без снабжения"] == "Школа №1 (расчёт по сети)"
        assert rows["Населённые пункты без снабжения"] == "Гатчина (введено диспетчером)"
        assert problems == []
    finally:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "UPDATE incidents SET consumers_cut_off = :c, social_objects_cut_off ="
                    " CAST(:s AS jsonb), settlements_cut_off = CAST(:t AS jsonb),"
                    " cut_off_computed = CAST(:k AS jsonb) WHERE id = :i"
                ),
                {
                    "i": incident,
                    "c": saved[0],
                    "s": json.dumps(saved[1]),
                    "t": json.dumps(saved[2]),
                    "k": json.dumps(saved[3]),
                },  # fmt: skip
            )


def test_a_110_kv_line_shows_the_town_it_feeds_with_social_objects_by_kind(
    browser, live_server, engine
):
    """The cascade into the 10 kV network is drawn and listed; dozens of social objects are
    counted by kind (hospitals first), not listed name by name."""
    with engine.connect() as conn:
        line = conn.execute(
            text(
                "SELECT f.id FROM network_features f JOIN network_dependencies d"
                " ON d.supplier_id = f.id WHERE f.layer_id = 'power_lines'"
                " AND f.name LIKE 'ВЛ 110%' ORDER BY f.id LIMIT 1"
            )
        ).scalar_one()
    problems: list[str] = []
    page = _page(browser, live_server, problems)
    page.evaluate(
        f"""() => {{ const b = GisTrace.button('/api/features/{line}/trace?type=downstream');
        b.id = 'trace-110'; document.body.appendChild(b); b.click(); }}"""
    )
    page.wait_for_selector("#gis-trace[data-state='ready']", state="attached", timeout=30_000)
    first = page.locator(".gis-trace-cascade li").first.inner_text()
    assert first.startswith("шаг 1: электроснабжение — ПС 110/10 кВ")
    social = first.split(" · ", 1)[1]
    assert social.split(": ")[1].startswith("больница ")  # hospitals first, counted
    assert "№" not in social
    assert page.evaluate("GisTrace.layer.getLayers().length") >= 1
    assert problems == []
