"""Web pages saved as HTML, archived as PDF: what the library keeps of an article found online.

``archive_html(html, out, url, accessed)`` renders the saved page with WeasyPrint in a child process (a hostile or
enormous page cannot hang or exhaust the command: the child has a time limit), with a line at the top of every
page naming the URL and the date it was accessed, and page numbers at the bottom. Nothing is fetched from the
network: only ``data:`` URLs and files beside the saved page (the "_files" folder browsers write) are read. The PDF
is reproducible: the same page, URL and date give the same bytes.

``python -m casefile.tasks.conditions.archive IN.html OUT.pdf URL YYYY-MM-DD`` is the child's entry point.
"""

from __future__ import annotations

import hashlib
import logging
import subprocess
import sys
from datetime import date
from pathlib import Path

from ..core.errors import QuarantinedFile, QuarantineReason, ToolError
from ..core.processes import module_command, module_env

log = logging.getLogger(__name__)

ARCHIVE_TIMEOUT = 120.0  # seconds for one page to be laid out
_HTML_MARKERS = (b"<!doctype html", b"<html", b"<head", b"<body", b"<meta", b"<title", b"<?xml")


def looks_like_html(head: bytes) -> bool:
    """Whether the first bytes of a file are HTML (after a BOM and white space), whatever its name says."""
    text = head.lstrip(b"\xef\xbb\xbf").lstrip().lower()
    return text.startswith(_HTML_MARKERS) or (text.startswith(b"<!--") and b"<html" in text[:4096])


def _css_string(value: str) -> str:
    """``value`` as a CSS string literal (quotes, backslashes and line breaks escaped)."""
    escaped = "".join(f"\\{ord(ch):x} " if ch in '"\\\n\r\f' or ord(ch) < 32 else ch for ch in value)
    return f'"{escaped}"'


def _stylesheet(url: str, accessed: date) -> str:
    where = _css_string(f"Archived copy of {url}")
    when = _css_string(f"accessed {accessed.isoformat()}")
    return f"""
    @page {{
      size: letter !important;
      margin: 0.85in 0.6in 0.75in 0.6in !important;
      @top-left {{ content: {where} !important; font: 7.5pt "DejaVu Sans", sans-serif; color: #000;
                   vertical-align: bottom; padding-bottom: 6pt; width: 75%; }}
      @top-right {{ content: {when} !important; font: 7.5pt "DejaVu Sans", sans-serif; color: #000;
                    vertical-align: bottom; padding-bottom: 6pt; }}
      @bottom-center {{ content: "Page " counter(page) " of " counter(pages) !important;
                        font: 7.5pt "DejaVu Sans", sans-serif; color: #000; }}
    }}
    html {{ font-family: "DejaVu Serif", serif; }}
    img, svg, video, table, pre {{ max-width: 100%; }}
    script, noscript, iframe, video, audio, form, nav {{ display: none !important; }}
    """


def _render(html: Path, out: Path, url: str, accessed: date) -> int:
    """The child's work: lay the page out and write the PDF (atomically). Returns the page count."""
    import weasyprint

    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    logging.getLogger("fontTools").setLevel(logging.ERROR)
    base = html.resolve().parent

    class LocalFiles(weasyprint.URLFetcher):  # type: ignore[misc]
        """data: URLs, and files inside the saved page's folder; never the network or the rest of the disk."""

        def __init__(self) -> None:
            super().__init__(allowed_protocols=("data", "file"), allow_redirects=False)

        def fetch(self, url: str, headers: object = None) -> object:
            if url.lower().startswith("file:"):
                from urllib.parse import unquote, urlparse

                path = Path(unquote(urlparse(url).path)).resolve()
                if not (path.is_relative_to(base) and path.is_file()):
                    raise ValueError("not fetched: outside the saved page's folder")
            return super().fetch(url, headers)

    raw = html.read_bytes()
    document = weasyprint.HTML(
        string=raw.decode("utf-8", errors="replace"), base_url=str(base) + "/", url_fetcher=LocalFiles()
    )
    rendered = document.render(stylesheets=[weasyprint.CSS(string=_stylesheet(url, accessed))])
    rendered.metadata.created = accessed.isoformat()
    rendered.metadata.modified = accessed.isoformat()
    rendered.metadata.generator = "casefile"
    identifier = hashlib.sha256(raw + url.encode() + accessed.isoformat().encode()).hexdigest()[:32].encode()
    tmp = out.with_name(out.name + ".tmp")
    rendered.write_pdf(tmp, pdf_identifier=identifier, pdf_version="1.7")
    tmp.replace(out)
    return len(rendered.pages)


def archive_html(html: Path, out: Path, url: str, accessed: date, *, timeout: float = ARCHIVE_TIMEOUT) -> Path:
    """Render the saved page ``html`` to the PDF ``out`` in a child process. ``QuarantinedFile`` when the page cannot
    be laid out (or takes longer than ``timeout``); ``ToolError`` when the child cannot run at all."""
    command = module_command(__name__, str(html), str(out), url, accessed.isoformat())
    try:
        done = subprocess.run(command, capture_output=True, timeout=timeout, env=module_env(), check=False)
    except subprocess.TimeoutExpired:
        out.with_name(out.name + ".tmp").unlink(missing_ok=True)
        raise QuarantinedFile(
            QuarantineReason.CORRUPT, f"the web page could not be laid out within {timeout:g} seconds"
        ) from None
    except OSError as exc:
        raise ToolError(f"The web page archiver could not start ({type(exc).__name__}). Reinstall casefile.") from exc
    if done.returncode == 3:
        raise QuarantinedFile(QuarantineReason.CORRUPT, "the web page cannot be laid out as pages")
    if done.returncode != 0 or not out.is_file():
        log.warning("archiver exited %d", done.returncode)
        raise ToolError(f"The web page archiver failed (exit {done.returncode}). Check that WeasyPrint is installed.")
    return out


def main(argv: list[str]) -> int:
    html, out, url, accessed = Path(argv[0]), Path(argv[1]), argv[2], date.fromisoformat(argv[3])
    try:
        _render(html, out, url, accessed)
    except Exception as exc:  # WeasyPrint raises assorted errors on broken pages; the parent says what to do
        print(f"cannot lay out the page: {type(exc).__name__}", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
