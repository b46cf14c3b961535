"""Record requests: the lifecycle, due dates, at-risk flags, overdue marking, and matching what comes back.

Session-level helpers: plain typed functions over a catalog session (no Prefect), for use inside one transaction
by the stage functions that take the runtime (sending.py, tracking.py, receiving.py, inbox.py, chase.py). Every
status change is validated against ``TRANSITIONS`` and leaves a ``RequestEvent`` (the request's own history) and an
audit event (ids only).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from ..cases.rules import Deadline, FilingRules, Risk, RiskAssessment, assess_risk, filing_deadline
from ..core.catalog import (
    _ID_ALPHABET,
    Case,
    Catalog,
    Document,
    InboxItem,
    Page,
    RecordRequest,
    RequestEvent,
    audit,
    new_id,
    utcnow,
)
from ..core.errors import InvalidTransition, RequestNotFound, ValidationError
from ..documents.types import UNCLASSIFIED
from .config import Channel, EscalationStep, RecordType, RequestConfig
from .dates import due_date, expected_date, extended_due_date, receipt_date, routed_due_date
from .status import OPEN_STATUSES, OVERDUE_FROM, TRANSITIONS, Status, allowed_next

log = logging.getLogger(__name__)

REF_PREFIX = "RQ"
REF_LENGTH = 8


# References ---------------------------------------------------------------------------------------------------
_ALPHA = re.escape(_ID_ALPHABET)
# Tolerant of what OCR and people do to a code: lower case, a space or an en dash instead of the hyphen.
REF_PATTERN = re.compile(
    rf"(?<![A-Za-z0-9]){REF_PREFIX}[ \t]?[-\u2010-\u2015_:]?[ \t]?([{_ALPHA}]{{{REF_LENGTH}}})(?![A-Za-z0-9])",
    re.IGNORECASE,
)


def new_reference() -> str:
    return new_id(REF_PREFIX, REF_LENGTH)


def find_references(text: str) -> list[str]:
    """Every reference code in ``text``, normalised ("RQ-7KX4M2PA"), in order of appearance, without repeats."""
    found: list[str] = []
    for match in REF_PATTERN.finditer(text):
        ref = f"{REF_PREFIX}-{match.group(1).upper()}"
        if ref not in found:
            found.append(ref)
    return found


def normalise_reference(raw: str) -> str:
    refs = find_references(raw.strip())
    if refs:
        return refs[0]
    bare = raw.strip().upper()
    if len(bare) == REF_LENGTH and all(c in _ID_ALPHABET for c in bare):
        return f"{REF_PREFIX}-{bare}"
    return raw.strip().upper()


def get_request(session: Session, ref: str) -> RecordRequest:
    """The request, its row locked until the session's transaction ends (on PostgreSQL: an advocate's edit and the
    overdue check never both act on what they read before the other wrote; SQLite has one writer at a time)."""
    req = session.scalars(
        select(RecordRequest)
        .where(RecordRequest.id == normalise_reference(ref))
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()
    if req is None:
        raise RequestNotFound(ref)
    return req


# Creating and changing ----------------------------------------------------------------------------------------
def _event(
    session: Session,
    req: RecordRequest,
    *,
    actor: str,
    kind: str,
    from_status: str | None = None,
    to_status: str | None = None,
    note: str | None = None,
    document_id: str | None = None,
) -> RequestEvent:
    event = RequestEvent(
        request_id=req.id,
        at=utcnow(),
        actor=actor,
        kind=kind,
        from_status=from_status,
        to_status=to_status,
        note=note,
        document_id=document_id,
    )
    req.events.append(event)
    req.updated_at = event.at
    # The audit trail gets ids and states only; the note (it may name a person) stays in the request's history.
    audit(
        session,
        actor=actor,
        entity="request",
        entity_id=req.id,
        action=kind if to_status is None else f"status:{to_status}",
        case_id=req.case_id,
        from_status=from_status,
        document_id=document_id,
    )
    return event


def create_request(
    session: Session,
    config: RequestConfig,
    *,
    case_id: str,
    record_type: str,
    provider_key: str,
    records: str = "",
    channel: str | None = None,
    advocate: str | None = None,
    subject_name: str | None = None,
    subject_relationship: str | None = None,
    actor: str,
) -> RecordRequest:
    """A new request in ``draft``: checked against the config (type, provider, channel, advocate, whose records).
    ``subject_name``: the person whose records they are when not the client (a child, for a type that allows it);
    ``subject_relationship``: the signer's (the client's) relationship to that person ("mother", "legal guardian").
    A USCIS FOIA request (``track3``) encloses the case's latest hearing notice, when it has one."""
    case = Catalog.get_case(session, case_id)
    rtype = config.record_type(record_type)
    provider = config.provider(provider_key)
    subject, relationship = _subject(rtype, subject_name, subject_relationship)
    try:
        chosen = Channel(channel) if channel else provider.channel
    except ValueError:
        raise ValidationError(
            f"Unknown channel {channel!r}; use one of: {', '.join(c.value for c in Channel)}."
        ) from None
    if chosen is Channel.EMAIL and not provider.email:
        raise ValidationError(
            f"Provider {provider.key!r} has no e-mail address in config/providers.toml; add one or choose another "
            "--channel (mail, fax, portal)."
        )
    person = config.person(advocate) if advocate else config.default_advocate()
    if not advocate and case.advocate and case.advocate in config.practice.people:
        person = config.person(case.advocate)
    language = provider.language if provider.language in rtype.letters else "en"
    ref = new_reference()
    while session.get(RecordRequest, ref) is not None:
        ref = new_reference()
    req = RecordRequest(
        id=ref,
        case_id=case.id,
        record_type=rtype.key,
        provider_key=provider.key,
        provider_name=provider.name,
        provider_email=provider.email,
        channel=chosen.value,
        language=language,
        records_description=records.strip(),
        advocate=person.key,
        status=Status.DRAFT.value,
        at_risk=False,
        escalation_step=0,
        subject_name=subject,
        subject_relationship=relationship,
        # USCIS Track 3 is for a hearing still ahead; its request encloses the hearing notice.
        enclosed_document_id=hearing_notice(session, case.id)
        if rtype.track3 and case.hearing_date >= date.today()
        else None,
    )
    session.add(req)
    session.flush()
    _event(session, req, actor=actor, kind="status", to_status=Status.DRAFT.value)
    return req


