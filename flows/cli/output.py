"""What every command shares: JSON or human output, typed errors to one message and an exit code, the runtime."""

from __future__ import annotations

import gc
import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from ...tasks.core.errors import CasefileError

if TYPE_CHECKING:
    from ...tasks.core.runtime import Runtime

F = TypeVar("F", bound=Callable[..., Any])

JsonDoc = dict[str, Any] | list[Any]


def emit(as_json: bool, doc: JsonDoc, human: Callable[[], None]) -> None:
    if as_json:
        click.echo(json.dumps(doc, indent=2, sort_keys=False, default=str))
    else:
        human()


def fail(err: CasefileError, as_json: bool) -> NoReturn:
    if as_json:
        click.echo(
            json.dumps(
                {
                    "error": {
                        "type": type(err).__name__,
                        "message": err.message,
                        "exit_code": int(err.exit_code),
                    }
                }
            )
        )
    click.echo(f"error: {err.message}", err=True)
    sys.exit(int(err.exit_code))


class CasefileGroup(click.Group):
    """Turns our typed errors into a message and an exit code, in one place."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CasefileError as err:
            fail(err, "--json" in sys.argv)


json_option: Callable[[F], F] = click.option(
    "--json", "as_json", is_flag=True, help="Print one JSON document on stdout."
)


def runtime() -> Runtime:
    """The runtime, and this process's temporary folder inside the home's work folder (so temporary files of
    libraries and tools never hold client data outside the home, and a killed command's are removed next time)."""
    from ...tasks.core.runtime import get_runtime
    from ...tasks.core.workdirs import process_tempdir

    rt = get_runtime()
    process_tempdir(rt.settings.work_dir)
    # See run(): the imports are done. Everything allocated so far lives as long as the process: freeze it, so the
    # first collections do not walk the hundreds of thousands of objects the imports made.
    gc.freeze()
    gc.enable()
    return rt
