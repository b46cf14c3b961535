"""Document text: make every page searchable, record its text in the catalog, and index it.

A stage between intake and search. Pages with a usable text layer keep it; the others are OCR'd
(tasks/documents/ocr.py) into a new searchable PDF stored beside the original. Each step is safe to re-run: a document
moves from ocr_status "pending" to "done"/"partial"/"failed" in one transaction after its searchable PDF is
stored, and ``indexed_at`` is set only after its pages are in the index.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from casefile.tasks.core.catalog import Catalog, Document, audit, utcnow
from casefile.tasks.core.errors import CasefileError, ValidationError
from casefile.tasks.core.settings import Settings
from casefile.tasks.core.storage import ObjectStore, derived_key, sha256_file
from casefile.tasks.search.index import IndexedDocument, IndexedPage, SearchIndex

log = logging.getLogger(__name__)


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


def documents_needing_text(catalog: Catalog, case_id: str) -> list[str]:
    with catalog.session() as session:
        return list(
            session.scalars(
                select(Document.id)
                .where(Document.case_id == case_id, Document.status == "ready", Document.ocr_status == "pending")
                .order_by(Document.created_at, Document.id)
            )
        )


def documents_needing_index(catalog: Catalog, case_id: str | None = None) -> list[str]:
    query = select(Document.id).where(
        Document.status == "ready", Document.ocr_status != "pending", Document.indexed_at.is_(None)
    )
    if case_id is not None:
        query = query.where(Document.case_id == case_id)
    with catalog.session() as session:
        return list(session.scalars(query.order_by(Document.created_at, Document.id)))


def extract_text(catalog: Catalog, store: ObjectStore, settings: Settings, document_id: str) -> TextSummary:
    """OCR the pages of one document that need it; store the searchable PDF; record each page's text."""
    from casefile.tasks.documents.ocr import ocr_document
    from casefile.tasks.documents.tesseract import check_languages

    with catalog.session() as session:
        doc = catalog.get_document(session, document_id)
        if doc.status != "ready" or doc.ocr_status != "pending":
            return _summary(doc)
        key, sha = doc.normalised_key, doc.normalised_sha256
    if key is None or sha is None:
        raise CasefileError(f"Document {document_id} has no PDF to read; add its original again.")

    if settings.ocr_enabled:
        check_languages(settings.ocr_languages)  # a missing language pack is a setup error, not a bad page
    settings.work_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f"text-{document_id}-", dir=settings.work_dir))
    try:
        source = work / "in.pdf"
        store.download(key, source, expected_sha256=sha)
        result = ocr_document(
            source,
            work / "searchable.pdf",
            languages=settings.ocr_languages,
            workers=settings.ocr_workers,
            page_timeout=settings.ocr_page_timeout,
            min_confidence=settings.ocr_min_confidence,
            dpi=settings.ocr_dpi,
            ocr=settings.ocr_enabled,
        )
        searchable_key, searchable_sha = key, sha
        if result.searchable_pdf is not None:
            searchable_sha = sha256_file(result.searchable_pdf)
            searchable_key = derived_key(searchable_sha)
            if not store.exists(searchable_key):
                store.put_file(searchable_key, result.searchable_pdf)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    with catalog.session() as session:
        doc = catalog.get_document(session, document_id)
        by_number = {p.number: p for p in doc.pages}
        for page in result.pages:
            row = by_number.get(page.number)
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
        with_text = sum(p.source in ("ocr", "text-layer") for p in result.pages)
        skipped = any(p.source == "skipped" for p in result.pages)
        doc.ocr_status = "skipped" if skipped else _status(result.failed_pages, with_text)
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


def _status(failed: int, with_text: int) -> str:
    if failed == 0:
        return "done"
    return "partial" if with_text else "failed"


def skip_text(catalog: Catalog, document_id: str) -> None:
    """Leave a document's text alone (its pages keep no text; `casefile reindex` does not change that)."""
    with catalog.session() as session:
        doc = catalog.get_document(session, document_id)
        if doc.ocr_status == "pending":
            doc.ocr_status = "skipped"


def _indexed_pages(doc: Document) -> tuple[IndexedDocument, list[IndexedPage]]:
    return (
        IndexedDocument(document_id=doc.id, case_id=doc.case_id, doc_type=doc.doc_type),
        [IndexedPage(number=p.number, text=p.text, language=p.language) for p in doc.pages],
    )


