"""Errors of the incident workflow (the generic ones are in gis_app.errors)."""

from __future__ import annotations

from gis_app.errors import Conflict, NotFound


class IncidentNotFound(NotFound):
    """No incident has this id (404)."""

    code = "incident_not_found"


class TransitionNotAllowed(Conflict):
    """The lifecycle has no such move from the incident's status (409)."""

    code = "transition_not_allowed"
