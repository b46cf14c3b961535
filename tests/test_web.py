"""The staff page, driven over HTTP in-process (Starlette's test client): signing in, roles, CSRF, what a case shows,
downloads checked against the manifest, uploads under limits, the audit trail, the languages. No Prefect here: flow
runs started from the page are in test_web_flows.py."""

from __future__ import annotations

import hashlib
import io
import logging
import re
import warnings
import zipfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from staffpage import PASSWORDS, add_users, csrf_of, main_of, put_build, sign_in

from casefile.tasks.core.catalog import AuditEvent, IntakeBatch, StaffJob, StaffSession, utcnow
from casefile.tasks.demo.scenario import fictional_case

with warnings.catch_warnings():  # Starlette asks for httpx2; the test client works the same with httpx
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

if TYPE_CHECKING:
    from fastapi import FastAPI

    from casefile.tasks.core.runtime import Runtime

SCRIPT_NAME = "Rosa <script>alert('x')</script> Ejemplo"


@pytest.fixture
def site(runtime: Runtime) -> dict[str, Any]:
    """Users of every role, two cases (one with a name carrying markup), a finished two-part build on each."""
    from casefile.tasks.cases.case import open_case

    add_users(runtime)
    case = open_case(runtime, fictional_case())["id"]
    other = open_case(runtime, fictional_case(client=SCRIPT_NAME, a_number="987-654-321"))["id"]
    build = put_build(runtime, case, "P-TESTBUILD2", [b"%PDF-1.7 part one " * 1000, b"%PDF-1.7 part two " * 500])
    other_build = put_build(runtime, other, "P-OTHERCASE3", [b"%PDF-1.7 someone else's packet"])
    return {"case": case, "other": other, "build": build, "other_build": other_build}


@pytest.fixture
def app(runtime: Runtime, site: dict[str, Any]) -> FastAPI:
    from casefile.flows.web.app import create_app

    return create_app(runtime=runtime)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


def _part_url(case: str, build: str, part: int | str = 1) -> str:
    return f"/cases/{case}/packets/{build}/parts/{part}"


def _events(rt: Runtime, action: str) -> list[AuditEvent]:
    with rt.catalog.session() as session:
        return list(session.query(AuditEvent).filter(AuditEvent.action == action).order_by(AuditEvent.id))


