"""The overdue check against a real SMTP server on loopback: follow-ups per escalation step over simulated days,
escalation to the supervising attorney, one digest per advocate, channels, refusals, failures, and idempotence
(twice the same day; a real process killed mid-run and run again)."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import textwrap
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import pytest
from conftest import A_NUMBER, CLIENT_NAME
from pypdf import PdfReader
from smtpserver import LoopbackSmtp, ReceivedMessage
from sqlalchemy import select

from casefile.tasks.core.catalog import Document, OutboundMail, RecordRequest
from casefile.tasks.core.runtime import Runtime, get_runtime, reset_runtimes
from casefile.tasks.requests.chase import build_digest, run_chase
from casefile.tasks.requests.config import RequestConfig, request_config
from casefile.tasks.requests.lifecycle import create_request, transition
from casefile.tasks.requests.status import Status

SENT_ON = date(2026, 11, 2)  # a Monday; medical (30 calendar days) and court-disposition are due 2026-12-02
DUE = date(2026, 12, 2)
ADVOCATE = "ana.vega@example.org"
SUPERVISOR = "marta.rivera@example.org"
HOSPITAL = "him-requests@metro-general.example.org"


def new_request(
    runtime: Runtime,
    case_id: str,
    *,
    provider: str = "metro-general",
    record_type: str = "medical",
    sent_on: date = SENT_ON,
    advocate: str = "avega",
    channel: str | None = None,
) -> str:
    config = request_config(runtime)
    with runtime.catalog.session() as session:
        req = create_request(
            session,
            config,
            case_id=case_id,
            record_type=record_type,
            provider_key=provider,
            records="Emergency room visit, May 2024",
            channel=channel,
            advocate=advocate,
            actor="test",
        )
        transition(session, config, req, Status.SENT, actor="test", on=sent_on)
        return req.id


def request(runtime: Runtime, request_id: str) -> RecordRequest:
    with runtime.catalog.session() as session:
        req = session.get(RecordRequest, request_id)
        assert req is not None
        return req


def to(messages: list[ReceivedMessage], address: str) -> list[ReceivedMessage]:
    return [m for m in messages if address in m.rcpt_tos]


def pdf_pages(data: bytes) -> int:
    return len(PdfReader(io.BytesIO(data)).pages)


def assert_no_client_data(message: ReceivedMessage) -> None:
    for text in (message.subject, message.text):
        assert CLIENT_NAME not in text
        assert A_NUMBER not in text.replace("-", "")


@pytest.fixture
def config(runtime: Runtime) -> RequestConfig:
    return request_config(runtime)


def test_escalation_steps_over_days_email_and_mail(
    smtp_server: LoopbackSmtp, runtime: Runtime, case_id: str, config: RequestConfig
) -> None:
    steps = [s.days_after_due for s in config.record_type("medical").escalation]
    assert steps == [0, 10, 20]  # config/record_types.toml [escalation]: the days below follow it
    by_email = new_request(runtime, case_id)
    # Mailed five days earlier: the clerk receives it on SENT_ON (config/record_types.toml [receipt] mail = 5), and
    # its 30 days count from receipt.
    mailed_on = SENT_ON - timedelta(days=5)
    by_mail = new_request(
        runtime, case_id, provider="criminal-court-clerk", record_type="court-disposition", sent_on=mailed_on
    )
    assert request(runtime, by_mail).channel == "mail" and request(runtime, by_mail).due_on == DUE
    assert request(runtime, by_mail).holder_receipt_on == SENT_ON

    # The day before the due date: nothing to do, nothing to report.
    summary = run_chase(runtime, date(2026, 12, 1))
    assert summary.counts()["emails_sent"] == 0 and smtp_server.messages == []

    # The due date: follow-up 1 e-mailed to the hospital (letter attached), the court's letter stored to be posted.
    summary = run_chase(runtime, DUE)
    assert summary.followups_emailed == [f"{by_email}#1"] and summary.letters_to_post == [f"{by_mail}#1"]
    [followup] = to(smtp_server.messages, HOSPITAL)
    assert by_email in followup.subject and "follow-up 1" in followup.subject
    assert sorted(followup.rcpt_tos) == sorted([HOSPITAL, ADVOCATE])
    [(filename, mime, data)] = followup.attachments()
    assert mime == "application/pdf" and by_email in filename and pdf_pages(data) >= 2  # letter + cover sheet
    assert_no_client_data(followup)
    assert request(runtime, by_email).escalation_step == 1 and request(runtime, by_mail).escalation_step == 1
    with runtime.catalog.session() as session:  # the posted letter is a document of the case
        docs = session.scalars(select(Document).where(Document.case_id == case_id, Document.doc_type == "request"))
        assert any(by_mail in d.original_name for d in docs)
    [digest] = [m for m in smtp_server.messages if m.rcpt_tos == (ADVOCATE,)]
    assert digest.rcpt_tos == (ADVOCATE,) and by_mail in digest.text and "print and mail" in digest.text

    # The next days: overdue, no second follow-up before step 2; a digest each day.
    smtp_server.clear()
    summary = run_chase(runtime, date(2026, 12, 3))
    assert sorted(summary.overdue_marked) == sorted([by_email, by_mail])
    assert [m.rcpt_tos for m in smtp_server.messages] == [(ADVOCATE,)]
    assert request(runtime, by_email).status == "overdue"

    smtp_server.clear()
    summary = run_chase(runtime, date(2026, 12, 12))  # due + 10: follow-up 2
    assert summary.followups_emailed == [f"{by_email}#2"] and summary.letters_to_post == [f"{by_mail}#2"]
    assert "follow-up 2" in to(smtp_server.messages, HOSPITAL)[0].subject

    smtp_server.clear()
    summary = run_chase(runtime, date(2026, 12, 22))  # due + 20: the supervising attorney is told
    assert sorted(summary.escalated) == sorted([f"{by_email}#3", f"{by_mail}#3"])
    escalations = to(smtp_server.messages, SUPERVISOR)
    assert len(escalations) == 2 and all(ADVOCATE in m.rcpt_tos for m in escalations)
    assert {by_email, by_mail} == {m.subject.split(":")[0] for m in escalations}
    assert to(smtp_server.messages, HOSPITAL) == []  # the supervisor step does not write to the provider
    for m in escalations:
        assert_no_client_data(m)
    assert request(runtime, by_email).status == "escalated" and request(runtime, by_email).escalation_step == 3

    smtp_server.clear()
    run_chase(runtime, date(2027, 1, 15))  # all steps done: only the digest
    assert [m.rcpt_tos for m in smtp_server.messages] == [(ADVOCATE,)]


def test_catch_up_sends_only_the_latest_follow_up(smtp_server: LoopbackSmtp, runtime: Runtime, case_id: str) -> None:
    rid = new_request(runtime, case_id)
    summary = run_chase(runtime, date(2026, 12, 27))  # due + 25: the check did not run for weeks
    assert summary.followups_emailed == [f"{rid}#2"] and summary.escalated == [f"{rid}#3"]
    assert len(to(smtp_server.messages, HOSPITAL)) == 1
    assert request(runtime, rid).escalation_step == 3


def test_twice_the_same_day_sends_nothing_twice(smtp_server: LoopbackSmtp, runtime: Runtime, case_id: str) -> None:
    ids = [new_request(runtime, case_id) for _ in range(2)]
    first = run_chase(runtime, date(2026, 12, 3))
    count = len(smtp_server.messages)
    assert count == 3 and first.digests_sent == 1  # two follow-ups and one digest
    second = run_chase(runtime, date(2026, 12, 3))
    assert len(smtp_server.messages) == count and second.counts()["emails_sent"] == 0
    assert second.overdue_marked == [] and sorted(first.overdue_marked) == sorted(ids)


def test_digest_per_advocate_lists_overdue_and_at_risk(
    smtp_server: LoopbackSmtp, runtime: Runtime, case_id: str, config: RequestConfig
) -> None:
    overdue = new_request(runtime, case_id)
    # Sent 2027-01-20: due 2027-02-19, after the filing deadline of the 2027-03-04 hearing (30 days before).
    at_risk = new_request(runtime, case_id, sent_on=date(2027, 1, 20), advocate="jsmith")
    # Sent 2026-12-26: due 2027-01-25, the last day that leaves five whole business days before the 2027-02-02
    # deadline ([risk] margin), and not late today: neither.
    not_yet = new_request(runtime, case_id, sent_on=date(2026, 12, 26))
    assert request(runtime, at_risk).at_risk and not request(runtime, not_yet).at_risk

    today = date(2027, 1, 25)
    digest = build_digest(runtime, config, "avega", today)
    assert digest.overdue == [overdue] and digest.at_risk == [] and digest.message is not None
    summary = run_chase(runtime, today)
    assert summary.digests_sent == 2
    digests = {m.rcpt_tos: m for m in smtp_server.messages if len(m.rcpt_tos) == 1}
    ana, jordan = digests[(ADVOCATE,)], digests[("jordan.smith@example.org",)]
    assert "1 overdue, 0 at risk" in ana.subject and overdue in ana.text and at_risk not in ana.text
    assert "0 overdue, 1 at risk" in jordan.subject and at_risk in jordan.text and overdue not in jordan.text
    assert not_yet not in ana.text
    for m in (ana, jordan):
        assert_no_client_data(m)


def test_refused_provider_address_is_reported_not_retried(
    runtime: Runtime, case_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with LoopbackSmtp(refuse=(r"him-requests@.*",)) as server:
        for key, value in server.env().items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("CASEFILE_MAIL_FROM", "records@example.org")
        reset_runtimes()
        rt = get_runtime()
        rid = new_request(rt, case_id)
        summary = run_chase(rt, DUE)
        assert summary.rejected == [rid] and summary.followups_emailed == []
        assert request(rt, rid).escalation_step == 0  # the step is not recorded as done
        copy, digest = server.messages  # the advocate's copy of the follow-up went out; then the digest
        assert copy.rcpt_tos == (ADVOCATE,) and "follow-up 1" in copy.subject
        assert digest.rcpt_tos == (ADVOCATE,) and rid in digest.text and "refused" in digest.text
        transactions = server.transactions
        summary = run_chase(rt, date(2026, 12, 3))  # next day: not tried again, still reported
        assert summary.rejected == [rid]
        assert server.transactions == transactions + 1  # the day's digest only
        with rt.catalog.session() as session:
            row = session.scalar(select(OutboundMail).where(OutboundMail.request_id == rid))
            assert row is not None and (row.status, row.attempts) == ("rejected", 1)


def test_failed_send_leaves_the_request_as_it_was(
    runtime: Runtime, case_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from smtpserver import free_port

    port = free_port()
    for key, value in {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(port), "SMTP_TIMEOUT": "2"}.items():
        monkeypatch.setenv(f"CASEFILE_{key}", value)
    monkeypatch.setenv("CASEFILE_MAIL_FROM", "records@example.org")
    reset_runtimes()
    rt = get_runtime()
    rid = new_request(rt, case_id)
    summary = run_chase(rt, DUE)  # the SMTP server is down
    assert summary.failed == [rid] and summary.counts()["emails_sent"] == 0  # (nothing late yet: no digest)
    req = request(rt, rid)
    assert (req.status, req.escalation_step) == ("sent", 0)
    with LoopbackSmtp(port=port) as server:
        summary = run_chase(rt, DUE)
        assert summary.followups_emailed == [f"{rid}#1"] and summary.failed == []
        assert len(server.messages) == 1
    assert request(rt, rid).escalation_step == 1


CHASE_SCRIPT = textwrap.dedent(
    """
    import sys
    from datetime import date, timedelta
    from casefile.tasks.requests.chase import run_chase
    from casefile.tasks.core.runtime import get_runtime
    run_chase(get_runtime(), date.fromisoformat(sys.argv[1]))
    """
)


def test_killed_mid_run_then_rerun_sends_everything_once(
    smtp_server: LoopbackSmtp, runtime: Runtime, case_id: str
) -> None:
    """A real chase process is killed (SIGKILL) while its second e-mail is in the middle of its SMTP session (the
    server holds the RCPT answer), then run again: every e-mail arrives, none twice."""
    ids = [new_request(runtime, case_id) for _ in range(3)]
    today = date(2026, 12, 3)
    smtp_server.rcpt_delay = 0.5
    proc = subprocess.Popen([sys.executable, "-c", CHASE_SCRIPT, today.isoformat()], env=dict(os.environ))
    try:
        assert smtp_server.wait_for(2, timeout=60, transactions=True), "the chase never started its second e-mail"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    assert len(smtp_server.messages) == 1  # the first went out; the second was cut off before the server had it
    smtp_server.rcpt_delay = 0
    reset_runtimes()
    summary = run_chase(get_runtime(), today)
    messages = smtp_server.messages
    assert len(messages) == 4  # three follow-ups and one digest, in all
    assert all(count == 1 for count in Counter(m.message_id for m in messages).values())
    assert sorted(m.subject.split(":")[0] for m in to(messages, HOSPITAL)) == sorted(ids)
    assert summary.counts()["emails_sent"] == 3 and summary.overdue_marked == []  # marked by the killed run
    with runtime.catalog.session() as session:
        rows = list(session.scalars(select(OutboundMail)))
        assert sorted(r.status for r in rows) == ["sent"] * 4
    assert all(request(runtime, rid).escalation_step == 1 for rid in ids)


def test_chase_once_against_a_mail_sink_keeps_eml_files(runtime: Runtime, case_id: str, tmp_path: Path) -> None:
    from dataclasses import replace

    rid = new_request(runtime, case_id)
    with LoopbackSmtp(folder=tmp_path / "sent") as server:
        summary = run_chase(replace(runtime, settings=server.apply(runtime.settings)), date(2026, 12, 3))
        messages = server.messages
    assert summary.followups_emailed == [f"{rid}#1"] and summary.digests_sent == 1
    assert len(messages) == 2 and len(list((tmp_path / "sent").glob("*.eml"))) == 2
