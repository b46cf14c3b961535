"""OCR benchmarks: throughput against raw Tesseract, born-digital text against pypdf, peak memory of a long scan.

Run from the repository root (not part of the tests):

    python -m benchmarks.bench_ocr [--only throughput|born-digital|memory|long-scan] [--pages 300] [--rounds N]
                                   [--target-pages 3000] [--workers 2] [--no-ocrmypdf] [--workdir DIR] [--json]

Every figure is a ratio against a reference measured in the same run, on the same input:

1. ``throughput``: 40 synthetic 300-dpi scanned letter pages (20 English, 20 Spanish; fictional texts of
   tests/resources/generate.py under a per-page header line, skewed 0.3-0.9 degrees, blurred, noised, grey
   JPEG q75) in one image-only PDF made by img2pdf (JPEG bytes embedded as they are). Pipeline:
   ``casefile.tasks.documents.ocr.ocr_document(pdf, out, languages="eng+spa", workers=2)``. Reference: raw
   ``tesseract IMG OUT -l eng+spa pdf`` on the same JPEG files, 2 processes at a time, OMP_THREAD_LIMIT=1.
   Target: pipeline pages/s / raw pages/s >= 0.85. If ``ocrmypdf`` runs, also ``ocrmypdf --jobs 2 -l eng+spa
   --output-type pdf`` on the same PDF; target: the pipeline is faster. The pipeline's page text and the text
   layer of its searchable PDF (read back with PDFium) are compared with the known text: character error rate
   (Levenshtein distance / reference length, whitespace collapsed) per language, accented letters kept, and
   the detected page language.
2. ``born-digital``: a 1,000-page PDF with a real text layer (fpdf2, embedded DejaVu Sans, ~300 English or
   Spanish words per page). Pipeline: ``ocr_document`` on it, which must OCR nothing and render nothing (every
   page must come out "text-layer": a page that is not is the only kind that gets rendered or OCR'd, in a
   worker, so ``text_pages == pages`` proves neither happened). Reference: ``PdfReader(pdf).pages[i].extract_text()``
   for every page. Target: pipeline time / pypdf time <= 1.5. pypdfium2 and ``pdftotext`` are timed beside them.
3. ``memory``: peak memory while ``ocr_document`` OCRs a ``--pages`` (300) page scan: 8 distinct 300-dpi pages
   repeated, made in a separate process so this one starts clean. A thread samples the RSS of this process
   and all its descendants (forkserver, pool workers, Tesseract) every 0.1 s; the target is on the largest
   summed RSS seen (shared pages counted once per process: an upper bound of real use); target < 1 GiB. The
   summed PSS (sampled about once a second) and the main process's RSS per quarter of the run (it must not grow
   with the page count) are printed too. Without ``--only`` this part runs in a fresh interpreter.
4. ``long-scan`` (only with ``--only long-scan``; issue 18): one ``--pages`` page scan through ``casefile add``'s
   path (``documents.pipeline``: intake, text and OCR, index; real Tesseract, ``--workers`` OCR processes) in a
   fresh process. The PDF is image-only, 8 distinct 300-dpi pages cycled, each page's JPEG made distinct by a
   comment segment, written object by object to disk. A thread here samples the RSS of that process and all its
   descendants (OCR workers, Tesseract) every 50 ms (PSS once a second); the ingest process samples its own RSS
   every few OCR'd pages. Printed: the tree's peak, the ingest process's growth per 100 and 1,000 pages during
   OCR (least-squares over the pages from 10% on, with R^2 and the slope of each half), and a JSON line with
   ``peak_rss_tree_mb`` and ``growth_per_1000_pages_mb``. Target: the tree under 1 GiB; with ``--target-pages``
   (3000) above ``--pages``, the peak is extrapolated to it only when growth is flat or shown linear.

With ``--rounds N`` the timed runs are repeated N times, interleaved with their reference, and the medians
are compared. The CPU time other programs used meanwhile (machine busy time minus this process tree's) is
printed beside each timing: on a shared machine a ratio measured while others ran is not worth much.
Exit status 1 if a target is missed or a check fails. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from benchmarks.common import load_generate, machine_busy_seconds, machine_info
from casefile.tasks.documents import tesseract
from casefile.tasks.documents.ocr import DocumentOcr, ocr_document

LANGUAGES = "eng+spa"
TARGET_THROUGHPUT_RATIO = 0.85  # pipeline pages/s / raw tesseract pages/s, at least
TARGET_BORN_DIGITAL_RATIO = 1.5  # pipeline seconds / pypdf seconds, at most
TARGET_PEAK_MB = 1024.0  # summed RSS of the process tree, under
SCAN_DPI = 300
SCAN_PER_LANGUAGE = 20
MEMORY_DISTINCT_PAGES = 8
BORN_DIGITAL_PAGES = 1000
BORN_DIGITAL_WORDS = 300
CORPUS_VERSION = 1  # bump when the page recipes change, so a kept --workdir is regenerated
MB = 1024 * 1024
ACCENTED = frozenset("áéíóúüñÁÉÍÓÚÜÑ¿¡")
PACKAGES = ("pypdf", "pikepdf", "pypdfium2", "pytesseract", "img2pdf", "pillow", "fpdf2", "lingua-language-detector")


# Text comparison -------------------------------------------------------------------------------------------
def normalise(text: str) -> str:
    """NFC, whitespace collapsed to single spaces: line breaks and column gaps are not errors."""
    return " ".join(unicodedata.normalize("NFC", text).split())


_FILLER = re.compile(r"[._…]{3,}")


def without_fillers(text: str) -> str:
    """``normalise`` after removing runs of three or more dots or underscores (dot leaders, signature lines):
    Tesseract reads those as a different number of dots, as "ccoc" or not at all, which says nothing about
    how it reads words."""
    return normalise(_FILLER.sub(" ", text))


def _banded(a: str, b: str, band: int) -> int:
    """Levenshtein distance of a and b if it is at most ``band`` (cells with |i - j| > band are not computed);
    otherwise some value larger than ``band``."""
    n, m = len(a), len(b)
    inf = n + m + 1
    prev = [j if j <= band else inf for j in range(m + 1)]
    for i in range(1, n + 1):
        lo, hi = max(1, i - band), min(m, i + band)
        cur = [inf] * (m + 1)
        if i <= band:
            cur[0] = i
        ai = a[i - 1]
        left = cur[lo - 1]
        for j in range(lo, hi + 1):
            value = prev[j - 1] + (ai != b[j - 1])
            up = prev[j] + 1
            if up < value:
                value = up
            if left + 1 < value:
                value = left + 1
            cur[j] = value
            left = value
        prev = cur
    return prev[m]


def levenshtein(a: str, b: str) -> int:
    """Edit distance (insertions, deletions, substitutions), exact. Banded with a doubling band: fast when the
    strings are close (OCR output against its source), quadratic only when they are not."""
    band = max(16, abs(len(a) - len(b)))
    while True:
        distance = _banded(a, b, band)
        if distance <= band or band >= max(len(a), len(b)):
            return distance
        band *= 2


@dataclass
class TextScore:
    """Character errors against known texts, summed over pages: on all characters, and without filler runs."""

    pages: int = 0
    errors: int = 0
    chars: int = 0
    word_errors: int = 0  # character errors once dot leaders and underscore lines are taken out
    word_chars: int = 0
    accents_expected: int = 0
    accents_found: int = 0
    worst_page_cer: float = 0.0

    def add(self, expected: str, got: str) -> None:
        reference, hypothesis = normalise(expected), normalise(got)
        errors = levenshtein(reference, hypothesis)
        self.pages += 1
        self.errors += errors
        self.chars += len(reference)
        words_reference = without_fillers(reference)
        self.word_errors += levenshtein(words_reference, without_fillers(hypothesis))
        self.word_chars += len(words_reference)
        self.accents_expected += sum(c in ACCENTED for c in reference)
        self.accents_found += min(sum(c in ACCENTED for c in hypothesis), sum(c in ACCENTED for c in reference))
        self.worst_page_cer = max(self.worst_page_cer, errors / max(1, len(reference)))

    def as_dict(self) -> dict[str, Any]:
        return {
            "pages": self.pages,
            "chars": self.chars,
            "errors": self.errors,
            "cer_percent": round(100 * self.errors / max(1, self.chars), 3),
            "cer_without_fillers_percent": round(100 * self.word_errors / max(1, self.word_chars), 3),
            "worst_page_cer_percent": round(100 * self.worst_page_cer, 3),
            "accented_expected": self.accents_expected,
            "accented_kept_percent": round(100 * self.accents_found / self.accents_expected, 1)
            if self.accents_expected
            else None,
        }


# Timing on a shared machine --------------------------------------------------------------------------------
def tree_cpu_seconds() -> float:
    """CPU time of this process and every live descendant, including their waited-for children (Tesseract
    processes a pool worker ran, workers the forkserver reaped)."""
    import psutil

    root = psutil.Process()
    total = 0.0
    for proc in [root, *root.children(recursive=True)]:
        try:
            t = proc.cpu_times()
        except psutil.Error:
            continue
        total += t.user + t.system + t.children_user + t.children_system
    return float(total)


@dataclass
class Timing:
    seconds: float = 0.0
    own_cpu_seconds: float = 0.0  # this process tree
    other_cpu_seconds: float = 0.0  # everything else on the machine meanwhile

    @property
    def other_cores(self) -> float:
        return self.other_cpu_seconds / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict[str, float]:
        return {
            "seconds": round(self.seconds, 3),
            "own_cpu_seconds": round(self.own_cpu_seconds, 2),
            "other_cpu_seconds": round(self.other_cpu_seconds, 2),
            "other_cores": round(self.other_cores, 2),
        }


@contextmanager
def timed() -> Iterator[Timing]:
    timing = Timing()
    own0, busy0 = tree_cpu_seconds(), machine_busy_seconds()
    started = time.perf_counter()
    try:
        yield timing
    finally:
        timing.seconds = time.perf_counter() - started
        timing.own_cpu_seconds = tree_cpu_seconds() - own0
        timing.other_cpu_seconds = max(0.0, machine_busy_seconds() - busy0 - timing.own_cpu_seconds)


def _median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


# Scanned pages ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ScanPage:
    """One synthetic scanned page: its language, the paragraphs drawn, and how it is degraded."""

    name: str
    language: str  # "en" or "es"
    lines: tuple[str, ...]
    skew: float
    noise: float
    blur: float
    seed: int

    @property
    def expected_text(self) -> str:
        heading = load_generate().HEADING
        return normalise(" ".join(line.removeprefix(heading) for line in self.lines if line))


def _base_texts() -> dict[str, list[list[str]]]:
    g = load_generate()
    return {
        "en": [g.MEDICAL_RECORD_EN[0], g.MEDICAL_RECORD_EN[1], g.SCHOOL_RECORD_EN[0], g.SCHOOL_RECORD_EN[1]],
        "es": [g.DENUNCIA_ES[0], g.DENUNCIA_ES[1], g.CARTA_DE_APOYO_ES, g.CONSTANCIA_ES],
    }


def scan_pages(per_language: int, seed: int = 40) -> list[ScanPage]:
    """``per_language`` English then as many Spanish pages, each a base text under its own header line."""
    pages: list[ScanPage] = []
    for language, texts in _base_texts().items():
        for k in range(per_language):
            rng = random.Random(f"bench-ocr/{seed}/{language}/{k}")
            header = (
                f"Reference scan {k + 1:02d} of {per_language} - synthetic, fictional test data"
                if language == "en"
                else f"Copia escaneada {k + 1:02d} de {per_language} - datos ficticios de prueba"
            )
            pages.append(
                ScanPage(
                    name=f"{language}-{k + 1:02d}",
                    language=language,
                    lines=(header, *texts[k % len(texts)]),
                    skew=rng.uniform(0.3, 0.9) * rng.choice((-1.0, 1.0)),
                    noise=rng.uniform(0.006, 0.012),
                    blur=rng.uniform(0.4, 0.8),
                    seed=rng.randrange(2**32),
                )
            )
    return pages


def render_scan(page: ScanPage, dpi: int = SCAN_DPI) -> bytes:
    """The page as a grey baseline JPEG (q75) carrying its dpi, like a flatbed scan."""
    from PIL import ImageFilter

    image = load_generate().render_text_page(list(page.lines), dpi=dpi, skew_deg=page.skew, noise=0.0)
    image = image.filter(ImageFilter.GaussianBlur(page.blur * dpi / 300))
    image = load_generate()._add_noise(image, page.noise, random.Random(page.seed))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=75, dpi=(dpi, dpi))
    return buffer.getvalue()


def _render_scan_to(args: tuple[ScanPage, int, str]) -> str:
    page, dpi, path = args
    Path(path).write_bytes(render_scan(page, dpi))
    return path


def write_scans(folder: Path, pages: Sequence[ScanPage], dpi: int, jobs: int) -> list[Path]:
    """The pages' JPEG files in ``folder`` (kept ones reused), rendered in ``jobs`` processes."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"{p.name}-{dpi}dpi-v{CORPUS_VERSION}.jpg" for p in pages]
    todo = [(p, dpi, str(path)) for p, path in zip(pages, paths, strict=True) if not path.is_file()]
    if todo:
        with ProcessPoolExecutor(max_workers=max(1, jobs), mp_context=get_context("spawn")) as pool:
            list(pool.map(_render_scan_to, todo))
    return paths


