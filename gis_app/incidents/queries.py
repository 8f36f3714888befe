"""Reading incidents: one by id, lists with filters, GeoJSON, their events.

Incidents are points, so the JSON is built here from lon/lat columns (no geometry decoding); the
filters are bound values, the bbox uses the incidents' GiST index.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis_app.geometry import COORD_DECIMALS, ENVELOPE, BBox
from gis_app.incidents.deadlines import OPEN_STATUSES, OVERDUE_SQL
from gis_app.incidents.figures import figures_source
from gis_app.operators.responsible import reason_of

_SELECT = f"""
SELECT i.id, i.kind, i.utility_code, i.category, i.description, i.status, i.priority,
       i.reporter_contact, i.address, i.public_summary, ST_X(i.geom) AS lon, ST_Y(i.geom) AS lat,
       i.municipality_id, m.slug AS municipality_slug, m.name_ru AS municipality_name,
       i.operator_id, o.short_name AS operator_name, i.feature_id, i.responsible_rule,
       i.responsible_reason, i.responsible_distance_m, i.responsible_candidates,
       i.responsible_layer, i.responsible_area_id, i.responsible_computed_at,
       i.duplicate_of, i.planned_outage_id, po.title AS planned_outage_title,
       (SELECT count(*) FROM incidents d WHERE d.duplicate_of = i.id) AS duplicates,
       i.consumers_cut_off, i.social_objects_cut_off, i.utilities_cut_off, i.supply_stopped_at,
       i.settlements_cut_off, i.cut_off_computed, i.caused_by_id,
       i.reported_at, i.assigned_at, i.accept_due_at, i.resolve_due_at, i.expected_at,
       i.resolved_at, i.closed_at, i.updated_at, i.version, i.source, i.created_by, i.is_demo,
       COALESCE(it.escalation_level, 0) AS escalation_level, it.escalated_at,
       it.triage_due_at,
       {OVERDUE_SQL} AS overdue,
       (i.status IN ('new', 'assigned') AND i.accept_due_at < now()) AS overdue_to_accept,
       (i.status IN {OPEN_STATUSES!r} AND i.resolve_due_at < now()) AS overdue_to_resolve
FROM incidents i
LEFT JOIN municipalities m ON m.id = i.municipality_id
LEFT JOIN operators o ON o.id = i.operator_id
LEFT JOIN planned_outages po ON po.id = i.planned_outage_id
LEFT JOIN incident_terms it ON it.incident_id = i.id
"""

_TIMES = (
    "supply_stopped_at",
    "reported_at",
    "assigned_at",
    "accept_due_at",
    "resolve_due_at",
    "expected_at",
    "resolved_at",
    "closed_at",
    "updated_at",
)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _reason_en(r) -> str | None:
    if r.responsible_rule in (None, "manual"):
        return None
    try:
        return reason_of(r.responsible_candidates)[1]
    except (TypeError, ValueError, KeyError):  # an older stored shape: the Russian line stays
        return None


def to_json(r) -> dict:
    """One incident row as the API's JSON object."""
    data = {
        "id": r.id,
        "kind": r.kind,
        "utility": r.utility_code,
        "category": r.category,
        "description": r.description,
        "status": r.status,
        "priority": r.priority,
        "reporter_contact": r.reporter_contact,
        "public_summary": r.public_summary,
        "address": r.address,
        "lon": round(r.lon, 6),
        "lat": round(r.lat, 6),
        "municipality": (
            {"id": r.municipality_id, "slug": r.municipality_slug, "name_ru": r.municipality_name}
            if r.municipality_id
            else None
        ),
        "operator": {"id": r.operator_id, "name": r.operator_name} if r.operator_id else None,
        "responsible": {
            "rule": r.responsible_rule,
            "reason": r.responsible_reason,
            # The same line in English for the English page (the winner's words, rebuilt).
            "reason_en": _reason_en(r),
            "distance_m": None
            if r.responsible_distance_m is None
            else round(r.responsible_distance_m, 1),
            "feature_id": r.feature_id,
            "layer": r.responsible_layer,
            "service_area_id": r.responsible_area_id,
            "computed_at": _iso(r.responsible_computed_at),
            "candidates": r.responsible_candidates,
        },
        "duplicate_of": r.duplicate_of,
        "duplicates": r.duplicates,
        "planned_outage": (
            {"id": r.planned_outage_id, "title": r.planned_outage_title}
            if r.planned_outage_id
            else None
        ),
        "consumers_cut_off": r.consumers_cut_off,
        "social_objects_cut_off": r.social_objects_cut_off,
        "utilities_cut_off": list(r.utilities_cut_off or []),
        "settlements_cut_off": r.settlements_cut_off,
        "caused_by": r.caused_by_id,
        "cut_off_computed": r.cut_off_computed or None,
        **{name: _iso(getattr(r, name)) for name in _TIMES},
        "overdue": bool(r.overdue),
        # How far up the ladder it has climbed: 1 operator reminded, 2 municipal centre,
        # 3 regional centre (0: not escalated).
        "escalation_level": r.escalation_level,
        "escalated_at": _iso(r.escalated_at),
        "triage_due_at": _iso(r.triage_due_at),
        "overdue_to_accept": bool(r.overdue_to_accept),
        "overdue_to_resolve": bool(r.overdue_to_resolve),
        "version": r.version,
        "source": r.source,
        "created_by": r.created_by,
        "is_demo": r.is_demo,
    }
    data["cut_off_figures"] = figures_source(data, r.cut_off_computed)
    return data


