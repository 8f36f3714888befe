"""OGC API - Features Part 4: create (POST), replace (PUT), update (PATCH, JSON merge patch) and
delete (DELETE) of one feature of a layer, by the operator's own staff (admins for any).

PUT, PATCH and DELETE honour If-Match (the feature's ETag from GET): 412 when it is stale,
checked on the locked row; without it they go ahead (QGIS and GDAL send none). Each edit is
recorded in feature_edits in its own transaction.
"""

from __future__ import annotations

from flask import Response, request, url_for
from pyproj import CRS
from werkzeug.exceptions import MethodNotAllowed

from gis_app.db import get_session
from gis_app.errors import InvalidParameter, NotFound
from gis_app.features import edits
from gis_app.layers import LayerDef, layer_registry
from gis_app.operators.directory import acting_operator, check_operator_serves
from gis_app.web.access import Identity, require_operator, require_role
from gis_app.web.ogc import ogc
from gis_app.web.ogc.collections import get_source
from gis_app.web.ogc.params import parse_crs

BODY_TYPES = ("application/geo+json", "application/json")
PATCH_TYPES = ("application/merge-patch+json", "application/geo+json", "application/json")


def _layer(collection_id: str) -> LayerDef:
    """The layer behind a collection; 405 for collections that are not edited here."""
    get_source(collection_id)  # 404 for unknown collections
    layer = layer_registry().get(collection_id)
    if layer is None:
        raise MethodNotAllowed(valid_methods=["GET", "HEAD"],
                               description=f"Collection '{collection_id}' is read-only here.")  # fmt: skip
    return layer


def _body(types: tuple[str, ...]) -> object:
    if request.mimetype not in types:
        raise InvalidParameter(f"Content-Type must be one of {list(types)}", parameter="Content-Type",
                               value=request.mimetype)  # fmt: skip
    body = request.get_json(silent=True)
    if body is None:
        raise InvalidParameter("The body is not JSON.", parameter="body")
    return body


def _body_crs() -> edits.BodyCrs:
    """The CRS of the body from Content-Crs (one the collection lists; CRS84 when absent)."""
    raw = request.headers.get("Content-Crs", "").strip().strip("<>")
    crs = parse_crs(raw or None, "Content-Crs")
    return edits.BodyCrs(CRS.from_epsg(crs.srid), crs.lat_first)


def _feature_id(layer: LayerDef, raw: str) -> int:
    if not raw.isdigit() or int(raw) >= 2**63:
        raise NotFound(f"Feature '{raw}' does not exist in '{layer.id}'.", code="feature_not_found",
                       collection=layer.id, feature=raw)  # fmt: skip
    return int(raw)


def _editor(identity: Identity) -> edits.Editor:
    return edits.Editor(identity.user_id, identity.username)


def _own(layer: LayerDef, raw_id: str) -> tuple[int, edits.Editor]:
    """(feature id, editor) once the caller may write the feature (staff: their own) and its
    If-Match holds. The row stays locked until the view commits, so no other edit comes between
    the check and the write."""
    identity = require_role("operator", "admin")
    feature_id = _feature_id(layer, raw_id)
    locked = edits.lock(get_session(), layer, feature_id)
    require_operator(identity, locked.operator_id)
    edits.check_if_match(layer, feature_id, locked.etag, request.headers.get("If-Match"))
    return feature_id, _editor(identity)


def _committed(layer: LayerDef, feature_id: int, status: int, **headers: str) -> Response:
    """Commit the edit; the answer carries the feature's new ETag, read before the commit (after
    it, another client's edit could already have changed the row)."""
    session = get_session()
    etag = edits.lock(session, layer, feature_id).etag  # locked by this edit already
    session.commit()
    return Response(status=status, headers={"ETag": etag, **headers})


@ogc.post("/collections/<collection_id>/items")
def create_item(collection_id: str):
    """Create a feature (GeoJSON Feature body); 201 with its Location."""
    layer = _layer(collection_id)
    identity = require_role("operator", "admin")
    session = get_session()
    operator_id = acting_operator(session, identity, request.args.get("operator"))
    check_operator_serves(session, operator_id, layer)
    feature_id = edits.create(session, layer, operator_id, _body(BODY_TYPES), _body_crs(),
                              _editor(identity))  # fmt: skip
    location = url_for("ogc.item", collection_id=layer.id, feature_id=feature_id, _external=True)
    return _committed(layer, feature_id, 201, Location=location)


@ogc.put("/collections/<collection_id>/items/<feature_id>")
def replace_item(collection_id: str, feature_id: str):
    """Replace a feature with the GeoJSON Feature of the body."""
    layer = _layer(collection_id)
    fid, editor = _own(layer, feature_id)
    edits.replace(get_session(), layer, fid, _body(BODY_TYPES), _body_crs(), editor)
    return _committed(layer, fid, 204)


@ogc.patch("/collections/<collection_id>/items/<feature_id>")
def update_item(collection_id: str, feature_id: str):
    """Update a feature with a JSON merge patch of its properties and/or geometry."""
    layer = _layer(collection_id)
    fid, editor = _own(layer, feature_id)
    edits.update(get_session(), layer, fid, _body(PATCH_TYPES), _body_crs(), editor)
    return _committed(layer, fid, 204)


@ogc.delete("/collections/<collection_id>/items/<feature_id>")
def delete_item(collection_id: str, feature_id: str):
    """Delete a feature."""
    layer = _layer(collection_id)
    fid, editor = _own(layer, feature_id)
    session = get_session()
    edits.delete(session, layer, fid, editor)
    session.commit()
    return Response(status=204)
