"""Intake: batches of files taken into a case. Per file: a checked, hashed copy (``normalise``), the original kept
byte for byte in the object store, its PDF and pages recorded; a refused file quarantined with its reason.

``documents.pipeline`` runs these stages in order. Every stage is safe to run again: objects are content addressed
and a file's catalog rows are written in one transaction, after its objects are stored.

What is the file's and what is not: a typed ``QuarantinedFile`` (the file is bad) is recorded with the document; a
full or read-only disk (``WorkspaceError``), an object store that is down, or a bug is not: the item is "failed",
nothing is recorded about the file, and running the same `add` again takes it in. A file the case already has is
checked again (``_take_again``): its stored objects are verified against their SHA-256 and repaired from the new
copy, a quarantine is lifted when the file passes now, and a file that a killed run stored is reported as stored.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError as SqlIntegrityError
from sqlalchemy.orm import Session

from ..core.catalog import Catalog, Document, IntakeBatch, IntakeItem, Page, audit, new_id, utcnow
from ..core.errors import CasefileError, ExitCode, QuarantinedFile
from ..core.settings import Settings
from ..core.storage import CHUNK, LocalObjectStore, ObjectStore, derived_key, original_key, sha256_file
from ..core.workdirs import lock_is_held, work_folder
from .normalise import Normalised, PageInfo, StagedFile, UnsupportedStaged, check_extension, normalise, stage_copy

if TYPE_CHECKING:
    from ..core.runtime import Runtime

log = logging.getLogger(__name__)


@dataclass
class Inputs:
    """What `casefile add` was given, as a flat list of files, and the hidden entries of folders left out."""

    files: list[Path]
    hidden_skipped: int = 0  # files and folders whose names start with "." inside the folders given


def scan_inputs(paths: Iterable[Path], *, follow_symlinks: bool = False) -> Inputs:
    """Files and folders (recursively, sorted) into a flat list of absolute paths, symbolic links NOT resolved: a
    link given or found stays an item of its own, which intake refuses unless ``follow_symlinks`` (then folders
    behind links are walked too, each real folder once). Entries whose names start with "." inside a folder are
    left out and counted; a path named explicitly is always an item."""
    out: list[Path] = []
    hidden = 0
    for raw in paths:
        path = Path(os.path.abspath(raw.expanduser()))
        if path.is_dir() and (follow_symlinks or not path.is_symlink()):
            seen: set[str] = set()
            for dirpath, dirnames, filenames in os.walk(path, followlinks=follow_symlinks):
                real = os.path.realpath(dirpath)
                if real in seen:  # a link loop, or a folder reached twice through links
                    dirnames[:] = []
                    continue
                seen.add(real)
                keep = []
                for d in sorted(dirnames):
                    if d.startswith("."):
                        hidden += 1
                    elif not follow_symlinks and os.path.islink(os.path.join(dirpath, d)):
                        out.append(Path(dirpath) / d)  # an item: refused with reason "symlink"
                    else:
                        keep.append(d)
                dirnames[:] = keep
                for name in sorted(filenames):
                    if name.startswith("."):
                        hidden += 1
                    else:
                        out.append(Path(dirpath) / name)
        else:
            out.append(path)
    return Inputs(out, hidden)


def expand_inputs(paths: Iterable[Path], *, follow_symlinks: bool = False) -> list[Path]:
    """The files of ``scan_inputs``."""
    return scan_inputs(paths, follow_symlinks=follow_symlinks).files


# Batches ---------------------------------------------------------------------------------------
class Outcome(StrEnum):
    PENDING = "pending"
    STORED = "stored"
    DUPLICATE = "duplicate"  # already in the case, and everything stored for it is intact
    REPAIRED = "repaired"  # already in the case; something stored for it was missing or damaged, now fixed
    QUARANTINED = "quarantined"
    FAILED = "failed"


class Repair(StrEnum):
    """What taking a file in again fixed (``ItemResult.repaired``)."""

    ORIGINAL_RESTORED = "original-restored"  # the stored original was missing or did not match its SHA-256
    NORMALISED_RESTORED = "normalised-restored"  # the same for the PDF made from it (made again, byte for byte)
    NORMALISED_REMADE = "normalised-remade"  # made again, but other bytes (another library version): recorded so
    SEARCHABLE_REDONE = "searchable-redone"  # the searchable PDF was missing or damaged: its text is read again
    QUARANTINE_LIFTED = "quarantine-lifted"  # quarantined before; the file passes every check now
    QUARANTINE_UPDATED = "quarantine-reason-updated"  # still quarantined, for another reason than recorded


@dataclass(frozen=True)
class ItemResult:
    """What one file came to: ids, hashes and counts only (safe for Prefect and logs)."""

    seq: int
    outcome: Outcome
    document_id: str | None = None
    sha256: str | None = None
    pages: int = 0
    reason: str | None = None
    repaired: tuple[str, ...] = ()


def create_batch(
    session: Session,
    case_id: str,
    files: list[Path],
    doc_type: str,
    *,
    follow_symlinks: bool = False,
    hidden_skipped: int = 0,
) -> IntakeBatch:
    batch = IntakeBatch(
        id=new_id("B", 8),
        case_id=case_id,
        doc_type=doc_type,
        follow_symlinks=follow_symlinks,
        hidden_skipped=hidden_skipped,
    )
    batch.items = [IntakeItem(seq=i, source_path=str(p)) for i, p in enumerate(files)]
    session.add(batch)
    return batch


def batch_lock(settings: Settings, batch_id: str) -> Path:
    """The lock a run holds while it works on a batch: a batch marked running whose lock nobody holds was killed."""
    return settings.home / "locks" / f"{batch_id}.lock"


def batch_is_live(settings: Settings, batch_id: str) -> bool:
    return lock_is_held(batch_lock(settings, batch_id))


def _item_result(item: IntakeItem, pages: int = 0) -> ItemResult:
    return ItemResult(
        item.seq, Outcome(item.outcome), item.document_id, item.sha256, pages, item.reason, _repairs(item.repaired)
    )


def _repairs(value: str | None) -> tuple[str, ...]:
    return tuple(json.loads(value)) if value else ()


# Objects --------------------------------------------------------------------------------------------------
def object_state(store: ObjectStore, key: str, sha256: str) -> str:
    """ "ok" when the object at ``key`` exists and matches ``sha256``, else "missing" or "corrupt" (reads it all)."""
    digest = hashlib.sha256()
    try:
        with store.open(key) as fh:
            for block in iter(lambda: fh.read(CHUNK), b""):
                digest.update(block)
    except FileNotFoundError:
        return "missing"
    return "ok" if digest.hexdigest() == sha256 else "corrupt"


def _ensure_object(store: ObjectStore, key: str, path: Path, sha256: str) -> bool:
    """Make the object at ``key`` hold the bytes of ``path`` (whose SHA-256 is ``sha256``): written when missing or
    damaged, left when intact. True when it was written."""
    if object_state(store, key, sha256) == "ok":
        return False
    store.put_file(key, path)
    return True


def _store_objects(store: ObjectStore, staged: StagedFile, normalised: Normalised) -> tuple[str, str, str, bool]:
    """The original and (when different) its PDF in the store; (original key, PDF key, PDF SHA-256, whether an
    existing original object was found damaged and written again)."""
    okey = original_key(staged.sha256)
    existed = store.exists(okey)
    restored = _ensure_object(store, okey, staged.path, staged.sha256) and existed
    nkey, nsha = okey, staged.sha256
    if normalised.derived:
        nsha = sha256_file(normalised.path)
        nkey = derived_key(nsha)
        _ensure_object(store, nkey, normalised.path, nsha)
    return okey, nkey, nsha, restored


def _page_rows(pages: list[PageInfo]) -> list[Page]:
    return [
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


# One file ---------------------------------------------------------------------------------------------------
def ingest_item(rt: Runtime, batch_id: str, seq: int) -> ItemResult:
    """Take in one file of a batch. Safe to re-run: objects are content addressed and the catalog rows for a file are
    written in one transaction, after its objects are stored. A file the case already has is checked again and what
    is broken is repaired (``_take_again``). A full or read-only work disk raises ``WorkspaceError`` (nothing is
    recorded about the file; the item stays retryable)."""
    catalog, limits = rt.catalog, rt.limits
    with catalog.session() as session:
        item = session.get(IntakeItem, (batch_id, seq))
        if item is None:
            raise CasefileError(f"Intake item {batch_id}/{seq} does not exist.")
        if item.outcome != Outcome.PENDING.value:
            return _item_result(item)
        batch = session.get(IntakeBatch, batch_id)
        assert batch is not None
        source, case_id, follow = Path(item.source_path), batch.case_id, batch.follow_symlinks

    with work_folder(rt.settings.work_dir, f"{batch_id}-{seq}-") as work_dir:
        staged: StagedFile | None = None
        try:
            staged = stage_copy(source, work_dir, limits, follow_symlinks=follow)
            check_extension(source.name, staged.kind)
        except UnsupportedStaged as err:
            return _quarantine(rt, batch_id, seq, err, err.staged)
        except QuarantinedFile as err:
            return _quarantine(rt, batch_id, seq, err, staged)

        with catalog.session() as session:
            existing = session.scalar(
                select(Document).where(Document.case_id == case_id, Document.sha256 == staged.sha256)
            )
            known = Known.of(existing) if existing is not None else None
        if known is not None:
            return _take_again(rt, batch_id, seq, staged, known)

        try:
            normalised = normalise(staged, limits)
        except QuarantinedFile as err:
            return _quarantine(rt, batch_id, seq, err, staged)
        okey, nkey, nsha, _restored = _store_objects(rt.store, staged, normalised)
        return _record_document(catalog, batch_id, seq, staged, source.name, okey, nkey, nsha, normalised.pages)


@dataclass(frozen=True)
class Known:
    """The catalog's record of a document (read in one session, used after it)."""

    id: str
    status: str
    original_key: str | None
    normalised_key: str | None
    normalised_sha256: str | None
    searchable_key: str | None
    searchable_sha256: str | None
    page_count: int
    quarantine_reason: str | None
    batch_id: str | None

    @classmethod
    def of(cls, doc: Document) -> Known:
        return cls(
            doc.id,
            doc.status,
            doc.original_key,
            doc.normalised_key,
            doc.normalised_sha256,
            doc.searchable_key,
            doc.searchable_sha256,
            doc.page_count,
            doc.quarantine_reason,
            doc.batch_id,
        )