HEARING_NOTICE = "hearing-notice"  # document type of a Notice to Appear or hearing notice (document_types.toml)


def hearing_notice(session: Session, case_id: str) -> str | None:
    """The case's latest ready hearing notice or Notice to Appear (document type ``hearing-notice``), if any."""
    return session.scalar(
        select(Document.id)
        .where(Document.case_id == case_id, Document.doc_type == HEARING_NOTICE, Document.status == "ready")
        .order_by(Document.created_at.desc(), Document.id.desc())
        .limit(1)
    )


def _subject(rtype: RecordType, name: str | None, relationship: str | None) -> tuple[str | None, str | None]:
    name = (name or "").strip() or None
    relationship = (relationship or "").strip() or None
    if name is None:
        if relationship is not None:
            raise ValidationError("--relationship goes with --subject (the person whose records they are).")
        return None, None
    if not rtype.other_subject:
        allowed = "the medical and school record types"
        raise ValidationError(
            f"{rtype.label} requests are for the client's own records; only {allowed} can name another person "
            "(--subject)."
        )
    if relationship is None:
        raise ValidationError(
            "Name the client's relationship to the person whose records they are, e.g. --relationship mother or "
            '--relationship "legal guardian": the form is signed by the parent or guardian.'
        )
    if len(name) > 200 or len(relationship) > 60:
        raise ValidationError("--subject is at most 200 characters and --relationship at most 60.")
    return name, relationship


def effective_due(req: RecordRequest) -> date | None:
    return req.extended_due_on or req.due_on


def case_deadline(session: Session, case_id: str, rules: FilingRules) -> Deadline | None:
    case = session.get(Case, case_id)
    if case is None:
        return None
    return filing_deadline(rules, case.hearing_date, case.hearing_type, case.detained, case.filing_deadline_override)


def case_filing_deadline(session: Session, case_id: str, rules: FilingRules) -> date | None:
    deadline = case_deadline(session, case_id, rules)
    return deadline.date if deadline else None


def answer_expected(req: RecordRequest) -> date | None:
    """When the records are expected: the delivery estimate when the type has one (FOIA), else the due date."""
    return req.expected_on or effective_due(req)


