"""Checking what a client sends: every bad field is a 400 naming it, before anything is written.

Text is stored exactly as sent (HTML and script included); escaping is the job of whoever shows it.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis_app import strict
from gis_app.errors import InvalidParameter
from gis_app.models import INCIDENT_KINDS
from gis_app.network.queries import SETTLEMENT_KINDS
from gis_app.utilities import utility_codes

MAX_DESCRIPTION = 4000  # Open311's limit for a description
MAX_SHORT_TEXT = 500
MAX_SOCIAL_OBJECTS = 200
MAX_SETTLEMENTS = 200
SOCIAL_OBJECT_KINDS = (
    "school",
    "kindergarten",
    "hospital",
    "clinic",
    "care_home",
    "boiler_house",
    "other",
)

CREATE_FIELDS = {
    "lon",
    "lat",
    "utility",
    "kind",
    "category",
    "description",
    "priority",
    "reporter_contact",
    "address",
    "feature_id",
    "consumers_cut_off",
    "social_objects_cut_off",
    "utilities_cut_off",
    "supply_stopped_at",
    "assign",
    "allow_duplicate",
}
PATCH_FIELDS = {
    "kind",
    "category",
    "description",
    "priority",
    "reporter_contact",
    "address",
    "consumers_cut_off",
    "social_objects_cut_off",
    "utilities_cut_off",
    "settlements_cut_off",
    "supply_stopped_at",
    "expected_at",
    "public_summary",
}


def bad(field: str, message: str, code: str = "invalid_field", **details: object):
    """An InvalidParameter naming the field."""
    return InvalidParameter(f"{field}: {message}", code=code, field=field, **details)


def require_object(body: object) -> dict:
    """The request body must be a JSON object."""
    if not isinstance(body, dict):
        raise InvalidParameter("The body must be a JSON object.", code="invalid_body")
    return body


def reject_unknown(body: dict, allowed: set[str]) -> None:
    """Unknown fields are an error: a typo must not be silently ignored."""
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise InvalidParameter(
            f"unknown field(s): {', '.join(unknown)}",
            code="unknown_field",
            fields=unknown,
            allowed=sorted(allowed),
        )


def coordinate(value: object, field: str, low: float, high: float) -> float:
    """A finite number of degrees in [low, high]."""
    if isinstance(value, bool) or value is None:
        raise bad(
            field, "a number is required", "missing_field" if value is None else "invalid_field"
        )
    try:
        number = strict.float_from_text(value) if isinstance(value, str) else float(value)
    except (TypeError, ValueError, OverflowError):
        raise bad(field, "must be a number") from None
    if not math.isfinite(number) or not low <= number <= high:
        raise bad(field, f"must be between {low} and {high}")
    return number


def text_field(value: object, field: str, limit: int, required: bool = False) -> str | None:
    """A string of at most `limit` characters (None when absent and not required)."""
    if value is None or (required and value == ""):
        if required:
            raise bad(field, "is required", "missing_field")
        return None
    if not isinstance(value, str):
        raise bad(field, "must be a string")
    if len(value) > limit:
        raise bad(
            field, f"is {len(value)} characters, more than {limit}", "text_too_long", limit=limit
        )
    try:  # refused, never truncated: PostgreSQL cannot store NUL nor a lone surrogate
        return strict.check_text(value)
    except ValueError as exc:
        raise bad(field, str(exc), "invalid_character") from None


def integer(value: object, field: str, low: int, high: int) -> int:
    """A whole number in [low, high]."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise bad(field, f"must be a whole number between {low} and {high}")
    try:
        number = strict.int_from_text(value) if isinstance(value, str) else value
    except ValueError as exc:
        raise bad(field, str(exc)) from None
    if not low <= number <= high:
        raise bad(field, f"must be between {low} and {high}")
    return number


