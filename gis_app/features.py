"""Feature queries for serving: GeoJSON built by PostGIS, paged by key, in a chosen CRS.

Every served collection (a layer, the incidents, the municipalities) is a Source: the tables it
reads, the SQL of a feature's properties, the attributes it filters on. Table and column names
come only from this module and the layer files; every value is bound. Never imports flask.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis_app.layers import LayerDef

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"


@dataclass(frozen=True)
class Crs:
    """A coordinate reference system we serve: its URI, SRID, axis order and precision."""

    uri: str
    srid: int
    # EPSG:4326 is latitude first (OGC API Features Part 2); CRS84 is longitude first.
    lat_first: bool
    decimals: int


# Six decimals of a degree are about 0.1 m; two of a metre are 1 cm.
CRSES = {
    CRS84: Crs(CRS84, 4326, False, 6),
    "http://www.opengis.net/def/crs/EPSG/0/4326": Crs(
        "http://www.opengis.net/def/crs/EPSG/0/4326", 4326, True, 6
    ),
    "http://www.opengis.net/def/crs/EPSG/0/3857": Crs(
        "http://www.opengis.net/def/crs/EPSG/0/3857", 3857, False, 2
    ),
}


@dataclass(frozen=True)
class Filter:
    """An attribute a collection filters on: its type and how it is compared in SQL."""

    name: str
    type: str  # int | float | str | bool | date
    column: str | None = None  # a column compared with '='; None: a key of the JSONB attributes


@dataclass(frozen=True)
class Source:
    """What one collection reads and how it builds a feature."""

    id: str
    from_sql: str
    id_sql: str
    geom_sql: str
    properties_sql: str
    where: tuple[str, ...] = ()
    params: dict = field(default_factory=dict, hash=False)
    filters: tuple[Filter, ...] = ()
    time_sql: str | None = None
    time_name: str | None = None  # the property holding time_sql (CQL2 filters and queryables)
    # Keys of serving_revisions whose change changes this collection; empty: never cached.
    revision_keys: tuple[str, ...] = ()
    # Key of serving_revisions holding the collection's feature count; None: count(*) is cheap.
    count_key: str | None = None
    geometry: str = "GEOMETRY"

    def filter(self, name: str) -> Filter | None:
        """The filterable attribute called `name`, or None."""
        return next((f for f in self.filters if f.name == name), None)


def layer_source(layer: LayerDef) -> Source:
    """The source of one network layer: its rows of network_features with the operator's name."""
    common = (
        Filter("operator", "str", "o.short_name"),
        Filter("operator_id", "int", "f.operator_id"),
        Filter("external_id", "str", "f.external_id"),
        Filter("name", "str", "f.name"),
    )
    return Source(
        id=layer.id,
        from_sql="network_features f JOIN operators o ON o.id = f.operator_id",
        id_sql="f.id",
        geom_sql="f.geom",
        properties_sql=(
            "jsonb_build_object('layer', f.layer_id, 'utility', f.utility_code, 'name', f.name,"
            " 'operator_id', f.operator_id, 'operator', o.short_name,"
            " 'external_id', f.external_id, 'updated_at', f.updated_at, 'updated_by', f.updated_by)"
            " || f.attributes"
        ),
        where=("f.layer_id = :layer",),
        params={"layer": layer.id},
        filters=common + tuple(Filter(p.name, p.type) for p in layer.properties),
        time_sql="f.updated_at",
        time_name="updated_at",
        revision_keys=(layer.id, "operators"),
        count_key=layer.id,
        geometry=layer.geometry,
    )