def images_to_pdf(images: Sequence[Path], out: Path) -> Path:
    """An image-only PDF, one page per JPEG, the JPEG bytes embedded as they are (img2pdf)."""
    import img2pdf

    g = load_generate()
    data = img2pdf.convert(
        [str(p) for p in images],
        engine=img2pdf.Engine.internal,
        title="Benchmark scan (fictional test data)",
        creationdate=g.FIXED_DATE,
        moddate=g.FIXED_DATE,
    )
    out.write_bytes(data)
    return out


# References ------------------------------------------------------------------------------------------------
def raw_tesseract(images: Sequence[Path], out_dir: Path, jobs: int) -> None:
    """``tesseract IMG OUT -l eng+spa pdf`` for every image, ``jobs`` at a time, OMP_THREAD_LIMIT=1."""
    out_dir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}

    def one(image: Path) -> None:
        cmd = [tesseract.binary(), str(image), str(out_dir / image.stem), "-l", LANGUAGES, "pdf"]
        subprocess.run(cmd, env=env, check=True, capture_output=True, stdin=subprocess.DEVNULL, timeout=600)

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        list(pool.map(one, images))


def ocrmypdf_command() -> str | None:
    """The ``ocrmypdf`` executable next to this interpreter or on PATH, if it runs."""
    for candidate in (Path(sys.executable).parent / "ocrmypdf", shutil.which("ocrmypdf")):
        if candidate is None or not Path(candidate).is_file():
            continue
        try:
            subprocess.run([str(candidate), "--version"], check=True, capture_output=True, timeout=60)
        except (OSError, subprocess.SubprocessError):
            continue
        return str(candidate)
    return None


