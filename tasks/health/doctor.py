"""``check_home(rt, repair=...)``: what `casefile check` reports, and with ``--repair`` fixes.

What is checked, and what a repair does (from what is stored only; nothing that is evidence is ever deleted):

- **documents**: every object of every document (its original, its PDF, its searchable PDF) exists and matches the
  SHA-256 recorded when it was stored. A damaged or missing PDF is made again from the original; a damaged or missing
  searchable PDF is read again (OCR) from the PDF. A damaged or missing original cannot be made from anything else:
  the report says to add the same file again (`casefile add` verifies it and writes it back).
- **batches**: an intake batch still "pending" or "running" that no live run holds (a killed `add`) is resumed: its
  remaining files are taken in as `add` would (those no longer at their path are reported as unreadable).
- **objects**: originals and derived files no document refers to (an `add` killed between storing and recording, or
  a removed document's, which are kept on purpose) are reported, never deleted.
- **packets**: parts of a build that has no manifest (a build that failed and could not clean up) are removed once
  no live build on this machine owns them and they are an hour old; a finished build whose part is missing or
  damaged has its manifest set aside (``damaged-manifest.json``), so the next `casefile packet build` makes it again.
- **work**: work folders and the local store's temporary files left by killed runs are removed (never a live run's).
- **tools**: the programs that decoding and OCR need (jbig2dec, tesseract) are installed.

Problems name ids, keys and counts only, never client data.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from ..core.catalog import AuditEvent, Document, IntakeBatch, audit, utcnow
from ..core.errors import CasefileError
from ..core.storage import LocalObjectStore, original_key
from ..core.workdirs import folder_is_live, lock_is_held, stale_folders, work_folder
from ..documents import intake, pipeline
from ..documents.normalise import Kind, StagedFile
from ..packets.manifest import MANIFEST, PACKETS_PREFIX

if TYPE_CHECKING:
    from ..core.runtime import Runtime

log = logging.getLogger(__name__)

BATCH_STALE = timedelta(hours=6)  # a running batch with no lock on this machine: run elsewhere, or killed
PENDING_GRACE = timedelta(minutes=10)  # a batch `add` recorded and is about to start
UNFINISHED_BUILD_GRACE = 3600.0  # seconds: parts of a build this young may belong to a build in progress elsewhere
DAMAGED_MANIFEST = "damaged-manifest.json"
TOOLS = {
    "jbig2dec": "decodes JBIG2 scans (office copiers) for the packet check: sudo apt-get install jbig2dec",
    "tesseract": "reads scanned pages (OCR): sudo apt-get install tesseract-ocr tesseract-ocr-eng tesseract-ocr-spa",
}


@dataclass
class Problem:
    area: str  # documents | batches | objects | packets | work | tools
    code: str
    subject: str  # an id, a key or a folder name: never client data
    message: str  # what is wrong and what to do
    case_id: str | None = None
    serious: bool = False  # stored data is missing or damaged
    repairable: bool = False
    repaired: bool = False


@dataclass
class HealthReport:
    home: str
    store: str
    repair: bool
    checked: dict[str, int] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    @property
    def open_problems(self) -> list[Problem]:
        return [p for p in self.problems if not p.repaired]

    @property
    def ok(self) -> bool:
        """Nothing left that needs someone: every problem repaired, or a warning only (unreferenced objects)."""
        return not any(p.code not in WARNINGS for p in self.open_problems)

    def to_dict(self) -> dict[str, Any]:
        return {
            "home": self.home,
            "store": self.store,
            "repair": self.repair,
            "ok": self.ok,
            "checked": self.checked,
            "problems": [asdict(p) for p in self.problems],
            "counts": self.counts(),
        }

    def counts(self) -> dict[str, int]:
        return {
            "problems": len(self.problems),
            "repaired": sum(p.repaired for p in self.problems),
            "open": len(self.open_problems),
            "serious_open": sum(p.serious for p in self.open_problems),
        }


WARNINGS = frozenset({"unreferenced-original", "unreferenced-derived"})


def check_home(rt: Runtime, *, repair: bool = False, case_id: str | None = None) -> HealthReport:
    """Check the home of ``rt`` (one case's documents and batches with ``case_id``); repair with ``repair``."""
    if case_id is not None:
        with rt.catalog.session() as session:
            case_id = rt.catalog.get_case(session, case_id).id
    report = HealthReport(str(rt.settings.home), rt.store.describe(), repair)
    _documents(rt, report, case_id)
    _batches(rt, report, case_id)
    if case_id is None:
        _objects(rt, report)
    _packets(rt, report, case_id)
    _work(rt, report)
    _tools(report)
    if repair:
        with rt.catalog.session() as session:
            audit(
                session,
                actor="check",
                entity="home",
                entity_id=case_id or "*",
                action="repaired",
                case_id=case_id,
                **report.counts(),
            )
    return report


# Documents ------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Doc:
    known: intake.Known
    case_id: str
    sha256: str
    kind: str
    size: int


def _documents_of(rt: Runtime, case_id: str | None) -> list[_Doc]:
    with rt.catalog.session() as session:
        query = select(Document).order_by(Document.case_id, Document.created_at, Document.id)
        if case_id is not None:
            query = query.where(Document.case_id == case_id)
        return [_Doc(intake.Known.of(d), d.case_id, d.sha256, d.kind, d.size_bytes) for d in session.scalars(query)]


def _documents(rt: Runtime, report: HealthReport, case_id: str | None) -> None:
    states: dict[tuple[str, str], str] = {}  # (key, sha) -> ok | missing | corrupt: shared objects checked once

    def state(key: str, sha: str) -> str:
        if (key, sha) not in states:
            states[(key, sha)] = intake.object_state(rt.store, key, sha)
        return states[(key, sha)]

    docs = _documents_of(rt, case_id)
    to_read_again: set[str] = set()  # cases whose text stage must run after repairs
    for doc in docs:
        known = doc.known
        okey = known.original_key
        original_ok = True
        if okey is not None:
            found = state(okey, doc.sha256)
            original_ok = found == "ok"
            if not original_ok:
                report.problems.append(
                    Problem(
                        "documents",
                        f"original-{found}",
                        known.id,
                        f"The original of document {known.id} is {found} in the object store ({okey}). It cannot be "
                        f"made from anything else: add the same file to case {doc.case_id} again (`casefile add "
                        f"{doc.case_id} FILE`); casefile checks it against the recorded SHA-256 and writes it back.",
                        doc.case_id,
                        serious=True,
                    )
                )
        nkey, nsha = known.normalised_key, known.normalised_sha256
        if nkey and nsha and nkey != okey:
            found = state(nkey, nsha)
            if found != "ok":
                problem = Problem(
                    "documents",
                    f"pdf-{found}",
                    known.id,
                    f"The PDF of document {known.id} is {found} in the object store ({nkey}); it is made again from "
                    "the original by `casefile check --repair`.",
                    doc.case_id,
                    serious=True,
                    repairable=original_ok and okey is not None,
                )
                report.problems.append(problem)
                if report.repair and problem.repairable:
                    problem.repaired = _remake_pdf(rt, doc)
                    states.pop((nkey, nsha), None)
        skey, ssha = known.searchable_key, known.searchable_sha256
        if skey and ssha and skey not in (okey, nkey):
            found = state(skey, ssha)
            if found != "ok":
                problem = Problem(
                    "documents",
                    f"searchable-{found}",
                    known.id,
                    f"The searchable PDF of document {known.id} is {found} in the object store ({skey}); its pages "
                    "are read again (OCR) by `casefile check --repair`.",
                    doc.case_id,
                    serious=True,
                    repairable=True,
                )
                report.problems.append(problem)
                if report.repair:
                    with rt.catalog.session() as session:
                        row = session.get(Document, known.id)
                        assert row is not None
                        row.searchable_key = row.searchable_sha256 = None
                        row.ocr_status, row.indexed_at = "pending", None
                    to_read_again.add(doc.case_id)
                    problem.repaired = True
    for case in sorted(to_read_again):
        pipeline.make_searchable(rt, case)
    report.checked["documents"] = len(docs)
    report.checked["document_objects"] = len(states)


def _remake_pdf(rt: Runtime, doc: _Doc) -> bool:
    known = doc.known
    assert known.original_key is not None
    with work_folder(rt.settings.work_dir, f"check-{known.id}-") as work:
        path = work / "original"
        rt.store.download(known.original_key, path, expected_sha256=doc.sha256)
        staged = StagedFile(path=path, sha256=doc.sha256, size=doc.size, kind=Kind(doc.kind))
        try:
            repair, updates = intake.remake_pdf(rt, known, staged)
        except CasefileError as exc:
            log.warning("document %s: PDF not made again (%s)", known.id, exc.log_summary())
            return False
    if repair is None:
        return False
    with rt.catalog.session() as session:
        row = session.get(Document, known.id)
        assert row is not None
        for name, value in updates.items():
            setattr(row, name, value)
        audit(
            session,
            actor="check",
            entity="document",
            entity_id=known.id,
            action="repaired",
            case_id=doc.case_id,
            repaired=[repair.value],
        )
    return True


# Batches --------------------------------------------------------------------------------------------------------
def _batches(rt: Runtime, report: HealthReport, case_id: str | None) -> None:
    now = utcnow()
    with rt.catalog.session() as session:
        query = select(IntakeBatch).where(IntakeBatch.status.in_(("pending", "running")))
        if case_id is not None:
            query = query.where(IntakeBatch.case_id == case_id)
        batches = [
            (b.id, b.case_id, b.status, b.created_at, sum(it.outcome == "pending" for it in b.items))
            for b in session.scalars(query.order_by(IntakeBatch.created_at))
        ]
    stuck = 0
    for batch_id, batch_case, status, created, pending in batches:
        lock = intake.batch_lock(rt.settings, batch_id)
        if lock_is_held(lock):
            continue  # a live run
        age = now - created
        if not (lock.exists() or age > BATCH_STALE or (status == "pending" and age > PENDING_GRACE)):
            continue  # too young to tell (about to start, or running on another machine)
        stuck += 1
        problem = Problem(
            "batches",
            "batch-interrupted",
            batch_id,
            f"Intake batch {batch_id} of case {batch_case} was interrupted ({status}, {pending} file(s) not taken "
            "in): its run was killed. `casefile check --repair` takes its remaining files in (or run the same "
            "`casefile add` again).",
            batch_case,
            repairable=True,
        )
        report.problems.append(problem)
        if report.repair:
            outcome = pipeline.ingest_batch(rt, batch_id)
            problem.repaired = True
            problem.message += f" Resumed: {', '.join(f'{v} {k}' for k, v in outcome.counts.items() if v)}."
    report.checked["open_batches"] = len(batches)


# Objects --------------------------------------------------------------------------------------------------------
def _objects(rt: Runtime, report: HealthReport) -> None:
    with rt.catalog.session() as session:
        referenced: set[str] = set()
        for row in session.execute(select(Document.original_key, Document.normalised_key, Document.searchable_key)):
            referenced.update(k for k in row if k)
        removed: set[str] = set()
        for detail in session.scalars(
            select(AuditEvent.detail).where(AuditEvent.entity == "document", AuditEvent.action == "deleted")
        ):
            sha = json.loads(detail or "{}").get("sha256")
            if sha:
                removed.add(original_key(sha))
    counted = 0
    for prefix, code in (("originals/", "unreferenced-original"), ("derived/", "unreferenced-derived")):
        for key in rt.store.list(prefix):
            counted += 1
            if key in referenced or key in removed:
                continue
            if code == "unreferenced-original":
                message = (
                    f"The stored original {key} belongs to no document (an `add` killed between storing and "
                    "recording it). It is kept: add the file again to take it in (casefile finds it by its SHA-256)."
                )
            else:
                message = (
                    f"The derived file {key} (a PDF made from an original) belongs to no document; it is kept, and "
                    "made again whenever it is needed."
                )
            report.problems.append(Problem("objects", code, key, message))
    report.checked["objects"] = counted


# Packets --------------------------------------------------------------------------------------------------------
def _builds(rt: Runtime, case_id: str | None) -> dict[tuple[str, str], list[str]]:
    prefix = f"{PACKETS_PREFIX}/{case_id}/" if case_id else f"{PACKETS_PREFIX}/"
    builds: dict[tuple[str, str], list[str]] = {}
    for key in rt.store.list(prefix):
        parts = key.split("/")
        if len(parts) >= 4:
            builds.setdefault((parts[1], parts[2]), []).append(key)
    return builds


def _build_is_live(rt: Runtime, build_id: str) -> bool:
    root = rt.settings.work_dir
    return root.is_dir() and any(folder_is_live(f) for f in root.glob(f"packet-{build_id}-*") if f.is_dir())


def _packets(rt: Runtime, report: HealthReport, case_id: str | None) -> None:
    store = rt.store
    builds = _builds(rt, case_id)
    for (case, build_id), keys in sorted(builds.items()):
        prefix = f"{PACKETS_PREFIX}/{case}/{build_id}/"
        manifest_key = prefix + MANIFEST
        if manifest_key not in keys:
            parts = [k for k in keys if not k.endswith("/" + DAMAGED_MANIFEST)]
            if not parts:
                continue  # only a damaged build's set-aside manifest: reported when it was set aside
            ages = [store.modified(k) for k in parts]
            old = all(a is not None and time.time() - a > UNFINISHED_BUILD_GRACE for a in ages)
            problem = Problem(
                "packets",
                "build-unfinished",
                build_id,
                f"Packet build {build_id} of case {case} has {len(parts)} part(s) but no manifest: a build that "
                "failed and could not clean up. It is never listed or served; `casefile check --repair` removes its "
                "parts once no build is running for it.",
                case,
                repairable=old and not _build_is_live(rt, build_id),
            )
            report.problems.append(problem)
            if report.repair and problem.repairable:
                for key in parts:
                    store.delete(key)
                problem.repaired = True
            continue
        manifest = json.loads(store.get_bytes(manifest_key))
        outputs = manifest.get("outputs", [])
        bad = [p["name"] for p in outputs if intake.object_state(store, p["key"], p["sha256"]) != "ok"]
        if not bad:
            continue
        problem = Problem(
            "packets",
            "build-damaged",
            build_id,
            f"Packet build {build_id} of case {case} ({manifest.get('profile')}) has {len(bad)} part(s) missing or "
            f"damaged in the object store. `casefile check --repair` sets its manifest aside ({DAMAGED_MANIFEST}), "
            f"so that `casefile packet build {case} --profile {manifest.get('profile')}` makes it again.",
            case,
            serious=True,
            repairable=True,
        )
        report.problems.append(problem)
        if report.repair:
            store.put_bytes(prefix + DAMAGED_MANIFEST, store.get_bytes(manifest_key))
            store.delete(manifest_key)
            problem.repaired = True
    report.checked["packet_builds"] = len(builds)


# Work folders and tools -----------------------------------------------------------------------------------------
def _work(rt: Runtime, report: HealthReport) -> None:
    root = rt.settings.work_dir
    folders = stale_folders(root)
    if folders:
        problem = Problem(
            "work",
            "work-left-behind",
            root.name,
            f"{len(folders)} work folder(s) under {root} were left by killed runs (they may hold copies of client "
            "files); `casefile check --repair` removes them (the next run of any command does too).",
            repairable=True,
        )
        report.problems.append(problem)
        if report.repair:
            for folder in folders:
                shutil.rmtree(folder, ignore_errors=True)
            problem.repaired = not any(f.exists() for f in folders)
    temp: list[Path] = rt.store.stale_temp() if isinstance(rt.store, LocalObjectStore) else []
    if temp:
        problem = Problem(
            "work",
            "store-temp-left-behind",
            LocalObjectStore.TMP_DIR,
            f"{len(temp)} temporary file(s) of interrupted writes are in the object store's temp folder; "
            "`casefile check --repair` removes them.",
            repairable=True,
        )
        report.problems.append(problem)
        if report.repair:
            for path in temp:
                path.unlink(missing_ok=True)
            problem.repaired = True
    locks = rt.settings.home / "locks"
    if report.repair and locks.is_dir():
        for lock in _finished_locks(rt, locks):
            lock.unlink(missing_ok=True)
    report.checked["work_folders"] = sum(1 for _ in _dirs(root))


def _dirs(root: Path) -> Iterator[Path]:
    if root.is_dir():
        yield from (p for p in root.iterdir() if p.is_dir())


def _finished_locks(rt: Runtime, locks: Path) -> list[Path]:
    """Lock files of batches that are no longer open (a killed run leaves its lock file; a resumed batch does not
    need it)."""
    found = []
    with rt.catalog.session() as session:
        for lock in locks.glob("*.lock"):
            batch = session.get(IntakeBatch, lock.stem)
            if (batch is None or batch.status not in ("pending", "running")) and not lock_is_held(lock):
                found.append(lock)
    return found


def _tools(report: HealthReport) -> None:
    for tool, why in TOOLS.items():
        if shutil.which(tool) is None:
            report.problems.append(
                Problem("tools", "tool-missing", tool, f"The program {tool} is not installed; it {why}.")
            )
