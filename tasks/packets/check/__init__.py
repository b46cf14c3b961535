"""The pre-filing check of a packet (`casefile packet check`); see ``packet`` for what it checks."""

from .packet import (
    CHILD_CERTIFICATE,
    CHILD_DOCUMENT,
    CHILD_TRANSLATION,
    CONTINUED,
    FRONT_TITLES,
    CheckReport,
    Finding,
    check_packet,
)

__all__ = [
    "CHILD_CERTIFICATE",
    "CHILD_DOCUMENT",
    "CHILD_TRANSLATION",
    "CONTINUED",
    "FRONT_TITLES",
    "CheckReport",
    "Finding",
    "check_packet",
]
