"""People who sign in to the staff page: their roles, what each role may do, and their passwords (argon2 hashes).

Roles are cumulative: ``staff`` see cases and download; ``advocate`` also upload documents and start builds; ``admin``
also manage users and read the audit trail. The first admin is made from the command line (`casefile user add NAME
--role admin`). A disabled user or a reset password ends that user's sessions at once.
"""

from __future__ import annotations

import re
import threading
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ..core.catalog import StaffSession, StaffUser, audit, utcnow
from ..core.errors import NotFoundError, ValidationError

if TYPE_CHECKING:
    from argon2 import PasswordHasher

    from ..core.runtime import Runtime

MIN_PASSWORD = 12  # a passphrase of a few words; NIST SP 800-63B asks for at least 8 and allows long ones
MAX_PASSWORD = 256
_NAME = re.compile(r"^[a-z][a-z0-9._-]{1,31}$")


class Role(StrEnum):
    STAFF = "staff"
    ADVOCATE = "advocate"
    ADMIN = "admin"


class Permission(StrEnum):
    VIEW = "view"  # cases, documents, requests, builds; download packets
    UPLOAD = "upload"  # add documents to a case
    BUILD = "build"  # start a packet build
    MANAGE_USERS = "manage-users"
    READ_AUDIT = "read-audit"


_GRANTS: dict[Role, frozenset[Permission]] = {
    Role.STAFF: frozenset({Permission.VIEW}),
    Role.ADVOCATE: frozenset({Permission.VIEW, Permission.UPLOAD, Permission.BUILD}),
    Role.ADMIN: frozenset(Permission),
}


def allows(role: Role | str, permission: Permission) -> bool:
    try:
        return permission in _GRANTS[Role(role)]
    except ValueError:
        return False


class UserNotFound(NotFoundError):
    def __init__(self, name: str) -> None:
        super().__init__(f"No staff user named {name!r}. Run `casefile user list` to see them.")


class UserExists(ValidationError):
    def __init__(self, name: str) -> None:
        super().__init__(f"A staff user named {name!r} exists already. Choose another name, or `casefile user reset`.")


class WeakPassword(ValidationError):
    """A password that is too short, too long or the user's own name."""


_hasher: PasswordHasher | None = None
_hasher_lock = threading.Lock()
# argon2's default (RFC 9106, low memory) takes 64 MiB per hash: at most two hashes at once (one per core) keeps a
# burst of sign-ins from taking the server's memory.
HASH_SLOTS = threading.BoundedSemaphore(2)


def hasher() -> PasswordHasher:
    global _hasher
    with _hasher_lock:
        if _hasher is None:
            from argon2 import PasswordHasher

            _hasher = PasswordHasher()
        return _hasher


def hash_password(password: str) -> str:
    with HASH_SLOTS:
        return hasher().hash(password)


def check_name(name: str) -> str:
    cleaned = name.strip().lower()
    if not _NAME.match(cleaned):
        raise ValidationError(
            "A user name is 2 to 32 characters: lower-case letters, digits, '.', '_' or '-', starting with a letter "
            "(for example avega or a.vega)."
        )
    return cleaned


