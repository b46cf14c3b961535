"""The staff page's FastAPI application: ``create_app(settings)``.

Pages are rendered on the server from templates/web/ through the one Jinja2 environment (tasks/core/render.py:
sandboxed, autoescape, StrictUndefined) with gettext; no script at all (a job page refreshes itself with a meta tag).
The OpenAPI schema and its docs pages are not served (the tests read ``app.openapi()``). Refusals become pages here,
each recorded as an audit event: 401 (signed out: the sign-in page), 403, 404 (one page for "no such thing" and "not
yours", so an id tells nothing), 413 and 429.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from ...tasks.core.errors import CasefileError, ExitCode, NotFoundError
from ...tasks.core.runtime import Runtime, get_runtime
from ...tasks.staff import audit
from ...tasks.staff.sessions import prune
from .rendering import make_templates, page
from .runs import FlowRuns
from .security import (
    NotFound,
    NotSignedIn,
    Refused,
    SiteMiddleware,
    client_address,
    current_user,
    runtime_of,
)

if TYPE_CHECKING:
    from ...tasks.core.settings import Settings

log = logging.getLogger(__name__)
STATIC = Path(__file__).with_name("static")


def _audit_refusal(request: Request, exc: Refused) -> None:
    who = current_user(request) if not isinstance(exc, NotSignedIn) else None
    params = request.path_params
    try:
        audit.record(
            runtime_of(request),
            actor=who.name if who else "-",
            action=exc.action,
            entity=_entity_of(request),
            entity_id=params.get("build_id") or params.get("job_id") or params.get("case_id"),
            case_id=params.get("case_id"),
            result=exc.reason or str(exc.status),
            status=exc.status,
            route=getattr(request.scope.get("route"), "path", "<unmatched>"),
            part=params["part"] if str(params.get("part", "")).isdigit() and len(params["part"]) < 5 else None,
            address=client_address(request),
        )
    except Exception as err:  # the refusal stands even if the audit write fails; say so in the log
        log.error("audit event for a refused request not recorded: %s", type(err).__name__)


def _entity_of(request: Request) -> str:
    params = request.path_params
    if "build_id" in params:
        return "packet"
    if "job_id" in params:
        return "job"
    if "case_id" in params:
        return "case"
    return "page"


async def refused_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Refused)
    from starlette.concurrency import run_in_threadpool

    await run_in_threadpool(_audit_refusal, request, exc)
    if isinstance(exc, NotSignedIn):
        if request.method == "GET":
            return RedirectResponse("/signin", status_code=303)
        return await run_in_threadpool(page, request, "signin", {"message": "signed-out"}, 401)
    kind = {403: "forbidden", 404: "not-found"}.get(exc.status, "bad-request")
    if exc.action == "csrf-refused":
        kind = "csrf"
    return await run_in_threadpool(page, request, "error", {"kind": kind}, exc.status)


async def not_found_handler(request: Request, exc: Exception) -> Response:
    """Library not-found errors (a case, a build, a job, a document) are one page, like unknown routes."""
    return await refused_handler(request, NotFound("not-found"))


async def casefile_error_handler(request: Request, exc: Exception) -> Response:
    """A typed error from the library that no route handles itself: its message (written for people, never client
    data) on the error page, with a status that says whose problem it is."""
    from starlette.concurrency import run_in_threadpool

    assert isinstance(exc, CasefileError)
    status = {ExitCode.USAGE: 400, ExitCode.INTEGRITY: 409, ExitCode.TRANSIENT: 503}.get(exc.exit_code, 500)
    log.warning("%s %s: %s", request.method, getattr(request.scope.get("route"), "path", "?"), exc.log_summary())
    return await run_in_threadpool(page, request, "error", {"kind": "failed", "message": exc.message}, status)


async def http_error_handler(request: Request, exc: Exception) -> Response:
    from starlette.concurrency import run_in_threadpool

    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 404:
        return await refused_handler(request, NotFound("no-route"))
    kind = {405: "bad-request"}.get(exc.status_code, "bad-request")
    return await run_in_threadpool(page, request, "error", {"kind": kind}, exc.status_code)


async def invalid_handler(request: Request, exc: Exception) -> Response:
    """A form or query value of the wrong shape: 400 with the page, never the framework's JSON echo of the input."""
    from starlette.concurrency import run_in_threadpool

    who = await run_in_threadpool(current_user, request)
    if who is None:
        return await refused_handler(request, NotSignedIn("no-session"))
    return await run_in_threadpool(page, request, "error", {"kind": "bad-request"}, 400)


def create_app(settings: Settings | None = None, *, runtime: Runtime | None = None) -> FastAPI:
    """The application on the settings' home (default: loaded from the environment)."""
    from . import pages

    rt = runtime or get_runtime(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.runs.recover()
        prune(rt)
        try:
            yield
        finally:
            app.state.runs.close()

    app = FastAPI(
        title="casefile staff page",
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.runtime = rt
    app.state.templates = make_templates(rt)
    app.state.runs = FlowRuns(rt)
    app.add_middleware(SiteMiddleware)
    app.add_exception_handler(Refused, refused_handler)
    app.add_exception_handler(NotFoundError, not_found_handler)
    app.add_exception_handler(CasefileError, casefile_error_handler)
    app.add_exception_handler(StarletteHTTPException, http_error_handler)
    app.add_exception_handler(RequestValidationError, invalid_handler)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(pages.router)
    return app
