"""tasks/staff, the library side of the staff page: users and roles, sessions and their limits, the sign-in rate limit,
finding cases, and downloads from S3 through short-lived presigned URLs."""

from __future__ import annotations

import hashlib
import time
import urllib.parse
import urllib.request
import warnings
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from staffpage import PASSWORDS, add_users, put_build, sign_in

from casefile.tasks.core.catalog import StaffUser, utcnow
from casefile.tasks.core.errors import ValidationError
from casefile.tasks.demo.scenario import fictional_case
from casefile.tasks.staff import sessions, users
from casefile.tasks.staff.users import Permission, Role, allows

if TYPE_CHECKING:
    from casefile.tasks.core.runtime import Runtime


def test_a_password_is_kept_only_as_an_argon2id_hash(runtime: Runtime) -> None:
    users.add_user(runtime, "Rita.Records", "staff", "a phrase only rita knows", actor="test")
    with runtime.catalog.session() as session:
        user = session.query(StaffUser).one()
        assert user.name == "rita.records" and user.password_hash.startswith("$argon2id$")
        assert "a phrase only rita knows" not in user.password_hash
    token, who = sessions.sign_in(runtime, "RITA.records", "a phrase only rita knows", "127.0.0.1")
    assert who.role is Role.STAFF and sessions.resolve(runtime, token) == who


def test_roles_add_up_from_staff_to_advocate_to_admin() -> None:
    assert allows(Role.STAFF, Permission.VIEW) and not allows(Role.STAFF, Permission.UPLOAD)
    assert allows(Role.ADVOCATE, Permission.UPLOAD) and allows(Role.ADVOCATE, Permission.BUILD)
    assert not allows(Role.ADVOCATE, Permission.MANAGE_USERS) and not allows(Role.ADVOCATE, Permission.READ_AUDIT)
    assert all(allows(Role.ADMIN, p) for p in Permission)
    assert not allows("root", Permission.VIEW)


@pytest.mark.parametrize(
    ("name", "password"),
    [
        ("ok.name", "short"),
        ("ok.name", "contains ok.name inside it"),
        ("Bad Name", "long enough password"),
        ("x", "long enough password"),
        ("ok.name", "p" * 300),
    ],
)
def test_weak_passwords_and_odd_names_are_refused(runtime: Runtime, name: str, password: str) -> None:
    with pytest.raises(ValidationError):
        users.add_user(runtime, name, "staff", password, actor="test")


def test_the_last_admin_stays(runtime: Runtime) -> None:
    add_users(runtime)
    with pytest.raises(users.LastAdmin):
        users.set_disabled(runtime, "ana.admin", True, actor="test")
    with pytest.raises(users.LastAdmin):
        users.set_role(runtime, "ana.admin", "staff", actor="test")
    users.set_role(runtime, "avi.advocate", "admin", actor="test")
    users.set_disabled(runtime, "ana.admin", True, actor="test")  # another admin exists now


def test_a_reset_password_ends_the_old_sessions(runtime: Runtime) -> None:
    add_users(runtime)
    token, _who = sessions.sign_in(runtime, "sam.staff", PASSWORDS["sam.staff"], "127.0.0.1")
    users.reset_password(runtime, "sam.staff", "a brand new passphrase", actor="ana.admin")
    assert sessions.resolve(runtime, token) is None
    with pytest.raises(sessions.SigninRefused):
        sessions.sign_in(runtime, "sam.staff", PASSWORDS["sam.staff"], "127.0.0.1")
    sessions.sign_in(runtime, "sam.staff", "a brand new passphrase", "127.0.0.1")


