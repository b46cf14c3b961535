"""Case validation and the filing-deadline rules (config/filing_rules.toml)."""

from __future__ import annotations

from datetime import date, time
from pathlib import Path

import pytest

from casefile.tasks.cases.case import format_a_number, normalise_a_number
from casefile.tasks.cases.rules import (
    FILING_DATE_UNKNOWN,
    HearingType,
    Risk,
    UscisRole,
    assess_risk,
    filing_deadline,
    read_filing_rules,
    safe_until,
)
from casefile.tasks.core.calendar import parse_time
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


# Filing deadlines as every screen shows them, and the risk margin --------------------------------------------
def test_master_calendar_rule_says_it_applies_if_a_ruling_is_requested() -> None:
    deadline = filing_deadline(RULES, date(2027, 3, 4), "master", detained=False)
    assert deadline.rule.startswith("15 days before the hearing, if a ruling is requested")
    individual = filing_deadline(RULES, date(2027, 3, 4), "individual", detained=False)
    assert individual.rule == "30 days before the hearing"


def test_a_detained_case_without_a_court_date_says_ask_the_court() -> None:
    unknown = filing_deadline(RULES, date(2027, 3, 4), "individual", detained=True)
    assert unknown.date is None and unknown.shown == FILING_DATE_UNKNOWN == "filing date not set: ask the court"
    assert FILING_DATE_UNKNOWN in unknown.rule and "--filing-deadline" in unknown.rule
    # Nothing expected on any date is "safe" against an unknown deadline.
    for answer in (date(2026, 12, 1), date(2027, 3, 1)):
        assessed = assess_risk(RULES, answer, unknown)
        assert assessed.risk is Risk.UNKNOWN and FILING_DATE_UNKNOWN in assessed.reason


def test_answers_on_the_deadline_or_within_five_business_days_before_it_are_at_risk() -> None:
    """The individual hearing of 2027-03-04 has its deadline on Tuesday 2027-02-02; five business days before it
    (Mon 2/1, Fri 1/29, Thu 1/28, Wed 1/27, Tue 1/26) are the time to translate and assemble."""
    deadline = filing_deadline(RULES, date(2027, 3, 4), "individual", detained=False)
    assert RULES.risk_margin == 5 and safe_until(RULES, date(2027, 2, 2)) == date(2027, 1, 25)
    expect = {
        date(2027, 1, 22): Risk.SAFE,
        date(2027, 1, 25): Risk.SAFE,  # Monday: five whole business days left
        date(2027, 1, 26): Risk.AT_RISK,  # four left
        date(2027, 2, 1): Risk.AT_RISK,
        date(2027, 2, 2): Risk.AT_RISK,  # on the deadline: at risk, not safe
        date(2027, 2, 19): Risk.AT_RISK,
    }
    assert {day: assess_risk(RULES, day, deadline).risk for day in expect} == expect
    assert "on the filing deadline" in assess_risk(RULES, date(2027, 2, 2), deadline).reason
    assert "4 business day(s) before" in assess_risk(RULES, date(2027, 1, 26), deadline).reason


def test_the_risk_margin_is_data(tmp_path: Path) -> None:
    import shutil

    config = tmp_path / "config"
    shutil.copytree(PACKAGE_ROOT / "config", config)
    rules_file = config / "filing_rules.toml"
    rules_file.write_text(rules_file.read_text().replace("margin_business_days = 5", "margin_business_days = 0"))
    rules = read_filing_rules(config)
    deadline = filing_deadline(rules, date(2027, 3, 4), "individual", detained=False)
    assert assess_risk(rules, date(2027, 2, 1), deadline).risk is Risk.SAFE
    assert assess_risk(rules, date(2027, 2, 2), deadline).risk is Risk.AT_RISK  # the deadline itself still is


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("09:00", time(9, 0)), ("13:30", time(13, 30)), ("1:30 PM", time(13, 30)), ("9 am", time(9, 0)),
     ("12:15 a.m.", time(0, 15))],
)  # fmt: skip
def test_hearing_time_is_read_as_people_write_it(raw: str, expected: time) -> None:
    assert parse_time(raw, "hearing time") == expected


@pytest.mark.parametrize("raw", ["9", "25:00", "13:30 PM", "noonish", "9:75"])
def test_an_unclear_hearing_time_is_refused(raw: str) -> None:
    with pytest.raises(ValidationError):
        parse_time(raw, "hearing time")


def test_uscis_fields_are_checked() -> None:
    new = fictional_case(uscis_role="Petitioner", receipt_number="ioe-091-234-5678", hearing_time="9:30 AM")
    assert (new.uscis_role, new.receipt_number, new.hearing_time) == (
        UscisRole.PETITIONER,
        "IOE0912345678",
        time(9, 30),
    )
    with pytest.raises(ValidationError):
        fictional_case(receipt_number="12345")
    with pytest.raises(ValidationError):
        fictional_case(uscis_role="respondent")
