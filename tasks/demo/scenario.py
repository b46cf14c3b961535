"""The demo's fictional case and its plain steps: record requests (sent to a loopback mail sink, one answered, one
overdue) and the exhibit list with its translations. Fictional data only (``data/``); flows/cli/demo.py runs it."""

from __future__ import annotations

import shutil
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..cases.case import NewCase, validate_new_case
from ..cases.sample import DEMO_A_NUMBER, DEMO_CLIENT
from ..core.settings import DEMO_DATA

if TYPE_CHECKING:
    from ..core.runtime import Runtime
    from ..packets.build import BuildOptions

SAMPLES = DEMO_DATA / "sample"  # what the demo adds to its case
TRANSLATIONS = DEMO_DATA / "translations"  # English translations of the Spanish samples
RESPONSES = DEMO_DATA / "responses"  # an answer to a record request
CONDITIONS = DEMO_DATA / "conditions"  # a country-conditions library of a fictional country, with sources.csv
LATE = DEMO_DATA / "late"  # evidence that arrives after the first filing (a supplemental filing)
DEMO_COUNTRY = "XV"  # Valdoria, fictional (ISO 3166's user-assigned range)
DEMO_TOPICS = ("gangs", "domestic-violence", "state-protection")
DEMO_SERIES = "Country Reports on Human Rights Practices"
DEMO_OLDER_EDITION_REASON = (
    "the 2024 edition omits the sections on women (domestic violence), LGBTQI+ persons and corruption"
)

DEMO_TITLES = {
    "medical_record_en.pdf": ("Emergency room record, Bronx Example Medical Center", "2024-02-12"),
    "denuncia_scan_es.pdf": ("Police report (denuncia) of August 18, 2023", "2023-08-18"),
    "phone_photo_letter.jpg": ("Letter of support from Rosa Elena Ejemplo", "2024-01-05"),
    "phone_photo_rotated.jpg": ("Certificate of church membership", "2024-02-20"),
    "school_record_2pages.tif": ("School record of the respondent's son", "2024-02-27"),
    "id_card.png": ("Identity card", None),
    "metro_general_records.pdf": ("Emergency department records, Metro General Hospital", "2024-05-14"),
}

# (record type, provider key in config/providers.toml, records asked for, days ago it was sent by hand or None)
DEMO_REQUESTS = (
    ("medical", "metro-general", "Emergency department visit, May 2024", None),
    ("school", "ps-example", "Enrollment, grades and attendance, school year 2023-2024", None),
    ("foreign-civil", "registro-civil-oaxaca", "Acta de nacimiento (certified copy)", None),
    ("police", "example-pd", "Incident report, March 2024", 75),  # sent by hand long ago: overdue today
    # Filed on the USCIS portal ten days ago: the determination is due in 20 business days, the A-file itself is
    # expected months later, too late for the filing deadline: at risk.
    ("foia-uscis", "uscis-foia", "Complete A-file", 10),
)
# The DHS office the demo's certificate of service names: fictional, and set explicitly (the eoir profile's own is a
# placeholder that a build refuses).
DEMO_DHS_OFFICE = (
    "U.S. Immigration and Customs Enforcement, Office of the Principal Legal Advisor - New York (fictional)"
)
DEMO_DHS_ADDRESS = ("Office of the Chief Counsel (fictional)", "201 Example Plaza, Room 0000", "New York, NY 10000")


def use_fictional_practice() -> Path:
    """Make this process (and the flows it runs) use the packaged fictional practice, whatever the home holds: the
    demo never prints a real practice's people on its fictional packet, and says so. Returns the sample's folder."""
    import os

    from ..core.practice import SAMPLE_PRACTICE

    os.environ["CASEFILE_PRACTICE_DIR"] = str(SAMPLE_PRACTICE.parent)
    return SAMPLE_PRACTICE.parent


def fictional_case(**overrides: Any) -> NewCase:
    """The fictional client of the demo and the sample documents; ``overrides`` change any field."""
    values: dict[str, Any] = {
        "client": DEMO_CLIENT,
        "a_number": DEMO_A_NUMBER,
        "court": "New York, NY (Broadway)",
        "hearing": "2027-03-04",
        "hearing_type": "individual",
        "detained": False,
        "judge": "Hon. Example Judge (fictional)",
        "filing_deadline": None,
        "hearing_time": "9:00 AM",
        "advocate": "avega",
    }
    values.update(overrides)
    return validate_new_case(**values)


