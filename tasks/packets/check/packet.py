"""``check_packet``: one PDF, or the parts of one split packet in order, against a filing profile.

Each file's structure is read with pypdf (``files.read_structure``: size, SHA-256, page boxes, fonts, bookmarks, page
labels), ``qpdf --check`` runs in a process per file meanwhile, then the text the checks need is read with pdfium and
each concern checks its part (``pages``, ``outline``, ``fonts``, ``translations``, ``qpdf``). Checked here:

- ``encrypted``: a packet must open without a password. One that opens with the empty password is still reported
  and checked; one that does not is reported and not checked further.
- ``too-large``: each file at most [size_limit] max_bytes (0: no limit).

Only a file that cannot be read as a PDF at all raises (``PacketCheckError``); the rest are findings.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from ...core.errors import ValidationError
from .config import CheckConfig
from .files import FileFacts, FileJob, check_file
from .hidden import report_hidden
from .outline import Exhibit, check_list, list_pages, structure
from .pages import check_labels, check_numbers, check_stamps, check_start, printed_numbers
from .pdffile import PdfFile
from .qpdf import QpdfRuns, missing_decoder, report_qpdf
from .report import ERROR, CheckReport, Findings
from .signatures import certificate_pages, check_signatures
from .text import PageText, read_text
from .translations import LanguageMemo, check_translations, language_samples

if TYPE_CHECKING:
    from ..profile import FilingProfile

log = logging.getLogger(__name__)


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


def check_packet(
    paths: Sequence[Path],
    profile: FilingProfile,
    *,
    expect_translations: bool = True,
    first_number: int | None = None,
    facts: Sequence[FileFacts] | None = None,
    languages: LanguageMemo | None = None,
) -> CheckReport:
    """Check one PDF, or the parts of one split packet in order, against a filing profile (see the module doc).

    ``first_number``: the page number the packet must start at (a supplemental filing continues an earlier one's
    numbering); default: any. ``facts``: what ``files.check_file`` found in each file, when the caller checked the
    files already (the packet builder, in its worker processes); else it is found here, with ``qpdf --check`` in a
    child process per file. ``languages``: where the language read in an exhibit's text is remembered (the builder's
    cache of pieces); default: nowhere."""
    if not paths:
        raise ValidationError("No PDF to check: give the packet's file, or every part of a split packet in order.")
    cfg = CheckConfig.from_profile(profile)
    out = Findings()
    started = time.monotonic()
    qpdf = QpdfRuns([Path(p) for p in paths]) if facts is None else None
    try:
        if facts is None:
            facts = [check_file(FileJob(str(path), index, cfg, qpdf=False)) for index, path in enumerate(paths)]
        elif len(facts) != len(paths):
            raise ValueError("one FileFacts per file")
        files: list[PdfFile] = []
        offset = 0
        for fact in facts:
            info = fact.info
            for finding in fact.findings:
                out.add(finding.code, finding.severity, finding.file, finding.page, finding.message, finding.exhibit)
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
        for info, fact in zip(files, facts, strict=True):
            if info.readable:
                wanted = {g - info.offset for g in full if info.offset <= g < info.offset + info.pages}
                read = read_text(info, cfg, wanted, out, bands_too=False)
                for page, band in zip(read, fact.bands, strict=True):
                    page.band = list(band)
                texts += read
            else:
                texts += [PageText() for _ in range(info.pages)]
        numbers = check_numbers(files, where, texts, cfg, out) if cfg.numbers else [None] * total
        if first_number is not None:
            check_start(files, numbers, first_number, cfg, out)
        printed = printed_numbers(numbers, cfg, total)
        if cfg.page_labels:
            check_labels(files, where, numbers, printed, cfg, out)
        if cfg.stamp:
            check_stamps(where, texts, exhibits, cfg, out)
        if exhibits and all(f.readable for f in files):
            check_list(where, texts, listing, exhibits, printed, cfg, out)
            check_translations(where, texts, exhibits, samples, cfg, out, expect_translations, languages)
        if all(f.readable for f in files):
            check_signatures(where, texts, certificates, cfg, out)
        for info, fact in zip(files, facts, strict=True):
            if info.readable:
                report_hidden(fact.hidden, info.name, _locator(info, exhibits, cfg), out)
        verdicts = (
            qpdf.results() if qpdf is not None else [(f.qpdf.exit, f.qpdf.problems) if f.qpdf else None for f in facts]
        )
        for info, fact, verdict in zip(files, facts, verdicts, strict=True):
            if verdict is None:
                continue
            code, problems = verdict
            if fact.qpdf is not None and fact.qpdf.missing_decoders:
                raise missing_decoder(info.name, fact.qpdf.missing_decoders)
            if code != 0 and info.readable:
                pages = fact.qpdf.pages if fact.qpdf is not None else None
                report_qpdf(info.path, info.name, code, problems, _locator(info, exhibits, cfg), out, pages)
    finally:
        if qpdf is not None:
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
