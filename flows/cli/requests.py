"""`casefile request ...`: send record requests, track them, and link what comes back.

A thin adapter: each command parses its options, calls one or two functions of tasks/requests (``sending``,
``tracking``, ``receiving``, ``inbox``) and prints what they return. Only `request receive` runs a flow (the
per-case ingest flow, as `casefile add`); the other commands never import Prefect. Every command takes --json and
then prints exactly one JSON document. The choices of --status and --channel come from the enums of
tasks/requests/status.py and config.py (light modules: `casefile --help` stays fast).
"""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import Any

import click

from ...tasks.core.errors import ExitCode
from ...tasks.requests.config import Channel
from ...tasks.requests.status import TARGET_STATUSES
from .output import emit, json_option, runtime

STATUS_CHOICES = [s.value for s in TARGET_STATUSES]
CHANNEL_CHOICES = [c.value for c in Channel]


def _date(raw: str | None, what: str) -> date | None:
    from ...tasks.core.calendar import parse_date

    return parse_date(raw, what) if raw else None


RISK_FLAGS = {"at-risk": " AT RISK", "unknown": " RISK UNKNOWN (filing date not set: ask the court)"}


def _line(r: dict[str, Any]) -> str:
    due = r["effective_due_on"] or "-"
    expected = f" expected {r['expected_on']}" if r.get("expected_on") and r["expected_on"] != due else ""
    flags = RISK_FLAGS.get(r.get("risk") or "", "") + (
        f" (follow-up {r['escalation_step']})" if r["escalation_step"] else ""
    )
    return (
        f"{r['id']}  {r['case_id']}  {r['type']:<17} {r['status']:<19} due {due:<10}{expected}{flags}  "
        f"{r['provider']} via {r['channel']}"
    )


def _dates(r: dict[str, Any]) -> str:
    """Sent, assumed receipt, due (what is due, and whether the law sets it), expected, extended: in one line."""
    what = "determination due" if r.get("due_kind") == "determination" else "due"
    basis = " (by law)" if r.get("due_basis") == "law" else " (requested)" if r.get("due_basis") else ""
    parts = [f"Sent {r['sent_on'] or '-'}", f"received by the holder {r.get('assumed_receipt_on') or '-'} (assumed)"]
    if r.get("routed_on"):
        parts.append(f"routed {r['routed_on']}")
    parts.append(f"{what} {r['due_on'] or '-'}{basis}")
    if r["extended_due_on"]:
        parts.append(f"extended to {r['extended_due_on']}")
    if r.get("expected_on") and r["expected_on"] != r["effective_due_on"]:
        parts.append(f"records expected {r['expected_on']} (estimate)")
    return ", ".join(parts)


@click.group("request")
def request() -> None:
    """Record requests: send, list, show, receive, update; the inbox of unmatched files."""


@request.command("new")
@click.argument("case_id")
@click.option("--type", "record_type", required=True, help="Record type (config/record_types.toml), e.g. medical.")
@click.option("--provider", required=True, help="Provider key (config/providers.toml).")
@click.option("--records", default="", help='What is requested, e.g. "ER visit 2024-05".')
@click.option("--channel", type=click.Choice(CHANNEL_CHOICES), default=None,
              help="How it is sent (default: the provider's).")  # fmt: skip
@click.option("--sent", "sent", default=None, help="Already sent by hand on this date (YYYY-MM-DD): record only.")
@click.option(
    "--advocate", default=None, help="Person key (config/practice.toml); default: the case's advocate, else the first."
)
@click.option("--subject", default=None, help="Whose records, when not the client's (a child): their full name.")
@click.option(
    "--relationship", default=None, help='With --subject: the client\'s relationship to them: mother, "legal guardian".'
)
@json_option
def request_new(
    case_id: str,
    record_type: str,
    provider: str,
    records: str,
    channel: str | None,
    sent: str | None,
    advocate: str | None,
    subject: str | None,
    relationship: str | None,
    as_json: bool,
) -> None:
    """Create a request: render the letter and forms into the case, send it by e-mail (channel email), record
    sent and due dates, and print its reference code."""
    from ...tasks.requests.sending import new_request

    sent_on = _date(sent, "sent date")
    summary = new_request(
        runtime(),
        case_id=case_id,
        record_type=record_type,
        provider=provider,
        records=records,
        channel=channel,
        sent_on=sent_on,
        advocate=advocate,
        subject_name=subject,
        subject_relationship=relationship,
    )

    def human() -> None:
        click.echo(summary["id"])
        if summary["status"] == "draft":
            click.echo(
                f"Letter and forms are in the case ({', '.join(summary['documents'])}). Send them by "
                f"{summary['channel']}, then run: casefile request send {summary['id']} --on YYYY-MM-DD",
                err=True,
            )
        else:
            how = "e-mailed" if summary["mailed"] else "recorded as sent"
            click.echo(f"{how}. {_dates(summary)}.", err=True)
            if summary.get("risk") in RISK_FLAGS:
                click.echo(f"{RISK_FLAGS[summary['risk']].strip()}: {summary['risk_reason']}.", err=True)
        if summary.get("not_sent"):
            click.echo(summary["not_sent"], err=True)
        for warning in summary.get("warnings", []):
            click.echo(f"Note: {warning}", err=True)

    emit(as_json, summary, human)


