"""Building an exhibit packet: the case's exhibits, in the form a court or USCIS accepts, as PDFs in the object store.

``build_packet(rt, case_id, options)``:
1. ``gather`` reads the inputs from the catalog (the saved exhibit list, each document's searchable or normalised
   PDF with its SHA-256, translations and their certificates' data, the case's cover-page fields; and the case's
   country-conditions bundle, whose sources become numbered exhibits after those: ``conditions.packet``) and the
   build refuses when a foreign-language exhibit has no translation, unless overridden (the override goes into the
   manifest);
2. the build id is a hash of every input (documents, profile, templates, options, the code that writes the bytes),
   so building the same inputs again gives the same id and byte-identical PDFs, and a finished build is reused;
3. ``plan_pages`` lays out the template pages (cover, exhibit list, tab pages, translator's certificates,
   certificate of service or USCIS cover letter, the country-conditions index with its pin cites) with WeasyPrint,
   until the exhibit list's page ranges and the index's page numbers are stable;
4. ``assemble`` places the exhibit pages with pikepdf (``layout``: fitted to the page size, images far above the
   printed resolution downsampled, page numbers / exhibit labels stamped), adds bookmarks and page labels, and
   splits the packet into parts under the profile's size limit at exhibit boundaries; every part passes the
   pre-filing check (``check``, including ``qpdf --check``);
5. the parts are stored under ``packets/<case>/<build-id>/`` and the manifest last (``manifest``).

Plain typed functions; flows/packet.py wraps ``build_packet`` in a Prefect flow.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..cases.rules import load_filing_rules
from ..core.catalog import audit, current_actor
from ..core.errors import CasefileError, ExitCode, ValidationError
from ..core.practice import practice_of
from ..core.workdirs import work_folder
from ..documents.language import UNKNOWN, language_name
from .check import CHILD_CERTIFICATE, CHILD_DOCUMENT, CHILD_TRANSLATION, CONTINUED, FRONT_TITLES, SECTION_TITLES
from .exhibits import (
    CLIENT,
    COUNTRY,
    DEFAULT_SCHEMES,
    assign_labels,
    label_index,
    letter_label,
    list_exhibits,
)
from .filing import (
    CERTIFICATE_OF_SERVICE,
    SignaturePlan,
    filer_of,
    refuse_placeholders,
    service_for,
    signed_as,
    translator_signed,
    uscis_fields,
)
from .manifest import (
    MANIFEST,
    MANIFEST_VERSION,
    BuildResult,
    PartResult,
    build_prefix,
    load_manifest,
    result_from_manifest,
)
from .profile import LIST_TEMPLATE, FilingProfile, load_profile
from .translations import translations_by_source

if TYPE_CHECKING:
    from ..conditions.packet import PacketBundle
    from ..core.runtime import Runtime
    from .cache import PieceCache, PieceKey
    from .renderings import Renderer, Rendering
    from .workers import BuildPool

log = logging.getLogger(__name__)

_ID_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"


# Errors ----------------------------------------------------------------------------------------------------
class MissingTranslations(ValidationError):
    """Foreign-language exhibits without an English translation. Names labels and document ids only."""

    def __init__(self, missing: list[tuple[str, str, str]]) -> None:
        self.missing = missing
        listing = "\n".join(f"  Exhibit {label}: document {doc} ({lang})" for label, doc, lang in missing)
        super().__init__(
            f"{len(missing)} foreign-language exhibit(s) have no English translation; the packet was not built:\n"
            f"{listing}\nAdd each with `casefile translation add CASE-ID --for DOC-ID english.pdf --translator ...`, "
            "or build anyway with --allow-missing-translations (recorded in the build's manifest)."
        )


class LanguageUndecided(ValidationError):
    """Exhibits whose language nobody decided: the translator's certificate would name a guess."""

    def __init__(self, undecided: list[tuple[str, str, str]]) -> None:
        self.undecided = undecided
        listing = "\n".join(f"  Exhibit {label}: document {doc}: {why}" for label, doc, why in undecided)
        super().__init__(
            f"{len(undecided)} exhibit(s) need a person to set their language in the exhibit plan; the packet was "
            f"not built:\n{listing}\nWrite each one's language (en, es, pt, ...) in the plan and save it with "
            "`casefile exhibits set CASE-ID plan.yaml`."
        )


class NoExhibits(ValidationError):
    def __init__(self, case_id: str) -> None:
        super().__init__(
            f"Case {case_id} has no exhibit list yet. Run `casefile exhibits plan {case_id} -o plan.yaml`, edit it, "
            f"then `casefile exhibits set {case_id} plan.yaml`."
        )


class PacketCheckFailed(CasefileError):
    """The builder's own output failed the pre-filing check; nothing was stored as finished. Each problem is the
    check's whole message (what, which file and page, which exhibit, what to do). When every problem lies in the
    pages of exhibits (damaged data their documents carry), the exhibits are at fault: exit 4 and what to re-save;
    otherwise the pages casefile made are, which is a bug (or a broken template override)."""

    def __init__(self, build_id: str, problems: list[str], *, exhibits: list[str] | None = None) -> None:
        self.problems = problems
        self.exhibits = exhibits or []
        listing = "\n".join(f"  - {p}" for p in problems[:20])
        more = f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else ""
        if self.exhibits:
            self.exit_code = ExitCode.INPUT_REJECTED
            closing = (
                f"The problems are in the pages of exhibit(s) {', '.join(self.exhibits)}: fix them as each problem "
                "says (a new copy of the document, or the exhibit list), then build again."
            )
        else:
            closing = "This is a bug or a broken template override; report it with the build id."
        super().__init__(
            f"Packet build {build_id} failed its pre-filing check; nothing was stored as finished:\n{listing}{more}\n"
            f"{closing}"
        )


# Inputs ----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class BuildOptions:
    profile: str = "eoir"
    allow_missing_translations: bool = False
    filing_title: str | None = None
    service_date: date | None = None  # default: today (recorded in the manifest and part of the build id)
    service_method: str | None = None
    signer: str | None = None  # who signs the certificate of service (practice.toml key); default the filer
    filer: str | None = None  # who files (the cover page); default the case's advocate, else the first attorney
    channel: str | None = None  # the way of filing ([size_limit.channels]); default the profile's
    service_office: str | None = None  # the DHS office served, instead of the profile's [service] office
    service_address: tuple[str, ...] = ()  # ... and its address lines
    recipient: tuple[str, ...] = ()  # USCIS: the lockbox or field office, instead of the profile's [recipient]
    forms: tuple[str, ...] = ()  # USCIS: forms enclosed ("I-130"), listed first in the cover letter
    g28: bool = False  # USCIS: Form G-28 enclosed
    fee: str | None = None  # USCIS: the filing fee enclosed ("675")
    # The demo's (and tests') fictional practice, on purpose: its sample names and EOIR IDs are not refused.
    fictional_practice: bool = False
    # A supplemental filing: the build id of the case's earlier packet whose exhibit labels and page numbers this one
    # continues (its exhibits already filed are left out).
    continue_from: str | None = None


@dataclass
class SourcePdf:
    document_id: str
    key: str
    sha256: str
    pages: int
    path: Path | None = None


@dataclass
class TranslationInput:
    id: str
    source: SourcePdf
    source_language: str
    translator: dict[str, Any]
    certified_on: date


@dataclass
class ExhibitInput:
    label: str
    section: str
    title: str
    date: date | None
    source_name: str
    language: str
    document: SourcePdf
    translation: TranslationInput | None


