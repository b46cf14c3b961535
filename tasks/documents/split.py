"""OCR of a long document in page ranges ("parts"), each done by its own run on whichever worker takes it.

    parts = plan_parts(rt, document_id)            # the ranges, recorded once (ocr_parts rows)
    ocr_part(rt, document_id, first_page, run_id)  # on a worker: OCR those pages, record their results once
    stale_parts(rt, document_id)                   # claimed by a run that gave no sign of life for a lease
    assemble(rt, document_id)                      # all done: one searchable PDF, the document's OCR status

How parts are handed out is not decided here (flows/ocr.py submits each as a flow run to the practice's work pool
and resubmits the stale ones); this module keeps the promises that make that safe:

- A part's results land once. ``ocr_part`` OCRs the range into a new PDF and stores it (content-addressed: two
  runs store the same object), then, in one transaction holding the part's row lock, writes the pages' text and
  marks the part done, unless another run was first, in which case it keeps nothing.
- A run shows it is alive: while it works, a thread moves ``heartbeat_at`` forward every quarter lease
  (``ocr_lease_seconds``). A part claimed by a run that stopped (its machine died, it was killed, the network was cut)
  is stale after a lease and may be given to another run.
- ``assemble`` builds the searchable PDF from the original and the parts' text layers (each page's content and
  resources taken from its part's PDF, so the original pages and their order stay as they are) and sets the
  document's OCR status exactly as a single-process run would.

Pages, ids and counts only in logs; page text never.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError as DbIntegrityError

from ..core.catalog import OcrPart, utcnow
from ..core.errors import CasefileError
from ..core.storage import derived_key, sha256_file
from ..core.workdirs import work_folder
from . import text

if TYPE_CHECKING:
    from ..core.runtime import Runtime

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PartOutcome:
    """What one run of a part did (ids and counts only)."""

    document_id: str
    first_page: int
    last_page: int
    recorded: bool  # False: another run had recorded this part first; nothing of this run was kept
    ocr_pages: int = 0
    failed_pages: int = 0


def page_ranges(page_count: int, pages_per_part: int) -> list[tuple[int, int]]:
    return [(first, min(first + pages_per_part - 1, page_count)) for first in range(1, page_count + 1, pages_per_part)]


def plan_parts(rt: Runtime, document_id: str) -> list[tuple[int, int]]:
    """The document's parts, recorded once (a second planner finds them there and gets the same ranges)."""
    with rt.catalog.session() as session:
        doc = rt.catalog.get_document(session, document_id)
        existing = session.scalars(select(OcrPart).where(OcrPart.document_id == doc.id)).all()
        if existing:
            return sorted((p.first_page, p.last_page) for p in existing)
        ranges = page_ranges(doc.page_count, rt.settings.ocr_split_pages)
        doc_id = doc.id
    try:
        with rt.catalog.session() as session:
            for first, last in ranges:
                session.add(OcrPart(document_id=doc_id, first_page=first, last_page=last, status="pending", attempts=0))
    except DbIntegrityError:  # planned at the same moment by another process: theirs stands
        with rt.catalog.session() as session:
            parts = session.scalars(select(OcrPart).where(OcrPart.document_id == doc_id)).all()
            return sorted((p.first_page, p.last_page) for p in parts)
    return ranges


def part_states(rt: Runtime, document_id: str) -> dict[int, OcrPart]:
    with rt.catalog.session() as session:
        parts = session.scalars(select(OcrPart).where(OcrPart.document_id == document_id)).all()
        return {p.first_page: p for p in parts}


def stale_parts(rt: Runtime, document_id: str) -> list[int]:
    """Parts claimed by a run that gave no sign of life for ``ocr_lease_seconds``: their first pages."""
    cutoff = utcnow() - timedelta(seconds=rt.settings.ocr_lease_seconds)
    return sorted(
        first
        for first, part in part_states(rt, document_id).items()
        if part.status == "running" and (part.heartbeat_at is None or part.heartbeat_at < cutoff)
    )


def _claim(rt: Runtime, document_id: str, first_page: int, run_id: str | None) -> OcrPart | None:
    """Mark the part running for this run (None when it is already done)."""
    with rt.catalog.session() as session:
        part = session.scalars(
            select(OcrPart)
            .where(OcrPart.document_id == document_id, OcrPart.first_page == first_page)
            .with_for_update()
        ).one_or_none()
        if part is None:
            raise CasefileError(f"Document {document_id} has no OCR part starting at page {first_page}.")
        if part.status == "done":
            return None
        part.status = "running"
        part.attempts += 1
        part.claimed_by = f"{socket.gethostname()}:{os.getpid()}"[:100]
        part.flow_run_id = run_id
        part.heartbeat_at = utcnow()
        return part


class _Heartbeat:
    """Moves the part's ``heartbeat_at`` forward every quarter lease until stopped."""

    def __init__(self, rt: Runtime, document_id: str, first_page: int) -> None:
        self.rt, self.document_id, self.first_page = rt, document_id, first_page
        self.interval = max(0.5, rt.settings.ocr_lease_seconds / 4)
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._beat, name=f"heartbeat-{document_id}-{first_page}", daemon=True)

    def _beat(self) -> None:
        while not self.stopped.wait(self.interval):
            try:
                with self.rt.catalog.session() as session:
                    part = session.get(OcrPart, (self.document_id, self.first_page))
                    if part is not None and part.status == "running":
                        part.heartbeat_at = utcnow()
            except Exception as exc:  # a missed beat is not an error; a lease of missed beats is
                log.warning(
                    "heartbeat of part %s/%d missed (%s)", self.document_id, self.first_page, type(exc).__name__
                )

    def __enter__(self) -> _Heartbeat:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped.set()
        self.thread.join(timeout=10)


