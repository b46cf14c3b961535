"""Packet builds as the staff page lists and serves them: only finished builds (manifest present), only bytes that
match the manifest's SHA-256.

A part is verified and then served from the same open file (local store), so what was checked is what is sent; on
S3 the object is read and verified first, then the browser gets a short-lived presigned URL
(``web_presign_seconds``). A zip of all parts verifies every part before its first byte is sent. A build asked for
under another case's id is "not found", like one that does not exist.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, cast

from ..core.errors import IntegrityError, NotFoundError
from ..core.storage import CHUNK, LocalObjectStore
from ..packets.manifest import MANIFEST, PACKETS_PREFIX, BuildNotFound, build_prefix
from .audit import safe_id

if TYPE_CHECKING:
    from ..core.runtime import Runtime

STREAM_CHUNK = 256 * 1024


class PartNotFound(NotFoundError):
    def __init__(self) -> None:
        super().__init__("No such packet part. Open the case again and choose a part from its list of builds.")


class PartIntegrityError(IntegrityError):
    """A stored part does not match its manifest: nothing is served."""

    def __init__(self, build_id: str, part: str) -> None:
        super().__init__(
            f"Part {part} of packet build {build_id} does not match the SHA-256 in its manifest, so it was not "
            "served. Build the packet again, or restore the object store from backup, and tell an admin."
        )
        self.build_id = build_id
        self.part = part


@dataclass(frozen=True)
class PartRef:
    case_id: str
    build_id: str
    number: int  # 1-based, as in the URL
    name: str
    key: str
    sha256: str
    bytes: int
    pages: int
    first_page: int
    last_page: int


def build_manifest(rt: Runtime, case_id: str, build_id: str) -> dict[str, Any]:
    """The manifest of a finished build of this case; ``BuildNotFound`` for anything else (no such build, an
    unfinished one, one of another case, an id that is not an id)."""
    case, build = safe_id(case_id), safe_id(build_id)
    if case is None or build is None:
        raise BuildNotFound("No such packet build.")
    try:
        manifest: dict[str, Any] = json.loads(rt.store.get_bytes(build_prefix(case, build) + MANIFEST))
    except (FileNotFoundError, ValueError):
        raise BuildNotFound("No such packet build.") from None
    if manifest.get("case_id") != case or manifest.get("build_id") != build:
        raise BuildNotFound("No such packet build.")
    return manifest


def parts_of(manifest: dict[str, Any]) -> list[PartRef]:
    return [
        PartRef(
            case_id=manifest["case_id"],
            build_id=manifest["build_id"],
            number=i,
            name=p["name"],
            key=p["key"],
            sha256=p["sha256"],
            bytes=int(p["bytes"]),
            pages=int(p["pages"]),
            first_page=int(p["first_page"]),
            last_page=int(p["last_page"]),
        )
        for i, p in enumerate(manifest["outputs"], start=1)
    ]


def find_part(rt: Runtime, case_id: str, build_id: str, number: int) -> PartRef:
    parts = parts_of(build_manifest(rt, case_id, build_id))
    if not 1 <= number <= len(parts):
        raise PartNotFound()
    return parts[number - 1]


def build_rows(rt: Runtime, case_id: str) -> list[dict[str, Any]]:
    """Finished builds of a case, newest first, with what the page shows of each (parts with SHA-256, overrides)."""
    rows = []
    for key in rt.store.list(f"{PACKETS_PREFIX}/{case_id}/"):
        if not key.endswith("/" + MANIFEST):
            continue
        try:
            manifest = json.loads(rt.store.get_bytes(key))
        except (FileNotFoundError, ValueError):
            continue
        parts = parts_of(manifest)
        rows.append(
            {
                "build_id": manifest["build_id"],
                "profile": manifest["profile"],
                "created_at": manifest["created_at"],
                "service_date": manifest.get("service_date"),
                "pages": manifest["pages"],
                "bytes": sum(p.bytes for p in parts),
                "parts": [
                    {
                        "number": p.number,
                        "name": p.name,
                        "sha256": p.sha256,
                        "bytes": p.bytes,
                        "pages": p.pages,
                        "first_page": p.first_page,
                        "last_page": p.last_page,
                    }
                    for p in parts
                ],
                "overrides": [
                    {"override": o.get("override"), "exhibits": list(o.get("exhibits", []))}
                    for o in manifest.get("overrides", [])
                ],
                "warnings": len(manifest.get("check", {}).get("warnings", [])),
            }
        )
    return sorted(rows, key=lambda r: (r["created_at"], r["build_id"]), reverse=True)


@dataclass
class VerifiedPart:
    """An open file whose bytes matched the manifest; read it from the start and close it (``close``)."""

    part: PartRef
    file: IO[bytes]
    _remove: Path | None = field(default=None, repr=False)

    def chunks(self, size: int = STREAM_CHUNK) -> Iterator[bytes]:
        try:
            while block := self.file.read(size):
                yield block
        finally:
            self.close()

    def close(self) -> None:
        self.file.close()
        if self._remove is not None:
            self._remove.unlink(missing_ok=True)


def open_verified(rt: Runtime, part: PartRef) -> VerifiedPart:
    """The part, hashed and found equal to its manifest, positioned at its start. ``PartIntegrityError`` otherwise
    (also for a part missing from the store: a manifest without its bytes is as broken)."""
    store = rt.store
    if isinstance(store, LocalObjectStore):
        try:
            fh: IO[bytes] = store.open(part.key)
        except FileNotFoundError:
            raise PartIntegrityError(part.build_id, part.name) from None
        digest = hashlib.sha256()
        while block := fh.read(CHUNK):
            digest.update(block)
        if digest.hexdigest() != part.sha256:
            fh.close()
            raise PartIntegrityError(part.build_id, part.name)
        fh.seek(0)
        return VerifiedPart(part, fh)
    work = rt.settings.work_dir / "downloads"
    work.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix="part-", suffix=".pdf", dir=work)
    os.close(fd)
    path = Path(name)
    try:
        store.download(part.key, path, expected_sha256=part.sha256)
    except (IntegrityError, FileNotFoundError):
        path.unlink(missing_ok=True)
        raise PartIntegrityError(part.build_id, part.name) from None
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return VerifiedPart(part, path.open("rb"), path)


def verify_remote(rt: Runtime, part: PartRef) -> None:
    """Read the part from the store and compare its SHA-256, sending nothing (before a presigned URL is handed out)."""
    digest = hashlib.sha256()
    try:
        with rt.store.open(part.key) as fh:
            while block := fh.read(CHUNK):
                digest.update(block)
    except FileNotFoundError:
        raise PartIntegrityError(part.build_id, part.name) from None
    if digest.hexdigest() != part.sha256:
        raise PartIntegrityError(part.build_id, part.name)


def presigned_url(rt: Runtime, part: PartRef) -> str | None:
    """A short-lived URL the browser fetches the verified part from (S3), or None (local store: stream it)."""
    if isinstance(rt.store, LocalObjectStore):
        return None
    verify_remote(rt, part)
    return rt.store.download_url(part.key, seconds=rt.settings.web_presign_seconds, filename=part.name)


class _Sink:
    """A write-only stream for zipfile that hands its bytes to a generator."""

    def __init__(self) -> None:
        self.buffer = bytearray()

    def write(self, data: bytes) -> int:
        self.buffer += data
        return len(data)

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        data, self.buffer = bytes(self.buffer), bytearray()
        return data


def zip_name(manifest: dict[str, Any]) -> str:
    return f"{manifest['case_id']}-{manifest['build_id']}-{manifest['profile']}.zip"


@dataclass
class ZipStream:
    """The chunks of a zip of verified parts; ``close`` releases the parts even if the zip was never read (a browser
    that went away before the first byte)."""

    chunks: Iterator[bytes]
    parts: list[VerifiedPart]

    def close(self) -> None:
        for v in self.parts:
            v.close()


def open_zip(rt: Runtime, manifest: dict[str, Any]) -> ZipStream:
    """Every part verified first (``PartIntegrityError`` before any byte), then a zip of them and the manifest,
    streamed (stored, not deflated: PDFs are compressed already)."""
    opened: list[VerifiedPart] = []
    try:
        for part in parts_of(manifest):
            opened.append(open_verified(rt, part))
    except BaseException:
        for v in opened:
            v.close()
        raise
    return ZipStream(_zip_stream(manifest, opened), opened)


def _zip_stream(manifest: dict[str, Any], opened: list[VerifiedPart]) -> Iterator[bytes]:
    try:
        when = datetime.fromisoformat(manifest["created_at"]).timetuple()[:6]
    except (KeyError, ValueError):
        when = (1980, 1, 1, 0, 0, 0)
    sink = _Sink()
    try:
        with zipfile.ZipFile(cast(IO[bytes], sink), "w", compression=zipfile.ZIP_STORED) as zf:
            for v in opened:
                info = zipfile.ZipInfo(v.part.name, date_time=when)
                with zf.open(info, "w", force_zip64=v.part.bytes > 0x7FFF0000) as out:
                    for block in v.chunks():
                        out.write(block)
                        if len(sink.buffer) >= STREAM_CHUNK:
                            yield sink.take()
                yield sink.take()
            info = zipfile.ZipInfo(f"{manifest['build_id']}-{MANIFEST}", date_time=when)
            zf.writestr(info, json.dumps(manifest, indent=2, sort_keys=True))
        yield sink.take()
    finally:
        for v in opened:
            v.close()
