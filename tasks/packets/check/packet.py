"""The pre-filing check of a packet (`casefile packet check`): a PDF, or the parts of one split packet, against a
filing profile (config/profiles/<name>.toml).

``check_packet(paths, profile)`` returns a ``CheckReport`` of ``Finding``s (a stable code, a severity, the file
name and the 1-based page in that file); only a file that cannot be read as a PDF at all raises
(``PacketCheckError``). The packet builder runs the same check on its own output before declaring a build
finished.

What is checked, and the conventions of the builder it relies on (tasks/packets/build.py and tasks/packets/layout.py):

- ``encrypted``: a packet must open without a password. One that opens with the empty password is still reported
  and checked; one that does not is reported and not checked further.
- ``page-size``: every page's viewed size (CropBox, else MediaBox; /Rotate 90/270 swaps width and height) is the
  profile's [page] size, within ``SIZE_TOLERANCE_PT``. A page of the right size printed sideways (landscape) is a
  ``page-orientation`` warning: courts accept it, but the stamp band is then on a long edge.
- ``too-large``: each file at most [size_limit] max_bytes (0: no limit).
- ``page-number-missing`` / ``numbering-gap`` ([page_numbers] enabled): each page carries its number, formatted by
  [page_numbers] format ("{n}"), as one text run of its own inside the stamp band: ``STAMP_BAND_PT`` (0.75 in) from
  the viewed page's bottom edge (top edge for position "top-right"), or further when offset + font size need more.
  Numbers run consecutively across all pages of all parts given; the first may be anything (reported per file).
- ``stamp-missing`` / ``stamp-mismatch`` / ``stamp-unexpected`` ([stamp] enabled, USCIS): every exhibit page
  carries [stamp] format ("Exhibit {label}, page {i} of {n}") in its band, with the exhibit's label, i running
  1..n over the exhibit's pages (tab page, document, translation, certificate) and n their count; front matter
  carries none when stamp_front_matter is false (it is not checked when true).
- ``page-labels`` ([exhibits] page_labels): /PageLabels gives each page the number printed on it, in decimal
  style (/S /D, /St = the file's first number; no prefix).
- ``no-outline`` / ``outline-mismatch`` / ``outline-order`` / ``outline-broken`` ([exhibits] bookmarks): top-level
  bookmarks in page order are the front matter titles ("Cover page" or "Cover letter", then [exhibits] list_title),
  one per exhibit titled "<tab_label> <label>: <title>" (e.g. "Exhibit A: Birth certificate", "Exhibit 1: ...")
  pointing at the exhibit's first page (its tab page when there are tabs), then the back matter ("Certificate of
  service"). An exhibit's children may be "Document", "English translation", "Translator's certificate". In a
  split packet each part has the bookmarks of its own pages; an exhibit cut by a split starts the next part with
  "<its title> (continued)".
- ``list-missing`` / ``list-unreadable`` / ``list-entry-missing`` / ``list-entry-extra`` / ``range-mismatch``: the
  exhibit list (the pages from the list bookmark up to the first exhibit; in part 1 of a split packet) is a table
  whose rows' first text line holds the tab label in the leftmost column and the pages in the rightmost column,
  printed "5-12", "5–12" (en dash) or "5". Each exhibit's printed range must be the printed numbers of its first
  page (where its bookmark points) and of the page before the next top-level bookmark (or the packet's end).
  Without page numbers (USCIS) the numbers are positions in the packet counted from [page_numbers] start.
- ``translation-missing``: an exhibit whose document pages (from its "Document" child, else the page after its tab
  page, up to its "English translation" child or the next exhibit) have a text layer that documents/language.py finds
  non-English needs "English translation" and, when [translations] certificate, "Translator's certificate"
  children. An error when translations are expected, else a warning. Only the first ``LANGUAGE_SAMPLE_PAGES``
  pages are read; pages without text (scans without OCR) cannot be told apart and give no finding.
- ``font-not-embedded``: every font in the resources of every page, of the form XObjects and tiling patterns they
  use (nested), and of annotation appearance streams has its font program embedded (FontFile, FontFile2,
  FontFile3; Type3 fonts are embedded by nature). Fonts listed in resources count as used. One of the 14 standard
  fonts (Helvetica, Times, Courier, Symbol, ZapfDingbats; also their Arial/Times New Roman/Courier New aliases)
  not embedded is a warning: every reader and printer has them. Any other font is an error.
- ``qpdf-check``: ``qpdf --check`` passes (exit 0), run by ``casefile.tasks.packets.qpdf_child`` with the qpdf
  library pikepdf bundles (QPDFJob, the code of the ``qpdf`` command; see that module for why not Debian's qpdf
  11.3); otherwise qpdf's first problem line (its fatal error, when there is one), with the path reduced to the
  file name (qpdf prints no document text).

Findings never quote page text, exhibit titles or names: only file names, page numbers, labels, codes, counts and
font names. A problem repeated on many pages gives ``MAX_FINDINGS_PER_CODE`` findings per file and code, then one
that counts the rest.

Text is read with pdfium (pypdfium2), structure (boxes, fonts, outline, labels) with pypdf. pypdf's
``extract_text(visitor_text=...)`` gives positions too, but costs about 32 ms per text-heavy page (measured:
64 s for 2,000 pages) against about 1 ms with pdfium, and every page's band must be read. pdfium's text rectangles
are in PDF user space (neither rotated nor shifted by the CropBox), so they are mapped to the viewed page here.
``qpdf --check`` runs in a process per file while the pages are read.
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
import json
import logging
import re
import statistics
import string
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ...core.errors import ConfigError, PacketCheckError, ToolError, ToolTimeout, ValidationError
from ...core.processes import module_command, module_env
from ..profile import LIST_TEMPLATE, FilingProfile

log = logging.getLogger(__name__)

__all__ = ["CheckReport", "Finding", "check_packet"]

ERROR = "error"
WARNING = "warning"

SIZE_TOLERANCE_PT = 1.0
LANGUAGE_SAMPLE_PAGES = 3  # document pages read per exhibit for language identification
MAX_FINDINGS_PER_CODE = 20  # per file and code; the rest are counted in one more finding
QPDF_TIMEOUT = 300.0  # seconds for `qpdf --check` of one file (about 0.13 s per MB of JPEG scans measured)
MAX_NESTING = 12  # form XObjects inside form XObjects: deeper is treated as a loop

_LABEL = re.compile(r"[A-Z]{1,3}|\d{1,4}")
_RANGE = re.compile(r"(\d{1,6})(?:\s*[-\u2013\u2014]\s*(\d{1,6}))?")
FRONT_TITLES = {  # bookmark titles of template pages: the builder (tasks/packets/build.py outline_for) writes these
    "packet/cover_page.html.j2": "Cover page",
    "packet/uscis_cover_letter.html.j2": "Cover letter",
    "packet/certificate_of_service.html.j2": "Certificate of service",
}
CHILD_DOCUMENT = "Document"
CHILD_TRANSLATION = "English translation"
CHILD_CERTIFICATE = "Translator's certificate"
CONTINUED = " (continued)"


# Report -----------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Finding:
    code: str  # stable machine code ("page-size", "numbering-gap", ...)
    severity: str  # "error" | "warning"
    message: str  # names the file and page and what to do; never page text
    file: str  # file name only
    page: int | None  # 1-based page in that file


@dataclass(frozen=True)
class CheckReport:
    profile: str
    files: list[dict[str, Any]]  # per file: name, pages, bytes, sha256, first_number, last_number
    findings: list[Finding]

    @property
    def ok(self) -> bool:
        """No error-severity finding (warnings allowed)."""
        return not any(f.severity == ERROR for f in self.findings)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == ERROR]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity != ERROR]

    def to_dict(self) -> dict[str, Any]:
        return {
            "profile": self.profile,
            "ok": self.ok,
            "files": [dict(f) for f in self.files],
            "findings": [asdict(f) for f in self.findings],
        }


# Profile ----------------------------------------------------------------------------------------------------------
def _format_regex(fmt: str, fields: Mapping[str, str], what: str) -> re.Pattern[str]:
    """A regex that matches ``fmt`` filled in, with whitespace normalised to single spaces."""
    parts: list[str] = []
    try:
        parsed = list(string.Formatter().parse(fmt))
    except ValueError as exc:
        raise ConfigError(f"The filing profile's {what} {fmt!r} is not a valid format ({exc}).") from None
    seen: set[str] = set()
    for literal, name, _spec, _conv in parsed:
        for token in re.split(r"(\s+)", literal):
            if token:
                parts.append(r"\s+" if token.isspace() else re.escape(token))
        if name is not None:
            if name not in fields:
                raise ConfigError(
                    f"The filing profile's {what} {fmt!r} uses {{{name}}}; it may use {', '.join(fields)}."
                )
            parts.append(f"(?P={name})" if name in seen else f"(?P<{name}>{fields[name]})")
            seen.add(name)
    return re.compile("".join(parts).strip())


@dataclass(frozen=True)
class _Band:
    top: bool  # the band along the viewed page's top edge (position "top-right"), else the bottom edge
    depth: float  # points from that edge


@dataclass(frozen=True)
class _Config:
    name: str
    size_name: str
    size: tuple[float, float]
    max_bytes: int
    numbers: bool
    number_start: int
    number_rx: re.Pattern[str] | None
    number_band: _Band
    stamp: bool
    stamp_rx: re.Pattern[str] | None
    stamp_band: _Band
    stamp_front_matter: bool
    tab_pages: bool
    tab_label: str
    list_title: str
    bookmarks: bool
    page_labels: bool
    translations_required: bool
    certificate: bool
    languages: tuple[str, ...]
    front_titles: tuple[str, ...]
    back_titles: tuple[str, ...]

    @staticmethod
    def from_profile(profile: FilingProfile) -> _Config:
        numbers, stamp, exhibits = profile.page_numbers, profile.stamp, profile.exhibits
        digits = r"\d{1,6}"
        templates = profile.templates.pages
        titles = [exhibits.list_title if t == LIST_TEMPLATE else FRONT_TITLES.get(t, Path(t).stem) for t in templates]
        cut = len(profile.templates.front)
        return _Config(
            name=profile.name,
            size_name=profile.page.size,
            size=(profile.page.width_pt, profile.page.height_pt),
            max_bytes=profile.size_limit.max_bytes,
            numbers=numbers.enabled,
            number_start=numbers.start,
            number_rx=(
                _format_regex(numbers.format, {"n": digits, "total": digits}, "[page_numbers] format")
                if numbers.enabled
                else None
            ),
            number_band=_Band(numbers.on_top, numbers.band_pt),
            stamp=stamp.enabled,
            stamp_rx=(
                _format_regex(stamp.format, {"label": r"[A-Za-z0-9]{1,6}", "i": digits, "n": digits}, "[stamp] format")
                if stamp.enabled
                else None
            ),
            stamp_band=_Band(stamp.on_top, stamp.band_pt) if stamp.enabled else _Band(numbers.on_top, numbers.band_pt),
            stamp_front_matter=stamp.stamp_front_matter,
            tab_pages=exhibits.tab_pages,
            tab_label=exhibits.tab_label,
            list_title=exhibits.list_title,
            bookmarks=exhibits.bookmarks,
            page_labels=exhibits.page_labels,
            translations_required=profile.translations.required,
            certificate=profile.translations.certificate,
            languages=profile.translations.languages or _default_languages(),
            front_titles=tuple(titles[:cut]),
            back_titles=tuple(titles[cut:]),
        )


def _default_languages() -> tuple[str, ...]:
    from ...documents.language import DEFAULT_LANGUAGES

    return DEFAULT_LANGUAGES


# Findings ---------------------------------------------------------------------------------------------------------
class _Findings:
    """Collects findings, capping each (file, code) at MAX_FINDINGS_PER_CODE with one more that counts the rest."""

    def __init__(self) -> None:
        self.items: list[Finding] = []
        self._counts: dict[tuple[str, str], int] = {}
        self._severity: dict[tuple[str, str], str] = {}

    def add(self, code: str, severity: str, file: str, page: int | None, message: str) -> None:
        key = (file, code)
        count = self._counts.get(key, 0) + 1
        self._counts[key] = count
        if count <= MAX_FINDINGS_PER_CODE:
            self.items.append(Finding(code, severity, message, file, page))
        elif severity == ERROR:
            self._severity[key] = ERROR
        else:
            self._severity.setdefault(key, severity)

    def finish(self) -> list[Finding]:
        out = list(self.items)
        for (file, code), count in self._counts.items():
            if count > MAX_FINDINGS_PER_CODE:
                more = count - MAX_FINDINGS_PER_CODE
                out.append(
                    Finding(
                        code,
                        self._severity[(file, code)],
                        f"{file}: {more} more page(s) with the same problem ({code}) are not listed one by one.",
                        file,
                        None,
                    )
                )
        return out


# Geometry ---------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Geometry:
    """A page's CropBox and /Rotate: maps PDF user space to the viewed page (origin bottom-left, upright)."""

    x0: float
    y0: float
    w: float
    h: float
    rotate: int

    @property
    def size(self) -> tuple[float, float]:
        return (self.h, self.w) if self.rotate in (90, 270) else (self.w, self.h)

    def point(self, x: float, y: float) -> tuple[float, float]:
        u, v = x - self.x0, y - self.y0
        if self.rotate == 90:
            return v, self.w - u
        if self.rotate == 180:
            return self.w - u, self.h - v
        if self.rotate == 270:
            return self.h - v, u
        return u, v

    def rect(self, left: float, bottom: float, right: float, top: float) -> tuple[float, float, float, float]:
        ax, ay = self.point(left, bottom)
        bx, by = self.point(right, top)
        return min(ax, bx), min(ay, by), max(ax, bx), max(ay, by)

    def in_band(self, band: _Band, y0: float, y1: float) -> bool:
        middle = (y0 + y1) / 2
        height = self.size[1]
        return middle >= height - band.depth if band.top else middle <= band.depth