def _take_again(rt: Runtime, batch_id: str, seq: int, staged: StagedFile, known: Known) -> ItemResult:
    """A file whose bytes the case already has: check again what is stored for it and repair what is broken. A
    quarantined document is checked again (its quarantine is lifted when the file passes now: the cause was not the
    file); a ready one has its original, PDF and searchable PDF verified against their SHA-256, and any that is
    missing or damaged is written again from this copy (or, for the searchable PDF, made again by the text stage)."""
    if known.status == "quarantined":
        return _recheck_quarantined(rt, batch_id, seq, staged, known)
    store = rt.store
    repaired: list[Repair] = []
    okey = known.original_key or original_key(staged.sha256)
    if _ensure_object(store, okey, staged.path, staged.sha256):
        repaired.append(Repair.ORIGINAL_RESTORED)
    updates: dict[str, Any] = {}
    nkey, nsha = known.normalised_key, known.normalised_sha256
    if nkey and nsha and nkey != okey and object_state(store, nkey, nsha) != "ok":
        repair, updates = remake_pdf(rt, known, staged)
        if repair is not None:
            repaired.append(repair)
    skey, ssha = known.searchable_key, known.searchable_sha256
    if skey and ssha and skey not in (okey, nkey) and object_state(store, skey, ssha) != "ok":
        updates.update(searchable_key=None, searchable_sha256=None, ocr_status="pending", indexed_at=None)
        repaired.append(Repair.SEARCHABLE_REDONE)
    with rt.catalog.session() as session:
        doc = session.get(Document, known.id)
        assert doc is not None
        for name, value in updates.items():
            setattr(doc, name, value)
        batch = session.get(IntakeBatch, batch_id)
        assert batch is not None
        if repaired:
            audit(
                session,
                actor="ingest",
                entity="document",
                entity_id=known.id,
                action="repaired",
                case_id=batch.case_id,
                repaired=[r.value for r in repaired],
                sha256=staged.sha256,
            )
            outcome = Outcome.REPAIRED
        elif _stored_by_interrupted_run(rt, session, known.batch_id, batch_id):
            # The run that stored it was killed before it could say so: this run reports it, and owns it from now.
            outcome = Outcome.STORED
            doc.batch_id = batch_id
        else:
            outcome = Outcome.DUPLICATE
        return _mark(session, batch_id, seq, outcome, known.id, staged.sha256, known.page_count, repaired)


