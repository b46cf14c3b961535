"""Tesseract, the one external OCR program: probe it, run it, OCR one image, detect a page's orientation.

Every call takes an argument list (never a shell string) and a timeout, runs with ``OMP_THREAD_LIMIT=1`` (we run
one Tesseract per core; threads inside each one fight over the cores and make it several times slower),
logs Tesseract's stderr at debug level, deletes partial output when it fails, and raises ``ToolMissing``,
``ToolTimeout`` or ``ToolError`` from the original exception.

pytesseract is used for what it does well: ``pytesseract.pytesseract.tesseract_cmd`` says where the binary is
(set it there to use another Tesseract) and its OSD parser reads ``--psm 0`` output. The process itself is
started here: pytesseract's ``run_tesseract`` passes ``os.environ`` as it is (no per-call OMP_THREAD_LIMIT without
changing the whole process's environment), throws stderr away on success, and its ``get_languages`` and
``get_tesseract_version`` have no timeout.

Logs carry exit codes, timings and Tesseract's own diagnostics, never recognised text (Tesseract does not print
recognised text on stderr; stdout, which can hold it, is never logged).
"""

from __future__ import annotations

import logging
import os
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytesseract

from ..core.errors import ToolError, ToolMissing, ToolTimeout

log = logging.getLogger(__name__)

TOOL = "tesseract"
INSTALL_HINT = "Install it (Debian/Ubuntu: apt-get install tesseract-ocr tesseract-ocr-eng tesseract-ocr-spa)."
PROBE_TIMEOUT = 30.0

# Tesseract's stderr when OSD finds too little text to decide. There is no exit code or flag that says this,
# so the message is the only signal (OCRmyPDF matches the same text); the page's orientation is then unknown.
_OSD_TOO_FEW_CHARACTERS = b"Too few characters"


@dataclass(frozen=True)
class TesseractInfo:
    """What ``probe()`` found: Tesseract's version ("5.3.0") and its installed language packs."""

    version: str
    languages: frozenset[str]

    def missing_languages(self, languages: str) -> list[str]:
        """The packs of a Tesseract language spec ("eng+spa") that are not installed, in the spec's order."""
        return [lang for lang in languages.split("+") if lang and lang not in self.languages]


@dataclass(frozen=True)
class OcrOutput:
    """One Tesseract call's two outputs for one image.

    ``pdf`` is a one-page text-only PDF (invisible text, no image) whose page is the image's size at the dpi
    given; ``tsv`` is Tesseract's TSV (word boxes in pixels of the input image, with confidences).
    """

    pdf: bytes
    tsv: str
    seconds: float


@dataclass(frozen=True)
class TsvWord:
    """One recognised word from Tesseract's TSV, in pixels of the image it read (origin top-left)."""

    text: str
    conf: float
    left: int
    top: int
    width: int
    height: int
    block: int
    par: int
    line: int


@dataclass(frozen=True)
class Orientation:
    """Tesseract OSD's answer: turn the image ``rotate`` degrees clockwise (0, 90, 180, 270) to read it upright.

    ``confidence`` is Tesseract's own orientation confidence (roughly 0-30 on a text page; OCRmyPDF treats
    values under a few units as noise). It is 0.0 when the page has too little text to tell.
    """

    rotate: int
    confidence: float

    @property
    def known(self) -> bool:
        return self.confidence > 0.0


def binary() -> str:
    """The Tesseract executable, as configured for pytesseract (default: ``tesseract`` on PATH)."""
    return str(pytesseract.pytesseract.tesseract_cmd)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["OMP_THREAD_LIMIT"] = "1"
    return env


def _log_stderr(stderr: bytes | None) -> None:
    if not stderr or not log.isEnabledFor(logging.DEBUG):
        return
    for line in stderr.decode("utf-8", "replace").splitlines():
        if line.strip():
            log.debug("%s: %s", TOOL, line.rstrip())


def _last_line(stderr: bytes | None) -> str:
    lines = [line.strip() for line in (stderr or b"").decode("utf-8", "replace").splitlines() if line.strip()]
    return lines[-1][:200] if lines else "no message"


