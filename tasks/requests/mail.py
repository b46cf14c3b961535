"""E-mail over real SMTP (smtplib), and an idempotent send through the ``outbound_mail`` ledger.

- ``send_mail(settings, message)`` opens one connection (plain, STARTTLS or implicit TLS, with login when a user
  name is set), sends one message and closes. Failures become typed errors: ``MailTransientError`` (server
  unreachable, timeout, a 4xx answer: try again later), ``MailRejected`` (a 5xx answer for the recipients or the
  message: fix the address, never retried as it is) and ``MailConfigError`` (login refused, TLS not offered or not
  trusted, no sender). Messages name the server and the remedy, never the body, the subject or an address.
- ``send_once(rt, dedupe_key, message)`` sends a message at most once per ``dedupe_key`` as far as
  the catalog can know: see its docstring for the one window where a duplicate is possible (at-least-once), and
  why a duplicate is then recognisable (same Message-ID).

Nothing here logs a subject, a body or an address: logs get the dedupe key's hash, the request id and counts.
"""

from __future__ import annotations

import hashlib
import logging
import smtplib
import ssl
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, getaddresses
from typing import TYPE_CHECKING, NamedTuple

from ..core.errors import MailConfigError, MailRejected, MailTransientError
from ..core.settings import Settings, SmtpSecurity

if TYPE_CHECKING:
    from ..core.runtime import Runtime

__all__ = [
    "Attachment",
    "MailMessage",
    "SendOutcome",
    "SendResult",
    "build_email",
    "ledger_message_id",
    "normalise_recipients",
    "send_mail",
    "send_once",
    "sender_address",
]

log = logging.getLogger(__name__)

# Ledger statuses (outbound_mail.status).
PENDING = "pending"  # claimed: an attempt was started and its outcome is not recorded yet (or never made)
SENT = "sent"
FAILED = "failed"  # the last attempt failed transiently: the next run tries again
REJECTED = "rejected"  # refused for good (5xx) for these recipients: not tried again until the recipients change


class Attachment(NamedTuple):
    filename: str
    data: bytes
    mime: str = "application/pdf"


@dataclass(frozen=True)
class MailMessage:
    to: tuple[str, ...]
    subject: str
    text: str
    cc: tuple[str, ...] = ()
    attachments: tuple[Attachment, ...] = ()
    sender: str | None = None  # default: settings.mail_from, then the practice's address
    reply_to: str | None = None

    @property
    def recipients(self) -> tuple[str, ...]:
        return normalise_recipients((*self.to, *self.cc))


@dataclass(frozen=True)
class SendResult:
    message_id: str
    accepted: tuple[str, ...]
    refused: tuple[str, ...] = ()  # some recipients refused while others accepted the message


@dataclass(frozen=True)
class SendOutcome:
    """What ``send_once`` did: ``sent`` now, or ``skipped`` because the ledger already records it as sent."""

    dedupe_key: str
    status: str  # sent | skipped
    message_id: str
    attempts: int
    mail_id: int | str
    refused: tuple[str, ...] = field(default=())


def normalise_recipients(addresses: Iterable[str]) -> tuple[str, ...]:
    """Bare addresses, lower-cased, de-duplicated, sorted: the form stored in the ledger and compared."""
    found = {addr.strip().lower() for _name, addr in getaddresses(list(addresses)) if addr.strip()}
    return tuple(sorted(found))


def sender_address(settings: Settings, message: MailMessage | None = None) -> str:
    if message is not None and message.sender:
        return message.sender
    if settings.mail_from:
        return settings.mail_from
    from ..core.errors import ConfigError
    from ..core.practice import load_practice

    try:
        practice_email = load_practice(settings).reply_address
    except ConfigError:
        practice_email = ""
    if not practice_email:
        raise MailConfigError(
            "No sender address for e-mail: set the practice's reply address (`casefile practice set --reply-to "
            "ADDRESS`), or the setting mail_from (CASEFILE_MAIL_FROM)."
        )
    return practice_email


