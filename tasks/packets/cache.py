"""Pieces of packet builds kept for the next build, in the object store (so every worker shares them).

A rebuild after one change (a title fixed, an exhibit added, a new service date) reuses what did not change:

- ``pages``: a template rendering (a tab page, a translator's certificate, the cover...), as its own small PDF;
- ``images``: the images of one stored document resampled for one page layout;
- ``verdicts``: which pictures of one stored document decode cleanly (``qpdf_child.verify_pictures``);
- ``languages``: the language the check reads in a sample of an exhibit's text.

Every piece is found by a key that is the SHA-256 of everything it is made from: the content (a stored document's
SHA-256, a rendering's HTML, a text), the settings that shape it (page layout, resolution, candidate languages) and
the version of the code and libraries that make it (``code_version``). A piece whose inputs differ has another key,
so it is never reused; a piece is stored with the SHA-256 of its bytes and one that does not match them is made
again. The cache only saves work: an unreadable or unwritable piece is made (or left unsaved) and the build goes on.

Pieces live under ``cache/packets/<kind>/``; nothing else refers to them, so removing that prefix is always safe
(the next builds are slower, not different: they give the same bytes).
"""

from __future__ import annotations

import hashlib
import json
import logging
import sys
import threading
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..core.storage import ObjectStore

log = logging.getLogger(__name__)

CACHE_PREFIX = "cache/packets"
KINDS = ("pages", "images", "verdicts", "languages")
_MAGIC = b"casefile-piece 1\n"
_FETCH_THREADS = 8  # concurrent reads (an S3 GET costs a round trip; a local read almost nothing)


@dataclass(frozen=True)
class PieceKey:
    kind: str
    digest: str

    @property
    def object_key(self) -> str:
        return f"{CACHE_PREFIX}/{self.kind}/{self.digest[:2]}/{self.digest}"


def _canonical(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _canonical(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    if isinstance(value, bytes):
        return hashlib.sha256(value).hexdigest()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def piece_key(kind: str, **inputs: Any) -> PieceKey:
    """The key of a piece of ``kind`` made from ``inputs`` (JSON-like values; bytes count by their SHA-256)."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind of cached piece {kind!r}")
    payload = json.dumps({"kind": kind, **_canonical(inputs)}, sort_keys=True, ensure_ascii=True)
    return PieceKey(kind, hashlib.sha256(payload.encode("utf-8")).hexdigest())


@cache
def _module_digest(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "absent"


def code_version(modules: Iterable[ModuleType | str], distributions: Iterable[str] = ()) -> str:
    """The version of the code that makes a piece: the SHA-256 of the modules' source files (a module object or its
    dotted name) and the versions of the distributions (libraries) it relies on."""
    digest = hashlib.sha256()
    for module in modules:
        obj = sys.modules[module] if isinstance(module, str) else module
        digest.update(_module_digest(str(obj.__file__)).encode("ascii"))
    for name in distributions:
        digest.update(f"{name}={_version(name)}\n".encode())
    return digest.hexdigest()[:32]


def _wrap(data: bytes) -> bytes:
    header = json.dumps({"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}).encode("ascii")
    return _MAGIC + header + b"\n" + data


def _unwrap(raw: bytes) -> bytes | None:
    if not raw.startswith(_MAGIC):
        return None
    header, sep, data = raw[len(_MAGIC) :].partition(b"\n")
    if not sep:
        return None
    try:
        meta = json.loads(header)
    except ValueError:
        return None
    if not isinstance(meta, dict) or meta.get("bytes") != len(data):
        return None
    return data if hashlib.sha256(data).hexdigest() == meta.get("sha256") else None


class PieceCache:
    """Pieces in an object store (see the module doc). ``enabled=False`` makes every read a miss and every write a
    no-op (a build from scratch, as the benchmark's cold builds do)."""

    def __init__(self, store: ObjectStore, *, enabled: bool = True) -> None:
        self.store = store
        self.enabled = enabled
        self.hits: dict[str, int] = {}
        self.misses: dict[str, int] = {}
        self.written: dict[str, int] = {}
        self._lock = threading.Lock()

    def _count(self, table: dict[str, int], kind: str) -> None:
        with self._lock:
            table[kind] = table.get(kind, 0) + 1

    def get(self, key: PieceKey) -> bytes | None:
        """The piece's bytes, or None (not there, unreadable, or not the bytes it was stored with)."""
        if not self.enabled:
            self._count(self.misses, key.kind)
            return None
        try:
            raw = self.store.get_bytes(key.object_key)
        except FileNotFoundError:
            self._count(self.misses, key.kind)
            return None
        except Exception as exc:  # the cache only saves work: a store that fails here is a miss
            log.warning("a cached %s piece could not be read (%s); making it again", key.kind, type(exc).__name__)
            self._count(self.misses, key.kind)
            return None
        data = _unwrap(raw)
        if data is None:
            log.warning("a cached %s piece does not match its checksum; making it again", key.kind)
            self._count(self.misses, key.kind)
            return None
        self._count(self.hits, key.kind)
        return data

    def get_many(self, keys: Iterable[PieceKey]) -> dict[PieceKey, bytes]:
        """The pieces found among ``keys``, read concurrently."""
        wanted = list(dict.fromkeys(keys))
        if not wanted:
            return {}
        if len(wanted) == 1:
            found = self.get(wanted[0])
            return {wanted[0]: found} if found is not None else {}
        with ThreadPoolExecutor(max_workers=min(_FETCH_THREADS, len(wanted))) as pool:
            results = list(pool.map(self.get, wanted))
        return {key: data for key, data in zip(wanted, results, strict=True) if data is not None}

    def put(self, key: PieceKey, data: bytes) -> None:
        """Keep ``data`` under ``key``; a failure is logged, never raised (the build does not need the piece)."""
        if not self.enabled:
            return
        try:
            self.store.put_bytes(key.object_key, _wrap(data))
        except Exception as exc:
            log.warning("a %s piece could not be kept for the next build (%s)", key.kind, type(exc).__name__)
            return
        self._count(self.written, key.kind)

    def put_file(self, key: PieceKey, path: Path) -> None:
        """``put`` of a file's bytes, streamed (a bundle of resampled photos may be large)."""
        if not self.enabled:
            return
        import tempfile

        digest = hashlib.sha256()
        size = 0
        with path.open("rb") as fh:
            while chunk := fh.read(1 << 20):
                digest.update(chunk)
                size += len(chunk)
        header = json.dumps({"sha256": digest.hexdigest(), "bytes": size}).encode("ascii")
        try:
            with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".piece") as tmp:
                tmp.write(_MAGIC + header + b"\n")
                with path.open("rb") as fh:
                    while chunk := fh.read(1 << 20):
                        tmp.write(chunk)
                tmp.flush()
                self.store.put_file(key.object_key, Path(tmp.name))
        except Exception as exc:
            log.warning("a %s piece could not be kept for the next build (%s)", key.kind, type(exc).__name__)
            return
        self._count(self.written, key.kind)

    def put_many(self, items: Mapping[PieceKey, bytes]) -> None:
        if not items:
            return
        if len(items) == 1 or not self.enabled:
            for key, data in items.items():
                self.put(key, data)
            return
        with ThreadPoolExecutor(max_workers=min(_FETCH_THREADS, len(items))) as pool:
            list(pool.map(lambda kv: self.put(*kv), items.items()))

    def summary(self) -> dict[str, dict[str, int]]:
        """Hits, misses and pieces written, per kind (counts only: safe for logs)."""
        return {"hits": dict(self.hits), "misses": dict(self.misses), "written": dict(self.written)}
