"""Case validation and the filing-deadline rules (config/filing_rules.toml)."""

from __future__ import annotations

from datetime import date

import pytest

from casefile.tasks.cases.case import format_a_number, normalise_a_number
from casefile.tasks.cases.rules import HearingType, filing_deadline, read_filing_rules
from casefile.tasks.core.calendar import roll_to_business_day as next_business_day
from casefile.tasks.core.errors import ValidationError
from casefile.tasks.core.settings import PACKAGE_ROOT
from casefile.tasks.demo.scenario import fictional_case

RULES = read_filing_rules(PACKAGE_ROOT / "config")


@pytest.mark.parametrize(
    ("raw", "digits"),
    [
        ("123-456-789", "123456789"),
        ("A123456789", "123456789"),
        ("a 123 456 789", "123456789"),
        ("A12345678", "012345678"),
        ("12.345.678", "012345678"),
    ],
)
def test_a_number_normalised(raw: str, digits: str) -> None:
    assert normalise_a_number(raw) == digits


@pytest.mark.parametrize("raw", ["1234567", "1234567890", "A12-34X-678", "", "A"])
def test_a_number_rejected(raw: str) -> None:
    with pytest.raises(ValidationError):
        normalise_a_number(raw)


def test_a_number_formatted() -> None:
    assert format_a_number("012345678") == "A012-345-678"


def test_individual_hearing_30_days_before() -> None:
    # 2027-03-04 is a Thursday; 30 days before is Tuesday 2027-02-02.
    deadline = filing_deadline(RULES, date(2027, 3, 4), HearingType.INDIVIDUAL, detained=False)
    assert deadline.date == date(2027, 2, 2)


def test_master_hearing_15_days_before() -> None:
    deadline = filing_deadline(RULES, date(2027, 3, 4), "master", detained=False)
    assert deadline.date == date(2027, 2, 17)


def test_weekend_moves_to_next_business_day() -> None:
    # 2027-04-05 minus 30 days is Saturday 2027-03-06 -> Monday 2027-03-08.
    deadline = filing_deadline(RULES, date(2027, 4, 5), "individual", detained=False)
    assert deadline.date == date(2027, 3, 8)
    assert "next business day" in deadline.rule


def test_federal_holiday_moves_to_next_business_day() -> None:
    # Presidents' Day 2027 is Monday 2027-02-15; a hearing 30 days later has its deadline on the 16th.
    deadline = filing_deadline(RULES, date(2027, 3, 17), "individual", detained=False)
    assert deadline.date == date(2027, 2, 16)


def test_observed_holiday_and_weekend() -> None:
    # Christmas 2027 is a Saturday, observed Friday 2027-12-24: both roll to Monday the 27th.
    assert next_business_day(date(2027, 12, 24)) == date(2027, 12, 27)
    assert next_business_day(date(2027, 12, 25)) == date(2027, 12, 27)
    assert next_business_day(date(2027, 12, 28)) == date(2027, 12, 28)


def test_detained_deadline_set_by_court() -> None:
    unknown = filing_deadline(RULES, date(2027, 3, 4), "individual", detained=True)
    assert unknown.date is None
    court_set = filing_deadline(RULES, date(2027, 3, 4), "individual", detained=True, override=date(2027, 2, 20))
    assert court_set.date == date(2027, 2, 20)


def test_judge_date_wins_for_non_detained() -> None:
    deadline = filing_deadline(RULES, date(2027, 3, 4), "individual", detained=False, override=date(2027, 2, 25))
    assert deadline.date == date(2027, 2, 25)


def test_valid_new_case() -> None:
    new = fictional_case()
    assert new.a_number == "123456789"
    assert new.hearing_type is HearingType.INDIVIDUAL
    assert new.hearing_date == date(2027, 3, 4)


@pytest.mark.parametrize(
    "changes",
    [
        {"hearing": "03/04/2027"},
        {"hearing_type": "bond-ish"},
        {"client": "  "},
        {"court": ""},
        {"filing_deadline": "soon"},
        {"a_number": "12"},
    ],
)
def test_validate_new_case_rejects(changes: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        fictional_case(**changes)
