"""The offline base map: /basemap/<z>/<x>/<y>.<ext> from the MBTiles of GIS_APP_BASEMAP_FILE,
or the PMTiles file itself at /basemap/archive.pmtiles (the browser reads it by HTTP ranges).

Public: a base map of OpenStreetMap holds nothing secret, and browsers may cache it. Tiles carry
the archive's version (mtime and size) in their ETag, so a new archive is picked up at once.
"""

from __future__ import annotations

from flask import Blueprint, Response, request, send_file

from gis_app.basemap import Archive
from gis_app.errors import InvalidParameter, NotFound
from gis_app.web.access import public
from gis_app.web.basemap_config import configured_archive

bp = Blueprint("basemap", __name__, url_prefix="/basemap")

MIME = {
    "pbf": "application/vnd.mapbox-vector-tile",
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "webp": "image/webp",
}
CACHE = "public, max-age=3600"


def _archive(kind: str) -> Archive:
    archive = configured_archive()
    if archive is None or archive.kind != kind:
        raise NotFound(
            f"No {kind} base map is configured (GIS_APP_BASEMAP_FILE).", code="basemap_not_found"
        )
    return archive


@bp.get("/<int:z>/<int:x>/<int:y>.<ext>")
@public
def tile(z: int, x: int, y: int, ext: str):
    """One tile; 204 where the archive has none (outside the extract, or an empty sea tile)."""
    archive = _archive("mbtiles")
    if ext != archive.format:
        raise InvalidParameter(
            f"this base map's tiles are .{archive.format}", code="invalid_tile", extension=ext
        )
    if z > 30 or x >= 2**z or y >= 2**z:
        raise InvalidParameter(f"no tile {z}/{x}/{y}", code="invalid_tile", tile=f"{z}/{x}/{y}")
    etag = f"{archive.version}-{z}-{x}-{y}"
    if request.if_none_match.contains(etag):
        return Response(status=304, headers={"ETag": f'"{etag}"', "Cache-Control": CACHE})
    found = archive.tile(z, x, y)
    if found is None:
        return Response(status=204, headers={"Cache-Control": CACHE})
    data, gzipped = found
    response = Response(data, mimetype=MIME.get(archive.format, "application/octet-stream"))
    if gzipped:
        if "gzip" not in request.headers.get("Accept-Encoding", ""):
            import gzip

            response.set_data(gzip.decompress(data))
        else:
            response.headers["Content-Encoding"] = "gzip"
    response.headers["ETag"] = f'"{etag}"'
    response.headers["Cache-Control"] = CACHE
    response.headers["Vary"] = "Accept-Encoding"
    return response


@bp.get("/archive.pmtiles")
@public
def pmtiles():
    """The PMTiles archive, served with HTTP range requests (206) for the browser's reader."""
    archive = _archive("pmtiles")
    response = send_file(
        archive.path, mimetype="application/octet-stream", conditional=True, etag=archive.version
    )
    response.headers["Cache-Control"] = CACHE
    return response
