"""A real SMTP server on loopback (aiosmtpd), for the tests and the demo: it keeps what it receives.

``LoopbackSmtp`` runs aiosmtpd's ``Controller`` on 127.0.0.1 and a free port in a background thread. Every message
it accepts is kept in memory (envelope and parsed e-mail) and, when ``folder`` is given, written there as an .eml
file. Options for tests: plain, STARTTLS or implicit TLS with a self-signed certificate made on the spot
(``cert_path`` is then the file a client trusts: setting ``smtp_ca_file``), a required login, addresses to refuse
(550) or to defer (451), and a delay before each RCPT answer (so a test can kill a client mid-session).

``python -m tasks.mailserver [--port 8025] [--folder DIR]`` runs one until Ctrl-C and prints the settings to use.
It never relays anything anywhere: messages stop here.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import email.policy
import ipaddress
import logging
import re
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
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

if TYPE_CHECKING:
    from tasks.settings import Settings

# aiosmtpd logs every peer and address at INFO under "mail.log" (and a deprecation notice per login at WARNING);
# our logs carry no addresses.
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


def make_self_signed_cert(folder: Path, hostname: str = "localhost") -> tuple[Path, Path]:
    """A self-signed certificate for ``hostname``, 127.0.0.1 and ::1 (cryptography). Returns (cert, key) paths."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    folder.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName(hostname),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                    x509.IPAddress(ipaddress.ip_address("::1")),
                ]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "smtp-cert.pem", folder / "smtp-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    key_path.chmod(0o600)
    return cert_path, key_path


@dataclass
class _Box:
    messages: list[ReceivedMessage] = field(default_factory=list)
    transactions: int = 0  # MAIL FROM commands seen (a transaction started, finished or not)
    changed: threading.Condition = field(default_factory=threading.Condition)


class _Handler:
    def __init__(self, owner: LoopbackSmtp) -> None:
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

    async def handle_RCPT(
        self, server: Any, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if self.owner.rcpt_delay:
            await asyncio.sleep(self.owner.rcpt_delay)
        bare = address.strip().lower()
        if any(re.fullmatch(pattern, bare) for pattern in self.owner.refuse):
            return "550 5.1.1 Mailbox unavailable"
        if any(re.fullmatch(pattern, bare) for pattern in self.owner.defer):
            return "451 4.3.0 Try again later"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
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


class _Authenticator:
    def __init__(self, user: str, password: str) -> None:
        self.user, self.password = user.encode(), password.encode()

    def __call__(self, server: Any, session: Session, envelope: Envelope, mechanism: str, auth_data: Any) -> AuthResult:
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == self.user
            and auth_data.password == self.password
        )
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)


class LoopbackSmtp:
    """An SMTP server on 127.0.0.1 that keeps what it receives. Use as a context manager, or start()/stop().

    ``tls``: None (plain), "starttls" or "ssl" (a self-signed certificate is made under ``cert_dir``).
    ``credentials``: (user, password) to require a login (over TLS only, as real servers do).
    ``refuse`` / ``defer``: regular expressions of addresses answered 550 / 451 at RCPT.
    """

    def __init__(
        self,
        *,
        port: int | None = None,
        folder: Path | None = None,
        tls: str | None = None,
        cert_dir: Path | None = None,
        credentials: tuple[str, str] | None = None,
        refuse: tuple[str, ...] = (),
        defer: tuple[str, ...] = (),
        rcpt_delay: float = 0.0,
    ) -> None:
        if tls not in (None, "starttls", "ssl"):
            raise ValueError("tls must be None, 'starttls' or 'ssl'")
        if tls is not None and cert_dir is None:
            raise ValueError("a TLS server needs cert_dir for its self-signed certificate")
        if credentials is not None and tls is None:
            raise ValueError("a login is only offered over TLS")
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self.folder = folder
        self.tls = tls
        self.cert_path: Path | None = None
        self.refuse = refuse
        self.defer = defer
        self.rcpt_delay = rcpt_delay
        self.box = _Box()
        kwargs: dict[str, Any] = {}
        if tls is not None and cert_dir is not None:
            import ssl

            self.cert_path, key_path = make_self_signed_cert(cert_dir)
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(self.cert_path, key_path)
            if tls == "ssl":
                kwargs["ssl_context"] = context
            else:
                kwargs["tls_context"] = context
                kwargs["require_starttls"] = True
        if credentials is not None:
            kwargs["authenticator"] = _Authenticator(*credentials)
            if tls == "ssl":
                # aiosmtpd only counts STARTTLS as TLS when deciding to offer AUTH; on an implicit-TLS connection
                # it must be told not to require it (and then cannot also require a login without warning).
                kwargs["auth_require_tls"] = False
            else:
                kwargs["auth_required"] = True
        self._controller = Controller(_Handler(self), hostname=self.host, port=self.port, ready_timeout=10, **kwargs)

    # Life cycle
    def start(self) -> LoopbackSmtp:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def __enter__(self) -> LoopbackSmtp:
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
        from tasks.settings import SmtpSecurity

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
    server = LoopbackSmtp(port=args.port, folder=args.folder)
    with server:
        print("Loopback SMTP server running; messages stop here. Use:")
        for key, value in server.env().items():
            print(f"export {key}={value}")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
