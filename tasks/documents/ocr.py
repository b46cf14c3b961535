"""OCR stage: per page, keep a usable text layer or OCR the page; graft the OCR text onto the original pages.

``ocr_document(pdf, out_pdf)`` is the whole stage. For each page of ``pdf``:

1. **Text layer.** The page's text is extracted in content-stream order with PDFium (``pdftotext``'s default
   layout mode scrambles text made of individually placed words). If it is usable (see
   ``assess_text_layer``: enough letters, few replacement/control characters, mostly word-like tokens) the page
   is not OCR'd - unless it has fewer than ``SUBSTANTIAL_TEXT_LETTERS`` letters and images cover half of it (a
   scan with a short fax header or stamp in real text).
2. **Page image.** A page that is one image filling the page (a scan, img2pdf output) gives its embedded image
   as it is: JPEG bytes are handed to Tesseract unchanged (far cheaper than rasterising the page); other images
   are decoded losslessly to PNM. Any other page is rendered with PDFium at ``dpi`` (300) in grey, which is faster
   than ``pdftoppm`` (benchmarks/README.md, "Figures behind design choices"). The page's /Rotate, the image's
   placement and img2pdf's EXIF-derived /Rotate are applied so Tesseract sees the page as a reader does.
3. **Blank.** A page with almost no ink is "blank": no OCR call.
4. **OCR.** One Tesseract call per page writes a text-only PDF and TSV word boxes (tasks/documents/tesseract.py). If the
   result is poor (no words, mean confidence under ``OSD_TRIGGER_CONFIDENCE``, or most words standing on end)
   the page may be sideways or upside down: OSD runs on a 150-dpi copy, and if it proposes a rotation the page
   is OCR'd again turned upright and the better result is kept. OSD costs as much as OCR, so upright pages
   never pay for it.
5. **Graft.** Tesseract's text-only page becomes a Form XObject drawn, invisible, under the original page's
   content with a matrix that maps it onto the page's CropBox and rotation (OCRmyPDF does the same). The
   original content streams and images are not touched (pikepdf writes every existing stream byte for byte);
   with ``fix_rotation`` a page OSD found sideways gets a new /Rotate so it reads upright.

Pages are OCR'd in a process pool (``workers`` processes, one Tesseract thread each) fed a bounded window of
pages, so memory does not grow with the page count. ``workers=1`` runs everything in this process. Nothing else
grows with it either (benchmarks/README.md, OCR, issue 18): page results are handed on in page order as they arrive
(to a ``PageSpool`` file when the caller gives a folder), Tesseract's text-only pages are kept in chunk files that
the searchable PDF is assembled from, and PDFium documents are opened afresh every ``PDFIUM_REOPEN_PAGES`` pages.

A page that fails (Tesseract error, timeout, undecodable image) is recorded as "failed" with its reason and the
rest of the document goes on. Nothing here logs document text: only page numbers, counts and timings.

Coordinates: ``Word`` boxes and ``PageResult.width``/``height`` are PDF points on the page *as displayed* in the
searchable PDF (after its /Rotate, relative to the CropBox), origin at the top-left corner, y growing downwards.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import io
import json
import logging
import math
import multiprocessing
import os
import tempfile
import time
import unicodedata
import weakref
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Literal, overload

import pikepdf
import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from PIL import Image

from ..core.errors import CasefileError, QuarantinedFile, QuarantineReason, ToolError, ToolTimeout
from ..core.processes import pool_worker_start
from ..core.workdirs import is_environment_error, short_socket_dir
from . import language as langid
from . import tesseract

log = logging.getLogger(__name__)

PageSource = Literal["text-layer", "ocr", "failed", "blank", "skipped"]

DEFAULT_LANGUAGES = "eng+spa"

# Text layer: what counts as usable (see assess_text_layer).
MAX_BAD_CHAR_SHARE = 0.05  # U+FFFD, control, private-use and unassigned characters among non-space characters
MIN_ALNUM_SHARE = 0.5  # letters and digits among non-space characters
MIN_WORDLIKE_SHARE = 0.5  # word-like tokens among tokens with letters, judged from WORDLIKE_MIN_TOKENS tokens on
WORDLIKE_MIN_TOKENS = 10
SUBSTANTIAL_TEXT_LETTERS = 100  # with this much clean text, a page is text whatever images it holds
IMAGE_COVERAGE_FOR_OCR = 0.5  # a page with less text than that and images over half its area is OCR'd

# OCR.
OSD_TRIGGER_CONFIDENCE = 60.0  # upright text scores 85-96 on our scans; sideways text about 50
VERTICAL_TEXT_PENALTY = 50.0  # a reading where most words are taller than wide is a sideways page
OSD_MIN_CONFIDENCE = 1.5  # Tesseract's orientation confidence; the re-OCR decides in the end
OSD_DPI = 150  # OSD on a 150-dpi copy is as right as on the 300-dpi page and about half the cost
MIN_TESSERACT_DPI = 70  # Tesseract ignores resolutions under 70 dpi
INK_CONTRAST = 60  # grey levels between paper and what counts as ink
BLANK_INK_SHARE = 0.0001  # share of ink pixels under which a page is blank without OCR
BLANK_AFTER_OCR_INK_SHARE = 0.003  # no words recognised and less ink than this: blank (dust, a stray mark)
MAX_PAGE_PIXELS = 150_000_000  # an image or rendering larger than this is refused (or rendered smaller)
IMAGE_FIT_TOLERANCE = 0.02  # an image within 2% of the page edges "fills the page"
OCR_XOBJECT_PREFIX = "/CasefileOCR"
TEXT_CHUNK_PAGES = 50  # text-only pages gathered in memory before they are written to a chunk file
PDFIUM_REOPEN_PAGES = 50  # pages parsed through one PDFium document before it is opened afresh (PdfiumPages)


# --------------------------------------------------------------------------------------------------------------
# Public results
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Word:
    """A recognised word: its text, Tesseract's confidence (0-100) and its box in PDF points.

    The box is on the page as displayed in the searchable PDF (rotation applied, relative to the CropBox),
    origin top-left, y downwards: (x0, y0) is the top-left corner, (x1, y1) the bottom-right one.
    """

    text: str
    conf: float
    x0: float
    y0: float
    x1: float
    y1: float


@dataclass
class PageResult:
    """What one page came to.

    ``source`` is "text-layer" (its own text was usable; not OCR'd), "ocr", "blank" (no ink; no OCR),
    "skipped" (it needed OCR but OCR is switched off) or "failed" (``error`` says why; the page is copied without
    a text layer). ``confidence`` is the mean word
    confidence of an OCR'd page (None otherwise, or when OCR found no words, as on a photograph).
    ``low_confidence`` flags OCR'd pages under ``min_confidence``, or with ink but no words (a photograph,
    handwriting), for a person to check. ``language`` is the majority language (ISO 639-1) and
    ``languages`` each language's share of the letters. ``rotation_applied`` is how many degrees clockwise
    the page as displayed had to be turned for its text to read upright (found by OSD; with ``fix_rotation``
    the searchable PDF is turned that way). ``width`` and ``height`` are the page's size as displayed in the
    searchable PDF, in points: the frame of ``words``. ``seconds`` is the time the page took in its worker.
    """

    number: int
    source: PageSource
    text: str = ""
    confidence: float | None = None
    language: str | None = None
    words: list[Word] = field(default_factory=list)
    error: str | None = None
    low_confidence: bool = False
    rotation_applied: int = 0
    width: float = 0.0
    height: float = 0.0
    languages: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0


@dataclass
class DocumentOcr:
    """The pages of one document in page order, and the searchable PDF if one was written.

    ``pages`` is a list, or a ``PageSpool`` (read from disk one page at a time) when ``ocr_document`` was given a
    ``spool_folder``. ``searchable_pdf`` is None when no page got an OCR text layer (every page had its own text,
    or was blank or failed): the original is then as searchable as it gets and no new file is written.
    """

    pages: Sequence[PageResult]
    searchable_pdf: Path | None
    ocr_pages: int
    text_pages: int
    failed_pages: int
    blank_pages: int = 0
    seconds: float = 0.0


def _page_record(page: PageResult) -> bytes:
    words = [[w.text, w.conf, w.x0, w.y0, w.x1, w.y1] for w in page.words]
    record = {**{f.name: getattr(page, f.name) for f in fields(PageResult) if f.name != "words"}, "words": words}
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"


def _page_from_record(line: bytes) -> PageResult:
    record = json.loads(line)
    words = [
        Word(str(t), float(c), float(x0), float(y0), float(x1), float(y1))
        for t, c, x0, y0, x1, y1 in record.pop("words")
    ]
    return PageResult(**record, words=words)


class PageSpool(Sequence[PageResult]):
    """Page results written to an unnamed temporary file in ``folder`` as they arrive, and read back one at a time.

    A long scan's page results (text, word boxes) would otherwise all stay in memory until the document is
    recorded: about 0.3 KB a word, tens of KB a page (benchmarks/README.md, OCR). Here only each page's offset is
    kept. The file has no name (nothing is left on
    disk if the process dies) and is closed by ``close`` or when the spool is garbage-collected.
    """

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        try:
            self._fd = os.open(folder, os.O_TMPFILE | os.O_RDWR, 0o600)
        except (AttributeError, OSError):  # no O_TMPFILE (not Linux, or a file system without it)
            self._fd, name = tempfile.mkstemp(dir=folder, prefix=".pages-")
            os.unlink(name)
        self._extents: list[tuple[int, int]] = []
        self._end = 0
        self._closer = weakref.finalize(self, os.close, self._fd)

    def append(self, page: PageResult) -> None:
        """Write ``page`` (the next one in order) to the file; nothing of it is kept in memory."""
        data = _page_record(page)
        view = memoryview(data)
        while view:
            view = view[os.pwrite(self._fd, view, self._end + len(data) - len(view)) :]
        self._extents.append((self._end, len(data)))
        self._end += len(data)

    def __len__(self) -> int:
        return len(self._extents)

    @overload
    def __getitem__(self, index: int) -> PageResult: ...

    @overload
    def __getitem__(self, index: slice) -> list[PageResult]: ...

    def __getitem__(self, index: int | slice) -> PageResult | list[PageResult]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        offset, size = self._extents[index]
        return _page_from_record(os.pread(self._fd, size, offset))

    def __iter__(self) -> Iterator[PageResult]:
        for i in range(len(self._extents)):
            yield self[i]

    def close(self) -> None:
        self._closer()


class _InOrder:
    """Hands page results to ``sink`` in page order (1, 2, 3...) as they arrive in any order, holding only those that
    came early: the pages still in flight bound how many that is, not the length of the document."""

    def __init__(self, sink: Callable[[PageResult], None]) -> None:
        self.sink = sink
        self.next = 1
        self.early: dict[int, PageResult] = {}
        self.counts: dict[str, int] = {}

    def put(self, result: PageResult) -> None:
        self.early[result.number] = result
        while self.next in self.early:
            page = self.early.pop(self.next)
            self.counts[page.source] = self.counts.get(page.source, 0) + 1
            self.sink(page)
            self.next += 1

    @property
    def emitted(self) -> int:
        return self.next - 1


# --------------------------------------------------------------------------------------------------------------
# Text-layer quality
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TextLayerQuality:
    """Counts behind the usable/junk decision for a page's own text layer."""

    chars: int  # non-whitespace characters
    letters: int
    alnum: int
    bad: int  # U+FFFD, control, surrogate, private-use and unassigned characters
    words: int  # tokens with at least one letter
    wordlike: int

    @property
    def reason(self) -> str | None:
        """Why the text is not usable, or None when it is."""
        if self.letters == 0:
            return "no text layer"
        if self.bad > MAX_BAD_CHAR_SHARE * self.chars:
            return "text layer has replacement or control characters"
        if self.alnum < MIN_ALNUM_SHARE * self.chars:
            return "text layer is mostly symbols"
        if self.words >= WORDLIKE_MIN_TOKENS and self.wordlike < MIN_WORDLIKE_SHARE * self.words:
            return "text layer does not look like words"
        return None

    @property
    def usable(self) -> bool:
        return self.reason is None


