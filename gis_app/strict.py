"""Strict reading of what clients send: ASCII numbers in range, real dates, text without NUL.

Python is generous where a service must not be: int() reads '٣' (Arabic-Indic three) and
'1_000', float() reads 'nan' and '١.٥', a str may hold a lone surrogate that PostgreSQL cannot
store, and psycopg2 refuses NUL only when the INSERT is already under way (a 500). These
helpers raise ValueError with a message meant for the client; callers turn it into a 400 that
names the field.
"""

from __future__ import annotations

import datetime as dt
import math
import re

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
_INT = re.compile(r"[+-]?[0-9]{1,19}")
_FLOAT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,3})?")
# NUL and the other C0 controls but tab, LF and CR; DEL; lone UTF-16 surrogates.
_BAD_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
# In a URL path, a query value or a header: no control character at all (tab, LF, CR included).
_BAD_WIRE = re.compile("[\x00-\x1f\x7f\ud800-\udfff]")


def describe(char: str) -> str:
    """A readable name of a refused character (U+0000 NUL, U+D800 lone surrogate…)."""
    code = ord(char)
    if code == 0:
        return "U+0000 (NUL)"
    if 0xD800 <= code <= 0xDFFF:
        return f"U+{code:04X} (a lone surrogate)"
    return f"U+{code:04X} (a control character)"


def bad_text_char(value: str, wire: bool = False) -> str | None:
    """The first character text may not hold (None when it is clean); `wire`: URL/header rules."""
    found = (_BAD_WIRE if wire else _BAD_TEXT).search(value)
    return found.group() if found else None


def check_text(value: str, wire: bool = False) -> str:
    """`value` itself, or ValueError naming the refused character (text is never truncated)."""
    char = bad_text_char(value, wire)
    if char is not None:
        raise ValueError(f"contains {describe(char)}, which is not accepted")
    return value


def int_from_text(raw: str) -> int:
    """A whole number written in ASCII digits that fits 64 bits; ValueError otherwise."""
    raw = raw.strip(" ")
    if not _INT.fullmatch(raw):
        raise ValueError("must be a whole number in ASCII digits (0-9)")
    value = int(raw)
    if not INT64_MIN <= value <= INT64_MAX:
        raise ValueError("is beyond a 64-bit integer")
    return value


def float_from_text(raw: str) -> float:
    """A finite decimal number written in ASCII (no nan/inf, no '_'); ValueError otherwise."""
    raw = raw.strip(" ")
    if not _FLOAT.fullmatch(raw):
        raise ValueError("must be a decimal number in ASCII digits (e.g. 59.57)")
    value = float(raw)
    if not math.isfinite(value):
        raise ValueError("must be a finite number")
    return value


def datetime_from_text(raw: str, default_tz: dt.tzinfo | None = None) -> dt.datetime:
    """An ISO 8601 / RFC 3339 date-time in ASCII, in the UTC range; ValueError otherwise.

    Without a zone in `raw`, `default_tz` is assumed (None: a zone is required).
    """
    if not raw.isascii():
        raise ValueError("must be written in ASCII (e.g. 2026-11-26T10:00:00+03:00)")
    try:
        value = dt.datetime.fromisoformat(raw.replace("z", "Z").replace("Z", "+00:00"))
    except ValueError:
        raise ValueError("must be an ISO 8601 date-time, e.g. 2026-11-26T10:00:00+03:00") from None
    if value.tzinfo is None:
        if default_tz is None:
            raise ValueError("needs a time zone (e.g. +03:00 or Z)")
        value = value.replace(tzinfo=default_tz)
    try:
        return value.astimezone(dt.UTC)
    except OverflowError:  # 0001-01-01T00:00+03:00 is before year 1 in UTC
        raise ValueError("is out of the range of dates (years 1 to 9999 in UTC)") from None


def date_from_text(raw: str) -> dt.date:
    """A calendar date YYYY-MM-DD in ASCII; ValueError otherwise."""
    if not raw.isascii() or not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", raw):
        raise ValueError("must be a date YYYY-MM-DD")
    return dt.date.fromisoformat(raw)