@dataclass
class PacketInputs:
    case_id: str
    profile_name: str
    profile: FilingProfile
    exhibits: list[ExhibitInput]
    context: dict[str, Any]  # the template context shared by every page (client data: never logged)
    missing: list[tuple[str, str, str]]
    options: BuildOptions
    service_date: date
    signatures: SignaturePlan = field(default_factory=SignaturePlan)
    # The case's country-conditions bundle (tasks/conditions/packet.py): its exhibits are the last ones of
    # ``exhibits``; its index goes before the first of them, with the packet's page numbers.
    conditions: PacketBundle | None = None


def _source_pdf(doc: Any) -> SourcePdf:
    if doc.searchable_key and doc.searchable_sha256:
        return SourcePdf(doc.id, doc.searchable_key, doc.searchable_sha256, doc.page_count)
    if doc.normalised_key and doc.normalised_sha256:
        return SourcePdf(doc.id, doc.normalised_key, doc.normalised_sha256, doc.page_count)
    raise ValidationError(f"Document {doc.id} has no PDF to put in a packet; add its original again.")


def gather(rt: Runtime, case_id: str, options: BuildOptions, today: date) -> PacketInputs:
    """Everything the build reads: the profile (for the filing channel), the practice, the case's exhibits,
    translations and cover fields. Refuses, before anything is rendered, exhibits whose language nobody decided, the
    profile's placeholder DHS office, certificates that would be unsigned (unless the profile allows signing by hand
    after printing) and a USCIS cover letter without its recipient or the client's role."""
    profile = rt.config(load_profile, options.profile).for_channel(options.channel)
    practice = practice_of(rt)
    with rt.catalog.session() as session:
        case = rt.catalog.get_case(session, case_id)
        saved = list_exhibits(session, case.id)
        translations = translations_by_source(session, case.id)
        exhibits: list[ExhibitInput] = []
        missing: list[tuple[str, str, str]] = []
        undecided: list[tuple[str, str, str]] = []
        for e in saved:
            doc = e.document
            if doc.status != "ready":
                raise ValidationError(f"Exhibit {e.label}: document {doc.id} is {doc.status}; fix the exhibit list.")
            t = translations.get(doc.id)
            if e.language == UNKNOWN:
                undecided.append((e.label, doc.id, "its pages have no text to tell its language by"))
            elif t is not None and e.language == "en":
                undecided.append((e.label, doc.id, "it has an English translation but the plan says it is English"))
            tinput = None
            if t is not None:
                tinput = TranslationInput(
                    id=t.id,
                    source=_source_pdf(t.document),
                    source_language=t.source_language,
                    translator={
                        "name": t.translator_name,
                        "address_lines": [x.strip() for x in re.split(r"[\n;]", t.translator_address) if x.strip()],
                        "phone": t.translator_phone,
                        "email": t.translator_email,
                        "signed": translator_signed(t.translator_name, t.signature),
                    },
                    certified_on=t.certified_on,
                )
            elif e.language not in ("en", UNKNOWN):
                missing.append((e.label, doc.id, e.language))
            exhibits.append(
                ExhibitInput(e.label, e.section, e.title, e.doc_date, e.source, e.language, _source_pdf(doc), tinput)
            )
        conditions = _conditions_exhibits(rt, case.id, profile, exhibits, missing)
        continued: Continued | None = None
        if options.continue_from:
            continued = _continued(rt, case.id, options, profile)
            exhibits, conditions = _left_to_file(continued, exhibits, conditions)
            filed = set(continued.documents)
            missing = [m for m in missing if m[1] not in filed]
            undecided = [u for u in undecided if u[1] not in filed]
            if not exhibits:
                raise ValidationError(
                    f"Every exhibit of case {case.id} was filed in packet {continued.build_id} already; add the new "
                    "evidence to the exhibit list (`casefile exhibits add`), then build the supplemental filing."
                )
        if not exhibits:  # neither an exhibit list nor a country-conditions bundle
            raise NoExhibits(case.id)
        # Labels: the profile's schemes (USCIS letters every exhibit in one series) unless the advocate chose
        # their own labels in the plan (then those are kept as they are); a supplemental filing's labels always
        # continue the earlier filing's series.
        sections = [e.section for e in exhibits]
        if continued is not None:
            schemes = {CLIENT: profile.exhibits.client_scheme, COUNTRY: profile.exhibits.country_conditions_scheme}
            relabel = dict(zip([e.label for e in exhibits], continued.labels(sections, schemes), strict=True))
            for item in exhibits:
                item.label = relabel[item.label]
            missing = [(relabel[label], doc, lang) for label, doc, lang in missing]
            undecided = [(relabel[label], doc, why) for label, doc, why in undecided]
        elif [e.label for e in exhibits] == assign_labels(sections, DEFAULT_SCHEMES):
            schemes = {CLIENT: profile.exhibits.client_scheme, COUNTRY: profile.exhibits.country_conditions_scheme}
            relabel = dict(zip([e.label for e in exhibits], assign_labels(sections, schemes), strict=True))
            for item in exhibits:
                item.label = relabel[item.label]
            missing = [(relabel[label], doc, lang) for label, doc, lang in missing]
            undecided = [(relabel[label], doc, why) for label, doc, why in undecided]
        if undecided:
            raise LanguageUndecided(undecided)
        if conditions is not None:
            conditions.labels = [e.label for e in exhibits[conditions.first_exhibit :]]
        filer = filer_of(practice, case, options.filer)
        signer = practice.person(options.signer) if options.signer else filer
        service = service_for(
            profile, options.service_office, options.service_address, practice.dhs_office_for(case.court), case.court
        )
        if not options.fictional_practice:
            refuse_placeholders(practice, [filer.key, signer.key], case.court)
        signatures = _signature_plan(profile, exhibits, signer.key, signed_as(signer))
        signatures.require(profile)
        uscis = uscis_fields(profile, case, filer, options.recipient, options.forms, options.g28, options.fee)
        service_date = options.service_date or today
        context: dict[str, Any] = {
            "page": profile.page.css(),
            "filer": {
                "key": filer.key,
                "name": filer.name,
                "eoir_id": practice.eoir_id_of(filer),
                "firm": practice.name,
                "address_lines": list(practice.address_lines),
                "phone": practice.phone,
                "email": filer.email or practice.email,
                "role": filer.printed_role,
                "uscis_role": uscis.get("uscis_role", ""),
            },
            "client": {"name": case.client_name, "a_number": case.a_number},
            "court": {"city": case.court},
            "judge": case.judge or "",
            "hearing": {
                "date": case.hearing_date,
                "time": case.hearing_time,
                "type": rt.config(load_filing_rules).hearing_label(case.hearing_type),
            },
            "detained": case.detained,
            "proceedings": profile.cover.proceedings,
            "filing_title": options.filing_title or profile.cover.filing_title_default,
            "list_title": profile.exhibits.list_title,
            "list_counts": not profile.page_numbers.enabled,
            "tab_label": profile.exhibits.tab_label,
            "service": {
                "office": service.office,
                "address_lines": list(service.address_lines),
                "method": options.service_method or service.default_method,
                "date": service_date,
            },
            "signer": {"key": signer.key, "name": signer.name, "signed": signed_as(signer)},
            "date": service_date,
            "recipient": uscis.get("recipient", {"address_lines": list(profile.recipient.address_lines)}),
            "party": uscis["party"],
            "receipt_number": uscis["receipt_number"],
            "forms": uscis["forms"],
            "g28": uscis["g28"],
            "fee": uscis["fee"],
            "subject": options.filing_title or profile.cover.subject_default,
            "intro": profile.cover.intro_default,
            "salutation": profile.cover.salutation,
            "target_language": profile.translations.target_language,
            # A supplemental filing: what it continues (the cover and the exhibit list say so)
            "supplement": continued.context() if continued is not None else None,
        }
        if continued is not None:  # its pages are numbered on from the earlier filing's last
            profile = replace(profile, page_numbers=replace(profile.page_numbers, start=continued.last_page + 1))
    return PacketInputs(
        case.id,
        options.profile,
        profile,
        exhibits,
        context,
        missing,
        options,
        service_date,
        signatures=signatures,
        conditions=conditions,
    )


