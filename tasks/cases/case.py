"""A case: validating what an advocate types for it, creating it, and what `case show` and `case list` print."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, time
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from ..core.calendar import parse_date, parse_time
from ..core.catalog import Case, audit, current_actor, new_id
from ..core.errors import ValidationError
from .rules import Deadline, HearingType, UscisRole, filing_deadline, load_filing_rules, safe_until

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


_RECEIPT = re.compile(r"^[A-Z]{3}[0-9]{10}$")


def normalise_receipt_number(raw: str) -> str:
    """'ioe-091-234-5678', 'IOE 0912345678' -> 'IOE0912345678' (three letters, ten digits)."""
    cleaned = re.sub(r"[\s\-]", "", raw.strip()).upper()
    if not _RECEIPT.match(cleaned):
        raise ValidationError(
            "A USCIS receipt number has three letters and ten digits, for example IOE0912345678. Check the "
            "receipt notice (Form I-797C)."
        )
    return cleaned


def parse_uscis_role(raw: str) -> UscisRole:
    try:
        return UscisRole(raw.strip().lower())
    except ValueError:
        raise ValidationError(
            f"Unknown USCIS role {raw!r}; use one of: {', '.join(r.value for r in UscisRole)}."
        ) from None


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
    hearing_time: time | None = None
    advocate: str | None = None  # people key in practice.toml; None: the practice's default advocate
    uscis_role: UscisRole | None = None
    receipt_number: str | None = None


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
    hearing_time: str | None = None,
    advocate: str | None = None,
    uscis_role: str | None = None,
    receipt_number: str | None = None,
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
        hearing_time=parse_time(hearing_time, "hearing time") if hearing_time else None,
        advocate=advocate.strip() if advocate else None,
        uscis_role=parse_uscis_role(uscis_role) if uscis_role else None,
        receipt_number=normalise_receipt_number(receipt_number) if receipt_number else None,
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
        hearing_time=new.hearing_time,
        advocate=new.advocate,
        uscis_role=new.uscis_role.value if new.uscis_role else None,
        receipt_number=new.receipt_number,
    )
    session.add(case)
    audit(session, actor=current_actor(), entity="case", entity_id=case_id, action="created", case_id=case_id)
    return case


def case_deadline(rt: Runtime, case: Case) -> Deadline:
    return filing_deadline(
        rt.config(load_filing_rules), case.hearing_date, case.hearing_type, case.detained, case.filing_deadline_override
    )


def case_summary(rt: Runtime, case: Case) -> dict[str, Any]:
    """What `case show` / `case list` print. ``filing_deadline`` is null when no date is known (a detained case
    before the court sets one); ``filing_deadline_shown`` is then "filing date not set: ask the court".
    ``records_needed_by``: the last day records may arrive and leave the [risk] margin before the deadline."""
    rules = rt.config(load_filing_rules)
    deadline = case_deadline(rt, case)
    docs = case.documents
    return {
        "id": case.id,
        "client": case.client_name,
        "a_number": format_a_number(case.a_number),
        "court": case.court,
        "judge": case.judge,
        "hearing_date": case.hearing_date.isoformat(),
        "hearing_time": case.hearing_time.strftime("%H:%M") if case.hearing_time else None,
        "hearing_type": case.hearing_type,
        "detained": case.detained,
        "advocate": case.advocate,
        "uscis_role": case.uscis_role,
        "receipt_number": case.receipt_number,
        "status": case.status,
        "filing_deadline": deadline.date.isoformat() if deadline.date else None,
        "filing_deadline_shown": deadline.shown,
        "filing_deadline_rule": deadline.rule,
        "records_needed_by": safe_until(rules, deadline.date).isoformat() if deadline.date else None,
        "risk_margin_business_days": rules.risk_margin,
        "documents": {
            "total": len(docs),
            "ready": sum(d.status == "ready" for d in docs),
            "quarantined": sum(d.status == "quarantined" for d in docs),
            "pages": sum(d.page_count for d in docs),
        },
        "created_at": case.created_at.isoformat(timespec="seconds"),
    }


def _check_advocate(rt: Runtime, key: str) -> None:
    from ..core.practice import practice_of

    practice_of(rt).person(key)  # ValidationError naming the people there are


def open_case(rt: Runtime, new: NewCase) -> dict[str, Any]:
    """Create the case; its summary. The advocate (when given) must be one of the practice's people."""
    if new.advocate is not None:
        _check_advocate(rt, new.advocate)
    with rt.catalog.session() as session:
        created = create_case(session, new)
        session.flush()
        return case_summary(rt, created)


@dataclass(frozen=True)
class CaseChanges:
    """What `casefile case set` changes; None leaves a field as it is."""

    filing_deadline: date | None = None
    clear_filing_deadline: bool = False  # back to the rules (a detained case: unknown again)
    hearing_time: time | None = None
    advocate: str | None = None
    uscis_role: UscisRole | None = None
    receipt_number: str | None = None

    def fields(self) -> list[str]:
        names = [
            name
            for name in ("filing_deadline", "hearing_time", "advocate", "uscis_role", "receipt_number")
            if getattr(self, name) is not None
        ]
        return names + (["filing_deadline"] if self.clear_filing_deadline else [])


def update_case(rt: Runtime, case_id: str, changes: CaseChanges) -> dict[str, Any]:
    """Change a case's court-set filing date, hearing time, advocate or USCIS fields; its summary. The audit event
    names the fields changed, never their values. Record requests judge their risk against the new deadline."""
    if not changes.fields():
        raise ValidationError(
            "Nothing to change: pass --filing-deadline, --no-filing-deadline, --hearing-time, --advocate, "
            "--uscis-role or --receipt-number."
        )
    if changes.filing_deadline is not None and changes.clear_filing_deadline:
        raise ValidationError("Pass either --filing-deadline or --no-filing-deadline, not both.")
    if changes.advocate is not None:
        _check_advocate(rt, changes.advocate)
    with rt.catalog.session() as session:
        case = rt.catalog.get_case(session, case_id)
        if changes.filing_deadline is not None:
            case.filing_deadline_override = changes.filing_deadline
        if changes.clear_filing_deadline:
            case.filing_deadline_override = None
        if changes.hearing_time is not None:
            case.hearing_time = changes.hearing_time
        if changes.advocate is not None:
            case.advocate = changes.advocate
        if changes.uscis_role is not None:
            case.uscis_role = changes.uscis_role.value
        if changes.receipt_number is not None:
            case.receipt_number = changes.receipt_number
        audit(
            session,
            actor=current_actor(),
            entity="case",
            entity_id=case.id,
            action="updated",
            case_id=case.id,
            fields=changes.fields(),
        )
        session.flush()
        if "filing_deadline" in changes.fields():
            from ..requests.config import request_config
            from ..requests.lifecycle import refresh_risk

            refresh_risk(session, request_config(rt), case.id)
        return case_summary(rt, case)


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
