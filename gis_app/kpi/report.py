"""KPI reports: figures per operator, utility, municipality or week, and the incidents behind each.

One SQL statement per report: the facts of the period and scope, grouped (GROUPING SETS adds the
total row). Municipalities roll up through `parent_id`: grouped by municipality, each row is a
child of the scope (the oblast by default) with every incident of its subtree.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Protocol

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis_app.errors import Forbidden, InvalidParameter
from gis_app.kpi import figures as fg
from gis_app.kpi.periods import Period

GROUPS = ("operator", "utility", "municipality", "week")
MAX_INCIDENTS = 5000
Link = Callable[[str, str], str]


class Viewer(Protocol):
    """Who asks (an accounts Identity): the role, operator staff's operator, a dispatcher's
    municipalities (None: all)."""

    role: str
    operator_id: int | None
    municipality_ids: tuple[int, ...] | None


@dataclass(frozen=True)
class Query:
    """What to report: grouping, period, the municipality whose subtree is in scope, the source."""

    group: str
    period: Period
    municipality_id: int | None = None
    source: str = "facts"


def _check(q: Query, viewer: Viewer) -> None:
    if q.group not in GROUPS:
        raise InvalidParameter(
            f"group {q.group!r} is not one of {', '.join(GROUPS)}",
            code="invalid_group",
            parameter="group",
            allowed=list(GROUPS),
        )
    if q.source not in fg.SOURCES:
        raise InvalidParameter(
            f"source {q.source!r} is not one of {', '.join(fg.SOURCES)}",
            parameter="source",
            allowed=list(fg.SOURCES),
        )
    if q.source == "events" and viewer.role != "admin":
        # Deriving every fact afresh takes a minute at a million incidents: a check for admins.
        raise Forbidden("source=events is for admins (it derives every figure afresh).")


def default_scope(session: Session) -> int | None:
    """The root municipality (the oblast) when there is exactly one; else None (all roots)."""
    roots = (
        session.execute(text("SELECT id FROM municipalities WHERE parent_id IS NULL LIMIT 2"))
        .scalars()
        .all()
    )
    return roots[0] if len(roots) == 1 else None


def _base(session: Session, q: Query, viewer: Viewer, now: datetime) -> tuple[str, dict]:
    """The CTEs x → d (the facts of the period and scope, then values that depend on now)."""
    params: dict = {"start": q.period.start, "end": q.period.end, "now": now}
    scope = q.municipality_id
    if scope is None and q.group == "municipality":
        scope = default_scope(session)
    params["scope"] = scope
    where = ["s.received_at >= :start", "s.received_at < :end"]
    # The scope's descendants, each with the child of the scope it lies under (`top`).
    tree = (
        "tree(id, top) AS (SELECT id, id FROM municipalities WHERE parent_id"
        + (" = :scope" if scope is not None else " IS NULL")
        + " UNION ALL SELECT m.id, t.top FROM municipalities m JOIN tree t ON m.parent_id = t.id)"
    )
    join = ""
    if q.group == "municipality" or q.municipality_id is not None:
        join = "LEFT JOIN tree t ON t.id = s.municipality_id"
        inside = "t.id IS NOT NULL" + (" OR s.municipality_id = :scope" if scope else "")
        where.append(f"({inside})")
    if viewer.role == "operator":
        where.append("s.operator_id = :own")
        params["own"] = viewer.operator_id
    elif viewer.role == "dispatcher" and viewer.municipality_ids is not None:
        where.append("s.municipality_id = ANY(:allowed)")
        params["allowed"] = list(viewer.municipality_ids)
    # Keys sort as integers, bytes or dates (no collation): the grouping sorts every fact.
    key = {
        "operator": "COALESCE(s.operator_id, 0)",
        "utility": 's.utility_code COLLATE "C"',
        "municipality": "COALESCE(t.top, s.municipality_id)",
        "week": "date_trunc('week', s.received_at AT TIME ZONE 'Europe/Moscow')::date",
    }[q.group]
    # The source is one of two fixed names (figures.SOURCES), never request text.
    sql = f"""
    WITH RECURSIVE {tree},
    x AS (SELECT s.*, {key} AS g FROM {fg.SOURCES[q.source]} s {join}
          WHERE {" AND ".join(where)}),
    d AS (SELECT {fg.DERIVED} FROM x)
    """
    return sql, params


def _key_text(value: object) -> str:
    """A group key as the API shows it: operator 0 (none) is "none", a week its Monday."""
    if value == 0:
        return "none"
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _key_param(group: str, key: str) -> object:
    """A key from the API back to the SQL key's type; 400 when it cannot be one."""
    if group in ("operator", "municipality"):
        if key == "none":
            return 0
        if not key.isdigit():
            raise InvalidParameter(f"key {key!r} is not an id", parameter="key", value=key)
        return int(key)
    if group == "week":
        try:
            return date.fromisoformat(key)
        except ValueError:
            raise InvalidParameter(f"key {key!r} is not a date", parameter="key") from None
    return key


