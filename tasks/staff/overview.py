"""What the staff page shows of a case, in one call: hearing, filing deadline and days left, documents with their
status and the pages a person must check, record requests (overdue and at-risk first) and finished packet builds."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from ..cases.case import case_deadline, case_summary
from ..core.catalog import Document, Page
from ..documents.access import document_row
from ..requests.status import OPEN_STATUSES, Status
from ..requests.tracking import list_request_rows
from .audit import safe_id
from .downloads import build_rows
from .jobs import case_jobs

if TYPE_CHECKING:
    from ..core.runtime import Runtime


def _request_order(row: dict[str, Any]) -> tuple[int, str]:
    status = Status(row["status"])
    overdue = status in (Status.OVERDUE, Status.ESCALATED) or (
        status in OPEN_STATUSES and row["days_left"] is not None and row["days_left"] < 0
    )
    rank = 0 if overdue else 1 if row["at_risk"] and status in OPEN_STATUSES else 2 if status in OPEN_STATUSES else 3
    # at_risk: at risk, or of unknown risk (no filing date to compare with: never shown as safe)
    return rank, row["effective_due_on"] or "9999-12-31"


def request_rows(rt: Runtime, case_id: str, today: date) -> list[dict[str, Any]]:
    rows = list_request_rows(rt, case_id=case_id, today=today)
    for row in rows:
        status = Status(row["status"])
        row["overdue"] = _request_order(row)[0] == 0
        row["open"] = status in OPEN_STATUSES  # waiting for records (overdue and escalated ones included)
    return sorted(rows, key=_request_order)


def case_overview(rt: Runtime, case_id: str, *, today: date | None = None) -> dict[str, Any]:
    """Everything the case page shows; ``CaseNotFound`` for an unknown id (or one that is not an id)."""
    from ..core.errors import CaseNotFound

    today = today or date.today()
    wanted = safe_id(case_id)
    if wanted is None:
        raise CaseNotFound(case_id[:20])
    with rt.catalog.session() as session:
        case = rt.catalog.get_case(session, wanted)
        summary = case_summary(rt, case)
        deadline = case_deadline(rt, case).date
        flagged: dict[str, dict[str, list[int]]] = {}
        for doc_id, number, source in session.execute(
            select(Page.document_id, Page.number, Page.text_source)
            .join(Document, Document.id == Page.document_id)
            .where(Document.case_id == case.id, (Page.low_confidence.is_(True)) | (Page.text_source == "failed"))
            .order_by(Page.document_id, Page.number)
        ):
            entry = flagged.setdefault(doc_id, {"check": [], "failed": []})
            entry["failed" if source == "failed" else "check"].append(number)
        documents = []
        for d in case.documents:
            row = document_row(d)
            row["check_pages"] = flagged.get(d.id, {}).get("check", [])
            row["failed_pages"] = flagged.get(d.id, {}).get("failed", [])
            documents.append(row)
    summary["days_to_hearing"] = (date.fromisoformat(summary["hearing_date"]) - today).days
    summary["days_to_deadline"] = (deadline - today).days if deadline else None
    return {
        "case": summary,
        **_readiness(rt, summary["id"], today),
        "documents": documents,
        "requests": request_rows(rt, summary["id"], today),
        "builds": build_rows(rt, summary["id"]),
        "jobs": case_jobs(rt, summary["id"]),
        "today": today.isoformat(),
    }


def _readiness(rt: Runtime, case_id: str, today: date) -> dict[str, Any]:
    """`casefile case show`'s readiness for filing; for the demo's own fictional case (tasks/staff/builds.py) the
    fictional practice's values are not in the way: a build from the page files for it on purpose."""
    from ..packets.readiness import readiness
    from .builds import is_demo_case

    ready = readiness(rt, case_id, today)
    demo = is_demo_case(rt, case_id)
    if demo and ready["practice_placeholders"]:
        ready["practice_placeholders"] = []
        blockers = ("exhibits_without_translation", "exhibits_language_undecided", "unsigned_certificates")
        ready["ready"] = bool(
            ready["exhibits"]
            and not any(ready[key] for key in blockers)
            and not ready["practice_problems"]
            and ready["dhs_office"] is not None
        )
    return {"readiness": ready, "demo_case": demo}


def upcoming_cases(rt: Runtime, *, today: date | None = None, limit: int = 20) -> list[dict[str, Any]]:
    """Open cases whose hearing is ahead, the nearest filing deadline first (those without one by their hearing), with
    how many of their requests are overdue and how many at risk or of unknown risk: what the page's start shows."""
    from ..cases.case import format_a_number
    from ..core.catalog import Case

    today = today or date.today()
    with rt.catalog.session() as session:
        cases = list(session.scalars(select(Case).where(Case.status == "open", Case.hearing_date >= today)))
        rows: list[dict[str, Any]] = []
        for c in cases:
            deadline = case_deadline(rt, c)
            rows.append(
                {
                    "id": c.id,
                    "client": c.client_name,
                    "a_number": format_a_number(c.a_number),
                    "hearing_date": c.hearing_date.isoformat(),
                    "hearing_type": c.hearing_type,
                    "detained": c.detained,
                    "filing_deadline": deadline.date.isoformat() if deadline.date else None,
                    "days_to_deadline": (deadline.date - today).days if deadline.date else None,
                }
            )
    rows.sort(key=lambda r: (r["filing_deadline"] or r["hearing_date"], r["id"]))
    rows = rows[:limit]
    for row in rows:
        requests = request_rows(rt, row["id"], today)
        row["overdue_requests"] = sum(r["overdue"] for r in requests)
        row["at_risk_requests"] = sum(r["open"] and not r["overdue"] and r["risk"] == "at-risk" for r in requests)
        row["unknown_risk_requests"] = sum(r["open"] and not r["overdue"] and r["risk"] == "unknown" for r in requests)
    return rows