def remake_pdf(rt: Runtime, known: Known, staged: StagedFile) -> tuple[Repair | None, dict[str, Any]]:
    """Make a document's PDF again from its original (``staged``) when the stored one is missing or damaged: written
    back under its key when the same bytes come out; otherwise (another library version) stored under its own key,
    the changes to record returned (only when the page count agrees). The same file passed before; a failure now is
    raised as it is."""
    normalised = normalise(staged, rt.limits)
    made = sha256_file(normalised.path)
    if known.normalised_key is not None and made == known.normalised_sha256:
        rt.store.put_file(known.normalised_key, normalised.path)
        return Repair.NORMALISED_RESTORED, {}
    if len(normalised.pages) != known.page_count:
        return None, {}
    new_key = derived_key(made)
    _ensure_object(rt.store, new_key, normalised.path, made)
    updates: dict[str, Any] = {"normalised_key": new_key, "normalised_sha256": made}
    if known.searchable_key == known.normalised_key:  # never OCR'd: its "searchable" PDF was this one
        updates.update(searchable_key=new_key, searchable_sha256=made)
    return Repair.NORMALISED_REMADE, updates


def _stored_by_interrupted_run(rt: Runtime, session: Session, stored_by: str | None, current: str) -> bool:
    if stored_by is None or stored_by == current:
        return False
    batch = session.get(IntakeBatch, stored_by)
    if batch is None or batch.status in ("done", "failed"):
        return False
    return not batch_is_live(rt.settings, stored_by)


