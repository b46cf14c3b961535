"""The `casefile` command line.

Commands that run no flow never import Prefect (it costs seconds). Every command that creates, shows
or lists takes --json and then prints exactly one JSON document on stdout; messages go to stderr.
"""

from __future__ import annotations

import gc
import json
import sys
import threading
from pathlib import Path
from typing import Any

import click

from casefile.flows.cli.output import CasefileGroup, _runtime, emit, fail, json_option  # noqa: F401
from casefile.tasks.core.errors import ExitCode


@click.group(cls=CasefileGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="casefile")
def main() -> None:
    """casefile: build immigration case files from records, into court-ready exhibit packets.

    Data lives under $CASEFILE_HOME (default ./.casefile): the catalog, the object store and Prefect's
    state. Run `casefile demo` for a tour on fictional data.
    """


# Cases -------------------------------------------------------------------------------------------
@main.group()
def case() -> None:
    """Create, show and list cases."""


@case.command("new")
@click.option("--client", required=True, help="Client's full name.")
@click.option("--a-number", "a_number", required=True, help="Alien registration number, 8 or 9 digits.")
@click.option("--court", required=True, help='Immigration court, e.g. "New York, NY (Broadway)".')
@click.option("--hearing", required=True, help="Hearing date, YYYY-MM-DD.")
@click.option("--hearing-type", required=True, type=click.Choice(["individual", "master"], case_sensitive=False))
@click.option("--detained", is_flag=True, help="The client is detained (the court sets the filing date).")
@click.option("--judge", default=None, help="Immigration judge, if known.")
@click.option("--filing-deadline", default=None, help="A date set by the court (wins over the rules).")
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
    as_json: bool,
) -> None:
    """Create a case and print its id."""
    from casefile.tasks.cases.case import case_summary, create_case, validate_new_case

    new = validate_new_case(
        client=client,
        a_number=a_number,
        court=court,
        hearing=hearing,
        hearing_type=hearing_type,
        detained=detained,
        judge=judge,
        filing_deadline=filing_deadline,
    )
    rt = _runtime()
    with rt.catalog.session() as session:
        created = create_case(session, new)
        session.flush()
        summary = case_summary(created, rt.settings.config_dir)
    emit(
        as_json,
        summary,
        lambda: click.echo(
            f"Created case {summary['id']} (filing deadline {summary['filing_deadline'] or 'set by the court'})"
        ),
    )


def _doc_row(doc: Any) -> dict[str, Any]:
    return {
        "id": doc.id,
        "case_id": doc.case_id,
        "name": doc.original_name,
        "kind": doc.kind,
        "type": doc.doc_type,
        "status": doc.status,
        "pages": doc.page_count,
        "size_bytes": doc.size_bytes,
        "sha256": doc.sha256,
        "original_key": doc.original_key,
        "normalised_key": doc.normalised_key,
        "normalised_sha256": doc.normalised_sha256,
        "ocr_status": doc.ocr_status,
        "searchable_key": doc.searchable_key,
        "searchable_sha256": doc.searchable_sha256,
        "quarantine_reason": doc.quarantine_reason,
        "added_at": doc.created_at.isoformat(timespec="seconds"),
    }


@case.command("show")
@click.argument("case_id")
@json_option
def case_show(case_id: str, as_json: bool) -> None:
    """A case: its details, filing deadline and documents."""
    from casefile.tasks.cases.case import case_summary

    rt = _runtime()
    with rt.catalog.session() as session:
        found = rt.catalog.get_case(session, case_id)
        summary = case_summary(found, rt.settings.config_dir)
        summary["document_list"] = [_doc_row(d) for d in found.documents]

    def human() -> None:
        s = summary
        click.echo(f"Case {s['id']}  {s['client']}  {s['a_number']}")
        click.echo(f"  Court: {s['court']}" + (f"  Judge: {s['judge']}" if s["judge"] else ""))
        click.echo(f"  Hearing: {s['hearing_date']} ({s['hearing_type']}{', detained' if s['detained'] else ''})")
        click.echo(f"  Filing deadline: {s['filing_deadline'] or 'not set'}  [{s['filing_deadline_rule']}]")
        d = s["documents"]
        click.echo(
            f"  Documents: {d['total']} ({d['ready']} ready, {d['quarantined']} quarantined), {d['pages']} pages"
        )
        _print_docs(s["document_list"])

    emit(as_json, summary, human)


