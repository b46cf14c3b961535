"""Removing a document from its case: refused while anything refers to it; its stored bytes are kept."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..core.catalog import Exhibit, InboxItem, RecordRequest, RequestEvent, Translation, audit
from ..core.errors import ValidationError
from ..search.backends import search_index

if TYPE_CHECKING:
    from ..core.runtime import Runtime


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


def delete_document(rt: Runtime, document_id: str, actor: str) -> str:
    """Remove a document from the case and its pages from the index. Its objects stay in the store
    (content addressed, possibly shared with another case; nothing is lost)."""
    catalog = rt.catalog
    with catalog.session() as session:
        doc = catalog.get_document(session, document_id)
        doc_id, case_id, sha = doc.id, doc.case_id, doc.sha256
        uses = document_uses(session, doc_id)
    if uses:
        raise DocumentInUse(doc_id, uses)
    search_index(rt).delete_document(doc_id)
    with catalog.session() as session:
        session.delete(catalog.get_document(session, doc_id))
        audit(session, actor=actor, entity="document", entity_id=doc_id, action="deleted", case_id=case_id, sha256=sha)
    return doc_id
