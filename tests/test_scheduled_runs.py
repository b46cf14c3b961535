"""Scheduled work that fails tells someone, and a replayed day changes nothing unless confirmed.

Real flow runs (the session's Prefect server), a real SMTP server on loopback (or none at all: a closed port), and
an object store that cannot be reached (an S3 endpoint on a closed port). A failed overdue check or inbox poll is
kept in the catalog, shown by `casefile request list` and `case show`, e-mailed to the practice once per series of
failures when mail works, and ends its flow run in a Failed state carrying the job and the error type only.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any, cast

import pytest
from click.testing import CliRunner
from conftest import A_NUMBER, CLIENT_NAME
from smtpserver import LoopbackSmtp, free_port
from sqlalchemy import func, select
from test_chase import HOSPITAL, SENT_ON, new_request

from casefile.flows.cli.main import main as cli
from casefile.tasks.core.catalog import (
    AuditEvent,
    Document,
    OutboundMail,
    RecordRequest,
    RequestEvent,
    ScheduledRun,
)
from casefile.tasks.core.runtime import Runtime, reset_runtimes
from casefile.tasks.requests import scheduled

pytestmark = pytest.mark.prefect

PRACTICE_EMAIL = "records@example.org"  # config/practice.toml


def catalog_state(rt: Runtime) -> dict[str, Any]:
    """Everything a chase could change: request states and steps, events, documents, the mail ledger."""
    with rt.catalog.session() as session:
        return {
            "requests": sorted(
                (r.id, r.status, r.escalation_step) for r in session.scalars(select(RecordRequest)).all()
            ),
            "events": session.scalar(select(func.count(RequestEvent.id))),
            "documents": session.scalar(select(func.count(Document.id))),
            "mail": session.scalar(select(func.count(OutboundMail.id))),
            "audit": session.scalar(select(func.count(AuditEvent.id))),
        }


def cli_run(*args: str) -> Any:
    """The real command, in this process (the flows it would run are not involved here)."""
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


# 17. A replayed day is a dry run unless confirmed ------------------------------------------------------------
def test_a_replayed_day_reports_what_it_would_do_and_changes_nothing_until_confirmed(
    prefect_api: str, smtp_server: LoopbackSmtp, runtime: Runtime, case_id: str
) -> None:
    from prefect.artifacts import Artifact

    from casefile.flows.chase import DRY_RUN_ARTIFACT_KEY, chase_overdue

    by_email = sorted(new_request(runtime, case_id) for _ in range(2))
    # Mailed 5 days earlier: with the mailing days its receipt, and so its due date, is the e-mailed ones'.
    by_post = new_request(runtime, case_id, channel="mail", sent_on=SENT_ON - timedelta(days=5))
    before = catalog_state(runtime)
    replay = chase_overdue(today="2026-12-03")
    assert replay["dry_run"] is True and "confirm" in replay["reason"]
    would = replay["would"]
    assert sorted(would["mark_overdue"]) == sorted([*by_email, by_post])
    assert would["email_followups"] == [f"{r}#1" for r in by_email]
    assert would["store_letters_to_post"] == [f"{by_post}#1"]
    assert would["send_digests_to"] == ["avega"]
    assert catalog_state(runtime) == before  # not a state, an event, a letter or a ledger row
    assert smtp_server.messages == []
    artifact = cast(Artifact | None, Artifact.get(DRY_RUN_ARTIFACT_KEY))
    assert artifact is not None and isinstance(artifact.data, str) and "DRY RUN" in artifact.data
    for secret in (CLIENT_NAME, A_NUMBER):
        assert secret not in artifact.data

    done = chase_overdue(today="2026-12-03", confirm=True)  # what the dry run said, now for real
    assert done["overdue_marked"] == 3 and done["followups_emailed"] == 2 and done["letters_to_post"] == 1
    assert sorted(m.subject.split(":")[0] for m in smtp_server.messages if HOSPITAL in m.rcpt_tos) == by_email
    assert catalog_state(runtime) != before


def test_request_chase_on_another_day_is_a_dry_run_unless_confirmed(
    smtp_server: LoopbackSmtp, runtime: Runtime, case_id: str
) -> None:
    rid = new_request(runtime, case_id)
    before = catalog_state(runtime)
    dry = cli_run("request", "chase", "--date", "2026-12-03", "--json")
    assert dry.exit_code == 0, dry.output
    doc = json.loads(dry.stdout)
    assert doc["dry_run"] is True and doc["would"]["email_followups"] == [f"{rid}#1"]
    assert catalog_state(runtime) == before and smtp_server.messages == []
    human = cli_run("request", "chase", "--date", "2026-12-03")
    assert "DRY RUN, nothing was changed or sent" in human.stdout

    real = cli_run("request", "chase", "--date", "2026-12-03", "--confirm", "--json")
    assert real.exit_code == 0, real.output
    assert json.loads(real.stdout)["counts"]["followups_emailed"] == 1
    assert [m for m in smtp_server.messages if HOSPITAL in m.rcpt_tos]


def test_today_runs_for_real_and_a_dry_run_of_today_can_be_asked_for(
    smtp_server: LoopbackSmtp, runtime: Runtime, case_id: str
) -> None:
    rid = new_request(runtime, case_id, sent_on=date.today() - timedelta(days=40))
    before = catalog_state(runtime)
    dry = cli_run("request", "chase", "--dry-run", "--json")
    assert json.loads(dry.stdout)["would"]["email_followups"] == [f"{rid}#2"]  # due + 10 days: the latest step
    assert catalog_state(runtime) == before
    real = cli_run("request", "chase", "--json")
    assert json.loads(real.stdout)["dry_run"] is False
    assert len([m for m in smtp_server.messages if HOSPITAL in m.rcpt_tos]) == 1


# 16. A failed scheduled run tells someone ---------------------------------------------------------------------
@pytest.fixture
def smtp_down(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Mail settings pointing at a loopback port nobody listens on; Prefect's retries without their delays."""
    import casefile.flows.chase as chase_flow

    monkeypatch.setenv("CASEFILE_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("CASEFILE_SMTP_PORT", str(free_port()))
    monkeypatch.setenv("CASEFILE_MAIL_FROM", PRACTICE_EMAIL)
    for name in ("chase_request_task", "digest_task"):
        task = getattr(chase_flow, name)
        monkeypatch.setattr(chase_flow, name, task.with_options(retry_delay_seconds=0))
    reset_runtimes()
    yield
    reset_runtimes()


def test_an_overdue_check_with_the_smtp_server_down_fails_and_says_so_everywhere(
    prefect_api: str, runtime: Runtime, case_id: str, smtp_down: None
) -> None:
    from casefile.flows.chase import chase_overdue

    new_request(runtime, case_id, sent_on=date.today() - timedelta(days=40))  # a follow-up due today, for real
    state = chase_overdue(return_state=True)
    assert state.is_failed()  # what an automation matches: flow chase-overdue, state Failed
    message = state.message or ""
    assert "ScheduledRunFailed" in message and "MailTransientError" in message
    assert CLIENT_NAME not in message and A_NUMBER not in message

    (problem,) = scheduled.problems(runtime)
    assert problem["job"] == "chase-overdue" and problem["error_type"] == "MailTransientError"
    assert problem["alerted"] is False  # the alert needs the mail server too: it goes with the next failure that can
    listed = cli_run("request", "list")
    assert "WARNING: overdue check failed at " in listed.stdout and "SMTP server unreachable" in listed.stdout
    as_json = cli_run("request", "list", "--json")
    json.loads(as_json.stdout)  # still exactly the list of requests
    assert "overdue check failed at" in as_json.stderr
    shown = json.loads(cli_run("case", "show", case_id, "--json").stdout)
    assert [p["job"] for p in shown["scheduled_problems"]] == ["chase-overdue"]
    assert "overdue check failed at" in cli_run("case", "show", case_id).stdout


def test_a_failed_inbox_poll_is_emailed_to_the_practice_once_and_shown_until_a_poll_succeeds(
    prefect_api: str, smtp_server: LoopbackSmtp, runtime: Runtime, case_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from casefile.flows.inbox import poll_inbox_flow

    monkeypatch.setenv("CASEFILE_STORAGE_BACKEND", "s3")  # an object store that does not answer
    monkeypatch.setenv("CASEFILE_S3_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("CASEFILE_INBOX_S3_PREFIX", "inbox/")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    reset_runtimes()
    for attempt in (1, 2):
        state = poll_inbox_flow(return_state=True)
        assert state.is_failed()
        assert "TransientStorageError" in (state.message or "")
        alerts = [m for m in smtp_server.messages if PRACTICE_EMAIL in m.rcpt_tos]
        assert len(alerts) == 1, attempt  # once for the series, not every five minutes
    (alert,) = alerts
    assert "inbox poll failed" in alert.subject and "object store unreachable" in alert.subject
    assert "2 time(s)" not in alert.text and "1 time(s) in a row" in alert.text
    listed = cli_run("request", "list")
    assert "inbox poll failed at" in listed.stdout and "(2 runs in a row since" in listed.stdout

    for name in ("CASEFILE_STORAGE_BACKEND", "CASEFILE_S3_ENDPOINT_URL", "CASEFILE_INBOX_S3_PREFIX"):
        monkeypatch.delenv(name)
    reset_runtimes()
    assert poll_inbox_flow(return_state=True).is_completed()
    assert "inbox poll failed" not in cli_run("request", "list").stdout
    with runtime.catalog.session() as session:
        row = session.get(ScheduledRun, "poll-inbox")
        assert row is not None and row.outcome == "ok" and row.failures == 0 and row.error_type is None
