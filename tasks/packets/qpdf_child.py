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

The packet builder adds one allowance, and only for its own output: the pictures (JPEG, JBIG2 and run-length data)
that it copies byte for byte from the stored documents. ``verify_pictures`` decodes the pictures of a stored PDF
once, as ``qpdf --check`` would, and gives the ``picture_key`` of each one that decodes cleanly; the builder keeps
that verdict by the document's SHA-256 (tasks/packets/cache.py). ``check_trusting(path, trusted)`` is then
``qpdf --check`` of a packet's part, step by step as QPDFJob's check does it (``Pdf.check_pdf_syntax``), except that
a picture whose key is in ``trusted`` is not decoded again: the file's whole structure, every other stream (page
contents, fonts, forms, and every picture the builder wrote or re-encoded, whose bytes no verdict covers) and the
page contents are checked every time. A key covers the picture's bytes and the filters and parameters it is decoded
with, so a changed byte makes the picture unknown, and it is decoded.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Any, TypedDict


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


# Pictures decoded once per stored document --------------------------------------------------------------------
GENERALIZED = frozenset({"/FlateDecode", "/LZWDecode", "/ASCII85Decode", "/ASCIIHexDecode"})
# What `qpdf --check` decodes beyond the generalized filters: run-length data, JBIG2 (through jbig2dec) and JPEG.
PICTURE_FILTERS = frozenset({"/RunLengthDecode", "/JBIG2Decode", "/DCTDecode"})
VERIFIER_VERSION = "1"  # bump when what a picture key covers, or how a picture is verified, changes


class Verdict(TypedDict):
    trusted: list[str]  # picture keys of the pictures that decode cleanly
    pictures: int  # pictures seen
    problems: list[str]  # qpdf's lines about the pictures that do not (file names only)
    libqpdf: str
    missing_decoders: list[str]


def _filter_names(stream: Any) -> list[str] | None:
    """The stream's filters in order; None when they are not all names."""
    import pikepdf

    value = stream.stream_dict.get("/Filter")
    if value is None:
        return []
    if isinstance(value, pikepdf.Name):
        return [str(value)]
    if isinstance(value, pikepdf.Array) and all(isinstance(v, pikepdf.Name) for v in value):
        return [str(v) for v in value]
    return None


def _canonical(value: Any, depth: int = 0) -> bytes:
    """Decode parameters as bytes that do not depend on object numbers: a stream (JBIG2 globals) by its data's hash,
    dictionaries with sorted keys."""
    import pikepdf

    if depth > 8:
        return b"?"
    if isinstance(value, pikepdf.Stream):
        return b"stream:" + hashlib.sha256(value.read_raw_bytes()).hexdigest().encode("ascii")
    if isinstance(value, pikepdf.Dictionary):
        items = sorted((str(k), _canonical(value[k], depth + 1)) for k in value.keys())  # noqa: SIM118
        return b"<<" + b" ".join(k.encode("ascii", "replace") + b" " + v for k, v in items) + b">>"
    if isinstance(value, pikepdf.Array):
        return b"[" + b" ".join(_canonical(v, depth + 1) for v in value) + b"]"
    if isinstance(value, pikepdf.Object):
        return bytes(value.unparse())
    return repr(value).encode("utf-8", "replace")


def picture_key(stream: Any) -> str | None:
    """The key of a picture stream (one that `qpdf --check` decodes with a filter beyond the generalized ones), or
    None for any other stream: the SHA-256 of its filters, its decode parameters and its encoded bytes."""
    filters = _filter_names(stream)
    if not filters or not any(f in PICTURE_FILTERS for f in filters):
        return None
    if not all(f in PICTURE_FILTERS or f in GENERALIZED for f in filters):
        return None  # a filter qpdf does not decode (CCITT, JPEG 2000): --check leaves it as it is
    digest = hashlib.sha256()
    digest.update(" ".join(filters).encode("ascii", "replace") + b"\n")
    params = stream.stream_dict.get("/DecodeParms")
    digest.update((_canonical(params) if params is not None else b"null") + b"\n")
    digest.update(stream.read_raw_bytes())
    return digest.hexdigest()


def _streams(pdf: Any) -> Iterator[Any]:
    import pikepdf

    for obj in pdf.objects:
        if isinstance(obj, pikepdf.Stream):
            yield obj


class _Collect:
    """Collects qpdf's warnings (pikepdf passes them to the ``pikepdf._core`` logger) while in use."""

    def __init__(self) -> None:
        self.handler = _Lines()
        self.logger = logging.getLogger("pikepdf._core")
        self.propagate = True

    def __enter__(self) -> _Lines:
        self.logger.addHandler(self.handler)
        self.propagate, self.logger.propagate = self.logger.propagate, False
        return self.handler

    def __exit__(self, *_exc: object) -> None:
        self.logger.removeHandler(self.handler)
        self.logger.propagate = self.propagate


def _decode_picture(stream: Any, name: str) -> list[str]:
    """Decode one picture as `qpdf --check` does; its problem lines (none: it decodes cleanly)."""
    import pikepdf

    number, generation = stream.objgen
    with _Collect() as lines:
        try:
            stream.read_bytes(decode_level=pikepdf.StreamDecodeLevel.all)
        except (pikepdf.PdfError, pikepdf.DataDecodingError, NotImplementedError, ValueError, RuntimeError) as exc:
            reason = str(exc).split("): ", 1)[-1]
            lines.lines.append(f"{name}: error decoding stream data for object {number} {generation}: {reason}")
    return lines.lines


