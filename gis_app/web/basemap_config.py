"""The configured base-map archive and what the map page tells the browser about it."""

from __future__ import annotations

from flask import current_app, url_for

from gis_app.basemap import Archive, ArchiveError, open_archive


def configured_archive() -> Archive | None:
    """The archive of GIS_APP_BASEMAP_FILE, or None when no file is set."""
    path = current_app.config.get("GIS_APP_BASEMAP_FILE")
    if not path:
        return None
    try:
        return open_archive(path)
    except ArchiveError as exc:
        current_app.logger.error("base map: %s", exc)
        return None


def client_config() -> dict | None:
    """What the map page's basemap.js needs: URL, kind, zooms, attribution; None without one."""
    archive = configured_archive()
    if archive is None:
        return None
    if archive.kind == "pmtiles":
        url = url_for("basemap.pmtiles", v=archive.version)
    else:
        url = url_for("basemap.tile", z=0, x=0, y=0, ext=archive.format).replace(
            "/0/0/0.", "/{z}/{x}/{y}."
        )
    return {
        "url": url,
        "vector": archive.vector,
        "minZoom": archive.minzoom,
        "maxDataZoom": archive.maxzoom,
        "bounds": archive.bounds,
        "attribution": current_app.config["GIS_APP_BASEMAP_ATTRIBUTION"],
    }
