"""POST /api/layers/<layer>/import (operator staff for their own organisation, admins for any),
GET /api/imports, the record of imports, and GET /api/feature-edits, that of single-feature edits."""

from __future__ import annotations

import tempfile
from pathlib import Path

from flask import current_app, request
from werkzeug.utils import secure_filename

from gis_app.db import get_session
from gis_app.errors import InvalidParameter, PayloadTooLarge
from gis_app.features import edits
from gis_app.imports import ImportRequest, list_imports, run_import
from gis_app.layers import get_layer
from gis_app.operators.directory import acting_operator, find_operator
from gis_app.web.access import Identity, current_identity, require_role
from gis_app.web.api import api
from gis_app.web.params import parse_int

JSON_TYPES = ("application/geo+json", "application/json")
TRUE, FALSE = {"true", "1", "yes"}, {"false", "0", "no", ""}


def _param(name: str) -> str | None:
    """A parameter from the query string or, for multipart uploads, the form."""
    value = request.args.get(name)
    return value if value is not None else request.form.get(name)


def _flag(name: str) -> bool:
    raw = (_param(name) or "").strip().lower()
    if raw not in TRUE | FALSE:
        raise InvalidParameter(f"{name} must be true or false", parameter=name, value=raw)
    return raw in TRUE


def _check_size() -> int:
    limit = int(current_app.config["GIS_APP_MAX_IMPORT_BYTES"])
    if request.content_length is not None and request.content_length > limit:
        raise PayloadTooLarge(
            f"The upload is {request.content_length} bytes; at most {limit} are accepted.",
            limit_bytes=limit, size_bytes=request.content_length,
        )  # fmt: skip
    request.max_content_length = limit  # a chunked upload with no length stops at the limit too
    return limit


@api.post("/layers/<layer_id>/import")
def import_layer(layer_id: str):
    """Import a file (multipart `file`) or a GeoJSON body into the operator's part of a layer."""
    identity = require_role("operator", "admin")
    layer = get_layer(layer_id)
    _check_size()
    operator_id = acting_operator(get_session(), identity, _param("operator"))
    with tempfile.TemporaryDirectory(prefix="gis-import-") as folder:
        upload = request.files.get("file")
        if upload is not None and upload.filename:
            file_name = upload.filename
            path = Path(folder) / (secure_filename(file_name) or "upload")
            upload.save(path)
        elif request.mimetype in JSON_TYPES:
            file_name = "request body"
            path = Path(folder) / "body.geojson"
            path.write_bytes(request.get_data())
        else:
            raise InvalidParameter(
                "Send a multipart form with a 'file', or a GeoJSON body (application/geo+json).",
                parameter="file",
            )
        req = ImportRequest(
            layer=layer, operator_id=operator_id, path=path, mode=_param("mode") or "upsert",
            crs=_param("crs"), dry_run=_flag("dry_run"), mapping=_param("mapping"),
            encoding=_param("encoding"), file_name=file_name, user_id=identity.user_id,
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
