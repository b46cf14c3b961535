"""Prefect API servers started and stopped by us, as children that end with the process that started them.

- ``LocalPrefectServer``: `prefect server start` (SQLite under the project's home), the scheduler and, for
  `casefile serve`, the Prefect UI; used by `casefile serve` and by the tests (one server for the session, so each
  CLI process skips the ~5 s temporary server).
- ``TemporaryPrefectServer``: what Prefect starts by itself for a process that has no API URL (uvicorn serving
  ``prefect.server.api.server:create_app`` on loopback, no UI, no services), started by casefile instead
  (flows/prefect_env.py ``configure_prefect``) so that it dies with the command: Prefect's own is a plain
  ``subprocess.Popen`` that outlives a ``kill -9`` of its parent, holding a port and the SQLite database.

Both are started from the main thread with ``PR_SET_PDEATHSIG`` (tasks/core/processes.py ``dies_with_parent``) and
in their own session, so a Ctrl-C in the terminal reaches only the process that owns them. This module does not
import Prefect.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..tasks.core.errors import ToolError, ToolTimeout
from ..tasks.core.processes import dies_with_parent

LOOPBACK = "127.0.0.1"
WILDCARD_HOSTS = ("0.0.0.0", "::", "")  # noqa: S104 (names we recognise, not a binding)
SERVER_URL_FILE = "server-url"  # under Prefect's home: the API URL and UI URL of a running `casefile serve`


def server_alive(api_url: str, timeout: float = 0.5) -> bool:
    """Whether a Prefect API answers its health check at ``api_url``."""
    try:
        with urllib.request.urlopen(api_url.rstrip("/") + "/health", timeout=timeout) as response:  # noqa: S310
            return bool(response.status == 200)
    except OSError:
        return False


def free_port(host: str = LOOPBACK) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_in_use(host: str, port: int) -> bool:
    """Whether ``port`` cannot be bound on ``host`` now (someone listens there)."""
    try:
        family, kind, proto, _name, address = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror:
        return False  # an unknown host: the server's own start says so
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError:
            return True
    return False


def local_host(host: str) -> str:
    """The address this machine's own commands use to reach a server bound to ``host``."""
    return LOOPBACK if host in (*WILDCARD_HOSTS, "localhost") else host


def server_env(prefect_home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PREFECT_API_URL", None)
    env.update(
        PREFECT_HOME=str(prefect_home),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_UI_ENABLED="false",
    )
    return env


class _ChildServer:
    """A server process we started: wait until it answers, stop it (SIGTERM to its group, then SIGKILL)."""

    process: subprocess.Popen[bytes] | None
    api_url: str
    log_path: Path

    def _spawn(self, command: list[str], env: dict[str, str]) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                start_new_session=True,
                preexec_fn=dies_with_parent(signal.SIGTERM),  # started from the main thread (see the module doc)
            )

    def _wait_ready(self, timeout: float, what: str) -> None:
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ToolError(f"{what} exited at start (code {self.process.returncode}); see {self.log_path}.")
            if server_alive(self.api_url, timeout=1.0):
                return
            time.sleep(0.2)
        self.stop()
        raise ToolTimeout(f"{what} did not answer within {timeout:.0f} s; see {self.log_path}.")

    def stop(self, timeout: float = 20.0) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


