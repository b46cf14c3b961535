"""Filing deadlines before immigration-court hearings, from ``filing_rules.toml`` (EOIR Policy Manual, Part II, 3.1(b)),
and whether an answer expected on a date leaves time to file.

``load_filing_rules(settings)`` reads the file once into ``FilingRules``; ``filing_deadline`` applies it. Counting:
the hearing day is day 0, the day before is day 1; a deadline on a weekend or legal holiday moves to the next business
day; a date the court set always wins; a detained case without one has no deadline: it shows ``FILING_DATE_UNKNOWN``
wherever a deadline is shown. ``assess_risk`` says whether records expected on a date are safe, at risk (on or after
the deadline, or within the [risk] margin of business days before it) or of unknown risk (no deadline known).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

from ..core.calendar import DEFAULT_CALENDAR, business_days_between, roll_to_business_day, subtract_business_days
from ..core.config import TomlTable
from ..core.errors import ValidationError

if TYPE_CHECKING:
    from ..core.settings import Settings

FILING_RULES_FILE = "filing_rules.toml"
FILING_DATE_UNKNOWN = "filing date not set: ask the court"
DEFAULT_RISK_MARGIN = 5  # business days between an answer and the filing deadline (translate, assemble, serve)


class HearingType(StrEnum):
    MASTER = "master"
    INDIVIDUAL = "individual"


class UscisRole(StrEnum):
    """The client's part in a USCIS filing; its cover letter is signed "Attorney for the <Role>"."""

    APPLICANT = "applicant"
    PETITIONER = "petitioner"
    BENEFICIARY = "beneficiary"


class Risk(StrEnum):
    SAFE = "safe"
    AT_RISK = "at-risk"
    UNKNOWN = "unknown"  # no filing deadline to compare with: never shown as safe


@dataclass(frozen=True)
class HearingRule:
    days_before: int
    label: str
    condition: str = ""  # when the rule applies, printed with it ("if a ruling is requested")

    def describe(self) -> str:
        """The rule in words: "15 days before the hearing, if a ruling is requested"."""
        return f"{self.days_before} days before the hearing" + (f", {self.condition}" if self.condition else "")


@dataclass(frozen=True)
class FilingRules:
    hearings: dict[str, HearingRule] = field(default_factory=dict)
    holiday_calendar: str = DEFAULT_CALENDAR
    detained_court_sets: bool = True
    risk_margin: int = DEFAULT_RISK_MARGIN  # [risk] margin_business_days

    def hearing_label(self, hearing_type: str) -> str:
        rule = self.hearings.get(hearing_type)
        return rule.label if rule and rule.label else hearing_type.replace("-", " ").capitalize()


@dataclass(frozen=True)
class Deadline:
    date: date | None
    rule: str  # how it was computed, in words

    @property
    def shown(self) -> str:
        """The deadline as every screen shows it: the date, or FILING_DATE_UNKNOWN."""
        return self.date.isoformat() if self.date else FILING_DATE_UNKNOWN


@dataclass(frozen=True)
class RiskAssessment:
    """Whether an answer expected on ``answer_by`` leaves time to file; ``reason`` in words (dates only)."""

    risk: Risk
    reason: str
    safe_until: date | None = None  # the last answer date that still leaves the margin (None: no deadline)


def read_filing_rules(config_dir: Path) -> FilingRules:
    root = TomlTable.load(config_dir, FILING_RULES_FILE)
    counting = root.table("counting", {})
    hearing = root.table("hearing")
    hearings: dict[str, HearingRule] = {}
    for key in hearing.data:
        row = hearing.table(key)
        hearings[key] = HearingRule(
            days_before=row.nonneg("days_before"),
            label=row.get("label", str, ""),
            condition=row.get("condition", str, ""),
        )
    for kind in HearingType:
        if kind.value not in hearings:
            raise hearing.fail(kind.value, "is missing (every hearing type needs a rule)")
    return FilingRules(
        hearings=hearings,
        holiday_calendar=counting.get("holiday_calendar", str, DEFAULT_CALENDAR),
        detained_court_sets=root.table("detained", {}).get("court_sets", bool, True),
        risk_margin=root.table("risk", {}).nonneg("margin_business_days", DEFAULT_RISK_MARGIN),
    )


def load_filing_rules(settings: Settings) -> FilingRules:
    return read_filing_rules(settings.config_dir)


def filing_deadline(
    rules: FilingRules,
    hearing_date: date,
    hearing_type: HearingType | str,
    detained: bool,
    override: date | None = None,
) -> Deadline:
    """The last day to file before the hearing."""
    if override is not None:
        return Deadline(override, "set by the court")
    if detained and rules.detained_court_sets:
        return Deadline(
            None,
            f"detained: {FILING_DATE_UNKNOWN} (record the date it sets with "
            "`casefile case set CASE-ID --filing-deadline YYYY-MM-DD`)",
        )
    hearing_rule = rules.hearings.get(str(HearingType(hearing_type)))
    if hearing_rule is None:
        raise ValidationError(f"No filing rule for hearing type {hearing_type!r} in {FILING_RULES_FILE}.")
    raw = hearing_date - timedelta(days=hearing_rule.days_before)
    due = roll_to_business_day(raw, rules.holiday_calendar)
    rule = hearing_rule.describe()
    if due != raw:
        rule += f" ({raw.isoformat()} is a weekend or holiday; moved to the next business day)"
    return Deadline(due, rule)


def safe_until(rules: FilingRules, deadline: date) -> date:
    """The last day an answer may arrive and still leave ``rules.risk_margin`` whole business days before the
    filing deadline (with a margin of 0: the day before the deadline)."""
    first_at_risk = subtract_business_days(deadline, rules.risk_margin, rules.holiday_calendar)
    return first_at_risk - timedelta(days=1)


def assess_risk(rules: FilingRules, answer_by: date, deadline: Deadline, *, what: str = "due") -> RiskAssessment:
    """Whether an answer expected on ``answer_by`` leaves time to file before ``deadline``. ``what`` names the date
    in the reason ("due", "expected")."""
    if deadline.date is None:
        return RiskAssessment(Risk.UNKNOWN, f"{what} {answer_by.isoformat()}; {FILING_DATE_UNKNOWN}")
    limit = safe_until(rules, deadline.date)
    filing = deadline.date.isoformat()
    if answer_by <= limit:
        return RiskAssessment(Risk.SAFE, f"{what} {answer_by.isoformat()}, before the filing deadline {filing}", limit)
    if answer_by > deadline.date:
        reason = f"{what} {answer_by.isoformat()}, after the filing deadline {filing}"
    elif answer_by == deadline.date:
        reason = f"{what} {answer_by.isoformat()}, on the filing deadline"
    else:
        left = business_days_between(answer_by, deadline.date, rules.holiday_calendar)
        reason = (
            f"{what} {answer_by.isoformat()}, {left} business day(s) before the filing deadline {filing}; "
            f"{rules.risk_margin} are needed to translate and assemble"
        )
    return RiskAssessment(Risk.AT_RISK, reason, limit)
