"""A Prefect server on loopback under the project's home (SQLite), started and stopped by us.

Used by the tests (one server for the session, so each CLI process skips the ~5 s temporary server)
and by `casefile serve` (scheduled runs need a real server: the temporary one runs no scheduler).
This module does not import Prefect; the server runs as a child process.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from ..tasks.core.errors import ToolError, ToolTimeout
from .prefect_env import SERVER_URL_FILE, _server_alive


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_env(prefect_home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PREFECT_API_URL", None)
    env.update(
        PREFECT_HOME=str(prefect_home),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_UI_ENABLED="false",
    )
    return env


class LocalPrefectServer:
    """`prefect server start --host 127.0.0.1 --port N --no-ui` as a supervised child process."""

    def __init__(self, prefect_home: Path, port: int | None = None, log_path: Path | None = None) -> None:
        self.prefect_home = prefect_home
        self.port = port or free_port()
        self.api_url = f"http://127.0.0.1:{self.port}/api"
        self.log_path = log_path or prefect_home / "server.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 120.0) -> str:
        self.prefect_home.mkdir(parents=True, exist_ok=True)
        prefect_cli = Path(sys.executable).with_name("prefect")
        command = [
            str(prefect_cli) if prefect_cli.exists() else "prefect",
            "server",
            "start",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--no-ui",
            "--analytics-off",
        ]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=server_env(self.prefect_home),
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ToolError(
                    f"The Prefect server exited at start (code {self.process.returncode}); see {self.log_path}."
                )
            if _server_alive(self.api_url, timeout=1.0):
                (self.prefect_home / SERVER_URL_FILE).write_text(self.api_url + "\n")
                return self.api_url
            time.sleep(0.25)
        self.stop()
        raise ToolTimeout(f"The Prefect server did not answer within {timeout:.0f} s; see {self.log_path}.")

    def stop(self, timeout: float = 20.0) -> None:
        (self.prefect_home / SERVER_URL_FILE).unlink(missing_ok=True)
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def __enter__(self) -> LocalPrefectServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
