"""Open311 GeoReport v2 under /open311/v2, so citizen apps and feedback platforms send reports in.

XML (the specification's required format) and JSON with the same content: every path ends in
.xml or .json (gis_app/web/open311_xml.py writes the XML). Services are the utilities.
Errors are the specification's list of {code, description}. Reading is public, but the public
(no login, no token, no api_key) reads a summary: the description a dispatcher approved for the
public (public_summary) or the service name alone, the point rounded to 3 decimals, no address.
POST needs an api_key from GIS_APP_OPEN311_API_KEYS. A posted request is routed like any
incident but stays `new` for a dispatcher to check (FOR_TRIAGE), with the operator proposed; a
request with only address_string is placed by the address search (gis_app/addresses).
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from flask import Blueprint, Response, current_app, g, jsonify, request

from gis_app import strict
from gis_app.addresses import Geocoded, geocode
from gis_app.db import get_session
from gis_app.errors import AppError
from gis_app.incidents import queries
from gis_app.incidents import validate as v
from gis_app.incidents.create import DuplicatePolicy, create_incident
from gis_app.incidents.geocoded import record_geocoding
from gis_app.layers import layer_registry
from gis_app.utilities import list_utilities
from gis_app.web.access import public
from gis_app.web.open311_xml import to_xml

bp = Blueprint("open311", __name__, url_prefix="/open311/v2")

CLOSED = {"resolved", "closed", "duplicate"}
MAX_ROWS = 1000
MAX_DAYS = 90


class Open311Error(AppError):
    """An error answered in the specification's format."""


def _wants_xml() -> bool:
    return request.path.endswith(".xml")


def _answer(data: object, root: str, status: int = 200) -> Response:
    """JSON, or the same content as XML under `root` when the path ends in .xml."""
    if _wants_xml():
        return Response(to_xml(root, data), status=status, mimetype="text/xml")
    response = jsonify(data)
    response.status_code = status
    return response


def _errors(status: int, description: str):
    return _answer([{"code": status, "description": description}], "errors", status)


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


@bp.get("/discovery.<any(json, xml):fmt>")
@public
def discovery(fmt: str):
    """Where the endpoint is and what it speaks (XML and JSON)."""
    data = {
        "changeset": "2026-11-26T00:00:00Z",
        "contact": "ЦУР Ленинградской области",
        "key_service": "API keys are issued by the service's administrator.",
        "endpoints": [
            {
                "specification": "http://wiki.open311.org/GeoReport_v2",
                "url": request.url_root.rstrip("/") + bp.url_prefix,
                "changeset": "2026-11-26T00:00:00Z",
                "type": "production",
                "formats": ["text/xml", "application/json"],
            }
        ],
    }
    return _answer(data, "discovery")


@bp.get("/services.<any(json, xml):fmt>")
@public
def services(fmt: str):
    """The services: one per utility."""
    return _answer(_services(get_session()), "services")


@bp.get("/services/<code>.<any(json, xml):fmt>")
@public
def service_definition(code: str, fmt: str):
    """The attributes a request of this service may carry."""
    if code not in {s["service_code"] for s in _services(get_session())}:
        return _errors(404, f"service_code {code!r} not found")
    data = {
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
    return _answer(data, "service_definition")


PUBLIC_DECIMALS = 3  # about 110 m north-south, 60 m east-west here: the street, not the door


def _full_view() -> bool:
    """Staff (a login or an API token) and key holders see everything; the public a summary."""
    if g.get("identity") is not None:
        return True
    sent = request.args.get("api_key", "")
    return bool(sent) and _key_is_valid(sent)


def _as_request(incident: dict, full: bool, names: dict[str, str]) -> dict:
    """The incident as an Open311 request; without `full`, what the public may read: the
    summary a dispatcher approved (or the service name alone), the point rounded, no address.
    A caller's own words may carry names and phone numbers (FixMyStreet moderates the same)."""
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
        "description": (
            incident["description"]
            if full
            else incident["public_summary"] or names.get(incident["utility"], incident["utility"])
        ),
        "agency_responsible": (incident["operator"] or {}).get("name"),
        "service_notice": notice,
        "requested_datetime": incident["reported_at"],
        "updated_datetime": incident["updated_at"],
        "expected_datetime": incident["expected_at"] or incident["resolve_due_at"],
        "address": incident["address"] if full else None,
        "address_id": None,
        "zipcode": None,
        "lat": incident["lat"] if full else round(incident["lat"], PUBLIC_DECIMALS),
        "long": incident["lon"] if full else round(incident["lon"], PUBLIC_DECIMALS),
        "media_url": None,
    }


