"""A case: validating what an advocate types for it, creating it, and what `case show` and `case list` print."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from ..core.calendar import parse_date
from ..core.catalog import Case, audit, current_actor, new_id
from ..core.errors import ValidationError
from .rules import Deadline, HearingType, filing_deadline, load_filing_rules

if TYPE_CHECKING:
    from ..core.runtime import Runtime


def normalise_a_number(raw: str) -> str:
    """'A 123-456-789', '123456789', 'A12345678' -> 9 digits ('012345678' for 8-digit numbers)."""
    cleaned = re.sub(r"[\s\-.]", "", raw.strip()).upper().removeprefix("A")
    if not cleaned.isdigit() or len(cleaned) not in (8, 9):
        raise ValidationError(
            "The A-number must have 8 or 9 digits, for example 123-456-789 or A12345678. "
            "Check the number on the Notice to Appear."
        )
    return cleaned.zfill(9)


def format_a_number(digits: str) -> str:
    return f"A{digits[0:3]}-{digits[3:6]}-{digits[6:9]}"


@dataclass(frozen=True)
class NewCase:
    client_name: str
    a_number: str
    court: str
    hearing_date: date
    hearing_type: HearingType
    detained: bool = False
    judge: str | None = None
    filing_deadline: date | None = None


def validate_new_case(
    *,
    client: str,
    a_number: str,
    court: str,
    hearing: str,
    hearing_type: str,
    detained: bool,
    judge: str | None,
    filing_deadline: str | None,
) -> NewCase:
    if not client.strip():
        raise ValidationError('The client\'s name is empty; pass --client "Full Name".')
    if not court.strip():
        raise ValidationError('The court is empty; pass --court, e.g. "New York, NY (Broadway)".')
    try:
        htype = HearingType(hearing_type.lower())
    except ValueError:
        raise ValidationError(
            f"Unknown hearing type {hearing_type!r}; use one of: {', '.join(t.value for t in HearingType)}."
        ) from None
    return NewCase(
        client_name=client.strip(),
        a_number=normalise_a_number(a_number),
        court=court.strip(),
        hearing_date=parse_date(hearing, "hearing date"),
        hearing_type=htype,
        detained=detained,
        judge=judge.strip() if judge else None,
        filing_deadline=parse_date(filing_deadline, "filing deadline") if filing_deadline else None,
    )


def create_case(session: Session, new: NewCase) -> Case:
    case_id = new_id("C", 6)
    while session.get(Case, case_id) is not None:
        case_id = new_id("C", 6)
    case = Case(
        id=case_id,
        client_name=new.client_name,
        a_number=new.a_number,
        court=new.court,
        judge=new.judge,
        hearing_date=new.hearing_date,
        hearing_type=new.hearing_type.value,
        detained=new.detained,
        filing_deadline_override=new.filing_deadline,
    )
    session.add(case)
    audit(session, actor=current_actor(), entity="case", entity_id=case_id, action="created", case_id=case_id)
    return case


def case_deadline(rt: Runtime, case: Case) -> Deadline:
    return filing_deadline(
        rt.config(load_filing_rules), case.hearing_date, case.hearing_type, case.detained, case.filing_deadline_override
    )


def case_summary(rt: Runtime, case: Case) -> dict[str, Any]:
    deadline = case_deadline(rt, case)
    docs = case.documents
    return {
        "id": case.id,
        "client": case.client_name,
        "a_number": format_a_number(case.a_number),
        "court": case.court,
        "judge": case.judge,
        "hearing_date": case.hearing_date.isoformat(),
        "hearing_type": case.hearing_type,
        "detained": case.detained,
        "status": case.status,
        "filing_deadline": deadline.date.isoformat() if deadline.date else None,
        "filing_deadline_rule": deadline.rule,
        "documents": {
            "total": len(docs),
            "ready": sum(d.status == "ready" for d in docs),
            "quarantined": sum(d.status == "quarantined" for d in docs),
            "pages": sum(d.page_count for d in docs),
        },
        "created_at": case.created_at.isoformat(timespec="seconds"),
    }


def open_case(rt: Runtime, new: NewCase) -> dict[str, Any]:
    """Create the case; its summary."""
    with rt.catalog.session() as session:
        created = create_case(session, new)
        session.flush()
        return case_summary(rt, created)


def show_case(rt: Runtime, case_id: str) -> dict[str, Any]:
    """The case's summary and its documents (as `casefile docs` lists them)."""
    from ..documents.access import document_row

    with rt.catalog.session() as session:
        found = rt.catalog.get_case(session, case_id)
        summary = case_summary(rt, found)
        summary["document_list"] = [document_row(d) for d in found.documents]
        return summary


def list_cases(rt: Runtime) -> list[dict[str, Any]]:
    with rt.catalog.session() as session:
        return [case_summary(rt, c) for c in rt.catalog.list_cases(session)]
