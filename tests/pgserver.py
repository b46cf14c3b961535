"""A throwaway PostgreSQL cluster on loopback, for tests and benchmarks: Debian's own server binaries, a data folder
in a temporary directory, no service manager.

``initdb`` refuses to run as root, so when this process is root the cluster belongs to an unprivileged user (the
system's ``nobody``) and the server runs as that user through ``runuser``; otherwise it runs as the current user.
The server listens on 127.0.0.1 only (and on a socket in its own folder), with trust authentication for the one
role ``casefile``: nothing outside this machine can reach it, and it is deleted when the block ends. No pytest
import: the benchmarks use it too::

    with running_postgres() as cluster:
        url = cluster.new_database()   # postgresql+psycopg://casefile@127.0.0.1:PORT/db_...
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

HOST = "127.0.0.1"
ROLE = "casefile"
UNPRIVILEGED_USER = "nobody"
START_TIMEOUT = 60.0


class PostgresUnavailable(RuntimeError):
    """PostgreSQL's server binaries are not installed, or the cluster did not start."""


def server_bindir() -> Path:
    """Debian installs the server under /usr/lib/postgresql/<major>/bin (not on PATH): the newest one."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).resolve().parent
    raise PostgresUnavailable(
        "PostgreSQL is not installed: run ./bootstrap.sh setup (Debian packages postgresql and postgresql-contrib)."
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@dataclass
class PostgresCluster:
    folder: Path
    port: int
    process: subprocess.Popen[bytes]

    def url(self, database: str = "postgres", driver: str = "psycopg") -> str:
        scheme = f"postgresql+{driver}" if driver else "postgresql"
        return f"{scheme}://{ROLE}@{HOST}:{self.port}/{database}"

    def execute(self, sql: str, database: str = "postgres") -> None:
        import psycopg

        with psycopg.connect(self.url(database, driver=""), autocommit=True) as conn:
            conn.execute(sql.encode())

    def new_database(self) -> str:
        """A new, empty database (with unaccent available, as on a practice's server); returns its URL."""
        name = "db_" + uuid.uuid4().hex[:12]
        self.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, url: str) -> None:
        name = url.rsplit("/", 1)[1]
        self.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _as_owner(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", UNPRIVILEGED_USER, "--", *command]


def _wait_ready(cluster: PostgresCluster, log: Path) -> None:
    import psycopg

    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if cluster.process.poll() is not None:
            raise PostgresUnavailable(f"PostgreSQL exited at start: {log.read_text(errors='replace')[-2000:]}")
        try:
            with psycopg.connect(cluster.url(driver=""), connect_timeout=2):
                return
        except psycopg.OperationalError:
            time.sleep(0.1)
    raise PostgresUnavailable(f"PostgreSQL did not answer within {START_TIMEOUT:.0f} s")


@contextlib.contextmanager
def running_postgres(*, settings: dict[str, str] | None = None) -> Iterator[PostgresCluster]:
    """Start a cluster in a new temporary folder; stop it and delete the folder when the block ends."""
    bindir = server_bindir()
    folder = Path(tempfile.mkdtemp(prefix="casefile-pg-"))
    try:
        if os.geteuid() == 0:
            shutil.chown(folder, user=UNPRIVILEGED_USER)
        data = folder / "data"
        init = subprocess.run(
            _as_owner(
                [str(bindir / "initdb"), "-D", str(data), "-U", ROLE, "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"]
            ),
            capture_output=True,
            timeout=120,
            check=False,
        )
        if init.returncode != 0:
            raise PostgresUnavailable(f"initdb failed: {init.stderr.decode(errors='replace')[-2000:]}")
        port = _free_port()
        options = {
            "listen_addresses": HOST,
            "port": str(port),
            "unix_socket_directories": str(folder),
            "fsync": "off",  # a throwaway cluster: durability buys nothing here
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "max_connections": "200",
            **(settings or {}),
        }
        args = [arg for key, value in options.items() for arg in ("-c", f"{key}={value}")]
        log = folder / "server.log"
        log_fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o666)
        if os.geteuid() == 0:
            os.chown(log, int(subprocess.check_output(["id", "-u", UNPRIVILEGED_USER]).strip()), -1)
        try:
            process = subprocess.Popen(
                _as_owner([str(bindir / "postgres"), "-D", str(data), *args]),
                stdout=log_fd,
                stderr=log_fd,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        finally:
            os.close(log_fd)
        cluster = PostgresCluster(folder, port, process)
        try:
            _wait_ready(cluster, log)
            yield cluster
        finally:
            _stop(process)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    # SIGINT: PostgreSQL's "fast" shutdown (disconnect clients, stop). runuser passes the signal on.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, 2)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, 9)
        process.wait(timeout=10)
