"""Prefect's environment, set before Prefect is imported.

Prefect is imported only by commands that run a flow (``import prefect`` costs ~1 s and the temporary
server ~5 s; see shared/PREFECT.md). Its home is under the project's home so a user's other Prefect work
is not mixed in. When a Prefect server is running (``casefile serve`` writes its URL to
``$CASEFILE_HOME/prefect/server-url``) or one is configured, flows run against it; otherwise Prefect
starts its temporary server for the process.
"""

from __future__ import annotations

import os
import urllib.request
from pathlib import Path

from ..tasks.core.settings import Settings

SERVER_URL_FILE = "server-url"


def _server_alive(api_url: str, timeout: float = 0.5) -> bool:
    try:
        with urllib.request.urlopen(api_url.rstrip("/") + "/health", timeout=timeout) as response:  # noqa: S310
            return bool(response.status == 200)
    except OSError:
        return False


def local_server_url(settings: Settings) -> str | None:
    path: Path = settings.prefect_home / SERVER_URL_FILE
    try:
        url = path.read_text().strip()
    except OSError:
        return None
    return url if url.startswith("http://127.0.0.1") and _server_alive(url) else None


def configure_prefect(settings: Settings) -> str:
    """Set PREFECT_* variables for this process; returns a description of where flows will run."""
    if "prefect" in __import__("sys").modules:
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
    api_url = os.environ.get("PREFECT_API_URL") or settings.prefect_api_url or local_server_url(settings)
    if api_url:
        os.environ["PREFECT_API_URL"] = api_url
        return f"Prefect server {api_url}"
    return "Prefect temporary local server"
