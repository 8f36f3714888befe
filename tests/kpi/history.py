"""A hand-made incident history with known KPI answers (March 2021, Moscow time), and an
independent computation of the figures from the events in plain Python.

Operator A (the demo Gatchina water company) and B (the demo gas company); limits: accept 60 min,
resolve 240 min. Times are given in Moscow time (UTC+3) and stored aware.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import text

MSK = ZoneInfo("Europe/Moscow")
NOW = datetime(2021, 4, 15, 3, 0, tzinfo=MSK)  # the moment the reports are made
OPEN = ("new", "assigned", "accepted", "in_progress", "rejected")


def msk(day: str, hm: str) -> datetime:
    """A Moscow time: msk("2021-03-01", "10:00")."""
    return datetime.fromisoformat(f"{day}T{hm}").replace(tzinfo=MSK)


def m(minutes: float) -> timedelta:
    return timedelta(minutes=minutes)


@dataclass
class Case:
    """One incident of the history: where, whose, its events (time, action, from, to)."""

    name: str
    operator: str
    municipality: str
    utility: str
    events: list[tuple[datetime, str, str | None, str | None]]
    consumers: int = 0
    social: int = 0
    outage: tuple[datetime, datetime] | None = None
    duplicate_of: str | None = None
    id: int = 0
    extra: dict = field(default_factory=dict)


def cases() -> list[Case]:
    """The history. Comments give the answers the tests expect."""
    d1, d2 = msk("2021-03-01", "10:00"), msk("2021-03-02", "10:00")
    d3 = msk("2021-03-31", "23:30")  # resolved in April: counted in March (received then)
    d4 = msk("2021-03-10", "08:00")
    d6 = msk("2021-03-15", "10:00")
    d7 = msk("2021-03-01", "02:00")  # 2021-02-28 23:00 UTC: March in Moscow, February in UTC
    d8 = msk("2021-04-02", "12:00")
    d9 = msk("2021-03-05", "12:00")
    return [
        # accept 30, resolve 180: both within; 100 consumers and 2 social objects for 3 h.
        Case(
            "I1",
            "A",
            "gatchina",
            "water",
            [
                (d1, "created", None, "new"),
                (d1, "assign", "new", "assigned"),
                (d1 + m(30), "accept", "assigned", "accepted"),
                (d1 + m(180), "resolve", "accepted", "resolved"),
                (d1 + m(300), "close", "resolved", "closed"),
            ],
            consumers=100,
            social=2,
        ),
        # accept 90, resolve 360: both late.
        Case(
            "I2",
            "A",
            "gatchina",
            "water",
            [
                (d2, "created", None, "new"),
                (d2 + m(0), "assign", "new", "assigned"),
                (d2 + m(90), "accept", "assigned", "accepted"),
                (d2 + m(100), "start", "accepted", "in_progress"),
                (d2 + m(360), "resolve", "in_progress", "resolved"),
            ],
        ),
        # crosses into April: accept 40, resolve 180, both within.
        Case(
            "I3",
            "A",
            "kirishi",
            "water",
            [
                (d3, "created", None, "new"),
                (d3, "assign", "new", "assigned"),
                (d3 + m(40), "accept", "assigned", "accepted"),
                (d3 + m(180), "resolve", "accepted", "resolved"),
            ],
        ),
        # reopened: first fix after 100 min, reopened, final fix two days after the report.
        Case(
            "I4",
            "B",
            "kirishi",
            "gas",
            [
                (d4, "created", None, "new"),
                (d4, "assign", "new", "assigned"),
                (d4 + m(10), "accept", "assigned", "accepted"),
                (d4 + m(100), "resolve", "accepted", "resolved"),
                (d4 + m(1440), "reopen", "resolved", "assigned"),
                (d4 + m(1470), "accept", "assigned", "accepted"),
                (d4 + m(2880), "resolve", "accepted", "resolved"),
            ],
        ),
        # a repeat report of I4, merged: counted as a duplicate only.
        Case(
            "I5",
            "B",
            "gatchina",
            "gas",
            [
                (d4 + m(20), "created", None, "new"),
                (d4 + m(20), "duplicate", "new", "duplicate"),
            ],
            duplicate_of="I4",
        ),
        # inside a planned outage 09:00–15:00: resolved at 16:00 = 360 min, 300 of them waiting
        # on the outage, so 60 min count: within.
        Case(
            "I6",
            "B",
            "sosnovy-bor",
            "gas",
            [
                (d6, "created", None, "new"),
                (d6, "assign", "new", "assigned"),
                (d6 + m(20), "accept", "assigned", "accepted"),
                (d6 + m(360), "resolve", "accepted", "resolved"),
            ],
            outage=(msk("2021-03-15", "09:00"), msk("2021-03-15", "15:00")),
        ),
        # never accepted: overdue now; 10 consumers cut off until NOW.
        Case(
            "I7",
            "A",
            "gatchina",
            "water",
            [
                (d7, "created", None, "new"),
                (d7, "assign", "new", "assigned"),
            ],
            consumers=10,
        ),
        # April: outside March, inside 2021.
        Case(
            "I8",
            "A",
            "gatchina",
            "water",
            [
                (d8, "created", None, "new"),
                (d8, "assign", "new", "assigned"),
                (d8 + m(5), "accept", "assigned", "accepted"),
            ],
        ),
        # closed from new (a false alarm): received, never resolved, not open.
        Case(
            "I9",
            "B",
            "kirishi",
            "gas",
            [
                (d9, "created", None, "new"),
                (d9 + m(15), "close", "new", "closed"),
            ],
        ),
    ]


def insert(session, operators: dict[str, int]) -> dict[str, Case]:
    """Write the history (incidents, terms, events, outages); the trigger makes the facts."""
    made: dict[str, Case] = {}
    for c in cases():
        muni = session.execute(
            text("SELECT id FROM municipalities WHERE slug = :s"), {"s": c.municipality}
        ).scalar_one()
        received = c.events[0][0]
        outage_id = None
        if c.outage:
            outage_id = session.execute(
                text(
                    "INSERT INTO planned_outages (operator_id, utility_code, title, starts_at,"
                    " ends_at, created_by, geom) VALUES (:o, :u, 'works', :s, :e, 'test',"
                    " ST_Multi(ST_Buffer(ST_SetSRID(ST_MakePoint(31, 59), 4326), 0.01)))"
                    " RETURNING id"
                ),
                {"o": operators[c.operator], "u": c.utility, "s": c.outage[0], "e": c.outage[1]},
            ).scalar_one()
        resolve_due = c.outage[1] if c.outage else received + m(240)
        c.id = session.execute(
            text(
                "INSERT INTO incidents (kind, utility_code, status, priority, municipality_id,"
                " operator_id, reported_at, assigned_at, accept_due_at, resolve_due_at,"
                " consumers_cut_off, social_objects_cut_off, planned_outage_id, duplicate_of,"
                " geom) VALUES ('accident', :u, :st, 3, :mu, :o, :r, :r, :ad, :rd, :c,"
                " CAST(:so AS jsonb), :po, :dup, ST_SetSRID(ST_MakePoint(31, 59), 4326))"
                " RETURNING id"
            ),
            {
                "u": c.utility,
                "st": c.events[-1][3],
                "mu": muni,
                "o": operators[c.operator],
                "r": received,
                "ad": received + m(60),
                "rd": resolve_due,
                "c": c.consumers or None,
                "so": json.dumps([{"name": f"school {n}"} for n in range(c.social)]),
                "po": outage_id,
                "dup": made[c.duplicate_of].id if c.duplicate_of else None,
            },
        ).scalar_one()
        session.execute(
            text(
                "INSERT INTO incident_terms (incident_id, accept_minutes, resolve_minutes)"
                " VALUES (:i, 60, 240)"
            ),
            {"i": c.id},
        )
        for at, action, frm, to in c.events:
            session.execute(
                text(
                    "INSERT INTO incident_events (incident_id, at, actor, action, from_status,"
                    " to_status) VALUES (:i, :at, 'test', :a, :f, :t)"
                ),
                {"i": c.id, "at": at, "a": action, "f": frm, "t": to},
            )
        c.extra = {"received": received, "resolve_due": resolve_due, "muni": muni}
        made[c.name] = c
    session.flush()
    return made


def _percentile(values: list[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (PostgreSQL's percentile_cont)."""
    if not values:
        return None
    s = sorted(values)
    pos = q * (len(s) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def python_figures(
    made: dict[str, Case], start: datetime, end: datetime, now: datetime = NOW
) -> dict[str, dict]:
    """The figures per operator letter, computed from the events in Python (the docs' rules)."""
    out: dict[str, dict] = {}
    for c in made.values():
        ev = sorted(enumerate(c.events), key=lambda p: (p[1][0], p[0]))
        ev = [e for _, e in ev]
        received = min(at for at, a, _, _ in ev if a == "created")
        if not start <= received < end:
            continue
        f = out.setdefault(c.operator, {"accept": [], "resolve": [], "counts": {}})
        n = f["counts"]

        def add(name: str, by: float = 1, n: dict = n) -> None:
            n[name] = n.get(name, 0) + by

        if any(a == "duplicate" for _, a, _, _ in ev):
            add("duplicates_merged")
            continue
        status = [to for _, _, _, to in ev if to][-1]
        accepts = [at for at, a, _, _ in ev if a == "accept"]
        accepted = accepts[0] if accepts else None
        assigns = [
            at
            for at, a, _, _ in ev
            if a in ("assign", "reassign", "reopen") and (accepted is None or at <= accepted)
        ]
        resolves = [at for at, a, _, _ in ev if a == "resolve"]
        reopens = [at for at, a, _, _ in ev if a == "reopen"]
        resolved = (
            resolves[-1] if resolves and (not reopens or resolves[-1] > reopens[-1]) else None
        )
        closes = [at for at, a, _, _ in ev if a == "close"]
        accept_due = received + m(60)
        resolve_due = c.extra["resolve_due"]
        add("received")
        if accepted and assigns:
            minutes = (accepted - assigns[-1]).total_seconds() / 60
            f["accept"].append(minutes)
            add("accepted")
            add("accepted_within_limit", minutes <= 60)
        if accepted or (status in ("new", "assigned") and accept_due < now):
            add("accept_decided")
        is_open = status in OPEN
        if resolved:
            waiting = 0.0
            if c.outage:
                lo, hi = max(received, c.outage[0]), min(resolved, c.outage[1])
                waiting = max(0.0, (hi - lo).total_seconds())
            minutes = max(0.0, (resolved - received).total_seconds() - waiting) / 60
            f["resolve"].append(minutes)
            add("resolved")
            add("resolved_within_limit", minutes <= 240)
        if resolved or (is_open and resolve_due < now):
            add("resolve_decided")
        overdue = is_open and (
            (status in ("new", "assigned") and accept_due < now) or resolve_due < now
        )
        add("overdue_now", overdue)
        add("reopened", bool(reopens))
        add("cut_off", c.consumers > 0 or c.social > 0)
        add("consumers_cut_off", c.consumers)
        add("social_objects_cut_off", c.social)
        end_at = resolved or (closes[-1] if closes else now)
        add("consumer_hours", c.consumers * max(0.0, (end_at - received).total_seconds()) / 3600)
    result = {}
    for op, f in out.items():
        row = dict(f["counts"])
        row["accept_median_min"] = _percentile(f["accept"], 0.5)
        row["accept_p90_min"] = _percentile(f["accept"], 0.9)
        row["resolve_median_min"] = _percentile(f["resolve"], 0.5)
        row["resolve_p90_min"] = _percentile(f["resolve"], 0.9)
        result[op] = row
    return result


def median(values: list[float]) -> float:
    return statistics.median(values)
