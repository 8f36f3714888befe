"""Planned outages: an operator announces planned work; a report inside one is linked to it.

The area is given, or made from the features the work touches, each buffered by its layer's
search distance (the same distance that ties a report to a feature).
"""

from __future__ import annotations

import shapely
from shapely.geometry import shape
from sqlalchemy import text
from sqlalchemy.orm import Session

from gis_app.accounts.identity import Identity
from gis_app.errors import Forbidden, InvalidParameter
from gis_app.incidents import validate as v
from gis_app.layers import LayerRegistry

FIELDS = {
    "operator_id",
    "utility",
    "title",
    "description",
    "starts_at",
    "ends_at",
    "area",
    "feature_ids",
}

_OUTAGE_JSON = """
    json_build_object('id', po.id, 'operator_id', po.operator_id, 'operator', o.short_name,
        'utility', po.utility_code, 'title', po.title, 'description', po.description,
        'starts_at', po.starts_at, 'ends_at', po.ends_at, 'feature_ids', po.feature_ids,
        'created_by', po.created_by, 'created_at', po.created_at, 'cancelled_at', po.cancelled_at,
        'area', ST_AsGeoJSON(po.geom, 6)::json)
"""


def _area_wkb(value: object) -> str:
    """A GeoJSON Polygon or MultiPolygon in lon/lat → hex WKB; 400 when it is anything else."""
    try:
        geom = shape(value)  # type: ignore[arg-type]
    except Exception:  # shapely raises several types for malformed GeoJSON
        raise v.bad("area", "must be a GeoJSON Polygon or MultiPolygon") from None
    if geom.geom_type not in ("Polygon", "MultiPolygon") or geom.is_empty or not geom.is_valid:
        raise v.bad("area", "must be a valid, non-empty GeoJSON Polygon or MultiPolygon")
    minx, miny, maxx, maxy = geom.bounds
    if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        raise v.bad("area", "coordinates must be lon/lat in EPSG:4326")
    return shapely.to_wkb(geom, hex=True, output_dimension=2)


def announce(session: Session, registry: LayerRegistry, actor: Identity, body: object) -> dict:
    """Record a planned outage of the actor's operator (admins name the operator); its JSON."""
    body = v.require_object(body)
    v.reject_unknown(body, FIELDS)
    if actor.role == "operator":
        operator_id = actor.operator_id
        if body.get("operator_id") not in (None, operator_id):
            raise Forbidden(
                "Operator staff announce outages of their own operator only.",
                code="not_your_operator",
            )
    elif actor.role == "admin":
        operator_id = v.integer(body.get("operator_id"), "operator_id", 1, 2**31)
    else:
        raise Forbidden(
            "Planned outages are announced by the operator's staff (or an admin).",
            required_roles=["operator", "admin"],
            role=actor.role,
        )
    utility = v.utility(session, body.get("utility"))
    title = v.text_field(body.get("title"), "title", v.MAX_SHORT_TEXT, required=True)
    description = v.text_field(body.get("description"), "description", v.MAX_DESCRIPTION) or ""
    starts = v.timestamp(body.get("starts_at"), "starts_at")
    ends = v.timestamp(body.get("ends_at"), "ends_at")
    if starts is None or ends is None:
        raise v.bad("starts_at" if starts is None else "ends_at", "is required", "missing_field")
    if ends <= starts:
        raise v.bad("ends_at", "must be after starts_at")
    feature_ids = body.get("feature_ids") or []
    if not isinstance(feature_ids, list) or not all(
        isinstance(f, int) and not isinstance(f, bool) for f in feature_ids
    ):
        raise v.bad("feature_ids", "must be a list of feature ids")
    if body.get("area") is None and not feature_ids:
        raise InvalidParameter(
            "Give the area, or the feature_ids the work touches.",
            code="missing_field",
            field="area",
        )
    params = {
        "operator_id": operator_id,
        "utility": utility,
        "title": title,
        "description": description,
        "starts": starts,
        "ends": ends,
        "fids": sorted(set(feature_ids)),
        "by": actor.username,
    }
    if feature_ids:
        found = (
            session.execute(
                text(
                    "SELECT id FROM network_features WHERE id = ANY(:fids) AND operator_id = :op"
                    " AND utility_code = :utility"
                ),
                {"fids": params["fids"], "op": operator_id, "utility": utility},
            )
            .scalars()
            .all()
        )
        missing = sorted(set(params["fids"]) - set(found))
        if missing:
            raise v.bad("feature_ids", "not features of this operator and utility", missing=missing)
    if body.get("area") is not None:
        params["wkb"] = _area_wkb(body["area"])
        geom_sql = "ST_Multi(ST_SetSRID(CAST(:wkb AS geometry), 4326))"
    else:
        layers = registry.for_utility(utility)
        params.update(
            layers=[lay.id for lay in layers], dists=[lay.search_distance_m for lay in layers]
        )
        # Buffer in metres through geography, then back to geometry for the GiST index.
        geom_sql = """(SELECT ST_Multi(ST_Union(ST_Buffer(f.geom::geography, l.d)::geometry))
            FROM network_features f
            JOIN unnest(CAST(:layers AS text[]), CAST(:dists AS float8[])) AS l(layer_id, d)
              ON l.layer_id = f.layer_id
            WHERE f.id = ANY(:fids))"""
    new_id = session.execute(
        text(
            f"""INSERT INTO planned_outages (operator_id, utility_code, title, description,
                starts_at, ends_at, feature_ids, created_by, geom)
            VALUES (:operator_id, :utility, :title, :description, :starts, :ends,
                    CAST(:fids AS bigint[]), :by, {geom_sql}) RETURNING id"""
        ),
        params,
    ).scalar_one()
    return get_outage(session, new_id)


