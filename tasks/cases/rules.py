"""Filing deadlines before immigration-court hearings, from ``filing_rules.toml`` (EOIR Policy Manual, Part II, 3.1(b)).

``load_filing_rules(settings)`` reads the file once into ``FilingRules``; ``filing_deadline`` applies it. Counting:
the hearing day is day 0, the day before is day 1; a deadline on a weekend or legal holiday moves to the next business
day; a date the court set always wins; a detained case without one has no deadline (the court sets it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

from ..core.calendar import DEFAULT_CALENDAR, roll_to_business_day
from ..core.config import TomlTable
from ..core.errors import ValidationError

if TYPE_CHECKING:
    from ..core.settings import Settings

FILING_RULES_FILE = "filing_rules.toml"


class HearingType(StrEnum):
    MASTER = "master"
    INDIVIDUAL = "individual"


@dataclass(frozen=True)
class HearingRule:
    days_before: int
    label: str


@dataclass(frozen=True)
class FilingRules:
    hearings: dict[str, HearingRule] = field(default_factory=dict)
    holiday_calendar: str = DEFAULT_CALENDAR
    detained_court_sets: bool = True

    def hearing_label(self, hearing_type: str) -> str:
        rule = self.hearings.get(hearing_type)
        return rule.label if rule and rule.label else hearing_type.replace("-", " ").capitalize()


@dataclass(frozen=True)
class Deadline:
    date: date | None
    rule: str  # how it was computed, in words


def read_filing_rules(config_dir: Path) -> FilingRules:
    root = TomlTable.load(config_dir, FILING_RULES_FILE)
    counting = root.table("counting", {})
    hearing = root.table("hearing")
    hearings: dict[str, HearingRule] = {}
    for key in hearing.data:
        row = hearing.table(key)
        hearings[key] = HearingRule(days_before=row.nonneg("days_before"), label=row.get("label", str, ""))
    for kind in HearingType:
        if kind.value not in hearings:
            raise hearing.fail(kind.value, "is missing (every hearing type needs a rule)")
    return FilingRules(
        hearings=hearings,
        holiday_calendar=counting.get("holiday_calendar", str, DEFAULT_CALENDAR),
        detained_court_sets=root.table("detained", {}).get("court_sets", bool, True),
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
        return Deadline(None, "detained: the court sets the filing date (record it with --filing-deadline)")
    hearing_rule = rules.hearings.get(str(HearingType(hearing_type)))
    if hearing_rule is None:
        raise ValidationError(f"No filing rule for hearing type {hearing_type!r} in {FILING_RULES_FILE}.")
    days = hearing_rule.days_before
    raw = hearing_date - timedelta(days=days)
    due = roll_to_business_day(raw, rules.holiday_calendar)
    rule = f"{days} days before the hearing"
    if due != raw:
        rule += f" ({raw.isoformat()} is a weekend or holiday; moved to the next business day)"
    return Deadline(due, rule)