def get_incident(session: Session, incident_id: int) -> dict | None:
    """One incident as JSON, or None."""
    row = session.execute(text(_SELECT + " WHERE i.id = :id"), {"id": incident_id}).one_or_none()
    return to_json(row) if row else None


@dataclass
class IncidentFilter:
    """The filters of a list: each None means 'any'."""

    statuses: list[str] | None = None
    utilities: list[str] | None = None
    operator_id: int | None = None
    municipality_id: int | None = None
    # Several municipalities (a dispatcher's charge), each with everything inside it.
    municipality_ids: list[int] | None = None
    # A number (the incident's id) or words of its address or description.
    search: str | None = None
    # "id" (newest first) or "urgency" (overdue first, then the nearest deadline, priority, age).
    sort: str = "id"
    bbox: BBox | None = None
    reported_from: datetime | None = None
    reported_to: datetime | None = None
    overdue: bool | None = None
    duplicate_of: int | None = None
    ids: list[int] | None = None
    after_id: int | None = None
    limit: int = 100


# Urgency: overdue first, then the nearest deadline (accepting while assigned, resolving while
# open), then priority (1 is critical) and age; a resolved incident waits only to be closed.
_ORDER = {
    "id": "i.id DESC",
    "urgency": f"COALESCE({OVERDUE_SQL}, false) DESC,"
    " CASE WHEN i.status = 'assigned' THEN i.accept_due_at"
    " WHEN i.status = 'resolved' THEN NULL ELSE i.resolve_due_at END ASC NULLS LAST,"
    " i.priority, i.reported_at, i.id",
}
SORTS = tuple(_ORDER)


def list_incidents(session: Session, f: IncidentFilter) -> list[dict]:
    """Incidents matching the filter, newest (highest id) first, at most `limit`."""
    where, params = ["true"], {"limit": f.limit}
    if f.statuses:
        where.append("i.status = ANY(:statuses)")
        params["statuses"] = f.statuses
    if f.utilities:
        where.append("i.utility_code = ANY(:utilities)")
        params["utilities"] = f.utilities
    if f.operator_id is not None:
        where.append("i.operator_id = :operator_id")
        params["operator_id"] = f.operator_id
    if f.municipality_id is not None:
        # The municipality and everything inside it (an okrug's settlements too).
        where.append(
            "i.municipality_id IN (WITH RECURSIVE t AS (SELECT id FROM municipalities WHERE id = :muni"
            " UNION ALL SELECT c.id FROM municipalities c JOIN t ON c.parent_id = t.id)"
            " SELECT id FROM t)"
        )
        params["muni"] = f.municipality_id
    if f.municipality_ids is not None:
        where.append(
            "i.municipality_id IN (WITH RECURSIVE t AS (SELECT id FROM municipalities"
            " WHERE id = ANY(:munis) UNION SELECT c.id FROM municipalities c"
            " JOIN t ON c.parent_id = t.id) SELECT id FROM t)"
        )
        params["munis"] = f.municipality_ids
    if f.search:
        if f.search.lstrip("№#").isdigit():
            where.append("i.id = :search_id")
            params["search_id"] = int(f.search.lstrip("№#"))
        else:
            where.append("(i.address ILIKE :search OR i.description ILIKE :search)")
            params["search"] = "%" + f.search.replace("%", r"\%").replace("_", r"\_") + "%"
    if f.bbox is not None:
        where.append(f"i.geom && {ENVELOPE}")
        params.update(f.bbox.params())
    if f.reported_from is not None:
        where.append("i.reported_at >= :rfrom")
        params["rfrom"] = f.reported_from
    if f.reported_to is not None:
        where.append("i.reported_at < :rto")
        params["rto"] = f.reported_to
    if f.overdue is not None:
        where.append(OVERDUE_SQL if f.overdue else f"NOT {OVERDUE_SQL}")
    if f.duplicate_of is not None:
        where.append("i.duplicate_of = :dup")
        params["dup"] = f.duplicate_of
    if f.ids is not None:
        where.append("i.id = ANY(:ids)")
        params["ids"] = f.ids
    if f.after_id is not None:
        where.append("i.id < :after")
        params["after"] = f.after_id
    sql = _SELECT + f" WHERE {' AND '.join(where)} ORDER BY {_ORDER[f.sort]} LIMIT :limit"
    return [to_json(r) for r in session.execute(text(sql), params)]


