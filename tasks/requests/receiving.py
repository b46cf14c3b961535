"""Answers linked to their request by a person: `casefile request receive`, `request inbox` and `request assign`.

`request receive` is three steps, so that the files go through the one ingest order (the documents pipeline, run
by the caller: the CLI runs the ingest flow) and nothing is ingested for an answer that cannot be recorded:

    target = check_receivable(rt, ref, partial=False)          # refuses "received" before "sent"
    batch_id = <ingest the files into target.case_id as target.document_type>
    summary = receive_batch(rt, target.request_id, batch_id, partial=False)

The inbox poller (inbox.py) matches arriving files by itself; what it could not match waits in the case's inbox
(``inbox_rows``) until a person assigns it (``assign_document``). Functions take the runtime first and return plain
dicts (ids, dates, states; the file names are the user's own); the linking rules are lifecycle.py's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from ..core.catalog import Document, IntakeItem, current_actor
from ..core.errors import ValidationError
from ..documents.intake import Outcome
from .config import request_config
from .lifecycle import assign_inbox_item, check_can_receive, get_request, inbox_items, link_document, request_summary

if TYPE_CHECKING:
    from ..core.runtime import Runtime

TAKEN_IN = (Outcome.STORED, Outcome.DUPLICATE)  # the file is a document of the case (new, or there before)


@dataclass(frozen=True)
class Receivable:
    """Where the answer to a request goes: its case, as the document type of its record type."""

    request_id: str
    case_id: str
    document_type: str


def check_receivable(rt: Runtime, ref: str, *, partial: bool) -> Receivable:
    """Refuse, before anything is ingested, an answer the request cannot record (``InvalidTransition``: no
    "received" before "sent"; ``RequestNotFound``)."""
    config = request_config(rt)
    with rt.catalog.session() as session:
        req = get_request(session, ref)
        check_can_receive(req, complete=not partial)
        return Receivable(req.id, req.case_id, config.record_type(req.record_type).document_type)


def receive_batch(rt: Runtime, ref: str, batch_id: str, *, partial: bool, actor: str | None = None) -> dict[str, Any]:
    """Link every file intake batch ``batch_id`` took in (stored, or already in the case), in file order, to the
    request (``receive_documents``). Raises ``ValidationError`` when the batch took in none."""
    with rt.catalog.session() as session:
        document_ids = [
            doc_id
            for doc_id in session.scalars(
                select(IntakeItem.document_id)
                .where(IntakeItem.batch_id == batch_id, IntakeItem.outcome.in_([o.value for o in TAKEN_IN]))
                .order_by(IntakeItem.seq)
            )
            if doc_id is not None
        ]
    if not document_ids:
        with rt.catalog.session() as session:
            request_id = get_request(session, ref).id
        raise ValidationError(
            f"None of the files could be taken in (see batch {batch_id}); nothing was linked to "
            f"{request_id}. Fix the files and run the command again."
        )
    return receive_documents(rt, ref, document_ids, partial=partial, actor=actor)


def receive_documents(
    rt: Runtime, ref: str, document_ids: list[str], *, partial: bool, actor: str | None = None
) -> dict[str, Any]:
    """Link documents of the request's case to it as its answer, in one transaction: ``received`` after the last
    (``partially-received`` with ``partial``, and before the last). Linking a document twice changes nothing.
    Returns the summary with ``linked_documents``. ``actor``: default the user running casefile."""
    actor = actor or current_actor()
    config = request_config(rt)
    with rt.catalog.session() as session:
        req = get_request(session, ref)
        for n, doc_id in enumerate(document_ids, start=1):
            last = n == len(document_ids)
            link_document(
                session,
                config,
                req,
                doc_id,
                actor=actor,
                complete=(not partial) if last else False,
                matched_by="manual",
            )
        summary = request_summary(req, config)
    summary["linked_documents"] = list(document_ids)
    return summary


def inbox_rows(rt: Runtime, case_id: str) -> dict[str, Any]:
    """The files that arrived for the case and matched no request: ``{"case_id", "items": [{"document_id", "name",
    "pages", "source", "arrived_at"}]}``. Raises ``CaseNotFound``."""
    with rt.catalog.session() as session:
        real = rt.catalog.get_case(session, case_id).id
        rows = []
        for item in inbox_items(session, real):
            doc = session.get(Document, item.document_id) if item.document_id else None
            rows.append(
                {
                    "document_id": item.document_id,
                    "name": doc.original_name if doc else None,
                    "pages": doc.page_count if doc else 0,
                    "source": item.source,
                    "arrived_at": item.created_at.isoformat(timespec="seconds"),
                }
            )
    return {"case_id": real, "items": rows}


def assign_document(
    rt: Runtime, document_id: str, ref: str, *, complete: bool, actor: str | None = None
) -> dict[str, Any]:
    """Link a document waiting in its case's inbox to the request (``received``, or ``partially-received`` when not
    ``complete``). Returns the request's summary. Raises ``NotFoundError`` (not in an inbox), ``ValidationError``
    (another case's request), ``InvalidTransition``."""
    config = request_config(rt)
    with rt.catalog.session() as session:
        item = assign_inbox_item(session, config, document_id, ref, actor=actor or current_actor(), complete=complete)
        session.flush()
        return request_summary(get_request(session, item.request_id or ref), config)
