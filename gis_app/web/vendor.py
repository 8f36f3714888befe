"""Third-party browser assets served by the service itself, so maps work in a closed network.

Leaflet comes from PyPI's XStatic-Leaflet, installed with the project; Leaflet.VectorGrid from npm
into static/node_modules/ (`make` installs it from package-lock.json); nothing is loaded from a CDN.
"""

from __future__ import annotations

from flask import Blueprint, abort, send_from_directory

bp = Blueprint("vendor", __name__, url_prefix="/vendor")


# name -> the folder a package installed; each is an XStatic package's BASE_DIR.
def _packages() -> dict[str, str]:
    import xstatic.pkg.leaflet

    from gis_app.config import PROJECT_ROOT

    return {
        "leaflet": xstatic.pkg.leaflet.BASE_DIR,
        "vectorgrid": str(PROJECT_ROOT / "static" / "node_modules" / "leaflet.vectorgrid" / "dist"),
    }


PACKAGES = _packages()


def installed(package: str, filename: str) -> bool:
    """Whether a vendored file is there (static/node_modules/ exists only after `make`)."""
    from pathlib import Path

    return (Path(PACKAGES.get(package, "/nonexistent")) / filename).is_file()


@bp.get("/<package>/<path:filename>")
def asset(package: str, filename: str):
    """Serve one file of a vendored package, cached for a day."""
    folder = PACKAGES.get(package)
    if folder is None:
        abort(404)
    return send_from_directory(folder, filename, max_age=86400)
