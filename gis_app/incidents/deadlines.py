"""Deadlines to accept and to resolve, from the rules table (seeded with the federal limits).

The most specific rule wins: a rule naming the utility beats one that does not, then one naming
`dead_end`, then the kind, then the priority. The accept clock starts at assignment; the resolve
clock when supply stopped (if known), else at the report (docs/domain.md, "Legal limits").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.orm import Session

OPEN_STATUSES = ("new", "assigned", "accepted", "in_progress", "rejected")

# An SQL condition on `i` (incidents): true while a deadline has passed and the work is not done.
OVERDUE_SQL = (
    "((i.status IN ('new', 'assigned') AND i.accept_due_at < now())"
    " OR (i.status IN ('new', 'assigned', 'accepted', 'in_progress', 'rejected')"
    " AND i.resolve_due_at < now()))"
)

_RULE_SQL = text(
    """
    SELECT id, accept_minutes, resolve_minutes, source, confirmed FROM deadline_rules
    WHERE (utility_code IS NULL OR utility_code = :utility) AND (kind IS NULL OR kind = :kind)
      AND (priority IS NULL OR priority = :priority) AND (dead_end IS NULL OR dead_end = :dead_end)
      AND created_at <= COALESCE(:as_of, now())
      AND (superseded_at IS NULL OR superseded_at > COALESCE(:as_of, now()))
    ORDER BY (utility_code IS NOT NULL) DESC, (dead_end IS NOT NULL) DESC,
             (kind IS NOT NULL) DESC, (priority IS NOT NULL) DESC, id
    LIMIT 1
    """
)


@dataclass(frozen=True)
class Deadline:
    """The rule that applies and the minutes it allows (None: no deadline)."""

    rule_id: int | None
    accept_minutes: int | None
    resolve_minutes: int | None
    source: str
    confirmed: bool

    def accept_due(self, assigned_at: datetime | None) -> datetime | None:
        """When acceptance is due, counted from assignment."""
        if assigned_at is None or self.accept_minutes is None:
            return None
        return assigned_at + timedelta(minutes=self.accept_minutes)

    def resolve_due(
        self, reported_at: datetime, supply_stopped_at: datetime | None
    ) -> datetime | None:
        """When the fix is due, counted from when supply stopped, else from the report."""
        if self.resolve_minutes is None:
            return None
        return (supply_stopped_at or reported_at) + timedelta(minutes=self.resolve_minutes)


def is_dead_end(session: Session, feature_id: int | None) -> bool | None:
    """Whether the feature is a dead-end main (its `dead_end` attribute); None when unknown."""
    if feature_id is None:
        return None
    value = session.execute(
        text("SELECT attributes->'dead_end' FROM network_features WHERE id = :id"),
        {"id": feature_id},
    ).scalar_one_or_none()
    return value if isinstance(value, bool) else None


def deadline_for(
    session: Session,
    utility: str,
    kind: str,
    priority: int,
    dead_end: bool | None,
    as_of: datetime | None = None,
) -> Deadline:
    """The most specific deadline rule for this utility, kind, priority and main, among the
    rules in force at `as_of` (an incident's report time; default now)."""
    row = session.execute(
        _RULE_SQL,
        {
            "utility": utility,
            "kind": kind,
            "priority": priority,
            "dead_end": dead_end,
            "as_of": as_of,
        },
    ).one_or_none()
    if row is None:
        return Deadline(None, None, None, "no rule", False)
    return Deadline(row.id, row.accept_minutes, row.resolve_minutes, row.source, row.confirmed)


def list_rules(session: Session) -> list[dict]:
    """Every deadline rule, as stored."""
    rows = session.execute(
        text(
            "SELECT id, utility_code AS utility, kind, priority, dead_end, accept_minutes,"
            " resolve_minutes, triage_minutes, source, confirmed, created_at, created_by"
            " FROM deadline_rules WHERE superseded_at IS NULL"
            " ORDER BY utility_code NULLS FIRST, kind NULLS FIRST, priority NULLS FIRST, id"
        )
    ).mappings()
    return [dict(r) for r in rows]


def overdue_by_operator(session: Session) -> list[dict]:
    """Open incidents and overdue ones per operator (most overdue first)."""
    rows = session.execute(
        text(
            f"""
            SELECT o.id AS operator_id, o.short_name AS operator,
                   count(*) FILTER (WHERE i.status IN {OPEN_STATUSES!r}) AS open,
                   count(*) FILTER (WHERE {OVERDUE_SQL}) AS overdue,
                   count(*) FILTER (WHERE i.status IN ('new', 'assigned')
                                    AND i.accept_due_at < now()) AS overdue_to_accept,
                   count(*) FILTER (WHERE i.status IN {OPEN_STATUSES!r}
                                    AND i.resolve_due_at < now()) AS overdue_to_resolve
            FROM incidents i JOIN operators o ON o.id = i.operator_id
            GROUP BY o.id, o.short_name
            HAVING count(*) FILTER (WHERE i.status IN {OPEN_STATUSES!r}) > 0
            ORDER BY overdue DESC, o.id
            """
        )
    ).mappings()
    return [dict(r) for r in rows]
