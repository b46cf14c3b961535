"""A mail sink on loopback: a real SMTP server (aiosmtpd) that keeps every message and never relays one.

The demo sends its record requests here, so it can never mail anyone. ``python -m casefile.tasks.demo.mailsink
[--port 8025] [--folder DIR]`` runs one until Ctrl-C and prints the settings that point casefile at it: a practice
can see what casefile would send, as .eml files, before it configures a real mail server.

``MailSink`` runs aiosmtpd's ``Controller`` on 127.0.0.1 in a background thread; every accepted message is kept in
memory (envelope and parsed e-mail) and, when ``folder`` is given, written there as an .eml file. The tests' SMTP
server (tests/smtpserver.py) builds on it with TLS, logins and refused addresses.
"""

from __future__ import annotations

import email
import email.policy
import logging
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope, LoginPassword, Session

if TYPE_CHECKING:
    from ..core.settings import Settings

# aiosmtpd logs every peer and address at INFO under "mail.log"; our logs carry no addresses.
logging.getLogger("mail.log").setLevel(logging.ERROR)


@dataclass(frozen=True)
class ReceivedMessage:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    raw: bytes
    message: EmailMessage
    tls: bool
    login: str | None
    received_at: float

    @property
    def subject(self) -> str:
        return str(self.message["Subject"] or "")

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"] or "")

    @property
    def text(self) -> str:
        body = self.message.get_body(preferencelist=("plain",))
        return body.get_content() if isinstance(body, EmailMessage) else ""

    def attachments(self) -> list[tuple[str, str, bytes]]:
        """[(filename, mime type, bytes)] of every attachment."""
        found: list[tuple[str, str, bytes]] = []
        for part in self.message.iter_attachments():
            if isinstance(part, EmailMessage):
                payload = part.get_payload(decode=True)
                found.append((part.get_filename() or "", part.get_content_type(), bytes(payload or b"")))
        return found


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class _Box:
    messages: list[ReceivedMessage] = field(default_factory=list)
    transactions: int = 0  # MAIL FROM commands seen (a transaction started, finished or not)
    changed: threading.Condition = field(default_factory=threading.Condition)


class SinkHandler:
    """aiosmtpd handler: counts transactions, accepts every recipient, keeps every message."""

    def __init__(self, owner: MailSink) -> None:
        self.owner = owner

    async def handle_MAIL(
        self, server: Any, session: Session, envelope: Envelope, address: str, mail_options: list[str]
    ) -> str:
        box = self.owner.box
        with box.changed:
            box.transactions += 1
            box.changed.notify_all()
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        if isinstance(raw, str):
            raw = raw.encode("utf-8")
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        login = session.auth_data.login.decode() if isinstance(session.auth_data, LoginPassword) else None
        received = ReceivedMessage(
            mail_from=str(envelope.mail_from),
            rcpt_tos=tuple(envelope.rcpt_tos),
            raw=raw,
            message=parsed,
            tls=session.ssl is not None or self.owner.tls == "ssl",
            login=login,
            received_at=time.time(),
        )
        box = self.owner.box
        with box.changed:
            box.messages.append(received)
            number = len(box.messages)
            box.changed.notify_all()
        if self.owner.folder is not None:
            self.owner.folder.mkdir(parents=True, exist_ok=True)
            path = self.owner.folder / f"{int(received.received_at * 1000)}-{number:04d}.eml"
            tmp = path.with_suffix(".eml.tmp")
            tmp.write_bytes(raw)
            tmp.replace(path)
        return "250 Message accepted for delivery"


class MailSink:
    """An SMTP server on 127.0.0.1 that keeps what it receives. Use as a context manager, or start()/stop()."""

    tls: str | None = None  # plain SMTP; the tests' server adds "starttls" and "ssl"
    cert_path: Path | None = None

    def __init__(self, *, port: int | None = None, folder: Path | None = None) -> None:
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self.folder = folder
        self.box = _Box()
        self._controller: Controller | None = None

    def handler(self) -> SinkHandler:
        return SinkHandler(self)

    def controller_options(self) -> dict[str, Any]:
        """Extra keyword arguments for aiosmtpd's Controller (TLS, authentication)."""
        return {}

    # Life cycle
    def start(self) -> MailSink:
        self._controller = Controller(
            self.handler(), hostname=self.host, port=self.port, ready_timeout=10, **self.controller_options()
        )
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> MailSink:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # What a client needs
    def env(self) -> dict[str, str]:
        """CASEFILE_* variables that point casefile at this server."""
        env = {
            "CASEFILE_SMTP_HOST": self.host,
            "CASEFILE_SMTP_PORT": str(self.port),
            "CASEFILE_SMTP_SECURITY": self.tls or "none",
        }
        if self.cert_path is not None:
            env["CASEFILE_SMTP_CA_FILE"] = str(self.cert_path)
        return env

    def apply(self, settings: Settings) -> Settings:
        """``settings`` with the SMTP fields pointing at this server (no login unless it asks for one)."""
        from ..core.settings import SmtpSecurity

        return settings.model_copy(
            update={
                "smtp_host": self.host,
                "smtp_port": self.port,
                "smtp_security": SmtpSecurity(self.tls or "none"),
                "smtp_ca_file": self.cert_path,
                "smtp_username": None,
                "smtp_password": None,
            }
        )

    # What it received
    @property
    def messages(self) -> list[ReceivedMessage]:
        with self.box.changed:
            return list(self.box.messages)

    @property
    def transactions(self) -> int:
        with self.box.changed:
            return self.box.transactions

    def clear(self) -> None:
        with self.box.changed:
            self.box.messages.clear()
            self.box.transactions = 0

    def wait_for(self, count: int, timeout: float = 10.0, *, transactions: bool = False) -> bool:
        """Wait until ``count`` messages were received (or MAIL commands seen, with ``transactions``)."""

        def reached() -> bool:
            return (self.box.transactions if transactions else len(self.box.messages)) >= count

        with self.box.changed:
            return self.box.changed.wait_for(reached, timeout=timeout)

    def __iter__(self) -> Iterator[ReceivedMessage]:
        return iter(self.messages)


def main(argv: list[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(description="A loopback SMTP server that keeps every message it receives.")
    parser.add_argument("--port", type=int, default=8025)
    parser.add_argument("--folder", type=Path, default=None, help="also write each message here as an .eml file")
    args = parser.parse_args(argv)
    with MailSink(port=args.port, folder=args.folder) as sink:
        print("Loopback SMTP server running; messages stop here. Use:")
        for key, value in sink.env().items():
            print(f"export {key}={value}")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
