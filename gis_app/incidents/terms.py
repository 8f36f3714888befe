"""The terms an incident is created under: its deadline rule and minutes, its triage deadline and
the escalation ladder in force then. A later change of the rules does not touch them."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis_app.incidents import rules
from gis_app.incidents.deadlines import Deadline


def record_terms(
    session: Session,
    incident_id: int,
    utility: str,
    kind: str,
    priority: int,
    deadline: Deadline,
    reported_at: datetime,
    triaged: bool,
) -> None:
    """Write the incident's terms; an incident nobody has assigned gets a triage deadline."""
    triage = (
        None if triaged else rules.triage_minutes(session, utility, kind, priority, reported_at)
    )
    session.execute(
        text(
            "INSERT INTO incident_terms (incident_id, deadline_rule_id, accept_minutes,"
            " resolve_minutes, triage_due_at, ladder) VALUES (:i, :r, :a, :res, :t,"
            " CAST(:l AS jsonb))"
        ),
        {
            "i": incident_id,
            "r": deadline.rule_id,
            "a": deadline.accept_minutes,
            "res": deadline.resolve_minutes,
            "t": reported_at + timedelta(minutes=triage) if triage is not None else None,
            "l": json.dumps(rules.ladder_for(session, utility, priority, reported_at)),
        },
    )


def restart_ladder(session: Session, incident_id: int) -> None:
    """A new deadline begins (assigned, reassigned, reopened): the ladder starts again."""
    session.execute(
        text(
            "UPDATE incident_terms SET escalation_level = 0, escalated_at = NULL"
            " WHERE incident_id = :i"
        ),
        {"i": incident_id},
    )
