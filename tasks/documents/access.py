"""What a person sees of a case's documents and gets back: rows for `casefile docs` and `doc show`, and downloads
verified against their SHA-256."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from ..core.catalog import Document, Exhibit, audit, current_actor, utcnow
from ..core.errors import NotFoundError, ValidationError
from .language import document_language
from .types import load_document_types

if TYPE_CHECKING:
    from ..core.runtime import Runtime


class Variant(StrEnum):
    PDF = "pdf"  # the normalised PDF (the original itself for PDFs)
    ORIGINAL = "original"  # the file as received, byte for byte
    SEARCHABLE = "searchable"  # original pages plus the OCR text layer


def document_row(doc: Document) -> dict[str, Any]:
    return {
        "id": doc.id,
        "case_id": doc.case_id,
        "name": doc.original_name,
        "kind": doc.kind,
        "type": doc.doc_type,
        "title": doc.title,
        "date": doc.doc_date.isoformat() if doc.doc_date else None,
        "language": document_language([p.language for p in doc.pages]) if doc.status == "ready" else None,
        "identity_confirmed": doc.identity_confirmed_at is not None,
        "status": doc.status,
        "pages": doc.page_count,
        "size_bytes": doc.size_bytes,
        "sha256": doc.sha256,
        "original_key": doc.original_key,
        "normalised_key": doc.normalised_key,
        "normalised_sha256": doc.normalised_sha256,
        "ocr_status": doc.ocr_status,
        "searchable_key": doc.searchable_key,
        "searchable_sha256": doc.searchable_sha256,
        "quarantine_reason": doc.quarantine_reason,
        "added_at": doc.created_at.isoformat(timespec="seconds"),
    }


def list_documents(rt: Runtime, case_id: str) -> list[dict[str, Any]]:
    with rt.catalog.session() as session:
        return [document_row(d) for d in rt.catalog.get_case(session, case_id).documents]


def show_document(rt: Runtime, doc_id: str) -> dict[str, Any]:
    """One document with its pages (size in points, rotation, where its text came from)."""
    with rt.catalog.session() as session:
        found = rt.catalog.get_document(session, doc_id)
        row = document_row(found)
        row["quarantine_detail"] = found.quarantine_detail
        row["page_list"] = [
            {
                "number": p.number,
                "width_pt": p.width_pt,
                "height_pt": p.height_pt,
                "rotation": p.rotation,
                "image_px": [p.image_width_px, p.image_height_px] if p.image_width_px else None,
                "text_source": p.text_source,
                "ocr_confidence": p.ocr_confidence,
                "language": p.language,
                "low_confidence": p.low_confidence,
                "ocr_error": p.ocr_error,
                "characters": len(p.text or ""),
            }
            for p in found.pages
        ]
        return row


def page_text(rt: Runtime, doc_id: str, page: int | None = None) -> dict[str, Any]:
    """The text of a document's pages (or of ``page``), as found (text layer or OCR), for a person to read."""
    with rt.catalog.session() as session:
        found = rt.catalog.get_document(session, doc_id)
        if page is not None and not 1 <= page <= max(found.page_count, 0):
            raise ValidationError(f"Document {found.id} has {found.page_count} page(s); there is no page {page}.")
        pages = [p for p in found.pages if page is None or p.number == page]
        return {
            "id": found.id,
            "pages": [
                {"number": p.number, "text": p.text or "", "text_source": p.text_source, "language": p.language}
                for p in pages
            ],
        }


def correct_document(
    rt: Runtime,
    doc_id: str,
    *,
    doc_type: str | None = None,
    title: str | None = None,
    doc_date: date | None = None,
    identity_confirmed: bool = False,
) -> dict[str, Any]:
    """What a person corrects of what intake guessed (`casefile doc set`): the document's type, title and own date
    (proposed by exhibit plans; an exhibit of the saved list takes the new title and date at once), and that it
    belongs to the case although the identity cross-check flagged it. The audit event names the fields, never their
    values."""
    if doc_type is None and title is None and doc_date is None and not identity_confirmed:
        raise ValidationError("Nothing to change: pass --type, --title, --date or --identity-confirmed.")
    if doc_type is not None:
        rt.config(load_document_types).check(doc_type)
    if title is not None and not 0 < len(title.strip()) <= 300:
        raise ValidationError("The title must have 1 to 300 characters.")
    with rt.catalog.session() as session:
        found = rt.catalog.get_document(session, doc_id)
        fields: list[str] = []
        if doc_type is not None:
            found.doc_type, fields = doc_type, [*fields, "type"]
        if title is not None:
            found.title, fields = title.strip(), [*fields, "title"]
        if doc_date is not None:
            found.doc_date, fields = doc_date, [*fields, "date"]
        if identity_confirmed:
            found.identity_confirmed_at, fields = utcnow(), [*fields, "identity_confirmed"]
        exhibits = list(session.scalars(select(Exhibit).where(Exhibit.document_id == found.id)))
        for exhibit in exhibits:
            if title is not None:
                exhibit.title = found.title or exhibit.title
            if doc_date is not None:
                exhibit.doc_date = doc_date
        audit(
            session,
            actor=current_actor(),
            entity="document",
            entity_id=found.id,
            action="corrected",
            case_id=found.case_id,
            fields=fields,
        )
        session.flush()
        row = document_row(found)
        row["exhibits"] = [e.label for e in exhibits]
        return row


def export_document(rt: Runtime, doc_id: str, output: Path, variant: Variant = Variant.PDF) -> dict[str, Any]:
    """Write a document to ``output`` (atomically), verified against its recorded SHA-256."""
    with rt.catalog.session() as session:
        found = rt.catalog.get_document(session, doc_id)
        if variant is Variant.SEARCHABLE and found.searchable_key is None:
            raise NotFoundError(
                f"Document {found.id} has no searchable PDF yet (OCR status: {found.ocr_status}). "
                "Run `casefile add` for its case again to finish it."
            )
        if variant is Variant.SEARCHABLE:
            key, sha = found.searchable_key, found.searchable_sha256
        elif variant is Variant.ORIGINAL or found.normalised_key is None:
            key, sha = found.original_key, found.sha256
        else:
            key, sha = found.normalised_key, found.normalised_sha256
        real_id = found.id
    if key is None:
        raise NotFoundError(f"Document {real_id} has no stored bytes (it was refused before it was copied).")
    try:
        rt.store.download(key, output, expected_sha256=sha)
    except FileNotFoundError:
        raise NotFoundError(
            f"The object for document {real_id} is missing from {rt.store.describe()}. Restore it from backup "
            "or add the original file again."
        ) from None
    return {
        "id": real_id,
        "output": str(output),
        "sha256": sha,
        "verified": True,
        "bytes": output.stat().st_size,
        "kind": variant.value,
    }
