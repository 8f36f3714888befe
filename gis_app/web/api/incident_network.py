"""An incident's network answers: the trace from its feature, filling what it cuts off, and
linking it to the incident that caused it (the cascade)."""

from __future__ import annotations

from flask import request

from gis_app.db import get_session
from gis_app.errors import InvalidParameter
from gis_app.incidents import queries
from gis_app.incidents.cut_off import fill_cut_off, incident_trace_json, link_caused_by
from gis_app.incidents.errors import IncidentNotFound
from gis_app.network.traces import TRACE_TYPES
from gis_app.web.access import require_role
from gis_app.web.api import api
from gis_app.web.params import parse_if_match_version


def _type(raw: str | None) -> str:
    trace_type = raw or "isolation"
    if trace_type not in TRACE_TYPES:
        raise InvalidParameter(
            f"type must be one of {list(TRACE_TYPES)}",
            code="invalid_trace_type",
            parameter="type",
            allowed=list(TRACE_TYPES),
        )
    return trace_type


def _incident_answer(incident_id: int):
    incident = queries.get_incident(get_session(), incident_id)
    if incident is None:
        raise IncidentNotFound(f"Incident {incident_id} does not exist.", incident_id=incident_id)
    return incident, 200, {"ETag": f'"{incident["version"]}"', "Cache-Control": "no-store"}


@api.get("/incidents/<int:incident_id>/trace")
def incident_trace_view(incident_id: int):
    """The trace from the incident's feature (or the nearest of its utility), as GeoJSON."""
    answer = incident_trace_json(get_session(), incident_id, _type(request.args.get("type")))
    return answer, 200, {"Content-Type": "application/geo+json"}


@api.post("/incidents/<int:incident_id>/cut-off")
def incident_cut_off(incident_id: int):
    """Fill consumers, social objects, settlements and utilities cut off from the trace
    (If-Match required); the incident answers with `cut_off_computed`."""
    identity = require_role("admin", "dispatcher")
    body = request.get_json(silent=True) if request.content_length else {}
    if not isinstance(body, dict):
        raise InvalidParameter("The body must be a JSON object.", code="invalid_body")
    session = get_session()
    fill_cut_off(
        session,
        identity.username,
        incident_id,
        parse_if_match_version(request.headers.get("If-Match")),
        _type(body.get("type")),
    )
    session.commit()
    return _incident_answer(incident_id)


@api.post("/incidents/<int:incident_id>/caused-by")
def incident_caused_by(incident_id: int):
    """Link the incident to the one that caused it: {"caused_by": id} (null unlinks)."""
    identity = require_role("admin", "dispatcher")
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or "caused_by" not in body:
        raise InvalidParameter('The body must be {"caused_by": <incident id or null>}.',
                               code="invalid_body")  # fmt: skip
    cause = body["caused_by"]
    if cause is not None and (isinstance(cause, bool) or not isinstance(cause, int)):
        raise InvalidParameter("caused_by must be an incident id or null", parameter="caused_by")
    session = get_session()
    if cause is not None and queries.get_incident(session, cause) is None:
        raise IncidentNotFound(f"Incident {cause} does not exist.", incident_id=cause)
    link_caused_by(session, identity.username, incident_id, cause)
    session.commit()
    return _incident_answer(incident_id)
