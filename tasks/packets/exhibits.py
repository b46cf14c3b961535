"""Exhibit lists: which documents go into a case's packet, in which order, under which label.

- ``propose_plan`` drafts an editable plan (YAML or CSV) from the case's documents: client documents lettered
  (A, B, ...), country-conditions reports numbered (1, 2, ...), each with its detected language ("unknown" when most
  of its pages have no text: a person sets it before a build) and translation; a document that answered a record
  request gets its title, source and date from the request (what was asked for, from whom, when it arrived).
- ``parse_plan`` + ``save_plan`` validate an edited plan (every problem reported with its line) and store it.
  Labels follow the list's order (``relabel``): moving an exhibit re-letters the others, unless the advocate pins a
  label by writing it with a ``!`` (``label: C!``), which keeps it where it is. A client exhibit takes letters, a
  country-conditions one numbers. ``move_exhibit`` moves one exhibit before or after another without editing a file.
- Each proposed row carries ``check``: what a person should look at before filing (the identity cross-check of
  ``cases.identity``: an A-number or a name on its pages that is not the client's).

Translations are linked to their documents in ``translations``. Plain typed functions over the catalog; no Prefect.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ..cases.identity import identity_flags
from ..core.catalog import Document, Exhibit, RecordRequest, RequestEvent, audit, current_actor
from ..core.errors import ValidationError
from ..documents.language import UNKNOWN, language_name
from ..documents.types import COUNTRY_CONDITIONS, REQUEST, TRANSLATION, UNCLASSIFIED, load_document_types
from .translations import document_language, translations_by_source

if TYPE_CHECKING:
    from ..core.runtime import Runtime

CLIENT, COUNTRY = "client", "country"
SECTIONS = (CLIENT, COUNTRY)
# Documents that are never exhibits by themselves: translations follow their document; the letters and forms the
# practice sent to request records are not evidence.
NOT_EXHIBITS = frozenset({TRANSLATION, REQUEST})
PLAN_FIELDS = ("label", "section", "document", "title", "date", "source", "language", "translation", "check")
_LABEL_RE = re.compile(r"^(?:[A-Z]{1,3}|[1-9][0-9]{0,3})$")
PIN = "!"  # label: C! pins the label
_LANG_RE = re.compile(r"^[a-z]{2,3}$")


class PlanInvalid(ValidationError):
    """An exhibit plan with problems; ``problems`` has one line per problem, each naming its line in the file."""

    def __init__(self, path: str, problems: list[str]) -> None:
        self.problems = problems
        listing = "\n".join(f"  {p}" for p in problems)
        super().__init__(
            f"The exhibit plan {path} has {len(problems)} problem(s); nothing was saved. Fix them and run "
            f"`casefile exhibits set` again:\n{listing}"
        )


def letter_label(n: int) -> str:
    """1 -> A, 26 -> Z, 27 -> AA (spreadsheet-style)."""
    out = ""
    while n > 0:
        n, rem = divmod(n - 1, 26)
        out = chr(ord("A") + rem) + out
    return out


def assign_labels(sections: list[str], schemes: dict[str, str]) -> list[str]:
    """Labels in order, per section, by the profile's scheme ("letters" or "numbers"). Sections sharing a scheme
    share one series (USCIS letters everything A, B, C...)."""
    counters: Counter[str] = Counter()
    labels = []
    for section in sections:
        scheme = schemes.get(section, "letters")
        counters[scheme] += 1
        labels.append(letter_label(counters[scheme]) if scheme == "letters" else str(counters[scheme]))
    return labels


DEFAULT_SCHEMES = {CLIENT: "letters", COUNTRY: "numbers"}


def label_index(label: str) -> int:
    """A -> 1, Z -> 26, AA -> 27; "3" -> 3 (the inverse of ``letter_label`` and of numbering)."""
    if label.isdigit():
        return int(label)
    n = 0
    for ch in label:
        n = n * 26 + (ord(ch) - ord("A") + 1)
    return n


def relabel(rows: list[tuple[str, str, bool]], schemes: dict[str, str] = DEFAULT_SCHEMES) -> list[str]:
    """Labels in list order for ``(section, label, pinned)`` rows: a pinned label is kept; every other exhibit takes
    the next label of its section's series after the exhibit before it, skipping those pinned elsewhere."""
    pinned: dict[str, set[int]] = {}
    for section, label, is_pinned in rows:
        if is_pinned:
            pinned.setdefault(schemes.get(section, "letters"), set()).add(label_index(label))
    counters: Counter[str] = Counter()
    out = []
    for section, label, is_pinned in rows:
        scheme = schemes.get(section, "letters")
        if is_pinned:
            counters[scheme] = max(counters[scheme], label_index(label))
            out.append(label)
            continue
        n = counters[scheme] + 1
        while n in pinned.get(scheme, set()):
            n += 1
        counters[scheme] = n
        out.append(letter_label(n) if scheme == "letters" else str(n))
    return out


