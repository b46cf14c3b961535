"""`casefile search`: the index's hits with what a person needs to find the page (case, document, its name)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from ..core.catalog import Document
from .backends import search_index

if TYPE_CHECKING:
    from ..core.runtime import Runtime


def search_pages(
    rt: Runtime,
    query: str,
    *,
    case_id: str | None = None,
    language: str | None = None,
    doc_type: str | None = None,
    limit: int = 20,
    fragments: bool = False,
) -> list[dict[str, Any]]:
    """Ranked pages matching ``query`` (the query language of search.query), with snippets marked [like this];
    with ``fragments``, also the snippet as ``[text, is_match]`` pairs (for pages that mark matches themselves)."""
    if case_id is not None:
        with rt.catalog.session() as session:
            case_id = rt.catalog.get_case(session, case_id).id
    hits = search_index(rt).search(query, case_id=case_id, language=language, doc_type=doc_type, limit=limit)
    with rt.catalog.session() as session:
        wanted = {h.document_id for h in hits}
        names = dict(session.execute(select(Document.id, Document.original_name).where(Document.id.in_(wanted))).all())
    rows: list[dict[str, Any]] = [
        {
            "rank": rank,
            "case_id": h.case_id,
            "document_id": h.document_id,
            "document": names.get(h.document_id),
            "page": h.page,
            "language": h.language,
            "type": h.doc_type,
            "score": round(h.score, 4),
            "snippet": h.snippet("[", "]"),
        }
        for rank, h in enumerate(hits, start=1)
    ]
    if fragments:
        for row, h in zip(rows, hits, strict=True):
            row["fragments"] = [[f.text, f.match] for f in h.fragments]
    return rows
