"""Single network features and the operators list, for the map's incident workbench."""

from __future__ import annotations

from flask import request
from sqlalchemy import text

from gis_app.api import api
from gis_app.db import get_session
from gis_app.errors import InvalidParameter, NotFound
from gis_app.spatial import feature_geojson, incident_points_geojson, incident_points_stamp


@api.get("/features/<int:feature_id>")
def network_feature(feature_id: int):
    """One network feature of any layer as a GeoJSON Feature (the map highlights it)."""
    feature = feature_geojson(get_session(), feature_id)
    if feature is None:
        raise NotFound(
            f"Feature {feature_id} does not exist.", code="feature_not_found", feature_id=feature_id
        )
    return feature, 200, {"Content-Type": "application/geo+json"}


@api.get("/operators")
def operators():
    """Operators with their utilities and dispatch contacts; `utility` keeps those serving it."""
    utility = request.args.get("utility") or None
    if utility is not None and len(utility) > 32:
        raise InvalidParameter("utility is too long", parameter="utility")
    rows = (
        get_session()
        .execute(
            text(
                """
            SELECT o.id, o.slug, o.short_name, o.full_name, o.inn, o.dispatch_phone,
                   o.dispatch_email, array_agg(ou.utility_code ORDER BY ou.utility_code) AS utilities
            FROM operators o JOIN operator_utilities ou ON ou.operator_id = o.id
            GROUP BY o.id
            HAVING CAST(:u AS text) IS NULL OR CAST(:u AS text) = ANY(array_agg(ou.utility_code))
            ORDER BY o.short_name
            """
            ),
            {"u": utility},
        )
        .mappings()
    )
    return {"operators": [dict(r) for r in rows]}


@api.get("/incidents/map.geojson")
def incident_points():
    """Open incidents as light points for the map, with an ETag: an unchanged set answers 304,
    so the map's refresh costs one small query when nothing happened."""
    from flask import Response

    from gis_app.incidents.deadlines import OVERDUE_SQL
    from gis_app.models import INCIDENT_STATUSES

    statuses = [s for s in request.args.get("status", "").split(",") if s] or list(MAP_STATUSES)
    unknown = sorted(set(statuses) - set(INCIDENT_STATUSES))
    if unknown:
        raise InvalidParameter(
            f"unknown status {unknown}",
            code="invalid_status",
            parameter="status",
            allowed=list(INCIDENT_STATUSES),
        )
    session = get_session()
    etag = '"' + incident_points_stamp(session, statuses, OVERDUE_SQL) + '"'
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if etag in request.headers.get("If-None-Match", ""):
        return Response(status=304, headers=headers)
    body = incident_points_geojson(session, statuses, OVERDUE_SQL)
    return Response(body, mimetype="application/geo+json", headers=headers)


MAP_STATUSES = ("new", "assigned", "accepted", "in_progress", "resolved", "rejected")
