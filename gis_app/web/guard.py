"""The request guard: bad bytes are a 400 before any view or driver sees them.

Two checks run before every view. The first, before authentication, looks at what every request
has: the path and the query string must be valid UTF-8 without control characters (NUL, CR,
LF…), header values without control characters. The second, after authentication (so nobody
makes the server parse a large body anonymously), looks at the body: form fields and JSON
strings without NUL, other control characters (tab, LF and CR are text) or lone surrogates,
JSON integers within 64 bits, JSON nesting at most MAX_JSON_DEPTH deep, upload file names at
most MAX_FILE_NAME characters. Text is refused, never truncated or replaced: the message names
the place and the character. JSON nested beyond Python's recursion limit is a 400 through the
app's JSON provider (Flask's default would raise RecursionError: a 500).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import unquote_to_bytes

from flask import Flask, request
from flask.json.provider import DefaultJSONProvider

from gis_app.errors import AppError, InvalidParameter
from gis_app.features.cql import MAX_CHARS as MAX_FILTER_CHARS
from gis_app.strict import INT64_MAX, INT64_MIN, bad_text_char, describe

MAX_JSON_DEPTH = 64  # GeoJSON needs 6 (a FeatureCollection of MultiPolygons)
MAX_CHECKED_JSON_BYTES = 32 * 1024 * 1024  # larger bodies are imports, checked per feature
MAX_FILE_NAME = 255  # as most file systems
MAX_PARAMETER_NAME = 200
# The longest path and query string accepted: a CQL2 filter of features.cql.MAX_CHARS
# characters percent-encoded (up to 6 bytes each, for Cyrillic), and room for the rest.
MAX_URL_BYTES = 6 * MAX_FILTER_CHARS + 8192


class GuardedJSONProvider(DefaultJSONProvider):
    """Flask's JSON provider, but JSON nested too deep is invalid JSON (a 400), not a 500."""

    def loads(self, s: str | bytes, **kwargs: object) -> object:
        """Parse JSON; RecursionError becomes ValueError, which Flask answers with 400."""
        try:
            return json.loads(s, **kwargs)
        except RecursionError:
            raise ValueError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels") from None


def init_app(app: Flask) -> None:
    """Install the JSON provider and the first check; call before access.init_app."""
    provider = GuardedJSONProvider(app)
    provider.ensure_ascii = app.json.ensure_ascii
    provider.sort_keys = app.json.sort_keys
    app.json = provider
    app.before_request(check_url_and_headers)


def init_body_check(app: Flask) -> None:
    """Install the body check; call after access.init_app (it runs after authentication)."""
    app.before_request(check_body)


def _refuse(where: str, name: str, message: str, code: str = "invalid_character", **details):
    return InvalidParameter(
        f"{where} {name!r}: {message}" if name else f"{where}: {message}",
        code=code,
        location=where,
        parameter=name,
        **details,
    )


def _check(value: str, where: str, name: str, wire: bool) -> None:
    char = bad_text_char(value, wire)
    if char is not None:
        raise _refuse(
            where,
            name,
            f"contains {describe(char)}, which is not accepted",
            position=value.index(char),
        )


def _utf8(raw: bytes, where: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _refuse(where, "", "is not valid UTF-8", "invalid_encoding") from None


def check_url_and_headers() -> None:
    """400 when the path, the query string or a header holds bytes no view should see."""
    environ = request.environ
    size = len(environ.get("PATH_INFO", "")) + len(environ.get("QUERY_STRING", ""))
    if size > MAX_URL_BYTES:
        raise AppError(
            f"The URL is {size} bytes; at most {MAX_URL_BYTES} are accepted.",
            code="uri_too_long",
            size_bytes=size,
            limit_bytes=MAX_URL_BYTES,
        ).with_status(414)
    # WSGI gives the path and query as bytes read as latin-1; Werkzeug would replace bad UTF-8
    # with U+FFFD, silently changing what was sent.
    path = _utf8(environ.get("PATH_INFO", "").encode("latin-1", "replace"), "path")
    _check(path, "path", "", wire=True)
    query = environ.get("QUERY_STRING", "").encode("latin-1", "replace")
    for piece in query.split(b"&"):
        if not piece:
            continue
        raw_name, _, raw_value = piece.partition(b"=")
        name = _utf8(unquote_to_bytes(raw_name.replace(b"+", b" ")), "query")
        value = _utf8(unquote_to_bytes(raw_value.replace(b"+", b" ")), "query")
        if len(name) > MAX_PARAMETER_NAME:
            raise _refuse("query", name[:40] + "…", f"a parameter name of {len(name)} characters")
        _check(name, "query parameter name", name, wire=True)
        _check(value, "query parameter", name, wire=False)
    for name, value in request.headers.items():
        # Tab is allowed inside a header value (RFC 9110); nothing else below 0x20.
        _check(value.replace("\t", " "), "header", name, wire=True)


def _json_problems(document: object) -> Iterator[tuple[str, str]]:
    """(JSON pointer, message) of every value the service will not store; stops early."""
    stack: list[tuple[object, str, int]] = [(document, "", 0)]
    while stack:
        node, pointer, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            yield pointer, f"is nested deeper than {MAX_JSON_DEPTH} levels"
            return
        if isinstance(node, str):
            char = bad_text_char(node)
            if char is not None:
                yield pointer, f"contains {describe(char)}, which is not accepted"
        elif isinstance(node, bool) or node is None or isinstance(node, float):
            continue
        elif isinstance(node, int):
            if not INT64_MIN <= node <= INT64_MAX:
                yield pointer, "is a whole number beyond 64 bits"
        elif isinstance(node, dict):
            for key, value in node.items():
                char = bad_text_char(key)
                if char is not None:
                    yield (
                        pointer + "/" + key.encode("unicode_escape").decode(),
                        (f"the key contains {describe(char)}, which is not accepted"),
                    )
                stack.append((value, f"{pointer}/{key}", depth + 1))
        elif isinstance(node, list):
            stack.extend((v, f"{pointer}/{n}", depth + 1) for n, v in enumerate(node))


def check_body() -> None:
    """400 when form fields, file names or JSON values of the body hold what is not stored."""
    if request.method in ("GET", "HEAD", "OPTIONS") or request.endpoint is None:
        return
    mimetype = request.mimetype
    if mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        for name, value in request.form.items(multi=True):
            _check(name, "form field name", name, wire=True)
            _check(value, "form field", name, wire=False)
        for name, upload in request.files.items(multi=True):
            file_name = upload.filename or ""
            if len(file_name) > MAX_FILE_NAME:
                raise _refuse(
                    "file name of",
                    name,
                    f"is {len(file_name)} characters, more than {MAX_FILE_NAME}",
                    "file_name_too_long",
                )
            _check(file_name, "file name of", name, wire=True)
    elif request.is_json:
        length = request.content_length
        if length is not None and length > MAX_CHECKED_JSON_BYTES:
            return
        document = request.get_json(silent=True)
        for pointer, message in _json_problems(document):
            raise InvalidParameter(
                f"JSON body at {pointer or '/'}: {message}",
                code="invalid_json_value",
                location="json",
                pointer=pointer or "/",
            )
