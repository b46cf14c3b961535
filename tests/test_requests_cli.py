"""`casefile request ...` end to end: the real console script, --json output, typed errors and exit codes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import DEMO_DATA, new_case_cli, run_cli

pytestmark = pytest.mark.prefect


def cli_json(home: Path, *args: str, code: int = 0) -> Any:
    proc = run_cli(*args, "--json", home=home)
    assert proc.returncode == code, proc.stderr
    return json.loads(proc.stdout)


def test_request_cli_round_trip(prefect_api: str, home: Path) -> None:
    case_id = new_case_cli(home)
    sent = cli_json(
        home, "request", "new", case_id, "--type", "medical", "--provider", "metro-general", "--channel", "mail",
        "--records", "ER visit 2024-05", "--sent", "2026-09-01",
    )  # fmt: skip
    ref = sent["id"]
    assert ref.startswith("RQ-") and sent["status"] == "sent"
    # Mailed: the hospital receives it five days later, and the 30 days the practice asks for count from then.
    assert (sent["sent_on"], sent["assumed_receipt_on"], sent["due_on"]) == ("2026-09-01", "2026-09-06", "2026-10-06")
    assert (sent["risk"], sent["at_risk"], sent["due_basis"]) == ("safe", False, "practice")
    assert sent["letter_document_id"] and sent["authorization_document_id"]

    draft = cli_json(home, "request", "new", case_id, "--type", "police", "--provider", "example-pd")
    assert draft["status"] == "draft" and draft["channel"] == "portal"

    listed = cli_json(home, "request", "list", "--case", case_id)
    assert [r["id"] for r in listed] == [ref, draft["id"]]  # soonest due first; drafts last
    assert [r["id"] for r in cli_json(home, "request", "list", "--overdue")] == [ref]

    # No "received" before "sent": a typed error, exit 2, one JSON document naming the request.
    refused = cli_json(home, "request", "update", draft["id"], "--status", "received", code=2)
    assert refused["error"]["type"] == "InvalidTransition" and draft["id"] in refused["error"]["message"]
    missing = cli_json(home, "request", "show", "RQ-22222222", code=3)
    assert missing["error"]["type"] == "RequestNotFound"

    updated = cli_json(home, "request", "update", ref, "--status", "acknowledged", "--note", "Called HIM office")
    assert updated["status"] == "acknowledged" and updated["events"][-1]["note"] == "Called HIM office"

    received = cli_json(home, "request", "receive", ref, str(DEMO_DATA / "sample" / "medical_record_en.pdf"))
    assert received["status"] == "received" and len(received["linked_documents"]) == 1
    assert received["ingest"]["counts"] == {"stored": 1}

    shown = cli_json(home, "request", "show", ref)
    kinds = [(e["kind"], e["to"]) for e in shown["events"]]
    assert kinds[0] == ("status", "draft") and ("status", "sent") in kinds and kinds[-1] == ("status", "received")
    assert any(e["kind"] == "received" and e["document_id"] == received["linked_documents"][0] for e in shown["events"])
    assert shown["allowed_next"] == ["closed"]
    docs = cli_json(home, "docs", case_id)
    assert {d["type"] for d in docs} == {"request", "medical"}

    # The draft is sent by hand through the portal, then recorded.
    portal = cli_json(home, "request", "send", draft["id"], "--on", "2026-11-20")
    assert (portal["status"], portal["sent_on"], portal["mailed"]) == ("sent", "2026-11-20", False)
    assert cli_json(home, "request", "inbox", case_id) == {"case_id": case_id, "items": []}


def test_poll_inbox_flow_links_by_file_name(prefect_api: str, home: Path) -> None:
    """The scheduled flow: files in $CASEFILE_HOME/inbox/<CASE-ID>/ go through the ingest flow and get linked."""
    import shutil

    from casefile.flows.inbox import poll_inbox_flow

    case_id = new_case_cli(home)
    ref = cli_json(
        home, "request", "new", case_id, "--type", "school", "--provider", "ps-example", "--sent", "2026-11-02"
    )["id"]
    folder = home / "inbox" / case_id
    folder.mkdir(parents=True)
    shutil.copy(DEMO_DATA / "sample" / "medical_record_en.pdf", folder / f"{ref}.pdf")
    summary = poll_inbox_flow()
    assert (summary["files"], summary["linked"], summary["requests"]) == (1, 1, [ref])
    assert poll_inbox_flow()["files"] == 0
    assert cli_json(home, "request", "show", ref)["status"] == "partially-received"


def test_a_detained_case_says_ask_the_court_until_its_date_is_set(prefect_api: str, home: Path) -> None:
    """The console script end to end: no court date, unknown risk everywhere; `case set` records it; FOIA routing."""
    case_id = new_case_cli(home, "--detained", "--hearing-time", "1:30 PM", "--advocate", "mrivera")
    shown = run_cli("case", "show", case_id, home=home)
    assert shown.returncode == 0 and "Filing deadline: filing date not set: ask the court" in shown.stdout
    assert "at 13:30" in shown.stdout
    listed = run_cli("case", "list", home=home)
    assert "filing date not set: ask the court" in listed.stdout
    sent = cli_json(
        home, "request", "new", case_id, "--type", "foia-ice", "--provider", "ice-foia", "--sent", "2026-11-02",
    )  # fmt: skip
    assert (sent["risk"], sent["advocate"], sent["due_kind"]) == ("unknown", "mrivera", "determination")
    human = run_cli("request", "list", "--case", case_id, home=home)
    assert "RISK UNKNOWN (filing date not set: ask the court)" in human.stdout
    at_risk = cli_json(home, "request", "list", "--at-risk")
    assert [r["id"] for r in at_risk] == [sent["id"]]

    updated = cli_json(home, "case", "set", case_id, "--filing-deadline", "2027-06-01")
    assert (updated["filing_deadline"], updated["filing_deadline_rule"]) == ("2027-06-01", "set by the court")
    routed = cli_json(home, "request", "update", sent["id"], "--routed-on", "2026-11-05")
    assert (routed["routed_on"], routed["due_on"], routed["risk"]) == ("2026-11-05", "2026-12-07", "safe")
    shown = run_cli("request", "show", sent["id"], home=home)
    assert (
        "determination due 2026-12-07 (by law)" in shown.stdout and "received by the holder 2026-11-02" in shown.stdout
    )
    bad = cli_json(home, "case", "set", case_id, "--hearing-time", "25:00", code=2)
    assert bad["error"]["type"] == "ValidationError"