@case.command("list")
@json_option
def case_list(as_json: bool) -> None:
    """All cases."""
    from casefile.tasks.cases.case import case_summary

    rt = _runtime()
    with rt.catalog.session() as session:
        rows = [case_summary(c, rt.settings.config_dir) for c in rt.catalog.list_cases(session)]

    def human() -> None:
        for r in rows:
            click.echo(
                f"{r['id']}  {r['hearing_date']} {r['hearing_type']:<10} deadline "
                f"{r['filing_deadline'] or '-':<10}  docs {r['documents']['total']:>3}  {r['client']}"
            )
        if not rows:
            click.echo("No cases yet. Create one with `casefile case new`.")

    emit(as_json, rows, human)


# Documents ---------------------------------------------------------------------------------------
def _print_docs(rows: list[dict[str, Any]]) -> None:
    for r in rows:
        status = r["status"] if r["status"] == "ready" else f"{r['status']}: {r['quarantine_reason']}"
        click.echo(
            f"  {r['id']}  {r['kind']:<5} {r['type']:<13} {r['pages']:>4} p  {r['sha256'][:12]}  "
            f"{status:<24} {r['name']}"
        )


@main.command("docs")
@click.argument("case_id")
@json_option
def docs(case_id: str, as_json: bool) -> None:
    """List a case's documents with type, pages, sha256 and status."""
    rt = _runtime()
    with rt.catalog.session() as session:
        rows = [_doc_row(d) for d in rt.catalog.get_case(session, case_id).documents]
    emit(as_json, rows, lambda: _print_docs(rows) if rows else click.echo("No documents yet."))


@main.group()
def doc() -> None:
    """Show and download one document."""


@doc.command("show")
@click.argument("doc_id")
@json_option
def doc_show(doc_id: str, as_json: bool) -> None:
    """One document with its pages (size in points, rotation)."""
    rt = _runtime()
    with rt.catalog.session() as session:
        found = rt.catalog.get_document(session, doc_id)
        row = _doc_row(found)
        row["quarantine_detail"] = found.quarantine_detail
        row["page_list"] = [
            {
                "number": p.number,
                "width_pt": p.width_pt,
                "height_pt": p.height_pt,
                "rotation": p.rotation,
                "image_px": [p.image_width_px, p.image_height_px] if p.image_width_px else None,
                "text_source": p.text_source,
                "ocr_confidence": p.ocr_confidence,
                "language": p.language,
                "low_confidence": p.low_confidence,
                "ocr_error": p.ocr_error,
                "characters": len(p.text or ""),
            }
            for p in found.pages
        ]

    def human() -> None:
        _print_docs([row])
        click.echo(f"    text: {row['ocr_status']}")
        for p in row["page_list"]:
            conf = f", OCR confidence {p['ocr_confidence']:.0f}" if p["ocr_confidence"] is not None else ""
            flag = "  CHECK: low confidence" if p["low_confidence"] else ""
            error = f"  OCR failed: {p['ocr_error']}" if p["ocr_error"] else ""
            click.echo(
                f"    page {p['number']:>3}: {p['width_pt']:.0f} x {p['height_pt']:.0f} pt, rotation {p['rotation']}, "
                f"text {p['text_source'] or '-'}{conf}, language {p['language'] or '-'}{flag}{error}"
            )

    emit(as_json, row, human)