def demo_requests(rt: Runtime, case_id: str, responses: Path = RESPONSES) -> dict[str, Any]:
    """Send the sample case's record requests to a loopback SMTP server started here, let the hospital's answer
    arrive in the case's inbox folder (named with the request's code), take it in, and run the overdue check once."""
    from ..requests.chase import run_chase
    from ..requests.inbox import inbox_root, poll_inbox
    from ..requests.lifecycle import list_requests, request_summary
    from ..requests.sending import new_request, request_config
    from .mailsink import MailSink

    today = date.today()
    mail_dir = rt.settings.home / "demo-mail" / case_id
    with MailSink(folder=mail_dir) as smtp:
        mail_rt = replace(rt, settings=smtp.apply(rt.settings))
        config = request_config(mail_rt)
        sent = [
            new_request(
                mail_rt,
                case_id=case_id,
                record_type=kind,
                provider=provider,
                records=records,
                sent_on=today - timedelta(days=days_ago) if days_ago else None,
                actor="demo",
            )
            for kind, provider, records, days_ago in DEMO_REQUESTS
        ]
        medical = sent[0]["id"]
        inbox = inbox_root(mail_rt) / case_id
        inbox.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(responses / "metro_general_records.pdf", inbox / f"{medical}-records.pdf")
        polled = poll_inbox(mail_rt, config, case_ids=[case_id], actor="demo")
        chase = run_chase(mail_rt, today)
        messages = [
            {"to": sorted(m.rcpt_tos), "subject": m.subject, "attachments": len(m.attachments())} for m in smtp.messages
        ]
    with rt.catalog.session() as session:
        rows = [request_summary(r, config, today) for r in list_requests(session, case_id=case_id)]
        overdue = [r.id for r in list_requests(session, case_id=case_id, overdue=True, today=today)]
    return {
        "requests": rows,
        "received": polled.as_dict(),
        "chase": chase.counts(),
        "overdue": overdue,
        "mail": {
            "server": f"{smtp.host}:{smtp.port} (loopback, stopped)",
            "folder": str(mail_dir),
            "messages": messages,
        },
    }


def demo_exhibits(rt: Runtime, case_id: str, translations: Path = TRANSLATIONS) -> list[dict[str, Any]]:
    """The demo's exhibit list (titles and dates an advocate would type) and its translations (fictional translator)."""
    from ..packets.exhibits import NOT_EXHIBITS, Plan, PlanRow, list_exhibits, save_plan
    from ..packets.translations import TranslatorInfo, add_translation

    with rt.catalog.session() as session:
        docs = [
            (d.id, d.original_name)
            for d in rt.catalog.get_case(session, case_id).documents
            if d.status == "ready" and d.doc_type not in NOT_EXHIBITS
        ]
    order = list(DEMO_TITLES)

    def demo_name(name: str) -> str:  # the hospital's answer arrived named after its request: RQ-XXXXXXXX-records.pdf
        return "metro_general_records.pdf" if name.endswith("-records.pdf") else name

    docs.sort(key=lambda d: order.index(demo_name(d[1])) if demo_name(d[1]) in order else len(order))
    rows = []
    for doc_id, name in docs:
        title, when = DEMO_TITLES.get(demo_name(name), (Path(name).stem, None))
        language = "es" if (translations / f"{Path(name).stem}.en.pdf").exists() else "en"
        rows.append(
            PlanRow("client", doc_id, title, date=date.fromisoformat(when) if when else None, language=language)
        )
    save_plan(rt, Plan(case_id, rows), "demo plan")
    translator = TranslatorInfo(
        "Sam Translator (fictional)",
        "2 Example Avenue; Queens, NY 11100",
        "(718) 555-0199",
        "sam@example.org",
        signed_electronically=True,  # the translator signed the certificates: "/s/ Sam Translator (fictional)"
    )
    linked = {}
    for doc_id, name in docs:
        english = translations / f"{Path(name).stem}.en.pdf"
        if english.exists():
            linked[doc_id] = add_translation(rt, case_id, doc_id, english, translator, date(2027, 1, 20), "es")["id"]
    with rt.catalog.session() as session:
        return [
            {
                "label": e.label,
                "document": e.document_id,
                "title": e.title,
                "language": e.language,
                "translation": linked.get(e.document_id),
            }
            for e in list_exhibits(session, case_id)
        ]


def demo_build_options() -> BuildOptions:
    """The demo's EOIR build: its fictional DHS office set explicitly; filer and signer the case's advocate, who signs
    electronically; the practice the packaged fictional sample, on purpose (``use_fictional_practice``)."""
    from ..packets.build import BuildOptions

    return BuildOptions(
        profile="eoir", service_office=DEMO_DHS_OFFICE, service_address=DEMO_DHS_ADDRESS, fictional_practice=True
    )


