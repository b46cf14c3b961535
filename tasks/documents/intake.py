"""Intake: batches of files taken into a case. Per file: a checked, hashed copy (``normalise``), the original kept
byte for byte in the object store, its PDF and pages recorded; a refused file quarantined with its reason.

``documents.pipeline`` runs these stages in order. Every stage is safe to run again: objects are content addressed
and a file's catalog rows are written in one transaction, after its objects are stored.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError as SqlIntegrityError
from sqlalchemy.orm import Session

from ..core.catalog import Catalog, Document, IntakeBatch, IntakeItem, Page, audit, new_id, utcnow
from ..core.errors import CasefileError, QuarantinedFile, TransientStorageError
from ..core.storage import LocalObjectStore, ObjectStore, derived_key, original_key, sha256_file
from .normalise import Kind, PageInfo, StagedFile, UnsupportedStaged, check_extension, normalise, stage_copy

if TYPE_CHECKING:
    from ..core.runtime import Runtime

log = logging.getLogger(__name__)


def expand_inputs(paths: Iterable[Path]) -> list[Path]:
    """Files and folders (recursively, sorted, hidden files skipped) into a flat list of files."""
    out: list[Path] = []
    for raw in paths:
        path = raw.expanduser()
        if path.is_dir():
            for dirpath, dirnames, filenames in os.walk(path):
                dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
                out.extend(Path(dirpath) / name for name in sorted(filenames) if not name.startswith("."))
        else:
            out.append(path)
    return [p.resolve() for p in out]


# Batches ---------------------------------------------------------------------------------------
class Outcome(StrEnum):
    PENDING = "pending"
    STORED = "stored"
    DUPLICATE = "duplicate"
    QUARANTINED = "quarantined"
    FAILED = "failed"


@dataclass(frozen=True)
class ItemResult:
    """What one file came to: ids, hashes and counts only (safe for Prefect and logs)."""

    seq: int
    outcome: Outcome
    document_id: str | None = None
    sha256: str | None = None
    pages: int = 0
    reason: str | None = None


def create_batch(session: Session, case_id: str, files: list[Path], doc_type: str) -> IntakeBatch:
    batch = IntakeBatch(id=new_id("B", 8), case_id=case_id, doc_type=doc_type)
    batch.items = [IntakeItem(seq=i, source_path=str(p)) for i, p in enumerate(files)]
    session.add(batch)
    return batch


def _record_quarantine(
    session: Session,
    item: IntakeItem,
    batch: IntakeBatch,
    err: QuarantinedFile,
    staged: StagedFile | None,
    store_key: str | None,
    size: int,
) -> ItemResult:
    sha = staged.sha256 if staged else None
    existing = None
    if sha is not None:
        existing = session.scalar(select(Document).where(Document.case_id == batch.case_id, Document.sha256 == sha))
    doc_id = existing.id if existing else new_id("D", 8)
    if existing is None and sha is not None:
        session.add(
            Document(
                id=doc_id,
                case_id=batch.case_id,
                sha256=sha,
                original_key=store_key,
                original_name=Path(item.source_path).name,
                size_bytes=size,
                kind=staged.kind.value if staged else Kind.UNKNOWN.value,
                doc_type=batch.doc_type,
                status="quarantined",
                ocr_status="skipped",
                quarantine_reason=err.reason.value,
                quarantine_detail=err.detail,
                batch_id=batch.id,
            )
        )
    item.outcome, item.reason, item.message = Outcome.QUARANTINED.value, err.reason.value, err.message
    item.sha256, item.document_id = sha, (doc_id if sha else None)
    audit(
        session,
        actor="ingest",
        entity="document",
        entity_id=doc_id,
        action="quarantined",
        case_id=batch.case_id,
        reason=err.reason.value,
        sha256=sha,
    )
    return ItemResult(item.seq, Outcome.QUARANTINED, item.document_id, sha, 0, err.reason.value)


def ingest_item(rt: Runtime, batch_id: str, seq: int) -> ItemResult:
    """Take in one file of a batch. Safe to re-run: objects are content addressed and the catalog
    rows for a file are written in one transaction, after its objects are stored."""
    catalog, store, limits = rt.catalog, rt.store, rt.limits
    with catalog.session() as session:
        item = session.get(IntakeItem, (batch_id, seq))
        if item is None:
            raise CasefileError(f"Intake item {batch_id}/{seq} does not exist.")
        if item.outcome != Outcome.PENDING.value:
            return ItemResult(seq, Outcome(item.outcome), item.document_id, item.sha256, 0, item.reason)
        source = Path(item.source_path)
        case_id = session.get(IntakeBatch, batch_id).case_id  # type: ignore[union-attr]

    work_dir = Path(tempfile.mkdtemp(prefix=f"{batch_id}-{seq}-", dir=_ensure(rt.settings.work_dir)))
    staged: StagedFile | None = None
    try:
        try:
            staged = stage_copy(source, work_dir, limits)
            check_extension(source.name, staged.kind)
        except UnsupportedStaged as err:
            return _finish_quarantine(catalog, store, batch_id, seq, err, err.staged, source)
        except QuarantinedFile as err:
            return _finish_quarantine(catalog, store, batch_id, seq, err, staged, source)

        with catalog.session() as session:
            dup = session.scalar(select(Document).where(Document.case_id == case_id, Document.sha256 == staged.sha256))
            if dup is not None:
                return _mark(session, batch_id, seq, Outcome.DUPLICATE, dup.id, staged.sha256, dup.page_count)

        okey = original_key(staged.sha256)
        if not store.exists(okey):
            store.put_file(okey, staged.path)
        try:
            normalised = normalise(staged, limits)
        except QuarantinedFile as err:
            return _finish_quarantine(catalog, store, batch_id, seq, err, staged, source, stored=True)

        nkey, nsha = okey, staged.sha256
        if normalised.derived:
            nsha = sha256_file(normalised.path)
            nkey = derived_key(nsha)
            if not store.exists(nkey):
                store.put_file(nkey, normalised.path)
        return _record_document(catalog, batch_id, seq, staged, source.name, okey, nkey, nsha, normalised.pages)
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)


def _ensure(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _mark(
    session: Session,
    batch_id: str,
    seq: int,
    outcome: Outcome,
    doc_id: str | None,
    sha: str | None,
    pages: int,
) -> ItemResult:
    item = session.get(IntakeItem, (batch_id, seq))
    assert item is not None
    item.outcome, item.document_id, item.sha256 = outcome.value, doc_id, sha
    return ItemResult(seq, outcome, doc_id, sha, pages)


def _finish_quarantine(
    catalog: Catalog,
    store: ObjectStore,
    batch_id: str,
    seq: int,
    err: QuarantinedFile,
    staged: StagedFile | None,
    source: Path,
    stored: bool = False,
) -> ItemResult:
    """Keep the bytes of a refused file (nothing is lost) unless it was too large to copy."""
    key = None
    if staged is not None:
        key = original_key(staged.sha256)
        if not stored and not store.exists(key):
            store.put_file(key, staged.path)
    size = staged.size if staged else 0
    with catalog.session() as session:
        item = session.get(IntakeItem, (batch_id, seq))
        batch = session.get(IntakeBatch, batch_id)
        assert item is not None and batch is not None
        if staged is not None:
            dup = session.scalar(
                select(Document).where(Document.case_id == batch.case_id, Document.sha256 == staged.sha256)
            )
            if dup is not None and dup.status != "quarantined":
                return _mark(session, batch_id, seq, Outcome.DUPLICATE, dup.id, staged.sha256, dup.page_count)
        log.info("item %s/%s quarantined: %s", batch_id, seq, err.reason.value)
        return _record_quarantine(session, item, batch, err, staged, key, size)


def _record_document(
    catalog: Catalog,
    batch_id: str,
    seq: int,
    staged: StagedFile,
    name: str,
    okey: str,
    nkey: str,
    nsha: str,
    pages: list[PageInfo],
) -> ItemResult:
    try:
        with catalog.session() as session:
            batch = session.get(IntakeBatch, batch_id)
            assert batch is not None
            doc = Document(
                id=new_id("D", 8),
                case_id=batch.case_id,
                sha256=staged.sha256,
                original_key=okey,
                original_name=name,
                size_bytes=staged.size,
                kind=staged.kind.value,
                doc_type=batch.doc_type,
                status="ready",
                normalised_key=nkey,
                normalised_sha256=nsha,
                page_count=len(pages),
                batch_id=batch_id,
            )
            doc.pages = [
                Page(
                    number=p.number,
                    width_pt=p.width_pt,
                    height_pt=p.height_pt,
                    rotation=p.rotation,
                    image_width_px=p.image_width_px,
                    image_height_px=p.image_height_px,
                )
                for p in pages
            ]
            session.add(doc)
            session.flush()
            audit(
                session,
                actor="ingest",
                entity="document",
                entity_id=doc.id,
                action="stored",
                case_id=batch.case_id,
                sha256=staged.sha256,
                pages=len(pages),
            )
            result = _mark(session, batch_id, seq, Outcome.STORED, doc.id, staged.sha256, len(pages))
    except SqlIntegrityError:
        # The same bytes were stored by a concurrent item of this batch: that one wins.
        with catalog.session() as session:
            batch = session.get(IntakeBatch, batch_id)
            assert batch is not None
            dup = session.scalar(
                select(Document).where(Document.case_id == batch.case_id, Document.sha256 == staged.sha256)
            )
            assert dup is not None
            return _mark(session, batch_id, seq, Outcome.DUPLICATE, dup.id, staged.sha256, dup.page_count)
    log.info(
        "item %s/%s stored as %s (%s pages, sha256 %s)",
        batch_id,
        seq,
        result.document_id,
        len(pages),
        staged.sha256[:12],
    )
    return result


def mark_failed(rt: Runtime, batch_id: str, seq: int, error: BaseException) -> ItemResult:
    """An item whose retries ran out (object store down): recorded so the user can re-run later."""
    message = (
        error.message
        if isinstance(error, CasefileError)
        else f"unexpected {type(error).__name__}; re-run `casefile add` with the same files"
    )
    with rt.catalog.session() as session:
        item = session.get(IntakeItem, (batch_id, seq))
        assert item is not None
        if item.outcome == Outcome.PENDING.value:
            item.outcome, item.message = Outcome.FAILED.value, message
            item.reason = "transient" if isinstance(error, TransientStorageError) else "error"
        return ItemResult(seq, Outcome(item.outcome), item.document_id, item.sha256, 0, item.reason)


STALE_AFTER_SECONDS = 6 * 3600


def start_batch(rt: Runtime, batch_id: str) -> list[int]:
    """Mark the batch running, clear what interrupted runs left behind, and return its pending items."""
    clean_stale_work(rt.settings.work_dir)
    if isinstance(rt.store, LocalObjectStore):
        rt.store.clean_temp(older_than_seconds=STALE_AFTER_SECONDS)
    with rt.catalog.session() as session:
        batch = session.get(IntakeBatch, batch_id)
        if batch is None:
            raise CasefileError(f"Intake batch {batch_id} does not exist.")
        batch.status = "running"
    return pending_items(rt, batch_id)


def clean_stale_work(work_root: Path, older_than_seconds: float = STALE_AFTER_SECONDS) -> int:
    """Remove per-item work folders of runs that were killed (older than any live run could be)."""
    import time

    if not work_root.is_dir():
        return 0
    removed = 0
    cutoff = time.time() - older_than_seconds
    for entry in work_root.iterdir():
        if entry.is_dir() and entry.stat().st_mtime < cutoff:
            shutil.rmtree(entry, ignore_errors=True)
            removed += 1
    return removed


def pending_items(rt: Runtime, batch_id: str) -> list[int]:
    with rt.catalog.session() as session:
        return list(
            session.scalars(
                select(IntakeItem.seq)
                .where(IntakeItem.batch_id == batch_id, IntakeItem.outcome == "pending")
                .order_by(IntakeItem.seq)
            )
        )


def finish_batch(rt: Runtime, batch_id: str) -> dict[str, int]:
    with rt.catalog.session() as session:
        batch = session.get(IntakeBatch, batch_id)
        assert batch is not None
        counts = {o.value: 0 for o in Outcome}
        for item in batch.items:
            counts[item.outcome] += 1
        batch.status = "done" if counts["failed"] == 0 and counts["pending"] == 0 else "failed"
        batch.finished_at = utcnow()
        audit(
            session,
            actor="ingest",
            entity="batch",
            entity_id=batch_id,
            action=batch.status,
            case_id=batch.case_id,
            **counts,
        )
        return counts


def iter_progress(rt: Runtime, batch_id: str) -> Iterator[int]:
    """How many items of the batch are done, for a progress bar polling from another thread."""
    from sqlalchemy import func

    while True:
        with rt.catalog.session() as session:
            done = session.scalar(
                select(func.count()).where(IntakeItem.batch_id == batch_id, IntakeItem.outcome != "pending")
            )
        yield int(done or 0)


def batch_case(rt: Runtime, batch_id: str) -> str:
    with rt.catalog.session() as session:
        return rt.catalog.get_batch(session, batch_id).case_id


def batch_report(rt: Runtime, batch_id: str) -> dict[str, Any]:
    """What `casefile add` prints of a batch: one row per file, counts, and what the text stage did."""
    with rt.catalog.session() as session:
        batch = rt.catalog.get_batch(session, batch_id)
        items = [
            {
                "file": it.source_path,
                "outcome": it.outcome,
                "document_id": it.document_id,
                "sha256": it.sha256,
                "reason": it.reason,
                "message": it.message,
            }
            for it in batch.items
        ]
        counts: dict[str, int] = {}
        for it in batch.items:
            counts[it.outcome] = counts.get(it.outcome, 0) + 1
        docs = [session.get(Document, it.document_id) for it in batch.items if it.outcome == "stored"]
        pages = [p for d in docs if d for p in d.pages]
        text = {
            "ocr_pages": sum(p.text_source == "ocr" for p in pages),
            "text_layer_pages": sum(p.text_source == "text-layer" for p in pages),
            "failed_pages": sum(p.text_source == "failed" for p in pages),
            "low_confidence_pages": sum(p.low_confidence for p in pages),
        }
        return {
            "batch_id": batch.id,
            "case_id": batch.case_id,
            "status": batch.status,
            "counts": counts,
            "items": items,
            "text": text,
            "store": rt.store.describe(),
        }