def request_risk(
    session: Session, req: RecordRequest, config: RequestConfig, today: date | None = None
) -> RiskAssessment | None:
    """Whether the records, expected when ``answer_expected`` says (and, once that date has passed, no earlier than
    ``today``), leave time to file before the case's deadline; None for a request not waiting for an answer (a draft,
    or one answered, denied, cancelled or closed)."""
    expected = answer_expected(req)
    if Status(req.status) not in OPEN_STATUSES or expected is None:
        return None
    deadline = case_deadline(session, req.case_id, config.filing_rules)
    if deadline is None:
        return None
    today = today or date.today()
    if expected < today:  # late: whatever comes, comes today at the earliest
        what = f"late (expected {expected.isoformat()}), at the earliest"
        return assess_risk(config.filing_rules, today, deadline, what=what)
    what = "expected" if req.expected_on else "due"
    return assess_risk(config.filing_rules, expected, deadline, what=what)


def compute_at_risk(session: Session, req: RecordRequest, config: RequestConfig) -> bool:
    """True when the records may come too late to file (at risk) or nobody knows (no filing date yet)."""
    assessed = request_risk(session, req, config)
    return assessed is not None and assessed.risk is not Risk.SAFE


def refresh_risk(session: Session, config: RequestConfig, case_id: str) -> list[str]:
    """Recompute the stored at-risk flags of a case's waiting requests (after its filing deadline changed); the ids
    whose flag changed."""
    changed = []
    waiting = [s.value for s in OPEN_STATUSES]
    for req in session.scalars(
        select(RecordRequest).where(RecordRequest.case_id == case_id, RecordRequest.status.in_(waiting))
    ):
        flag = compute_at_risk(session, req, config)
        if flag != req.at_risk:
            req.at_risk = flag
            changed.append(req.id)
    return changed


def _set_expected(req: RecordRequest, rtype: RecordType) -> None:
    due, received = effective_due(req), req.holder_receipt_on or req.sent_on
    req.expected_on = expected_date(rtype, received, due) if due and received and rtype.expected else None


def transition(
    session: Session,
    config: RequestConfig,
    req: RecordRequest,
    to: Status | str,
    *,
    actor: str,
    note: str | None = None,
    on: date | None = None,
    new_due: date | None = None,
    document_id: str | None = None,
) -> RequestEvent:
    """Change ``req``'s status (validated), with its side effects, one event and one audit entry.

    - ``sent``: ``sent_on`` = ``on`` (default today), ``holder_receipt_on`` = sent + the channel's days,
      ``due_on`` by the record type's rule counted from receipt, ``expected_on`` (the delivery estimate, FOIA),
      at-risk flag set the same day when the records may come too late to file (or the filing date is unknown).
    - ``extended``: ``extended_due_on`` by the type's extension rule (``on`` gives the holder's own new date);
      refused when the type allows no extension or the request was already extended; ``new_due`` is the holder's
      own new date, if it gave one; at-risk recomputed.
    - ``closed`` / ``cancelled``: ``closed_at`` set.
    """
    try:
        target = Status(to)
    except ValueError:
        raise ValidationError(f"Unknown status {to!r}; use one of: {', '.join(s.value for s in Status)}.") from None
    current = Status(req.status)
    if target not in TRANSITIONS[current]:
        raise InvalidTransition(req.id, current.value, target.value, allowed_next(current.value))
    rtype = config.record_type(req.record_type)
    today = date.today()
    if target is Status.SENT:
        req.sent_on = on or today
        req.holder_receipt_on = receipt_date(config, req.channel, req.sent_on)
        req.due_on = due_date(rtype, req.holder_receipt_on)
        _set_expected(req, rtype)
    elif target is Status.EXTENDED:
        if req.extended_due_on is not None:
            raise ValidationError(
                f"Record request {req.id} was already extended (to {req.extended_due_on.isoformat()}); a holder "
                "gets one extension. Record a new date as a note, or mark it overdue."
            )
        assert req.due_on is not None  # every status after sent has a due date
        new_due = new_due or extended_due_date(rtype, req.due_on)
        if new_due is None:
            raise ValidationError(
                f"{rtype.label} requests ({rtype.legal_basis}) allow no extension in config/record_types.toml. "
                "If the holder set its own date, pass it with --due YYYY-MM-DD."
            )
        if new_due <= req.due_on:
            raise ValidationError(
                f"The extended due date {new_due.isoformat()} is not after the due date {req.due_on.isoformat()}."
            )
        req.extended_due_on = new_due
        _set_expected(req, rtype)
    if target in (Status.CLOSED, Status.CANCELLED):
        req.closed_at = utcnow()
    req.status = target.value
    if target in (Status.SENT, Status.EXTENDED):
        req.at_risk = compute_at_risk(session, req, config)
    event = _event(
        session,
        req,
        actor=actor,
        kind="status",
        from_status=current.value,
        to_status=target.value,
        note=note,
        document_id=document_id,
    )
    if target is Status.SENT and req.at_risk:
        assessed = request_risk(session, req, config)
        label = "Risk unknown" if assessed and assessed.risk is Risk.UNKNOWN else "At risk"
        _event(session, req, actor=actor, kind="note", note=f"{label}: {assessed.reason if assessed else ''}.")
    return event


