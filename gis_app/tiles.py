"""Vector tiles of the layers: /tiles/<layer>/<z>/<x>/<y>.mvt from one ST_AsMVT statement, and a
TileJSON per layer.

Tiles are never stale: the TileJSON's tile URL carries the layer's revision (`?v=`), which the
triggers of migration 0002 bump on every write, so a tile under a current `v` may be cached for a
day and a changed layer gets new URLs; without `v` (or with an old one) a tile must be revalidated
(ETag of the revision, 304 when unchanged).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math

from flask import Blueprint, Response, url_for
from flask import request as flask_request
from sqlalchemy import text
from sqlalchemy.orm import Session

from gis_app import layer_registry
from gis_app.db import get_session, replica_ok, single_statements
from gis_app.errors import InvalidParameter, NotFound
from gis_app.features import extent, layer_source, revisions, short_query_settings
from gis_app.layers import LayerDef
from gis_app.streaming import make_etag, not_modified, stream

bp = Blueprint("tiles", __name__, url_prefix="/tiles")

MVT = "application/vnd.mapbox-vector-tile"
EXTENT = 4096
MIN_ZOOM, MAX_ZOOM = 6, 22
# From this zoom tiles carry every property; below it only the id and the styling attribute.
FULL_PROPERTIES_ZOOM = 13
# Web Mercator's world width in metres.
WORLD_M = 2 * math.pi * 6378137
FIELD_TYPES = {
    "int": "Number",
    "float": "Number",
    "bool": "Boolean",
    "str": "String",
    "date": "String",
}


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
        columns = "jsonb_build_object(:by, f.attributes -> :by) AS attributes" if by else "1 AS z"
        params["by"] = by
        joins = ""
    sql = f"""
        SELECT ST_AsMVT(t, :name, {EXTENT}, 'geom', 'id') FROM (
            SELECT f.id, f.id AS fid,
                   ST_AsMVTGeom({geom}, ST_TileEnvelope(:z, :x, :y), {EXTENT}, {EXTENT // 16},
                                 true) AS geom, {columns}
            FROM network_features f {joins}
            WHERE f.layer_id = :layer
              AND f.geom && ST_Transform(ST_TileEnvelope(:z, :x, :y, margin => 0.05), 4326)
        ) t WHERE t.geom IS NOT NULL
        """
    return sql, params


def tile_mvt(session: Session, layer: LayerDef, z: int, x: int, y: int) -> bytes:
    """One tile of a layer as MVT bytes (empty when no feature falls in it); EPSG:3857.

    Lines are simplified to a tolerance of the tile width / 512 (invisible at 512 px), and below
    FULL_PROPERTIES_ZOOM tiles carry only the id and the styling attribute, so low-zoom tiles stay
    small; features are clipped to the tile plus a 5% buffer (no seams at the edges).
    """
    sql, params = _tile_select(layer, z, x, y)
    short_query_settings(session)
    # text(): one statement builds the tile; the layer id is a bound value, columns are fixed.
    return bytes(session.execute(text(sql), params).scalar() or b"")


def tile_and_revision(
    session: Session, layer: LayerDef, z: int, x: int, y: int
) -> tuple[bytes, str, dt.datetime | None]:
    """The tile (as tile_mvt) with the layer's revision tag and last change, in one statement:
    one round trip, and tile and tag from the same snapshot."""
    sql, params = _tile_select(layer, z, x, y)
    params["keys"] = list(layer_source(layer).revision_keys)
    short_query_settings(session)
    # text(): the tag is built as features.revisions builds it ("key:revision" joined by ".").
    row = session.execute(
        text(
            f"""
            SELECT ({sql}) AS mvt,
                   coalesce(string_agg(r.key || ':' || r.revision, '.' ORDER BY r.key), 'empty')
                       AS tag,
                   max(r.changed_at) AS changed
            FROM serving_revisions r WHERE r.key = ANY(:keys)
            """
        ),
        params,
    ).one()
    return bytes(row.mvt or b""), row.tag, row.changed


def _layer(layer_id: str) -> LayerDef:
    layer = layer_registry().get(layer_id)
    if layer is None:
        raise NotFound(
            f"Layer '{layer_id}' does not exist.",
            code="layer_not_found",
            layer=layer_id,
            layers=[item.id for item in layer_registry()],
        )
    return layer


def _version(tag: str) -> str:
    return hashlib.sha1(tag.encode()).hexdigest()[:12]


def _tile_numbers(z: str, x: str, y: str) -> tuple[int, int, int]:
    try:
        zi, xi, yi = int(z), int(x), int(y)
    except ValueError:
        raise InvalidParameter(
            "z, x and y must be whole numbers", code="invalid_tile", tile=f"{z}/{x}/{y}"
        ) from None
    if not 0 <= zi <= MAX_ZOOM or not (0 <= xi < 2**zi and 0 <= yi < 2**zi):
        raise InvalidParameter(
            f"no tile {z}/{x}/{y}: z must be 0..{MAX_ZOOM}, x and y 0..2^z-1",
            code="invalid_tile",
            tile=f"{z}/{x}/{y}",
        )
    return zi, xi, yi


@bp.get("/<layer_id>/<z>/<x>/<y>.mvt")
@replica_ok
@single_statements
def tile(layer_id: str, z: str, x: str, y: str):
    """One vector tile; cached for a day under the current `v`, revalidated otherwise."""
    layer = _layer(layer_id)
    zi, xi, yi = _tile_numbers(z, x, y)
    session = get_session()
    conditional = "If-None-Match" in flask_request.headers or flask_request.if_modified_since
    if zi < MIN_ZOOM or conditional:
        # The revision first: a client's current copy costs no tile (304).
        tag, changed = revisions(session, layer_source(layer).revision_keys)
        data = None
    else:  # one round trip for the revision and the tile
        data, tag, changed = tile_and_revision(session, layer, zi, xi, yi)
    current = flask_request.args.get("v") == _version(tag)
    cache = "public, max-age=86400" if current else "no-cache"
    etag = make_etag(tag, layer.id, zi, xi, yi)
    cached = not_modified(etag, changed)
    if cached is not None:
        cached.headers["Cache-Control"] = cache
        return cached
    if zi < MIN_ZOOM:  # a whole-oblast tile of every feature is megabytes: served empty
        data = b""
    elif data is None:
        data = tile_mvt(session, layer, zi, xi, yi)
    return stream([data], MVT, etag, changed, cache)


def tilejson(layer: LayerDef) -> dict:
    """The TileJSON 3.0 document of a layer: its tile URL (with the revision), zooms, bounds, fields."""
    session = get_session()
    source = layer_source(layer)
    tag, _ = revisions(session, source.revision_keys)
    bbox, _ = extent(session, source, tag)
    template = url_for(
        "tiles.tile", layer_id=layer.id, z="Z", x="X", y="Y", v=_version(tag), _external=True
    )
    template = template.replace("/Z/X/Y.mvt", "/{z}/{x}/{y}.mvt")
    fields = {"fid": "Number", "name": "String", "operator": "String", "operator_id": "Number",
              "external_id": "String"}  # fmt: skip
    fields.update({p.name: FIELD_TYPES[p.type] for p in layer.properties})
    doc = {
        "tilejson": "3.0.0",
        "name": layer.id,
        "description": f"{layer.title_ru} / {layer.title_en}",
        "version": _version(tag),
        "scheme": "xyz",
        "tiles": [template],
        "minzoom": MIN_ZOOM,
        "maxzoom": MAX_ZOOM,
        "vector_layers": [
            {
                "id": layer.id,
                "fields": fields,
                "minzoom": MIN_ZOOM,
                "maxzoom": MAX_ZOOM,
                "description": f"every field from zoom {FULL_PROPERTIES_ZOOM}; below: id and the styling field",
            }
        ],
    }
    if bbox is not None:
        doc["bounds"] = bbox
        doc["center"] = [(bbox[0] + bbox[2]) / 2, (bbox[1] + bbox[3]) / 2, 12]
    return doc


@bp.get("/<layer_id>.json", endpoint="tilejson")
@replica_ok
@single_statements
def tilejson_view(layer_id: str):
    """The layer's TileJSON; never cached, since it names the current revision."""
    body = json.dumps(tilejson(_layer(layer_id)), ensure_ascii=False)
    return Response(body, mimetype="application/json", headers={"Cache-Control": "no-cache"})
