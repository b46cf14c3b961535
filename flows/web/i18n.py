"""English and Spanish for the staff page: gettext catalogs in ``locale/<lang>/LC_MESSAGES/messages.po`` (compiled
``.mo`` beside them, shipped as package data), the language of the current request in a context variable.

The user's choice (a cookie set by the language form) wins; otherwise the browser's Accept-Language picks; English
is the fallback. Dates are formatted by Babel in the chosen language.
"""

from __future__ import annotations

import contextvars
import gettext as gettext_module
from datetime import date, datetime
from functools import cache
from pathlib import Path

LOCALE_DIR = Path(__file__).with_name("locale")
DOMAIN = "messages"
LANGUAGES = ("en", "es")
DEFAULT = "en"
LANGUAGE_NAMES = {"en": "English", "es": "Español"}

current: contextvars.ContextVar[str] = contextvars.ContextVar("casefile_web_language", default=DEFAULT)


@cache
def translations(language: str) -> gettext_module.NullTranslations:
    if language == DEFAULT:
        return gettext_module.NullTranslations()
    return gettext_module.translation(DOMAIN, localedir=str(LOCALE_DIR), languages=[language])


def gettext(message: str) -> str:
    return translations(current.get()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(current.get()).ngettext(singular, plural, n)


def _(message: str) -> str:
    """Mark and translate a message in Python code (extracted by Babel like the templates' ``_()``)."""
    return gettext(message)


def negotiate(cookie: str | None, accept_language: str | None) -> str:
    """The chosen language: the cookie when it names one we have, else the best of Accept-Language, else English."""
    if cookie in LANGUAGES:
        return str(cookie)
    best: tuple[float, int, str] | None = None
    for index, item in enumerate((accept_language or "")[:500].split(",")):
        tag, _sep, params = item.strip().partition(";")
        primary = tag.strip().lower().split("-")[0]
        if primary not in LANGUAGES:
            continue
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        candidate = (-quality, index, primary)
        if quality > 0 and (best is None or candidate < best):
            best = candidate
    return best[2] if best else DEFAULT


def format_day(value: date | datetime | str | None) -> str:
    """A date as people read it in the current language: "Mar 4, 2027" / "4 mar 2027"."""
    if value in (None, ""):
        return ""
    from babel.dates import format_date

    if isinstance(value, str):
        try:
            parsed: date = datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
        except ValueError:
            return value
    else:
        parsed = value
    return str(format_date(parsed, format="medium", locale=current.get()))


def format_when(value: datetime | str | None) -> str:
    """A date and time (UTC, as stored): "Mar 4, 2027, 14:05 UTC"."""
    if value in (None, ""):
        return ""
    from babel.dates import format_datetime

    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return value
    else:
        parsed = value
    return f"{format_datetime(parsed.replace(tzinfo=None), format='medium', locale=current.get())} UTC"


def format_number(value: int | float) -> str:
    from babel.numbers import format_decimal

    return str(format_decimal(value, locale=current.get()))


def format_size(value: int) -> str:
    """Bytes as people read them: 1.2 MB (decimal units, as file managers show)."""
    from babel.numbers import format_decimal

    size = float(value)
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            shown = format_decimal(round(size, 1) if unit != "B" else int(size), locale=current.get())
            return f"{shown} {unit}"
        size /= 1000
    return f"{value} B"