def _date(name: str) -> datetime | None:
    try:
        return v.timestamp(request.args.get(name), name)
    except AppError as exc:
        raise Open311Error(exc.message) from None


@bp.get("/requests.<any(json, xml):fmt>")
@public
def request_list(fmt: str):
    """Requests, newest first: by service_request_id, or service_code, dates and status."""
    session = get_session()
    ids = request.args.get("service_request_id")
    if ids:
        try:
            wanted = [strict.int_from_text(x) for x in ids.split(",") if x.strip()]
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
    full, names = _full_view(), _service_names(session)
    rows = [_as_request(i, full, names) for i in queries.list_incidents(session, f)]
    return _answer(rows, "service_requests")


@bp.get("/requests/<int:request_id>.<any(json, xml):fmt>")
@public
def request_detail(request_id: int, fmt: str):
    """One request, as a list of one (as the specification has it)."""
    session = get_session()
    incident = queries.get_incident(session, request_id)
    if incident is None:
        return _errors(404, f"service_request_id {request_id} not found")
    return _answer(
        [_as_request(incident, _full_view(), _service_names(session))], "service_requests"
    )


def _service_names(session) -> dict[str, str]:
    return {s["service_code"]: s["service_name"] for s in _services(session)}


def _key_is_valid(sent: str) -> bool:
    keys = [k.strip() for k in current_app.config["GIS_APP_OPEN311_API_KEYS"].split(",")]
    return any(k and secrets.compare_digest(sent, k) for k in keys)


def _checked_key() -> None:
    sent = request.form.get("api_key", "")
    if not sent or not _key_is_valid(sent):
        raise Open311Error("api_key is missing or not valid")


def _geocoded(session, address: str | None) -> Geocoded:
    """Place a request sent with address_string only (400 when nothing matches)."""
    if not address:
        raise Open311Error("lat and long, or address_string, are required")
    found = geocode(session, address)
    if found is None:
        raise Open311Error(f"address_string {address!r} was not found; send lat and long")
    return found


def _geocoding_notice(found: Geocoded | None) -> str:
    if found is None:
        return ""
    if found.confident:
        return f"адрес найден: {found.label} (оценка {found.score})"
    return (
        f"адрес неоднозначен ({len(found.candidates)} вариантов, лучший: {found.label}, "
        f"оценка {found.score}): место проверит диспетчер"
    )


@bp.post("/requests.<any(json, xml):fmt>")
@public
def request_create(fmt: str):
    """Create a request (form-encoded, api_key required); it waits for a dispatcher's triage.

    Without lat/long the address_string is geocoded by the address search: a confident match
    places it, an ambiguous one places it at the best guess with the candidates recorded.
    """
    try:
        _checked_key()
    except Open311Error as exc:
        return _errors(403, exc.message)
    form = request.form
    session = get_session()
    found = None
    lon, lat = form.get("long"), form.get("lat")
    if not lat or not lon:
        found = _geocoded(session, form.get("address_string"))
        lon, lat = found.lon, found.lat
    parts = (form.get(k, "").strip() for k in ("first_name", "last_name", "phone", "email"))
    contact = " ".join(p for p in parts if p)
    service = form.get("service_code")
    payload = {
        "lon": lon,
        "lat": lat,
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
    if found is not None:
        record_geocoding(
            session, incident_id, form["address_string"], found.confident, found.candidates
        )
    session.commit()
    incident = _as_request(queries.get_incident(session, incident_id), False, {})
    notice = "; ".join(n for n in (incident["service_notice"], _geocoding_notice(found)) if n)
    body = [
        {
            "service_request_id": incident["service_request_id"],
            "service_notice": notice,
            "account_id": None,
        }
    ]
    return _answer(body, "service_requests", 201)