_BAD_CATEGORIES = frozenset({"Cc", "Cs", "Co", "Cn"})
_VOWELS = frozenset("aeiouy")


def _is_wordlike(token: str) -> bool:
    """A token that reads like a word: mostly letters, and a vowel unless it is very short or not Latin.

    Broken font encodings give runs like "Ÿ¥¤§" or "bcdfghj" that are letters to Unicode but not words.
    Scripts other than Latin are accepted as they are: a vowel test means nothing there.
    """
    core = token.strip(".,;:!?¡¿()[]{}\"'«»“”‘’-–—/\\*")
    letters = [c for c in core if c.isalpha()]
    if not letters or len(letters) < 0.7 * len(core):
        return False
    if len(letters) <= 2:
        return True
    for char in letters:
        if not unicodedata.name(char, "").startswith("LATIN"):
            return True
        if unicodedata.normalize("NFKD", char)[0].lower() in _VOWELS:
            return True
    return False


def assess_text_layer(text: str) -> TextLayerQuality:
    """Count what decides whether a page's own text is usable (``.usable``) or junk to be OCR'd over."""
    chars = letters = alnum = bad = 0
    for char in text:
        if char.isspace():
            continue
        chars += 1
        if char.isalpha():
            letters += 1
            alnum += 1
        elif char.isdigit():
            alnum += 1
        elif char == "\ufffd" or unicodedata.category(char) in _BAD_CATEGORIES:
            bad += 1
    words = wordlike = 0
    for token in text.split():
        if any(c.isalpha() for c in token):
            words += 1
            wordlike += _is_wordlike(token)
    return TextLayerQuality(chars, letters, alnum, bad, words, wordlike)


