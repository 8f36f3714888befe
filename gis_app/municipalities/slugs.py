"""Slugs of imported units: the Russian name in Latin letters (for URLs)."""

from __future__ import annotations

import re

_LATIN = dict(
    zip(
        "абвгдеёжзийклмнопрстуфхцчшщыэюя",
        "a b v g d e e zh z i y k l m n o p r s t u f kh ts ch sh shch y e yu ya".split(),
        strict=True,
    )
)


def slugify(name: str) -> str:
    """'Гатчинский район' → 'gatchinskiy-rayon' (ASCII, lower case, at most 70 characters)."""
    latin = "".join(_LATIN.get(ch, "" if ch in "ъь" else ch) for ch in name.lower())
    return re.sub(r"[^a-z0-9]+", "-", latin).strip("-")[:70] or "unit"
