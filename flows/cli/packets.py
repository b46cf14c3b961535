"""`casefile exhibits`, `casefile translation` and `casefile packet`: from documents to a filed packet.

Thin adapters over tasks/packets: each command calls plain functions there and prints their rows. Registered on the
main group in flows/cli/main.py. Only `packet build` runs a flow (and imports Prefect).
"""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ...tasks.core.errors import ExitCode, ValidationError
from .output import emit, json_option, runtime

if TYPE_CHECKING:
    from ...tasks.packets.build import BuildOptions


def _today() -> date:
    from datetime import UTC, datetime

    return datetime.now(UTC).date()


# Exhibit lists ---------------------------------------------------------------------------------------------------
@click.group()
def exhibits() -> None:
    """Plan a case's exhibit list: order, letters/numbers, titles, dates, sources, languages."""


@exhibits.command("plan")
@click.argument("case_id")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write the plan to this file.")
@click.option("--format", "fmt", type=click.Choice(["yaml", "csv"]), default=None, help="Default: from -o, else yaml.")
@click.option("--force", is_flag=True, help="Replace the file -o names if it exists.")
@json_option
def exhibits_plan(case_id: str, output: Path | None, fmt: str | None, force: bool, as_json: bool) -> None:
    """Propose an exhibit list from the case's documents, as an editable YAML or CSV file."""
    from ...tasks.packets.exhibits import dump_plan, propose_plan

    if output is not None and output.exists() and not force:
        raise ValidationError(
            f"{output} exists; nothing was written (it may hold your edits). Save the plan you edited with "
            f"`casefile exhibits set {case_id.upper()} {output}`, write the proposal elsewhere, or add --force to "
            "replace the file."
        )
    plan = propose_plan(runtime(), case_id)
    fmt = fmt or ("csv" if output is not None and output.suffix.lower() == ".csv" else "yaml")
    text = dump_plan(plan, fmt)
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
    doc = {**plan.as_dict(), "file": str(output) if output else None, "format": fmt}

    def human() -> None:
        if output is None:
            click.echo(text, nl=False)
        else:
            click.echo(f"Exhibit plan for {plan.case_id} ({len(plan.rows)} exhibits) written to {output}.")
            click.echo(f"Edit it, then: casefile exhibits set {plan.case_id} {output}")
        for row in plan.rows:
            if row.check:
                click.echo(f"  exhibit {row.label} ({row.document}): {row.check}", err=True)

    emit(as_json, doc, human)


