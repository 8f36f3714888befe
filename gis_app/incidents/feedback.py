"""The reporter's answer to a resolution: confirm it (the incident closes) or reopen it with a
comment, and rate the work 1–5. Reached through a signed link (incidents/tokens.py), no account."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis_app.accounts.identity import Identity
from gis_app.errors import Conflict, NotFound
from gis_app.incidents import validate as v
from gis_app.incidents.lifecycle import MAX_COMMENT, record, transition

# The reporter acts through the link only, for the one move it grants (close or reopen).
REPORTER = Identity(None, "reporter", "admin")
CHOICES = ("confirm", "reopen")


def feedback_state(session: Session, incident_id: int, resolve_event_id: int) -> dict:
    """What the reporter's page shows: the incident, and whether this link may still answer."""
    row = (
        session.execute(
            text(
                """
            SELECT i.id, i.status, i.address, i.description, i.resolved_at, i.version,
                   o.short_name AS operator,
                   EXISTS (SELECT 1 FROM incident_events e WHERE e.incident_id = i.id
                           AND e.action = 'feedback'
                           AND (e.data->>'resolve_event_id')::bigint = :e) AS answered,
                   (SELECT max(id) FROM incident_events e WHERE e.incident_id = i.id
                           AND e.action = 'resolve') AS last_resolve
            FROM incidents i LEFT JOIN operators o ON o.id = i.operator_id WHERE i.id = :i
            """
            ),
            {"i": incident_id, "e": resolve_event_id},
        )
        .mappings()
        .one_or_none()
    )
    if row is None:
        raise NotFound("This link is not valid.", code="invalid_link")
    state = dict(row)
    state["stale"] = row["last_resolve"] != resolve_event_id or row["status"] not in (
        "resolved",
        "closed",
    )
    return state


def give_feedback(session: Session, incident_id: int, resolve_event_id: int, body: object) -> dict:
    """Record the reporter's answer; close or reopen the incident. 409 when already answered or
    the incident moved on; 400 on a bad field. The caller commits."""
    body = v.require_object(body)
    v.reject_unknown(body, {"choice", "comment", "rating"})
    choice = body.get("choice")
    if choice not in CHOICES:
        raise v.bad("choice", "must be confirm or reopen")
    comment = v.text_field(body.get("comment"), "comment", MAX_COMMENT, required=choice == "reopen")
    rating = body.get("rating")
    rating = None if rating in (None, "") else v.integer(rating, "rating", 1, 5)
    session.execute(
        text("SELECT id FROM incidents WHERE id = :i FOR UPDATE"), {"i": incident_id}
    ).one_or_none()
    state = feedback_state(session, incident_id, resolve_event_id)
    if state["answered"]:
        raise Conflict("You have already answered about this fix.", code="already_answered")
    if state["stale"]:
        raise Conflict(
            "The incident has moved on since this fix; the link no longer applies.",
            code="stale_link",
            status=state["status"],
        )
    record(
        session,
        incident_id,
        REPORTER.username,
        "feedback",
        None,
        None,
        comment,
        {"resolve_event_id": resolve_event_id, "choice": choice, "rating": rating},
    )
    if choice == "reopen":
        transition(session, REPORTER, incident_id, "reopen", state["version"], {"comment": comment})
    elif state["status"] == "resolved":
        transition(
            session,
            REPORTER,
            incident_id,
            "close",
            state["version"],
            {"comment": "исправление подтверждено заявителем / confirmed by the reporter"},
        )
    return {"incident_id": incident_id, "choice": choice, "rating": rating}
