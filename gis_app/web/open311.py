"""Open311 GeoReport v2 under /open311/v2, so citizen apps and feedback platforms send reports in.

JSON only: the specification makes XML the required format, and this service declares that it
does not serve it (discovery lists JSON only; a .xml URL answers 400). Services are the utilities.
Errors are the specification's list of {code, description}. Reading is public (no contact data is
shown); POST needs an api_key from GIS_APP_OPEN311_API_KEYS. A posted request is routed like any
incident but stays `new` for a dispatcher to check (FOR_TRIAGE), with the operator proposed.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from flask import Blueprint, current_app, jsonify, request

from gis_app.db import get_session
from gis_app.errors import AppError
from gis_app.incidents import queries
from gis_app.incidents import validate as v
from gis_app.incidents.create import DuplicatePolicy, create_incident
from gis_app.layers import layer_registry
from gis_app.utilities import list_utilities
from gis_app.web.access import public

bp = Blueprint("open311", __name__, url_prefix="/open311/v2")

CLOSED = {"resolved", "closed", "duplicate"}
MAX_ROWS = 1000
MAX_DAYS = 90


class Open311Error(AppError):
    """An error answered in the specification's format."""


def _errors(status: int, description: str):
    response = jsonify([{"code": status, "description": description}])
    response.status_code = status
    return response


@bp.errorhandler(AppError)
def _app_error(exc: AppError):
    return _errors(exc.status, exc.message)


def _services(session) -> list[dict]:
    return [
        {
            "service_code": u["code"],
            "service_name": u["name_ru"],
            "description": f"{u['name_ru']} / {u['name_en']}: авария, утечка, отключение",
            "metadata": True,
            "type": "realtime",
            "keywords": u["code"],
            "group": "ЖКХ",
        }
        for u in list_utilities(session)
    ]


@bp.get("/discovery.json")
@public
def discovery():
    """Where the endpoint is and what it speaks (JSON only)."""
    return {
        "changeset": "2026-11-26T00:00:00Z",
        "contact": "ЦУР Ленинградской области",
        "key_service": "API keys are issued by the service's administrator.",
        "endpoints": [
            {
                "specification": "http://wiki.open311.org/GeoReport_v2",
                "url": request.url_root.rstrip("/") + bp.url_prefix,
                "changeset": "2026-11-26T00:00:00Z",
                "type": "production",
                "formats": ["application/json"],
            }
        ],
    }


@bp.get("/services.json")
@public
def services():
    """The services: one per utility."""
    return jsonify(_services(get_session()))


@bp.get("/services/<code>.json")
@public
def service_definition(code: str):
    """The attributes a request of this service may carry."""
    if code not in {s["service_code"] for s in _services(get_session())}:
        return _errors(404, f"service_code {code!r} not found")
    return {
        "service_code": code,
        "attributes": [
            {
                "variable": True,
                "code": "kind",
                "datatype": "singlevaluelist",
                "required": False,
                "datatype_description": "one of the keys",
                "order": 1,
                "description": "Вид события / kind of event",
                "values": [
                    {"key": "accident", "name": "Авария / accident"},
                    {"key": "incident", "name": "Инцидент / incident"},
                ],
            }
        ],
    }


def _as_request(incident: dict) -> dict:
    status = incident["status"]
    notice = ""
    if incident["duplicate_of"]:
        notice = f"duplicate of {incident['duplicate_of']}"
    elif incident["planned_outage"]:
        notice = f"planned outage: {incident['planned_outage']['title']}"
    return {
        "service_request_id": str(incident["id"]),
        "status": "closed" if status in CLOSED else "open",
        "status_notes": status.upper(),
        "service_name": incident["utility"],
        "service_code": incident["utility"],
        "description": incident["description"],
        "agency_responsible": (incident["operator"] or {}).get("name"),
        "service_notice": notice,
        "requested_datetime": incident["reported_at"],
        "updated_datetime": incident["updated_at"],
        "expected_datetime": incident["expected_at"] or incident["resolve_due_at"],
        "address": incident["address"],
        "address_id": None,
        "zipcode": None,
        "lat": incident["lat"],
        "long": incident["lon"],
        "media_url": None,
    }