@doc.command("get")
@click.argument("doc_id")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--original", is_flag=True, help="The original file as received, instead of the PDF.")
@click.option("--searchable", is_flag=True, help="The searchable PDF (original pages plus an OCR text layer).")
@json_option
def doc_get(doc_id: str, output: Path, original: bool, searchable: bool, as_json: bool) -> None:
    """Download a document (normalised PDF by default), verified against its SHA-256."""
    from casefile.tasks.core.errors import NotFoundError, ValidationError

    if original and searchable:
        raise ValidationError("Choose one of --original and --searchable.")
    rt = _runtime()
    with rt.catalog.session() as session:
        found = rt.catalog.get_document(session, doc_id)
        if searchable and found.searchable_key is None:
            raise NotFoundError(
                f"Document {found.id} has no searchable PDF yet (OCR status: {found.ocr_status}). "
                "Run `casefile add` for its case again to finish it."
            )
        if searchable:
            key, sha = found.searchable_key, found.searchable_sha256
        elif original or found.normalised_key is None:
            key, sha = found.original_key, found.sha256
        else:
            key, sha = found.normalised_key, found.normalised_sha256
    if key is None:
        raise NotFoundError(f"Document {doc_id} has no stored bytes (it was refused before it was copied).")
    try:
        rt.store.download(key, output, expected_sha256=sha)
    except FileNotFoundError:
        raise NotFoundError(
            f"The object for document {doc_id} is missing from {rt.store.describe()}. Restore it from backup "
            "or add the original file again."
        ) from None
    doc_out = {
        "id": doc_id.upper(),
        "output": str(output),
        "sha256": sha,
        "verified": True,
        "bytes": output.stat().st_size,
        "kind": "original" if original else "searchable" if searchable else "pdf",
    }
    emit(as_json, doc_out, lambda: click.echo(f"Wrote {output} ({doc_out['bytes']:,} bytes, sha256 verified)"))


@doc.command("rm")
@click.argument("doc_id")
@json_option
def doc_rm(doc_id: str, as_json: bool) -> None:
    """Remove a document from its case and its pages from the search index (stored bytes are kept)."""
    from casefile.tasks.core.catalog import current_actor
    from casefile.tasks.documents.text import delete_document

    rt = _runtime()
    removed = delete_document(rt.catalog, rt.index, doc_id, current_actor())
    emit(as_json, {"id": removed, "deleted": True}, lambda: click.echo(f"Removed document {removed}."))


# Search ------------------------------------------------------------------------------------------
@main.command("search")
@click.argument("query")
@click.option("--case", "case_id", default=None, help="Only this case.")
@click.option("--lang", default=None, help="Only pages in this language (en, es; or eng, spa).")
@click.option("--type", "doc_type", default=None, help="Only documents of this type (see `casefile add --type`).")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 500))
@json_option
def search(query: str, case_id: str | None, lang: str | None, doc_type: str | None, limit: int, as_json: bool) -> None:
    """Find pages across cases: words, "exact phrases", prefix*, OR, -exclude. Accents and case are ignored."""
    rows = search_rows(_runtime(), query, case_id=case_id, language=lang, doc_type=doc_type, limit=limit)
    emit(as_json, rows, lambda: print_hits(rows))


def search_rows(
    rt: Any, query: str, *, case_id: str | None, language: str | None, doc_type: str | None, limit: int
) -> list[dict[str, Any]]:
    from casefile.tasks.core.catalog import Document

    if case_id is not None:
        with rt.catalog.session() as session:
            case_id = rt.catalog.get_case(session, case_id).id
    hits = rt.index.search(query, case_id=case_id, language=language, doc_type=doc_type, limit=limit)
    with rt.catalog.session() as session:
        wanted = {h.document_id for h in hits}
        names = {d.id: d.original_name for d in session.query(Document).filter(Document.id.in_(wanted))}
    return [
        {
            "rank": rank,
            "case_id": h.case_id,
            "document_id": h.document_id,
            "document": names.get(h.document_id),
            "page": h.page,
            "language": h.language,
            "type": h.doc_type,
            "score": round(h.score, 4),
            "snippet": h.snippet("[", "]"),
        }
        for rank, h in enumerate(hits, start=1)
    ]