def _recheck_quarantined(rt: Runtime, batch_id: str, seq: int, staged: StagedFile, known: Known) -> ItemResult:
    store = rt.store
    repaired: list[Repair] = []
    okey = known.original_key or original_key(staged.sha256)
    try:
        normalised = normalise(staged, rt.limits)
    except QuarantinedFile as err:
        if _ensure_object(store, okey, staged.path, staged.sha256):
            repaired.append(Repair.ORIGINAL_RESTORED)
        with rt.catalog.session() as session:
            doc = session.get(Document, known.id)
            item = session.get(IntakeItem, (batch_id, seq))
            assert doc is not None and item is not None
            if doc.quarantine_reason != err.reason.value:
                doc.quarantine_reason, doc.quarantine_detail = err.reason.value, err.detail
                repaired.append(Repair.QUARANTINE_UPDATED)
            doc.original_key = okey
            item.outcome, item.reason, item.message = Outcome.QUARANTINED.value, err.reason.value, err.message
            item.sha256, item.document_id = staged.sha256, doc.id
            item.repaired = json.dumps([r.value for r in repaired]) if repaired else None
            log.info("item %s/%s still quarantined: %s", batch_id, seq, err.reason.value)
            return _item_result(item)
    okey, nkey, nsha, _restored = _store_objects(store, staged, normalised)
    repaired.append(Repair.QUARANTINE_LIFTED)
    with rt.catalog.session() as session:
        doc = session.get(Document, known.id)
        assert doc is not None
        previous = doc.quarantine_reason
        doc.status, doc.kind = "ready", staged.kind.value
        doc.original_key, doc.normalised_key, doc.normalised_sha256 = okey, nkey, nsha
        doc.searchable_key = doc.searchable_sha256 = None
        doc.ocr_status, doc.indexed_at = "pending", None
        doc.quarantine_reason = doc.quarantine_detail = None
        doc.page_count = len(normalised.pages)
        doc.pages = _page_rows(normalised.pages)
        audit(
            session,
            actor="ingest",
            entity="document",
            entity_id=doc.id,
            action="quarantine-lifted",
            case_id=doc.case_id,
            previous_reason=previous,
            sha256=staged.sha256,
            pages=len(normalised.pages),
        )
        log.info("item %s/%s: quarantine of %s lifted (was %s)", batch_id, seq, doc.id, previous)
        return _mark(session, batch_id, seq, Outcome.STORED, doc.id, staged.sha256, len(normalised.pages), repaired)