def _number(value: object) -> object:
    if isinstance(value, (Decimal, float)):
        return round(float(value), 1)
    return value


def _names(session: Session, group: str, keys: list[str]) -> dict[str, str]:
    if group == "week":
        return {k: k for k in keys}
    sql = {
        "operator": "SELECT id::text, short_name FROM operators WHERE id::text = ANY(:k)",
        "utility": "SELECT code, name_ru FROM utilities WHERE code = ANY(:k)",
        "municipality": "SELECT id::text, name_ru FROM municipalities WHERE id::text = ANY(:k)",
    }[group]
    names = dict(session.execute(text(sql), {"k": keys}).all())
    names.setdefault("none", "без организации")
    return names


def _add_density(session: Session, rows: list[dict]) -> None:
    """Each municipality's area (km², on the ellipsoid) and incidents received per 100 km²."""
    areas = dict(
        session.execute(
            text(
                "SELECT id::text, ST_Area(geom::geography) / 1e6 FROM municipalities"
                " WHERE id::text = ANY(:k)"
            ),
            {"k": [r["key"] for r in rows]},
        ).all()
    )
    for r in rows:
        area = areas.get(r["key"])
        r["area_km2"] = round(area, 1) if area else None
        r["received_per_100km2"] = round(r["received"] / area * 100, 3) if area else None


def _row(r: dict, link: Link | None, key: str) -> dict:
    row = {name: _number(r[name]) for name in fg.COUNTS}
    row.update({name: _number(r[name]) for name in fg.TIMES})
    row.update({name: _number(r[name]) for name in fg.SUMS})
    row.update({name: _number(r[name]) for name in fg.AVERAGES})
    for share, within, decided in (
        ("share_accepted_within_limit", "accepted_within_limit", "accept_decided"),
        ("share_resolved_within_limit", "resolved_within_limit", "resolve_decided"),
    ):
        row[share] = round(r[within] / r[decided], 3) if r[decided] else None
    if link:
        row["links"] = links(key, link)
    return row


def links(key: str, link: Link) -> dict[str, str]:
    """The URL of the incidents behind each count figure of the row `key` (a time, sum or share
    is computed over the incidents of the count named in the report's `figures`)."""
    return {figure: link(key, figure) for figure in fg.COUNTS}


def add_links(body: dict, link: Link) -> dict:
    """Put each row's (and the total's) links into a report made without them."""
    for row in body["rows"]:
        row["links"] = links(row["key"], link)
    body["total"]["links"] = links("total", link)
    return body


