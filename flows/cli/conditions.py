"""`casefile conditions`: the country-conditions library, and a case's bundle of cited passages.

Thin adapters over tasks/conditions: each command parses, calls a function there and prints its rows (one JSON
document with --json). Only `conditions bundle` runs a flow (and imports Prefect).
"""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import Any

import click

from ...tasks.core.errors import ExitCode, ValidationError
from .output import emit, json_option, runtime


def _date(raw: str | None, what: str) -> date | None:
    from ...tasks.core.calendar import parse_date

    return parse_date(raw, what) if raw else None


def _topics(raw: str) -> list[str]:
    return [t.strip() for t in raw.split(",") if t.strip()]


def _pages(raw: str | None) -> tuple[int, int] | None:
    if not raw:
        return None
    parts = raw.replace("\u2013", "-").split("-")
    try:
        first, last = int(parts[0]), int(parts[-1])
    except ValueError:
        raise ValidationError(f"--pages {raw!r} is not a page range; write it like 3-7 (or 4).") from None
    if len(parts) > 2 or first > last:
        raise ValidationError(f"--pages {raw!r} is not a page range; write it like 3-7 (or 4).")
    return first, last


@click.group()
def conditions() -> None:
    """The country-conditions library (shared by every case) and a case's bundle of cited passages."""


# The library ---------------------------------------------------------------------------------------------------
@conditions.command("add")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--country", help="ISO 3166 code of the country the report is about (config/conditions/countries.toml).")
@click.option("--publisher", help='Who published it, e.g. "US Department of State".')
@click.option("--series", help='The series it is an edition of, e.g. "Country Reports on Human Rights Practices".')
@click.option("--edition", help='Its edition, e.g. "2023".')
@click.option("--published", help="Publication date, YYYY-MM-DD.")
@click.option("--title", help='Its own title (default: "<series>: <country>").')
@click.option("--url", help="Where it was found (required for a saved web page).")
@click.option("--accessed", help="The day it was read there, YYYY-MM-DD (required for a saved web page).")
@click.option("--lang", help="Its language (ISO 639-1, e.g. es); default: detected from its text.")
@json_option
def conditions_add(
    path: Path,
    country: str | None,
    publisher: str | None,
    series: str | None,
    edition: str | None,
    published: str | None,
    title: str | None,
    url: str | None,
    accessed: str | None,
    lang: str | None,
    as_json: bool,
) -> None:
    """Add a report (PDF, image or saved web page) to the library, or a folder of them described by a metadata CSV
    (columns: file, country, publisher, series, title, edition, published, url, accessed, lang).

    The report goes through the same intake and OCR as case documents. A source is never edited afterwards: a new
    edition is a new source. Exits 4 when a file could not be taken in."""
    from ...tasks.conditions.library import add_folder, add_source, check_meta, read_metadata_csv, unlisted_files
    from ...tasks.core.errors import LibraryMetadataInvalid

    rt = runtime(creates=True)  # the library may be the first thing a new home holds
    given = {
        "country": country,
        "publisher": publisher,
        "series": series,
        "edition": edition,
        "published": published,
        "title": title,
        "url": url,
        "accessed": accessed,
        "lang": lang,
    }
    skipped: list[str] = []
    if path.is_dir():
        if any(v for v in given.values()):
            raise ValidationError(
                f"{path} is a folder: its reports are described by its metadata CSV, not by options. Give one file "
                "with the options, or put them in the CSV."
            )
        skipped = unlisted_files(path, [p for p, _m in read_metadata_csv(rt, path)])
        if not as_json:
            click.echo(f"Adding the reports listed in {path}'s metadata CSV (OCR where needed)...", err=True)
        results = add_folder(rt, path)
    else:
        meta, problems = check_meta(rt, given)
        if meta is None:
            raise LibraryMetadataInvalid(str(path), problems)
        results = [add_source(rt, path, meta)]
    rows = [r.as_dict() for r in results]
    doc = {"sources": rows, "not_in_metadata": skipped}

    def human() -> None:
        for r in rows:
            extra = f"  ({r['note']})" if r["note"] else ""
            ocr = f", {r['ocr_pages']} OCR'd" if r["ocr_pages"] else ""
            ident = r["source_id"] or "-"
            click.echo(
                f"{r['outcome']:9} {ident:11} {r['pages']:>4} p{ocr}  {r['language'] or '-':2}  {r['file']}{extra}"
            )
        for name in skipped:
            click.echo(f"not added {name}: it is not in the folder's metadata CSV")

    emit(as_json, doc, human)
    if any(r["outcome"] == "rejected" for r in rows):
        sys.exit(int(ExitCode.INPUT_REJECTED))