def ledger_message_id(dedupe_key: str, sender: str) -> str:
    """A Message-ID derived from the dedupe key: every attempt of one ledger entry carries the same id, so a
    duplicate (see ``send_once``) is recognisable, and mail systems that collapse equal Message-IDs do so."""
    digest = hashlib.sha256(dedupe_key.encode("utf-8")).hexdigest()[:32]
    domain = sender.rpartition("@")[2].strip("> ").lower() or "casefile.invalid"
    return f"<{digest}.casefile@{domain}>"


def build_email(message: MailMessage, sender: str, message_id: str) -> EmailMessage:
    if not message.to:
        raise ValueError("an e-mail needs at least one recipient")
    email = EmailMessage()
    email["From"] = sender
    email["To"] = ", ".join(message.to)
    if message.cc:
        email["Cc"] = ", ".join(message.cc)
    if message.reply_to:
        email["Reply-To"] = message.reply_to
    email["Subject"] = message.subject
    email["Date"] = formatdate(localtime=True)
    email["Message-ID"] = message_id
    email.set_content(message.text)
    for attachment in message.attachments:
        maintype, _, subtype = attachment.mime.partition("/")
        email.add_attachment(
            attachment.data,
            maintype=maintype or "application",
            subtype=subtype or "octet-stream",
            filename=attachment.filename,
        )
    return email


# SMTP ---------------------------------------------------------------------------------------------------------
def _where(settings: Settings) -> str:
    return f"the SMTP server {settings.smtp_host}:{settings.smtp_port}"


def _tls_context(settings: Settings) -> ssl.SSLContext:
    cafile = str(settings.smtp_ca_file) if settings.smtp_ca_file else None
    return ssl.create_default_context(cafile=cafile)


def _connect(settings: Settings) -> smtplib.SMTP:
    host, port, timeout = settings.smtp_host, settings.smtp_port, settings.smtp_timeout
    smtp: smtplib.SMTP
    if settings.smtp_security == SmtpSecurity.SSL:
        smtp = smtplib.SMTP_SSL(host, port, timeout=timeout, context=_tls_context(settings))
    else:
        smtp = smtplib.SMTP(host, port, timeout=timeout)
    try:
        smtp.ehlo()
        if settings.smtp_security == SmtpSecurity.STARTTLS:
            if not smtp.has_extn("starttls"):
                raise MailConfigError(
                    f"{_where(settings)} does not offer STARTTLS. Check smtp_port (587 is usual for STARTTLS) or "
                    "set smtp_security to ssl (port 465) as the provider documents."
                )
            smtp.starttls(context=_tls_context(settings))
            smtp.ehlo()
        if settings.smtp_username:
            password = settings.smtp_password.get_secret_value() if settings.smtp_password else ""
            smtp.login(settings.smtp_username, password)
    except BaseException:
        _close(smtp)
        raise
    return smtp


def probe(settings: Settings) -> None:
    """Connect, greet, STARTTLS and log in as a send would, then quit (`casefile deploy check`); sends nothing."""
    _close(_connect(settings))


def _close(smtp: smtplib.SMTP) -> None:
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()


def _code_error(settings: Settings, code: int, what: str, refused: tuple[str, ...] = ()) -> Exception:
    if 400 <= code < 500:
        return MailTransientError(
            f"{_where(settings)} answered {code} (try again later) to {what}. The message was not sent; the next "
            "run sends it."
        )
    return MailRejected(
        f"{_where(settings)} refused {what} for good ({code}). Check the address in config/providers.toml or "
        "config/practice.toml; it is not retried until the address changes.",
        refused,
    )


