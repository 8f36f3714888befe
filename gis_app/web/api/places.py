"""Municipalities and utilities: the places and services every other answer refers to."""

from __future__ import annotations

from flask import request

from gis_app.db import get_session, replica_ok
from gis_app.errors import NotFound
from gis_app.places.municipalities import municipalities_geojson, municipality
from gis_app.utilities import list_utilities
from gis_app.web.api import api
from gis_app.web.params import parse_int


@api.get("/municipalities.geojson")
@replica_ok
def municipalities():
    """Every municipality's boundary; `simplify` (metres, 0-5000) thins them for overview maps."""
    simplify_m = parse_int(request.args.get("simplify"), "simplify", 0, 0, 5000)
    # About 111 km to a degree of latitude; good enough to choose a simplification tolerance.
    fc = municipalities_geojson(get_session(), simplify_deg=simplify_m / 111_000)
    return fc, 200, {"Content-Type": "application/geo+json"}


@api.get("/municipalities/<slug>")
@replica_ok
def municipality_detail(slug: str):
    """One municipality: names, kind, OKTMO, parent and bbox."""
    found = municipality(get_session(), slug)
    if found is None:
        raise NotFound(
            f"Municipality '{slug}' does not exist.",
            code="municipality_not_found",
            municipality=slug,
        )
    return found


@api.get("/utilities")
@replica_ok
def utilities():
    """The utilities the platform knows (data, not code: more are added as rows)."""
    keys = ("code", "name_ru", "name_en", "color")
    return {"utilities": [{k: u[k] for k in keys} for u in list_utilities(get_session())]}
