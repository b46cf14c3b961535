"""Document text: the text of every page, from its own text layer or from OCR, recorded in the catalog.

Pages with a usable text layer keep it; the others are OCR'd (``ocr``) into a new searchable PDF stored beside the
original. Safe to re-run: a document moves from ocr_status "pending" to "done"/"partial"/"failed"/"skipped" in one
transaction after its searchable PDF is stored.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from ..core.catalog import Document, Page, audit
from ..core.errors import CasefileError
from ..core.storage import derived_key, sha256_file
from ..core.workdirs import is_environment_error, work_folder, workspace_error

if TYPE_CHECKING:
    from ..core.runtime import Runtime
    from .ocr import DocumentOcr, PageResult

log = logging.getLogger(__name__)


@contextmanager
def _machine_errors(work: Path) -> Iterator[None]:
    """A full or failing work disk while a document is read is the machine's: ``WorkspaceError``, and the document
    stays "pending" (nothing is recorded about its pages), so the next run reads it."""
    try:
        yield
    except OSError as exc:
        if is_environment_error(exc, own_folder=True):
            raise workspace_error(exc, work.parent) from exc
        raise


@dataclass(frozen=True)
class TextSummary:
    """Counts and ids only: safe for logs and Prefect."""

    document_id: str
    ocr_status: str
    ocr_pages: int = 0
    text_pages: int = 0
    blank_pages: int = 0
    failed_pages: int = 0
    low_confidence_pages: int = 0
    searchable_sha256: str | None = None


def _summary(doc: Document) -> TextSummary:
    pages = doc.pages
    return TextSummary(
        document_id=doc.id,
        ocr_status=doc.ocr_status,
        ocr_pages=sum(p.text_source == "ocr" for p in pages),
        text_pages=sum(p.text_source == "text-layer" for p in pages),
        blank_pages=sum(p.text_source == "blank" for p in pages),
        failed_pages=sum(p.text_source == "failed" for p in pages),
        low_confidence_pages=sum(p.low_confidence for p in pages),
        searchable_sha256=doc.searchable_sha256,
    )


def documents_needing_text(rt: Runtime, case_id: str) -> list[str]:
    with rt.catalog.session() as session:
        return list(
            session.scalars(
                select(Document.id)
                .where(Document.case_id == case_id, Document.status == "ready", Document.ocr_status == "pending")
                .order_by(Document.created_at, Document.id)
            )
        )


@dataclass(frozen=True)
class PdfText:
    """The text of a stored PDF, page by page, and the searchable PDF stored beside it (the PDF itself when no page
    needed OCR)."""

    result: DocumentOcr
    searchable_key: str
    searchable_sha256: str


def ocr_options(rt: Runtime) -> dict[str, Any]:
    """``ocr.ocr_document``'s options from the settings (the same for a whole document or a range of its pages)."""
    from ..core.practice import practice_of
    from .language import supported

    settings = rt.settings
    return {
        "languages": settings.ocr_languages,
        "workers": settings.ocr_workers,
        "page_timeout": settings.ocr_page_timeout,
        "min_confidence": settings.ocr_min_confidence,
        "dpi": settings.ocr_dpi,
        "ocr": settings.ocr_enabled,
        # Identified among the practice's client languages that the identifier knows (documents/language.py).
        "language_candidates": supported(practice_of(rt).client_languages),
    }


def read_pdf_text(rt: Runtime, key: str, sha256: str, label: str) -> PdfText:
    """OCR the pages of the stored PDF ``key`` (verified against ``sha256``) that need it, with the settings' OCR
    options, and store the searchable PDF. ``label`` (an id) names the work folder. Case documents
    (``extract_text``) and the country-conditions library both read their text through here."""
    from .ocr import ocr_document
    from .tesseract import check_languages

    store, settings = rt.store, rt.settings
    if settings.ocr_enabled:
        check_languages(settings.ocr_languages)  # a missing language pack is a setup error, not a bad page
    with work_folder(settings.work_dir, f"text-{label}-") as work, _machine_errors(work):
        source = work / "in.pdf"
        store.download(key, source, expected_sha256=sha256)
        # Page results go to an unnamed file as they arrive and are read back one at a time (they outlive the
        # work folder): a long scan's text and word boxes are never all in memory.
        result = ocr_document(source, work / "searchable.pdf", **ocr_options(rt), spool_folder=work)
        searchable_key, searchable_sha = key, sha256
        if result.searchable_pdf is not None:
            searchable_sha = sha256_file(result.searchable_pdf)
            searchable_key = derived_key(searchable_sha)
            if not store.exists(searchable_key):
                store.put_file(searchable_key, result.searchable_pdf)
    return PdfText(result, searchable_key, searchable_sha)


