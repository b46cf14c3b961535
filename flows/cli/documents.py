"""`casefile add`, `docs`, `doc show|get|rm`, `search` and `reindex`: a case's documents and their text."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from .batches import batch_exit_code, not_taken_in, print_batch, run_ingest
from .output import emit, json_option, runtime


def print_docs(rows: list[dict[str, Any]]) -> None:
    for r in rows:
        status = r["status"] if r["status"] == "ready" else f"{r['status']}: {r['quarantine_reason']}"
        click.echo(
            f"  {r['id']}  {r['kind']:<5} {r['type']:<13} {r.get('language') or '-':<7} {r['pages']:>4} p  "
            f"{r['sha256'][:12]}  {status:<24} {r['name']}"
        )


@click.command("add")
@click.argument("case_id")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--type",
    "doc_type",
    default="unclassified",
    show_default=True,
    help="Document type for every file added (see config/document_types.toml).",
)
@click.option(
    "--follow-symlinks",
    is_flag=True,
    help="Take the files symbolic links point to (default: a link is refused, with reason 'symlink').",
)
@json_option
def add(case_id: str, paths: tuple[Path, ...], doc_type: str, follow_symlinks: bool, as_json: bool) -> None:
    """Add files or folders to a case (runs the per-case ingest flow).

    A file the case already has is checked again and whatever is broken is repaired (a missing or damaged stored
    copy, a quarantine whose cause is gone). Hidden files in folders (names starting with '.') are skipped and
    counted. Exits 4 when a file was quarantined (the rest are stored), 75 when the disk, the object store or the
    network failed (run the same command again).
    """
    report = run_ingest(
        case_id,
        list(paths),
        doc_type,
        show_progress=sys.stderr.isatty() and not as_json,
        follow_symlinks=follow_symlinks,
    )
    emit(as_json, report, lambda: print_batch(report))
    summary = not_taken_in(report)
    if summary:
        click.echo(f"error: {summary}", err=True)
    sys.exit(batch_exit_code(report))


@click.command("docs")
@click.argument("case_id")
@json_option
def docs(case_id: str, as_json: bool) -> None:
    """List a case's documents with type, pages, sha256 and status."""
    from ...tasks.documents.access import list_documents

    rows = list_documents(runtime(), case_id)
    emit(as_json, rows, lambda: print_docs(rows) if rows else click.echo("No documents yet."))


@click.group()
def doc() -> None:
    """Show, download and remove one document."""


@doc.command("show")
@click.argument("doc_id")
@click.option("--text", "with_text", is_flag=True, help="Print the text of its pages (text layer or OCR).")
@click.option("--page", type=click.IntRange(1), default=None, help="With --text: only this page.")
@json_option
def doc_show(doc_id: str, with_text: bool, page: int | None, as_json: bool) -> None:
    """One document with its pages (size in points, rotation), or with --text the text of its pages."""
    from ...tasks.core.errors import ValidationError
    from ...tasks.documents.access import page_text, show_document

    if page is not None and not with_text:
        raise ValidationError("--page goes with --text (the text of that page).")
    if with_text:
        found = page_text(runtime(), doc_id, page)

        def text() -> None:
            for p in found["pages"]:
                click.echo(f"--- {found['id']} page {p['number']} ({p['text_source'] or 'no text'}, "
                           f"{p['language'] or 'language unknown'}) ---")  # fmt: skip
                click.echo(p["text"] or "(no text on this page)")

        emit(as_json, found, text)
        return
    row = show_document(runtime(), doc_id)

    def human() -> None:
        print_docs([row])
        click.echo(f"    text: {row['ocr_status']}")
        for p in row["page_list"]:
            conf = f", OCR confidence {p['ocr_confidence']:.0f}" if p["ocr_confidence"] is not None else ""
            flag = "  CHECK: low confidence" if p["low_confidence"] else ""
            error = f"  OCR failed: {p['ocr_error']}" if p["ocr_error"] else ""
            click.echo(
                f"    page {p['number']:>3}: {p['width_pt']:.0f} x {p['height_pt']:.0f} pt, rotation {p['rotation']}, "
                f"text {p['text_source'] or '-'}{conf}, language {p['language'] or 'unknown'}{flag}{error}"
            )

    emit(as_json, row, human)


