"""Nothing lost, nothing doubled: `casefile add` killed with SIGKILL mid-batch, then re-run, ends in
exactly the state of a clean run."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import RESOURCES, new_case_cli, run_cli
from PIL import Image

from casefile.tasks.core.errors import ExitCode
from casefile.tasks.core.storage import LocalObjectStore

pytestmark = [pytest.mark.prefect, pytest.mark.slow]

FILES = 36


def make_corpus(folder: Path) -> Path:
    """Distinct noisy scans (JPEG and PNG) of a few hundred KB each: enough work to be killed mid-way."""
    folder.mkdir()
    rng = random.Random(7)
    for index in range(FILES):
        noise = bytes(rng.getrandbits(8) for _ in range(300 * 200))
        image = Image.frombytes("L", (300, 200), noise).resize((1500, 1000))
        suffix = "png" if index % 3 == 0 else "jpg"
        image.save(folder / f"scan-{index:02d}.{suffix}", dpi=(150, 150))
    shutil.copy(RESOURCES / "broken" / "truncated.pdf", folder / "scan-zz-truncated.pdf")  # quarantined, last
    return folder


def count_documents(home: Path) -> int:
    db = home / "catalog.db"
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as conn:
            return int(conn.execute("SELECT count(*) FROM documents").fetchone()[0])
    except sqlite3.OperationalError:
        return 0


def state(home: Path) -> dict[str, Any]:
    """Everything a user can observe, less ids and times that differ between two runs by design."""
    with sqlite3.connect(home / "catalog.db") as conn:
        docs = sorted(
            conn.execute(
                "SELECT sha256, status, kind, page_count, size_bytes, original_key, normalised_key, normalised_sha256,"
                " quarantine_reason FROM documents"
            ).fetchall()
        )
        pages = sorted(
            conn.execute(
                "SELECT d.sha256, p.number, p.width_pt, p.height_pt, p.rotation, p.image_width_px, p.image_height_px"
                " FROM pages p JOIN documents d ON d.id = p.document_id"
            ).fetchall()
        )
    store = LocalObjectStore(home / "objects")
    keys = list(store.list())
    for doc in docs:
        assert doc[5] in keys and (doc[6] is None or doc[6] in keys)  # every document's objects exist
    return {"documents": docs, "pages": pages, "objects": keys}


def test_kill_minus_9_then_rerun_equals_clean_run(
    prefect_api: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Intake is what is killed here; OCR of 72 pages of noise would only make the test slow (OCR resumes
    # the same way: a document's text is committed in one transaction, after its searchable PDF is stored).
    monkeypatch.setenv("CASEFILE_OCR_ENABLED", "false")
    corpus = make_corpus(tmp_path / "corpus")

    crashed_home = tmp_path / "crashed" / "home"
    crashed_home.parent.mkdir()
    case_id = new_case_cli(crashed_home, client="Fictional Crash Client", a_number="87654321")
    env = dict(os.environ, CASEFILE_HOME=str(crashed_home), CASEFILE_INGEST_WORKERS="1")
    exe = Path(sys.executable).with_name("casefile")
    proc = subprocess.Popen(
        [str(exe), "add", case_id, str(corpus)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 240
    while count_documents(crashed_home) < 4 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    assert proc.wait(timeout=30) == -signal.SIGKILL
    killed_at = count_documents(crashed_home)
    assert 4 <= killed_at < FILES, "the kill must land in the middle of the batch"

    rerun = run_cli("add", case_id, str(corpus), "--json", home=crashed_home)
    assert rerun.returncode == ExitCode.INPUT_REJECTED, rerun.stderr  # the quarantined file is never hidden
    counts = json.loads(rerun.stdout)["counts"]
    # The killed run never reported the files it stored: the re-run reports each file's real outcome, "stored",
    # not "duplicate" (which would read as "you had already added this").
    assert counts == {"stored": FILES, "quarantined": 1}, counts
    third = run_cli("add", case_id, str(corpus), "--json", home=crashed_home)
    assert third.returncode == ExitCode.INPUT_REJECTED
    assert json.loads(third.stdout)["counts"] == {"duplicate": FILES, "quarantined": 1}
    assert "Traceback" not in rerun.stderr + third.stderr

    clean_home = tmp_path / "clean" / "home"
    clean_home.parent.mkdir()
    clean_case = new_case_cli(clean_home, client="Fictional Crash Client", a_number="87654321")
    clean = run_cli("add", clean_case, str(corpus), "--json", home=clean_home)
    assert clean.returncode == ExitCode.INPUT_REJECTED, clean.stderr

    crashed, reference = state(crashed_home), state(clean_home)
    assert len(reference["documents"]) == FILES + 1
    assert crashed == reference