def _print_sources(rows: list[dict[str, Any]]) -> None:
    if not rows:
        click.echo("No sources.")
    for r in rows:
        stale = f"  STALE: {'; '.join(r['stale_reasons'])}" if r["stale"] else ""
        click.echo(
            f"{r['id']}  {r['country']}  {r['published']}  {r['edition']:>10}  {r['language']}  {r['pages']:>4} p  "
            f"{r['publisher']}: {r['title']}{stale}"
        )


@conditions.command("list")
@click.option("--country", help="Only this country (ISO 3166 code).")
@click.option("--stale", is_flag=True, help="Only sources superseded by a newer edition, or older than the set age.")
@json_option
def conditions_list(country: str | None, stale: bool, as_json: bool) -> None:
    """List the library's sources by series and edition, with whether each is stale and why."""
    from ...tasks.conditions.library import list_sources

    rows = list_sources(runtime(), country=country, stale_only=stale)
    emit(as_json, rows, lambda: _print_sources(rows))


@conditions.command("show")
@click.argument("source_id")
@json_option
def conditions_show(source_id: str, as_json: bool) -> None:
    """One source: its metadata, where each page's text came from, its translations."""
    from ...tasks.conditions.library import show_source

    row = show_source(runtime(), source_id)

    def human() -> None:
        _print_sources([row])
        if row["url"]:
            click.echo(f"  {row['url']} (accessed {row['accessed'] or '-'})")
        for p in row["page_list"]:
            conf = f", OCR confidence {p['ocr_confidence']:.0f}" if p["ocr_confidence"] is not None else ""
            click.echo(f"  page {p['number']:>3}: {p['text_source'] or '-'}{conf}, {p['words']} word boxes")
        for t in row["translations"]:
            click.echo(f"  translation {t['id']}: pages {t['pages'][0]}-{t['pages'][1]}, by {t['translator']}")

    emit(as_json, row, human)


@conditions.command("search")
@click.argument("query")
@click.option("--country", help="Only this country (ISO 3166 code).")
@click.option("--since", help="Only sources published on or after this date (YYYY-MM-DD).")
@click.option("--lang", help="Only pages in this language (en, es...).")
@click.option("--limit", default=20, show_default=True, type=int)
@json_option
def conditions_search(
    query: str, country: str | None, since: str | None, lang: str | None, limit: int, as_json: bool
) -> None:
    """Search the library's pages (the same query language as `casefile search`)."""
    from ...tasks.conditions.index import search_library

    rows = search_library(runtime(), query, country=country, since=_date(since, "--since"), language=lang, limit=limit)

    def human() -> None:
        if not rows:
            click.echo("No page matches.")
        for r in rows:
            click.echo(
                f"{r['rank']:>3}. {r['source_id']} p. {r['page']}  {r['publisher']} ({r['edition']}): {r['title']}"
            )
            click.echo(f"     {r['snippet']}")

    emit(as_json, rows, human)


@conditions.command("compare")
@click.argument("country")
@click.argument("first")
@click.argument("second")
@click.option("--series", help="The series (FIRST and SECOND are its editions); not needed with source ids.")
@click.option("--publisher", help="The publisher, when several publish a series of that name.")
@click.option("--topics", help="Topic keys, comma-separated (default: every topic).")
@json_option
def conditions_compare(
    country: str,
    first: str,
    second: str,
    series: str | None,
    publisher: str | None,
    topics: str | None,
    as_json: bool,
) -> None:
    """Per topic, the passages one edition has and the other has not (what a newer edition dropped).
    FIRST and SECOND are editions of --series ("2023") or source ids."""
    from ...tasks.conditions.compare import compare_editions

    doc = compare_editions(
        runtime(),
        country,
        first,
        second,
        series=series,
        publisher=publisher,
        topic_keys=_topics(topics) if topics else (),
    )

    def human() -> None:
        a, b = doc["first"], doc["second"]
        click.echo(f"{a['publisher']}, {a['series']}: {a['edition']} ({a['id']}) and {b['edition']} ({b['id']})")
        for t in doc["topics"]:
            state = "  DROPPED" if t["dropped"] else ("  ADDED" if t["added"] else "")
            click.echo(
                f"\n{t['topic']}: {t['first']} passage(s) in {a['edition']}, {t['second']} in {b['edition']}{state}"
            )
            for label, key in ((a["edition"], "only_in_first"), (b["edition"], "only_in_second")):
                for row in t[key]:
                    click.echo(f"  only in {label}, p. {row['page']}: {row['quote']}")
        for label, key in ((a["edition"], "headings_only_in_first"), (b["edition"], "headings_only_in_second")):
            if doc[key]:
                click.echo(f"\nHeadings only in {label}: " + "; ".join(h["heading"] for h in doc[key]))

    emit(as_json, doc, human)