def check_password(name: str, password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise WeakPassword(f"The password is too short: use at least {MIN_PASSWORD} characters (a few words work).")
    if len(password) > MAX_PASSWORD:
        raise WeakPassword(f"The password is too long: use at most {MAX_PASSWORD} characters.")
    if name.lower() in password.lower():
        raise WeakPassword("The password contains the user name; choose another one.")
    return password


def check_role(role: str) -> Role:
    try:
        return Role(role.strip().lower())
    except ValueError:
        raise ValidationError(f"Unknown role {role!r}; use one of: {', '.join(r.value for r in Role)}.") from None


def user_row(user: StaffUser) -> dict[str, Any]:
    return {
        "name": user.name,
        "role": user.role,
        "disabled": user.disabled,
        "created_at": user.created_at.isoformat(timespec="seconds"),
        "password_changed_at": user.password_changed_at.isoformat(timespec="seconds"),
        "last_signin_at": user.last_signin_at.isoformat(timespec="seconds") if user.last_signin_at else None,
    }


def get_user(session: Session, name: str) -> StaffUser:
    user = session.scalar(select(StaffUser).where(StaffUser.name == name.strip().lower()))
    if user is None:
        raise UserNotFound(name)
    return user


def end_sessions(session: Session, user_id: int) -> int:
    """End every open session of a user (disabled, password reset). Returns how many."""
    result = session.execute(
        update(StaffSession)
        .where(StaffSession.user_id == user_id, StaffSession.ended_at.is_(None))
        .values(ended_at=utcnow())
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def add_user(rt: Runtime, name: str, role: str, password: str, *, actor: str) -> dict[str, Any]:
    name, kind = check_name(name), check_role(role)
    digest = hash_password(check_password(name, password))
    with rt.catalog.session() as session:
        if session.scalar(select(StaffUser.id).where(StaffUser.name == name)) is not None:
            raise UserExists(name)
        user = StaffUser(name=name, role=kind.value, password_hash=digest)
        session.add(user)
        session.flush()
        audit(session, actor=actor, entity="user", entity_id=name, action="user-added", role=kind.value)
        return user_row(user)


def list_users(rt: Runtime) -> list[dict[str, Any]]:
    with rt.catalog.session() as session:
        return [user_row(u) for u in session.scalars(select(StaffUser).order_by(StaffUser.name))]


class LastAdmin(ValidationError):
    def __init__(self) -> None:
        super().__init__("This is the last admin who can sign in; make another admin first.")


def _keep_an_admin(session: Session, user: StaffUser) -> None:
    if user.role != Role.ADMIN.value or user.disabled:
        return
    others = session.scalar(
        select(StaffUser.id).where(StaffUser.role == Role.ADMIN.value, ~StaffUser.disabled, StaffUser.id != user.id)
    )
    if others is None:
        raise LastAdmin()


def set_disabled(rt: Runtime, name: str, disabled: bool, *, actor: str) -> dict[str, Any]:
    """Disable (ending the user's sessions) or enable a user. The last admin cannot be disabled."""
    with rt.catalog.session() as session:
        user = get_user(session, name)
        if disabled:
            _keep_an_admin(session, user)
        user.disabled = disabled
        ended = end_sessions(session, user.id) if disabled else 0
        action = "user-disabled" if disabled else "user-enabled"
        audit(session, actor=actor, entity="user", entity_id=user.name, action=action, sessions_ended=ended)
        return user_row(user)


def set_role(rt: Runtime, name: str, role: str, *, actor: str) -> dict[str, Any]:
    kind = check_role(role)
    with rt.catalog.session() as session:
        user = get_user(session, name)
        if kind is not Role.ADMIN:
            _keep_an_admin(session, user)
        previous, user.role = user.role, kind.value
        end_sessions(session, user.id)  # a session carries no role, but a changed role is a moment to sign in again
        audit(
            session,
            actor=actor,
            entity="user",
            entity_id=user.name,
            action="role-changed",
            role=kind.value,
            previous=previous,
        )
        return user_row(user)


def reset_password(rt: Runtime, name: str, password: str, *, actor: str) -> dict[str, Any]:
    """A new password (checked and hashed); the user's sessions end."""
    with rt.catalog.session() as session:
        user_name = get_user(session, name).name
    digest = hash_password(check_password(user_name, password))
    with rt.catalog.session() as session:
        user = get_user(session, user_name)
        user.password_hash, user.password_changed_at = digest, utcnow()
        ended = end_sessions(session, user.id)
        audit(session, actor=actor, entity="user", entity_id=user.name, action="password-reset", sessions_ended=ended)
        return user_row(user)


def count_admins(rt: Runtime) -> int:
    with rt.catalog.session() as session:
        rows = session.scalars(select(StaffUser).where(StaffUser.role == Role.ADMIN.value, ~StaffUser.disabled))
        return len(list(rows))
