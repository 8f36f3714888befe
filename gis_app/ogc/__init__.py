"""OGC API - Features (Part 1 core, GeoJSON, HTML, OpenAPI 3.0; Part 2 CRS; Part 4 edits) under /ogc."""

from flask import Blueprint

ogc = Blueprint("ogc", __name__, url_prefix="/ogc")

# Routes register on import; edit holds the Part 4 edits (create, replace, update, delete).
from gis_app.ogc import edit, views  # noqa: E402

views.CONFORMANCE.extend(c for c in edit.PART4 if c not in views.CONFORMANCE)
