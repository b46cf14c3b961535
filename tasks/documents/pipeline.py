"""The ingest order, in one place: every file of a batch, then text for the case's documents, then the index.

    batch = new_batch(rt, case_id, paths, doc_type)       # validated; files and folders expanded
    ingest_batch(rt, batch)                                # intake -> text (OCR) -> index -> finish

``casefile add`` (through the ``ingest-case`` flow), the inbox poll, `request receive`, translations and the
practice's own letters all go through here. How each stage runs is a ``Steps``: plainly in this process (the
default), or as Prefect tasks (flows/ingest.py), which changes nothing else. Every stage takes ids and is safe to run
again, so a re-run after a crash finishes what the first run left.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..core.errors import (
    CasefileError,
    ExitCode,
    SearchIndexBusy,
    SearchIndexError,
    TransientStorageError,
    ValidationError,
    WorkspaceError,
)
from ..core.workdirs import owner_lock
from ..search import indexing
from . import intake, text
from .types import load_document_types

if TYPE_CHECKING:
    from ..core.runtime import Runtime

log = logging.getLogger(__name__)


# An object store (or work disk) that fails for good during a batch fails the batch's remaining files at once, as
# "failed, transient" (run again), instead of each waiting through its own retries.
_outages: dict[str, CasefileError] = {}
_outages_lock = threading.Lock()


def note_outage(batch_id: str, error: BaseException) -> None:
    """Remember that the machine or the store failed a file of ``batch_id`` for good (retries ran out)."""
    if isinstance(error, CasefileError) and error.exit_code == ExitCode.TRANSIENT:
        with _outages_lock:
            _outages.setdefault(batch_id, error)


def outage(batch_id: str) -> CasefileError | None:
    """The error that stopped ``batch_id``'s files, if one did: the remaining files are not tried."""
    with _outages_lock:
        error = _outages.get(batch_id)
    if error is None:
        return None
    return (
        type(error)(
            f"{error.message.rstrip('.')}. This file was not tried in this run: run the same command again once the "
            "cause is fixed."
        )
        if type(error) in (TransientStorageError, WorkspaceError)
        else error
    )


def take_in(rt: Runtime, batch_id: str, seq: int) -> intake.ItemResult:
    """One file of the batch, unless the store or the work disk already failed the batch (then failed at once)."""
    stopped = outage(batch_id)
    if stopped is not None:
        return intake.mark_failed(rt, batch_id, seq, stopped)
    return intake.ingest_item(rt, batch_id, seq)


class Steps:
    """How the stages run. This base runs them plainly, one after another; flows/ingest.py overrides them to run
    each as a Prefect task (files concurrently). A file whose stage fails is recorded as failed, never lost."""

    def items(self, rt: Runtime, batch_id: str, seqs: Sequence[int]) -> list[intake.ItemResult]:
        results = []
        for seq in seqs:
            try:
                results.append(take_in(rt, batch_id, seq))
            except Exception as exc:
                note_outage(batch_id, exc)
                results.append(intake.mark_failed(rt, batch_id, seq, exc))
        return results

    def text(self, rt: Runtime, document_id: str) -> text.TextSummary:
        return text.extract_text(rt, document_id)

    def index(self, rt: Runtime, document_id: str) -> int:
        return indexing.index_document(rt, document_id)


PLAIN = Steps()


@dataclass
class BatchOutcome:
    """Ids and counts only (safe for logs and Prefect)."""

    batch_id: str
    case_id: str
    items: list[intake.ItemResult] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)  # per outcome: stored, duplicate, quarantined, failed...
    text: dict[str, int] = field(default_factory=dict)  # what the text and index stages did

    def document_ids(self, *outcomes: intake.Outcome) -> list[str]:
        return [r.document_id for r in self.items if r.outcome in outcomes and r.document_id is not None]