@exhibits.command("set")
@click.argument("case_id")
@click.argument("plan_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@json_option
def exhibits_set(case_id: str, plan_file: Path, as_json: bool) -> None:
    """Validate an edited plan and save it as the case's exhibit list (every problem listed with its line)."""
    from ...tasks.packets.exhibits import exhibit_warnings, parse_plan, save_plan, show_exhibits

    rt = runtime()
    try:
        text = plan_file.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ValidationError(f"{plan_file} is not UTF-8 text; save the plan as UTF-8 and try again.") from None
    plan = parse_plan(text, str(plan_file), case_id)
    save_plan(rt, plan, str(plan_file))
    doc = {**show_exhibits(rt, plan.case_id), "notes": plan.notes, "warnings": exhibit_warnings(rt, plan.case_id)}
    emit(as_json, doc, lambda: _print_exhibits(doc))


def _print_exhibits(doc: dict[str, Any]) -> None:
    rows = doc["exhibits"]
    click.echo(f"Exhibit list of {doc['case']}: {len(rows)} exhibit(s)")
    for r in rows:
        label = r["label"] + ("!" if r.get("pinned") else "")
        click.echo(f"  {label:>4}  {r['document']}  {r['language']}  {r['date'] or 'undated':10}  {r['title']}")
    for note in doc.get("notes", []):
        click.echo(f"Note: {note}", err=True)
    for warning in doc.get("warnings", []):
        click.echo(f"WARNING: {warning}", err=True)


@exhibits.command("move")
@click.argument("case_id")
@click.argument("label")
@click.option("--before", default=None, help="The exhibit it goes before, e.g. A.")
@click.option("--after", default=None, help="The exhibit it goes after.")
@json_option
def exhibits_move(case_id: str, label: str, before: str | None, after: str | None, as_json: bool) -> None:
    """Move exhibit LABEL before (or after) another; the others are re-lettered in the new order (pinned labels
    stay)."""
    from ...tasks.packets.exhibits import exhibit_warnings, move_exhibit, show_exhibits

    rt = runtime()
    plan = move_exhibit(rt, case_id, label, before=before, after=after)
    doc = {**show_exhibits(rt, plan.case_id), "notes": plan.notes, "warnings": exhibit_warnings(rt, plan.case_id)}
    emit(as_json, doc, lambda: _print_exhibits(doc))


@exhibits.command("show")
@click.argument("case_id")
@json_option
def exhibits_show(case_id: str, as_json: bool) -> None:
    """Show the saved exhibit list."""
    from ...tasks.packets.exhibits import show_exhibits

    doc = show_exhibits(runtime(), case_id)
    emit(as_json, doc, lambda: _print_exhibits(doc))


# Translations ------------------------------------------------------------------------------------------------------
@click.group()
def translation() -> None:
    """English translations of foreign-language documents, with their translator's certificate."""


@translation.command("add")
@click.argument("case_id")
@click.argument("file", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--for",
    "for_doc",
    default=None,
    help="The document (DOC-ID) FILE translates. Required, unless FILE is a folder of files named after their "
    "documents (D-XXXXXXXX.pdf, or the document's file name with .en: denuncia.en.pdf).",
)
@click.option(
    "--translator", required=True, help="A saved translator's key (casefile translator add), or the translator's name."
)
@click.option("--address", default="", help="Translator's address (lines separated by ';'); required with a name.")
@click.option("--phone", default="", help="Translator's telephone; required with a name.")
@click.option("--email", default="", help="Translator's e-mail (optional).")
@click.option("--language", default=None, help="Language of the original (ISO 639-1, e.g. es); default: the plan's.")
@click.option("--date", "certified", default=None, help="Date of the certificate (YYYY-MM-DD); default today.")
@click.option(
    "--signed-electronically",
    "signed",
    is_flag=True,
    help='The translator signed the certificate electronically: "/s/ Name" is printed (else signed after printing).',
)
@click.option("--replace", is_flag=True, help="Replace the translation a document already has.")
@json_option
def translation_add(
    case_id: str,
    file: Path,
    for_doc: str | None,
    translator: str,
    address: str,
    phone: str,
    email: str,
    language: str | None,
    certified: str | None,
    signed: bool,
    replace: bool,
    as_json: bool,
) -> None:
    """Add FILE as the English translation of document --for, with the certificate's data; or every file of the
    folder FILE, each for the document it is named after."""
    from ...tasks.core.calendar import parse_date
    from ...tasks.packets.translations import add_translation, add_translations_from_folder, resolve_translator

    rt = runtime()
    when = parse_date(certified, "--date") if certified else _today()
    info = resolve_translator(rt, translator, address, phone, email, signed)
    if file.is_dir():
        if for_doc:
            raise ValidationError("--for names the document of one file; a folder's files are named after theirs.")
        rows = add_translations_from_folder(rt, case_id, file, info, when, language, replace=replace)
    elif for_doc is None:
        raise ValidationError("Say which document FILE translates: --for DOC-ID (see `casefile docs CASE-ID`).")
    else:
        rows = [add_translation(rt, case_id, for_doc, file, info, when, language, replace=replace)]

    def human() -> None:
        for row in rows:
            replaced = f", replacing {row['replaced']}" if row.get("replaced") else ""
            click.echo(
                f"Translation {row['id']}: document {row['document']} translates {row['for']} "
                f"({row['source_language']}), certified {row['certified_on']}, signed {row['signature']}{replaced}."
            )

    emit(as_json, rows[0] if not file.is_dir() else rows, human)


@translation.command("list")
@click.argument("case_id")
@json_option
def translation_list(case_id: str, as_json: bool) -> None:
    """List the case's translations: the document (and exhibit) each belongs to, and their files."""
    from ...tasks.packets.translations import list_translations

    rows = list_translations(runtime(), case_id)

    def human() -> None:
        for r in rows:
            exhibit = f"exhibit {r['exhibit']}" if r["exhibit"] else "not an exhibit"
            click.echo(
                f"{r['id']}  {exhibit:<12} {r['for']} {r['for_file']}  ->  {r['document']} {r['file']}  "
                f"{r['source_language']}  {r['translator']}  {r['certified_on']}  signed {r['signature']}"
            )
        if not rows:
            click.echo("No translations yet.")

    emit(as_json, rows, human)


@translation.command("rm")
@click.argument("translation_id")
@json_option
def translation_rm(translation_id: str, as_json: bool) -> None:
    """Unlink a translation (T-... or the DOC-ID it translates); its document stays in the case."""
    from ...tasks.packets.translations import remove_translation

    row = remove_translation(runtime(), translation_id)
    emit(
        as_json,
        {**row, "removed": True},
        lambda: click.echo(
            f"Translation {row['id']} of {row['for']} removed; its document {row['document']} stays in the case "
            f"(`casefile doc rm {row['document']}` removes it)."
        ),
    )


# Packets -------------------------------------------------------------------------------------------------------------
@click.group()
def packet() -> None:
    """Build, list, download and check exhibit packets."""


def run_packet_flow(case_id: str, options: BuildOptions) -> dict[str, Any]:
    """Check everything that can be checked (the case, profile, plan, languages, translations, the practice's
    values, the DHS office, signatures) before Prefect starts, then run the flow; a refused or failed build raises
    its typed error, once."""
    from ...tasks.core.errors import CasefileError
    from ...tasks.packets.build import preflight
    from ..prefect_env import configure_prefect

    rt = runtime()
    case_id = preflight(rt, case_id, options).case_id
    where = configure_prefect(rt.settings)
    click.echo(f"Building the {options.profile} packet of {case_id} ({where})...", err=True)
    from ..packet import build_packet_flow

    state = build_packet_flow(
        case_id,
        profile=options.profile,
        allow_missing_translations=options.allow_missing_translations,
        service_date=options.service_date.isoformat() if options.service_date else None,
        signer=options.signer,
        filer=options.filer,
        channel=options.channel,
        service_office=options.service_office,
        service_address=list(options.service_address),
        recipient=list(options.recipient),
        forms=list(options.forms),
        g28=options.g28,
        fee=options.fee,
        fictional_practice=options.fictional_practice,
        return_state=True,
    )
    if state.is_failed():
        error = state.result(raise_on_failure=False)
        if isinstance(error, CasefileError):
            raise error
        raise CasefileError(
            f"The packet build of {case_id} failed ({type(error).__name__}); nothing was stored as finished. See the "
            "flow run's logs, and report it with the case id."
        )
    result: dict[str, Any] = state.result()
    return result


def _lines(raw: str | None) -> tuple[str, ...]:
    """An address typed on one line, its lines separated by ';'."""
    return tuple(part.strip() for part in (raw or "").split(";") if part.strip())


def print_build(doc: dict[str, Any]) -> None:
    state = "already built (same inputs)" if doc.get("reused") else "built and checked"
    click.echo(f"Packet {doc['build_id']} of {doc['case_id']} ({doc['profile']}): {doc['pages']} pages, {state}.")
    for p in doc["parts"]:
        click.echo(f"  {p['name']}  pages {p['first_page']}-{p['last_page']}  {p['bytes']:,} bytes  {p['sha256']}")
    if doc.get("bytes_saved"):
        click.echo(f"  {doc['images_downsampled']} image(s) downsampled, {doc['bytes_saved']:,} bytes saved")
    if doc.get("missing_translations"):
        click.echo(f"  WARNING: built without translations for exhibit(s) {', '.join(doc['missing_translations'])}")
    for warning in doc.get("warnings", []):
        click.echo(f"  WARNING: {warning}")
    if doc.get("signed"):
        click.echo(f"  Signed: {'; '.join(doc['signed'])}")
    for item in doc.get("to_sign", []):
        click.echo(f"  TO SIGN by hand after printing: {item}")


@packet.command("build")
@click.argument("case_id")
@click.option("--profile", default="eoir", show_default=True, help="Filing profile (config/profiles/*.toml).")
@click.option("--allow-missing-translations", is_flag=True, help="Build even if a translation is missing (recorded).")
@click.option("--service-date", default=None, help="Date on the certificate of service / cover letter (default today).")
@click.option("--filer", default=None, help="Person key (config/practice.toml) on the cover page; default: the case's.")
@click.option("--signer", default=None, help="Person key who signs the certificate of service; default: the filer.")
@click.option(
    "--channel", default=None, help="Way of filing, for its size limit (eoir: ecas, paper; uscis: paper, online)."
)
@click.option("--service-office", default=None, help="The DHS (ICE OPLA) office served, instead of the profile's.")
@click.option("--service-address", default=None, help='Its address, lines separated by ";".')
@click.option("--recipient", default=None, help='USCIS: the lockbox or field office address, lines separated by ";".')
@click.option("--form", "forms", multiple=True, help="USCIS: a form enclosed, e.g. I-130 (repeatable).")
@click.option("--g28", is_flag=True, help="USCIS: Form G-28 is enclosed.")
@click.option("--fee", default=None, help="USCIS: the filing fee enclosed, e.g. 675.")
@json_option
def packet_build(
    case_id: str,
    profile: str,
    allow_missing_translations: bool,
    service_date: str | None,
    filer: str | None,
    signer: str | None,
    channel: str | None,
    service_office: str | None,
    service_address: str | None,
    recipient: str | None,
    forms: tuple[str, ...],
    g28: bool,
    fee: str | None,
    as_json: bool,
) -> None:
    """Build the case's exhibit packet as a Prefect flow run, check it, and store it."""
    from ...tasks.core.calendar import parse_date
    from ...tasks.packets.build import BuildOptions

    options = BuildOptions(
        profile=profile,
        allow_missing_translations=allow_missing_translations,
        service_date=parse_date(service_date, "--service-date") if service_date else None,
        signer=signer,
        filer=filer,
        channel=channel,
        service_office=service_office,
        service_address=_lines(service_address),
        recipient=_lines(recipient),
        forms=forms,
        g28=g28,
        fee=fee,
    )
    doc = run_packet_flow(case_id, options)
    emit(as_json, doc, lambda: print_build(doc))


@packet.command("list")
@click.argument("case_id")
@json_option
def packet_list(case_id: str, as_json: bool) -> None:
    """List the case's finished packet builds (oldest first)."""
    from ...tasks.packets.manifest import list_builds

    rows = list_builds(runtime(), case_id)

    def human() -> None:
        if not rows:
            click.echo(f"No finished packet for {case_id.upper()}; run `casefile packet build {case_id.upper()}`.")
        for r in rows:
            extra = f"  overrides: {', '.join(r['overrides'])}" if r["overrides"] else ""
            click.echo(
                f"{r['build_id']}  {r['profile']:6} {r['created_at']}  {r['pages']} pages  {r['parts']} part(s)  "
                f"{r['bytes']:,} bytes{extra}"
            )

    emit(as_json, rows, human)


@packet.command("get")
@click.argument("case_id")
@click.argument("build_id", required=False)
@click.option("-o", "--output", type=click.Path(file_okay=False, path_type=Path), required=True, help="Folder.")
@click.option("--force", is_flag=True, help="Download into a folder that holds another build's files.")
@json_option
def packet_get(case_id: str, build_id: str | None, output: Path, force: bool, as_json: bool) -> None:
    """Download every part of a build (default: the latest), each verified against its SHA-256 and named after the
    build."""
    from ...tasks.packets.manifest import download_build

    doc = download_build(runtime(), case_id, build_id, output, force=force)

    def human() -> None:
        for f in doc["files"]:
            click.echo(f"{f['path']}  {f['bytes']:,} bytes  sha256 verified")

    emit(as_json, doc, human)


@packet.command("check")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--profile", default="eoir", show_default=True, help="Filing profile to check against.")
@click.option("--allow-missing-translations", is_flag=True, help="A missing translation is a warning, not an error.")
@click.option("--channel", default=None, help="Way of filing, for its size limit (default: the profile's).")
@json_option
def packet_check(
    files: tuple[Path, ...], profile: str, allow_missing_translations: bool, channel: str | None, as_json: bool
) -> None:
    """Check PDFs (one packet, or its parts in order) against a filing profile before filing."""
    from ...tasks.core.settings import load_settings
    from ...tasks.packets.check import check_packet
    from ...tasks.packets.profile import load_profile

    filing_profile = load_profile(load_settings(), profile).for_channel(channel)
    report = check_packet(list(files), filing_profile, expect_translations=not allow_missing_translations)
    doc = report.to_dict()

    def human() -> None:
        for f in report.findings:
            where = f"{f.file}" + (f", page {f.page}" if f.page else "")
            click.echo(f"{f.severity.upper():7} {f.code:22} {where}: {f.message}")
        errors = sum(f.severity == "error" for f in report.findings)
        click.echo(f"{'OK' if report.ok else 'NOT READY TO FILE'}: {len(files)} file(s), {errors} error(s).")

    emit(as_json, doc, human)
    if not report.ok:
        sys.exit(int(ExitCode.INPUT_REJECTED))