def _clean_text(text: str) -> str:
    """PDFium's text with plain newlines and without NULs or other control characters."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return "".join(c for c in text if c in "\n\t" or unicodedata.category(c) != "Cc")


# --------------------------------------------------------------------------------------------------------------
# Geometry: 2-D affine maps in PDF's row-vector convention ([x y 1] x M)
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Affine:
    a: float = 1.0
    b: float = 0.0
    c: float = 0.0
    d: float = 1.0
    e: float = 0.0
    f: float = 0.0

    def then(self, other: Affine) -> Affine:
        """This map followed by ``other``."""
        return Affine(
            self.a * other.a + self.b * other.c,
            self.a * other.b + self.b * other.d,
            self.c * other.a + self.d * other.c,
            self.c * other.b + self.d * other.d,
            self.e * other.a + self.f * other.c + other.e,
            self.e * other.b + self.f * other.d + other.f,
        )

    def apply(self, x: float, y: float) -> tuple[float, float]:
        return self.a * x + self.c * y + self.e, self.b * x + self.d * y + self.f

    def inverse(self) -> Affine:
        det = self.a * self.d - self.b * self.c
        if abs(det) < 1e-12:
            raise ValueError("singular transformation")
        a, b, c, d = self.d / det, -self.b / det, -self.c / det, self.a / det
        return Affine(a, b, c, d, -(self.e * a + self.f * c), -(self.e * b + self.f * d))

    def close_to(self, other: Affine, tolerance: float) -> bool:
        mine = (self.a, self.b, self.c, self.d, self.e, self.f)
        theirs = (other.a, other.b, other.c, other.d, other.e, other.f)
        return all(abs(x - y) <= tolerance for x, y in zip(mine, theirs, strict=True))

    def pdf_operands(self) -> bytes:
        return " ".join(f"{v:.6f}" for v in (self.a, self.b, self.c, self.d, self.e, self.f)).encode("ascii")


def unit_rotation(degrees: int) -> Affine:
    """Map the unit square of an image turned ``degrees`` clockwise back onto the unturned image's unit square.

    Unit squares have their origin at the bottom-left corner, y up (PDF image space). The same map relates a
    page as displayed with /Rotate to its unrotated user space.
    """
    return {
        0: Affine(),
        90: Affine(0, 1, -1, 0, 1, 0),
        180: Affine(-1, 0, 0, -1, 1, 1),
        270: Affine(0, -1, 1, 0, 0, 1),
    }[degrees % 360]


@dataclass(frozen=True)
class PageGeometry:
    """A page's CropBox (clipped to its MediaBox) in user space and its /Rotate (0, 90, 180, 270)."""

    x0: float
    y0: float
    x1: float
    y1: float
    rotate: int

    @classmethod
    def of(cls, page: pikepdf.Page) -> PageGeometry:
        media = [float(v) for v in page.mediabox]
        crop = [float(v) for v in page.cropbox]
        mx0, mx1 = sorted((media[0], media[2]))
        my0, my1 = sorted((media[1], media[3]))
        cx0, cx1 = sorted((crop[0], crop[2]))
        cy0, cy1 = sorted((crop[1], crop[3]))
        x0, y0, x1, y1 = max(mx0, cx0), max(my0, cy0), min(mx1, cx1), min(my1, cy1)
        if x1 - x0 < 1 or y1 - y0 < 1:  # a nonsensical CropBox: PDF viewers fall back to the MediaBox
            x0, y0, x1, y1 = mx0, my0, mx1, my1
        try:
            rotate = int(page.obj.get("/Rotate", 0))
        except (TypeError, ValueError):
            rotate = 0
        rotate %= 360
        return cls(x0, y0, x1, y1, rotate if rotate in (0, 90, 180, 270) else 0)

    def view_size(self, rotate: int | None = None) -> tuple[float, float]:
        """Width and height in points as displayed with ``rotate`` (default: the page's own /Rotate)."""
        turn = self.rotate if rotate is None else rotate
        width, height = self.x1 - self.x0, self.y1 - self.y0
        return (height, width) if turn in (90, 270) else (width, height)

    def view_unit_to_user(self, rotate: int | None = None) -> Affine:
        """The unit square of the page as displayed (y up) -> user space."""
        turn = self.rotate if rotate is None else rotate
        box = Affine(self.x1 - self.x0, 0, 0, self.y1 - self.y0, self.x0, self.y0)
        return unit_rotation(turn).then(box)

    def user_to_view_points(self, rotate: int | None = None) -> Affine:
        """User space -> points on the page as displayed, origin top-left, y down."""
        width, height = self.view_size(rotate)
        to_points = Affine(width, 0, 0, -height, 0, height)
        return self.view_unit_to_user(rotate).inverse().then(to_points)


# --------------------------------------------------------------------------------------------------------------
# Planning a page (main process)
# --------------------------------------------------------------------------------------------------------------

ImageKind = Literal["jpeg", "pnm"]


@dataclass(frozen=True)
class _Job:
    """Everything a worker needs to OCR one page. Picklable; no open handles."""

    number: int
    pdf_path: str
    image: bytes | None  # the page's own image (JPEG or PNM bytes), or None to render the page
    image_kind: ImageKind | None
    pre_rotate: int  # degrees clockwise to turn ``image`` so it reads as the page is displayed
    dpi: float  # of the image after pre_rotate, or the rendering resolution
    languages: str
    timeout: float
    osd: bool
    attempt: int = 1


@dataclass(frozen=True)
class _Plan:
    job: _Job
    geometry: PageGeometry
    base_to_user: Affine  # unit square of the page image as handed to OCR (before OSD) -> user space


@dataclass
class _Outcome:
    number: int
    status: Literal["ocr", "blank", "failed"]
    words: list[tesseract.TsvWord] = field(default_factory=list)
    pdf: bytes | None = None
    image_size: tuple[int, int] = (0, 0)  # of the image Tesseract read (after OSD rotation)
    osd_rotate: int = 0
    error: str | None = None
    ocr_calls: int = 0
    seconds: float = 0.0


def _page_text(text_page: pdfium.PdfPage) -> str:
    textpage = text_page.get_textpage()
    try:
        return str(textpage.get_text_range())
    finally:
        textpage.close()


def _image_coverage(text_page: pdfium.PdfPage, geometry: PageGeometry) -> float:
    """Share of the CropBox covered by image objects (capped at 1; overlaps counted twice)."""
    area = (geometry.x1 - geometry.x0) * (geometry.y1 - geometry.y0)
    covered = 0.0
    for obj in text_page.get_objects(filter=(pdfium_c.FPDF_PAGEOBJ_IMAGE,), max_depth=3):
        left, bottom, right, top = obj.get_bounds()
        width = min(right, geometry.x1) - max(left, geometry.x0)
        height = min(top, geometry.y1) - max(bottom, geometry.y0)
        if width > 0 and height > 0:
            covered += width * height
    return min(1.0, covered / area) if area > 0 else 0.0


def _filters(stream: pikepdf.Object) -> list[str]:
    value = stream.get("/Filter")
    if value is None:
        return []
    if isinstance(value, pikepdf.Array):
        return [str(v) for v in value]
    return [str(value)]