def _signature_plan(
    profile: FilingProfile, exhibits: Sequence[ExhibitInput], signer: str, signer_signed: dict[str, str] | None
) -> SignaturePlan:
    """Which certificates are signed (the certificate of service by ``signer``; each translator's certificate by its
    translator) and which would need a signature by hand after printing. Names people keys and labels only."""
    plan = SignaturePlan()
    if CERTIFICATE_OF_SERVICE in profile.templates.pages:
        how = "image" if signer_signed and signer_signed["image"] else "electronic"
        target = plan.signed if signer_signed else plan.to_sign
        target.append(f"certificate of service ({signer}{', ' + how if signer_signed else ''})")
    if profile.translations.certificate:
        for e in exhibits:
            if e.translation is None:
                continue
            what = f"translator's certificate of exhibit {e.label} (translation {e.translation.id})"
            (plan.signed if e.translation.translator["signed"] else plan.to_sign).append(what)
    return plan


@dataclass(frozen=True)
class Continued:
    """The earlier filing a supplemental one continues (``--continue-from``), from its manifest."""

    build_id: str
    service_date: str
    last_page: int  # the last page number the earlier filing printed (or counted)
    last_labels: dict[str, int]  # label scheme -> the highest label it used ("letters": F -> 6)
    documents: tuple[str, ...]  # the documents it and the filings it continued filed (exhibits, translations)
    bundle_ids: frozenset[str]  # their country-conditions bundles

    def labels(self, sections: Sequence[str], schemes: Mapping[str, str]) -> list[str]:
        """The labels of the new exhibits, each scheme's series going on after the earlier filing's."""
        counters = dict(self.last_labels)
        labels = []
        for section in sections:
            scheme = schemes.get(section, "letters")
            counters[scheme] = counters.get(scheme, 0) + 1
            labels.append(letter_label(counters[scheme]) if scheme == "letters" else str(counters[scheme]))
        return labels

    def context(self) -> dict[str, Any]:
        return {"build_id": self.build_id, "service_date": date.fromisoformat(self.service_date)}


def _continued(rt: Runtime, case_id: str, options: BuildOptions, profile: FilingProfile) -> Continued:
    """The earlier build ``options.continue_from`` of the same case and profile (refused otherwise), with what it and
    the filings it continued (a chain of supplemental filings) filed."""
    from .manifest import load_manifest

    assert options.continue_from is not None
    manifest = load_manifest(rt, case_id, options.continue_from)
    if manifest.get("profile") != options.profile:
        other = manifest.get("profile")
        raise ValidationError(
            f"Packet {manifest['build_id']} was built for the {other} profile, not {options.profile}: "
            "a supplemental filing continues a filing to the same court or office. Build it with --profile "
            f"{other}."
        )
    schemes = {CLIENT: profile.exhibits.client_scheme, COUNTRY: profile.exhibits.country_conditions_scheme}
    last_labels: dict[str, int] = {}
    documents: list[str] = []
    bundles: list[str | None] = []
    earlier: dict[str, Any] | None = manifest
    seen: set[str] = set()
    while earlier is not None and earlier["build_id"] not in seen:  # this filing, and the ones it continued
        seen.add(earlier["build_id"])
        for row in earlier["inputs"]:
            scheme = schemes.get(row["section"], "letters")
            last_labels[scheme] = max(last_labels.get(scheme, 0), label_index(row["label"]))
            documents.append(row["document_id"])
            if row.get("translation"):
                documents.append(row["translation"]["document_id"])
        bundles.append((earlier.get("conditions") or {}).get("bundle_id"))
        before = earlier.get("continues")
        earlier = load_manifest(rt, case_id, before["build_id"]) if before else None
    last_page = max(int(p["last_page"]) for p in manifest["outputs"])
    return Continued(
        manifest["build_id"],
        manifest["service_date"],
        last_page,
        last_labels,
        tuple(documents),
        frozenset(b for b in bundles if b),
    )


def _left_to_file(
    continued: Continued, exhibits: list[ExhibitInput], conditions: PacketBundle | None
) -> tuple[list[ExhibitInput], PacketBundle | None]:
    """The exhibits a supplemental filing carries: those whose document the earlier filing did not; the case's
    country-conditions bundle only when the earlier filing did not carry the same one."""
    own = exhibits if conditions is None else exhibits[: conditions.first_exhibit]
    bundle = [] if conditions is None else exhibits[conditions.first_exhibit :]
    filed = set(continued.documents)
    own = [e for e in own if e.document.document_id not in filed]
    if conditions is not None and conditions.bundle_id in continued.bundle_ids:
        conditions, bundle = None, []
    if conditions is not None:
        conditions.first_exhibit = len(own)
    return own + bundle, conditions


def _conditions_exhibits(
    rt: Runtime,
    case_id: str,
    profile: FilingProfile,
    exhibits: list[ExhibitInput],
    missing: list[tuple[str, str, str]],
) -> PacketBundle | None:
    """The case's country-conditions bundle, if it has an active one: its sources become numbered exhibits after the
    case's own (each Spanish source with its translation from the library, or on the missing list)."""
    from ..conditions.packet import bundle_for_packet, labels_after

    bundle = bundle_for_packet(rt, case_id)
    if bundle is None:
        return None
    bundle.first_exhibit = len(exhibits)
    labels = labels_after(
        [e.label for e in exhibits],
        [e.section for e in exhibits],
        len(bundle.documents),
        profile.exhibits.country_conditions_scheme,
    )
    for label, doc in zip(labels, bundle.documents, strict=True):
        tinput = None
        t = doc.translation
        if t is not None:
            tinput = TranslationInput(
                id=t["id"],
                source=SourcePdf(t["id"], t["key"], t["sha256"], t["pages"]),
                source_language=t["source_language"],
                translator={**t["translator"], "signed": t["translator"].get("signed")},
                certified_on=date.fromisoformat(t["certified_on"]),
            )
        elif doc.language != "en":
            missing.append((label, doc.source_id, doc.language))
        source = SourcePdf(doc.source_id, doc.key, doc.sha256, doc.pages)
        exhibits.append(
            ExhibitInput(label, COUNTRY, doc.title, doc.date, doc.source_name, doc.language, source, tinput)
        )
    return bundle


def _digest(value: Any) -> str:
    payload = json.dumps(value, sort_keys=True, default=str, ensure_ascii=True)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def build_id_for(inputs: PacketInputs, versions: Mapping[str, str], layout_version: str) -> str:
    """The build id: a hash of everything that goes into the PDFs, so one set of inputs has one id."""
    digest = _digest(
        {
            "case": inputs.case_id,
            "profile": asdict(inputs.profile),
            "templates": dict(versions),
            "layout": layout_version,
            "context": inputs.context,
            "exhibits": [asdict(e) for e in inputs.exhibits],
            "allow_missing": inputs.options.allow_missing_translations,
            "conditions": inputs.conditions.fingerprint() if inputs.conditions is not None else None,
        }
    )
    number = int(digest, 16)
    chars = []
    for _ in range(10):
        number, rem = divmod(number, len(_ID_ALPHABET))
        chars.append(_ID_ALPHABET[rem])
    return "P-" + "".join(chars)


# Page plan ----------------------------------------------------------------------------------------------------
@dataclass
class Segment:
    """A run of pages of the packet: rendered template pages or an exhibit's document/translation pages."""

    kind: str  # front | tab | document | translation | certificate | back | section
    pages: int
    exhibit: int | None = None  # index into inputs.exhibits
    rendering: Rendering | None = None  # template pages
    source: SourcePdf | None = None
    template: str = ""
    first: int = 0  # 1-based page number in the packet, filled by number_segments


