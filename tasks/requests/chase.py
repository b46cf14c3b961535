"""The overdue check ("chase"): mark overdue requests, follow up, escalate, and tell each advocate, once.

``run_chase(rt, today)`` is the whole check as a plain function (flows/chase.py runs the same steps as
Prefect tasks):

1. ``plan_chase``: requests whose due date has passed become ``overdue`` (lifecycle.py ``mark_overdue``); the
   open requests with an escalation step now due are listed.
2. ``chase_request`` per request, for the steps now due (config/record_types.toml ``[escalation]``, per type
   overridable): a step ``to = "provider"`` renders the follow-up letter (letters.py), stores it in the case
   and e-mails it to the provider when the request's channel is e-mail; otherwise the letter waits in the case and
   the advocate's digest lists it under "print and mail". When several provider steps are due at once (the check
   did not run for a while) only the latest is sent. A step ``to = "supervisor"`` e-mails the advocate's
   supervising attorney (config/practice.toml ``supervisor``) and the request becomes ``escalated``.
   The step is recorded on the request only after its e-mail went out: a failed send leaves the request as it was.
3. ``send_digest`` per advocate with something to report: one e-mail a day of their overdue and at-risk requests,
   letters to print and mail, and e-mails refused for good.

Idempotent through the ``outbound_mail`` ledger (tasks/requests/mail.py ``send_once``): dedupe keys
``followup:<request>:step<N>`` (tasks/requests/sending.py ``followup_dedupe_key``), ``escalation:<request>:<N>`` and
``digest:<advocate>:<date>``; the letter of a step is rendered reproducibly (same inputs, same bytes), so storing it
again finds the same document. Running the check
twice a day, or again after a crash, sends nothing twice (see ``send_once`` for the one at-least-once window).
Two checks never run at once on one machine (a lock file under ``$CASEFILE_HOME``).

Replaying another day (the ``today`` parameter of the flow, `casefile request chase --date`) is a dry run unless
confirmed (``confirm=True``, ``--confirm``): ``decide_day`` says which, and ``preview_chase`` reports what the check
would do that day (which requests become overdue, which follow-ups go by e-mail or wait to be posted, who is
escalated, who gets a digest) through the same steps in a transaction that is rolled back: nothing is changed and
nothing is sent. A dated run that changed real request states silently would send follow-ups on the wrong dates.

E-mails and digests carry reference codes, case ids, record types, providers and dates; never a client's name or
A-number (only the attached letter to the provider names the client, as it must). Logs and the summary carry ids
and counts only.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..cases.rules import FILING_DATE_UNKNOWN, Risk, RiskAssessment
from ..core.catalog import OutboundMail, RecordRequest, RequestEvent
from ..core.errors import CasefileError, ExitCode, MailRejected, MailTransientError, ValidationError
from .config import Channel, EscalationStep, RequestConfig, request_config
from .lifecycle import (
    due_escalation_steps,
    effective_due,
    get_request,
    mark_overdue,
    record_followup,
    request_risk,
)
from .mail import MailMessage, SendOutcome, send_once
from .sending import followup_dedupe_key
from .status import OPEN_STATUSES, Status

if TYPE_CHECKING:
    from ..core.runtime import Runtime

log = logging.getLogger(__name__)

ACTOR = "casefile-chase"
LOCK_TIMEOUT = 120.0  # seconds a second check waits for the first to finish


class ChaseBusy(CasefileError):
    """Another overdue check is running on this machine."""

    exit_code = ExitCode.TRANSIENT


@dataclass
class RequestResult:
    """What the check did for one request: steps done (e-mailed, stored for post, escalated) or why not."""

    request_id: str
    steps: list[int] = field(default_factory=list)
    emailed: list[int] = field(default_factory=list)  # follow-up steps e-mailed to the provider
    to_post: list[int] = field(default_factory=list)  # follow-up steps stored for the advocate to print and mail
    escalated: list[int] = field(default_factory=list)  # steps sent to the supervising attorney
    skipped_steps: list[int] = field(default_factory=list)  # earlier provider steps superseded by a later one
    sends: int = 0  # e-mails that actually went out now (not found already sent in the ledger)
    rejected: bool = False


@dataclass
class ChaseSummary:
    today: date
    overdue_marked: list[str] = field(default_factory=list)
    followups_emailed: list[str] = field(default_factory=list)  # "RQ-...#step"
    letters_to_post: list[str] = field(default_factory=list)
    escalated: list[str] = field(default_factory=list)
    digests_sent: int = 0
    emails_sent: int = 0  # every e-mail that went out in this run
    rejected: list[str] = field(default_factory=list)  # request ids (or "digest") whose e-mail was refused for good
    failed: list[str] = field(default_factory=list)  # request ids (or "digest") left for the next run (transient)

    def counts(self) -> dict[str, int]:
        return {
            "overdue_marked": len(self.overdue_marked),
            "followups_emailed": len(self.followups_emailed),
            "letters_to_post": len(self.letters_to_post),
            "escalated": len(self.escalated),
            "digests_sent": self.digests_sent,
            "emails_sent": self.emails_sent,
            "rejected": len(self.rejected),
            "failed": len(self.failed),
        }

    def add(self, result: RequestResult) -> None:
        self.followups_emailed += [f"{result.request_id}#{s}" for s in result.emailed]
        self.letters_to_post += [f"{result.request_id}#{s}" for s in result.to_post]
        self.escalated += [f"{result.request_id}#{s}" for s in result.escalated]
        self.emails_sent += result.sends
        if result.rejected:
            self.rejected.append(result.request_id)


@dataclass(frozen=True)
class ChasePlan:
    overdue_marked: list[str]
    request_ids: list[str]  # open requests with a step due today
    advocates: list[str]  # people keys of advocates with open requests


# Locking -----------------------------------------------------------------------------------------------------
@contextlib.contextmanager
def chase_lock(home: Path, timeout: float = LOCK_TIMEOUT) -> Iterator[None]:
    """One check at a time per home (a file lock; a shared PostgreSQL catalog needs one serve, or a Prefect
    concurrency limit of 1 on the deployment, which flows/deployments.py sets)."""
    path = home / "locks" / "chase.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as fh:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise ChaseBusy(
                        f"Another overdue check has been running for over {timeout:.0f} s ({path}). Let it finish; "
                        "the next scheduled run catches up."
                    ) from None
                time.sleep(0.5)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


# Steps -------------------------------------------------------------------------------------------------------
def plan_chase(rt: Runtime, today: date, config: RequestConfig | None = None) -> ChasePlan:
    """Mark overdue requests; list the open requests with an escalation step due and the advocates to tell."""
    config = config or request_config(rt)
    with rt.catalog.session() as session:
        marked = mark_overdue(session, config, today, actor=ACTOR)
    with rt.catalog.session() as session:
        open_requests = list(
            session.scalars(
                select(RecordRequest)
                .where(RecordRequest.status.in_([s.value for s in OPEN_STATUSES]))
                .order_by(RecordRequest.id)
            )
        )
        due = [r.id for r in open_requests if due_escalation_steps(config, r, today)]
        advocates = sorted({r.advocate for r in open_requests})
    if marked:
        log.info("chase %s: %d request(s) became overdue", today, len(marked))
    return ChasePlan(marked, due, advocates)


def _steps_to_do(steps: list[EscalationStep]) -> tuple[list[EscalationStep], list[int]]:
    """Every supervisor step, and of the provider steps only the latest (one follow-up letter, not a pile)."""
    provider = [s for s in steps if s.to == "provider"]
    latest = provider[-1] if provider else None
    todo = [s for s in steps if s.to != "provider" or s is latest]
    skipped = [s.step for s in provider if s is not latest]
    return todo, skipped


def chase_request(rt: Runtime, request_id: str, today: date, config: RequestConfig | None = None) -> RequestResult:
    """Do the escalation steps now due for one request. Raises ``MailTransientError`` when an e-mail could not go
    out for now (the request keeps its state; the next run, or Prefect's retry, does it); an e-mail refused for
    good is reported in the result (and in the advocate's digest) and not retried until the address changes."""
    from .letters import request_mail, store_followup_document

    config = config or request_config(rt)
    result = RequestResult(request_id)
    with rt.catalog.session() as session:
        req = session.get(RecordRequest, request_id)
        if req is None:
            return result
        steps, result.skipped_steps = _steps_to_do(due_escalation_steps(config, req, today))
        channel, has_email, advocate_key = req.channel, bool(req.provider_email), req.advocate
    advocate = config.person(advocate_key)
    for step in steps:
        document_id: str | None = None
        outcome: SendOutcome | None = None
        if step.to == "provider":
            document_id = store_followup_document(rt, config, request_id, step.step, letter_date=today)
            if channel == Channel.EMAIL.value and has_email:
                message = request_mail(
                    rt, config, request_id, [document_id], letter_date=today, followup_step=step.step
                )
                try:
                    outcome = send_once(
                        rt,
                        followup_dedupe_key(request_id, step.step),
                        message,
                        request_id=request_id,
                    )
                except MailRejected:
                    result.rejected = True
                    return result
                result.emailed.append(step.step)
                note = f"step {step.step}: follow-up letter e-mailed to the provider"
            else:
                result.to_post.append(step.step)
                note = f"step {step.step}: follow-up letter stored; print and mail it ({channel})"
        else:
            supervisor = config.person(advocate.supervisor) if advocate.supervisor else None
            if supervisor is None:
                note = f"step {step.step}: escalation due, but no supervisor is set for {advocate_key}"
            else:
                message = escalation_mail(rt, config, request_id, step, today, supervisor.email, advocate.email)
                try:
                    outcome = send_once(
                        rt,
                        f"escalation:{request_id}:{step.step}",
                        message,
                        request_id=request_id,
                    )
                except MailRejected:
                    result.rejected = True
                    return result
                note = f"step {step.step}: escalated to the supervising attorney"
            result.escalated.append(step.step)
        if outcome is not None and outcome.status == "sent":
            result.sends += 1
        with rt.catalog.session() as session:
            req = get_request(session, request_id)  # locked: an advocate's edit meanwhile is read, not lost
            if req.escalation_step < step.step:  # not already recorded by a run that crashed after sending
                record_followup(session, req, step, actor=ACTOR, document_id=document_id, note=note)
                if step.to == "supervisor" and req.status == Status.OVERDUE.value:
                    from .lifecycle import transition

                    transition(
                        session,
                        config,
                        req,
                        Status.ESCALATED,
                        actor=ACTOR,
                        note=f"escalation step {step.step}",
                    )
        result.steps.append(step.step)
    return result


def _request_line(req: RecordRequest, config: RequestConfig, today: date) -> str:
    due = effective_due(req)
    late = f", {(today - due).days} day(s) late" if due is not None and due < today else ""
    if req.expected_on is not None and req.expected_on != due:
        late += f", records expected {req.expected_on.isoformat()}"
    label = config.types[req.record_type].label if req.record_type in config.types else req.record_type
    return (
        f"{req.id}  case {req.case_id}  {label}  {req.provider_name}  due {due.isoformat() if due else '-'}{late}"
        f"  [{req.status}, follow-up step {req.escalation_step}, {req.channel}]"
    )


def _reason(assessed: RiskAssessment | None) -> str:
    return assessed.reason if assessed is not None else ""


def escalation_mail(
    rt: Runtime, config: RequestConfig, request_id: str, step: EscalationStep, today: date, to: str, cc: str
) -> MailMessage:
    with rt.catalog.session() as session:
        req = session.get(RecordRequest, request_id)
        assert req is not None
        line = _request_line(req, config, today)
        sent = req.sent_on.isoformat() if req.sent_on else "-"
    text = (
        f"The record request below is still unanswered and reached escalation step {step.step} today ({today}).\n\n"
        f"{line}\nSent on {sent}.\n\n"
        "Please decide the next step with the advocate (call the records office, a formal complaint, a subpoena,\n"
        f"or filing without it). Details: casefile request show {request_id}\n"
    )
    return MailMessage(to=(to,), cc=(cc,), subject=f"{request_id}: overdue record request, escalation", text=text)


@dataclass(frozen=True)
class Digest:
    advocate: str
    overdue: list[str]
    at_risk: list[str]
    unknown_risk: list[str]  # waiting on a case whose filing date is not set (ask the court)
    to_post: list[str]  # "RQ-... D-..." letters to print and mail
    refused: list[str]
    message: MailMessage | None


def build_digest(
    rt: Runtime, config: RequestConfig, advocate_key: str, today: date, *, session: Session | None = None
) -> Digest:
    """The advocate's digest: overdue and at-risk open requests, the latest follow-up letter of each late request
    that does not go by e-mail (to print and mail; listed until the request is answered), and e-mails refused for
    good. ``message`` is None when there is nothing to report. Read in ``session`` when given (a dry run's)."""
    if session is None:
        with rt.catalog.session() as own:
            return build_digest(rt, config, advocate_key, today, session=own)
    person = config.person(advocate_key)
    requests = list(
        session.scalars(
            select(RecordRequest)
            .where(
                RecordRequest.advocate == advocate_key,
                RecordRequest.status.in_([s.value for s in OPEN_STATUSES]),
            )
            .order_by(RecordRequest.due_on, RecordRequest.id)
        )
    )
    late_states = (Status.OVERDUE.value, Status.ESCALATED.value)

    def late(req: RecordRequest) -> bool:
        due = effective_due(req)
        return req.status in late_states or (due is not None and due < today)

    overdue = [r for r in requests if late(r)]
    risks = {r.id: request_risk(session, r, config, today) for r in requests if not late(r)}
    at_risk = [r for r in requests if (a := risks.get(r.id)) is not None and a.risk is Risk.AT_RISK]
    unknown = [r for r in requests if (a := risks.get(r.id)) is not None and a.risk is Risk.UNKNOWN]
    ids = [r.id for r in requests]
    posted: list[tuple[RecordRequest, str]] = []
    for req in requests:
        due = effective_due(req)
        if (req.channel == Channel.EMAIL.value and req.provider_email) or due is None or due > today:
            continue
        event = session.scalar(
            select(RequestEvent)
            .where(
                RequestEvent.request_id == req.id,
                RequestEvent.kind == "follow-up",
                RequestEvent.document_id.is_not(None),
            )
            .order_by(RequestEvent.id.desc())
            .limit(1)
        )
        if event is not None and event.document_id:
            posted.append((req, event.document_id))
    refused = list(
        session.scalars(
            select(OutboundMail.request_id)
            .where(OutboundMail.status == "rejected", OutboundMail.request_id.in_(ids))
            .distinct()
        )
    )
    refused_ids = sorted(r for r in refused if r)
    lines: list[str] = [f"Record requests of {person.name} on {today.isoformat()}.", ""]
    if overdue:
        lines += [f"Overdue ({len(overdue)}):", *(_request_line(r, config, today) for r in overdue), ""]
    if at_risk:
        lines += [
            f"At risk: the records may come too late to file ({len(at_risk)}):",
            *(f"{_request_line(r, config, today)}\n    {_reason(risks.get(r.id))}" for r in at_risk),
            "",
        ]
    if unknown:
        lines += [
            f"Risk unknown: {FILING_DATE_UNKNOWN} ({len(unknown)}):",
            *(_request_line(r, config, today) for r in unknown),
            "",
        ]
    if posted:
        lines += [
            f"Follow-up letters to print and mail ({len(posted)}):",
            *(f"{r.id}  {r.provider_name}  casefile doc get {doc} -o {r.id}-followup.pdf" for r, doc in posted),
            "",
        ]
    if refused_ids:
        lines += [
            f"E-mails refused by the provider's mail server ({len(refused_ids)}); fix the address in "
            "config/providers.toml:",
            *refused_ids,
            "",
        ]
    has_news = bool(overdue or at_risk or unknown or posted or refused_ids)
    message = None
    if has_news:
        lines.append("casefile request list --overdue  shows the full list.")
        unknown_part = f", {len(unknown)} of unknown risk" if unknown else ""
        message = MailMessage(
            to=(person.email,),
            subject=(
                f"Record requests: {len(overdue)} overdue, {len(at_risk)} at risk{unknown_part} ({today.isoformat()})"
            ),
            text="\n".join(lines) + "\n",
        )
    return Digest(
        advocate=advocate_key,
        overdue=[r.id for r in overdue],
        at_risk=[r.id for r in at_risk],
        unknown_risk=[r.id for r in unknown],
        to_post=[f"{r.id} {doc}" for r, doc in posted],
        refused=refused_ids,
        message=message,
    )


def send_digest(rt: Runtime, advocate_key: str, today: date, config: RequestConfig | None = None) -> str:
    """Send the advocate's digest for ``today`` once. Returns sent | skipped (already sent) | none (nothing to
    report) | rejected. Raises ``MailTransientError`` for the caller to retry."""
    config = config or request_config(rt)
    digest = build_digest(rt, config, advocate_key, today)
    if digest.message is None:
        return "none"
    try:
        outcome = send_once(rt, f"digest:{advocate_key}:{today.isoformat()}", digest.message)
    except MailRejected:
        return "rejected"
    return outcome.status


# The whole check ------------------------------------------------------------------------------------------------
PlanStep = Callable[[date], ChasePlan]
RequestStep = Callable[[str, date], RequestResult]
DigestStep = Callable[[str, date], str]


def run_chase(
    rt: Runtime,
    today: date,
    *,
    plan_step: PlanStep | None = None,
    request_step: RequestStep | None = None,
    digest_step: DigestStep | None = None,
) -> ChaseSummary:
    """Mark overdue, follow up, escalate, digest; once per request step and per advocate and day.

    The steps default to the plain functions of this module; flows/chase.py passes its Prefect tasks instead (one
    task per request and per digest, retried on transient mail errors), so both run the same loop."""
    config: RequestConfig | None = None
    if plan_step is None or request_step is None or digest_step is None:
        config = request_config(rt)
    plan_step = plan_step or (lambda day: plan_chase(rt, day, config))
    request_step = request_step or (lambda request_id, day: chase_request(rt, request_id, day, config))
    digest_step = digest_step or (lambda advocate, day: send_digest(rt, advocate, day, config))
    summary = ChaseSummary(today)
    interval = rt.settings.mail_send_interval
    with chase_lock(rt.settings.home):
        plan = plan_step(today)
        summary.overdue_marked = plan.overdue_marked
        for request_id in plan.request_ids:
            try:
                result = request_step(request_id, today)
            except MailTransientError:
                summary.failed.append(request_id)
                continue
            summary.add(result)
            if result.sends and interval:
                time.sleep(interval)
        for advocate in plan.advocates:
            try:
                status = digest_step(advocate, today)
            except MailTransientError:
                summary.failed.append("digest")
                continue
            if status == "sent":
                summary.digests_sent += 1
                summary.emails_sent += 1
                if interval:
                    time.sleep(interval)
            elif status == "rejected":
                summary.rejected.append("digest")
    log.info("chase %s: %s", today, summary.counts())
    return summary


# Replaying a day: a dry run unless confirmed ----------------------------------------------------------------------
@dataclass(frozen=True)
class ChaseDay:
    """The day a check runs for, and whether it is a dry run (``reason`` says why, for the output)."""

    day: date
    dry_run: bool
    reason: str


def real_today(timezone: str) -> date:
    return datetime.now(ZoneInfo(timezone)).date()


def parse_day(value: str | date | None) -> date | None:
    if value is None or isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValidationError(f"The date {value!r} is not a date; write it as YYYY-MM-DD.") from None


def decide_day(requested: str | date | None, *, confirm: bool, timezone: str, dry_run: bool = False) -> ChaseDay:
    """Today (in ``timezone``) runs for real; any other day is a dry run unless ``confirm``. ``dry_run`` asks for
    a dry run of any day, today included."""
    today = real_today(timezone)
    day = parse_day(requested) or today
    if dry_run:
        return ChaseDay(day, True, "a dry run was asked for")
    if day != today and not confirm:
        return ChaseDay(day, True, f"{day.isoformat()} is not today ({today.isoformat()}); confirm to run it for real")
    return ChaseDay(day, False, "today" if day == today else "another day, confirmed")


@dataclass
class ChasePreview:
    """What the check would do on ``today``: request ids ("RQ-...#step" for steps) and advocate keys only."""

    today: date
    overdue_marked: list[str] = field(default_factory=list)
    followups_emailed: list[str] = field(default_factory=list)
    letters_to_post: list[str] = field(default_factory=list)
    escalated: list[str] = field(default_factory=list)
    digests: list[str] = field(default_factory=list)  # advocates who would get a digest (not yet sent that day)

    def counts(self) -> dict[str, int]:
        return {
            "overdue_marked": len(self.overdue_marked),
            "followups_emailed": len(self.followups_emailed),
            "letters_to_post": len(self.letters_to_post),
            "escalated": len(self.escalated),
            "digests_sent": len(self.digests),
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "dry_run": True,
            "today": self.today.isoformat(),
            "counts": self.counts(),
            "would": {
                "mark_overdue": self.overdue_marked,
                "email_followups": self.followups_emailed,
                "store_letters_to_post": self.letters_to_post,
                "escalate": self.escalated,
                "send_digests_to": self.digests,
            },
        }


def preview_chase(rt: Runtime, today: date, config: RequestConfig | None = None) -> ChasePreview:
    """The check's plan for ``today``, worked out by the same steps as ``run_chase`` in a transaction that is rolled
    back: nothing is changed, rendered, stored or sent."""
    config = config or request_config(rt)
    preview = ChasePreview(today)
    with rt.catalog.scratch_session() as session:
        preview.overdue_marked = mark_overdue(session, config, today, actor=ACTOR)
        session.flush()
        open_requests = list(
            session.scalars(
                select(RecordRequest)
                .where(RecordRequest.status.in_([s.value for s in OPEN_STATUSES]))
                .order_by(RecordRequest.id)
            )
        )
        posting: set[str] = set()
        for req in open_requests:
            steps, _skipped = _steps_to_do(due_escalation_steps(config, req, today))
            for step in steps:
                ref = f"{req.id}#{step.step}"
                if step.to != "provider":
                    preview.escalated.append(ref)
                elif req.channel == Channel.EMAIL.value and req.provider_email:
                    preview.followups_emailed.append(ref)
                else:
                    preview.letters_to_post.append(ref)
                    posting.add(req.advocate)
        for advocate in sorted({r.advocate for r in open_requests}):
            key = f"digest:{advocate}:{today.isoformat()}"
            if session.scalar(
                select(OutboundMail.id).where(OutboundMail.dedupe_key == key, OutboundMail.status == "sent")
            ):
                continue
            digest = build_digest(rt, config, advocate, today, session=session)
            if digest.message is not None or advocate in posting:
                preview.digests.append(advocate)
    return preview


def run_chase_now(rt: Runtime, today: date) -> ChaseSummary:
    """``run_chase`` run by a person (`casefile request chase`): recorded as a run of the overdue check, like the
    scheduled ones (so a success ends a series of failures shown by `request list`), without an alert e-mail: the
    person sees the outcome."""
    from . import scheduled

    scheduled.record_start(rt, scheduled.CHASE_JOB)
    try:
        summary = run_chase(rt, today)
    except BaseException as exc:
        scheduled.record_end(rt, scheduled.CHASE_JOB, exc)
        raise
    failure = MailTransientError("some e-mails could not be sent now") if summary.failed else None
    scheduled.record_end(rt, scheduled.CHASE_JOB, failure)
    return summary
