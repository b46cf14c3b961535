"""The runtime every stage takes first: settings, catalog and object store, built once per configuration.

``get_runtime()`` returns the process's runtime for the current settings (shared by a flow's threads, so they reuse
one database engine and one S3 client). ``rt.config(loader, *args)`` is how a capability reads its part of config/
(or opens a resource such as the search index) once per runtime: ``loader(rt.settings, *args)`` runs on first use and
its value is kept; values with a ``close()`` are closed by ``reset_runtimes()``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from .catalog import Catalog
from .settings import Limits, Settings, load_settings
from .storage import ObjectStore, open_store

T = TypeVar("T")


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    catalog: Catalog
    store: ObjectStore
    # Loaded configuration and opened resources, keyed by loader, arguments and settings. Shared with copies made by
    # dataclasses.replace (the settings are part of the key, so a copy with other settings loads its own).
    _loaded: dict[tuple[Any, ...], Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def limits(self) -> Limits:
        s = self.settings
        return Limits(
            max_file_bytes=s.max_file_bytes,
            max_pages=s.max_pages,
            max_image_pixels=s.max_image_pixels,
            max_stream_bytes=s.max_stream_bytes,
        )

    def config(self, loader: Callable[..., T], *args: Any) -> T:
        """``loader(self.settings, *args)``, computed once per runtime (thread-safe)."""
        key = (loader, args, _settings_key(self.settings))
        with _lock:
            if key in self._loaded:
                value: T = self._loaded[key]
                return value
        value = loader(self.settings, *args)
        with _lock:
            return self._loaded.setdefault(key, value)  # type: ignore[no-any-return]


_lock = threading.RLock()
_cache: dict[str, Runtime] = {}
_settings_keys: dict[int, tuple[Settings, str]] = {}


def _settings_key(settings: Settings) -> str:
    with _lock:
        known = _settings_keys.get(id(settings))
        if known is not None and known[0] is settings:
            return known[1]
        key = settings.model_dump_json()
        _settings_keys[id(settings)] = (settings, key)
        return key


def get_runtime(settings: Settings | None = None) -> Runtime:
    """The runtime for ``settings`` (default: loaded from the environment), shared by the threads of a process."""
    settings = settings or load_settings()
    key = _settings_key(settings)
    with _lock:
        runtime = _cache.get(key)
        if runtime is None:
            runtime = Runtime(settings, Catalog(settings.catalog_url), open_store(settings))
            _cache[key] = runtime
        return runtime


def reset_runtimes() -> None:
    """Forget cached runtimes, closing what they opened (tests switch homes between cases)."""
    with _lock:
        for runtime in _cache.values():
            for value in runtime._loaded.values():
                close = getattr(value, "close", None)
                if callable(close):
                    close()
            runtime._loaded.clear()
            runtime.catalog.dispose()
        _cache.clear()
        _settings_keys.clear()
