"""/vendor/<package>/<file>: the browser libraries of gis_app/web/assets.py, served by the service
itself so the maps work in a closed network."""

from __future__ import annotations

from flask import Blueprint, abort, send_from_directory

from gis_app.web.assets import PACKAGES

bp = Blueprint("vendor", __name__, url_prefix="/vendor")


@bp.get("/<package>/<path:filename>")
def asset(package: str, filename: str):
    """Serve one file of a vendored package, cached for a day."""
    folder = PACKAGES.get(package)
    if folder is None:
        abort(404)
    return send_from_directory(folder, filename, max_age=86400)