INCIDENTS = Source(
    id="incidents",
    from_sql=(
        "incidents i LEFT JOIN operators o ON o.id = i.operator_id "
        "LEFT JOIN municipalities m ON m.id = i.municipality_id"
    ),
    id_sql="i.id",
    geom_sql="i.geom",
    properties_sql=(
        "jsonb_build_object('kind', i.kind, 'utility', i.utility_code, 'category', i.category,"
        " 'description', i.description, 'status', i.status, 'priority', i.priority,"
        " 'address', i.address, 'operator_id', i.operator_id, 'operator', o.short_name,"
        " 'municipality', m.slug, 'feature_id', i.feature_id, 'reported_at', i.reported_at,"
        " 'updated_at', i.updated_at, 'is_demo', i.is_demo)"
    ),
    filters=(
        Filter("kind", "str", "i.kind"),
        Filter("utility", "str", "i.utility_code"),
        Filter("status", "str", "i.status"),
        Filter("priority", "int", "i.priority"),
        Filter("operator", "str", "o.short_name"),
        Filter("operator_id", "int", "i.operator_id"),
        Filter("municipality", "str", "m.slug"),
    ),
    time_sql="i.reported_at",
    time_name="reported_at",
    geometry="POINT",
)

MUNICIPALITIES = Source(
    id="municipalities",
    from_sql="municipalities m LEFT JOIN municipalities p ON p.id = m.parent_id",
    id_sql="m.id",
    geom_sql="m.geom",
    properties_sql=(
        "jsonb_build_object('slug', m.slug, 'kind', m.kind, 'oktmo', m.oktmo,"
        " 'name_ru', m.name_ru, 'name_en', m.name_en, 'parent', p.slug, 'is_demo', m.is_demo)"
    ),
    filters=(
        Filter("slug", "str", "m.slug"),
        Filter("kind", "str", "m.kind"),
        Filter("oktmo", "str", "m.oktmo"),
        Filter("parent", "str", "p.slug"),
    ),
    revision_keys=("municipalities",),
    geometry="MULTIPOLYGON",
)


@dataclass
class Query:
    """Which features: a bbox (in `bbox_srid`), attribute values, a time range, a CQL2 filter."""

    bbox: tuple[float, float, float, float] | None = None
    bbox_srid: int = 4326
    values: dict[str, object] = field(default_factory=dict)
    time_from: dt.datetime | None = None
    time_to: dt.datetime | None = None
    crs: Crs = CRSES[CRS84]
    # A CQL2 filter as a SQL condition (gis_app.ogc.cql) and its bound values.
    filter_sql: str | None = None
    filter_params: dict = field(default_factory=dict)

    def is_unfiltered(self) -> bool:
        """True when every feature of the collection matches."""
        return not (self.bbox or self.values or self.time_from or self.time_to or self.filter_sql)


def _where(source: Source, query: Query) -> tuple[list[str], dict]:
    where, params = list(source.where), dict(source.params)
    if query.bbox is not None:
        envelope = "ST_MakeEnvelope(:bx0, :by0, :bx1, :by1, :bsrid)"
        if query.bbox_srid != 4326:
            # ST_Transform of the envelope once, not of every row, so the GiST index is used.
            envelope = f"ST_Transform({envelope}, 4326)"
        where.append(f"ST_Intersects({source.geom_sql}, {envelope})")
        params.update(dict(zip(("bx0", "by0", "bx1", "by1"), query.bbox, strict=True)))
        params["bsrid"] = query.bbox_srid
    for i, (name, value) in enumerate(sorted(query.values.items())):
        flt = source.filter(name)
        if flt is None:
            raise KeyError(name)
        key = f"v{i}"
        if flt.column:
            where.append(f"{flt.column} = :{key}")
            params[key] = value
        else:
            # JSONB containment compares numbers by value (10 matches 10.0) and uses no cast.
            where.append(f"f.attributes @> CAST(:{key} AS jsonb)")
            params[key] = json.dumps({name: value}, ensure_ascii=False)
    if query.time_from is not None:
        where.append(f"{source.time_sql} >= :t0")
        params["t0"] = query.time_from
    if query.time_to is not None:
        where.append(f"{source.time_sql} <= :t1")
        params["t1"] = query.time_to
    if query.filter_sql:  # ANDed with the rest (Part 3, /req/filter/mixing-expressions)
        where.append(f"({query.filter_sql})")
        params.update(query.filter_params)
    return where or ["true"], params


def _geometry_sql(source: Source, crs: Crs) -> str:
    geom = source.geom_sql
    if crs.srid != 4326:
        geom = f"ST_Transform({geom}, {int(crs.srid)})"
    if crs.lat_first:
        geom = f"ST_FlipCoordinates({geom})"
    return f"ST_AsGeoJSON({geom}, {int(crs.decimals)})::json"