@request.command("send")
@click.argument("ref")
@click.option("--on", "on", default=None, help="Sent by hand (mail, fax, portal) on this date; default: e-mail now.")
@json_option
def request_send(ref: str, on: str | None, as_json: bool) -> None:
    """Send a draft request by e-mail, or record that it was sent by hand."""
    from ...tasks.requests.sending import send_draft

    summary = send_draft(runtime(), ref, on=_date(on, "sent date"))
    emit(as_json, summary, lambda: click.echo(_line(summary)))


@request.command("list")
@click.option("--case", "case_id", default=None, help="Only this case.")
@click.option("--overdue", is_flag=True, help="Only requests past their due date.")
@click.option("--due-within", "due_within", type=click.IntRange(0, 3650), default=None, help="Due within N days.")
@click.option(
    "--at-risk", "at_risk", is_flag=True, help="Only requests whose records may come too late, or of unknown risk."
)
@json_option
def request_list(case_id: str | None, overdue: bool, due_within: int | None, at_risk: bool, as_json: bool) -> None:
    """Requests, soonest due first."""
    from ...tasks.requests.scheduled import problems
    from ...tasks.requests.tracking import list_request_rows

    rt = runtime()
    rows = list_request_rows(rt, case_id=case_id, overdue=overdue, due_within=due_within, at_risk=at_risk)
    alerts = problems(rt)

    def human() -> None:
        for r in rows:
            click.echo(_line(r))
        if not rows:
            click.echo("No record requests match.")
        for alert in alerts:
            click.echo(f"WARNING: {alert['line']}")

    emit(as_json, rows, human)
    if as_json:  # the document stays the list of requests; the warning goes with the messages
        for alert in alerts:
            click.echo(f"WARNING: {alert['line']}", err=True)


def _print_chase(doc: dict[str, Any]) -> None:
    if doc.get("dry_run"):
        click.echo(f"Overdue check for {doc['today']}: DRY RUN, nothing was changed or sent ({doc['reason']}).")
        for what, ids in doc["would"].items():
            click.echo(f"  would {what.replace('_', ' ')}: {', '.join(ids) if ids else '-'}")
        return
    click.echo(f"Overdue check for {doc['today']}:")
    for what, count in doc["counts"].items():
        click.echo(f"  {what.replace('_', ' ')}: {count}")
    if doc["failed"]:
        click.echo(f"  left for the next run (mail server): {', '.join(doc['failed'])}")


@request.command("chase")
@click.option("--date", "on", default=None, help="Check as of this day (YYYY-MM-DD): a dry run unless --confirm.")
@click.option("--confirm", is_flag=True, help="With --date: really run the check as of that day (sends e-mails).")
@click.option("--dry-run", "dry_run", is_flag=True, help="Show what the check would do; change and send nothing.")
@json_option
def request_chase(on: str | None, confirm: bool, dry_run: bool, as_json: bool) -> None:
    """Run the overdue check now (`casefile serve` runs it on its schedule): mark overdue requests, send the
    follow-ups and escalations due, one digest per advocate. Another day than today is a dry run unless --confirm."""
    from ...tasks.requests import chase

    rt = runtime()
    when = chase.decide_day(on, confirm=confirm, timezone=rt.settings.chase_timezone, dry_run=dry_run)
    if when.dry_run:
        doc = {**chase.preview_chase(rt, when.day).as_dict(), "reason": when.reason}
        emit(as_json, doc, lambda: _print_chase(doc))
        return
    summary = chase.run_chase_now(rt, when.day)
    doc = {
        "dry_run": False,
        "today": when.day.isoformat(),
        "counts": summary.counts(),
        "overdue_marked": summary.overdue_marked,
        "followups_emailed": summary.followups_emailed,
        "letters_to_post": summary.letters_to_post,
        "escalated": summary.escalated,
        "rejected": summary.rejected,
        "failed": summary.failed,
    }
    emit(as_json, doc, lambda: _print_chase(doc))
    if summary.failed:
        sys.exit(int(ExitCode.TRANSIENT))


