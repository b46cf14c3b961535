"""`casefile deploy check` and `casefile migrate`: a practice's shared deployment (tasks/deploy)."""

from __future__ import annotations

import os
import sys

import click

from ...tasks.core.errors import DeploymentDown
from .output import emit, fail, home_settings, json_option


@click.group("deploy")
def deploy() -> None:
    """A practice's shared deployment: PostgreSQL, S3, a Prefect server and its workers."""


@deploy.command("check")
@click.option(
    "--workers",
    "min_workers",
    type=click.IntRange(0),
    default=1,
    show_default=True,
    help="Workers that must be online in the work pool (the setting work_pool).",
)
@json_option
def check(min_workers: int, as_json: bool) -> None:
    """Say what the settings point at and whether each part answers: the catalog database (and its schema), the
    search index, the object store (writable), the Prefect server, the work pool's workers and the SMTP server.
    Exit 0 when every part answers, 75 when one does not."""
    from ...tasks.core.settings import load_settings
    from ...tasks.deploy.check import check_deployment
    from ..prefect_env import local_server_url

    settings = load_settings()
    api = os.environ.get("PREFECT_API_URL") or settings.prefect_api_url or local_server_url(settings)
    parts = check_deployment(settings, prefect_api=api, min_workers=min_workers)
    down = [p.name for p in parts if not p.ok]

    def human() -> None:
        width = max(len(p.name) for p in parts)
        for p in parts:
            click.echo(f"{'ok  ' if p.ok else 'DOWN'} {p.name:<{width}}  {p.where}: {p.detail}")

    emit(as_json, {"ok": not down, "parts": [p.to_dict() for p in parts]}, human)
    if down:
        err = DeploymentDown(f"Not answering: {', '.join(down)} (see above).")
        if as_json:
            click.echo(f"error: {err.message}", err=True)
            sys.exit(int(err.exit_code))
        fail(err, False)


@click.command("migrate")
@click.option(
    "--to",
    "to",
    required=True,
    metavar="postgresql://USER@HOST:PORT/DB",
    help="The practice's PostgreSQL database (new and empty, or the one an interrupted run left).",
)
@click.option(
    "--store",
    required=True,
    metavar="s3://BUCKET/PREFIX",
    help="The practice's object store (S3 settings: endpoint, region, encryption as configured).",
)
@json_option
def migrate(to: str, store: str, as_json: bool) -> None:
    """Copy this (embedded) home into PostgreSQL and S3, and verify it: every object's SHA-256 read back from the
    store, every table's row count. The old home is only read. Interrupted, the same command resumes. At the end
    it prints the settings the practice's machines use from then on."""
    from ...tasks.deploy.migration import migrate_home
    from .output import runtime

    settings = home_settings()
    runtime()  # brings the home's catalog to this version's schema before it is read
    report = migrate_home(settings, to=to, store=store, progress=lambda m: click.echo(m, err=True))
    doc = {
        "catalog": report.catalog,
        "store": report.store,
        "tables": report.tables,
        "objects": report.objects,
        "object_bytes": report.object_bytes,
        "objects_copied": report.objects_copied,
        "bytes_copied": report.bytes_copied,
        "rows_copied": report.rows_copied,
        "search_pages": report.search_pages,
        "library_pages": report.library_pages,
        "seconds": round(report.seconds, 2),
        "mb_per_second": round(report.mb_per_second, 2),
        "settings": report.settings,
        "verified": True,
    }

    def human() -> None:
        rows = sum(report.tables.values())
        click.echo(
            f"Migrated and verified: {report.objects} objects ({report.object_bytes / 1e6:.1f} MB, SHA-256 read "
            f"back from {report.store}) and {rows} rows in {len(report.tables)} tables into {report.catalog}; "
            f"search index rebuilt ({report.search_pages} pages). The old home at {settings.home} is unchanged."
        )
        click.echo("Use the new deployment on every machine with:")
        for key, value in report.settings.items():
            click.echo(f"  {key}={value}")

    emit(as_json, doc, human)
