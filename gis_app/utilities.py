"""The utilities the platform knows (electricity, heat, gas, water, sewerage, roads...): data,
not code, so a new one is a row."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session


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
