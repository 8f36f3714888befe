"""Address search for dispatchers: GET /api/addresses?q= and /api/addresses/reverse?lon=&lat=."""

from __future__ import annotations

import math

from flask import request

from gis_app.addresses import Near, checked_query, reverse, search
from gis_app.db import get_session
from gis_app.errors import InvalidParameter
from gis_app.web.api import api
from gis_app.web.params import parse_int

DEFAULT_REVERSE_M = 250
MAX_REVERSE_M = 5000


def _coordinate(raw: str | None, name: str, limit: float) -> float:
    try:
        value = float(raw or "")
    except ValueError:
        raise InvalidParameter(f"{name} must be a number", parameter=name, value=raw) from None
    if not math.isfinite(value) or not -limit <= value <= limit:
        raise InvalidParameter(
            f"{name} must be between {-limit} and {limit}", parameter=name, value=raw
        )
    return value


def parse_near(raw: str | None) -> Near | None:
    """`lon,lat` (EPSG:4326) → Near; None when absent."""
    if not raw:
        return None
    parts = raw.split(",")
    if len(parts) != 2:
        raise InvalidParameter("near must be lon,lat", parameter="near", value=raw)
    return Near(_coordinate(parts[0], "near", 180), _coordinate(parts[1], "near", 90))


@api.get("/addresses")
def address_search():
    """Ranked candidates for `q`, optionally near=lon,lat or within municipality=<slug>."""
    args = request.args
    result = search(
        get_session(),
        checked_query(args.get("q")),
        near=parse_near(args.get("near")),
        municipality=args.get("municipality") or None,
        limit=parse_int(args.get("limit"), "limit", 10, 1, 50),
    )
    return result, 200, {"Content-Type": "application/geo+json"}


@api.get("/addresses/reverse")
def address_reverse():
    """The address nearest to lon, lat within max_distance_m (default 250 m): a FeatureCollection
    of that one address, or of none (a field, a forest: not an error)."""
    args = request.args
    lon = _coordinate(args.get("lon"), "lon", 180)
    lat = _coordinate(args.get("lat"), "lat", 90)
    max_m = parse_int(
        args.get("max_distance_m"), "max_distance_m", DEFAULT_REVERSE_M, 1, MAX_REVERSE_M
    )
    found = reverse(get_session(), lon, lat, max_m)
    features = [found] if found else []
    body = {"type": "FeatureCollection", "numberReturned": len(features), "features": features}
    return body, 200, {"Content-Type": "application/geo+json"}
