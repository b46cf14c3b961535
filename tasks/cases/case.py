"""Cases: validation of what an advocate types, case creation, and the filing deadline."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from casefile.tasks.core.catalog import Case, audit, current_actor, new_id
from casefile.tasks.core.config import load_toml
from casefile.tasks.core.errors import ValidationError


class HearingType(StrEnum):
    MASTER = "master"
    INDIVIDUAL = "individual"


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


def parse_date(raw: str, what: str) -> date:
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ValidationError(f"The {what} {raw!r} is not a date; write it as YYYY-MM-DD, e.g. 2027-03-04.") from None


@dataclass(frozen=True)
class Deadline:
    date: date | None
    rule: str  # human description of how it was computed


@lru_cache(maxsize=4)
def _rules(config_dir: Path) -> dict[str, Any]:
    return load_toml(config_dir, "filing_rules.toml")


def _holiday_set(country: str, years: set[int]) -> Any:
    import holidays

    return holidays.country_holidays(country, years=sorted(years))


def next_business_day(day: date, country: str = "US") -> date:
    hol = _holiday_set(country, {day.year, day.year + 1})
    while day.weekday() >= 5 or day in hol:
        day += timedelta(days=1)
    return day


def filing_deadline(
    config_dir: Path,
    hearing_date: date,
    hearing_type: HearingType | str,
    detained: bool,
    override: date | None = None,
) -> Deadline:
    """The last day to file before the hearing, by the rules in config/filing_rules.toml."""
    if override is not None:
        return Deadline(override, "set by the court")
    rules = _rules(config_dir)
    if detained and rules.get("detained", {}).get("court_sets", True):
        return Deadline(None, "detained: the court sets the filing date (record it with --filing-deadline)")
    hearing_rules = rules["hearing"].get(str(HearingType(hearing_type)))
    if hearing_rules is None:
        raise ValidationError(f"No filing rule for hearing type {hearing_type!r} in filing_rules.toml.")
    days = int(hearing_rules["days_before"])
    counting = rules.get("counting", {})
    raw = hearing_date - timedelta(days=days)
    due = next_business_day(raw, counting.get("holiday_calendar", "US"))
    rule = f"{days} days before the hearing"
    if due != raw:
        rule += f" ({raw.isoformat()} is a weekend or holiday; moved to the next business day)"
    return Deadline(due, rule)


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


DEMO_CLIENT = "Maria Fernanda Quiroga Test"  # fictional, like everything in tests/resources
DEMO_A_NUMBER = "123-456-789"


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
    }
    values.update(overrides)
    return validate_new_case(**values)


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


def case_summary(case: Case, config_dir: Path) -> dict[str, Any]:
    deadline = filing_deadline(
        config_dir, case.hearing_date, case.hearing_type, case.detained, case.filing_deadline_override
    )
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
