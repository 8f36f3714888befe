"""Incidents as GeoJSON for the map (read-only here; the lifecycle lives in its own issue)."""

from __future__ import annotations

from flask import request

from gis_app.api import api
from gis_app.api.params import parse_bbox, parse_int
from gis_app.db import get_session
from gis_app.errors import InvalidParameter
from gis_app.models import INCIDENT_STATUSES
from gis_app.spatial import incidents_geojson


@api.get("/incidents.geojson")
def incidents():
    """Incidents in `bbox` with `status` in a comma list, newest first, at most `limit`."""
    bbox = parse_bbox(request.args.get("bbox"))
    statuses = [s for s in request.args.get("status", "").split(",") if s]
    unknown = sorted(set(statuses) - set(INCIDENT_STATUSES))
    if unknown:
        raise InvalidParameter(
            f"unknown status {unknown}",
            code="invalid_status",
            parameter="status",
            allowed=list(INCIDENT_STATUSES),
        )
    limit = parse_int(request.args.get("limit"), "limit", 1000, 1, 10000)
    fc = incidents_geojson(get_session(), bbox, statuses or None, limit)
    return fc, 200, {"Content-Type": "application/geo+json", "Cache-Control": "no-store"}
