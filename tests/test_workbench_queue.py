"""The shift's queue and live cards, in a real headless Chromium: every open incident of the
dispatcher's charge once, in the group of what to do next, with counts in the header; a search by
number; a flash when another dispatcher reports; a card that changes when the operator acts, and
the operator's expected restoration time."""

from __future__ import annotations

import json
import urllib.request

import pytest
from sqlalchemy import create_engine, text
from test_workbench import Session_

from gis_app import config
from gis_app.accounts.users import identity_for_user

GROUP_OF = {
    "new": "new",
    "rejected": "new",
    "assigned": "assigned",
    "accepted": "working",
    "in_progress": "working",
    "resolved": "resolved",
}


@pytest.fixture(scope="module")
def engine(postgis_url):
    engine = create_engine(config.sqlalchemy_url(postgis_url))
    yield engine
    engine.dispose()


def api(base: str, token: str, method: str, path: str, body=None, headers=None) -> tuple:
    """A request to the live server as the token's user: (status, JSON, ETag)."""
    req = urllib.request.Request(
        base + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json",
                 **(headers or {})},
    )  # fmt: skip
    with urllib.request.urlopen(req) as r:
        return r.status, json.loads(r.read() or b"null"), r.headers.get("ETag")


@pytest.fixture(scope="module")
def gatchina_spot(engine):
    with engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p"
                " FROM municipalities WHERE slug = 'gatchina') s"
            )
        ).one()


def report(live_server, tokens, spot, east_m: float, **extra) -> dict:
    lon, lat = spot
    body = {"lon": lon + east_m / 56_000, "lat": lat, "utility": "water", "kind": "incident",
            "priority": 2, "description": "Проверка очереди", "allow_duplicate": True, **extra}  # fmt: skip
    status, created, _ = api(live_server, tokens["dispatcher"], "POST", "/api/incidents", body)
    assert status == 201
    return created


def expected_queue(engine) -> dict[int, str]:
    """The open incidents of dispatcher-gatchina's charge and their group, read from the database."""
    with engine.connect() as conn:
        from sqlalchemy.orm import Session

        with Session(bind=conn) as session:
            uid = session.execute(
                text("SELECT id FROM users WHERE username = 'dispatcher-gatchina'")
            ).scalar()
            munis = list(identity_for_user(session, uid).municipality_ids)
        rows = conn.execute(
            text(
                "SELECT i.id, i.status, (i.status IN ('new', 'assigned') AND i.accept_due_at < now())"
                " OR (i.status IN ('new', 'assigned', 'accepted', 'in_progress', 'rejected')"
                " AND i.resolve_due_at < now()) AS overdue FROM incidents i"
                " WHERE i.municipality_id = ANY(:m) AND i.status IN"
                " ('new', 'rejected', 'assigned', 'accepted', 'in_progress', 'resolved')"
            ),
            {"m": munis},
        ).all()
    return {r.id: "overdue" if r.overdue else GROUP_OF[r.status] for r in rows}


def test_queue_has_each_open_incident_once_in_its_group(
    chromium, live_server, tokens, engine, gatchina_spot
):
    made = [report(live_server, tokens, gatchina_spot, 60 * k) for k in range(1, 6)]
    assert made[4]["status"] == "assigned"
    with engine.begin() as conn:
        for inc, status in zip(made, ("accepted", "in_progress", "resolved", "new"), strict=False):
            conn.execute(
                text("UPDATE incidents SET status = :s, version = version + 1 WHERE id = :i"),
                {"s": status, "i": inc["id"]},
            )
    expected = expected_queue(engine)
    assert set(expected.values()) == {"overdue", "new", "assigned", "working", "resolved"}
    dispatcher = Session_(chromium, live_server, "dispatcher-gatchina")
    page = dispatcher.page
    page.wait_for_selector(".gis-queue-item", timeout=10_000)
    shown = page.evaluate(
        "[...document.querySelectorAll('.gis-queue-item')].map(b =>"
        " [+b.dataset.incident, b.closest('section').dataset.group])"
    )
    assert sorted(i for i, _ in shown) == sorted(expected)  # each once
    assert {i: g for i, g in shown} == expected
    counts = page.evaluate(
        "Object.fromEntries([...document.querySelectorAll('.gis-count')].map(c =>"
        " [c.dataset.group, +c.dataset.count]))"
    )
    for group in counts:
        assert counts[group] == sum(1 for g in expected.values() if g == group)
    # Each row says priority, age and the time left (or how late).
    row = page.locator(f".gis-queue-item[data-incident='{made[0]['id']}']")
    assert "P2" in row.inner_text() and "назад" in row.inner_text()
    assert "осталось" in row.inner_text()
    # The search by number leaves that incident alone.
    page.fill(".gis-search", str(made[2]["id"]))
    assert page.evaluate("[...document.querySelectorAll('.gis-queue-item')].length") == 1
    page.fill(".gis-search", "")

    # Another dispatcher reports: the queue flashes and marks the new row.
    arrived = report(live_server, tokens, gatchina_spot, 330)
    page.evaluate("gisWorkbench.loadQueue()")
    page.wait_for_selector(f"body[data-last-arrived='{arrived['id']}']", state="attached",
                           timeout=10_000)  # fmt: skip
    assert "flash" in page.locator("#gis-queue").get_attribute("class")
    assert page.locator(f".gis-queue-item.fresh[data-incident='{arrived['id']}']").count() == 1
    assert dispatcher.problems == []
    dispatcher.context.close()


def test_open_card_follows_the_operator_and_takes_the_expected_time(
    chromium, live_server, tokens, gatchina_spot
):
    inc = report(live_server, tokens, gatchina_spot, -200)
    assert inc["status"] == "assigned" and inc["operator"] is not None
    dispatcher = Session_(chromium, live_server, "dispatcher-gatchina")
    dispatcher.page.evaluate(f"gisWorkbench.openCard({inc['id']})")
    dispatcher.card_status("assigned")
    # The operator's staff accept it with an expected restoration time, in their own browser.
    staff = Session_(chromium, live_server, "operator-vodokanal-gatchina")
    staff.page.evaluate(f"gisWorkbench.showIncident({inc['id']})")
    staff.card_status("assigned")
    staff.page.fill("#gis-card input[name=expected_at]", "2030-01-02T15:30")
    staff.page.fill("#gis-card input[name=consumers_cut_off]", "120")
    # The buttons are in view without scrolling the card.
    box = staff.page.locator("#gis-card button[data-action='accept']").bounding_box()
    card = staff.page.locator("#gis-card").bounding_box()
    assert card["y"] <= box["y"] and box["y"] + box["height"] <= card["y"] + card["height"]
    staff.act("accept", "accepted")
    # The dispatcher's open card follows without a click.
    dispatcher.card_status("accepted")
    text_ = dispatcher.page.locator("#gis-card").inner_text()
    assert "Ожидаемое восстановление" in text_ and "2030" in text_
    # Consumers cut off are saved by PATCH from the same card.
    staff.page.fill("#gis-card input[name=consumers_cut_off]", "120")
    with staff.page.expect_response(lambda r: r.request.method == "PATCH") as answer:
        staff.page.click("#gis-restoration-save, #gis-card .gis-restoration button")
    assert answer.value.status == 200, answer.value.text()
    dispatcher.page.wait_for_function(
        "() => document.querySelector('#gis-card').innerText.includes('120')", timeout=15_000
    )
    assert dispatcher.problems == [] and staff.problems == []
    dispatcher.context.close()
    staff.context.close()
