"""Readiness for filing: what `casefile case show` ends with, so nothing is first seen at build time or in court.

``readiness(rt, case_id)`` answers, for the case as it stands: the days left to the filing deadline; exhibits without
an English translation (or whose language nobody decided); certificates that would go out unsigned; documents not
on the exhibit list; records requested but not received, and those at risk; the practice's placeholder values a
build would refuse; the DHS office the certificate of service would name; the identity cross-check's flags; and the
last finished build, and whether it is still current (the same documents, translations and case details). Ids,
labels, counts and dates only: no client names, no document text.

Above both packets and requests: it asks ``requests`` for the case's open requests (imported inside the function,
as the packet builder asks ``conditions``).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from ..cases.identity import identity_flags
from ..core.catalog import AuditEvent, ConditionBundle, Document, Translation
from ..core.practice import practice_of
from ..documents.language import UNKNOWN
from ..documents.types import REQUEST, TRANSLATION
from .exhibits import list_exhibits
from .filing import filer_of
from .manifest import _finished_builds, load_manifest
from .profile import load_profile
from .translations import translations_by_source

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from ..core.catalog import Case
    from ..core.runtime import Runtime

# What changes a packet's content: a later event of these makes the last build out of date.
WAITING = ("draft", "sent", "acknowledged", "extended", "partially-received", "overdue", "escalated")
_CHANGES = ("updated", "corrected", "translation-added", "translation-replaced", "translation-removed")


def _pdf_sha(doc: Document) -> str | None:
    return doc.searchable_sha256 or doc.normalised_sha256


def readiness(rt: Runtime, case_id: str, today: date | None = None, profile: str = "eoir") -> dict[str, Any]:
    """The case's readiness for filing (see the module docstring). ``ready`` is True when a build would not be
    refused for what is listed here and nothing waits for a person."""
    from ..cases.case import case_deadline
    from ..requests.config import request_config
    from ..requests.lifecycle import list_requests, request_summary

    today = today or datetime.now(UTC).date()
    practice = practice_of(rt)
    config = request_config(rt)
    with rt.catalog.session() as session:
        case = rt.catalog.get_case(session, case_id)
        deadline = case_deadline(rt, case)
        saved = list_exhibits(session, case.id)
        translations = translations_by_source(session, case.id)
        untranslated = [
            {"label": e.label, "document": e.document_id, "language": e.language}
            for e in saved
            if e.language not in ("en", UNKNOWN) and e.document_id not in translations
        ]
        undecided = [{"label": e.label, "document": e.document_id} for e in saved if e.language == UNKNOWN]
        listed = {e.document_id for e in saved}
        translated_docs = {t.document_id for t in translations.values()}
        not_listed = [
            d.id
            for d in case.documents
            if d.status == "ready"
            and d.id not in listed
            and d.id not in translated_docs
            and d.doc_type not in (TRANSLATION, REQUEST)
        ]
        labels = {e.document_id: e.label for e in saved}
        unsigned = [
            f"translator's certificate of exhibit {labels[t.source_document_id]} (translation {t.id})"
            for t in translations.values()
            if t.signature is None and t.source_document_id in labels
        ]
        problems: list[str] = []
        placeholders: list[str] = []
        try:
            filer = filer_of(practice, case, None)
            if not (filer.signature == "electronic" or filer.signature_image is not None):
                unsigned.insert(0, f"certificate of service ({filer.key}: signs by hand)")
            placeholders = [p.line() for p in practice.placeholders(people=[filer.key], court=case.court)]
        except Exception as err:  # no one may file yet: say so instead of failing the whole summary
            problems.append(str(getattr(err, "message", err)))
        office = practice.dhs_office_for(case.court)
        dhs: str | None
        if office is not None:
            dhs = f"{office.office} (the practice's office for this court)"
        else:
            service = rt.config(load_profile, profile).service
            dhs = None if service.placeholder else f"{service.office} (the {profile} profile's)"
        requests = [request_summary(r, config, today) for r in list_requests(session, case_id=case.id, today=today)]
        waiting = [
            {"id": r["id"], "status": r["status"], "expected_on": r["expected_on"], "risk": r["risk"]}
            for r in requests
            if r["status"]
            in ("draft", "sent", "acknowledged", "extended", "partially-received", "overdue", "escalated")
        ]
        flags = [f.as_dict() for f in identity_flags(session, case)]
        last = _last_build(rt, session, case, saved)
    days = (deadline.date - today).days if deadline.date else None
    ready = not (untranslated or undecided or unsigned or placeholders or problems or dhs is None or not saved)
    return {
        "filing_deadline": deadline.date.isoformat() if deadline.date else None,
        "filing_deadline_shown": deadline.shown,
        "days_to_deadline": days,
        "exhibits": len(saved),
        "exhibits_without_translation": untranslated,
        "exhibits_language_undecided": undecided,
        "unsigned_certificates": unsigned,
        "documents_not_on_exhibit_list": not_listed,
        "requests_waiting": waiting,
        "requests_at_risk": [r["id"] for r in waiting if r["risk"] in ("at-risk", "unknown")],
        "practice_placeholders": placeholders,
        "practice_problems": problems,
        "dhs_office": dhs,
        "identity_checks": flags,
        "last_build": last,
        "ready": ready,
    }


def _filings(rt: Runtime, case_id: str, manifest: dict[str, Any]) -> list[dict[str, Any]]:
    """A build's manifest after those of the filings it continues (``--continue-from``), earliest first."""
    chain = [manifest]
    seen = {manifest["build_id"]}
    while (earlier := (chain[0].get("continues") or {}).get("build_id")) and earlier not in seen:
        seen.add(earlier)
        chain.insert(0, load_manifest(rt, case_id, earlier))
    return chain