def record_routing(
    session: Session, config: RequestConfig, req: RecordRequest, routed_on: date, *, actor: str
) -> RequestEvent:
    """The holder routed the request to its right component, which received it on ``routed_on`` (FOIA,
    5 U.S.C. 552(a)(6)(A)(ii)): the due date counts from then, at most the type's routing allowance later."""
    rtype = config.record_type(req.record_type)
    if rtype.routing_days <= 0:
        raise ValidationError(
            f"{rtype.label} requests have no routing allowance in config/record_types.toml (only FOIA requests do)."
        )
    if Status(req.status) not in OPEN_STATUSES or req.sent_on is None:
        raise ValidationError(f"Record request {req.id} is {req.status}; routing applies to a request still waiting.")
    received = req.holder_receipt_on or req.sent_on
    if routed_on < received:
        raise ValidationError(
            f"The routing date {routed_on.isoformat()} is before the request was received ({received.isoformat()})."
        )
    req.routed_on = routed_on
    old_due = req.due_on
    req.due_on = routed_due_date(rtype, received, routed_on)
    if req.extended_due_on is not None and old_due is not None and req.due_on > old_due:
        req.extended_due_on = max(req.extended_due_on, extended_due_date(rtype, req.due_on) or req.extended_due_on)
    _set_expected(req, rtype)
    req.at_risk = compute_at_risk(session, req, config)
    note = f"routed to the right component on {routed_on.isoformat()}; due {req.due_on.isoformat()}"
    return _event(session, req, actor=actor, kind="note", note=note)


def add_note(session: Session, req: RecordRequest, note: str, *, actor: str) -> RequestEvent:
    return _event(session, req, actor=actor, kind="note", note=note)


def record_followup(
    session: Session,
    req: RecordRequest,
    step: EscalationStep,
    *,
    actor: str,
    document_id: str | None = None,
    note: str | None = None,
) -> RequestEvent:
    """Record that escalation ``step`` was done (follow-up letter sent, or supervisor told). Steps only go up."""
    if step.step <= req.escalation_step:
        raise ValidationError(f"Record request {req.id} already had escalation step {req.escalation_step}.")
    req.escalation_step = step.step
    return _event(
        session,
        req,
        actor=actor,
        kind="follow-up",
        note=note or f"step {step.step}: {step.kind} to {step.to}",
        document_id=document_id,
    )


def due_escalation_steps(config: RequestConfig, req: RecordRequest, today: date) -> list[EscalationStep]:
    """The escalation steps now due for ``req`` and not yet done, in order (the chase does each once)."""
    due = effective_due(req)
    if due is None or Status(req.status) not in OPEN_STATUSES:
        return []
    steps = config.record_type(req.record_type).escalation
    return [s for s in steps if s.step > req.escalation_step and today >= due + timedelta(days=s.days_after_due)]


