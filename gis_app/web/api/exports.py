"""GET /api/exports: planners' downloads of one layer, several, or a municipality's whole set."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from flask import request, send_file

from gis_app.db import get_session, replica_ok
from gis_app.errors import InvalidParameter, NotFound
from gis_app.exports import FORMATS, Cut, UnknownPlace, check_cut, export, file_name
from gis_app.layers import get_layer, layer_registry
from gis_app.web.api import api
from gis_app.web.params import parse_bbox

MIMETYPES = {"gpkg": "application/geopackage+sqlite3"}


@api.get("/exports")
@replica_ok
def export_download():
    """`layers` (comma list; default all), cut by `municipality`, `operator`, `bbox`; `format`."""
    fmt = request.args.get("format", "gpkg")
    if fmt not in FORMATS:
        raise InvalidParameter(
            f"format must be one of {list(FORMATS)}",
            parameter="format",
            value=fmt,
            allowed=list(FORMATS),
        )
    names = [n for n in request.args.get("layers", "").split(",") if n]
    layers = [get_layer(n) for n in names] if names else list(layer_registry())
    bbox = parse_bbox(request.args.get("bbox"))
    cut = Cut(
        bbox=(bbox.minx, bbox.miny, bbox.maxx, bbox.maxy) if bbox else None,
        municipality=request.args.get("municipality") or None,
        operator=request.args.get("operator") or None,
    )
    session = get_session()
    try:
        check_cut(session, cut)
    except UnknownPlace as exc:
        raise NotFound(str(exc), code="place_not_found", cut=cut.describe()) from None
    name = file_name(layers, cut, fmt)
    handle, path = tempfile.mkstemp(suffix=Path(name).suffix)
    os.close(handle)
    target = Path(path)
    source = f"gis_app {request.host_url.rstrip('/')}{request.full_path.rstrip('?')}"
    export(session, layers, cut, fmt, target, source)
    response = send_file(
        target, mimetype=MIMETYPES.get(fmt, "application/zip"), as_attachment=True,
        download_name=name, max_age=0,
    )  # fmt: skip
    # The file is opened by now; removing its name frees the space once the answer is sent.
    target.unlink()
    return response