@request.command("show")
@click.argument("ref")
@json_option
def request_show(ref: str, as_json: bool) -> None:
    """One request with its history of events."""
    from ...tasks.requests.tracking import show_request

    summary = show_request(runtime(), ref)

    def human() -> None:
        click.echo(_line(summary))
        click.echo(f"  {summary['type_label']} from {summary['provider_name']}; advocate {summary['advocate']}")
        if summary["records"]:
            click.echo(f"  Records: {summary['records']}")
        if summary.get("subject"):
            click.echo(f"  Records of {summary['subject']} (the client is their {summary['subject_relationship']})")
        click.echo(f"  {_dates(summary)}")
        click.echo(f"  Case filing deadline: {summary['filing_deadline_shown'] or '-'}")
        if summary.get("risk"):
            click.echo(f"  Risk: {summary['risk']} ({summary['risk_reason']})")
        if summary.get("at_risk_if_extended"):
            click.echo(f"  AT RISK IF EXTENDED: {summary['if_extended']['reason']}")
        elif summary.get("if_extended"):
            click.echo(f"  If extended: {summary['if_extended']['reason']}")
        if summary.get("sending"):
            click.echo(f"  {summary['sending']['line']}")
        for e in summary["events"]:
            change = f"{e['from'] or ''} -> {e['to']}" if e["to"] else ""
            doc = f" [{e['document_id']}]" if e["document_id"] else ""
            click.echo(f"  {e['at']}  {e['actor']:<10} {e['kind']:<10} {change}{doc} {e['note'] or ''}".rstrip())
        click.echo(f"  Next: {', '.join(summary['allowed_next']) or 'nothing (final)'}")

    emit(as_json, summary, human)


@request.command("receive")
@click.argument("ref")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--partial", is_flag=True, help="Only part of the records came; the request stays open.")
@json_option
def request_receive(ref: str, paths: tuple[Path, ...], partial: bool, as_json: bool) -> None:
    """Ingest the answer (the per-case ingest flow, as `casefile add`) and link it to the request."""
    from ...tasks.requests.receiving import check_receivable, receive_batch
    from .batches import batch_exit_code, run_ingest

    rt = runtime()
    target = check_receivable(rt, ref, partial=partial)
    report = run_ingest(
        target.case_id, list(paths), target.document_type, show_progress=sys.stderr.isatty() and not as_json
    )
    summary = receive_batch(rt, target.request_id, report["batch_id"], partial=partial)
    summary["ingest"] = report
    request_id, linked = target.request_id, summary["linked_documents"]

    def human() -> None:
        click.echo(f"{request_id}: {len(linked)} document(s) linked ({', '.join(linked)}); now {summary['status']}.")

    emit(as_json, summary, human)
    sys.exit(batch_exit_code(report))


@request.command("update")
@click.argument("ref")
@click.option("--status", type=click.Choice(STATUS_CHOICES), default=None, help="The new status.")
@click.option("--note", default=None, help="A note for the history (e.g. who you spoke to).")
@click.option("--due", default=None, help="With --status extended: the holder's own new due date.")
@click.option("--routed-on", "routed_on", default=None, help="FOIA: the day the request reached the right component.")
@json_option
def request_update(
    ref: str, status: str | None, note: str | None, due: str | None, routed_on: str | None, as_json: bool
) -> None:
    """Change a request's status (validated), record a FOIA routing, and/or add a note to its history."""
    from ...tasks.requests.tracking import update_request

    summary = update_request(
        runtime(),
        ref,
        status=status,
        note=note,
        due=_date(due, "due date"),
        routed_on=_date(routed_on, "routing date"),
    )
    emit(as_json, summary, lambda: click.echo(_line(summary)))


@request.command("inbox")
@click.argument("case_id")
@json_option
def request_inbox(case_id: str, as_json: bool) -> None:
    """Files that arrived for a case and matched no request: assign them with `request assign`."""
    from ...tasks.requests.receiving import inbox_rows

    inbox = inbox_rows(runtime(), case_id)
    rows = inbox["items"]

    def human() -> None:
        for r in rows:
            click.echo(f"  {r['document_id']}  {r['pages']:>3} p  {r['source']:<6} {r['arrived_at']}  {r['name']}")
        if not rows:
            click.echo("The inbox is empty.")

    emit(as_json, inbox, human)


@request.command("assign")
@click.argument("doc_id")
@click.argument("ref")
@click.option("--partial", is_flag=True, help="Only part of the records; the request stays open.")
@json_option
def request_assign(doc_id: str, ref: str, partial: bool, as_json: bool) -> None:
    """Link a document waiting in the inbox to a request."""
    from ...tasks.requests.receiving import assign_document

    summary = assign_document(runtime(), doc_id, ref, complete=not partial)
    emit(as_json, summary, lambda: click.echo(_line(summary)))


@request.command("poll")
@click.option("--case", "case_ids", multiple=True, help="Only this case (repeatable).")
@json_option
def request_poll(case_ids: tuple[str, ...], as_json: bool) -> None:
    """Take in the files waiting in $CASEFILE_HOME/inbox/<CASE-ID>/ now (the scheduled poll does the same)."""
    from ...tasks.requests.inbox import poll_inbox

    doc = poll_inbox(runtime(), case_ids=list(case_ids) or None).as_dict()
    emit(
        as_json,
        doc,
        lambda: click.echo(
            f"{doc['files']} file(s): {doc['linked']} linked to requests, {doc['inbox']} left in the inbox, "
            f"{doc['skipped']} already done."
        ),
    )