class LocalPrefectServer(_ChildServer):
    """`prefect server start --host H --port N` as a supervised child process.

    ``ui``: serve the Prefect UI too, telling the browser to reach the API at ``ui_url + "/api"`` (``ui_url``: the
    address people type, default ``http://<host>:<port>``; behind a reverse proxy, the proxy's). ``api_url`` is the
    address this machine's commands use. The server-url file (``server-url`` under the Prefect home: the API URL,
    then the UI URL) is written once the server answers, and removed by ``stop`` only if this instance wrote it.
    """

    def __init__(
        self,
        prefect_home: Path,
        port: int | None = None,
        log_path: Path | None = None,
        *,
        host: str = LOOPBACK,
        ui: bool = False,
        ui_url: str | None = None,
    ) -> None:
        self.prefect_home = prefect_home
        self.host = host
        self.port = port or free_port(local_host(host))
        self.api_url = f"http://{local_host(host)}:{self.port}/api"
        self.ui = ui
        self.ui_url = (ui_url or f"http://{local_host(host)}:{self.port}").rstrip("/")
        self.log_path = log_path or prefect_home / "server.log"
        self.process = None
        self._wrote_url_file = False

    @property
    def url_file(self) -> Path:
        return self.prefect_home / SERVER_URL_FILE

    def start(self, timeout: float = 120.0, *, publish: bool = True) -> str:
        """Start and wait until the server answers; with ``publish``, write the server-url file (else call
        ``publish`` when ready for other commands to use it)."""
        self.prefect_home.mkdir(parents=True, exist_ok=True)
        if port_in_use(self.host, self.port):
            raise ToolError(
                f"Port {self.port} on {self.host} is already in use (another Prefect server, or another program). "
                "Choose another with --port (or the setting serve_port)."
            )
        prefect_cli = Path(sys.executable).with_name("prefect")
        command = [
            str(prefect_cli) if prefect_cli.exists() else "prefect",
            "server",
            "start",
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--ui" if self.ui else "--no-ui",
            "--analytics-off",
        ]
        env = server_env(self.prefect_home)
        if self.ui:
            env.update(
                PREFECT_UI_ENABLED="true",
                PREFECT_UI_API_URL=self.ui_url + "/api",  # what the browser calls, through a tunnel or proxy too
                PREFECT_UI_URL=self.ui_url,
                # The UI's files are written (with the API URL in them) under the Prefect home, never into the
                # installation, which may be read-only.
                PREFECT_UI_STATIC_DIRECTORY=str(self.prefect_home / "ui"),
            )
        self._spawn(command, env)
        self._wait_ready(timeout, "The Prefect server")
        if publish:
            self.publish()
        return self.api_url

    def publish(self) -> None:
        """Write the server-url file: from now on, other commands on this machine run their flows here."""
        self.url_file.write_text(f"{self.api_url}\n{self.ui_url if self.ui else ''}\n")
        self._wrote_url_file = True

    def withdraw(self) -> None:
        """Remove the server-url file this instance wrote (new commands stop choosing this server)."""
        if self._wrote_url_file:
            self.url_file.unlink(missing_ok=True)
            self._wrote_url_file = False

    def stop(self, timeout: float = 20.0) -> None:
        self.withdraw()
        super().stop(timeout)

    def __enter__(self) -> LocalPrefectServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class PrefectRest:
    """The few calls of Prefect's REST API the supervisor of `casefile serve` makes, over urllib (the supervisor
    does not import Prefect). Every call has a timeout; a failed call raises OSError."""

    IN_FLIGHT = ("PENDING", "RUNNING", "CANCELLING")

    def __init__(self, api_url: str, timeout: float = 10.0) -> None:
        self.api_url = api_url.rstrip("/")
        self.timeout = timeout

    def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        request = urllib.request.Request(  # noqa: S310 (the server we started)
            self.api_url + path,
            data=json.dumps(body or {}).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
            payload = response.read()
        return json.loads(payload) if payload else None

    def pause_deployments(self) -> int:
        """Pause every deployment (no new scheduled run starts; Prefect deletes the runs it had scheduled ahead,
        and the runner's next start resumes them). Returns how many."""
        deployments = self.post("/deployments/filter", {})
        for deployment in deployments:
            self.post(f"/deployments/{deployment['id']}/pause_deployment")
        return len(deployments)

    def flow_runs_in_flight(self) -> list[dict[str, Any]]:
        """Flow runs pending, running or being cancelled (their ids, names and deployment ids)."""
        runs: list[dict[str, Any]] = self.post(
            "/flow_runs/filter", {"flow_runs": {"state": {"type": {"any_": list(self.IN_FLIGHT)}}}}
        )
        return runs

    def cancel_scheduled(self, message: str) -> int:
        """Cancel the deployment runs that should have started but did not (due now, or waiting for a concurrency
        slot: pausing a deployment leaves those); runs scheduled for later stay for the next serve. Returns how
        many."""
        due = {
            "state": {"type": {"any_": ["SCHEDULED"]}},
            "deployment_id": {"is_null_": False},
            "expected_start_time": {"before_": datetime.now(UTC).isoformat()},
        }
        waiting = {"state": {"name": {"any_": ["AwaitingConcurrencySlot"]}}, "deployment_id": {"is_null_": False}}
        runs = {r["id"]: r for query in (due, waiting) for r in self.post("/flow_runs/filter", {"flow_runs": query})}
        for run_id in runs:
            self.set_state(run_id, "CANCELLED", "Cancelled", message)
        return len(runs)

    def set_state(self, flow_run_id: str, kind: str, name: str, message: str) -> None:
        self.post(
            f"/flow_runs/{flow_run_id}/set_state",
            {"state": {"type": kind, "name": name, "message": message}, "force": True},
        )

    def mark_all_crashed(self, message: str) -> int:
        """Mark every flow run in flight Crashed (runs a killed serve, or a command that died, left "running");
        returns how many."""
        runs = self.flow_runs_in_flight()
        for run in runs:
            self.mark_crashed(run["id"], message)
        return len(runs)

    def mark_crashed(self, flow_run_id: str, message: str) -> None:
        self.set_state(flow_run_id, "CRASHED", "Crashed", message)


def _prefect_site_dir() -> str:
    """The folder that holds the ``prefect`` package, found without importing it (that costs about a second)."""
    import importlib.util

    spec = importlib.util.find_spec("prefect")
    if spec is None or not spec.submodule_search_locations:
        raise ToolError("Prefect is not installed in this Python environment. Reinstall casefile.")
    return str(Path(next(iter(spec.submodule_search_locations))).parent)


class TemporaryPrefectServer(_ChildServer):
    """Prefect's temporary server, as Prefect itself starts it (prefect/server/api/server.py
    ``SubprocessASGIServer``), but a child that ends with this process. Used by one command, then stopped."""

    ATTEMPTS = 3  # a free port can be taken between choosing it and binding it

    def __init__(self, prefect_home: Path) -> None:
        self.prefect_home = prefect_home
        self.log_path = prefect_home / "logs" / "temporary-server.log"
        self.process = None
        self.api_url = ""

    def start(self, timeout: float = 120.0) -> str:
        env = server_env(self.prefect_home)
        env.update(PREFECT__SERVER_EPHEMERAL="1", PREFECT__SERVER_FINAL="1")  # as Prefect's: no services, no UI
        for attempt in range(self.ATTEMPTS):
            port = free_port()
            self.api_url = f"http://{LOOPBACK}:{port}/api"
            command = [
                sys.executable,
                "-m",
                "uvicorn",
                "--app-dir",
                _prefect_site_dir(),
                "--factory",
                "prefect.server.api.server:create_app",
                "--host",
                LOOPBACK,
                "--port",
                str(port),
                "--log-level",
                "error",
                "--lifespan",
                "on",
            ]
            self._spawn(command, env)
            try:
                self._wait_ready(timeout, "Prefect's temporary server")
            except ToolTimeout:
                raise
            except ToolError:
                if attempt + 1 < self.ATTEMPTS and port_in_use(LOOPBACK, port):
                    continue  # the port was taken between choosing and binding it: another one
                raise
            return self.api_url
        raise AssertionError("unreachable")
