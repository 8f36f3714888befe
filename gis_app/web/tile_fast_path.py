"""The common tile request answered beside Flask, not through it: a map draws dozens of tiles a
second, and at z14 Flask's request machinery (contexts, routing, the hooks, the Response object)
cost more CPU than the tile's statement (docs/scaling.md, "Tiles beside tipg").

A WSGI middleware in front of the app. It takes only the plainest tile request: GET
/tiles/<layer>/<z>/<x>/<y>.mvt with no query but the TileJSON's `v`, no conditional header, a
Bearer/Basic token or the login's session cookie, clean header bytes, a known layer and a valid
tile. It runs what the tile view runs (the same Session routing, `features.tiles.tile_answer`,
`accounts.credentials.confirmed_identity`, the same ETag, Cache-Control and headers) and answers
only a 200. Everything else, and every request whose answer would not be a plain 200 (credentials
refused, a login held to a password change), goes on to Flask untouched, which answers it exactly
as before; a database error is answered by the app's own error handlers (503 with Retry-After).
The fast path owns no error, no rule and no SQL of its own.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from flask import Flask
from itsdangerous import BadSignature
from werkzeug.http import http_date, parse_accept_header, parse_cookie

from gis_app.accounts.credentials import Credentials, confirmed_identity
from gis_app.db import WROTE_COOKIE, close_session, open_session, wrote_recently
from gis_app.features.tiles import tile_answer
from gis_app.strict import bad_text_char
from gis_app.web.access import authorization_credentials
from gis_app.web.streaming import gzipped, make_etag
from gis_app.web.tiles import MAX_ZOOM, MIN_ZOOM, MVT, _version

_TILE_PATH = re.compile(r"/tiles/(\w{1,100})/([0-9]{1,2})/([0-9]{1,7})/([0-9]{1,7})\.mvt", re.ASCII)
_QUERY = re.compile(r"(?:v=([0-9a-f]{12}))?")
# Headers whose presence sends the request to Flask: a revalidation (304 or not) is cheap there.
_CONDITIONAL = ("HTTP_IF_NONE_MATCH", "HTTP_IF_MODIFIED_SINCE")

Answer = tuple[str, list[tuple[str, str]], bytes]


class TileFastPath:
    """WSGI middleware: plain tile GETs answered without Flask's request machinery (see above)."""

    def __init__(self, app: Flask, wsgi_app: Callable) -> None:
        self.app, self.wsgi_app = app, wsgi_app
        self._serializer = None

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        """Answer a plain tile request here; hand every other request to the app."""
        if environ.get("REQUEST_METHOD") == "GET" and environ.get("PATH_INFO", "")[:7] == "/tiles/":
            try:
                answer = self._answer(environ)
            except Exception as exc:  # answered by the app's error handlers
                return self._failure(environ, exc)(environ, start_response)
            if answer is not None:
                status, headers, body = answer
                start_response(status, headers)
                return [body]
        return self.wsgi_app(environ, start_response)

    def _failure(self, environ: dict, exc: Exception) -> Callable:
        """The app's answer to an error of the tile statement (a lost database: 503 with
        Retry-After; a full pool: 503 after one wait, not two), made by its own error handlers
        and after-request hooks, as if the view had raised it."""
        with self.app.request_context(environ):
            return self.app.finalize_request(self.app.handle_user_exception(exc))

    def _answer(self, environ: dict) -> Answer | None:
        """The 200 of a plain tile request, or None: Flask answers it."""
        path = _TILE_PATH.fullmatch(environ["PATH_INFO"])
        query = _QUERY.fullmatch(environ.get("QUERY_STRING", ""))
        if path is None or query is None or any(h in environ for h in _CONDITIONAL):
            return None
        config = self.app.config
        if float(config["GIS_APP_AUTH_CACHE_S"]) > 0:  # identities remembered: the view's way
            return None
        layer = self.app.extensions["gis_app"].get(path.group(1))
        z, x, y = int(path.group(2)), int(path.group(3)), int(path.group(4))
        if layer is None or z > MAX_ZOOM or x >= 2**z or y >= 2**z or not _clean(environ):
            return None
        cookies = parse_cookie(environ.get("HTTP_COOKIE", ""))
        found = self._credentials(environ, cookies)
        if found is None:
            return None
        credentials, username, by_cookie = found
        session = open_session(
            self.app, not wrote_recently(self.app, cookies.get(WROTE_COOKIE)), single=True
        )
        try:
            answer = tile_answer(session, layer, z, x, y, credentials, with_tile=z >= MIN_ZOOM)
            identity = confirmed_identity(session, answer.who)
        except Exception:
            close_session(session, rollback=True)
            raise
        close_session(session)
        if identity is None or identity.must_change_password:
            return None  # refused: Flask answers the 401 or 403
        if username is not None and username.casefold() != identity.username.casefold():
            return None
        return self._tile(environ, answer, layer.id, (z, x, y), query.group(1), by_cookie)

    def _credentials(
        self, environ: dict, cookies: dict
    ) -> tuple[Credentials, str | None, bool] | None:
        """(credentials, user named beside a token, by the session cookie) as access.py reads
        them; None when there are none or they are malformed (Flask answers that)."""
        header = environ.get("HTTP_AUTHORIZATION", "")
        if header:
            try:
                username, token = authorization_credentials(header)
            except Exception:
                return None
            return Credentials(token=token), username, False
        value = cookies.get(self.app.config["SESSION_COOKIE_NAME"])
        if not value:
            return None
        # Flask's own session reading (SecureCookieSessionInterface.open_session).
        if self._serializer is None:
            self._serializer = self.app.session_interface.get_signing_serializer(self.app)
        if self._serializer is None:
            return None
        max_age = int(self.app.permanent_session_lifetime.total_seconds())
        try:
            data = self._serializer.loads(value, max_age=max_age)
        except BadSignature:
            return None
        if not isinstance(data, dict) or "user_id" not in data:
            return None
        return Credentials(user_id=data["user_id"], session_version=data.get("sv", -1)), None, True

    def _tile(self, environ, answer, layer_id, zxy, version, by_cookie) -> Answer:
        """The tile view's 200, byte for byte: body, validators, cache policy and headers."""
        z, x, y = zxy
        data = answer.mvt if z >= MIN_ZOOM and answer.mvt is not None else b""
        headers = [("Content-Type", MVT)]
        accepted = environ.get("HTTP_ACCEPT_ENCODING")
        gzip = bool(accepted) and parse_accept_header(accepted)["gzip"] > 0
        if gzip:
            data = gzipped(data)
        headers.append(("Content-Length", str(len(data))))
        if gzip:
            headers.append(("Content-Encoding", "gzip"))
        # Flask adds Cookie to Vary when the view's request read the session (a login's tile).
        vary = "Accept-Encoding, Accept, Cookie" if by_cookie else "Accept-Encoding, Accept"
        current = version is not None and version == _version(answer.tag)
        headers += [
            ("Vary", vary),
            ("Cache-Control", "public, max-age=86400" if current else "no-cache"),
            ("ETag", make_etag(answer.tag, layer_id, z, x, y)),
        ]
        if answer.changed is not None:
            headers.append(("Last-Modified", http_date(answer.changed)))
        headers.append(("X-Content-Type-Options", "nosniff"))
        return "200 OK", headers, data


def _clean(environ: dict) -> bool:
    """No header value holds a byte the request guard refuses (guard.check_url_and_headers)."""
    for key, value in environ.items():
        if key.startswith("HTTP_") or key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            if bad_text_char(value.replace("\t", " "), wire=True) is not None:
                return False
    return True
