"""Report periods: a year, a month or a span of days, in Moscow time (the oblast's clock)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from gis_app.errors import InvalidParameter

ZONE = ZoneInfo("Europe/Moscow")
_YEAR = re.compile(r"^(\d{4})$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_SPAN = re.compile(r"^(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})$")
MAX_DAYS = 3700


@dataclass(frozen=True)
class Period:
    """A half-open span [start, end) of aware datetimes, and the text it was given as."""

    label: str
    start: datetime
    end: datetime


def _at(day: date) -> datetime:
    return datetime.combine(day, time(0), ZONE)


def _bad(value: str, why: str) -> InvalidParameter:
    return InvalidParameter(
        f"period {value!r} {why}; use YYYY, YYYY-MM or YYYY-MM-DD..YYYY-MM-DD",
        code="invalid_period",
        parameter="period",
        value=value,
    )


def parse_period(value: str | None, today: date | None = None) -> Period:
    """Parse `period` (YYYY, YYYY-MM, from..to with both days included); default: this year."""
    if not value:
        year = (today or datetime.now(ZONE).date()).year
        value = str(year)
    try:
        if m := _YEAR.match(value):
            year = int(m.group(1))
            return Period(value, _at(date(year, 1, 1)), _at(date(year + 1, 1, 1)))
        if m := _MONTH.match(value):
            year, month = int(m.group(1)), int(m.group(2))
            first = date(year, month, 1)
            nxt = date(year + month // 12, month % 12 + 1, 1)
            return Period(value, _at(first), _at(nxt))
        if m := _SPAN.match(value):
            first, last = date.fromisoformat(m.group(1)), date.fromisoformat(m.group(2))
            if last < first:
                raise _bad(value, "ends before it starts")
            if (last - first).days > MAX_DAYS:
                raise _bad(value, f"is longer than {MAX_DAYS} days")
            return Period(value, _at(first), _at(last + timedelta(days=1)))
    except ValueError:
        raise _bad(value, "is not a real date") from None
    raise _bad(value, "is not a period")
