"""The inbox poll as a Prefect flow: `poll-inbox`, served every ``inbox_poll_seconds`` by `casefile serve`.

``poll_inbox_flow`` runs tasks/requests/inbox.py ``poll_inbox`` over the inbox folders (and the S3 prefix when
configured): each case's files go through the same per-case ingest flow as `casefile add` (a subflow), then are
matched to their requests. Safe to run any number of times: a file is processed once. Parameters, results, logs
and the table artifact carry ids and counts only. Its deployment is defined in flows/deployments.py.

Each run is tracked (tasks/requests/scheduled.py): a failed poll is kept in the catalog, e-mailed to the practice
once per series of failures, shown by `casefile request list`, and fails the flow run with ``ScheduledRunFailed``.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_table_artifact

from ..tasks.core.runtime import get_runtime
from ..tasks.requests import scheduled
from ..tasks.requests.inbox import poll_inbox
from .ingest import ingest_case


@flow(name="poll-inbox", persist_result=False)
def poll_inbox_flow(case_ids: list[str] | None = None, s3_prefix: str | None = None) -> dict[str, Any]:
    """Ingest and match the files waiting in the inbox (every case, or ``case_ids``). Safe to run any number of
    times: a file is processed once."""
    logger = get_run_logger()
    rt = get_runtime()

    def ingest(batch_id: str) -> None:
        ingest_case(batch_id)

    from prefect.runtime import flow_run

    prefix = s3_prefix if s3_prefix is not None else rt.settings.inbox_s3_prefix
    with scheduled.tracked(
        rt, scheduled.INBOX_JOB, flow_run_id=flow_run.get_id(), run_link=flow_run.get_flow_run_ui_url() or None
    ):
        result = poll_inbox(rt, case_ids=case_ids, s3_prefix=prefix, ingest=ingest, actor="inbox")
    summary = result.as_dict()
    create_table_artifact(
        key="poll-inbox",
        table=[{"document": d, "linked": d in result.linked} for d in sorted(result.linked + result.inbox)],
        description=(
            f"Inbox poll: {result.files} file(s), {len(result.linked)} linked to requests "
            f"{', '.join(sorted(set(result.requests))) or '-'}, {len(result.inbox)} left in the inbox, "
            f"{result.skipped} already done"
        ),
    )
    logger.info(
        "inbox poll: %d file(s), %d linked, %d in the inbox, %d skipped",
        result.files,
        len(result.linked),
        len(result.inbox),
        result.skipped,
    )
    return summary
