"""Vector tiles of the layers: /tiles/<layer>/<z>/<x>/<y>.mvt from one ST_AsMVT statement, and a
TileJSON per layer.

Tiles are never stale: the TileJSON's tile URL carries the layer's revision (`?v=`), which the
triggers of migration 0002 bump on every write, so a tile under a current `v` may be cached for a
day and a changed layer gets new URLs; without `v` (or with an old one) a tile must be revalidated
(ETag of the revision, 304 when unchanged).
"""

from __future__ import annotations

import hashlib
import json

from flask import Blueprint, Response, url_for
from flask import request as flask_request

from gis_app.db import get_session, replica_ok, single_statements
from gis_app.errors import InvalidParameter
from gis_app.features.pages import extent, revisions
from gis_app.features.sources import layer_source
from gis_app.features.tiles import FULL_PROPERTIES_ZOOM, tile_answer, tile_mvt
from gis_app.layers import LayerDef, get_layer
from gis_app.web.access import (
    checks_credentials_itself,
    confirm_credentials,
    pending_credentials,
)
from gis_app.web.streaming import make_etag, not_modified, whole

bp = Blueprint("tiles", __name__, url_prefix="/tiles")

MVT = "application/vnd.mapbox-vector-tile"
MIN_ZOOM, MAX_ZOOM = 6, 22
FIELD_TYPES = {
    "int": "Number",
    "float": "Number",
    "bool": "Boolean",
    "str": "String",
    "date": "String",
}


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
@checks_credentials_itself
@replica_ok
@single_statements
def tile(layer_id: str, z: str, x: str, y: str):
    """One vector tile; cached for a day under the current `v`, revalidated otherwise."""
    layer = get_layer(layer_id)
    zi, xi, yi = _tile_numbers(z, x, y)
    session = get_session()
    conditional = "If-None-Match" in flask_request.headers or flask_request.if_modified_since
    # One round trip: the revision, the token (or login) check and the tile. A conditional
    # request asks for the revision and the check only: a client's current copy costs no tile.
    answer = tile_answer(
        session, layer, zi, xi, yi, pending_credentials(),
        with_tile=zi >= MIN_ZOOM and not conditional,
    )  # fmt: skip
    confirm_credentials(answer.who)  # 401 here when the token or login is not valid
    current = flask_request.args.get("v") == _version(answer.tag)
    cache = "public, max-age=86400" if current else "no-cache"
    etag = make_etag(answer.tag, layer.id, zi, xi, yi)
    cached = not_modified(etag, answer.changed)
    if cached is not None:
        cached.headers["Cache-Control"] = cache
        return cached
    if zi < MIN_ZOOM:  # a whole-oblast tile of every feature is megabytes: served empty
        data = b""
    elif answer.mvt is None:  # a conditional request whose copy is out of date
        data = tile_mvt(session, layer, zi, xi, yi)
    else:
        data = answer.mvt
    return whole(data, MVT, etag, answer.changed, cache)


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
    body = json.dumps(tilejson(get_layer(layer_id)), ensure_ascii=False)
    return Response(body, mimetype="application/json", headers={"Cache-Control": "no-cache"})
