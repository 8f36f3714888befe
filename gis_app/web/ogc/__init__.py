"""OGC API - Features (Part 1 core, GeoJSON, HTML, OpenAPI 3.0; Part 2 CRS; Part 3 filters; Part 4
edits) under /ogc. The routes are in views.py (reading) and crud.py (Part 4 edits)."""

from flask import Blueprint

ogc = Blueprint("ogc", __name__, url_prefix="/ogc")
