"""Dates of record requests: when the holder receives a request, when its answer is due, when records are expected.

- Receipt: the day the request is sent plus the calendar days of its channel (config/record_types.toml [receipt]:
  a mailed letter takes days to arrive; e-mail, fax and a portal arrive the same day).
- Due: counted from receipt, the received day being day 0 (5 U.S.C. 552(a)(6)(A)(i): "within twenty days
  (excepting Saturdays, Sundays, and legal public holidays) after the receipt"), in calendar or business days
  (core.calendar). For FOIA the due date is the agency's *determination*, not delivery; a request routed to the
  right component starts its count when that component receives it, but no later than the routing allowance after
  the first receipt (552(a)(6)(A)(ii)); unusual circumstances extend it once ([types.*] extension).
- Expected: when the records are expected to arrive: the type's expected-delivery estimate counted from receipt
  (FOIA A-files take months), never before the (extended) due date; the due date when the type has no estimate.
"""

from __future__ import annotations

from datetime import date, timedelta

from ..core.calendar import add_business_days, roll_to_business_day
from .config import Channel, DayUnit, RecordType, RequestConfig


def add_days(start: date, days: int, unit: DayUnit, roll_forward: bool = False) -> date:
    if unit is DayUnit.BUSINESS:
        return add_business_days(start, days)
    due = start + timedelta(days=days)
    return roll_to_business_day(due) if roll_forward else due


def receipt_date(config: RequestConfig, channel: Channel | str, sent_on: date) -> date:
    """When the holder is assumed to receive a request sent on ``sent_on`` by ``channel``."""
    return sent_on + timedelta(days=config.receipt_days[Channel(channel)])


def due_date(record_type: RecordType, received_on: date) -> date:
    """When the holder should answer a request of ``record_type`` it received on ``received_on``."""
    return add_days(received_on, record_type.days, record_type.unit, record_type.roll_forward)


def routed_due_date(record_type: RecordType, received_on: date, routed_on: date) -> date:
    """The due date of a request the holder routed to its right component, which received it on ``routed_on``: the
    count starts then, but no later than ``routing_days`` business days after the first receipt."""
    latest_start = add_business_days(received_on, record_type.routing_days)
    return due_date(record_type, min(max(routed_on, received_on), latest_start))


def extended_due_date(record_type: RecordType, due_on: date) -> date | None:
    """The due date after the holder's one extension (counted from the original due date), None when the law
    or the practice's rules allow none."""
    if record_type.extension_days <= 0:
        return None
    return add_days(due_on, record_type.extension_days, record_type.unit, record_type.roll_forward)


def expected_date(record_type: RecordType, received_on: date, effective_due: date) -> date:
    """When the records are expected: the type's delivery estimate from receipt, never before the due date."""
    if record_type.expected is None:
        return effective_due
    unit, days = record_type.expected
    return max(add_days(received_on, days, unit), effective_due)