def _simple_colour(stream: pikepdf.Object) -> bool:
    """Grey or RGB without tricks (ICC profiles with 1 or 3 components included)."""
    space = stream.get("/ColorSpace")
    if space is None:  # allowed for JPX (the colour space is in the codestream): let PDFium render it
        return False
    if isinstance(space, pikepdf.Name):
        return str(space) in ("/DeviceGray", "/DeviceRGB", "/CalGray", "/CalRGB")
    if isinstance(space, pikepdf.Array) and len(space) == 2 and str(space[0]) == "/ICCBased":
        return int(space[1].get("/N", 0)) in (1, 3)
    return False


def _full_page_image(page: pikepdf.Page, geometry: PageGeometry) -> tuple[pikepdf.Stream, Affine, int] | None:
    """The page's one image, its placement (image unit square -> user space) and the clockwise turn that makes
    it read as displayed - if the page draws exactly one image that fills it and nothing else."""
    try:
        instructions = pikepdf.parse_content_stream(page)
    except pikepdf.PikepdfError:
        return None
    ctm = Affine()
    stack: list[Affine] = []
    drawn: tuple[pikepdf.Stream, Affine] | None = None
    for instruction in instructions:
        if isinstance(instruction, pikepdf.ContentStreamInlineImage):
            return None
        operator = str(instruction.operator)
        operands = instruction.operands
        if operator == "q":
            stack.append(ctm)
        elif operator == "Q":
            ctm = stack.pop() if stack else ctm
        elif operator == "cm" and len(operands) == 6:
            ctm = Affine(*(float(v) for v in operands)).then(ctm)
        elif operator == "Do" and len(operands) == 1 and drawn is None:
            resources = page.obj.get("/Resources")  # pikepdf.open copied any inherited /Resources onto the page
            xobjects = resources.get("/XObject") if isinstance(resources, pikepdf.Dictionary) else None
            image = xobjects.get(str(operands[0])) if isinstance(xobjects, pikepdf.Dictionary) else None
            if not isinstance(image, pikepdf.Stream) or image.get("/Subtype") != pikepdf.Name.Image:
                return None
            drawn = (image, ctm)
        else:
            return None  # anything else drawn (text, paths, a second image) needs the page rendered
    if drawn is None:
        return None
    image, placement = drawn
    try:
        to_view_unit = geometry.view_unit_to_user().inverse()
        placed = placement.then(to_view_unit)  # image unit square -> displayed page's unit square
    except ValueError:
        return None
    for turn in (0, 90, 180, 270):
        # Turning the image ``turn`` degrees makes it the displayed page when placed == inverse(unit_rotation).
        if placed.close_to(unit_rotation(turn).inverse(), IMAGE_FIT_TOLERANCE):
            return image, placement, turn
    return None


def _image_payload(image: pikepdf.Stream) -> tuple[bytes, ImageKind] | None:
    """The image as Tesseract can read it without loss: JPEG bytes as embedded, or decoded to PNM."""
    try:
        width, height = int(image.get("/Width", 0)), int(image.get("/Height", 0))
        bits = int(image.get("/BitsPerComponent", 0))
    except (TypeError, ValueError):
        return None
    if width <= 0 or height <= 0 or width * height > MAX_PAGE_PIXELS:
        return None
    # Masks, decode arrays and odd colour spaces change what the image looks like: let PDFium render those.
    if any(key in image for key in ("/SMask", "/Mask", "/Decode")) or bool(image.get("/ImageMask", False)):
        return None
    if bits not in (1, 8) or not _simple_colour(image):
        return None
    filters = _filters(image)
    try:
        if filters == ["/DCTDecode"] and bits == 8:
            return bytes(image.read_raw_bytes()), "jpeg"
        decoded = pikepdf.PdfImage(image).as_pil_image()
        if decoded.mode not in ("1", "L", "RGB"):
            return None
        buffer = io.BytesIO()
        decoded.save(buffer, format="PPM")  # P4/P5/P6 by mode: lossless and nearly free to write and read
        return buffer.getvalue(), "pnm"
    except (pikepdf.PikepdfError, NotImplementedError, ValueError, OSError) as exc:
        log.debug("embedded image not extracted (%s); rendering the page instead", type(exc).__name__)
        return None


def _plan_page(
    number: int,
    page: pikepdf.Page,
    text_page: pdfium.PdfPage,
    pdf_path: Path,
    *,
    languages: str,
    dpi: int,
    page_timeout: float,
    osd: bool,
    ocr: bool = True,
) -> PageResult | _Plan:
    """A finished text-layer result, or the plan to OCR the page. Without ``ocr``, any usable text layer is kept
    (even a short one over a scanned image, which OCR would otherwise redo)."""
    geometry = PageGeometry.of(page)
    width, height = geometry.view_size()
    raw = _page_text(text_page)
    quality = assess_text_layer(raw)
    if quality.usable and (
        not ocr
        or quality.letters >= SUBSTANTIAL_TEXT_LETTERS
        or _image_coverage(text_page, geometry) < IMAGE_COVERAGE_FOR_OCR
    ):
        return PageResult(number, "text-layer", text=_clean_text(raw), width=width, height=height)
    log.debug("page %d: OCR (%s)", number, quality.reason or "short text over a scanned image")
    job = _Job(number, str(pdf_path), None, None, 0, float(dpi), languages, page_timeout, osd)
    found = _full_page_image(page, geometry)
    if found is not None:
        image, placement, turn = found
        payload = _image_payload(image)
        if payload is not None:
            pixels_wide = int(image.get("/Height" if turn in (90, 270) else "/Width", 0))
            image_dpi = pixels_wide * 72.0 / width
            job = replace(job, image=payload[0], image_kind=payload[1], pre_rotate=turn, dpi=image_dpi)
            return _Plan(job, geometry, unit_rotation(turn).then(placement))
    scale = dpi / 72.0
    if width * height * scale * scale > MAX_PAGE_PIXELS:
        scale = math.sqrt(MAX_PAGE_PIXELS / (width * height))
    return _Plan(replace(job, dpi=scale * 72.0), geometry, geometry.view_unit_to_user())


# --------------------------------------------------------------------------------------------------------------
# OCR of one page (worker process)
# --------------------------------------------------------------------------------------------------------------

_TRANSPOSE_CLOCKWISE: dict[int, Image.Transpose] = {
    90: Image.Transpose.ROTATE_270,  # Pillow's ROTATE_n turns counter-clockwise
    180: Image.Transpose.ROTATE_180,
    270: Image.Transpose.ROTATE_90,
}

_PAGE_ERRORS: tuple[type[BaseException], ...] = (
    ToolError,
    OSError,  # includes PIL.UnidentifiedImageError
    ValueError,
    pdfium.PdfiumError,
    Image.DecompressionBombError,
    MemoryError,
)