def send_mail(settings: Settings, message: MailMessage, *, message_id: str | None = None) -> SendResult:
    """Send ``message`` in one SMTP session. Returns the Message-ID and the recipients the server took."""
    sender = sender_address(settings, message)
    message_id = message_id or ledger_message_id(f"adhoc:{id(message)}:{formatdate()}", sender)
    email = build_email(message, sender, message_id)
    recipients = message.recipients
    where = _where(settings)
    try:
        smtp = _connect(settings)
        try:
            refused_map = smtp.send_message(email, from_addr=sender, to_addrs=list(recipients))
        finally:
            _close(smtp)
    except smtplib.SMTPAuthenticationError as exc:
        raise MailConfigError(
            f"{where} refused the login ({exc.smtp_code}). Check smtp_username and smtp_password "
            "(CASEFILE_SMTP_USERNAME, CASEFILE_SMTP_PASSWORD)."
        ) from None
    except smtplib.SMTPNotSupportedError:
        raise MailConfigError(
            f"{where} does not support what the settings ask (login or STARTTLS). Check smtp_security and whether "
            "this server needs a user name at all."
        ) from None
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _msg in exc.recipients.values()]
        refused = normalise_recipients(exc.recipients)
        if any(400 <= code < 500 for code in codes):
            raise _code_error(settings, min(codes), "the recipients") from None
        raise _code_error(settings, max(codes), f"{len(refused)} recipient address(es)", refused) from None
    except smtplib.SMTPSenderRefused as exc:
        if 400 <= exc.smtp_code < 500:
            raise _code_error(settings, exc.smtp_code, "the sender") from None
        raise MailConfigError(
            f"{where} refused the sender address ({exc.smtp_code}). Set mail_from (CASEFILE_MAIL_FROM) to an "
            "address this server lets you send from."
        ) from None
    except smtplib.SMTPResponseException as exc:  # SMTPDataError, SMTPHeloError, a 421 at connect
        raise _code_error(settings, exc.smtp_code, "the message") from None
    except ssl.SSLCertVerificationError:
        raise MailConfigError(
            f"The TLS certificate of {where} is not trusted. Check smtp_host, or set smtp_ca_file to the CA that "
            "signed the server's certificate."
        ) from None
    except ssl.SSLError as exc:
        raise MailConfigError(
            f"TLS with {where} failed ({exc.reason or type(exc).__name__}). Check smtp_security and smtp_port: "
            "ssl is usually port 465, starttls port 587."
        ) from None
    except (smtplib.SMTPServerDisconnected, smtplib.SMTPException, OSError) as exc:
        # Connection refused, DNS failure, timeout, connection dropped: the network or the server, not the message.
        kind = "timed out" if isinstance(exc, TimeoutError) else f"failed ({type(exc).__name__})"
        raise MailTransientError(
            f"Connecting to {where} {kind}. Check that the server is up and smtp_host/smtp_port are right; the "
            "message was not sent and the next run tries again."
        ) from None
    refused = normalise_recipients(refused_map)
    accepted = tuple(r for r in recipients if r not in refused)
    return SendResult(message_id=message_id, accepted=accepted, refused=refused)


# The ledger ---------------------------------------------------------------------------------------------------
def _key_hash(dedupe_key: str) -> str:
    return hashlib.sha256(dedupe_key.encode("utf-8")).hexdigest()[:12]


