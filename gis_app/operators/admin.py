"""Operators set up by an admin, without SQL: create and edit (INN checked, contacts, utilities,
municipalities, webhook), retire with the open incidents, networks, designations and staff
handed over; every change recorded (gis_app.changes) with the row before and after."""

from __future__ import annotations

import re

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis_app.changes import record_change
from gis_app.errors import Conflict, InvalidParameter
from gis_app.incidents.deadlines import OPEN_STATUSES
from gis_app.incidents.lifecycle import record
from gis_app.operators.directory import find_operator

FIELDS = {"slug", "full_name", "short_name", "inn", "dispatch_phone", "dispatch_email",
          "webhook_url", "utilities", "municipalities"}  # fmt: skip
SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{1,79}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PHONE = re.compile(r"^[0-9+()\-\s]{5,40}$")
INN10 = (2, 4, 10, 3, 5, 9, 4, 6, 8)
INN12A = (7, 2, 4, 10, 3, 5, 9, 4, 6, 8)
INN12B = (3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8)


def _check_digit(digits: list[int], weights: tuple[int, ...]) -> int:
    return sum(w * d for w, d in zip(weights, digits, strict=False)) % 11 % 10


def inn_problem(inn: str) -> str | None:
    """Why `inn` is not a valid INN (10 digits of an organisation, 12 of a person), or None."""
    if not re.fullmatch(r"\d{10}|\d{12}", inn):
        return "must be 10 digits (an organisation) or 12 (an individual entrepreneur)"
    d = [int(c) for c in inn]
    if len(d) == 10 and d[9] != _check_digit(d, INN10):
        return "its check digit is wrong"
    if len(d) == 12 and (d[10] != _check_digit(d, INN12A) or d[11] != _check_digit(d, INN12B)):
        return "its check digits are wrong"
    return None


def _bad(field: str, message: str) -> InvalidParameter:
    return InvalidParameter(f"{field}: {message}", code="invalid_field", field=field)


def _text(body: dict, field: str, limit: int = 300) -> str | None:
    value = body.get(field)
    if value is None:
        return None
    if not isinstance(value, str) or len(value.strip()) > limit:
        raise _bad(field, f"must be text of at most {limit} characters")
    return value.strip() or None


def check_body(session: Session, body: object, creating: bool) -> dict:
    """The checked fields of an operator (400 naming the first bad one; unknown fields too)."""
    if not isinstance(body, dict):
        raise InvalidParameter("The body must be a JSON object.", code="invalid_body")
    unknown = sorted(set(body) - FIELDS)
    if unknown:
        raise InvalidParameter(f"unknown field(s) {unknown}", code="unknown_field",
                               fields=unknown, allowed=sorted(FIELDS))  # fmt: skip
    out: dict = {}
    for field in ("slug", "full_name", "short_name", "inn", "dispatch_phone", "dispatch_email",
                  "webhook_url"):  # fmt: skip
        if field in body:
            out[field] = _text(body, field, 2000 if field == "webhook_url" else 300)
    for field in ("slug", "full_name", "short_name") if creating else ():
        if not out.get(field):
            raise _bad(field, "is required")
    if "slug" in out and not SLUG.match(out["slug"] or ""):
        raise _bad("slug", "2-80 of a-z, 0-9 and '-', starting with a letter or digit")
    for field in ("full_name", "short_name"):
        if field in out and not out[field]:
            raise _bad(field, "must not be empty")
    if out.get("inn") and (why := inn_problem(out["inn"])):
        raise _bad("inn", why)
    if out.get("dispatch_email") and not EMAIL.match(out["dispatch_email"]):
        raise _bad("dispatch_email", "is not an e-mail address")
    if out.get("dispatch_phone") and not PHONE.match(out["dispatch_phone"]):
        raise _bad("dispatch_phone", "is not a phone number (digits, +, (), -, spaces)")
    if out.get("webhook_url") and not out["webhook_url"].startswith(("http://", "https://")):
        raise _bad("webhook_url", "must be an http:// or https:// URL")
    if "utilities" in body:
        out["utilities"] = _codes(session, body["utilities"], "utilities", "utilities", "code")
    if "municipalities" in body:
        out["municipalities"] = _codes(session, body["municipalities"], "municipalities",
                                       "municipalities", "slug")  # fmt: skip
    return out


