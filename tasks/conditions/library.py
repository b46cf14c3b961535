"""The country-conditions library: the organisation's reports, each one edition of a series, shared by every case.

``add_source(rt, path, meta)`` takes a report in through the same stages as a case document: a private copy hashed
while copied and checked by its first bytes (``documents.normalise``), the original kept byte for byte under its
SHA-256 (a file already in the library is reported as a duplicate and not stored again), images made PDFs without
re-encoding, then the text of every page (``documents.text.read_pdf_text``: text layers kept, scans OCR'd, a
searchable PDF stored beside the original) with word boxes (OCR's, or the text layer's: ``documents.words``), and
the library's index. A web page saved as HTML is archived as a PDF with its URL and access date (``archive``);
its HTML is the original. ``add_folder`` does the same for a folder described by a metadata CSV.

A source is never edited after it is added: a new edition is a new source in the same series (country, publisher,
series). ``staleness`` says which sources are superseded by a newer edition or older than the configured age.
Translations of foreign-language sources (all pages or some) are the library's too (``add_translation``).
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..core.catalog import ConditionPage, ConditionSource, ConditionTranslation, audit, current_actor, new_id
from ..core.errors import IntakeRejected, LibraryMetadataInvalid, QuarantinedFile, SourceNotFound, ValidationError
from ..core.storage import derived_key, original_key, sha256_file
from ..core.workdirs import work_folder
from ..documents.normalise import Kind, StagedFile, UnsupportedStaged, check_extension, normalise, stage_copy
from ..documents.text import read_pdf_text
from .archive import archive_html, looks_like_html
from .config import load_countries, load_ranking
from .index import index_pending, library_index
from .passages import fold

if TYPE_CHECKING:
    from ..core.runtime import Runtime
    from ..documents.ocr import PageResult, Word
    from ..packets.translations import TranslatorInfo

log = logging.getLogger(__name__)

METADATA_FIELDS = ("file", "country", "publisher", "series", "title", "edition", "published", "url", "accessed", "lang")
REQUIRED_FIELDS = ("country", "publisher", "series", "edition", "published")
_LANG = re.compile(r"^[a-z]{2}$")
_SOURCE_ID = re.compile(r"^S-[0-9A-Z]{8}$")


def _today() -> date:
    return datetime.now(UTC).date()


# Metadata ----------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SourceMeta:
    """What is known of a report besides its bytes. ``title`` defaults to "<series>: <country>"; ``language`` to the
    language most of its pages are in."""

    country: str
    publisher: str
    series: str
    edition: str
    published: date
    title: str | None = None
    url: str | None = None
    accessed: date | None = None
    language: str | None = None


def check_meta(
    rt: Runtime, raw: Mapping[str, Any], *, today: date | None = None
) -> tuple[SourceMeta | None, list[str]]:
    """Validate metadata as typed (strings, or dates); returns the metadata or the list of problems."""
    today = today or _today()
    problems: list[str] = []

    def text(key: str, limit: int) -> str:
        value = raw.get(key)
        value = "" if value is None else str(value).strip()
        if len(value) > limit:
            problems.append(f"{key} is longer than {limit} characters")
        return value

    def when(key: str) -> date | None:
        value = raw.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        if isinstance(value, date):
            return value
        try:
            return date.fromisoformat(str(value).strip())
        except ValueError:
            problems.append(f"{key} {value!r} is not a date (YYYY-MM-DD)")
            return None

    for key in REQUIRED_FIELDS:
        value = raw.get(key)
        if value is None or not str(value).strip():
            problems.append(f"{key} is missing")
    country_raw = text("country", 2 + 20)
    country = country_raw.upper()
    if country_raw:
        try:
            country = rt.config(load_countries).get(country_raw).code
        except ValidationError as exc:
            problems.append(exc.message)
    publisher, series, edition = text("publisher", 200), text("series", 300), text("edition", 40)
    title = text("title", 500) or None
    published, accessed = when("published"), when("accessed")
    url = text("url", 2000) or None
    if url is not None:
        parsed = urlparse(url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            problems.append(f"url {url!r} is not a web address (http:// or https://)")
    if published is not None and published > today:
        problems.append(f"published {published.isoformat()} is in the future")
    if accessed is not None and accessed > today:
        problems.append(f"accessed {accessed.isoformat()} is in the future")
    if accessed is not None and published is not None and accessed < published:
        problems.append(f"accessed {accessed.isoformat()} is before published {published.isoformat()}")
    language = text("lang", 8).lower() or None
    if language is not None and not _LANG.match(language):
        problems.append(f"lang {language!r} is not a two-letter language code such as en or es")
    if problems or published is None:
        return None, problems
    return SourceMeta(country, publisher, series, edition, published, title, url, accessed, language), []


# Adding ------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AddedSource:
    """What one file came to: ids, hashes and counts (safe for logs)."""

    file: str  # as the user gave it
    outcome: str  # added | duplicate | rejected
    source_id: str
    sha256: str
    pages: int
    ocr_pages: int = 0
    language: str = ""
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _work_dir(rt: Runtime, prefix: str) -> tuple[Path, ExitStack]:
    """An owned work folder (core.workdirs: removed when ``close()`` is called, or by the next start after a kill)."""
    stack = ExitStack()
    return stack.enter_context(work_folder(rt.settings.work_dir, prefix)), stack


def _stage(rt: Runtime, path: Path, work: Path) -> tuple[StagedFile, bool]:
    """The private, hashed copy of ``path`` and whether it is a saved web page (HTML)."""
    try:
        staged = stage_copy(path, work, rt.limits)
    except UnsupportedStaged as err:
        with err.staged.path.open("rb") as fh:
            if looks_like_html(fh.read(4096)):
                return err.staged, True
        raise IntakeRejected(
            f"{path}: not a PDF, image or saved web page (HTML). Save the report as PDF (or the page as HTML) and "
            "add it again."
        ) from None
    except QuarantinedFile as err:
        raise IntakeRejected(f"{path}: {err.message}") from None
    try:
        check_extension(path.name, staged.kind)
    except QuarantinedFile as err:
        raise IntakeRejected(f"{path}: {err.message}") from None
    return staged, False


def _existing(session: Session, sha256: str) -> ConditionSource | None:
    return session.scalar(select(ConditionSource).where(ConditionSource.sha256 == sha256))


def add_source(rt: Runtime, path: Path, meta: SourceMeta, *, actor: str | None = None) -> AddedSource:
    """Take one report into the library (see the module docstring). Raises ``IntakeRejected`` for a file that cannot
    be taken in (nothing is stored then) and ``ValidationError`` for a web page without its URL and access date."""
    store, limits = rt.store, rt.limits
    work, owned = _work_dir(rt, "library-")
    try:
        staged, is_html = _stage(rt, path, work)
        with rt.catalog.session() as session:
            dup = _existing(session, staged.sha256)
            if dup is not None:
                return AddedSource(
                    str(path),
                    "duplicate",
                    dup.id,
                    dup.sha256,
                    dup.page_count,
                    language=dup.language,
                    note="already in the library; a source is never edited, so its metadata stays as it was",
                )
        if is_html and (meta.url is None or meta.accessed is None):
            raise ValidationError(
                f"{path} is a saved web page: give its address and the day it was read (--url and --accessed), "
                "which the archived copy prints on every page."
            )
        okey = original_key(staged.sha256)
        if is_html:
            assert meta.url is not None and meta.accessed is not None
            archived = archive_html(staged.path, work / "archived.pdf", meta.url, meta.accessed)
            pdf = StagedFile(archived, sha256_file(archived), archived.stat().st_size, Kind.PDF)
        else:
            pdf = staged
        try:
            normalised = normalise(pdf, limits)
        except QuarantinedFile as err:
            raise IntakeRejected(f"{path}: {err.message}") from None
        if not store.exists(okey):
            store.put_file(okey, staged.path)
        nkey, nsha = okey, staged.sha256
        if is_html or normalised.derived:
            nsha = sha256_file(normalised.path)
            nkey = derived_key(nsha)
            if not store.exists(nkey):
                store.put_file(nkey, normalised.path)
        source_id = new_id("S", 8)
        read = read_pdf_text(rt, nkey, nsha, source_id)
        text_layer = [p.number for p in read.result.pages if p.source == "text-layer"]
        from ..documents.words import text_layer_words

        words = text_layer_words(normalised.path, text_layer) if text_layer else {}
        kind = "html" if is_html else staged.kind.value
        result = _record(
            rt, path, meta, source_id, staged, kind, okey, nkey, nsha, normalised.pages, read, words, actor
        )
    finally:
        owned.close()
    if result.outcome == "added":
        index_pending(rt)  # this source, and any an interrupted run left out of the index
    return result


def _words_json(words: Sequence[Word]) -> str | None:
    if not words:
        return None
    return json.dumps(
        [[w.text, round(w.conf, 1), w.x0, w.y0, w.x1, w.y1] for w in words], ensure_ascii=False, separators=(",", ":")
    )


def _language(pages: Sequence[PageResult]) -> str:
    counts = Counter(p.language for p in pages if p.language)
    return counts.most_common(1)[0][0] if counts else "en"


def _record(
    rt: Runtime,
    path: Path,
    meta: SourceMeta,
    source_id: str,
    staged: StagedFile,
    kind: str,
    okey: str,
    nkey: str,
    nsha: str,
    infos: Sequence[Any],
    read: Any,
    words: Mapping[int, Sequence[Word]],
    actor: str | None,
) -> AddedSource:
    results = {p.number: p for p in read.result.pages}
    country = rt.config(load_countries).get(meta.country)
    language = meta.language or _language(read.result.pages)
    failed = sum(p.source == "failed" for p in read.result.pages)
    with rt.catalog.session() as session:
        dup = _existing(session, staged.sha256)  # the same file added meanwhile by another command
        if dup is not None:
            return AddedSource(str(path), "duplicate", dup.id, dup.sha256, dup.page_count, language=dup.language)
        source = ConditionSource(
            id=source_id,
            sha256=staged.sha256,
            original_key=okey,
            original_name=path.name,
            size_bytes=staged.size,
            kind=kind,
            normalised_key=nkey,
            normalised_sha256=nsha,
            searchable_key=read.searchable_key,
            searchable_sha256=read.searchable_sha256,
            page_count=len(infos),
            ocr_status="done" if not failed else ("partial" if failed < len(infos) else "failed"),
            country=meta.country,
            publisher=meta.publisher,
            series=meta.series,
            title=meta.title or f"{meta.series}: {country.name}",
            edition=meta.edition,
            published_on=meta.published,
            url=meta.url,
            accessed_on=meta.accessed,
            language=language,
            added_by=actor or current_actor(),
        )
        for info in infos:
            page = results.get(info.number)
            page_words = words.get(info.number) or (page.words if page is not None else [])
            source.pages.append(
                ConditionPage(
                    number=info.number,
                    width_pt=info.width_pt,
                    height_pt=info.height_pt,
                    rotation=info.rotation,
                    text=page.text if page is not None else None,
                    text_source=page.source if page is not None else None,
                    ocr_confidence=page.confidence if page is not None else None,
                    language=page.language if page is not None else None,
                    words_json=_words_json(page_words),
                )
            )
        session.add(source)
        session.flush()
        audit(
            session,
            actor=actor or current_actor(),
            entity="condition-source",
            entity_id=source_id,
            action="added",
            sha256=staged.sha256,
            pages=len(infos),
            country=meta.country,
        )
    ocr_pages = sum(p.source == "ocr" for p in read.result.pages)
    log.info("library source %s added (%d pages, %d OCR'd)", source_id, len(infos), ocr_pages)
    note = f"{failed} page(s) could not be read" if failed else ""
    return AddedSource(str(path), "added", source_id, staged.sha256, len(infos), ocr_pages, language, note)


def read_metadata_csv(rt: Runtime, folder: Path) -> list[tuple[Path, SourceMeta]]:
    """The files of ``folder`` and their metadata, from the folder's one CSV file (columns: METADATA_FIELDS; ``file``
    relative to the folder). Every problem is reported with its line, and nothing is added when there is one."""
    csvs = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() == ".csv")
    if len(csvs) != 1:
        raise ValidationError(
            f"{folder} must hold exactly one metadata CSV (it holds {len(csvs)}), with the columns "
            f"{', '.join(METADATA_FIELDS)}: one line per report. Or add the reports one by one with --country, "
            "--publisher, --series, --edition and --published."
        )
    sheet = csvs[0]
    try:
        text = sheet.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationError(f"{sheet} is not UTF-8 text; save it as CSV UTF-8 and try again.") from None
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip().lower() for h in reader.fieldnames or []]
    problems: list[str] = []
    missing = [f for f in ("file", *REQUIRED_FIELDS) if f not in header]
    unknown = [h for h in header if h not in METADATA_FIELDS]
    if missing or unknown:
        detail = []
        if missing:
            detail.append(f"missing column(s) {', '.join(missing)}")
        if unknown:
            detail.append(f"unknown column(s) {', '.join(unknown)}")
        raise LibraryMetadataInvalid(str(sheet), [f"line 1: {'; '.join(detail)}; use {', '.join(METADATA_FIELDS)}"])
    out: list[tuple[Path, SourceMeta]] = []
    seen: dict[Path, int] = {}
    for number, row in enumerate(reader, start=2):
        values = {(k or "").strip().lower(): (v or "").strip() for k, v in row.items() if k is not None}
        name = values.get("file", "")
        where = f"line {number}"
        target = (folder / name).resolve() if name else None
        if target is None:
            problems.append(f"{where}: file is missing")
        elif not target.is_relative_to(folder.resolve()) or not target.is_file():
            problems.append(f"{where}: no file {name!r} in {folder}")
        elif target in seen:
            problems.append(f"{where}: {name!r} is already on line {seen[target]}")
        meta, errors = check_meta(rt, values)
        problems += [f"{where}: {e}" for e in errors]
        if target is not None and meta is not None and target.is_file():
            seen.setdefault(target, number)
            out.append((target, meta))
    if problems:
        raise LibraryMetadataInvalid(str(sheet), problems)
    return out


def add_folder(rt: Runtime, folder: Path, *, actor: str | None = None) -> list[AddedSource]:
    """Every report of ``folder`` that its metadata CSV lists (see ``read_metadata_csv``), one after another. A file
    that cannot be taken in is reported as "rejected" with the reason and the others go on."""
    out = []
    for path, meta in read_metadata_csv(rt, folder):
        try:
            out.append(add_source(rt, path, meta, actor=actor))
        except IntakeRejected as err:
            out.append(AddedSource(str(path), "rejected", "", "", 0, note=err.message))
    return out


def unlisted_files(folder: Path, listed: Iterable[Path]) -> list[str]:
    """Files of ``folder`` (not the CSV, not hidden) its metadata CSV does not list: reported, never added."""
    known = {p.resolve() for p in listed}
    return sorted(
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_file()
        and not p.name.startswith(".")
        and p.suffix.lower() != ".csv"
        and p.resolve() not in known
        and not any(part.endswith("_files") for part in p.relative_to(folder).parts[:-1])  # a saved page's assets
    )


# Reading -------------------------------------------------------------------------------------------------------------
def get_source(session: Session, source_id: str) -> ConditionSource:
    source = session.get(ConditionSource, source_id.strip().upper())
    if source is None:
        raise SourceNotFound(source_id)
    return source


def series_key(source: ConditionSource) -> tuple[str, str, str]:
    """A series: the same country, publisher and series name (case and accents ignored)."""
    return (source.country, " ".join(fold(source.publisher).split()), " ".join(fold(source.series).split()))


def edition_order(source: ConditionSource) -> tuple[date, str, str]:
    return (source.published_on, source.edition, source.id)


@dataclass(frozen=True)
class Staleness:
    superseded_by: str | None = None  # the newest edition's source id
    superseded_edition: str | None = None
    too_old: bool = False

    @property
    def stale(self) -> bool:
        return self.superseded_by is not None or self.too_old

    def reasons(self, source: ConditionSource, max_age_years: float) -> list[str]:
        out = []
        if self.superseded_by is not None:
            out.append(f"superseded by the {self.superseded_edition} edition ({self.superseded_by})")
        if self.too_old:
            out.append(f"published {source.published_on.isoformat()}, more than {max_age_years:g} years ago")
        return out


def staleness(rt: Runtime, session: Session, sources: Sequence[ConditionSource], today: date) -> dict[str, Staleness]:
    """For each of ``sources``: the newest edition of its series in the whole library when that is not itself, and
    whether it is older than ``max_age_years`` of config/conditions/ranking.toml."""
    ranking = rt.config(load_ranking)
    countries = {s.country for s in sources}
    newest: dict[tuple[str, str, str], ConditionSource] = {}
    if countries:
        for other in session.scalars(select(ConditionSource).where(ConditionSource.country.in_(countries))):
            key = series_key(other)
            if key not in newest or edition_order(other) > edition_order(newest[key]):
                newest[key] = other
    out: dict[str, Staleness] = {}
    for source in sources:
        top = newest.get(series_key(source), source)
        superseded = top.id != source.id and edition_order(top) > edition_order(source)
        age_days = (today - source.published_on).days
        out[source.id] = Staleness(
            top.id if superseded else None,
            top.edition if superseded else None,
            age_days > ranking.max_age_years * 365.25,
        )
    return out


def source_row(source: ConditionSource, stale: Staleness | None = None, max_age_years: float = 0) -> dict[str, Any]:
    return {
        "id": source.id,
        "country": source.country,
        "publisher": source.publisher,
        "series": source.series,
        "title": source.title,
        "edition": source.edition,
        "published": source.published_on.isoformat(),
        "url": source.url,
        "accessed": source.accessed_on.isoformat() if source.accessed_on else None,
        "language": source.language,
        "pages": source.page_count,
        "kind": source.kind,
        "sha256": source.sha256,
        "stale": bool(stale and stale.stale),
        "stale_reasons": stale.reasons(source, max_age_years) if stale else [],
    }


def list_sources(
    rt: Runtime, *, country: str | None = None, stale_only: bool = False, today: date | None = None
) -> list[dict[str, Any]]:
    """The library's sources (by country, series, then publication date), with whether each is stale and why."""
    today = today or _today()
    ranking = rt.config(load_ranking)
    with rt.catalog.session() as session:
        query = select(ConditionSource)
        if country is not None:
            query = query.where(ConditionSource.country == rt.config(load_countries).get(country).code)
        sources = sorted(session.scalars(query), key=lambda s: (series_key(s), edition_order(s)))
        stale = staleness(rt, session, sources, today)
        rows = [source_row(s, stale[s.id], ranking.max_age_years) for s in sources]
    return [r for r in rows if r["stale"]] if stale_only else rows


