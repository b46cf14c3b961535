"""The staff page's audit trail: who downloaded which build of which case, when, and with what result; every failed
access (not signed in, not allowed, not found, a missing CSRF token); sign-ins, uploads, builds and user changes.

Events go to the catalog's ``audit_events`` (the same table as the command line's), with ids, counts, hashes and the
client address only: never a client's name, a file name or anything typed into a form. An id taken from a URL is kept
only when it looks like an id, so a forged path cannot write arbitrary text into the trail.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from ..core.catalog import AuditEvent, audit

if TYPE_CHECKING:
    from ..core.runtime import Runtime

_ID = re.compile(r"^[A-Za-z]{1,2}-[A-Za-z0-9]{4,12}$")
PAGE_SIZE = 50
ID_ENTITIES = frozenset({"case", "packet", "document", "job", "batch"})  # their ids come from URLs: checked


def safe_id(value: str | None) -> str | None:
    """``value`` upper-cased when it has the shape of a casefile id (C-XXXXXX, P-XXXXXXXXXX, J-...), else None."""
    if value is None:
        return None
    return value.upper() if _ID.match(value) else None


def record(
    rt: Runtime,
    *,
    actor: str,
    action: str,
    entity: str,
    entity_id: str | None = None,
    case_id: str | None = None,
    **detail: Any,
) -> None:
    with rt.catalog.session() as session:
        audit(
            session,
            actor=actor,
            entity=entity,
            entity_id=(safe_id(entity_id) if entity in ID_ENTITIES else entity_id) or "-",
            action=action,
            case_id=safe_id(case_id),
            **detail,
        )


def event_row(e: AuditEvent) -> dict[str, Any]:
    try:
        detail = json.loads(e.detail or "{}")
    except ValueError:
        detail = {}
    return {
        "id": e.id,
        "at": e.at.isoformat(timespec="seconds"),
        "actor": e.actor,
        "case_id": e.case_id,
        "entity": e.entity,
        "entity_id": e.entity_id,
        "action": e.action,
        "detail": detail,
    }


def list_events(
    rt: Runtime,
    *,
    case_id: str | None = None,
    actor: str | None = None,
    action: str | None = None,
    before_id: int | None = None,
    since: datetime | None = None,
    limit: int = PAGE_SIZE,
) -> tuple[list[dict[str, Any]], int]:
    """The newest events first (``before_id`` pages back), filtered; and how many match in all."""
    query = select(AuditEvent)
    if case_id:
        query = query.where(AuditEvent.case_id == case_id.strip().upper())
    if actor:
        query = query.where(AuditEvent.actor == actor.strip().lower())
    if action:
        query = query.where(AuditEvent.action == action.strip())
    if since is not None:
        query = query.where(AuditEvent.at >= since)
    with rt.catalog.session() as session:
        total = int(session.scalar(select(func.count()).select_from(query.subquery())) or 0)
        if before_id is not None:
            query = query.where(AuditEvent.id < before_id)
        rows = session.scalars(query.order_by(AuditEvent.id.desc()).limit(max(1, min(limit, 500))))
        return [event_row(e) for e in rows], total
