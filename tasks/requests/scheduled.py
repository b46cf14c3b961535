"""The outcome of the scheduled jobs (the overdue check, the inbox poll), so that a failure tells someone.

A scheduled run that fails where nobody watches (SMTP down at 8 a.m., an object store out during a poll) must not
pass unseen: the requests it should have chased are due for a court filing. So each run of a job goes through
``tracked``:

- its start, end, outcome and the failure's *type* (never its message: it may name a file) are kept in the catalog
  (table ``scheduled_runs``, one row per job), with how many runs in a row failed and since when;
- a failure is e-mailed to the practice (setting ``alert_email``, default the practice's e-mail in practice.toml)
  once per series of failures, as soon as mail works (an alert that could not go out is tried again by the next
  failed run);
- ``problem_lines`` gives the line `casefile request list` and `casefile case show` print while the last run of a job
  failed ("overdue check failed at ...: SMTP server unreachable ..."), or a run started long ago never finished;
- the caller (flows/chase.py, flows/inbox.py) then fails the Prefect flow run with ``ScheduledRunFailed``, a state an
  automation can match, whose message holds the job and the error type only.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from ..core.catalog import ScheduledRun, utcnow
from ..core.errors import CasefileError, ExitCode, MailError

if TYPE_CHECKING:
    from ..core.runtime import Runtime

log = logging.getLogger(__name__)

CHASE_JOB = "chase-overdue"
INBOX_JOB = "poll-inbox"
JOB_NAMES = {CHASE_JOB: "overdue check", INBOX_JOB: "inbox poll"}
STALE_RUNNING = timedelta(hours=2)  # a run "running" longer than this was killed (its process died)

# What an error type means, in words an administrator acts on (the types of tasks/core/errors.py and chase.py).
ERROR_WORDS = {
    "MailTransientError": "SMTP server unreachable, or refusing for now",
    "MailConfigError": "the mail server refused the login or the TLS settings",
    "MailRejected": "the mail server refused a message for good",
    "TransientStorageError": "object store unreachable",
    "StorageError": "the object store refused (permissions, missing bucket)",
    "ToolTimeout": "an external program timed out",
    "ToolMissing": "an external program or its data is not installed",
    "ToolError": "an external program failed",
    "ConfigError": "a setting or config file is invalid",
    "ChaseBusy": "another overdue check was still running",
    "IntegrityError": "a stored object does not match its SHA-256",
}
HINTS = {
    "MailTransientError": "Check that the SMTP server (settings smtp_host, smtp_port) is up and reachable from here.",
    "MailConfigError": "Check smtp_username, smtp_password and smtp_security (`casefile config`).",
    "TransientStorageError": "Check that the object store is up and reachable from here.",
    "StorageError": "Check the object store's credentials and bucket (`casefile config`).",
    "ConfigError": "Run `casefile config` and fix the setting it names.",
}


def describe_error(error_type: str | None) -> str:
    if not error_type:
        return "unknown error"
    return ERROR_WORDS.get(error_type, f"unexpected error ({error_type})")


class ScheduledRunFailed(CasefileError):
    """A scheduled job failed; raised from the original error's type only, so that the Prefect state (and any
    automation matching it) carries the job and the error type, never the original message."""

    def __init__(self, job: str, error_type: str, exit_code: ExitCode = ExitCode.FAILURE) -> None:
        label = JOB_NAMES.get(job, job)
        super().__init__(
            f"The {label} ({job}) failed: {describe_error(error_type)} ({error_type}). It is shown in `casefile "
            "request list` until a run succeeds; the next scheduled run tries again."
        )
        self.job = job
        self.error_type = error_type
        self.exit_code = exit_code


# Recording --------------------------------------------------------------------------------------------------------
def record_start(rt: Runtime, job: str, flow_run_id: str | None = None) -> None:
    with rt.catalog.session() as session:
        row = session.get(ScheduledRun, job)
        if row is None:
            row = ScheduledRun(job=job, failures=0)
            session.add(row)
        row.outcome = "running"
        row.started_at = utcnow()
        row.finished_at = None
        row.flow_run_id = flow_run_id


def record_end(rt: Runtime, job: str, error: BaseException | None) -> ScheduledRun:
    """``error`` None: ok (the series of failures ends); an ``Exception``: failed; else (cancelled, interrupted):
    interrupted, which is neither. Returns a detached copy of the row."""
    now = utcnow()
    with rt.catalog.session() as session:
        row = session.get(ScheduledRun, job)
        if row is None:
            row = ScheduledRun(job=job, started_at=now, failures=0)
            session.add(row)
        row.finished_at = now
        if error is None:
            row.outcome, row.error_type, row.failing_since, row.failures = "ok", None, None, 0
            row.last_ok_at, row.alerted_at = now, None
        elif isinstance(error, Exception):
            row.outcome, row.error_type = "failed", type(error).__name__
            row.failures = (row.failures or 0) + 1
            if row.failing_since is None:
                row.failing_since, row.alerted_at = row.started_at or now, None
        else:
            row.outcome = "interrupted"
        session.flush()
        session.expunge(row)
        return row


# Alerting ---------------------------------------------------------------------------------------------------------
def _local(rt: Runtime, when: datetime) -> str:
    zone = ZoneInfo(rt.settings.chase_timezone)
    return when.replace(tzinfo=UTC).astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")


def alert_address(rt: Runtime) -> str | None:
    if rt.settings.alert_email:
        return rt.settings.alert_email
    from ..core.practice import practice_of

    try:
        return practice_of(rt).email or None
    except CasefileError:
        return None


def alert_failure(rt: Runtime, row: ScheduledRun, run_link: str | None = None) -> str:
    """E-mail the failure of ``row`` (a failed job) to the practice, once per series of failures. Returns sent |
    already (this series was reported) | no-address | not-sent (mail does not work now; the next failure tries
    again)."""
    from .mail import MailMessage, send_once

    if row.failing_since is None:
        return "already"
    to = alert_address(rt)
    if not to:
        log.warning("scheduled %s failed; no alert address (setting alert_email, practice e-mail)", row.job)
        return "no-address"
    label = JOB_NAMES.get(row.job, row.job)
    words = describe_error(row.error_type)
    failed_at = _local(rt, row.finished_at or utcnow())
    lines = [
        f"The scheduled {label} of casefile failed at {failed_at}: {words} ({row.error_type}).",
        "",
        f"It has failed {row.failures} time(s) in a row, since {_local(rt, row.failing_since)}. Until a run succeeds, "
        + (
            "record requests are not followed up and no digest goes out."
            if row.job == CHASE_JOB
            else "files put in the inbox are not taken in."
        ),
        "",
    ]
    if row.error_type in HINTS:
        lines += [HINTS[row.error_type], ""]
    lines += ["`casefile request list` shows this until a run succeeds; the next scheduled run tries again."]
    if run_link:
        lines.append(f"The run in the Prefect UI: {run_link}")
    lines.append(f"Logs: {rt.settings.prefect_home / 'logs' / 'runner.log'}")
    lines += ["", "This e-mail is sent once for a series of failed runs."]
    message = MailMessage(
        to=(to,),
        subject=f"casefile: the {label} failed ({words})",
        text="\n".join(lines) + "\n",
    )
    try:
        outcome = send_once(rt, f"alert:{row.job}:{row.failing_since.isoformat()}", message)
    except MailError as exc:
        log.warning("scheduled %s failed; its alert could not be e-mailed now (%s)", row.job, exc.log_summary())
        return "not-sent"
    with rt.catalog.session() as session:
        stored = session.get(ScheduledRun, row.job)
        if stored is not None and stored.failing_since == row.failing_since:
            stored.alerted_at = utcnow()
    return "sent" if outcome.status == "sent" else "already"


@contextlib.contextmanager
def tracked(rt: Runtime, job: str, *, flow_run_id: str | None = None, run_link: str | None = None) -> Iterator[None]:
    """Run the body as one run of ``job``: recorded, and a failure alerted, then re-raised as
    ``ScheduledRunFailed`` (from None: the original message stays out of Prefect and the logs)."""
    record_start(rt, job, flow_run_id)
    try:
        yield
    except Exception as exc:
        error_type = type(exc).__name__
        exit_code = exc.exit_code if isinstance(exc, CasefileError) else ExitCode.FAILURE
        log.error("scheduled %s failed: %s", job, exc.log_summary() if isinstance(exc, CasefileError) else error_type)
        try:
            row = record_end(rt, job, exc)
            alert_failure(rt, row, run_link)
        except Exception as bookkeeping:  # the catalog itself may be what failed: the run still fails as it should
            log.error("scheduled %s: its failure could not be recorded (%s)", job, type(bookkeeping).__name__)
        raise ScheduledRunFailed(job, error_type, exit_code) from None
    except BaseException as exc:
        with contextlib.suppress(Exception):
            record_end(rt, job, exc)
        raise
    record_end(rt, job, None)


# Showing ----------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class JobState:
    job: str
    outcome: str
    started_at: datetime
    finished_at: datetime | None
    error_type: str | None
    failures: int
    failing_since: datetime | None
    last_ok_at: datetime | None
    alerted_at: datetime | None
    flow_run_id: str | None


def job_states(rt: Runtime) -> list[JobState]:
    from sqlalchemy import select

    with rt.catalog.session() as session:
        rows = list(session.scalars(select(ScheduledRun).order_by(ScheduledRun.job)))
        return [
            JobState(
                r.job,
                r.outcome,
                r.started_at,
                r.finished_at,
                r.error_type,
                r.failures,
                r.failing_since,
                r.last_ok_at,
                r.alerted_at,
                r.flow_run_id,
            )
            for r in rows
        ]


def problems(rt: Runtime, now: datetime | None = None) -> list[dict[str, Any]]:
    """The jobs whose last run failed, or that started long ago and never finished: one entry each, with the line
    to print."""
    now = now or utcnow()
    found: list[dict[str, Any]] = []
    for state in job_states(rt):
        label = JOB_NAMES.get(state.job, state.job)
        if state.outcome == "failed":
            at = _local(rt, state.finished_at or state.started_at)
            line = f"{label} failed at {at}: {describe_error(state.error_type)}"
            if state.failures > 1 and state.failing_since is not None:
                line += f" ({state.failures} runs in a row since {_local(rt, state.failing_since)})"
            if state.last_ok_at is not None:
                line += f"; last success {_local(rt, state.last_ok_at)}"
        elif state.outcome == "running" and now - state.started_at > STALE_RUNNING:
            line = f"{label} started at {_local(rt, state.started_at)} and never finished (its process was stopped)"
        else:
            continue
        found.append(
            {
                "job": state.job,
                "outcome": state.outcome,
                "error_type": state.error_type,
                "failures": state.failures,
                "since": state.failing_since.isoformat() if state.failing_since else None,
                "at": (state.finished_at or state.started_at).isoformat(),
                "alerted": state.alerted_at is not None,
                "line": line,
            }
        )
    return found