def show_source(rt: Runtime, source_id: str, *, today: date | None = None) -> dict[str, Any]:
    """One source with its pages (where each page's text came from) and its translations."""
    today = today or _today()
    ranking = rt.config(load_ranking)
    with rt.catalog.session() as session:
        source = get_source(session, source_id)
        row = source_row(source, staleness(rt, session, [source], today)[source.id], ranking.max_age_years)
        row["page_list"] = [
            {
                "number": p.number,
                "text_source": p.text_source,
                "language": p.language,
                "ocr_confidence": p.ocr_confidence,
                "words": len(json.loads(p.words_json)) if p.words_json else 0,
            }
            for p in source.pages
        ]
        row["translations"] = [translation_row(t) for t in translations_of(session, source.id)]
    return row


# Translations --------------------------------------------------------------------------------------------------------
def translations_of(session: Session, source_id: str) -> list[ConditionTranslation]:
    return list(
        session.scalars(
            select(ConditionTranslation)
            .where(ConditionTranslation.source_id == source_id)
            .order_by(ConditionTranslation.created_at, ConditionTranslation.id)
        )
    )


def translation_row(t: ConditionTranslation) -> dict[str, Any]:
    return {
        "id": t.id,
        "source": t.source_id,
        "pages": [t.first_page, t.last_page],
        "source_language": t.source_language,
        "translation_pages": t.page_count,
        "sha256": t.sha256,
        "translator": t.translator_name,
        "certified_on": t.certified_on.isoformat(),
    }


