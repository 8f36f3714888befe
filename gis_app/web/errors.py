"""The error handlers: every JSON error has one shape {"status", "code", "message", "details"};
map pages render templates/error.html."""

from __future__ import annotations

import logging

import sqlalchemy.exc
from flask import Flask, Response, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from gis_app.db import DBAPIError, database_unavailable
from gis_app.errors import AppError

log = logging.getLogger(__name__)


def error_body(status: int, code: str, message: str, details: dict | None = None) -> dict:
    """The JSON body of every error answer."""
    return {"status": status, "code": code, "message": message, "details": details or {}}


def _wants_html() -> bool:
    if request.path.startswith(("/api/", "/ogc", "/tiles", "/open311", "/vendor", "/static")):
        return False
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "text/html"


def _respond(status: int, code: str, message: str, details: dict | None = None) -> Response:
    if _wants_html():
        html = render_template("error.html", status=status, code=code, message=message)
        return Response(html, status=status, mimetype="text/html")
    body = error_body(status, code, message, details)
    if request.path.startswith(("/ogc", "/tiles")):
        # OGC API exceptions are {"code", "description"}: the same body, with the message twice.
        body["description"] = message
    response = jsonify(body)
    response.status_code = status
    return response


RETRY_AFTER_S = 5


def register_error_handlers(app: Flask) -> None:
    """Answer AppError, HTTP errors and unexpected exceptions in the one shape."""

    @app.errorhandler(AppError)
    def _app_error(exc: AppError):
        response = _respond(exc.status, exc.code, exc.message, exc.details)
        if exc.status == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="gis_app"'
        if exc.status == 429 and "retry_after_s" in exc.details:
            response.headers["Retry-After"] = str(exc.details["retry_after_s"])
        return response

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        code = (exc.name or "error").lower().replace(" ", "_")
        response = _respond(exc.code or 500, code, exc.description or exc.name)
        if exc.code == 405 and exc.valid_methods:
            response.headers["Allow"] = ", ".join(exc.valid_methods)
        return response

    @app.errorhandler(sqlalchemy.exc.TimeoutError)
    def _pool_exhausted(exc: sqlalchemy.exc.TimeoutError):
        # Every pooled connection is busy for GIS_APP_DB_POOL_TIMEOUT_S: a clear 503, not a hang.
        log.warning("database pool exhausted on %s %s", request.method, request.path)
        response = _respond(
            503, "database_busy", "All database connections are busy; try again shortly."
        )
        response.headers["Retry-After"] = "2"
        return response

    @app.errorhandler(DBAPIError)
    def _database_error(exc: DBAPIError):
        if not database_unavailable(exc):
            return _unexpected(exc)
        # One line per failure: while PostgreSQL restarts every request fails the same way,
        # and a traceback each would bury the log.
        reason = str(getattr(exc, "orig", exc) or type(exc).__name__).strip().splitlines()
        log.warning(
            "database unavailable on %s %s: %s",
            request.method,
            request.path,
            reason[0] if reason else type(exc).__name__,
        )
        response = _respond(
            503,
            "database_unavailable",
            "The database is unavailable (restarting or unreachable); try again shortly.",
            {"retry_after_s": RETRY_AFTER_S},
        )
        response.headers["Retry-After"] = str(RETRY_AFTER_S)
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        # Never send SQL or driver text to the client; the log keeps the traceback.
        log.exception("unhandled error on %s %s", request.method, request.path)
        return _respond(500, "internal_error", "Internal server error.")
