"""Translations: the English translation of a foreign-language document, with what its translator's certificate needs.

``add_translation`` takes in the translation as a document of the case (made searchable like any other) and links it
to the document it translates (``link_translation``: one translation per document; replacing one needs ``replace``
and says what it replaces); ``add_translations_from_folder`` does it for a folder whose files are named after their
documents; ``remove_translation`` unlinks one; ``list_translations`` lists a case's translations with their files.
A translator saved once in the practice (`casefile translator add`) is named by key (``resolve_translator``). The
packet puts each translation, then its translator's certificate, right after its document.
"""

from __future__ import annotations

import re
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


class TranslationExists(TranslationError):
    """The document has a translation already: replacing it must be asked for."""

    def __init__(self, source_id: str, existing: Translation) -> None:
        super().__init__(
            f"Document {source_id} already has translation {existing.id} (document {existing.document_id}, "
            f"certified {existing.certified_on.isoformat()}); nothing was added. Add --replace to replace it, or "
            f"remove it first with `casefile translation rm {existing.id}`."
        )
        self.translation_id = existing.id


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
    *,
    replace: bool = True,
) -> Translation:
    """Record the translation of ``source_document_id`` (replacing one only with ``replace``); both documents must
    be in the case."""
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
    existing = session.scalar(select(Translation).where(Translation.source_document_id == source.id))
    if existing is not None and not replace:
        raise TranslationExists(source.id, existing)
    target.doc_type = TRANSLATION
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
        "for_file": t.source_document.original_name,
        "document": t.document_id,
        "file": t.document.original_name,
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
    *,
    replace: bool = False,
) -> dict[str, Any]:
    """Take in ``path`` (the English translation) as a document of the case, make its text searchable, and link it
    to ``source_document_id`` with the certificate's data; a document that has a translation keeps it unless
    ``replace`` (refused before anything is stored). Returns the translation's row (ids, dates, file names), with
    ``replaced``: the translation it replaced, if any."""
    from ..documents import pipeline

    translator.validate()  # before anything is stored
    catalog = rt.catalog
    with catalog.session() as session:
        case_id = catalog.get_case(session, case_id).id
        source = catalog.get_document(session, source_document_id)
        existing = session.scalar(select(Translation).where(Translation.source_document_id == source.id))
        if existing is not None and not replace:
            raise TranslationExists(source.id, existing)
        replaced = existing.id if existing is not None else None
    result = pipeline.ingest_file(rt, case_id, path, TRANSLATION)
    document_id = pipeline.taken_in(result)
    if document_id is None:
        raise TranslationError(
            f"{path} could not be taken in ({result.reason or result.outcome.value}); see `casefile docs {case_id}`. "
            "Save the translation as a PDF and try again."
        )
    with catalog.session() as session:
        linked = link_translation(
            session,
            case_id,
            source_document_id,
            document_id,
            translator,
            certified_on,
            source_language,
            replace=replace,
        )
        return {**translation_row(linked), "replaced": replaced}


def list_translations(rt: Runtime, case_id: str) -> list[dict[str, Any]]:
    """The case's translations as rows (ids, the document each belongs to and its exhibit label, file names,
    language, translator, date), in exhibit-list order (the others after, by id)."""
    with rt.catalog.session() as session:
        case = rt.catalog.get_case(session, case_id)
        found = list(
            session.scalars(select(Translation).where(Translation.case_id == case.id).order_by(Translation.id))
        )
        labels = {
            e.document_id: (e.position, e.label)
            for e in session.scalars(select(Exhibit).where(Exhibit.case_id == case.id))
        }
        found.sort(key=lambda t: labels.get(t.source_document_id, (10**6, ""))[0])
        return [{**translation_row(t), "exhibit": labels.get(t.source_document_id, (0, None))[1]} for t in found]