def get_outage(session: Session, outage_id: int) -> dict | None:
    """One planned outage as JSON, or None."""
    return session.execute(
        text(
            f"SELECT {_OUTAGE_JSON} FROM planned_outages po JOIN operators o ON o.id = po.operator_id"
            " WHERE po.id = :id"
        ),
        {"id": outage_id},
    ).scalar_one_or_none()


def list_outages(
    session: Session, active: bool = False, operator_id: int | None = None
) -> list[dict]:
    """Planned outages, latest start first; `active`: only those under way now."""
    where = ["po.cancelled_at IS NULL"]
    if active:
        where.append("now() BETWEEN po.starts_at AND po.ends_at")
    if operator_id is not None:
        where.append("po.operator_id = :op")
    return list(
        session.execute(
            text(
                f"SELECT {_OUTAGE_JSON} FROM planned_outages po JOIN operators o ON o.id = po.operator_id"
                f" WHERE {' AND '.join(where)} ORDER BY po.starts_at DESC, po.id"
            ),
            {"op": operator_id},
        ).scalars()
    )


def outage_at(session: Session, utility: str, lon: float, lat: float) -> dict | None:
    """The announced outage of this utility under way now whose area covers the point, if any."""
    row = (
        session.execute(
            text(
                "SELECT po.id, po.title, po.operator_id, po.ends_at FROM planned_outages po"
                " WHERE po.utility_code = :utility AND po.cancelled_at IS NULL"
                " AND now() BETWEEN po.starts_at AND po.ends_at"
                " AND ST_Covers(po.geom, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326))"
                " ORDER BY po.ends_at, po.id LIMIT 1"
            ),
            {"utility": utility, "lon": lon, "lat": lat},
        )
        .mappings()
        .one_or_none()
    )
    return dict(row) if row else None


def cancel(session: Session, actor: Identity, outage_id: int) -> dict | None:
    """Cancel a planned outage (its operator's staff, admins); its JSON, or None if unknown."""
    operator_id = session.execute(
        text("SELECT operator_id FROM planned_outages WHERE id = :id"), {"id": outage_id}
    ).scalar_one_or_none()
    if operator_id is None:
        return None
    if not (
        actor.role == "admin" or (actor.role == "operator" and actor.operator_id == operator_id)
    ):
        raise Forbidden(
            "Only the operator's own staff (or an admin) cancel its planned outage.",
            code="not_your_operator",
        )
    session.execute(
        text(
            "UPDATE planned_outages SET cancelled_at = coalesce(cancelled_at, now()) WHERE id = :id"
        ),
        {"id": outage_id},
    )
    return get_outage(session, outage_id)