def feature_json_sql(source: Source, crs: Crs) -> str:
    """SQL of one row's GeoJSON Feature as text."""
    return (
        f"json_build_object('type', 'Feature', 'id', {source.id_sql}, "
        f"'geometry', {_geometry_sql(source, crs)}, 'properties', {source.properties_sql})::text"
    )


# Pages up to this many rows are fetched in one round trip; larger ones through a server-side
# cursor, a batch at a time, so memory stays flat whatever the size.
ONE_FETCH_ROWS = 2001
BATCH_ROWS = 1000


def page_sql(
    source: Source,
    query: Query,
    limit: int,
    after: int | None = None,
    before: int | None = None,
    offset: int | None = None,
) -> tuple[str, dict]:
    """SQL and parameters of a page of (id, Feature JSON text) by ascending id: after `after`,
    before `before`, or from `offset`."""
    where, params = _where(source, query)
    params["limit"] = limit
    if after is not None:
        where.append(f"{source.id_sql} > :after")
        params["after"] = after
    if before is not None:
        where.append(f"{source.id_sql} < :before")
        params["before"] = before
    select = (
        f"SELECT {source.id_sql} AS id, {feature_json_sql(source, query.crs)} AS feature "
        f"FROM {source.from_sql} WHERE {' AND '.join(where)}"
    )
    if before is not None:
        # The page just before a key: the last `limit` rows below it, then back in id order.
        sql = f"SELECT id, feature FROM ({select} ORDER BY {source.id_sql} DESC LIMIT :limit) s ORDER BY id"
    else:
        sql = f"{select} ORDER BY {source.id_sql} LIMIT :limit"
        if offset:
            sql += " OFFSET :offset"
            params["offset"] = offset
    return sql, params


def feature_batches(
    session: Session,
    source: Source,
    query: Query,
    limit: int,
    after: int | None = None,
    before: int | None = None,
    offset: int | None = None,
) -> Iterator[list[tuple[int, str]]]:
    """Lists of (id, Feature JSON text) of a page (see page_sql), at most BATCH_ROWS each.

    Close the iterator when stopping early: a server-side cursor holds its connection.
    """
    sql, params = page_sql(source, query, limit, after, before, offset)
    short_query_settings(session)
    streamed = limit > ONE_FETCH_ROWS
    options = {"stream_results": True, "yield_per": BATCH_ROWS} if streamed else {}
    # text(): the statement is assembled from this module's fragments and layer-file names only.
    result = session.execute(text(sql), params, execution_options=options)
    try:
        while batch := result.fetchmany(BATCH_ROWS):
            yield batch
    finally:
        result.close()


@dataclass
class PageCount:
    """What a page held, filled in while it streams: for numberReturned and the paging links."""

    returned: int = 0
    first: int | None = None
    last: int | None = None
    more: bool = False  # a row beyond the limit was there: there is a next page


def page_features_json(
    batches: Iterator[list[tuple[int, str]]], limit: int, count: PageCount
) -> Iterator[str]:
    """The comma-separated Features of a page a batch at a time (not a row at a time: a page of
    1,000 features is one join, not 1,000 Python steps). Ask for limit + 1 rows to learn `more`."""
    try:
        for batch in batches:
            room = limit - count.returned
            if len(batch) > room:
                count.more, batch = True, batch[:room]
            if batch:
                yield ("," if count.returned else "") + ",".join(row[1] for row in batch)
                count.first = batch[0][0] if count.first is None else count.first
                count.last = batch[-1][0]
                count.returned += len(batch)
            if count.more:
                break
    finally:
        batches.close()  # frees a server-side cursor and its connection


def short_query_settings(session: Session) -> None:
    """No JIT and no parallel workers for this transaction: a page or a tile is a short query,
    and compiling it or starting workers costs more than it saves (82 ms against 8 ms for a
    1,000-feature page of a million-row table). One round trip for both; none for the app's
    Sessions, whose connections are opened with these settings (gis_app.db.SHORT_QUERIES)."""
    if session.info.get("short_queries"):
        return
    session.execute(
        text(
            "SELECT set_config('jit', 'off', true),"
            " set_config('max_parallel_workers_per_gather', '0', true)"
        )
    )


