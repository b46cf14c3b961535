"""OCR spread over a practice's machines: the `ocr-pages` flow (one page range of one document, run by whichever
worker of the work pool takes it) and ``distribute_text``, which splits a long document into ranges, submits each as
a flow run of the `ocr-pages/pool` deployment, watches them and assembles the result (tasks/documents/split.py).

Dispatch, retries of failed runs and the queue are Prefect's (the work pool and its workers); what Prefect cannot
see is a run whose machine died (its state stays Running): each run moves its part's heartbeat in the catalog, and a
part silent for ``ocr_lease_seconds`` has its run marked Crashed and is submitted again, to any worker still alive.
A part's results land once whichever run finishes first (split.ocr_part). Parameters are ids and page numbers only.
"""

from __future__ import annotations

import logging
import time
from typing import Any
from uuid import UUID

from prefect import flow, get_run_logger
from prefect.runtime import flow_run

from ..tasks.core.errors import CasefileError
from ..tasks.core.runtime import Runtime, get_runtime
from ..tasks.documents import split, text

log = logging.getLogger(__name__)

OCR_PAGES_DEPLOYMENT = "ocr-pages/pool"
POLL_SECONDS = 2.0
MAX_ATTEMPTS = 5  # runs of one part before the document's OCR is given up (a page that kills its run each time)
FAILED_STATES = ("FAILED", "CRASHED", "CANCELLED", "CANCELLING")


@flow(name="ocr-pages", persist_result=False, flow_run_name="ocr-{document_id}-{first_page}")
def ocr_pages(document_id: str, first_page: int) -> dict[str, Any]:
    """OCR the pages of ``document_id`` from ``first_page`` to the end of its part, and record them once."""
    run_id = flow_run.get_id()
    outcome = split.ocr_part(get_runtime(), document_id, first_page, str(run_id) if run_id else None)
    get_run_logger().info(
        "part %s/%d-%d: %s", document_id, first_page, outcome.last_page, "recorded" if outcome.recorded else "dropped"
    )
    return {
        "document_id": document_id,
        "first_page": first_page,
        "last_page": outcome.last_page,
        "recorded": outcome.recorded,
        "ocr_pages": outcome.ocr_pages,
        "failed_pages": outcome.failed_pages,
    }


def should_distribute(rt: Runtime, document_id: str) -> bool:
    """Whether a work pool is set and the document is longer than one part."""
    if not rt.settings.work_pool:
        return False
    with rt.catalog.session() as session:
        doc = rt.catalog.get_document(session, document_id)
        return doc.status == "ready" and doc.ocr_status == "pending" and doc.page_count > rt.settings.ocr_split_pages


def _submit(document_id: str, first_page: int) -> str:
    from prefect.deployments import run_deployment

    run = run_deployment(
        OCR_PAGES_DEPLOYMENT,
        parameters={"document_id": document_id, "first_page": first_page},
        timeout=0,  # do not wait here: every part is submitted first, then watched
        tags=["casefile", "ocr"],
    )
    return str(run.id)  # type: ignore[union-attr]  # called outside an event loop: never a coroutine


def distribute_text(rt: Runtime, document_id: str, *, poll: float = POLL_SECONDS) -> text.TextSummary:
    """OCR a long document in parts on the work pool's workers, then assemble it; returns its text summary."""
    from prefect.client.orchestration import get_client
    from prefect.states import Crashed

    ranges = split.plan_parts(rt, document_id)
    runs: dict[int, str] = {}
    submitted: dict[int, int] = {}
    with get_client(sync_client=True) as client:
        while True:
            states = split.part_states(rt, document_id)
            pending = [first for first, _last in ranges if states[first].status != "done"]
            if not pending:
                break
            stale = set(split.stale_parts(rt, document_id))
            for first in pending:
                run_id = runs.get(first)
                resubmit = run_id is None
                if run_id is not None:
                    state = client.read_flow_run(UUID(run_id)).state
                    kind = state.type.value if state is not None else "PENDING"
                    if kind in FAILED_STATES or kind == "COMPLETED":  # completed but not done: dropped; again
                        resubmit = True
                    elif first in stale and states[first].flow_run_id == run_id:
                        # Its machine stopped answering: say so in Prefect, and give the part to another worker.
                        client.set_flow_run_state(
                            UUID(run_id),
                            Crashed(message="No sign of life from this run's worker; its pages were given to another."),
                            force=True,
                        )
                        log.warning("part %s/%d: run %s silent, resubmitted", document_id, first, run_id)
                        resubmit = True
                if resubmit and split.part_states(rt, document_id)[first].status == "done":
                    continue  # recorded while we looked
                if resubmit:
                    submitted[first] = submitted.get(first, 0) + 1
                    if states[first].attempts >= MAX_ATTEMPTS or submitted[first] > 2 * MAX_ATTEMPTS:
                        raise CasefileError(
                            f"Document {document_id}: pages from {first} failed {MAX_ATTEMPTS} times on the workers. "
                            "See the `ocr-pages` runs in the Prefect UI; the other pages are kept."
                        )
                    runs[first] = _submit(document_id, first)
            time.sleep(poll)
    return split.assemble(rt, document_id)
