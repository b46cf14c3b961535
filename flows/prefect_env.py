"""Prefect's environment, set before Prefect is imported, and the server the flows of a command run on.

Prefect is imported only by commands that run a flow (``import prefect`` costs ~1 s and a temporary server ~5 s;
see shared/PREFECT.md). Its home is under the project's home so a user's other Prefect work is not mixed in.
Where flows run, first found:

1. a configured server (``PREFECT_API_URL``, or the setting ``prefect_api_url``);
2. the server of a running `casefile serve` on this machine: it writes its API URL and UI URL to
   ``$CASEFILE_HOME/prefect/server-url``; the flow-run links Prefect prints then open in its UI;
3. a temporary server for this command alone (flows/prefect_server.py ``TemporaryPrefectServer``): the one Prefect
   would start by itself, but started by casefile so that it ends with the command, even a killed one.
"""

from __future__ import annotations

import atexit
import os
import socket
import sys
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from ..tasks.core.settings import Settings
from .prefect_server import SERVER_URL_FILE, TemporaryPrefectServer, server_alive


def _on_this_machine(url: str) -> bool:
    """Whether ``url`` names this machine (loopback, or an address one of its interfaces has): only those are probed,
    so a stale file can never make a command wait on a remote address."""
    host = urllib.parse.urlsplit(url).hostname or ""
    if host in ("127.0.0.1", "localhost", "::1"):
        return True
    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((host, 0))
    except OSError:
        return False
    return True


@dataclass(frozen=True)
class RunningServer:
    """The Prefect server of a running `casefile serve`: where commands call its API and where people open its UI
    (empty when it serves none)."""

    api_url: str
    ui_url: str


def running_server(settings: Settings) -> RunningServer | None:
    path: Path = settings.prefect_home / SERVER_URL_FILE
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return None
    api_url = lines[0].strip() if lines else ""
    ui_url = lines[1].strip() if len(lines) > 1 else ""
    if not api_url.startswith("http://") or not _on_this_machine(api_url) or not server_alive(api_url):
        return None
    return RunningServer(api_url, ui_url)


def local_server_url(settings: Settings) -> str | None:
    server = running_server(settings)
    return server.api_url if server else None


def configure_prefect(settings: Settings) -> str:
    """Set PREFECT_* variables for this process (starting a temporary server when no server is up); returns a
    description of where flows will run."""
    if "prefect" in sys.modules:
        # Already imported (tests with a harness, or a second call): Prefect has read its settings.
        return os.environ.get("PREFECT_API_URL") or "already configured"
    settings.prefect_home.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("PREFECT_HOME", str(settings.prefect_home))
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW", "ignore")
    os.environ.setdefault("PREFECT_RESULTS_PERSIST_BY_DEFAULT", "false")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    os.environ.setdefault("PREFECT_CLI_COLORS", "false")
    os.environ.setdefault("PREFECT_TASKS_RUNNER_THREAD_POOL_MAX_WORKERS", str(settings.ingest_workers))
    api_url = os.environ.get("PREFECT_API_URL") or settings.prefect_api_url
    if api_url:
        os.environ["PREFECT_API_URL"] = api_url
        return f"Prefect server {api_url}"
    served = running_server(settings)
    if served is not None:
        os.environ["PREFECT_API_URL"] = served.api_url
        if served.ui_url:
            os.environ.setdefault("PREFECT_UI_URL", served.ui_url)  # "View at ..." links open in its UI
        return f"the Prefect server of `casefile serve`, {served.ui_url or served.api_url}"
    start_temporary_server(settings)
    return "Prefect temporary local server"


def start_temporary_server(settings: Settings) -> str:
    """Start a temporary Prefect server for this process (stopped at exit, killed with it) and point Prefect at it."""

    timeout = float(os.environ.get("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120"))
    server = TemporaryPrefectServer(settings.prefect_home)
    api_url = server.start(timeout=timeout)
    atexit.register(server.stop)
    os.environ["PREFECT_API_URL"] = api_url
    os.environ["PREFECT_UI_URL"] = ""  # it has no UI, and it is gone when the command ends: print no links to it
    return api_url
