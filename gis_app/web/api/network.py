"""Network traces and the connectivity report: parse, call gis_app.network, answer."""

from __future__ import annotations

import math

from flask import request

from gis_app.db import get_session
from gis_app.errors import InvalidParameter, NotFound
from gis_app.layers import layer_registry
from gis_app.network.cascade import add_dependency, dependencies, remove_dependency
from gis_app.network.report import connectivity_report
from gis_app.network.service import trace_answer_json, trace_at_point
from gis_app.network.traces import TRACE_TYPES
from gis_app.web.access import require_role
from gis_app.web.api import api

GEOJSON = {"Content-Type": "application/geo+json"}
# How far from the clicked point the nearest feature of the utility may lie (metres).
NEAREST_MAX_M = 200.0


def _trace_type() -> str:
    trace_type = request.args.get("type", "isolation")
    if trace_type not in TRACE_TYPES:
        raise InvalidParameter(
            f"type must be one of {list(TRACE_TYPES)}, got {trace_type!r}",
            code="invalid_trace_type",
            parameter="type",
            allowed=list(TRACE_TYPES),
        )
    return trace_type


def _coordinate(name: str, low: float, high: float) -> float:
    raw = request.args.get(name)
    try:
        value = float(raw) if raw is not None else math.nan
    except ValueError:
        value = math.nan
    if not low <= value <= high:
        raise InvalidParameter(
            f"{name} must be a number in [{low}, {high}] (WGS 84 degrees)",
            parameter=name,
            value=raw,
        )
    return value


def _utility() -> str:
    utility = request.args.get("utility", "")
    known = sorted({layer.utility for layer in layer_registry() if layer.snap_tolerance_m})
    if utility not in known:
        raise InvalidParameter(
            f"utility must be one of {known}", parameter="utility", value=utility, allowed=known
        )
    return utility


@api.get("/features/<int:feature_id>/trace")
def feature_trace(feature_id: int):
    """What a failure of the feature cuts off: `type` isolation (default), downstream, upstream
    or connected; GeoJSON of the affected features and a `trace` member with the figures."""
    return trace_answer_json(get_session(), feature_id, _trace_type()), 200, GEOJSON


@api.get("/features/trace")
def point_trace():
    """The same trace from the feature of `utility` nearest to lon/lat (within 200 m)."""
    lon, lat = _coordinate("lon", -180, 180), _coordinate("lat", -90, 90)
    answer = trace_at_point(get_session(), lon, lat, _utility(), _trace_type(), NEAREST_MAX_M)
    return answer, 200, GEOJSON


@api.get("/network/<utility>/report")
def network_report(utility: str):
    """What does not connect in a utility's network: dangling ends, near-misses, lone points."""
    known = sorted({layer.utility for layer in layer_registry() if layer.snap_tolerance_m})
    if utility not in known:
        raise InvalidParameter(
            f"utility must be one of {known}", parameter="utility", value=utility, allowed=known
        )
    return connectivity_report(get_session(), layer_registry(), utility)


@api.get("/features/<int:feature_id>/dependencies")
def feature_dependencies(feature_id: int):
    """What the feature needs from other utilities, and what needs it."""
    return dependencies(get_session(), feature_id)


@api.post("/network/dependencies")
def dependency_add():
    """Record a dependency: {"dependent_id", "supplier_id", "note"} (admins)."""
    require_role("admin")
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidParameter("The body must be a JSON object.", code="invalid_body")
    ids = {}
    for name in ("dependent_id", "supplier_id"):
        value = body.get(name)
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidParameter(f"{name} must be a feature id", parameter=name)
        ids[name] = value
    note = body.get("note")
    if note is not None and (not isinstance(note, str) or len(note) > 500):
        raise InvalidParameter("note must be text of at most 500 characters", parameter="note")
    session = get_session()
    add_dependency(session, ids["dependent_id"], ids["supplier_id"], note)
    session.commit()
    return dependencies(session, ids["dependent_id"]), 201


@api.delete("/network/dependencies/<int:dependent_id>/<int:supplier_id>")
def dependency_remove(dependent_id: int, supplier_id: int):
    """Forget a dependency (admins); 404 when there was none."""
    require_role("admin")
    session = get_session()
    if not remove_dependency(session, dependent_id, supplier_id):
        raise NotFound(
            f"Feature {dependent_id} does not depend on {supplier_id}.",
            code="dependency_not_found",
        )
    session.commit()
    return "", 204
