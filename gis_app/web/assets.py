"""Third-party browser assets the service serves itself, so maps work in a closed network.

Leaflet comes from PyPI's XStatic-Leaflet, installed with the project; Leaflet.VectorGrid and
Chart.js (the dashboard's charts) from npm into static/node_modules/ (`make` installs it from package-lock.json); nothing is loaded from a CDN.
gis_app/web/vendor.py serves them under /vendor/<package>/.
"""

from __future__ import annotations

from pathlib import Path

from gis_app.config import PROJECT_ROOT


# name -> the folder a package installed; each is an XStatic package's BASE_DIR or an npm dist.
def _packages() -> dict[str, str]:
    import xstatic.pkg.leaflet

    return {
        "leaflet": xstatic.pkg.leaflet.BASE_DIR,
        "vectorgrid": str(PROJECT_ROOT / "static" / "node_modules" / "leaflet.vectorgrid" / "dist"),
        "chartjs": str(PROJECT_ROOT / "static" / "node_modules" / "chart.js" / "dist"),
    }


PACKAGES = _packages()


def installed(package: str, filename: str) -> bool:
    """Whether a vendored file is there (static/node_modules/ exists only after `make`)."""
    return (Path(PACKAGES.get(package, "/nonexistent")) / filename).is_file()
