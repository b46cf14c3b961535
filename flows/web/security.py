"""What every request goes through: who it comes from (the session cookie), whether they may do what they ask (roles,
checked on the server for every page, download and action), CSRF tokens, security headers, and an access log line
that carries the route's template (``/cases/{case_id}``), never a path, a query string or a form value.

Failures raise ``Refused`` subclasses; app.py turns each into its page and an audit event.
"""

from __future__ import annotations

import logging
import secrets
import time
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ...tasks.staff.sessions import SignedIn, resolve
from ...tasks.staff.users import Permission
from . import i18n

if TYPE_CHECKING:
    from ...tasks.core.runtime import Runtime

SESSION_COOKIE = "cf_session"
SIGNIN_COOKIE = "cf_signin"  # the sign-in form's own CSRF token (before there is a session)
LANG_COOKIE = "cf_lang"
access_log = logging.getLogger("casefile.web.access")


class Refused(Exception):
    status = 400
    action = "refused"

    def __init__(self, reason: str = "") -> None:
        super().__init__(reason)
        self.reason = reason


class NotSignedIn(Refused):
    status = 401
    action = "access-denied"


class Forbidden(Refused):
    status = 403
    action = "access-denied"


class NotFound(Refused):
    status = 404
    action = "access-denied"


class BadCsrf(Refused):
    status = 403
    action = "csrf-refused"


def runtime_of(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


def secure_request(request: Request) -> bool:
    return request.url.scheme == "https" or bool(runtime_of(request).settings.web_secure_cookies)


def cookie_args(request: Request) -> dict[str, Any]:
    return {"httponly": True, "samesite": "lax", "secure": secure_request(request), "path": "/"}


def client_address(request: Request) -> str:
    return request.client.host if request.client else "-"


def current_user(request: Request) -> SignedIn | None:
    """Who sent the request (cached on it), or None."""
    if "who" not in request.state._state:
        request.state.who = resolve(runtime_of(request), request.cookies.get(SESSION_COOKIE))
    who: SignedIn | None = request.state.who
    return who


def signed_in(request: Request) -> SignedIn:
    """Dependency of every page but sign-in: the user, or ``NotSignedIn``."""
    who = current_user(request)
    if who is None:
        raise NotSignedIn("no-session")
    return who


def require(who: SignedIn, permission: Permission) -> None:
    if not who.can(permission):
        raise Forbidden(f"role-{who.role.value}")


def require_csrf(who: SignedIn, token: str | None) -> None:
    if not who.csrf_ok(token):
        raise BadCsrf("csrf")


def new_signin_token() -> str:
    return secrets.token_urlsafe(32)


class SiteMiddleware:
    """Pure ASGI (streams pass through untouched): the request's language, an Origin check on state-changing requests,
    security headers on every response, and the access log line."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        cookies = _cookies(headers.get("cookie", ""))
        token = i18n.current.set(i18n.negotiate(cookies.get(LANG_COOKIE), headers.get("accept-language")))
        https = scope.get("scheme") == "https"
        status = {"code": 500}

        async def send_wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                extra = [
                    (b"x-content-type-options", b"nosniff"),
                    (b"x-frame-options", b"DENY"),
                    (b"referrer-policy", b"same-origin"),  # "no-referrer" makes Chromium send "Origin: null"
                    (b"cross-origin-opener-policy", b"same-origin"),
                    (b"permissions-policy", b"geolocation=(), microphone=()"),
                    (
                        b"content-security-policy",
                        b"default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
                        b"frame-ancestors 'none'; base-uri 'none'",
                    ),
                ]
                names = {k.lower() for k, _v in message.get("headers", [])}
                if b"cache-control" not in names:
                    extra.append((b"cache-control", b"no-store"))
                if https:
                    extra.append((b"strict-transport-security", b"max-age=31536000"))
                message["headers"] = list(message.get("headers", [])) + extra
            await send(message)

        try:
            method = scope.get("method", "GET")
            if method not in ("GET", "HEAD", "OPTIONS") and not _same_origin(headers, https):
                await _audit_cross_origin(scope)
                await _refuse_cross_origin(send_wrapped)
                return
            await self.app(scope, receive, send_wrapped)
        finally:
            i18n.current.reset(token)
            route = scope.get("route")
            template = getattr(route, "path", None) or (
                "/static/*" if str(scope.get("path", "")).startswith("/static/") else "<unmatched>"
            )
            access_log.info(
                "%s %s %s %.0fms", scope.get("method"), template, status["code"], (time.perf_counter() - started) * 1000
            )


def _cookies(header: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in header.split(";"):
        name, sep, value = part.strip().partition("=")
        if sep:
            out.setdefault(name, value)
    return out


def _same_origin(headers: dict[str, str], https: bool) -> bool:
    """A browser's cross-site POST carries a foreign Origin: refuse it (CSRF tokens are the main defence; this is the
    second). Requests without Origin (older browsers, scripts) are left to the token."""
    origin = headers.get("origin")
    if origin is None:
        return True
    host = headers.get("host", "")
    return origin in (f"http://{host}", f"https://{host}")


async def _audit_cross_origin(scope: Scope) -> None:
    from starlette.concurrency import run_in_threadpool

    from ...tasks.staff import audit

    app = scope.get("app")
    rt = getattr(getattr(app, "state", None), "runtime", None)
    if rt is None:
        return
    client = scope.get("client")
    try:
        await run_in_threadpool(
            audit.record,
            rt,
            actor="-",
            action="csrf-refused",
            entity="page",
            result="cross-origin",
            address=client[0] if client else "-",
        )
    except Exception as err:  # the refusal stands even if the audit write fails
        access_log.error("audit event for a cross-site request not recorded: %s", type(err).__name__)


async def _refuse_cross_origin(send: Send) -> None:
    body = b"Cross-site request refused."
    await send(
        {
            "type": "http.response.start",
            "status": 403,
            "headers": [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
