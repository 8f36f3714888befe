"""The errors the service raises: each carries an HTTP status and a code; gis_app/web/errors.py
answers them in one JSON shape {"status", "code", "message", "details"}."""

from __future__ import annotations


class AppError(Exception):
    """An error the client caused or must know about; carries an HTTP status and a code."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, code: str | None = None, **details: object) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.details = details


class InvalidParameter(AppError):
    """A query parameter or body field is malformed (400)."""

    status = 400
    code = "invalid_parameter"


class NotFound(AppError):
    """The named resource does not exist (404)."""

    status = 404
    code = "not_found"


class Unauthorized(AppError):
    """No valid login or API token (401)."""

    status = 401
    code = "unauthorized"


class Forbidden(AppError):
    """Authenticated, but the role or organisation may not do this (403)."""

    status = 403
    code = "forbidden"


class Conflict(AppError):
    """The request conflicts with the current state (409)."""

    status = 409
    code = "conflict"


class PayloadTooLarge(AppError):
    """An upload is larger than the configured limit (413)."""

    status = 413
    code = "payload_too_large"


class ImportFailed(AppError):
    """Uploaded data failed validation; nothing was written (422)."""

    status = 422
    code = "import_failed"


class PreconditionFailed(AppError):
    """If-Match names a version that is no longer current: someone changed it first (412)."""

    status = 412
    code = "precondition_failed"


class PreconditionRequired(AppError):
    """A write came without If-Match, so it could overwrite a change it never saw (428)."""

    status = 428
    code = "precondition_required"
