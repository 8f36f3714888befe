"""Query parameters of OGC API - Features: bbox, bbox-crs, crs, limit, offset, cursor, datetime,
attribute filters, CQL2 filter (Part 3). Each failure raises InvalidParameter naming the parameter
(a 400)."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import math
from dataclasses import dataclass

from werkzeug.datastructures import MultiDict

from gis_app.errors import InvalidParameter
from gis_app.features.cql import filter_lang, parse_filter
from gis_app.features.pages import Query
from gis_app.features.sources import CRS84, CRSES, Crs, Source

DEFAULT_LIMIT = 100
MAX_LIMIT = 10000
# Standard parameters of the items request; anything else must be a filterable attribute.
STANDARD = {"f", "bbox", "bbox-crs", "crs", "limit", "offset", "cursor", "datetime", "count",
            "filter", "filter-lang", "filter-crs"}  # fmt: skip
SHORT_CRS = {"EPSG:4326": "http://www.opengis.net/def/crs/EPSG/0/4326",
             "EPSG:3857": "http://www.opengis.net/def/crs/EPSG/0/3857",
             "OGC:CRS84": CRS84, "CRS84": CRS84}  # fmt: skip


@dataclass
class Page:
    """Where a page starts and how long it is; `clamped_from` is a limit above the maximum."""

    limit: int
    after: int | None = None
    before: int | None = None
    offset: int | None = None
    clamped_from: int | None = None


def _bad(message: str, parameter: str, value: object, code: str = "invalid_parameter") -> None:
    raise InvalidParameter(message, code=code, parameter=parameter, value=value)


def parse_crs(raw: str | None, parameter: str) -> Crs:
    """A CRS URI (or EPSG:nnnn / [EPSG:nnnn]) we serve; CRS84 when absent."""
    if raw is None or raw == "":
        return CRSES[CRS84]
    uri = SHORT_CRS.get(raw.strip("[]"), raw)
    crs = CRSES.get(uri)
    if crs is None:
        raise InvalidParameter(
            f"{parameter}: unsupported CRS {raw!r}",
            code="invalid_crs",
            parameter=parameter,
            value=raw,
            supported=list(CRSES),
        )
    return crs


def parse_bbox(raw: str | None, crs: Crs) -> tuple[float, float, float, float] | None:
    """The bbox as (minx, miny, maxx, maxy) in `crs`'s SRID, x = easting/longitude; None if absent."""
    if raw is None or raw == "":
        return None
    parts = raw.split(",")
    if len(parts) not in (4, 6):
        _bad("bbox must be 4 (or 6) comma-separated numbers", "bbox", raw, "invalid_bbox")
    try:
        nums = [float(p) for p in parts]
    except ValueError:
        _bad("bbox must be 4 (or 6) comma-separated numbers", "bbox", raw, "invalid_bbox")
    if not all(math.isfinite(v) for v in nums):
        _bad("bbox values must be finite", "bbox", raw, "invalid_bbox")
    if len(nums) == 6:  # minx, miny, minz, maxx, maxy, maxz: the heights do not matter here
        nums = [nums[0], nums[1], nums[3], nums[4]]
    if crs.lat_first:  # EPSG:4326 order is lat, lon
        nums = [nums[1], nums[0], nums[3], nums[2]]
    minx, miny, maxx, maxy = nums
    if crs.srid == 4326 and not (
        -180 <= minx <= 180 and -180 <= maxx <= 180 and -90 <= miny <= 90 and -90 <= maxy <= 90
    ):
        _bad("bbox is outside lon -180..180, lat -90..90", "bbox", raw, "invalid_bbox")
    # A box crossing the antimeridian (minx > maxx) is not needed in Leningrad Oblast.
    if minx > maxx or miny > maxy:
        _bad("bbox is inverted: the lower corner must come first", "bbox", raw, "invalid_bbox")
    return minx, miny, maxx, maxy


def _whole(raw: str, parameter: str, minimum: int) -> int:
    try:
        value = int(raw)
    except ValueError:
        _bad(f"{parameter} must be a whole number", parameter, raw)
    if value < minimum:
        raise InvalidParameter(
            f"{parameter} must be at least {minimum}",
            parameter=parameter,
            value=raw,
            minimum=minimum,
        )
    return value