def covering_translation(session: Session, source_id: str, pages: Sequence[int]) -> ConditionTranslation | None:
    """The translation that covers every one of ``pages`` with the fewest pages of its own (the latest of equals)."""
    if not pages:
        return None
    lo, hi = min(pages), max(pages)
    fitting = [t for t in translations_of(session, source_id) if t.first_page <= lo and hi <= t.last_page]
    if not fitting:
        return None
    return min(fitting, key=lambda t: (t.last_page - t.first_page, -t.created_at.timestamp(), t.id))


def add_translation(
    rt: Runtime,
    source_id: str,
    path: Path,
    translator: TranslatorInfo,
    certified_on: date,
    *,
    pages: tuple[int, int] | None = None,
    actor: str | None = None,
) -> dict[str, Any]:
    """Add ``path`` as the English translation of the source's ``pages`` (default: all of them), with what the
    translator's certificate says. Bundles that excerpt those pages put it behind the excerpt in the packet."""
    translator.validate()
    with rt.catalog.session() as session:
        source = get_source(session, source_id)
        source_id, count, language = source.id, source.page_count, source.language
    first, last = pages or (1, count)
    if not 1 <= first <= last <= count:
        raise ValidationError(f"Source {source_id} has pages 1-{count}; --pages {first}-{last} is outside them.")
    work, owned = _work_dir(rt, "library-translation-")
    try:
        staged, is_html = _stage(rt, path, work)
        if is_html:
            raise IntakeRejected(f"{path}: a translation must be a PDF or an image, not a web page.")
        try:
            normalised = normalise(staged, rt.limits)
        except QuarantinedFile as err:
            raise IntakeRejected(f"{path}: {err.message}") from None
        okey = original_key(staged.sha256)
        if not rt.store.exists(okey):
            rt.store.put_file(okey, staged.path)
        nkey, nsha = okey, staged.sha256
        if normalised.derived:
            nsha = sha256_file(normalised.path)
            nkey = derived_key(nsha)
            if not rt.store.exists(nkey):
                rt.store.put_file(nkey, normalised.path)
        with rt.catalog.session() as session:
            row = ConditionTranslation(
                id=new_id("CT", 8),
                source_id=source_id,
                first_page=first,
                last_page=last,
                source_language=language,
                sha256=staged.sha256,
                original_key=okey,
                normalised_key=nkey,
                normalised_sha256=nsha,
                page_count=len(normalised.pages),
                translator_name=translator.name.strip(),
                translator_address=translator.address.strip(),
                translator_phone=translator.phone.strip(),
                translator_email=translator.email.strip(),
                certified_on=certified_on,
                signature="electronic" if translator.signed_electronically else None,
            )
            session.add(row)
            session.flush()
            audit(
                session,
                actor=actor or current_actor(),
                entity="condition-translation",
                entity_id=row.id,
                action="added",
                source=source_id,
                sha256=staged.sha256,
                pages=[first, last],
            )
            return translation_row(row)
    finally:
        owned.close()