@doc.command("set")
@click.argument("doc_id")
@click.option("--type", "doc_type", default=None, help="Document type (config/document_types.toml), e.g. medical.")
@click.option("--title", default=None, help="Its title, as the exhibit list shows it.")
@click.option("--date", "doc_date", default=None, help="Its own date, YYYY-MM-DD.")
@click.option("--identity-confirmed", "identity_confirmed", is_flag=True,
              help="It belongs in this case although its text names another A-number or person.")  # fmt: skip
@json_option
def doc_set(
    doc_id: str, doc_type: str | None, title: str | None, doc_date: str | None, identity_confirmed: bool, as_json: bool
) -> None:
    """Correct what intake guessed of a document: its type, title and date (an exhibit takes them too)."""
    from ...tasks.core.calendar import parse_date
    from ...tasks.documents.access import correct_document

    row = correct_document(
        runtime(),
        doc_id,
        doc_type=doc_type,
        title=title,
        doc_date=parse_date(doc_date, "--date") if doc_date else None,
        identity_confirmed=identity_confirmed,
    )

    def human() -> None:
        print_docs([row])
        if row["title"] or row["date"]:
            click.echo(f"    {row['title'] or ''}  {row['date'] or ''}".rstrip())
        if row["exhibits"]:
            click.echo(f"    exhibit {', '.join(row['exhibits'])} of the saved list updated too")

    emit(as_json, row, human)


@doc.command("get")
@click.argument("doc_id")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--original", is_flag=True, help="The original file as received, instead of the PDF.")
@click.option("--searchable", is_flag=True, help="The searchable PDF (original pages plus an OCR text layer).")
@json_option
def doc_get(doc_id: str, output: Path, original: bool, searchable: bool, as_json: bool) -> None:
    """Download a document (normalised PDF by default), verified against its SHA-256."""
    from ...tasks.core.errors import ValidationError
    from ...tasks.documents.access import Variant, export_document

    if original and searchable:
        raise ValidationError("Choose one of --original and --searchable.")
    variant = Variant.ORIGINAL if original else Variant.SEARCHABLE if searchable else Variant.PDF
    result = export_document(runtime(), doc_id, output, variant)
    emit(as_json, result, lambda: click.echo(f"Wrote {output} ({result['bytes']:,} bytes, sha256 verified)"))


@doc.command("rm")
@click.argument("doc_id")
@json_option
def doc_rm(doc_id: str, as_json: bool) -> None:
    """Remove a document from its case and its pages from the search index (stored bytes are kept)."""
    from ...tasks.core.catalog import current_actor
    from ...tasks.documents.removal import delete_document

    removed = delete_document(runtime(), doc_id, current_actor())
    emit(as_json, {"id": removed, "deleted": True}, lambda: click.echo(f"Removed document {removed}."))


def print_hits(rows: list[dict[str, Any]]) -> None:
    if not rows:
        click.echo("No pages match.")
    for r in rows:
        click.echo(
            f"{r['rank']:>3}. {r['case_id']}  {r['document_id']}  page {r['page']}  [{r['language'] or '?'}]  "
            f"{r['type']}  {r['document'] or ''}"
        )
        click.echo(f"     {r['snippet']}")


@click.command("search")
@click.argument("query")
@click.option("--case", "case_id", default=None, help="Only this case.")
@click.option("--lang", default=None, help="Only pages in this language (en, es; or eng, spa).")
@click.option("--type", "doc_type", default=None, help="Only documents of this type (see `casefile add --type`).")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 500))
@json_option
def search(query: str, case_id: str | None, lang: str | None, doc_type: str | None, limit: int, as_json: bool) -> None:
    """Find pages across cases: words, "exact phrases", prefix*, OR, -exclude. Accents and case are ignored."""
    from ...tasks.search.lookup import search_pages

    rows = search_pages(runtime(), query, case_id=case_id, language=lang, doc_type=doc_type, limit=limit)
    emit(as_json, rows, lambda: print_hits(rows))


@click.command("reindex")
@click.option("--case", "case_id", default=None, help="Only this case (default: rebuild the whole index).")
@json_option
def reindex(case_id: str | None, as_json: bool) -> None:
    """Rebuild the search index from the page text in the catalog (safe to interrupt: the old index stays)."""
    from ...tasks.search.index import search_index
    from ...tasks.search.indexing import reindex as rebuild

    rt = runtime()
    pages = rebuild(rt, case_id)
    result = {"case_id": case_id, "pages_indexed": pages, "index": search_index(rt).describe()}
    emit(as_json, result, lambda: click.echo(f"Indexed {pages} page(s){' of ' + case_id if case_id else ''}."))
