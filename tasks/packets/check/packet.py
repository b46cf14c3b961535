"""``check_packet``: one PDF, or the parts of one split packet in order, against a filing profile.

Each file's structure is read with pypdf (``read_structure``: size, SHA-256, page boxes, fonts, bookmarks, page
labels), ``qpdf --check`` runs in a process per file meanwhile, then the text the checks need is read with pdfium and
each concern checks its part (``pages``, ``outline``, ``fonts``, ``translations``, ``qpdf``). Checked here:

- ``encrypted``: a packet must open without a password. One that opens with the empty password is still reported
  and checked; one that does not is reported and not checked further.
- ``too-large``: each file at most [size_limit] max_bytes (0: no limit).

Only a file that cannot be read as a PDF at all raises (``PacketCheckError``); the rest are findings.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from ...core.errors import PacketCheckError, ValidationError
from .config import CheckConfig
from .fonts import FontWalker, standard_font
from .hidden import check_hidden
from .outline import Entry, Exhibit, check_list, list_pages, read_outline, structure
from .pages import Geometry, check_labels, check_numbers, check_size, check_stamps, page_labels, printed_numbers
from .qpdf import QpdfRuns, report_qpdf
from .report import ERROR, WARNING, CheckReport, Findings
from .signatures import certificate_pages, check_signatures
from .text import PageText, read_text
from .translations import check_translations, language_samples

if TYPE_CHECKING:
    from ..profile import FilingProfile

log = logging.getLogger(__name__)


@dataclass
class PdfFile:
    """One file given to the check, as its structure was read."""

    path: Path
    name: str
    bytes: int
    sha256: str
    pages: int = 0
    readable: bool = True  # False: encrypted with a password; not checked further
    geometry: list[Geometry] = field(default_factory=list)
    entries: list[Entry] = field(default_factory=list)
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


def read_structure(path: Path, index: int, cfg: CheckConfig, out: Findings, fonts: FontWalker) -> PdfFile:
    """The file's structure (pypdf), with the findings that need nothing else: size limit, encryption, page sizes,
    fonts not embedded, bookmarks that point nowhere."""
    from pypdf import PasswordType, PdfReader
    from pypdf.errors import PyPdfError

    name = path.name
    try:
        size, sha = _hash(path)
    except FileNotFoundError:
        raise PacketCheckError(name, "there is no such file") from None
    except OSError as exc:
        raise PacketCheckError(name, f"it cannot be read from disk ({type(exc).__name__})") from exc
    info = PdfFile(path, name, size, sha)
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
            geometry = Geometry(
                min(left, right), min(bottom, top), abs(right - left), abs(top - bottom), int(page.rotation) % 360
            )
            info.geometry.append(geometry)
            check_size(geometry, cfg, name, number, out)
            for font in fonts.page(page):
                missing_fonts.setdefault(font, []).append(number)
        for font, numbers in sorted(missing_fonts.items(), key=lambda item: (item[1][0], item[0])):
            others = f" and {len(numbers) - 1} other page(s)" if len(numbers) > 1 else ""
            # The 14 standard fonts (Helvetica, Times, Courier, Symbol, ZapfDingbats) come with every PDF reader and
            # printer, so an exhibit using them prints the same everywhere: a warning; any other font is an error.
            out.add(
                "font-not-embedded",
                WARNING if standard_font(font) else ERROR,
                name,
                numbers[0],
                f"{name}, page {numbers[0]}{others}: the font {font} is not embedded, so the pages may print "
                "differently elsewhere. Rebuild the packet from a version of the document with embedded fonts (print "
                "it to PDF again, or OCR it as an image).",
            )
        root = reader.trailer["/Root"].get_object()
        if cfg.page_labels:
            info.labels = page_labels(root, info.pages)
        if cfg.bookmarks or cfg.stamp or cfg.translations_required:
            info.entries = read_outline(reader, index, name, out)
    except PyPdfError as exc:
        raise PacketCheckError(name, f"it is not a readable PDF ({type(exc).__name__})") from exc
    except (ValueError, KeyError, IndexError, RecursionError) as exc:  # pypdf on damaged objects
        raise PacketCheckError(name, f"its PDF structure is damaged ({type(exc).__name__})") from exc
    return info


def _locator(info: PdfFile, exhibits: Sequence[Exhibit], cfg: CheckConfig) -> Callable[[int], tuple[str, str] | None]:
    """For a 1-based page of ``info``: the label of the exhibit (by the bookmarks) whose pages hold it, and where it
    is in words; None for pages outside every exhibit (front and back matter)."""

    def locate(page: int) -> tuple[str, str] | None:
        g = info.offset + page - 1
        for exhibit in exhibits:
            if exhibit.entry.g <= g <= exhibit.end:
                first, last = exhibit.entry.g, exhibit.end
                return exhibit.label, (
                    f"{cfg.tab_label} {exhibit.label} (its page {g - first + 1} of {last - first + 1} in the packet)"
                )
        return None

    return locate


def check_packet(paths: Sequence[Path], profile: FilingProfile, *, expect_translations: bool = True) -> CheckReport:
    """Check one PDF, or the parts of one split packet in order, against a filing profile (see the module doc)."""
    if not paths:
        raise ValidationError("No PDF to check: give the packet's file, or every part of a split packet in order.")
    cfg = CheckConfig.from_profile(profile)
    out = Findings()
    started = time.monotonic()
    qpdf = QpdfRuns([Path(p) for p in paths])
    try:
        fonts = FontWalker()
        files: list[PdfFile] = []
        offset = 0
        for index, path in enumerate(paths):
            info = read_structure(Path(path), index, cfg, out, fonts)
            info.offset = offset
            for entry in info.entries:
                entry.g = offset + entry.page
                entry.children = {title: offset + page for title, page in entry.children.items()}
            offset += info.pages
            files.append(info)
        total = offset
        where = [(f, i) for f in files for i in range(f.pages)]  # global page -> (file, 0-based page)

        entries, exhibits = structure(files, cfg, out, total)
        listing = list_pages(entries, exhibits, cfg)
        samples = language_samples(exhibits, cfg) if exhibits else {}
        certificates = certificate_pages(entries, exhibits, cfg, total)
        full = set(listing) | set(samples) | {g for pages in certificates.values() for g in pages}
        texts: list[PageText] = []
        for info in files:
            if info.readable:
                wanted = {g - info.offset for g in full if info.offset <= g < info.offset + info.pages}
                texts += read_text(info, cfg, wanted, out)
        numbers = check_numbers(files, where, texts, cfg, out) if cfg.numbers else [None] * total
        printed = printed_numbers(numbers, cfg, total)
        if cfg.page_labels:
            check_labels(files, where, numbers, printed, cfg, out)
        if cfg.stamp:
            check_stamps(where, texts, exhibits, cfg, out)
        if exhibits and all(f.readable for f in files):
            check_list(where, texts, listing, exhibits, printed, cfg, out)
            check_translations(where, texts, exhibits, samples, cfg, out, expect_translations)
        if all(f.readable for f in files):
            check_signatures(where, texts, certificates, cfg, out)
        for info in files:
            if info.readable:
                check_hidden(info.path, info.name, _locator(info, exhibits, cfg), out)
        for info, (code, problems) in zip(files, qpdf.results(), strict=True):
            if code != 0 and info.readable:
                report_qpdf(info.path, info.name, code, problems, _locator(info, exhibits, cfg), out)
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
    by_name = {info.name: info for info in files}
    findings = []
    for finding in out.finish():
        owner = by_name.get(finding.file)
        if finding.exhibit is None and finding.page is not None and owner is not None:
            located = _locator(owner, exhibits, cfg)(finding.page)
            if located is not None:
                finding = replace(finding, exhibit=located[0])
        findings.append(finding)
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
