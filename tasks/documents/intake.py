"""Intake: preflight, hash, keep the original byte for byte, normalise to PDF, record pages.

Every function here is plain and typed; flows/ingest.py composes them. A file that cannot be taken in
raises ``QuarantinedFile`` with a typed reason; the caller records it and goes on with the batch.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError as SqlIntegrityError
from sqlalchemy.orm import Session

from ..core.catalog import Catalog, Document, IntakeBatch, IntakeItem, Page, audit, new_id, utcnow
from ..core.errors import CasefileError, QuarantinedFile, QuarantineReason, TransientStorageError
from ..core.settings import Limits
from ..core.storage import CHUNK, LocalObjectStore, ObjectStore, derived_key, original_key, sha256_file

if TYPE_CHECKING:
    from ..core.runtime import Runtime

log = logging.getLogger(__name__)


class Kind(StrEnum):
    PDF = "pdf"
    JPEG = "jpeg"
    PNG = "png"
    TIFF = "tiff"
    HEIC = "heic"
    UNKNOWN = "unknown"


# Extensions that claim a type; a file whose content says otherwise is refused (it may be the wrong file).
_EXTENSIONS: dict[str, Kind] = {
    ".pdf": Kind.PDF,
    ".jpg": Kind.JPEG,
    ".jpeg": Kind.JPEG,
    ".png": Kind.PNG,
    ".tif": Kind.TIFF,
    ".tiff": Kind.TIFF,
    ".heic": Kind.HEIC,
    ".heif": Kind.HEIC,
}

SUPPORTED_SUFFIXES = frozenset(_EXTENSIONS)


def sniff_kind(head: bytes) -> Kind | None:
    """The file type from its first bytes (magic numbers), never from its name."""
    if head.startswith(b"%PDF-") or (b"%PDF-" in head[:1024] and head[:1] != b"\x00"):
        return Kind.PDF
    if head.startswith(b"\xff\xd8\xff"):
        return Kind.JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return Kind.PNG
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return Kind.TIFF
    if head[4:8] == b"ftyp" and head[8:12] in (b"heic", b"heix", b"mif1", b"msf1", b"heim", b"heis", b"hevc"):
        return Kind.HEIC
    return None


@dataclass(frozen=True)
class StagedFile:
    """A private copy of the input, hashed while copied, that every later step reads."""

    path: Path
    sha256: str
    size: int
    kind: Kind


@dataclass(frozen=True)
class PageInfo:
    number: int
    width_pt: float
    height_pt: float
    rotation: int
    image_width_px: int = 0
    image_height_px: int = 0


@dataclass
class Normalised:
    path: Path  # a PDF; for PDF inputs, the staged copy itself
    pages: list[PageInfo] = field(default_factory=list)
    derived: bool = False  # True when ``path`` is a new object (converted image, decrypted PDF)


def expand_inputs(paths: Iterable[Path]) -> list[Path]:
    """Files and folders (recursively, sorted, hidden files skipped) into a flat list of files."""
    out: list[Path] = []
    for raw in paths:
        path = raw.expanduser()
        if path.is_dir():
            for dirpath, dirnames, filenames in os.walk(path):
                dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
                out.extend(Path(dirpath) / name for name in sorted(filenames) if not name.startswith("."))
        else:
            out.append(path)
    return [p.resolve() for p in out]


def stage_copy(source: Path, work_dir: Path, limits: Limits) -> StagedFile:
    """Copy ``source`` into ``work_dir`` while hashing it; refuse empty, oversized and unknown files."""
    try:
        size = source.stat().st_size
    except OSError as exc:
        raise QuarantinedFile(QuarantineReason.UNREADABLE, exc.strerror or type(exc).__name__) from None
    if size == 0:
        raise QuarantinedFile(QuarantineReason.EMPTY)
    if size > limits.max_file_bytes:
        raise QuarantinedFile(QuarantineReason.TOO_LARGE, f"{size:,} bytes, limit {limits.max_file_bytes:,}")
    work_dir.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    fd, tmp_name = tempfile.mkstemp(dir=work_dir, prefix="stage-")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out, source.open("rb") as src:
            for block in iter(lambda: src.read(CHUNK), b""):
                digest.update(block)
                out.write(block)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise QuarantinedFile(QuarantineReason.UNREADABLE, exc.strerror or type(exc).__name__) from None
    with tmp.open("rb") as fh:
        kind = sniff_kind(fh.read(1024))
    staged = StagedFile(path=tmp, sha256=digest.hexdigest(), size=tmp.stat().st_size, kind=kind or Kind.UNKNOWN)
    if kind is None:
        raise UnsupportedStaged(staged)
    return staged


class UnsupportedStaged(QuarantinedFile):
    """Unknown type; carries the staged copy so its bytes can still be kept."""

    def __init__(self, staged: StagedFile) -> None:
        super().__init__(QuarantineReason.UNSUPPORTED_TYPE, "not a PDF, JPEG, PNG, TIFF or HEIC file")
        self.staged = staged


def check_extension(name: str, kind: Kind) -> None:
    claimed = _EXTENSIONS.get(Path(name).suffix.lower())
    if claimed is not None and claimed is not kind:
        raise QuarantinedFile(
            QuarantineReason.EXTENSION_MISMATCH,
            f"named {Path(name).suffix.lower()} but the content is {kind.value.upper()}",
        )


# PDFs ------------------------------------------------------------------------------------------
def _has_eof_marker(path: Path) -> bool:
    with path.open("rb") as fh:
        fh.seek(max(0, path.stat().st_size - 2048))
        return b"%%EOF" in fh.read()


def inspect_pdf(path: Path, limits: Limits) -> Normalised:
    """Open a PDF defensively and record its pages. Encrypted PDFs that open with an empty password
    (permissions only) are accepted and a decrypted copy becomes the normalised PDF."""
    from pypdf import PdfReader, PdfWriter
    from pypdf.errors import FileNotDecryptedError, PdfReadError, PdfStreamError

    if not _has_eof_marker(path):
        with path.open("rb") as fh:
            looks_like_pdf = re.search(rb"\d+\s+\d+\s+obj\b", fh.read(65536)) is not None
        if looks_like_pdf:  # real PDF objects, then an abrupt end: an incomplete copy
            raise QuarantinedFile(QuarantineReason.TRUNCATED, "the PDF has no end-of-file marker")
        raise QuarantinedFile(QuarantineReason.CORRUPT, "no PDF structure after the header")
    try:
        reader = PdfReader(path, strict=False)
        derived = False
        if reader.is_encrypted:
            try:
                opened = bool(reader.decrypt(""))  # owner-password-only PDFs open with an empty password
            except (FileNotDecryptedError, NotImplementedError, PdfReadError):
                opened = False
            if not opened:
                raise QuarantinedFile(QuarantineReason.ENCRYPTED)
            derived = True
        # The page tree's declared /Count, read before pypdf walks (flattens) the tree: a hostile
        # file can declare millions of pages or nest the tree deeply.
        claimed = int(reader.trailer["/Root"]["/Pages"]["/Count"])  # type: ignore[index]
        if claimed > limits.max_pages:
            raise QuarantinedFile(
                QuarantineReason.TOO_MANY_PAGES, f"it claims {claimed:,} pages, limit {limits.max_pages:,}"
            )
        if claimed <= 0 or len(reader.pages) == 0:
            raise QuarantinedFile(QuarantineReason.CORRUPT, "the PDF has no pages")
        pages: list[PageInfo] = []
        for number, page in enumerate(reader.pages, start=1):
            box = page.cropbox
            page.get_contents()  # forces the content stream to be found and decoded
            pages.append(PageInfo(number, round(float(box.width), 2), round(float(box.height), 2), page.rotation % 360))
        if derived:
            out = path.with_name(path.name + ".decrypted.pdf")
            writer = PdfWriter(clone_from=reader)
            writer.add_metadata({"/Producer": "casefile"})
            writer._ID = None
            with out.open("wb") as fh:
                writer.write(fh)
            return Normalised(path=out, pages=pages, derived=True)
        return Normalised(path=path, pages=pages)
    except QuarantinedFile:
        raise
    except (
        PdfReadError,
        PdfStreamError,
        ValueError,
        KeyError,
        TypeError,
        AttributeError,
        OSError,
        RecursionError,
        IndexError,
    ) as exc:
        raise QuarantinedFile(QuarantineReason.CORRUPT, f"the PDF cannot be parsed ({type(exc).__name__})") from None


# Images ----------------------------------------------------------------------------------------
def _open_image_checked(path: Path, limits: Limits) -> list[tuple[int, int]]:
    """Open lazily, refuse bombs before decoding, then decode every frame to catch truncation.
    Returns the pixel size of every frame as stored (before EXIF rotation)."""
    from PIL import Image, UnidentifiedImageError

    Image.MAX_IMAGE_PIXELS = limits.max_image_pixels  # Pillow's own guard as a second line
    sizes: list[tuple[int, int]] = []
    try:
        with Image.open(path) as im:
            frames = getattr(im, "n_frames", 1)
            if frames > limits.max_pages:
                raise QuarantinedFile(QuarantineReason.TOO_MANY_PAGES, f"{frames:,} frames, limit {limits.max_pages:,}")
            for index in range(frames):
                im.seek(index)
                width, height = im.size
                if width * height > limits.max_image_pixels:
                    raise QuarantinedFile(
                        QuarantineReason.TOO_MANY_PIXELS,
                        f"{width}x{height} pixels, limit {limits.max_image_pixels:,}",
                    )
                im.load()
                sizes.append((width, height))
    except QuarantinedFile:
        raise
    except Image.DecompressionBombError:
        raise QuarantinedFile(QuarantineReason.TOO_MANY_PIXELS, "declared image size is too large") from None
    except UnidentifiedImageError:
        raise QuarantinedFile(QuarantineReason.CORRUPT, "the image cannot be identified") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        truncated = "truncated" in str(exc).lower()
        raise QuarantinedFile(
            QuarantineReason.TRUNCATED if truncated else QuarantineReason.CORRUPT,
            f"the image cannot be decoded ({type(exc).__name__})",
        ) from None
    return sizes


_MIRRORED = {2, 4, 5, 7}  # EXIF orientations that flip the picture: a PDF /Rotate cannot show them


def _upright_png(path: Path, *, heic: bool = False) -> Path:
    """The image decoded, turned and flipped as its EXIF orientation says, its pixels kept losslessly as PNG: for
    HEIC (which cannot go into a PDF as it is) and for mirrored orientations (img2pdf can only rotate a page)."""
    from PIL import Image, ImageOps

    if heic:
        import pillow_heif

        pillow_heif.register_heif_opener()
    out = path.with_name(path.name + ".png")
    with Image.open(path) as im:
        ImageOps.exif_transpose(im).save(out, format="PNG")
    return out


def _mirrored(path: Path) -> bool:
    """A single-frame image whose EXIF orientation flips it (selfie cameras, some scanner apps)."""
    from PIL import Image

    with Image.open(path) as im:
        return getattr(im, "n_frames", 1) == 1 and im.getexif().get(0x0112) in _MIRRORED


def normalise_image(staged: StagedFile, limits: Limits) -> Normalised:
    """Image -> PDF without re-encoding (img2pdf embeds JPEG/PNG/G4 data as is); EXIF orientation is
    applied as the page's /Rotate, so the pixels stay untouched; multi-page TIFFs stay one document. A mirrored
    EXIF orientation (2, 4, 5, 7), which no /Rotate can show, is applied to the pixels instead, kept losslessly
    as PNG (the original stays as it was, byte for byte)."""
    import img2pdf

    source = staged.path
    if staged.kind is Kind.HEIC:
        try:
            import pillow_heif  # noqa: F401
        except ImportError:
            raise QuarantinedFile(QuarantineReason.UNSUPPORTED_TYPE, "HEIC support is not installed") from None
        _open_heic_checked(source, limits)
        source = _upright_png(source, heic=True)
    sizes = _open_image_checked(source, limits)
    if staged.kind in (Kind.JPEG, Kind.PNG) and _mirrored(source):
        source = _upright_png(source)  # decoded once more, now that the checks above have passed
        sizes = _open_image_checked(source, limits)
    out = staged.path.with_name(staged.path.name + ".pdf")
    try:
        with out.open("wb") as fh:
            img2pdf.convert(
                str(source),
                rotation=img2pdf.Rotation.ifvalid,
                nodate=True,
                engine=img2pdf.Engine.internal,
                producer="casefile",
                outputstream=fh,
            )
    except (img2pdf.ImageOpenError, img2pdf.AlphaChannelError, ValueError, OSError) as exc:
        out.unlink(missing_ok=True)
        raise QuarantinedFile(
            QuarantineReason.CORRUPT, f"the image cannot be converted ({type(exc).__name__})"
        ) from None
    normalised = inspect_pdf(out, limits)
    normalised.pages = [
        PageInfo(p.number, p.width_pt, p.height_pt, p.rotation, *sizes[p.number - 1]) for p in normalised.pages
    ]
    normalised.derived = True
    return normalised


def _open_heic_checked(path: Path, limits: Limits) -> None:
    import pillow_heif

    try:
        heif = pillow_heif.open_heif(path, convert_hdr_to_8bit=True)
    except (ValueError, RuntimeError, OSError) as exc:
        raise QuarantinedFile(
            QuarantineReason.CORRUPT, f"the HEIC image cannot be read ({type(exc).__name__})"
        ) from None
    width, height = heif.size
    if width * height > limits.max_image_pixels:
        raise QuarantinedFile(QuarantineReason.TOO_MANY_PIXELS, f"{width}x{height} pixels")


def normalise(staged: StagedFile, limits: Limits) -> Normalised:
    if staged.kind is Kind.PDF:
        return inspect_pdf(staged.path, limits)
    return normalise_image(staged, limits)


# Batches ---------------------------------------------------------------------------------------
class Outcome(StrEnum):
    PENDING = "pending"
    STORED = "stored"
    DUPLICATE = "duplicate"
    QUARANTINED = "quarantined"
    FAILED = "failed"


@dataclass(frozen=True)
class ItemResult:
    """What one file came to: ids, hashes and counts only (safe for Prefect and logs)."""

    seq: int
    outcome: Outcome
    document_id: str | None = None
    sha256: str | None = None
    pages: int = 0
    reason: str | None = None


def create_batch(session: Session, case_id: str, files: list[Path], doc_type: str) -> IntakeBatch:
    batch = IntakeBatch(id=new_id("B", 8), case_id=case_id, doc_type=doc_type)
    batch.items = [IntakeItem(seq=i, source_path=str(p)) for i, p in enumerate(files)]
    session.add(batch)
    return batch


def _record_quarantine(
    session: Session,
    item: IntakeItem,
    batch: IntakeBatch,
    err: QuarantinedFile,
    staged: StagedFile | None,
    store_key: str | None,
    size: int,
) -> ItemResult:
    sha = staged.sha256 if staged else None
    existing = None
    if sha is not None:
        existing = session.scalar(select(Document).where(Document.case_id == batch.case_id, Document.sha256 == sha))
    doc_id = existing.id if existing else new_id("D", 8)
    if existing is None and sha is not None:
        session.add(
            Document(
                id=doc_id,
                case_id=batch.case_id,
                sha256=sha,
                original_key=store_key,
                original_name=Path(item.source_path).name,
                size_bytes=size,
                kind=staged.kind.value if staged else Kind.UNKNOWN.value,
                doc_type=batch.doc_type,
                status="quarantined",
                ocr_status="skipped",
                quarantine_reason=err.reason.value,
                quarantine_detail=err.detail,
                batch_id=batch.id,
            )
        )
    item.outcome, item.reason, item.message = Outcome.QUARANTINED.value, err.reason.value, err.message
    item.sha256, item.document_id = sha, (doc_id if sha else None)
    audit(
        session,
        actor="ingest",
        entity="document",
        entity_id=doc_id,
        action="quarantined",
        case_id=batch.case_id,
        reason=err.reason.value,
        sha256=sha,
    )
    return ItemResult(item.seq, Outcome.QUARANTINED, item.document_id, sha, 0, err.reason.value)


def ingest_item(rt: Runtime, batch_id: str, seq: int) -> ItemResult:
    """Take in one file of a batch. Safe to re-run: objects are content addressed and the catalog
    rows for a file are written in one transaction, after its objects are stored."""
    catalog, store, limits = rt.catalog, rt.store, rt.limits
    with catalog.session() as session:
        item = session.get(IntakeItem, (batch_id, seq))
        if item is None:
            raise CasefileError(f"Intake item {batch_id}/{seq} does not exist.")
        if item.outcome != Outcome.PENDING.value:
            return ItemResult(seq, Outcome(item.outcome), item.document_id, item.sha256, 0, item.reason)
        source = Path(item.source_path)
        case_id = session.get(IntakeBatch, batch_id).case_id  # type: ignore[union-attr]

    work_dir = Path(tempfile.mkdtemp(prefix=f"{batch_id}-{seq}-", dir=_ensure(rt.settings.work_dir)))
    staged: StagedFile | None = None
    try:
        try:
            staged = stage_copy(source, work_dir, limits)
            check_extension(source.name, staged.kind)
        except UnsupportedStaged as err:
            return _finish_quarantine(catalog, store, batch_id, seq, err, err.staged, source)
        except QuarantinedFile as err:
            return _finish_quarantine(catalog, store, batch_id, seq, err, staged, source)

        with catalog.session() as session:
            dup = session.scalar(select(Document).where(Document.case_id == case_id, Document.sha256 == staged.sha256))
            if dup is not None:
                return _mark(session, batch_id, seq, Outcome.DUPLICATE, dup.id, staged.sha256, dup.page_count)

        okey = original_key(staged.sha256)
        if not store.exists(okey):
            store.put_file(okey, staged.path)
        try:
            normalised = normalise(staged, limits)
        except QuarantinedFile as err:
            return _finish_quarantine(catalog, store, batch_id, seq, err, staged, source, stored=True)

        nkey, nsha = okey, staged.sha256
        if normalised.derived:
            nsha = sha256_file(normalised.path)
            nkey = derived_key(nsha)
            if not store.exists(nkey):
                store.put_file(nkey, normalised.path)
        return _record_document(catalog, batch_id, seq, staged, source.name, okey, nkey, nsha, normalised.pages)
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)


def _ensure(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _mark(
    session: Session,
    batch_id: str,
    seq: int,
    outcome: Outcome,
    doc_id: str | None,
    sha: str | None,
    pages: int,
) -> ItemResult:
    item = session.get(IntakeItem, (batch_id, seq))
    assert item is not None
    item.outcome, item.document_id, item.sha256 = outcome.value, doc_id, sha
    return ItemResult(seq, outcome, doc_id, sha, pages)


def _finish_quarantine(
    catalog: Catalog,
    store: ObjectStore,
    batch_id: str,
    seq: int,
    err: QuarantinedFile,
    staged: StagedFile | None,
    source: Path,
    stored: bool = False,
) -> ItemResult:
    """Keep the bytes of a refused file (nothing is lost) unless it was too large to copy."""
    key = None
    if staged is not None:
        key = original_key(staged.sha256)
        if not stored and not store.exists(key):
            store.put_file(key, staged.path)
    size = staged.size if staged else 0
    with catalog.session() as session:
        item = session.get(IntakeItem, (batch_id, seq))
        batch = session.get(IntakeBatch, batch_id)
        assert item is not None and batch is not None
        if staged is not None:
            dup = session.scalar(
                select(Document).where(Document.case_id == batch.case_id, Document.sha256 == staged.sha256)
            )
            if dup is not None and dup.status != "quarantined":
                return _mark(session, batch_id, seq, Outcome.DUPLICATE, dup.id, staged.sha256, dup.page_count)
        log.info("item %s/%s quarantined: %s", batch_id, seq, err.reason.value)
        return _record_quarantine(session, item, batch, err, staged, key, size)


def _record_document(
    catalog: Catalog,
    batch_id: str,
    seq: int,
    staged: StagedFile,
    name: str,
    okey: str,
    nkey: str,
    nsha: str,
    pages: list[PageInfo],
) -> ItemResult:
    try:
        with catalog.session() as session:
            batch = session.get(IntakeBatch, batch_id)
            assert batch is not None
            doc = Document(
                id=new_id("D", 8),
                case_id=batch.case_id,
                sha256=staged.sha256,
                original_key=okey,
                original_name=name,
                size_bytes=staged.size,
                kind=staged.kind.value,
                doc_type=batch.doc_type,
                status="ready",
                normalised_key=nkey,
                normalised_sha256=nsha,
                page_count=len(pages),
                batch_id=batch_id,
            )
            doc.pages = [
                Page(
                    number=p.number,
                    width_pt=p.width_pt,
                    height_pt=p.height_pt,
                    rotation=p.rotation,
                    image_width_px=p.image_width_px,
                    image_height_px=p.image_height_px,
                )
                for p in pages
            ]
            session.add(doc)
            session.flush()
            audit(
                session,
                actor="ingest",
                entity="document",
                entity_id=doc.id,
                action="stored",
                case_id=batch.case_id,
                sha256=staged.sha256,
                pages=len(pages),
            )
            result = _mark(session, batch_id, seq, Outcome.STORED, doc.id, staged.sha256, len(pages))
    except SqlIntegrityError:
        # The same bytes were stored by a concurrent item of this batch: that one wins.
        with catalog.session() as session:
            batch = session.get(IntakeBatch, batch_id)
            assert batch is not None
            dup = session.scalar(
                select(Document).where(Document.case_id == batch.case_id, Document.sha256 == staged.sha256)
            )
            assert dup is not None
            return _mark(session, batch_id, seq, Outcome.DUPLICATE, dup.id, staged.sha256, dup.page_count)
    log.info(
        "item %s/%s stored as %s (%s pages, sha256 %s)",
        batch_id,
        seq,
        result.document_id,
        len(pages),
        staged.sha256[:12],
    )
    return result


def mark_failed(rt: Runtime, batch_id: str, seq: int, error: BaseException) -> ItemResult:
    """An item whose retries ran out (object store down): recorded so the user can re-run later."""
    message = (
        error.message
        if isinstance(error, CasefileError)
        else f"unexpected {type(error).__name__}; re-run `casefile add` with the same files"
    )
    with rt.catalog.session() as session:
        item = session.get(IntakeItem, (batch_id, seq))
        assert item is not None
        if item.outcome == Outcome.PENDING.value:
            item.outcome, item.message = Outcome.FAILED.value, message
            item.reason = "transient" if isinstance(error, TransientStorageError) else "error"
        return ItemResult(seq, Outcome(item.outcome), item.document_id, item.sha256, 0, item.reason)


STALE_AFTER_SECONDS = 6 * 3600


def start_batch(rt: Runtime, batch_id: str) -> list[int]:
    """Mark the batch running, clear what interrupted runs left behind, and return its pending items."""
    clean_stale_work(rt.settings.work_dir)
    if isinstance(rt.store, LocalObjectStore):
        rt.store.clean_temp(older_than_seconds=STALE_AFTER_SECONDS)
    with rt.catalog.session() as session:
        batch = session.get(IntakeBatch, batch_id)
        if batch is None:
            raise CasefileError(f"Intake batch {batch_id} does not exist.")
        batch.status = "running"
    return pending_items(rt, batch_id)


def clean_stale_work(work_root: Path, older_than_seconds: float = STALE_AFTER_SECONDS) -> int:
    """Remove per-item work folders of runs that were killed (older than any live run could be)."""
    import time

    if not work_root.is_dir():
        return 0
    removed = 0
    cutoff = time.time() - older_than_seconds
    for entry in work_root.iterdir():
        if entry.is_dir() and entry.stat().st_mtime < cutoff:
            shutil.rmtree(entry, ignore_errors=True)
            removed += 1
    return removed


def pending_items(rt: Runtime, batch_id: str) -> list[int]:
    with rt.catalog.session() as session:
        return list(
            session.scalars(
                select(IntakeItem.seq)
                .where(IntakeItem.batch_id == batch_id, IntakeItem.outcome == "pending")
                .order_by(IntakeItem.seq)
            )
        )


def finish_batch(rt: Runtime, batch_id: str) -> dict[str, int]:
    with rt.catalog.session() as session:
        batch = session.get(IntakeBatch, batch_id)
        assert batch is not None
        counts = {o.value: 0 for o in Outcome}
        for item in batch.items:
            counts[item.outcome] += 1
        batch.status = "done" if counts["failed"] == 0 and counts["pending"] == 0 else "failed"
        batch.finished_at = utcnow()
        audit(
            session,
            actor="ingest",
            entity="batch",
            entity_id=batch_id,
            action=batch.status,
            case_id=batch.case_id,
            **counts,
        )
        return counts


def iter_progress(rt: Runtime, batch_id: str) -> Iterator[int]:
    """How many items of the batch are done, for a progress bar polling from another thread."""
    from sqlalchemy import func

    while True:
        with rt.catalog.session() as session:
            done = session.scalar(
                select(func.count()).where(IntakeItem.batch_id == batch_id, IntakeItem.outcome != "pending")
            )
        yield int(done or 0)


def batch_case(rt: Runtime, batch_id: str) -> str:
    with rt.catalog.session() as session:
        return rt.catalog.get_batch(session, batch_id).case_id


def batch_report(rt: Runtime, batch_id: str) -> dict[str, Any]:
    """What `casefile add` prints of a batch: one row per file, counts, and what the text stage did."""
    with rt.catalog.session() as session:
        batch = rt.catalog.get_batch(session, batch_id)
        items = [
            {
                "file": it.source_path,
                "outcome": it.outcome,
                "document_id": it.document_id,
                "sha256": it.sha256,
                "reason": it.reason,
                "message": it.message,
            }
            for it in batch.items
        ]
        counts: dict[str, int] = {}
        for it in batch.items:
            counts[it.outcome] = counts.get(it.outcome, 0) + 1
        docs = [session.get(Document, it.document_id) for it in batch.items if it.outcome == "stored"]
        pages = [p for d in docs if d for p in d.pages]
        text = {
            "ocr_pages": sum(p.text_source == "ocr" for p in pages),
            "text_layer_pages": sum(p.text_source == "text-layer" for p in pages),
            "failed_pages": sum(p.text_source == "failed" for p in pages),
            "low_confidence_pages": sum(p.low_confidence for p in pages),
        }
        return {
            "batch_id": batch.id,
            "case_id": batch.case_id,
            "status": batch.status,
            "counts": counts,
            "items": items,
            "text": text,
            "store": rt.store.describe(),
        }
