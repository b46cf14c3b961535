"""Dates: business days (weekends and a country's legal holidays, US federal by default) and typed dates.

One calendar for every rule that counts business days or moves a date past a weekend or holiday: filing deadlines
(cases.rules) and record-request due dates (requests.dates).
"""

from __future__ import annotations

from datetime import date, timedelta
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