@dataclass
class OutlineEntry:
    title: str
    page: int  # 0-based page index in the whole packet
    children: list[OutlineEntry] = field(default_factory=list)


def number_segments(segments: list[Segment], start: int = 1) -> int:
    n = start
    for seg in segments:
        seg.first = n
        n += seg.pages
    return n - start


def exhibit_ranges(segments: Sequence[Segment]) -> dict[int, tuple[int, int]]:
    ranges: dict[int, tuple[int, int]] = {}
    for seg in segments:
        if seg.exhibit is None:
            continue
        first, last = ranges.get(seg.exhibit, (seg.first, seg.first + seg.pages - 1))
        ranges[seg.exhibit] = (min(first, seg.first), max(last, seg.first + seg.pages - 1))
    return ranges


def outline_for(segments: Sequence[Segment], inputs: PacketInputs, start: int) -> list[OutlineEntry]:
    """Top level: cover / list / one entry per exhibit (children: document, translation, certificate) / back."""
    titles = {**FRONT_TITLES, **SECTION_TITLES, LIST_TEMPLATE: str(inputs.context["list_title"])}
    tab_label = str(inputs.context["tab_label"])
    entries: list[OutlineEntry] = []
    current: dict[int, OutlineEntry] = {}
    for seg in segments:
        index = seg.first - start
        if seg.exhibit is None:
            entries.append(OutlineEntry(titles.get(seg.template, Path(seg.template).stem), index))
            continue
        exhibit = inputs.exhibits[seg.exhibit]
        parent = current.get(seg.exhibit)
        if parent is None:
            parent = current[seg.exhibit] = OutlineEntry(f"{tab_label} {exhibit.label}: {exhibit.title}", index)
            entries.append(parent)
        child = {"document": CHILD_DOCUMENT, "translation": CHILD_TRANSLATION, "certificate": CHILD_CERTIFICATE}
        if seg.kind in child and exhibit.translation is not None:
            parent.children.append(OutlineEntry(child[seg.kind], index))
    return entries


# Build ----------------------------------------------------------------------------------------------------
def _stem(case_id: str, profile_name: str) -> str:
    return f"{case_id}-{profile_name}-exhibits"


def _list_rows(inputs: PacketInputs, ranges: Mapping[int, tuple[int, int]]) -> list[dict[str, Any]]:
    rows = []
    for i, e in enumerate(inputs.exhibits):
        first, last = ranges.get(i, (0, 0))
        title = e.title + (" (with English translation)" if e.translation is not None else "")
        rows.append(
            {
                "tab": e.label,
                "title": title,
                "date": e.date,
                "source": e.source_name,
                "first_page": first,
                "last_page": last,
                "pages": last - first + 1 if first else 0,
            }
        )
    return rows


# The default exhibit list (templates/packet/exhibit_list.html.j2, letter) holds about this many rows on its first page
# and on each page after it when its rows take two lines (a title of a few words and a source that wrap in the table's
# columns; one-line rows fit about 24, three-line rows about 8). A guess only, which saves laying the list out once
# when it is right (``plan_pages``); a wrong one costs what no guess costs.
_LIST_ROWS_FIRST_PAGE = 13
_LIST_ROWS_PER_PAGE = 14


