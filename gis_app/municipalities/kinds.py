"""The kinds of municipal units, their level in the hierarchy, and reading a kind from text."""

from __future__ import annotations

import re

from gis_app.models import MUNICIPALITY_KINDS
from gis_app.places.chain import LEVEL

assert set(LEVEL) == set(MUNICIPALITY_KINDS)

# Words of official names and of boundary files' kind columns, most specific first.
_WORDS = [
    (r"сельское поселение|сельское\b|с\.?\s*п\.?$|rural settlement", "rural_settlement"),
    (r"городское поселение|г\.?\s*п\.?$|urban settlement", "urban_settlement"),
    (r"городской округ|г\.?\s*о\.?$|urban okrug", "urban_okrug"),
    (r"муниципальный округ|м\.?\s*о\.?$|municipal okrug", "municipal_okrug"),
    (r"муниципальный район|район|municipal district", "municipal_district"),
    (r"область|oblast", "oblast"),
]


def kind_from_text(value: object) -> str | None:
    """A kind from a code ('urban_okrug') or words ('городской округ'); None if it says none."""
    text = str(value or "").strip().lower().replace("ё", "е")
    if not text:
        return None
    if text in LEVEL:
        return text
    for pattern, kind in _WORDS:
        if re.search(pattern, text):
            return kind
    return None


def parent_oktmo(oktmo: str, kind: str) -> str | None:
    """The OKTMO code of the unit above: 41618101 → 41618000 → 41000000 (8-digit codes)."""
    code = oktmo[:8]
    if LEVEL[kind] == 2:
        return code[:5] + "000"
    if LEVEL[kind] == 1:
        return code[:2] + "000000"
    return None
