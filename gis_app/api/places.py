"""Municipalities and utilities: the places and services every other answer refers to."""

from __future__ import annotations

from flask import request
from sqlalchemy import text

from gis_app.api import api
from gis_app.api.params import parse_int
from gis_app.db import get_session, replica_ok
from gis_app.errors import NotFound
from gis_app.spatial import municipalities_geojson, municipality


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
    rows = (
        get_session()
        .execute(
            text("SELECT code, name_ru, name_en, color FROM utilities ORDER BY sort_order, code")
        )
        .mappings()
    )
    return {"utilities": [dict(r) for r in rows]}