def print_hits(rows: list[dict[str, Any]]) -> None:
    if not rows:
        click.echo("No pages match.")
    for r in rows:
        click.echo(
            f"{r['rank']:>3}. {r['case_id']}  {r['document_id']}  page {r['page']}  [{r['language'] or '?'}]  "
            f"{r['type']}  {r['document'] or ''}"
        )
        click.echo(f"     {r['snippet']}")


@main.command("reindex")
@click.option("--case", "case_id", default=None, help="Only this case (default: rebuild the whole index).")
@json_option
def reindex(case_id: str | None, as_json: bool) -> None:
    """Rebuild the search index from the page text in the catalog (safe to interrupt: the old index stays)."""
    from casefile.tasks.documents.text import reindex as rebuild

    rt = _runtime()
    pages = rebuild(rt.catalog, rt.index, case_id)
    result = {"case_id": case_id, "pages_indexed": pages, "index": str(rt.settings.search_index_path)}
    emit(as_json, result, lambda: click.echo(f"Indexed {pages} page(s){' of ' + case_id if case_id else ''}."))


# Ingest ------------------------------------------------------------------------------------------
def run_ingest(case_id: str, paths: list[Path], doc_type: str, show_progress: bool) -> dict[str, Any]:
    """Create an intake batch and run the ingest flow on it (importing Prefect only now)."""
    from casefile.flows.prefect_env import configure_prefect
    from casefile.tasks.core.config import load_toml
    from casefile.tasks.core.errors import ValidationError
    from casefile.tasks.documents.intake import create_batch, expand_inputs, iter_progress

    rt = _runtime()
    types = load_toml(rt.settings.config_dir, "document_types.toml")["types"]
    if doc_type not in types:
        raise ValidationError(f"Unknown document type {doc_type!r}; use one of: {', '.join(types)}.")
    files = expand_inputs(paths)
    missing = [p for p in files if not p.exists()]
    if missing:
        raise ValidationError(f"No such file or folder: {missing[0]}. Check the path and try again.")
    if not files:
        raise ValidationError("No files to add (the folders given are empty).")
    with rt.catalog.session() as session:
        real_case = rt.catalog.get_case(session, case_id)
        batch = create_batch(session, real_case.id, files, doc_type)
        batch_id = batch.id
    where = configure_prefect(rt.settings)
    click.echo(f"Ingesting {len(files)} file(s) as batch {batch_id} ({where})...", err=True)

    from casefile.flows.ingest import ingest_case

    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["counts"] = ingest_case(batch_id)
        except BaseException as exc:
            outcome["error"] = exc

    worker = threading.Thread(target=run, name="ingest-flow")
    worker.start()
    if show_progress:
        with click.progressbar(length=len(files), label="Ingesting", file=sys.stderr) as bar:
            seen = 0
            for done in iter_progress(rt.catalog, batch_id):
                bar.update(done - seen)
                seen = done
                if not worker.is_alive():
                    break
                worker.join(0.25)
    worker.join()
    if "error" in outcome:
        raise outcome["error"]
    return batch_report(batch_id)


def batch_report(batch_id: str) -> dict[str, Any]:
    from casefile.tasks.core.catalog import Document, IntakeBatch

    rt = _runtime()
    with rt.catalog.session() as session:
        batch = session.get(IntakeBatch, batch_id)
        assert batch is not None
        items = [
            {
                "file": it.source_path,
                "outcome": it.outcome,
                "document_id": it.document_id,
                "sha256": it.sha256,
                "reason": it.reason,
                "message": it.message,
            }
            for it in batch.items
        ]
        counts: dict[str, int] = {}
        for it in items:
            counts[it["outcome"]] = counts.get(it["outcome"], 0) + 1
        docs = [session.get(Document, it["document_id"]) for it in items if it["outcome"] == "stored"]
        text = {
            "ocr_pages": sum(p.text_source == "ocr" for d in docs if d for p in d.pages),
            "text_layer_pages": sum(p.text_source == "text-layer" for d in docs if d for p in d.pages),
            "failed_pages": sum(p.text_source == "failed" for d in docs if d for p in d.pages),
            "low_confidence_pages": sum(p.low_confidence for d in docs if d for p in d.pages),
        }
        return {
            "batch_id": batch.id,
            "case_id": batch.case_id,
            "status": batch.status,
            "counts": counts,
            "items": items,
            "text": text,
            "store": rt.store.describe(),
        }


