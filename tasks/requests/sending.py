"""Creating and sending record requests: the steps `casefile request new` / `send` and the demo share.

Stage functions take the runtime first and return plain values (``new_request`` and ``send_draft``: the request's
summary, as `--json` prints it). ``new_request`` = create (draft) -> render and store the letter and forms in the
case -> send:
- ``--sent DATE`` (sent by hand before): recorded as sent on that date, nothing is e-mailed;
- channel email: e-mailed once through the ``outbound_mail`` ledger (dedupe key ``request:<REF>:initial``), then
  recorded as sent today. A failed send leaves the request a draft (``MailTransientError``: run
  `casefile request send REF` again; ``MailRejected``: fix the address);
- mail, fax, portal: stays a draft until a person sends it and runs `casefile request send REF [--on DATE]`
  (``send_draft``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from ..core.catalog import RecordRequest, RequestEvent, current_actor
from ..core.errors import ValidationError
from .config import Channel, RequestConfig
from .config import request_config as request_config  # re-exported: the demo reads the config through here
from .letters import request_mail, store_request_documents
from .lifecycle import create_request, get_request, request_summary, transition
from .status import Status

if TYPE_CHECKING:
    from ..core.runtime import Runtime

log = logging.getLogger(__name__)


def initial_dedupe_key(request_id: str) -> str:
    return f"request:{request_id}:initial"


def followup_dedupe_key(request_id: str, step: int) -> str:
    return f"followup:{request_id}:step{step}"


@dataclass(frozen=True)
class Sent:
    request_id: str
    status: str
    mailed: bool  # an e-mail went out now (False: recorded only, or already sent before)


def send_request(rt: Runtime, config: RequestConfig, request_id: str, *, actor: str, on: date | None = None) -> Sent:
    """Send a draft request (e-mail) or record that it was sent by hand on ``on``. Idempotent: a request already
    sent is left as it is; an e-mail already in the ledger as sent is not sent again."""
    with rt.catalog.session() as session:
        req = session.get(RecordRequest, request_id)
        assert req is not None
        if req.status != Status.DRAFT.value:  # sent already (or cancelled): nothing to do
            return Sent(req.id, req.status, False)
        channel = Channel(req.channel)
        documents = [req.letter_document_id, req.authorization_document_id, req.enclosed_document_id]
        doc_ids = [d for d in documents if d]
    mailed = False
    if on is None and channel is Channel.EMAIL:
        from .mail import send_once

        today = date.today()
        message = request_mail(rt, config, request_id, doc_ids, letter_date=today)
        outcome = send_once(rt, initial_dedupe_key(request_id), message, request_id=request_id)
        mailed = outcome.status == "sent"
    with rt.catalog.session() as session:
        req = session.get(RecordRequest, request_id)
        assert req is not None
        if channel is Channel.EMAIL and on is None:
            session.add(
                RequestEvent(request_id=req.id, actor=actor, kind="sent-mail", note="request e-mailed to the provider")
            )
        transition(session, config, req, Status.SENT, actor=actor, on=on or date.today())
        return Sent(req.id, req.status, mailed)


def new_request(
    rt: Runtime,
    *,
    case_id: str,
    record_type: str,
    provider: str,
    records: str = "",
    channel: str | None = None,
    sent_on: date | None = None,
    advocate: str | None = None,
    subject_name: str | None = None,
    subject_relationship: str | None = None,
    actor: str | None = None,
    config: RequestConfig | None = None,
    send: bool = True,
) -> dict[str, Any]:
    """Create a request, render and store its letter and forms in the case, and send it (see the module doc).
    Returns the request's summary (ids and dates; what `request new --json` prints) with ``documents`` (the
    stored letter and forms), ``mailed`` and ``warnings`` (what the advocate should know, e.g. a USCIS Track 3
    request without a hearing notice to enclose). ``subject_name``/``subject_relationship``: whose records, when
    not the client's (lifecycle.create_request). ``actor``: who does it (default: the user running casefile)."""
    config = config or request_config(rt)
    actor = actor or current_actor()
    if sent_on is not None and sent_on > date.today():
        raise ValidationError(f"The sent date {sent_on.isoformat()} is in the future; --sent records a past sending.")
    with rt.catalog.session() as session:
        created = create_request(
            session,
            config,
            case_id=case_id,
            record_type=record_type,
            provider_key=provider,
            records=records,
            channel=channel,
            advocate=advocate,
            subject_name=subject_name,
            subject_relationship=subject_relationship,
            actor=actor,
        )
        request_id = created.id
    documents = store_request_documents(rt, config, request_id, letter_date=sent_on or date.today())
    sent: Sent | None = None
    # The client's own letter (an access request) is signed by the client first: it waits as a draft whatever the
    # channel, until a person sends the signed copy and records it (`request send REF --on DATE`).
    by_email = channel_of(rt, request_id) is Channel.EMAIL and config.record_type(record_type).letter_signer != "client"
    not_sent = None
    if send and (sent_on is not None or by_email):
        from ..core.errors import MailRejected, MailTransientError

        try:
            sent = send_request(rt, config, request_id, actor=actor, on=sent_on)
        except (MailTransientError, MailRejected) as err:
            # The request exists, with its letter: never lose it, never create it twice. It stays a draft that says
            # so, until `request send` sends it.
            log.warning("request %s: e-mail not sent (%s); left as a draft", request_id, err.log_summary())
            not_sent = (
                f"NOT SENT YET: request {request_id} is saved with its letter, but its e-mail could not be sent "
                f"({type(err).__name__}). Do not create it again: run `casefile request send {request_id}` once the "
                "mail server works (nothing retries it automatically)."
            )
    with rt.catalog.session() as session:
        req = session.get(RecordRequest, request_id)
        assert req is not None
        summary = request_summary(req, config)
        summary["warnings"] = request_warnings(session, config, req)
    summary["documents"] = documents
    summary["mailed"] = bool(sent and sent.mailed)
    summary["not_sent"] = not_sent
    return summary


