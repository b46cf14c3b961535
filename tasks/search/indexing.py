"""Indexing: putting documents' page text (recorded in the catalog) into the search index, and rebuilding it.

``indexed_at`` is set on a document only after its pages are in the index, so an interrupted run leaves it to be
indexed again; ``reindex`` rebuilds from the catalog without a gap for readers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..core.catalog import Document, utcnow
from .backends import search_index
from .index import IndexedDocument, IndexedPage

if TYPE_CHECKING:
    from ..core.runtime import Runtime


def _indexed_pages(doc: Document) -> tuple[IndexedDocument, list[IndexedPage]]:
    return (
        IndexedDocument(document_id=doc.id, case_id=doc.case_id, doc_type=doc.doc_type),
        [IndexedPage(number=p.number, text=p.text, language=p.language) for p in doc.pages],
    )


def index_document(rt: Runtime, document_id: str) -> int:
    """Put one document's pages into the search index (replacing what was there). Returns rows written."""
    with rt.catalog.session() as session:
        doc = rt.catalog.get_document(session, document_id)
        entry, pages = _indexed_pages(doc)
    written = search_index(rt).replace_document(entry, pages)
    with rt.catalog.session() as session:
        rt.catalog.get_document(session, document_id).indexed_at = utcnow()
    return written


def _ready_documents(session: Session, case_id: str | None) -> list[Document]:
    query = select(Document).where(Document.status == "ready").order_by(Document.case_id, Document.id)
    if case_id is not None:
        query = query.where(Document.case_id == case_id)
    return list(session.scalars(query))


def reindex(rt: Runtime, case_id: str | None = None) -> int:
    """Rebuild the index from the page text stored in the catalog. The whole index is rebuilt atomically
    (searches see the old index until the new one is complete); one case is replaced in one transaction.
    Returns pages indexed."""
    catalog, index = rt.catalog, search_index(rt)
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


def documents_needing_index(rt: Runtime, case_id: str | None = None) -> list[str]:
    query = select(Document.id).where(
        Document.status == "ready", Document.ocr_status != "pending", Document.indexed_at.is_(None)
    )
    if case_id is not None:
        query = query.where(Document.case_id == case_id)
    with rt.catalog.session() as session:
        return list(session.scalars(query.order_by(Document.created_at, Document.id)))
