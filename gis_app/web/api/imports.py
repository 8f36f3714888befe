"""POST /api/layers/<layer>/import (operator staff for their own organisation, admins for any),
GET /api/imports, the record of imports, and GET /api/feature-edits, that of single-feature edits."""

from __future__ import annotations

from flask import request

from gis_app.db import get_session
from gis_app.features import edits
from gis_app.imports import ImportRequest, list_imports, run_import
from gis_app.layers import get_layer
from gis_app.operators.directory import acting_operator, find_operator
from gis_app.web.access import Identity, current_identity, require_role
from gis_app.web.api import api
from gis_app.web.params import parse_int
from gis_app.web.uploads import flag, param, saved_upload


@api.post("/layers/<layer_id>/import")
def import_layer(layer_id: str):
    """Import a file (multipart `file`) or a GeoJSON body into the operator's part of a layer."""
    identity = require_role("operator", "admin")
    layer = get_layer(layer_id)
    operator_id = acting_operator(get_session(), identity, param("operator"))
    with saved_upload("gis-import-") as (path, file_name):
        req = ImportRequest(
            layer=layer, operator_id=operator_id, path=path, mode=param("mode") or "upsert",
            crs=param("crs"), dry_run=flag("dry_run"), mapping=param("mapping"),
            encoding=param("encoding"), file_name=file_name, user_id=identity.user_id,
            username=identity.username,
        )  # fmt: skip
        return run_import(get_session(), req)


def _listed_operator(identity: Identity) -> int | None:
    """Whose records a list shows: staff their own organisation's; the others all, or ?operator=."""
    if identity.role == "operator":
        return identity.operator_id
    named = request.args.get("operator")
    return find_operator(get_session(), named).id if named else None


@api.get("/imports")
def imports_list():
    """The latest imports, newest first: operator staff see their own organisation's."""
    identity = current_identity()
    limit = parse_int(request.args.get("limit"), "limit", 100, 1, 1000)
    return {"imports": list_imports(get_session(), _listed_operator(identity), limit)}


@api.get("/feature-edits")
def feature_edits_list():
    """The latest single-feature edits (OGC Part 4), newest first, as /api/imports lists imports;
    ?layer= keeps one layer's. A delete's record holds the removed feature as GeoJSON."""
    identity = current_identity()
    limit = parse_int(request.args.get("limit"), "limit", 100, 1, 1000)
    layer_id = get_layer(request.args["layer"]).id if request.args.get("layer") else None
    rows = edits.list_edits(get_session(), _listed_operator(identity), layer_id, limit)
    return {"feature_edits": rows}
