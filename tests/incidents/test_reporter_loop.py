"""The reporter's loop: number, accepted, resolved (a signed link to confirm or reopen and rate),
closed; the answer counts in the KPIs."""

from __future__ import annotations

import re
import time

import itsdangerous.timed
import pytest
from helpers import assert_error
from sqlalchemy import text

from gis_app.incidents import validate
from gis_app.incidents.create import create_incident
from gis_app.incidents.lifecycle import transition
from gis_app.incidents.notify import NotifySettings, reporter_lines
from gis_app.incidents.tokens import make_token, read_token
from gis_app.kpi.periods import parse_period
from gis_app.kpi.report import Query, kpi_report
from incidents.incident_helpers import at, line

EMAIL = "i.ivanov@example.invalid"


@pytest.fixture
def reported(session, registry, actors, make_operator, make_feature):
    """An incident a citizen reported with an e-mail, assigned to a fresh operator."""
    op = make_operator("t-loop", email="op@example.invalid")
    make_feature(op, line((-50, 3), (50, 3)))
    lon, lat = at(0, 0)
    data = validate.create_payload(
        session,
        {
            "description": "нет воды",
            "lon": lon,
            "lat": lat,
            "utility": "water",
            "reporter_contact": f"Иван Иванов +7 900 000-00-00 {EMAIL}",
        },
    )
    return create_incident(session, registry, actors["dispatcher"], data)


def move(session, actor, incident_id: int, action: str, body: dict | None = None) -> None:
    version = session.execute(
        text("SELECT version FROM incidents WHERE id = :i"), {"i": incident_id}
    ).scalar_one()
    transition(session, actor, incident_id, action, version, body or {})


def to_reporter(session, incident_id: int) -> list[dict]:
    rows = session.execute(
        text(
            "SELECT event, payload FROM notifications WHERE incident_id = :i AND target = :t"
            " ORDER BY id"
        ),
        {"i": incident_id, "t": EMAIL},
    ).all()
    return [{"event": e, **p} for e, p in rows]


def resolved_link(session, app, actors, incident_id: int) -> str:
    move(session, actors["admin"], incident_id, "accept", {"expected_at": "2031-01-01T12:00:00Z"})
    move(session, actors["admin"], incident_id, "resolve")
    message = to_reporter(session, incident_id)[-1]
    settings = NotifySettings.from_config(app.config)
    body = "\n".join(reporter_lines(settings, message))
    session.flush()
    return re.search(r"/feedback/[\w.\-]+", body).group(0)


def test_the_reporter_hears_each_step(session, app, actors, reported):
    assert [m["event"] for m in to_reporter(session, reported)] == ["received"]
    link = resolved_link(session, app, actors, reported)
    messages = to_reporter(session, reported)
    assert [m["event"] for m in messages] == ["received", "accepted", "resolved"]
    assert messages[1]["accepted"]["expected_at"].startswith("2031-01-01")
    assert link.startswith("/feedback/")
    settings = NotifySettings.from_config(app.config)
    text_of_received = "\n".join(reporter_lines(settings, messages[0]))
    assert f"№{reported}" in text_of_received


def test_confirm_and_rate_closes_and_counts(session, app, actors, anon_client, reported):
    link = resolved_link(session, app, actors, reported)
    page = anon_client.get(link)
    assert page.status_code == 200 and "Да, исправлено" in page.get_data(as_text=True)
    assert "Yes, it is fixed" in anon_client.get(link + "?lang=en").get_data(as_text=True)
    r = anon_client.post(link, data={"choice": "confirm", "rating": "4"})
    assert r.status_code == 200 and "Спасибо" in r.get_data(as_text=True)
    status = session.execute(
        text("SELECT status FROM incidents WHERE id = :i"), {"i": reported}
    ).scalar_one()
    assert status == "closed"
    assert to_reporter(session, reported)[-1]["event"] == "closed"
    again = anon_client.post(link, data={"choice": "reopen", "comment": "всё же нет"})
    assert again.status_code == 409
    year = parse_period(str(session.execute(text("SELECT extract(year FROM now())::int")).scalar()))
    rep = kpi_report(
        session,
        actors["admin"],
        Query("operator", year),
        session.execute(text("SELECT now()")).scalar(),
    )
    op = session.execute(
        text("SELECT operator_id::text FROM incidents WHERE id = :i"), {"i": reported}
    ).scalar()
    row = next(r for r in rep["rows"] if r["key"] == op)
    assert (row["rated"], row["rating_avg"], row["reopened"]) == (1, 4.0, 0)


def test_reopen_needs_a_comment_and_counts(session, app, actors, anon_client, reported):
    link = resolved_link(session, app, actors, reported)
    refused = anon_client.post(link, data={"choice": "reopen", "rating": "1"})
    assert refused.status_code == 400 and "comment" in refused.get_data(as_text=True)
    r = anon_client.post(link, data={"choice": "reopen", "comment": "воды нет", "rating": "1"})
    assert r.status_code == 200
    row = session.execute(
        text("SELECT status FROM incidents WHERE id = :i"), {"i": reported}
    ).scalar_one()
    assert row == "assigned"
    event = session.execute(
        text(
            "SELECT actor, comment FROM incident_events WHERE incident_id = :i AND action = 'reopen'"
        ),
        {"i": reported},
    ).one()
    assert tuple(event) == ("reporter", "воды нет")
    facts = session.execute(
        text("SELECT reopens, rating FROM incident_kpi_facts WHERE incident_id = :i"),
        {"i": reported},
    ).one()
    assert tuple(facts) == (1, 1)
    # The link has been answered; it offers the form no more.
    page = anon_client.get(link).get_data(as_text=True)
    assert "уже получен" in page and "<form" not in page


def test_links_are_signed_and_expire(app, anon_client, monkeypatch):
    secret = str(app.config["SECRET_KEY"])
    assert read_token(secret, make_token(secret, 5, 7), 14) == (5, 7)
    assert_error(anon_client.get("/feedback/forged.token"), 404, "invalid_link")
    assert_error(anon_client.get("/feedback/" + make_token("k2", 5, 7)), 404, "invalid_link")
    real_time = time.time
    monkeypatch.setattr(itsdangerous.timed.time, "time", lambda: real_time() - 20 * 86400)
    old = make_token(secret, 5, 7)
    monkeypatch.setattr(itsdangerous.timed.time, "time", real_time)
    assert_error(anon_client.get("/feedback/" + old), 410, "link_expired")
