"""The staff page's routes. Each one: who is asking (``signed_in``), whether their role allows it (``require``), the
CSRF token on every POST (``require_csrf``), then one call into the library and a page. URLs carry ids only; anything
a person types (a search, a password) travels in a POST body, never in a URL that a log or a browser history keeps."""

from __future__ import annotations

import hmac
import logging
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response, StreamingResponse
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from ...tasks.core.errors import CasefileError, ValidationError
from ...tasks.staff import audit, jobs, sessions, users
from ...tasks.staff.downloads import (
    PartIntegrityError,
    build_manifest,
    find_part,
    open_verified,
    open_zip,
    presigned_url,
    zip_name,
)
from ...tasks.staff.uploads import UploadFolder, UploadRefused
from ...tasks.staff.users import Permission
from . import i18n
from .messages import quarantine_remedy
from .rendering import language_cookie, page
from .security import (
    SESSION_COOKIE,
    SIGNIN_COOKIE,
    BadCsrf,
    NotFound,
    client_address,
    cookie_args,
    current_user,
    require,
    require_csrf,
    runtime_of,
    signed_in,
)
from .uploads import read_upload

log = logging.getLogger(__name__)
router = APIRouter()

Who = Annotated[sessions.SignedIn, Depends(signed_in)]
CsrfField = Annotated[str, Form(max_length=200)]