def _list_pages_guess(rows: int) -> int:
    return 1 + max(0, -(-(rows - _LIST_ROWS_FIRST_PAGE) // _LIST_ROWS_PER_PAGE))


def plan_pages(inputs: PacketInputs, renderer: Renderer, start: int) -> list[Segment]:
    """Lay out the template pages (``renderer``: each rendering from the cache of pieces when an earlier build made
    it) and place every segment, iterating until the exhibit list's page ranges are stable (its own length moves
    every range after it). Returns the segments in packet order."""
    templates = inputs.profile.templates
    front, back, tab_name, cert_name = templates.front, templates.back, templates.tab, templates.translator_certificate
    tabs = inputs.profile.exhibits.tab_pages
    certificates = inputs.profile.translations.certificate
    ctx = inputs.context

    # Tab pages and translator's certificates: the renderings not found are laid out as one document per template.
    tab_contexts = [{**ctx, "tab": e.label, "title": e.title} for e in inputs.exhibits] if tabs else []
    tab_pages = dict(zip([id(e) for e in inputs.exhibits], renderer.many(tab_name, tab_contexts), strict=False))
    translated = [e for e in inputs.exhibits if e.translation is not None]
    cert_contexts: list[Mapping[str, Any]] = []
    for e in translated:
        assert e.translation is not None
        cert_contexts.append(
            {
                **ctx,
                "translator": e.translation.translator,
                # The plan's language (a person's decision), never the language identification's guess.
                "source_language": language_name(e.language) or e.language,
                "document_title": f"{e.title} ({ctx['tab_label']} {e.label})",
                "date": e.translation.certified_on,
            }
        )
    cert_pages = dict(zip([id(e) for e in translated], renderer.many(cert_name, cert_contexts), strict=True))
    per_exhibit: list[list[tuple[str, Rendering | None, SourcePdf | None, str]]] = []
    for e in inputs.exhibits:
        items: list[tuple[str, Rendering | None, SourcePdf | None, str]] = []
        if tabs:
            items.append(("tab", tab_pages[id(e)], None, tab_name))
        items.append(("document", None, e.document, ""))
        if e.translation is not None:
            items.append(("translation", None, e.translation.source, ""))
            if certificates:
                items.append(("certificate", cert_pages[id(e)], None, cert_name))
        per_exhibit.append(items)
    back_docs = [(name, renderer.one(name, ctx)) for name in back]

    enclosures = [{"label": f"{ctx['tab_label']} {e.label}", "title": e.title} for e in inputs.exhibits]
    ranges: dict[int, tuple[int, int]] = {}
    conditions = inputs.conditions
    numbered = inputs.profile.page_numbers.enabled
    firsts: dict[int, int] = {}  # exhibit -> first page of its document (the country-conditions index cites them)
    pins: list[str] = []
    index_doc: Rendering | None = None
    # A first pass with the exhibit list's length guessed instead of laid out (the list is the costliest template to
    # lay out, and a list laid out without ranges would only be laid out again): when the guess is right, the list is
    # laid out once, with the ranges it prints. The passes after it are as before; a wrong guess costs nothing more.
    guess = _list_pages_guess(len(inputs.exhibits)) if LIST_TEMPLATE in front and conditions is None else None
    for _attempt in range(7):
        front_ctx = {**ctx, "exhibits": _list_rows(inputs, ranges), "enclosures": enclosures}
        front_docs = [
            (name, guess if guess is not None and name == LIST_TEMPLATE else renderer.one(name, front_ctx))
            for name in front
        ]
        # (kind, exhibit, rendering or None, source PDF or None, template name), in packet order
        order: list[tuple[str, int | None, Rendering | int | None, SourcePdf | None, str]] = [
            ("front", None, doc, None, name) for name, doc in front_docs
        ]
        if conditions is not None:
            pins = conditions.pins(firsts, ranges, numbered)
            index_ctx = conditions.index_context(ctx, firsts, ranges, numbered=numbered)
            index_doc = renderer.one(conditions.template, index_ctx)
        for i, items in enumerate(per_exhibit):
            if conditions is not None and i == conditions.first_exhibit:
                order.append(("section", None, index_doc, None, conditions.template))
            order += [(kind, i, doc, source, name) for kind, doc, source, name in items]
        order += [("back", None, doc, None, name) for name, doc in back_docs]
        segments: list[Segment] = []
        for kind, exhibit, doc, source, name in order:
            if isinstance(doc, int):  # the guessed list: its pages only, to place the rest
                segments.append(Segment(kind, doc, exhibit, None, None, name))
            elif doc is not None:
                segments.append(Segment(kind, doc.pages, exhibit, doc, None, name))
            else:
                assert source is not None
                segments.append(Segment(kind, source.pages, exhibit, None, source))
        number_segments(segments, start)
        new_ranges = exhibit_ranges(segments)
        if guess is not None:
            guess, ranges = None, new_ranges
            continue
        firsts = {seg.exhibit: seg.first for seg in segments if seg.kind == "document" and seg.exhibit is not None}
        settled = conditions is None or conditions.pins(firsts, new_ranges, numbered) == pins
        if new_ranges == ranges and settled:  # the list (and index), laid out with these pages, leave every page
            return segments
        ranges = new_ranges
    raise CasefileError("The exhibit list's page ranges did not settle; check the exhibit list template override.")


def _labels(segments: Sequence[Segment], inputs: PacketInputs) -> tuple[list[str | None], list[str | None]]:
    """Per page: the running page number (when numbered) and the exhibit label stamp (when the profile has one)."""
    numbers_cfg, stamp_cfg = inputs.profile.page_numbers, inputs.profile.stamp
    numbers: list[str | None] = []
    stamps: list[str | None] = []
    ranges = exhibit_ranges(segments)
    total = sum(s.pages for s in segments)
    fmt, sfmt, front_matter = numbers_cfg.format, stamp_cfg.format, stamp_cfg.stamp_front_matter
    for seg in segments:
        for k in range(seg.pages):
            n = seg.first + k
            numbers.append(fmt.format(n=n, total=total) if numbers_cfg.enabled else None)
            if not stamp_cfg.enabled:
                stamps.append(None)
            elif seg.exhibit is not None:
                first, last = ranges[seg.exhibit]
                label = inputs.exhibits[seg.exhibit].label
                stamps.append(sfmt.format(label=label, i=n - first + 1, n=last - first + 1))
            else:
                # Front and back matter have no exhibit: when the profile labels them, a plain "Page n of N".
                stamps.append(f"Page {n} of {total}" if front_matter else None)
    return numbers, stamps


def _layouts(profile: FilingProfile) -> tuple[Any, Any]:
    """The page layout for numbers, and the one for exhibit label stamps (their own position/offset/size). Exhibit
    pages are fitted with the first: clear of the number band and, when the labels are on the other edge, of
    theirs too."""
    from .layout import PageLayout

    base = PageLayout.from_profile(profile)
    if not profile.stamp.enabled:
        return base, base
    stamp_layout = PageLayout.from_profile(profile, profile.stamp)
    if not profile.page_numbers.enabled:
        base = stamp_layout  # exhibit pages are fitted clear of the only stamp there is
    elif base.stamp_on_top != stamp_layout.stamp_on_top:
        base = replace(base, opposite_band_pt=stamp_layout.stamp_band_pt)
    elif base.stamp_band_pt < stamp_layout.stamp_band_pt:  # same edge: the deeper band
        base = replace(base, stamp_band_pt=stamp_layout.stamp_band_pt)
    return base, stamp_layout


def _apply_outline(pdf: Any, entries: Sequence[OutlineEntry], first: int, last: int) -> None:
    import pikepdf

    with pdf.open_outline() as outline:
        for i, entry in enumerate(entries):
            end = entries[i + 1].page if i + 1 < len(entries) else last
            inside = first <= entry.page < last
            kids = [c for c in entry.children if first <= c.page < last]
            if not inside and not (entry.page < first < end):  # neither starts nor continues in this part
                continue
            page = entry.page if inside else first
            item = pikepdf.OutlineItem(entry.title if inside else entry.title + CONTINUED, page - first)
            for child in kids:
                item.children.append(pikepdf.OutlineItem(child.title, child.page - first))
            outline.root.append(item)


def _finish_part(
    part: Any, first: int, last: int, out: Path, entries: Sequence[OutlineEntry], number_start: int | None, title: str
) -> None:
    """Pages [first, last) of the packet, assembled in ``part``, saved at ``out`` with their bookmarks and page labels
    (deterministic)."""
    import pikepdf

    _apply_outline(part, entries, first, last)
    if number_start is not None:
        part.Root.PageLabels = part.make_indirect(
            pikepdf.Dictionary(Nums=pikepdf.Array([0, pikepdf.Dictionary(S=pikepdf.Name.D, St=number_start + first)]))
        )
    part.Root.PageMode = pikepdf.Name.UseOutlines
    with part.open_metadata(set_pikepdf_as_editor=False, update_docinfo=False) as meta:
        meta["dc:title"] = title
    part.docinfo = part.make_indirect(pikepdf.Dictionary(Title=title, Producer="casefile"))
    tmp = out.with_suffix(".tmp")
    part.save(tmp, deterministic_id=True, compress_streams=True, object_stream_mode=pikepdf.ObjectStreamMode.generate)
    tmp.replace(out)


def _units(segments: Sequence[Segment], total: int) -> list[tuple[int, int]]:
    """Page ranges (0-based, end exclusive) that a split never cuts: front matter + first exhibit... per exhibit."""
    bounds: list[tuple[int, int]] = []
    start_page = segments[0].first if segments else 1
    current_key: object = None
    for seg in segments:
        key: object = ("x", seg.exhibit) if seg.exhibit is not None else ("m", seg.kind)
        a = seg.first - start_page
        if key == current_key and bounds:
            bounds[-1] = (bounds[-1][0], a + seg.pages)
        else:
            bounds.append((a, a + seg.pages))
            current_key = key
    assert not bounds or bounds[-1][1] == total
    return bounds


# What a page adds to a part besides what it reaches in its prepared file: its stamp (a small stream, the resource
# entry), and once per part the embedded stamp font (tasks/packets/layout.py: about 25 KB).
_STAMP_BYTES_PER_PAGE = 200
_STAMP_FONT_BYTES = 32 * 1024


def split_points(
    sizes: Sequence[int], units: list[tuple[int, int]], limit: int, budget: float
) -> list[tuple[int, int]]:
    """Greedy packing of whole units into parts of at most ``limit * budget`` bytes (``sizes``: the estimated bytes
    of each page); a unit that alone exceeds it is cut by pages."""
    cap = int(limit * budget) - _STAMP_FONT_BYTES
    pieces: list[tuple[int, int, int]] = []
    for a, b in units:
        size = sum(sizes[a:b])
        if size <= cap or b - a == 1:
            pieces.append((a, b, size))
            continue
        start, acc = a, 0  # only an exhibit over the limit alone is cut
        for p in range(a, b):
            if acc and acc + sizes[p] > cap:
                pieces.append((start, p, acc))
                start, acc = p, 0
            acc += sizes[p]
        pieces.append((start, b, acc))
    parts: list[tuple[int, int]] = []
    start, acc = pieces[0][0], 0
    for a, _b, size in pieces:
        if acc and acc + size > cap:
            parts.append((start, a))
            start, acc = a, 0
        acc += size
    parts.append((start, pieces[-1][1]))
    return parts


@dataclass
class _Built:
    parts: list[tuple[Path, int, int]]  # path, first page index, end index (exclusive)
    total: int
    bytes_saved: int
    images_downsampled: int
    segments: list[Segment]
    facts: list[Any]  # what the check found in each part on its own (check.files.FileFacts), in order


class _Sources:
    """The stored documents a build copies pages from: fetched into the work folder, each prepared once
    (``prepare.prepare_source``, in the build's worker processes, with the resampled images an earlier build kept),
    and their pictures verified once (``qpdf_child.verify_pictures``, unless a verdict is kept for the document)."""

    def __init__(self, rt: Runtime, inputs: PacketInputs, cache: PieceCache, pool: BuildPool, layout: Any, work: Path):
        from .prepare import PrepareJob

        self.cache = cache
        self.work = work
        self.by_sha: dict[str, SourcePdf] = {}
        for source in _all_sources(inputs):
            self.by_sha.setdefault(source.sha256, source)
        _fetch(rt, list(self.by_sha.values()), work / "sources")
        from . import layout as page_layout
        from . import prepare as prepare_module
        from . import qpdf_child
        from .cache import code_version, piece_key

        images_code = code_version([page_layout, prepare_module], ["pillow", "pikepdf"])
        layout_fields = asdict(layout)
        self.image_keys = {
            sha: piece_key("images", source=sha, layout=layout_fields, code=images_code) for sha in self.by_sha
        }
        verdict_code = code_version([qpdf_child], ["pikepdf"])
        from pikepdf import jbig2

        jbig2dec = jbig2.get_decoder().available()
        self.verdict_keys = {
            sha: piece_key("verdicts", source=sha, code=verdict_code, jbig2dec=jbig2dec) for sha in self.by_sha
        }
        (work / "bundles").mkdir()
        found = cache.get_many(self.image_keys.values())
        order = sorted(self.by_sha.values(), key=lambda s: -(s.path.stat().st_size if s.path else 0))
        self.jobs: dict[str, Any] = {}
        for source in order:
            assert source.path is not None
            cached = None
            bundle = found.get(self.image_keys[source.sha256])
            if bundle is not None:
                cached = work / "bundles" / f"{source.sha256}.cached.pdf"
                cached.write_bytes(bundle)
            job = PrepareJob(
                source=str(source.path),
                name=f"document {source.document_id}",
                pages=source.pages,
                layout=layout,
                out=str(work / "prepared" / f"{source.sha256}.pdf"),
                work=str(work / "prepared" / source.sha256),
                cached=str(cached) if cached else None,
                bundle_out=str(work / "bundles" / f"{source.sha256}.pdf"),
            )
            self.jobs[source.sha256] = pool.submit(prepare_module.prepare_source, job)
        self.verdicts: dict[str, list[str]] = {}
        known = cache.get_many(self.verdict_keys.values())
        self.verifying: dict[str, Any] = {}
        for source in order:
            data = known.get(self.verdict_keys[source.sha256])
            if data is not None:
                self.verdicts[source.sha256] = list(json.loads(data)["trusted"])
            else:
                assert source.path is not None
                self.verifying[source.sha256] = pool.submit(qpdf_child.verify_pictures, source.path)
        self.results: dict[str, Any] = {}

    def prepared(self) -> dict[str, Any]:
        """sha256 -> PrepareResult, once every document is prepared; new bundles of resampled images are kept."""
        from .workers import result

        for sha, future in self.jobs.items():
            if sha in self.results:
                continue
            prepared = self.results[sha] = result(future, "preparing the exhibits' pages")
            if prepared.bundle is not None:
                self.cache.put_file(self.image_keys[sha], Path(prepared.bundle))
        return self.results

    def trusted(self) -> frozenset[str]:
        """The picture keys every document's verdict trusts (waits for the verifications still running; new verdicts
        are kept)."""
        from .workers import result

        for sha, future in list(self.verifying.items()):
            verdict = result(future, "verifying the exhibits' pictures")
            self.verdicts[sha] = list(verdict["trusted"])
            if not verdict["missing_decoders"]:
                self.cache.put(self.verdict_keys[sha], json.dumps(verdict, sort_keys=True).encode("utf-8"))
            del self.verifying[sha]
        return frozenset(key for keys in self.verdicts.values() for key in keys)


def _fetch(rt: Runtime, sources: Sequence[SourcePdf], folder: Path) -> None:
    """Each source into ``folder`` (verified against its SHA-256), several at a time."""
    from concurrent.futures import ThreadPoolExecutor

    def one(source: SourcePdf) -> None:
        if source.path is None:
            source.path = folder / f"{source.sha256}.pdf"
            if not source.path.exists():
                rt.store.download(source.key, source.path, expected_sha256=source.sha256)

    folder.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(one, sources))


def assemble(
    inputs: PacketInputs,
    segments: list[Segment],
    prepared: Mapping[str, Any],
    work: Path,
    build_id: str,
    on_part: Any = None,
) -> _Built:
    """Put the parts together from the template pages and the prepared documents, stamp, bookmark and split them
    under the profile's size limit; ``on_part(path, index)`` is called as each part is written (the build checks it
    at once) and returns what the check will need of it."""
    profile = inputs.profile
    start = profile.page_numbers.start
    total = sum(seg.pages for seg in segments)
    sizes: list[int] = []
    for seg in segments:
        if seg.rendering is not None:
            assert seg.rendering.data is not None
            sizes += [len(seg.rendering.data) // max(1, seg.pages)] * seg.pages
        else:
            assert seg.source is not None
            sizes += list(prepared[seg.source.sha256].page_bytes)
    sizes = [size + _STAMP_BYTES_PER_PAGE for size in sizes]
    numbers, stamps = _labels(segments, inputs)
    entries = outline_for(segments, inputs, start)
    title = str(inputs.context["filing_title"])
    limit = profile.size_limit.max_bytes
    stem = _stem(inputs.case_id, inputs.profile_name)
    layouts = _layouts(profile)
    used = list(dict.fromkeys(seg.rendering for seg in segments if seg.rendering is not None))
    saved = sum(p.bytes_before - p.bytes_after for p in prepared.values()) + sum(r.bytes_saved for r in used)
    downsampled = sum(p.images_downsampled for p in prepared.values()) + sum(r.images_downsampled for r in used)

    def write(ranges: list[tuple[int, int]]) -> tuple[list[tuple[Path, int, int]], list[Any]] | None:
        """The parts of ``ranges``; None (and nothing left) as soon as one is over the limit."""
        parts: list[tuple[Path, int, int]] = []
        facts: list[Any] = []
        for i, (a, b) in enumerate(ranges, start=1):
            if len(ranges) == 1:
                out, part_title = work / f"{stem}.pdf", title
            else:
                name = profile.size_limit.split_name.format(stem=stem, part=i)
                out, part_title = work / name, f"{title} (part {i} of {len(ranges)})"
            _write_part(inputs, segments, prepared, a, b, out, entries, part_title, numbers, stamps, layouts)
            parts.append((out, a, b))
            if limit > 0 and out.stat().st_size > limit:
                for path, _a, _b in parts:
                    path.unlink()
                return None
            facts.append(on_part(out, i - 1) if on_part is not None else None)
        return parts, facts

    # The estimate counts what each page reaches on its own (fonts shared by pages count once per page): a packet
    # estimated a little over the limit may still fit in one file, which is tried first.
    estimate = sum(sizes) + _STAMP_FONT_BYTES
    if limit <= 0 or estimate <= limit * 1.1:
        written = write([(0, total)])
        if written is not None:
            return _Built(written[0], total, saved, downsampled, segments, written[1])
    units = _units(segments, total)
    for budget in (0.97, 0.9, 0.8, 0.7, 0.6):
        written = write(split_points(sizes, units, limit, budget))
        if written is not None:
            return _Built(written[0], total, saved, downsampled, segments, written[1])
    raise CasefileError(
        f"Packet build {build_id}: a single page is larger than the profile's size limit ({limit} bytes). "
        "Lower [page] image_dpi in the profile or raise [size_limit] max_bytes."
    )


def _write_part(
    inputs: PacketInputs,
    segments: Sequence[Segment],
    prepared: Mapping[str, Any],
    first: int,
    last: int,
    out: Path,
    entries: Sequence[OutlineEntry],
    title: str,
    numbers: Sequence[str | None],
    stamps: Sequence[str | None],
    layouts: tuple[Any, Any],
) -> None:
    """Pages [first, last) of the packet as one file: copied from the template renderings and the prepared
    documents (their stream data read from those files as the part is written, never all held at once), stamped,
    bookmarked, labelled."""
    import pikepdf

    from .layout import carry_optional_content, stamp_pages
    from .prepare import open_lazily

    number_layout, stamp_layout = layouts
    start = inputs.profile.page_numbers.start
    opened: dict[str, Any] = {}
    with pikepdf.new() as part:
        for seg in segments:
            a, b = seg.first - start, seg.first - start + seg.pages  # the segment's pages, 0-based in the packet
            lo, hi = max(a, first), min(b, last)
            if lo >= hi:
                continue
            if seg.rendering is not None:
                assert seg.rendering.path is not None
                path = str(seg.rendering.path)
            else:
                assert seg.source is not None
                path = prepared[seg.source.sha256].out
            src = opened.get(path)
            if src is None:
                src = opened[path] = open_lazily(path)
                if seg.rendering is None:
                    carry_optional_content(part, src)  # layers of the exhibits
            part.pages.extend(src.pages[lo - a : hi - a])
        page_numbers, labels = numbers[first:last], stamps[first:last]
        if any(n is not None for n in page_numbers):
            stamp_pages(part, page_numbers, number_layout)
        if any(s is not None for s in labels):
            stamp_pages(part, labels, stamp_layout)
        number_start = start if inputs.profile.exhibits.page_labels else None
        _finish_part(part, first, last, out, entries, number_start, title)


# Findings that can come from an exhibit's document or the exhibit list (damaged streams, hidden content the
# builder could not remove, fonts it does not embed, pages that read in another language than the list says); every
# other finding is about what the builder made.
_INPUT_FINDINGS = frozenset({"qpdf-check", "hidden-content", "font-not-embedded", "translation-missing"})


def _check(
    built: _Built,
    inputs: PacketInputs,
    build_id: str,
    facts: Sequence[Any] | None = None,
    languages: Any = None,
) -> list[str]:
    """The pre-filing check on our own output; errors stop the build, warnings go into the manifest. Each finding
    names the exhibit and its page (or the template page) and the packet's page number. ``facts``: what the workers
    found in each part (``check.files.check_file``)."""
    from .check import check_packet

    paths = [p for p, _a, _b in built.parts]
    report = check_packet(
        paths,
        inputs.profile,
        expect_translations=not inputs.options.allow_missing_translations,
        first_number=inputs.profile.page_numbers.start if inputs.profile.page_numbers.enabled else None,
        facts=facts,
        languages=languages,
    )
    firsts = {path.name: a for path, a, _b in built.parts}
    start = inputs.profile.page_numbers.start

    def where(file: str, page: int | None) -> str:
        if not page:
            return Path(file).name
        number = start + firsts.get(Path(file).name, 0) + page - 1
        return f"{page_owner(built.segments, inputs, number)}, packet page {number}"

    errors = [f for f in report.findings if f.severity == "error"]
    if errors:
        inputs_at_fault = all(f.exhibit is not None and f.code in _INPUT_FINDINGS for f in errors)
        raise PacketCheckFailed(
            build_id,
            [f"{f.code}: {where(f.file, f.page)}: {f.message}" for f in errors],
            exhibits=sorted({str(f.exhibit) for f in errors}) if inputs_at_fault else None,
        )
    return [f"{f.code}: {where(f.file, f.page)}: {f.message}" for f in report.findings if f.severity != "error"]


class _LanguageMemo:
    """The check's memory of languages read in texts (check.translations.LanguageMemo), in the cache of pieces."""

    def __init__(self, cache: PieceCache) -> None:
        from ..documents import language
        from .cache import code_version

        self.cache = cache
        self.code = code_version([language], ["lingua-language-detector"])

    def _key(self, text_key: str) -> PieceKey:
        from .cache import piece_key

        return piece_key("languages", text=text_key, code=self.code)

    def recall(self, keys: Sequence[str]) -> dict[str, str | None]:
        found = self.cache.get_many(self._key(k) for k in keys)
        known: dict[str, str | None] = {}
        for k in keys:
            data = found.get(self._key(k))
            if data is not None:
                known[k] = json.loads(data)["language"]
        return known

    def keep(self, found: Mapping[str, str | None]) -> None:
        self.cache.put_many({self._key(k): json.dumps({"language": v}).encode("utf-8") for k, v in found.items()})


_KIND_WORDS = {"tab": "tab page", "document": "page", "translation": "translation page", "certificate": "certificate"}


def page_owner(segments: Sequence[Segment], inputs: PacketInputs, number: int) -> str:
    """Which part of the packet printed page ``number`` is: "exhibit B, translation page 2 of 3", "the cover page"."""
    for seg in segments:
        if seg.first <= number < seg.first + seg.pages:
            if seg.exhibit is None:
                return f"{Path(seg.template).name.split('.')[0].replace('_', ' ') or seg.kind} page"
            label = inputs.exhibits[seg.exhibit].label
            return f"exhibit {label}, {_KIND_WORDS.get(seg.kind, seg.kind)} {number - seg.first + 1} of {seg.pages}"
    return f"page {number}"


def preflight(rt: Runtime, case_id: str, options: BuildOptions, *, today: date | None = None) -> PacketInputs:
    """Everything a build checks before it renders a page (the case, profile and channel, the exhibit list, languages
    nobody decided, missing translations, the practice's placeholder values, the DHS office, unsigned certificates,
    a USCIS letter's recipient): what `packet build` runs before it starts Prefect, so a refusal is immediate."""
    inputs = gather(rt, case_id, options, today or datetime.now(UTC).date())
    if inputs.missing and not options.allow_missing_translations:
        raise MissingTranslations(inputs.missing)
    return inputs


def build_packet(rt: Runtime, case_id: str, options: BuildOptions, *, today: date | None = None) -> BuildResult:
    """Build, check and store one packet; see the module docstring. Safe to re-run: the same inputs give the same
    build id; a finished build (manifest present) is returned as it is, an unfinished one is rebuilt."""
    from ..core.render import make_environment, template_versions

    inputs = preflight(rt, case_id, options, today=today)
    settings, store = rt.settings, rt.store
    env = make_environment(settings.templates_dir, settings.overrides_dir)
    templates = inputs.profile.templates
    names = sorted(
        {
            *templates.pages,
            templates.tab,
            templates.translator_certificate,
            "packet/base.html.j2",
            "packet/_macros.html.j2",
            "packet/base.css",
        }
    )
    if inputs.conditions is not None:
        names = sorted({*names, *inputs.conditions.templates})
    versions = template_versions(env, names)
    from ..core import render
    from . import layout as pagelayout
    from . import prepare, renderings
    from . import profile as filing_profile
    from .check import titles as outline_titles

    # The code that lays out and writes the bytes (and reads the profile's defaults, and names the bookmarks) is an
    # input too: a changed builder never "reuses" an old build.
    code = hashlib.sha256()
    modules = [sys.modules[__name__], pagelayout, filing_profile, outline_titles, render, prepare, renderings]
    if inputs.conditions is not None:  # the code that writes the country-conditions index
        modules += [sys.modules[type(inputs.conditions).__module__], sys.modules["casefile.tasks.conditions.bundle"]]
    for module in modules:
        code.update(Path(str(module.__file__)).read_bytes())
    layout_version = code.hexdigest()[:16]
    build_id = build_id_for(inputs, versions, layout_version)
    prefix = build_prefix(inputs.case_id, build_id)
    if store.exists(prefix + MANIFEST):
        return result_from_manifest(load_manifest(rt, inputs.case_id, build_id), reused=True)

    with work_folder(settings.work_dir, f"packet-{build_id}-") as work:
        result = _build_in(rt, inputs, env, work, build_id, prefix, versions)
    with rt.catalog.session() as session:
        audit(
            session,
            actor=current_actor(),
            entity="packet",
            entity_id=build_id,
            action="built",
            case_id=inputs.case_id,
            profile=inputs.profile_name,
            pages=result.pages,
            parts=len(result.parts),
            sha256=[p.sha256 for p in result.parts],
            allow_missing_translations=options.allow_missing_translations,
        )
    return result


def _build_in(
    rt: Runtime,
    inputs: PacketInputs,
    env: Any,
    work: Path,
    build_id: str,
    prefix: str,
    versions: Mapping[str, str],
) -> BuildResult:
    """Prepare the documents (worker processes) while the template pages are laid out (here), assemble the parts,
    check each as it is written (worker processes) and the packet as a whole (here), store the parts and the manifest
    last."""
    from .cache import PieceCache
    from .check.config import CheckConfig
    from .check.files import FileJob, check_file
    from .renderings import Renderer
    from .workers import BuildPool, result

    store = rt.store
    cache = PieceCache(store)
    uploaded: list[str] = []
    try:
        number_layout, _stamp_layout = _layouts(inputs.profile)
        with BuildPool(rt.settings.packet_workers) as pool:
            sources = _Sources(rt, inputs, cache, pool, number_layout, work)
            renderer = Renderer(env, cache, work / "pages", number_layout, versions)
            (work / "pages").mkdir()
            segments = plan_pages(inputs, renderer, inputs.profile.page_numbers.start)
            renderer.write([seg.rendering for seg in segments if seg.rendering is not None])
            prepared = sources.prepared()
            trusted = sources.trusted()
            cfg = CheckConfig.from_profile(inputs.profile)

            def check_part(path: Path, index: int) -> Any:
                return pool.submit(check_file, FileJob(str(path), index, cfg, qpdf=True, trusted=trusted))

            built = assemble(inputs, segments, prepared, work, build_id, check_part)
            facts = [result(future, "checking the packet's parts") for future in built.facts]
        warnings = _check(built, inputs, build_id, facts, _LanguageMemo(cache))
        start = inputs.profile.page_numbers.start
        parts: list[PartResult] = []
        for (path, a, b), fact in zip(built.parts, facts, strict=True):
            key = prefix + path.name
            store.put_file(key, path)
            uploaded.append(key)
            parts.append(PartResult(path.name, key, fact.info.sha256, fact.info.bytes, b - a, start + a, start + b - 1))
        ranges = exhibit_ranges(built.segments)
        exhibits = [
            {
                "label": e.label,
                "title": e.title,
                "document_id": e.document.document_id,
                "first_page": ranges[i][0],
                "last_page": ranges[i][1],
                "pages": ranges[i][1] - ranges[i][0] + 1,
            }
            for i, e in enumerate(inputs.exhibits)
        ]
        result_ = BuildResult(
            build_id=build_id,
            case_id=inputs.case_id,
            profile=inputs.profile_name,
            pages=built.total,
            parts=parts,
            manifest_key=prefix + MANIFEST,
            bytes_saved=built.bytes_saved,
            images_downsampled=built.images_downsampled,
            missing_translations=[label for label, _doc, _lang in inputs.missing],
            warnings=warnings,
            exhibits=exhibits,
            to_sign=list(inputs.signatures.to_sign),
            signed=list(inputs.signatures.signed),
        )
        manifest = _manifest(inputs, result_, versions, built.segments)
        manifest["pieces"] = cache.summary()
        store.put_bytes(prefix + MANIFEST, json.dumps(manifest, indent=2, sort_keys=True).encode("utf-8"))
        log.info("packet %s: pieces of earlier builds %s", build_id, cache.summary())
    except BaseException:
        for key in uploaded:  # parts without a manifest are never listed; remove them anyway
            try:
                store.delete(key)
            except Exception:  # the store may be what failed; the parts stay invisible without a manifest
                log.warning("could not remove an unfinished packet part of build %s", build_id)
        raise
    return result_


def _all_sources(inputs: PacketInputs) -> Iterator[SourcePdf]:
    """The stored PDFs whose pages the packet copies, in packet order (each exhibit's document, then its
    translation): the order of the source segments of ``plan_pages``."""
    for e in inputs.exhibits:
        yield e.document
        if e.translation is not None:
            yield e.translation.source


def _manifest(
    inputs: PacketInputs, result: BuildResult, versions: Mapping[str, str], segments: Sequence[Segment]
) -> dict[str, Any]:
    ranges = exhibit_ranges(segments)
    seg_pages: dict[tuple[int, str], tuple[int, int]] = {}
    for seg in segments:
        if seg.exhibit is not None:
            seg_pages[(seg.exhibit, seg.kind)] = (seg.first, seg.first + seg.pages - 1)
    inputs_rows = []
    for i, e in enumerate(inputs.exhibits):
        row: dict[str, Any] = {
            "label": e.label,
            "section": e.section,
            "document_id": e.document.document_id,
            "sha256": e.document.sha256,
            "key": e.document.key,
            "language": e.language,
            "first_page": ranges[i][0],
            "last_page": ranges[i][1],
            "document_pages": list(seg_pages[(i, "document")]),
            "translation": None,
        }
        if e.translation is not None:
            row["translation"] = {
                "id": e.translation.id,
                "document_id": e.translation.source.document_id,
                "sha256": e.translation.source.sha256,
                "key": e.translation.source.key,
                "pages": list(seg_pages[(i, "translation")]),
                "certificate_pages": list(seg_pages.get((i, "certificate"), (0, 0))),
            }
        inputs_rows.append(row)
    overrides = []
    if inputs.options.allow_missing_translations and inputs.missing:
        overrides.append(
            {
                "override": "allow-missing-translations",
                "exhibits": [label for label, _doc, _lang in inputs.missing],
                "actor": current_actor(),
            }
        )
    conditions = None
    if inputs.conditions is not None:
        firsts = {seg.exhibit: seg.first for seg in segments if seg.kind == "document" and seg.exhibit is not None}
        index = next(seg for seg in segments if seg.template == inputs.conditions.template)
        pins = inputs.conditions.pins(firsts, ranges, inputs.profile.page_numbers.enabled)
        conditions = {
            "bundle_id": inputs.conditions.bundle_id,
            "manifest_sha256": inputs.conditions.manifest_sha256,
            "index_pages": [index.first, index.first + index.pages - 1],
            "exhibits": inputs.conditions.labels,
            "pins": inputs.conditions.pin_table(pins),
        }
    return {
        "manifest_version": MANIFEST_VERSION,
        "build_id": result.build_id,
        "case_id": result.case_id,
        "profile": result.profile,
        "profile_sha256": _digest(asdict(inputs.profile)),
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "service_date": inputs.service_date.isoformat(),
        "template_versions": dict(sorted(versions.items())),
        "pages": result.pages,
        "inputs": inputs_rows,
        "exhibits": result.exhibits,
        "outputs": [asdict(p) for p in result.parts],
        "overrides": overrides,
        # Who files and signs (practice.toml keys), the filing channel, and the certificates signed or to be signed
        # by hand after printing (the profile allows it only with [signatures] wet_after_printing).
        "filer": inputs.context["filer"]["key"],
        "signer": inputs.context["signer"]["key"],
        "channel": inputs.profile.size_limit.channel,
        "signatures": inputs.signatures.as_dict(),
        "bytes_saved_by_downsampling": result.bytes_saved,
        "images_downsampled": result.images_downsampled,
        "check": {"ok": True, "warnings": result.warnings},
        "conditions": conditions,
        # A supplemental filing: the earlier build it continues (its labels and page numbers go on from there)
        "continues": (
            {"build_id": inputs.options.continue_from.upper(), "first_page": inputs.profile.page_numbers.start}
            if inputs.options.continue_from
            else None
        ),
    }
