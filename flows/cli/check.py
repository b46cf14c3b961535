"""`casefile check`: the home's health (stored objects against their SHA-256, interrupted batches, unfinished packet
builds, leftovers of killed runs, missing programs), and `--repair`."""

from __future__ import annotations

import sys
from typing import Any

import click

from ...tasks.core.errors import ExitCode
from .output import emit, json_option, runtime


def print_health(doc: dict[str, Any]) -> None:
    checked = doc["checked"]
    click.echo(
        f"Checked {checked.get('documents', 0)} document(s) ({checked.get('document_objects', 0)} stored objects, "
        f"each against its SHA-256), {checked.get('open_batches', 0)} open intake batch(es), "
        f"{checked.get('packet_builds', 0)} packet build(s) in {doc['store']}."
    )
    for p in doc["problems"]:
        if p["repaired"]:
            state = "REPAIRED"
        elif p["serious"]:
            state = "ERROR"
        else:
            state = "NOTE" if p["code"].startswith("unreferenced") else "FIX"
        click.echo(f"  [{state:8}] {p['area']:9} {p['code']:24} {p['message']}")
    counts = doc["counts"]
    if doc["ok"]:
        click.echo(f"OK: {counts['repaired']} problem(s) repaired." if counts["repaired"] else "OK: nothing to fix.")
    else:
        hint = "" if doc["repair"] else " Run `casefile check --repair` to fix what can be fixed."
        click.echo(f"{counts['open']} problem(s) need attention.{hint}")


@click.command("check")
@click.option("--repair", is_flag=True, help="Fix what can be fixed from what is stored (never deletes evidence).")
@click.option("--case", "case_id", default=None, help="Only this case's documents, batches and packets.")
@json_option
def check(repair: bool, case_id: str | None, as_json: bool) -> None:
    """Check the home: every document's stored objects against their SHA-256, intake batches left by killed runs,
    objects no document refers to, unfinished or damaged packet builds, work folders left by killed runs, and the
    programs casefile needs. Exit 0 when nothing needs attention (after repairs, with --repair), 5 when stored data
    is missing or damaged, 1 when something else is left to fix."""
    from ...tasks.health.doctor import check_home

    report = check_home(runtime(), repair=repair, case_id=case_id)
    doc = report.to_dict()
    emit(as_json, doc, lambda: print_health(doc))
    if report.ok:
        sys.exit(int(ExitCode.OK))
    serious = report.counts()["serious_open"]
    sys.exit(int(ExitCode.INTEGRITY if serious else ExitCode.FAILURE))
