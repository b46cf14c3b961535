"""The overdue check as a Prefect flow: `chase-overdue`, served on a cron schedule by `casefile serve` (its
deployment is defined in flows/deployments.py).

The same steps as tasks/requests/chase.py ``run_chase``, each a task: one per request (so one request's retries do not
repeat another's e-mails) and one per advocate's digest. Only ``MailTransientError`` is retried; a refused address
is reported, never retried. Every send goes through the outbound_mail ledger, so a retried task or a re-run flow
never sends an e-mail twice. Parameters, results and the artifact carry request ids, dates and counts only.

``today`` replays another day: a dry run (``preview_chase``: what it would do, nothing changed or sent; artifact
``chase-overdue-dry-run``) unless ``confirm`` is true. A real run is tracked (tasks/requests/scheduled.py): its
outcome is kept in the catalog, a failure is e-mailed to the practice once per series and shown by `casefile request
list`, and the flow run fails with ``ScheduledRunFailed`` (job and error type only), a state automations can match.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from ..tasks.core.errors import MailTransientError
from ..tasks.core.runtime import get_runtime
from ..tasks.requests import chase, scheduled
from .retries import retry_if_mail_transient

ARTIFACT_KEY = "chase-overdue"
DRY_RUN_ARTIFACT_KEY = "chase-overdue-dry-run"


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


def preview_markdown(preview: chase.ChasePreview, reason: str) -> str:
    would = preview.as_dict()["would"]
    parts = [
        f"# Overdue check {preview.today.isoformat()}: DRY RUN",
        "",
        f"Nothing was changed or sent ({reason}).",
        "",
    ]
    parts += ["| would | count |", "|---|---|"]
    parts += [f"| {key.replace('_', ' ')} | {len(ids)} |" for key, ids in would.items()]
    parts.append("")
    for key, ids in would.items():
        if ids:
            parts += [f"**Would {key.replace('_', ' ')}:** " + ", ".join(ids), ""]
    return "\n".join(parts)


def _this_run() -> tuple[str | None, str | None]:
    from prefect.runtime import flow_run

    return flow_run.get_id(), flow_run.get_flow_run_ui_url() or None


@flow(name="chase-overdue", persist_result=False)
def chase_overdue(today: str | None = None, confirm: bool = False) -> dict[str, Any]:
    """Mark overdue requests, send the follow-ups and escalations due, and one digest per advocate.

    ``today`` (YYYY-MM-DD) replays another day; default: today in the ``chase_timezone`` setting. Another day is a
    dry run (what the check would do; nothing changed or sent) unless ``confirm`` is true.
    """
    logger = get_run_logger()
    rt = get_runtime()
    when = chase.decide_day(today, confirm=confirm, timezone=rt.settings.chase_timezone)
    if when.dry_run:
        preview = chase.preview_chase(rt, when.day)
        create_markdown_artifact(
            key=DRY_RUN_ARTIFACT_KEY,
            markdown=preview_markdown(preview, when.reason),
            description=f"Overdue check {when.day.isoformat()}, DRY RUN: would "
            + ", ".join(f"{k} {v}" for k, v in preview.counts().items()),
        )
        logger.info("overdue check %s: DRY RUN (%s): would %s", when.day.isoformat(), when.reason, preview.counts())
        return {**preview.as_dict(), "reason": when.reason}
    run_id, run_link = _this_run()
    with scheduled.tracked(rt, scheduled.CHASE_JOB, flow_run_id=run_id, run_link=run_link):
        summary = chase.run_chase(
            rt,
            when.day,
            plan_step=plan_task,
            request_step=chase_request_task,
            digest_step=digest_task,
        )
        create_markdown_artifact(
            key=ARTIFACT_KEY,
            markdown=summary_markdown(summary),
            description=f"Overdue check {when.day.isoformat()}: "
            + ", ".join(f"{k} {v}" for k, v in summary.counts().items()),
        )
        logger.info("overdue check %s: %s", when.day.isoformat(), summary.counts())
        if summary.failed:
            raise MailTransientError(
                f"{len(summary.failed)} e-mail(s) of the overdue check could not be sent now (the SMTP server); the "
                "next run sends them. The requests concerned kept their state."
            )
    return summary.counts()
