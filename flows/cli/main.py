"""The `casefile` command line: the main group; each command lives in the module of its capability.

Commands that run no flow never import Prefect (it costs seconds). Every command that creates, shows
or lists takes --json and then prints exactly one JSON document on stdout; messages go to stderr.
"""

from __future__ import annotations

import gc
import json
import sys
import threading

import click

from .cases import case
from .check import check
from .conditions import conditions
from .demo import demo
from .deploy import deploy, migrate
from .documents import add, doc, docs, reindex, search
from .output import CasefileGroup, emit, json_option
from .packets import exhibits, packet, translation
from .practice import practice, translator
from .requests import request
from .serve import serve
from .users import user
from .web import web


@click.group(cls=CasefileGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="casefile")
def main() -> None:
    """casefile: build immigration case files from records, into court-ready exhibit packets.

    Data lives under $CASEFILE_HOME (default ./.casefile): the catalog, the object store and Prefect's
    state. Run `casefile demo` for a tour on fictional data.
    """


@main.command("config")
@json_option
def config_show(as_json: bool) -> None:
    """Show the effective settings (no secrets are stored in them)."""
    from ...tasks.core.home import locate_home
    from ...tasks.core.practice import practice_source
    from ...tasks.core.settings import load_settings

    settings = load_settings()
    home = locate_home(settings)
    doc_out = json.loads(settings.model_dump_json())
    doc_out["catalog_url"] = settings.catalog_url.split("@")[-1]
    doc_out["objects_path"] = str(settings.objects_path)
    doc_out["home_exists"] = home.exists
    doc_out["home_from"] = home.source
    practice_path, sample = practice_source(settings)
    doc_out["practice_file"] = str(settings.practice_file)
    doc_out["practice_read_from"] = "the packaged fictional sample (demo only)" if sample else str(practice_path)
    doc_out["template_overrides_in_use"] = str(settings.overrides_dir) if settings.overrides_dir else None

    def human() -> None:
        for key, value in doc_out.items():
            click.echo(f"{key} = {value}")
        if not home.exists:
            click.echo(f"(no casefile home at {home.path} yet: `casefile case new` or `casefile demo` creates it)")
        if sample:
            click.echo(
                f"(no practice set up: {settings.practice_file} does not exist; `casefile practice init` writes it, "
                f"and template overrides go in {settings.template_overrides or settings.practice_folder / 'templates'})"
            )

    emit(as_json, doc_out, human)


COMMANDS = (
    practice,
    case,
    add,
    docs,
    doc,
    search,
    reindex,
    exhibits,
    translation,
    translator,
    packet,
    request,
    conditions,
    serve,
    web,
    user,
    demo,
    deploy,
    migrate,
    check,
)
for command in COMMANDS:
    main.add_command(command)


def run() -> None:
    """The console script. The garbage collector is off while the command imports its libraries
    (SQLAlchemy and pydantic allocate many objects and free few: collecting then is a large share of start-up)
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
    and click is a noticeable share of a short command) when nothing needs it: Prefect was not imported (its temporary
    server and log handlers shut down at exit) and no other thread runs. The catalog's connections are closed
    first, and output is flushed. Otherwise returns, and the normal exit happens."""
    if "prefect" in sys.modules or threading.active_count() > 1:
        return
    import logging
    import os

    if "casefile.tasks.core.runtime" in sys.modules:
        sys.modules["casefile.tasks.core.runtime"].reset_runtimes()
    if "casefile.tasks.core.workdirs" in sys.modules:  # os._exit skips atexit: its temporary folder goes now
        sys.modules["casefile.tasks.core.workdirs"].release_process_tempdir()
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
