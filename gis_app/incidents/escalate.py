"""The escalation ladder: an incident past its deadline climbs from its operator to the municipal
control centre (ЕДДС/МЦУ) to the regional one (ЦУР), a step after each configured delay.

The deadline that counts is the one of the incident's state: triage while nobody has assigned it
(new), acceptance while assigned, resolution after; the earliest passed one starts the clock. Each
step is an event on the incident and messages through the outbox. The caller commits.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis_app.incidents import notify
from gis_app.incidents.lifecycle import record

# The deadline that passed first, for the incident's state (NULL: none has passed).
_PASSED = """
    CASE
      WHEN i.status = 'new' THEN LEAST(t.triage_due_at, i.resolve_due_at)
      WHEN i.status = 'assigned' THEN LEAST(i.accept_due_at, i.resolve_due_at)
      ELSE i.resolve_due_at
    END
"""
_WHICH = """
    CASE
      WHEN i.status = 'new' AND t.triage_due_at <= COALESCE(i.resolve_due_at, 'infinity')
        THEN 'triage'
      WHEN i.status = 'assigned' AND i.accept_due_at <= COALESCE(i.resolve_due_at, 'infinity')
        THEN 'accept'
      ELSE 'resolve'
    END
"""
_DUE = text(
    f"""
    SELECT i.id, i.status, i.municipality_id, i.operator_id, i.overdue_notified_at,
           t.ladder, t.escalation_level, {_PASSED} AS passed_at, {_WHICH} AS deadline
    FROM incidents i JOIN incident_terms t ON t.incident_id = i.id
    WHERE i.status IN ('new', 'assigned', 'accepted', 'in_progress', 'rejected')
      AND {_PASSED} < :now AND EXISTS (SELECT 1 FROM jsonb_array_elements(t.ladder) s
                                       WHERE (s->>'level')::int > t.escalation_level)
    ORDER BY i.id
    FOR UPDATE OF t SKIP LOCKED
    """
)
# Dispatchers in charge of the incident's place: `regional` through the root (the oblast),
# `municipal` through any municipality on the way down to the incident's own.
_RECIPIENTS = text(
    """
    WITH RECURSIVE up(id, parent_id) AS (
        SELECT id, parent_id FROM municipalities WHERE id = :m
        UNION SELECT p.id, p.parent_id FROM municipalities p JOIN up ON p.id = up.parent_id
    )
    SELECT DISTINCT u.username, u.email FROM users u
    JOIN user_municipalities um ON um.user_id = u.id
    JOIN up ON up.id = um.municipality_id
    WHERE u.role = 'dispatcher' AND u.is_active AND u.email IS NOT NULL
      AND (up.parent_id IS NULL) = :regional
    ORDER BY u.username
    """
)


def recipients(session: Session, municipality_id: int | None, target: str) -> list[dict]:
    """Dispatchers (username, email) of the municipal or regional centre for a municipality."""
    if municipality_id is None:
        return []
    rows = session.execute(
        _RECIPIENTS, {"m": municipality_id, "regional": target == "regional"}
    ).mappings()
    return [dict(r) for r in rows]


def _operator_step(session: Session, row, step: dict, now: datetime) -> dict:
    """Remind the operator (unless already reminded since this deadline passed, or none)."""
    if row.operator_id is None or row.status == "new":
        return {"result": "skipped", "why": "no operator has the incident yet"}
    reminded = row.overdue_notified_at is not None and row.overdue_notified_at >= row.passed_at
    if not reminded:
        session.execute(
            text("UPDATE incidents SET overdue_notified_at = :now WHERE id = :id"),
            {"now": now, "id": row.id},
        )
        record(session, row.id, "system", "overdue", None, None, "срок истёк / overdue")
        notify.enqueue(session, row.id, "overdue")
    return {"result": "already_reminded" if reminded else "reminded"}


def _centre_step(session: Session, row, step: dict) -> dict:
    people = recipients(session, row.municipality_id, step["target"])
    extra = {"level": step["level"], "target": step["target"], "deadline": row.deadline}
    for person in people:
        notify.enqueue_to(session, row.id, "escalated", person["email"], extra)
    return {
        "result": "notified" if people else "no_contact",
        "recipients": [p["username"] for p in people],
    }


def escalate_due(session: Session, now: datetime | None = None) -> list[tuple[int, int]]:
    """Take every due step of every incident past a deadline; (incident id, level) per step."""
    now = now or session.execute(text("SELECT now()")).scalar_one()
    done = []
    for row in session.execute(_DUE, {"now": now}).all():
        level = row.escalation_level
        for step in sorted(row.ladder, key=lambda s: s["level"]):
            if step["level"] <= row.escalation_level:
                continue
            if now < row.passed_at + timedelta(minutes=step["after_minutes"]):
                break
            if step["target"] == "operator":
                outcome = _operator_step(session, row, step, now)
            else:
                outcome = _centre_step(session, row, step)
            level = step["level"]
            record(
                session,
                row.id,
                "system",
                "escalated",
                None,
                None,
                f"эскалация: уровень {level} ({step['target']}), срок «{row.deadline}» истёк",
                {**step, "deadline": row.deadline, "passed_at": row.passed_at, **outcome},
            )
            done.append((row.id, level))
        if level != row.escalation_level:
            session.execute(
                text(
                    "UPDATE incident_terms SET escalation_level = :l, escalated_at = :now"
                    " WHERE incident_id = :i"
                ),
                {"l": level, "now": now, "i": row.id},
            )
    return done
