"""Due dates of record requests: calendar or business days, US federal holidays, extensions.

Counting starts the day after the request is sent (5 U.S.C. 552(a)(6)(A)(i): "within twenty days (excepting
Saturdays, Sundays, and legal public holidays) after the receipt"); the sent day is day 0.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache
from typing import Any

from casefile.tasks.requests.config import DayUnit, RecordType

HOLIDAY_CALENDAR = "US"


@lru_cache(maxsize=16)
def _holidays(country: str, year: int) -> Any:
    import holidays

    # The `holidays` default categories for the US are the federal (public) holidays.
    return holidays.country_holidays(country, years=[year])


def is_business_day(day: date, country: str = HOLIDAY_CALENDAR) -> bool:
    return day.weekday() < 5 and day not in _holidays(country, day.year)


def add_business_days(start: date, days: int, country: str = HOLIDAY_CALENDAR) -> date:
    """The ``days``-th business day after ``start`` (``start`` itself never counts)."""
    day, counted = start, 0
    while counted < days:
        day += timedelta(days=1)
        if is_business_day(day, country):
            counted += 1
    return day


def roll_to_business_day(day: date, country: str = HOLIDAY_CALENDAR) -> date:
    while not is_business_day(day, country):
        day += timedelta(days=1)
    return day


def add_days(start: date, days: int, unit: DayUnit, roll_forward: bool = False) -> date:
    if unit is DayUnit.BUSINESS:
        return add_business_days(start, days)
    due = start + timedelta(days=days)
    return roll_to_business_day(due) if roll_forward else due


def due_date(record_type: RecordType, sent_on: date) -> date:
    """When the holder must answer a request of ``record_type`` sent on ``sent_on``."""
    return add_days(sent_on, record_type.days, record_type.unit, record_type.roll_forward)


def extended_due_date(record_type: RecordType, due_on: date) -> date | None:
    """The due date after the holder's one extension (counted from the original due date), None when the law
    or the practice's rules allow none."""
    if record_type.extension_days <= 0:
        return None
    return add_days(due_on, record_type.extension_days, record_type.unit, record_type.roll_forward)
