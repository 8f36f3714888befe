"""Reading a collection: pages of features by key (or offset), counts, extents, revisions.

GeoJSON is built by PostGIS with the builder of sources.py, paged by id and streamed in batches;
counts and revisions come from serving_revisions, kept by the triggers of migration 0002.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis_app.accounts.credentials import Credentials
from gis_app.db import TEXT_AS_BYTES, in_transactions
from gis_app.features.prepared import first_row
from gis_app.features.sources import CRS84, CRSES, NETWORK, Crs, Source, feature_json_sql


@dataclass
class Query:
    """Which features: a bbox (in `bbox_srid`), attribute values, a time range, a CQL2 filter."""

    bbox: tuple[float, float, float, float] | None = None
    bbox_srid: int = 4326
    values: dict[str, object] = field(default_factory=dict)
    time_from: dt.datetime | None = None
    time_to: dt.datetime | None = None
    crs: Crs = CRSES[CRS84]
    # A CQL2 filter as a SQL condition (gis_app.features.cql) and its bound values.
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


# Pages up to this many rows are fetched in one round trip; larger ones through a server-side
# cursor, in the fewest batches of at most BATCH_ROWS, so memory stays flat whatever the size
# (5,000 road segments are about 2.4 MB). Round trips are what a loaded server makes expensive:
# a page of 10,000 (and the one more that says a next page exists) is three, not eleven.
ONE_FETCH_ROWS = 2001
BATCH_ROWS = 5000


def page_sql(
    source: Source,
    query: Query,
    limit: int,
    after: int | None = None,
    before: int | None = None,
    offset: int | None = None,
) -> tuple[str, dict]:
    """SQL and parameters of a page of (id, Feature JSON text) by ascending id: after `after`,
    before `before`, or from `offset`.

    Two steps in one statement: the page's keys first (the filter, the order and the LIMIT on
    ids alone), then its rows by key, joined and made into GeoJSON. When the planner has to take
    every match of a box from the spatial index and sort it (71,079 for a town's roads), it then
    sorts bare ids and joins the operators for the page's rows only, not for every match."""
    where, params = _where(source, query)
    params["limit"] = limit
    if after is not None:
        where.append(f"{source.id_sql} > :after")
        params["after"] = after
    if before is not None:
        where.append(f"{source.id_sql} < :before")
        params["before"] = before
    # The page just before a key: the last `limit` keys below it (then back in id order).
    direction = " DESC" if before is not None else ""
    keys = (
        f"SELECT {source.id_sql} AS id FROM {source.from_sql} WHERE {' AND '.join(where)} "
        f"ORDER BY {source.id_sql}{direction} LIMIT :limit"
    )
    if offset and before is None:
        keys += " OFFSET :offset"
        params["offset"] = offset
    sql = (
        f"SELECT {source.id_sql} AS id, {feature_json_sql(source, query.crs)} AS feature "
        f"FROM ({keys}) page JOIN ({source.from_sql}) ON {source.id_sql} = page.id "
        f"ORDER BY {source.id_sql}"
    )
    return sql, params


def feature_batches(
    session: Session,
    source: Source,
    query: Query,
    limit: int,
    after: int | None = None,
    before: int | None = None,
    offset: int | None = None,
) -> Iterator[list[tuple[int, bytes]]]:
    """Lists of (id, Feature JSON as UTF-8 bytes) of a page (see page_sql), at most BATCH_ROWS
    each: the bytes the server sent, never decoded (json.loads reads them as they are).

    Close the iterator when stopping early: a server-side cursor holds its connection.
    """
    sql, params = page_sql(source, query, limit, after, before, offset)
    short_query_settings(session)
    streamed = limit > ONE_FETCH_ROWS
    if streamed:
        in_transactions(session)  # a page view's Session may run single statements (no BEGIN)
    size = -(-limit // -(-limit // BATCH_ROWS))  # limit / the fewest batches, rounded up
    options = {"stream_results": True, "yield_per": size} if streamed else {}
    options[TEXT_AS_BYTES] = True
    # text(): the statement is assembled from this module's fragments and layer-file names only.
    result = session.execute(text(sql), params, execution_options=options)
    # The driver's rows as they are (tuples), through the result's own fetch strategy (its
    # buffer, and its errors wrapped as SQLAlchemy's: a lost server is still a 503): a Row
    # object made for each of 10,000 features cost about 15 ms a page.
    strategy, cursor = result.cursor_strategy, result.cursor
    try:
        while batch := strategy.fetchmany(result, cursor, size):
            yield batch
            if len(batch) < size:
                break  # the last one: no round trip to learn that nothing follows
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
    batches: Iterator[list[tuple[int, bytes]]], limit: int, count: PageCount
) -> Iterator[bytes]:
    """The comma-separated Features of a page a batch at a time (not a row at a time: a page of
    1,000 features is one join, not 1,000 Python steps). Ask for limit + 1 rows to learn `more`."""
    try:
        for batch in batches:
            room = limit - count.returned
            if len(batch) > room:
                count.more, batch = True, batch[:room]
            if batch:
                # One join makes the batch's text, with its leading comma (an empty first
                # item), not a concatenation after it: a 10,000-feature page is 5 MB to copy.
                rows = (row[1] for row in batch)
                yield b",".join(itertools.chain((b"",), rows) if count.returned else rows)
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
            " set_config('max_parallel_workers_per_gather', '0', true),"
            " set_config('cursor_tuple_fraction', '1', true)"
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


# The tag and latest change of some serving_revisions keys in one row, the tag made as
# revisions() makes it ("key:revision" joined by "." in key order; "empty" when none).
REVISION_ROW_SQL = (
    "SELECT coalesce(string_agg(r.key || ':' || r.revision, '.' ORDER BY r.key), 'empty') AS tag,"
    " max(r.changed_at) AS changed FROM serving_revisions r WHERE r.key = ANY(:keys)"
)


@dataclass(frozen=True)
class CheckedRevisions:
    """A page's revision tag and last change, and the credentials' row (None: not valid, or
    none were checked)."""

    tag: str
    changed: dt.datetime | None
    who: Any = None


def checked_revisions(
    session: Session, keys: tuple[str, ...], credentials: Credentials | None
) -> CheckedRevisions:
    """The revisions of `keys` and the credentials' check (if any) in one statement: a page's
    request makes one round trip before its page, not two, and both from the same snapshot."""
    params: dict[str, Any] = {"keys": list(keys)}
    who, who_join = "NULL AS user_id", ""
    if credentials is not None:
        check, auth_params = credentials.check_sql()
        params.update(auth_params)
        who, who_join = "who.*", f"LEFT JOIN ({check}) who ON true"
    # Driver SQL: fixed text and bound values only, without text()'s parsing (as a tile's).
    row = first_row(session, f"SELECT rev.*, {who} FROM ({REVISION_ROW_SQL}) rev {who_join}",
                    params, prepare=False)  # fmt: skip
    return CheckedRevisions(row.tag, row.changed, row if credentials is not None else None)


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


def network_feature(session: Session, feature_id: int) -> dict | None:
    """One network feature of any layer as a GeoJSON Feature (lon/lat), or None."""
    found = feature(session, NETWORK, feature_id, CRSES[CRS84])
    return json.loads(found) if found else None


def layer_summary(session: Session, layer_id: str) -> dict:
    """Count and extent [w, s, e, n] of one layer's features (None extent when empty)."""
    row = session.execute(
        text(
            "SELECT n, ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM "
            "(SELECT count(*) AS n, ST_Extent(geom) AS e FROM network_features "
            "WHERE layer_id = :layer) s"
        ),
        {"layer": layer_id},
    ).one()
    extent_ = [row[1], row[2], row[3], row[4]] if row[1] is not None else None
    return {"count": row[0], "extent": extent_}


def layer_counts(session: Session) -> dict[str, int]:
    """Features per serving_revisions key (a layer id, 'municipalities'...), trigger-kept, so
    a page load needs no COUNT(*)."""
    rows = session.execute(text("SELECT key, feature_count FROM serving_revisions"))
    return {row[0]: int(row[1]) for row in rows}