def _tool_version(cmd: Sequence[str]) -> str:
    try:
        proc = subprocess.run(list(cmd), capture_output=True, timeout=60, check=False)
    except (OSError, subprocess.SubprocessError):
        return "not installed"
    lines = (proc.stdout or proc.stderr).decode("utf-8", "replace").strip().splitlines()
    return lines[0].strip() if lines else "unknown"


def describe_machine() -> dict[str, Any]:
    info = machine_info(PACKAGES)
    info["packages"]["tesseract"] = tesseract.probe().version
    ocrmypdf = ocrmypdf_command()
    info["packages"]["ocrmypdf"] = _tool_version([ocrmypdf, "--version"]) if ocrmypdf else "not installed"
    info["packages"]["pdftotext"] = _tool_version(["pdftotext", "-v"]).removeprefix("pdftotext version ")
    return info


def _pdfium_texts(pdf: Path) -> list[str]:
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(pdf)
    try:
        texts = []
        for index in range(len(doc)):
            page = doc[index]
            textpage = page.get_textpage()
            texts.append(str(textpage.get_text_range()))
            textpage.close()
            page.close()
        return texts
    finally:
        doc.close()


# 1. Throughput ---------------------------------------------------------------------------------------------
def run_throughput(
    workdir: Path, *, rounds: int, workers: int, use_ocrmypdf: bool, log: Callable[[str], None]
) -> dict[str, Any]:
    pages = scan_pages(SCAN_PER_LANGUAGE)
    started = time.perf_counter()
    images = write_scans(workdir / "scans", pages, SCAN_DPI, workers)
    pdf = images_to_pdf(images, workdir / "scan-40.pdf")
    generation = time.perf_counter() - started
    n = len(pages)
    log(f"throughput: {n} pages at {SCAN_DPI} dpi, {pdf.stat().st_size / MB:.1f} MB PDF ({generation:.1f} s)")

    raw: list[Timing] = []
    pipe: list[Timing] = []
    result: DocumentOcr | None = None
    out = workdir / "scan-40.searchable.pdf"
    for r in range(rounds):
        shutil.rmtree(workdir / "raw", ignore_errors=True)
        with timed() as t:
            raw_tesseract(images, workdir / "raw", workers)
        raw.append(t)
        log(f"  round {r + 1}: raw tesseract {t.seconds:.1f} s (other programs: {t.other_cores:.2f} cores)")
        out.unlink(missing_ok=True)
        with timed() as t:
            result = ocr_document(pdf, out, languages=LANGUAGES, workers=workers)
        pipe.append(t)
        log(f"  round {r + 1}: pipeline      {t.seconds:.1f} s (other programs: {t.other_cores:.2f} cores)")
    assert result is not None

    checks: list[str] = []
    if result.ocr_pages != n:
        checks.append(f"pipeline OCR'd {result.ocr_pages} of {n} pages ({result.failed_pages} failed)")
    if result.searchable_pdf is None:
        checks.append("no searchable PDF was written")

    # Accuracy: the pipeline's page text and the searchable PDF's text layer against the known text.
    scores = {lang: TextScore() for lang in ("en", "es")}
    layer_scores = {lang: TextScore() for lang in ("en", "es")}
    layer = _pdfium_texts(out) if result.searchable_pdf is not None else [""] * n
    raw_scores = {lang: TextScore() for lang in ("en", "es")}
    for page, image in zip(pages, images, strict=True):
        raw_scores[page.language].add(page.expected_text, _pdfium_texts(workdir / "raw" / f"{image.stem}.pdf")[0])
    language_right = 0
    osd_turned = 0
    for page, got, copied in zip(pages, result.pages, layer, strict=True):
        scores[page.language].add(page.expected_text, got.text)
        layer_scores[page.language].add(page.expected_text, copied)
        language_right += got.language == page.language
        osd_turned += got.rotation_applied != 0
    confidences = [p.confidence for p in result.pages if p.confidence is not None]

    raw_s, pipe_s = _median([t.seconds for t in raw]), _median([t.seconds for t in pipe])
    raw_rate, pipe_rate = n / raw_s, n / pipe_s
    ratio = pipe_rate / raw_rate
    section: dict[str, Any] = {
        "pages": n,
        "dpi": SCAN_DPI,
        "pdf_mb": round(pdf.stat().st_size / MB, 1),
        "generation_s": round(generation, 1),
        "workers": workers,
        "rounds": rounds,
        "raw_tesseract": {"runs": [t.as_dict() for t in raw], "pages_per_s": round(raw_rate, 3)},
        "pipeline": {
            "runs": [t.as_dict() for t in pipe],
            "pages_per_s": round(pipe_rate, 3),
            "mean_page_seconds_in_worker": round(statistics.fmean(p.seconds for p in result.pages), 2),
            "mean_confidence": round(statistics.fmean(confidences), 1) if confidences else None,
            "low_confidence_pages": sum(p.low_confidence for p in result.pages),
            "osd_rotated_pages": osd_turned,
            "language_right": language_right,
        },
        "ratio_vs_raw": round(ratio, 3),
        "target_ratio_vs_raw": TARGET_THROUGHPUT_RATIO,
        "pass_vs_raw": ratio >= TARGET_THROUGHPUT_RATIO and not checks,
        "cer_page_text": {lang: s.as_dict() for lang, s in scores.items()},
        "cer_text_layer": {lang: s.as_dict() for lang, s in layer_scores.items()},
        "cer_raw_tesseract_text_layer": {lang: s.as_dict() for lang, s in raw_scores.items()},
        "checks_failed": checks,
    }

    command = ocrmypdf_command() if use_ocrmypdf else None
    if command is None:
        section["ocrmypdf"] = None
        log("  ocrmypdf: not run (not installed or --no-ocrmypdf)")
        return section
    omp_out = workdir / "scan-40.ocrmypdf.pdf"
    omp_out.unlink(missing_ok=True)
    cmd = [command, "--jobs", str(workers), "-l", LANGUAGES, "--output-type", "pdf", "-q", str(pdf), str(omp_out)]
    with timed() as t:
        proc = subprocess.run(cmd, capture_output=True, timeout=3600, check=False)
    log(f"  ocrmypdf: {t.seconds:.1f} s, exit {proc.returncode} (other programs: {t.other_cores:.2f} cores)")
    omp_rate = n / t.seconds
    omp: dict[str, Any] = {
        "command": " ".join(["ocrmypdf", *cmd[1:-2], "IN.pdf", "OUT.pdf"]),
        "exit_code": proc.returncode,
        "run": t.as_dict(),
        "pages_per_s": round(omp_rate, 3),
        "ratio_pipeline_vs_ocrmypdf": round(pipe_rate / omp_rate, 3),
        "pass": proc.returncode == 0 and pipe_rate > omp_rate,
    }
    if proc.returncode != 0:
        omp["stderr_tail"] = proc.stderr.decode("utf-8", "replace").strip().splitlines()[-3:]
    else:
        omp_scores = {lang: TextScore() for lang in ("en", "es")}
        for page, copied in zip(pages, _pdfium_texts(omp_out), strict=True):
            omp_scores[page.language].add(page.expected_text, copied)
        omp["cer_text_layer"] = {lang: s.as_dict() for lang, s in omp_scores.items()}
    section["ocrmypdf"] = omp
    return section


