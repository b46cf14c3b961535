"""The library's full-text index: every page of every source, searchable like case documents.

A second index of the same backend as the case index (SQLite FTS5 in its own file beside it,
``conditions-index.db``; on PostgreSQL its own table, ``casefile_search.library``), so the library's pages never mix
with a case's. Its grouping key (the index's "case") is
the source's country, so a search for one country is a filter inside the full-text match. Derived data: the
catalog keeps each page's text, and ``reindex_library`` rebuilds the index from it.
"""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from ..core.catalog import ConditionSource, utcnow
from ..search.index import IndexedDocument, IndexedPage, SearchIndex

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from ..core.runtime import Runtime
    from ..core.settings import Settings

DOC_TYPE = "country-conditions"
INDEX_FILE = "conditions-index.db"


def library_index_path(settings: Settings) -> Path:
    return settings.search_index_path.with_name(INDEX_FILE)


LIBRARY_TABLE = "library"  # the library's table in the PostgreSQL backend


def open_library_index(settings: Settings) -> SearchIndex:
    if settings.search_on_postgres:
        from ..search.index import open_index

        return open_index(settings, LIBRARY_TABLE)
    from ..search.sqlite_fts import SqliteFtsIndex

    return SqliteFtsIndex(library_index_path(settings))


def library_index(rt: Runtime) -> SearchIndex:
    """The runtime's library index, opened on first use."""
    return rt.config(open_library_index)


def _entry(source: ConditionSource) -> tuple[IndexedDocument, list[IndexedPage]]:
    return (
        IndexedDocument(document_id=source.id, case_id=source.country, doc_type=DOC_TYPE),
        [IndexedPage(number=p.number, text=p.text, language=p.language) for p in source.pages],
    )


def index_source(rt: Runtime, source_id: str) -> int:
    """Put one source's pages into the library index (replacing what was there). Returns pages indexed."""
    with rt.catalog.session() as session:
        source = session.get(ConditionSource, source_id)
        assert source is not None
        entry, pages = _entry(source)
    written = library_index(rt).replace_document(entry, pages)
    with rt.catalog.session() as session:
        source = session.get(ConditionSource, source_id)
        assert source is not None
        source.indexed_at = utcnow()
    return written


def reindex_library(rt: Runtime) -> int:
    """Rebuild the library index from the page text in the catalog (atomically: searches see the old index until
    the new one is complete). Returns pages indexed."""
    with rt.catalog.session() as session:
        sources = list(session.scalars(select(ConditionSource).order_by(ConditionSource.id)))
        entries = [_entry(s) for s in sources]
    written = library_index(rt).rebuild(entries)
    with rt.catalog.session() as session:
        now = utcnow()
        for source in session.scalars(select(ConditionSource)):
            source.indexed_at = now
    return written


def index_pending(rt: Runtime) -> int:
    """Index the sources an interrupted or refused index write left out (their ``indexed_at`` is empty); an index
    that is busy or damaged now leaves them for the next call or `casefile conditions reindex`. Returns pages."""
    from ..core.errors import SearchIndexBusy, SearchIndexError

    written = 0
    for source_id in sources_needing_index(rt):
        try:
            written += index_source(rt, source_id)
        except (SearchIndexBusy, SearchIndexError) as exc:
            log.warning("library source %s not indexed yet: %s", source_id, type(exc).__name__)
            break
    return written


def sources_needing_index(rt: Runtime) -> list[str]:
    with rt.catalog.session() as session:
        return list(
            session.scalars(
                select(ConditionSource.id).where(ConditionSource.indexed_at.is_(None)).order_by(ConditionSource.id)
            )
        )


def search_library(
    rt: Runtime,
    query: str,
    *,
    country: str | None = None,
    since: date | None = None,
    language: str | None = None,
    limit: int = 20,
) -> list[dict[str, Any]]:
    """`casefile conditions search`: ranked pages of the library (the query language of ``search.query``), with the
    source's citation and a snippet marked [like this]. ``since`` leaves out sources published before it."""
    from ..search.index import MAX_LIMIT
    from .config import load_countries

    code = rt.config(load_countries).get(country).code if country else None
    index_pending(rt)
    index = library_index(rt)
    rows: list[dict[str, Any]] = []
    offset = 0
    with rt.catalog.session() as session:
        while len(rows) < limit and offset <= 4 * MAX_LIMIT:
            batch = index.search(query, case_id=code, language=language, limit=min(MAX_LIMIT, limit * 2), offset=offset)
            if not batch:
                break
            offset += len(batch)
            wanted = {h.document_id for h in batch}
            sources = {s.id: s for s in session.scalars(select(ConditionSource).where(ConditionSource.id.in_(wanted)))}
            for hit in batch:
                source = sources.get(hit.document_id)
                if source is None or (since is not None and source.published_on < since):
                    continue
                rows.append(
                    {
                        "rank": len(rows) + 1,
                        "source_id": source.id,
                        "country": source.country,
                        "publisher": source.publisher,
                        "title": source.title,
                        "edition": source.edition,
                        "published": source.published_on.isoformat(),
                        "page": hit.page,
                        "language": hit.language,
                        "score": round(hit.score, 4),
                        "snippet": hit.snippet("[", "]"),
                    }
                )
                if len(rows) >= limit:
                    break
    return rows
