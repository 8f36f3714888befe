"""Parsing of query parameters; each failure raises InvalidParameter naming the parameter."""

from __future__ import annotations

import math
import re

from gis_app import strict
from gis_app.errors import InvalidParameter, PreconditionFailed, PreconditionRequired
from gis_app.geometry import BBox


def parse_bbox(raw: str | None) -> BBox | None:
    """`minlon,minlat,maxlon,maxlat` in EPSG:4326 → BBox; None when absent."""
    if raw is None or raw == "":
        return None
    parts = raw.split(",")
    if len(parts) != 4:
        raise InvalidParameter(
            "bbox must be four numbers: minlon,minlat,maxlon,maxlat",
            code="invalid_bbox",
            parameter="bbox",
            value=raw,
        )
    try:
        minx, miny, maxx, maxy = (strict.float_from_text(p) for p in parts)
    except ValueError:
        raise InvalidParameter(
            "bbox must be four numbers: minlon,minlat,maxlon,maxlat",
            code="invalid_bbox",
            parameter="bbox",
            value=raw,
        ) from None
    if not all(math.isfinite(v) for v in (minx, miny, maxx, maxy)):
        raise InvalidParameter(
            "bbox values must be finite", code="invalid_bbox", parameter="bbox", value=raw
        )
    if not (
        -180 <= minx <= 180 and -180 <= maxx <= 180 and -90 <= miny <= 90 and -90 <= maxy <= 90
    ):
        raise InvalidParameter(
            "bbox is outside lon -180..180, lat -90..90",
            code="invalid_bbox",
            parameter="bbox",
            value=raw,
        )
    if minx > maxx or miny > maxy:
        raise InvalidParameter(
            "bbox is inverted: minlon must not exceed maxlon, nor minlat maxlat",
            code="invalid_bbox",
            parameter="bbox",
            value=raw,
        )
    return BBox(minx, miny, maxx, maxy)


def parse_int(raw: str | None, name: str, default: int, minimum: int, maximum: int) -> int:
    """A whole number in [minimum, maximum]; `default` when absent."""
    if raw is None or raw == "":
        return default
    try:
        value = strict.int_from_text(raw)
    except ValueError as exc:
        raise InvalidParameter(f"{name} {exc}", parameter=name, value=raw[:100]) from None
    if not minimum <= value <= maximum:
        raise InvalidParameter(
            f"{name} must be between {minimum} and {maximum}",
            parameter=name,
            value=raw,
            minimum=minimum,
            maximum=maximum,
        )
    return value


# An incident's ETag is its version, quoted ("7"); a proxy may weaken it to W/"7".
_VERSION_ETAG = re.compile(r'^\s*(?:W/)?"(\d+)"\s*$')


def parse_if_match_version(raw: str | None) -> int:
    """The version an If-Match header names (every incident write parses it here): 428 when
    absent, 412 when it names no version of ours."""
    if raw is None:
        raise PreconditionRequired(
            "Send If-Match with the ETag of the incident you read (GET answers it).",
            header="If-Match",
        )
    match = _VERSION_ETAG.match(raw)
    if match is None:
        raise PreconditionFailed("If-Match does not name a version of this incident.", value=raw)
    return int(match.group(1))