class PdfiumPages:
    """A PDFium document read page by page, closed and opened again every ``PDFIUM_REOPEN_PAGES`` pages.

    PDFium keeps every page it has parsed, image streams included, until its document is closed: about the size of
    a scanned page's image (0.3 MB at 300 dpi), so a long scan read through one handle holds its whole file. Each
    page must be closed before the next is asked for.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = path
        self.doc = pdfium.PdfDocument(path)
        self.loaded = 0

    def __getitem__(self, index: int) -> pdfium.PdfPage:
        if self.loaded >= PDFIUM_REOPEN_PAGES:
            self.doc.close()
            self.doc = pdfium.PdfDocument(self.path)
            self.loaded = 0
        self.loaded += 1
        return self.doc[index]

    def close(self) -> None:
        self.doc.close()


_worker_doc: tuple[str, PdfiumPages] | None = None


def _render_doc(path: str) -> PdfiumPages:
    """This process's PDFium handle on ``path`` (kept open across the pages of one document)."""
    global _worker_doc
    if _worker_doc is not None and _worker_doc[0] == path:
        return _worker_doc[1]
    _close_render_doc()
    doc = PdfiumPages(path)
    _worker_doc = (path, doc)
    return doc


def _close_render_doc() -> None:
    global _worker_doc
    if _worker_doc is not None:
        _worker_doc[1].close()
        _worker_doc = None


def _turn(image: Image.Image, degrees: int) -> Image.Image:
    return image.transpose(_TRANSPOSE_CLOCKWISE[degrees]) if degrees % 360 else image