def demo_late_evidence(rt: Runtime, case_id: str, late: Path = LATE) -> list[str]:
    """Evidence that arrived after the first packet was filed: taken in (plain steps) and put at the end of the
    exhibit list, where a supplemental filing (``--continue-from``) picks it up. The new documents' ids."""
    from ..documents import pipeline
    from ..packets.exhibits import Plan, PlanRow, list_exhibits, save_plan

    added = []
    for path in sorted(late.iterdir()):
        document = pipeline.taken_in(pipeline.ingest_file(rt, case_id, path, "unclassified"))
        if document is not None:
            added.append(document)
    with rt.catalog.session() as session:
        rows = [
            PlanRow(e.section, e.document_id, e.title, label=e.label, date=e.doc_date, source=e.source,
                    language=e.language, pinned=e.pinned)
            for e in list_exhibits(session, case_id)
            if e.section == "client"
        ]  # fmt: skip
    listed = {r.document for r in rows}
    for document in added:
        if document not in listed:
            title = "Letter from the client's clinical social worker"
            rows.append(PlanRow("client", document, title, date=date(2027, 1, 12)))
    save_plan(rt, Plan(case_id, rows), "demo plan, with the late evidence")
    return added


def demo_conditions(
    rt: Runtime, case_id: str, library: Path = CONDITIONS, translations: Path = TRANSLATIONS, today: date | None = None
) -> dict[str, Any]:
    """The country-conditions part of the demo, up to the selection an advocate would save: the fictional library
    added (again: duplicates are recognised), the Spanish report's translation, the comparison of the two editions
    of the State Department series, the proposal for the case, and the advocate's edit of it: the superseded 2023
    edition kept for its domestic-violence passages, with the reason, since the 2024 edition dropped that section.
    Returns the selection's text (written under $CASEFILE_HOME/demo-conditions/) and what was done."""
    import yaml

    from ..conditions.compare import compare_editions
    from ..conditions.config import load_topics
    from ..conditions.library import add_folder, add_translation, get_source, translations_of
    from ..conditions.propose import dump_selection, propose
    from ..packets.translations import TranslatorInfo

    added = add_folder(rt, library, actor="demo")
    spanish = next(a for a in added if a.language == "es")
    with rt.catalog.session() as session:
        has_translation = bool(translations_of(session, spanish.source_id))
        pages = get_source(session, spanish.source_id).page_count
    if not has_translation:
        translator = TranslatorInfo(
            "Sam Translator (fictional)",
            "2 Example Avenue; Queens, NY 11100",
            "(718) 555-0199",
            "sam@example.org",
            signed_electronically=True,  # as the case's own translations: "/s/ Sam Translator (fictional)"
        )
        english = translations / f"{Path(next(a.file for a in added if a.language == 'es')).stem}.en.pdf"
        add_translation(rt, spanish.source_id, english, translator, date(2027, 1, 20), pages=(1, pages), actor="demo")
    compared = compare_editions(rt, DEMO_COUNTRY, "2023", "2024", series=DEMO_SERIES)
    proposal = propose(rt, case_id, DEMO_COUNTRY, DEMO_TOPICS, max_pages=60, today=today)
    data = yaml.safe_load(dump_selection(proposal, rt.config(load_topics)))
    older = compared["first"]["id"]
    for entry in data["sources"]:
        if entry["source"] == older:  # what the advocate edits by hand: keep the older edition, for what it alone has
            entry["keep"] = True
            entry["reason"] = DEMO_OLDER_EDITION_REASON
            for passage in entry["passages"]:
                passage["keep"] = passage["topic"] == "domestic-violence"
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=110)
    folder = rt.settings.home / "demo-conditions"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{case_id}-selection.yaml"
    path.write_text(text, encoding="utf-8")
    return {
        "library": [a.as_dict() for a in added],
        "dropped_by_newer_edition": [t["topic"] for t in compared["topics"] if t["dropped"]],
        "proposal": {
            "sources": len(proposal.sources),
            "passages": sum(len(s.passages) for s in proposal.sources),
            "pages": proposal.pages,
        },
        "selection_file": str(path),
        "selection_text": text,
        "country": DEMO_COUNTRY,
        "topics": list(DEMO_TOPICS),
    }


DEMO_ADMIN = "demo-admin"  # a fictional admin of the staff page


def demo_admin(rt: Runtime) -> dict[str, Any]:
    """The staff page's fictional admin, with a new random password each run (printed by the demo, so the page can
    be tried at once): created, or its password reset when an earlier demo made it."""
    import secrets

    from ..staff.users import UserNotFound, add_user, reset_password

    password = "-".join(secrets.token_urlsafe(6) for _ in range(3))
    try:
        reset_password(rt, DEMO_ADMIN, password, actor="demo")
    except UserNotFound:
        add_user(rt, DEMO_ADMIN, "admin", password, actor="demo")
    return {"user": DEMO_ADMIN, "password": password, "role": "admin"}