def _mark(
    session: Session,
    batch_id: str,
    seq: int,
    outcome: Outcome,
    doc_id: str | None,
    sha: str | None,
    pages: int,
    repaired: list[Repair] | None = None,
) -> ItemResult:
    item = session.get(IntakeItem, (batch_id, seq))
    assert item is not None
    item.outcome, item.document_id, item.sha256 = outcome.value, doc_id, sha
    item.repaired = json.dumps([r.value for r in repaired]) if repaired else None
    return _item_result(item, pages)


def _quarantine(rt: Runtime, batch_id: str, seq: int, err: QuarantinedFile, staged: StagedFile | None) -> ItemResult:
    """Record a refused file; its bytes are kept (nothing is lost) unless there were none to copy (too large,
    unreadable, a symbolic link). A file whose bytes the case already has as a ready document (the same bytes under
    a name that does not fit them) stays a duplicate of it."""
    key = None
    if staged is not None:
        key = original_key(staged.sha256)
        _ensure_object(rt.store, key, staged.path, staged.sha256)
    with rt.catalog.session() as session:
        item = session.get(IntakeItem, (batch_id, seq))
        batch = session.get(IntakeBatch, batch_id)
        assert item is not None and batch is not None
        existing = None
        if staged is not None:
            existing = session.scalar(
                select(Document).where(Document.case_id == batch.case_id, Document.sha256 == staged.sha256)
            )
            if existing is not None and existing.status != "quarantined":
                return _mark(session, batch_id, seq, Outcome.DUPLICATE, existing.id, staged.sha256, existing.page_count)
        log.info("item %s/%s quarantined: %s", batch_id, seq, err.reason.value)
        sha = staged.sha256 if staged else None
        doc_id = existing.id if existing is not None else new_id("D", 8)
        if existing is None and staged is not None:
            session.add(
                Document(
                    id=doc_id,
                    case_id=batch.case_id,
                    sha256=staged.sha256,
                    original_key=key,
                    original_name=Path(item.source_path).name,
                    size_bytes=staged.size,
                    kind=staged.kind.value,
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
        return ItemResult(seq, Outcome.QUARANTINED, item.document_id, sha, 0, err.reason.value)


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
            doc.pages = _page_rows(pages)
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
    """An item that could not be taken in because of the machine or the store (retries ran out), or of a bug:
    recorded so the user can re-run later. Never a property of the file: nothing about it is recorded."""
    if isinstance(error, CasefileError):
        message = error.message
    else:
        message = (
            f"unexpected {type(error).__name__} (a bug in casefile, not a problem of the file); report it with "
            f"batch id {batch_id}"
        )
    transient = isinstance(error, CasefileError) and error.exit_code == ExitCode.TRANSIENT
    with rt.catalog.session() as session:
        item = session.get(IntakeItem, (batch_id, seq))
        assert item is not None
        if item.outcome == Outcome.PENDING.value:
            item.outcome, item.message = Outcome.FAILED.value, message
            item.reason = "transient" if transient else "error"
        return _item_result(item)


def start_batch(rt: Runtime, batch_id: str) -> list[int]:
    """Mark the batch running, clear what interrupted runs left behind, and return its pending items."""
    if isinstance(rt.store, LocalObjectStore):
        rt.store.clean_temp()
    with rt.catalog.session() as session:
        batch = session.get(IntakeBatch, batch_id)
        if batch is None:
            raise CasefileError(f"Intake batch {batch_id} does not exist.")
        batch.status = "running"
    return pending_items(rt, batch_id)


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
                "repaired": list(_repairs(it.repaired)),
            }
            for it in batch.items
        ]
        counts: dict[str, int] = {}
        for it in batch.items:
            counts[it.outcome] = counts.get(it.outcome, 0) + 1
        docs = [session.get(Document, it.document_id) for it in batch.items if it.outcome in ("stored", "repaired")]
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
            "hidden_skipped": batch.hidden_skipped,
            "follow_symlinks": batch.follow_symlinks,
            "items": items,
            "text": text,
            "store": rt.store.describe(),
        }
