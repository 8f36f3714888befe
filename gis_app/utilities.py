"""The utilities the platform knows (electricity, heat, gas, water, sewerage, roads...): data,
not code, so a new one is a row."""

from __future__ import annotations

import re

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis_app.changes import record_change
from gis_app.errors import Conflict, InvalidParameter


def list_utilities(session: Session) -> list[dict]:
    """Every utility: code, names, colour and sort order, in display order."""
    rows = session.execute(
        text(
            "SELECT code, name_ru, name_en, color, sort_order FROM utilities"
            " ORDER BY sort_order, code"
        )
    ).mappings()
    return [dict(r) for r in rows]


def utility_codes(session: Session) -> list[str]:
    """The utility codes, in display order."""
    return [u["code"] for u in list_utilities(session)]


def add_utility(session: Session, username: str, user_id: int | None, body: object) -> dict:
    """Add a utility (a row: code, names, colour, order); its layers are layer files naming it.
    400 naming a bad field, 409 when the code exists."""
    if not isinstance(body, dict):
        raise InvalidParameter("The body must be a JSON object.", code="invalid_body")
    unknown = sorted(set(body) - {"code", "name_ru", "name_en", "color", "sort_order"})
    if unknown:
        raise InvalidParameter(f"unknown field(s) {unknown}", code="unknown_field", fields=unknown)
    code, color = body.get("code"), body.get("color", "#636363")
    checks = [
        ("code", isinstance(code, str) and re.fullmatch(r"[a-z][a-z0-9_]{1,31}", code or ""),
         "2-32 of a-z, 0-9, '_', starting with a letter"),
        ("name_ru", isinstance(body.get("name_ru"), str) and body["name_ru"].strip(), "is required"),
        ("name_en", isinstance(body.get("name_en"), str) and body["name_en"].strip(), "is required"),
        ("color", isinstance(color, str) and re.fullmatch(r"#[0-9a-fA-F]{6}", color), "#rrggbb"),
        ("sort_order", isinstance(body.get("sort_order", 100), int), "must be a whole number"),
    ]  # fmt: skip
    for field, ok, why in checks:
        if not ok:
            raise InvalidParameter(f"{field}: {why}", code="invalid_field", field=field)
    if session.execute(text("SELECT 1 FROM utilities WHERE code = :c"), {"c": code}).first():
        raise Conflict(f"Utility '{code}' exists already.", code="utility_exists", utility=code)
    row = {"code": code, "name_ru": body["name_ru"].strip(), "name_en": body["name_en"].strip(),
           "color": color, "sort_order": body.get("sort_order", 100)}  # fmt: skip
    session.execute(
        text("INSERT INTO utilities (code, name_ru, name_en, color, sort_order)"
             " VALUES (:code, :name_ru, :name_en, :color, :sort_order)"), row,
    )  # fmt: skip
    record_change(session, username, user_id, "utility", code, "added", None, row)
    return row
