"""How an address is written, made comparable: the Python twin of migration 0011's SQL functions.

Stored streets and house numbers are normalised in SQL (gis_street_norm, gis_housenumber_norm) at
import; queries are normalised here. Both must agree, string for string: tests compare them.
Folding: lower case, ё → е; street kind words ("ул.", "пр-т", "улица") and single letters ("А.
Чехова") dropped; "1-я" → "1"; house numbers without spaces, "корпус"/"корп." → "к", "строение"
→ "с", "литера", "дом", "д." dropped: "д. 12 корп. 1" → "12к1", "5 А" → "5а".
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from gis_app.errors import InvalidParameter

_FOLD = str.maketrans("ё", "е")
STREET_WORDS = (
    "улица|ул|проспект|просп|пркт|пр|кт|переулок|пер|шоссе|ш|бульвар|бул|площадь|пл|"
    "набережная|наб|проезд|тупик|туп|аллея|ал|дорога|дор|микрорайон|мкр|квартал|кв|тракт|"
    "дом|корпус|корп|строение|стр|литера|лит|город|гор|поселок|пос|деревня|дер|село|снт|"
    "территория|тер|[а-яa-z]"
)
_ORDINAL = re.compile(r"([0-9])[ -]?(ая|ой|ий|ый|ое|ье|го|я|й)(?![а-я])")
_NOT_WORD = re.compile(r"[^0-9a-zа-я]+")
_NOT_NUMBER = re.compile(r"[^0-9a-zа-я/]+")
_STREET_WORD = re.compile(f" ({STREET_WORDS}) ")
_SPACES = re.compile(" +")
# The kind of street a name says (first match wins); the padded tokens have two spaces between.
STREET_KINDS = [
    ("улица", "улица|ул"),
    ("проспект", "проспект|просп|пркт|пр"),
    ("переулок", "переулок|пер"),
    ("шоссе", "шоссе|ш"),
    ("бульвар", "бульвар|бул|б  р"),
    ("площадь", "площадь|пл"),
    ("набережная", "набережная|наб"),
    ("проезд", "проезд"),
    ("тупик", "тупик|туп"),
    ("аллея", "аллея|ал"),
    ("микрорайон", "микрорайон|мкр"),
]
_KINDS = [(kind, re.compile(f" ({words}) ")) for kind, words in STREET_KINDS]


def fold(text: str) -> str:
    """Lower case with ё as е (gis_addr_fold)."""
    return text.lower().translate(_FOLD)


def _padded(text: str) -> str:
    # Two spaces between tokens: a pattern " word " eats one, its neighbour keeps its own.
    return " " + text.replace(" ", "  ") + " "


def street_norm(text: str) -> str:
    """The comparable form of a street name (gis_street_norm): "ул. Чехова" → "чехова"."""
    words = _NOT_WORD.sub(" ", _ORDINAL.sub(r"\1", fold(text)))
    # "Набережная улица" is all kind words: then the kind words are the name.
    kept = _SPACES.sub(" ", _STREET_WORD.sub(" ", _padded(words))).strip()
    return kept or _SPACES.sub(" ", words).strip()


def street_kind(text: str) -> str:
    """The canonical kind a street name says (gis_street_kind): "пр-т 25 Октября" → "проспект"."""
    padded = _padded(_NOT_WORD.sub(" ", fold(text)))
    for kind, pattern in _KINDS:
        if pattern.search(padded):
            return kind
    return ""


def housenumber_norm(text: str) -> str:
    """The comparable form of a house number (gis_housenumber_norm): "12 корп. 1" → "12к1"."""
    s = _padded(_NOT_NUMBER.sub(" ", fold(text)))
    s = re.sub(" (корпус|корп|кор) ", " к ", s)
    s = re.sub(" (строение|стр) ", " с ", s)
    s = re.sub(" (литера|лит|дом|д) ", " ", s)
    return s.replace(" ", "")


@dataclass(frozen=True)
class ParsedQuery:
    """A search text split into the street part (normalised), the house number (or None) and
    the kind of street it names ("" when it names none)."""

    street: str
    housenumber: str | None
    kind: str = ""


_HOUSE_MARKERS = {"д", "дом"}
_PART_MARKERS = {"к": "к", "корп": "к", "корпус": "к", "с": "с", "стр": "с", "строение": "с"}
_LETTER_MARKERS = {"лит", "литера"}
_NUMBERISH = re.compile(r"^[0-9]+[а-я]?([кс][0-9]+)?(/[0-9]+[а-я]?)?$")


def parse_query(text: str) -> ParsedQuery:
    """Split "ул. Чехова, д. 5 корп. 1" into street "чехова" and number "5к1".

    The house number is the number after "д."/"дом" if there is one, else the last number that
    is not the only word; a letter or "к 1"/"стр 2" right after it belongs to it.
    """
    # "2-я" is part of a street's name, never a house: marked "2qq" until the number is found.
    marked_text = _ORDINAL.sub(r"\1qq", fold(text))
    tokens = [t for t in _NOT_NUMBER.sub(" ", marked_text).split(" ") if t]
    kind = street_kind(text)
    numeric = [
        i
        for i, t in enumerate(tokens)
        if _NUMBERISH.match(t) and not (i > 0 and tokens[i - 1] in _PART_MARKERS)
    ]
    marked = [i for i in numeric if i > 0 and tokens[i - 1] in _HOUSE_MARKERS]
    if marked:
        at = marked[0]
    elif numeric and len(tokens) > 1:
        at = numeric[-1]
    else:
        return ParsedQuery(street_norm(_unmarked(tokens)), None, kind)
    number, end = tokens[at], at + 1
    while end < len(tokens):
        t = tokens[end]
        nxt = tokens[end + 1] if end + 1 < len(tokens) else ""
        if t in _PART_MARKERS and nxt.isdigit():
            number += _PART_MARKERS[t] + nxt
            end += 2
        elif t in _LETTER_MARKERS and len(nxt) == 1 and nxt.isalpha():
            number += nxt
            end += 2
        elif len(t) == 1 and t.isalpha() and t not in _PART_MARKERS and t not in _HOUSE_MARKERS:
            number += t
            end += 1
        else:
            break
    street = _unmarked(tokens[:at] + tokens[end:])
    return ParsedQuery(street_norm(street), housenumber_norm(number), kind)


def _unmarked(tokens: list[str]) -> str:
    return " ".join(t[:-2] if t.endswith("qq") and t[:-2].isdigit() else t for t in tokens)


# A spoken or typed address is short; anything longer is not an address.
MAX_QUERY_CHARS = 200


def checked_query(raw: str | None, parameter: str = "q") -> str:
    """The search text, stripped: present, at most MAX_QUERY_CHARS, no control characters."""
    q = (raw or "").strip()
    if not q:
        raise InvalidParameter(
            f"{parameter} is required: an address, e.g. 'Чехова 5'", parameter=parameter
        )
    if len(q) > MAX_QUERY_CHARS:
        raise InvalidParameter(
            f"{parameter} is longer than {MAX_QUERY_CHARS} characters",
            parameter=parameter,
            length=len(q),
            maximum=MAX_QUERY_CHARS,
        )
    bad = [i for i, ch in enumerate(q) if unicodedata.category(ch) in ("Cc", "Cf", "Cs")]
    if bad:
        raise InvalidParameter(
            f"{parameter} contains control characters", parameter=parameter, position=bad[0]
        )
    if not any(ch.isalnum() for ch in q):
        raise InvalidParameter(f"{parameter} has no letters or digits", parameter=parameter)
    return q
