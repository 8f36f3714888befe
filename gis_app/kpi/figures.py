"""The figures: their SQL over one incident's facts, and how each is aggregated per group.

Facts come from `incident_kpi_facts` (kept by a trigger on incident_events) or, for checking and
for the benchmark's floor, from the view `kpi_facts_from_events` that derives them afresh. Every
count figure has a predicate, so the incidents behind it can be listed (see `report.incidents`).
"""

from __future__ import annotations

from gis_app.incidents.deadlines import OPEN_STATUSES

SOURCES = {"facts": "incident_kpi_facts", "events": "kpi_facts_from_events"}

# Per-incident values that depend on the moment of the report (:now); accept_s, resolve_s and
# waiting_s (planned outages pause the resolve clock) are kept in the facts already.
DERIVED = f"""
    x.*,
    x.status IN {OPEN_STATUSES!r} AS is_open,
    GREATEST(0, extract(epoch FROM COALESCE(x.resolved_at, x.closed_at, :now) - x.clock_start))
        / 3600.0 AS interruption_h
"""
OVERDUE = (
    "(d.is_open AND ((d.status IN ('new', 'assigned') AND d.accept_due_at < :now)"
    " OR d.resolve_due_at < :now))"
)

# Count figures: name → predicate on `d` (plus `resolve_s`). Originals only, but for duplicates.
COUNTS: dict[str, str] = {
    "received": "NOT d.is_duplicate",
    "accepted": "NOT d.is_duplicate AND d.accept_s IS NOT NULL",
    "accepted_within_limit": "NOT d.is_duplicate AND d.accept_s <= d.accept_limit_min * 60",
    "accept_decided": (
        "NOT d.is_duplicate AND (d.accept_s IS NOT NULL"
        " OR (d.status IN ('new', 'assigned') AND d.accept_due_at < :now))"
    ),
    "resolved": "NOT d.is_duplicate AND d.resolve_s IS NOT NULL",
    "resolved_within_limit": "NOT d.is_duplicate AND d.resolve_s <= d.resolve_limit_min * 60",
    "resolve_decided": (
        "NOT d.is_duplicate AND (d.resolve_s IS NOT NULL"
        " OR (d.is_open AND d.resolve_due_at < :now))"
    ),
    "overdue_now": f"NOT d.is_duplicate AND {OVERDUE}",
    "reopened": "NOT d.is_duplicate AND d.reopens > 0",
    "duplicates_merged": "d.is_duplicate",
    "cut_off": "NOT d.is_duplicate AND (d.consumers > 0 OR d.social_objects > 0)",
    "rated": "NOT d.is_duplicate AND d.rating IS NOT NULL",
}
# Times in minutes: name → (expression, the count figure whose incidents it is computed over).
TIMES: dict[str, tuple[str, str]] = {
    "accept_median_min": (
        "percentile_cont(0.5) WITHIN GROUP (ORDER BY d.accept_s / 60)",
        "accepted",
    ),
    "accept_p90_min": ("percentile_cont(0.9) WITHIN GROUP (ORDER BY d.accept_s / 60)", "accepted"),
    "resolve_median_min": (
        "percentile_cont(0.5) WITHIN GROUP (ORDER BY d.resolve_s / 60)",
        "resolved",
    ),
    "resolve_p90_min": (
        "percentile_cont(0.9) WITHIN GROUP (ORDER BY d.resolve_s / 60)",
        "resolved",
    ),
}
# Averages: name → (expression, the count figure whose incidents it is computed over).
AVERAGES: dict[str, tuple[str, str]] = {"rating_avg": ("avg(d.rating)", "rated")}
SUMS: dict[str, tuple[str, str]] = {
    "consumers_cut_off": ("sum(d.consumers)", "cut_off"),
    "social_objects_cut_off": ("sum(d.social_objects)", "cut_off"),
    "consumer_hours": ("sum(d.consumers * d.interruption_h)", "cut_off"),
}
# Every figure of a row, in CSV column order, and the count figure that lists its incidents.
FIGURES: dict[str, str] = {
    **{name: name for name in COUNTS},
    **{name: base for name, (_, base) in TIMES.items()},
    **{name: base for name, (_, base) in SUMS.items()},
    **{name: base for name, (_, base) in AVERAGES.items()},
    "share_accepted_within_limit": "accepted_within_limit",
    "share_resolved_within_limit": "resolved_within_limit",
}


def aggregates() -> str:
    """The SELECT list of every figure over the rows `d` of one group."""
    parts = [f"count(*) FILTER (WHERE {pred}) AS {name}" for name, pred in COUNTS.items()]
    parts += [
        f"{expr} FILTER (WHERE NOT d.is_duplicate) AS {name}" for name, (expr, _) in TIMES.items()
    ]
    parts += [
        f"{expr} FILTER (WHERE NOT d.is_duplicate) AS {name}"
        for name, (expr, _) in AVERAGES.items()
    ]
    parts += [
        f"COALESCE({expr} FILTER (WHERE NOT d.is_duplicate), 0) AS {name}"
        for name, (expr, _) in SUMS.items()
    ]
    return ",\n       ".join(parts)
