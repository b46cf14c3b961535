"""Due dates of record requests: calendar or business days (core.calendar), extensions.

Counting starts the day after the request is sent (5 U.S.C. 552(a)(6)(A)(i): "within twenty days (excepting
Saturdays, Sundays, and legal public holidays) after the receipt"); the sent day is day 0.
"""

from __future__ import annotations

from datetime import date, timedelta

from ..core.calendar import add_business_days, roll_to_business_day
from .config import DayUnit, RecordType


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
