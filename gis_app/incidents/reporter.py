"""Telling the reporter: the incident's number, then accepted, resolved (with a link to confirm or
reopen) and closed, by e-mail through the outbox, when the report left an e-mail address."""

from __future__ import annotations

import re

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis_app.incidents import notify

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# Lifecycle action → the reporter's message about it.
MESSAGES = {"created": "received", "accept": "accepted", "resolve": "resolved", "close": "closed"}


def reporter_email(contact: str | None) -> str | None:
    """The first e-mail address in a reporter's contact text (name, phone, e-mail), if any."""
    found = EMAIL.search(contact or "")
    return found.group(0) if found else None


def tell_reporter(session: Session, incident_id: int, action: str) -> int | None:
    """Queue the reporter's message about `action` (created, accept, resolve, close); its id."""
    event = MESSAGES.get(action)
    if event is None:
        return None
    row = session.execute(
        text("SELECT reporter_contact, expected_at, resolve_due_at FROM incidents WHERE id = :i"),
        {"i": incident_id},
    ).one()
    email = reporter_email(row.reporter_contact)
    if email is None:
        return None
    extra: dict = {"expected_at": row.expected_at or row.resolve_due_at}
    if event == "resolved":
        # The link asks about this resolution; a later reopen makes it stale.
        extra["resolve_event_id"] = session.execute(
            text(
                "SELECT max(id) FROM incident_events WHERE incident_id = :i AND action = 'resolve'"
            ),
            {"i": incident_id},
        ).scalar_one()
    return notify.enqueue_to(session, incident_id, event, email, extra)