@conditions.command("translate")
@click.argument("source_id")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--translator", required=True, help="Translator's full name.")
@click.option("--address", default="", help="Translator's address (lines separated by ';').")
@click.option("--phone", default="", help="Translator's telephone.")
@click.option("--email", default="", help="Translator's e-mail (optional).")
@click.option("--pages", default=None, help="The source's pages it translates, like 3-7 (default: all).")
@click.option("--date", "certified", default=None, help="Date of the certificate (YYYY-MM-DD); default today.")
@click.option(
    "--signed-electronically",
    "signed",
    is_flag=True,
    help='The translator signed the certificate electronically: "/s/ Name" is printed (else signed after printing).',
)
@json_option
def conditions_translate(
    source_id: str,
    file: Path,
    translator: str,
    address: str,
    phone: str,
    email: str,
    pages: str | None,
    certified: str | None,
    signed: bool,
    as_json: bool,
) -> None:
    """Add FILE as the English translation of a foreign-language source (or of some of its pages), with the
    translator's certificate data. Bundles that cite those pages put it behind the excerpt in the packet."""
    from datetime import UTC, datetime

    from ...tasks.conditions.library import add_translation
    from ...tasks.packets.translations import TranslatorInfo

    when = _date(certified, "--date") or datetime.now(UTC).date()
    row = add_translation(
        runtime(),
        source_id,
        file,
        TranslatorInfo(translator, address, phone, email, signed_electronically=signed),
        when,
        pages=_pages(pages),
    )

    def human() -> None:
        click.echo(
            f"Translation {row['id']} of {row['source']}, pages {row['pages'][0]}-{row['pages'][1]} "
            f"({row['source_language']}), certified {row['certified_on']}."
        )

    emit(as_json, row, human)


@conditions.command("remove")
@click.argument("source_id")
@json_option
def conditions_remove(source_id: str, as_json: bool) -> None:
    """Take a source out of the library (one added by mistake, or with wrong metadata: add it again after). Bundles
    and packets already made keep it; its stored bytes are kept."""
    from ...tasks.conditions.library import remove_source

    row = remove_source(runtime(), source_id)
    emit(as_json, row, lambda: click.echo(f"Source {row['id']} removed from the library ({row['pages']} pages)."))


@conditions.command("reindex")
@json_option
def conditions_reindex(as_json: bool) -> None:
    """Rebuild the library's search index from the page text in the catalog."""
    from ...tasks.conditions.index import reindex_library

    pages = reindex_library(runtime())
    emit(as_json, {"pages": pages}, lambda: click.echo(f"Library index rebuilt: {pages} pages."))


# A case's bundle -----------------------------------------------------------------------------------------------
@conditions.command("propose")
@click.argument("case_id")
@click.option("--country", required=True, help="ISO 3166 code of the client's country.")
@click.option("--topics", required=True, help="Topic keys, comma-separated (config/conditions/topics.toml).")
@click.option("--max-pages", default=150, show_default=True, type=int, help="Page budget of the bundle.")
@click.option("--since", help="Only sources published on or after this date (YYYY-MM-DD).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write the selection here.")
@json_option
def conditions_propose(
    case_id: str, country: str, topics: str, max_pages: int, since: str | None, output: Path | None, as_json: bool
) -> None:
    """Propose ranked passages for a case as an editable selection file (YAML): keep or drop sources and passages,
    choose pages, the legal element each passage supports; then `casefile conditions bundle`."""
    from ...tasks.conditions.config import load_topics
    from ...tasks.conditions.propose import dump_selection, propose

    rt = runtime()
    proposal = propose(rt, case_id, country, _topics(topics), max_pages=max_pages, since=_date(since, "--since"))
    text = dump_selection(proposal, rt.config(load_topics), output.name if output else "selection.yaml")
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
    doc = {**proposal.as_dict(), "file": str(output) if output else None}

    def human() -> None:
        if output is None:
            click.echo(text, nl=False)
            return
        passages = sum(len(s.passages) for s in proposal.sources)
        click.echo(
            f"Selection for {proposal.case_id} written to {output}: {passages} passage(s) from "
            f"{len(proposal.sources)} source(s), {proposal.pages} page(s) kept of {proposal.max_pages}."
        )
        for s in proposal.sources:
            row = s.source
            if row["stale"]:
                state = "not kept, STALE: " + "; ".join(row["stale_reasons"]) + " (keep it with a reason)"
            else:
                state = f"{sum(p.keep for p in s.passages)} of {len(s.passages)} passage(s) kept"
            click.echo(f"  {row['id']}  {row['publisher']} ({row['edition']}): {state}")
        click.echo(f"Edit it, then: casefile conditions bundle {proposal.case_id} {output}")

    emit(as_json, doc, human)


