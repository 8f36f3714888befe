"""GET /api/municipalities/at (the chain of units at a point) and POST /api/municipalities/import
(admins: an official boundary file, all or nothing)."""

from __future__ import annotations

from flask import request

from gis_app.db import get_session
from gis_app.errors import InvalidParameter
from gis_app.incidents import validate as v
from gis_app.municipalities import MunicipalityImport, import_municipalities, retire_unit
from gis_app.municipalities.prepare import Fields
from gis_app.places.chain import units_at
from gis_app.web.access import current_identity, require_role
from gis_app.web.api import api
from gis_app.web.uploads import flag, param, saved_upload


def _number(name: str, low: float, high: float) -> float:
    try:
        return v.coordinate(request.args.get(name), name, low, high)
    except InvalidParameter as exc:
        exc.details = {"parameter": name, **exc.details}
        raise


@api.get("/municipalities/at")
def municipalities_at():
    """The units at ?lon=&lat= (EPSG:4326), most specific first, each with the rule that decided."""
    current_identity()
    lon, lat = _number("lon", -180, 180), _number("lat", -90, 90)
    return units_at(get_session(), lon, lat).to_json()


@api.post("/municipalities/import")
def municipalities_import():
    """Import a boundary file (multipart `file`, or a GeoJSON body); ?dry_run=true only checks."""
    identity = require_role("admin")
    session = get_session()
    with saved_upload("gis-munis-") as (path, file_name):
        req = MunicipalityImport(
            path=path,
            fields=Fields(param("name_field"), param("oktmo_field"), param("kind_field"),
                          param("kind")),  # fmt: skip
            mode=param("mode") or "upsert", dry_run=flag("dry_run"), crs=param("crs"),
            encoding=param("encoding"), oblast_from_units=flag("oblast_from_units"),
            oblast_name=param("oblast_name") or "Ленинградская область",
            oblast_oktmo=param("oblast_oktmo"), file_name=file_name,
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


@api.post("/admin/municipalities/<ref>/retire")
def municipality_retire(ref: str):
    """Retire a unit ({reason}): its accounts, incidents and history stay; it stops answering."""
    identity = require_role("admin")
    body = request.get_json(silent=True)
    reason = body.get("reason") if isinstance(body, dict) else None
    session = get_session()
    done = retire_unit(session, identity.username, identity.user_id, ref, str(reason or ""))
    session.commit()
    return done
