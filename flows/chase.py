"""The overdue check as a Prefect flow: `chase-overdue`, served on a cron schedule by `casefile serve` (its
deployment is defined in flows/deployments.py).

The same steps as tasks/requests/chase.py ``run_chase``, each a task: one per request (so one request's retries do not
repeat another's e-mails) and one per advocate's digest. Only ``MailTransientError`` is retried; a refused address
is reported, never retried. Every send goes through the outbound_mail ledger, so a retried task or a re-run flow
never sends an e-mail twice. Parameters, results and the artifact carry request ids, dates and counts only.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from ..tasks.core.errors import MailTransientError, ValidationError
from ..tasks.core.runtime import get_runtime
from ..tasks.requests import chase
from .retries import retry_if_mail_transient

ARTIFACT_KEY = "chase-overdue"


@task(name="plan-chase", persist_result=False, cache_policy=NO_CACHE)
def plan_task(today: date) -> chase.ChasePlan:
    return chase.plan_chase(get_runtime(), today)  # results are not persisted: ids stay in this process


@task(
    name="chase-request",
    task_run_name="chase-{request_id}",
    retries=2,
    retry_delay_seconds=[10, 60],
    retry_condition_fn=retry_if_mail_transient,
    persist_result=False,
    cache_policy=NO_CACHE,
)
def chase_request_task(request_id: str, today: date) -> chase.RequestResult:
    return chase.chase_request(get_runtime(), request_id, today)


@task(
    name="send-digest",
    retries=2,
    retry_delay_seconds=[10, 60],
    retry_condition_fn=retry_if_mail_transient,
    persist_result=False,
    cache_policy=NO_CACHE,
)
def digest_task(advocate: str, today: date) -> str:
    return chase.send_digest(get_runtime(), advocate, today)


def parse_today(value: str | None, timezone: str) -> date:
    if value is None:
        return datetime.now(ZoneInfo(timezone)).date()
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValidationError(f"The date {value!r} is not a date; write it as YYYY-MM-DD.") from None


def summary_markdown(summary: chase.ChaseSummary) -> str:
    rows = "\n".join(f"| {key.replace('_', ' ')} | {value} |" for key, value in summary.counts().items())
    parts = [f"# Overdue check {summary.today.isoformat()}", "", "| what | count |", "|---|---|", rows, ""]
    for title, ids in (
        ("Became overdue", summary.overdue_marked),
        ("Follow-ups e-mailed", summary.followups_emailed),
        ("Letters to print and mail", summary.letters_to_post),
        ("Escalated", summary.escalated),
        ("Refused for good", summary.rejected),
        ("Left for the next run", summary.failed),
    ):
        if ids:
            parts += [f"**{title}:** " + ", ".join(ids), ""]
    return "\n".join(parts)


@flow(name="chase-overdue", persist_result=False)
def chase_overdue(today: str | None = None) -> dict[str, int]:
    """Mark overdue requests, send the follow-ups and escalations due, and one digest per advocate.

    ``today`` (YYYY-MM-DD) replays a given day; default: today in the ``chase_timezone`` setting.
    """
    logger = get_run_logger()
    rt = get_runtime()
    day = parse_today(today, rt.settings.chase_timezone)
    summary = chase.run_chase(
        rt,
        day,
        plan_step=plan_task,
        request_step=chase_request_task,
        digest_step=digest_task,
    )
    create_markdown_artifact(
        key=ARTIFACT_KEY,
        markdown=summary_markdown(summary),
        description=f"Overdue check {day.isoformat()}: " + ", ".join(f"{k} {v}" for k, v in summary.counts().items()),
    )
    logger.info("overdue check %s: %s", day.isoformat(), summary.counts())
    if summary.failed:
        raise MailTransientError(
            f"{len(summary.failed)} e-mail(s) of the overdue check could not be sent now (the SMTP server); the next "
            "run sends them. The requests concerned kept their state."
        )
    return summary.counts()
