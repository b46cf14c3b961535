"""The README's first command: `casefile demo` runs the main job end to end on the fictional samples."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import run_cli
from pypdf import PdfReader

pytestmark = [pytest.mark.prefect, pytest.mark.slow]


def test_demo_runs_the_main_job_end_to_end(prefect_api: str, tmp_path: Path) -> None:
    home = tmp_path / "home"
    proc = run_cli("demo", "--json", home=home, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    doc = json.loads(proc.stdout)
    case_id = doc["case"]["id"]

    # It files for the packaged fictional practice on purpose, and says so.
    assert doc["practice"]["fictional"] is True and "casefile practice init" in doc["practice"]["note"]

    # Intake, OCR and search.
    assert doc["ingest"]["counts"]["stored"] == 6
    assert any(hit["document_id"] for hit in doc["search"]["hits"])

    # Record requests: e-mailed to the loopback server, one answer matched from the inbox, one overdue.
    requests = {r["type"]: r for r in doc["requests"]["requests"]}
    assert set(requests) == {"medical", "school", "foreign-civil", "police", "foia-uscis"}
    # The A-file: its determination is due within weeks, its delivery months later, after the filing deadline.
    foia = requests["foia-uscis"]
    assert (foia["due_kind"], foia["risk"]) == ("determination", "at-risk") and foia["expected_on"] > foia["due_on"]
    assert doc["case"]["records_needed_by"] < doc["case"]["filing_deadline"]
    assert requests["medical"]["status"] == "partially-received"
    assert doc["requests"]["received"]["linked"] == 1
    assert doc["requests"]["overdue"] == [requests["police"]["id"]]
    messages = doc["requests"]["mail"]["messages"]
    for kind in ("medical", "school", "foreign-civil"):  # each request went out with its letter attached
        sent = [m for m in messages if requests[kind]["id"] in m["subject"]]
        assert len(sent) == 1 and sent[0]["attachments"] >= 1, (kind, messages)

    # The exhibit list: every Spanish document has its translation linked.
    exhibits = doc["exhibits"]
    assert [e["label"] for e in exhibits][:3] == ["A", "B", "C"]
    assert all(e["translation"] for e in exhibits if e["language"] == "es")
    assert sum(e["language"] == "es" for e in exhibits) == 4

    # The finished EOIR packet is in the object store; download it, verify it, and check it against the profile.
    packet = doc["packet"]
    assert packet["to_sign"] == []  # the certificates are signed electronically
    assert packet["profile"] == "eoir" and packet["location"].endswith(f"packets/{case_id}/{packet['build_id']}/")
    out = tmp_path / "packet"
    got = run_cli("packet", "get", case_id, packet["build_id"], "-o", str(out), "--json", home=home)
    assert got.returncode == 0, got.stderr
    (part,) = json.loads(got.stdout)["files"]
    assert len(PdfReader(part["path"]).pages) == packet["pages"]
    # The country-conditions bundle is in it: numbered exhibits after the lettered ones, with its index.
    conditions = doc["conditions"]
    assert "domestic-violence" in conditions["dropped_by_newer_edition"]
    assert conditions["bundle"]["exhibits"] >= 4 and conditions["bundle"]["missing_translations"] == []
    manifest = json.loads((out / f"{packet['build_id']}-manifest.json").read_text())
    assert manifest["conditions"]["bundle_id"] == conditions["bundle"]["bundle_id"]
    labels = [e["label"] for e in manifest["exhibits"]]
    assert labels[len(exhibits) :] == [str(n) for n in range(1, conditions["bundle"]["exhibits"] + 1)]
    check = run_cli("packet", "check", part["path"], "--profile", "eoir", "--json", home=home)
    assert check.returncode == 0, check.stdout
    assert json.loads(check.stdout)["findings"] == [] or all(
        f["severity"] == "warning" for f in json.loads(check.stdout)["findings"]
    )

    # A letter that came after the filing: a supplemental packet continues the first one's letters and pages.
    supplement = doc["supplemental"]
    first_letters = [e["label"] for e in manifest["exhibits"] if not e["label"].isdigit()]
    next_letter = chr(ord(max(first_letters)) + 1)
    assert supplement["parts"][0]["first_page"] == packet["parts"][-1]["last_page"] + 1
    later_folder = tmp_path / "later"
    later = run_cli("packet", "get", case_id, supplement["build_id"], "-o", str(later_folder), "--json", home=home)
    assert later.returncode == 0, later.stderr
    late_manifest = json.loads((later_folder / f"{supplement['build_id']}-manifest.json").read_text())
    assert [e["label"] for e in late_manifest["exhibits"]] == [next_letter]
    assert late_manifest["continues"]["build_id"] == packet["build_id"]
    (late_part,) = json.loads(later.stdout)["files"]
    late_reader = PdfReader(late_part["path"])
    assert late_reader.page_labels[0] == str(supplement["parts"][0]["first_page"])
    assert "Supplemental filing" in late_reader.pages[0].extract_text()

    # The staff page: the demo made a fictional admin who can sign in on this home.
    web = doc["web"]
    assert web["user"] == "demo-admin" and web["url"] == "http://127.0.0.1:8080/"
    from casefile.tasks.core.runtime import get_runtime, reset_runtimes
    from casefile.tasks.core.settings import load_settings
    from casefile.tasks.staff.sessions import sign_in

    reset_runtimes()
    _token, who = sign_in(get_runtime(load_settings(home=home)), web["user"], web["password"], "127.0.0.1")
    assert who.role.value == "admin"
    reset_runtimes()
