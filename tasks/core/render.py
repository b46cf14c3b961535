"""The one place templates are rendered: a Jinja2 environment, HTML rendering and HTML+CSS -> PDF (WeasyPrint).

- ``make_environment(templates_dir, override_dir)`` builds the only ``Environment``: a sandbox (practices edit their
  own copies of templates), ``StrictUndefined`` (a missing field fails loudly), autoescape for HTML templates (a
  client's name cannot inject markup), and the filters below. A practice overrides any template by placing a file
  with the same relative name in ``override_dir``; it is searched first.
- ``render_html`` / ``render_pdf`` turn Jinja errors into ``TemplateError`` subclasses that name the template and the
  missing field, never a trace, and never a value from the context (it may be a client's name).
- PDFs are reproducible: no wall-clock dates (dates only when the caller passes one derived from its inputs), the
  file identifier is a hash of the template's source and the context, fonts are subset and embedded, and the file is
  written atomically (temporary file in the same folder, then rename).
- Rendering never touches the network or the file system beyond the templates: the only URLs allowed are ``data:``.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import logging
import os
import re
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from types import TracebackType
from typing import Any

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

from .errors import ConfigError

__all__ = [
    "MissingTemplate",
    "MissingTemplateField",
    "TemplateError",
    "format_a_number_filter",
    "format_date",
    "format_time",
    "make_environment",
    "render_html",
    "render_pdf",
    "template_versions",
]

# WeasyPrint is chatty about CSS it ignores and fonts it subsets; keep that out of our logs.
logging.getLogger("weasyprint").setLevel(logging.ERROR)
logging.getLogger("fontTools").setLevel(logging.ERROR)

_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


# Errors ------------------------------------------------------------------------------------------------------
class TemplateError(ConfigError):
    """A template cannot be rendered (missing, broken, or missing a field). Names the template, never a value."""

    def __init__(self, message: str, template: str) -> None:
        super().__init__(message)
        self.template = template


class MissingTemplate(TemplateError):
    def __init__(self, template: str, searched: Iterable[Path]) -> None:
        where = ", ".join(str(p) for p in searched)
        super().__init__(
            f"The template {template!r} was not found (looked in: {where}). Restore it from the repository, or "
            "fix the name of the practice's override copy.",
            template,
        )


class MissingTemplateField(TemplateError):
    def __init__(self, template: str, field: str, where: str = "") -> None:
        super().__init__(
            f"The template {template!r} needs the field {field!r}{where}, which was not provided. Fill it in for "
            "the case (or the profile), or remove it from the practice's copy of the template.",
            template,
        )
        self.field = field


# Filters -----------------------------------------------------------------------------------------------------
def _as_date(value: date | datetime | str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ValueError("a date in a template must be a date or YYYY-MM-DD text") from None


def format_date(value: date | datetime | str) -> str:
    """2027-03-04 -> 'March 4, 2027' (English month names whatever the machine's locale)."""
    d = _as_date(value)
    return f"{_MONTHS[d.month - 1]} {d.day}, {d.year}"


_MESES = (
    "enero",
    "febrero",
    "marzo",
    "abril",
    "mayo",
    "junio",
    "julio",
    "agosto",
    "septiembre",
    "octubre",
    "noviembre",
    "diciembre",
)


def format_date_es(value: date | datetime | str) -> str:
    """2027-03-04 -> '4 de marzo de 2027' (Spanish letters and forms)."""
    d = _as_date(value)
    return f"{d.day} de {_MESES[d.month - 1]} de {d.year}"


def format_time(value: time | datetime | str) -> str:
    """09:00 -> '9:00 AM'; 13:30 -> '1:30 PM'."""
    t = value.time() if isinstance(value, datetime) else value
    if not isinstance(t, time):
        t = time.fromisoformat(str(t))
    hour = t.hour % 12 or 12
    return f"{hour}:{t.minute:02d} {'AM' if t.hour < 12 else 'PM'}"


def format_a_number_filter(value: str | int) -> str:
    """'123456789', 'A 123-456-789', 'A12345678' -> 'A123-456-789' (8-digit numbers get a leading 0)."""
    cleaned = re.sub(r"[\s\-.]", "", str(value).strip()).upper().removeprefix("A")
    if not cleaned.isdigit() or len(cleaned) not in (8, 9):
        raise ValueError("an A-number must have 8 or 9 digits")
    digits = cleaned.zfill(9)
    return f"A{digits[0:3]}-{digits[3:6]}-{digits[6:9]}"


def page_range(first: int, last: int | None = None) -> str:
    """(12, 19) -> '12–19' (en dash); (12, 12) or (12,) -> '12'."""
    return str(first) if last is None or last == first else f"{first}\u2013{last}"


# Environment -------------------------------------------------------------------------------------------------
def make_environment(
    templates_dir: Path, override_dir: Path | None = None, *, extensions: Sequence[str] = ()
) -> jinja2.Environment:
    """The one Jinja2 environment. ``override_dir`` (a practice's own copies) is searched before ``templates_dir``.
    ``extensions``: Jinja2 extensions to add (the staff page adds ``jinja2.ext.i18n`` for its message catalogs)."""
    search = [override_dir, templates_dir] if override_dir is not None else [templates_dir]
    env = ImmutableSandboxedEnvironment(
        extensions=list(extensions),
        loader=jinja2.FileSystemLoader([str(p) for p in search], encoding="utf-8"),
        undefined=jinja2.StrictUndefined,
        autoescape=jinja2.select_autoescape(enabled_extensions=("html", "htm", "xml", "html.j2", "xml.j2")),
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.filters.update(
        {
            "format_date": format_date,
            "format_date_es": format_date_es,
            "format_time": format_time,
            "a_number": format_a_number_filter,
            "page_range": page_range,
        }
    )
    env.globals["page_range"] = page_range
    return env


def _missing_name(exc: jinja2.TemplateNotFound, fallback: str) -> str:
    return exc.name if isinstance(exc.name, str) else fallback


def _search_path(env: jinja2.Environment) -> list[Path]:
    loader = env.loader
    if isinstance(loader, jinja2.FileSystemLoader):
        return [Path(p) for p in loader.searchpath]
    return []


_UNDEFINED_PATTERNS = (
    re.compile(r"'([^']+)' is undefined"),
    re.compile(r"has no attribute '([^']+)'"),
    re.compile(r"has no element '?([^']+?)'?$"),
)


def _field_name(exc: jinja2.UndefinedError) -> str:
    message = exc.message or ""
    for pattern in _UNDEFINED_PATTERNS:
        if match := pattern.search(message):
            return match.group(1)
    return "unknown"


def _template_line(tb: TracebackType | None, env: jinja2.Environment) -> str:
    """' (in packet/x.html.j2, line 12)' from the innermost frame that belongs to a template file."""
    roots = [p.resolve() for p in _search_path(env)]
    found = ""
    while tb is not None:
        filename = Path(tb.tb_frame.f_code.co_filename)
        for root in roots:
            if filename.is_relative_to(root):
                found = f" (in {filename.relative_to(root).as_posix()}, line {tb.tb_lineno})"
        tb = tb.tb_next
    return found


def render_html(env: jinja2.Environment, name: str, context: Mapping[str, Any]) -> str:
    """Render template ``name`` with ``context``; every failure is a ``TemplateError`` naming the template."""
    try:
        template = env.get_template(name)
    except jinja2.TemplateNotFound as exc:
        raise MissingTemplate(_missing_name(exc, name), _search_path(env)) from None
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(
            f"The template {exc.name or name!r} has a syntax error on line {exc.lineno}: {exc.message}. Fix it, or "
            "delete the practice's copy to use the default.",
            name,
        ) from None
    try:
        return template.render(dict(context))
    except jinja2.UndefinedError as exc:
        raise MissingTemplateField(name, _field_name(exc), _template_line(exc.__traceback__, env)) from None
    except jinja2.TemplateNotFound as exc:  # an {% include %} or {% extends %} of a missing file
        raise MissingTemplate(_missing_name(exc, name), _search_path(env)) from None
    except jinja2.TemplateError as exc:  # sandbox violations and the like; the message names no value
        raise TemplateError(f"The template {name!r} cannot be rendered: {type(exc).__name__}.", name) from None
    except (ValueError, TypeError) as exc:  # a filter got a value of the wrong kind (a date that is not a date)
        raise TemplateError(
            f"The template {name!r} got a value of the wrong kind{_template_line(exc.__traceback__, env)}: {exc}.",
            name,
        ) from None


def template_versions(env: jinja2.Environment, names: Iterable[str]) -> dict[str, str]:
    """{name: sha256 of the source actually used} (the practice's override when there is one), for manifests."""
    versions: dict[str, str] = {}
    loader = env.loader
    if loader is None:
        raise ConfigError("The template environment has no loader.")
    for name in names:
        try:
            source, _filename, _uptodate = loader.get_source(env, name)
        except jinja2.TemplateNotFound:
            raise MissingTemplate(name, _search_path(env)) from None
        versions[name] = hashlib.sha256(source.encode("utf-8")).hexdigest()
    return versions


def _fingerprint(env: jinja2.Environment, name: str, context: Mapping[str, Any]) -> bytes:
    """A stable digest of (template source, context): the PDF's /ID, so one input gives one identical file."""
    payload = json.dumps(
        {"template": template_versions(env, [name]), "context": context},
        sort_keys=True,
        default=str,
        ensure_ascii=True,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:32].encode("ascii")


def _pdf_date(value: date | datetime) -> str:
    if isinstance(value, datetime):
        return value.replace(microsecond=0).isoformat()
    return value.isoformat()


def render_pdf(
    env: jinja2.Environment,
    name: str,
    context: Mapping[str, Any],
    out: Path,
    *,
    created: date | datetime | None = None,
    title: str | None = None,
) -> Path:
    """Render ``name`` to HTML and then to a PDF at ``out`` (atomically). Returns ``out``.

    ``created`` (derived from the inputs, e.g. the build's date, never "now") becomes the PDF's creation and
    modification date; without it the PDF carries no date at all. ``title`` goes into the PDF's metadata.
    The PDF's /ID is a digest of the template's source and the context: one input, one identical file.
    """
    identifier = _fingerprint(env, name, context).decode("ascii")
    return write_documents([layout(env, name, context)], out, identifier=identifier, created=created, title=title)


def layout(
    env: jinja2.Environment, name: str, context: Mapping[str, Any], *, cache: dict[str, Any] | None = None
) -> Any:
    """Render ``name`` and lay it out into pages (a ``weasyprint.Document``) without writing a PDF yet: the packet
    builder counts pages first, then writes many laid-out documents as one PDF with ``write_documents``.
    With ``cache``, an HTML already laid out is not laid out again (the builder lays out its front matter until the
    exhibit list's page ranges settle; the cover page's HTML does not change between passes)."""
    html = render_html(env, name, context)
    if cache is None:
        return _lay_out_html(html, name)
    key = f"{name}\0{html}"
    if key not in cache:
        cache[key] = _lay_out_html(html, name)
    return cache[key]


def _lay_out_html(html: str, name: str) -> Any:
    """HTML of template ``name`` laid out by WeasyPrint (no network, no files: only data: URLs)."""
    import weasyprint  # imported here: it loads Pango through cffi, which commands that never render need not pay

    fetcher = weasyprint.URLFetcher(allowed_protocols=("data",))
    try:
        return weasyprint.HTML(string=html, base_url=None, url_fetcher=fetcher).render()
    except Exception as exc:  # WeasyPrint raises assorted errors on broken HTML/CSS
        raise TemplateError(
            f"The template {name!r} produced a page that cannot be laid out ({type(exc).__name__}). Check the "
            "practice's copy of the template or its stylesheet.",
            name,
        ) from exc


@dataclass(frozen=True)
class LaidOut:
    """The pages of one rendering inside a larger laid-out document (see ``layout_many``)."""

    document: Any  # the weasyprint.Document the pages belong to
    pages: list[Any]


_HEAD = re.compile(r"^(?P<head>.*?<body[^>]*>)(?P<body>.*)(?P<tail></body>\s*</html>\s*)$", re.S | re.I)
_TITLE = re.compile(r"<title>.*?</title>", re.S | re.I)


def layout_many(env: jinja2.Environment, name: str, contexts: Sequence[Mapping[str, Any]]) -> list[LaidOut]:
    """Lay out template ``name`` once per context, as ONE WeasyPrint document (each layout call has a fixed set-up
    cost that dominates small pages such as tab pages). Each rendering starts on a new page; the pages of each are found
    by an anchor at its start. Renderings whose <head> differ (beyond <title>) are laid out one by one."""
    htmls = [render_html(env, name, c) for c in contexts]
    parts = [_HEAD.match(h) for h in htmls]
    heads = {_TITLE.sub("", m.group("head")) if m else None for m in parts}
    if len(htmls) < 2 or None in heads or len(heads) != 1:
        documents = [_lay_out_html(html, name) for html in htmls]
        return [LaidOut(document, list(document.pages)) for document in documents]
    first = parts[0]
    assert first is not None
    sections = []
    for i, m in enumerate(parts):
        assert m is not None
        style = ' style="break-before: page"' if i else ""
        sections.append(f'<div id="casefile-rendering-{i}"{style}>{m.group("body")}</div>')
    document = _lay_out_html(first.group("head") + "".join(sections) + first.group("tail"), name)
    starts: dict[int, int] = {}
    for index, page in enumerate(document.pages):
        for anchor in page.anchors:
            if anchor.startswith("casefile-rendering-"):
                starts.setdefault(int(anchor.rsplit("-", 1)[1]), index)
    if sorted(starts) != list(range(len(htmls))) or starts[0] != 0:
        raise TemplateError(f"The template {name!r} could not be laid out page by page; check its stylesheet.", name)
    bounds = [starts[i] for i in range(len(htmls))] + [len(document.pages)]
    return [LaidOut(document, list(document.pages[a:b])) for a, b in itertools.pairwise(bounds)]


def _merged(documents: list[Any], created: date | datetime | None, title: str | None) -> Any:
    """The pages of several laid-out documents, in order, as one WeasyPrint document with casefile's metadata."""
    if not documents:
        raise ValueError("write_documents needs at least one document")
    base = documents[0].document if isinstance(documents[0], LaidOut) else documents[0]
    merged = base.copy([page for document in documents for page in document.pages])
    metadata = merged.metadata
    metadata.created = _pdf_date(created) if created is not None else None
    metadata.modified = metadata.created
    if title is not None:
        metadata.title = title
    metadata.generator = "casefile"
    return merged


def _pdf_identifier(identifier: str) -> bytes:
    return hashlib.sha256(identifier.encode("utf-8")).hexdigest()[:32].encode("ascii")


def write_documents(
    documents: list[Any],
    out: Path,
    *,
    identifier: str,
    created: date | datetime | None = None,
    title: str | None = None,
) -> Path:
    """Write the pages of several laid-out documents, in order, as one PDF (fonts embedded once), atomically.
    ``identifier`` (derived from the inputs) becomes the PDF's /ID, so the same inputs give the same bytes."""
    merged = _merged(documents, created, title)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as fh:
            merged.write_pdf(fh, pdf_identifier=_pdf_identifier(identifier), pdf_version="1.7")
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return out


def documents_pdf(documents: list[Any], *, identifier: str) -> bytes:
    """The PDF ``write_documents`` writes (without dates or title), in memory: for a PDF that is only read back at
    once (the packet builder's template renderings, re-saved by pikepdf), with no file to write, sync and remove."""
    buffer = io.BytesIO()
    _merged(documents, None, None).write_pdf(buffer, pdf_identifier=_pdf_identifier(identifier), pdf_version="1.7")
    return buffer.getvalue()