# 2. Born-digital -------------------------------------------------------------------------------------------
def _vocabulary() -> dict[str, list[str]]:
    vocab: dict[str, list[str]] = {}
    for language, texts in _base_texts().items():
        words: list[str] = []
        for page in texts:
            for line in page:
                words += [w.strip(".,:;()«»\"'") for w in line.removeprefix("# ").split()]
        vocab[language] = [w for w in words if w and any(c.isalpha() for c in w)]
    return vocab


def born_digital_texts(pages: int, words: int, seed: int = 1000) -> list[list[str]]:
    """Per page, five paragraphs of seeded words of one language (even pages English, odd Spanish)."""
    vocab = _vocabulary()
    out: list[list[str]] = []
    for number in range(1, pages + 1):
        language = "en" if number % 2 else "es"
        rng = random.Random(f"bench-ocr-born/{seed}/{number}")
        drawn = [rng.choice(vocab[language]) for _ in range(words)]
        paragraphs = []
        size = words // 5
        for start in range(0, words, size):
            chunk = drawn[start : start + size]
            paragraphs.append(" ".join([chunk[0].capitalize(), *chunk[1:]]) + ".")
        header = f"Benchmark page {number} of {pages} - synthetic, fictional test data"
        out.append([header, *paragraphs])
    return out


