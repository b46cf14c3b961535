"""What the check learns from each file on its own: ``check_file(job)`` -> ``FileFacts``.

The structure (``packet.read_structure``: size, SHA-256, encryption, page boxes, fonts, bookmarks, page labels, with
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

from .report import Finding, Findings

if TYPE_CHECKING:
    from .config import CheckConfig
    from .hidden import Hidden
    from .packet import PdfFile


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
    from .fonts import FontWalker
    from .hidden import find_hidden
    from .packet import read_structure
    from .text import read_text

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
