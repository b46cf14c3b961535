"""Translations: the English translation of a foreign-language document, with what its translator's certificate needs.

``add_translation`` takes in the translation as a document of the case (made searchable like any other) and links it
to the document it translates (``link_translation``: one translation per document; a new one replaces it);
``list_translations`` lists a case's translations. The packet puts each translation, then its translator's
certificate, right after its document.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..core.catalog import Document, Exhibit, Translation, audit, current_actor, new_id
from ..core.errors import ValidationError
from ..documents import language as langid
from ..documents.types import TRANSLATION

if TYPE_CHECKING:
    from ..core.runtime import Runtime


class TranslationError(ValidationError):
    pass


def document_language(doc: Document) -> str:
    """The language most of the document's pages are in (ISO 639-1), as identified from their text; "unknown"
    (``documents.language.UNKNOWN``) when most pages have no identified text: never English by default."""
    return langid.document_language([p.language for p in doc.pages])


def translations_by_source(session: Session, case_id: str) -> dict[str, Translation]:
    rows = session.scalars(select(Translation).where(Translation.case_id == case_id))
    return {t.source_document_id: t for t in rows}


@dataclass(frozen=True)
class TranslatorInfo:
    name: str
    address: str = ""
    phone: str = ""
    email: str = ""
    # The translator signed the certificate electronically ("/s/ Name" is printed on it); otherwise the translator
    # signs it by hand after printing, which the filing profile must allow.
    signed_electronically: bool = False

    def validate(self) -> None:
        if not self.name.strip():
            raise TranslationError("The translator's name is required (--translator).")
        if not self.address.strip() or not self.phone.strip():
            raise TranslationError(
                "The translator's certificate needs the translator's address and telephone "
                "(--address and --phone); immigration courts and USCIS reject certificates without them."
            )


def link_translation(
    session: Session,
    case_id: str,
    source_document_id: str,
    translation_document_id: str,
    translator: TranslatorInfo,
    certified_on: date,
    source_language: str | None = None,
) -> Translation:
    """Record (or replace) the translation of ``source_document_id``; both documents must be in the case."""
    translator.validate()
    source = session.get(Document, source_document_id.upper())
    target = session.get(Document, translation_document_id.upper())
    if source is None or source.case_id != case_id:
        raise TranslationError(f"Document {source_document_id} is not in case {case_id} (see `casefile docs`).")
    if target is None or target.case_id != case_id:
        raise TranslationError(f"The translation document {translation_document_id} is not in case {case_id}.")
    if source.id == target.id:
        raise TranslationError(f"Document {source.id} cannot be its own translation; add the English version.")
    planned = session.scalar(select(Exhibit.language).where(Exhibit.document_id == source.id))
    usable = planned if planned and planned not in ("en", langid.UNKNOWN) else None
    language = (source_language or usable or document_language(source)).lower()
    if language == "en":
        raise TranslationError(
            f"Document {source.id} reads as English; pass --language with its language (for example es) if it is not."
        )
    if language == langid.UNKNOWN:
        raise TranslationError(
            f"The language of document {source.id} is not known (its pages have no text to tell by); pass --language "
            "with it (for example es, pt, ht)."
        )
    if langid.language_name(language) is None:
        raise TranslationError(
            f"{language!r} is not a language code casefile knows; write it as ISO 639-1 (es, pt, fr) or, for a "
            "language without one, ISO 639-3 (quc for K'iche')."
        )
    target.doc_type = TRANSLATION
    existing = session.scalar(select(Translation).where(Translation.source_document_id == source.id))
    if existing is None:
        existing = Translation(id=new_id("T", 8), case_id=case_id, source_document_id=source.id)
        session.add(existing)
        action = "translation-added"
    else:
        action = "translation-replaced"
    existing.document_id = target.id
    existing.source_language = language
    existing.translator_name = translator.name.strip()
    existing.translator_address = translator.address.strip()
    existing.translator_phone = translator.phone.strip()
    existing.translator_email = translator.email.strip()
    existing.certified_on = certified_on
    existing.signature = "electronic" if translator.signed_electronically else None
    for exhibit in session.scalars(select(Exhibit).where(Exhibit.document_id == source.id)):
        exhibit.language = language
    session.flush()
    audit(
        session,
        actor=current_actor(),
        entity="document",
        entity_id=source.id,
        action=action,
        case_id=case_id,
        translation=existing.id,
        translation_document=target.id,
    )
    return existing


def translation_row(t: Translation) -> dict[str, Any]:
    return {
        "id": t.id,
        "for": t.source_document_id,
        "document": t.document_id,
        "source_language": t.source_language,
        "translator": t.translator_name,
        "certified_on": t.certified_on.isoformat(),
        "signature": t.signature or "by hand",
    }


def add_translation(
    rt: Runtime,
    case_id: str,
    source_document_id: str,
    path: Path,
    translator: TranslatorInfo,
    certified_on: date,
    source_language: str | None = None,
) -> dict[str, Any]:
    """Take in ``path`` (the English translation) as a document of the case, make its text searchable, and link it
    to ``source_document_id`` with the certificate's data. Returns the translation's row (ids and dates only)."""
    from ..documents import pipeline

    translator.validate()  # before anything is stored
    catalog = rt.catalog
    with catalog.session() as session:
        case_id = catalog.get_case(session, case_id).id
        catalog.get_document(session, source_document_id)
    result = pipeline.ingest_file(rt, case_id, path, TRANSLATION)
    document_id = pipeline.taken_in(result)
    if document_id is None:
        raise TranslationError(
            f"{path} could not be taken in ({result.reason or result.outcome.value}); see `casefile docs {case_id}`. "
            "Save the translation as a PDF and try again."
        )
    with catalog.session() as session:
        linked = link_translation(
            session, case_id, source_document_id, document_id, translator, certified_on, source_language
        )
        return translation_row(linked)


def list_translations(rt: Runtime, case_id: str) -> list[dict[str, Any]]:
    """The case's translations as rows (ids, language, translator, date), by id."""
    with rt.catalog.session() as session:
        case = rt.catalog.get_case(session, case_id)
        found = session.scalars(select(Translation).where(Translation.case_id == case.id).order_by(Translation.id))
        return [translation_row(t) for t in found]
