"""`casefile case new|show|list`."""

from __future__ import annotations

from typing import Any

import click

from ...tasks.cases.rules import HearingType, UscisRole
from .output import emit, json_option, runtime

USCIS_ROLES = [r.value for r in UscisRole]


@click.group()
def case() -> None:
    """Create, show and list cases."""


@case.command("new")
@click.option("--client", required=True, help="Client's full name.")
@click.option("--a-number", "a_number", required=True, help="Alien registration number, 8 or 9 digits.")
@click.option("--court", required=True, help='Immigration court, e.g. "New York, NY (Broadway)".')
@click.option("--hearing", required=True, help="Hearing date, YYYY-MM-DD.")
@click.option("--hearing-type", required=True, type=click.Choice([t.value for t in HearingType], case_sensitive=False))
@click.option("--detained", is_flag=True, help="The client is detained (the court sets the filing date).")
@click.option("--judge", default=None, help="Immigration judge, if known.")
@click.option("--filing-deadline", default=None, help="A date set by the court (wins over the rules).")
@click.option("--hearing-time", default=None, help="Time of the hearing, e.g. 09:00 or 1:30 PM (on the cover page).")
@click.option("--advocate", default=None, help="Person key (config/practice.toml): files, signs and sends requests.")
@click.option("--uscis-role", type=click.Choice(USCIS_ROLES), default=None, help="The client's part in USCIS filings.")
@click.option("--receipt-number", default=None, help="USCIS receipt number, e.g. IOE0912345678.")
@json_option
def case_new(
    client: str,
    a_number: str,
    court: str,
    hearing: str,
    hearing_type: str,
    detained: bool,
    judge: str | None,
    filing_deadline: str | None,
    hearing_time: str | None,
    advocate: str | None,
    uscis_role: str | None,
    receipt_number: str | None,
    as_json: bool,
) -> None:
    """Create a case and print its id."""
    from ...tasks.cases.case import open_case, validate_new_case

    new = validate_new_case(
        client=client,
        a_number=a_number,
        court=court,
        hearing=hearing,
        hearing_type=hearing_type,
        detained=detained,
        judge=judge,
        filing_deadline=filing_deadline,
        hearing_time=hearing_time,
        advocate=advocate,
        uscis_role=uscis_role,
        receipt_number=receipt_number,
    )
    summary = open_case(runtime(creates=True), new)
    emit(
        as_json,
        summary,
        lambda: click.echo(f"Created case {summary['id']} (filing deadline {summary['filing_deadline_shown']})"),
    )


@case.command("set")
@click.argument("case_id")
@click.option("--filing-deadline", default=None, help="The filing date the court set, YYYY-MM-DD.")
@click.option("--no-filing-deadline", is_flag=True, help="Forget the court's date (back to the rules).")
@click.option("--hearing-time", default=None, help="Time of the hearing, e.g. 09:00 or 1:30 PM.")
@click.option("--advocate", default=None, help="Person key (config/practice.toml).")
@click.option("--uscis-role", type=click.Choice(USCIS_ROLES), default=None, help="The client's part in USCIS filings.")
@click.option("--receipt-number", default=None, help="USCIS receipt number, e.g. IOE0912345678.")
@json_option
def case_set(
    case_id: str,
    filing_deadline: str | None,
    no_filing_deadline: bool,
    hearing_time: str | None,
    advocate: str | None,
    uscis_role: str | None,
    receipt_number: str | None,
    as_json: bool,
) -> None:
    """Change a case: the court-set filing date, hearing time, advocate, USCIS role or receipt number."""
    from ...tasks.cases.case import CaseChanges, normalise_receipt_number, parse_uscis_role, update_case
    from ...tasks.core.calendar import parse_date, parse_time

    changes = CaseChanges(
        filing_deadline=parse_date(filing_deadline, "filing deadline") if filing_deadline else None,
        clear_filing_deadline=no_filing_deadline,
        hearing_time=parse_time(hearing_time, "hearing time") if hearing_time else None,
        advocate=advocate,
        uscis_role=parse_uscis_role(uscis_role) if uscis_role else None,
        receipt_number=normalise_receipt_number(receipt_number) if receipt_number else None,
    )
    summary = update_case(runtime(), case_id, changes)
    emit(
        as_json,
        summary,
        lambda: click.echo(
            f"Case {summary['id']}: filing deadline {summary['filing_deadline_shown']} "
            f"[{summary['filing_deadline_rule']}]"
        ),
    )