def _remove(paths: Sequence[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


def run(args: Sequence[str], *, timeout: float, outputs: Sequence[Path] = ()) -> subprocess.CompletedProcess[bytes]:
    """Run ``tesseract *args`` with a timeout and ``OMP_THREAD_LIMIT=1``; return the finished process.

    ``outputs`` are the files this call writes: they are deleted if it fails or times out, so no half-written
    file is mistaken for a result. Raises ``ToolMissing`` (not installed), ``ToolTimeout`` (killed after
    ``timeout`` seconds) or ``ToolError`` (non-zero exit; the original ``CalledProcessError``, with stderr, is
    the ``__cause__``).
    """
    if timeout <= 0:
        raise ValueError("timeout must be positive")
    cmd = [binary(), *args]
    started = time.monotonic()
    try:
        proc = subprocess.run(
            cmd, capture_output=True, stdin=subprocess.DEVNULL, env=_env(), timeout=timeout, check=True
        )
    except subprocess.TimeoutExpired as exc:
        _log_stderr(exc.stderr)
        _remove(outputs)
        raise ToolTimeout(
            f"Tesseract did not finish within {timeout:g} s. The page may be very large or damaged; "
            "raise the OCR timeout setting or check the page by eye."
        ) from exc
    except FileNotFoundError as exc:
        _remove(outputs)
        raise ToolMissing(f"Tesseract ({binary()}) is not installed or not on PATH. {INSTALL_HINT}") from exc
    except subprocess.CalledProcessError as exc:
        _log_stderr(exc.stderr)
        _remove(outputs)
        raise ToolError(f"Tesseract failed (exit code {exc.returncode}): {_last_line(exc.stderr)}") from exc
    except OSError as exc:
        _remove(outputs)
        raise ToolError(f"Tesseract could not be started ({type(exc).__name__}: {exc.strerror}).") from exc
    _log_stderr(proc.stderr)
    log.debug("%s: %s finished in %.2f s", TOOL, args[0] if args else "", time.monotonic() - started)
    return proc


def probe(timeout: float = PROBE_TIMEOUT) -> TesseractInfo:
    """Whether Tesseract is installed, its version and its language packs. Raises ``ToolMissing``."""
    version_out = run(["--version"], timeout=timeout)
    # Tesseract 5 prints "tesseract 5.3.0" on stdout; 4.x printed it on stderr.
    first = (version_out.stdout or version_out.stderr).decode("utf-8", "replace").strip().splitlines()
    words = first[0].split() if first else []
    if len(words) < 2 or words[0].lower() != TOOL:
        raise ToolError(f"{binary()} --version did not print a Tesseract version.")
    langs_out = run(["--list-langs"], timeout=timeout)
    lines = langs_out.stdout.decode("utf-8", "replace").splitlines()
    languages = frozenset(line.strip() for line in lines[1:] if line.strip() and " " not in line.strip())
    return TesseractInfo(version=words[1], languages=languages)


def check_languages(languages: str, info: TesseractInfo | None = None) -> TesseractInfo:
    """Raise ``ToolMissing`` unless every pack of ``languages`` ("eng+spa") and ``osd`` is installed."""
    info = info or probe()
    missing = info.missing_languages(f"{languages}+osd")
    if missing:
        packages = " ".join(f"tesseract-ocr-{lang}" for lang in missing)
        raise ToolMissing(
            f"Tesseract has no language data for {', '.join(missing)}. Install it (Debian/Ubuntu: apt-get install "
            f"{packages}) or change the OCR languages setting."
        )
    return info


def ocr_image(
    image: Path, *, languages: str, dpi: int, timeout: float, psm: int = 3, out_dir: Path | None = None
) -> OcrOutput:
    """OCR one image file in ONE Tesseract call that writes both a text-only PDF and TSV word boxes.

    ``image`` is any format Leptonica reads (JPEG is read as it is, PNM is the cheapest lossless one; PNG
    encoding of a 300-dpi scan costs more than OCRing it). ``dpi`` is the image's resolution; it sets the
    PDF page size (pixels * 72 / dpi). Outputs go next to ``image`` (or into ``out_dir``) and are deleted
    after reading.
    """
    folder = out_dir or image.parent
    base = folder / f"{image.stem}.ocr"
    pdf_path, tsv_path = base.with_suffix(".ocr.pdf"), base.with_suffix(".ocr.tsv")
    args = [
        str(image),
        str(base),
        "-l",
        languages,
        "--dpi",
        str(dpi),
        "--psm",
        str(psm),
        "-c",
        "textonly_pdf=1",
        "pdf",
        "tsv",
    ]
    started = time.monotonic()
    try:
        run(args, timeout=timeout, outputs=[pdf_path, tsv_path])
        try:
            pdf = pdf_path.read_bytes()
            tsv = tsv_path.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            raise ToolError("Tesseract finished but did not write its PDF and TSV output.") from exc
    finally:
        _remove([pdf_path, tsv_path])
    return OcrOutput(pdf=pdf, tsv=tsv, seconds=time.monotonic() - started)


def parse_tsv(tsv: str) -> list[TsvWord]:
    """The words (level 5 rows with text) of Tesseract's TSV output, in Tesseract's reading order."""
    words: list[TsvWord] = []
    for row in tsv.splitlines()[1:]:
        cells = row.split("\t", 11)
        if len(cells) != 12 or cells[0] != "5":
            continue
        text = cells[11].strip()
        if not text:
            continue
        try:
            left, top, width, height = (int(c) for c in cells[6:10])
            conf = float(cells[10])
            block, par, line = int(cells[2]), int(cells[3]), int(cells[4])
        except ValueError:
            continue
        if conf < 0:
            continue
        words.append(TsvWord(text, conf, left, top, width, height, block, par, line))
    return words


def detect_orientation(image: Path, *, dpi: int, timeout: float) -> Orientation:
    """Tesseract OSD (``--psm 0``) on one image. Too little text to decide gives ``Orientation(0, 0.0)``.

    OSD costs about as much as OCR on a 300-dpi page; on an image halved to 150 dpi it costs about half and is
    still right, so callers pass a reduced image.
    """
    args = [str(image), "-", "--psm", "0", "--dpi", str(dpi)]
    try:
        proc = run(args, timeout=timeout)
    except ToolError as exc:
        cause = exc.__cause__
        if (
            not isinstance(exc, ToolTimeout)
            and isinstance(cause, subprocess.CalledProcessError)
            and _OSD_TOO_FEW_CHARACTERS in (cause.stderr or b"")
        ):
            return Orientation(0, 0.0)
        raise
    parsed = pytesseract.pytesseract.osd_to_dict(proc.stdout.decode("utf-8", "replace"))
    rotate = int(parsed.get("rotate", 0)) % 360
    confidence = float(parsed.get("orientation_conf", 0.0))
    if rotate not in (0, 90, 180, 270):
        return Orientation(0, 0.0)
    return Orientation(rotate, confidence)