def make_born_digital(path: Path, texts: Sequence[Sequence[str]]) -> None:
    """A letter-size PDF with a real text layer (DejaVu Sans embedded), one page per text."""
    from fpdf import FPDF

    g = load_generate()
    pdf = FPDF(orientation="P", unit="pt", format="letter")
    pdf.set_creation_date(g.FIXED_DATE)
    pdf.set_title("Born-digital benchmark document (fictional test data)")
    pdf.add_font("DejaVu", "", str(g.FONT_REGULAR))
    pdf.set_margins(72, 72, 72)
    pdf.set_auto_page_break(False)
    pdf.set_font("DejaVu", "", 10)
    for paragraphs in texts:
        pdf.add_page()
        for paragraph in paragraphs:
            pdf.multi_cell(0, 13, paragraph, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(5)
        if pdf.get_y() > pdf.h - 36:
            raise ValueError("born-digital benchmark text does not fit on its page")
    path.write_bytes(bytes(pdf.output()))


def _pypdf_texts(pdf: Path) -> list[str]:
    from pypdf import PdfReader

    reader = PdfReader(pdf)
    return [reader.pages[i].extract_text() for i in range(len(reader.pages))]


def _pdftotext(pdf: Path) -> str:
    proc = subprocess.run(["pdftotext", "-q", str(pdf), "-"], capture_output=True, check=True, timeout=600)
    return proc.stdout.decode("utf-8", "replace")


def run_born_digital(workdir: Path, *, rounds: int, workers: int, log: Callable[[str], None]) -> dict[str, Any]:
    texts = born_digital_texts(BORN_DIGITAL_PAGES, BORN_DIGITAL_WORDS)
    pdf = workdir / f"born-digital-{BORN_DIGITAL_PAGES}-v{CORPUS_VERSION}.pdf"
    started = time.perf_counter()
    if not pdf.is_file():
        make_born_digital(pdf, texts)
    generation = time.perf_counter() - started
    n = len(texts)
    log(f"born-digital: {n} pages, {pdf.stat().st_size / MB:.1f} MB ({generation:.1f} s to make)")

    runs: dict[str, list[Timing]] = {"pypdf": [], "pipeline": [], "pypdfium2": [], "pdftotext": []}
    result: DocumentOcr | None = None
    out = workdir / "born-digital.searchable.pdf"
    pypdf_texts: list[str] = []
    for r in range(rounds):
        with timed() as t:
            pypdf_texts = _pypdf_texts(pdf)
        runs["pypdf"].append(t)
        with timed() as t:
            result = ocr_document(pdf, out, languages=LANGUAGES, workers=workers)
        runs["pipeline"].append(t)
        with timed() as t:
            _pdfium_texts(pdf)
        runs["pypdfium2"].append(t)
        with timed() as t:
            _pdftotext(pdf)
        runs["pdftotext"].append(t)
        log(
            f"  round {r + 1}: "
            + ", ".join(f"{name} {ts[-1].seconds:.2f} s" for name, ts in runs.items())
            + f" (other programs: {max(ts[-1].other_cores for ts in runs.values()):.2f} cores at most)"
        )
    assert result is not None

    checks: list[str] = []
    if result.ocr_pages or result.text_pages != n or result.failed_pages or result.blank_pages:
        checks.append(
            f"expected {n} text-layer pages, got {result.text_pages} (OCR {result.ocr_pages}, "
            f"blank {result.blank_pages}, failed {result.failed_pages})"
        )
    if result.searchable_pdf is not None or out.exists():
        checks.append("a searchable PDF was written for a born-digital document")
    if len(pypdf_texts) != n:
        checks.append(f"pypdf read {len(pypdf_texts)} pages")
    # The text is the document's own: compare every 10th page with what was written.
    score = TextScore()
    for index in range(0, n, 10):
        score.add(" ".join(texts[index]), result.pages[index].text)
    if score.errors:
        checks.append(f"text-layer text differs from the source ({score.errors} character errors in sample)")
    languages = [p.language for p in result.pages]
    language_right = sum(lang == ("en" if i % 2 == 0 else "es") for i, lang in enumerate(languages))

    medians = {name: _median([t.seconds for t in ts]) for name, ts in runs.items()}
    ratio = medians["pipeline"] / medians["pypdf"]
    return {
        "pages": n,
        "words_per_page": BORN_DIGITAL_WORDS,
        "pdf_mb": round(pdf.stat().st_size / MB, 1),
        "generation_s": round(generation, 1),
        "rounds": rounds,
        "runs": {name: [t.as_dict() for t in ts] for name, ts in runs.items()},
        "median_seconds": {name: round(v, 3) for name, v in medians.items()},
        "pages_per_s": {name: round(n / v, 1) for name, v in medians.items()},
        "ratio_pipeline_vs_pypdf": round(ratio, 3),
        "ratio_pipeline_vs_pypdfium2": round(medians["pipeline"] / medians["pypdfium2"], 3),
        "target_ratio": TARGET_BORN_DIGITAL_RATIO,
        "ocr_pages": result.ocr_pages,
        "text_pages": result.text_pages,
        "language_right": language_right,
        "sample_text_errors": score.errors,
        "pass": ratio <= TARGET_BORN_DIGITAL_RATIO and not checks,
        "checks_failed": checks,
    }


# 3. Memory -------------------------------------------------------------------------------------------------
class TreeSampler(threading.Thread):
    """Samples the RSS of this process and all its descendants every ``interval`` seconds (PSS about once a
    second, since reading smaps costs more); keeps the peaks and the main process's RSS over time."""

    def __init__(self, interval: float = 0.1, pss_every: int = 10, root: Any = None) -> None:
        super().__init__(name="rss-sampler", daemon=True)
        import psutil

        self.root = root or psutil.Process()
        self.interval = interval
        self.pss_every = pss_every
        self.halt = threading.Event()
        self.samples = 0
        self.peak_tree_rss = 0.0
        self.peak_tree_pss = 0.0
        self.peak_processes = 0
        self.peak_by_kind: dict[str, float] = {}
        self.main_timeline: list[tuple[float, float]] = []
        self.started = time.perf_counter()

    def run(self) -> None:
        while not self.halt.is_set():
            self.sample()
            self.halt.wait(self.interval)
        self.sample()

    def stop(self) -> None:
        self.halt.set()
        self.join()

    def sample(self) -> None:
        import psutil

        with_pss = self.samples % self.pss_every == 0
        self.samples += 1
        try:
            procs = [self.root, *self.root.children(recursive=True)]
        except psutil.Error:
            return
        rss_total = pss_total = 0.0
        counted = 0
        for proc in procs:
            try:
                if with_pss:
                    full = proc.memory_full_info()
                    rss, pss = float(full.rss), float(getattr(full, "pss", full.rss))
                    pss_total += pss
                else:
                    rss = float(proc.memory_info().rss)
                name = "main" if proc.pid == self.root.pid else proc.name()
            except psutil.Error:
                continue
            counted += 1
            rss_total += rss
            kind = (
                "tesseract"
                if name.startswith("tesseract")
                else name
                if name == "main"
                else "python (forkserver, workers)"
            )
            self.peak_by_kind[kind] = max(self.peak_by_kind.get(kind, 0.0), rss / MB)
            if name == "main":
                self.main_timeline.append((time.perf_counter() - self.started, rss / MB))
        self.peak_tree_rss = max(self.peak_tree_rss, rss_total / MB)
        if with_pss:
            self.peak_tree_pss = max(self.peak_tree_pss, pss_total / MB)
        self.peak_processes = max(self.peak_processes, counted)

    def main_by_quarter(self) -> list[float]:
        """The main process's largest RSS in each quarter of the sampled time."""
        if not self.main_timeline:
            return []
        end = self.main_timeline[-1][0] or 1.0
        quarters = [0.0] * 4
        for t, rss in self.main_timeline:
            q = min(3, int(4 * t / end))
            quarters[q] = max(quarters[q], rss)
        return [round(q, 1) for q in quarters]


def _make_memory_pdf(args: tuple[str, int, int, int]) -> tuple[str, float]:
    """In a separate process: ``pages`` pages cycling through the distinct scans. Returns path, size in MB."""
    folder, pages, dpi, jobs = args
    distinct = scan_pages(MEMORY_DISTINCT_PAGES // 2, seed=300)
    images = write_scans(Path(folder) / "scans-memory", distinct, dpi, jobs)
    pdf = Path(folder) / f"scan-{pages}-{dpi}dpi.pdf"
    images_to_pdf([images[i % len(images)] for i in range(pages)], pdf)
    return str(pdf), pdf.stat().st_size / MB


def run_memory(workdir: Path, *, pages: int, dpi: int, workers: int, log: Callable[[str], None]) -> dict[str, Any]:
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        path, size_mb = pool.submit(_make_memory_pdf, (str(workdir), pages, dpi, workers)).result()
    pdf = Path(path)
    generation = time.perf_counter() - started
    log(f"memory: {pages} pages at {dpi} dpi, {size_mb:.0f} MB PDF ({generation:.1f} s to make)")
    out = workdir / "memory.searchable.pdf"
    out.unlink(missing_ok=True)
    import psutil

    # Current RSS, not ru_maxrss: that one survives exec, so a child started by a big parent inherits its peak.
    baseline = round(psutil.Process().memory_info().rss / MB, 1)
    sampler = TreeSampler()
    sampler.start()
    try:
        with timed() as t:
            result = ocr_document(pdf, out, languages=LANGUAGES, workers=workers)
    finally:
        sampler.stop()
    log(f"  OCR'd in {t.seconds:.0f} s (other programs {t.other_cores:.2f} cores); peak {sampler.peak_tree_rss:.0f} MB")
    checks: list[str] = []
    if result.ocr_pages != pages:
        checks.append(f"OCR'd {result.ocr_pages} of {pages} pages ({result.failed_pages} failed)")
    quarters = sampler.main_by_quarter()
    return {
        "pages": pages,
        "dpi": dpi,
        "pdf_mb": round(size_mb, 1),
        "searchable_pdf_mb": round(out.stat().st_size / MB, 1) if out.exists() else None,
        "workers": workers,
        "run": t.as_dict(),
        "pages_per_s": round(pages / t.seconds, 3),
        "main_rss_before_mb": baseline,
        "peak_tree_rss_mb": round(sampler.peak_tree_rss, 1),
        "peak_tree_pss_mb": round(sampler.peak_tree_pss, 1),
        "peak_rss_by_process_kind_mb": {k: round(v, 1) for k, v in sorted(sampler.peak_by_kind.items())},
        "peak_processes": sampler.peak_processes,
        "main_peak_rss_by_quarter_mb": quarters,
        # Growth of the main process from the first to the last quarter, per 100 pages: flat when pages stream.
        "main_growth_mb_per_100_pages": round((quarters[-1] - quarters[0]) / (0.75 * pages) * 100, 1)
        if len(quarters) == 4
        else None,
        "samples": sampler.samples,
        "target_mb": TARGET_PEAK_MB,
        "pass": sampler.peak_tree_rss < TARGET_PEAK_MB and not checks,
        "checks_failed": checks,
    }


def run_memory_isolated(workdir: Path, *, pages: int, dpi: int, workers: int, log: Callable[[str], None]) -> Any:
    """The memory benchmark in a fresh interpreter, so what the other parts left in this one is not counted."""
    log("memory: running in a fresh interpreter")
    cmd = [sys.executable, "-m", "benchmarks.bench_ocr", "--only", "memory", "--json", "--pages", str(pages)]
    cmd += ["--dpi", str(dpi), "--workers", str(workers), "--workdir", str(workdir)]
    proc = subprocess.run(cmd, capture_output=True, check=False, timeout=7200, cwd=Path(__file__).resolve().parents[1])
    sys.stderr.write(proc.stderr.decode("utf-8", "replace"))
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"the memory benchmark failed (exit {proc.returncode})")
    return json.loads(proc.stdout)["memory"]


# 4. A long scan through the ingest path ---------------------------------------------------------------------
LONG_SCAN_CHILD = """
import json, logging, os, sys, time
from pathlib import Path
import psutil
from casefile.tasks.core.runtime import get_runtime
from casefile.tasks.cases.case import create_case
from casefile.tasks.demo.scenario import fictional_case
from casefile.tasks.documents import pipeline

pdf, every = Path(sys.argv[1]), int(sys.argv[2])
me = psutil.Process()
started = time.perf_counter()
timeline = []  # (pages OCR'd, this process's RSS in MB, seconds)
phases = {}


class PageCounter(logging.Handler):
    # Counts the OCR stage's debug record of each finished page (page numbers only); samples this process's RSS.
    done = 0

    def emit(self, record):
        if isinstance(record.msg, str) and record.msg.startswith("page %d: %s in"):
            PageCounter.done += 1
            if PageCounter.done % every == 0:
                timeline.append((PageCounter.done, me.memory_info().rss / 2**20, time.perf_counter() - started))


ocr_log = logging.getLogger("casefile.tasks.documents.ocr")
ocr_log.setLevel(logging.DEBUG)
ocr_log.addHandler(PageCounter())
ocr_log.propagate = False


class Timed(pipeline.Steps):
    def items(self, rt, batch_id, seqs):
        out = super().items(rt, batch_id, seqs)
        phases["intake_done_s"] = time.perf_counter() - started
        phases["rss_after_intake_mb"] = me.memory_info().rss / 2**20
        return out

    def text(self, rt, document_id):
        out = super().text(rt, document_id)
        phases["text_done_s"] = time.perf_counter() - started
        phases["rss_after_text_mb"] = me.memory_info().rss / 2**20
        return out

    def index(self, rt, document_id):
        out = super().index(rt, document_id)
        phases["index_done_s"] = time.perf_counter() - started
        return out


rt = get_runtime()
with rt.catalog.session() as s:
    case_id = create_case(s, fictional_case()).id
phases["rss_start_mb"] = me.memory_info().rss / 2**20
batch = pipeline.new_batch(rt, case_id, [pdf], "unclassified")
outcome = pipeline.ingest_batch(rt, batch, Timed())
with open("/proc/self/status") as fh:
    hwm = next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:")) / 1024
print(json.dumps({"counts": outcome.counts, "text": outcome.text, "timeline": timeline, "phases": phases,
                  "main_hwm_mb": hwm}))
"""


def write_scan_pdf(images: Sequence[Path], pages: int, out: Path) -> Path:
    """An image-only PDF of ``pages`` pages cycling through the JPEG ``images``, streamed to disk object by object
    (nothing but the offsets held). Each page's JPEG gets a comment segment naming its page, so no two image
    streams are the same bytes, as in a real long scan."""
    from PIL import Image

    scans = []
    for path in images:
        with Image.open(path) as image:
            width, height = image.size
            dpi = image.info.get("dpi", (SCAN_DPI, SCAN_DPI))[0] or SCAN_DPI
        scans.append((path.read_bytes(), width, height, 72.0 * width / dpi, 72.0 * height / dpi))
    offsets: list[int] = []
    tmp = out.with_name(out.name + ".part")
    with tmp.open("wb") as fh:

        def obj(body: bytes, stream: bytes | None = None) -> None:
            offsets.append(fh.tell())
            fh.write(b"%d 0 obj\n" % len(offsets) + body)
            if stream is not None:
                fh.write(b"\nstream\n" + stream + b"\nendstream")
            fh.write(b"\nendobj\n")

        fh.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
        obj(b"<< /Type /Catalog /Pages 2 0 R >>")
        kids = b" ".join(b"%d 0 R" % (3 + 3 * i) for i in range(pages))
        obj(b"<< /Type /Pages /Count %d /Kids [%s] >>" % (pages, kids))
        for i in range(pages):
            jpeg, width, height, w_pt, h_pt = scans[i % len(scans)]
            tag = b"fictional benchmark scan, page %06d" % (i + 1)
            data = jpeg[:2] + b"\xff\xfe" + (len(tag) + 2).to_bytes(2, "big") + tag + jpeg[2:]
            image_obj, content_obj = 4 + 3 * i, 5 + 3 * i
            obj(
                b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %.2f %.2f] /Resources << /XObject << /Im0 %d 0 R >> >> "
                b"/Contents %d 0 R >>" % (w_pt, h_pt, image_obj, content_obj)
            )
            obj(
                b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray "
                b"/BitsPerComponent 8 /Filter /DCTDecode /Length %d >>" % (width, height, len(data)),
                data,
            )
            draw = b"q %.2f 0 0 %.2f 0 0 cm /Im0 Do Q" % (w_pt, h_pt)
            obj(b"<< /Length %d >>" % len(draw), draw)
        xref = fh.tell()
        fh.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(offsets) + 1))
        for offset in offsets:
            fh.write(b"%010d 00000 n \n" % offset)
        fh.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(offsets) + 1, xref))
    os.replace(tmp, out)
    return out