def test_sessions_end_after_idle_time_and_at_their_limit(runtime: Runtime) -> None:
    add_users(runtime)
    token, _who = sessions.sign_in(runtime, "sam.staff", PASSWORDS["sam.staff"], "127.0.0.1")
    s = runtime.settings
    now = utcnow()
    # Used every few minutes, it lives until its limit and no longer.
    step = timedelta(minutes=s.web_session_idle_minutes - 1)
    when = now
    while when + step < now + timedelta(hours=s.web_session_max_hours):
        when += step
        assert sessions.resolve(runtime, token, now=when) is not None
    assert sessions.resolve(runtime, token, now=now + timedelta(hours=s.web_session_max_hours)) is None
    other, _who = sessions.sign_in(runtime, "sam.staff", PASSWORDS["sam.staff"], "127.0.0.1")
    later = utcnow() + timedelta(minutes=s.web_session_idle_minutes, seconds=1)
    assert sessions.resolve(runtime, other, now=later) is None
    assert sessions.resolve(runtime, other) is None  # once ended, it stays ended
    assert sessions.resolve(runtime, "not-a-token") is None and sessions.resolve(runtime, "x" * 5000) is None


def test_one_address_guessing_many_names_is_stopped(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    add_users(runtime)
    limit = runtime.settings.web_signin_address_attempts
    for i in range(limit):
        with pytest.raises(sessions.SigninRefused):
            sessions.sign_in(runtime, f"guess{i}", "wrong wrong wrong", "203.0.113.9")
    with pytest.raises(sessions.TooManyAttempts):
        sessions.sign_in(runtime, "sam.staff", PASSWORDS["sam.staff"], "203.0.113.9")
    sessions.sign_in(runtime, "sam.staff", PASSWORDS["sam.staff"], "198.51.100.4")  # another address is not blocked


def test_cases_are_found_by_name_a_number_or_id(runtime: Runtime) -> None:
    from casefile.tasks.cases.case import open_case
    from casefile.tasks.cases.find import find_cases

    nunez = open_case(runtime, fictional_case(client="José Núñez Ejemplo", a_number="A 012-345-678"))["id"]
    other = open_case(runtime, fictional_case(client="Ana Otra Persona", a_number="987654321"))["id"]
    for query in ("jose nunez", "NÚÑEZ", "núñez josé", "12345678", "A012-345-678", "012 345 678", nunez.lower()):
        assert [c["id"] for c in find_cases(runtime, query)] == [nunez], query
    assert [c["id"] for c in find_cases(runtime, other)] == [other]
    assert find_cases(runtime, "") == [] and find_cases(runtime, "nobody by this name") == []


# Downloads from S3 -----------------------------------------------------------------------------------------------
@pytest.fixture
def s3_runtime(home: Path, moto_endpoint: str, s3_bucket: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Runtime]:
    from casefile.tasks.core.runtime import get_runtime, reset_runtimes

    for key, value in {
        "CASEFILE_STORAGE_BACKEND": "s3",
        "CASEFILE_S3_ENDPOINT_URL": moto_endpoint,
        "CASEFILE_S3_BUCKET": s3_bucket,
        "CASEFILE_S3_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }.items():
        monkeypatch.setenv(key, value)
    reset_runtimes()
    yield get_runtime()
    reset_runtimes()


@pytest.mark.s3
def test_on_s3_a_verified_part_is_handed_out_as_a_short_lived_link(s3_runtime: Runtime) -> None:
    from casefile.flows.web.app import create_app
    from casefile.tasks.cases.case import open_case

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient

    rt = s3_runtime
    add_users(rt)
    case = open_case(rt, fictional_case())["id"]
    build = put_build(rt, case, "P-S3BUILD000", [b"%PDF-1.7 stored in S3 " * 2000, b"%PDF-1.7 second part"])
    with TestClient(create_app(runtime=rt)) as client:
        sign_in(client, "sam.staff")
        response = client.get(f"/cases/{case}/packets/P-S3BUILD000/parts/1", follow_redirects=False)
        assert response.status_code == 303
        link = response.headers["location"]
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(link).query)
        lifetime = (
            int(query["X-Amz-Expires"][0]) if "X-Amz-Expires" in query else int(query["Expires"][0]) - time.time()
        )
        assert 0 < lifetime <= rt.settings.web_presign_seconds + 1
        assert "attachment" in urllib.parse.unquote(link)
        with urllib.request.urlopen(link, timeout=30) as fetched:  # noqa: S310 - moto on loopback
            assert hashlib.sha256(fetched.read()).hexdigest() == build["outputs"][0]["sha256"]

        rt.store.put_bytes(build["outputs"][1]["key"], b"%PDF-1.7 replaced behind the manifest's back")
        refused = client.get(f"/cases/{case}/packets/P-S3BUILD000/parts/2", follow_redirects=False)
        assert refused.status_code == 409 and "location" not in refused.headers
        zipped = client.get(f"/cases/{case}/packets/P-S3BUILD000/zip")
        assert zipped.status_code == 409


# The command line: `casefile user ...` -------------------------------------------------------------------------
def test_the_first_admin_is_made_and_managed_from_the_command_line(runtime: Runtime) -> None:
    import json

    from click.testing import CliRunner

    from casefile.flows.cli.main import main

    runner = CliRunner()
    made = runner.invoke(
        main,
        ["user", "add", "Ana.Admin", "--role", "admin", "--json"],
        input="admin passphrase here\nadmin passphrase here\n",
    )
    assert made.exit_code == 0, made.output
    assert json.loads(made.stdout[made.stdout.index("{") :])["role"] == "admin"  # after the password prompts
    piped = runner.invoke(
        main, ["user", "add", "sam.staff", "--role", "staff", "--password-stdin"], input="staff passphrase here\n"
    )
    assert piped.exit_code == 0 and "added as staff" in piped.output
    short = runner.invoke(main, ["user", "add", "tom", "--role", "staff", "--password-stdin"], input="short\n")
    assert short.exit_code == 2 and "too short" in short.output
    twice = runner.invoke(
        main, ["user", "add", "sam.staff", "--role", "staff", "--password-stdin"], input="another passphrase\n"
    )
    assert twice.exit_code == 2
    listed = json.loads(runner.invoke(main, ["user", "list", "--json"]).stdout)
    assert [(u["name"], u["role"], u["disabled"]) for u in listed] == [
        ("ana.admin", "admin", False),
        ("sam.staff", "staff", False),
    ]
    assert runner.invoke(main, ["user", "disable", "sam.staff"]).exit_code == 0
    assert runner.invoke(main, ["user", "disable", "ana.admin"]).exit_code == 2  # the last admin
    assert runner.invoke(main, ["user", "reset", "nobody", "--password-stdin"], input="whatever it is\n").exit_code == 3
    reset = runner.invoke(main, ["user", "reset", "ana.admin", "--password-stdin"], input="a new admin passphrase\n")
    assert reset.exit_code == 0
    sessions.sign_in(runtime, "ana.admin", "a new admin passphrase", "127.0.0.1")
    assert "a new admin passphrase" not in "".join(str(e.detail) for e in _all_events(runtime))


def _all_events(rt: Runtime) -> list[Any]:
    from casefile.tasks.core.catalog import AuditEvent

    with rt.catalog.session() as session:
        return list(session.query(AuditEvent))


def test_the_pages_static_files_and_catalogs_ship_as_package_data() -> None:
    import fnmatch
    import tomllib

    from casefile.tasks.core.settings import PACKAGE_ROOT

    setuptools = tomllib.loads((PACKAGE_ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert {"casefile.flows.web", "casefile.tasks.staff"} <= set(setuptools["packages"])
    patterns = setuptools["package-data"]["casefile.flows.web"]
    root = PACKAGE_ROOT / "flows" / "web"
    data = [
        p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file() and p.suffix in (".css", ".po", ".mo")
    ]
    assert {"static/web.css", "locale/es/LC_MESSAGES/messages.mo"} <= set(data)
    assert [f for f in data if not any(fnmatch.fnmatch(f, pat) for pat in patterns)] == []
