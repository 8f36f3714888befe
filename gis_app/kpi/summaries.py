"""Summaries: whole KPI reports of calendar years and months for the oblast, kept in a table.

The usual question — a year or a month, the whole oblast, by operator — costs seconds at a
million incidents (every fact of the period is aggregated, percentiles sorted). The worker makes
each report once (`refresh_stale`); the facts trigger marks a summary stale, in the same
transaction, when an incident of its period changes. A summary is served while it is fresh, or
stale for at most `max_age_s` (so a busy current month is at most that old; the answer says
when it was computed); anything else — another span, a municipality, a restricted role — is
computed live.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis_app.kpi import report
from gis_app.kpi.periods import ZONE, Period, parse_period


class _Everyone:
    """The viewer a summary is made for: everything (admins, planners, the oblast's centre)."""

    role = "admin"
    operator_id = None
    municipality_ids = None


def standard(period: Period) -> bool:
    """Whether the period is a calendar year or month (the ones summaries are kept for)."""
    return len(period.label) in (4, 7) and ".." not in period.label


def may_use(q: report.Query, viewer: report.Viewer) -> bool:
    """Whether a summary answers this query for this viewer (same rows, same figures)."""
    whole = viewer.role in ("admin", "planner") or (
        viewer.role == "dispatcher" and viewer.municipality_ids is None
    )
    return whole and q.municipality_id is None and q.source == "facts" and standard(q.period)


def cached(session: Session, q: report.Query, now: datetime, max_age_s: int) -> dict | None:
    """The summary's report for this query if fresh; a stale one, or one of a period not over
    yet (its overdue counts move with the clock), only if at most max_age_s old."""
    row = session.execute(
        text(
            "SELECT body, computed_at, stale, period_end FROM kpi_summaries"
            " WHERE group_by = :g AND period = :p"
        ),
        {"g": q.group, "p": q.period.label},
    ).one_or_none()
    if row is None:
        return None
    moving = row.stale or row.period_end > now
    if moving and now - row.computed_at > timedelta(seconds=max_age_s):
        return None
    body = dict(row.body)
    body["summary"] = {"computed_at": row.computed_at.isoformat(), "stale": row.stale}
    return body


def make(session: Session, group: str, period: Period, now: datetime) -> None:
    """Compute one report and store it as the summary of (group, period)."""
    body = report.kpi_report(session, _Everyone(), report.Query(group, period), now)
    session.execute(
        text(
            """
            INSERT INTO kpi_summaries (group_by, period, period_start, period_end, computed_at,
                stale, body)
            VALUES (:g, :p, :s, :e, :now, false, CAST(:b AS jsonb))
            ON CONFLICT (group_by, period) DO UPDATE SET computed_at = :now, stale = false,
                body = EXCLUDED.body
            """
        ),
        {
            "g": group,
            "p": period.label,
            "s": period.start,
            "e": period.end,
            "now": now,
            "b": json.dumps(body, ensure_ascii=False, default=str),
        },
    )


def refresh_stale(
    session: Session, now: datetime | None = None, everything: bool = False, max_age_s: int = 60
) -> int:
    """Remake stale summaries, and those of the current year and month when missing or older
    than max_age_s (`everything`: make every year and month with incidents); how many were
    made. The caller commits."""
    now = now or session.execute(text("SELECT now()")).scalar_one()
    today = now.astimezone(ZONE).date()
    wanted = {str(today.year), f"{today.year}-{today.month:02d}"}
    if everything:
        wanted |= set(
            session.execute(
                text(
                    "SELECT DISTINCT to_char(received_at AT TIME ZONE 'Europe/Moscow', p)"
                    " FROM incident_kpi_facts, (VALUES ('YYYY'), ('YYYY-MM')) AS v(p)"
                )
            ).scalars()
        )
    old = now - timedelta(seconds=max_age_s)
    have = {
        (g, p): stale or (p in wanted and at < old)
        for g, p, stale, at in session.execute(
            text("SELECT group_by, period, stale, computed_at FROM kpi_summaries")
        ).all()
    }
    todo = {(g, p) for (g, p), due in have.items() if due}
    todo |= {(g, p) for g in report.GROUPS for p in wanted if (g, p) not in have}
    for group, label in sorted(todo):
        make(session, group, parse_period(label), now)
    return len(todo)