def remove_source(rt: Runtime, source_id: str, *, actor: str | None = None) -> dict[str, Any]:
    """Take a source out of the library (its catalog rows, its translations and its pages in the index), for one
    added by mistake or with wrong metadata: add it again to give it the right metadata. Bundles already rendered,
    and packets built from them, keep it: they hold their own copies and read only their manifests. The stored
    bytes stay (content-addressed objects are never deleted here)."""
    with rt.catalog.session() as session:
        source = get_source(session, source_id)
        source_id, pages, sha = source.id, source.page_count, source.sha256
        for translation in translations_of(session, source_id):
            session.delete(translation)
        session.delete(source)
        audit(
            session,
            actor=actor or current_actor(),
            entity="condition-source",
            entity_id=source_id,
            action="removed",
            sha256=sha,
            pages=pages,
        )
    library_index(rt).delete_document(source_id)
    return {"id": source_id, "removed": True, "pages": pages, "sha256": sha}


def looks_like_source_id(value: str) -> bool:
    return bool(_SOURCE_ID.match(value.strip().upper()))


def sources_by_series(sources: Iterable[ConditionSource]) -> dict[tuple[str, str, str], list[ConditionSource]]:
    groups: dict[tuple[str, str, str], list[ConditionSource]] = defaultdict(list)
    for source in sources:
        groups[series_key(source)].append(source)
    for group in groups.values():
        group.sort(key=edition_order)
    return groups