def _date(name: str) -> datetime | None:
    try:
        return v.timestamp(request.args.get(name), name)
    except AppError as exc:
        raise Open311Error(exc.message) from None


@bp.get("/requests.json")
@public
def request_list():
    """Requests, newest first: by service_request_id, or service_code, dates and status."""
    session = get_session()
    ids = request.args.get("service_request_id")
    if ids:
        try:
            wanted = [int(x) for x in ids.split(",") if x.strip()]
        except ValueError:
            raise Open311Error("service_request_id must be a comma list of ids") from None
        f = queries.IncidentFilter(ids=wanted, limit=MAX_ROWS)
    else:
        end = _date("end_date") or datetime.now(UTC)
        start = _date("start_date") or end - timedelta(days=MAX_DAYS)
        if end - start > timedelta(days=MAX_DAYS) or start > end:
            raise Open311Error(f"start_date..end_date must span 0 to {MAX_DAYS} days")
        status = request.args.get("status")
        if status not in (None, "", "open", "closed"):
            raise Open311Error("status must be open or closed")
        code = request.args.get("service_code")
        if code and code not in {s["service_code"] for s in _services(session)}:
            raise Open311Error(f"unknown service_code {code!r}")
        open_ = ["new", "assigned", "accepted", "in_progress", "rejected"]
        f = queries.IncidentFilter(
            statuses=(open_ if status == "open" else sorted(CLOSED)) if status else None,
            utilities=[code] if code else None,
            reported_from=start,
            reported_to=end,
            limit=MAX_ROWS,
        )
    return jsonify([_as_request(i) for i in queries.list_incidents(session, f)])


@bp.get("/requests/<int:request_id>.json")
@public
def request_detail(request_id: int):
    """One request, as a list of one (as the specification has it)."""
    incident = queries.get_incident(get_session(), request_id)
    if incident is None:
        return _errors(404, f"service_request_id {request_id} not found")
    return jsonify([_as_request(incident)])


def _checked_key() -> None:
    sent = request.form.get("api_key", "")
    keys = [k.strip() for k in current_app.config["GIS_APP_OPEN311_API_KEYS"].split(",")]
    if not sent or not any(k and secrets.compare_digest(sent, k) for k in keys):
        raise Open311Error("api_key is missing or not valid")


@bp.post("/requests.json")
@public
def request_create():
    """Create a request (form-encoded, api_key required); it waits for a dispatcher's triage."""
    try:
        _checked_key()
    except Open311Error as exc:
        return _errors(403, exc.message)
    form = request.form
    session = get_session()
    if not form.get("lat") or not form.get("long"):
        raise Open311Error("lat and long are required (address_string is not geocoded here)")
    parts = (form.get(k, "").strip() for k in ("first_name", "last_name", "phone", "email"))
    contact = " ".join(p for p in parts if p)
    service = form.get("service_code")
    payload = {
        "lon": form.get("long"),
        "lat": form.get("lat"),
        "utility": service,
        "kind": form.get("attribute[kind]") or "incident",
        "description": form.get("description") or f"Open311: {service}",
        "address": form.get("address_string") or None,
        "reporter_contact": contact[: v.MAX_SHORT_TEXT] or None,
        "assign": False,
    }
    data = v.create_payload(session, payload)
    policy = DuplicatePolicy.from_config(current_app.config)
    incident_id = create_incident(
        session, layer_registry(), None, data, source="open311", policy=policy
    )
    session.commit()
    incident = _as_request(queries.get_incident(session, incident_id))
    body = [
        {
            "service_request_id": incident["service_request_id"],
            "service_notice": incident["service_notice"],
            "account_id": None,
        }
    ]
    return jsonify(body), 201


@bp.route("/<path:anything>.xml", methods=["GET", "POST"])
@public
def xml_not_served(anything: str):
    """XML is not served: a declared deviation from the specification."""
    return _errors(400, "format xml is not served by this endpoint; use .json")