def index_document(catalog: Catalog, index: SearchIndex, document_id: str) -> int:
    """Put one document's pages into the search index (replacing what was there). Returns rows written."""
    with catalog.session() as session:
        doc = catalog.get_document(session, document_id)
        entry, pages = _indexed_pages(doc)
    written = index.replace_document(entry, pages)
    with catalog.session() as session:
        catalog.get_document(session, document_id).indexed_at = utcnow()
    return written


def _ready_documents(session: Session, case_id: str | None) -> list[Document]:
    query = select(Document).where(Document.status == "ready").order_by(Document.case_id, Document.id)
    if case_id is not None:
        query = query.where(Document.case_id == case_id)
    return list(session.scalars(query))


def reindex(catalog: Catalog, index: SearchIndex, case_id: str | None = None) -> int:
    """Rebuild the index from the page text stored in the catalog. The whole index is rebuilt into a new
    file and swapped in atomically; one case is replaced in one transaction. Returns pages indexed."""
    with catalog.session() as session:
        if case_id is not None:
            case_id = catalog.get_case(session, case_id).id
        docs = _ready_documents(session, case_id)
        entries = [_indexed_pages(d) for d in docs]
        ids = [d.id for d in docs]
    written = index.replace_case(case_id, entries) if case_id is not None else index.rebuild(entries)
    with catalog.session() as session:
        now = utcnow()
        for doc in session.scalars(select(Document).where(Document.id.in_(ids))):
            doc.indexed_at = now
    return written


class DocumentInUse(ValidationError):
    """A document other records point at (an exhibit list, a translation, a record request, the inbox)."""

    def __init__(self, document_id: str, uses: list[str]) -> None:
        super().__init__(
            f"Document {document_id} cannot be removed: it is {'; '.join(uses)}. Take it out of those first (for an "
            "exhibit: `casefile exhibits plan`, edit, `casefile exhibits set`; for a translation: add another with "
            "`casefile translation add`). Nothing was changed."
        )
        self.uses = uses


def document_uses(session: Session, document_id: str) -> list[str]:
    """What refers to a document, in words for its owner (ids and labels only)."""
    from casefile.tasks.core.catalog import Exhibit, InboxItem, RecordRequest, RequestEvent, Translation

    uses = [
        f"exhibit {label} of case {case_id}"
        for label, case_id in session.execute(
            select(Exhibit.label, Exhibit.case_id).where(Exhibit.document_id == document_id)
        )
    ]
    uses += [
        f"the translation in {t.id}" if t.document_id == document_id else f"the original translated in {t.id}"
        for t in session.scalars(
            select(Translation).where(
                (Translation.document_id == document_id) | (Translation.source_document_id == document_id)
            )
        )
    ]
    uses += [
        f"a letter or form of request {rid}"
        for rid in session.scalars(
            select(RecordRequest.id).where(
                (RecordRequest.letter_document_id == document_id)
                | (RecordRequest.authorization_document_id == document_id)
            )
        )
    ]
    uses += [
        f"what came back for request {rid}"
        for rid in session.scalars(select(RequestEvent.request_id).where(RequestEvent.document_id == document_id))
    ]
    if session.scalar(select(InboxItem.id).where(InboxItem.document_id == document_id).limit(1)) is not None:
        uses.append("in the case's inbox")
    return list(dict.fromkeys(uses))


def delete_document(catalog: Catalog, index: SearchIndex, document_id: str, actor: str) -> str:
    """Remove a document from the case and its pages from the index. Its objects stay in the store
    (content addressed, possibly shared with another case; nothing is lost)."""
    with catalog.session() as session:
        doc = catalog.get_document(session, document_id)
        doc_id, case_id, sha = doc.id, doc.case_id, doc.sha256
        uses = document_uses(session, doc_id)
    if uses:
        raise DocumentInUse(doc_id, uses)
    index.delete_document(doc_id)
    with catalog.session() as session:
        session.delete(catalog.get_document(session, doc_id))
        audit(session, actor=actor, entity="document", entity_id=doc_id, action="deleted", case_id=case_id, sha256=sha)
    return doc_id