def request_warnings(session: Any, config: RequestConfig, req: RecordRequest) -> list[str]:
    """What the advocate should know before the request goes out (ids and rules only, no client data)."""
    from .letters import asks_track3

    warnings = []
    if config.record_type(req.record_type).letter_signer == "client" and req.status == Status.DRAFT.value:
        warnings.append(
            "the client signs this letter (their own access request): print it, have it signed, send the signed copy, "
            f"then record it with `casefile request send {req.id} --on YYYY-MM-DD`."
        )
    if asks_track3(session, config, req) and req.enclosed_document_id is None:
        warnings.append(
            "the letter asks USCIS for Track 3 (a hearing is scheduled), but the case has no hearing notice or "
            "Notice to Appear to enclose; USCIS needs one for Track 3. Add it (`casefile add CASE-ID FILE --type "
            "hearing-notice`) and create the request again, or send the notice with the letter yourself."
        )
    return warnings


def channel_of(rt: Runtime, request_id: str) -> Channel:
    with rt.catalog.session() as session:
        req = session.get(RecordRequest, request_id)
        assert req is not None
        return Channel(req.channel)


def send_draft(rt: Runtime, ref: str, *, on: date | None = None, actor: str | None = None) -> dict[str, Any]:
    """`casefile request send REF [--on DATE]`: e-mail a draft whose channel is e-mail (``on`` None), or record
    that it was sent by hand on ``on`` (default today for mail, fax and portal). Returns the request's summary with
    ``mailed``. A request sent already is left as it is (see ``send_request``)."""
    config = request_config(rt)
    with rt.catalog.session() as session:
        req = get_request(session, ref)
        request_id, channel = req.id, Channel(req.channel)
        client_signs = config.record_type(req.record_type).letter_signer == "client"
    if on is None and channel is Channel.EMAIL and client_signs:
        raise ValidationError(
            f"Record request {request_id} is the client's own letter, which the client signs: casefile cannot e-mail "
            f"the unsigned copy. Send the signed copy yourself, then run `casefile request send {request_id} --on "
            "YYYY-MM-DD`."
        )
    if on is None and channel is not Channel.EMAIL:
        on = date.today()
    sent = send_request(rt, config, request_id, actor=actor or current_actor(), on=on)
    with rt.catalog.session() as session:
        summary = request_summary(get_request(session, request_id), config)
    summary["mailed"] = sent.mailed
    return summary
