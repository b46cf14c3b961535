"""`casefile serve`: a Prefect server on loopback and the process that serves the scheduled deployments.

Architecture (why two child processes and a supervisor that never imports Prefect):

- The supervisor (this module's ``Supervisor``, run by `casefile serve`) starts ``LocalPrefectServer``
  (flows/prefect_server.py: `prefect server start` on 127.0.0.1, SQLite under ``$CASEFILE_HOME/prefect``; it writes
  the server-url file, so every other `casefile` command on this machine runs its flows there while serve is up), then
  starts the *runner*: ``python -m casefile.flows.supervisor runner``, a child process that calls Prefect's
  ``serve()`` with the deployments below against that server. Prefect's runner installs its own SIGTERM handler and
  runs flow runs as its own subprocesses; keeping it in a separate process keeps that machinery out of the supervisor,
  which only has to order the shutdown.
- Both children run in their own sessions (process groups), so Ctrl-C in a terminal reaches only the supervisor.
  On SIGINT or SIGTERM it stops the runner first (SIGTERM, Prefect pauses the schedules and stops; that needs the
  server still up: the other order hangs at "Pausing all deployments"), then the server, and exits 0.
- If either child dies on its own, the supervisor stops the other and exits with an error naming the log file.

Deployments: ``chase-overdue`` on ``chase_cron`` in ``chase_timezone`` (default weekday mornings, 8:00
America/New_York), or every ``chase_interval_seconds`` when that is set (tests); and the inbox poll every
``inbox_poll_seconds`` when flows/inbox.py provides ``poll_inbox_flow``. Each has a concurrency limit of 1.
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
from typing import TYPE_CHECKING

from ..tasks.core.errors import CasefileError, ExitCode, ToolError
from ..tasks.core.settings import Settings
from .prefect_env import local_server_url
from .prefect_server import LocalPrefectServer

if TYPE_CHECKING:
    from prefect.deployments.runner import RunnerDeployment

log = logging.getLogger(__name__)

CHASE_DEPLOYMENT = "chase-overdue/scheduled"
INBOX_DEPLOYMENT = "poll-inbox/scheduled"
RUNNER_STOP_TIMEOUT = 60.0  # a chase in flight gets this long to finish its current e-mail


class ServeError(CasefileError):
    """`casefile serve` cannot start or a part of it stopped on its own."""

    exit_code = ExitCode.FAILURE


# The runner (child process; imports Prefect) -----------------------------------------------------------------
def build_deployments(settings: Settings) -> list[RunnerDeployment]:
    """The scheduled deployments, from the settings. Entry points are module paths (``casefile.flows.chase.
    chase_overdue``), so flow runs load the installed package whatever the working directory."""
    from datetime import timedelta

    from prefect.deployments.runner import RunnerDeployment
    from prefect.schedules import Cron, Interval
    from prefect.types.entrypoint import EntrypointType

    from .chase import chase_overdue
    from .inbox import poll_inbox_flow
    from .packet import build_packet_flow

    if settings.chase_interval_seconds:
        chase_schedule = Interval(timedelta(seconds=settings.chase_interval_seconds), timezone=settings.chase_timezone)
    else:
        chase_schedule = Cron(settings.chase_cron, timezone=settings.chase_timezone)
    chase_deployment = chase_overdue.to_deployment(
        name="scheduled",
        schedules=[chase_schedule],
        concurrency_limit=1,
        entrypoint_type=EntrypointType.MODULE_PATH,
        description="Mark overdue record requests, send follow-ups and escalations, e-mail each advocate a digest.",
        tags=["casefile", "requests"],
    )
    assert isinstance(chase_deployment, RunnerDeployment)  # called outside an event loop: never a coroutine
    poll_deployment = poll_inbox_flow.to_deployment(
        name="scheduled",
        schedules=[Interval(timedelta(seconds=settings.inbox_poll_seconds))],
        concurrency_limit=1,
        entrypoint_type=EntrypointType.MODULE_PATH,
        description="Take in what arrived in the inbox folder (and S3 prefix) and match it to requests.",
        tags=["casefile", "requests"],
    )
    assert isinstance(poll_deployment, RunnerDeployment)
    # No schedule: an advocate triggers it from the Prefect UI ("Run" with the case id and profile) or the API.
    packet_deployment = build_packet_flow.to_deployment(
        name="on-demand",
        entrypoint_type=EntrypointType.MODULE_PATH,
        description="Build, check and store one case's exhibit packet (parameters: case id, filing profile).",
        tags=["casefile", "packets"],
    )
    assert isinstance(packet_deployment, RunnerDeployment)
    return [chase_deployment, poll_deployment, packet_deployment]


def run_runner(settings: Settings) -> None:
    """Serve the deployments until SIGTERM (the supervisor's) or Ctrl-C. Needs PREFECT_API_URL set."""
    from .prefect_env import configure_prefect

    if not os.environ.get("PREFECT_API_URL"):
        raise ServeError("The runner needs PREFECT_API_URL (the supervisor sets it). Start it with `casefile serve`.")
    configure_prefect(settings)
    from prefect import serve

    deployments = build_deployments(settings)
    serve(*deployments, print_starting_message=False)


# The supervisor (no Prefect import) --------------------------------------------------------------------------
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
        env = dict(os.environ)
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
                [sys.executable, "-m", "casefile.flows.supervisor", "runner"],
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
    supervisor = Supervisor(settings, port=port, echo=echo)
    try:
        supervisor.start()
    except BaseException:
        supervisor.stop()
        raise
    return supervisor.wait()


def main(argv: list[str] | None = None) -> None:
    from ..tasks.core.settings import load_settings

    args = sys.argv[1:] if argv is None else argv
    settings = load_settings()
    if args[:1] == ["runner"]:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per API call otherwise
        run_runner(settings)
        return
    try:
        sys.exit(serve_forever(settings))
    except (CasefileError, ToolError) as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        sys.exit(int(exc.exit_code))


if __name__ == "__main__":
    main()


__all__ = ["CHASE_DEPLOYMENT", "INBOX_DEPLOYMENT", "ServeError", "Supervisor", "build_deployments", "serve_forever"]
