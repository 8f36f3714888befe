"""Where a report lands: the click, or the nearest point on the asset clicked, and its utility."""

from __future__ import annotations

from flask import request

from gis_app.db import get_session
from gis_app.errors import InvalidParameter, NotFound
from gis_app.incidents import validate as v
from gis_app.layers import layer_registry
from gis_app.reporting.point import asset_near_click, point_on_feature
from gis_app.web.access import current_identity
from gis_app.web.api import api
from gis_app.web.params import parse_int


def _number(name: str, low: float, high: float) -> float:
    try:
        return v.coordinate(request.args.get(name), name, low, high)
    except InvalidParameter as exc:
        exc.details = {"parameter": name, **exc.details}
        raise


@api.get("/report-point")
def report_point():
    """lon/lat of a click: with `feature_id`, the nearest point on that feature; otherwise the
    click itself and the asset within `tolerance_m` (1-200 m, default 15) whose utility it names."""
    current_identity()
    lon = _number("lon", -180, 180)
    lat = _number("lat", -90, 90)
    layers = [layer.id for layer in layer_registry()]
    session = get_session()
    if request.args.get("feature_id"):
        fid = parse_int(request.args["feature_id"], "feature_id", 0, 1, 2**62)
        found = point_on_feature(session, layers, fid, lon, lat)
        if found is None:
            raise NotFound(
                f"Feature {fid} does not exist.", code="feature_not_found", feature_id=fid
            )
        return found
    tolerance = parse_int(request.args.get("tolerance_m"), "tolerance_m", 15, 1, 200)
    return asset_near_click(session, layers, lon, lat, float(tolerance))
