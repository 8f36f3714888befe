"""The background work: flag overdue incidents, deliver the outbox (`gis-app notify run`,
gis_app/cli/notify.py, runs it in a loop)."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis_app.incidents import escalate, notify
from gis_app.incidents.deadlines import OVERDUE_SQL
from gis_app.incidents.lifecycle import record


def mark_overdue(session: Session) -> list[int]:
    """Flag incidents that became overdue since the last check; queue a message for each."""
    ids = (
        session.execute(
            text(
                f"UPDATE incidents i SET overdue_notified_at = now() WHERE {OVERDUE_SQL}"
                " AND i.overdue_notified_at IS NULL AND i.operator_id IS NOT NULL RETURNING i.id"
            )
        )
        .scalars()
        .all()
    )
    for incident_id in sorted(ids):
        record(session, incident_id, "system", "overdue", None, None, "срок истёк / overdue")
        notify.enqueue(session, incident_id, "overdue")
    return sorted(ids)


def run_once(session: Session, settings: notify.NotifySettings) -> dict[str, int]:
    """One cycle: the escalation ladder, the overdue check of incidents without a ladder, then
    every due delivery. The caller commits."""
    steps = escalate.escalate_due(session)
    overdue = mark_overdue(session)
    counts = notify.deliver_due(session, settings)
    return {"escalated": len(steps), "overdue": len(overdue), **counts}
