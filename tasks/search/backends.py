"""Which search backend a home uses: ``open_index(settings)`` opens the one the settings name, ``search_index(rt)``
the runtime's, on first use. Above index.py (the interface) and the backends that implement it."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..core.runtime import Runtime
    from ..core.settings import Settings
    from .index import SearchIndex


def open_index(settings: Settings, table: str = "pages") -> SearchIndex:
    """The index backend the settings name: SQLite FTS5 at ``search_index_path`` (the embedded default), or
    PostgreSQL full-text search in the ``search_url`` database (by default the catalog's, when it is PostgreSQL).
    ``table``: which index of that database (the country-conditions library keeps its own)."""
    # Imported when chosen: a command opens one backend and never loads the other's driver.
    if settings.search_on_postgres:
        from .postgres_fts import PostgresFtsIndex

        return PostgresFtsIndex(settings.search_database_url, table=table)
    from .sqlite_fts import SqliteFtsIndex

    return SqliteFtsIndex(settings.search_index_path)


def search_index(rt: Runtime) -> SearchIndex:
    """The runtime's search index, opened on first use (commands that don't search never open it)."""
    return rt.config(open_index)