def timestamp(value: object, field: str) -> datetime | None:
    """An ISO 8601 date-time with a time zone (None when absent)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise bad(field, "must be an ISO 8601 date-time string")
    try:
        return strict.datetime_from_text(value)
    except ValueError as exc:
        raise bad(field, str(exc)) from None


def boolean(value: object, field: str, default: bool) -> bool:
    """true or false (default when absent)."""
    if value is None:
        return default
    if not isinstance(value, bool):
        raise bad(field, "must be true or false")
    return value


def utility(session: Session, value: object, field: str = "utility") -> str:
    """A utility code the database knows."""
    codes = utility_codes(session)
    if value is None or value == "":
        raise bad(field, "is required", "missing_field", allowed=codes)
    if value not in codes:
        raise bad(field, f"unknown utility {value!r}", "unknown_utility", allowed=codes)
    return str(value)


def kind(value: object) -> str:
    """One of the federal card's event kinds."""
    if value not in INCIDENT_KINDS:
        raise bad(
            "kind", f"must be one of {', '.join(INCIDENT_KINDS)}", allowed=list(INCIDENT_KINDS)
        )
    return str(value)


def social_objects(value: object) -> list[dict]:
    """A list of {name, kind[, address]}: the schools, hospitals... cut off."""
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > MAX_SOCIAL_OBJECTS:
        raise bad(
            "social_objects_cut_off", f"must be a list of at most {MAX_SOCIAL_OBJECTS} objects"
        )
    out = []
    for n, item in enumerate(value):
        where = f"social_objects_cut_off[{n}]"
        if not isinstance(item, dict) or set(item) - {"name", "kind", "address"}:
            raise bad(where, "must be an object with name, kind and optionally address")
        obj_kind = item.get("kind", "other")
        if obj_kind not in SOCIAL_OBJECT_KINDS:
            raise bad(f"{where}.kind", f"must be one of {', '.join(SOCIAL_OBJECT_KINDS)}")
        obj = {
            "name": text_field(item.get("name"), f"{where}.name", MAX_SHORT_TEXT, True),
            "kind": obj_kind,
        }
        if item.get("address") is not None:
            obj["address"] = text_field(item["address"], f"{where}.address", MAX_SHORT_TEXT)
        out.append(obj)
    return out


def settlements_cut_off(session: Session, value: object) -> list[dict]:
    """Settlements cut off, each named by its municipality id or slug (or {"id": ...} /
    {"slug": ...}, as the trace stores them); stored as the trace stores them, in the order given."""
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > MAX_SETTLEMENTS:
        raise bad("settlements_cut_off", f"must be a list of at most {MAX_SETTLEMENTS} settlements")
    keys = []
    for n, item in enumerate(value):
        if isinstance(item, dict):
            if len(item) == 0 or set(item) - {"id", "slug", "name_ru", "name_en"}:
                raise bad(f"settlements_cut_off[{n}]", "must be an id, a slug or {id, slug}")
            item = item.get("id", item.get("slug"))
        if isinstance(item, bool) or not isinstance(item, (int, str)) or item == "":
            raise bad(f"settlements_cut_off[{n}]", "must be a municipality id or slug")
        keys.append(str(item))
    rows = session.execute(
        text(
            "SELECT id, slug, name_ru, name_en FROM municipalities WHERE kind = ANY(:kinds)"
            " AND (CAST(id AS text) = ANY(:keys) OR slug = ANY(:keys))"
        ),
        {"kinds": list(SETTLEMENT_KINDS), "keys": keys},
    ).mappings()
    found = {}
    for row in rows:
        found[str(row["id"])] = found[row["slug"]] = dict(row)
    unknown = [k for k in keys if k not in found]
    if unknown:
        raise bad("settlements_cut_off", f"no settlement {unknown[0]!r} (an urban or rural"
                  " settlement, an urban or municipal okrug)", "unknown_settlement",
                  unknown=unknown)  # fmt: skip
    out, seen = [], set()
    for k in keys:
        if found[k]["id"] not in seen:
            seen.add(found[k]["id"])
            out.append(found[k])
    return out


