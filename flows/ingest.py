"""The per-case ingest flow: take in every file of an intake batch.

Parameters and results are ids, counts and hashes only; file names, paths and contents stay in the
catalog and the object store. Results are not persisted. Only transient errors are retried.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from typing import Any

from prefect import State, flow, get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.futures import PrefectFuture

from casefile.tasks.core.errors import SearchIndexBusy, SearchIndexError, ToolTimeout, TransientStorageError
from casefile.tasks.core.runtime import get_runtime
from casefile.tasks.documents import intake
from casefile.tasks.documents import text as doctext

TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (TransientStorageError, ToolTimeout, TimeoutError)


def retry_if_transient(_task: Any, _task_run: Any, state: State[Any]) -> bool:
    """Retry S3 5xx/throttling/timeouts; never a bad input or a bug."""
    try:
        state.result()
    except TRANSIENT_ERRORS:
        return True
    except BaseException:
        return False
    return False


@task(
    name="ingest-file",
    task_run_name="ingest-{batch_id}-{seq}",
    retries=3,
    retry_delay_seconds=[1, 5, 15],
    retry_condition_fn=retry_if_transient,
    persist_result=False,
    cache_policy=NO_CACHE,
)
def ingest_file(batch_id: str, seq: int) -> dict[str, Any]:
    rt = get_runtime()
    result = intake.ingest_item(rt.catalog, rt.store, rt.settings.work_dir, rt.limits, batch_id, seq)
    return asdict(result)


@task(
    name="extract-text",
    task_run_name="text-{document_id}",
    retries=2,
    retry_delay_seconds=[2, 10],
    retry_condition_fn=retry_if_transient,
    persist_result=False,
    cache_policy=NO_CACHE,
)
def extract_text(document_id: str) -> dict[str, Any]:
    """OCR what needs it (a process pool inside: one task per document, not per page)."""
    rt = get_runtime()  # with ocr_enabled off, text layers are still read; pages that need OCR are skipped
    return asdict(doctext.extract_text(rt.catalog, rt.store, rt.settings, document_id))


@task(name="index-document", task_run_name="index-{document_id}", persist_result=False, cache_policy=NO_CACHE)
def index_document(document_id: str) -> int:
    rt = get_runtime()
    return doctext.index_document(rt.catalog, rt.index, document_id)


def make_searchable(case_id: str) -> dict[str, int]:
    """Text and index for every document of the case that still needs them (also those an interrupted
    run left behind). OCR tasks run one after another: each already uses every core."""
    rt = get_runtime()
    counts = {"documents": 0, "ocr_pages": 0, "failed_pages": 0, "low_confidence_pages": 0, "indexed_pages": 0}
    for document_id in doctext.documents_needing_text(rt.catalog, case_id):
        summary = extract_text(document_id)
        counts["documents"] += 1
        for key in ("ocr_pages", "failed_pages", "low_confidence_pages"):
            counts[key] += int(summary.get(key, 0))
    for document_id in doctext.documents_needing_index(rt.catalog, case_id):
        try:
            counts["indexed_pages"] += index_document(document_id)
        except (SearchIndexBusy, SearchIndexError) as exc:
            # The document keeps indexed_at NULL: the next run of this flow, or `casefile reindex`, adds it.
            get_run_logger().warning("document %s not indexed: %s", document_id, type(exc).__name__)
            counts["index_errors"] = counts.get("index_errors", 0) + 1
    return counts


# Files are ingested on Prefect's default thread pool; its size is the `ingest_workers` setting
# (PREFECT_TASKS_RUNNER_THREAD_POOL_MAX_WORKERS, set in flows/prefect_env.py).
@flow(name="ingest-case", persist_result=False)
def ingest_case(batch_id: str) -> dict[str, int]:
    """Ingest every pending file of intake batch ``batch_id`` (created by `casefile add`)."""
    logger = get_run_logger()
    rt = get_runtime()
    seqs = intake.start_batch(rt.catalog, batch_id, rt.settings.work_dir, rt.store)
    logger.info("batch %s: %d file(s) to ingest", batch_id, len(seqs))
    futures: list[PrefectFuture[dict[str, Any]]] = [ingest_file.submit(batch_id, seq) for seq in seqs]
    rows: list[dict[str, Any]] = []
    for seq, future in zip(seqs, futures, strict=True):
        try:
            row = future.result()
        except Exception as exc:
            logging.getLogger(__name__).debug("item %s/%s failed", batch_id, seq, exc_info=False)
            row = asdict(intake.mark_failed(rt.catalog, batch_id, seq, exc))
        rows.append(row)
    with rt.catalog.session() as session:
        case_id = rt.catalog.get_batch(session, batch_id).case_id
    text_counts = make_searchable(case_id)
    counts = intake.finish_batch(rt.catalog, batch_id)
    create_table_artifact(
        key=f"ingest-{batch_id.lower()}",
        table=[
            {
                "item": r["seq"],
                "outcome": r["outcome"],
                "document": r["document_id"] or "",
                "sha256": r["sha256"] or "",
                "pages": r["pages"],
                "reason": r["reason"] or "",
            }
            for r in rows
        ],
        description=f"Ingest batch {batch_id}: " + ", ".join(f"{k} {v}" for k, v in counts.items() if v),
    )
    logger.info("batch %s finished: %s; text: %s", batch_id, counts, text_counts)
    return {**counts, **text_counts}