def _codes(session: Session, value: object, field: str, table: str, key: str) -> list:
    """Known keys of `table` (400 naming the unknown ones); ids for municipalities."""
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _bad(field, "must be a list of text")
    # text(): table and key are this module's constants, never input.
    found = dict(
        session.execute(
            text(f"SELECT {key}, {'id' if table == 'municipalities' else key} FROM {table}"
                 f" WHERE {key} = ANY(:v)"), {"v": value},
        ).all()
    )  # fmt: skip
    unknown = sorted(set(value) - set(found))
    if unknown:
        raise _bad(field, f"unknown {unknown}")
    return sorted({found[v] for v in value})


def operator_ids(session: Session) -> list[int]:
    """Every operator's id: active ones first, by short name."""
    return list(
        session.execute(
            text("SELECT id FROM operators ORDER BY retired_at IS NOT NULL, short_name, id")
        ).scalars()
    )


def operator_row(session: Session, operator_id: int) -> dict:
    """An operator with its utilities and municipalities (slugs), as the API and the record show."""
    row = (
        session.execute(
            text(
                "SELECT o.id, o.slug, o.full_name, o.short_name, o.inn, o.dispatch_phone,"
                " o.dispatch_email, o.webhook_url, o.is_demo, o.retired_at::text AS retired_at,"
                " o.retired_reason, h.slug AS handed_over_to,"
                " ARRAY(SELECT utility_code FROM operator_utilities WHERE operator_id = o.id"
                "       ORDER BY 1) AS utilities,"
                " ARRAY(SELECT m.slug FROM operator_municipalities om JOIN municipalities m"
                "       ON m.id = om.municipality_id WHERE om.operator_id = o.id ORDER BY 1)"
                "       AS municipalities"
                " FROM operators o LEFT JOIN operators h ON h.id = o.handed_over_to WHERE o.id = :id"
            ),
            {"id": operator_id},
        )
        .mappings()
        .one()
    )
    return dict(row)


def _clash(session: Session, data: dict, operator_id: int | None) -> None:
    for field in ("slug", "inn"):
        if data.get(field):
            # text(): field is one of the two constants above.
            other = session.execute(
                text(f"SELECT slug FROM operators WHERE {field} = :v AND id <> coalesce(:id, 0)"),
                {"v": data[field], "id": operator_id},
            ).scalar()
            if other:
                raise Conflict(f"{field} {data[field]} is the operator '{other}''s already.",
                               code=f"{field}_taken", field=field, operator=other)  # fmt: skip


def _links(session: Session, operator_id: int, data: dict) -> None:
    if "utilities" in data:
        session.execute(text("DELETE FROM operator_utilities WHERE operator_id = :o"),
                        {"o": operator_id})  # fmt: skip
        for code in data["utilities"]:
            session.execute(text("INSERT INTO operator_utilities VALUES (:o, :u)"),
                            {"o": operator_id, "u": code})  # fmt: skip
    if "municipalities" in data:
        session.execute(text("DELETE FROM operator_municipalities WHERE operator_id = :o"),
                        {"o": operator_id})  # fmt: skip
        for muni in data["municipalities"]:
            session.execute(text("INSERT INTO operator_municipalities VALUES (:o, :m)"),
                            {"o": operator_id, "m": muni})  # fmt: skip


COLUMNS = ("slug", "full_name", "short_name", "inn", "dispatch_phone", "dispatch_email",
           "webhook_url")  # fmt: skip


def create_operator(session: Session, username: str, user_id: int | None, body: object) -> dict:
    """Create an operator from a checked body; the operator as operator_row shows it."""
    data = check_body(session, body, creating=True)
    _clash(session, data, None)
    values = {c: data.get(c) for c in COLUMNS}
    new_id = session.execute(
        text(
            "INSERT INTO operators (slug, full_name, short_name, inn, dispatch_phone,"
            " dispatch_email, webhook_url) VALUES (:slug, :full_name, :short_name, :inn,"
            " :dispatch_phone, :dispatch_email, :webhook_url) RETURNING id"
        ),
        values,
    ).scalar_one()
    _links(session, new_id, data)
    after = operator_row(session, new_id)
    record_change(session, username, user_id, "operator", after["slug"], "created", None, after)
    return after