@dataclass(frozen=True)
class _Seg:
    """A run of text on one line, in viewed-page points."""

    text: str
    x0: float
    y0: float
    x1: float
    y1: float

    @property
    def center(self) -> float:
        return (self.x0 + self.x1) / 2


# Per-file structure (pypdf) ---------------------------------------------------------------------------------------
@dataclass
class _Entry:
    title: str
    file: int
    page: int  # 0-based page in its file
    g: int  # 0-based page in the whole packet (all parts)
    children: dict[str, int] = field(default_factory=dict)  # child title -> global page


@dataclass
class _File:
    path: Path
    name: str
    bytes: int
    sha256: str
    pages: int = 0
    readable: bool = True  # False: encrypted with a password; not checked further
    geometry: list[_Geometry] = field(default_factory=list)
    entries: list[_Entry] = field(default_factory=list)
    labels: list[str | None] | None = None  # page labels as a viewer shows them; None: no /PageLabels
    offset: int = 0  # global index of its first page


def _hash(path: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def _ref_key(obj: Any) -> tuple[int, int] | None:
    from pypdf.generic import IndirectObject

    return (obj.idnum, obj.generation) if isinstance(obj, IndirectObject) else None


class _FontWalker:
    """Non-embedded fonts reachable from a page, memoised per indirect object (resources, forms and fonts are
    shared by every page in a packet, so each is looked at once)."""

    def __init__(self) -> None:
        self._memo: dict[tuple[int, int], frozenset[str]] = {}
        self._fonts: dict[tuple[int, int], str | None] = {}

    def page(self, page: Any) -> frozenset[str]:
        bad = set(self._resources(page.raw_get("/Resources") if "/Resources" in page else None, 0))
        annots = page.get("/Annots")
        if annots is not None:
            for annot_ref in annots.get_object():
                annot = annot_ref.get_object()
                appearance = annot.get("/AP") if hasattr(annot, "get") else None
                if appearance is None:
                    continue
                for key in ("/N", "/R", "/D"):
                    raw = appearance.raw_get(key) if key in appearance else None
                    if raw is None:
                        continue
                    value = raw.get_object()
                    if hasattr(value, "get_data"):
                        bad |= self._form(raw, 0)
                    elif hasattr(value, "values"):
                        for state in value.values():  # appearance states (/On, /Off)
                            bad |= self._form(state, 0)
        return frozenset(bad)

    def _memoised(self, raw: Any, compute: Any) -> frozenset[str]:
        key = _ref_key(raw)
        if key is None:
            result: frozenset[str] = compute()
            return result
        if key in self._memo:
            return self._memo[key]
        self._memo[key] = frozenset()  # a loop back to this object adds nothing
        result = compute()
        self._memo[key] = result
        return result

    def _resources(self, raw: Any, depth: int) -> frozenset[str]:
        if raw is None or depth > MAX_NESTING:
            return frozenset()

        def compute() -> frozenset[str]:
            from pypdf.generic import DictionaryObject

            res = raw.get_object()
            if not isinstance(res, DictionaryObject):
                return frozenset()
            bad: set[str] = set()
            fonts = res.get("/Font")
            if isinstance(fonts, DictionaryObject):
                for key in fonts:
                    name = self._font(fonts.raw_get(key))
                    if name is not None:
                        bad.add(name)
            for table in ("/XObject", "/Pattern"):
                entries = res.get(table)
                if isinstance(entries, DictionaryObject):
                    for key in entries:
                        bad |= self._form(entries.raw_get(key), depth + 1)
            return frozenset(bad)

        return self._memoised(raw, compute)

    def _form(self, raw: Any, depth: int) -> frozenset[str]:
        """A form XObject, tiling pattern or appearance stream: the fonts of its own resources."""
        if depth > MAX_NESTING:
            return frozenset()

        def compute() -> frozenset[str]:
            obj = raw.get_object()
            if not hasattr(obj, "get") or obj.get("/Subtype") == "/Image" or "/Resources" not in obj:
                return frozenset()
            return self._resources(obj.raw_get("/Resources"), depth + 1)

        return self._memoised(raw, compute)

    def _font(self, raw: Any) -> str | None:
        key = _ref_key(raw)
        if key is not None and key in self._fonts:
            return self._fonts[key]
        result = _not_embedded(raw.get_object())
        if key is not None:
            self._fonts[key] = result
        return result


def _not_embedded(font: Any) -> str | None:
    """The font's BaseFont name when its program is not embedded, else None."""
    if not hasattr(font, "get"):
        return None
    name = str(font.get("/BaseFont", "/(unnamed font)")).lstrip("/")
    subtype = font.get("/Subtype")
    if subtype == "/Type3":  # glyphs are content streams in the file itself
        return None
    target = font
    if subtype == "/Type0":
        descendants = font.get("/DescendantFonts")
        if not descendants:
            return name
        target = descendants[0].get_object()
    descriptor = target.get("/FontDescriptor")
    if descriptor is None:
        return name
    descriptor = descriptor.get_object()
    if any(key in descriptor for key in ("/FontFile", "/FontFile2", "/FontFile3")):
        return None
    return name


def _number_tree(node: Any, out: list[tuple[int, Any]], depth: int = 0) -> None:
    node = node.get_object()
    if depth > MAX_NESTING or not hasattr(node, "get"):
        return
    nums = node.get("/Nums")
    if nums is not None:
        items = list(nums.get_object())
        for i in range(0, len(items) - 1, 2):
            out.append((int(items[i]), items[i + 1].get_object()))
    for kid in node.get("/Kids", []) or []:
        _number_tree(kid, out, depth + 1)


def _page_labels(root: Any, pages: int) -> list[str | None] | None:
    """Each page's label as a viewer shows it; None for a page in a non-decimal range ("i", "A-1")."""
    tree = root.get("/PageLabels")
    if tree is None:
        return None
    ranges: list[tuple[int, Any]] = []
    _number_tree(tree, ranges)
    ranges.sort(key=lambda item: item[0])
    starts = [start for start, _ in ranges]
    labels: list[str | None] = []
    for index in range(pages):
        at = bisect.bisect_right(starts, index) - 1
        if at < 0:
            labels.append(str(index + 1))  # pages before the first range: a viewer shows the physical number
            continue
        start, spec = ranges[at]
        style = spec.get("/S") if hasattr(spec, "get") else None
        prefix = str(spec.get("/P", "")) if hasattr(spec, "get") else ""
        first = int(spec.get("/St", 1)) if hasattr(spec, "get") else 1
        labels.append(f"{prefix}{first + index - start}" if style == "/D" else None)
    return labels


_STANDARD_FONTS = re.compile(
    r"^/?(?:[A-Z]{6}\+)?(?:Helvetica|Arial|Times|TimesNewRoman|Courier|CourierNew|Symbol|ZapfDingbats)"
    r"(?:[-,](?:Bold|Italic|Oblique|BoldItalic|BoldOblique|Roman|MT|PSMT|BoldMT|ItalicMT))*$",
    re.I,
)


def _standard_font(name: str) -> bool:
    return bool(_STANDARD_FONTS.match(name.strip()))


def _read_structure(path: Path, index: int, cfg: _Config, out: _Findings, fonts: _FontWalker) -> _File:
    from pypdf import PasswordType, PdfReader
    from pypdf.errors import PyPdfError

    name = path.name
    try:
        size, sha = _hash(path)
    except FileNotFoundError:
        raise PacketCheckError(name, "there is no such file") from None
    except OSError as exc:
        raise PacketCheckError(name, f"it cannot be read from disk ({type(exc).__name__})") from exc
    info = _File(path, name, size, sha)
    if cfg.max_bytes > 0 and size > cfg.max_bytes:
        out.add(
            "too-large",
            ERROR,
            name,
            None,
            f"{name} is {size:,} bytes, over the {cfg.name} profile's limit of {cfg.max_bytes:,} bytes per file. "
            "Rebuild the packet so it is split into parts under the limit, or lower the image resolution.",
        )
    try:
        reader = PdfReader(path)
        if reader.is_encrypted:
            opened = reader.decrypt("") != PasswordType.NOT_DECRYPTED
            out.add(
                "encrypted",
                ERROR,
                name,
                None,
                f"{name} is encrypted{'' if opened else ' with a password'}; a filing must not be. Rebuild the "
                "packet, or remove the encryption (qpdf --decrypt in.pdf out.pdf) and check the result.",
            )
            if not opened:
                info.readable = False
                return info
        info.pages = len(reader.pages)
        missing_fonts: dict[str, list[int]] = {}  # one finding per font and file, at its first page
        for number, page in enumerate(reader.pages, start=1):
            box = page.cropbox
            left, bottom, right, top = (float(v) for v in (box.left, box.bottom, box.right, box.top))
            geometry = _Geometry(
                min(left, right), min(bottom, top), abs(right - left), abs(top - bottom), int(page.rotation) % 360
            )
            info.geometry.append(geometry)
            _check_size(geometry, cfg, name, number, out)
            for font in fonts.page(page):
                missing_fonts.setdefault(font, []).append(number)
        for font, numbers in sorted(missing_fonts.items(), key=lambda item: (item[1][0], item[0])):
            others = f" and {len(numbers) - 1} other page(s)" if len(numbers) > 1 else ""
            # The 14 standard fonts (Helvetica, Times, Courier, Symbol, ZapfDingbats) come with every PDF reader and
            # printer, so an exhibit using them prints the same everywhere: a warning; any other font is an error.
            out.add(
                "font-not-embedded",
                WARNING if _standard_font(font) else ERROR,
                name,
                numbers[0],
                f"{name}, page {numbers[0]}{others}: the font {font} is not embedded, so the pages may print "
                "differently elsewhere. Rebuild the packet from a version of the document with embedded fonts (print "
                "it to PDF again, or OCR it as an image).",
            )
        root = reader.trailer["/Root"].get_object()
        if cfg.page_labels:
            info.labels = _page_labels(root, info.pages)
        if cfg.bookmarks or cfg.stamp or cfg.translations_required:
            info.entries = _outline(reader, index, name, out)
    except PyPdfError as exc:
        raise PacketCheckError(name, f"it is not a readable PDF ({type(exc).__name__})") from exc
    except (ValueError, KeyError, IndexError, RecursionError) as exc:  # pypdf on damaged objects
        raise PacketCheckError(name, f"its PDF structure is damaged ({type(exc).__name__})") from exc
    return info


def _check_size(geometry: _Geometry, cfg: _Config, name: str, number: int, out: _Findings) -> None:
    width, height = geometry.size
    want_w, want_h = cfg.size
    tolerance = SIZE_TOLERANCE_PT
    if abs(width - want_w) <= tolerance and abs(height - want_h) <= tolerance:
        return
    if abs(width - want_h) <= tolerance and abs(height - want_w) <= tolerance:
        out.add(
            "page-orientation",
            WARNING,
            name,
            number,
            f"{name}, page {number}: the page is {cfg.size_name} size but landscape ({width:.0f} x {height:.0f} pt). "
            "Check that it reads the right way up when printed.",
        )
        return
    out.add(
        "page-size",
        ERROR,
        name,
        number,
        f"{name}, page {number}: the page is {width:.1f} x {height:.1f} pt; the {cfg.name} profile needs "
        f"{cfg.size_name} ({want_w:g} x {want_h:g} pt). Rebuild the packet so every page is fitted to "
        f"{cfg.size_name}.",
    )


def _outline(reader: Any, index: int, name: str, out: _Findings) -> list[_Entry]:
    entries: list[_Entry] = []

    def page_of(item: Any) -> int | None:
        try:
            number = reader.get_destination_page_number(item)
        except (KeyError, ValueError, IndexError, AttributeError):
            number = None
        if number is None or number < 0:
            out.add(
                "outline-broken",
                ERROR,
                name,
                None,
                f"{name}: a bookmark points at no page. Rebuild the packet.",
            )
            return None
        return int(number)

    for item in reader.outline:
        if isinstance(item, list):
            if not entries:
                continue
            for child in item:
                if isinstance(child, list):
                    continue  # grandchildren: not part of the builder's conventions
                page = page_of(child)
                if page is not None:
                    entries[-1].children.setdefault(str(child.title), page)
            continue
        page = page_of(item)
        if page is not None:
            entries.append(_Entry(str(item.title), index, page, page))
    return entries


# Page text (pdfium) -----------------------------------------------------------------------------------------------
def _norm(text: str) -> str:
    return " ".join(text.split())


@dataclass
class _PageText:
    band: list[str] = field(default_factory=list)  # text runs in the stamp band(s)
    body: list[_Seg] | None = None  # every other text run, for pages read in full


def _read_text(info: _File, cfg: _Config, full: set[int], out: _Findings) -> list[_PageText]:
    """Band text of every page (when numbers or stamps are checked) and all text of the pages in ``full``."""
    import pypdfium2 as pdfium

    bands = [b for b, on in ((cfg.number_band, cfg.numbers), (cfg.stamp_band, cfg.stamp)) if on]
    result = [_PageText() for _ in range(info.pages)]
    if not bands and not full:
        return result
    try:
        doc = pdfium.PdfDocument(str(info.path))
    except pdfium.PdfiumError as exc:
        raise PacketCheckError(info.name, "its pages cannot be read") from exc
    try:
        if len(doc) != info.pages:
            raise PacketCheckError(info.name, "its page tree is damaged (readers disagree on the page count)")
        for index in range(info.pages):
            want_body = index in full
            if not bands and not want_body:
                continue
            geometry = info.geometry[index]
            page = doc[index]
            textpage = page.get_textpage()
            try:
                body: list[_Seg] = []
                for k in range(textpage.count_rects()):
                    rect = textpage.get_rect(k)
                    x0, y0, x1, y1 = geometry.rect(*rect)
                    banded = any(geometry.in_band(b, y0, y1) for b in bands)
                    if not banded and not want_body:
                        continue
                    text = _norm(textpage.get_text_bounded(*rect))
                    if not text:
                        continue
                    if banded:
                        result[index].band.append(text)
                    else:
                        body.append(_Seg(text, x0, y0, x1, y1))
                if want_body:
                    result[index].body = body
            finally:
                textpage.close()
                page.close()
    finally:
        doc.close()
    return result


# qpdf -------------------------------------------------------------------------------------------------------------
def _qpdf_problem(code: int, problems: Sequence[str]) -> str:
    """The line to report: qpdf's fatal error (the last line, exit status 2), else its first warning. The lines
    already name the file only (casefile.tasks.packets.qpdf_child reduces the path)."""
    if not problems:
        return f"exit status {code}"
    return problems[-1] if code == 2 else problems[0]


class _QpdfRuns:
    """`qpdf --check` of every file (tasks/packets/qpdf_child.py: QPDFJob of the libqpdf pikepdf bundles), one process
    per file, started at once so they run while this process reads the pages."""

    def __init__(self, paths: Sequence[Path]) -> None:
        self.paths = list(paths)
        self.procs: list[subprocess.Popen[str]] = []
        self.started = time.monotonic()
        env = module_env()
        try:
            for path in self.paths:
                self.procs.append(
                    subprocess.Popen(
                        module_command("casefile.tasks.packets.qpdf_child", str(path)),
                        stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE,
                        stdin=subprocess.DEVNULL,
                        text=True,
                        errors="replace",
                        env=env,
                    )
                )
        except OSError as exc:
            self.close()
            raise ToolError(f"The qpdf check could not be started ({type(exc).__name__}).") from exc

    def results(self) -> list[tuple[int, list[str]]]:
        """qpdf's exit status (0 clean, 2 errors, 3 warnings) and problem lines, per file in order."""
        results: list[tuple[int, list[str]]] = []
        for path, proc in zip(self.paths, self.procs, strict=True):
            remaining = max(1.0, QPDF_TIMEOUT - (time.monotonic() - self.started))
            try:
                stdout, _stderr = proc.communicate(timeout=remaining)
            except subprocess.TimeoutExpired as exc:
                self.close()
                raise ToolTimeout(
                    f"`qpdf --check` of {path.name} did not finish in {QPDF_TIMEOUT:g} s; try again on a less busy "
                    "machine."
                ) from exc
            try:
                answer = json.loads(stdout)
                results.append((int(answer["exit"]), [str(p) for p in answer["problems"]]))
            except (ValueError, KeyError, TypeError) as exc:  # the process died (memory, signal): not a verdict
                raise ToolError(
                    f"The qpdf check of {path.name} ended without an answer (exit status {proc.returncode}); try "
                    "again, and report it if it persists."
                ) from exc
            log.debug("qpdf --check: file %d of %d, exit %s", len(results), len(self.paths), results[-1][0])
        return results

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.communicate()


# The check --------------------------------------------------------------------------------------------------------
@dataclass
class _Exhibit:
    label: str
    entry: _Entry
    end: int  # global index of its last page


def check_packet(paths: Sequence[Path], profile: FilingProfile, *, expect_translations: bool = True) -> CheckReport:
    """Check one PDF, or the parts of one split packet in order, against a filing profile (see the module doc)."""
    if not paths:
        raise ValidationError("No PDF to check: give the packet's file, or every part of a split packet in order.")
    cfg = _Config.from_profile(profile)
    out = _Findings()
    started = time.monotonic()
    qpdf = _QpdfRuns([Path(p) for p in paths])
    try:
        fonts = _FontWalker()
        files: list[_File] = []
        offset = 0
        for index, path in enumerate(paths):
            info = _read_structure(Path(path), index, cfg, out, fonts)
            info.offset = offset
            for entry in info.entries:
                entry.g = offset + entry.page
                entry.children = {title: offset + page for title, page in entry.children.items()}
            offset += info.pages
            files.append(info)
        total = offset
        where = [(f, i) for f in files for i in range(f.pages)]  # global page -> (file, 0-based page)

        entries, exhibits = _structure(files, cfg, out, total)
        list_pages = _list_pages(entries, exhibits, cfg)
        samples = _language_samples(exhibits, cfg) if exhibits else {}
        full = set(list_pages) | set(samples)
        texts: list[_PageText] = []
        for info in files:
            if info.readable:
                wanted = {g - info.offset for g in full if info.offset <= g < info.offset + info.pages}
                texts += _read_text(info, cfg, wanted, out)
        numbers = _check_numbers(files, where, texts, cfg, out) if cfg.numbers else [None] * total
        printed = _printed_numbers(numbers, cfg, total)
        if cfg.page_labels:
            _check_labels(files, where, numbers, printed, cfg, out)
        if cfg.stamp:
            _check_stamps(where, texts, exhibits, cfg, out)
        if exhibits and all(f.readable for f in files):
            _check_list(where, texts, list_pages, exhibits, printed, cfg, out)
            _check_translations(where, texts, exhibits, samples, cfg, out, expect_translations)
        for info, (code, problems) in zip(files, qpdf.results(), strict=True):
            if code != 0 and info.readable:
                problem = _qpdf_problem(code, problems)
                out.add(
                    "qpdf-check",
                    ERROR,
                    info.name,
                    None,
                    f"{info.name}: `qpdf --check` found a problem in the file's structure ({problem}). Rebuild the "
                    "packet; if it persists, report the build id.",
                )
    finally:
        qpdf.close()

    file_rows = []
    for info in files:
        found = [n for n in numbers[info.offset : info.offset + info.pages] if n is not None]
        file_rows.append(
            {
                "name": info.name,
                "pages": info.pages,
                "bytes": info.bytes,
                "sha256": info.sha256,
                "first_number": found[0] if found else None,
                "last_number": found[-1] if found else None,
            }
        )
    findings = out.finish()
    log.info(
        "packet check: profile %s, %d file(s), %d page(s), %d error(s), %d warning(s) in %.2f s",
        cfg.name,
        len(files),
        total,
        sum(1 for f in findings if f.severity == ERROR),
        sum(1 for f in findings if f.severity != ERROR),
        time.monotonic() - started,
    )
    return CheckReport(cfg.name, file_rows, findings)


def _place(where: Sequence[tuple[_File, int]], g: int) -> tuple[str, int]:
    info, index = where[g]
    return info.name, index + 1


def _structure(files: Sequence[_File], cfg: _Config, out: _Findings, total: int) -> tuple[list[_Entry], list[_Exhibit]]:
    """The packet's top-level bookmarks (continuations merged) and its exhibits with their page ranges."""
    exhibit_title = re.compile(rf"{re.escape(cfg.tab_label)}\s+(?P<label>[A-Za-z0-9]{{1,6}}):(?:\s.*)?", re.DOTALL)
    entries: list[_Entry] = []
    for info in files:
        if not info.readable:
            continue
        if cfg.bookmarks and not info.entries and info.pages:
            out.add(
                "no-outline",
                ERROR,
                info.name,
                None,
                f"{info.name} has no bookmarks; the {cfg.name} profile needs one for the cover, the exhibit list and "
                "each exhibit. Rebuild the packet.",
            )
        for entry in info.entries:
            if entry.title.endswith(CONTINUED) and entries and entries[-1].title == entry.title[: -len(CONTINUED)]:
                for title, g in entry.children.items():
                    entries[-1].children.setdefault(title, g)
                continue
            entries.append(entry)
    for before, after in itertools.pairwise(entries):
        if after.g < before.g:
            name, page = files[after.file].name, after.page + 1
            out.add(
                "outline-order",
                ERROR,
                name,
                page,
                f"{name}: the bookmarks are not in page order (one points at page {page} after one that points "
                "further on). Rebuild the packet.",
            )
            break
    entries.sort(key=lambda e: e.g)
    exhibits: list[_Exhibit] = []
    others: list[str] = []
    for k, entry in enumerate(entries):
        end = (entries[k + 1].g if k + 1 < len(entries) else total) - 1
        match = exhibit_title.fullmatch(entry.title)
        if match:
            exhibits.append(_Exhibit(match["label"], entry, max(entry.g, end)))
        else:
            others.append(entry.title)
    if cfg.bookmarks and entries:
        expected = [*cfg.front_titles, *cfg.back_titles]
        missing = [t for t in expected if t not in others]
        if missing:
            info = files[0]
            out.add(
                "outline-mismatch",
                ERROR,
                info.name,
                None,
                f"{info.name}: no bookmark titled {', '.join(repr(t) for t in missing)}; the {cfg.name} profile's "
                f"packet has bookmarks {', '.join(repr(t) for t in expected)} and one per exhibit "
                f"('{cfg.tab_label} A: ...'). Rebuild the packet.",
            )
        first_exhibit = exhibits[0].entry.g if exhibits else None
        last_exhibit = exhibits[-1].entry.g if exhibits else None
        misplaced = [
            e.title
            for e in entries
            if first_exhibit is not None
            and last_exhibit is not None
            and (
                (e.title in cfg.front_titles and e.g > first_exhibit)
                or (e.title in cfg.back_titles and e.g < last_exhibit)
            )
        ]
        if misplaced:
            info = files[0]
            out.add(
                "outline-mismatch",
                ERROR,
                info.name,
                None,
                f"{info.name}: the bookmark(s) {', '.join(repr(t) for t in misplaced)} are on the wrong side of the "
                f"exhibits; the {cfg.name} profile's order is {', '.join(repr(t) for t in cfg.front_titles)}, the "
                f"exhibits, then {', '.join(repr(t) for t in cfg.back_titles) or 'nothing'}. Rebuild the packet.",
            )
        extra = len(others) - len([t for t in others if t in expected])
        if extra:
            info = files[0]
            out.add(
                "outline-mismatch",
                WARNING,
                info.name,
                None,
                f"{info.name}: {extra} top-level bookmark(s) are neither front or back matter nor an exhibit "
                f"('{cfg.tab_label} A: ...'); their pages are counted with the exhibit before them.",
            )
    return entries, exhibits


def _list_pages(entries: Sequence[_Entry], exhibits: Sequence[_Exhibit], cfg: _Config) -> list[int]:
    listing = next((e for e in entries if e.title == cfg.list_title), None)
    if listing is None:
        return []
    later = [e.g for e in entries if e.g > listing.g]
    end = min(later) if later else listing.g + 1
    return list(range(listing.g, end))


def _document_pages(exhibit: _Exhibit, cfg: _Config) -> range:
    children = exhibit.entry.children
    start = children.get(CHILD_DOCUMENT, exhibit.entry.g + (1 if cfg.tab_pages else 0))
    stop = children.get(CHILD_TRANSLATION, children.get(CHILD_CERTIFICATE, exhibit.end + 1))
    return range(start, max(start, min(stop, exhibit.end + 1)))


def _missing_translation_parts(exhibit: _Exhibit, cfg: _Config) -> list[str]:
    """The children a non-English exhibit needs and does not have ("English translation", certificate)."""
    needed = [CHILD_TRANSLATION, *([CHILD_CERTIFICATE] if cfg.certificate else [])]
    return [c for c in needed if c not in exhibit.entry.children]


def _language_samples(exhibits: Sequence[_Exhibit], cfg: _Config) -> dict[int, str]:
    """Global page -> exhibit label, for the first document pages of every exhibit that lacks a translation or its
    certificate (an exhibit with both passes whatever its language, so its text is not read)."""
    samples: dict[int, str] = {}
    for exhibit in exhibits:
        if not _missing_translation_parts(exhibit, cfg):
            continue
        for g in _document_pages(exhibit, cfg)[:LANGUAGE_SAMPLE_PAGES]:
            samples[g] = exhibit.label
    return samples


def _check_numbers(
    files: Sequence[_File], where: Sequence[tuple[_File, int]], texts: Sequence[_PageText], cfg: _Config, out: _Findings
) -> list[int | None]:
    """The number printed on each page (None: none found); findings for missing and non-consecutive numbers.

    A page is out of sequence when it fits neither the numbered page before it nor the one after it (two swapped
    pages are both named); where two runs that are each in sequence meet with a jump (a gap, a lost page, a part
    missing between two parts), the first page after the jump is named. So one problem gives one finding, not one
    per page after it.
    """
    assert cfg.number_rx is not None
    found: list[list[int]] = [[int(m["n"]) for t in text.band if (m := cfg.number_rx.fullmatch(t))] for text in texts]
    numbers: list[int | None] = []
    previous: tuple[int, int] | None = None  # (page, number) of the last numbered page
    for g, candidates in enumerate(found):
        if not candidates:
            numbers.append(None)
            continue
        wanted = previous[1] + g - previous[0] if previous is not None else None
        number = wanted if wanted in candidates else candidates[0]
        numbers.append(number)
        previous = (g, number)
    numbered = [g for g, n in enumerate(numbers) if n is not None]

    def fits(a: int, b: int) -> bool:
        na, nb = numbers[a], numbers[b]
        return na is not None and nb is not None and nb - na == b - a

    wrong: set[int] = set()
    for k, g in enumerate(numbered):
        neighbours = [numbered[j] for j in (k - 1, k + 1) if 0 <= j < len(numbered)]
        if neighbours and not any(fits(min(g, h), max(g, h)) for h in neighbours):
            wrong.add(g)
    for k, g in enumerate(numbered):
        before = numbered[k - 1] if k > 0 else None
        jump = before is not None and before not in wrong and not fits(before, g)
        if g not in wrong and not jump:
            continue
        name, page = _place(where, g)
        if before is not None and before not in wrong:
            expected = numbers[before]
            assert expected is not None
            expected += g - before
        elif k + 1 < len(numbered):
            after = numbered[k + 1]
            expected = numbers[after]
            assert expected is not None
            expected -= after - g
        else:
            expected = None
        out.add(
            "numbering-gap",
            ERROR,
            name,
            page,
            f"{name}, page {page}: the page is numbered {numbers[g]}"
            f"{f', expected {expected}' if expected is not None else ''}: the numbering must run on without gaps "
            "or repeats across the whole filing (and across its parts, given in order). Rebuild the packet, or "
            "check that no part is missing.",
        )
    for g, n in enumerate(numbers):
        if n is None:
            name, page = _place(where, g)
            out.add(
                "page-number-missing",
                ERROR,
                name,
                page,
                f"{name}, page {page}: no page number in the {'top' if cfg.number_band.top else 'bottom'} margin. "
                "Every page of the filing must be numbered; rebuild the packet.",
            )
    return numbers


def _printed_numbers(numbers: Sequence[int | None], cfg: _Config, total: int) -> list[int]:
    """The number of each page as the exhibit list should print it: the printed number, inferred from the pages
    around it where it is missing; without page numbers, the position counted from [page_numbers] start."""
    if not cfg.numbers or not any(n is not None for n in numbers):
        return [cfg.number_start + g for g in range(total)]
    first = next(g for g, n in enumerate(numbers) if n is not None)
    base = numbers[first]
    assert base is not None
    printed: list[int] = []
    last_g, last_n = first, base
    for g, n in enumerate(numbers):
        if n is not None:
            last_g, last_n = g, n
        printed.append(n if n is not None else last_n + (g - last_g))
    return printed


def _check_labels(
    files: Sequence[_File],
    where: Sequence[tuple[_File, int]],
    numbers: Sequence[int | None],
    printed: Sequence[int],
    cfg: _Config,
    out: _Findings,
) -> None:
    for info in files:
        if not info.readable or not info.pages:
            continue
        if info.labels is None:
            out.add(
                "page-labels",
                ERROR,
                info.name,
                None,
                f"{info.name} has no page labels; the {cfg.name} profile wants the viewer's page numbers to match "
                "the printed ones. Rebuild the packet.",
            )
            continue
        wrong = [
            i
            for i in range(info.pages)
            if info.labels[i] != str(numbers[info.offset + i] if cfg.numbers else printed[info.offset + i])
            and (numbers[info.offset + i] is not None or not cfg.numbers)
        ]
        if wrong:
            out.add(
                "page-labels",
                ERROR,
                info.name,
                wrong[0] + 1,
                f"{info.name}, page {wrong[0] + 1}: the PDF page label is not the number printed on the page "
                f"({len(wrong)} page(s) differ). Page labels must be decimal, starting at the file's first printed "
                "number. Rebuild the packet.",
            )


def _check_stamps(
    where: Sequence[tuple[_File, int]],
    texts: Sequence[_PageText],
    exhibits: Sequence[_Exhibit],
    cfg: _Config,
    out: _Findings,
) -> None:
    assert cfg.stamp_rx is not None
    owner: dict[int, _Exhibit] = {}
    for exhibit in exhibits:
        for g in range(exhibit.entry.g, exhibit.end + 1):
            owner[g] = exhibit
    for g, text in enumerate(texts):
        found = [(m["label"], int(m["i"]), int(m["n"])) for t in text.band if (m := cfg.stamp_rx.fullmatch(t))]
        name, page = _place(where, g)
        mine = owner.get(g)
        if mine is None:
            if found and not cfg.stamp_front_matter:
                out.add(
                    "stamp-unexpected",
                    ERROR,
                    name,
                    page,
                    f"{name}, page {page}: the page carries an exhibit label but belongs to no exhibit (front or back "
                    "matter is not labelled in this profile). Rebuild the packet.",
                )
            continue
        want = (mine.label, g - mine.entry.g + 1, mine.end - mine.entry.g + 1)
        if not found:
            out.add(
                "stamp-missing",
                ERROR,
                name,
                page,
                f"{name}, page {page}: no exhibit label in the {'top' if cfg.stamp_band.top else 'bottom'} margin "
                f"(expected exhibit {want[0]}, page {want[1]} of {want[2]}). Rebuild the packet.",
            )
        elif want not in found:
            label, i, n = found[0]
            out.add(
                "stamp-mismatch",
                ERROR,
                name,
                page,
                f"{name}, page {page}: the exhibit label reads exhibit {label}, page {i} of {n}; the bookmarks make it "
                f"exhibit {want[0]}, page {want[1]} of {want[2]}. Rebuild the packet.",
            )


@dataclass(frozen=True)
class _Row:
    label: str
    first: int
    last: int
    g: int  # global page of the list page it is on


def _lines(segments: Sequence[_Seg]) -> list[list[_Seg]]:
    """Text runs grouped into lines (tops within 3 pt), top to bottom, each left to right."""
    lines: list[list[_Seg]] = []
    for seg in sorted(segments, key=lambda s: -s.y1):
        if lines and abs(lines[-1][0].y1 - seg.y1) <= 3.0:
            lines[-1].append(seg)
        else:
            lines.append([seg])
    return [sorted(line, key=lambda s: s.x0) for line in lines]


def _parse_list(texts: Sequence[_PageText], pages: Sequence[int]) -> list[_Row]:
    """Rows of the exhibit list: lines whose leftmost run is a tab label and rightmost run a page range, kept when
    both sit in the table's outer columns (centres within ``tolerance`` of the median; a title or date wrapping
    onto a line of its own starts further right)."""
    candidates: list[tuple[int, _Seg, _Seg, re.Match[str]]] = []
    for g in pages:
        body = texts[g].body or []
        for line in _lines(body):
            if len(line) < 2:
                continue
            first, last = line[0], line[-1]
            match = _RANGE.fullmatch(last.text)
            if _LABEL.fullmatch(first.text) and match:
                candidates.append((g, first, last, match))
    if not candidates:
        return []
    tab_x = statistics.median(c[1].center for c in candidates)
    pages_x = statistics.median(c[2].center for c in candidates)
    tolerance = 12.0
    rows = []
    for g, first, last, match in candidates:
        if abs(first.center - tab_x) <= tolerance and abs(last.center - pages_x) <= tolerance:
            lo = int(match[1])
            rows.append(_Row(first.text, lo, int(match[2]) if match[2] else lo, g))
    return rows


def _check_list(
    where: Sequence[tuple[_File, int]],
    texts: Sequence[_PageText],
    list_pages: Sequence[int],
    exhibits: Sequence[_Exhibit],
    printed: Sequence[int],
    cfg: _Config,
    out: _Findings,
) -> None:
    first_name, _ = _place(where, exhibits[0].entry.g)
    if not list_pages:
        out.add(
            "list-missing",
            ERROR,
            first_name,
            None,
            f"{first_name}: no bookmark titled {cfg.list_title!r}, so the exhibit list cannot be checked against the "
            "exhibits. Rebuild the packet.",
        )
        return
    list_name, list_page = _place(where, list_pages[0])
    rows = _parse_list(texts, list_pages)
    if not rows:
        out.add(
            "list-unreadable",
            ERROR,
            list_name,
            list_page,
            f"{list_name}, page {list_page}: no exhibit rows could be read on the exhibit list (tab label in the "
            "leftmost column, pages like 5-12 in the rightmost). Check the exhibit list template.",
        )
        return
    by_label: dict[str, _Row] = {}
    for row in rows:
        by_label.setdefault(row.label, row)
    labels = {e.label for e in exhibits}
    for exhibit in exhibits:
        name, page = _place(where, exhibit.entry.g)
        listed = by_label.get(exhibit.label)
        if listed is None:
            out.add(
                "list-entry-missing",
                ERROR,
                list_name,
                list_page,
                f"{list_name}: exhibit {exhibit.label} (bookmark at {name}, page {page}) is not in the exhibit list. "
                "Rebuild the packet.",
            )
            continue
        want = (printed[exhibit.entry.g], printed[exhibit.end])
        if (listed.first, listed.last) != want:
            row_name, row_page = _place(where, listed.g)
            out.add(
                "range-mismatch",
                ERROR,
                row_name,
                row_page,
                f"{row_name}, page {row_page}: the exhibit list gives exhibit {exhibit.label} pages "
                f"{_range_text(listed.first, listed.last)}, but it is on pages {_range_text(*want)} (bookmark at "
                f"{name}, page {page}). Rebuild the packet.",
            )
    for row in rows:
        if row.label not in labels:
            row_name, row_page = _place(where, row.g)
            out.add(
                "list-entry-extra",
                ERROR,
                row_name,
                row_page,
                f"{row_name}, page {row_page}: the exhibit list has exhibit {row.label}, which has no bookmark in the "
                "packet. Rebuild the packet.",
            )


def _range_text(first: int, last: int) -> str:
    return str(first) if first == last else f"{first}-{last}"


def _check_translations(
    where: Sequence[tuple[_File, int]],
    texts: Sequence[_PageText],
    exhibits: Sequence[_Exhibit],
    samples: Mapping[int, str],
    cfg: _Config,
    out: _Findings,
    expect_translations: bool,
) -> None:
    from ...documents.language import detect_language

    severity = ERROR if expect_translations and cfg.translations_required else WARNING
    for exhibit in exhibits:
        missing = _missing_translation_parts(exhibit, cfg)
        pages = [g for g in _document_pages(exhibit, cfg)[:LANGUAGE_SAMPLE_PAGES] if g in samples]
        if not missing or not pages:
            continue
        text = "\n".join(seg.text for g in pages for seg in (texts[g].body or []))
        guess = detect_language(text, languages=cfg.languages)
        if guess.language is None or guess.language == "en":
            continue  # English, or no text layer to tell by
        name, page = _place(where, exhibit.entry.g)
        out.add(
            "translation-missing",
            severity,
            name,
            page,
            f"{name}, page {page}: exhibit {exhibit.label} reads as language {guess.language!r} but has no "
            f"{' and no '.join(m.lower() for m in missing)} (bookmarks {', '.join(repr(m) for m in missing)} under "
            "the exhibit). Add the translation (`casefile translation add`) and rebuild"
            f"{'' if severity == ERROR else '; the build was allowed without it'}.",
        )
