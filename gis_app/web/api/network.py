"""Network traces and the connectivity report: parse, call gis_app.network, answer."""

from __future__ import annotations

import math

from flask import request

from gis_app.db import get_session
from gis_app.errors import InvalidParameter
from gis_app.layers import layer_registry
from gis_app.network.report import connectivity_report
from gis_app.network.service import trace_answer, trace_at_point
from gis_app.network.traces import TRACE_TYPES
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
    return trace_answer(get_session(), feature_id, _trace_type()), 200, GEOJSON


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
