"""Vector tiles of a layer: one ST_AsMVT statement per tile, in EPSG:3857."""

from __future__ import annotations

import datetime as dt
import functools
import math
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row
from sqlalchemy.orm import Session

from gis_app.accounts.credentials import Credentials
from gis_app.features.pages import REVISION_ROW_SQL, short_query_settings
from gis_app.features.prepared import first_row
from gis_app.features.sources import layer_source
from gis_app.layers import LayerDef

EXTENT = 4096
# From this zoom tiles carry every property; below it only the id and the styling attribute.
FULL_PROPERTIES_ZOOM = 13
# Web Mercator's world width in metres.
WORLD_M = 2 * math.pi * 6378137


def _tile_select(layer: LayerDef, z: int, x: int, y: int) -> tuple[str, dict]:
    """The SELECT that makes one tile as MVT bytes, and its parameters."""
    tolerance_m = WORLD_M / 2**z / 512
    geom = "ST_Transform(f.geom, 3857)"
    if layer.geometry != "POINT":
        # ST_Simplify, not ...PreserveTopology: the layers are lines (no rings to keep valid), and
        # it halves a z10 tile's time (39 ms against 70 ms at a million features);
        # preserveCollapsed keeps short pipes from vanishing.
        geom = f"ST_Simplify({geom}, :tol, true)"
    params = {"z": z, "x": x, "y": y, "layer": layer.id, "name": layer.id, "tol": tolerance_m}
    if z >= FULL_PROPERTIES_ZOOM:
        columns = "f.name, o.short_name AS operator, f.operator_id, f.external_id, f.attributes"
        joins = "JOIN operators o ON o.id = f.operator_id"
    else:
        # A town-wide tile holds tens of thousands of features: carry only what styles them
        # (the map fetches the rest of a clicked feature from /ogc).
        by = layer.style.get("by", {}).get("property")
        columns = (
            "jsonb_build_object(CAST(:by AS text), f.attributes -> CAST(:by AS text)) AS attributes"
            if by
            else "1 AS z"
        )
        params["by"] = by
        joins = ""
    # Features in id order: the same bytes whatever plan the rows came by (a prepared statement
    # switches to its generic plan after five runs; a replica may plan otherwise), at about 1%.
    sql = f"""
        SELECT ST_AsMVT(t, :name, {EXTENT}, 'geom', 'id' ORDER BY t.id) FROM (
            SELECT f.id, f.id AS fid,
                   ST_AsMVTGeom({geom}, ST_TileEnvelope(:z, :x, :y), {EXTENT}, {EXTENT // 16},
                                 true) AS geom, {columns}
            FROM network_features f {joins}
            WHERE f.layer_id = :layer
              AND f.geom && ST_Transform(ST_TileEnvelope(:z, :x, :y, margin => 0.05), 4326)
        ) t WHERE t.geom IS NOT NULL
        """
    return sql, params


def _first_row(session: Session, sql: str, params: dict) -> Row:
    """The first row of a tile statement, executed as driver SQL on the Session's connection;
    from FULL_PROPERTIES_ZOOM on, prepared once per connection.

    A tile's statement is built from fixed text and bound values only. Through exec_driver_sql it
    skips text()'s parsing and the ORM's execution path (about a third of a z14 tile's Python CPU,
    measured in docs/scaling.md) and keeps SQLAlchemy's error handling: a lost connection still
    invalidates the pool and answers 503. A detailed tile's planning took longer than its run, so
    it is prepared; a town-wide tile's rows vary a thousandfold between tiles, and PostgreSQL's
    generic plan made the dense ones slower (z10 mean +5-15%), so it is planned for each tile."""
    return first_row(session, sql, params, prepare=params["z"] >= FULL_PROPERTIES_ZOOM)


def tile_mvt(session: Session, layer: LayerDef, z: int, x: int, y: int) -> bytes:
    """One tile of a layer as MVT bytes (empty when no feature falls in it); EPSG:3857.

    Lines are simplified to a tolerance of the tile width / 512 (invisible at 512 px), and below
    FULL_PROPERTIES_ZOOM tiles carry only the id and the styling attribute, so low-zoom tiles stay
    small; features are clipped to the tile plus a 5% buffer (no seams at the edges).
    """
    sql, params = _tile_select(layer, z, x, y)
    short_query_settings(session)
    # One statement builds the tile; the layer id is a bound value, columns are fixed.
    return bytes(_first_row(session, sql, params)[0] or b"")


@functools.lru_cache(maxsize=256)
def _revision_keys(layer: LayerDef) -> tuple[str, ...]:
    """The revision keys of a layer's tiles (layer_source builds a whole Source each time)."""
    return layer_source(layer).revision_keys


@dataclass(frozen=True)
class TileAnswer:
    """A tile statement's answer: the tile (None when not asked for, or the credentials failed),
    the layer's revision tag and last change, and the credentials' row (None: not valid)."""

    mvt: bytes | None
    tag: str
    changed: dt.datetime | None
    who: Any = None


def tile_answer(
    session: Session,
    layer: LayerDef,
    z: int,
    x: int,
    y: int,
    credentials: Credentials | None = None,
    with_tile: bool = True,
) -> TileAnswer:
    """The layer's revision, the credentials' check and the tile, in one statement: one round
    trip, and all three from the same snapshot. The tile is made only when asked for and the
    credentials (if any) are valid: a bad token costs no tile."""
    sql, params = _tile_select(layer, z, x, y)
    params["keys"] = list(_revision_keys(layer))
    who_join, ok = "", "true"
    if credentials is not None:
        check, auth_params = credentials.check_sql()
        params.update(auth_params)
        who_join = f"LEFT JOIN ({check}) who ON true"
        ok = "who.user_id IS NOT NULL"
    # An uncorrelated subquery is an InitPlan, run only when CASE reaches it.
    mvt = f"CASE WHEN {ok} THEN ({sql}) END" if with_tile else "NULL::bytea"
    who = "who.*" if credentials is not None else "NULL AS user_id"
    short_query_settings(session)
    # The tag is built as features.revisions builds it ("key:revision" joined by ".").
    row = _first_row(
        session,
        f"SELECT rev.tag, rev.changed, {mvt} AS mvt, {who} FROM ({REVISION_ROW_SQL}) rev {who_join}",
        params,
    )
    mvt_bytes = None if row.mvt is None else bytes(row.mvt)
    if with_tile and mvt_bytes is None and (credentials is None or row.user_id is not None):
        mvt_bytes = b""  # ST_AsMVT of no rows
    return TileAnswer(mvt_bytes, row.tag, row.changed, row if credentials is not None else None)
