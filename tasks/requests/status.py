"""The statuses of a record request and what each may become.

A light module (the standard library only): the command line takes its --status choices from ``TARGET_STATUSES``
at import, and `casefile --help` must stay fast.
"""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    DRAFT = "draft"
    SENT = "sent"
    ACKNOWLEDGED = "acknowledged"
    EXTENDED = "extended"
    PARTIAL = "partially-received"
    RECEIVED = "received"
    OVERDUE = "overdue"
    ESCALATED = "escalated"
    DENIED = "denied"
    CANCELLED = "cancelled"
    CLOSED = "closed"


S = Status
# What each status may become. Waiting states can always get an answer, a denial or be cancelled; an answer,
# a denial or a cancellation can only be closed; closed is final.
TRANSITIONS: dict[Status, frozenset[Status]] = {
    S.DRAFT: frozenset({S.SENT, S.CANCELLED}),
    S.SENT: frozenset({S.ACKNOWLEDGED, S.EXTENDED, S.PARTIAL, S.RECEIVED, S.OVERDUE, S.DENIED, S.CANCELLED}),
    S.ACKNOWLEDGED: frozenset({S.EXTENDED, S.PARTIAL, S.RECEIVED, S.OVERDUE, S.DENIED, S.CANCELLED}),
    S.EXTENDED: frozenset({S.PARTIAL, S.RECEIVED, S.OVERDUE, S.DENIED, S.CANCELLED}),
    S.PARTIAL: frozenset({S.EXTENDED, S.RECEIVED, S.OVERDUE, S.DENIED, S.CANCELLED, S.CLOSED}),
    S.OVERDUE: frozenset({S.ACKNOWLEDGED, S.EXTENDED, S.PARTIAL, S.RECEIVED, S.ESCALATED, S.DENIED, S.CANCELLED}),
    S.ESCALATED: frozenset({S.ACKNOWLEDGED, S.EXTENDED, S.PARTIAL, S.RECEIVED, S.DENIED, S.CANCELLED}),
    S.RECEIVED: frozenset({S.CLOSED}),
    S.DENIED: frozenset({S.CLOSED}),
    S.CANCELLED: frozenset({S.CLOSED}),
    S.CLOSED: frozenset(),
}
# Still waiting for the holder: these count for overdue, at-risk and the chase.
OPEN_STATUSES = frozenset({S.SENT, S.ACKNOWLEDGED, S.EXTENDED, S.PARTIAL, S.OVERDUE, S.ESCALATED})
# May become overdue when the due date has passed.
OVERDUE_FROM = frozenset({S.SENT, S.ACKNOWLEDGED, S.EXTENDED, S.PARTIAL})
FINAL_STATUSES = frozenset({S.CLOSED, S.CANCELLED})
# What a request's status can be changed to (every status but draft), in the order of ``Status``.
TARGET_STATUSES = tuple(s for s in Status if any(s in allowed for allowed in TRANSITIONS.values()))


def allowed_next(status: str) -> tuple[str, ...]:
    return tuple(sorted(s.value for s in TRANSITIONS[Status(status)]))