def send_once(rt: Runtime, dedupe_key: str, message: MailMessage, request_id: str | None = None) -> SendOutcome:
    """Send ``message`` (through ``rt.settings``' SMTP server) unless ``rt.catalog``'s ledger already records
    ``dedupe_key`` as sent.

    Steps: (1) in one transaction, find or insert the ``outbound_mail`` row and claim it (status ``pending``,
    ``attempts`` + 1) and commit; (2) send over SMTP; (3) in a second transaction mark it ``sent`` (or ``failed``
    / ``rejected``). A row already ``sent`` is skipped; a row ``rejected`` for the same recipients raises
    ``MailRejected`` again without sending (fix the address and the next run sends it).

    Delivery is at-least-once, by choice: a follow-up that is never sent loses a record, a duplicate costs a
    provider a second read. The one window for a duplicate is a crash after the server accepted the message
    (its 250 reply to DATA) and before step (3) committed: a few milliseconds. The next run then finds the row
    ``pending`` with attempts > 0 and sends it again with the *same* Message-ID (derived from the dedupe key),
    so the duplicate is recognisable by people and collapsed by mail systems that de-duplicate on Message-ID.
    A crash anywhere else (before the claim, during the SMTP session before the 250, after the commit) yields
    no duplicate and no loss. Two runs must not send at the same time (the chase takes a lock).

    Raises ``MailTransientError`` (row left ``failed``, retried by the next run or by Prefect),
    ``MailRejected`` (row ``rejected``) or ``MailConfigError`` (row ``failed``).
    """
    from sqlalchemy import select

    from ..core.catalog import OutboundMail, utcnow

    catalog, settings = rt.catalog, rt.settings
    sender = sender_address(settings, message)
    recipients = message.recipients
    recipients_text = ", ".join(recipients)
    key_hash = _key_hash(dedupe_key)
    with catalog.session() as session:
        row = session.scalar(select(OutboundMail).where(OutboundMail.dedupe_key == dedupe_key))
        if row is None:
            row = OutboundMail(
                dedupe_key=dedupe_key,
                request_id=request_id,
                recipients=recipients_text,
                subject=message.subject[:300],
                status=PENDING,
                attempts=0,
                message_id=ledger_message_id(dedupe_key, sender),
            )
            session.add(row)
            session.flush()
        elif row.status == SENT:
            log.info("mail %s already sent (request %s): skipped", key_hash, request_id or "-")
            return SendOutcome(dedupe_key, "skipped", row.message_id or "", row.attempts, row.id)
        elif row.status == REJECTED and row.recipients == recipients_text:
            raise MailRejected(
                f"The e-mail {key_hash} (request {request_id or '-'}) was refused before for the same recipients "
                "and is not sent again. Correct the address (config/providers.toml or config/practice.toml); the "
                "next run sends it.",
                recipients,
            )
        elif row.status == PENDING and row.attempts > 0:
            log.warning(
                "mail %s (request %s): a previous attempt ended without a recorded outcome; sending again with the "
                "same Message-ID",
                key_hash,
                request_id or "-",
            )
        row.status = PENDING
        row.attempts += 1
        row.recipients = recipients_text
        row.subject = message.subject[:300]
        row.last_error = None
        mail_id, message_id, attempts = row.id, row.message_id or ledger_message_id(dedupe_key, sender), row.attempts

    def record(status: str, error: str | None, refused: tuple[str, ...] = ()) -> None:
        with catalog.session() as session:
            done = session.get(OutboundMail, mail_id)
            assert done is not None
            done.status = status
            done.last_error = error
            if status == SENT:
                done.sent_at = utcnow()
                if refused:
                    done.last_error = f"refused {len(refused)} recipient(s)"

    try:
        result = send_mail(settings, message, message_id=message_id)
    except MailRejected as exc:
        record(REJECTED, type(exc).__name__)
        log.warning("mail %s (request %s) rejected: %s", key_hash, request_id or "-", exc.log_summary())
        raise
    except (MailTransientError, MailConfigError) as exc:
        record(FAILED, type(exc).__name__)
        log.warning("mail %s (request %s) failed: %s", key_hash, request_id or "-", exc.log_summary())
        raise
    # Any other exception (a bug, an interrupt) leaves the claim as it is: pending, attempt counted; next run retries.
    refused_to = set(result.refused) & set(normalise_recipients(message.to))
    if refused_to:
        # The main recipient (the provider) refused, a copy (the advocate) took it: for the ledger that is a refusal,
        # so the message goes again, to every recipient, once the address is corrected.
        record(REJECTED, "MailRejected")
        log.warning("mail %s (request %s) rejected for its main recipient", key_hash, request_id or "-")
        raise MailRejected(
            f"{_where(settings)} refused the main recipient address of the e-mail {key_hash} (request "
            f"{request_id or '-'}); the copies went out. Check the address in config/providers.toml; it is not "
            "retried until the address changes.",
            tuple(sorted(refused_to)),
        )
    record(SENT, None, result.refused)
    log.info("mail %s (request %s) sent, attempt %d", key_hash, request_id or "-", attempts)
    return SendOutcome(dedupe_key, "sent", message_id, attempts, mail_id, result.refused)


def summarise(outcomes: Sequence[SendOutcome]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for outcome in outcomes:
        counts[outcome.status] = counts.get(outcome.status, 0) + 1
    return counts