def _linear_growth(points: Sequence[tuple[float, float]]) -> tuple[float, float]:
    """Least-squares slope of RSS (MB) over pages, and R^2 (how linear it is)."""
    n = len(points)
    mx = sum(p for p, _ in points) / n
    my = sum(r for _, r in points) / n
    sxx = sum((p - mx) ** 2 for p, _ in points)
    sxy = sum((p - mx) * (r - my) for p, r in points)
    syy = sum((r - my) ** 2 for _, r in points)
    slope = sxy / sxx if sxx else 0.0
    r2 = (sxy * sxy) / (sxx * syy) if sxx and syy else 0.0
    return slope, r2


def run_long_scan(
    workdir: Path, *, pages: int, dpi: int, workers: int, target_pages: int, log: Callable[[str], None]
) -> dict[str, Any]:
    """``pages`` scanned pages in one PDF through ``casefile add``'s path (intake, text and OCR, index) in a fresh
    process, with this process sampling the RSS of that process and all its descendants every 50 ms."""
    import psutil

    started = time.perf_counter()
    images = write_scans(workdir / "scans-memory", scan_pages(MEMORY_DISTINCT_PAGES // 2, seed=300), dpi, workers)
    pdf = workdir / f"long-scan-{pages}-{dpi}dpi-v{CORPUS_VERSION}.pdf"
    if not pdf.is_file():
        write_scan_pdf(images, pages, pdf)
    size_mb = pdf.stat().st_size / MB
    log(f"long scan: {pages} pages at {dpi} dpi, {size_mb:.0f} MB PDF ({time.perf_counter() - started:.1f} s to make)")
    home = workdir / f"long-scan-home-{pages}"
    shutil.rmtree(home, ignore_errors=True)
    env = {
        **os.environ,
        "CASEFILE_HOME": str(home),
        "CASEFILE_OCR_WORKERS": str(workers),
        # The default limit (512 MB) is for one file; a 3,000-page 300-dpi JPEG scan is larger.
        "CASEFILE_MAX_FILE_BYTES": str(max(512 * MB, 2 * pdf.stat().st_size)),
        "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
    }
    every = max(1, min(25, pages // 40))
    child = subprocess.Popen(
        [sys.executable, "-c", LONG_SCAN_CHILD, str(pdf), str(every)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=Path(__file__).resolve().parents[1],
    )
    sampler = TreeSampler(interval=0.05, pss_every=20, root=psutil.Process(child.pid))
    sampler.start()
    with timed() as t:
        out, err = child.communicate()
    sampler.stop()
    if child.returncode != 0:
        raise RuntimeError(f"the long-scan ingest failed (exit {child.returncode}):\n{err.decode()[-3000:]}")
    report = json.loads(out.decode().strip().splitlines()[-1])
    timeline = [(float(p), float(r)) for p, r, _ in report["timeline"]]
    # Growth of the ingest process over the OCR stage, pages 10% on (imports, the pool and caches warm up first).
    steady = [(p, r) for p, r in timeline if p >= 0.1 * pages]
    slope, r2 = _linear_growth(steady) if len(steady) >= 4 else (0.0, 0.0)
    half = len(steady) // 2
    halves = [_linear_growth(part)[0] for part in (steady[: half + 1], steady[half:])] if len(steady) >= 8 else []
    growth_1000 = round(slope * 1000, 1)
    checks: list[str] = []
    ocr_pages = report["text"].get("ocr_pages", 0)
    if ocr_pages != pages:
        checks.append(f"OCR'd {ocr_pages} of {pages} pages ({report['text'].get('failed_pages', 0)} failed)")
    if report["text"].get("indexed_pages", 0) != pages:
        checks.append(f"indexed {report['text'].get('indexed_pages', 0)} of {pages} pages")
    peak = sampler.peak_tree_rss
    # Extrapolated only from growth shown linear (R^2 >= 0.9 and both halves within 30% of each other), and never
    # below what was measured.
    linear = r2 >= 0.9 and len(halves) == 2 and abs(halves[0] - halves[1]) <= 0.3 * max(abs(halves[0]), abs(halves[1]))
    flat = abs(growth_1000) < 20.0
    extrapolated = None
    if target_pages > pages and (linear or flat):
        extrapolated = round(peak + max(0.0, slope) * (target_pages - pages), 1)
    return {
        "pages": pages,
        "dpi": dpi,
        "pdf_mb": round(size_mb, 1),
        "workers": workers,
        "run": t.as_dict(),
        "pages_per_s": round(pages / t.seconds, 3),
        "phases_s": {k: round(v, 1) for k, v in report["phases"].items() if k.endswith("_s")},
        "main_rss_mb": {k: round(v, 1) for k, v in report["phases"].items() if k.endswith("_mb")},
        "main_hwm_mb": round(report["main_hwm_mb"], 1),
        "main_rss_by_pages_mb": [[int(p), round(r, 1)] for p, r in timeline],
        "peak_rss_tree_mb": round(peak, 1),
        "peak_pss_tree_mb": round(sampler.peak_tree_pss, 1),
        "peak_rss_by_process_kind_mb": {k: round(v, 1) for k, v in sorted(sampler.peak_by_kind.items())},
        "peak_processes": sampler.peak_processes,
        "samples": sampler.samples,
        "growth_per_100_pages_mb": round(slope * 100, 2),
        "growth_per_1000_pages_mb": growth_1000,
        "growth_r2": round(r2, 3),
        "growth_per_1000_pages_by_half_mb": [round(h * 1000, 1) for h in halves],
        "growth_linear": linear,
        "target_pages": target_pages,
        "extrapolated_peak_rss_tree_mb": extrapolated,
        "target_mb": TARGET_PEAK_MB,
        "pass": peak < TARGET_PEAK_MB and (extrapolated is None or extrapolated < TARGET_PEAK_MB) and not checks,
        "checks_failed": checks,
    }


# Report ----------------------------------------------------------------------------------------------------
def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def _cer_line(label: str, scores: dict[str, Any]) -> str:
    parts = []
    for lang, s in scores.items():
        accents = f", accents kept {s['accented_kept_percent']:.1f}%" if s["accented_kept_percent"] is not None else ""
        parts.append(
            f"{lang} {s['cer_percent']:.2f}% / {s['cer_without_fillers_percent']:.2f}% "
            f"(worst page {s['worst_page_cer_percent']:.1f}%{accents})"
        )
    return f"    {label + ':':38s} " + "; ".join(parts)


def print_report(result: dict[str, Any]) -> None:
    m = result["machine"]
    print(
        f"machine: {m['cpu_model']}, {m['cpus']} CPUs, {m['memory_mb']} MB, {m['platform']}, Python {m['python']}; "
        f"load average at start {m['load_average']}, at end {result['load_average_end']}"
    )
    print("versions: " + ", ".join(f"{k} {v}" for k, v in m["packages"].items()))
    if "throughput" in result:
        s = result["throughput"]
        raw, pipe = s["raw_tesseract"], s["pipeline"]
        print(f"\nOCR throughput: {s['pages']} pages at {s['dpi']} dpi (20 en + 20 es), {s['workers']} workers")
        others = ", ".join(f"{r['other_cores']:.2f}" for r in raw["runs"] + pipe["runs"])
        print(f"  raw tesseract (pdf, 2 processes): {raw['pages_per_s']:.3f} pages/s")
        print(f"  pipeline ocr_document:            {pipe['pages_per_s']:.3f} pages/s")
        print(f"  (medians of {s['rounds']} round(s); other programs' load during the runs, cores: {others})")
        print(
            f"  ratio pipeline/raw = {s['ratio_vs_raw']:.3f} (target >= {s['target_ratio_vs_raw']}): "
            f"{_verdict(s['pass_vs_raw'])}"
        )
        omp = s["ocrmypdf"]
        if omp is None:
            print("  ocrmypdf: not run (not installed, or --no-ocrmypdf)")
        else:
            print(
                f"  ocrmypdf --jobs {s['workers']}: {omp['pages_per_s']:.3f} pages/s (exit {omp['exit_code']}, other "
                f"programs {omp['run']['other_cores']:.2f} cores); ratio pipeline/ocrmypdf = "
                f"{omp['ratio_pipeline_vs_ocrmypdf']:.3f} (target > 1): {_verdict(omp['pass'])}"
            )
        print("  character error rate, all characters / without dot leaders and underscore lines:")
        print(_cer_line("pipeline page text", s["cer_page_text"]))
        print(_cer_line("pipeline searchable PDF (PDFium text)", s["cer_text_layer"]))
        print(_cer_line("raw tesseract PDF (PDFium text)", s["cer_raw_tesseract_text_layer"]))
        if omp is not None and "cer_text_layer" in omp:
            print(_cer_line("ocrmypdf PDF (PDFium text)", omp["cer_text_layer"]))
        print(
            f"  mean confidence {pipe['mean_confidence']}, {pipe['low_confidence_pages']} low-confidence pages, "
            f"{pipe['osd_rotated_pages']} turned by OSD, language right on {pipe['language_right']}/{s['pages']}, "
            f"mean {pipe['mean_page_seconds_in_worker']} s per page in a worker"
        )
        for check in s["checks_failed"]:
            print(f"  CHECK FAILED: {check}")
    if "born_digital" in result:
        s = result["born_digital"]
        med, rate = s["median_seconds"], s["pages_per_s"]
        print(f"\nBorn-digital text: {s['pages']} pages, ~{s['words_per_page']} words each, {s['pdf_mb']} MB")
        for name in ("pypdf", "pipeline", "pypdfium2", "pdftotext"):
            print(f"  {name:10s} {med[name]:7.3f} s  ({rate[name]:7.1f} pages/s)")
        others = ", ".join(f"{r['other_cores']:.2f}" for r in s["runs"]["pipeline"] + s["runs"]["pypdf"])
        print(f"  (medians of {s['rounds']} round(s); other programs' load in pypdf/pipeline runs, cores: {others})")
        print(
            f"  ocr_pages {s['ocr_pages']}, text-layer pages {s['text_pages']}, language right on "
            f"{s['language_right']}/{s['pages']}, sampled text errors {s['sample_text_errors']}"
        )
        print(
            f"  ratio pipeline/pypdf = {s['ratio_pipeline_vs_pypdf']:.3f} (target <= {s['target_ratio']}): "
            f"{_verdict(s['pass'])}; pipeline/pypdfium2 = {s['ratio_pipeline_vs_pypdfium2']:.2f}"
        )
        for check in s["checks_failed"]:
            print(f"  CHECK FAILED: {check}")
    if "memory" in result:
        s = result["memory"]
        print(f"\nPeak memory: OCR, {s['pages']}-page {s['dpi']}-dpi scan ({s['pdf_mb']} MB), {s['workers']} workers")
        print(
            f"  {s['run']['seconds']:.0f} s ({s['pages_per_s']:.3f} pages/s; other programs "
            f"{s['run']['other_cores']:.2f} cores); searchable PDF {s['searchable_pdf_mb']} MB"
        )
        kinds = ", ".join(f"{k} {v:.0f}" for k, v in s["peak_rss_by_process_kind_mb"].items())
        print(
            f"  peak summed RSS of the process tree {s['peak_tree_rss_mb']:.0f} MB "
            f"(PSS {s['peak_tree_pss_mb']:.0f} MB; "
            f"{s['samples']} samples, up to {s['peak_processes']} processes)"
        )
        print(f"  peak RSS by process: {kinds} MB; main process before: {s['main_rss_before_mb']:.0f} MB")
        print(
            f"  main process peak RSS per quarter of the run: {s['main_peak_rss_by_quarter_mb']} MB "
            f"(growth {s['main_growth_mb_per_100_pages']} MB per 100 pages)"
        )
        print(f"  peak < {s['target_mb']:.0f} MB: {_verdict(s['pass'])}")
        for check in s["checks_failed"]:
            print(f"  CHECK FAILED: {check}")
    if "long_scan" in result:
        s = result["long_scan"]
        print(
            f"\nLong scan through the ingest path (intake, text and OCR, index): {s['pages']} pages at {s['dpi']} dpi "
            f"({s['pdf_mb']} MB), {s['workers']} OCR workers"
        )
        print(
            f"  {s['run']['seconds']:.0f} s ({s['pages_per_s']:.3f} pages/s; other programs "
            f"{s['run']['other_cores']:.2f} cores); phases done at {s['phases_s']} s"
        )
        kinds = ", ".join(f"{k} {v:.0f}" for k, v in s["peak_rss_by_process_kind_mb"].items())
        print(
            f"  peak summed RSS of the process tree {s['peak_rss_tree_mb']:.0f} MB "
            f"(PSS {s['peak_pss_tree_mb']:.0f} MB; "
            f"{s['samples']} samples every 50 ms, up to {s['peak_processes']} processes)"
        )
        print(f"  peak RSS by process: {kinds} MB; ingest process high-water mark {s['main_hwm_mb']:.0f} MB")
        print(f"  ingest process RSS: {s['main_rss_mb']} MB")
        print(
            f"  ingest process growth during OCR: {s['growth_per_100_pages_mb']} MB per 100 pages, "
            f"{s['growth_per_1000_pages_mb']} MB per 1,000 pages (R^2 {s['growth_r2']}; by half "
            f"{s['growth_per_1000_pages_by_half_mb']} MB per 1,000)"
        )
        if s["extrapolated_peak_rss_tree_mb"] is not None:
            print(f"  extrapolated peak at {s['target_pages']} pages: {s['extrapolated_peak_rss_tree_mb']:.0f} MB")
        elif s["target_pages"] > s["pages"]:
            print(f"  not extrapolated to {s['target_pages']} pages: growth not shown linear (or flat)")
        print(f"  peak < {s['target_mb']:.0f} MB: {_verdict(s['pass'])}")
        for check in s["checks_failed"]:
            print(f"  CHECK FAILED: {check}")
        print(
            json.dumps(
                {"peak_rss_tree_mb": s["peak_rss_tree_mb"], "growth_per_1000_pages_mb": s["growth_per_1000_pages_mb"]}
            )
        )


# Command line ----------------------------------------------------------------------------------------------
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_ocr", description=(__doc__ or "").split("\n")[0])
    parser.add_argument(
        "--only", choices=("throughput", "born-digital", "memory", "long-scan"), help="run one benchmark"
    )
    parser.add_argument(
        "--pages", type=int, default=300, help="pages of the memory and long-scan benchmarks' scan (default 300)"
    )
    parser.add_argument(
        "--target-pages",
        type=int,
        default=3000,
        help="long scan: the page count the peak is extrapolated to when growth is shown linear (default 3000)",
    )
    parser.add_argument("--dpi", type=int, default=SCAN_DPI, help="resolution of the memory benchmark's scan")
    parser.add_argument("--rounds", type=int, default=1, help="timed runs of throughput and born-digital (median)")
    parser.add_argument("--workers", type=int, default=2, help="OCR processes, and the reference's (default 2)")
    parser.add_argument("--no-ocrmypdf", action="store_true", help="skip the OCRmyPDF comparison")
    parser.add_argument("--workdir", type=Path, help="keep generated inputs and outputs here (reused next time)")
    parser.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    args = parser.parse_args(argv)
    if args.pages < 1 or args.rounds < 1 or args.workers < 1 or args.dpi < 100:
        parser.error("--pages, --rounds and --workers must be at least 1, --dpi at least 100")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    tesseract.check_languages(LANGUAGES)
    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
        workdir, cleanup = args.workdir.resolve(), False
    else:
        workdir, cleanup = Path(tempfile.mkdtemp(prefix="casefile-bench-ocr-")), True
    result: dict[str, Any] = {"machine": describe_machine()}
    wanted = [args.only] if args.only else ["throughput", "born-digital", "memory"]
    try:
        if "throughput" in wanted:
            result["throughput"] = run_throughput(
                workdir, rounds=args.rounds, workers=args.workers, use_ocrmypdf=not args.no_ocrmypdf, log=log
            )
        if "born-digital" in wanted:
            result["born_digital"] = run_born_digital(workdir, rounds=args.rounds, workers=args.workers, log=log)
        if "memory" in wanted:
            run = run_memory if args.only == "memory" else run_memory_isolated
            result["memory"] = run(workdir, pages=args.pages, dpi=args.dpi, workers=args.workers, log=log)
        if "long-scan" in wanted:
            result["long_scan"] = run_long_scan(
                workdir, pages=args.pages, dpi=args.dpi, workers=args.workers, target_pages=args.target_pages, log=log
            )
    finally:
        if cleanup:
            shutil.rmtree(workdir, ignore_errors=True)
    result["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    if args.json:
        print(json.dumps(result, indent=2, ensure_ascii=False))
    else:
        print_report(result)
    passed = [
        result.get("throughput", {}).get("pass_vs_raw", True),
        (result.get("throughput", {}).get("ocrmypdf") or {}).get("pass", True),
        result.get("born_digital", {}).get("pass", True),
        result.get("memory", {}).get("pass", True),
        result.get("long_scan", {}).get("pass", True),
    ]
    return 0 if all(passed) else 1


if __name__ == "__main__":
    raise SystemExit(main())