def remove_translation(rt: Runtime, ref: str) -> dict[str, Any]:
    """Unlink a translation (by its id, or the id of the document it translates); the translation's document stays
    in the case (`casefile doc rm` removes it). Its row as it was."""
    key = ref.strip().upper()
    with rt.catalog.session() as session:
        found = session.get(Translation, key) or session.scalar(
            select(Translation).where(Translation.source_document_id == key)
        )
        if found is None:
            raise TranslationError(f"No translation {ref!r}; `casefile translation list CASE-ID` shows them.")
        row = translation_row(found)
        session.delete(found)
        audit(
            session,
            actor=current_actor(),
            entity="document",
            entity_id=found.source_document_id,
            action="translation-removed",
            case_id=found.case_id,
            translation=found.id,
        )
        return row


def resolve_translator(
    rt: Runtime, translator: str, address: str = "", phone: str = "", email: str = "", signed: bool = False
) -> TranslatorInfo:
    """``translator``: the key of a translator saved in the practice (`casefile translator add`), whose details the
    other values override when given, or a name typed with its address and telephone."""
    from ..core.practice import practice_of

    saved = practice_of(rt).translator(translator)
    if saved is None:
        return TranslatorInfo(translator, address, phone, email, signed_electronically=signed)
    return TranslatorInfo(
        saved.name,
        address or saved.address,
        phone or saved.phone,
        email or saved.email,
        signed_electronically=signed or saved.signs_electronically,
    )


_ENGLISH_SUFFIX = re.compile(
    r"[\s._-]*(?:\(?(?:en|eng|english|ingles|inglés|translation|traduccion|traducción)\)?)$", re.I
)


def translation_files(rt: Runtime, case_id: str, folder: Path) -> list[tuple[Path, str]]:
    """The files of ``folder`` with the document each translates: a file is named after its document, by id
    (``D-7KX4M2PA.pdf``) or by the document's own file name with an English marker (``denuncia.en.pdf``,
    ``denuncia_english.pdf`` for ``denuncia.jpg``). Every file must match exactly one document, else nothing is
    added (TranslationError listing the files)."""
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    if not files:
        raise TranslationError(f"{folder} holds no files.")
    with rt.catalog.session() as session:
        case = rt.catalog.get_case(session, case_id)
        docs = [d for d in case.documents if d.status == "ready" and d.doc_type != TRANSLATION]
        by_stem: dict[str, list[str]] = {}
        for d in docs:
            by_stem.setdefault(Path(d.original_name).stem.casefold(), []).append(d.id)
            by_stem.setdefault(d.id.casefold(), []).append(d.id)
    pairs, problems = [], []
    for path in files:
        stem = path.stem
        while True:  # "denuncia.en" -> "denuncia"; "denuncia (English)" -> "denuncia"
            shorter = _ENGLISH_SUFFIX.sub("", stem)
            if shorter == stem or not shorter:
                break
            stem = shorter
        found = by_stem.get(stem.casefold(), []) or by_stem.get(path.stem.casefold(), [])
        if len(found) == 1:
            pairs.append((path, found[0]))
        elif not found:
            problems.append(f"{path.name}: no document of case {case.id} is named like it (see `casefile docs`)")
        else:
            problems.append(f"{path.name}: several documents are named like it ({', '.join(found)}); add it with --for")
    if problems:
        listing = "\n".join(f"  {p}" for p in problems)
        raise TranslationError(
            f"{len(problems)} file(s) of {folder} match no single document; nothing was added:\n{listing}\nName "
            "each file after its document (its id, like D-7KX4M2PA.pdf, or its file name with .en, like "
            "denuncia.en.pdf)."
        )
    return pairs


def add_translations_from_folder(
    rt: Runtime,
    case_id: str,
    folder: Path,
    translator: TranslatorInfo,
    certified_on: date,
    source_language: str | None = None,
    *,
    replace: bool = False,
) -> list[dict[str, Any]]:
    """Every file of ``folder`` as the translation of the document it is named after (``translation_files``); all
    are checked (names, existing translations) before any is added."""
    translator.validate()
    pairs = translation_files(rt, case_id, folder)
    if not replace:
        with rt.catalog.session() as session:
            for _path, doc_id in pairs:
                existing = session.scalar(select(Translation).where(Translation.source_document_id == doc_id))
                if existing is not None:
                    raise TranslationExists(doc_id, existing)
    return [
        add_translation(rt, case_id, doc_id, path, translator, certified_on, source_language, replace=replace)
        for path, doc_id in pairs
    ]
