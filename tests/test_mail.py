"""E-mail over real SMTP: a real aiosmtpd server on loopback (plain, STARTTLS, implicit TLS with a self-signed
certificate made by `cryptography`), and the outbound_mail ledger that makes a send idempotent."""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader
from smtpserver import LoopbackSmtp, free_port
from sqlalchemy import select

from casefile.tasks.core.catalog import OutboundMail
from casefile.tasks.core.errors import MailConfigError, MailRejected, MailTransientError
from casefile.tasks.core.runtime import Runtime
from casefile.tasks.core.settings import Settings, SmtpSecurity, load_settings
from casefile.tasks.requests.mail import Attachment, MailMessage, ledger_message_id, send_mail, send_once


def tiny_pdf() -> bytes:
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=612, height=792)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def message(*, to: tuple[str, ...] = ("him-requests@example.org",), ref: str = "RQ-7KX4M2PA") -> MailMessage:
    return MailMessage(
        to=to,
        cc=("ana.vega@example.org",),
        subject=f"Follow-up: records request {ref}",
        text=f"Reference {ref}. Please see the attached letter.",
        attachments=(Attachment(f"{ref}-follow-up.pdf", tiny_pdf()),),
    )


def settings_for(server: LoopbackSmtp, tmp_path: Path, **extra: Any) -> Settings:
    return Settings(
        home=tmp_path / "home",
        smtp_host=server.host,
        smtp_port=server.port,
        smtp_security=SmtpSecurity(server.tls or "none"),
        smtp_ca_file=server.cert_path,
        mail_from="records@example.org",
        smtp_timeout=5,
        **extra,
    )


def test_plain_send_with_pdf_attachment(smtp_server: LoopbackSmtp) -> None:
    settings = load_settings()  # from the CASEFILE_SMTP_* the fixture set
    result = send_mail(settings, message())
    assert smtp_server.wait_for(1)
    [got] = smtp_server.messages
    assert sorted(got.rcpt_tos) == ["ana.vega@example.org", "him-requests@example.org"]
    assert got.mail_from == "records@example.org"
    assert "RQ-7KX4M2PA" in got.subject
    assert got.message_id == result.message_id
    [(filename, mime, data)] = got.attachments()
    assert (filename, mime) == ("RQ-7KX4M2PA-follow-up.pdf", "application/pdf")
    assert len(PdfReader(io.BytesIO(data)).pages) == 1
    assert list((smtp_server.folder or Path()).glob("*.eml"))  # kept as .eml files too


@pytest.mark.parametrize("tls", ["starttls", "ssl"])
def test_tls_with_self_signed_certificate_and_login(tmp_path: Path, tls: str) -> None:
    with LoopbackSmtp(tls=tls, cert_dir=tmp_path / "certs", credentials=("casefile", "s3cret")) as server:
        settings = settings_for(server, tmp_path, smtp_username="casefile", smtp_password="s3cret")
        send_mail(settings, message())
        [got] = server.messages
        assert got.tls and got.login == "casefile"
        assert "s3cret" not in repr(settings) and "s3cret" not in settings.model_dump_json()

        with pytest.raises(MailConfigError):  # wrong password
            send_mail(settings.model_copy(update={"smtp_password": None}), message())
        with pytest.raises(MailConfigError):  # the self-signed certificate is not trusted without smtp_ca_file
            send_mail(settings.model_copy(update={"smtp_ca_file": None}), message())
        assert len(server.messages) == 1


def test_starttls_required_but_not_offered(smtp_server: LoopbackSmtp, tmp_path: Path) -> None:
    settings = settings_for(smtp_server, tmp_path).model_copy(update={"smtp_security": SmtpSecurity.STARTTLS})
    with pytest.raises(MailConfigError, match="STARTTLS"):
        send_mail(settings, message())
    assert smtp_server.messages == []


def test_refused_recipient_is_rejected_and_deferred_is_transient(tmp_path: Path) -> None:
    with LoopbackSmtp(refuse=(r"nobody@.*",), defer=(r"busy@.*",)) as server:
        settings = settings_for(server, tmp_path)
        with pytest.raises(MailRejected) as info:
            send_mail(settings, MailMessage(to=("nobody@example.org",), subject="RQ-1", text="x"))
        assert info.value.refused == ("nobody@example.org",)
        assert "nobody" not in info.value.message  # addresses stay out of messages that may reach a log
        with pytest.raises(MailTransientError):
            send_mail(settings, MailMessage(to=("busy@example.org",), subject="RQ-1", text="x"))
        # One refused among several: sent to the others, the refused one reported.
        result = send_mail(settings, MailMessage(to=("ok@example.org", "nobody@example.org"), subject="s", text="x"))
        assert result.refused == ("nobody@example.org",) and result.accepted == ("ok@example.org",)
        assert [m.rcpt_tos for m in server.messages] == [("ok@example.org",)]


