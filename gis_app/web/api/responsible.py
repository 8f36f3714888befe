"""The responsible operator of a point, deadline rules, overdue counts per operator."""

from __future__ import annotations

from flask import request

from gis_app.db import get_session
from gis_app.errors import InvalidParameter
from gis_app.incidents import deadlines
from gis_app.incidents import validate as v
from gis_app.layers import layer_registry
from gis_app.operators.responsible import FeatureMismatch, find_responsible
from gis_app.web.access import current_identity
from gis_app.web.api import api


def _query_number(name: str, low: float, high: float) -> float:
    try:
        return v.coordinate(request.args.get(name), name, low, high)
    except InvalidParameter as exc:
        exc.details = {"parameter": name, **exc.details}
        raise


@api.get("/responsible")
def responsible():
    """Who must fix a failure of `utility` at lon/lat (optionally on `feature_id`), and why."""
    current_identity()
    session = get_session()
    lon = _query_number("lon", -180, 180)
    lat = _query_number("lat", -90, 90)
    utility = v.utility(session, request.args.get("utility"))
    feature_id = None
    if request.args.get("feature_id"):
        feature_id = v.integer(request.args["feature_id"], "feature_id", 1, 2**62)
    try:
        found = find_responsible(session, layer_registry(), utility, lon, lat, feature_id)
    except FeatureMismatch as exc:
        raise InvalidParameter(
            str(exc), code=exc.code, parameter="feature_id", **exc.details
        ) from None
    return {"lon": lon, "lat": lat, "utility": utility, **found.to_json()}


@api.get("/deadline-rules")
def deadline_rules():
    """The deadline rules (minutes to accept and to resolve) and their legal sources."""
    return {"rules": deadlines.list_rules(get_session())}


@api.get("/incidents/overdue")
def overdue_counts():
    """Open and overdue incidents per operator; the incidents: /api/incidents?overdue=true."""
    rows = deadlines.overdue_by_operator(get_session())
    return {"operators": rows, "overdue": sum(r["overdue"] for r in rows)}