def exists_before(session: Session, source: Source, query: Query, key: int) -> bool:
    """Whether any matching feature has an id below `key` (is there a previous page?)."""
    where, params = _where(source, query)
    params["key"] = key
    sql = f"SELECT EXISTS (SELECT 1 FROM {source.from_sql} WHERE {' AND '.join(where)} AND {source.id_sql} < :key)"
    return bool(session.execute(text(sql), params).scalar())


def feature(session: Session, source: Source, feature_id: int, crs: Crs) -> str | None:
    """One Feature's JSON text by id, or None."""
    where, params = _where(source, Query())
    params["fid"] = feature_id
    sql = (
        f"SELECT {feature_json_sql(source, crs)} FROM {source.from_sql} "
        f"WHERE {' AND '.join(where)} AND {source.id_sql} = :fid"
    )
    return session.execute(text(sql), params).scalar()


def count_exact(session: Session, source: Source, query: Query) -> int:
    """How many features match (a full count: for small tables or when asked)."""
    if query.is_unfiltered() and source.count_key:
        return counted(session, source.count_key)
    where, params = _where(source, query)
    sql = f"SELECT count(*) FROM {source.from_sql} WHERE {' AND '.join(where)}"
    return int(session.execute(text(sql), params).scalar())


def count_estimate(session: Session, source: Source, query: Query) -> int:
    """The planner's estimate of how many features match (no rows read)."""
    where, params = _where(source, query)
    sql = f"EXPLAIN (FORMAT JSON) SELECT 1 FROM {source.from_sql} WHERE {' AND '.join(where)}"
    plan = session.execute(text(sql), params).scalar()
    plan = json.loads(plan) if isinstance(plan, str) else plan
    return int(plan[0]["Plan"]["Plan Rows"])


def counted(session: Session, key: str) -> int:
    """The trigger-kept feature count of a serving_revisions key (0 when absent)."""
    value = session.execute(
        text("SELECT feature_count FROM serving_revisions WHERE key = :k"), {"k": key}
    ).scalar()
    return int(value or 0)


def revisions(session: Session, keys: tuple[str, ...]) -> tuple[str, dt.datetime | None]:
    """A version tag of the given keys and the latest change among them."""
    rows = session.execute(
        text(
            "SELECT key, revision, changed_at FROM serving_revisions WHERE key = ANY(:keys) "
            "ORDER BY key"
        ),
        {"keys": list(keys)},
    ).all()
    tag = ".".join(f"{r[0]}:{r[1]}" for r in rows) or "empty"
    latest = max((r[2] for r in rows), default=None)
    return tag, latest


_EXTENTS: dict[str, tuple[str, tuple]] = {}


def extent(session: Session, source: Source, tag: str | None = None) -> tuple:
    """The collection's true extent: ([w, s, e, n] in CRS84 or None, [t0, t1] or None).

    Cached per revision tag, so a million-feature layer is scanned once per change, not per request.
    """
    cached = _EXTENTS.get(source.id)
    if tag is not None and cached is not None and cached[0] == tag:
        return cached[1]
    where, params = _where(source, Query())
    time_sql = (
        f"min({source.time_sql}), max({source.time_sql})" if source.time_sql else "NULL, NULL"
    )
    row = session.execute(
        text(
            f"SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e), t0, t1 FROM ("
            f"SELECT ST_Extent({source.geom_sql}) AS e, {time_sql.split(',')[0]} AS t0,"
            f"{time_sql.split(',')[1]} AS t1 FROM {source.from_sql} WHERE {' AND '.join(where)}) s"
        ),
        params,
    ).one()
    bbox = None if row[0] is None else [row[0], row[1], row[2], row[3]]
    interval = None if row[4] is None else [row[4], row[5]]
    if tag is not None:  # one entry per collection: the latest revision only
        _EXTENTS[source.id] = (tag, (bbox, interval))
    return bbox, interval
