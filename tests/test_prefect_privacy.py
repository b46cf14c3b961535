"""Client data stays out of Prefect: a file named after a fictional client, with an A-number, is added and its
exhibit (titled, by default, after the file name) built into a packet through the real commands; then neither the
name nor the A-number nor the file name appears anywhere in Prefect's database: flow and task runs, their names
and parameters, states and their messages, logs, artifacts."""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
from pathlib import Path

import pytest
from conftest import A_NUMBER, CLIENT_NAME, DEMO_DATA, new_case_cli, practice_init_cli, run_cli

pytestmark = pytest.mark.prefect


def prefect_dump() -> str:
    db = Path(os.environ["PREFECT_HOME"]) / "prefect.db"
    with sqlite3.connect(db) as conn:
        # Everything Prefect stored, less its static catalogue of block types (whose examples hold "123456789").
        return "\n".join(line for line in conn.iterdump() if not line.startswith('INSERT INTO "block_'))


def test_no_client_name_a_number_or_title_reaches_prefect(
    prefect_api: str, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CASEFILE_OCR_ENABLED", "false")
    digits = re.sub(r"\D", "", A_NUMBER)
    named = tmp_path / "client files" / f"{CLIENT_NAME} A{digits} declaration.pdf"  # its folder is client data too
    named.parent.mkdir()
    shutil.copy(DEMO_DATA / "sample" / "medical_record_en.pdf", named)
    practice_init_cli(home)  # a practice of its own (the packaged sample is refused)
    case_id = new_case_cli(home)

    added = run_cli("add", case_id, str(named), "--json", home=home)
    assert added.returncode == 0, added.stderr
    plan = tmp_path / "plan.yaml"
    assert run_cli("exhibits", "plan", case_id, "-o", str(plan), home=home).returncode == 0
    assert CLIENT_NAME in plan.read_text()  # the default title is the file name: the client's name is in it
    assert run_cli("exhibits", "set", case_id, str(plan), home=home).returncode == 0
    built = run_cli("packet", "build", case_id, "--json", home=home)
    assert built.returncode == 0, built.stderr
    build_id = json.loads(built.stdout)["build_id"]

    dump = prefect_dump()
    batch_id = json.loads(added.stdout)["batch_id"]
    assert batch_id.lower() in dump.lower() and build_id.lower() in dump.lower()  # the scan sees these runs
    for secret in (CLIENT_NAME, "Quiroga", A_NUMBER, named.name, named.stem, str(named.parent)):
        assert secret not in dump, secret
        assert secret not in added.stderr + built.stderr, secret
    bare = re.compile(rf"(?<!\d)A?{digits}(?!\d)")  # the A-number as a number of its own, with or without an "A"
    assert not bare.search(dump) and not bare.search(added.stderr + built.stderr)