def _default_title(doc: Document, type_labels: dict[str, str]) -> str:
    stem = Path(doc.original_name).stem.replace("_", " ").replace("-", " ").strip()
    kind = type_labels.get(doc.doc_type, "")
    if doc.doc_type in (UNCLASSIFIED, "other", "") or not kind:
        return stem or doc.id
    return f"{kind} ({stem})" if stem else kind


def _answered(session: Session, document_id: str) -> tuple[RecordRequest, date] | None:
    """The record request this document answered, and the day it arrived, if it did."""
    row = session.execute(
        select(RecordRequest, RequestEvent.at)
        .join(RequestEvent, RequestEvent.request_id == RecordRequest.id)
        .where(RequestEvent.kind == "received", RequestEvent.document_id == document_id)
        .order_by(RequestEvent.id)
        .limit(1)
    ).first()
    return (row[0], row[1].date()) if row is not None else None


def _from_request(doc: Document, req: RecordRequest, type_labels: dict[str, str]) -> str:
    """ "Medical record from Metro General Hospital: Emergency department visit, May 2024"."""
    kind = type_labels.get(doc.doc_type, "") if doc.doc_type not in (UNCLASSIFIED, "other", "") else ""
    title = f"{kind or 'Records'} from {req.provider_name}"
    if req.records_description:
        title += f": {' '.join(req.records_description.split())}"
    return title[:300]


@dataclass
class PlanRow:
    section: str
    document: str
    title: str
    label: str = ""
    date: date | None = None
    source: str = ""
    language: str = "en"
    translation: str | None = None
    line: int = 0
    pinned: bool = False
    check: str = ""  # informational: what a person should confirm (the identity cross-check)

    def as_dict(self) -> dict[str, Any]:
        return {
            "label": self.label + (PIN if self.pinned and self.label else ""),
            "section": self.section,
            "document": self.document,
            "title": self.title,
            "date": self.date,
            "source": self.source,
            "language": self.language,
            "translation": self.translation,
            **({"check": self.check} if self.check else {}),
        }


@dataclass
class Plan:
    case_id: str
    rows: list[PlanRow] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what saving changed or the advocate should know (not errors)

    def as_dict(self) -> dict[str, Any]:
        return {"case": self.case_id, "exhibits": [r.as_dict() for r in self.rows]}


