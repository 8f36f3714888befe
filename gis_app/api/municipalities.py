"""GET /api/municipalities/at (the chain of units at a point) and POST /api/municipalities/import
(admins: an official boundary file, all or nothing)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from flask import current_app, request
from werkzeug.utils import secure_filename

from gis_app.access import current_identity, require_role
from gis_app.api import api
from gis_app.api.imports import JSON_TYPES, _check_size, _flag, _param
from gis_app.api.responsible import _query_number
from gis_app.db import get_session
from gis_app.errors import InvalidParameter
from gis_app.municipalities import MunicipalityImport, import_municipalities, units_at
from gis_app.municipalities.prepare import Fields


@api.get("/municipalities/at")
def municipalities_at():
    """The units at ?lon=&lat= (EPSG:4326), most specific first, each with the rule that decided."""
    current_identity()
    lon = _query_number("lon", -180, 180)
    lat = _query_number("lat", -90, 90)
    tolerance = float(current_app.config["GIS_APP_MUNICIPALITY_TOLERANCE_M"])
    return units_at(get_session(), lon, lat, tolerance).to_json()


@api.post("/municipalities/import")
def municipalities_import():
    """Import a boundary file (multipart `file`, or a GeoJSON body); ?dry_run=true only checks."""
    identity = require_role("admin")
    _check_size()
    session = get_session()
    with tempfile.TemporaryDirectory(prefix="gis-munis-") as folder:
        upload = request.files.get("file")
        if upload is not None and upload.filename:
            file_name = upload.filename
            path = Path(folder) / (secure_filename(file_name) or "upload")
            upload.save(path)
        elif request.mimetype in JSON_TYPES:
            file_name, path = "request body", Path(folder) / "body.geojson"
            path.write_bytes(request.get_data())
        else:
            raise InvalidParameter(
                "Send a multipart form with a 'file', or a GeoJSON body (application/geo+json).",
                parameter="file",
            )
        req = MunicipalityImport(
            path=path,
            fields=Fields(_param("name_field"), _param("oktmo_field"), _param("kind_field"),
                          _param("kind")),  # fmt: skip
            mode=_param("mode") or "upsert", dry_run=_flag("dry_run"), crs=_param("crs"),
            encoding=_param("encoding"), oblast_from_units=_flag("oblast_from_units"),
            oblast_name=_param("oblast_name") or "Ленинградская область",
            oblast_oktmo=_param("oblast_oktmo"), file_name=file_name,
            username=identity.username, user_id=identity.user_id,
        )  # fmt: skip
        try:
            report = import_municipalities(session, req)
        except Exception:
            session.rollback()
            raise
        if req.dry_run:
            session.rollback()
        else:
            session.commit()
        return report
