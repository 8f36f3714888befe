"""The escalation ladder: operator → municipal centre → regional centre, its rules as data."""

from __future__ import annotations

import pytest
from helpers import assert_error
from sqlalchemy import text

from gis_app.incidents import validate
from gis_app.incidents.create import create_incident
from gis_app.incidents.escalate import escalate_due
from gis_app.incidents.lifecycle import transition
from gis_app.incidents.notify import NotifySettings
from gis_app.incidents.worker import run_once
from incidents.incident_helpers import at, line


@pytest.fixture
def centres(session):
    """A municipal dispatcher of Gatchina district and a regional one of the oblast, with e-mail."""
    for name, slug in (("t-edds", "gatchinsky"), ("t-tsur", "leningrad-oblast")):
        uid = session.execute(
            text(
                "INSERT INTO users (username, role, email) VALUES (:n, 'dispatcher', :e)"
                " RETURNING id"
            ),
            {"n": name, "e": f"{name}@example.invalid"},
        ).scalar_one()
        session.execute(
            text(
                "INSERT INTO user_municipalities SELECT :u, id FROM municipalities WHERE slug = :s"
            ),
            {"u": uid, "s": slug},
        )
    return {"municipal": "t-edds@example.invalid", "regional": "t-tsur@example.invalid"}


@pytest.fixture
def late(session, registry, actors, make_operator, make_feature):
    """make(hours_late, assign=True) → an incident in Gatchina town whose deadline passed."""

    made = []

    def make(hours_late: float, assign: bool = True) -> int:
        made.append(hours_late)
        op = make_operator(f"t-esc-{len(made)}", email="op@example.invalid")
        make_feature(op, line((-50, 3), (50, 3)))
        lon, lat = at(0, 0)
        payload = {"description": "тест", "lon": lon, "lat": lat, "utility": "water"}
        payload["allow_duplicate"] = True
        if not assign:
            payload["assign"] = False
        data = validate.create_payload(session, payload)
        incident_id = create_incident(session, registry, actors["dispatcher"], data)
        session.execute(
            text(
                "UPDATE incidents SET resolve_due_at = now() - make_interval(secs => :s),"
                " municipality_id = (SELECT id FROM municipalities WHERE slug = 'gatchina')"
                " WHERE id = :id"
            ),
            {"s": hours_late * 3600, "id": incident_id},
        )
        session.execute(
            text(
                "UPDATE incident_terms SET triage_due_at = now() - make_interval(secs => :s)"
                " WHERE incident_id = :id AND triage_due_at IS NOT NULL"
            ),
            {"s": hours_late * 3600, "id": incident_id},
        )
        return incident_id

    return make


def notifications(session, incident_id: int) -> list[tuple[str, str]]:
    return [
        tuple(r)
        for r in session.execute(
            text("SELECT event, target FROM notifications WHERE incident_id = :i ORDER BY id"),
            {"i": incident_id},
        ).all()
    ]


def escalations(session, incident_id: int) -> list[dict]:
    return list(
        session.execute(
            text(
                "SELECT data FROM incident_events WHERE incident_id = :i AND action = 'escalated'"
                " ORDER BY id"
            ),
            {"i": incident_id},
        ).scalars()
    )


def test_the_ladder_climbs_step_by_step_and_once(session, client, centres, late):
    incident_id = late(1.5)  # past the municipal step (60 min), not the regional one (240 min)
    assert escalate_due(session) == [(incident_id, 1), (incident_id, 2)]
    assert notifications(session, incident_id) == [
        ("assigned", "op@example.invalid"),
        ("overdue", "op@example.invalid"),
        ("escalated", centres["municipal"]),
    ]
    steps = escalations(session, incident_id)
    assert [(s["level"], s["target"], s["result"]) for s in steps] == [
        (1, "operator", "reminded"),
        (2, "municipal", "notified"),
    ]
    assert steps[1]["recipients"] == ["t-edds"] and steps[1]["deadline"] == "resolve"
    assert escalate_due(session) == []  # nothing more is due yet
    later = session.execute(text("SELECT now() + interval '3 hours'")).scalar_one()
    assert escalate_due(session, later) == [(incident_id, 3)]
    assert notifications(session, incident_id)[-1] == ("escalated", centres["regional"])
    session.flush()
    body = client.get(f"/api/incidents/{incident_id}").get_json()
    assert body["escalation_level"] == 3 and body["escalated_at"]