def new_batch(rt: Runtime, case_id: str, paths: Sequence[Path], doc_type: str, *, follow_symlinks: bool = False) -> str:
    """Validate what `casefile add` was given and record it as an intake batch; returns the batch id. Symbolic links
    (given or found in folders) become items that intake refuses, unless ``follow_symlinks``; hidden entries of
    folders are counted, not taken."""
    rt.config(load_document_types).check(doc_type)
    inputs = intake.scan_inputs(paths, follow_symlinks=follow_symlinks)
    missing = [p for p in inputs.files if not os.path.lexists(p)]
    if missing:
        raise ValidationError(f"No such file or folder: {missing[0]}. Check the path and try again.")
    if not inputs.files:
        hidden = f" ({inputs.hidden_skipped} hidden file(s) skipped)" if inputs.hidden_skipped else ""
        raise ValidationError(f"No files to add (the folders given are empty{hidden}).")
    with rt.catalog.session() as session:
        case = rt.catalog.get_case(session, case_id)
        batch = intake.create_batch(
            session,
            case.id,
            inputs.files,
            doc_type,
            follow_symlinks=follow_symlinks,
            hidden_skipped=inputs.hidden_skipped,
        )
        return batch.id


def make_searchable(rt: Runtime, case_id: str, steps: Steps = PLAIN) -> dict[str, int]:
    """Text, then the index, for every document of the case that still needs them (also those an interrupted run
    left behind). Documents one after another: each text stage already uses every core for OCR."""
    counts = {"documents": 0, "ocr_pages": 0, "failed_pages": 0, "low_confidence_pages": 0, "indexed_pages": 0}
    for document_id in text.documents_needing_text(rt, case_id):
        summary = steps.text(rt, document_id)
        counts["documents"] += 1
        counts["ocr_pages"] += summary.ocr_pages
        counts["failed_pages"] += summary.failed_pages
        counts["low_confidence_pages"] += summary.low_confidence_pages
    for document_id in indexing.documents_needing_index(rt, case_id):
        try:
            counts["indexed_pages"] += steps.index(rt, document_id)
        except (SearchIndexBusy, SearchIndexError) as exc:
            # The document keeps indexed_at NULL: the next run, or `casefile reindex`, adds it.
            log.warning("document %s not indexed: %s", document_id, type(exc).__name__)
            counts["index_errors"] = counts.get("index_errors", 0) + 1
    return counts


def ingest_batch(rt: Runtime, batch_id: str, steps: Steps = PLAIN, *, searchable: bool = True) -> BatchOutcome:
    """Every pending file of the batch, then (unless ``searchable`` is off) text and index for the case. The run
    holds the batch's lock throughout: a batch left "running" whose lock nobody holds was killed (`casefile check`)."""
    lock = intake.batch_lock(rt.settings, batch_id)
    with owner_lock(lock):
        try:
            seqs = intake.start_batch(rt, batch_id)
            outcome = BatchOutcome(batch_id, intake.batch_case(rt, batch_id))
            outcome.items = steps.items(rt, batch_id, seqs)
            if searchable and outage(batch_id) is None:
                outcome.text = make_searchable(rt, outcome.case_id, steps)
            # else: the store or the disk is down; the documents stored in this run are read by the next one
            outcome.counts = intake.finish_batch(rt, batch_id)
        finally:
            with _outages_lock:
                _outages.pop(batch_id, None)
        lock.unlink(missing_ok=True)
    return outcome


def ingest_files(
    rt: Runtime, case_id: str, paths: Sequence[Path], doc_type: str, *, searchable: bool = True
) -> BatchOutcome:
    """Take files in synchronously, without a flow (a translation, a rendered letter): a batch like any other."""
    return ingest_batch(rt, new_batch(rt, case_id, paths, doc_type), searchable=searchable)


def ingest_file(rt: Runtime, case_id: str, path: Path, doc_type: str, *, searchable: bool = True) -> intake.ItemResult:
    """One file, synchronously: its item's result (stored, duplicate, repaired, quarantined or failed)."""
    return ingest_files(rt, case_id, [path], doc_type, searchable=searchable).items[0]


def taken_in(result: intake.ItemResult) -> str | None:
    """The document id when the file is in the case (stored now or before), else None."""
    if result.outcome in (intake.Outcome.STORED, intake.Outcome.DUPLICATE, intake.Outcome.REPAIRED):
        return result.document_id
    return None
