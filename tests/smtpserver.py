"""The tests' SMTP server: the demo's loopback mail sink plus what tests need of a real server.

``LoopbackSmtp`` adds to ``MailSink`` (casefile.tasks.demo.mailsink): STARTTLS or implicit TLS with a self-signed
certificate made on the spot (``cert_path`` is then the file a client trusts: setting ``smtp_ca_file``), a required
login, addresses to refuse (550) or to defer (451), and a delay before each RCPT answer (so a test can kill a client
mid-session). It never relays anything anywhere: messages stop here.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import re
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

from casefile.tasks.demo.mailsink import MailSink, ReceivedMessage, SinkHandler, free_port

__all__ = ["LoopbackSmtp", "ReceivedMessage", "free_port", "make_self_signed_cert"]


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


class _Handler(SinkHandler):
    owner: LoopbackSmtp

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


class LoopbackSmtp(MailSink):
    """``tls``: None (plain), "starttls" or "ssl" (a self-signed certificate is made under ``cert_dir``).
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
        super().__init__(port=port, folder=folder)
        self.tls = tls
        self.refuse = refuse
        self.defer = defer
        self.rcpt_delay = rcpt_delay
        self._options: dict[str, Any] = {}
        if tls is not None and cert_dir is not None:
            import ssl

            self.cert_path, key_path = make_self_signed_cert(cert_dir)
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(self.cert_path, key_path)
            if tls == "ssl":
                self._options["ssl_context"] = context
            else:
                self._options["tls_context"] = context
                self._options["require_starttls"] = True
        if credentials is not None:
            self._options["authenticator"] = _Authenticator(*credentials)
            if tls == "ssl":
                # aiosmtpd only counts STARTTLS as TLS when deciding to offer AUTH; on an implicit-TLS connection
                # it must be told not to require it (and then cannot also require a login without warning).
                self._options["auth_require_tls"] = False
            else:
                self._options["auth_required"] = True

    def handler(self) -> _Handler:
        return _Handler(self)

    def controller_options(self) -> dict[str, Any]:
        return dict(self._options)

    def start(self) -> LoopbackSmtp:
        super().start()
        return self

    def __enter__(self) -> LoopbackSmtp:
        return self.start()
