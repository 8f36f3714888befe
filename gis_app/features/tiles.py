"""Vector tiles of a layer: one ST_AsMVT statement per tile, in EPSG:3857."""

from __future__ import annotations

import math

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis_app.features.pages import short_query_settings
from gis_app.layers import LayerDef

EXTENT = 4096
# From this zoom tiles carry every property; below it only the id and the styling attribute.
FULL_PROPERTIES_ZOOM = 13
# Web Mercator's world width in metres.
WORLD_M = 2 * math.pi * 6378137


def tile_mvt(session: Session, layer: LayerDef, z: int, x: int, y: int) -> bytes:
    """One tile of a layer as MVT bytes (empty when no feature falls in it); EPSG:3857.

    Lines are simplified to a tolerance of the tile width / 512 (invisible at 512 px), and below
    FULL_PROPERTIES_ZOOM tiles carry only the id and the styling attribute, so low-zoom tiles stay
    small; features are clipped to the tile plus a 5% buffer (no seams at the edges).
    """
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
        columns = "jsonb_build_object(:by, f.attributes -> :by) AS attributes" if by else "1 AS z"
        params["by"] = by
        joins = ""
    # text(): one statement builds the tile; the layer id is a bound value, columns are fixed.
    sql = text(
        f"""
        WITH b AS (SELECT ST_TileEnvelope(:z, :x, :y) AS env,
                          ST_Transform(ST_TileEnvelope(:z, :x, :y, margin => 0.05), 4326) AS area)
        SELECT ST_AsMVT(t, :name, {EXTENT}, 'geom', 'id') FROM (
            SELECT f.id, f.id AS fid,
                   ST_AsMVTGeom({geom}, b.env, {EXTENT}, {EXTENT // 16}, true) AS geom, {columns}
            FROM network_features f {joins}, b
            WHERE f.layer_id = :layer AND f.geom && b.area
        ) t WHERE t.geom IS NOT NULL
        """
    )
    short_query_settings(session)
    data = session.execute(sql, params).scalar()
    return bytes(data or b"")
