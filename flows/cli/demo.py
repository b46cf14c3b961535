"""`casefile demo`: the main job on fictional data, from a new case to a checked EOIR packet."""

from __future__ import annotations

import sys
from dataclasses import replace
from typing import Any

import click

from .batches import batch_exit_code, print_batch, run_ingest
from .documents import print_docs, print_hits
from .output import emit, json_option, runtime


def print_requests(doc: dict[str, Any]) -> None:
    click.echo(
        f"\nRecord requests ({len(doc['mail']['messages'])} e-mails to a loopback SMTP server, kept in "
        f"{doc['mail']['folder']}):"
    )
    for r in doc["requests"]:
        click.echo(
            f"  {r['id']}  {r['type']:14} {r['status']:19} sent {r['sent_on'] or '-':10}  due "
            f"{r['effective_due_on'] or '-':10}  {(r['risk'] or '-').upper()}"
            + (f": {r['risk_reason']}" if r["risk"] and r["risk"] != "safe" else "")
        )
    received = doc["received"]
    click.echo(f"  inbox: {received['files']} file(s) arrived, {received['linked']} matched to a request by its code")
    click.echo(f"  overdue check: {doc['chase']}")
    click.echo(f"  overdue now: {', '.join(doc['overdue']) or 'none'}   (casefile request list --overdue)")


@click.command("demo")
@json_option
def demo(as_json: bool) -> None:
    """The main job on fictional data: a case, its documents (OCR, search), record requests, the EOIR packet.

    Creates a fictional case, ingests the sample documents through a real flow run, searches them, sends record
    requests to a loopback SMTP server and receives an answer, adds a fictional country-conditions library and
    bundles the passages proposed for the case, then builds the case's exhibit packet, with the bundle."""
    from ...tasks.cases.case import open_case, show_case
    from ...tasks.conditions.selection import store_selection
    from ...tasks.demo.scenario import (
        SAMPLES,
        demo_admin,
        demo_build_options,
        demo_conditions,
        demo_exhibits,
        demo_late_evidence,
        demo_requests,
        fictional_case,
        use_fictional_practice,
    )
    from ...tasks.packets.manifest import build_location
    from ...tasks.search.lookup import search_pages
    from .conditions import print_bundle, run_bundle_flow
    from .packets import print_build, run_packet_flow

    use_fictional_practice()  # before the runtime: its settings (and the flows') read the practice from there
    rt = runtime(creates=True)
    case_id = open_case(rt, fictional_case())["id"]
    fictional = (
        "The demo files for a FICTIONAL practice on purpose (the packaged sample: Example Immigrant Defense Project, "
        "its attorneys' EOIR IDs EXAMPLE0/EXAMPLE1); a real packet refuses such values. Set your practice's own "
        "details with `casefile practice init`."
    )
    if not as_json:
        click.echo(fictional)
        click.echo(f"Demo case {case_id} created for a fictional client; adding {SAMPLES}")
    report = run_ingest(case_id, [SAMPLES], "unclassified", show_progress=sys.stderr.isatty() and not as_json)
    summary = show_case(rt, case_id)
    query = '"amenaza de muerte"'
    hits = search_pages(rt, query, case_id=case_id, limit=5)
    requests = demo_requests(rt, case_id)
    exhibit_rows = demo_exhibits(rt, case_id)
    conditions = demo_conditions(rt, case_id)
    selection = store_selection(rt, case_id, conditions.pop("selection_text"))
    bundle = run_bundle_flow(case_id, conditions["country"], conditions["topics"], selection)
    built = run_packet_flow(case_id, demo_build_options())
    location = build_location(rt, case_id, built["build_id"])
    demo_late_evidence(rt, case_id)  # evidence that came after the filing: a supplemental packet continues the first
    supplement = run_packet_flow(case_id, replace(demo_build_options(), continue_from=built["build_id"]))
    web = {**demo_admin(rt), "url": "http://127.0.0.1:8080/", "command": "casefile web"}
    result = {
        "case": summary,
        "ingest": report,
        "search": {"query": query, "hits": hits},
        "requests": requests,
        "exhibits": exhibit_rows,
        "conditions": {**conditions, "bundle": bundle},
        "packet": {**built, "location": location},
        "supplemental": supplement,
        "web": web,
        "home": str(rt.settings.home),
        "practice": {"fictional": True, "note": fictional},
    }

    def human() -> None:
        print_batch(report)
        click.echo("")
        click.echo(
            f"Case {case_id}: filing deadline {summary['filing_deadline_shown']} ({summary['filing_deadline_rule']});"
            f" records needed by {summary['records_needed_by']} ({summary['risk_margin_business_days']} business "
            "days to translate and assemble)"
        )
        print_docs(summary["document_list"])
        click.echo(f"\nSearch across the case, accents and case ignored: casefile search {query} --case {case_id}")
        print_hits(hits)
        print_requests(requests)
        click.echo("\nExhibit list (English translations linked behind each Spanish document):")
        for row in exhibit_rows:
            note = f" + translation {row['translation']}" if row["translation"] else ""
            click.echo(f"  {row['label']}  {row['document']}  {row['language']}  {row['title']}{note}")
        lib = conditions["library"]
        click.echo(
            f"\nCountry-conditions library (fictional country {conditions['country']}): "
            f"{sum(r['outcome'] == 'added' for r in lib)} report(s) added, {len(lib)} in its folder, one scanned and "
            "OCR'd, one a saved web page archived as PDF"
        )
        click.echo(
            "  the 2024 State Department edition drops what the 2023 one says on: "
            f"{', '.join(conditions['dropped_by_newer_edition'])}   (casefile conditions compare)"
        )
        proposed = conditions["proposal"]
        click.echo(
            f"  proposed for the case: {proposed['passages']} passage(s) from {proposed['sources']} source(s); the "
            f"selection, with the 2023 edition kept and its reason, is {conditions['selection_file']}"
        )
        print_bundle(bundle)
        click.echo("")
        print_build(built)
        click.echo(f"EOIR packet stored at {location}")
        click.echo(f"  {fictional}")
        click.echo(f"  download it: casefile packet get {case_id} -o packet/")
        click.echo(
            "\nA letter arrived after the filing; a supplemental filing continues the first packet's letters and pages:"
        )
        print_build(supplement)
        click.echo(f"  (casefile packet build {case_id} --continue-from {built['build_id']})")
        click.echo(f"\nEverything is under {rt.settings.home}. Try: casefile case show {case_id}")
        click.echo("\nThe staff page: run `casefile web` (in this folder), then open " + web["url"])
        click.echo(f"  sign in as {web['user']} (a fictional admin) with the password {web['password']}")
        click.echo(f"  search for the client's name or {case_id}, open the case, download the packet.")

    emit(as_json, result, human)
    sys.exit(batch_exit_code(report))