def test_dead_port_is_transient(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, smtp_port=free_port(), mail_from="records@example.org", smtp_timeout=2)
    with pytest.raises(MailTransientError) as info:
        send_mail(settings, message())
    assert f"127.0.0.1:{settings.smtp_port}" in info.value.message


# The ledger ------------------------------------------------------------------------------------------------------
def ledger(runtime: Runtime) -> list[OutboundMail]:
    with runtime.catalog.session() as session:
        return list(session.scalars(select(OutboundMail).order_by(OutboundMail.id)))


def test_send_once_sends_once(runtime: Runtime, smtp_server: LoopbackSmtp) -> None:
    rt = replace(runtime, settings=load_settings())  # the SMTP server of the fixture
    first = send_once(rt, "test:one", message())
    again = send_once(rt, "test:one", message())
    assert (first.status, again.status) == ("sent", "skipped")
    assert len(smtp_server.messages) == 1
    [row] = ledger(runtime)
    assert (row.status, row.attempts, row.message_id) == ("sent", 1, first.message_id)
    assert row.message_id == ledger_message_id("test:one", "records@example.org")
    assert row.recipients == "ana.vega@example.org, him-requests@example.org"


def test_send_once_failure_then_retry(runtime: Runtime, tmp_path: Path) -> None:
    port = free_port()
    settings = Settings(home=runtime.settings.home, smtp_port=port, mail_from="records@example.org", smtp_timeout=2)
    rt = replace(runtime, settings=settings)
    with pytest.raises(MailTransientError):
        send_once(rt, "test:retry", message())
    [row] = ledger(runtime)
    assert (row.status, row.attempts, row.last_error) == ("failed", 1, "MailTransientError")
    with LoopbackSmtp(port=port) as server:
        assert send_once(rt, "test:retry", message()).status == "sent"
        assert len(server.messages) == 1
    [row] = ledger(runtime)
    assert (row.status, row.attempts) == ("sent", 2)


def test_send_once_rejected_is_not_retried_until_the_address_changes(runtime: Runtime, tmp_path: Path) -> None:
    with LoopbackSmtp(refuse=(r"wrong@.*",)) as server:
        rt = replace(runtime, settings=settings_for(server, tmp_path))
        bad = MailMessage(to=("wrong@example.org",), subject="Follow-up RQ-1", text="x")
        for _ in range(3):
            with pytest.raises(MailRejected):
                send_once(rt, "test:rejected", bad)
        assert server.transactions == 1  # tried once; the two re-runs did not even connect
        [row] = ledger(runtime)
        assert (row.status, row.attempts) == ("rejected", 1)
        fixed = MailMessage(to=("right@example.org",), subject="Follow-up RQ-1", text="x")
        assert send_once(rt, "test:rejected", fixed).status == "sent"
        assert [m.rcpt_tos for m in server.messages] == [("right@example.org",)]


def test_in_doubt_attempt_is_resent_with_the_same_message_id(runtime: Runtime, smtp_server: LoopbackSmtp) -> None:
    """The one at-least-once window: the server accepted the message but the process died before the ledger said
    "sent". The re-run sends again, with the same Message-ID, so the duplicate is recognisable."""
    settings = load_settings()
    result = send_mail(settings, message(), message_id=ledger_message_id("test:doubt", "records@example.org"))
    with runtime.catalog.session() as session:  # what a crash right after the server's 250 leaves behind
        session.add(
            OutboundMail(
                dedupe_key="test:doubt",
                recipients="ana.vega@example.org, him-requests@example.org",
                subject="Follow-up",
                status="pending",
                attempts=1,
                message_id=result.message_id,
            )
        )
    assert send_once(replace(runtime, settings=settings), "test:doubt", message()).status == "sent"
    ids = [m.message_id for m in smtp_server.messages]
    assert ids == [result.message_id, result.message_id]
    [row] = ledger(runtime)
    assert (row.status, row.attempts) == ("sent", 2)