def mark_overdue(session: Session, config: RequestConfig, today: date, *, actor: str) -> list[str]:
    """Every waiting request whose (extended) due date is before ``today`` becomes ``overdue``. Idempotent."""
    # Locked as they are read; a request an advocate changed meanwhile is read as changed (and skipped if it no
    # longer waits), never overwritten with what was true before.
    candidates = session.scalars(
        select(RecordRequest)
        .where(RecordRequest.status.in_([s.value for s in OVERDUE_FROM]))
        .order_by(RecordRequest.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    marked: list[str] = []
    for req in candidates:
        due = effective_due(req)
        if due is not None and due < today:
            transition(session, config, req, Status.OVERDUE, actor=actor)
            marked.append(req.id)
    return marked


# Answers ------------------------------------------------------------------------------------------------------
def link_document(
    session: Session,
    config: RequestConfig,
    req: RecordRequest,
    document_id: str,
    *,
    actor: str,
    complete: bool | None,
    matched_by: str,
) -> str:
    """Link an incoming document to ``req`` (a ``received`` event). ``complete``: True -> ``received``,
    False -> ``partially-received``, None -> status unchanged when the change is not allowed (an automatic match
    never fails). Linking the same document twice is a no-op. Returns the request's status. An answer not yet
    classified takes the request's record type (a hospital's answer to a medical request is ``medical``)."""
    already = session.scalar(
        select(RequestEvent.id).where(
            RequestEvent.request_id == req.id, RequestEvent.kind == "received", RequestEvent.document_id == document_id
        )
    )
    if already is not None:
        return req.status
    target = None if complete is None else (Status.RECEIVED if complete else Status.PARTIAL)
    if complete is None:
        target = Status.PARTIAL if Status.PARTIAL in TRANSITIONS[Status(req.status)] else None
    _event(session, req, actor=actor, kind="received", note=f"matched by {matched_by}", document_id=document_id)
    document = session.get(Document, document_id)
    doc_type = config.record_type(req.record_type).document_type
    if document is not None and document.doc_type == UNCLASSIFIED and doc_type != UNCLASSIFIED:
        document.doc_type = doc_type
        audit(
            session,
            actor=actor,
            entity="document",
            entity_id=document.id,
            action="typed",
            case_id=document.case_id,
            doc_type=doc_type,
            request_id=req.id,
        )
    if target is not None and target.value != req.status:
        transition(session, config, req, target, actor=actor, document_id=document_id)
    return req.status


def check_can_receive(req: RecordRequest, complete: bool) -> None:
    """Refuse before ingesting anything when the answer cannot be recorded (no "received" before "sent")."""
    target = Status.RECEIVED if complete else Status.PARTIAL
    current = Status(req.status)
    if target is current is Status.PARTIAL:
        return
    if target not in TRANSITIONS[current]:
        raise InvalidTransition(req.id, current.value, target.value, allowed_next(current.value))


@dataclass(frozen=True)
class Match:
    request_id: str | None
    matched_by: str | None  # filename | subject | text | qr; None when unmatched
    candidates: tuple[str, ...] = ()  # codes seen that name no request of the case (or more than one)


FIRST_PAGES = 3  # where a return cover sheet can be: the first pages of what comes back


def _resolve(session: Session, case_id: str | None, refs: list[str]) -> list[str]:
    if not refs:
        return []
    query = select(RecordRequest.id).where(RecordRequest.id.in_(refs))
    if case_id is not None:
        query = query.where(RecordRequest.case_id == case_id)
    known = set(session.scalars(query))
    return [r for r in refs if r in known]


def match_document(
    session: Session,
    document: Document,
    *,
    subject: str | None = None,
    qr_reader: Any = None,
    file_name: str | None = None,
) -> Match:
    """Which request of the document's case ``document`` answers, by the reference code in (in this order) its
    file name, the e-mail ``subject``, the text of its first pages (text layer or OCR, from the catalog), or a
    QR code on those pages (``qr_reader(document) -> list[str]`` of decoded texts; see tasks/requests/letters.py).
    ``file_name``: the name the file arrived under (default: the name it was first stored under)."""
    seen: list[str] = []
    sources: list[tuple[str, Any]] = [
        ("filename", lambda: file_name or document.original_name),
        ("subject", lambda: subject or ""),
        ("text", lambda: "\n".join(_first_pages_text(session, document.id))),
    ]
    if qr_reader is not None:
        sources.append(("qr", lambda: "\n".join(qr_reader(document))))
    for how, get_text in sources:
        refs = find_references(get_text())
        known = _resolve(session, document.case_id, refs)
        seen.extend(r for r in refs if r not in seen)
        if len(known) == 1:
            return Match(known[0], how)
        if len(known) > 1:  # one file answering several requests: a person decides
            return Match(None, None, tuple(known))
    return Match(None, None, tuple(seen))


def _first_pages_text(session: Session, document_id: str) -> list[str]:
    return [
        t or ""
        for t in session.scalars(
            select(Page.text).where(Page.document_id == document_id, Page.number <= FIRST_PAGES).order_by(Page.number)
        )
    ]


def route_document(
    session: Session,
    config: RequestConfig,
    document: Document,
    *,
    source: str,
    source_ref: str,
    actor: str,
    subject: str | None = None,
    qr_reader: Any = None,
    file_name: str | None = None,
) -> InboxItem:
    """Match an arrived document and record where it went: linked to its request, or into the case's inbox
    (``status`` "unassigned") for a person to assign. Idempotent per (source, source_ref, sha256)."""
    existing = session.scalar(
        select(InboxItem).where(
            InboxItem.source == source, InboxItem.source_ref == source_ref, InboxItem.sha256 == document.sha256
        )
    )
    if existing is not None:
        return existing
    if document.status != "ready":
        item = InboxItem(
            case_id=document.case_id,
            source=source,
            source_ref=source_ref,
            sha256=document.sha256,
            document_id=document.id,
            status="quarantined",
        )
        session.add(item)
        return item
    earlier = session.scalar(
        select(InboxItem).where(InboxItem.document_id == document.id, InboxItem.status == "linked").limit(1)
    )
    if earlier is not None:  # the same bytes arrived before and were linked: same document, same request
        match = Match(earlier.request_id, "duplicate")
    else:
        match = match_document(session, document, subject=subject, qr_reader=qr_reader, file_name=file_name)
    item = InboxItem(
        case_id=document.case_id,
        source=source,
        source_ref=source_ref,
        sha256=document.sha256,
        document_id=document.id,
        request_id=match.request_id,
        matched_by=match.matched_by,
        status="linked" if match.request_id else "unassigned",
        resolved_at=utcnow() if match.request_id else None,
    )
    session.add(item)
    if match.request_id is not None:
        req = get_request(session, match.request_id)
        link_document(
            session,
            config,
            req,
            document.id,
            actor=actor,
            complete=None,
            matched_by=match.matched_by or "?",
        )
    audit(
        session,
        actor=actor,
        entity="document",
        entity_id=document.id,
        action="matched" if match.request_id else "inbox",
        case_id=document.case_id,
        request_id=match.request_id,
        matched_by=match.matched_by,
    )
    return item


def assign_inbox_item(
    session: Session,
    config: RequestConfig,
    document_id: str,
    ref: str,
    *,
    actor: str,
    complete: bool,
) -> InboxItem:
    """A person assigns a document from the inbox to a request."""
    item = session.scalar(
        select(InboxItem).where(InboxItem.document_id == document_id.upper(), InboxItem.status == "unassigned")
    )
    if item is None:
        from ..core.errors import NotFoundError

        raise NotFoundError(
            f"Document {document_id} is not waiting in an inbox. Run `casefile request inbox CASE-ID` to see what is."
        )
    req = get_request(session, ref)
    if req.case_id != item.case_id:
        raise ValidationError(f"Record request {req.id} belongs to another case than document {document_id}.")
    check_can_receive(req, complete)
    link_document(
        session,
        config,
        req,
        item.document_id or "",
        actor=actor,
        complete=complete,
        matched_by="manual",
    )
    item.request_id, item.matched_by, item.status, item.resolved_at = req.id, "manual", "linked", utcnow()
    return item


# Reading ------------------------------------------------------------------------------------------------------
def request_summary(
    req: RecordRequest, config: RequestConfig | None = None, today: date | None = None
) -> dict[str, Any]:
    """ids, dates and states (the CLI's JSON); the records description is the advocate's own text.

    ``assumed_receipt_on``: when the holder is taken to have received it (sent + the channel's mailing days); the
    due date counts from it. ``due_kind``: "records", or "determination" (FOIA: the agency's decision, not delivery);
    ``due_basis``: "law" or "practice" (the practice's own expectation; letters then ask for the date).
    ``expected_on``: when the records are expected (the delivery estimate); ``risk`` ("safe", "at-risk", "unknown"
    when the case has no filing date) and ``risk_reason`` compare it with the case's filing deadline (None for a
    request not waiting for an answer)."""
    today = today or date.today()
    due = effective_due(req)
    rtype = config.types.get(req.record_type) if config else None
    label = rtype.label if rtype else req.record_type
    assessed = None
    session = object_session(req)
    if config is not None and session is not None:
        assessed = request_risk(session, req, config, today)
    receipt = req.holder_receipt_on or req.sent_on
    return {
        "id": req.id,
        "case_id": req.case_id,
        "type": req.record_type,
        "type_label": label,
        "provider": req.provider_key,
        "provider_name": req.provider_name,
        "provider_email": req.provider_email,
        "channel": req.channel,
        "language": req.language,
        "records": req.records_description,
        "advocate": req.advocate,
        "status": req.status,
        "subject": req.subject_name,
        "subject_relationship": req.subject_relationship,
        "sent_on": req.sent_on.isoformat() if req.sent_on else None,
        "assumed_receipt_on": receipt.isoformat() if receipt else None,
        "routed_on": req.routed_on.isoformat() if req.routed_on else None,
        "due_on": req.due_on.isoformat() if req.due_on else None,
        "due_kind": rtype.kind.value if rtype else None,
        "due_basis": rtype.basis.value if rtype else None,
        "extended_due_on": req.extended_due_on.isoformat() if req.extended_due_on else None,
        "effective_due_on": due.isoformat() if due else None,
        "expected_on": (answer_expected(req) or due).isoformat() if due else None,
        "days_left": (due - today).days if due and Status(req.status) in OPEN_STATUSES else None,
        "risk": assessed.risk.value if assessed else None,
        "risk_reason": assessed.reason if assessed else None,
        "at_risk": assessed.risk is not Risk.SAFE if assessed else req.at_risk,
        "escalation_step": req.escalation_step,
        "letter_document_id": req.letter_document_id,
        "authorization_document_id": req.authorization_document_id,
        "enclosed_document_id": req.enclosed_document_id,
        "created_at": req.created_at.isoformat(timespec="seconds"),
        "updated_at": req.updated_at.isoformat(timespec="seconds"),
        "closed_at": req.closed_at.isoformat(timespec="seconds") if req.closed_at else None,
    }


def event_rows(req: RecordRequest) -> list[dict[str, Any]]:
    return [
        {
            "at": e.at.isoformat(timespec="seconds"),
            "actor": e.actor,
            "kind": e.kind,
            "from": e.from_status,
            "to": e.to_status,
            "note": e.note,
            "document_id": e.document_id,
        }
        for e in req.events
    ]


def list_requests(
    session: Session,
    *,
    case_id: str | None = None,
    overdue: bool = False,
    due_within: int | None = None,
    at_risk: bool = False,
    today: date | None = None,
    config: RequestConfig | None = None,
) -> list[RecordRequest]:
    """Requests, soonest due first. ``overdue``: overdue or escalated, or waiting past the due date (before the
    scheduled run marked them). ``due_within``: waiting and due within N days (overdue ones included).
    ``at_risk``: waiting, and at risk or of unknown risk (judged now with ``config``; else the flag stored when the
    request was sent, extended or its case's deadline changed)."""
    today = today or date.today()
    query = select(RecordRequest)
    if case_id is not None:
        query = query.where(RecordRequest.case_id == case_id.upper())
    rows = list(session.scalars(query))
    out: list[RecordRequest] = []
    for req in rows:
        status, due = Status(req.status), effective_due(req)
        waiting = status in OPEN_STATUSES
        if overdue and not (
            status in (Status.OVERDUE, Status.ESCALATED) or (waiting and due is not None and due < today)
        ):
            continue
        if due_within is not None and not (waiting and due is not None and due <= today + timedelta(days=due_within)):
            continue
        if at_risk and not (waiting and (compute_at_risk(session, req, config) if config else req.at_risk)):
            continue
        out.append(req)
    return sorted(out, key=lambda r: (effective_due(r) or date.max, r.created_at, r.id))


def inbox_items(session: Session, case_id: str) -> list[InboxItem]:
    return list(
        session.scalars(
            select(InboxItem)
            .where(InboxItem.case_id == case_id.upper(), InboxItem.status == "unassigned")
            .order_by(InboxItem.id)
        )
    )
