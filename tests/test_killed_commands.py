"""A `casefile` command killed with SIGKILL leaves nothing running: not its OCR process pool (nor the Tesseract those
workers run), not the temporary Prefect server it started. Real commands, real OCR, a real kill -9 of the command's
process alone (never its process group: what it started must go by itself)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest
from conftest import DEMO_DATA, new_case_cli

pytestmark = pytest.mark.slow  # the `casefile` command, Tesseract and a Prefect server

SAMPLE = DEMO_DATA / "sample"


def start_cli(*args: str, home: Path, env: dict[str, str], stderr: Path | None = None) -> subprocess.Popen[bytes]:
    full_env = dict(os.environ, CASEFILE_HOME=str(home), **env)
    for key in [k for k, v in env.items() if v == ""]:
        full_env.pop(key)
    exe = Path(sys.executable).with_name("casefile")
    with (stderr or Path(os.devnull)).open("wb") as err:
        return subprocess.Popen(
            [str(exe), *args],
            env=full_env,
            cwd=home.parent,
            stdout=subprocess.DEVNULL,
            stderr=err,
            start_new_session=True,  # its own group, so the test's kill can only be of the command's process
        )


def descendants(pid: int) -> list[psutil.Process]:
    try:
        found: list[psutil.Process] = psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    return found


def wait_for_descendant(
    proc: subprocess.Popen[bytes], match: Callable[[psutil.Process], bool], what: str, timeout: float = 180
) -> psutil.Process:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"the command ended (code {proc.returncode}) before {what} started")
        for child in descendants(proc.pid):
            try:
                if match(child):
                    return child
            except psutil.Error:
                continue
        time.sleep(0.05)
    pytest.fail(f"{what} did not start within {timeout:.0f} s")


def gone(process: psutil.Process) -> bool:
    try:
        return bool(process.status() == psutil.STATUS_ZOMBIE)  # ended; only its exit status is left for init
    except psutil.NoSuchProcess:
        return True


def assert_all_end(processes: list[psutil.Process], timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not all(gone(p) for p in processes):
        time.sleep(0.1)
    left = []
    for p in processes:
        if not gone(p):
            try:
                left.append(" ".join(p.cmdline())[:120])
            except psutil.Error:
                continue
    assert not left, f"still running {timeout:.0f} s after the kill: {left}"


def kill_command(proc: subprocess.Popen[bytes]) -> None:
    os.kill(proc.pid, signal.SIGKILL)  # the command's process only
    assert proc.wait(timeout=30) == -signal.SIGKILL


def cmdline(process: psutil.Process) -> str:
    return " ".join(process.cmdline())


def in_pool_worker(process: psutil.Process) -> bool:
    parent = process.parent()
    return process.name() == "tesseract" and parent is not None and "forkserver" in cmdline(parent)


def test_a_killed_add_leaves_no_ocr_worker_or_tesseract_running(home: Path, prefect_api: str) -> None:
    case_id = new_case_cli(home)
    proc = start_cli(
        "add", case_id, str(SAMPLE), home=home, env={"CASEFILE_OCR_WORKERS": "2", "CASEFILE_INGEST_WORKERS": "2"}
    )
    try:
        wait_for_descendant(proc, in_pool_worker, "Tesseract in an OCR pool worker")
        started = descendants(proc.pid)
        assert sum("forkserver" in cmdline(p) for p in started) >= 2  # the forkserver and at least one worker
        kill_command(proc)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert_all_end(started)


def test_a_killed_command_leaves_no_temporary_prefect_server(home: Path) -> None:
    """No Prefect server is configured or served: the command starts a temporary one, which must end with it."""
    case_id = new_case_cli(home)
    proc = start_cli(
        "add",
        case_id,
        str(SAMPLE / "medical_record_en.pdf"),
        home=home,
        env={"PREFECT_API_URL": "", "CASEFILE_PREFECT_API_URL": ""},
    )
    try:
        server = wait_for_descendant(
            proc, lambda p: "prefect.server.api.server:create_app" in cmdline(p), "the temporary Prefect server"
        )
        port = cmdline(server).split("--port ")[1].split()[0]
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not _answers(f"http://127.0.0.1:{port}/api/health"):
            time.sleep(0.1)
        assert _answers(f"http://127.0.0.1:{port}/api/health")
        started = descendants(proc.pid)
        kill_command(proc)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert_all_end(started)
    assert not _answers(f"http://127.0.0.1:{port}/api/health")


def test_a_command_that_finishes_stops_its_temporary_prefect_server(home: Path, tmp_path: Path) -> None:
    case_id = new_case_cli(home)
    log = tmp_path / "stderr.txt"
    proc = start_cli(
        "add",
        case_id,
        str(SAMPLE / "medical_record_en.pdf"),
        home=home,
        env={"PREFECT_API_URL": "", "CASEFILE_PREFECT_API_URL": ""},
        stderr=log,
    )
    server = wait_for_descendant(
        proc, lambda p: "prefect.server.api.server:create_app" in cmdline(p), "the temporary Prefect server"
    )
    assert proc.wait(timeout=300) == 0
    assert_all_end([server], timeout=5)
    assert "Beginning flow run" in log.read_text() and "View at" not in log.read_text()  # no link to a server gone


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 (loopback)
            return bool(response.status == 200)
    except OSError:
        return False