def run_bundle_flow(
    case_id: str, country: str, topics: list[str], selection: str | None, max_pages: int = 150
) -> dict[str, Any]:
    from ..prefect_env import configure_prefect

    rt = runtime()
    where = configure_prefect(rt.settings)
    click.echo(f"Rendering the country-conditions bundle of {case_id} ({where})...", err=True)
    from ..conditions import conditions_bundle_flow

    return conditions_bundle_flow(case_id, country, topics, max_pages=max_pages, selection=selection)


def print_bundle(doc: dict[str, Any]) -> None:
    state = "already rendered (same selection)" if doc.get("reused") else "rendered"
    click.echo(
        f"Bundle {doc['bundle_id']} of {doc['case_id']} ({doc['country']}): {doc['exhibits']} source(s), "
        f"{doc['pages']} page(s), {doc['passages']} passage(s) marked, {state}; the case's packets now hold it as "
        "numbered exhibits after the lettered ones."
    )
    for e in doc.get("sources", []):
        extra = f"  translation {e['translation']}" if e.get("translation") else ""
        click.echo(
            f"  {e['position']:>2}. {e['source_id']}  {e['publisher']} ({e['edition']}), pages {e['source_pages']}, "
            f"{e['passages']} passage(s){extra}"
        )
    for where in doc.get("unmarked", []):
        click.echo(
            f"  WARNING: a passage on {where} could not be marked: the page has no word boxes (its text could not "
            "be read, or OCR was off when it was added). It is cited in the index; mark it on paper, or add a "
            "readable copy of the report."
        )
    for source in doc.get("missing_translations", []):
        click.echo(
            f"  WARNING: {source} is not in English and has no translation of these pages in the library: the packet "
            f"build will refuse until `casefile conditions translate {source} english.pdf ...`."
        )


@conditions.command("bundle")
@click.argument("case_id")
@click.argument("selection_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Also download the preview PDF.")
@json_option
def conditions_bundle(case_id: str, selection_file: Path, output: Path | None, as_json: bool) -> None:
    """Check an edited selection (every problem listed with its line), then render the bundle as a flow run: marked
    excerpts with their citations and an index by legal element. It becomes the case's active bundle: its packets
    hold it as numbered exhibits, with pin cites to their final pages."""
    from ...tasks.conditions.bundle import load_bundle_manifest, result_from_manifest
    from ...tasks.conditions.selection import parse_selection, store_selection

    rt = runtime()
    try:
        text = selection_file.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ValidationError(f"{selection_file} is not UTF-8 text; save it as UTF-8 and try again.") from None
    checked = parse_selection(rt, text, str(selection_file), case_id)  # problems fail here, before Prefect starts
    sha = store_selection(rt, checked.case_id, text)
    doc = run_bundle_flow(checked.case_id, checked.country, list(checked.topics), sha)
    manifest = load_bundle_manifest(rt, doc["case_id"], doc["bundle_id"])
    doc = {**result_from_manifest(manifest, doc.get("reused", False)).as_dict(), "selection": sha}
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        rt.store.download(doc["preview_key"], output, expected_sha256=doc["preview_sha256"])
        doc["preview_file"] = str(output)

    def human() -> None:
        print_bundle(doc)
        if output is not None:
            click.echo(f"Preview: {output}")

    emit(as_json, doc, human)


@conditions.command("bundles")
@click.argument("case_id")
@json_option
def conditions_bundles(case_id: str, as_json: bool) -> None:
    """List a case's bundles; the active one goes into its packets."""
    from ...tasks.conditions.bundle import list_bundles

    rows = list_bundles(runtime(), case_id)

    def human() -> None:
        if not rows:
            click.echo(f"No bundle for {case_id.upper()}.")
        for r in rows:
            mark = "ACTIVE" if r["active"] else "      "
            click.echo(
                f"{mark} {r['bundle_id']}  {r['country']}  {r['exhibits']} source(s)  {r['pages']} p  {r['created_at']}"
            )

    emit(as_json, rows, human)


@conditions.command("detach")
@click.argument("case_id")
@json_option
def conditions_detach(case_id: str, as_json: bool) -> None:
    """Leave the case's bundle out of its next packets (the bundle is kept; `bundle` makes one active again)."""
    from ...tasks.conditions.bundle import detach_bundles

    changed = detach_bundles(runtime(), case_id)
    emit(as_json, {"case": case_id.upper(), "detached": changed}, lambda: click.echo(f"{changed} bundle(s) detached."))
