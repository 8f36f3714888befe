"""The JSON API under /api: layers, features, municipalities, operators, incidents, imports,
exports. The routes are in the modules beside this one; gis_app.web imports them."""

from flask import Blueprint

api = Blueprint("api", __name__, url_prefix="/api")
