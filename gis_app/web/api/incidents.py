"""Incidents: create, read, list (JSON and GeoJSON), change, move through the lifecycle.

Writes need If-Match with the ETag of the version the client saw: 412 when it is stale, 428
when it is missing. Views parse, call gis_app.incidents, commit, and answer.
"""

from __future__ import annotations

from flask import Response, current_app, request, url_for

from gis_app.db import get_session
from gis_app.errors import InvalidParameter
from gis_app.incidents import lifecycle, notify, queries
from gis_app.incidents import validate as v
from gis_app.incidents.create import DuplicatePolicy, create_incident
from gis_app.incidents.errors import IncidentNotFound
from gis_app.layers import layer_registry
from gis_app.models import INCIDENT_STATUSES
from gis_app.places.municipalities import municipality_ids
from gis_app.utilities import utility_codes
from gis_app.web.access import current_identity
from gis_app.web.api import api
from gis_app.web.params import parse_bbox, parse_if_match_version, parse_int

GEOJSON = "application/geo+json"


def etag(incident: dict) -> str:
    """The ETag of an incident: its version, quoted."""
    return f'"{incident["version"]}"'


def if_match_version() -> int:
    """The version named by this request's If-Match (see params.parse_if_match_version)."""
    return parse_if_match_version(request.headers.get("If-Match"))


def policy() -> DuplicatePolicy:
    """Duplicate distance and time window of the app's settings."""
    return DuplicatePolicy.from_config(current_app.config)


def _answer(incident_id: int, status: int = 200):
    incident = queries.get_incident(get_session(), incident_id)
    if incident is None:
        raise IncidentNotFound(f"Incident {incident_id} does not exist.", incident_id=incident_id)
    headers = {"ETag": etag(incident), "Cache-Control": "no-store"}
    if status == 201:
        headers["Location"] = url_for("api.incident_detail", incident_id=incident_id)
    return incident, status, headers


def _list_param(name: str, allowed: list[str] | tuple[str, ...], code: str) -> list[str] | None:
    values = [s for s in request.args.get(name, "").split(",") if s]
    unknown = sorted(set(values) - set(allowed))
    if unknown:
        raise InvalidParameter(
            f"unknown {name} {unknown}", code=code, parameter=name, allowed=list(allowed)
        )
    return values or None


def _municipality_param(session) -> list[int] | None:
    """`municipality`: one or several slugs or ids, comma-separated; each must exist."""
    raw = [r for r in request.args.get("municipality", "").split(",") if r]
    if not raw:
        return None
    found = municipality_ids(session, raw)
    missing = [r for r in raw if r not in found]
    if missing:
        raise InvalidParameter(
            f"unknown municipality {missing[0]!r}",
            code="unknown_municipality",
            parameter="municipality",
            value=missing[0],
        )
    return sorted(set(found.values()))


def _bool_param(name: str) -> bool | None:
    raw = request.args.get(name)
    if raw in (None, ""):
        return None
    if raw not in ("true", "false"):
        raise InvalidParameter(f"{name} must be true or false", parameter=name, value=raw)
    return raw == "true"


def _filter(default_limit: int) -> queries.IncidentFilter:
    session = get_session()
    try:
        reported_from = v.timestamp(request.args.get("from"), "from")
        reported_to = v.timestamp(request.args.get("to"), "to")
    except InvalidParameter as exc:
        exc.code = "invalid_time"
        raise
    return queries.IncidentFilter(
        statuses=_list_param("status", INCIDENT_STATUSES, "invalid_status"),
        utilities=_list_param("utility", utility_codes(session), "unknown_utility"),
        operator_id=(
            parse_int(request.args.get("operator"), "operator", 0, 1, 2**31)
            if request.args.get("operator")
            else None
        ),
        municipality_ids=_municipality_param(session),
        search=(request.args.get("q") or "").strip()[:200] or None,
        sort=_list_param("sort", queries.SORTS, "invalid_sort")[0]
        if request.args.get("sort")
        else "id",
        bbox=parse_bbox(request.args.get("bbox")),
        reported_from=reported_from,
        reported_to=reported_to,
        overdue=_bool_param("overdue"),
        after_id=(
            parse_int(request.args.get("after"), "after", 0, 1, 2**62)
            if request.args.get("after")
            else None
        ),
        limit=parse_int(request.args.get("limit"), "limit", default_limit, 1, 10000),
    )