def print_case(s: dict[str, Any]) -> None:
    from .documents import print_docs

    click.echo(f"Case {s['id']}  {s['client']}  {s['a_number']}")
    click.echo(f"  Court: {s['court']}" + (f"  Judge: {s['judge']}" if s["judge"] else ""))
    at = f" at {s['hearing_time']}" if s.get("hearing_time") else ""
    click.echo(f"  Hearing: {s['hearing_date']}{at} ({s['hearing_type']}{', detained' if s['detained'] else ''})")
    click.echo(f"  Filing deadline: {s['filing_deadline_shown']}  [{s['filing_deadline_rule']}]")
    if s.get("records_needed_by"):
        click.echo(
            f"  Records needed by: {s['records_needed_by']} (leaves {s['risk_margin_business_days']} business days "
            "to translate and assemble)"
        )
    d = s["documents"]
    click.echo(f"  Documents: {d['total']} ({d['ready']} ready, {d['quarantined']} quarantined), {d['pages']} pages")
    print_docs(s["document_list"])


@case.command("show")
@click.argument("case_id")
@json_option
def case_show(case_id: str, as_json: bool) -> None:
    """A case: its details, filing deadline and documents."""
    from ...tasks.cases.case import show_case
    from ...tasks.packets.readiness import readiness
    from ...tasks.requests.scheduled import problems

    rt = runtime()
    summary = show_case(rt, case_id)
    summary["scheduled_problems"] = problems(rt)  # a failed overdue check or inbox poll concerns every case
    summary["readiness"] = readiness(rt, summary["id"])

    def human() -> None:
        print_case(summary)
        for alert in summary["scheduled_problems"]:
            click.echo(f"WARNING: {alert['line']}")
        print_readiness(summary["id"], summary["readiness"])

    emit(as_json, summary, human)


@case.command("list")
@json_option
def case_list(as_json: bool) -> None:
    """All cases."""
    from ...tasks.cases.case import list_cases

    rows = list_cases(runtime())

    def human() -> None:
        for r in rows:
            click.echo(
                f"{r['id']}  {r['hearing_date']} {r['hearing_type']:<10} deadline "
                f"{r['filing_deadline_shown']:<10}  docs {r['documents']['total']:>3}  {r['client']}"
            )
        if not rows:
            click.echo("No cases yet. Create one with `casefile case new`.")

    emit(as_json, rows, human)


def print_readiness(case_id: str, r: dict[str, Any]) -> None:
    """The readiness summary: what stands between the case and a filing, each with the command that fixes it."""
    days = r["days_to_deadline"]
    when = (
        f"{days} day(s) to the filing deadline ({r['filing_deadline']})"
        if days is not None and days >= 0
        else f"the filing deadline ({r['filing_deadline']}) passed {-days} day(s) ago"
        if days is not None
        else r["filing_deadline_shown"]
    )
    click.echo(f"Readiness for filing: {'READY' if r['ready'] else 'NOT READY'}; {when}")
    if not r["exhibits"]:
        click.echo(f"  no exhibit list yet: casefile exhibits plan {case_id} -o plan.yaml, then exhibits set")
    for e in r["exhibits_without_translation"]:
        click.echo(f"  exhibit {e['label']} ({e['document']}, {e['language']}): no English translation")
    for e in r["exhibits_language_undecided"]:
        click.echo(f"  exhibit {e['label']} ({e['document']}): language unknown; set it in the plan")
    for what in r["unsigned_certificates"]:
        click.echo(f"  unsigned: {what}")
    if r["documents_not_on_exhibit_list"]:
        click.echo(f"  not on the exhibit list: {', '.join(r['documents_not_on_exhibit_list'])}")
    for q in r["requests_waiting"]:
        risk = " AT RISK" if q["risk"] == "at-risk" else " risk unknown" if q["risk"] == "unknown" else ""
        click.echo(f"  records requested, not received: {q['id']} ({q['status']}, expected {q['expected_on'] or '-'})"
                   f"{risk}")  # fmt: skip
    for line in r["practice_placeholders"]:
        click.echo(f"  practice placeholder: {line}")
    for line in r["practice_problems"]:
        click.echo(f"  practice: {line}")
    if r["dhs_office"] is None:
        click.echo('  no DHS office for this court: casefile practice dhs-office "COURT" --office ... --address ...')
    for flag in r["identity_checks"]:
        click.echo(f"  CONFIRM: {flag['message']}")
    last = r["last_build"]
    if last is None:
        click.echo(f"  no packet built yet: casefile packet build {case_id}")
    elif last["current"]:
        click.echo(f"  last build {last['build_id']} ({last['profile']}, {last['created_at']}): current")
    else:
        click.echo(
            f"  last build {last['build_id']} ({last['profile']}, {last['created_at']}): OUT OF DATE "
            f"({'; '.join(last['why_not_current'])}): build again"
        )