def update_operator(
    session: Session, username: str, user_id: int | None, ref: str, body: object
) -> dict:
    """Change the fields a body gives (others stay); the operator after."""
    operator_id = find_operator(session, ref).id
    before = operator_row(session, operator_id)
    data = check_body(session, body, creating=False)
    _clash(session, data, operator_id)
    sets = [c for c in COLUMNS if c in data]
    if sets:
        # text(): the column names are the constants of COLUMNS.
        session.execute(
            text(f"UPDATE operators SET {', '.join(f'{c} = :{c}' for c in sets)} WHERE id = :id"),
            {**{c: data[c] for c in sets}, "id": operator_id},
        )
    _links(session, operator_id, data)
    after = operator_row(session, operator_id)
    if after != before:
        record_change(session, username, user_id, "operator", after["slug"], "updated", before,
                      after)  # fmt: skip
    return after


def retire_operator(
    session: Session, username: str, user_id: int | None, ref: str, successor_ref: str,
    reason: str,
) -> dict:  # fmt: skip
    """Retire an operator: its open incidents, networks, service areas and designations go to
    the successor, its staff accounts are disabled (kept); nothing is deleted. The counts."""
    old = find_operator(session, ref)
    new = find_operator(session, successor_ref)
    if old.id == new.id or new.retired_at is not None:
        raise _bad("successor", "must be another operator that is not retired")
    if old.retired_at is not None:
        raise Conflict(f"Operator '{old.slug}' is retired already.", code="operator_retired")
    if not reason or not reason.strip():
        raise _bad("reason", "is required")
    before = operator_row(session, old.id)
    missing = session.execute(
        text("SELECT utility_code FROM operator_utilities WHERE operator_id = :o EXCEPT"
             " SELECT utility_code FROM operator_utilities WHERE operator_id = :n ORDER BY 1"),
        {"o": old.id, "n": new.id},
    ).scalars().all()  # fmt: skip
    if missing:
        raise Conflict(
            f"The successor '{new.slug}' does not serve {list(missing)}: add them to it first.",
            code="successor_lacks_utilities", utilities=list(missing),
        )  # fmt: skip
    params = {"o": old.id, "n": new.id, "open": list(OPEN_STATUSES)}
    incidents = session.execute(
        text("UPDATE incidents SET operator_id = :n, updated_at = now(), version = version + 1"
             " WHERE operator_id = :o AND status = ANY(:open) RETURNING id"), params,
    ).scalars().all()  # fmt: skip
    for incident_id in incidents:
        record(session, incident_id, username, "handed_over", None, None,
               f"оператор {old.short_name} выбыл: передано {new.short_name} ({reason})",
               {"from_operator_id": old.id, "to_operator_id": new.id})  # fmt: skip
    counts = {"incidents": len(incidents)}
    for table in ("network_features", "service_areas", "designated_operators"):
        # text(): the table names are this loop's constants.
        counts[table] = session.execute(
            text(f"UPDATE {table} SET operator_id = :n WHERE operator_id = :o"), params
        ).rowcount
    counts["staff_disabled"] = session.execute(
        text("UPDATE users SET is_active = false WHERE operator_id = :o AND is_active"), params
    ).rowcount
    session.execute(
        text("UPDATE operators SET retired_at = now(), retired_reason = :r, handed_over_to = :n"
             " WHERE id = :o"), {**params, "r": reason.strip()},
    )  # fmt: skip
    after = operator_row(session, old.id)
    record_change(session, username, user_id, "operator", old.slug, "retired", before, after,
                  f"{reason.strip()}; handed over to {new.slug}: {counts}")  # fmt: skip
    return {"operator": after, "successor": new.slug, "handed_over": counts}
