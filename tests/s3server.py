"""Run moto's standalone S3 server as a real subprocess on loopback, for tests and the S3-mode demo.

The tests talk to it over real HTTP, so they exercise the same boto3 code paths (signing, pagination,
multipart uploads, presigned URLs) as a real bucket would, without touching the network: the server
binds 127.0.0.1 only and every client made here ignores proxy settings. No pytest import: the README
demo uses it too::

    from tests.s3server import make_s3_client, running_moto_server

    with running_moto_server() as endpoint:
        client = make_s3_client(endpoint)
        client.create_bucket(Bucket="casefile")
        ...
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
REGION = "us-east-1"
# moto accepts any credentials; these are set explicitly so a developer's real AWS credentials
# (environment, ~/.aws, instance role) are never picked up or sent anywhere.
DUMMY_ACCESS_KEY_ID = "testing"
DUMMY_SECRET_ACCESS_KEY = "testing"

STARTUP_TIMEOUT = 30.0
STOP_TIMEOUT = 5.0
_START_ATTEMPTS = 3


class MotoServerError(RuntimeError):
    """The moto server could not be started."""


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def loopback_opener() -> urllib.request.OpenerDirector:
    """A urllib opener that never goes through an HTTP(S)_PROXY from the environment."""
    return urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _answers_http(url: str) -> bool:
    try:
        with loopback_opener().open(url, timeout=1.0) as response:
            response.read()
    except urllib.error.HTTPError:
        return True  # any HTTP status means the server is up and parsing requests
    except (urllib.error.URLError, OSError):
        return False
    return True


def _tail(logfile: IO[bytes], limit: int = 2000) -> str:
    logfile.seek(0)
    return logfile.read().decode("utf-8", "replace")[-limit:]


def _stop(proc: subprocess.Popen[bytes], timeout: float = STOP_TIMEOUT) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        log.warning("moto server pid %s ignored SIGTERM; killing it", proc.pid)
        proc.kill()
        proc.wait(timeout=timeout)


def _start(logfile: IO[bytes], timeout: float) -> tuple[subprocess.Popen[bytes], str]:
    """Start one server and wait until it answers. Retries with a new port if the one picked was taken."""
    for _attempt in range(_START_ATTEMPTS):
        port = free_port()
        endpoint = f"http://{HOST}:{port}"
        # The same interpreter as ours, so the server is the moto installed next to the tests.
        cmd = [sys.executable, "-m", "moto.server", "-H", HOST, "-p", str(port)]
        # werkzeug logs every request; a file (not a pipe nobody reads) keeps the server from blocking.
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=logfile,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                break  # exited: most likely the port was taken between free_port() and bind
            if _answers_http(f"{endpoint}/moto-api/"):
                log.info("moto server pid %s listening on %s", proc.pid, endpoint)
                return proc, endpoint
            time.sleep(0.05)
        else:
            _stop(proc)
            raise MotoServerError(
                f"moto server did not answer on {endpoint} within {timeout:.0f} s. Output:\n{_tail(logfile)}"
            )
        log.warning("moto server exited with code %s on port %s; retrying", proc.returncode, port)
    raise MotoServerError(
        f"moto server failed to start after {_START_ATTEMPTS} attempts. Is moto[server] installed in "
        f"{sys.executable}? Output:\n{_tail(logfile)}"
    )


@contextlib.contextmanager
def running_moto_server(timeout: float = STARTUP_TIMEOUT) -> Iterator[str]:
    """Run moto's S3 server on a free loopback port for the duration of the block; yield its endpoint URL."""
    with tempfile.TemporaryFile(prefix="moto-server-", suffix=".log") as logfile:
        proc, endpoint = _start(logfile, timeout)
        try:
            yield endpoint
        finally:
            _stop(proc)


def make_s3_client(endpoint_url: str, *, max_attempts: int = 3) -> S3Client:
    """A boto3 S3 client for ``endpoint_url`` with dummy credentials, us-east-1 and no proxies."""
    import boto3
    from botocore.config import Config

    config = Config(
        region_name=REGION,
        signature_version="s3v4",
        s3={"addressing_style": "path"},  # bucket.127.0.0.1 would not resolve
        proxies={},  # never route loopback traffic through an HTTP(S)_PROXY from the environment
        retries={"max_attempts": max_attempts, "mode": "standard"},
        connect_timeout=5,
        read_timeout=30,
    )
    session = boto3.session.Session(
        aws_access_key_id=DUMMY_ACCESS_KEY_ID,
        aws_secret_access_key=DUMMY_SECRET_ACCESS_KEY,
        region_name=REGION,
    )
    return session.client("s3", endpoint_url=endpoint_url, config=config)


class OutageProxy:
    """A TCP relay on loopback in front of an S3 endpoint, to cut the endpoint off and bring it back: ``stop()``
    closes the listening socket and every open connection (clients see "connection refused", as when the server is
    down), ``start()`` listens again on the same port. The store behind it keeps its objects, as a real one does
    through an outage (moto forgets everything when its process stops)."""

    def __init__(self, target: str) -> None:
        import urllib.parse

        parsed = urllib.parse.urlsplit(target)
        self.target = (parsed.hostname or HOST, parsed.port or 80)
        self.port = free_port()
        self.endpoint = f"http://{HOST}:{self.port}"
        self._listener: socket.socket | None = None
        self._sockets: list[socket.socket] = []
        self._lock = __import__("threading").Lock()

    def start(self) -> OutageProxy:
        import threading

        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((HOST, self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
        return self

    def _accept(self, listener: socket.socket) -> None:
        import threading

        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # stopped
            try:
                upstream = socket.create_connection(self.target, timeout=10)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def stop(self) -> None:
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


def main() -> None:
    """``python -m tests.s3server``: moto with an empty ``casefile`` bucket, for trying S3 mode by hand."""
    with running_moto_server() as endpoint:
        make_s3_client(endpoint).create_bucket(Bucket="casefile")
        print(f"moto S3 server on {endpoint} with bucket 'casefile'. In another shell:")
        print(
            f"  export CASEFILE_STORAGE_BACKEND=s3 CASEFILE_S3_ENDPOINT_URL={endpoint} "
            f"AWS_ACCESS_KEY_ID={DUMMY_ACCESS_KEY_ID} AWS_SECRET_ACCESS_KEY={DUMMY_SECRET_ACCESS_KEY} "
            f"AWS_DEFAULT_REGION={REGION}"
        )
        print("Ctrl-C stops the server (and forgets every object).")
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(3600)


if __name__ == "__main__":
    main()