def print_batch(report: dict[str, Any]) -> None:
    marks = {
        "stored": "ok  ",
        "duplicate": "dup ",
        "quarantined": "QUAR",
        "failed": "FAIL",
        "pending": "... ",
    }
    for it in report["items"]:
        line = f"  [{marks.get(it['outcome'], '?')}] {it['file']}"
        if it["document_id"]:
            line += f" -> {it['document_id']}"
        if it["outcome"] == "duplicate":
            line += " (already in this case; not stored again)"
        click.echo(line)
        if it["outcome"] in ("quarantined", "failed") and it["message"]:
            click.echo(f"         {it['message']}")
    text = report["text"]
    click.echo(
        f"Text: {text['ocr_pages']} page(s) OCR'd, {text['text_layer_pages']} with their own text layer, "
        f"{text['failed_pages']} failed, {text['low_confidence_pages']} flagged low-confidence for a person to check."
    )
    counts = ", ".join(f"{v} {k}" for k, v in report["counts"].items())
    click.echo(f"Batch {report['batch_id']} for case {report['case_id']}: {counts}. Objects in {report['store']}.")


def batch_exit_code(report: dict[str, Any]) -> int:
    counts = report["counts"]
    if counts.get("failed") or counts.get("pending"):
        return int(ExitCode.TRANSIENT)
    if counts.get("quarantined"):
        return int(ExitCode.INPUT_REJECTED)
    return int(ExitCode.OK)


@main.command("add")
@click.argument("case_id")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--type",
    "doc_type",
    default="unclassified",
    show_default=True,
    help="Document type for every file added (see config/document_types.toml).",
)
@json_option
def add(case_id: str, paths: tuple[Path, ...], doc_type: str, as_json: bool) -> None:
    """Add files or folders to a case (runs the per-case ingest flow).

    Exits 4 when a file was quarantined (the rest are stored), 75 when the object store failed.
    """
    report = run_ingest(case_id, list(paths), doc_type, show_progress=sys.stderr.isatty() and not as_json)
    emit(as_json, report, lambda: print_batch(report))
    sys.exit(batch_exit_code(report))


