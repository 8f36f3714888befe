"""The dispatcher's workbench in a real headless Chromium, offline: a dispatcher clicks the map to
report a gas leak and sees the right operator and why; the gas company's staff accept, start and
resolve it; the dispatcher sees it resolved and closes it."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

from gis_app import config


@pytest.fixture(scope="module")
def grs(postgis_url):
    """Gatchina's gas distribution station (demo data): lon, lat."""
    engine = create_engine(config.sqlalchemy_url(postgis_url))
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT ST_X(geom), ST_Y(geom) FROM network_features WHERE layer_id = 'gas_facilities'"
                " AND external_id LIKE 'GAT-%' AND attributes->>'kind' = 'grs'"
            )
        ).one()
    engine.dispose()
    return row[0], row[1]


class Session_:
    """One person's browser: every request outside the server blocked, every problem recorded."""

    def __init__(self, browser, base: str, username: str) -> None:
        self.base = base
        self.context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="ru-RU")
        self.problems: list[str] = []
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.on(
            "console", lambda m: self.problems.append(m.text) if m.type == "error" else None
        )
        self.page.on("pageerror", lambda e: self.problems.append(str(e)))
        self.page.on("dialog", lambda d: (self.problems.append("dialog " + d.message), d.dismiss()))
        self.pending: dict = {}
        self.page.on("request", lambda r: self.pending.__setitem__(id(r), f"{r.method} {r.url}"))
        self.page.on("requestfinished", lambda r: self.pending.pop(id(r), None))
        self.page.on("requestfailed", lambda r: self.pending.pop(id(r), None))
        self.page.on(
            "response",
            lambda r: self.problems.append(f"{r.status} {r.url}") if r.status >= 400 else None,
        )
        self.page.goto(f"{base}/login?next=/map/gatchina")
        self.page.fill("input[name=username]", username)
        self.page.fill("input[name=password]", "demo-2026")
        self.page.click("button[type=submit]")
        self.page.wait_for_selector("body[data-ready='1']", state="attached", timeout=20_000)

    def _route(self, route):
        if route.request.url.startswith(self.base):
            route.continue_()
        else:
            self.problems.append("outside " + route.request.url)
            route.abort()

    def card_status(self, status: str) -> None:
        try:
            self.page.wait_for_selector(
                f"#gis-card[data-status='{status}']", state="attached", timeout=30_000
            )
        except Exception as exc:
            card = self.page.locator("#gis-card").inner_text()[-600:]
            said = self.page.locator("#gis-status").inner_text()
            raise AssertionError(
                f"card never {status}: {said!r} {card!r} problems {self.problems}"
                f" pending {list(self.pending.values())}"
            ) from exc

    def act(self, action: str, status: str) -> None:
        """Press a move's button and wait for the server's answer, then for the card to show it."""
        button = self.page.locator(f"#gis-card button[data-action='{action}']")
        button.wait_for(timeout=30_000)
        with self.page.expect_response(
            lambda r: r.request.method == "POST" and r.url.endswith(f"/{action}"), timeout=30_000
        ) as answer:
            button.click()
        assert answer.value.status == 200, answer.value.text()
        self.card_status(status)


def test_report_a_gas_leak_and_work_it_to_closed(browser, live_server, grs):
    lon, lat = grs[0] + 0.00015, grs[1]  # about 8 m east of the station
    dispatcher = Session_(browser, live_server, "dispatcher-gatchina")
    page = dispatcher.page
    page.evaluate(f"gisMap.map.setView([{lat}, {lon}], 17, {{animate: false}}) && null")
    # Switch the network layers off in the layer control, so the click lands on the map itself.
    page.hover(".leaflet-control-layers")
    titles = page.evaluate("gisMap.cfg.layers.map(l => l.title)")
    for title in titles:
        box = page.locator(".leaflet-control-layers-overlays label", has_text=title).locator(
            "input"
        )
        if box.is_checked():
            box.uncheck()
    page.mouse.move(10, 400)
    x, y = page.evaluate(
        f"(() => {{ const p = gisMap.map.latLngToContainerPoint([{lat}, {lon}]);"
        " const r = gisMap.map.getContainer().getBoundingClientRect();"
        " return [p.x + r.left, p.y + r.top]; })()"
    )
    page.mouse.click(x, y)
    form = page.locator("form.gis-report")
    form.wait_for(timeout=10_000)
    form.locator("select[name=utility]").select_option("gas")
    page.wait_for_selector(
        ".gis-report .gis-preview[data-rule='nearest_feature']", state="attached", timeout=10_000
    )
    preview = form.locator(".gis-preview").inner_text()
    assert "ДЕМО Газораспределение ЛО" in preview
    assert " м" in preview  # the distance in metres
    form.locator("select[name=kind]").select_option("accident")
    form.locator("textarea[name=description]").fill("Запах газа у ГРС <script>alert(1)</script>")
    form.locator("button[type=submit]").click()
    dispatcher.card_status("assigned")
    card = page.locator("#gis-card")
    assert "ДЕМО Газораспределение ЛО" in card.inner_text()
    assert "<script>alert(1)</script>" in card.inner_text()  # shown as text, never run
    page.wait_for_function("() => document.body.dataset.highlighted > 0", timeout=10_000)
    incident_id = int(card.get_attribute("data-incident"))

    operator = Session_(browser, live_server, "operator-gas")
    item = operator.page.locator(f".gis-queue-item[data-incident='{incident_id}']").first
    item.wait_for(timeout=10_000)
    item.click()
    operator.card_status("assigned")
    # Operator staff see only their moves: no assign or close buttons.
    assert operator.page.locator("#gis-card button[data-action='close']").count() == 0
    operator.act("accept", "accepted")
    operator.act("start", "in_progress")
    operator.act("resolve", "resolved")
    operator.page.locator(".gis-history li", has_text="operator-gas").first.wait_for(timeout=10_000)

    # The dispatcher opens the incident again: resolved by the operator; the dispatcher closes it.
    dispatcher.page.evaluate(f"gisWorkbench.openCard({incident_id})")
    dispatcher.card_status("resolved")
    dispatcher.act("close", "closed")
    assert dispatcher.problems == [] and operator.problems == []
    dispatcher.context.close()
    operator.context.close()


