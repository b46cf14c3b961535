"""Helpers for the staff page's tests: users of each role, a finished packet build put in the store as the builder
leaves one (parts, then the manifest), and signing in through the page like a browser does."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from casefile.tasks.packets.manifest import MANIFEST, build_prefix

if TYPE_CHECKING:
    from starlette.testclient import TestClient

    from casefile.tasks.core.runtime import Runtime

PASSWORDS = {
    "ana.admin": "admin passphrase for tests",
    "avi.advocate": "advocate passphrase for tests",
    "sam.staff": "staff passphrase for tests",
}
ROLES = {"ana.admin": "admin", "avi.advocate": "advocate", "sam.staff": "staff"}


_HASHES: dict[str, str] = {}


def add_users(rt: Runtime) -> None:
    """One user of each role. Their argon2 hashes are made once per test session (a hash costs ~0.1 s by design)."""
    from casefile.tasks.core.catalog import StaffUser
    from casefile.tasks.staff.users import hash_password

    with rt.catalog.session() as session:
        for name, role in ROLES.items():
            digest = _HASHES.setdefault(name, hash_password(PASSWORDS[name]))
            session.add(StaffUser(name=name, role=role, password_hash=digest))


def put_build(rt: Runtime, case_id: str, build_id: str, parts: list[bytes], profile: str = "eoir") -> dict[str, Any]:
    """A finished build as tasks/packets/build.py stores one: the parts, then the manifest, written last."""
    prefix = build_prefix(case_id, build_id)
    outputs = []
    first = 1
    for number, data in enumerate(parts, start=1):
        name = f"{case_id}-{profile}-exhibits-part{number:02d}.pdf"
        key = prefix + name
        rt.store.put_bytes(key, data)
        outputs.append(
            {
                "name": name,
                "key": key,
                "sha256": hashlib.sha256(data).hexdigest(),
                "bytes": len(data),
                "pages": 3,
                "first_page": first,
                "last_page": first + 2,
            }
        )
        first += 3
    manifest = {
        "manifest_version": 1,
        "build_id": build_id,
        "case_id": case_id,
        "profile": profile,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "service_date": "2027-01-15",
        "pages": first - 1,
        "inputs": [],
        "exhibits": [],
        "outputs": outputs,
        "overrides": [{"override": "allow-missing-translations", "exhibits": ["B"], "actor": "test"}],
        "check": {"ok": True, "warnings": []},
    }
    rt.store.put_bytes(prefix + MANIFEST, json.dumps(manifest).encode())
    return manifest


_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "no CSRF field on the page"
    return found.group(1)


def sign_in(client: TestClient, name: str, password: str | None = None) -> str:
    """Sign in through the form; returns the session's CSRF token (from the next page)."""
    form = client.get("/signin")
    response = client.post(
        "/signin",
        data={"name": name, "password": password or PASSWORDS[name], "csrf": csrf_of(form.text)},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text[-500:]
    return csrf_of(client.get("/").text)


def main_of(html: str) -> str:
    """The page's <main> without its CSRF tokens: what a person reads."""
    start, end = html.find("<main"), html.find("</main>")
    return _CSRF.sub("", html[start:end])