# Demo --------------------------------------------------------------------------------------------
@main.command("demo")
@json_option
def demo(as_json: bool) -> None:
    """The main job on fictional data: a case, its documents (OCR, search), record requests, the EOIR packet.

    Creates a fictional case, ingests the sample documents through a real flow run, searches them, sends record
    requests to a loopback SMTP server and receives an answer, then builds the case's exhibit packet."""
    from casefile.tasks.cases.case import case_summary, create_case, fictional_case
    from casefile.tasks.core.settings import DEMO_DATA

    samples = DEMO_DATA / "sample"
    rt = _runtime()
    new = fictional_case()
    with rt.catalog.session() as session:
        case_id = create_case(session, new).id
    if not as_json:
        click.echo(f"Demo case {case_id} created for a fictional client; adding {samples}")
    report = run_ingest(case_id, [samples], "unclassified", show_progress=sys.stderr.isatty() and not as_json)
    with rt.catalog.session() as session:
        summary = case_summary(rt.catalog.get_case(session, case_id), rt.settings.config_dir)
        summary["document_list"] = [_doc_row(d) for d in rt.catalog.get_case(session, case_id).documents]
    query = '"amenaza de muerte"'
    hits = search_rows(rt, query, case_id=case_id, language=None, doc_type=None, limit=5)
    from casefile.tasks.demo.scenario import demo_exhibits, demo_requests, print_requests

    requests = demo_requests(rt, case_id, samples.parent / "responses")
    exhibit_rows = demo_exhibits(rt, case_id, samples.parent / "translations")
    from casefile.flows.cli.packets import run_packet_flow

    built = run_packet_flow(case_id, "eoir", False, None, None)
    from casefile.tasks.packets.build import build_location

    location = build_location(rt.store, case_id, built["build_id"])
    result = {
        "case": summary,
        "ingest": report,
        "search": {"query": query, "hits": hits},
        "requests": requests,
        "exhibits": exhibit_rows,
        "packet": {**built, "location": location},
        "home": str(rt.settings.home),
    }

    def human() -> None:
        print_batch(report)
        click.echo("")
        click.echo(f"Case {case_id}: filing deadline {summary['filing_deadline']} ({summary['filing_deadline_rule']})")
        _print_docs(summary["document_list"])
        click.echo(f"\nSearch across the case, accents and case ignored: casefile search {query} --case {case_id}")
        print_hits(hits)
        print_requests(requests)
        click.echo("\nExhibit list (English translations linked behind each Spanish document):")
        for row in exhibit_rows:
            note = f" + translation {row['translation']}" if row["translation"] else ""
            click.echo(f"  {row['label']}  {row['document']}  {row['language']}  {row['title']}{note}")
        click.echo("")
        from casefile.flows.cli.packets import print_build

        print_build(built)
        click.echo(f"EOIR packet stored at {location}")
        click.echo(f"  download it: casefile packet get {case_id} -o packet/")
        click.echo(f"\nEverything is under {rt.settings.home}. Try: casefile case show {case_id}")

    emit(as_json, result, human)
    sys.exit(batch_exit_code(report))


@main.command("config")
@json_option
def config_show(as_json: bool) -> None:
    """Show the effective settings (no secrets are stored in them)."""
    from casefile.tasks.core.settings import load_settings

    settings = load_settings()
    doc_out = json.loads(settings.model_dump_json())
    doc_out["catalog_url"] = settings.catalog_url.split("@")[-1]
    doc_out["objects_path"] = str(settings.objects_path)

    def human() -> None:
        for key, value in doc_out.items():
            click.echo(f"{key} = {value}")

    emit(as_json, doc_out, human)


# Command groups kept in their own modules (imported last: they use the helpers above).
from casefile.flows.cli.packets import exhibits, packet, translation  # noqa: E402
from casefile.flows.cli.serve import serve  # noqa: E402

main.add_command(exhibits)
main.add_command(translation)
main.add_command(packet)
from casefile.flows.cli.requests import request  # noqa: E402

main.add_command(request)
main.add_command(serve)


def run() -> None:
    """The console script. The garbage collector is off while the command imports its libraries
    (SQLAlchemy and pydantic allocate many objects and free few: collecting then costs ~20% of start-up)
    and back on as soon as the runtime is built, before any real work."""
    gc.disable()
    try:
        main()  # click ends every command with SystemExit
    except SystemExit as exc:
        code = exc.code
        status = code if isinstance(code, int) else (0 if code is None else 1)
        _exit_now(status, None if isinstance(code, int) or code is None else code)
        raise
    finally:
        gc.enable()


def _exit_now(code: int, message: object) -> None:
    """End the process without the interpreter's teardown (freeing thousands of objects of SQLAlchemy, pydantic
    and click costs ~0.1 s of a 0.5 s command) when nothing needs it: Prefect was not imported (its temporary
    server and log handlers shut down at exit) and no other thread runs. The catalog's connections are closed
    first, and output is flushed. Otherwise returns, and the normal exit happens."""
    if "prefect" in sys.modules or threading.active_count() > 1:
        return
    import logging
    import os

    if "casefile.tasks.core.runtime" in sys.modules:
        sys.modules["casefile.tasks.core.runtime"].reset_runtimes()
    if message is not None:
        print(message, file=sys.stderr)
    logging.shutdown()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except OSError:  # a closed pipe (`casefile docs | head`)
        code = code or 1
    os._exit(code)


if __name__ == "__main__":
    run()