def encode_cursor(after: int | None = None, before: int | None = None) -> str:
    """An opaque page token: the key the next (or previous) page starts after (or before)."""
    data = {"a": after} if after is not None else {"b": before}
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def _decode_cursor(raw: str) -> dict:
    try:
        data = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        data = None
    if (
        not isinstance(data, dict)
        or len(data) != 1
        or next(iter(data)) not in ("a", "b")
        or type(next(iter(data.values()))) is not int
        or next(iter(data.values())) < 0
    ):
        _bad("cursor is not a page token of this service", "cursor", raw, "invalid_cursor")
    return data


def parse_page(args: MultiDict) -> Page:
    """limit (clamped to MAX_LIMIT, visibly), and offset or cursor (not both)."""
    limit = DEFAULT_LIMIT
    clamped = None
    if args.get("limit"):
        limit = _whole(args["limit"], "limit", 1)
        if limit > MAX_LIMIT:
            # OGC API Features: a larger limit is served at the maximum, not refused.
            clamped, limit = limit, MAX_LIMIT
    page = Page(limit=limit, clamped_from=clamped)
    if args.get("offset") and args.get("cursor"):
        _bad("give offset or cursor, not both", "offset", args["offset"])
    if args.get("offset"):
        page.offset = _whole(args["offset"], "offset", 0)
    if args.get("cursor"):
        data = _decode_cursor(args["cursor"])
        page.after, page.before = data.get("a"), data.get("b")
    return page


def _instant(raw: str, parameter: str) -> dt.datetime | None:
    if raw in ("", ".."):
        return None
    try:
        if len(raw) == 10:
            value = dt.datetime.fromisoformat(raw)
        else:
            value = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        _bad(
            "datetime must be RFC 3339 (e.g. 2026-11-26T10:00:00Z) or an interval a/b",
            parameter,
            raw,
        )
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def parse_datetime(
    raw: str | None, source: Source
) -> tuple[dt.datetime | None, dt.datetime | None]:
    """An instant or an interval (`a/b`, `../b`, `a/..`) on the collection's time."""
    if raw is None or raw == "":
        return None, None
    if source.time_sql is None:
        _bad(f"collection '{source.id}' has no time to filter on", "datetime", raw)
    if "/" in raw:
        start, _, end = raw.partition("/")
        t0, t1 = _instant(start, "datetime"), _instant(end, "datetime")
        if t0 and t1 and t0 > t1:
            _bad("datetime interval ends before it starts", "datetime", raw)
        return t0, t1
    instant = _instant(raw, "datetime")
    if len(raw) == 10:  # a date is the whole day
        return instant, instant + dt.timedelta(days=1) - dt.timedelta(microseconds=1)
    return instant, instant


def _typed(value: str, type_: str, name: str):
    try:
        if type_ == "int":
            return int(value)
        if type_ == "float":
            number = float(value)
            if not math.isfinite(number):
                raise ValueError
            return number
        if type_ == "bool":
            return {"true": True, "false": False}[value.lower()]
        if type_ == "date":
            return dt.date.fromisoformat(value).isoformat()
    except (ValueError, KeyError):
        _bad(f"{name} must be of type {type_}", name, value)
    return value


def parse_query(args: MultiDict, source: Source) -> Query:
    """bbox, bbox-crs, crs, datetime and attribute filters into a Query; unknown names are a 400."""
    unknown = sorted(k for k in args if k not in STANDARD and source.filter(k) is None)
    if unknown:
        raise InvalidParameter(
            f"unknown parameter(s) {unknown}",
            code="unknown_parameter",
            parameter=unknown[0],
            queryables=[f.name for f in source.filters],
        )
    crs = parse_crs(args.get("crs"), "crs")
    bbox_crs = parse_crs(args.get("bbox-crs"), "bbox-crs")
    query = Query(crs=crs, bbox=parse_bbox(args.get("bbox"), bbox_crs), bbox_srid=bbox_crs.srid)
    query.time_from, query.time_to = parse_datetime(args.get("datetime"), source)
    for name in args:
        flt = source.filter(name)
        if flt is not None:
            query.values[name] = _typed(args[name], flt.type, name)
    # filter-lang and filter-crs are checked even without a filter: a bad value is a 400.
    lang = filter_lang(args.get("filter-lang"))
    filter_crs = parse_crs(args.get("filter-crs"), "filter-crs")
    if args.get("filter"):
        found = parse_filter(args["filter"], lang, filter_crs, source)
        query.filter_sql, query.filter_params = found.sql, found.params
    return query
