"""The `casefile` console script, run as a user runs it (subprocesses, real flows, real files)."""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import A_NUMBER, CLIENT_NAME, DEMO_DATA, RESOURCES, new_case_cli, run_cli

from casefile.tasks.core.errors import ExitCode

pytestmark = pytest.mark.slow  # every test runs the `casefile` command in a subprocess

SAMPLE = DEMO_DATA / "sample"
BROKEN = RESOURCES / "broken"


def imported_modules(*args: str, home: Path) -> set[str]:
    """Module names a CLI invocation imports (python -X importtime)."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "casefile.flows.cli.main", *args],
        capture_output=True,
        text=True,
        env={"CASEFILE_HOME": str(home), "PATH": "/usr/bin:/bin"},
        timeout=60,
        check=False,
    )
    return {line.split("|")[-1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")}


def test_commands_without_flows_do_not_import_prefect(home: Path) -> None:
    case_id = new_case_cli(home)
    for args in (["--help"], ["docs", case_id], ["case", "show", case_id, "--json"], ["search", "amenaza"]):
        modules = imported_modules(*args, home=home)
        assert "click" in modules  # the measurement saw the imports at all
        assert not {m for m in modules if m == "prefect" or m.startswith("prefect.")}, args


def test_case_new_show_list_json(home: Path) -> None:
    case_id = new_case_cli(home, "--judge", "Hon. Fictional")
    assert case_id.startswith("C-") and len(case_id) == 8
    shown = json.loads(run_cli("case", "show", case_id.lower(), "--json", home=home).stdout)
    assert shown["id"] == case_id
    assert shown["a_number"] == "A123-456-789"
    assert shown["filing_deadline"] == "2027-02-02"
    listed = json.loads(run_cli("case", "list", "--json", home=home).stdout)
    assert [c["id"] for c in listed] == [case_id]
    docs = json.loads(run_cli("docs", case_id, "--json", home=home).stdout)
    assert docs == []


def test_bad_input_gives_typed_exit_codes(home: Path) -> None:
    bad = run_cli(
        "case",
        "new",
        "--client",
        "X",
        "--a-number",
        "12-34",
        "--court",
        "NY",
        "--hearing",
        "2027-03-04",
        "--hearing-type",
        "individual",
        "--json",
        home=home,
    )
    assert bad.returncode == ExitCode.USAGE
    assert json.loads(bad.stdout)["error"]["type"] == "ValidationError"
    assert "8 or 9 digits" in bad.stderr
    missing = run_cli("case", "show", "C-NOPE22", home=home)
    assert missing.returncode == ExitCode.NOT_FOUND
    assert "Traceback" not in missing.stderr


@pytest.mark.prefect
def test_add_reports_each_file_and_keeps_secrets_out_of_logs(prefect_api: str, home: Path, tmp_path: Path) -> None:
    # File and folder names carry the client's name and A-number, as real ones often do.
    inbox = tmp_path / f"{CLIENT_NAME} {A_NUMBER}"
    inbox.mkdir()
    shutil.copy(SAMPLE / "medical_record_en.pdf", inbox / f"{CLIENT_NAME} medical A{A_NUMBER}.pdf")
    shutil.copy(SAMPLE / "phone_photo_rotated.jpg", inbox / "Quiroga photo.jpg")
    shutil.copy(BROKEN / "truncated.pdf", inbox / "Quiroga truncated.pdf")
    case_id = new_case_cli(home)

    proc = run_cli("add", case_id, str(inbox), home=home)
    assert proc.returncode == ExitCode.INPUT_REJECTED, proc.stderr
    assert proc.stdout.count("[ok  ]") == 2
    assert "[QUAR]" in proc.stdout and "truncated" in proc.stdout
    batch_id = proc.stdout.split("Batch ")[1].split()[0]

    # Prefect's own database (runs, task runs, logs, artifacts) and everything printed on stderr.
    prefect_db = Path(__import__("os").environ["PREFECT_HOME"]) / "prefect.db"
    with sqlite3.connect(prefect_db) as conn:
        logs = "\n".join(row[0] for row in conn.execute("SELECT message FROM log"))
        # Everything Prefect stored, less its static block catalogue (whose code examples happen to
        # contain "123456789").
        dump = "\n".join(line for line in conn.iterdump() if not line.startswith('INSERT INTO "block_'))
    assert batch_id in logs  # the scan sees this run's logs
    for secret in (CLIENT_NAME, "Quiroga", A_NUMBER, str(inbox)):
        assert secret not in proc.stderr
        assert secret not in logs
        assert secret not in dump
    # The bare digits, as a number of their own (Prefect's schema examples contain "sk-1234567890").
    bare = re.compile(r"(?<!\d)A?123456789(?!\d)")
    assert not bare.search(proc.stderr) and not bare.search(logs) and not bare.search(dump)

    again = run_cli("add", case_id, str(inbox / "Quiroga photo.jpg"), "--json", home=home)
    assert again.returncode == 0
    report = json.loads(again.stdout)
    assert report["counts"] == {"duplicate": 1}


@pytest.mark.prefect
def test_doc_get_verifies_sha256(prefect_api: str, home: Path, tmp_path: Path) -> None:
    case_id = new_case_cli(home)
    assert run_cli("add", case_id, str(SAMPLE / "phone_photo_letter.jpg"), home=home).returncode == 0
    (doc,) = json.loads(run_cli("docs", case_id, "--json", home=home).stdout)

    pdf_out = tmp_path / "out.pdf"
    got = run_cli("doc", "get", doc["id"], "-o", str(pdf_out), "--json", home=home)
    assert got.returncode == 0, got.stderr
    assert json.loads(got.stdout)["verified"] is True
    assert pdf_out.read_bytes().startswith(b"%PDF-")
    orig_out = tmp_path / "orig.jpg"
    assert run_cli("doc", "get", doc["id"], "--original", "-o", str(orig_out), home=home).returncode == 0
    assert orig_out.read_bytes() == (SAMPLE / "phone_photo_letter.jpg").read_bytes()

    # Tamper with the stored PDF: the download refuses and writes nothing.
    stored = home / "objects" / doc["normalised_key"]
    stored.write_bytes(stored.read_bytes() + b"tampered")
    bad_out = tmp_path / "bad.pdf"
    bad = run_cli("doc", "get", doc["id"], "-o", str(bad_out), home=home)
    assert bad.returncode == ExitCode.INTEGRITY
    assert not bad_out.exists()
    assert not list(tmp_path.glob(".bad.pdf*"))