def _extract_pages(source: Path, out: Path, first: int, last: int) -> None:
    import pikepdf

    with pikepdf.open(source) as pdf, pikepdf.new() as part:
        for index in range(first - 1, last):
            part.pages.append(pdf.pages[index])
        part.save(out, deterministic_id=True)


def ocr_part(rt: Runtime, document_id: str, first_page: int, run_id: str | None = None) -> PartOutcome:
    """OCR one part of the document and record its pages' results, once (see the module docstring)."""
    from .ocr import ocr_document
    from .tesseract import check_languages

    part = _claim(rt, document_id, first_page, run_id)
    with rt.catalog.session() as session:
        doc = rt.catalog.get_document(session, document_id)
        key, sha = doc.normalised_key, doc.normalised_sha256
    if part is None:
        stored = part_states(rt, document_id)[first_page]
        return PartOutcome(document_id, first_page, stored.last_page, recorded=False)
    if key is None or sha is None:
        raise CasefileError(f"Document {document_id} has no PDF to read; add its original again.")
    last_page = part.last_page
    settings = rt.settings
    if settings.ocr_enabled:
        check_languages(settings.ocr_languages)
    with (
        work_folder(settings.work_dir, f"part-{document_id}-{first_page}-") as work,
        text._machine_errors(work),
    ):
        with _Heartbeat(rt, document_id, first_page):
            source = work / "in.pdf"
            rt.store.download(key, source, expected_sha256=sha)
            pages_pdf = work / "pages.pdf"
            _extract_pages(source, pages_pdf, first_page, last_page)
            result = ocr_document(pages_pdf, work / "searchable.pdf", **text.ocr_options(rt))
            part_key = part_sha = None
            if result.searchable_pdf is not None:
                part_sha = sha256_file(result.searchable_pdf)
                part_key = derived_key(part_sha, ".part.pdf")
                if not rt.store.exists(part_key):
                    rt.store.put_file(part_key, result.searchable_pdf)
        with rt.catalog.session() as session:
            row = session.scalars(
                select(OcrPart)
                .where(OcrPart.document_id == document_id, OcrPart.first_page == first_page)
                .with_for_update()
            ).one()
            if row.status == "done":
                log.info(
                    "part %s/%d was recorded by another run; this run's result is dropped", document_id, first_page
                )
                return PartOutcome(document_id, first_page, last_page, recorded=False)
            doc = rt.catalog.get_document(session, document_id)
            text.record_pages(doc, result.pages, offset=first_page - 1)
            row.status = "done"
            row.searchable_key, row.searchable_sha256 = part_key, part_sha
            row.finished_at = utcnow()
    log.info(
        "part %s/%d-%d: %d OCR, %d failed page(s)",
        document_id,
        first_page,
        last_page,
        result.ocr_pages,
        result.failed_pages,
    )
    return PartOutcome(document_id, first_page, last_page, True, result.ocr_pages, result.failed_pages)


def assemble(rt: Runtime, document_id: str) -> text.TextSummary:
    """Once every part is done: the document's searchable PDF (the original's pages, each with its part's text
    layer) and its OCR status, as a single run would have left them. Safe to run again."""
    import pikepdf

    parts = sorted(part_states(rt, document_id).values(), key=lambda p: p.first_page)
    if not parts or any(p.status != "done" for p in parts):
        raise CasefileError(f"Document {document_id}: not every page range is done yet; run its OCR again.")
    with rt.catalog.session() as session:
        doc = rt.catalog.get_document(session, document_id)
        if doc.ocr_status != "pending":
            return text._summary(doc)
        key, sha = doc.normalised_key, doc.normalised_sha256
    assert key is not None and sha is not None
    settings = rt.settings
    with work_folder(settings.work_dir, f"assemble-{document_id}-") as work, text._machine_errors(work):
        searchable_key, searchable_sha = key, sha
        with_layers = [p for p in parts if p.searchable_key]
        if with_layers:
            source = work / "in.pdf"
            rt.store.download(key, source, expected_sha256=sha)
            with pikepdf.open(source) as pdf:
                for part in with_layers:
                    assert part.searchable_key is not None
                    part_pdf = work / f"part-{part.first_page}.pdf"
                    rt.store.download(part.searchable_key, part_pdf, expected_sha256=part.searchable_sha256)
                    with pikepdf.open(part_pdf) as ocred:
                        for offset, page in enumerate(ocred.pages):
                            target = pdf.pages[part.first_page - 1 + offset]
                            # The part's page is the original page plus the invisible text layer (and, when OSD
                            # turned it upright, a new /Rotate): take those over, keep the page object itself.
                            for name in ("/Contents", "/Resources"):
                                if name in page.obj:
                                    value = page.obj[name]
                                    if not value.is_indirect:  # copy_foreign takes indirect objects only
                                        value = ocred.make_indirect(value)
                                    target.obj[name] = pdf.copy_foreign(value)
                            if "/Rotate" in page.obj:
                                target.obj["/Rotate"] = int(page.obj["/Rotate"])
                out = work / "searchable.pdf"
                pdf.save(out, deterministic_id=True)
            searchable_sha = sha256_file(out)
            searchable_key = derived_key(searchable_sha)
            if not rt.store.exists(searchable_key):
                rt.store.put_file(searchable_key, out)
        with rt.catalog.session() as session:
            doc = rt.catalog.get_document(session, document_id)
            if doc.ocr_status != "pending":
                return text._summary(doc)
            return text.finish_text(session, doc, searchable_key, searchable_sha)
