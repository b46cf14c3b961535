"""What the check learns from each file on its own: ``check_file(job)`` -> ``FileFacts``.

The structure (``read_structure``: size, SHA-256, encryption, page boxes, fonts, bookmarks, page labels, with
the findings that need nothing else), the text in the stamp band(s) of every page (``text.read_text``), the hidden
content (``hidden.find_hidden``) and, when ``job.qpdf``, ``qpdf --check`` with the lines it printed and the pages
that reach the objects they name. ``check_packet`` puts the files of a packet together; it runs this in its own
process, with ``qpdf --check`` in child processes, or takes the facts the packet builder computed in its worker
processes (tasks/packets/workers.py), one file per job, each file checked as soon as it is written.

``job.trusted``: the picture keys the builder's verdicts cover (``qpdf_child.check_trusting``); empty for any file
casefile did not just build.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ...core.errors import PacketCheckError
from .fonts import FontWalker, standard_font
from .hidden import Hidden, find_hidden
from .outline import read_outline
from .pages import check_size, page_labels
from .pdffile import Geometry, PdfFile, file_hash
from .report import ERROR, WARNING, Finding, Findings
from .text import read_text

if TYPE_CHECKING:
    from .config import CheckConfig


@dataclass(frozen=True)
class FileJob:
    path: str
    index: int  # the file's place among the packet's parts (0-based)
    cfg: CheckConfig
    qpdf: bool = True  # run `qpdf --check` here too (the builder's workers); else the caller runs it
    trusted: frozenset[str] = frozenset()


@dataclass
class QpdfVerdict:
    exit: int  # 0 clean, 2 errors, 3 warnings
    problems: list[str]
    missing_decoders: list[str]
    pages: dict[int, int] = field(default_factory=dict)  # object number -> first page (1-based) that reaches it


@dataclass
class FileFacts:
    info: PdfFile
    findings: list[Finding]  # the findings of the structure alone, every one (the caller caps them per code)
    bands: list[list[str]]  # per page: the text runs in the stamp band(s)
    hidden: list[Hidden]
    qpdf: QpdfVerdict | None = None


def qpdf_verdict(path: Path, code: int, problems: list[str], missing: list[str]) -> QpdfVerdict:
    """A verdict with, when it found problems, the pages that reach the objects its lines name."""
    from .qpdf import OBJECT_NUMBER, object_pages

    objects = {int(m.group(1)) for line in problems for m in OBJECT_NUMBER.finditer(line)}
    pages = object_pages(path, objects) if code != 0 and objects else {}
    return QpdfVerdict(code, problems, missing, pages)


class _Every(Findings):
    """Findings, every one kept (``Findings`` caps them per file and code; the caller that replays them does)."""

    def __init__(self) -> None:
        super().__init__()
        self.every: list[Finding] = []

    def add(
        self, code: str, severity: str, file: str, page: int | None, message: str, exhibit: str | None = None
    ) -> None:
        self.every.append(Finding(code, severity, message, file, page, exhibit))


def check_file(job: FileJob) -> FileFacts:
    """The facts of one file (see the module doc). ``PacketCheckError`` when it is not a readable PDF."""
    path = Path(job.path)
    verdict = None
    if job.qpdf:  # first: a file too damaged for the structure's reader still gets qpdf's lines
        from ..qpdf_child import check_trusting

        answer = check_trusting(path, job.trusted)
        verdict = qpdf_verdict(path, answer["exit"], answer["problems"], answer["missing_decoders"])
    out = _Every()
    info = read_structure(path, job.index, job.cfg, out, FontWalker())
    bands: list[list[str]] = [[] for _ in range(info.pages)]
    hidden: list[Hidden] = []
    if info.readable:
        bands = [text.band for text in read_text(info, job.cfg, set(), out)]
        import pikepdf

        try:
            with pikepdf.open(path) as pdf:
                hidden = find_hidden(pdf)
        except pikepdf.PdfError:
            hidden = []  # a file qpdf cannot open is reported by the qpdf check
    return FileFacts(info, out.every, bands, hidden, verdict)


def read_structure(path: Path, index: int, cfg: CheckConfig, out: Findings, fonts: FontWalker) -> PdfFile:
    """The file's structure (pypdf), with the findings that need nothing else: size limit, encryption, page sizes,
    fonts not embedded, bookmarks that point nowhere."""
    from pypdf import PasswordType, PdfReader
    from pypdf.errors import PyPdfError

    name = path.name
    try:
        size, sha = file_hash(path)
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
