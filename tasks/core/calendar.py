"""Dates: business days (weekends and a country's legal holidays, US federal by default) and typed dates.

One calendar for every rule that counts business days or moves a date past a weekend or holiday: filing deadlines
(cases.rules) and record-request due dates (requests.dates).
"""

from __future__ import annotations

import re
from datetime import date, time, timedelta
from functools import lru_cache
from typing import Any

DEFAULT_CALENDAR = "US"


@lru_cache(maxsize=32)
def _holidays(country: str, year: int) -> Any:
    import holidays

    # The `holidays` default categories for the US are the federal (public) holidays, with observed dates.
    return holidays.country_holidays(country, years=[year])


def is_business_day(day: date, country: str = DEFAULT_CALENDAR) -> bool:
    return day.weekday() < 5 and day not in _holidays(country, day.year)


def add_business_days(start: date, days: int, country: str = DEFAULT_CALENDAR) -> date:
    """The ``days``-th business day after ``start`` (``start`` itself never counts)."""
    day, counted = start, 0
    while counted < days:
        day += timedelta(days=1)
        if is_business_day(day, country):
            counted += 1
    return day


def subtract_business_days(start: date, days: int, country: str = DEFAULT_CALENDAR) -> date:
    """The ``days``-th business day before ``start`` (``start`` itself never counts); ``start`` for 0."""
    day, counted = start, 0
    while counted < days:
        day -= timedelta(days=1)
        if is_business_day(day, country):
            counted += 1
    return day


def business_days_between(first: date, last: date, country: str = DEFAULT_CALENDAR) -> int:
    """Business days strictly after ``first`` and strictly before ``last`` (0 when ``last`` is not later)."""
    count, day = 0, first + timedelta(days=1)
    while day < last:
        count += is_business_day(day, country)
        day += timedelta(days=1)
    return count


def roll_to_business_day(day: date, country: str = DEFAULT_CALENDAR) -> date:
    """``day`` itself when it is a business day, else the next one."""
    while not is_business_day(day, country):
        day += timedelta(days=1)
    return day


def parse_date(raw: str, what: str) -> date:
    """A date typed as YYYY-MM-DD; ``what`` names it in the error."""
    from .errors import ValidationError

    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ValidationError(f"The {what} {raw!r} is not a date; write it as YYYY-MM-DD, e.g. 2027-03-04.") from None


_TIME = re.compile(r"^\s*(\d{1,2})(?::(\d{2}))?\s*([AaPp]\.?\s*[Mm]\.?)?\s*$")


def parse_time(raw: str, what: str) -> time:
    """A time of day typed as 24-hour "13:30" or "09:00", or 12-hour "1:30 PM" / "9 am"; ``what`` names it in the
    error."""
    from .errors import ValidationError

    match = _TIME.match(raw)
    if match is not None:
        hour, minute = int(match[1]), int(match[2] or 0)
        meridiem = (match[3] or "").lower().replace(".", "").replace(" ", "")
        if meridiem and 1 <= hour <= 12:
            hour = hour % 12 + (12 if meridiem == "pm" else 0)
        elif meridiem:
            hour = 99
        if match[2] is None and not meridiem:
            hour = 99  # a bare "9" is ambiguous: ask for 9:00 or 9 AM
        if hour < 24 and minute < 60:
            return time(hour, minute)
    raise ValidationError(f"The {what} {raw!r} is not a time of day; write it as 09:00, 13:30 or 1:30 PM.")
