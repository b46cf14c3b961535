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


def show_request(rt: Runtime, ref: str, today: date | None = None) -> dict[str, Any]:
    """The request's summary with its history (``events``), the statuses it may take next (``allowed_next``), the
    case's filing deadline (``filing_deadline``, ``filing_deadline_shown``), whether the holder's allowed extension
    would make its records late for filing (``at_risk_if_extended``, with ``if_extended``: the date and reason), and,
    for a draft, why it is not sent yet and what sends it (``sending``). Raises ``RequestNotFound``."""
    from ..cases.rules import Risk, assess_risk
    from .dates import extended_due_date
    from .lifecycle import answer_expected, case_deadline

    config = request_config(rt)
    today = today or date.today()
    with rt.catalog.session() as session:
        req = get_request(session, ref)
        summary = request_summary(req, config, today)
        summary["events"] = event_rows(req)
        summary["allowed_next"] = list(allowed_next(req.status))
        deadline = case_deadline(session, req.case_id, config.filing_rules)
        summary["filing_deadline"] = deadline.date.isoformat() if deadline and deadline.date else None
        summary["filing_deadline_shown"] = deadline.shown if deadline else None
        summary["at_risk_if_extended"] = False
        summary["if_extended"] = None
        rtype = config.record_type(req.record_type)
        if deadline is not None and req.due_on is not None and req.extended_due_on is None and req.status in (
            "sent", "acknowledged", "partially-received"
        ):  # fmt: skip
            extended = extended_due_date(rtype, req.due_on)
            if extended is not None:
                expected = max(extended, answer_expected(req) or extended)
                assessed = assess_risk(config.filing_rules, expected, deadline, what="if extended, due")
                summary["if_extended"] = {"due_on": extended.isoformat(), "reason": assessed.reason}
                summary["at_risk_if_extended"] = assessed.risk is not Risk.SAFE and summary["risk"] == "safe"
        summary["sending"] = sending_state(session, req) if req.status == Status.DRAFT.value else None
    return summary


def sending_state(session: Any, req: Any) -> dict[str, Any]:
    """Why a draft is not sent yet and what sends it: an e-mail that failed (the ledger's attempts and error type)
    waits for `casefile request send` (nothing sends it automatically); a letter by mail, fax or portal waits for a
    person to send it and record it."""
    from sqlalchemy import select

    from ..core.catalog import OutboundMail
    from .sending import initial_dedupe_key

    row = session.scalar(select(OutboundMail).where(OutboundMail.dedupe_key == initial_dedupe_key(req.id)))
    if row is not None and row.status in ("failed", "pending", "rejected"):
        what = "refused the address" if row.status == "rejected" else "could not be reached"
        return {
            "state": "not sent yet",
            "attempts": row.attempts,
            "last_error": row.last_error,
            "next_attempt": None,
            "line": (
                f"NOT SENT YET: the e-mail failed {row.attempts} time(s) (the mail server {what}: {row.last_error}); "
                f"nothing retries it automatically: run `casefile request send {req.id}` once the mail server works"
                + (" and the provider's address is fixed" if row.status == "rejected" else "")
            ),
        }
    if req.channel == "email":
        line = f"NOT SENT YET: send it with `casefile request send {req.id}`"
    else:
        line = (
            f"NOT SENT YET: print it, send it by {req.channel}, then record it with `casefile request send {req.id} "
            "--on YYYY-MM-DD`"
        )
    return {"state": "not sent yet", "attempts": 0, "last_error": None, "next_attempt": None, "line": line}


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
