"""One file on disk, checked and made a PDF: its type by magic bytes, a private copy hashed while copied, the
limits, a defensive look at PDFs and images, and images turned into PDFs without re-encoding.

Plain functions on paths, no catalog: a file that cannot be taken in raises ``QuarantinedFile`` with a typed reason.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import re
import stat
import tempfile
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import BinaryIO

from ..core.errors import CasefileError, QuarantinedFile, QuarantineReason
from ..core.settings import Limits
from ..core.storage import CHUNK
from ..core.workdirs import is_environment_error, workspace_error

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


def stage_copy(source: Path, work_dir: Path, limits: Limits, *, follow_symlinks: bool = False) -> StagedFile:
    """Copy ``source`` into ``work_dir`` while hashing it; refuse symbolic links (unless ``follow_symlinks``), what is
    not a regular file, empty, oversized and unknown files. A read error is the file's (``unreadable``); a write
    error in ``work_dir`` (disk full, read-only) is the machine's: ``WorkspaceError``, nothing recorded."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | (0 if follow_symlinks else getattr(os, "O_NOFOLLOW", 0))
    try:
        fd_in = os.open(source, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP and not follow_symlinks:
            raise QuarantinedFile(QuarantineReason.SYMLINK) from None
        raise QuarantinedFile(QuarantineReason.UNREADABLE, exc.strerror or type(exc).__name__) from None
    with os.fdopen(fd_in, "rb") as src:
        info = os.fstat(src.fileno())
        if not stat.S_ISREG(info.st_mode):  # a FIFO, a device, a socket: never read (a FIFO would block forever)
            raise QuarantinedFile(QuarantineReason.UNSUPPORTED_TYPE, "it is not a regular file")
        os.set_blocking(src.fileno(), True)
        size = info.st_size
        if size == 0:
            raise QuarantinedFile(QuarantineReason.EMPTY)
        if size > limits.max_file_bytes:
            raise QuarantinedFile(QuarantineReason.TOO_LARGE, f"{size:,} bytes, limit {limits.max_file_bytes:,}")
        try:
            work_dir.mkdir(parents=True, exist_ok=True)
            fd, tmp_name = tempfile.mkstemp(dir=work_dir, prefix="stage-")
        except OSError as exc:
            raise workspace_error(exc, work_dir) from None
        tmp = Path(tmp_name)
        digest = hashlib.sha256()
        copied = 0
        try:
            with os.fdopen(fd, "wb") as out:
                while True:
                    try:
                        block = src.read(CHUNK)
                    except OSError as exc:
                        raise QuarantinedFile(QuarantineReason.UNREADABLE, exc.strerror or type(exc).__name__) from None
                    if not block:
                        break
                    copied += len(block)
                    if copied > limits.max_file_bytes:  # it grew while being copied
                        raise QuarantinedFile(QuarantineReason.TOO_LARGE, f"over {limits.max_file_bytes:,} bytes")
                    digest.update(block)
                    try:
                        out.write(block)
                    except OSError as exc:
                        raise workspace_error(exc, work_dir) from None
                try:
                    out.flush()
                except OSError as exc:
                    raise workspace_error(exc, work_dir) from None
        except OSError as exc:  # closing the copy (the last write reaches the disk)
            tmp.unlink(missing_ok=True)
            raise workspace_error(exc, work_dir) from None
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    if copied == 0:
        tmp.unlink(missing_ok=True)
        raise QuarantinedFile(QuarantineReason.EMPTY)
    with tmp.open("rb") as fh:
        kind = sniff_kind(fh.read(1024))
    staged = StagedFile(path=tmp, sha256=digest.hexdigest(), size=copied, kind=kind or Kind.UNKNOWN)
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


def inspect_pdf(path: Path, limits: Limits, *, pictures_decoded: bool = False) -> Normalised:
    """Open a PDF defensively and record its pages. Encrypted PDFs that open with an empty password
    (permissions only) are accepted and a decrypted copy becomes the normalised PDF. What its pages reach is
    scanned first (``pdfscan``: pixel limits of images, decompression bombs, damaged or unknown compression;
    ``pictures_decoded``: its JPEG data was decoded already, as for a PDF made here from an image file).
    pypdf reads the file from an open file, not all of it into memory."""
    with path.open("rb") as fh:
        return _inspect_pdf(path, fh, limits, pictures_decoded)


def _inspect_pdf(path: Path, fh: BinaryIO, limits: Limits, pictures_decoded: bool) -> Normalised:
    from pypdf import PdfReader, PdfWriter
    from pypdf.errors import FileNotDecryptedError, PdfReadError

    from .pdfscan import scan_pdf

    if not _has_eof_marker(path):
        looks_like_pdf = re.search(rb"\d+\s+\d+\s+obj\b", fh.read(65536)) is not None
        if looks_like_pdf:  # real PDF objects, then an abrupt end: an incomplete copy
            raise QuarantinedFile(QuarantineReason.TRUNCATED, "the PDF has no end-of-file marker")
        raise QuarantinedFile(QuarantineReason.CORRUPT, "no PDF structure after the header")
    fh.seek(0)
    reader = PdfReader(fh, strict=False)
    derived = False
    if reader.is_encrypted:
        try:
            opened = bool(reader.decrypt(""))  # owner-password-only PDFs open with an empty password
        except (FileNotDecryptedError, NotImplementedError, PdfReadError):
            opened = False
        if not opened:
            raise QuarantinedFile(QuarantineReason.ENCRYPTED)
        derived = True
    # The page tree's declared /Count, read before anything walks (flattens) the tree: a hostile file can declare
    # millions of pages or nest the tree deeply.
    claimed = int(reader.trailer["/Root"]["/Pages"]["/Count"])  # type: ignore[index]
    if claimed > limits.max_pages:
        raise QuarantinedFile(
            QuarantineReason.TOO_MANY_PAGES, f"it claims {claimed:,} pages, limit {limits.max_pages:,}"
        )
    if claimed <= 0 or len(reader.pages) == 0:
        raise QuarantinedFile(QuarantineReason.CORRUPT, "the PDF has no pages")
    if len(reader.pages) > limits.max_pages:
        raise QuarantinedFile(
            QuarantineReason.TOO_MANY_PAGES, f"it has {len(reader.pages):,} pages, limit {limits.max_pages:,}"
        )
    from pikepdf.settings import qpdf_limit_errors

    limit_errors = qpdf_limit_errors()
    scanned = scan_pdf(path, limits, decode_pictures=not pictures_decoded)
    if scanned.pages != len(reader.pages):
        # the packet builder (qpdf) would place other pages than the catalog records
        if qpdf_limit_errors() > limit_errors:  # qpdf dropped what went past its limits (nesting, sizes)
            raise QuarantinedFile(
                QuarantineReason.TOO_COMPLEX, "its structure goes past the PDF reader's limits (nesting or sizes)"
            )
        raise QuarantinedFile(
            QuarantineReason.CORRUPT,
            f"its page tree is damaged (one reader finds {len(reader.pages)} pages, another {scanned.pages})",
        )
    pages: list[PageInfo] = []
    for number, page in enumerate(reader.pages, start=1):
        box = page.cropbox
        pages.append(PageInfo(number, round(float(box.width), 2), round(float(box.height), 2), page.rotation % 360))
    if derived:
        out = path.with_name(path.name + ".decrypted.pdf")
        writer = PdfWriter(clone_from=reader)
        writer.add_metadata({"/Producer": "casefile"})
        writer._ID = None
        with out.open("wb") as copy:
            writer.write(copy)
        return Normalised(path=out, pages=pages, derived=True)
    return Normalised(path=path, pages=pages)


def parser_failure(exc: BaseException, work_dir: Path, what: str = "the file") -> CasefileError:
    """What an exception raised while a parser (pypdf, pikepdf/qpdf, Pillow, img2pdf, zlib) read a file means.

    A typed casefile error stays as it is; an ``OSError`` of the machine (disk full, read-only work folder) is a
    ``WorkspaceError`` (retry; nothing is recorded about the file); everything else a hostile or broken file can make
    a parser raise is a property of the file: a ``QuarantinedFile`` with a typed reason (never "failed, re-run")."""
    from pikepdf import DependencyError as PikepdfDependencyError
    from pikepdf import PasswordError
    from pypdf.errors import DependencyError as PypdfDependencyError
    from pypdf.errors import FileNotDecryptedError, LimitReachedError

    if isinstance(exc, CasefileError):
        return exc
    if is_environment_error(exc):
        assert isinstance(exc, OSError)
        return workspace_error(exc, work_dir)
    name = type(exc).__name__
    if isinstance(exc, (LimitReachedError, RecursionError)):
        return QuarantinedFile(QuarantineReason.TOO_COMPLEX, f"{what} goes past a reader's safety limit ({name})")
    if isinstance(exc, MemoryError):
        return QuarantinedFile(QuarantineReason.TOO_COMPLEX, f"reading {what} needs more memory than is available")
    if isinstance(exc, (PypdfDependencyError, PikepdfDependencyError, NotImplementedError)):
        return QuarantinedFile(
            QuarantineReason.UNSUPPORTED_ENCODING, f"{what} uses a method that cannot be decoded here ({name})"
        )
    if isinstance(exc, (FileNotDecryptedError, PasswordError)):
        return QuarantinedFile(QuarantineReason.ENCRYPTED)
    return QuarantinedFile(QuarantineReason.CORRUPT, f"{what} cannot be parsed ({name})")


# Images ----------------------------------------------------------------------------------------
def _open_image_checked(path: Path, limits: Limits) -> list[tuple[int, int]]:
    """Open lazily, refuse bombs before decoding, then decode every frame to catch truncation.
    Returns the pixel size of every frame as stored (before EXIF rotation)."""
    from PIL import Image, ImageFile, UnidentifiedImageError

    Image.MAX_IMAGE_PIXELS = limits.max_image_pixels  # Pillow's own guard as a second line
    # WeasyPrint sets this process-wide when it is imported (a worker that renders letters, then takes files in):
    # a cut-off image would then be padded with grey and stored as if whole. Evidence is decoded strictly.
    ImageFile.LOAD_TRUNCATED_IMAGES = False
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
        if is_environment_error(exc):
            raise  # the machine's, not the image's (see parser_failure)
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
        if is_environment_error(exc):
            raise
        raise QuarantinedFile(
            QuarantineReason.CORRUPT, f"the image cannot be converted ({type(exc).__name__})"
        ) from None
    normalised = inspect_pdf(out, limits, pictures_decoded=True)  # its pictures were decoded above
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
        if is_environment_error(exc):
            raise
        raise QuarantinedFile(
            QuarantineReason.CORRUPT, f"the HEIC image cannot be read ({type(exc).__name__})"
        ) from None
    width, height = heif.size
    if width * height > limits.max_image_pixels:
        raise QuarantinedFile(QuarantineReason.TOO_MANY_PIXELS, f"{width}x{height} pixels")


def normalise(staged: StagedFile, limits: Limits) -> Normalised:
    """The staged file as a PDF with its pages recorded. Every exception the parsers raise becomes a typed error
    here (``parser_failure``): ``QuarantinedFile`` for the file's own problems, ``WorkspaceError`` for the machine's."""
    try:
        if staged.kind is Kind.PDF:
            return inspect_pdf(staged.path, limits)
        return normalise_image(staged, limits)
    except Exception as exc:  # the boundary around third-party parsers reading untrusted bytes
        failure = parser_failure(exc, staged.path.parent, "the PDF" if staged.kind is Kind.PDF else "the image")
        if failure is not exc:
            log.info("normalise: %s -> %s", type(exc).__name__, failure.log_summary())
        raise failure from None