@api.get("/incidents")
def incident_list():
    """Incidents as JSON, newest first (or `sort=urgency`); filters: status, utility, operator,
    municipality (one or several, comma-separated), q (a number or words of the address), bbox,
    from, to, overdue; paged by `after` (the last id, with the default sort)."""
    f = _filter(100)
    items = queries.list_incidents(get_session(), f)
    links = []
    if len(items) == f.limit and f.sort == "id":
        args = {**request.args.to_dict(), "after": items[-1]["id"]}
        links.append({"rel": "next", "href": url_for("api.incident_list", _external=True, **args)})
    return {"incidents": items, "numberReturned": len(items), "links": links}


@api.get("/incidents.geojson")
def incidents():
    """The same list as GeoJSON points (the map refreshes it)."""
    f = _filter(1000)
    items = queries.list_incidents(get_session(), f)
    fc = {
        "type": "FeatureCollection",
        "features": [queries.as_feature(i) for i in items],
        "numberReturned": len(items),
    }
    return fc, 200, {"Content-Type": GEOJSON, "Cache-Control": "no-store"}


@api.post("/incidents")
def incident_create():
    """Create an incident (dispatchers of its municipality, admins); 201 with Location and ETag."""
    actor = current_identity()
    session = get_session()
    data = v.create_payload(session, request.get_json(silent=True))
    incident_id = create_incident(session, layer_registry(), actor, data, policy=policy())
    session.commit()
    return _answer(incident_id, 201)


@api.get("/incidents/<int:incident_id>")
def incident_detail(incident_id: int):
    """One incident with its ETag; 304 when If-None-Match names its version (the live card)."""
    incident, status, headers = _answer(incident_id)
    if request.if_none_match.contains_weak(etag(incident).strip('"')):
        return "", 304, headers
    return incident, status, headers


@api.patch("/incidents/<int:incident_id>")
def incident_patch(incident_id: int):
    """Change fields (If-Match required)."""
    session = get_session()
    lifecycle.update(
        session, current_identity(), incident_id, if_match_version(), request.get_json(silent=True)
    )
    session.commit()
    return _answer(incident_id)


@api.post("/incidents/<int:incident_id>/<action>")
def incident_action(incident_id: int, action: str):
    """A lifecycle move: assign, reassign, accept, start, resolve, reject, close, reopen,
    duplicate."""
    session = get_session()
    body = request.get_json(silent=True) if request.content_length else {}
    if body is None:
        raise InvalidParameter("The body must be a JSON object.", code="invalid_body")
    if action not in lifecycle.MOVES:
        raise InvalidParameter(
            f"Unknown action '{action}'.",
            code="unknown_action",
            action=action,
            allowed=sorted(lifecycle.MOVES),
        )
    lifecycle.transition(session, current_identity(), incident_id, action, if_match_version(), body)
    session.commit()
    return _answer(incident_id)


@api.get("/incidents/<int:incident_id>/events")
def incident_events(incident_id: int):
    """The incident's history: who, when, from, to, comment (notifications included)."""
    _answer(incident_id)
    return {"events": queries.events(get_session(), incident_id)}


@api.get("/incidents/<int:incident_id>/notifications")
def incident_notifications(incident_id: int):
    """The messages sent (or still to send) about the incident, and their state."""
    _answer(incident_id)
    rows = notify.deliveries(get_session(), incident_id)
    for row in rows:
        for key in ("created_at", "next_attempt_at", "sent_at"):
            row[key] = row[key].isoformat() if row[key] else None
    return {"notifications": rows}


@api.get("/incidents/<int:incident_id>/duplicates")
def incident_duplicates(incident_id: int):
    """The reports linked to this incident as duplicates."""
    _answer(incident_id)
    items = queries.list_incidents(
        get_session(), queries.IncidentFilter(duplicate_of=incident_id, limit=1000)
    )
    return {"incidents": items, "numberReturned": len(items)}


# The statuses the map draws by default (closed and duplicate ones are off the map).
MAP_STATUSES = ("new", "assigned", "accepted", "in_progress", "resolved", "rejected")


@api.get("/incidents/map.geojson")
def incident_points():
    """Open incidents as light points for the map, with an ETag: an unchanged set answers 304,
    so the map's refresh costs one small query when nothing happened."""
    statuses = _list_param("status", INCIDENT_STATUSES, "invalid_status") or list(MAP_STATUSES)
    session = get_session()
    etag = '"' + queries.map_points_stamp(session, statuses) + '"'
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if etag in request.headers.get("If-None-Match", ""):
        return Response(status=304, headers=headers)
    body = queries.map_points_geojson(session, statuses)
    return Response(body, mimetype="application/geo+json", headers=headers)
