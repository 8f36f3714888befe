"""Uploaded files of the import endpoints (layers, municipalities, service areas): parameters
from the query string or the form, the size limit, and the file saved to a temporary folder."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flask import current_app, request
from werkzeug.utils import secure_filename

from gis_app.errors import InvalidParameter, PayloadTooLarge

JSON_TYPES = ("application/geo+json", "application/json")
TRUE, FALSE = {"true", "1", "yes"}, {"false", "0", "no", ""}


def param(name: str) -> str | None:
    """A parameter from the query string or, for multipart uploads, the form."""
    value = request.args.get(name)
    return value if value is not None else request.form.get(name)


def flag(name: str) -> bool:
    """A true/false parameter (absent: false); 400 for anything else."""
    raw = (param(name) or "").strip().lower()
    if raw not in TRUE | FALSE:
        raise InvalidParameter(f"{name} must be true or false", parameter=name, value=raw)
    return raw in TRUE


def check_size() -> int:
    """413 when the upload is larger than GIS_APP_MAX_IMPORT_BYTES; the limit in bytes."""
    limit = int(current_app.config["GIS_APP_MAX_IMPORT_BYTES"])
    if request.content_length is not None and request.content_length > limit:
        raise PayloadTooLarge(
            f"The upload is {request.content_length} bytes; at most {limit} are accepted.",
            limit_bytes=limit, size_bytes=request.content_length,
        )  # fmt: skip
    request.max_content_length = limit  # a chunked upload with no length stops at the limit too
    return limit


@contextmanager
def saved_upload(prefix: str = "gis-upload-") -> Iterator[tuple[Path, str]]:
    """(path, file name) of the multipart `file` or the GeoJSON body, deleted afterwards."""
    check_size()
    with tempfile.TemporaryDirectory(prefix=prefix) as folder:
        upload = request.files.get("file")
        if upload is not None and upload.filename:
            path = Path(folder) / (secure_filename(upload.filename) or "upload")
            upload.save(path)
            yield path, upload.filename
        elif request.mimetype in JSON_TYPES:
            path = Path(folder) / "body.geojson"
            path.write_bytes(request.get_data())
            yield path, "request body"
        else:
            raise InvalidParameter(
                "Send a multipart form with a 'file', or a GeoJSON body (application/geo+json).",
                parameter="file",
            )
