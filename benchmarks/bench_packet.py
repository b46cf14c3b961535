"""Benchmark: an EOIR exhibit packet of 1,000 exhibit pages from 40 exhibits (issue 5, item 11).

Run from the repository root (not part of the tests):

    python -m benchmarks.bench_packet [--pages 1000] [--exhibits 40] [--repeat 1] [--workdir DIR] [--json]

1. Corpus (synthetic, fictional, seeded; generated into --workdir and reused by later runs): ``--exhibits`` exhibit
   files totalling ``--pages`` pages: born-digital text documents (fpdf2, embedded DejaVu subset; letter, a few A4
   country-conditions reports, a few landscape statements), scanned documents (grey JPEG pages at 200 and 300 dpi
   wrapped by img2pdf, no text layer), phone photos (3000x4000 JPEGs, one ingested as a .jpg stored sideways with
   EXIF orientation 6, the others as photo PDFs), and a few Spanish scans, each with a born-digital English
   translation linked to it (so the packet has translator's certificates).
2. Setup (not timed): a fresh CASEFILE_HOME, the fictional case (``fictional_case``), every file taken
   in with ``pipeline.ingest_file`` and OCR off (``text.skip_text``), the exhibit list saved
   (``exhibits.save_plan``) and the translations linked (``translations.link_translation``).
3. Timed, once per repetition, each in a fresh child process (so that corpus generation and intake do not count
   in its peak RSS): ``build.build_packet`` (plain function, profile eoir) after deleting the case's
   ``packets/`` prefix, so the build is never "reused". Its phases are timed by wrapping the builder's functions.
4. Reference, in the same run: ``qpdf --empty --pages <the stored input PDFs, in packet order> -- out.pdf`` (the
   exhibit documents and their translations: everything the packet copies from the store).

Prints the build time over the qpdf time (target: at most 3) and the peak RSS of the build (target: under 600 MB).
Exit status 1 when a target is missed or the build fails. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import io
import json
import os
import pstats
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from functools import cache
from itertools import repeat
from multiprocessing import get_context
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from benchmarks.common import (
    MANIFEST,
    MB,
    children_cpu_seconds,
    cpu_seconds,
    load_generate,
    machine_busy_seconds,
    machine_info,
    peak_rss_mb,
    vm_hwm_mb,
)
from casefile.tasks.packets.check.qpdf import QPDF_CHILD

if TYPE_CHECKING:
    from PIL import Image, ImageFont

    from casefile.tasks.core.runtime import Runtime

# Bump when the corpus recipe changes, so a kept corpus (--workdir) is regenerated rather than reused.
CORPUS_VERSION = 1
RATIO_TARGET = 3.0  # build time / qpdf merge time
RSS_TARGET_MB = 600.0
SERVICE_DATE = date(2027, 2, 1)  # fixed: the build id (and the bytes) depend on it
CERTIFIED_ON = date(2027, 1, 20)
PROFILE = "eoir"
CHILD_TIMEOUT = 1800.0
QPDF_TIMEOUT = 600.0
QPDF_CHECK_MODULE = QPDF_CHILD  # how the packet check runs `qpdf --check` (one process per part)


class BenchmarkFailed(Exception):
    """The build failed or its output is not what the corpus implies: the numbers would be meaningless."""


# Corpus -----------------------------------------------------------------------------------------------------
class Kind(StrEnum):
    TEXT = "text"  # born-digital English, letter, fpdf2 with embedded DejaVu
    A4 = "a4"  # born-digital English country-conditions report on A4 (section "country")
    LANDSCAPE = "landscape"  # born-digital landscape letter pages (a bank statement)
    SCAN = "scan"  # English scan: grey JPEG pages (200 or 300 dpi) in an image-only PDF
    SCAN_ES = "scan-es"  # Spanish scan, with an English born-digital translation linked
    PHOTO = "photo"  # 3000x4000 phone photos: a .jpg (EXIF orientation 6) or a PDF of photos


@dataclass(frozen=True)
class ExhibitSpec:
    index: int
    kind: Kind
    pages: int
    dpi: int = 0  # scans
    seed: int = 0

    @property
    def name(self) -> str:
        suffix = ".jpg" if self.kind is Kind.PHOTO and self.pages == 1 else ".pdf"
        return f"{self.index:02d}-{self.kind.value}{suffix}"

    @property
    def translation_name(self) -> str:
        return f"{self.index:02d}-{self.kind.value}.en.pdf"

    @property
    def translated(self) -> bool:
        return self.kind is Kind.SCAN_ES

    @property
    def section(self) -> str:
        return "country" if self.kind is Kind.A4 else "client"

    @property
    def language(self) -> str:
        return "es" if self.kind is Kind.SCAN_ES else "en"

    @property
    def title(self) -> str:
        what = {
            Kind.TEXT: "Medical and school records",
            Kind.A4: "Country conditions report, Republic of Example",
            Kind.LANDSCAPE: "Bank statements",
            Kind.SCAN: "Scanned records",
            Kind.SCAN_ES: "Police report and letters (Spanish)",
            Kind.PHOTO: "Photographs",
        }[self.kind]
        return f"{what} (benchmark exhibit {self.index:02d}, fictional)"

    def stamp(self, page: int) -> str:
        return (
            f"Benchmark exhibit {self.index:02d}, page {page}/{self.pages} - fictional test data - ref {self.seed:08x}"
        )


def _shares(n: int) -> dict[Kind, int]:
    """How many exhibits of each kind (40: 17 text, 4 A4, 2 landscape, 10 scans, 4 Spanish scans, 3 photos)."""
    counts = {
        Kind.PHOTO: max(1, round(n * 0.075)),
        Kind.SCAN_ES: max(1, round(n * 0.1)),
        Kind.SCAN: max(1, round(n * 0.25)),
        Kind.A4: max(1, round(n * 0.1)),
        Kind.LANDSCAPE: max(1, round(n * 0.05)),
    }
    counts[Kind.TEXT] = n - sum(counts.values())
    if counts[Kind.TEXT] < 1:
        raise ValueError(f"--exhibits {n} is too few for the mix of kinds; use at least 7")
    return counts


# Relative share of the remaining pages per exhibit of each kind (jittered per exhibit).
_WEIGHTS = {Kind.TEXT: 1.0, Kind.A4: 2.5, Kind.LANDSCAPE: 0.4, Kind.SCAN: 1.2}


def plan_exhibits(n: int, pages: int, seed: int) -> list[ExhibitSpec]:
    """``n`` exhibits totalling ``pages`` pages, in packet order: client documents (kinds shuffled), then the
    country-conditions reports. Photos and Spanish scans have fixed small page counts; the other pages are shared
    out by weight (largest remainder), so the total is exact."""
    rng = random.Random(f"casefile-bench-packet/{seed}")
    counts = _shares(n)
    client = [k for k in Kind if k is not Kind.A4 for _ in range(counts[k])]
    rng.shuffle(client)
    kinds = client + [Kind.A4] * counts[Kind.A4]
    fixed: dict[int, int] = {}
    photos = 0
    for i, kind in enumerate(kinds):
        if kind is Kind.PHOTO:
            fixed[i] = 1 if photos == 0 else 3  # the first is a single .jpg
            photos += 1
        elif kind is Kind.SCAN_ES:
            fixed[i] = rng.randint(2, 6)
    rest = pages - sum(fixed.values())
    free = [i for i in range(len(kinds)) if i not in fixed]
    if rest < len(free):
        raise ValueError(f"--pages {pages} is too few for {n} exhibits; use at least {sum(fixed.values()) + len(free)}")
    weights = {i: _WEIGHTS[kinds[i]] * rng.uniform(0.5, 1.5) for i in free}
    total = sum(weights.values())
    shares = {i: 1 + (rest - len(free)) * w / total for i, w in weights.items()}
    alloc = {i: int(s) for i, s in shares.items()}
    for i in sorted(free, key=lambda i: shares[i] - alloc[i], reverse=True)[: rest - sum(alloc.values())]:
        alloc[i] += 1
    alloc.update(fixed)
    specs = []
    for i, kind in enumerate(kinds):
        dpi = (300 if rng.random() < 0.35 else 200) if kind in (Kind.SCAN, Kind.SCAN_ES) else 0
        specs.append(ExhibitSpec(i + 1, kind, alloc[i], dpi, rng.randrange(2**32)))
    assert sum(s.pages for s in specs) == pages
    return specs


# Texts --------------------------------------------------------------------------------------------------------
COUNTRY_REPORT = [
    "# Republic of Example (fictional): country conditions",
    "SYNTHETIC TEST DOCUMENT - FICTIONAL COUNTRY, FICTIONAL SOURCES",
    "",
    "# Security situation",
    "Armed groups control several districts of the fictional province of San Isidro. Residents report extortion "
    "of small businesses, threats against people who refuse to pay, and killings of those who report the groups "
    "to the police. Local police stations are understaffed and, according to the fictional Ombudsman's Office, "
    "officers have passed the names of complainants to the groups.",
    "",
    "# Protection for victims",
    "The fictional witness protection programme has places for fewer than two hundred people a year for the whole "
    "country. Applicants wait many months for a decision, and the programme does not cover relatives. Shelters "
    "for women exist only in the capital; none operates in San Isidro province.",
    "",
    "# Internal relocation",
    "The groups operate in most provinces and share information between districts. Several fictional reports "
    "describe people who moved to the capital and were found and threatened again within weeks. Identity documents "
    "must show the holder's address, which makes it hard to hide a move from anyone with contacts in public offices.",
    "",
    "# Sources",
    "Fictional Ombudsman's Office, annual report; fictional non-governmental organisations' reports; fictional press "
    "articles. Every name, figure and source in this document is invented for software testing.",
]


@cache
def english_pages() -> tuple[list[str], ...]:
    g = load_generate()
    return (*g.MEDICAL_RECORD_EN, *g.SCHOOL_RECORD_EN, *g.RECORDS_REPLY_EN)


@cache
def spanish_pages() -> tuple[tuple[list[str], list[str]], ...]:
    """(Spanish page, its English translation) pairs."""
    g = load_generate()
    return (
        (g.DENUNCIA_ES[0], g.DENUNCIA_EN[0]),
        (g.DENUNCIA_ES[1], g.DENUNCIA_EN[1]),
        (g.CARTA_DE_APOYO_ES, g.CARTA_DE_APOYO_EN[0]),
        (g.CONSTANCIA_ES, g.CONSTANCIA_EN[0]),
    )


def statement_page(spec: ExhibitSpec, page: int) -> list[str]:
    rng = random.Random(f"statement/{spec.seed}/{page}")
    balance = rng.randint(50_000, 400_000)
    rows = [
        "# Example Community Credit Union (fictional): account statement",
        "DATE        DESCRIPTION" + " " * 34 + "AMOUNT       BALANCE",
    ]
    for day in range(1, 25):
        amount = rng.randint(-25_000, 30_000)
        balance += amount
        what = rng.choice(("Payroll deposit", "Rent", "Groceries", "Money transfer", "Pharmacy", "Bus pass"))
        rows.append(f"2024-{page % 12 + 1:02d}-{day:02d}  {what:<40} {amount / 100:>10.2f}  {balance / 100:>12.2f}")
    return rows


# Rendering (worker processes) ----------------------------------------------------------------------------------
@cache
def _font(px: int) -> ImageFont.FreeTypeFont:
    from PIL import ImageFont

    return ImageFont.truetype(str(load_generate().FONT_REGULAR), px)


def _jpeg(image: Image.Image, **options: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", optimize=True, **options)
    return buffer.getvalue()


def text_pdf(
    pages: Sequence[list[str]], *, title: str, page_format: str = "letter", landscape: bool = False, mono: bool = False
) -> bytes:
    """A born-digital PDF (fpdf2, embedded DejaVu subsets), one list of paragraphs per page; fixed dates."""
    from fpdf import FPDF

    g = load_generate()
    pdf = FPDF(orientation="L" if landscape else "P", unit="pt", format=page_format)
    pdf.set_creation_date(g.FIXED_DATE)
    pdf.set_title(title)
    pdf.set_author("casefile benchmark generator (fictional data)")
    pdf.set_creator("benchmarks/bench_packet.py")
    pdf.add_font("DejaVu", "", str(g.FONT_REGULAR))
    pdf.add_font("DejaVu", "B", str(g.FONT_BOLD))
    if mono:
        pdf.add_font("DejaVuMono", "", str(g.FONT_MONO))
    pdf.set_margins(72, 54, 72)
    pdf.set_auto_page_break(True, margin=54)
    for lines in pages:
        pdf.add_page()
        for line in lines:
            if not line:
                pdf.ln(6)
            elif line.startswith(g.HEADING):
                pdf.set_font("DejaVu", "B", 13)
                pdf.multi_cell(0, 17, line.removeprefix(g.HEADING), new_x="LMARGIN", new_y="NEXT")
            elif mono:
                pdf.set_font("DejaVuMono", "", 9)
                pdf.multi_cell(0, 13, line, new_x="LMARGIN", new_y="NEXT")
            else:
                pdf.set_font("DejaVu", "", 11)
                pdf.multi_cell(0, 14, line, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


@cache
def _scan_base(text: int, spanish: bool, dpi: int) -> Image.Image:
    g = load_generate()
    lines = spanish_pages()[text][0] if spanish else english_pages()[text]
    rng = random.Random(f"scan-base/{text}/{spanish}/{dpi}")
    skew = rng.uniform(0.4, 0.9) * rng.choice((-1.0, 1.0))
    image: Image.Image = g.render_text_page(lines, dpi=dpi, skew_deg=skew, noise=0.006, seed=rng.randrange(2**32))
    return image


@cache
def _photo_base(seed: int) -> Image.Image:
    """A 3000x4000 "12-megapixel phone photo" of a letter: the generator's photo upscaled, with seeded sensor noise
    (so the JPEG is a few MB, as a phone's is)."""
    from PIL import Image, ImageChops

    g = load_generate()
    with tempfile.TemporaryDirectory(prefix="casefile-bench-photo-") as tmp:
        path = Path(tmp) / "base.jpg"
        g.make_photo_jpeg(path, g.CARTA_DE_APOYO_ES if seed % 2 else g.CONSTANCIA_ES, orientation=1, seed=seed)
        with Image.open(path) as im:
            photo = im.convert("RGB").resize((3000, 4000), Image.Resampling.BICUBIC)
    rng = random.Random(f"photo-noise/{seed}")
    amplitude = 6
    raw = Image.frombytes("L", photo.size, rng.randbytes(photo.width * photo.height))
    noise = raw.point([v * 2 * amplitude // 255 for v in range(256)])
    channels = [ImageChops.add(c, noise, scale=1.0, offset=-amplitude) for c in photo.split()]
    return Image.merge("RGB", channels)


def _stamped(base: Image.Image, text: str, xy: tuple[int, int], px: int, fill: int | tuple[int, ...]) -> Image.Image:
    from PIL import ImageDraw

    image = base.copy()
    ImageDraw.Draw(image).text(xy, text, font=_font(px), fill=fill)
    return image


def _images_pdf(images: list[bytes], title: str) -> bytes:
    import img2pdf

    g = load_generate()
    pdf: bytes = img2pdf.convert(
        images, engine=img2pdf.Engine.internal, title=title, creationdate=g.FIXED_DATE, moddate=g.FIXED_DATE
    )
    return pdf


def render_exhibit(spec: ExhibitSpec) -> bytes:
    """The bytes of one exhibit file."""
    from PIL import Image
    from PIL.ExifTags import Base

    title = f"Synthetic benchmark exhibit {spec.index:02d} (fictional test data)"
    rng = random.Random(f"exhibit/{spec.seed}")
    if spec.kind is Kind.TEXT:
        texts = english_pages()
        return text_pdf(
            [[spec.stamp(p), *texts[rng.randrange(len(texts))]] for p in range(1, spec.pages + 1)], title=title
        )
    if spec.kind is Kind.A4:
        return text_pdf(
            [[spec.stamp(p), *COUNTRY_REPORT] for p in range(1, spec.pages + 1)], title=title, page_format="a4"
        )
    if spec.kind is Kind.LANDSCAPE:
        return text_pdf(
            [[spec.stamp(p), *statement_page(spec, p)] for p in range(1, spec.pages + 1)],
            title=title,
            landscape=True,
            mono=True,
        )
    if spec.kind in (Kind.SCAN, Kind.SCAN_ES):
        spanish = spec.kind is Kind.SCAN_ES
        images = []
        for p in range(1, spec.pages + 1):
            text = (p - 1) % len(spanish_pages()) if spanish else rng.randrange(len(english_pages()))
            base = _scan_base(text, spanish, spec.dpi)
            page = _stamped(base, spec.stamp(p), (spec.dpi, base.height - spec.dpi * 45 // 100), spec.dpi // 8, 40)
            images.append(_jpeg(page, quality=65, dpi=(spec.dpi, spec.dpi), progressive=True))
        return _images_pdf(images, title)
    photos = []
    for p in range(1, spec.pages + 1):
        photo = _stamped(_photo_base(p % 2), spec.stamp(p), (420, 3500), 56, (45, 40, 35))
        if spec.pages == 1:  # a phone's portrait shot: pixels stored sideways, EXIF orientation 6
            exif = Image.Exif()
            exif[Base.Orientation] = 6
            exif[Base.Make] = "ExamplePhone (fictional)"
            stored = photo.transpose(Image.Transpose.ROTATE_90)
            return _jpeg(stored, quality=85, dpi=(72, 72), exif=exif.tobytes())
        photos.append(_jpeg(photo, quality=85, dpi=(72, 72)))
    return _images_pdf(photos, title)


def render_translation(spec: ExhibitSpec) -> bytes:
    """The English translation of a Spanish scan: one born-digital page per source page."""
    pages = []
    for p in range(1, spec.pages + 1):
        english = spanish_pages()[(p - 1) % len(spanish_pages())][1]
        pages.append([f"Translation of benchmark exhibit {spec.index:02d}, page {p}/{spec.pages}", *english])
    return text_pdf(pages, title=f"English translation of benchmark exhibit {spec.index:02d} (fictional)")


def _pdf_pages(data: bytes) -> int:
    import pikepdf

    with pikepdf.open(io.BytesIO(data)) as pdf:
        return len(pdf.pages)


def _write_exhibits(specs: Sequence[ExhibitSpec], out_dir: str) -> list[tuple[str, int]]:
    """Write the files of ``specs`` (and their translations); (name, size) of each; checks every page count."""
    written = []
    for spec in specs:
        data = render_exhibit(spec)
        if spec.name.endswith(".pdf") and _pdf_pages(data) != spec.pages:
            raise RuntimeError(f"{spec.name}: {_pdf_pages(data)} pages, planned {spec.pages} (a text overflowed)")
        (Path(out_dir) / spec.name).write_bytes(data)
        written.append((spec.name, len(data)))
        if spec.translated:
            data = render_translation(spec)
            if _pdf_pages(data) != spec.pages:
                raise RuntimeError(f"{spec.translation_name}: {_pdf_pages(data)} pages, planned {spec.pages}")
            (Path(out_dir) / spec.translation_name).write_bytes(data)
            written.append((spec.translation_name, len(data)))
    return written


@dataclass
class Corpus:
    path: Path
    specs: list[ExhibitSpec]
    sizes: dict[str, int]
    seconds: float = 0.0
    jobs: int = 0
    reused: bool = False

    @property
    def pages(self) -> int:
        return sum(s.pages for s in self.specs)

    @property
    def translation_pages(self) -> int:
        return sum(s.pages for s in self.specs if s.translated)

    @property
    def total_bytes(self) -> int:
        return sum(self.sizes.values())

    def describe(self) -> str:
        parts = []
        for kind in Kind:
            chosen = [s for s in self.specs if s.kind is kind]
            if chosen:
                parts.append(f"{len(chosen)} {kind.value} ({sum(s.pages for s in chosen)} p)")
        dpis = {d: sum(s.pages for s in self.specs if s.dpi == d) for d in (200, 300)}
        return (
            f"{len(self.specs)} exhibits, {self.pages} pages: {', '.join(parts)}; scanned pages {dpis[200]} at 200 dpi "
            f"and {dpis[300]} at 300 dpi; + {sum(1 for s in self.specs if s.translated)} English translations "
            f"({self.translation_pages} p)"
        )


def _manifest(exhibits: int, pages: int, seed: int) -> dict[str, Any]:
    return {"version": CORPUS_VERSION, "benchmark": "packet", "exhibits": exhibits, "pages": pages, "seed": seed}


def load_corpus(path: Path, exhibits: int, pages: int, seed: int) -> Corpus | None:
    """A corpus kept by an earlier run with the same recipe and parameters, if every file is intact."""
    try:
        manifest = json.loads((path / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    expected = _manifest(exhibits, pages, seed)
    if {k: manifest.get(k) for k in expected} != expected:
        return None
    sizes: dict[str, int] = manifest.get("sizes", {})
    for name, size in sizes.items():
        file = path / name
        if not file.is_file() or file.stat().st_size != size:
            return None
    specs = plan_exhibits(exhibits, pages, seed)
    if {s.name for s in specs} - set(sizes):
        return None
    return Corpus(path, specs, sizes, reused=True)


def generate_corpus(path: Path, exhibits: int, pages: int, seed: int, jobs: int) -> Corpus:
    specs = plan_exhibits(exhibits, pages, seed)
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    started = time.perf_counter()
    written: list[tuple[str, int]] = []
    # The expensive files first (photos, 300-dpi scans), one per task, so the processes finish together.
    order = sorted(specs, key=lambda s: (s.kind is not Kind.PHOTO, -s.pages * (s.dpi or 30)))
    if jobs <= 1:
        written = _write_exhibits(order, str(path))
    else:
        with ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("spawn")) as pool:
            for part in pool.map(_write_exhibits, [[s] for s in order], repeat(str(path))):
                written.extend(part)
    seconds = time.perf_counter() - started
    sizes = dict(sorted(written))
    (path / MANIFEST).write_text(json.dumps({**_manifest(exhibits, pages, seed), "sizes": sizes}) + "\n")
    return Corpus(path, specs, sizes, seconds=seconds, jobs=max(1, jobs))


# Setup (not timed) ---------------------------------------------------------------------------------------------
@dataclass
class CaseSetup:
    home: Path
    case_id: str
    inputs: list[Path]  # the stored PDFs the packet copies, in packet order (for the qpdf reference)
    input_pages: int
    seconds: float


def setup_case(rt: Runtime, corpus: Corpus, inputs_dir: Path) -> CaseSetup:
    """The fictional case with every exhibit taken in (OCR off), the exhibit list saved, translations linked."""
    from casefile.tasks.cases.case import create_case
    from casefile.tasks.demo.scenario import fictional_case
    from casefile.tasks.documents import pipeline, text
    from casefile.tasks.documents.intake import Outcome
    from casefile.tasks.packets.exhibits import Plan, PlanRow, save_plan
    from casefile.tasks.packets.translations import TranslatorInfo, link_translation

    started = time.perf_counter()
    with rt.catalog.session() as session:
        case_id: str = create_case(session, fictional_case()).id

    def add(path: Path) -> str:
        result = pipeline.ingest_file(rt, case_id, path, "unclassified", searchable=False)
        if result.outcome is not Outcome.STORED or not result.document_id:
            raise BenchmarkFailed(f"{path.name} was not stored by intake: {result}")
        text.skip_text(rt, result.document_id)
        return result.document_id

    docs = {spec.index: add(corpus.path / spec.name) for spec in corpus.specs}
    translations = {spec.index: add(corpus.path / spec.translation_name) for spec in corpus.specs if spec.translated}
    rows = [
        PlanRow(spec.section, docs[spec.index], spec.title, language=spec.language, source="Benchmark (fictional)")
        for spec in corpus.specs
    ]
    save_plan(rt, Plan(case_id, rows), "bench-plan.yaml")
    translator = TranslatorInfo(
        "Sam Translator (fictional)", "2 Example Avenue; Queens, NY 11100", "(718) 555-0199", signed_electronically=True
    )
    with rt.catalog.session() as session:
        for index, tdoc in translations.items():
            link_translation(session, case_id, docs[index], tdoc, translator, CERTIFIED_ON, "es")
    # The stored PDFs in packet order, as the builder reads them (the normalised PDF: the original bytes of a PDF,
    # img2pdf's PDF of the photo), for the qpdf reference.
    from casefile.tasks.core.catalog import Document

    inputs: list[Path] = []
    pages = 0
    inputs_dir.mkdir(parents=True)
    with rt.catalog.session() as session:
        for spec in corpus.specs:
            ids = [docs[spec.index]] + ([translations[spec.index]] if spec.translated else [])
            for doc_id in ids:
                doc = session.get(Document, doc_id)
                assert doc is not None and doc.normalised_key and doc.normalised_sha256
                target = inputs_dir / f"{len(inputs):03d}-{doc_id}.pdf"
                rt.store.download(doc.normalised_key, target, expected_sha256=doc.normalised_sha256)
                inputs.append(target)
                pages += doc.page_count
    return CaseSetup(rt.settings.home, case_id, inputs, pages, time.perf_counter() - started)


# The build, in a child process ---------------------------------------------------------------------------------
# (module, function name, phase) wrapped with a timer in the child. Phases do not nest, except the two "·" ones,
# which are parts of the phase above them.
PHASES: tuple[tuple[str, str, str], ...] = (
    ("casefile.tasks.packets.build", "gather", "gather inputs (catalog)"),
    ("casefile.tasks.packets.build", "plan_pages", "lay out template pages (WeasyPrint)"),
    ("casefile.tasks.core.render", "layout", "· WeasyPrint layout calls"),
    ("casefile.tasks.core.render", "write_documents", "write template pages (WeasyPrint)"),
    ("casefile.tasks.packets.layout", "place_pages", "place exhibit pages (assembly)"),
    ("casefile.tasks.packets.layout", "downsample_images", "downsample images"),
    ("casefile.tasks.packets.layout", "stamp_pages", "stamp page numbers"),
    ("casefile.tasks.packets.build", "split_points", "split: size estimates"),
    ("casefile.tasks.packets.build", "_save_part", "save part(s)"),
    ("casefile.tasks.packets.build", "_check", "check (incl. qpdf --check)"),
    ("casefile.tasks.packets.check.qpdf", "QpdfRuns.results", "· waiting for qpdf --check"),
)
NESTED = "· "
STORE_PHASES = {"download": "fetch sources (store)", "put_file": "upload parts", "put_bytes": "upload parts"}


def current_rss_mb() -> float:
    """This process's resident set size now (Linux /proc; 0 elsewhere)."""
    try:
        return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / MB
    except (OSError, ValueError, IndexError):
        return 0.0


@dataclass
class Timers:
    """Time, calls, and memory after each phase (RSS now, and the process's peak so far)."""

    seconds: dict[str, float] = field(default_factory=dict)
    calls: dict[str, int] = field(default_factory=dict)
    rss_after: dict[str, float] = field(default_factory=dict)
    peak_after: dict[str, float] = field(default_factory=dict)

    def wrap(self, owner: Any, name: str, phase: str) -> None:
        original: Callable[..., Any] = getattr(owner, name)

        @functools.wraps(original)
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds[phase] = self.seconds.get(phase, 0.0) + time.perf_counter() - started
                self.calls[phase] = self.calls.get(phase, 0) + 1
                self.rss_after[phase] = round(max(self.rss_after.get(phase, 0.0), current_rss_mb()), 1)
                self.peak_after[phase] = peak_rss_mb()

        setattr(owner, name, timed)


def _import_builder() -> dict[str, ModuleType]:
    import importlib

    names = (
        "casefile.tasks.packets.build",
        "casefile.tasks.packets.layout",
        "casefile.tasks.packets.check.qpdf",
        "casefile.tasks.core.render",
        "casefile.tasks.documents.language",
    )
    modules = {name: importlib.import_module(name) for name in names}
    import pikepdf  # noqa: F401
    import pypdf  # noqa: F401
    import weasyprint  # noqa: F401
    from PIL import Image  # noqa: F401

    return modules


def child_main(spec_path: Path) -> int:
    """One build in this (fresh) process; writes its measurements as JSON to the path in the spec."""
    spec = json.loads(spec_path.read_text())
    out = Path(spec["out"])
    started = time.perf_counter()
    modules = _import_builder()
    import_seconds = time.perf_counter() - started
    from casefile.tasks.core.runtime import get_runtime
    from casefile.tasks.packets.build import BuildOptions, build_packet

    rt = get_runtime()
    for key in list(rt.store.list(f"packets/{spec['case_id']}/")):  # never "reused": build afresh
        rt.store.delete(key)
    timers = Timers()
    if spec["phases"]:
        for module, name, phase in PHASES:
            owner: Any = modules[module]
            if "." in name:
                cls, name = name.split(".")
                owner = getattr(owner, cls)
            timers.wrap(owner, name, phase)
        for name, phase in STORE_PHASES.items():
            timers.wrap(rt.store, name, phase)
    window = CheckWindow()
    window.wrap(modules["casefile.tasks.packets.build"])
    profiler = cProfile.Profile() if spec.get("profile") else None
    from casefile.tasks.demo.scenario import DEMO_DHS_ADDRESS, DEMO_DHS_OFFICE

    # The eoir profile's DHS office is a placeholder a build refuses: a fictional one, as the demo sets it.
    options = BuildOptions(
        profile=PROFILE,
        service_date=SERVICE_DATE,
        service_office=DEMO_DHS_OFFICE,
        service_address=DEMO_DHS_ADDRESS,
        fictional_practice=True,  # the packaged fictional practice, on purpose (as the demo)
    )
    rss_before = peak_rss_mb()
    cpu0, children0 = cpu_seconds(), children_cpu_seconds()
    error = None
    result: dict[str, Any] = {}
    t0 = time.perf_counter()
    try:
        if profiler:
            profiler.enable()
        built = build_packet(rt, spec["case_id"], options)
        if profiler:
            profiler.disable()
        result = {
            "build_id": built.build_id,
            "pages": built.pages,
            "parts": [{"name": p.name, "pages": p.pages, "bytes": p.bytes} for p in built.parts],
            "bytes_saved": built.bytes_saved,
            "images_downsampled": built.images_downsampled,
            "warnings": built.warnings,
            "reused": built.reused,
        }
    except Exception as exc:  # reported to the parent, which fails the benchmark
        error = f"{type(exc).__name__}: {exc}"
    seconds = time.perf_counter() - t0
    if profiler and spec.get("profile"):
        profiler.dump_stats(spec["profile"])
    report = {
        "seconds": seconds,
        "import_seconds": import_seconds,
        "cpu_seconds": cpu_seconds() - cpu0,
        "children_cpu_seconds": children_cpu_seconds() - children0,
        "phases": timers.seconds,
        "calls": timers.calls,
        "rss_after_mb": timers.rss_after,
        "peak_rss_after_mb": timers.peak_after,
        "peak_rss_mb": max(window.before_mb or 0.0, vm_hwm_mb(os.getpid()) or 0.0, peak_rss_mb()),
        "peak_rss_mb_before_build": rss_before,
        "peak_rss_mb_before_check": window.before_mb,
        "peak_rss_mb_from_check": vm_hwm_mb(os.getpid()) if window.reset else None,
        "result": result,
        "error": error,
    }
    out.write_text(json.dumps(report))
    return 0 if error is None else 1


@dataclass
class CheckWindow:
    """The builder's peak RSS before its check, and from the start of its check on: the `qpdf --check` processes
    live only during the check, so the builder's peak of that window plus theirs bounds the tree's peak. Linux
    resets a process's high-water mark (VmHWM) when "5" is written to /proc/<pid>/clear_refs."""

    before_mb: float | None = None
    reset: bool = False

    def wrap(self, packet_module: Any) -> None:
        original: Callable[..., Any] = packet_module._check

        @functools.wraps(original)
        def check(*args: Any, **kwargs: Any) -> Any:
            self.before_mb = max(vm_hwm_mb(os.getpid()) or 0.0, peak_rss_mb())
            try:
                Path("/proc/self/clear_refs").write_text("5")
                self.reset = True
            except OSError:
                self.reset = False
            return original(*args, **kwargs)

        packet_module._check = check


@dataclass
class TreePeak:
    """The process tree's summed RSS, sampled (a lower bound of its true peak: short spikes may be missed), and
    the peak RSS (VmHWM) of each descendant seen (the `qpdf --check` processes)."""

    sum_mb: float = 0.0
    processes: int = 0
    descendants: dict[int, tuple[str, float]] = field(default_factory=dict)  # pid: (name, MB)


def _sample_tree(pid: int, stop: threading.Event, peak: TreePeak, interval: float = 0.01) -> None:
    import psutil

    try:
        root = psutil.Process(pid)
        root_name = root.name()
    except psutil.Error:
        return
    while not stop.is_set():
        try:
            total, count = root.memory_info().rss, 1
            children = root.children(recursive=True)
        except psutil.Error:
            break
        for proc in children:
            try:
                name = proc.name()
                if name == root_name and QPDF_CHECK_MODULE in proc.cmdline():
                    name = "qpdf-check"  # `python -m casefile.tasks.packets.qpdf_child FILE`: the check's own process
                elif name == root_name:  # forked, not exec'd yet: it shares the builder's pages, not counted twice
                    continue
                total += proc.memory_info().rss
                count += 1
            except psutil.Error:
                continue
            hwm = vm_hwm_mb(proc.pid)  # after exec: the new program's own high-water mark
            if hwm is not None:
                peak.descendants[proc.pid] = (name, max(peak.descendants.get(proc.pid, ("", 0.0))[1], hwm))
        if total / MB > peak.sum_mb:
            peak.sum_mb, peak.processes = total / MB, count
        stop.wait(interval)


def run_child(setup: CaseSetup, run_dir: Path, rep: int, *, phases: bool, profile: Path | None) -> dict[str, Any]:
    """One build in a fresh child process (``python -m benchmarks.bench_packet --child SPEC``)."""
    out = run_dir / f"child-{rep}.json"
    spec = {"case_id": setup.case_id, "out": str(out), "phases": phases, "profile": str(profile) if profile else None}
    spec_path = run_dir / f"child-{rep}-spec.json"
    spec_path.write_text(json.dumps(spec))
    peak, stop = TreePeak(), threading.Event()
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.bench_packet", "--child", str(spec_path)],
        cwd=Path(__file__).resolve().parents[1],
        stdin=subprocess.DEVNULL,
    )
    sampler = threading.Thread(target=_sample_tree, args=(proc.pid, stop, peak), daemon=True)
    sampler.start()
    try:
        code = proc.wait(timeout=CHILD_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise BenchmarkFailed(f"the build process did not finish in {CHILD_TIMEOUT:g} s") from None
    finally:
        stop.set()
        sampler.join()
    wall = time.perf_counter() - started
    try:
        report: dict[str, Any] = json.loads(out.read_text())
    except (OSError, ValueError):
        raise BenchmarkFailed(f"the build process exited with status {code} without a report") from None
    if report["error"]:
        raise BenchmarkFailed(f"the build failed: {report['error']}")
    report["process_wall_seconds"] = wall
    report["tree_sampled_peak_mb"] = round(peak.sum_mb, 1)
    report["tree_sampled_processes"] = peak.processes
    report["descendant_peaks_mb"] = sorted(
        ([name, round(mb, 1)] for name, mb in peak.descendants.values()), key=lambda x: x[1], reverse=True
    )
    return report


# Reference ---------------------------------------------------------------------------------------------------
def qpdf_merge(inputs: Sequence[Path], out: Path) -> dict[str, float]:
    """``qpdf --empty --pages IN... -- OUT``: wall time, CPU and peak RSS of the qpdf process."""
    exe = shutil.which("qpdf")
    if exe is None:
        raise BenchmarkFailed("qpdf is not installed (apt-get install qpdf)")
    out.unlink(missing_ok=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run(
        [exe, "--empty", "--pages", *map(str, inputs), "--", str(out)],
        capture_output=True,
        text=True,
        timeout=QPDF_TIMEOUT,
        check=False,
    )
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode not in (0, 3):  # 3: success with warnings
        raise BenchmarkFailed(f"qpdf reference failed ({proc.returncode}): {proc.stderr.strip()[:300]}")
    return {
        "seconds": seconds,
        "cpu_seconds": after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime,
        "bytes": out.stat().st_size,
    }


def qpdf_check_time(path: Path) -> dict[str, float]:
    """``qpdf --check`` of one file the way the builder's check runs it on every part (``python -m
    casefile.tasks.packets.qpdf_child``: the libqpdf pikepdf bundles): it decodes every stream, JPEGs included, so it
    costs far more than a merge that copies them."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", QPDF_CHECK_MODULE, str(path)],
        capture_output=True,
        timeout=QPDF_TIMEOUT,
        check=False,
        cwd=Path(__file__).resolve().parents[1],
    )
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "seconds": seconds,
        "cpu_seconds": after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime,
        "exit_status": _check_exit(proc.stdout),
    }


def _check_exit(stdout: bytes) -> int:
    try:
        return int(json.loads(stdout)["exit"])
    except (ValueError, KeyError, TypeError):
        return -1


# Main --------------------------------------------------------------------------------------------------------
def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _r(value: float, digits: int = 3) -> float:
    return round(value, digits)


def _qpdf_version() -> str:
    exe = shutil.which("qpdf")
    if exe is None:
        return "not installed"
    out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=30, check=False).stdout
    return out.splitlines()[0].removeprefix("qpdf version ").strip() if out else "unknown"


def summarise(
    machine: dict[str, Any],
    corpus: Corpus,
    setup: CaseSetup,
    builds: list[dict[str, Any]],
    refs: list[dict[str, float]],
    extra: dict[str, Any],
) -> dict[str, Any]:
    best = min(builds, key=lambda b: b["seconds"])
    ref_best = min(r["seconds"] for r in refs)
    ref_median = statistics.median(r["seconds"] for r in refs)
    seconds = [b["seconds"] for b in builds]
    check_key = "check (incl. qpdf --check)"
    without_check = [b["seconds"] - b["phases"].get(check_key, 0.0) for b in builds]
    order = [phase for _m, _n, phase in PHASES] + list(dict.fromkeys(STORE_PHASES.values()))
    phases = {k: _r(best["phases"][k]) for k in sorted(best["phases"], key=order.index)}
    known = sum(v for k, v in best["phases"].items() if not k.startswith(NESTED))
    phases["other (build id, template hashes, outline, manifest, ...)"] = _r(best["seconds"] - known)
    peak = max(b["peak_rss_mb"] for b in builds)
    # ru_maxrss of children is useless here (a child forked from a 500 MB process counts those pages before its
    # exec), so the `qpdf --check` processes' peaks are their VmHWM, sampled while they ran.
    descendants = max((b["descendant_peaks_mb"] for b in builds), key=lambda d: sum(mb for _n, mb in d))
    qpdf_peaks = [mb for name, mb in descendants if name == "qpdf-check"]
    # All `qpdf --check` runs (one per part) are started at once, beside the builder, and only during its check: the
    # builder's peak before the check, or its peak from the check on plus theirs, bounds the tree's peak. (Without
    # a resettable VmHWM: the builder's overall peak plus theirs. The other descendants are gcc/ld/ldconfig run by
    # ctypes.util.find_library while WeasyPrint is imported, before the build: a few MB, one at a time.)
    bound = max(
        max(
            (b["peak_rss_mb_before_check"] or 0.0, b["peak_rss_mb_from_check"] + sum(qpdf_peaks))
            if b.get("peak_rss_mb_from_check") is not None
            else (b["peak_rss_mb"] + sum(qpdf_peaks),)
        )
        for b in builds
    )
    ratio = best["seconds"] / ref_best
    return {
        "benchmark": "packet",
        "machine": machine,
        "corpus": {
            "path": str(corpus.path),
            "exhibits": len(corpus.specs),
            "exhibit_pages": corpus.pages,
            "translations": sum(1 for s in corpus.specs if s.translated),
            "translation_pages": corpus.translation_pages,
            "bytes": corpus.total_bytes,
            "kinds": {k.value: sum(1 for s in corpus.specs if s.kind is k) for k in Kind},
            "description": corpus.describe(),
            "generation_seconds": _r(corpus.seconds, 1),
            "generation_jobs": corpus.jobs,
            "reused": corpus.reused,
        },
        "setup": {"seconds": _r(setup.seconds, 2), "inputs": len(setup.inputs), "input_pages": setup.input_pages},
        **extra,
        "build": {
            "seconds": _r(best["seconds"]),
            "seconds_median": _r(statistics.median(seconds)),
            "seconds_all": [_r(s) for s in seconds],
            "without_check_seconds": _r(min(without_check)),
            "without_check_seconds_median": _r(statistics.median(without_check)),
            "cpu_seconds": _r(best["cpu_seconds"], 2),
            "qpdf_check_cpu_seconds": _r(best["children_cpu_seconds"], 2),
            "import_seconds": _r(best["import_seconds"], 2),
            "process_wall_seconds": _r(best["process_wall_seconds"], 2),
            "phases": phases,
            "calls": best["calls"],
            "rss_after_mb": best["rss_after_mb"],
            "peak_rss_after_mb": best["peak_rss_after_mb"],
            "result": best["result"],
        },
        "reference_qpdf": {
            "seconds": _r(ref_best),
            "seconds_median": _r(ref_median),
            "seconds_all": [_r(r["seconds"]) for r in refs],
            "cpu_seconds": _r(min(r["cpu_seconds"] for r in refs)),
            "bytes": int(refs[0]["bytes"]),
        },
        "ratio": _r(ratio, 2),
        "ratio_median": _r(statistics.median(seconds) / ref_median, 2),
        "ratio_without_check": _r(min(without_check) / ref_best, 2),
        "memory": {
            "build_peak_rss_mb": peak,
            "build_peak_from_check_mb": max((b.get("peak_rss_mb_from_check") or 0.0) for b in builds) or None,
            "build_rss_before_build_mb": max(b["peak_rss_mb_before_build"] for b in builds),
            "qpdf_check_peak_rss_mb": qpdf_peaks,
            "descendants_peak_rss_mb": descendants,
            "tree_sampled_peak_mb": max(b["tree_sampled_peak_mb"] for b in builds),
            "tree_upper_bound_mb": _r(bound, 1),
        },
        "targets": {
            "ratio": {"target": RATIO_TARGET, "value": _r(ratio, 2), "met": ratio <= RATIO_TARGET},
            "peak_rss_mb": {"target": RSS_TARGET_MB, "value": _r(bound, 1), "met": bound < RSS_TARGET_MB},
        },
    }


def format_report(result: dict[str, Any]) -> str:
    m, c, b, ref, mem = result["machine"], result["corpus"], result["build"], result["reference_qpdf"], result["memory"]
    pk = m["packages"]
    out = io.StringIO()

    def line(text: str = "") -> None:
        out.write(text + "\n")

    line(f"casefile packet benchmark, {m['date']}")
    line(
        f"machine: {m['cpus']} CPUs ({m['cpu_model']}), {m['memory_mb']} MB, load average at start "
        f"{' '.join(str(x) for x in m['load_average'])}; Python {m['python']}, qpdf {result['qpdf_version']} (merge), "
        f"libqpdf {result['libqpdf_version']} (check), " + ", ".join(f"{k} {v}" for k, v in pk.items())
    )
    how = (
        "reused" if c["reused"] else f"generated in {c['generation_seconds']:.1f} s ({c['generation_jobs']} processes)"
    )
    line(f"corpus: {c['description']}; {c['bytes'] / 1e6:.1f} MB; {how}")
    s = result["setup"]
    line(f"setup (not timed): case, intake of every file (OCR off), exhibit list, translations: {s['seconds']:.1f} s")
    r = b["result"]
    sizes = ", ".join(f"{p['pages']} p {p['bytes'] / 1e6:.1f} MB" for p in r["parts"])
    line(
        f"packet: {r['pages']} pages in {len(r['parts'])} part(s) ({sizes}); {r['images_downsampled']} image(s) "
        f"downsampled, {r['bytes_saved'] / 1e6:.1f} MB saved; {len(r['warnings'])} check warning(s)"
    )
    repeat = result["repeat"]
    line()
    line(f"{'run' + (f' (best of {repeat})' if repeat > 1 else ''):<52}{'seconds':>8}{'median':>8}{'CPU s':>7}")
    line(
        f"{'build_packet (fresh process, imports done)':<52}{b['seconds']:>8.3f}{b['seconds_median']:>8.3f}"
        f"{b['cpu_seconds']:>7.2f}"
    )
    line(
        f"{'build_packet without the check':<52}{b['without_check_seconds']:>8.3f}"
        f"{b['without_check_seconds_median']:>8.3f}"
    )
    line(
        f"{'reference: qpdf --empty --pages (' + str(s['inputs']) + ' inputs, ' + str(s['input_pages']) + ' p)':<52}"
        f"{ref['seconds']:>8.3f}{ref['seconds_median']:>8.3f}{ref['cpu_seconds']:>7.2f}"
    )
    line(
        f"(imports before the build: {b['import_seconds']:.2f} s; qpdf --check CPU: "
        f"{b['qpdf_check_cpu_seconds']:.2f} s; qpdf output {ref['bytes'] / 1e6:.1f} MB)"
    )
    check_ref = result.get("reference_qpdf_check")
    if check_ref:
        line(
            f"{'reference: qpdf --check (libqpdf) of the merge, once':<52}{check_ref['seconds']:>8.3f}{'':>8}"
            f"{check_ref['cpu_seconds']:>7.2f}  = {check_ref['seconds'] / ref['seconds']:.0f} x the merge"
        )
    line()
    line("phases of the best build ('·' lines are part of the line above; RSS: after the phase, MB)")
    line(f"  {'phase':<58}{'seconds':>8}{'calls':>7}{'RSS':>7}{'peak':>7}")
    for name, value in b["phases"].items():
        calls, rss, top = b["calls"].get(name, ""), b["rss_after_mb"].get(name), b["peak_rss_after_mb"].get(name)
        line(
            f"  {name:<58}{value:>8.3f}{calls:>7}"
            + (f"{rss:>7.0f}{top:>7.0f}" if rss is not None and top is not None else "")
        )
    line()
    t = result["targets"]
    mark = {True: "met", False: "MISSED"}
    line(
        f"ratio build / qpdf: {result['ratio']:.2f} (median {result['ratio_median']:.2f}; without the check "
        f"{result['ratio_without_check']:.2f}); target <= {t['ratio']['target']:g}: {mark[t['ratio']['met']]}"
    )
    qpdf_mb = " + ".join(f"{x:.0f}" for x in mem["qpdf_check_peak_rss_mb"]) or "0"
    line(
        f"peak RSS: build process {mem['build_peak_rss_mb']:.0f} MB (after imports "
        f"{mem['build_rss_before_build_mb']:.0f} MB; from its check on {mem['build_peak_from_check_mb'] or 0:.0f} MB), "
        f"qpdf --check {qpdf_mb} MB; "
        f"tree {mem['tree_upper_bound_mb']:.0f} MB at most (sampled {mem['tree_sampled_peak_mb']:.0f} MB); "
        f"target < {t['peak_rss_mb']['target']:g} MB: "
        f"{mark[t['peak_rss_mb']['met']]}"
    )
    whole = result["whole_run"]
    share = whole["other_cpu_seconds"] / max(whole["measured_seconds"], 1e-9)
    line(
        f"other processes on the machine used {whole['other_cpu_seconds']:.1f} CPU-s during the "
        f"{whole['measured_seconds']:.0f} s of measurement ({share:.0%} of one CPU)"
        + ("; the machine was not idle, so these numbers are pessimistic" if share > 0.05 else "")
    )
    return out.getvalue()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bench_packet", description=__doc__.splitlines()[0] if __doc__ else None
    )
    parser.add_argument("--pages", type=int, default=1000, help="exhibit pages in all (default 1000)")
    parser.add_argument("--exhibits", type=int, default=40, help="number of exhibits (default 40)")
    parser.add_argument("--seed", type=int, default=0, help="corpus seed (default 0)")
    parser.add_argument("--repeat", type=int, default=1, help="builds (each in a fresh process) and qpdf runs")
    parser.add_argument(
        "--workdir",
        type=Path,
        help="keep the corpus in DIR (DIR/packet-corpus-...) and reuse it on later runs with the same --pages, "
        "--exhibits and --seed. Default: a temporary folder, removed at the end",
    )
    parser.add_argument("--keep", action="store_true", help="keep the run's home, inputs and packets")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="processes generating the corpus")
    parser.add_argument(
        "--no-phases", action="store_true", help="time the build without the per-phase wrappers (they cost ~1 ms)"
    )
    parser.add_argument(
        "--no-check-reference",
        action="store_true",
        help="skip timing `qpdf --check` of the merged inputs (once; about 10-30 s for the default corpus)",
    )
    parser.add_argument(
        "--profile", type=Path, help="after the measured builds, one more build under cProfile, written here"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    parser.add_argument("--save", type=Path, help="also write the JSON document to this file")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.repeat < 1 or args.exhibits < 1 or args.pages < 1:
        parser.error("--repeat, --exhibits and --pages must be at least 1")
    return args


def run_all(args: argparse.Namespace, root: Path, run_dir: Path, machine: dict[str, Any]) -> dict[str, Any]:
    from benchmarks.bench_ingest import fresh_runtime

    corpus_dir = root / f"packet-corpus-p{args.pages}-e{args.exhibits}-s{args.seed}"
    corpus = load_corpus(corpus_dir, args.exhibits, args.pages, args.seed)
    if corpus is None:
        say(f"Generating {args.exhibits} exhibits ({args.pages} pages) in {corpus_dir} ...")
        corpus = generate_corpus(corpus_dir, args.exhibits, args.pages, args.seed, args.jobs)
    say(f"Corpus: {corpus.describe()}")
    say("Setup: case, intake (OCR off), exhibit list, translations ...")
    rt = fresh_runtime(run_dir / "home")
    setup = setup_case(rt, corpus, run_dir / "inputs")
    rt.catalog.dispose()  # the child opens its own; SQLite must not be held busy by this process

    busy0, own0 = machine_busy_seconds(), cpu_seconds() + children_cpu_seconds()
    measured0 = time.perf_counter()
    builds: list[dict[str, Any]] = []
    refs: list[dict[str, float]] = []
    for rep in range(args.repeat):
        say(f"Reference qpdf merge, run {rep + 1}/{args.repeat} ...")
        refs.append(qpdf_merge(setup.inputs, run_dir / "qpdf-merged.pdf"))
        say(f"build_packet in a fresh process, run {rep + 1}/{args.repeat} ...")
        builds.append(run_child(setup, run_dir, rep, phases=not args.no_phases, profile=None))
    check_ref = None
    if not args.no_check_reference:
        say("Reference: qpdf --check of the qpdf-merged inputs ...")
        check_ref = qpdf_check_time(run_dir / "qpdf-merged.pdf")
    own = cpu_seconds() + children_cpu_seconds() - own0
    whole = {
        "measured_seconds": _r(time.perf_counter() - measured0, 1),
        "other_cpu_seconds": _r(max(0.0, machine_busy_seconds() - busy0 - own), 1),
    }
    profile_top = None
    if args.profile:
        say(f"One more build under cProfile ({args.profile}) ...")
        run_child(setup, run_dir, args.repeat, phases=False, profile=args.profile.resolve())
        stream = io.StringIO()
        pstats.Stats(str(args.profile), stream=stream).sort_stats("tottime").print_stats(25)
        profile_top = stream.getvalue()

    ids = {b["result"]["build_id"] for b in builds}
    first = builds[0]["result"]
    if len(ids) != 1 or any(b["result"]["reused"] for b in builds):
        raise BenchmarkFailed(f"builds differ or were reused: {sorted(ids)}")
    # Every exhibit page, every translation page, a tab page per exhibit and at least the cover, list, certificates
    # and certificate of service.
    least = setup.input_pages + len(corpus.specs) + 3 + sum(1 for s in corpus.specs if s.translated)
    if first["pages"] < least:
        raise BenchmarkFailed(f"the packet has {first['pages']} pages, expected at least {least}")
    import pikepdf

    extra: dict[str, Any] = {
        "repeat": args.repeat,
        "qpdf_version": _qpdf_version(),
        "libqpdf_version": pikepdf.__libqpdf_version__,
        "whole_run": whole,
    }
    if check_ref is not None:
        extra["reference_qpdf_check"] = {k: _r(v) for k, v in check_ref.items()}
    result = summarise(machine, corpus, setup, builds, refs, extra)
    if profile_top:
        result["profile_top_tottime"] = profile_top
    return result


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        return child_main(args.child)
    from benchmarks.bench_ingest import isolate_environment

    machine = machine_info(("pikepdf", "weasyprint", "pypdf", "pillow", "img2pdf", "fpdf2"))
    isolate_environment(None, ocr=False)
    temporary = args.workdir is None
    root = Path(tempfile.mkdtemp(prefix="casefile-bench-")) if temporary else args.workdir.resolve()
    root.mkdir(parents=True, exist_ok=True)
    run_dir = Path(tempfile.mkdtemp(prefix=time.strftime("packet-run-%Y%m%d-%H%M%S-"), dir=root))
    try:
        result = run_all(args, root, run_dir, machine)
    except BenchmarkFailed as exc:
        print(f"BENCHMARK FAILED: {exc}", file=sys.stderr)
        return 1
    finally:
        if args.keep:
            say(f"Kept {run_dir}")
        else:
            shutil.rmtree(root if temporary else run_dir, ignore_errors=True)
    if args.save:
        args.save.write_text(json.dumps(result, indent=2) + "\n")
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(format_report(result), end="")
        if result.get("profile_top_tottime"):
            print("\ncProfile of one more build, top functions by own time:\n" + result["profile_top_tottime"])
    return 0 if all(t["met"] for t in result["targets"].values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
