"""The JSON API under /api: layers, municipalities, incidents."""

from flask import Blueprint

api = Blueprint("api", __name__, url_prefix="/api")

from gis_app.api import (  # noqa: E402,F401  (routes register on import)
    exports,
    imports,
    incidents,
    layers,
    network,
    outages,
    places,
    report_point,
    responsible,
)