def kpi_report(
    session: Session, viewer: Viewer, q: Query, now: datetime, link: Link | None = None
) -> dict:
    """Every figure per group and in total for the period; `link(key, figure)` makes the URL of
    the incidents behind a figure (key "total" for the total row)."""
    _check(q, viewer)
    base, params = _base(session, q, viewer, now)
    sql = f"""{base}
    SELECT d.g, GROUPING(d.g) AS is_total, {fg.aggregates()}
    FROM d GROUP BY GROUPING SETS ((d.g), ())
    """
    rows = [dict(r) for r in session.execute(text(sql), params).mappings()]
    for r in rows:
        r["g"] = _key_text(r["g"])
    groups = [r for r in rows if not r["is_total"]]
    total = next((r for r in rows if r["is_total"]), None)
    names = _names(session, q.group, [r["g"] for r in groups])
    out = []
    for r in groups:
        out.append({"key": r["g"], "name": names.get(r["g"], r["g"]), **_row(r, link, r["g"])})
    if q.group == "municipality" and out:
        _add_density(session, out)
    if q.group == "week":
        out.sort(key=lambda r: r["key"])
    else:
        out.sort(key=lambda r: (-r["received"], str(r["name"])))
    empty = {name: 0 for name in fg.COUNTS}
    empty.update({n: None for n in [*fg.TIMES, *fg.AVERAGES]} | {n: 0 for n in fg.SUMS})
    return {
        "group": q.group,
        # Each figure → the count figure whose incidents it is computed over (its link).
        "figures": dict(fg.FIGURES),
        "period": {
            "value": q.period.label,
            "from": q.period.start.isoformat(),
            "to": q.period.end.isoformat(),
        },
        "municipality_id": q.municipality_id,
        "generated_at": now.isoformat(),
        "rows": out,
        "total": _row(total or empty, link, "total"),
    }


def kpi_incidents(
    session: Session,
    viewer: Viewer,
    q: Query,
    key: str,
    figure: str,
    now: datetime,
    limit: int = MAX_INCIDENTS,
) -> dict:
    """The incidents behind one figure of one row (key "total": of the total), with the times
    that made it."""
    _check(q, viewer)
    if figure not in fg.FIGURES:
        raise InvalidParameter(
            f"figure {figure!r} is not a KPI figure",
            code="invalid_figure",
            parameter="figure",
            allowed=list(fg.FIGURES),
        )
    base, params = _base(session, q, viewer, now)
    predicate = fg.COUNTS[fg.FIGURES[figure]]
    where = predicate if key == "total" else f"d.g = :key AND {predicate}"
    params.update(key=None if key == "total" else _key_param(q.group, key), limit=limit)
    sql = f"""{base}
    SELECT d.incident_id AS id, d.status, d.received_at, d.operator_id, d.municipality_id,
           d.utility_code AS utility, round((d.accept_s / 60)::numeric, 1) AS accept_min,
           round((d.resolve_s / 60)::numeric, 1) AS resolve_min,
           round((d.waiting_s / 60)::numeric, 1) AS waiting_on_outage_min,
           d.accept_limit_min, d.resolve_limit_min, d.reopens, d.is_duplicate,
           d.consumers, d.social_objects, round(d.interruption_h::numeric, 2) AS interruption_h,
           d.rating,
           count(*) OVER () AS matched
    FROM d WHERE {where} ORDER BY d.incident_id LIMIT :limit
    """
    rows = [dict(r) for r in session.execute(text(sql), params).mappings()]
    matched = rows[0]["matched"] if rows else 0
    items = []
    for r in rows:
        r.pop("matched")
        r["received_at"] = r["received_at"].isoformat()
        items.append({k: _number(v) for k, v in r.items()})
    return {
        "group": q.group,
        "key": key,
        "figure": figure,
        "period": q.period.label,
        "numberMatched": matched,
        "numberReturned": len(items),
        "incidents": items,
    }


def to_csv(report: dict) -> str:
    """The report as CSV: one line per row and a total line; the last column links the incidents
    behind the row (its `received` figure)."""
    buf = io.StringIO()
    names = list(fg.FIGURES)
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([report["group"], "name", *names, "incidents_url"])
    for r in [*report["rows"], {"key": "total", "name": "итого", **report["total"]}]:
        url = (r.get("links") or {}).get("received", "")
        writer.writerow([r["key"], r["name"], *("" if r[n] is None else r[n] for n in names), url])
    return buf.getvalue()


def municipality_param(session: Session, raw: str | None) -> int | None:
    """The id of the municipality named by slug or id; 400 when none is."""
    if not raw:
        return None
    found = session.execute(
        text("SELECT id FROM municipalities WHERE slug = :raw OR CAST(id AS text) = :raw"),
        {"raw": raw},
    ).scalar_one_or_none()
    if found is None:
        raise InvalidParameter(
            f"unknown municipality {raw!r}", code="unknown_municipality", parameter="municipality"
        )
    return found
