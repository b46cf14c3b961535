"""An S3 outage in the middle of `casefile add`: one clear message and exit 75, no traceback on stderr; the re-run
completes with nothing lost.

The S3 server is moto's, over real HTTP, behind a relay (tests/s3server.py ``OutageProxy``) that stops mid-run:
casefile sees "connection refused" as when the server is down, while moto keeps the objects stored before (a real
store keeps them through an outage; moto's process forgets them all when it stops).
"""

from __future__ import annotations

import json
import os
import random
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import new_case_cli, run_cli
from PIL import Image
from s3server import OutageProxy

from casefile.tasks.core.errors import ExitCode

pytestmark = [pytest.mark.prefect, pytest.mark.s3]

FILES = 24


def scans(folder: Path) -> Path:
    folder.mkdir()
    rng = random.Random(13)
    for index in range(FILES):
        noise = bytes(rng.getrandbits(8) for _ in range(200 * 150))
        Image.frombytes("L", (200, 150), noise).resize((1200, 900)).save(folder / f"scan-{index:02d}.png")
    return folder


def stored_documents(home: Path) -> int:
    try:
        with sqlite3.connect(f"file:{home / 'catalog.db'}?mode=ro", uri=True, timeout=1) as conn:
            return int(conn.execute("SELECT count(*) FROM documents").fetchone()[0])
    except sqlite3.OperationalError:
        return 0


def test_an_s3_outage_mid_run_ends_with_one_message_and_exit_75_and_the_rerun_loses_nothing(
    prefect_api: str, moto_endpoint: str, s3_bucket: str, tmp_path: Path
) -> None:
    proxy = OutageProxy(moto_endpoint).start()
    env = {
        "CASEFILE_STORAGE_BACKEND": "s3",
        "CASEFILE_S3_ENDPOINT_URL": proxy.endpoint,
        "CASEFILE_S3_BUCKET": s3_bucket,
        "CASEFILE_S3_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "CASEFILE_OCR_ENABLED": "false",
        "CASEFILE_INGEST_WORKERS": "2",
    }
    home = tmp_path / "home"
    folder = scans(tmp_path / "scans")
    try:
        case_id = new_case_cli(home)
        stderr_path = tmp_path / "stderr.txt"
        with stderr_path.open("w") as stderr:
            proc = subprocess.Popen(
                [str(Path(sys.executable).with_name("casefile")), "add", case_id, str(folder), "--json"],
                env={**os.environ, **env, "CASEFILE_HOME": str(home)},
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
            )
            deadline = time.monotonic() + 240
            while stored_documents(home) < 3 and time.monotonic() < deadline and proc.poll() is None:
                time.sleep(0.02)
            proxy.stop()  # the object store goes away in the middle of the batch
            stdout, _ = proc.communicate(timeout=300)
        first = json.loads(stdout)
        errors = stderr_path.read_text()
        assert proc.returncode == ExitCode.TRANSIENT, errors
        assert "Traceback" not in errors
        (message,) = [line for line in errors.splitlines() if line.startswith("error:")]  # one message
        assert "file(s) were not taken in" in message and "object store" in message and "again" in message

        assert 3 <= first["counts"].get("stored", 0) < FILES
        failed = [i for i in first["items"] if i["outcome"] == "failed"]
        assert failed and all(i["reason"] == "transient" for i in failed)
        assert first["counts"].get("quarantined", 0) == 0  # nothing is blamed on the files

        proxy.start()
        rerun = run_cli("add", case_id, str(folder), "--json", home=home, env=env)
        assert rerun.returncode == 0, rerun.stderr
        counts = json.loads(rerun.stdout)["counts"]
        assert counts.get("stored", 0) + counts.get("duplicate", 0) == FILES
        health = run_cli("check", "--json", home=home, env=env)
        report = json.loads(health.stdout)
        assert report["ok"] and report["checked"]["documents"] == FILES, report["problems"]
        assert report["checked"]["document_objects"] == 2 * FILES  # every original and PDF, against its SHA-256
    finally:
        proxy.stop()