def propose_plan(rt: Runtime, case_id: str) -> Plan:
    """A draft plan: the saved one if there is one (plus documents added since), else every ready document, titled
    after its document type (``document_types.toml``)."""
    type_labels = rt.config(load_document_types).labels
    with rt.catalog.session() as session:
        case = rt.catalog.get_case(session, case_id)
        translations = translations_by_source(session, case.id)
        translation_docs = {t.document_id for t in translations.values()}
        saved = list(session.scalars(select(Exhibit).where(Exhibit.case_id == case.id).order_by(Exhibit.position)))
        rows = [
            PlanRow(
                section=e.section,
                document=e.document_id,
                title=e.title,
                label=e.label,
                date=e.doc_date,
                source=e.source,
                language=e.language,
                translation=translations[e.document_id].id if e.document_id in translations else None,
                pinned=e.pinned,
            )
            for e in saved
        ]
        planned = {r.document for r in rows}
        new_rows = []
        for doc in case.documents:
            if doc.status != "ready" or doc.id in planned or doc.id in translation_docs:
                continue
            if doc.doc_type in NOT_EXHIBITS:
                continue
            section = COUNTRY if doc.doc_type == COUNTRY_CONDITIONS else CLIENT
            answered = _answered(session, doc.id)
            title = _from_request(doc, answered[0], type_labels) if answered else _default_title(doc, type_labels)
            new_rows.append(
                PlanRow(
                    section=section,
                    document=doc.id,
                    title=doc.title or title,
                    date=doc.doc_date or (answered[1] if answered else None),
                    source=answered[0].provider_name[:300] if answered else "",
                    language=document_language(doc),
                    translation=translations[doc.id].id if doc.id in translations else None,
                )
            )
        # Client documents first, then country conditions: the usual order of a respondent's exhibits. A saved
        # plan keeps its order and labels; documents added since come after it with an empty label (numbered
        # automatically when the plan is saved).
        new_rows.sort(key=lambda r: SECTIONS.index(r.section))
        if not rows:
            for row, label in zip(new_rows, assign_labels([r.section for r in new_rows], DEFAULT_SCHEMES), strict=True):
                row.label = label
        plan = Plan(case.id, rows + new_rows)
        checks: dict[str, list[str]] = {}
        for flag in identity_flags(session, case, [r.document for r in plan.rows]):
            what = "an A-number that is not the client's" if flag.kind == "a-number" else "another person's name"
            checks.setdefault(flag.document_id, []).append(f"page {flag.page}: {what}")
        for row in plan.rows:
            if row.document in checks:
                row.check = (
                    f"CONFIRM: {'; '.join(checks[row.document])} (then `casefile doc set {row.document} "
                    "--identity-confirmed`)"
                )
        return plan


# Plan files ---------------------------------------------------------------------------------------------------
_YAML_HEADER = """\
# Exhibit plan for case {case}. Edit it, then save it with:  casefile exhibits set {case} THIS-FILE
# Order: the order of the list. section: client (lettered A, B, ...) or country (country conditions, numbered).
# label: exhibits are lettered (client) or numbered (country) in the list's order, so moving one re-letters the
# others; write a label with ! to pin it (label: C!) and keep it where it is. date: YYYY-MM-DD or null (a document
# that answered a record request is dated the day it arrived: put the document's own date if it has one). language:
# ISO 639-1 code of the document (en, es, pt, ...; ISO 639-3 where there is none, quc for K'iche'); "unknown" means
# its pages have no text to tell by: set the language before building. A non-English exhibit needs a translation
# (casefile translation add), and the translator's certificate names the language written here. translation:
# informational (set by `casefile translation add`). check: informational: what a person must confirm before filing.
"""


def dump_plan(plan: Plan, fmt: str) -> str:
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=PLAN_FIELDS, lineterminator="\n")
        writer.writeheader()
        for row in plan.rows:
            writer.writerow({k: ("" if v is None else v) for k, v in row.as_dict().items()})
        return buf.getvalue()
    import yaml

    body = yaml.safe_dump(plan.as_dict(), sort_keys=False, allow_unicode=True, width=110)
    return _YAML_HEADER.format(case=plan.case_id) + body