def test_planner_exports_a_municipality_from_the_panel(browser, live_server, tmp_path):
    import zipfile

    planner = Session_(browser, live_server, "planner")
    page = planner.page
    panel = page.locator("#gis-export")
    panel.wait_for(timeout=10_000)
    # Planners read and export; they get no report form on a map click.
    assert page.evaluate("gisMap.onEmptyClick === undefined")
    panel.locator("select[name=area]").select_option("sosnovy-bor")
    panel.locator("select[name=format]").select_option("geojson")
    for box in panel.locator("input[name=layer]").all():
        if box.get_attribute("value") not in ("water_mains", "heat_sources"):
            box.uncheck()
    with page.expect_download() as info:
        page.click("#gis-export-link")
    path = tmp_path / info.value.suggested_filename
    info.value.save_as(path)
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        geojson = [n for n in names if n.endswith(".geojson")]
        assert sorted(n.split("/")[-1].split(".")[0] for n in geojson) == [
            "heat_sources",
            "water_mains",
        ]
        import json

        mains = json.loads(archive.read(next(n for n in geojson if "water_mains" in n)))
    assert len(mains["features"]) > 100
    assert {f["properties"]["operator"] for f in mains["features"]} == {
        "ДЕМО Водоканал Соснового Бора"
    }
    assert planner.problems == []
    planner.context.close()


def test_dispatcher_marks_a_report_as_a_duplicate_from_the_card(browser, live_server, postgis_url):
    engine = create_engine(config.sqlalchemy_url(postgis_url))
    with engine.connect() as conn:
        rows = (
            conn.execute(
                text(
                    "SELECT i.id FROM incidents i JOIN municipalities m ON m.id = i.municipality_id"
                    " WHERE m.slug IN ('gatchina', 'gatchinsky') AND i.status IN ('new', 'assigned')"
                    " AND i.duplicate_of IS NULL ORDER BY i.id LIMIT 2"
                )
            )
            .scalars()
            .all()
        )
    engine.dispose()
    master, report = rows
    dispatcher = Session_(browser, live_server, "dispatcher-gatchina")
    page = dispatcher.page
    page.evaluate(f"gisWorkbench.openCard({report})")
    page.wait_for_selector(f"#gis-card[data-incident='{report}']", state="attached")
    # Without the number of the original the move is not sent.
    page.click("#gis-card button[data-action='duplicate']")
    assert "номер основного" in page.locator("#gis-card .gis-error").inner_text()
    page.fill("#gis-card input[name=duplicate_of]", str(master))
    dispatcher.act("duplicate", "duplicate")
    assert f"{master}" in page.locator("#gis-card").inner_text()
    page.evaluate(f"gisWorkbench.openCard({master})")
    page.wait_for_selector(f"#gis-card[data-incident='{master}']", state="attached")
    assert "Дубликатов" in page.locator("#gis-card").inner_text()
    assert dispatcher.problems == []
    dispatcher.context.close()


def test_operator_sees_the_latest_edits_of_their_layers(browser, live_server, postgis_url, tokens):
    """A water-main edited through OGC API Part 4 shows in the operator's panel, in Russian."""
    import json
    import urllib.request

    engine = create_engine(config.sqlalchemy_url(postgis_url))
    with engine.connect() as conn:
        fid, external_id, name = conn.execute(
            text(
                "SELECT f.id, f.external_id, f.name FROM network_features f"
                " JOIN operators o ON o.id = f.operator_id WHERE f.layer_id = 'water_mains'"
                " AND o.slug = 'demo-vodokanal-gatchina' ORDER BY f.id LIMIT 1"
            )
        ).one()
    url = f"{live_server}/ogc/collections/water_mains/items/{fid}"
    patch = urllib.request.Request(
        url,
        method="PATCH",
        data=json.dumps({"properties": {"name": "Водовод по ул. Тестовой"}}).encode(),
        headers={"Authorization": f"Bearer {tokens['operator']}",
                 "Content-Type": "application/merge-patch+json"},
    )  # fmt: skip
    try:
        assert urllib.request.urlopen(patch).status == 204
        staff = Session_(browser, live_server, "operator-vodokanal-gatchina")
        edit = staff.page.locator(".gis-edit", has_text=external_id).first
        edit.wait_for(timeout=10_000)
        assert "изменён" in edit.inner_text() and "operator-vodokanal-gatchina" in edit.inner_text()
        assert staff.page.locator("h3", has_text="Последние правки объектов").count() == 1
        assert staff.problems == []
        staff.context.close()
    finally:
        with engine.begin() as conn:
            conn.execute(text("UPDATE network_features SET name = :n WHERE id = :i"),
                         {"n": name, "i": fid})  # fmt: skip
            conn.execute(text("DELETE FROM feature_edits WHERE feature_id = :i"), {"i": fid})
        engine.dispose()
