"""`casefile serve`: the supervisor of a Prefect server on loopback and of the runner that serves the deployments.

``Supervisor`` (run by `casefile serve` through ``serve_forever``; never imports Prefect):

- starts ``LocalPrefectServer`` (flows/prefect_server.py: `prefect server start` on 127.0.0.1, SQLite under
  ``$CASEFILE_HOME/prefect``; it writes the server-url file, so every other `casefile` command on this machine runs
  its flows there while serve is up), then the *runner* ``python -m casefile.flows.deployments`` against that
  server (flows/deployments.py: Prefect's ``serve()`` of the deployments). Prefect's runner installs its own SIGTERM
  handler and runs flow runs as its own subprocesses; a separate process keeps that machinery out of the
  supervisor, which only has to order the shutdown.
- Both children run in their own sessions (process groups), so Ctrl-C in a terminal reaches only the supervisor.
  On SIGINT or SIGTERM it stops the runner first (SIGTERM; Prefect pauses the schedules, which needs the server
  still up: the other order hangs at "Pausing all deployments"), then the server, and exits 0.
- If either child dies on its own, the supervisor stops the other and exits 1 naming the log file
  (``$CASEFILE_HOME/prefect/logs/server.log``, ``runner.log``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from types import FrameType

from ..tasks.core.errors import CasefileError, ExitCode, ToolError
from ..tasks.core.processes import module_command, module_env
from ..tasks.core.settings import Settings
from .prefect_env import local_server_url
from .prefect_server import LocalPrefectServer

log = logging.getLogger(__name__)

RUNNER_MODULE = "casefile.flows.deployments"  # run with ``python -m``: the runner (flows/deployments.py)
RUNNER_STOP_TIMEOUT = 60.0  # a chase in flight gets this long to finish its current e-mail


class ServeError(CasefileError):
    """`casefile serve` cannot start or a part of it stopped on its own."""

    exit_code = ExitCode.FAILURE


class Supervisor:
    """Starts the Prefect server and the runner, watches both, and stops them in order."""

    def __init__(
        self,
        settings: Settings,
        *,
        port: int | None = None,
        echo: Callable[[str], None] = lambda _msg: None,
        runner_env: dict[str, str] | None = None,
    ) -> None:
        self.settings = settings
        self.echo = echo
        self.runner_env = runner_env or {}
        self.log_dir = settings.prefect_home / "logs"
        self.server = LocalPrefectServer(settings.prefect_home, port=port, log_path=self.log_dir / "server.log")
        self.runner: subprocess.Popen[bytes] | None = None
        self.runner_log = self.log_dir / "runner.log"
        self._stop_requested = False

    def _request_stop(self, signum: int, _frame: FrameType | None) -> None:
        self._stop_requested = True

    def start(self) -> str:
        running = local_server_url(self.settings)
        if running:
            raise ServeError(
                f"A Prefect server for {self.settings.home} is already running at {running} (another `casefile "
                "serve`?). Stop that one first."
            )
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.echo(f"Starting the Prefect server (log: {self.server.log_path}) ...")
        api_url = self.server.start()
        self.echo(f"Prefect server at {api_url}")
        env = module_env()  # the runner imports the same casefile as this process
        env.update(
            PREFECT_API_URL=api_url,
            PREFECT_HOME=str(self.settings.prefect_home),
            PREFECT_SERVER_ANALYTICS_ENABLED="false",
            PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW="ignore",
            PREFECT_RESULTS_PERSIST_BY_DEFAULT="false",
            CASEFILE_HOME=str(self.settings.home),
        )
        env.update(self.runner_env)
        with self.runner_log.open("ab") as out:
            self.runner = subprocess.Popen(
                module_command(RUNNER_MODULE),
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        self.echo(f"Serving the scheduled flows (runner pid {self.runner.pid}, log: {self.runner_log})")
        return api_url

    def wait(self, poll: float = 0.5) -> int:
        """Until a stop signal (returns 0) or a child dies on its own (returns 1). Then stops both, in order."""
        previous = {sig: signal.signal(sig, self._request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        code = 0
        try:
            while not self._stop_requested:
                if self.runner is not None and self.runner.poll() is not None:
                    self.echo(f"The runner stopped on its own (code {self.runner.returncode}); see {self.runner_log}")
                    code = 1
                    break
                process = self.server.process
                if process is not None and process.poll() is not None:
                    self.echo(f"The Prefect server stopped on its own; see {self.server.log_path}")
                    code = 1
                    break
                time.sleep(poll)
        finally:
            self.stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return code

    def stop(self) -> None:
        """Runner first (it pauses its schedules through the server), then the server."""
        runner, self.runner = self.runner, None
        if runner is not None and runner.poll() is None:
            self.echo("Stopping the runner ...")
            os.killpg(runner.pid, signal.SIGTERM)
            try:
                runner.wait(timeout=RUNNER_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.killpg(runner.pid, signal.SIGKILL)
                runner.wait(timeout=10)
        if runner is not None:
            _kill_group_leftovers(runner.pid)
        self.echo("Stopping the Prefect server ...")
        self.server.stop()
        self.echo("Stopped.")


def _kill_group_leftovers(pgid: int) -> None:
    """Flow-run subprocesses the runner started live in its process group; none may outlive serve."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)


def serve_forever(settings: Settings, *, port: int | None = None, echo: Callable[[str], None] = print) -> int:
    """Start the server and the runner, and wait (``Supervisor.wait``); returns the exit code."""
    supervisor = Supervisor(settings, port=port, echo=echo)
    try:
        supervisor.start()
    except BaseException:
        supervisor.stop()
        raise
    return supervisor.wait()


def main() -> None:
    """``python -m casefile.flows.supervisor``: `casefile serve` without the command line."""
    from ..tasks.core.settings import load_settings

    settings = load_settings()
    try:
        sys.exit(serve_forever(settings))
    except (CasefileError, ToolError) as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        sys.exit(int(exc.exit_code))


if __name__ == "__main__":
    main()


__all__ = ["RUNNER_MODULE", "ServeError", "Supervisor", "serve_forever"]
