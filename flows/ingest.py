"""The per-case ingest flow (`ingest-case`): the documents pipeline with each stage as a Prefect task.

Parameters and results are ids, counts and hashes only; file names, paths and contents stay in the catalog and the
object store. Results are not persisted. Only transient errors are retried (flows/retries.py).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.futures import PrefectFuture

from ..tasks.core.runtime import Runtime, get_runtime
from ..tasks.documents import intake, pipeline, text
from ..tasks.search import indexing
from .retries import retry_if_transient

INGEST_RETRIES = 3


@task(
    name="ingest-file",
    task_run_name="ingest-{batch_id}-{seq}",
    retries=INGEST_RETRIES,
    retry_delay_seconds=[1, 5, 15],
    retry_condition_fn=retry_if_transient,
    persist_result=False,
    cache_policy=NO_CACHE,
)
def ingest_file(batch_id: str, seq: int) -> intake.ItemResult:
    try:
        return pipeline.take_in(get_runtime(), batch_id, seq)
    except Exception as exc:
        from prefect.runtime import task_run

        if task_run.run_count > INGEST_RETRIES:  # the last attempt: the files not started yet fail at once
            pipeline.note_outage(batch_id, exc)
        raise


@task(
    name="extract-text",
    task_run_name="text-{document_id}",
    retries=2,
    retry_delay_seconds=[2, 10],
    retry_condition_fn=retry_if_transient,
    persist_result=False,
    cache_policy=NO_CACHE,
)
def extract_text(document_id: str) -> text.TextSummary:
    """OCR what needs it (a process pool inside: one task per document, not per page)."""
    return text.extract_text(get_runtime(), document_id)


@task(name="index-document", task_run_name="index-{document_id}", persist_result=False, cache_policy=NO_CACHE)
def index_document(document_id: str) -> int:
    return indexing.index_document(get_runtime(), document_id)


class PrefectSteps(pipeline.Steps):
    """Files on Prefect's thread pool (its size is the `ingest_workers` setting, PREFECT_TASKS_RUNNER_THREAD_POOL_
    MAX_WORKERS, set in flows/prefect_env.py); text and index as tasks, one document after another."""

    def items(self, rt: Runtime, batch_id: str, seqs: Sequence[int]) -> list[intake.ItemResult]:
        futures: list[PrefectFuture[intake.ItemResult]] = [ingest_file.submit(batch_id, seq) for seq in seqs]
        results = []
        for seq, future in zip(seqs, futures, strict=True):
            try:
                results.append(future.result())
            except Exception as exc:
                logging.getLogger(__name__).debug("item %s/%s failed", batch_id, seq, exc_info=False)
                pipeline.note_outage(batch_id, exc)  # the files not started yet fail at once
                results.append(intake.mark_failed(rt, batch_id, seq, exc))
        return results

    def text(self, rt: Runtime, document_id: str) -> text.TextSummary:
        from . import ocr

        if ocr.should_distribute(rt, document_id):  # a work pool is set and the scan is long: its workers share it
            return ocr.distribute_text(rt, document_id)
        return extract_text(document_id)

    def index(self, rt: Runtime, document_id: str) -> int:
        return index_document(document_id)


@flow(name="ingest-case", persist_result=False)
def ingest_case(batch_id: str) -> dict[str, int]:
    """Ingest every pending file of intake batch ``batch_id`` (created by `casefile add`)."""
    logger = get_run_logger()
    outcome = pipeline.ingest_batch(get_runtime(), batch_id, PrefectSteps())
    create_table_artifact(
        key=f"ingest-{batch_id.lower()}",
        table=[
            {
                "item": r.seq,
                "outcome": r.outcome.value,
                "document": r.document_id or "",
                "sha256": r.sha256 or "",
                "pages": r.pages,
                "reason": r.reason or "",
            }
            for r in outcome.items
        ],
        description=f"Ingest batch {batch_id}: " + ", ".join(f"{k} {v}" for k, v in outcome.counts.items() if v),
    )
    logger.info("batch %s finished: %s; text: %s", batch_id, outcome.counts, outcome.text)
    return {**outcome.counts, **outcome.text}