def extract_text(rt: Runtime, document_id: str) -> TextSummary:
    """OCR the pages of one document that need it; store the searchable PDF; record each page's text."""
    catalog = rt.catalog

    with catalog.session() as session:
        doc = catalog.get_document(session, document_id)
        if doc.status != "ready" or doc.ocr_status != "pending":
            return _summary(doc)
        key, sha = doc.normalised_key, doc.normalised_sha256
    if key is None or sha is None:
        raise CasefileError(f"Document {document_id} has no PDF to read; add its original again.")
    read = read_pdf_text(rt, key, sha, document_id)
    result, searchable_key, searchable_sha = read.result, read.searchable_key, read.searchable_sha256

    with catalog.session() as session:
        # Locked, and checked again: two commands taking in files of one case at once may both have read this
        # document; the first to get here records its text, the other keeps nothing (the same text, once).
        doc = session.scalars(
            select(Document)
            .where(Document.id == document_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).one()
        if doc.ocr_status != "pending":
            return _summary(doc)
        record_pages(doc, result.pages)
        summary = finish_text(session, doc, searchable_key, searchable_sha)
    log.info(
        "document %s: %d OCR, %d text-layer, %d blank, %d failed, %d low-confidence page(s)",
        document_id,
        summary.ocr_pages,
        summary.text_pages,
        summary.blank_pages,
        summary.failed_pages,
        summary.low_confidence_pages,
    )
    return summary


RECORD_FLUSH_PAGES = 100  # page rows sent to the database at a time, in the caller's one transaction


def record_pages(doc: Document, pages: Iterable[PageResult], offset: int = 0) -> None:
    """Each page's text, source, confidence, language and word boxes onto the document's page rows (``offset``: the
    pages are a range of the document that starts after page ``offset``).

    Streaming, for long scans: every ``RECORD_FLUSH_PAGES`` pages the rows are flushed (in the session's
    transaction, so the document's text still lands at once or not at all) and their text and word boxes are
    dropped from memory (read again from the database if asked for)."""
    session = object_session(doc)
    by_number = {p.number: p for p in doc.pages}
    pending: list[Page] = []
    for page in pages:
        row = by_number.get(page.number + offset)
        if row is None:
            continue
        row.text = page.text
        row.text_source = page.source
        row.ocr_confidence = page.confidence
        row.language = page.language
        row.low_confidence = page.low_confidence
        row.ocr_error = page.error
        row.words_json = (
            json.dumps(
                [[w.text, round(w.conf, 1), w.x0, w.y0, w.x1, w.y1] for w in page.words],
                ensure_ascii=False,
                separators=(",", ":"),
            )
            if page.words
            else None
        )
        pending.append(row)
        if len(pending) >= RECORD_FLUSH_PAGES:
            _flush_rows(session, pending)
    _flush_rows(session, pending)


def _flush_rows(session: Session | None, rows: list[Page]) -> None:
    if session is not None and rows:
        session.flush()
        for row in rows:
            session.expire(row, ["text", "words_json"])
    rows.clear()


def finish_text(session: Session, doc: Document, searchable_key: str, searchable_sha: str) -> TextSummary:
    """The document's OCR status from its recorded pages, its searchable PDF, and the audit event."""
    failed = sum(p.text_source == "failed" for p in doc.pages)
    with_text = sum(p.text_source in ("ocr", "text-layer") for p in doc.pages)
    skipped = any(p.text_source == "skipped" for p in doc.pages)
    doc.ocr_status = "skipped" if skipped else _status(failed, with_text)
    doc.searchable_key, doc.searchable_sha256 = searchable_key, searchable_sha
    doc.indexed_at = None
    summary = _summary(doc)
    audit(
        session,
        actor="ocr",
        entity="document",
        entity_id=doc.id,
        action="text-extracted",
        case_id=doc.case_id,
        ocr_pages=summary.ocr_pages,
        text_pages=summary.text_pages,
        failed_pages=summary.failed_pages,
        low_confidence_pages=summary.low_confidence_pages,
        searchable_sha256=searchable_sha,
    )
    return summary


def _status(failed: int, with_text: int) -> str:
    if failed == 0:
        return "done"
    return "partial" if with_text else "failed"


def skip_text(rt: Runtime, document_id: str) -> None:
    """Leave a document's text alone (its pages keep no text; `casefile reindex` does not change that)."""
    with rt.catalog.session() as session:
        doc = rt.catalog.get_document(session, document_id)
        if doc.ocr_status == "pending":
            doc.ocr_status = "skipped"
