"""Shared helpers for the benchmarks: a synthetic corpus, the machine's description, timing and memory.

Nothing here imports Prefect: a benchmark sets Prefect's environment before Prefect is imported.

The corpus is fictional (the texts of tests/resources/generate.py, whose helpers render it) and
deterministic: the same ``n``, ``seed`` and library versions give byte-identical files. Every file carries
its own stamp line ("Benchmark copy 0042 ..."), so no two files have the same bytes and nothing is
de-duplicated by the pipeline.
"""

from __future__ import annotations

import importlib.util
import io
import json
import os
import platform
import random
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from functools import cache
from importlib import metadata
from itertools import repeat
from multiprocessing import get_context
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from PIL import Image, ImageFont

REPO_ROOT = Path(__file__).resolve().parents[1]
GENERATE_PY = REPO_ROOT / "tests" / "resources" / "generate.py"

# Bump when the corpus recipe changes, so a kept corpus (--workdir) is regenerated rather than reused.
CORPUS_VERSION = 1
MANIFEST = ".manifest.json"  # hidden: `casefile add DIR` and expand_inputs skip it
MB = 1024 * 1024


@cache
def load_generate() -> ModuleType:
    """tests/resources/generate.py, loaded by path (tests/resources is not a package)."""
    spec = importlib.util.spec_from_file_location("casefile_resources_generate", GENERATE_PY)
    if spec is None or spec.loader is None:
        raise RuntimeError(f"Cannot load {GENERATE_PY}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# Corpus ----------------------------------------------------------------------------------------------------
class FileKind(StrEnum):
    BORN_DIGITAL = "born-digital"  # PDF with a text layer, 1-3 pages
    SCANNED = "scanned"  # image-only PDF, 200 dpi grey JPEG pages, 1-2 pages
    PHOTO = "photo"  # phone-photo JPEG, 1200x1600, EXIF orientation 1 or 6
    TIFF = "tiff"  # 1-bit group 4 multi-page TIFF, 200 dpi, 2-3 pages


SUFFIXES: dict[FileKind, str] = {
    FileKind.BORN_DIGITAL: ".pdf",
    FileKind.SCANNED: ".pdf",
    FileKind.PHOTO: ".jpg",
    FileKind.TIFF: ".tif",
}

# Share of each kind in the corpus (born-digital takes the rounding remainder).
DEFAULT_MIX: dict[FileKind, float] = {
    FileKind.BORN_DIGITAL: 0.40,
    FileKind.SCANNED: 0.25,
    FileKind.PHOTO: 0.25,
    FileKind.TIFF: 0.10,
}

# (letter text name in generate.py, seed of the photo) for the base phone photos.
_PHOTO_BASES: tuple[tuple[str, int], ...] = (
    ("CARTA_DE_APOYO_ES", 11),
    ("CONSTANCIA_ES", 12),
    ("CARTA_DE_APOYO_ES", 21),
    ("CONSTANCIA_ES", 22),
)
PHOTO_ROTATED_SHARE = 0.4  # share of photos stored sideways with EXIF orientation 6


@cache
def page_texts() -> tuple[list[str], ...]:
    """Six one-page texts (English and Spanish) that fit a letter page at 200 dpi."""
    g = load_generate()
    return (
        g.MEDICAL_RECORD_EN[0],
        g.MEDICAL_RECORD_EN[1],
        g.DENUNCIA_ES[0],
        g.DENUNCIA_ES[1],
        g.SCHOOL_RECORD_EN[0],
        g.SCHOOL_RECORD_EN[1],
    )


@dataclass(frozen=True)
class FileSpec:
    """One file of the corpus. ``texts`` holds one index per page: into page_texts() for pages, into the
    photo bases for a photo."""

    index: int
    kind: FileKind
    texts: tuple[int, ...]
    orientation: int = 1
    seed: int = 0

    @property
    def name(self) -> str:
        return f"{self.index:04d}-{self.kind.value}{SUFFIXES[self.kind]}"

    @property
    def pages(self) -> int:
        return len(self.texts)

    def stamp(self, page: int) -> str:
        return f"Benchmark copy {self.index:04d}, page {page}/{self.pages} - fictional test data - ref {self.seed:08x}"


def kind_of(name: str) -> FileKind:
    """The kind of a corpus file from its name (``0042-scanned.pdf``)."""
    return FileKind(Path(name).stem.split("-", 1)[1])


def plan_corpus(n: int, seed: int, mix: dict[FileKind, float] | None = None) -> list[FileSpec]:
    """``n`` file specs: the kinds in the proportions of ``mix``, shuffled (seeded), pages and orientation
    drawn per file from a generator seeded by (seed, index)."""
    mix = mix or DEFAULT_MIX
    counts: dict[FileKind, int] = {
        kind: round(n * share) for kind, share in mix.items() if kind is not FileKind.BORN_DIGITAL
    }
    counts[FileKind.BORN_DIGITAL] = max(0, n - sum(counts.values()))
    kinds = [kind for kind in FileKind for _ in range(counts.get(kind, 0))][:n]
    random.Random(seed).shuffle(kinds)
    specs: list[FileSpec] = []
    n_texts = len(page_texts())
    for index, kind in enumerate(kinds):
        rng = random.Random(f"casefile-bench/{seed}/{index}")
        orientation = 1
        if kind is FileKind.BORN_DIGITAL:
            pages = rng.choices((1, 2, 3), weights=(40, 35, 25))[0]
        elif kind is FileKind.SCANNED:
            pages = rng.choices((1, 2), weights=(60, 40))[0]
        elif kind is FileKind.TIFF:
            pages = rng.choices((2, 3), weights=(70, 30))[0]
        else:
            pages = 1
            orientation = 6 if rng.random() < PHOTO_ROTATED_SHARE else 1
        limit = len(_PHOTO_BASES) if kind is FileKind.PHOTO else n_texts
        texts = tuple(rng.randrange(limit) for _ in range(pages))
        specs.append(FileSpec(index, kind, texts, orientation, rng.randrange(2**32)))
    return specs


# Rendering (runs in worker processes). Expensive images are rendered once per process and varied per
# file by drawing the file's stamp line on a copy, which is cheap; every file is then encoded afresh.
@cache
def _font(px: int) -> ImageFont.FreeTypeFont:
    from PIL import ImageFont

    return ImageFont.truetype(str(load_generate().FONT_REGULAR), px)


@cache
def _scan_base(text: int) -> Image.Image:
    rng = random.Random(f"scan-base/{text}")
    skew = rng.uniform(0.55, 0.85) * rng.choice((-1.0, 1.0))
    image: Image.Image = load_generate().render_text_page(
        page_texts()[text], dpi=200, skew_deg=skew, noise=0.006, seed=rng.randrange(2**32)
    )
    return image


@cache
def _tiff_base(text: int) -> Image.Image:
    image: Image.Image = load_generate().render_text_page(page_texts()[text], dpi=200, skew_deg=(-0.3, 0.25)[text % 2])
    return image


@cache
def _photo_base(base: int) -> Image.Image:
    from PIL import Image

    text_name, seed = _PHOTO_BASES[base]
    g = load_generate()
    with tempfile.TemporaryDirectory(prefix="casefile-bench-photo-") as tmp:
        path = Path(tmp) / "base.jpg"
        g.make_photo_jpeg(path, getattr(g, text_name), orientation=1, seed=seed)
        with Image.open(path) as im:
            return im.convert("RGB")


def _stamped(base: Image.Image, text: str, xy: tuple[int, int], px: int, fill: int | tuple[int, ...]) -> Image.Image:
    from PIL import ImageDraw

    image = base.copy()
    ImageDraw.Draw(image).text(xy, text, font=_font(px), fill=fill)
    return image


def _jpeg(image: Image.Image, **options: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", optimize=True, **options)
    return buffer.getvalue()


def render_file(spec: FileSpec) -> bytes:
    """The bytes of one corpus file."""
    import img2pdf
    from PIL import Image
    from PIL.ExifTags import IFD, Base

    g = load_generate()
    title = f"Synthetic benchmark document {spec.index:04d} (fictional test data)"
    if spec.kind is FileKind.BORN_DIGITAL:
        pages = [[spec.stamp(p), *page_texts()[t]] for p, t in enumerate(spec.texts, start=1)]
        data: bytes = g.born_digital_pdf_bytes(pages, title=title)
        return data
    if spec.kind is FileKind.SCANNED:
        images = []
        for p, t in enumerate(spec.texts, start=1):
            base = _scan_base(t)
            page = _stamped(base, spec.stamp(p), (200, base.height - 90), 26, 40)
            images.append(_jpeg(page, quality=65, dpi=(200, 200), progressive=True))
        pdf: bytes = img2pdf.convert(
            images, engine=img2pdf.Engine.internal, title=title, creationdate=g.FIXED_DATE, moddate=g.FIXED_DATE
        )
        return pdf
    if spec.kind is FileKind.TIFF:
        frames = []
        for p, t in enumerate(spec.texts, start=1):
            base = _tiff_base(t)
            page = _stamped(base, spec.stamp(p), (200, base.height - 90), 26, 20)
            frames.append(page.convert("1", dither=Image.Dither.NONE))
        buffer = io.BytesIO()
        frames[0].save(
            buffer, format="TIFF", save_all=True, append_images=frames[1:], compression="group4", dpi=(200, 200)
        )
        return buffer.getvalue()
    # A phone photo: the stamp is written on the paper, then the pixels are stored as the phone would.
    upright = _stamped(_photo_base(spec.texts[0]), spec.stamp(1), (170, 1400), 22, (45, 40, 35))
    # Orientation 6 means "rotate 90 degrees clockwise to display": store the pixels rotated the other way.
    stored = upright.transpose(Image.Transpose.ROTATE_90) if spec.orientation == 6 else upright
    exif = Image.Exif()
    exif[Base.Orientation] = spec.orientation
    exif[Base.Make] = "ExamplePhone (fictional)"
    exif[Base.Model] = "Test Model 1"
    exif[Base.DateTime] = g.EXIF_DATETIME
    exif.get_ifd(IFD.Exif)[Base.DateTimeOriginal] = g.EXIF_DATETIME
    return _jpeg(stored, quality=80, dpi=(72, 72), exif=exif.tobytes())


def _write_files(specs: Sequence[FileSpec], out_dir: str) -> list[int]:
    sizes = []
    for spec in specs:
        path = Path(out_dir) / spec.name
        path.write_bytes(render_file(spec))
        sizes.append(path.stat().st_size)
    return sizes


@dataclass
class Corpus:
    path: Path
    specs: list[FileSpec]
    sizes: list[int]
    seconds: float = 0.0  # generation time; 0 when a kept corpus was reused
    jobs: int = 0
    reused: bool = False

    @property
    def total_bytes(self) -> int:
        return sum(self.sizes)

    @property
    def pages(self) -> int:
        return sum(s.pages for s in self.specs)

    def count(self, kind: FileKind) -> int:
        return sum(1 for s in self.specs if s.kind is kind)

    def describe(self) -> str:
        mix = ", ".join(f"{self.count(k)} {k.value}" for k in FileKind if self.count(k))
        rotated = sum(1 for s in self.specs if s.kind is FileKind.PHOTO and s.orientation != 1)
        return f"{len(self.specs)} files ({mix}; {rotated} photos with EXIF orientation 6), {self.pages} pages"


def _manifest(n: int, seed: int) -> dict[str, Any]:
    return {"version": CORPUS_VERSION, "files": n, "seed": seed}


def load_corpus(path: Path, n: int, seed: int) -> Corpus | None:
    """A corpus kept by an earlier run, if it was made with the same recipe, n and seed and is intact."""
    try:
        manifest = json.loads((path / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    if {k: manifest.get(k) for k in ("version", "files", "seed")} != _manifest(n, seed):
        return None
    specs = plan_corpus(n, seed)
    sizes: list[int] = manifest.get("sizes", [])
    if len(sizes) != n:
        return None
    for spec, size in zip(specs, sizes, strict=True):
        file = path / spec.name
        if not file.is_file() or file.stat().st_size != size:
            return None
    return Corpus(path, specs, sizes, reused=True)


def generate_corpus(path: Path, n: int, seed: int, jobs: int) -> Corpus:
    """Write ``n`` files into ``path`` (emptied first), in ``jobs`` worker processes, plus a manifest."""
    specs = plan_corpus(n, seed)
    if path.exists():  # a stale or partial corpus: start afresh so no stray file is ingested
        shutil.rmtree(path)
    path.mkdir(parents=True)
    started = time.perf_counter()
    sizes: list[int] = []
    if jobs <= 1:
        sizes = _write_files(specs, str(path))
    else:
        chunks = [specs[i : i + 5] for i in range(0, len(specs), 5)]
        with ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("spawn")) as pool:
            for part in pool.map(_write_files, chunks, repeat(str(path))):
                sizes.extend(part)
    seconds = time.perf_counter() - started
    (path / MANIFEST).write_text(json.dumps({**_manifest(n, seed), "sizes": sizes}) + "\n")
    return Corpus(path, specs, sizes, seconds=seconds, jobs=max(1, jobs))


# Machine, memory and time ----------------------------------------------------------------------------------
def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine_info(packages: Sequence[str] = ("prefect", "pypdf", "img2pdf", "pillow", "sqlalchemy")) -> dict[str, Any]:
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    try:
        meminfo = Path("/proc/meminfo").read_text().split()
        memory_mb: int | None = int(meminfo[meminfo.index("MemTotal:") + 1]) // 1024
    except (OSError, ValueError, IndexError):
        memory_mb = None
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpus": usable,
        "cpu_model": _cpu_model(),
        "memory_mb": memory_mb,
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "platform": platform.platform(),
        "python": platform.python_version(),
        "packages": {name: _version(name) for name in packages},
    }


def _kb_to_mb(value: int) -> float:
    # ru_maxrss is in kilobytes on Linux and in bytes on macOS.
    return value / MB if sys.platform == "darwin" else value / 1024


def peak_rss_mb() -> float:
    """This process's peak resident set size so far (a high-water mark: it never goes down)."""
    return round(_kb_to_mb(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss), 1)


def peak_rss_children_mb() -> float:
    """The largest peak RSS among this process's children that have ended and been waited for."""
    return round(_kb_to_mb(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss), 1)


def cpu_seconds() -> float:
    """CPU time (user + system, all threads) used by this process so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def children_cpu_seconds() -> float:
    """CPU time used by this process's children that have ended and been waited for."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def vm_hwm_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


@dataclass
class TreeStats:
    """Memory and CPU of a process and its descendants (e.g. the Prefect server)."""

    processes: int = 0
    rss_mb: float = 0.0  # current, summed
    peak_rss_mb: float | None = None  # sum of each process's VmHWM (Linux); an upper bound of the tree's peak
    cpu_seconds: float = 0.0


def tree_stats(pid: int) -> TreeStats:
    import psutil

    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return TreeStats()
    stats = TreeStats(peak_rss_mb=0.0)
    for proc in procs:
        try:
            rss = float(proc.memory_info().rss)
            times = proc.cpu_times()
            cpu = float(times.user) + float(times.system)
        except psutil.Error:
            continue
        stats.processes += 1
        stats.rss_mb += rss / MB
        stats.cpu_seconds += cpu
        hwm = vm_hwm_mb(proc.pid)
        stats.peak_rss_mb = None if hwm is None or stats.peak_rss_mb is None else stats.peak_rss_mb + hwm
    stats.rss_mb = round(stats.rss_mb, 1)
    stats.cpu_seconds = round(stats.cpu_seconds, 2)
    if stats.peak_rss_mb is not None:
        stats.peak_rss_mb = round(stats.peak_rss_mb, 1)
    return stats


def machine_busy_seconds() -> float:
    """CPU time used by every process on the machine so far (all CPUs, idle and I/O wait excluded), to see
    how much other work ran during a measurement on a shared machine."""
    import psutil

    times = psutil.cpu_times()
    total = sum(float(v) for k, v in times._asdict().items() if k not in ("guest", "guest_nice"))
    return total - float(times.idle) - float(getattr(times, "iowait", 0.0))


@dataclass
class Phase:
    """Wall time, CPU time of this process and its peak RSS after one measured step, and the CPU time
    used meanwhile by the whole machine (every process, this one included)."""

    name: str
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    machine_cpu_seconds: float = 0.0
    peak_rss_mb: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "seconds": round(self.seconds, 4),
            "cpu_seconds": round(self.cpu_seconds, 3),
            "machine_cpu_seconds": round(self.machine_cpu_seconds, 2),
            "peak_rss_mb": self.peak_rss_mb,
        }


@contextmanager
def measure(name: str) -> Iterator[Phase]:
    phase = Phase(name)
    cpu0, busy0 = cpu_seconds(), machine_busy_seconds()
    started = time.perf_counter()
    try:
        yield phase
    finally:
        phase.seconds = time.perf_counter() - started
        phase.cpu_seconds = cpu_seconds() - cpu0
        phase.machine_cpu_seconds = machine_busy_seconds() - busy0
        phase.peak_rss_mb = peak_rss_mb()