def _missing_decoders(pdf: Any) -> list[str]:
    """["jbig2dec"] when the file holds JBIG2 data and jbig2dec is not installed (asked only then: asking runs it)."""
    if not any("/JBIG2Decode" in (_filter_names(s) or []) for s in _streams(pdf)):
        return []
    from pikepdf import jbig2

    return [] if jbig2.get_decoder().available() else ["jbig2dec"]


def verify_pictures(path: Path) -> Verdict:
    """Decode every picture of the PDF at ``path`` (a stored document) as `qpdf --check` does, and give the keys of
    those that decode cleanly. One pass of qpdf over the whole file when nothing is wrong; one picture at a time
    otherwise, to tell the good ones from the bad."""
    import pikepdf

    name = path.name
    trusted: list[str] = []
    problems: list[str] = []
    try:
        with _Collect() as lines, pikepdf.open(path) as pdf:
            keys = [(stream, key) for stream in _streams(pdf) if (key := picture_key(stream)) is not None]
            missing = _missing_decoders(pdf)
            if keys and not missing:
                pdf._decode_all_streams_and_discard()  # qpdf --check's own pass: streams decoded, nothing kept
                if not lines.lines and not pdf.get_warnings():
                    trusted = [key for _stream, key in keys]
                else:
                    for stream, key in keys:
                        found = _decode_picture(stream, name)
                        if found:
                            problems += found
                        else:
                            trusted.append(key)
    except pikepdf.PdfError as exc:  # not a PDF qpdf can open: nothing is trusted, the packet's check will say why
        problems.append(_reduce(str(exc), path))
        keys, missing = [], []
    return {
        "trusted": sorted(set(trusted)),
        "pictures": len(keys),
        "problems": [_reduce(line, path) for line in problems],
        "libqpdf": pikepdf.__libqpdf_version__,
        "missing_decoders": missing,
    }


def check_trusting(path: Path, trusted: Collection[str]) -> Answer:
    """``qpdf --check`` of ``path`` in the steps of QPDFJob's check (``Pdf.check_pdf_syntax``: linearization, the
    document's structures, every object written out with its streams decoded, every page's content parsed), except
    that a picture whose ``picture_key`` is in ``trusted`` is not decoded (see the module doc). Without ``trusted``,
    this is ``check(path)``."""
    import pikepdf

    if not trusted:
        return check(path)
    problems: list[str] = []
    errors = False
    with _Collect() as lines:
        try:
            with pikepdf.open(path) as pdf:

                def collect() -> int:
                    """Move qpdf's warnings so far into ``problems`` (as `qpdf --check` prints them); how many."""
                    found = [*lines.lines, *pdf.get_warnings()]
                    lines.lines.clear()
                    problems.extend(found)
                    return len(found)

                if pdf.is_linearized:
                    pdf.check_linearization(_Discard())
                pdf._check_document_structures()
                if len(pdf.pages) == 0:
                    collect()
                    problems.append("ERROR: file does not contain any pages")
                    errors = True
                # Every object, with the streams qpdf decodes at its generalized level decoded (contents, fonts...)
                pdf.save(
                    os.devnull,
                    stream_decode_level=pikepdf.StreamDecodeLevel.generalized,
                    compress_streams=False,
                    fix_metadata_version=False,
                    preserve_pdfa=False,
                )
                collect()
                # ... then the pictures, but those whose bytes a stored document's verdict covers
                for stream in _streams(pdf):
                    key = picture_key(stream)
                    if key is not None and key not in trusted:
                        failed = _decode_picture(stream, path.name)
                        if not collect():  # qpdf said nothing itself: say what failed
                            problems.extend(failed)
                for number, page in enumerate(pdf.pages, start=1):
                    try:
                        pikepdf.parse_content_stream(page, "cfNone")  # tokens checked in qpdf, nothing returned
                    except pikepdf.PdfError as exc:
                        collect()
                        problems.append(f"ERROR: page {number}: {exc}")
                        errors = True
                collect()
        except Exception as exc:  # qpdf's fatal errors, as check() reports them
            problems.append(str(exc))
            errors = True
    problems = [_reduce(line, path) for line in problems]
    if len(problems) > MAX_LINES:
        problems = [*problems[:MAX_LINES], f"... and {len(problems) - MAX_LINES} more line(s) like these"]
    code = 2 if errors else 3 if problems else 0
    missing: list[str] = []
    if code != 0:
        from pikepdf import jbig2

        if not jbig2.get_decoder().available() and _needs_jbig2(path):
            missing.append("jbig2dec")
    return {"exit": code, "problems": problems, "libqpdf": pikepdf.__libqpdf_version__, "missing_decoders": missing}


class _Discard:
    def write(self, _text: str) -> int:
        return 0

    def flush(self) -> None:
        pass


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m casefile.tasks.packets.qpdf_child FILE", file=sys.stderr)
        return 2
    json.dump(check(Path(argv[0])), sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