def _local_path(target: str | None) -> str:
    """A redirect target on this site only ("/cases/C-..."), else "/"."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    parts = urlsplit(target)
    return parts.path if not parts.scheme and not parts.netloc else "/"


def _see(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


# Signing in and out ----------------------------------------------------------------------------------------------
@router.get("/healthz", response_class=PlainTextResponse, include_in_schema=True)
def healthz() -> str:
    return "ok"


@router.get("/signin", response_class=HTMLResponse)
def signin_form(request: Request) -> Response:
    if current_user(request) is not None:
        return _see("/")
    return page(request, "signin", {"message": None})


@router.post("/signin", response_class=HTMLResponse)
def signin(
    request: Request,
    name: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    csrf: CsrfField = "",
) -> Response:
    expected = request.cookies.get(SIGNIN_COOKIE) or ""
    if not expected or not csrf or not hmac.compare_digest(expected.encode(), csrf.encode()):
        raise BadCsrf("signin-csrf")
    rt = runtime_of(request)
    try:
        token, _who = sessions.sign_in(rt, name, password, client_address(request))
    except sessions.TooManyAttempts as exc:
        context = {"message": "too-many", "minutes": max(1, exc.retry_after // 60)}
        response: Response = page(request, "signin", context, 429, anonymous=True)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    except sessions.SigninRefused:
        return page(request, "signin", {"message": "refused"}, 401, anonymous=True)
    response = _see("/")
    response.set_cookie(SESSION_COOKIE, token, max_age=rt.settings.web_session_max_hours * 3600, **cookie_args(request))
    response.delete_cookie(SIGNIN_COOKIE, path="/")
    return response


@router.post("/signout")
def signout(request: Request, who: Who, csrf: CsrfField = "") -> Response:
    require_csrf(who, csrf)
    sessions.sign_out(runtime_of(request), who)
    response = _see("/signin")
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")
    return response


@router.post("/language")
def language(
    request: Request,
    lang: Annotated[str, Form(max_length=8)] = "en",
    next: Annotated[str, Form(max_length=300)] = "/",  # the form's field name
    csrf: CsrfField = "",
) -> Response:
    who = current_user(request)
    if who is not None:
        require_csrf(who, csrf)
    else:
        expected = request.cookies.get(SIGNIN_COOKIE) or ""
        if not expected or not hmac.compare_digest(expected.encode(), csrf.encode()):
            raise BadCsrf("language-csrf")
    response = _see(_local_path(next))
    language_cookie(response, request, lang if lang in i18n.LANGUAGES else i18n.DEFAULT)
    return response


# Finding cases ---------------------------------------------------------------------------------------------------
@router.get("/", response_class=HTMLResponse)
def home(request: Request, who: Who) -> Response:
    from ...tasks.staff.overview import upcoming_cases

    return page(request, "home", {"upcoming": upcoming_cases(runtime_of(request)), "query": "", "searched": False})


@router.post("/search", response_class=HTMLResponse)
def search(request: Request, who: Who, q: Annotated[str, Form(max_length=200)] = "", csrf: CsrfField = "") -> Response:
    from ...tasks.cases.find import find_cases
    from ...tasks.search.lookup import search_pages

    require_csrf(who, csrf)
    rt = runtime_of(request)
    query = q.strip()
    cases = find_cases(rt, query) if query else []
    hits: list[dict[str, Any]] = []
    search_problem = None
    if query:
        try:
            hits = search_pages(rt, query, limit=20, fragments=True)
        except ValidationError:
            search_problem = "syntax"
        except CasefileError as exc:  # the index is busy or damaged: the cases found are still shown
            log.warning("document search failed: %s", exc.log_summary())
            search_problem = "index"
    return page(
        request,
        "home",
        {
            "upcoming": [],
            "query": query,
            "searched": bool(query),
            "cases": cases,
            "hits": hits,
            "search_problem": search_problem,
        },
    )


# A case ----------------------------------------------------------------------------------------------------------
@router.get("/cases/{case_id}", response_class=HTMLResponse)
def case_page(request: Request, who: Who, case_id: str) -> Response:
    from ...tasks.documents.types import load_document_types
    from ...tasks.packets.profile import available_profiles
    from ...tasks.staff.overview import case_overview

    rt = runtime_of(request)
    view = case_overview(rt, case_id)
    return page(
        request,
        "case",
        {
            **view,
            "profiles": available_profiles(rt.settings.config_dir),
            "doc_types": rt.config(load_document_types).labels,
            "can_upload": who.can(Permission.UPLOAD),
            "can_build": who.can(Permission.BUILD),
            "max_upload": rt.settings.web_upload_max_bytes,
            "max_file": rt.settings.max_file_bytes,
        },
    )


def _download_event(
    request: Request, who: sessions.SignedIn, case_id: str, build_id: str, part: str, **detail: Any
) -> None:
    audit.record(
        runtime_of(request),
        actor=who.name,
        action="download",
        entity="packet",
        entity_id=build_id,
        case_id=case_id,
        part=part,
        address=client_address(request),
        **detail,
    )


@router.get("/cases/{case_id}/packets/{build_id}/parts/{part}")
def download_part(request: Request, who: Who, case_id: str, build_id: str, part: str) -> Response:
    require(who, Permission.VIEW)
    if not part.isdigit() or len(part) > 4:
        raise NotFound("no-part")
    rt = runtime_of(request)
    ref = find_part(rt, case_id, build_id, int(part))
    try:
        url = presigned_url(rt, ref)
        verified = None if url else open_verified(rt, ref)
    except PartIntegrityError:
        _download_event(request, who, ref.case_id, ref.build_id, ref.name, result="integrity-error")
        return page(request, "error", {"kind": "integrity"}, 409)
    _download_event(
        request,
        who,
        ref.case_id,
        ref.build_id,
        ref.name,
        result="ok",
        sha256=ref.sha256,
        bytes=ref.bytes,
        via="presigned-url" if url else "stream",
    )
    if url:
        return RedirectResponse(url, status_code=303)
    assert verified is not None
    return StreamingResponse(
        verified.chunks(),
        background=BackgroundTask(verified.close),  # also when the browser left before the first byte
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="{ref.name}"',
            "Content-Length": str(ref.bytes),
            "X-Content-SHA256": ref.sha256,
        },
    )


@router.get("/cases/{case_id}/packets/{build_id}/zip")
def download_zip(request: Request, who: Who, case_id: str, build_id: str) -> Response:
    require(who, Permission.VIEW)
    rt = runtime_of(request)
    manifest = build_manifest(rt, case_id, build_id)
    try:
        stream = open_zip(rt, manifest)
    except PartIntegrityError as exc:
        _download_event(
            request,
            who,
            manifest["case_id"],
            manifest["build_id"],
            "zip",
            result="integrity-error",
            failed_part=exc.part,
        )
        return page(request, "error", {"kind": "integrity"}, 409)
    _download_event(
        request,
        who,
        manifest["case_id"],
        manifest["build_id"],
        "zip",
        result="ok",
        parts=len(manifest["outputs"]),
        via="stream",
    )
    return StreamingResponse(
        stream.chunks,
        background=BackgroundTask(stream.close),
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{zip_name(manifest)}"'},
    )


# Changing a case -------------------------------------------------------------------------------------------------
@router.post("/cases/{case_id}/upload")
async def upload(request: Request, who: Who, case_id: str) -> Response:
    """Files (several, or a photo from a phone's camera) into the case through the one ingest path."""
    from ...tasks.documents import pipeline
    from ...tasks.documents.types import load_document_types
    from ...tasks.staff.overview import case_overview

    require(who, Permission.UPLOAD)
    rt = runtime_of(request)
    view = await run_in_threadpool(case_overview, rt, case_id)  # 404 before a byte is read
    real_id = view["case"]["id"]
    folder = await run_in_threadpool(UploadFolder, rt)
    try:
        fields = await read_upload(request, folder, lambda token: require_csrf(who, token))
        files = folder.finish()
        doc_type = fields.get("doc_type") or "unclassified"
        if doc_type not in rt.config(load_document_types).labels:
            doc_type = "unclassified"
        batch_id = await run_in_threadpool(pipeline.new_batch, rt, real_id, files, doc_type)
    except UploadRefused as exc:
        folder.discard()
        return await run_in_threadpool(_upload_refused, request, who, real_id, exc, folder)
    except BaseException:
        folder.discard()
        raise
    job_id = await run_in_threadpool(request.app.state.runs.start_ingest, real_id, who.user_id, batch_id)
    await run_in_threadpool(
        audit.record,
        rt,
        actor=who.name,
        action="upload",
        entity="batch",
        entity_id=batch_id,
        case_id=real_id,
        files=len(files),
        bytes=folder.total,
        job=job_id,
        address=client_address(request),
    )
    return _see(f"/cases/{real_id}/jobs/{job_id}")


def _upload_refused(
    request: Request, who: sessions.SignedIn, case_id: str, exc: UploadRefused, folder: UploadFolder
) -> Response:
    audit.record(
        runtime_of(request),
        actor=who.name,
        action="upload-refused",
        entity="case",
        entity_id=case_id,
        case_id=case_id,
        result="too-large" if exc.too_large else "refused",
        address=client_address(request),
    )
    context = {
        "kind": "upload-too-large" if exc.too_large else "upload-refused",
        "limit": folder.max_total,
        "file_limit": folder.max_file,
    }
    return page(request, "error", context, 413 if exc.too_large else 400)


@router.post("/cases/{case_id}/builds")
def start_build(
    request: Request,
    who: Who,
    case_id: str,
    profile: Annotated[str, Form(max_length=40)] = "eoir",
    allow_missing_translations: Annotated[str, Form(max_length=10)] = "",
    service_office: Annotated[str, Form(max_length=300)] = "",
    service_address: Annotated[str, Form(max_length=1000)] = "",
    service_date: Annotated[str, Form(max_length=20)] = "",
    csrf: CsrfField = "",
) -> Response:
    from ...tasks.packets.profile import available_profiles
    from ...tasks.staff.builds import PageBuild, prepare
    from ...tasks.staff.overview import case_overview

    require(who, Permission.BUILD)
    require_csrf(who, csrf)
    rt = runtime_of(request)
    real_id = case_overview(rt, case_id)["case"]["id"]
    if profile not in available_profiles(rt.settings.config_dir):
        return page(request, "error", {"kind": "bad-request"}, 400)
    running = jobs.running_job(rt, real_id, jobs.JobKind.BUILD)
    if running is not None:
        return _see(f"/cases/{real_id}/jobs/{running}")
    allow = allow_missing_translations in ("1", "on", "yes", "true")
    asked = PageBuild(profile, allow, service_office, service_address, service_date)
    real_id, options = prepare(rt, real_id, asked)  # the command line's preflight: a refusal shows at once
    job_id = request.app.state.runs.start_build(real_id, who.user_id, options)
    audit.record(
        rt,
        actor=who.name,
        action="build-started",
        entity="job",
        entity_id=job_id,
        case_id=real_id,
        profile=profile,
        allow_missing_translations=allow,
        address=client_address(request),
    )
    return _see(f"/cases/{real_id}/jobs/{job_id}")


@router.get("/cases/{case_id}/jobs/{job_id}", response_class=HTMLResponse)
def job_page(request: Request, who: Who, case_id: str, job_id: str) -> Response:
    from ...tasks.documents.intake import batch_report

    rt = runtime_of(request)
    job = jobs.get_job(rt, case_id, job_id)
    report = None
    if job["kind"] == jobs.JobKind.INGEST.value and job["batch_id"]:
        report = batch_report(rt, job["batch_id"])
        for item in report["items"]:
            item["name"] = item["file"].replace("\\", "/").rsplit("/", 1)[-1]
            item["remedy"] = quarantine_remedy(item.get("reason"))
    return page(request, "job", {"job": job, "report": report, "run_url": _run_url(rt, job)})


def _run_url(rt: Any, job: dict[str, Any]) -> str | None:
    """The flow run in the Prefect UI of `casefile serve`, when the job ran there and serve shows a UI."""
    from ..prefect_env import running_server

    if job["runner"] != "deployment" or not job["flow_run_id"]:
        return None
    server = running_server(rt.settings)
    return f"{server.ui_url.rstrip('/')}/runs/flow-run/{job['flow_run_id']}" if server and server.ui_url else None


# Admin: users and the audit trail ---------------------------------------------------------------------------------
@router.get("/admin/users", response_class=HTMLResponse)
def users_page(request: Request, who: Who) -> Response:
    require(who, Permission.MANAGE_USERS)
    return _users(request, None)


def _users(request: Request, message: str | None, status: int = 200, done: str | None = None) -> Response:
    rows = users.list_users(runtime_of(request))
    return page(
        request,
        "users",
        {"users": rows, "roles": [r.value for r in users.Role], "message": message, "done": done},
        status,
    )


@router.post("/admin/users", response_class=HTMLResponse)
def add_user(
    request: Request,
    who: Who,
    name: Annotated[str, Form(max_length=64)] = "",
    role: Annotated[str, Form(max_length=12)] = "staff",
    password: Annotated[str, Form(max_length=1024)] = "",
    csrf: CsrfField = "",
) -> Response:
    require(who, Permission.MANAGE_USERS)
    require_csrf(who, csrf)
    try:
        users.add_user(runtime_of(request), name, role, password, actor=who.name)
    except ValidationError as exc:
        return _users(request, exc.message, 400)
    return _users(request, None, done="added")


@router.post("/admin/users/{name}/{action}", response_class=HTMLResponse)
def change_user(
    request: Request,
    who: Who,
    name: str,
    action: str,
    password: Annotated[str, Form(max_length=1024)] = "",
    role: Annotated[str, Form(max_length=12)] = "",
    csrf: CsrfField = "",
) -> Response:
    require(who, Permission.MANAGE_USERS)
    require_csrf(who, csrf)
    rt = runtime_of(request)
    try:
        if action == "disable":
            users.set_disabled(rt, name, True, actor=who.name)
        elif action == "enable":
            users.set_disabled(rt, name, False, actor=who.name)
        elif action == "reset":
            users.reset_password(rt, name, password, actor=who.name)
        elif action == "role":
            users.set_role(rt, name, role, actor=who.name)
        else:
            raise NotFound("no-action")
    except users.UserNotFound:
        raise NotFound("no-user") from None
    except ValidationError as exc:
        return _users(request, exc.message, 400)
    return _users(request, None, done=action)


@router.get("/admin/audit", response_class=HTMLResponse)
def audit_page(
    request: Request,
    who: Who,
    case: Annotated[str, Query(max_length=20)] = "",
    actor: Annotated[str, Query(max_length=64)] = "",
    action: Annotated[str, Query(max_length=40)] = "",
    before: Annotated[int | None, Query(ge=1, le=2**62)] = None,
) -> Response:
    require(who, Permission.READ_AUDIT)
    events, total = audit.list_events(
        runtime_of(request), case_id=case or None, actor=actor or None, action=action or None, before_id=before
    )
    return page(
        request,
        "audit",
        {
            "events": events,
            "total": total,
            "filters": {"case": case, "actor": actor, "action": action},
            "older": events[-1]["id"] if len(events) == audit.PAGE_SIZE else None,
        },
    )