def utilities_cut_off(session: Session, value: object, own: str | None) -> list[str]:
    """Other utilities cut off as a consequence (a boiler house without gas stops heat)."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise bad("utilities_cut_off", "must be a list of utility codes")
    codes = [utility(session, v, "utilities_cut_off") for v in value]
    if own in codes:
        raise bad("utilities_cut_off", "lists the incident's own utility; name the others")
    return sorted(set(codes))


def create_payload(session: Session, body: object) -> dict:
    """The fields of a new incident, checked and normalised; raises InvalidParameter."""
    body = require_object(body)
    reject_unknown(body, CREATE_FIELDS)
    util = utility(session, body.get("utility"))
    out = {
        "lon": coordinate(body.get("lon"), "lon", -180, 180),
        "lat": coordinate(body.get("lat"), "lat", -90, 90),
        "utility": util,
        "kind": kind(body.get("kind", "incident")),
        "category": text_field(body.get("category"), "category", 100),
        "description": text_field(body.get("description"), "description", MAX_DESCRIPTION, True),
        "priority": integer(body.get("priority", 3), "priority", 1, 4),
        "reporter_contact": text_field(
            body.get("reporter_contact"), "reporter_contact", MAX_SHORT_TEXT
        ),
        "address": text_field(body.get("address"), "address", MAX_SHORT_TEXT),
        "feature_id": None,
        "consumers_cut_off": None,
        "social_objects_cut_off": social_objects(body.get("social_objects_cut_off")),
        "utilities_cut_off": utilities_cut_off(session, body.get("utilities_cut_off"), util),
        "supply_stopped_at": timestamp(body.get("supply_stopped_at"), "supply_stopped_at"),
        "assign": boolean(body.get("assign"), "assign", True),
        "allow_duplicate": boolean(body.get("allow_duplicate"), "allow_duplicate", False),
    }
    if body.get("feature_id") is not None:
        out["feature_id"] = integer(body["feature_id"], "feature_id", 1, 2**62)
    if body.get("consumers_cut_off") is not None:
        out["consumers_cut_off"] = integer(body["consumers_cut_off"], "consumers_cut_off", 0, 10**7)
    if out["supply_stopped_at"] and out["supply_stopped_at"] > datetime.now(UTC):
        raise bad("supply_stopped_at", "is in the future")
    return out


def patch_payload(session: Session, body: object, own_utility: str) -> dict:
    """The fields a PATCH may change, checked; only those present are returned."""
    body = require_object(body)
    reject_unknown(body, PATCH_FIELDS)
    if not body:
        raise InvalidParameter("Nothing to change: send at least one field.", code="empty_patch")
    checks = {
        "kind": kind,
        "category": lambda v: text_field(v, "category", 100),
        "description": lambda v: text_field(v, "description", MAX_DESCRIPTION, True),
        "priority": lambda v: integer(v, "priority", 1, 4),
        "reporter_contact": lambda v: text_field(v, "reporter_contact", MAX_SHORT_TEXT),
        "address": lambda v: text_field(v, "address", MAX_SHORT_TEXT),
        "consumers_cut_off": lambda v: (
            None if v is None else integer(v, "consumers_cut_off", 0, 10**7)
        ),
        "social_objects_cut_off": social_objects,
        "utilities_cut_off": lambda v: utilities_cut_off(session, v, own_utility),
        "settlements_cut_off": lambda v: settlements_cut_off(session, v),
        "supply_stopped_at": lambda v: timestamp(v, "supply_stopped_at"),
        "expected_at": lambda v: timestamp(v, "expected_at"),
        # What Open311's public reads show; dispatchers write it (operators may not: lifecycle).
        "public_summary": lambda v: text_field(v, "public_summary", MAX_SHORT_TEXT),
    }
    return {name: checks[name](value) for name, value in body.items()}
