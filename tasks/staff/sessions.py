"""Signing in and out, and the sessions in between.

A session is a random token in an HttpOnly cookie; the catalog keeps only its SHA-256, so a copy of the database
signs nobody in. A session ends when its user signs out, after ``web_session_idle_minutes`` unused, at the latest
``web_session_max_hours`` after sign-in, and at once when its user is disabled or their password is reset. Each
session carries its own CSRF token for the page's forms.

Sign-in is rate limited in the catalog (so every server process shares the count): at most ``web_signin_attempts``
failures per user name and ``web_signin_address_attempts`` per client address within ``web_signin_window_seconds``.
An unknown name costs the same hash as a wrong password, so timing does not tell which names exist.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import delete, func, select

from ..core.catalog import SigninFailure, StaffSession, StaffUser, audit, utcnow
from ..core.errors import CasefileError, ExitCode, ValidationError
from .users import HASH_SLOTS, Permission, Role, allows, hasher

if TYPE_CHECKING:
    from ..core.runtime import Runtime

TOKEN_BYTES = 32
SEEN_EVERY = timedelta(seconds=60)  # last_seen_at is written at most this often (one write a minute, not per page)


class SigninRefused(ValidationError):
    """Wrong name or password, or a disabled user: one message for all, so it tells nothing about which."""

    def __init__(self) -> None:
        super().__init__("The user name or the password is not right. Check both and try again.")


class TooManyAttempts(CasefileError):
    exit_code = ExitCode.TRANSIENT

    def __init__(self, retry_after: int) -> None:
        minutes = max(1, (retry_after + 59) // 60)
        super().__init__(f"Too many failed sign-ins. Wait {minutes} minute(s) and try again, or ask an admin.")
        self.retry_after = retry_after


@dataclass(frozen=True)
class SignedIn:
    """Who a request comes from. ``session_key`` is internal (the token's hash), never shown."""

    session_key: str
    user_id: int
    name: str
    role: Role
    csrf_token: str
    expires_at: datetime

    def can(self, permission: Permission) -> bool:
        return allows(self.role, permission)

    def csrf_ok(self, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(self.csrf_token.encode(), (token or "").encode())


def token_key(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def _name_key(name: str) -> str:
    return hashlib.sha256(name.strip().lower().encode("utf-8", "replace")).hexdigest()


_DUMMY_HASH: str | None = None


def _dummy_hash() -> str:
    global _DUMMY_HASH
    if _DUMMY_HASH is None:
        with HASH_SLOTS:
            _DUMMY_HASH = hasher().hash(secrets.token_urlsafe(16))
    return _DUMMY_HASH


def _verify(stored: str, password: str) -> bool:
    from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

    with HASH_SLOTS:
        try:
            return bool(hasher().verify(stored, password))
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False


def _check_limits(rt: Runtime, name_key: str, address: str, now: datetime) -> None:
    s = rt.settings
    since = now - timedelta(seconds=s.web_signin_window_seconds)
    with rt.catalog.session() as session:
        for column, value, limit in (
            (SigninFailure.name_key, name_key, s.web_signin_attempts),
            (SigninFailure.address, address, s.web_signin_address_attempts),
        ):
            count, oldest = session.execute(
                select(func.count(SigninFailure.id), func.min(SigninFailure.at)).where(
                    column == value, SigninFailure.at >= since
                )
            ).one()
            if count >= limit:
                retry = int((oldest + timedelta(seconds=s.web_signin_window_seconds) - now).total_seconds()) + 1
                raise TooManyAttempts(max(retry, 1))


def sign_in(rt: Runtime, name: str, password: str, address: str) -> tuple[str, SignedIn]:
    """The new session's token (for the cookie) and who signed in; ``SigninRefused`` or ``TooManyAttempts``."""
    now = utcnow()
    address = address[:64] or "-"
    name_key = _name_key(name)
    try:
        _check_limits(rt, name_key, address, now)
    except TooManyAttempts:
        with rt.catalog.session() as session:
            audit(session, actor="-", entity="signin", entity_id="-", action="signin-limited", address=address)
        raise
    with rt.catalog.session() as session:
        user = session.scalar(select(StaffUser).where(StaffUser.name == name.strip().lower()))
        stored = user.password_hash if user is not None else None
        user_id = user.id if user is not None else None
    ok = _verify(stored or _dummy_hash(), password[:1024]) and user is not None
    with rt.catalog.session() as session:
        user = session.get(StaffUser, user_id) if user_id is not None else None
        if not ok or user is None or user.disabled:
            session.add(SigninFailure(at=now, name_key=name_key, address=address))
            reason = "unknown-user" if user is None else "disabled" if user.disabled and ok else "password"
            actor = user.name if user is not None else "-"
            audit(
                session,
                actor=actor,
                entity="signin",
                entity_id=actor,
                action="signin-failed",
                address=address,
                reason=reason,
            )
            failed = True
        else:
            failed = False
            window = timedelta(seconds=rt.settings.web_signin_window_seconds)
            session.execute(
                delete(SigninFailure).where(
                    (SigninFailure.name_key == name_key) | (SigninFailure.at < now - window)  # and forget old ones
                )
            )
            if hasher().check_needs_rehash(user.password_hash):
                with HASH_SLOTS:
                    user.password_hash = hasher().hash(password)
            user.last_signin_at = now
            token = secrets.token_urlsafe(TOKEN_BYTES)
            row = StaffSession(
                id=token_key(token),
                user_id=user.id,
                csrf_token=secrets.token_urlsafe(TOKEN_BYTES),
                created_at=now,
                last_seen_at=now,
                expires_at=now + timedelta(hours=rt.settings.web_session_max_hours),
            )
            session.add(row)
            audit(session, actor=user.name, entity="signin", entity_id=user.name, action="signed-in", address=address)
            signed = _signed(row, user)
    if failed:
        raise SigninRefused()
    return token, signed


def _signed(row: StaffSession, user: StaffUser) -> SignedIn:
    return SignedIn(row.id, user.id, user.name, Role(user.role), row.csrf_token, row.expires_at)


def resolve(rt: Runtime, token: str | None, *, now: datetime | None = None) -> SignedIn | None:
    """Who holds this session token, or None (unknown, ended, expired, or the user is disabled)."""
    if not token or len(token) > 128:
        return None
    now = now or utcnow()
    idle = timedelta(minutes=rt.settings.web_session_idle_minutes)
    with rt.catalog.session() as session:
        row = session.get(StaffSession, token_key(token))
        if row is None or row.ended_at is not None:
            return None
        user = row.user
        if user.disabled:
            return None
        if now >= row.expires_at or now - row.last_seen_at >= idle:
            row.ended_at = now
            return None
        if now - row.last_seen_at >= SEEN_EVERY:
            row.last_seen_at = now
        return _signed(row, user)


def sign_out(rt: Runtime, who: SignedIn) -> None:
    with rt.catalog.session() as session:
        row = session.get(StaffSession, who.session_key)
        if row is not None and row.ended_at is None:
            row.ended_at = utcnow()
        audit(session, actor=who.name, entity="signin", entity_id=who.name, action="signed-out")


def prune(rt: Runtime, *, now: datetime | None = None) -> int:
    """Forget sign-in failures older than the window and sessions ended more than a day ago. Returns rows removed."""
    now = now or utcnow()
    window = timedelta(seconds=rt.settings.web_signin_window_seconds)
    with rt.catalog.session() as session:
        a = session.execute(delete(SigninFailure).where(SigninFailure.at < now - window)).rowcount  # type: ignore[attr-defined]
        b = session.execute(  # type: ignore[attr-defined]
            delete(StaffSession).where(
                (StaffSession.ended_at < now - timedelta(days=1)) | (StaffSession.expires_at < now - timedelta(days=1))
            )
        ).rowcount
        return int(a or 0) + int(b or 0)
