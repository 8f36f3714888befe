"""Errors of the incident workflow, in the one error shape of gis_app.errors."""

from __future__ import annotations

from gis_app.errors import AppError, Conflict, Forbidden, InvalidParameter, NotFound

__all__ = [
    "Conflict",
    "Forbidden",
    "IncidentNotFound",
    "InvalidParameter",
    "PreconditionFailed",
    "PreconditionRequired",
    "TransitionNotAllowed",
]


class IncidentNotFound(NotFound):
    """No incident has this id (404)."""

    code = "incident_not_found"


class TransitionNotAllowed(Conflict):
    """The lifecycle has no such move from the incident's status (409)."""

    code = "transition_not_allowed"


class PreconditionFailed(AppError):
    """If-Match names a version that is no longer current: someone changed it first (412)."""

    status = 412
    code = "precondition_failed"


class PreconditionRequired(AppError):
    """A write came without If-Match, so it could overwrite a change it never saw (428)."""

    status = 428
    code = "precondition_required"
