"""CQL2 filters on a collection's items (OGC API - Features Part 3, CQL2 = OGC 21-065r2).

The cql2 library (cql2-rs) parses either encoding into CQL2 JSON; this module turns that JSON into
a SQL condition over a Source. Property names come only from the collection's queryables (its
filters, its time and its geometry); every value is bound; a geometry literal is checked with
shapely and transformed to EPSG:4326 once, in the statement, so the GiST index on
(layer_id, geom) still serves. Anything else is a 400 naming the parameter `filter`.
Never imports flask.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import NoReturn

import cql2
import numpy as np
import shapely
from shapely.geometry import box, shape

from gis_app.errors import InvalidParameter
from gis_app.features.sources import Crs, Source

# The conformance classes that hold (/ogc/conformance), from OGC 19-079r2 and OGC 21-065r2.
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
    "http://www.opengis.net/spec/cql2/1.0/conf/case-insensitive-comparison",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions-plus",
    "http://www.opengis.net/spec/cql2/1.0/conf/spatial-functions",
]
# filter-lang values. "cql-text" is the pre-standard name that GDAL's OAPIF driver looks for in
# the OpenAPI document and sends: it is read as cql2-text.
LANGS = ("cql2-text", "cql2-json", "cql-text")
DEFAULT_LANG = "cql2-text"
# Limits against a stack or CPU blow-up. The text parser backtracks on a syntax error deep inside
# brackets, doubling its time with each level: 14 levels cost at most about 50 ms.
MAX_CHARS = 20_000
MAX_TEXT_DEPTH = 14
MAX_PREFIX_RUN = 4
MAX_JSON_DEPTH = 64
GEOMETRY_NAMES = ("geometry", "geom")

COMPARISONS = {"=": "=", "<>": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
FLIPPED = {"=": "=", "<>": "<>", "<": ">", "<=": ">=", ">": "<", ">=": "<="}
SPATIAL = {
    "s_intersects": "ST_Intersects",
    "s_disjoint": "ST_Disjoint",
    "s_equals": "ST_Equals",
    "s_touches": "ST_Touches",
    "s_within": "ST_Within",
    "s_overlaps": "ST_Overlaps",
    "s_crosses": "ST_Crosses",
    "s_contains": "ST_Contains",
}
TEMPORAL = ("t_after", "t_before", "t_intersects", "t_disjoint", "t_equals")
SUPPORTED = sorted(
    {"and", "or", "not", "isNull", "like", "between", "in", "casei"}
    | set(COMPARISONS)
    | set(SPATIAL)
    | set(TEMPORAL)
)
# Kinds of values, from a Filter's type.
KINDS = {"int": "number", "float": "number", "str": "str", "bool": "bool", "date": "date"}
# EPSG:3857's bounds in metres (x and y); a coordinate beyond cannot be transformed safely.
MERCATOR_LIMIT = 20048966.1040146


@dataclass(frozen=True)
class SqlFilter:
    """A filter as a SQL condition over a Source and the values bound in it."""

    sql: str
    params: dict = field(default_factory=dict)


def _bad(message: str, **details: object) -> NoReturn:
    raise InvalidParameter(
        f"filter: {message}", code="invalid_filter", parameter="filter", **details
    )


def filter_lang(raw: str | None) -> str:
    """The filter-lang parameter: cql2-text when absent."""
    if raw is None or raw == "":
        return DEFAULT_LANG
    if raw not in LANGS:
        raise InvalidParameter(
            f"filter-lang must be one of {list(LANGS)}",
            parameter="filter-lang",
            value=raw,
            supported=list(LANGS),
        )
    return raw


def parse_filter(raw: str, lang: str, crs: Crs, source: Source) -> SqlFilter:
    """The filter `raw` in `lang` (see filter_lang), geometries in `crs`, as SQL over `source`;
    a 400 (InvalidParameter naming `filter`) when it is not one we can evaluate."""
    if len(raw) > MAX_CHARS:
        _bad(f"longer than {MAX_CHARS} characters", length=len(raw), maximum=MAX_CHARS)
    if lang == "cql2-json":
        _check_depth(raw, "[{", "]}", '"', MAX_JSON_DEPTH)
    else:
        _check_depth(raw, "(", ")", "'\"", MAX_TEXT_DEPTH)
    tree = _parse(raw, lang)
    translator = _Translator(source, crs)
    return SqlFilter(translator.condition(tree, 0), translator.params)


def _check_depth(raw: str, opening: str, closing: str, quotes: str, maximum: int) -> None:
    """Refuse brackets nested deeper than `maximum` outside quoted strings, and (in text) runs
    of prefix operators (NOT NOT ..., - - ...), before parsing: the parser recurses on both."""
    depth, quote, escaped, outside = 0, None, False, []
    for i, char in enumerate(raw):
        if quote:
            outside.append(" ")
            if escaped:
                escaped = False
            elif char == "\\" and quote == '"':
                escaped = True
            elif char == quote:
                quote = None
            continue
        outside.append(char)
        if char in quotes:
            quote = char
        elif char in opening:
            depth += 1
            if depth > maximum:
                _bad(f"nested deeper than {maximum} levels", column=i + 1, maximum=maximum)
        elif char in closing:
            depth -= 1
    if "(" in opening:
        run = _PREFIX_RUN.search("".join(outside))
        if run:
            _bad("too many NOT or - in a row", column=run.start() + 1)


_PREFIX_RUN = re.compile(rf"(?:(?:\bNOT\b|-)\s*){{{MAX_PREFIX_RUN + 1},}}", re.IGNORECASE)


_POSITION = re.compile(r"-->\s*(\d+):(\d+)|\s*at line (\d+) column (\d+)")
_EXPECTED = re.compile(r"=\s*expected (.+)$", re.MULTILINE)


def _parse(raw: str, lang: str) -> object:
    """CQL2 JSON (dicts, lists, scalars) of the filter, or a 400 with where and what was expected."""
    try:
        expr = cql2.parse_json(raw) if lang == "cql2-json" else cql2.parse_text(raw)
        return expr.to_json()
    except BaseException as exc:  # a panic in the Rust parser surfaces as a BaseException
        if isinstance(exc, KeyboardInterrupt | SystemExit | GeneratorExit):
            raise
        text = str(exc)
    name = "CQL2 JSON" if lang == "cql2-json" else "CQL2 text"
    details: dict = {"value": raw[:500], "filter-lang": lang}
    found = _POSITION.search(text)
    where = ""
    if found:
        line, column = (int(g) for g in (found[1] or found[3], found[2] or found[4]))
        details.update(line=line, column=column)
        where = f" at line {line}, column {column}"
    expected = _EXPECTED.search(text)
    if expected:
        details["expected"] = [e for e in re.split(r",\s*(?:or\s+)?|\s+or\s+", expected[1]) if e]
        reason = "expected " + expected[1]
    else:
        reason = _POSITION.sub("", text).strip(" :,\n") or "syntax error"
    _bad(f"not valid {name}{where}: {reason}", **details)


def _op(node: object) -> str | None:
    return node.get("op") if isinstance(node, dict) and isinstance(node.get("op"), str) else None


def _args(node: dict, count: int | None = None) -> list:
    args = node.get("args")
    if not isinstance(args, list) or (count is not None and len(args) != count):
        wanted = "arguments" if count is None else f"{count} argument(s)"
        _bad(f"'{node['op']}' takes {wanted}", operator=node["op"])
    return args


class _Translator:
    """CQL2 JSON to SQL over one Source; collects the bound values."""

    def __init__(self, source: Source, crs: Crs) -> None:
        self.source, self.crs, self.params = source, crs, {}
        self.subject = ""  # the property a literal is compared with, for the messages

    def bind(self, value: object) -> str:
        """A placeholder for `value`; the name cannot clash with the query's own parameters."""
        key = f"cql_{len(self.params)}"
        self.params[key] = value
        return f":{key}"

    # Conditions ----------------------------------------------------------------------------

    def condition(self, node: object, depth: int) -> str:
        """SQL of a boolean expression."""
        if depth > MAX_JSON_DEPTH:
            _bad(f"nested deeper than {MAX_JSON_DEPTH} levels")
        if isinstance(node, bool):
            return "true" if node else "false"
        op = _op(node)
        if op is None:
            _bad("a condition is expected here, not a value or a property", value=_short(node))
        if op in ("and", "or"):
            args = _args(node)
            if len(args) < 2:
                _bad(f"'{op}' takes at least two conditions")
            parts = [self.condition(arg, depth + 1) for arg in args]
            return "(" + f" {op.upper()} ".join(parts) + ")"
        if op == "not":
            return f"(NOT {self.condition(_args(node, 1)[0], depth + 1)})"
        if op in COMPARISONS:
            return self.comparison(op, *_args(node, 2))
        if op == "isNull":
            sql, _ = self.property(_args(node, 1)[0])
            return f"({sql} IS NULL)"
        if op == "like":
            return self.like(*_args(node, 2))
        if op == "between":
            return self.between(*_args(node, 3))
        if op == "in":
            return self.in_list(*_args(node, 2))
        if op in SPATIAL:
            return self.spatial(op, *_args(node, 2))
        if op in TEMPORAL:
            return self.temporal(op, *_args(node, 2))
        _bad(f"unsupported operator or function '{op}'", operator=op, supported=SUPPORTED)

    def comparison(self, op: str, left: object, right: object) -> str:
        """property <op> literal (or literal <op> property), typed by the property."""
        for side in (left, right):
            if _op(side) not in (None, "casei"):  # arithmetic, functions
                _bad(f"unsupported operator or function '{_op(side)}'", operator=_op(side))
        if not self.is_property(left):
            if not self.is_property(right):
                _bad(f"'{op}' needs a property on one side", operator=op)
            left, right, op = right, left, FLIPPED[op]
        if self.is_property(right):
            _bad("comparing two properties is not supported", operator=op)
        sql, kind, casei = self.operand(left)
        if kind == "geometry":
            _bad("a geometry is compared with the spatial functions (S_INTERSECTS, ...)")
        if kind == "timestamp" and isinstance(right, dict) and "date" in right:
            # A timestamp against a date: the day of the instant in UTC.
            day = self.date(right["date"])
            return f"(CAST(timezone('UTC', {sql}) AS date) {COMPARISONS[op]} {self.bind(day)})"
        return f"({sql} {COMPARISONS[op]} {self.literal(right, kind, casei)})"

    def like(self, left: object, pattern: object) -> str:
        """LIKE with CQL2's wildcards (% and _, escaped by a backslash), as PostgreSQL has them."""
        sql, kind, casei = self.operand(left)
        if kind != "str":
            _bad("LIKE applies to string properties", kind=kind)
        return f"({sql} LIKE {self.literal(pattern, 'str', casei)})"

    def between(self, left: object, low: object, high: object) -> str:
        """BETWEEN of a number, date or timestamp property, both ends included."""
        sql, kind = self.property(left)
        if kind not in ("number", "date", "timestamp"):
            _bad("BETWEEN applies to numbers, dates and timestamps", kind=kind)
        return f"({sql} BETWEEN {self.literal(low, kind)} AND {self.literal(high, kind)})"

    def in_list(self, left: object, values: object) -> str:
        """IN of a list of literals of the property's type."""
        sql, kind, casei = self.operand(left)
        if not isinstance(values, list) or not values:
            _bad("IN takes a non-empty list of values")
        if kind == "geometry":
            _bad("IN does not apply to the geometry")
        return f"({sql} IN ({', '.join(self.literal(v, kind, casei=casei) for v in values)}))"

    def spatial(self, op: str, first: object, second: object) -> str:
        """A spatial function of the geometry and a geometry literal (in filter-crs)."""
        args = []
        for arg in (first, second):
            if self.is_property(arg):
                sql, kind = self.property(arg)
                if kind != "geometry":
                    _bad(f"{op.upper()} takes the geometry, not '{arg['property']}'")
                args.append(("property", sql))
            else:
                args.append(("literal", self.geometry(arg)))
        if [a[0] for a in args].count("property") != 1:
            _bad(f"{op.upper()} takes the geometry and one geometry literal")
        return f"{SPATIAL[op]}({args[0][1]}, {args[1][1]})"

    def temporal(self, op: str, first: object, second: object) -> str:
        """T_AFTER, T_BEFORE, T_INTERSECTS, T_DISJOINT, T_EQUALS of the time property (an
        instant) and a TIMESTAMP, DATE or INTERVAL."""
        if not self.is_property(first):
            first, second = second, first
            op = {"t_after": "t_before", "t_before": "t_after"}.get(op, op)
        sql, kind = self.property(first)
        if kind != "timestamp":
            _bad(f"{op.upper()} applies to the time property '{self.source.time_name}'")
        start, end, end_open = self.period(second)  # end_open: the end itself is not in it
        if op == "t_equals":
            if start is None or start != end or end_open:
                _bad("T_EQUALS of an instant takes a TIMESTAMP")
            return f"({sql} = {self.bind(start)})"
        after_start = "true" if start is None else f"{sql} >= {self.bind(start)}"
        before_end = (
            "true" if end is None else f"{sql} {'<' if end_open else '<='} {self.bind(end)}"
        )
        if op == "t_after":
            return (
                "false" if end is None else f"({sql} {'>=' if end_open else '>'} {self.bind(end)})"
            )
        if op == "t_before":
            return "false" if start is None else f"({sql} < {self.bind(start)})"
        inside = f"({after_start} AND {before_end})"
        return inside if op == "t_intersects" else f"(NOT {inside})"

    # Operands ------------------------------------------------------------------------------

    @staticmethod
    def is_property(node: object) -> bool:
        """A property, or CASEI of one."""
        if _op(node) == "casei":
            args = node.get("args")
            return isinstance(args, list) and len(args) == 1 and _Translator.is_property(args[0])
        return isinstance(node, dict) and "property" in node

    def operand(self, node: object) -> tuple[str, str, bool]:
        """SQL, kind and case-insensitivity of a property or CASEI(property)."""
        if _op(node) == "casei":
            sql, kind = self.property(_args(node, 1)[0])
            if kind != "str":
                _bad("CASEI applies to strings", kind=kind)
            return f"lower({sql})", "str", True
        return (*self.property(node), False)

    def property(self, node: object) -> tuple[str, str]:
        """SQL and kind of a queryable: a column, a typed key of f.attributes, the collection's
        time or its geometry."""
        name = node.get("property") if isinstance(node, dict) else None
        if not isinstance(name, str):
            _bad("a property is expected here", value=_short(node))
        source, self.subject = self.source, f"{name}: "
        if name in GEOMETRY_NAMES:
            return source.geom_sql, "geometry"
        if source.time_name is not None and name == source.time_name:
            return source.time_sql, "timestamp"
        flt = source.filter(name)
        if flt is None:
            _bad(
                f"unknown property '{name}'",
                property=name,
                queryables=[f.name for f in source.filters]
                + [n for n in (source.time_name, "geometry") if n],
            )
        kind = KINDS[flt.type]
        if flt.column:
            return flt.column, kind
        # A key of the JSONB attributes, typed by the layer file: a value of another JSON type
        # (bad data) is NULL here, never a failed cast.
        key = self.bind(name)
        json_type, cast = {"number": ("number", "numeric"), "bool": ("boolean", "boolean")}.get(
            kind, ("string", None)
        )
        value = f"(f.attributes -> {key})"
        typed = f"CAST({value} AS {cast})" if cast else f"(f.attributes ->> {key})"
        return f"(CASE WHEN jsonb_typeof({value}) = '{json_type}' THEN {typed} END)", kind

    def literal(self, node: object, kind: str, casei: bool = False) -> str:
        """A bound literal of `kind`; a value of another type is a 400."""
        if _op(node) == "casei":
            inner = _args(node, 1)[0]
            if not isinstance(inner, str) or "\x00" in inner:
                _bad("CASEI takes a string here", value=_short(inner))
            return f"lower({self.bind(inner)})"
        if kind == "number":
            if isinstance(node, bool) or not isinstance(node, int | float):
                _bad(f"{self.subject}a number is expected, not {_short(node)}", value=_short(node))
            if not math.isfinite(node):
                _bad(f"{self.subject}numbers must be finite", value=str(node))
            if float(node).is_integer() and abs(node) < 2**63:
                return self.bind(int(node))
            return self.bind(Decimal(repr(float(node))))
        if kind == "str":
            if not isinstance(node, str):
                _bad(f"{self.subject}a string is expected, not {_short(node)}", value=_short(node))
            if "\x00" in node:  # PostgreSQL text cannot hold it
                _bad("strings cannot contain the NUL character")
            return f"lower({self.bind(node)})" if casei else self.bind(node)
        if kind == "bool":
            if not isinstance(node, bool):
                _bad(
                    f"{self.subject}true or false is expected, not {_short(node)}",
                    value=_short(node),
                )
            return self.bind(node)
        if kind == "date":
            raw = node.get("date") if isinstance(node, dict) else node
            if not isinstance(raw, str):
                _bad(f"{self.subject}a DATE is expected, not {_short(node)}", value=_short(node))
            return self.bind(self.date(raw).isoformat())
        if kind == "timestamp":
            raw = node.get("timestamp") if isinstance(node, dict) else node
            if not isinstance(raw, str):
                _bad(
                    f"{self.subject}a TIMESTAMP is expected, not {_short(node)}", value=_short(node)
                )
            return self.bind(self.timestamp(raw))
        _bad(f"{self.subject}values of kind {kind} cannot be compared")

    @staticmethod
    def date(raw: object) -> dt.date:
        """A calendar date (YYYY-MM-DD)."""
        try:
            return dt.date.fromisoformat(raw)
        except (TypeError, ValueError):
            _bad(f"not a date (YYYY-MM-DD): {_short(raw)}", value=_short(raw))

    @staticmethod
    def timestamp(raw: object) -> dt.datetime:
        """An RFC 3339 instant; without an offset it is UTC."""
        try:
            value = dt.datetime.fromisoformat(raw.replace("z", "Z").replace("Z", "+00:00"))
        except (AttributeError, ValueError):
            _bad(f"not an RFC 3339 timestamp: {_short(raw)}", value=_short(raw))
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)

    def period(self, node: object) -> tuple[dt.datetime | None, dt.datetime | None, bool]:
        """(start, end, end_open) of a TIMESTAMP, DATE (the whole day, UTC) or INTERVAL;
        None for an open end ('..')."""
        if isinstance(node, dict) and "timestamp" in node:
            instant = self.timestamp(node["timestamp"])
            return instant, instant, False
        if isinstance(node, dict) and "date" in node:
            day = self.date(node["date"])
            start = dt.datetime.combine(day, dt.time(), dt.UTC)
            return start, start + dt.timedelta(days=1), True
        interval = node.get("interval") if isinstance(node, dict) else None
        if not isinstance(interval, list) or len(interval) != 2:
            _bad("a TIMESTAMP, DATE or INTERVAL is expected", value=_short(node))
        bounds = []
        for raw in interval:
            if raw == "..":
                bounds.append(None)
            elif isinstance(raw, str) and len(raw) == 10:
                bounds.append(self.period({"date": raw}))
            else:
                bounds.append(self.period({"timestamp": raw}))
        start = bounds[0][0] if bounds[0] else None
        end, end_open = (bounds[1][1], bounds[1][2]) if bounds[1] else (None, False)
        if start is not None and end is not None and start > end:
            _bad("the INTERVAL ends before it starts", value=_short(node))
        return start, end, end_open

    # Geometry literals ---------------------------------------------------------------------

    def geometry(self, node: object) -> str:
        """SQL of a geometry literal (GeoJSON-like or BBOX, in filter-crs) in EPSG:4326."""
        crs = self.crs
        limit = (180.0, 90.0) if crs.srid == 4326 else (MERCATOR_LIMIT, MERCATOR_LIMIT)
        if isinstance(node, dict) and "bbox" in node:
            geom = self.bbox(node["bbox"], limit)
        elif isinstance(node, dict) and isinstance(node.get("type"), str):
            try:
                geom = shapely.force_2d(shape(node))
            except Exception as exc:  # shapely: ValueError, TypeError, GEOSException, ...
                _bad(f"not a valid geometry: {exc}", value=_short(node))
            if crs.lat_first:  # EPSG:4326 is latitude first: turn it to x = longitude
                geom = shapely.transform(geom, lambda xy: xy[:, ::-1])
        else:
            _bad("a geometry literal (POINT, LINESTRING, POLYGON, MULTI*, ...) or BBOX is expected",
                 value=_short(node))  # fmt: skip
        coords = shapely.get_coordinates(geom)
        if not np.isfinite(coords).all():
            _bad("geometry coordinates must be finite")
        if (np.abs(coords[:, 0]) > limit[0]).any() or (np.abs(coords[:, 1]) > limit[1]).any():
            _bad(f"a coordinate is outside {crs.uri}'s range", limit=list(limit))
        if not shapely.is_valid(geom):
            _bad(f"the geometry is not valid: {shapely.is_valid_reason(geom)}")
        literal = f"ST_GeomFromText({self.bind(shapely.to_wkt(geom, rounding_precision=-1))}, {int(crs.srid)})"
        if crs.srid != 4326:
            # ST_Transform of the literal once, not of every row, so the GiST index is used.
            literal = f"ST_Transform({literal}, 4326)"
        return literal

    def bbox(self, raw: object, limit: tuple[float, float]) -> shapely.Geometry:
        """BBOX(minx, miny, maxx, maxy) (or 6 numbers with heights) in filter-crs; one crossing
        the antimeridian (minx > maxx) is two boxes."""
        if (
            not isinstance(raw, list)
            or len(raw) not in (4, 6)
            or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in raw)
        ):
            _bad("BBOX takes 4 (or 6) numbers", value=_short(raw))
        if len(raw) == 6:
            raw = [raw[0], raw[1], raw[3], raw[4]]
        if self.crs.lat_first:
            raw = [raw[1], raw[0], raw[3], raw[2]]
        minx, miny, maxx, maxy = (float(v) for v in raw)
        if not all(math.isfinite(v) for v in raw):
            _bad("BBOX values must be finite")
        if miny > maxy:
            _bad("BBOX is inverted: the lower corner must come first", value=raw)
        if minx > maxx:
            return shapely.MultiPolygon(
                [box(minx, miny, limit[0], maxy), box(-limit[0], miny, maxx, maxy)]
            )
        return box(minx, miny, maxx, maxy)


def _short(node: object) -> str:
    text = repr(node)
    return text if len(text) <= 200 else text[:197] + "..."
