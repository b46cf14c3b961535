"""The per-process runtime: settings, catalog and object store, built once per configuration."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from casefile.tasks.core.catalog import Catalog
from casefile.tasks.core.settings import Settings, load_settings
from casefile.tasks.core.storage import ObjectStore, open_store

if TYPE_CHECKING:
    from casefile.tasks.documents.intake import Limits
    from casefile.tasks.search.index import SearchIndex


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    catalog: Catalog
    store: ObjectStore

    @property
    def index(self) -> SearchIndex:
        """The search index, opened on first use (commands that don't search never open it)."""
        with _lock:
            index = _indexes.get(self.settings.search_index_path)
            if index is None:
                from casefile.tasks.search.index import SqliteFtsIndex

                index = _indexes[self.settings.search_index_path] = SqliteFtsIndex(self.settings.search_index_path)
            return index

    @property
    def limits(self) -> Limits:
        from casefile.tasks.documents.intake import Limits

        s = self.settings
        return Limits(max_file_bytes=s.max_file_bytes, max_pages=s.max_pages, max_image_pixels=s.max_image_pixels)


_lock = threading.Lock()
_cache: dict[str, Runtime] = {}
_indexes: dict[Path, SearchIndex] = {}


def get_runtime(settings: Settings | None = None) -> Runtime:
    """The runtime for ``settings`` (default: loaded from the environment), shared by the threads of a
    process so that a flow's tasks reuse one database engine and one S3 client."""
    settings = settings or load_settings()
    key = settings.model_dump_json()
    with _lock:
        runtime = _cache.get(key)
        if runtime is None:
            runtime = Runtime(settings, Catalog(settings.catalog_url), open_store(settings))
            _cache[key] = runtime
        return runtime


def reset_runtimes() -> None:
    """Forget cached runtimes (tests switch homes between cases)."""
    with _lock:
        for runtime in _cache.values():
            runtime.catalog.dispose()
        _cache.clear()
        for index in _indexes.values():
            index.close()
        _indexes.clear()