# Signing in -------------------------------------------------------------------------------------------------------
def test_no_page_or_file_without_sign_in(client: TestClient, site: dict[str, Any]) -> None:
    case, build = site["case"], site["build"]["build_id"]
    for url in ("/", f"/cases/{case}", _part_url(case, build), f"/cases/{case}/packets/{build}/zip",
                f"/cases/{case}/jobs/J-AAAAAAAA", "/admin/users", "/admin/audit"):  # fmt: skip
        response = client.get(url, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == "/signin", url
        assert b"%PDF" not in response.content
    for url in ("/search", f"/cases/{case}/builds", f"/cases/{case}/upload", "/admin/users", "/signout"):
        response = client.post(url, data={"q": "Quiroga"}, follow_redirects=False)
        assert response.status_code == 401, url
        assert "Quiroga" not in response.text


def test_a_wrong_password_and_an_unknown_name_get_the_same_answer(client: TestClient, runtime: Runtime) -> None:
    answers = []
    for name, password in (("sam.staff", "not the password at all"), ("nobody.here", "not the password at all")):
        form = client.get("/signin")
        response = client.post("/signin", data={"name": name, "password": password, "csrf": csrf_of(form.text)})
        answers.append((response.status_code, main_of(response.text)))
    assert answers[0] == answers[1] and answers[0][0] == 401
    failures = [e.detail for e in _events(runtime, "signin-failed")]
    assert '"reason": "password"' in failures[0] and '"reason": "unknown-user"' in failures[1]


def test_the_sign_in_rate_limit_holds_even_for_the_right_password(client: TestClient, runtime: Runtime) -> None:
    form = client.get("/signin")
    token = csrf_of(form.text)
    for _ in range(runtime.settings.web_signin_attempts):
        bad = client.post("/signin", data={"name": "sam.staff", "password": "guess guess guess", "csrf": token})
        assert bad.status_code == 401
    right = client.post("/signin", data={"name": "sam.staff", "password": PASSWORDS["sam.staff"], "csrf": token})
    assert right.status_code == 429 and int(right.headers["retry-after"]) > 0
    assert "cf_session" not in right.cookies
    # Other users are not locked out by someone guessing one name (below the per-address limit).
    sign_in(client, "ana.admin")


def test_sign_in_needs_the_forms_own_token(client: TestClient) -> None:
    response = client.post("/signin", data={"name": "sam.staff", "password": PASSWORDS["sam.staff"], "csrf": "x"})
    assert response.status_code == 403 and "cf_session" not in response.cookies


def test_the_session_cookie_is_httponly_samesite_and_secure_over_tls(app: FastAPI) -> None:
    with TestClient(app, base_url="https://staff.example.org") as tls:
        form = tls.get("/signin")
        response = tls.post(
            "/signin",
            data={"name": "sam.staff", "password": PASSWORDS["sam.staff"], "csrf": csrf_of(form.text)},
            follow_redirects=False,
        )
        cookie = response.headers["set-cookie"].lower()
        assert "cf_session=" in cookie and "httponly" in cookie and "samesite=lax" in cookie and "secure" in cookie
        assert "max-age=" in cookie
        assert response.headers["strict-transport-security"]
    with TestClient(app) as plain:
        form = plain.get("/signin")
        response = plain.post(
            "/signin",
            data={"name": "sam.staff", "password": PASSWORDS["sam.staff"], "csrf": csrf_of(form.text)},
            follow_redirects=False,
        )
        assert "secure" not in response.headers["set-cookie"].lower()


def test_a_session_cookie_stops_working_after_sign_out(client: TestClient, site: dict[str, Any]) -> None:
    token = sign_in(client, "sam.staff")
    cookie = client.cookies["cf_session"]
    assert client.post("/signout", data={"csrf": token}, follow_redirects=False).status_code == 303
    client.cookies.set("cf_session", cookie)  # a copy of the cookie kept by someone
    response = client.get(f"/cases/{site['case']}", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/signin"


def test_a_session_cookie_stops_working_after_expiry(
    client: TestClient, runtime: Runtime, site: dict[str, Any]
) -> None:
    sign_in(client, "sam.staff")
    assert client.get(f"/cases/{site['case']}").status_code == 200
    idle = timedelta(minutes=runtime.settings.web_session_idle_minutes)
    with runtime.catalog.session() as session:
        for row in session.query(StaffSession):
            row.last_seen_at = utcnow() - idle - timedelta(seconds=1)
    assert client.get(f"/cases/{site['case']}", follow_redirects=False).status_code == 303

    sign_in(client, "sam.staff")  # and the absolute limit, however busy the session is
    with runtime.catalog.session() as session:
        for row in session.query(StaffSession).filter(StaffSession.ended_at.is_(None)):
            row.expires_at = utcnow() - timedelta(seconds=1)
    assert client.get("/", follow_redirects=False).status_code == 303


def test_disabling_a_user_ends_their_sessions_at_once(client: TestClient, app: FastAPI, runtime: Runtime) -> None:
    from casefile.tasks.staff.users import set_disabled

    sign_in(client, "sam.staff")
    set_disabled(runtime, "sam.staff", True, actor="test")
    assert client.get("/", follow_redirects=False).status_code == 303


# Roles ------------------------------------------------------------------------------------------------------------
def test_staff_cannot_upload_or_start_builds(client: TestClient, runtime: Runtime, site: dict[str, Any]) -> None:
    token = sign_in(client, "sam.staff")
    page = client.get(f"/cases/{site['case']}").text
    assert "/upload" not in page and "/builds" not in page
    upload = client.post(
        f"/cases/{site['case']}/upload",
        data={"csrf": token},
        files={"files": ("letter.jpg", b"\xff\xd8\xff" + b"0" * 100, "image/jpeg")},
    )
    build = client.post(f"/cases/{site['case']}/builds", data={"csrf": token, "profile": "eoir"})
    assert upload.status_code == 403 and build.status_code == 403
    with runtime.catalog.session() as session:
        assert session.query(IntakeBatch).count() == 0 and session.query(StaffJob).count() == 0
    denied = _events(runtime, "access-denied")
    assert {e.actor for e in denied} == {"sam.staff"} and all("role-staff" in e.detail for e in denied)
    for url in ("/admin/users", "/admin/audit"):
        assert client.get(url).status_code == 403


def test_a_build_with_a_date_of_service_that_is_not_a_date_is_refused(
    client: TestClient, runtime: Runtime, site: dict[str, Any]
) -> None:
    token = sign_in(client, "avi.advocate")
    response = client.post(
        f"/cases/{site['case']}/builds", data={"csrf": token, "profile": "eoir", "service_date": "next Tuesday"}
    )
    assert response.status_code == 400 and "date of service" in response.text
    with runtime.catalog.session() as session:
        assert session.query(StaffJob).count() == 0


def test_a_build_the_command_line_would_refuse_is_refused_at_once_with_its_reason(
    client: TestClient, runtime: Runtime, site: dict[str, Any]
) -> None:
    token = sign_in(client, "avi.advocate")
    response = client.post(f"/cases/{site['other']}/builds", data={"csrf": token, "profile": "eoir"})
    assert response.status_code == 400 and "casefile exhibits" in response.text  # no exhibit list: the preflight's
    with runtime.catalog.session() as session:
        assert session.query(StaffJob).count() == 0  # no flow run was started


def test_only_the_demos_own_case_files_for_the_fictional_practice_and_only_without_one_of_the_homes(
    runtime: Runtime, site: dict[str, Any]
) -> None:
    import shutil

    from casefile.tasks.core.practice import SAMPLE_PRACTICE
    from casefile.tasks.staff.builds import PageBuild, is_demo_case, prepare

    assert is_demo_case(runtime, site["case"]) and not is_demo_case(runtime, site["other"])
    shutil.copyfile(SAMPLE_PRACTICE, runtime.settings.practice_file)  # the home's own practice (here a copy)
    assert not is_demo_case(runtime, site["case"])
    from casefile.tasks.packets.build import NoExhibits

    with pytest.raises(NoExhibits):
        prepare(runtime, site["case"], PageBuild())


def test_a_case_page_says_what_stands_between_the_case_and_a_filing(client: TestClient, site: dict[str, Any]) -> None:
    sign_in(client, "sam.staff")
    demo = client.get(f"/cases/{site['case']}").text
    assert "Ready to file?" in demo and "not ready" in demo and "No exhibit list yet" in demo
    assert "The demo's fictional case" in demo and "Practice placeholder:" not in demo
    other = client.get(f"/cases/{site['other']}").text
    assert "Practice placeholder:" in other and "The demo's fictional case" not in other


def test_advocates_do_not_manage_users(client: TestClient) -> None:
    token = sign_in(client, "avi.advocate")
    assert client.get("/admin/users").status_code == 403
    response = client.post("/admin/users", data={"csrf": token, "name": "eve", "role": "admin", "password": "p" * 20})
    assert response.status_code == 403


# Ids in URLs ------------------------------------------------------------------------------------------------------
def test_forged_ids_another_cases_build_and_dot_dot_give_the_same_404(
    client: TestClient, runtime: Runtime, site: dict[str, Any]
) -> None:
    sign_in(client, "sam.staff")
    case, build, other_build = site["case"], site["build"]["build_id"], site["other_build"]["build_id"]
    reference = client.get("/cases/C-ZZZZZZ")
    assert reference.status_code == 404
    probes = [
        _part_url(case, other_build),  # a real build, of another case
        f"/cases/{case}/packets/{other_build}/zip",
        _part_url(case, "P-FORGED0000"),
        _part_url(case, build, 3),  # one part too many
        _part_url(case, build, 0),
        _part_url(case, build, "1.pdf"),
        _part_url(case, build, "..%2F..%2Fmanifest.json"),
        f"/cases/{case}/packets/..%2F{build}/parts/1",
        f"/cases/..%2F..%2F{case}",
        f"/cases/{case}/packets/{build}/parts/..",
        "/cases/%2E%2E/packets/%2E%2E/parts/1",
        f"/cases/{case}/jobs/J-NOSUCHJ0",
        "/cases/Maria%20Quiroga",
        "/static/..%2F..%2Fpages.py",
    ]
    for url in probes:
        response = client.get(url)
        assert response.status_code == 404, url
        assert main_of(response.text) == main_of(reference.text), url
        assert b"%PDF" not in response.content
    denied = _events(runtime, "access-denied")
    assert len(denied) >= len(probes)
    assert all("Quiroga" not in (e.detail + e.entity_id + (e.case_id or "")) for e in denied)


# CSRF -------------------------------------------------------------------------------------------------------------
def test_state_changing_requests_without_the_csrf_token_fail(
    client: TestClient, runtime: Runtime, site: dict[str, Any]
) -> None:
    token = sign_in(client, "ana.admin")
    case = site["case"]
    attempts = [
        ("/search", {"q": "Quiroga"}),
        (f"/cases/{case}/builds", {"profile": "eoir"}),
        ("/admin/users", {"name": "mallory", "role": "admin", "password": "m" * 20}),
        ("/admin/users/sam.staff/disable", {}),
        ("/language", {"lang": "es", "next": "/"}),
        ("/signout", {}),
    ]
    for url, data in attempts:
        for forged in ({}, {"csrf": "forged-token"}):
            response = client.post(url, data={**data, **forged})
            assert response.status_code == 403, url
    upload = client.post(f"/cases/{case}/upload", files={"files": ("a.pdf", b"%PDF-1.4", "application/pdf")})
    assert upload.status_code == 403
    cross_site = client.post("/search", data={"q": "x", "csrf": token}, headers={"Origin": "https://evil.example"})
    assert cross_site.status_code == 403
    with runtime.catalog.session() as session:
        assert session.query(StaffJob).count() == 0 and session.query(IntakeBatch).count() == 0
    assert client.get("/").status_code == 200  # still signed in: the forged sign-out did nothing
    refused = _events(runtime, "csrf-refused")
    assert len(refused) >= len(attempts) * 2 + 1 and any("cross-origin" in e.detail for e in refused)


# What a case shows -----------------------------------------------------------------------------------------------
def test_a_client_name_with_script_is_shown_as_text(client: TestClient, site: dict[str, Any]) -> None:
    token = sign_in(client, "sam.staff")
    for response in (client.get(f"/cases/{site['other']}"), client.post("/search", data={"q": "Rosa", "csrf": token})):
        assert "<script>" not in response.text
        assert "Rosa &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; Ejemplo" in response.text
        assert "script-src" not in response.headers["content-security-policy"]  # no script may run at all


def test_a_case_page_shows_deadline_documents_requests_and_builds(client: TestClient, site: dict[str, Any]) -> None:
    sign_in(client, "sam.staff")
    html = client.get(f"/cases/{site['case']}").text
    build = site["build"]
    assert "Feb 2, 2027" in html and "Mar 4, 2027" in html  # the filing deadline, 30 days before the hearing
    assert build["build_id"] in html and "EOIR" in html
    for part in build["outputs"]:
        assert part["sha256"] in html and part["name"] in html
    assert "built without translations for exhibit(s)" in html and ">B<" not in html
    assert "/zip" in html


def test_a_detained_case_without_a_court_date_says_to_ask_the_court(client: TestClient, runtime: Runtime) -> None:
    from casefile.tasks.cases.case import open_case

    detained = open_case(runtime, fictional_case(detained=True, a_number="555-444-333"))["id"]
    sign_in(client, "sam.staff")
    assert "filing date not set: ask the court" in client.get(f"/cases/{detained}").text
    home = client.get("/").text
    assert f'href="/cases/{detained}"' in home and "filing date not set: ask the court" in home


def test_search_finds_cases_by_name_a_number_and_id(client: TestClient, site: dict[str, Any]) -> None:
    token = sign_in(client, "sam.staff")
    for query in ("quiroga maria", "A123-456-789", "123456789", site["case"].lower(), "Quirogá"):
        html = client.post("/search", data={"q": query, "csrf": token}).text
        assert f'href="/cases/{site["case"]}"' in html, query
        assert f'href="/cases/{site["other"]}"' not in html, query


def test_the_access_log_names_routes_never_people(
    client: TestClient, site: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="casefile.web.access"):
        token = sign_in(client, "sam.staff")
        client.post("/search", data={"q": "Maria Fernanda Quiroga", "csrf": token})
        client.get(f"/cases/{site['case']}")
        client.get("/cases/Maria%20Fernanda")
    lines = [r.getMessage() for r in caplog.records if r.name == "casefile.web.access"]
    assert "POST /search 200" in " ".join(lines) and any("/cases/{case_id}" in line for line in lines)
    text = "\n".join(lines)
    assert "Maria" not in text and "Quiroga" not in text and site["case"] not in text


# Downloads --------------------------------------------------------------------------------------------------------
def test_a_part_downloads_with_its_manifests_sha256_and_the_download_is_recorded(
    client: TestClient, runtime: Runtime, site: dict[str, Any]
) -> None:
    sign_in(client, "sam.staff")
    build = site["build"]
    response = client.get(_part_url(site["case"], build["build_id"], 2))
    part = build["outputs"][1]
    assert response.status_code == 200 and response.headers["content-type"] == "application/pdf"
    assert hashlib.sha256(response.content).hexdigest() == part["sha256"]
    assert part["name"] in response.headers["content-disposition"]
    (event,) = _events(runtime, "download")
    assert (event.actor, event.case_id, event.entity_id) == ("sam.staff", site["case"], build["build_id"])
    assert '"result": "ok"' in event.detail and part["name"] in event.detail


def test_all_parts_download_as_one_zip_with_the_manifest(client: TestClient, site: dict[str, Any]) -> None:
    sign_in(client, "sam.staff")
    build = site["build"]
    response = client.get(f"/cases/{site['case']}/packets/{build['build_id']}/zip")
    assert response.status_code == 200
    with zipfile.ZipFile(io.BytesIO(response.content)) as zf:
        names = zf.namelist()
        for part in build["outputs"]:
            assert hashlib.sha256(zf.read(part["name"])).hexdigest() == part["sha256"]
        assert f"{build['build_id']}-manifest.json" in names


def test_a_part_whose_bytes_differ_from_the_manifest_is_never_served(
    client: TestClient, runtime: Runtime, site: dict[str, Any]
) -> None:
    sign_in(client, "sam.staff")
    build = site["build"]
    path = Path(runtime.settings.objects_path) / build["outputs"][0]["key"]
    path.write_bytes(path.read_bytes()[:-1] + b"X")  # one byte changed in the store
    for url in (
        _part_url(site["case"], build["build_id"], 1),
        f"/cases/{site['case']}/packets/{build['build_id']}/zip",
    ):
        response = client.get(url)
        assert response.status_code == 409 and b"%PDF" not in response.content
        assert "does not match the fingerprint" in response.text
    results = [e.detail for e in _events(runtime, "download")]
    assert len(results) == 2 and all('"result": "integrity-error"' in d for d in results)
    assert client.get(_part_url(site["case"], build["build_id"], 2)).status_code == 200  # the intact part is fine


def test_a_build_without_its_manifest_is_not_served(client: TestClient, runtime: Runtime, site: dict[str, Any]) -> None:
    sign_in(client, "sam.staff")
    build = site["build"]
    runtime.store.delete(f"packets/{site['case']}/{build['build_id']}/manifest.json")
    assert client.get(_part_url(site["case"], build["build_id"], 1)).status_code == 404
    assert build["build_id"] not in client.get(f"/cases/{site['case']}").text


# Uploads ----------------------------------------------------------------------------------------------------------
def test_an_upload_over_the_limit_is_refused_and_nothing_is_kept(
    home: Path, monkeypatch: pytest.MonkeyPatch, site: dict[str, Any]
) -> None:
    from casefile.flows.web.app import create_app
    from casefile.tasks.core.runtime import get_runtime, reset_runtimes

    monkeypatch.setenv("CASEFILE_WEB_UPLOAD_MAX_BYTES", "50000")
    reset_runtimes()
    rt = get_runtime()
    with TestClient(create_app(runtime=rt)) as client:
        token = sign_in(client, "avi.advocate")
        response = client.post(
            f"/cases/{site['case']}/upload",
            data={"csrf": token},
            files=[("files", ("a.jpg", b"\xff\xd8\xff" + b"1" * 30000, "image/jpeg")),
                   ("files", ("b.jpg", b"\xff\xd8\xff" + b"2" * 30000, "image/jpeg"))],
        )  # fmt: skip
    assert response.status_code == 413 and "too large" in response.text
    uploads = rt.settings.work_dir / "uploads"
    assert not uploads.exists() or list(uploads.iterdir()) == []
    with rt.catalog.session() as session:
        assert session.query(IntakeBatch).count() == 0


def test_an_upload_with_files_before_its_token_is_refused_before_writing(
    client: TestClient, runtime: Runtime, site: dict[str, Any]
) -> None:
    token = sign_in(client, "avi.advocate")
    body = (
        b'--XyZ\r\nContent-Disposition: form-data; name="files"; filename="x.pdf"\r\n'
        b"Content-Type: application/pdf\r\n\r\n%PDF-1.4 data\r\n"
        b'--XyZ\r\nContent-Disposition: form-data; name="csrf"\r\n\r\n' + token.encode() + b"\r\n--XyZ--\r\n"
    )
    response = client.post(
        f"/cases/{site['case']}/upload", content=body, headers={"Content-Type": "multipart/form-data; boundary=XyZ"}
    )
    assert response.status_code == 403
    uploads = runtime.settings.work_dir / "uploads"
    assert not uploads.exists() or list(uploads.iterdir()) == []


def test_uploaded_file_names_are_made_safe() -> None:
    from casefile.tasks.staff.uploads import clean_filename

    assert clean_filename("../../etc/passwd") == "passwd"
    assert clean_filename("C:\\Users\\x\\foto 1.JPG") == "foto 1.JPG"
    assert clean_filename(".hidden.pdf") == "hidden.pdf"
    assert clean_filename("") == "upload"
    assert clean_filename("a\x00b\nc.pdf") == "a_b_c.pdf"
    long = clean_filename("x" * 500 + ".heic")
    assert len(long) <= 120 and long.endswith(".heic")


# Admin ------------------------------------------------------------------------------------------------------------
def test_an_admin_manages_users_and_reads_the_audit_trail(client: TestClient, runtime: Runtime) -> None:
    token = sign_in(client, "ana.admin")
    added = client.post(
        "/admin/users", data={"csrf": token, "name": "new.paralegal", "role": "staff", "password": "a long passphrase"}
    )
    assert added.status_code == 200 and "new.paralegal" in added.text
    weak = client.post("/admin/users", data={"csrf": token, "name": "weak.one", "role": "staff", "password": "short"})
    assert weak.status_code == 400 and "too short" in weak.text
    assert client.post("/admin/users/new.paralegal/role", data={"csrf": token, "role": "advocate"}).status_code == 200
    assert client.post("/admin/users/new.paralegal/disable", data={"csrf": token}).status_code == 200
    last_admin = client.post("/admin/users/ana.admin/disable", data={"csrf": token})
    assert last_admin.status_code == 400 and "last admin" in last_admin.text
    audit = client.get("/admin/audit").text
    for action in ("user-added", "role-changed", "user-disabled", "signed-in"):
        assert action in audit
    assert client.get("/admin/audit", params={"before": str(2**70)}).status_code == 400  # not a database error
    filtered = client.get("/admin/audit", params={"action": "user-added", "actor": "ana.admin"}).text
    assert "new.paralegal" in filtered and "signed-in" not in re.sub(
        r"<datalist.*?</datalist>", "", filtered, flags=re.S
    )


# Languages --------------------------------------------------------------------------------------------------------
def test_the_page_speaks_the_browsers_language_until_the_user_picks_one(client: TestClient) -> None:
    spanish = client.get("/signin", headers={"Accept-Language": "es-MX,es;q=0.9,en;q=0.5"})
    assert "Iniciar sesión" in spanish.text and 'lang="es"' in spanish.text
    english = client.get("/signin", headers={"Accept-Language": "fr-FR, en;q=0.8"})
    assert "Sign in" in english.text
    token = sign_in(client, "sam.staff")
    chosen = client.post("/language", data={"lang": "es", "next": "/", "csrf": token}, follow_redirects=False)
    assert chosen.status_code == 303 and chosen.headers["location"] == "/"
    assert "Buscar un caso" in client.get("/", headers={"Accept-Language": "en"}).text
    outside = client.post("/language", data={"lang": "en", "next": "https://evil.example/", "csrf": token},
                          follow_redirects=False)  # fmt: skip
    assert outside.headers["location"] == "/"


def test_every_message_of_the_page_has_a_spanish_translation() -> None:
    from babel.messages.extract import extract_from_dir
    from babel.messages.mofile import read_mo
    from babel.messages.pofile import read_po

    from casefile.flows.web.i18n import LOCALE_DIR
    from casefile.tasks.core.settings import PACKAGE_ROOT

    method_map = [("flows/web/**.py", "python"), ("templates/web/**.j2", "jinja2")]
    options = {"templates/web/**.j2": {"extensions": "jinja2.ext.i18n"}}
    found = {
        (message if isinstance(message, str) else message[0])
        for _file, _line, message, _comments, _context in extract_from_dir(
            str(PACKAGE_ROOT), method_map, options_map=options
        )
    }
    folder = LOCALE_DIR / "es" / "LC_MESSAGES"
    with (folder / "messages.po").open("rb") as fh:
        po = read_po(fh)
    translated = {(m.id if isinstance(m.id, str) else m.id[0]) for m in po if m.id and all(m.string or [""])}
    assert len(found) > 100 and found - translated == set()
    with (folder / "messages.mo").open("rb") as fh:
        mo = read_mo(fh)
    assert _pairs(mo) == _pairs(po)  # the .mo is compiled from the .po


def test_the_reasons_in_words_are_the_librarys_own() -> None:
    from casefile.flows.web import i18n
    from casefile.flows.web.messages import quarantine_remedy
    from casefile.tasks.core.errors import QuarantineReason, remedy_for

    for reason in QuarantineReason:
        assert quarantine_remedy(reason.value) == remedy_for(reason)  # English: word for word
        token = i18n.current.set("es")
        try:
            assert quarantine_remedy(reason.value) not in (None, remedy_for(reason))  # and translated
        finally:
            i18n.current.reset(token)
    assert quarantine_remedy(None) is None and quarantine_remedy("no-such-reason") is None


def _pairs(catalog: Any) -> dict[Any, Any]:
    def key(value: Any) -> Any:
        return value if isinstance(value, str) else tuple(value)

    return {key(m.id): key(m.string) for m in catalog if m.id}
