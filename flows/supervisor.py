"""`casefile serve`: the supervisor of a Prefect server (API and UI) and of the runner that serves the deployments.

``Supervisor`` (run by `casefile serve` through ``serve_forever``; never imports Prefect):

- takes the home's serve lock (``$CASEFILE_HOME/prefect/serve.lock``, an ``flock`` held while it runs): a second
  `casefile serve` on the same home is refused before it starts or writes anything, and names the running one;
- starts ``LocalPrefectServer`` (flows/prefect_server.py: `prefect server start` on ``serve_host``/``serve_port``,
  with the Prefect UI, SQLite under ``$CASEFILE_HOME/prefect``; it writes the server-url file, so every other
  `casefile` command on this machine runs its flows there while serve is up), then the *runner*
  ``python -m casefile.flows.deployments`` against that server (flows/deployments.py: Prefect's ``serve()`` of the
  deployments; flow runs are its subprocesses, in its process group).
- Both children run in their own sessions, so Ctrl-C in a terminal reaches only the supervisor; both end with it
  even if it is killed with SIGKILL (the server by ``PR_SET_PDEATHSIG``, the runner and its flow runs by a watchdog
  on the supervisor: tasks/core/processes.py). The supervisor is a child subreaper, so whatever its children leave
  behind is re-parented to it and stopped with the rest.
- On SIGINT, SIGTERM or SIGHUP (the terminal was closed) it stops, in this order: the server-url file goes (new
  commands start their own temporary server); the deployments are paused and runs due but not started are
  cancelled (no new run starts); flow runs in flight get ``serve_stop_grace_seconds`` (default 60) to finish. An
  idle runner is then ended; a busy one gets SIGTERM (Prefect cancels the runs still going: state Cancelled,
  "Runner is shutting down."); anything left of it is killed and a deployment run left in a running state is marked
  Crashed; then the server stops. Exit 0. A second signal skips what is left of the
  grace period. Messages go to stderr (ignored once the terminal is gone) and to ``logs/serve.log``.
- If either child dies on its own, the supervisor stops the other and exits 1 naming the log file
  (``$CASEFILE_HOME/prefect/logs/server.log``, ``runner.log``).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

from ..tasks.core.errors import CasefileError, ExitCode, ToolError
from ..tasks.core.processes import (
    become_subreaper,
    children,
    descendants,
    module_command,
    module_env,
    reap_children,
)
from ..tasks.core.settings import Settings
from .prefect_env import running_server
from .prefect_server import LocalPrefectServer, PrefectRest

log = logging.getLogger(__name__)

RUNNER_MODULE = "casefile.flows.deployments"  # run with ``python -m``: the runner (flows/deployments.py)
RUNNER_STOP_TIMEOUT = 30.0  # after the grace period: Prefect cancels what still runs and pauses its schedules
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
LOCK_FILE = "serve.lock"
CRASHED_MESSAGE = "casefile serve stopped before this run finished; it is safe to run it again."
NOT_STARTED_MESSAGE = "casefile serve stopped before this run started; run it again if it is still needed."
STALE_MESSAGE = "Its process ended (a killed casefile serve or command) before it finished; it is safe to run again."


class ServeError(CasefileError):
    """`casefile serve` cannot start or a part of it stopped on its own."""

    exit_code = ExitCode.FAILURE


class ServeBusy(ServeError):
    """Another `casefile serve` runs for this home."""


class ServeLock:
    """An ``flock`` on ``serve.lock`` under the Prefect home, held for the life of the supervisor (released by the
    kernel if it dies). The holder writes its pid and start time in it; a refused process only reads it."""

    def __init__(self, settings: Settings) -> None:
        self.path = settings.prefect_home / LOCK_FILE
        self.fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)  # no O_TRUNC: the holder's details stay
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").split()
            os.close(fd)
            who = f" (pid {holder[0]}, started {holder[1]})" if len(holder) >= 2 else ""
            raise ServeBusy(
                f"`casefile serve` is already running for {self.path.parent.parent}{who}. Stop that one first "
                "(Ctrl-C in its terminal, or kill -TERM with its pid), or use another home (CASEFILE_HOME)."
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {datetime.now(UTC).isoformat(timespec='seconds')}\n".encode(), 0)
        self.fd = fd

    def release(self) -> None:
        fd, self.fd = self.fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            os.close(fd)  # closing the descriptor releases the lock


class Supervisor:
    """Starts the Prefect server and the runner, watches both, and stops them in order."""

    def __init__(
        self,
        settings: Settings,
        *,
        host: str | None = None,
        port: int | None = None,
        ui_url: str | None = None,
        grace: float | None = None,
        echo: Callable[[str], None] = lambda _msg: None,
        runner_env: dict[str, str] | None = None,
    ) -> None:
        self.settings = settings
        self.echo = echo
        self.runner_env = runner_env or {}
        self.log_dir = settings.prefect_home / "logs"
        self.host = host if host is not None else settings.serve_host
        chosen_port = port if port is not None else settings.serve_port
        self.server = LocalPrefectServer(
            settings.prefect_home,
            port=chosen_port or None,
            log_path=self.log_dir / "server.log",
            host=self.host,
            ui=True,
            ui_url=ui_url or settings.serve_ui_url,
        )
        self.grace = settings.serve_stop_grace_seconds if grace is None else grace
        self.lock = ServeLock(settings)
        self.runner: subprocess.Popen[bytes] | None = None
        self.runner_log = self.log_dir / "runner.log"
        self.serve_log = self.log_dir / "serve.log"
        self._stop_requested = 0  # stop signals received
        self._subreaper = False
        self._others: set[int] = set()  # children this process had before (a test runner's): never ours to stop

    # Messages -----------------------------------------------------------------------------------------------
    def say(self, message: str) -> None:
        """To the terminal (if it is still there) and to serve.log."""
        with contextlib.suppress(OSError, ValueError):
            self.echo(message)
        with contextlib.suppress(OSError), self.serve_log.open("a") as out:
            out.write(f"{datetime.now(UTC).isoformat(timespec='seconds')} {message}\n")

    def _request_stop(self, signum: int, _frame: FrameType | None) -> None:
        self._stop_requested += 1

    # Start ----------------------------------------------------------------------------------------------------
    def start(self) -> str:
        self.lock.acquire()
        served = running_server(self.settings)
        if served is not None:  # a server nobody's lock covers (started by hand, or by an older casefile)
            self.lock.release()
            raise ServeBusy(
                f"A Prefect server for {self.settings.home} is already running at {served.api_url}. Stop it first."
            )
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._others = set(children(os.getpid()))
        self._subreaper = become_subreaper()
        if self.host not in ("127.0.0.1", "localhost", "::1"):
            self.say(
                f"WARNING: serving on {self.host or 'all interfaces'}: the Prefect UI and API have no login, and "
                "whoever reaches this port can see runs and start packet builds. Do this only behind a firewall or a "
                "reverse proxy that asks for a login (see the README: `casefile serve` from another machine)."
            )
        self.say(f"Starting the Prefect server (log: {self.server.log_path}) ...")
        api_url = self.server.start(publish=False)
        self._close_stale_runs(PrefectRest(api_url))
        self.server.publish()
        self.say(f"Prefect UI at {self.server.ui_url} (API {api_url})")
        env = module_env()  # the runner imports the same casefile as this process
        env.update(
            PREFECT_API_URL=api_url,
            PREFECT_UI_URL=self.server.ui_url,
            PREFECT_HOME=str(self.settings.prefect_home),
            PREFECT_SERVER_ANALYTICS_ENABLED="false",
            PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW="ignore",
            PREFECT_RESULTS_PERSIST_BY_DEFAULT="false",
            CASEFILE_HOME=str(self.settings.home),
            CASEFILE_SUPERVISOR_PID=str(os.getpid()),  # the runner ends with this process (flows/deployments.py)
        )
        env.update(self.runner_env)
        with self.runner_log.open("ab") as out:
            self.runner = subprocess.Popen(
                module_command(RUNNER_MODULE),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                start_new_session=True,  # its own process group: its flow runs are in it too
            )
        self.say(f"Serving the scheduled flows (runner pid {self.runner.pid}, log: {self.runner_log})")
        return api_url

    def _close_stale_runs(self, rest: PrefectRest) -> None:
        """Runs still "running" in the database before anything can run on this server were cut short by a serve
        that was killed (or a command that died): say so in Prefect, and never wait for them at the stop."""
        try:
            stale = rest.mark_all_crashed(STALE_MESSAGE)
        except OSError:
            return
        if stale:
            self.say(f"Marked {stale} flow run(s) left running by an earlier serve or command Crashed.")

    # Watch ----------------------------------------------------------------------------------------------------
    def run(self, poll: float = 0.5) -> int:
        """Start, then watch until a stop signal (returns 0) or a child dies on its own (returns 1); then stop
        everything, in order. The stop signals are caught from the start: one that comes while the server starts
        lets the start finish, then stops cleanly. A refused start (``ServeBusy``) touches nothing."""
        previous = {sig: signal.signal(sig, self._request_stop) for sig in STOP_SIGNALS}
        try:
            try:
                self.start()
            except ServeBusy:
                raise
            except BaseException:
                self.stop()
                raise
            return self._watch(poll)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _watch(self, poll: float) -> int:
        code = 0
        try:
            while not self._stop_requested:
                if self.runner is not None and self.runner.poll() is not None:
                    self.say(f"The runner stopped on its own (code {self.runner.returncode}); see {self.runner_log}")
                    code = 1
                    break
                process = self.server.process
                if process is not None and process.poll() is not None:
                    self.say(f"The Prefect server stopped on its own; see {self.server.log_path}")
                    code = 1
                    break
                reap_children(keep=self._popen_pids())  # orphans re-parented to us
                time.sleep(poll)
        finally:
            self.stop()
        return code

    # Stop -----------------------------------------------------------------------------------------------------
    def stop(self) -> None:
        """Drain (pause, grace period), then the runner, then what is left, then the server; release the lock."""
        try:
            self.server.withdraw()  # new commands no longer start flows on a server that is going away
            rest = PrefectRest(self.server.api_url) if self.server.process is not None else None
            runner, self.runner = self.runner, None
            idle = False
            if rest is not None and runner is not None and runner.poll() is None:
                idle = self._drain(rest, runner)
            if runner is not None:
                self._stop_runner(runner, idle=idle)
            if rest is not None:
                self._mark_abandoned(rest)
            self.say("Stopping the Prefect server ...")
            self.server.stop()
            self._kill_leftovers()
            self.say("Stopped.")
        finally:
            self.lock.release()

    def _popen_pids(self) -> set[int]:
        """Children reaped by someone else: ours by their Popen, those this process had before by their owner."""
        return self._others | {p.pid for p in (self.runner, self.server.process) if p is not None}

    def _kill_leftovers(self) -> None:
        """Whatever the runner's flow runs left behind and was re-parented to this subreaper."""
        if not self._subreaper:
            return
        spared = set(self._others)
        for pid in list(spared):
            spared.update(descendants(pid))
        for pid in descendants(os.getpid()):
            if pid not in spared:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
                    log.info("killed a leftover process (pid %d)", pid)
        reap_children(keep=self._popen_pids())

    def _drain(self, rest: PrefectRest, runner: subprocess.Popen[bytes]) -> bool:
        """No new run starts; the runs in flight get the grace period. A run counts as finished when its state is
        final *and* its process has exited. Returns whether the runner is idle (nothing left to cancel)."""
        try:
            rest.pause_deployments()
            rest.cancel_scheduled(NOT_STARTED_MESSAGE)
            in_flight = rest.flow_runs_in_flight()
        except OSError as exc:
            self.say(f"The Prefect server did not answer ({type(exc).__name__}); stopping without a grace period.")
            return False
        if not in_flight and not flow_run_processes(runner.pid):
            return True
        stop_requests = self._stop_requested
        names = ", ".join(sorted({r.get("name", "?") for r in in_flight})) or "finishing"
        self.say(
            f"Waiting up to {self.grace:.0f} s for {len(in_flight)} flow run(s) to finish ({names}); stop again to "
            "cut it short ..."
        )
        deadline = time.monotonic() + self.grace
        while time.monotonic() < deadline and self._stop_requested <= stop_requests:
            if not in_flight and not flow_run_processes(runner.pid):
                break
            time.sleep(0.5)
            reap_children(keep=self._popen_pids())
            try:
                in_flight = rest.flow_runs_in_flight()
            except OSError:
                return False
        if in_flight or flow_run_processes(runner.pid):
            self.say(f"{len(in_flight)} flow run(s) still running: the runner cancels them.")
            return False
        self.say("Every flow run finished.")
        return True

    def _stop_runner(self, runner: subprocess.Popen[bytes], *, idle: bool) -> None:
        """An idle runner is simply ended: its schedules are paused already and it has nothing to cancel (and
        Prefect's own shutdown would mark a run Cancelled whose process it still tracks, finished as it is).
        Otherwise SIGTERM: Prefect cancels the runs still going (state Cancelled), then the rest is killed."""
        if idle and runner.poll() is None:
            self.say("Stopping the runner (idle) ...")
        elif runner.poll() is None:
            self.say("Stopping the runner ...")
            with contextlib.suppress(ProcessLookupError):
                os.kill(runner.pid, signal.SIGTERM)  # the runner only: Prefect cancels its runs and pauses schedules
            try:
                runner.wait(timeout=RUNNER_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.say(f"The runner did not stop within {RUNNER_STOP_TIMEOUT:.0f} s; killing it.")
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(runner.pid, signal.SIGKILL)  # the runner, if still there, and its flow-run processes
        with contextlib.suppress(subprocess.TimeoutExpired):
            runner.wait(timeout=10)

    def _mark_abandoned(self, rest: PrefectRest) -> None:
        """Deployment runs still "running" once the runner is gone were cut short: say so in Prefect."""
        try:
            left = [r for r in rest.flow_runs_in_flight() if r.get("deployment_id")]
            for run in left:
                rest.mark_crashed(run["id"], CRASHED_MESSAGE)
        except OSError:
            return
        if left:
            self.say(f"Marked {len(left)} flow run(s) Crashed (stopped before they finished).")


def flow_run_processes(runner_pid: int) -> list[int]:
    """The runner's flow-run processes (Prefect starts each with multiprocessing's spawn)."""
    found = []
    for pid in children(runner_pid):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"spawn_main" in cmdline:
            found.append(pid)
    return found


def serve_forever(
    settings: Settings,
    *,
    host: str | None = None,
    port: int | None = None,
    ui_url: str | None = None,
    grace: float | None = None,
    echo: Callable[[str], None] = print,
) -> int:
    """Start the server and the runner, and wait (``Supervisor.run``); returns the exit code."""
    return Supervisor(settings, host=host, port=port, ui_url=ui_url, grace=grace, echo=echo).run()


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


__all__ = ["RUNNER_MODULE", "ServeBusy", "ServeError", "Supervisor", "serve_forever"]
