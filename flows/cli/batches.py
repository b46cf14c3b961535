"""Running the ingest flow from the command line (`add`, `request receive`, the demo), with a progress bar."""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import Any

import click

from ...tasks.core.errors import ExitCode
from .output import runtime


def run_ingest(
    case_id: str, paths: list[Path], doc_type: str, show_progress: bool, *, follow_symlinks: bool = False
) -> dict[str, Any]:
    """Record an intake batch and run the ingest flow on it (importing Prefect only now); the batch's report."""
    from ...tasks.documents import intake, pipeline
    from ..prefect_env import configure_prefect

    rt = runtime()
    batch_id = pipeline.new_batch(rt, case_id, paths, doc_type, follow_symlinks=follow_symlinks)
    files = len(intake.pending_items(rt, batch_id))
    where = configure_prefect(rt.settings)
    click.echo(f"Ingesting {files} file(s) as batch {batch_id} ({where})...", err=True)

    from ..ingest import ingest_case

    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["counts"] = ingest_case(batch_id)
        except BaseException as exc:
            outcome["error"] = exc

    worker = threading.Thread(target=run, name="ingest-flow")
    worker.start()
    if show_progress:
        with click.progressbar(length=files, label="Ingesting", file=sys.stderr) as bar:
            seen = 0
            for done in intake.iter_progress(rt, batch_id):
                bar.update(done - seen)
                seen = done
                if not worker.is_alive():
                    break
                worker.join(0.25)
    worker.join()
    if "error" in outcome:
        raise outcome["error"]
    return intake.batch_report(rt, batch_id)


REPAIRS = {
    "original-restored": "its stored original was missing or damaged and was written again from this copy",
    "normalised-restored": "its stored PDF was missing or damaged and was made again",
    "normalised-remade": "its stored PDF was missing or damaged and was made again (new bytes, recorded)",
    "searchable-redone": "its searchable PDF was missing or damaged; its text is read again",
    "quarantine-lifted": "it was quarantined before; it passes every check now and is in the case",
    "quarantine-reason-updated": "it is still quarantined, for the reason below",
}


def print_batch(report: dict[str, Any]) -> None:
    marks = {
        "stored": "ok  ",
        "duplicate": "dup ",
        "repaired": "FIX ",
        "quarantined": "QUAR",
        "failed": "FAIL",
        "pending": "... ",
    }
    for it in report["items"]:
        line = f"  [{marks.get(it['outcome'], '?')}] {it['file']}"
        if it["document_id"]:
            line += f" -> {it['document_id']}"
        if it["outcome"] in ("duplicate", "repaired"):
            line += " (already in this case; not stored again)"
        click.echo(line)
        for code in it.get("repaired") or ():
            click.echo(f"         repaired: {REPAIRS.get(code, code)}")
        explained = it["outcome"] == "quarantined" or (it["outcome"] == "failed" and it["reason"] != "transient")
        if explained and it["message"]:  # transient failures are summed up in one message (not_taken_in)
            click.echo(f"         {it['message']}")
    if report.get("hidden_skipped"):
        click.echo(f"Skipped {report['hidden_skipped']} hidden file(s) or folder(s) (names starting with '.').")
    text = report["text"]
    click.echo(
        f"Text: {text['ocr_pages']} page(s) OCR'd, {text['text_layer_pages']} with their own text layer, "
        f"{text['failed_pages']} failed, {text['low_confidence_pages']} flagged low-confidence for a person to check."
    )
    counts = ", ".join(f"{v} {k}" for k, v in report["counts"].items())
    click.echo(f"Batch {report['batch_id']} for case {report['case_id']}: {counts}. Objects in {report['store']}.")


def not_taken_in(report: dict[str, Any]) -> str | None:
    """One message for the files the machine or the store kept out (disk full, store unreachable), or None."""
    failed = [it for it in report["items"] if it["outcome"] == "failed" and it["reason"] == "transient"]
    if not failed:
        return None
    first = str(failed[0]["message"] or "a temporary failure").split(" This file was not tried")[0]
    kept = report["counts"].get("stored", 0) + report["counts"].get("duplicate", 0)
    return (
        f"{len(failed)} file(s) were not taken in: {first} Run the same command again once that is fixed: the "
        f"{kept} file(s) already in the case are kept, and the rest are taken in."
    )


def batch_exit_code(report: dict[str, Any]) -> int:
    """75 when a file could not be taken in because of the machine or the store (run again), 1 for a bug, 4 when a
    file was quarantined (also one the case already had: a re-run never hides it), else 0."""
    counts = report["counts"]
    failed = [it for it in report["items"] if it["outcome"] in ("failed", "pending")]
    if any(it["outcome"] == "pending" or it["reason"] == "transient" for it in failed):
        return int(ExitCode.TRANSIENT)
    if failed:
        return int(ExitCode.FAILURE)
    if counts.get("quarantined"):
        return int(ExitCode.INPUT_REJECTED)
    return int(ExitCode.OK)
