"""What every command shares: JSON or human output, typed errors to one message and an exit code, the runtime and
the home it uses (which must exist for a command that only reads; see tasks/core/home.py)."""

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
    from ...tasks.core.settings import Settings

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


_home_said: set[str] = set()  # homes already named on stderr by this process


def home_settings(*, creates: bool = False) -> Settings:
    """The settings, once the home they name is known to exist (else ``HomeNotFound``, unless the command
    ``creates`` one). Says on stderr which home is used when it is not the working directory's ``.casefile``."""
    from ...tasks.core.home import HomeNotFound, locate_home
    from ...tasks.core.settings import load_settings

    settings = load_settings()
    home = locate_home(settings)
    if not home.exists and not creates:
        raise HomeNotFound(home)
    if not home.in_working_directory and str(home.path) not in _home_said:
        _home_said.add(str(home.path))
        click.echo(f"Using the casefile home at {home.path} (from {home.source}).", err=True)
    return settings


def runtime(*, creates: bool = False) -> Runtime:
    """The runtime of the home in use, and this process's temporary folder inside the home's work folder (so
    temporary files of libraries and tools never hold client data outside the home, and a killed command's are
    removed next time). Commands that only read need an existing home; commands that create one (``creates``) say
    where they created it."""
    from ...tasks.core.home import locate_home
    from ...tasks.core.runtime import get_runtime
    from ...tasks.core.workdirs import process_tempdir

    settings = home_settings(creates=creates)
    new = creates and not locate_home(settings).exists
    rt = get_runtime(settings)
    if new:
        click.echo(
            f"Created a new casefile home at {settings.home}. Commands run from another folder use it with "
            f"CASEFILE_HOME={settings.home}",
            err=True,
        )
    process_tempdir(rt.settings.work_dir)
    # See run(): the imports are done. Everything allocated so far lives as long as the process: freeze it, so the
    # first collections do not walk the hundreds of thousands of objects the imports made.
    gc.freeze()
    gc.enable()
    return rt