def _ink_share(image: Image.Image) -> float:
    """Share of pixels far from the paper's grey level (the median), on a copy ~1,200 pixels on its short side.

    Measured both ways, so white text on a dark page counts as ink too.
    """
    grey = image if image.mode == "L" else image.convert("L")
    factor = max(1, min(grey.size) // 1200)
    if factor > 1:
        grey = grey.reduce(factor)
    histogram = grey.histogram()
    total = sum(histogram)
    if not total:
        return 0.0
    seen = 0
    paper = 255
    for level, count in enumerate(histogram):
        seen += count
        if seen * 2 >= total:
            paper = level
            break
    far = sum(histogram[: max(0, paper - INK_CONTRAST)]) + sum(histogram[paper + INK_CONTRAST + 1 :])
    return far / total


def _remaining(deadline: float, timeout: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise ToolTimeout(f"The page took longer than the OCR timeout ({timeout:g} s).")
    return left


@dataclass
class _Recognised:
    words: list[tesseract.TsvWord]
    pdf: bytes
    size: tuple[int, int]

    @property
    def score(self) -> float:
        """Mean word confidence, -1 without words, and 50 less when most words stand on end.

        Tesseract reads some sideways pages well as vertical text, but such a page is still displayed sideways;
        the penalty makes it go through OSD and prefer the upright reading.
        """
        if not self.words:
            return -1.0
        mean = sum(w.conf for w in self.words) / len(self.words)
        long_words = [w for w in self.words if len(w.text) >= 3]
        upright = sum(1 for w in long_words if w.height > w.width)
        return mean - VERTICAL_TEXT_PENALTY if upright * 2 > len(long_words) else mean


def _recognise(path: Path, size: tuple[int, int], job: _Job, deadline: float) -> _Recognised:
    dpi = max(MIN_TESSERACT_DPI, round(job.dpi))
    timeout = _remaining(deadline, job.timeout)
    output = tesseract.ocr_image(path, languages=job.languages, dpi=dpi, timeout=timeout)
    return _Recognised(tesseract.parse_tsv(output.tsv), output.pdf, size)


def _open_loaded(path: Path, *, draft_size: tuple[int, int] | None = None) -> Image.Image:
    """Decode an image file and close it; with ``draft_size`` a JPEG is decoded scaled down (DCT scaling)."""
    with Image.open(path) as opened:
        if draft_size is not None:
            opened.draft("L", draft_size)
        opened.load()
        return opened.copy()


def _load_base(job: _Job, folder: Path) -> tuple[Path, Image.Image, tuple[int, int]]:
    """Write the image Tesseract reads; return its path, an image of it for checks, and its full pixel size.

    A JPEG that needs no turning is written as it is (no re-encoding) and decoded only at half size for the
    ink check; anything else is decoded, turned if needed and written as PNM (or written as given).
    """
    if job.image is not None and job.image_kind == "jpeg" and job.pre_rotate == 0:
        path = folder / "page.jpg"
        path.write_bytes(job.image)
        with Image.open(path) as header:
            size = header.size
        preview = _open_loaded(path, draft_size=(max(1, size[0] // 2), max(1, size[1] // 2)))
        return path, preview, size
    if job.image is not None:
        with Image.open(io.BytesIO(job.image)) as opened:
            opened.load()
            image = _turn(opened, job.pre_rotate)
        if job.image_kind == "pnm" and job.pre_rotate == 0:
            path = folder / "page.pnm"
            path.write_bytes(job.image)
            return path, image, image.size
    else:
        doc = _render_doc(job.pdf_path)
        page = doc[job.number - 1]
        try:
            bitmap = page.render(scale=job.dpi / 72.0, grayscale=True)
            try:
                image = bitmap.to_pil().copy()
            finally:
                bitmap.close()
        finally:
            page.close()
        if image.mode not in ("1", "L", "RGB"):
            image = image.convert("L")
    path = folder / "page.pnm"
    image.save(path, format="PPM")
    return path, image, image.size


def _ocr_page(job: _Job, folder: Path) -> _Outcome:
    started = time.monotonic()
    deadline = started + job.timeout
    path, image, size = _load_base(job, folder)
    ink = _ink_share(image)
    if ink < BLANK_INK_SHARE:
        return _Outcome(job.number, "blank", seconds=time.monotonic() - started)
    best = _recognise(path, size, job, deadline)
    calls, osd_rotate = 1, 0
    if job.osd and best.score < OSD_TRIGGER_CONFIDENCE:
        try:
            full = image if image.size == size else _open_loaded(path)
            factor = max(1, round(job.dpi / OSD_DPI))
            small = full.convert("L").reduce(factor) if factor > 1 else full.convert("L")
            osd_path = folder / "osd.pnm"
            small.save(osd_path, format="PPM")
            orientation = tesseract.detect_orientation(
                osd_path,
                dpi=max(MIN_TESSERACT_DPI, round(job.dpi / factor)),
                timeout=_remaining(deadline, job.timeout),
            )
            calls += 1
            if orientation.rotate and orientation.confidence >= OSD_MIN_CONFIDENCE:
                turned = _turn(full, orientation.rotate)
                turned_path = folder / "turned.pnm"
                turned.save(turned_path, format="PPM")
                second = _recognise(turned_path, turned.size, job, deadline)
                calls += 1
                if second.score > best.score:
                    best, osd_rotate = second, orientation.rotate
        except ToolError as exc:
            # The first result stands; a second opinion that failed or ran out of time is not a page failure.
            log.debug("page %d: orientation check abandoned (%s)", job.number, exc.log_summary())
    if not best.words and ink < BLANK_AFTER_OCR_INK_SHARE:
        return _Outcome(job.number, "blank", ocr_calls=calls, seconds=time.monotonic() - started)
    return _Outcome(
        job.number,
        "ocr",
        words=best.words,
        pdf=best.pdf,
        image_size=best.size,
        osd_rotate=osd_rotate,
        ocr_calls=calls,
        seconds=time.monotonic() - started,
    )


def _failure_reason(exc: BaseException) -> str:
    if isinstance(exc, CasefileError):
        return exc.message
    if isinstance(exc, MemoryError):
        return "the page image is too large to process (out of memory)"
    return f"the page image could not be read or rendered ({type(exc).__name__})"


def _run_job(job: _Job) -> _Outcome:
    """OCR one page in this process; every failure of the page becomes a "failed" outcome with its reason. Its
    temporary files go beside the document's PDF (a work folder of the home, removed even after a kill); a full or
    failing disk there is the machine's, not the page's: raised, and nothing is recorded about the page."""
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="ocr-page-", dir=Path(job.pdf_path).parent) as tmp:
        try:
            return _ocr_page(job, Path(tmp))
        except _PAGE_ERRORS as exc:
            if is_environment_error(exc):
                raise
            log.debug("page %d: failed (%s)", job.number, type(exc).__name__)
            return _Outcome(job.number, "failed", error=_failure_reason(exc), seconds=time.monotonic() - started)


# --------------------------------------------------------------------------------------------------------------
# Running pages: in this process or in a bounded process pool
# --------------------------------------------------------------------------------------------------------------


def _pool_context() -> multiprocessing.context.BaseContext:
    # forkserver: workers start from a small clean process, not a copy of this one with its PDF handles,
    # language models and (under Prefect) threads; spawn where forkserver does not exist.
    short_socket_dir()  # the forkserver's socket path must be short, whatever TMPDIR is
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    # The server imports this module once (besides __main__, the default); pools then start without importing it.
    # (No effect once the server runs.)
    context.set_forkserver_preload(["__main__", "casefile.tasks.documents.ocr"])
    return context


class _Runner:
    """Submits page jobs with at most ``2 * workers`` in flight; yields outcomes as pages finish.

    If a worker process dies (killed for memory, a crash in a library), the pool is rebuilt and the pages that
    were in flight are tried once more; a page in flight at a second death is recorded as failed.
    """

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.window = 2 * workers
        self.in_flight: dict[cf.Future[_Outcome], _Job] = {}
        self.executor: cf.ProcessPoolExecutor | None = None  # started with the first page to OCR

    def _new_executor(self) -> cf.ProcessPoolExecutor:
        # Workers (and their Tesseract) end with this process even when it is killed with SIGKILL.
        return cf.ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=_pool_context(),
            initializer=pool_worker_start,
            initargs=(os.getpid(),),
        )

    def submit(self, job: _Job) -> list[_Outcome]:
        if self.workers == 1:
            return [_run_job(job)]
        if self.executor is None:
            self.executor = self._new_executor()
        finished: list[_Outcome] = []
        while len(self.in_flight) >= self.window:
            finished += self._wait()
        self.in_flight[self.executor.submit(_run_job, job)] = job
        return finished

    def drain(self) -> Iterator[_Outcome]:
        while self.in_flight:
            yield from self._wait()

    def _wait(self) -> list[_Outcome]:
        done, _ = cf.wait(self.in_flight, return_when=cf.FIRST_COMPLETED)
        outcomes: list[_Outcome] = []
        broken: list[_Job] = []
        for future in done:
            job = self.in_flight.pop(future)
            try:
                outcomes.append(future.result())
            except BrokenProcessPool:
                broken.append(job)
        if broken:
            outcomes += self._recover(broken)
        return outcomes

    def _recover(self, broken: list[_Job]) -> list[_Outcome]:
        jobs = broken + list(self.in_flight.values())
        self.in_flight.clear()
        assert self.executor is not None
        self.executor.shutdown(wait=True, cancel_futures=True)
        self.executor = self._new_executor()
        log.warning("an OCR worker process died; retrying %d page(s) in a new pool", len(jobs))
        failed: list[_Outcome] = []
        for job in jobs:
            if job.attempt >= 2:
                failed.append(_Outcome(job.number, "failed", error="the OCR worker process died twice on this page"))
            else:
                retry = replace(job, attempt=job.attempt + 1)
                self.in_flight[self.executor.submit(_run_job, retry)] = retry
        return failed

    def close(self) -> None:
        if self.executor is not None:
            self.executor.shutdown(wait=True, cancel_futures=True)
            self.executor = None
        if self.workers == 1:
            _close_render_doc()


# --------------------------------------------------------------------------------------------------------------
# Results and grafting (main process)
# --------------------------------------------------------------------------------------------------------------


def _words_text(words: list[tesseract.TsvWord]) -> str:
    """Tesseract's words as text: a line per line, a blank line between paragraphs."""
    out: list[str] = []
    line: list[str] = []
    last: tuple[int, int, int] | None = None
    for word in words:
        key = (word.block, word.par, word.line)
        if last is not None and key != last:
            out.append(" ".join(line))
            line = []
            if key[:2] != last[:2]:
                out.append("")
        line.append(word.text)
        last = key
    if line:
        out.append(" ".join(line))
    return "\n".join(out)


class _Grafter:
    """Adds Tesseract's invisible text to pages of ``pdf`` (the open input, saved later under a new name).

    Text-only pages arrive one by one from the workers. Each is checked and appended to a chunk PDF of
    ``TEXT_CHUNK_PAGES`` pages, which is written to ``folder`` when full; the small text-only PDFs are then closed.
    ``assemble`` grafts the pages from those files when the searchable PDF is written (pikepdf copies foreign
    stream data lazily: it is read from the chunk files during the save). So this process holds at most one
    chunk's pages, not every page's text layer, however long the scan.
    """

    def __init__(self, pdf: pikepdf.Pdf, folder: Path) -> None:
        self.pdf = pdf
        self.folder = folder
        self.count = 0
        self.font: pikepdf.Object | None = None
        self.chunk: pikepdf.Pdf | None = None
        self.sources: list[pikepdf.Pdf] = []  # the open text-only PDFs of the chunk being gathered
        self.entries: list[tuple[int, Affine]] = []  # (page number, OCR unit square -> user space) of that chunk
        self.chunks: list[tuple[Path, list[tuple[int, Affine]]]] = []
        self.opened: list[pikepdf.Pdf] = []  # chunk files open for the save

    def add(self, number: int, text_pdf: bytes, ocr_unit_to_user: Affine) -> None:
        """Keep page ``number``'s text-only PDF for grafting. Raises ``pikepdf.PikepdfError`` if it is unreadable
        (nothing is kept then)."""
        source = pikepdf.open(io.BytesIO(text_pdf))
        try:
            text_page = source.pages[0]
            text_page.as_form_xobject()  # what assemble() makes of it: fails here, for this page alone
            if self.chunk is None:
                self.chunk = pikepdf.new()
            self.chunk.pages.append(text_page)
        except BaseException:
            source.close()
            raise
        self.sources.append(source)
        self.entries.append((number, ocr_unit_to_user))
        self.count += 1
        if len(self.entries) >= TEXT_CHUNK_PAGES:
            self._write_chunk()

    def _write_chunk(self) -> None:
        if self.chunk is None:
            return
        path = self.folder / f"text-{len(self.chunks):05d}.pdf"
        self.chunk.save(path)
        self.chunk.close()
        self.chunk = None
        self._close_sources()
        self.chunks.append((path, self.entries))
        self.entries = []

    def assemble(self) -> None:
        """Graft every kept text-only page onto its page of ``pdf``, reading them from the chunk files (which stay
        open until ``close``: the save reads their streams)."""
        self._write_chunk()
        kept: list[tuple[int, pikepdf.Pdf, int, Affine]] = []
        for path, entries in self.chunks:
            chunk = pikepdf.open(path)
            self.opened.append(chunk)
            kept += [(number, chunk, index, matrix) for index, (number, matrix) in enumerate(entries)]
        # In page order, whatever order the workers finished in: the same input gives the same file.
        for number, chunk, index, ocr_unit_to_user in sorted(kept, key=lambda k: k[0]):
            self._graft(self.pdf.pages[number - 1], chunk.pages[index], ocr_unit_to_user)

    def _graft(self, page: pikepdf.Page, text_page: pikepdf.Page, ocr_unit_to_user: Affine) -> None:
        box = [float(v) for v in text_page.mediabox]
        points_to_unit = Affine(1 / (box[2] - box[0]), 0, 0, 1 / (box[3] - box[1]), 0, 0)
        matrix = Affine(1, 0, 0, 1, -box[0], -box[1]).then(points_to_unit).then(ocr_unit_to_user)
        form = self.pdf.copy_foreign(text_page.as_form_xobject())
        self._share_font(form)
        resources = page.obj.get("/Resources")
        # Shallow copies: a /Resources or /XObject dictionary shared with other pages must not change for them.
        new_resources = pikepdf.Dictionary(dict(resources.items()) if isinstance(resources, pikepdf.Dictionary) else {})
        xobjects = new_resources.get("/XObject")
        new_xobjects = pikepdf.Dictionary(dict(xobjects.items()) if isinstance(xobjects, pikepdf.Dictionary) else {})
        name = OCR_XOBJECT_PREFIX
        suffix = 0
        while name in new_xobjects:
            suffix += 1
            name = f"{OCR_XOBJECT_PREFIX}{suffix}"
        new_xobjects[name] = form
        new_resources["/XObject"] = new_xobjects
        page.obj["/Resources"] = new_resources
        # Drawn first, inside q/Q: the original content stream is left as it is and runs in the state it expects.
        draw = b"q " + matrix.pdf_operands() + b" cm " + name.encode("ascii") + b" Do Q\n"
        page.contents_add(pikepdf.Stream(self.pdf, draw), prepend=True)

    def _share_font(self, form: pikepdf.Object) -> None:
        """Every text-only page carries the same GlyphLessFont; keep one copy in the output."""
        resources = form.get("/Resources")
        fonts = resources.get("/Font") if isinstance(resources, pikepdf.Dictionary) else None
        if not isinstance(fonts, pikepdf.Dictionary):
            return
        for key in list(fonts.keys()):
            font = fonts[key]
            if font.get("/BaseFont") != pikepdf.Name("/GlyphLessFont"):
                continue
            if self.font is None:
                self.font = font
            else:
                fonts[key] = self.font

    def _close_sources(self) -> None:
        for source in self.sources:
            source.close()
        self.sources.clear()

    def close(self) -> None:
        if self.chunk is not None:
            self.chunk.close()
            self.chunk = None
        self._close_sources()
        for chunk in self.opened:
            chunk.close()
        self.opened.clear()


def _finish(
    outcome: _Outcome,
    plan: _Plan,
    page: pikepdf.Page,
    grafter: _Grafter,
    *,
    fix_rotation: bool,
    min_confidence: float,
) -> PageResult:
    geometry = plan.geometry
    width, height = geometry.view_size()
    if outcome.status != "ocr":
        return PageResult(
            outcome.number, outcome.status, error=outcome.error, width=width, height=height, seconds=outcome.seconds
        )
    rotate = (geometry.rotate + outcome.osd_rotate) % 360 if fix_rotation else geometry.rotate
    ocr_unit_to_user = unit_rotation(outcome.osd_rotate).then(plan.base_to_user)
    image_w, image_h = outcome.image_size
    pixels_to_unit = Affine(1 / image_w, 0, 0, -1 / image_h, 0, 1)
    to_view = pixels_to_unit.then(ocr_unit_to_user).then(geometry.user_to_view_points(rotate))
    words: list[Word] = []
    for w in outcome.words:
        corners = [to_view.apply(x, y) for x in (w.left, w.left + w.width) for y in (w.top, w.top + w.height)]
        xs, ys = [c[0] for c in corners], [c[1] for c in corners]
        words.append(Word(w.text, round(w.conf, 2), *(round(v, 2) for v in (min(xs), min(ys), max(xs), max(ys)))))
    confidence = round(sum(w.conf for w in words) / len(words), 2) if words else None
    if outcome.pdf is not None and words:
        try:
            grafter.add(outcome.number, outcome.pdf, ocr_unit_to_user)
        except pikepdf.PikepdfError as exc:
            log.warning("page %d: text layer not added (%s)", outcome.number, type(exc).__name__)
            error = "Tesseract's text layer could not be added to the page (unreadable text-only PDF)."
            return PageResult(outcome.number, "failed", error=error, width=width, height=height)
        if fix_rotation and rotate != geometry.rotate:
            page.obj["/Rotate"] = rotate
    view_w, view_h = geometry.view_size(rotate)
    return PageResult(
        outcome.number,
        "ocr",
        text=_words_text(outcome.words),
        confidence=confidence,
        words=words,
        # No words on a page with ink (a photo, handwriting) is worth a look too.
        low_confidence=confidence is None or confidence < min_confidence,
        rotation_applied=outcome.osd_rotate,
        width=view_w,
        height=view_h,
        seconds=outcome.seconds,
    )


def _plan_one(
    number: int,
    page: pikepdf.Page,
    text_doc: PdfiumPages,
    pdf: Path,
    languages: str,
    dpi: int,
    page_timeout: float,
    osd: bool,
    ocr: bool = True,
) -> PageResult | _Plan:
    text_page = text_doc[number - 1]
    try:
        return _plan_page(
            number, page, text_page, pdf, languages=languages, dpi=dpi, page_timeout=page_timeout, osd=osd, ocr=ocr
        )
    finally:
        text_page.close()


def _with_language(result: PageResult, candidates: tuple[str, ...]) -> PageResult:
    if result.text:
        guess = langid.detect_language(result.text, languages=candidates)
        result.language, result.languages = guess.language, guess.shares
    return result


def _write_atomically(pdf: pikepdf.Pdf, out_pdf: Path) -> None:
    out_pdf.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=out_pdf.parent, prefix=f".{out_pdf.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as fh:
            # No decoding and no compressing: every existing stream (images, content) is written byte for byte.
            pdf.save(
                fh, compress_streams=False, stream_decode_level=pikepdf.StreamDecodeLevel.none, deterministic_id=True
            )
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, out_pdf)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


# --------------------------------------------------------------------------------------------------------------
# The stage
# --------------------------------------------------------------------------------------------------------------


def ocr_document(
    pdf: Path,
    out_pdf: Path,
    *,
    languages: str = DEFAULT_LANGUAGES,
    workers: int = 2,
    page_timeout: float = 120.0,
    min_confidence: float = 70.0,
    dpi: int = 300,
    osd: bool = True,
    fix_rotation: bool = True,
    language_candidates: tuple[str, ...] | None = None,
    ocr: bool = True,
    spool_folder: Path | None = None,
) -> DocumentOcr:
    """OCR the pages of ``pdf`` that need it and write the searchable PDF to ``out_pdf`` (a new file).

    ``languages`` is a Tesseract spec ("eng+spa"); ``workers`` the number of OCR processes (1: no pool, run
    here); ``page_timeout`` the seconds one page may take in Tesseract (OCR, OSD and the re-OCR together);
    ``min_confidence`` the mean word confidence under which a page is flagged ``low_confidence``; ``dpi`` the
    resolution pages are rendered at when they are not one embedded image; ``osd`` whether poorly recognised
    pages get an orientation check; ``fix_rotation`` whether pages OSD found sideways get a /Rotate that makes
    them read upright in the searchable PDF. ``language_candidates`` are the ISO 639-1 codes language
    identification chooses from (default: those of ``languages`` plus English and Spanish). ``ocr=False`` (the
    ``ocr_enabled`` setting off) reads text layers only: pages that would need OCR are recorded as "skipped",
    nothing is rendered and Tesseract is never called. With ``spool_folder``, each page's result is written there
    (an unnamed file) as soon as it and the pages before it are done, and ``DocumentOcr.pages`` reads them back
    one at a time (a ``PageSpool``): memory does not grow with the page count. Otherwise they are kept in a list.

    The input is never modified. ``out_pdf`` is written (atomically) only when at least one page got an OCR
    text layer; ``DocumentOcr.searchable_pdf`` is None otherwise. Raises ``QuarantinedFile`` if the PDF cannot
    be opened, ``ValueError`` for bad arguments; page failures are recorded in the result, not raised.
    Check Tesseract first with ``casefile.tasks.documents.tesseract.check_languages(languages)``.
    """
    if workers < 1:
        raise ValueError("workers must be at least 1")
    if page_timeout <= 0 or dpi < MIN_TESSERACT_DPI:
        raise ValueError("page_timeout must be positive and dpi at least 70")
    if out_pdf.resolve() == pdf.resolve():
        raise ValueError("the searchable PDF must be a new file, not the input")
    candidates = language_candidates or tuple(
        dict.fromkeys(langid.from_tesseract(languages) + langid.DEFAULT_LANGUAGES)
    )
    started = time.monotonic()
    pages: Sequence[PageResult]
    sink: Callable[[PageResult], None]
    if spool_folder is not None:
        spool = PageSpool(spool_folder)
        pages, sink = spool, spool.append
    else:
        kept: list[PageResult] = []
        pages, sink = kept, kept.append
    ordered = _InOrder(sink)
    plans: dict[int, _Plan] = {}
    with contextlib.ExitStack() as stack:
        try:
            source = stack.enter_context(pikepdf.open(pdf))
            text_doc = PdfiumPages(pdf)
        except pikepdf.PasswordError:
            raise QuarantinedFile(QuarantineReason.ENCRYPTED) from None
        except (pikepdf.PikepdfError, pdfium.PdfiumError, OSError) as exc:
            raise QuarantinedFile(
                QuarantineReason.CORRUPT, f"the PDF cannot be opened for OCR ({type(exc).__name__})"
            ) from None
        stack.callback(text_doc.close)
        out_pdf.parent.mkdir(parents=True, exist_ok=True)
        chunks = stack.enter_context(tempfile.TemporaryDirectory(dir=out_pdf.parent, prefix=".ocr-text-"))
        grafter = _Grafter(source, Path(chunks))
        stack.callback(grafter.close)
        runner = _Runner(workers)
        stack.callback(runner.close)

        def finish(outcome: _Outcome) -> None:
            plan = plans.pop(outcome.number)
            result = _finish(
                outcome,
                plan,
                source.pages[outcome.number - 1],
                grafter,
                fix_rotation=fix_rotation,
                min_confidence=min_confidence,
            )
            # Identified while the workers are busy with the next pages.
            ordered.put(_with_language(result, candidates))
            log.debug(
                "page %d: %s in %.2f s (%d Tesseract calls)",
                outcome.number,
                outcome.status,
                outcome.seconds,
                outcome.ocr_calls,
            )

        for index, page in enumerate(source.pages):
            number = index + 1
            try:
                planned = _plan_one(number, page, text_doc, pdf, languages, dpi, page_timeout, osd, ocr)
            except (pikepdf.PikepdfError, pdfium.PdfiumError, ValueError, TypeError) as exc:
                log.warning("page %d: cannot be read (%s)", number, type(exc).__name__)
                reason = f"the page cannot be read ({type(exc).__name__}); it is copied as it is"
                ordered.put(PageResult(number, "failed", error=reason))
                continue
            if isinstance(planned, PageResult):
                ordered.put(_with_language(planned, candidates))
                continue
            if not ocr:
                ordered.put(PageResult(number, "skipped"))
                continue
            plans[number] = planned
            for outcome in runner.submit(planned.job):
                finish(outcome)
        for outcome in runner.drain():
            finish(outcome)
        runner.close()
        if ordered.early:  # every page gives exactly one result; a gap would be a bug here
            raise RuntimeError(f"OCR results missing for {len(ordered.early)} page(s) after page {ordered.emitted}")

        searchable: Path | None = None
        if grafter.count:
            grafter.assemble()
            _write_atomically(source, out_pdf)
            searchable = out_pdf
    counts = {kind: ordered.counts.get(kind, 0) for kind in ("ocr", "text-layer", "failed", "blank")}
    elapsed = time.monotonic() - started
    log.info(
        "OCR: %d pages (%d text layer, %d OCR, %d blank, %d failed) in %.1f s",
        len(pages),
        counts["text-layer"],
        counts["ocr"],
        counts["blank"],
        counts["failed"],
        elapsed,
    )
    return DocumentOcr(
        pages=pages,
        searchable_pdf=searchable,
        ocr_pages=counts["ocr"],
        text_pages=counts["text-layer"],
        failed_pages=counts["failed"],
        blank_pages=counts["blank"],
        seconds=elapsed,
    )
