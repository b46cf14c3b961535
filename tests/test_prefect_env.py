"""Where flows run: a configured server, the local one `casefile serve` started, or Prefect's temporary one."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from casefile.flows.prefect_env import local_server_url, running_server
from casefile.flows.prefect_server import SERVER_URL_FILE
from casefile.tasks.core.settings import Settings


class _Health(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/api/health" else 404)
        self.end_headers()
        self.wfile.write(b"true")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def health_server() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/api"
    finally:
        server.shutdown()
        server.server_close()


def test_running_local_server_is_used(tmp_path: Path, health_server: str) -> None:
    settings = Settings(home=tmp_path)
    assert local_server_url(settings) is None  # nothing recorded: Prefect's temporary server
    settings.prefect_home.mkdir(parents=True)
    (settings.prefect_home / SERVER_URL_FILE).write_text(health_server + "\n")
    assert local_server_url(settings) == health_server


def test_stale_server_file_is_ignored(tmp_path: Path, health_server: str) -> None:
    settings = Settings(home=tmp_path)
    settings.prefect_home.mkdir(parents=True)
    dead = health_server.rsplit(":", 1)[0] + ":1/api"  # nothing listens on port 1
    (settings.prefect_home / SERVER_URL_FILE).write_text(dead)
    assert local_server_url(settings) is None
    (settings.prefect_home / SERVER_URL_FILE).write_text("http://10.0.0.1:4200/api")  # not loopback: never probed
    assert local_server_url(settings) is None


def test_the_ui_address_serve_writes_is_read_with_its_api(tmp_path: Path, health_server: str) -> None:
    settings = Settings(home=tmp_path)
    settings.prefect_home.mkdir(parents=True)
    (settings.prefect_home / SERVER_URL_FILE).write_text(f"{health_server}\nhttp://localhost:4200\n")
    served = running_server(settings)
    assert served is not None and served.api_url == health_server and served.ui_url == "http://localhost:4200"