def as_feature(incident: dict) -> dict:
    """An incident as an RFC 7946 Feature (a Point in lon/lat) with flat properties for the map."""
    skip = {"id", "lon", "lat", "operator", "municipality", "responsible"}
    props = {k: v for k, v in incident.items() if k not in skip}
    operator, muni, resp = (
        incident["operator"] or {},
        incident["municipality"] or {},
        incident["responsible"],
    )
    props.update(
        operator_id=operator.get("id"),
        operator=operator.get("name"),
        municipality=muni.get("name_ru"),
        municipality_slug=muni.get("slug"),
        responsible_rule=resp["rule"],
        responsible_reason=resp["reason"],
        responsible_distance_m=resp["distance_m"],
        feature_id=resp["feature_id"],
    )
    return {
        "type": "Feature",
        "id": incident["id"],
        "geometry": {"type": "Point", "coordinates": [incident["lon"], incident["lat"]]},
        "properties": props,
    }


def events(session: Session, incident_id: int) -> list[dict]:
    """The history of an incident, oldest first."""
    rows = session.execute(
        text(
            "SELECT id, at, actor, action, from_status, to_status, comment, data"
            " FROM incident_events WHERE incident_id = :id ORDER BY at, id"
        ),
        {"id": incident_id},
    ).mappings()
    return [{**dict(r), "at": _iso(r["at"])} for r in rows]


def map_points_stamp(session: Session, statuses: list[str]) -> str:
    """A cheap fingerprint of the incidents the map shows: count, last change, overdue count.

    Overdue flips with the clock, not with a write, so its count is part of the fingerprint.
    """
    row = session.execute(
        text(
            f"SELECT count(*), max(i.updated_at), count(*) FILTER (WHERE {OVERDUE_SQL}), max(i.id)"
            " FROM incidents i WHERE i.status = ANY(:statuses)"
        ),
        {"statuses": statuses},
    ).one()
    return f"{row[0]}-{row[1].timestamp() if row[1] else 0}-{row[2]}-{row[3] or 0}"


def map_points_geojson(session: Session, statuses: list[str]) -> str:
    """The incidents the map draws, as FeatureCollection text built by PostGIS: a point, the
    status, kind, utility, priority and whether overdue (the card loads the rest on a click)."""
    # text(): one statement builds the collection; OVERDUE_SQL is a constant of deadlines.py.
    return session.execute(
        text(
            f"""
            SELECT json_build_object('type', 'FeatureCollection', 'features',
                coalesce(json_agg(json_build_object(
                    'type', 'Feature', 'id', i.id,
                    'geometry', ST_AsGeoJSON(i.geom, {COORD_DECIMALS})::json,
                    'properties', json_build_object(
                        'status', i.status, 'kind', i.kind, 'utility', i.utility_code,
                        'priority', i.priority, 'overdue', {OVERDUE_SQL})
                ) ORDER BY i.id), '[]'::json))::text
            FROM incidents i WHERE i.status = ANY(:statuses)
            """
        ),
        {"statuses": statuses},
    ).scalar_one()
