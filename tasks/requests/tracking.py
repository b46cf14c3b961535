"""Following record requests once they exist: one request by its code, the list, status changes and notes.

What `casefile request show`, `list` and `update` print. Each function takes the runtime first, opens its own
catalog session and returns plain dicts in the shape of lifecycle.py's ``request_summary`` (ids, dates, states and
the advocate's own notes). The rules (which status may follow which, due dates, at-risk flags) are lifecycle.py's.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from ..core.catalog import current_actor
from ..core.errors import ValidationError
from .config import request_config
from .lifecycle import add_note, event_rows, get_request, list_requests, record_routing, request_summary, transition
from .status import Status, allowed_next

if TYPE_CHECKING:
    from ..core.runtime import Runtime


def show_request(rt: Runtime, ref: str) -> dict[str, Any]:
    """The request's summary with its history (``events``) and the statuses it may take next (``allowed_next``).
    Raises ``RequestNotFound``."""
    config = request_config(rt)
    with rt.catalog.session() as session:
        req = get_request(session, ref)
        summary = request_summary(req, config)
        summary["events"] = event_rows(req)
        summary["allowed_next"] = list(allowed_next(req.status))
    return summary


def list_request_rows(
    rt: Runtime,
    *,
    case_id: str | None = None,
    overdue: bool = False,
    due_within: int | None = None,
    at_risk: bool = False,
    today: date | None = None,
) -> list[dict[str, Any]]:
    """Summaries of the requests that match, soonest due first (the filters are ``lifecycle.list_requests``').
    ``case_id`` is checked (``CaseNotFound``)."""
    config = request_config(rt)
    with rt.catalog.session() as session:
        if case_id is not None:
            case_id = rt.catalog.get_case(session, case_id).id
        found = list_requests(
            session,
            case_id=case_id,
            overdue=overdue,
            due_within=due_within,
            at_risk=at_risk,
            today=today,
            config=config,
        )
        return [request_summary(r, config, today) for r in found]


def update_request(
    rt: Runtime,
    ref: str,
    *,
    status: Status | str | None = None,
    note: str | None = None,
    due: date | None = None,
    routed_on: date | None = None,
    actor: str | None = None,
) -> dict[str, Any]:
    """Change the request's status (validated; ``due``: the holder's own new date, with ``extended`` only), record
    that a FOIA request was routed to the right component on ``routed_on`` (its determination counts from then, up
    to the routing allowance later), and/or add ``note`` to its history. Returns the summary with ``events``.
    ``actor``: default the user running casefile. Raises ``ValidationError`` (nothing to change, ``due`` without
    ``extended``, routing of a type without a routing allowance), ``InvalidTransition``, ``RequestNotFound``."""
    if status is None and not note and routed_on is None:
        raise ValidationError("Nothing to change: pass --status, --routed-on and/or --note.")
    if due is not None and status != Status.EXTENDED:
        raise ValidationError("--due goes with --status extended.")
    actor = actor or current_actor()
    config = request_config(rt)
    with rt.catalog.session() as session:
        req = get_request(session, ref)
        if routed_on is not None:
            record_routing(session, config, req, routed_on, actor=actor)
        if status is not None:
            transition(session, config, req, status, actor=actor, note=note, new_due=due)
        elif note:
            add_note(session, req, note, actor=actor)
        session.flush()
        summary = request_summary(req, config)
        summary["events"] = event_rows(req)
    return summary