def _last_build(rt: Runtime, session: Session, case: Case, saved: list[Any]) -> dict[str, Any] | None:
    builds = _finished_builds(rt.store, case.id)
    if not builds:
        return None
    row = builds[-1]
    manifest = load_manifest(rt, case.id, row["build_id"])
    chain = _filings(rt, case.id, manifest)
    why: list[str] = []
    built = [
        (i["document_id"], i["sha256"], (i.get("translation") or {}).get("sha256"))
        for filed in chain
        for i in filed["inputs"]
    ]
    translations = translations_by_source(session, case.id)
    now = []
    for e in saved:
        t = translations.get(e.document_id)
        now.append((e.document_id, _pdf_sha(e.document), _pdf_sha(t.document) if t is not None else None))
    if len(chain) > 1:  # a supplemental filing: together with what it continues, it holds every exhibit, once
        filed = {b[0]: b for b in built}
        if any(n[0] not in filed for n in now) or len(filed) != len(built):
            why.append("the exhibit list changed")
        elif any(filed[n[0]] != n for n in now):
            why.append("a document or translation changed")
    elif [b[0] for b in built[: len(now)]] != [n[0] for n in now]:
        why.append("the exhibit list changed")
    elif built[: len(now)] != now:
        why.append("a document or translation changed")
    active = session.scalar(
        select(ConditionBundle.id).where(ConditionBundle.case_id == case.id, ConditionBundle.active)
    )
    bundles = [(filed.get("conditions") or {}).get("bundle_id") for filed in chain]
    if active not in bundles or (active is None and any(bundles)):
        why.append("the country-conditions bundle changed")
    created = datetime.fromisoformat(manifest["created_at"]).replace(tzinfo=None)
    later = session.scalar(
        select(AuditEvent.action)
        .where(AuditEvent.case_id == case.id, AuditEvent.at > created, AuditEvent.action.in_(_CHANGES))
        .limit(1)
    )
    if later is not None and not why:
        why.append("the case, a document's details or a translation changed since")
    return {
        "build_id": row["build_id"],
        "profile": row["profile"],
        "created_at": row["created_at"],
        "pages": row["pages"],
        "current": not why,
        "why_not_current": why,
        "translations": len(list(session.scalars(select(Translation.id).where(Translation.case_id == case.id)))),
    }