def _yaml_rows(text: str, path: str) -> tuple[str | None, list[tuple[int, Any]]]:
    import yaml

    class PlanLoader(yaml.SafeLoader):
        """Safe YAML without implicit dates: "2024-13-45" must be a problem on its line, not a crash."""

    PlanLoader.yaml_implicit_resolvers = {
        key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    try:
        root = yaml.compose(text, Loader=PlanLoader)
        data = yaml.load(text, Loader=PlanLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "somewhere"
        raise PlanInvalid(path, [f"{where}: not valid YAML ({getattr(exc, 'problem', 'syntax error')})"]) from None
    if not isinstance(data, dict) or not isinstance(data.get("exhibits"), list):
        raise PlanInvalid(path, ["line 1: expected a mapping with `case:` and an `exhibits:` list"])
    lines: list[int] = []
    if isinstance(root, yaml.MappingNode):
        for key, value in root.value:
            if key.value == "exhibits" and isinstance(value, yaml.SequenceNode):
                lines = [item.start_mark.line + 1 for item in value.value]
    items = data["exhibits"]
    return data.get("case"), [(lines[i] if i < len(lines) else 0, item) for i, item in enumerate(items)]


def _csv_rows(text: str) -> list[tuple[int, Any]]:
    reader = csv.DictReader(io.StringIO(text))
    return [(i + 2, dict(row)) for i, row in enumerate(reader)]


def parse_plan(text: str, path: str, case_id: str) -> Plan:
    """Parse a plan file (YAML, or CSV when ``path`` ends in .csv). Field-level problems are collected, not raised
    one at a time; document-level checks happen in ``save_plan``."""
    if path.lower().endswith(".csv"):
        declared, items = None, _csv_rows(text)
    else:
        declared, items = _yaml_rows(text, path)
    problems: list[str] = []
    if declared is not None and str(declared).upper() != case_id.upper():
        problems.append(f"line 1: the plan is for case {declared}, not {case_id.upper()}")
    rows: list[PlanRow] = []
    for line, item in items:
        where = f"line {line}"
        if not isinstance(item, dict):
            problems.append(f"{where}: each exhibit must be a mapping of fields")
            continue
        unknown = sorted(set(item) - set(PLAN_FIELDS))
        if unknown:
            problems.append(f"{where}: unknown field(s) {', '.join(unknown)}; allowed: {', '.join(PLAN_FIELDS)}")
        document = str(item.get("document") or "").strip().upper()
        title = str(item.get("title") or "").strip()
        section = str(item.get("section") or CLIENT).strip().lower()
        label = str(item.get("label") or "").strip().upper()
        pinned = label.endswith(PIN)
        label = label.removesuffix(PIN).strip()
        language = str(item.get("language") or "en").strip().lower()
        if not document:
            problems.append(f"{where}: `document` is missing (a document id like D-XXXXXXXX, see `casefile docs`)")
        if not title:
            problems.append(f"{where}: `title` is empty; give the exhibit a title")
        elif len(title) > 300:
            problems.append(f"{where}: `title` is longer than 300 characters")
        if section not in SECTIONS:
            problems.append(f"{where}: section {section!r} is not one of {', '.join(SECTIONS)}")
        if label and not _LABEL_RE.match(label):
            problems.append(f"{where}: label {label!r} must be letters (A, B, ..., AA) or a number (1, 2, ...)")
        elif label and section == CLIENT and label.isdigit():
            problems.append(
                f"{where}: label {label} is a number, but client exhibits are lettered (A, B, ...); write a letter, "
                "or leave the label empty"
            )
        elif label and section == COUNTRY and not label.isdigit():
            problems.append(
                f"{where}: label {label} is a letter, but country-conditions exhibits are numbered (1, 2, ...); write "
                "a number, or leave the label empty"
            )
        if pinned and not label:
            problems.append(f"{where}: `!` pins a label: write it after one, like C!")
        if language != UNKNOWN and (not _LANG_RE.match(language) or language_name(language) is None):
            problems.append(
                f"{where}: language {language!r} must be a language code such as en, es, pt or (K'iche') quc, or "
                f"{UNKNOWN} until someone decides"
            )
        raw_date = item.get("date")
        when: date | None = None
        if isinstance(raw_date, date):
            when = raw_date
        elif raw_date not in (None, "", "null"):
            try:
                when = date.fromisoformat(str(raw_date).strip())
            except ValueError:
                problems.append(f"{where}: date {raw_date!r} is not YYYY-MM-DD (or leave it empty)")
        source = str(item.get("source") or "").strip()
        if len(source) > 300:
            problems.append(f"{where}: `source` is longer than 300 characters")
        translation = str(item.get("translation") or "").strip().upper() or None
        rows.append(PlanRow(section, document, title, label, when, source, language, translation, line, pinned))
    if not rows and not problems:
        problems.append("line 1: the plan lists no exhibits")
    if problems:
        raise PlanInvalid(path, problems)
    return Plan(case_id.upper(), rows)


def save_plan(rt: Runtime, plan: Plan, source_name: str) -> list[Exhibit]:
    """Check the plan against the catalog and replace the case's exhibit list with it (one transaction). Problems
    are reported together, naming ``source_name`` (the plan's file, as the user gave it) and their lines."""
    with rt.catalog.session() as session:
        case = rt.catalog.get_case(session, plan.case_id)
        docs = {d.id: d for d in case.documents}
        translations = translations_by_source(session, case.id)
        translation_docs = {t.document_id for t in translations.values()}
        auto = relabel([(r.section, r.label, r.pinned and bool(r.label)) for r in plan.rows])
        problems: list[str] = []
        seen_docs: dict[str, int] = {}
        seen_labels: dict[str, int] = {}
        for row, auto_label in zip(plan.rows, auto, strict=True):
            where = f"line {row.line}"
            doc = docs.get(row.document)
            if doc is None:
                problems.append(f"{where}: document {row.document} is not in case {case.id} (see `casefile docs`)")
            elif doc.status != "ready":
                problems.append(f"{where}: document {row.document} is {doc.status}; it cannot be an exhibit")
            elif row.document in translation_docs:
                problems.append(
                    f"{where}: document {row.document} is a translation; it follows its document automatically"
                )
            if row.document in seen_docs:
                problems.append(
                    f"{where}: document {row.document} is already exhibit on line {seen_docs[row.document]}"
                )
            seen_docs.setdefault(row.document, row.line)
            if row.label and not row.pinned and row.label != auto_label:
                plan.notes.append(
                    f"{where}: document {row.document} is exhibit {auto_label} in the list's order (it was "
                    f"{row.label}); write {row.label}{PIN} to pin a label"
                )
            row.label = auto_label
            if row.label in seen_labels:
                problems.append(f"{where}: label {row.label} is already used on line {seen_labels[row.label]}")
            seen_labels.setdefault(row.label, row.line)
            linked = translations.get(row.document)
            if row.translation and (linked is None or linked.id != row.translation):
                problems.append(
                    f"{where}: translation {row.translation} does not belong to document {row.document}; "
                    "link translations with `casefile translation add`"
                )
        if problems:
            raise PlanInvalid(source_name, problems)
        session.execute(delete(Exhibit).where(Exhibit.case_id == case.id))
        session.flush()
        exhibits = [
            Exhibit(
                case_id=case.id,
                position=i,
                section=row.section,
                label=row.label,
                document_id=row.document,
                title=row.title,
                doc_date=row.date,
                source=row.source,
                language=row.language,
                pinned=row.pinned,
            )
            for i, row in enumerate(plan.rows, start=1)
        ]
        session.add_all(exhibits)
        audit(
            session,
            actor=current_actor(),
            entity="case",
            entity_id=case.id,
            action="exhibits-set",
            case_id=case.id,
            exhibits=len(exhibits),
        )
        return exhibits


def list_exhibits(session: Session, case_id: str) -> list[Exhibit]:
    return list(session.scalars(select(Exhibit).where(Exhibit.case_id == case_id).order_by(Exhibit.position)))


def exhibit_row(e: Exhibit) -> dict[str, Any]:
    return {
        "position": e.position,
        "label": e.label,
        "section": e.section,
        "document": e.document_id,
        "title": e.title,
        "date": e.doc_date.isoformat() if e.doc_date else None,
        "source": e.source,
        "language": e.language,
        "pinned": e.pinned,
    }


def show_exhibits(rt: Runtime, case_id: str) -> dict[str, Any]:
    """The case's saved exhibit list: ``{"case": id, "exhibits": rows}``, in order."""
    with rt.catalog.session() as session:
        case = rt.catalog.get_case(session, case_id)
        return {"case": case.id, "exhibits": [exhibit_row(e) for e in list_exhibits(session, case.id)]}


def move_exhibit(rt: Runtime, case_id: str, label: str, *, before: str | None = None, after: str | None = None) -> Plan:
    """Move exhibit ``label`` before (or after) exhibit ``before`` (``after``) in the saved list; the others are
    re-lettered in the new order, pinned labels kept. Returns the saved plan, its ``notes`` saying what changed."""
    if (before is None) == (after is None):
        raise ValidationError("Say where it goes: --before LABEL or --after LABEL.")
    with rt.catalog.session() as session:
        case = rt.catalog.get_case(session, case_id)
        saved = list_exhibits(session, case.id)
        rows = [
            PlanRow(e.section, e.document_id, e.title, e.label, e.doc_date, e.source, e.language, None, i, e.pinned)
            for i, e in enumerate(saved, start=1)
        ]
    if not rows:
        raise ValidationError(f"Case {case.id} has no exhibit list yet; run `casefile exhibits plan {case.id}`.")
    labels = [r.label for r in rows]
    wanted = label.strip().upper().removesuffix(PIN)
    target = (before or after or "").strip().upper().removesuffix(PIN)
    for name in (wanted, target):
        if name not in labels:
            raise ValidationError(f"Case {case.id} has no exhibit {name}; its exhibits are {', '.join(labels)}.")
    if wanted == target:
        raise ValidationError("An exhibit cannot move next to itself.")
    moving = rows.pop(labels.index(wanted))
    at = [r.label for r in rows].index(target) + (1 if after else 0)
    rows.insert(at, moving)
    old = {r.document: r.label for r in rows}
    plan = Plan(case.id, rows)
    save_plan(rt, plan, "the exhibit list")
    plan.notes = [
        f"exhibit {old[r.document]} is now {r.label} ({r.document})" for r in plan.rows if old[r.document] != r.label
    ]
    return plan


def exhibit_warnings(rt: Runtime, case_id: str) -> list[str]:
    """What the saved list still lacks before a build, said when it is saved (not first at build time): foreign
    exhibits without an English translation, exhibits whose language nobody decided, and the identity cross-check's
    flags. Labels, ids and page numbers only."""
    with rt.catalog.session() as session:
        case = rt.catalog.get_case(session, case_id)
        translations = translations_by_source(session, case.id)
        saved = list_exhibits(session, case.id)
        warnings = []
        for e in saved:
            if e.language == UNKNOWN:
                warnings.append(
                    f"exhibit {e.label} (document {e.document_id}): its language is unknown; write it in the plan "
                    "before building"
                )
            elif e.language != "en" and e.document_id not in translations:
                warnings.append(
                    f"exhibit {e.label} (document {e.document_id}, {e.language}) has no English translation yet: "
                    f"`casefile translation add {case.id} english.pdf --for {e.document_id} --translator KEY`"
                )
        flags = identity_flags(session, case, [e.document_id for e in saved])
        labels = {e.document_id: e.label for e in saved}
        warnings += [f"exhibit {labels[f.document_id]}: {f.line()}" for f in flags]
        return warnings
