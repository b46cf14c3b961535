"""The inbox: files that arrive for a case are ingested and matched to their record request.

Sources: a folder per case, ``$CASEFILE_HOME/inbox/<CASE-ID>/`` (or ``inbox_dir``), and, when ``s3_prefix`` is given,
objects under ``<s3_prefix><CASE-ID>/`` in the object store. Each file is processed once:

- the catalog's ``inbox_items`` table is the ledger (one row per source, path/key and SHA-256), written after the
  file's document exists and was matched; a file whose row exists is skipped;
- a folder file then moves to ``<inbox>/<CASE-ID>/processed/`` (byte for byte: a rename), so the folder shows what
  still waits; an S3 object stays where it is (the ledger alone says it was done).

A crash between ingest and the ledger row is safe: ingesting the same bytes again finds the existing document
(intake's duplicate check) and the match is recorded then.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select

from ..core.catalog import Case, Document, InboxItem, current_actor
from ..core.storage import sha256_file
from ..core.workdirs import work_folder
from ..documents import pipeline
from ..documents.normalise import SUPPORTED_SUFFIXES
from ..documents.types import UNCLASSIFIED
from .config import request_config
from .lifecycle import route_document

if TYPE_CHECKING:
    from ..core.runtime import Runtime
    from .config import RequestConfig

log = logging.getLogger(__name__)

PROCESSED = "processed"
IngestBatch = Callable[[str], None]  # runs the ingest of an intake batch (plain, or the Prefect flow)


@dataclass
class PollResult:
    """Counts and ids only (safe for logs and Prefect artifacts)."""

    files: int = 0
    skipped: int = 0
    linked: list[str] = field(default_factory=list)  # document ids matched to a request
    inbox: list[str] = field(default_factory=list)  # document ids left for a person
    quarantined: int = 0
    requests: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "files": self.files,
            "skipped": self.skipped,
            "linked": len(self.linked),
            "inbox": len(self.inbox),
            "quarantined": self.quarantined,
            "requests": sorted(set(self.requests)),
            "documents": sorted(self.linked + self.inbox),
        }


def inbox_root(rt: Runtime) -> Path:
    return rt.settings.home / "inbox"


def ingest_plain(rt: Runtime) -> IngestBatch:
    """Ingest a batch without Prefect (the documents pipeline, run plainly)."""

    def run(batch_id: str) -> None:
        pipeline.ingest_batch(rt, batch_id)

    return run


def _case_folders(root: Path, case_ids: list[str] | None) -> list[tuple[str, Path]]:
    if not root.is_dir():
        return []
    folders = [(p.name.upper(), p) for p in sorted(root.iterdir()) if p.is_dir() and not p.name.startswith(".")]
    if case_ids is not None:
        wanted = {c.upper() for c in case_ids}
        folders = [(c, p) for c, p in folders if c in wanted]
    return folders


def _pending_files(folder: Path) -> list[Path]:
    return [
        p
        for p in sorted(folder.iterdir())
        if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in SUPPORTED_SUFFIXES
    ]


def _already(rt: Runtime, source: str, ref: str, sha: str) -> bool:
    with rt.catalog.session() as session:
        return (
            session.scalar(
                select(InboxItem.id).where(
                    InboxItem.source == source, InboxItem.source_ref == ref, InboxItem.sha256 == sha
                )
            )
            is not None
        )


def receive_files(
    rt: Runtime,
    config: RequestConfig,
    case_id: str,
    files: list[tuple[Path, str, str]],
    *,
    source: str,
    ingest: IngestBatch,
    actor: str,
    subjects: dict[str, str] | None = None,
) -> PollResult:
    """Ingest ``files`` ((path, source_ref, sha256)) into the case as one intake batch, then match each document and
    record it in the inbox ledger. ``subjects``: e-mail subject per source_ref, when the file came by e-mail."""
    from ..core.catalog import IntakeItem
    from .letters import document_qr_reader

    result = PollResult(files=len(files))
    if not files:
        return result
    batch_id = pipeline.new_batch(rt, case_id, [p for p, _r, _s in files], UNCLASSIFIED)
    ingest(batch_id)
    reader = document_qr_reader(rt)
    with rt.catalog.session() as session:
        items = {it.seq: it for it in session.scalars(select(IntakeItem).where(IntakeItem.batch_id == batch_id))}
        for seq, (_path, ref, _sha) in enumerate(files):
            item = items.get(seq)
            if item is None or item.document_id is None:
                continue  # failed before a document existed (transient): the next poll tries again
            document = session.get(Document, item.document_id)
            assert document is not None
            routed = route_document(
                session,
                config,
                document,
                source=source,
                source_ref=ref,
                actor=actor,
                subject=(subjects or {}).get(ref),
                qr_reader=reader,
                file_name=Path(ref).name,
            )
            if routed.status == "linked":
                result.linked.append(document.id)
                result.requests.append(routed.request_id or "")
            elif routed.status == "quarantined":
                result.quarantined += 1
            else:
                result.inbox.append(document.id)
    return result


def poll_inbox(
    rt: Runtime,
    config: RequestConfig | None = None,
    *,
    case_ids: list[str] | None = None,
    inbox_dir: Path | None = None,
    s3_prefix: str | None = None,
    ingest: IngestBatch | None = None,
    actor: str | None = None,
) -> PollResult:
    """Take in what arrived in the inbox folder (and the S3 prefix), once per file; match or leave in the inbox.
    ``ingest`` runs each intake batch (default: plainly; flows/inbox.py passes the ingest flow)."""
    config = config or request_config(rt)
    ingest = ingest or ingest_plain(rt)
    actor = actor or current_actor()
    root = inbox_dir or inbox_root(rt)
    total = PollResult()
    for case_id, folder in _case_folders(root, case_ids):
        with rt.catalog.session() as session:
            if session.get(Case, case_id) is None:
                log.warning("inbox folder for unknown case %s skipped", case_id)
                continue
        todo: list[tuple[Path, str, str]] = []
        done: list[Path] = []
        for path in _pending_files(folder):
            sha = sha256_file(path)
            ref = f"{case_id}/{path.name}"
            if _already(rt, "folder", ref, sha):
                done.append(path)
                total.skipped += 1
            else:
                todo.append((path, ref, sha))
        part = receive_files(rt, config, case_id, todo, source="folder", ingest=ingest, actor=actor)
        _merge(total, part)
        for path, ref, sha in todo:
            if _already(rt, "folder", ref, sha):
                done.append(path)
        _move_processed(folder, done)
    if s3_prefix is not None:
        _merge(total, _poll_store(rt, config, s3_prefix, case_ids, ingest, actor))
    log.info("inbox poll: %s", {k: v for k, v in total.as_dict().items() if k != "documents"})
    return total


def _merge(total: PollResult, part: PollResult) -> None:
    total.files += part.files
    total.skipped += part.skipped
    total.linked += part.linked
    total.inbox += part.inbox
    total.quarantined += part.quarantined
    total.requests += part.requests


def _move_processed(folder: Path, files: list[Path]) -> None:
    if not files:
        return
    target = folder / PROCESSED
    target.mkdir(exist_ok=True)
    for path in files:
        dest = target / path.name
        n = 1
        while dest.exists():
            dest = target / f"{path.stem}.{n}{path.suffix}"
            n += 1
        path.rename(dest)  # same file system: the bytes are not touched


def _poll_store(
    rt: Runtime, config: RequestConfig, prefix: str, case_ids: list[str] | None, ingest: IngestBatch, actor: str
) -> PollResult:
    """Objects under ``<prefix><CASE-ID>/`` in the object store (S3 or local), processed once each."""
    total = PollResult()
    by_case: dict[str, list[str]] = {}
    for key in rt.store.list(prefix):
        rest = key[len(prefix) :].lstrip("/")
        case_id, _, name = rest.partition("/")
        if not name or Path(name).suffix.lower() not in SUPPORTED_SUFFIXES or f"/{PROCESSED}/" in f"/{name}":
            continue
        if case_ids is None or case_id.upper() in {c.upper() for c in case_ids}:
            by_case.setdefault(case_id.upper(), []).append(key)
    for case_id, keys in sorted(by_case.items()):
        with rt.catalog.session() as session:
            if session.get(Case, case_id) is None:
                continue
        with work_folder(rt.settings.work_dir, "inbox-s3-") as work:
            todo: list[tuple[Path, str, str]] = []
            for index, key in enumerate(keys):
                local = work / f"{index:05d}" / Path(key).name
                sha = rt.store.download(key, local)
                if _already(rt, "s3", key, sha):
                    total.skipped += 1
                else:
                    todo.append((local, key, sha))
            _merge(total, receive_files(rt, config, case_id, todo, source="s3", ingest=ingest, actor=actor))
    return total
