"""A packet build started from the staff page: its options, checked before any flow run starts.

The page offers the filing profile, whether missing translations are allowed, the DHS office served (with its
address) and the date of service; the rest are the flow's defaults (the case's advocate files and signs). ``prepare``
runs the same preflight as `casefile packet build` (case, profile, exhibit list, languages, translations, the
practice's values, the DHS office, signatures), so that a refusal is shown on the page at once, with its typed
message, and no job is created.

The demo's fictional case: while the home has no practice of its own (the packaged fictional sample is read), the
demo's own fictional case (its client and A-number exactly) is built for the fictional practice on purpose, as
`casefile demo` builds it; every other case is refused with the message that says to run `casefile practice init`.
A real client never has the demo's name and A-number, and a home with a practice of its own never files for the
sample.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..core.calendar import parse_date

if TYPE_CHECKING:
    from ..core.runtime import Runtime
    from ..packets.build import BuildOptions


@dataclass(frozen=True)
class PageBuild:
    """What the page asks for, as typed."""

    profile: str = "eoir"
    allow_missing_translations: bool = False
    service_office: str = ""
    service_address: str = ""  # one line per line
    service_date: str = ""  # ISO date, empty: today


def is_demo_case(rt: Runtime, case_id: str) -> bool:
    """Whether the case is the demo's fictional case, read while the home has no practice of its own."""
    from ..cases.sample import is_sample_case
    from ..core.practice import practice_source

    _path, sample = practice_source(rt.settings)
    if not sample:
        return False
    with rt.catalog.session() as session:
        case = rt.catalog.get_case(session, case_id)
        return is_sample_case(case.client_name, case.a_number)


def prepare(rt: Runtime, case_id: str, asked: PageBuild) -> tuple[str, BuildOptions]:
    """The case's id as stored and the build's options, once the preflight passed (its typed errors raise)."""
    from ..packets.build import BuildOptions, preflight

    served = asked.service_date.strip()
    address = tuple(line.strip() for line in asked.service_address.splitlines() if line.strip())
    options = BuildOptions(
        profile=asked.profile,
        allow_missing_translations=asked.allow_missing_translations,
        service_office=asked.service_office.strip() or None,
        service_address=address,
        service_date=parse_date(served, "date of service") if served else None,
        fictional_practice=is_demo_case(rt, case_id),
    )
    real_id = preflight(rt, case_id, options).case_id
    return real_id, options


def flow_parameters(case_id: str, options: BuildOptions) -> dict[str, Any]:
    """The build flow's parameters for these options: ids, the profile and the options the page sets (the office
    served is the practice's, not a client's); only those that differ from the flow's defaults."""
    params: dict[str, Any] = {
        "case_id": case_id,
        "profile": options.profile,
        "allow_missing_translations": options.allow_missing_translations,
    }
    extra: dict[str, Any] = {
        "service_office": options.service_office,
        "service_address": list(options.service_address),
        "service_date": options.service_date.isoformat() if options.service_date else None,
        "fictional_practice": options.fictional_practice,
    }
    params.update({k: v for k, v in extra.items() if v})
    return params