def test_reassigning_restarts_the_ladder(session, actors, centres, late, make_operator):
    incident_id = late(5)
    assert [lvl for _, lvl in escalate_due(session)] == [1, 2, 3]
    other = make_operator("t-esc-other")
    version = session.execute(
        text("SELECT version FROM incidents WHERE id = :i"), {"i": incident_id}
    ).scalar_one()
    transition(
        session,
        actors["admin"],
        incident_id,
        "reassign",
        version,
        {"operator_id": other, "comment": "не наш"},
    )
    level = session.execute(
        text("SELECT escalation_level FROM incident_terms WHERE incident_id = :i"),
        {"i": incident_id},
    ).scalar_one()
    assert level == 0


def test_nobody_triages_a_new_incident(session, centres, late):
    incident_id = late(2, assign=False)
    triage = session.execute(
        text(
            "SELECT triage_due_at, reported_at FROM incident_terms JOIN incidents ON id ="
            " incident_id WHERE id = :i"
        ),
        {"i": incident_id},
    ).one()
    assert triage.triage_due_at is not None
    steps = escalations(session, incident_id) or None
    assert steps is None
    escalate_due(session)
    steps = escalations(session, incident_id)
    # Nobody is the operator yet: the first step is skipped, the municipal centre is told.
    assert [(s["level"], s["result"], s["deadline"]) for s in steps] == [
        (1, "skipped", "triage"),
        (2, "notified", "triage"),
    ]


def test_worker_cycle_reminds_the_operator_once(session, centres, late):
    incident_id = late(0.5)
    settings = NotifySettings(smtp_port=9, max_attempts=1)  # nothing listens: sends fail
    counts = run_once(session, settings)
    assert counts["escalated"] >= 1  # ("overdue" counts incidents without a ladder: the demo's)
    run_once(session, settings)
    overdue = [e for e, _ in notifications(session, incident_id) if e == "overdue"]
    assert overdue == ["overdue"]


def test_rules_are_data_and_changes_apply_to_new_incidents(session, client, client_as, late):
    before = late(0.2)
    r = client.post(
        "/api/escalation-rules",
        json={"level": 2, "after_minutes": 10, "utility": "water", "source": "приказ №1 (тест)"},
    )
    assert r.status_code == 201, r.get_json()
    rule = r.get_json()
    assert (rule["target"], rule["after_minutes"], rule["utility"]) == ("municipal", 10, "water")
    r = client.post(
        "/api/deadline-rules",
        json={
            "utility": "water",
            "accept_minutes": 30,
            "resolve_minutes": 120,
            "source": "постановление (тест)",
        },
    )
    assert r.status_code == 201, r.get_json()
    after = late(0.2)
    ladders = dict(
        session.execute(
            text("SELECT incident_id, ladder FROM incident_terms WHERE incident_id IN (:a, :b)"),
            {"a": before, "b": after},
        ).all()
    )
    assert [s["after_minutes"] for s in ladders[before]] == [0, 60, 240]
    assert [s["after_minutes"] for s in ladders[after]] == [0, 10, 240]
    minutes = dict(
        session.execute(
            text(
                "SELECT incident_id, resolve_minutes FROM incident_terms"
                " WHERE incident_id IN (:a, :b)"
            ),
            {"a": before, "b": after},
        ).all()
    )
    assert (minutes[before], minutes[after]) == (240, 120)
    listed = client.get("/api/escalation-rules").get_json()["rules"]
    assert rule["id"] in [x["id"] for x in listed]
    assert client.delete(f"/api/escalation-rules/{rule['id']}").status_code == 204
    listed = client.get("/api/escalation-rules").get_json()["rules"]
    everything = client.get("/api/escalation-rules?all=true").get_json()["rules"]
    assert rule["id"] not in [x["id"] for x in listed]
    retired = next(x for x in everything if x["id"] == rule["id"])
    assert retired["superseded_at"] and retired["source"] == "приказ №1 (тест)"
    assert_error(client.delete(f"/api/escalation-rules/{rule['id']}"), 404, "rule_not_found")
    assert_error(
        client_as("dispatcher").post("/api/escalation-rules", json={"level": 2}), 403, "forbidden"
    )
    assert_error(
        client.post("/api/escalation-rules", json={"level": 7, "after_minutes": 1, "source": "x"}),
        400,
        "invalid_field",
    )
    assert_error(client.post("/api/deadline-rules", json={"source": "x"}), 400, "invalid_field")


def test_escalation_mail_names_the_step(session, centres, late):
    incident_id = late(2)
    escalate_due(session)
    payload = session.execute(
        text(
            "SELECT payload FROM notifications WHERE incident_id = :i AND event = 'escalated'"
            " ORDER BY id LIMIT 1"
        ),
        {"i": incident_id},
    ).scalar_one()
    assert payload["escalated"] == {"level": 2, "target": "municipal", "deadline": "resolve"}
    assert payload["incident"]["id"] == incident_id
