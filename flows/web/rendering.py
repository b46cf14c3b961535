"""How the staff page's pages are rendered: the Jinja2 environment (tasks/core/render.py's, with gettext and the
page's filters), ``page`` (a template with what every page needs: who is signed in, their CSRF token, the language)
and the language cookie. Imported by the application (app.py) and its routes (pages.py)."""

from __future__ import annotations

from typing import Any

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from ...tasks.core.render import make_environment, render_html
from ...tasks.core.runtime import Runtime
from ...tasks.staff.sessions import SignedIn
from . import i18n
from .security import LANG_COOKIE, SIGNIN_COOKIE, cookie_args, current_user, new_signin_token


def make_templates(rt: Runtime) -> jinja2.Environment:
    env = make_environment(rt.settings.templates_dir, rt.settings.template_overrides, extensions=["jinja2.ext.i18n"])
    env.install_gettext_callables(i18n.gettext, i18n.ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.filters.update(
        {"day": i18n.format_day, "when": i18n.format_when, "size": i18n.format_size, "number": i18n.format_number}
    )
    return env


def page(
    request: Request, name: str, context: dict[str, Any] | None = None, status: int = 200, *, anonymous: bool = False
) -> HTMLResponse:
    """Render ``web/<name>.html.j2`` with what every page needs (who, their CSRF token, the language)."""
    who: SignedIn | None = None if anonymous else current_user(request)
    signin_token = None
    if who is None:
        signin_token = request.cookies.get(SIGNIN_COOKIE) or new_signin_token()
    base = {
        "who": who,
        "csrf": who.csrf_token if who else signin_token,
        "lang": i18n.current.get(),
        "languages": i18n.LANGUAGE_NAMES,
        "here": request.url.path,
        "title": "",
    }
    html = render_html(request.app.state.templates, f"web/{name}.html.j2", {**base, **(context or {})})
    response = HTMLResponse(html, status_code=status)
    if who is None and signin_token != request.cookies.get(SIGNIN_COOKIE):
        response.set_cookie(SIGNIN_COOKIE, signin_token or "", max_age=3600, **cookie_args(request))
    return response


def language_cookie(response: Response, request: Request, lang: str) -> None:
    response.set_cookie(LANG_COOKIE, lang, max_age=365 * 24 * 3600, **cookie_args(request))
