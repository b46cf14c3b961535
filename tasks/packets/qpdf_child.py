"""``qpdf --check`` of one PDF through the qpdf library that pikepdf bundles, in a child process of the packet check.

The check (tasks/packets/check/qpdf.py) runs ``python -m casefile.tasks.packets.qpdf_child FILE`` once per file; this
prints one JSON document on stdout::

    {"exit": 0, "problems": [], "libqpdf": "12.4.2", "missing_decoders": []}

``exit`` is qpdf's own exit status (0 clean, 2 errors, 3 warnings) and ``problems`` its error and warning lines, whole,
with the file's path reduced to its name (qpdf reports object numbers and offsets, never document text).

``pikepdf.Job`` is QPDFJob, the code behind the ``qpdf`` command, given the same arguments; it checks the same
things as ``qpdf --check`` of that library version. The packet check uses it rather than the ``qpdf`` command
because Debian 12's qpdf 11.3 decodes every JPEG during ``--check`` and then re-compresses it (qpdf/qpdf#1546,
fixed in qpdf 12), so the bundled libqpdf is much faster on a packet of scans (benchmarks/README.md, "Packet
check"), and every machine checks with the same qpdf version, pinned with pikepdf. Each file gets its own process,
started at once, because QPDFJob holds the GIL while it runs. Only the standard library and pikepdf are imported
here (not the check's package), so the process starts quickly.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import TypedDict


class Answer(TypedDict):
    exit: int  # qpdf's exit status: 0 clean, 2 errors, 3 warnings
    problems: list[str]  # its error and warning lines, the path reduced to the file name
    libqpdf: str  # the qpdf library's version
    missing_decoders: list[str]  # programs the file needs to be checked that are not installed ("jbig2dec")


def _needs_jbig2(path: Path) -> bool:
    """Whether the file holds JBIG2 data (whose decoding pikepdf hands to the jbig2dec program)."""
    import pikepdf

    try:
        with pikepdf.open(path) as pdf:
            for obj in pdf.objects:
                if isinstance(obj, pikepdf.Stream):
                    f = obj.stream_dict.get("/Filter")
                    names = [f] if isinstance(f, pikepdf.Name) else list(f) if isinstance(f, pikepdf.Array) else []
                    if pikepdf.Name.JBIG2Decode in names:
                        return True
    except pikepdf.PdfError:
        return False
    return False


class _Lines(logging.Handler):
    """qpdf's warnings, which pikepdf passes to the ``pikepdf._core`` logger (one message per line, with blanks)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage().strip()
        # the closing "operation succeeded with warnings" arrives in pieces; the exit status says it
        if text and text not in ("WARNING:", "qpdf", "pikepdf") and not text.startswith(": operation succeeded"):
            self.lines.append(text)


MAX_LINES = 200  # qpdf's lines are kept whole; a file damaged everywhere gives the first ones and a count


def _reduce(text: str, path: Path) -> str:
    for form in (str(path.resolve()), str(path)):
        text = text.replace(form, path.name)
    return text


def check(path: Path) -> Answer:
    """``qpdf --check`` of ``path`` as a JSON-ready dict (see the module doc)."""
    import pikepdf

    lines = _Lines()
    logger = logging.getLogger("pikepdf._core")
    logger.addHandler(lines)
    propagate, logger.propagate = logger.propagate, False  # qpdf's lines are the answer, not log output
    try:
        job = pikepdf.Job(["qpdf", "--check", str(path)])
        job.run()
        code = int(job.exit_code)
    except Exception as exc:  # qpdf's fatal errors ("unable to find trailer dictionary", "invalid password")
        code = 2
        lines.lines.append(str(exc))
    finally:
        logger.removeHandler(lines)
        logger.propagate = propagate
    problems = [_reduce(line, path) for line in lines.lines]
    if len(problems) > MAX_LINES:
        problems = [*problems[:MAX_LINES], f"... and {len(problems) - MAX_LINES} more line(s) like these"]
    missing = []
    from pikepdf import jbig2

    if code != 0 and not jbig2.get_decoder().available() and _needs_jbig2(path):
        missing.append("jbig2dec")  # the problem is this machine's, not the file's
    return {
        "exit": code,
        "problems": problems,
        "libqpdf": pikepdf.__libqpdf_version__,
        "missing_decoders": missing,
    }


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m casefile.tasks.packets.qpdf_child FILE", file=sys.stderr)
        return 2
    json.dump(check(Path(argv[0])), sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
