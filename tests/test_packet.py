"""Exhibit packets: plans, translations, and real builds checked by opening the output PDFs.

Builds run as plain function calls (build.build_packet) on real documents taken in by the real intake, with
OCR off for speed (languages are set in the plan); the CLI test at the end runs the real Prefect flow.
"""

from __future__ import annotations

import base64
import io
import json
import random
import re
import shutil
import subprocess
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pikepdf
import pytest
from conftest import DEMO_DATA, new_case_cli, practice_init_cli, run_cli
from PIL import Image, ImageDraw
from pypdf import PdfReader

from casefile.tasks.demo.scenario import DEMO_DHS_ADDRESS, DEMO_DHS_OFFICE
from casefile.tasks.packets import build as packet
from casefile.tasks.packets import manifest as stored
from casefile.tasks.packets.exhibits import PlanInvalid, dump_plan, parse_plan, propose_plan, save_plan
from casefile.tasks.packets.translations import TranslatorInfo, link_translation

if TYPE_CHECKING:
    from casefile.tasks.core.runtime import Runtime

SAMPLE = DEMO_DATA / "sample"
TRANSLATIONS = DEMO_DATA / "translations"
SERVICE_DATE = date(2027, 2, 1)
TRANSLATOR = TranslatorInfo(
    "Sam Translator (fictional)", "2 Example Avenue; Queens, NY 11100", "(718) 555-0199", signed_electronically=True
)
# The eoir profile's DHS office is a placeholder a build refuses: the tests serve a fictional office explicitly, and
# file for the packaged fictional practice on purpose, as the demo does (tests/test_first_filing.py sets a practice).
DHS: dict[str, Any] = {
    "service_office": DEMO_DHS_OFFICE,
    "service_address": DEMO_DHS_ADDRESS,
    "fictional_practice": True,
}


@pytest.fixture(autouse=True)
def _no_ocr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CASEFILE_OCR_ENABLED", "false")


def _add(rt: Runtime, case_id: str, path: Path, doc_type: str = "unclassified") -> str:
    from casefile.tasks.documents import pipeline, text

    result = pipeline.ingest_file(rt, case_id, path, doc_type, searchable=False)
    document_id = pipeline.taken_in(result)
    assert document_id, result
    text.skip_text(rt, document_id)
    return document_id


def _edge_pdf(path: Path, size: tuple[float, float] = (612, 792)) -> Path:
    """A born-digital page whose black frame touches all four edges, with a centred word."""
    from fpdf import FPDF

    pdf = FPDF(unit="pt", format=size)
    pdf.set_auto_page_break(False)
    pdf.add_page()
    pdf.set_fill_color(0, 0, 0)
    w, h = size
    for x, y, bw, bh in ((0, 0, w, 12), (0, h - 12, w, 12), (0, 0, 12, h), (w - 12, 0, 12, h)):
        pdf.rect(x, y, bw, bh, style="F")
    pdf.set_font("helvetica", size=28)
    pdf.set_xy(0, h / 2)
    pdf.cell(w, 30, "EDGE TEST PAGE", align="C")
    pdf.output(str(path))
    return path


def _photo(path: Path, size: tuple[int, int] = (3000, 4000)) -> Path:
    """A 12-megapixel "phone photo" of a page (smooth, so the JPEG stays a few MB at most)."""
    image = Image.new("RGB", size, (236, 232, 220))
    draw = ImageDraw.Draw(image)
    for i in range(40):
        y = 300 + i * 85
        draw.rectangle((300, y, size[0] - 300 - (i % 5) * 200, y + 30), fill=(40, 40, 45))
    image.save(path, "JPEG", quality=90)
    return path


def _plan(rt: Runtime, case_id: str, rows: list[dict[str, Any]]) -> None:
    import yaml

    text = yaml.safe_dump({"case": case_id, "exhibits": rows}, sort_keys=False)
    save_plan(rt, parse_plan(text, "plan.yaml", case_id), "plan.yaml")


@pytest.fixture
def built_case(runtime: Runtime, case_id: str, tmp_path: Path) -> dict[str, str]:
    """A case with four exhibits: an English medical record, a Spanish police report with its translation, a page
    touching every edge, a 12-MP photo; plus a numbered country-conditions report."""
    docs = {
        "medical": _add(runtime, case_id, SAMPLE / "medical_record_en.pdf", "medical"),
        "denuncia": _add(runtime, case_id, SAMPLE / "denuncia_scan_es.pdf", "police"),
        "edge": _add(runtime, case_id, _edge_pdf(tmp_path / "edge.pdf")),
        "photo": _add(runtime, case_id, _photo(tmp_path / "photo.jpg")),
        "report": _add(runtime, case_id, _edge_pdf(tmp_path / "a4-report.pdf", (595.28, 841.89)), "country-conditions"),
    }
    _plan(
        runtime,
        case_id,
        [
            {"document": docs["medical"], "title": "Emergency room record", "date": "2023-08-18", "source": "Hospital"},
            {"document": docs["denuncia"], "title": "Police report (denuncia)", "language": "es", "source": "Police"},
            {"document": docs["edge"], "title": "Edge test page"},
            {"document": docs["photo"], "title": "Photo of a letter"},
            {"document": docs["report"], "title": "Country report", "section": "country"},
        ],
    )
    return docs


USCIS_LOCKBOX = ("USCIS (fictional lockbox)", "Attn: I-130", "P.O. Box 0000", "Chicago, IL 60600")


def _uscis_case(rt: Runtime, case_id: str, role: str = "petitioner", receipt: str | None = None) -> None:
    from casefile.tasks.cases.case import CaseChanges, normalise_receipt_number, parse_uscis_role, update_case

    number = normalise_receipt_number(receipt) if receipt else None
    update_case(rt, case_id, CaseChanges(uscis_role=parse_uscis_role(role), receipt_number=number))


def _translate(rt: Runtime, case_id: str, doc_id: str) -> str:
    tdoc = _add(rt, case_id, TRANSLATIONS / "denuncia_scan_es.en.pdf")
    with rt.catalog.session() as session:
        return link_translation(session, case_id, doc_id, tdoc, TRANSLATOR, date(2027, 1, 20), "es").id


def _build(rt: Runtime, case_id: str, **options: Any) -> stored.BuildResult:
    opts = packet.BuildOptions(service_date=SERVICE_DATE, **{**DHS, **options})
    return packet.build_packet(rt, case_id, opts)


def _download(rt: Runtime, result: stored.BuildResult, dest: Path) -> list[Path]:
    out = stored.download_build(rt, result.case_id, result.build_id, dest)
    return [Path(f["path"]) for f in out["files"]]


def _dark_rows(path: Path, index: int, dpi: int, tmp_path: Path) -> tuple[Image.Image, list[int]]:
    """Page ``index`` (0-based) rendered by poppler in grey, and the rows of pixels that have ink on them."""
    prefix = tmp_path / f"page-{index}"
    subprocess.run(
        [
            "pdftoppm",
            "-r",
            str(dpi),
            "-gray",
            "-png",
            "-f",
            str(index + 1),
            "-l",
            str(index + 1),
            str(path),
            str(prefix),
        ],
        check=True,
        timeout=60,
    )
    (png,) = tmp_path.glob(f"{prefix.name}*.png")
    image = Image.open(png).convert("L")
    width, height = image.size
    rows = image.tobytes()  # 8-bit grey, one byte per pixel, row after row
    return image, [y for y in range(height) if min(rows[y * width : (y + 1) * width]) < 128]


def _outline(reader: PdfReader) -> list[tuple[str, int, list[tuple[str, int]]]]:
    """Top-level bookmarks as (title, 0-based page, children)."""
    entries: list[tuple[str, int, list[tuple[str, int]]]] = []

    def where(item: Any) -> tuple[str, int]:
        page = reader.get_destination_page_number(item)
        assert page is not None
        return str(item.title), page

    for item in reader.outline:
        if isinstance(item, list):
            entries[-1][2].extend(where(c) for c in item)
        else:
            entries.append((*where(item), []))
    return entries


def _band_text(reader: PdfReader, index: int, band: float = 54.0) -> str:
    """Text drawn in the bottom band of a page (where the page number goes)."""
    parts: list[str] = []

    def visit(text: str, cm: Any, tm: Any, _font: Any, _size: Any) -> None:
        y = tm[5] * cm[3] + cm[5] if cm else tm[5]
        if text.strip() and y < band:
            parts.append(text)

    reader.pages[index].extract_text(visitor_text=visit)
    return "".join(parts).strip()


# Plans ------------------------------------------------------------------------------------------------------------
def test_plan_proposal_letters_client_documents_and_numbers_country_conditions(
    runtime: Runtime, case_id: str, tmp_path: Path
) -> None:
    medical = _add(runtime, case_id, SAMPLE / "medical_record_en.pdf", "medical")
    report = _add(runtime, case_id, _edge_pdf(tmp_path / "r.pdf"), "country-conditions")
    police = _add(runtime, case_id, SAMPLE / "denuncia_scan_es.pdf", "police")
    _add(runtime, case_id, _edge_pdf(tmp_path / "letter.pdf", (612, 790)), "request")  # a letter the practice sent
    plan = propose_plan(runtime, case_id)
    assert [(r.document, r.label, r.section) for r in plan.rows] == [
        (medical, "A", "client"),
        (police, "B", "client"),
        (report, "1", "country"),
    ]
    assert plan.rows[0].title.startswith("Medical record")
    # The YAML round-trips into the same list, and CSV does too.
    for fmt, name in (("yaml", "plan.yaml"), ("csv", "plan.csv")):
        parsed = parse_plan(dump_plan(plan, fmt), name, case_id)
        assert [(r.document, r.label, r.title) for r in parsed.rows] == [
            (r.document, r.label, r.title) for r in plan.rows
        ]
    saved = save_plan(runtime, parse_plan(dump_plan(plan, "yaml"), "p.yaml", case_id), "p.yaml")
    assert [e.label for e in saved] == ["A", "B", "1"]


def test_a_bad_plan_lists_every_problem_with_its_line(runtime: Runtime, case_id: str) -> None:
    medical = _add(runtime, case_id, SAMPLE / "medical_record_en.pdf")
    text = f"""case: {case_id}
exhibits:
- document: {medical}
  title: Good one
- document: D-NOTREAL2
  title: Missing document
- document: {medical}
  title: Same document again
  date: 2024-13-45
- document: {medical}
  title: ""
  section: appendix
  colour: red
"""
    with pytest.raises(PlanInvalid) as info:
        save_plan(runtime, parse_plan(text, "plan.yaml", case_id), "plan.yaml")
    problems = "\n".join(info.value.problems)
    # Field problems are reported together, before any catalog lookup.
    assert "line 7" in problems and "2024-13-45" in problems
    assert "line 10" in problems and "title" in problems and "appendix" in problems and "colour" in problems
    fixed = text.replace("  date: 2024-13-45\n", "").replace(
        'title: ""\n  section: appendix\n  colour: red', "title: x"
    )
    with pytest.raises(PlanInvalid) as info:
        save_plan(runtime, parse_plan(fixed, "plan.yaml", case_id), "plan.yaml")
    problems = "\n".join(info.value.problems)
    assert "line 5: document D-NOTREAL2 is not in case" in problems
    assert "line 7: document" in problems and "already exhibit on line 3" in problems
    with pytest.raises(PlanInvalid, match="not valid YAML"):
        parse_plan("exhibits: [\n", "broken.yaml", case_id)


# Builds -------------------------------------------------------------------------------------------------------------
def test_build_refuses_a_foreign_exhibit_without_translation(
    runtime: Runtime, case_id: str, built_case: dict[str, str]
) -> None:
    with pytest.raises(packet.MissingTranslations) as info:
        _build(runtime, case_id)
    assert info.value.missing == [("B", built_case["denuncia"], "es")]
    assert "Exhibit B" in info.value.message and "--allow-missing-translations" in info.value.message
    assert list(runtime.store.list("packets/")) == []


def test_override_is_recorded_in_the_manifest(runtime: Runtime, case_id: str, built_case: dict[str, str]) -> None:
    result = _build(runtime, case_id, allow_missing_translations=True)
    manifest = stored.load_manifest(runtime, case_id, result.build_id)
    assert manifest["overrides"][0]["override"] == "allow-missing-translations"
    assert manifest["overrides"][0]["exhibits"] == ["B"]
    assert result.missing_translations == ["B"]


def test_eoir_packet_pages_numbers_outline_and_translation_order(
    runtime: Runtime, case_id: str, built_case: dict[str, str], tmp_path: Path
) -> None:
    translation = _translate(runtime, case_id, built_case["denuncia"])
    result = _build(runtime, case_id)
    assert len(result.parts) == 1
    (path,) = _download(runtime, result, tmp_path / "out")
    reader = PdfReader(path)
    n = len(reader.pages)
    assert n == result.pages
    # cover, list, 5 tabs, 2+2+1+1+1 document pages, 2 translation pages + 1 certificate, certificate of service
    assert n == 1 + 1 + 5 + 7 + 3 + 1

    # Every page is letter size, upright, and carries its number in the bottom margin; labels match.
    for i, page in enumerate(reader.pages):
        assert (round(float(page.mediabox.width)), round(float(page.mediabox.height))) == (612, 792)
        assert page.get("/Rotate", 0) == 0
        assert _band_text(reader, i) == str(i + 1), f"page {i + 1}"
    assert [reader.page_labels[i] for i in range(n)] == [str(i + 1) for i in range(n)]

    outline = _outline(reader)
    titles = [t for t, _p, _c in outline]
    assert titles[:2] == ["Cover page", "Index of Exhibits"] and titles[-1] == "Certificate of service"
    assert titles[2:-1] == [
        "Exhibit A: Emergency room record",
        "Exhibit B: Police report (denuncia)",
        "Exhibit C: Edge test page",
        "Exhibit D: Photo of a letter",
        "Exhibit 1: Country report",
    ]
    # Translation order: the document, then its English translation, then the translator's certificate.
    _t, b_page, children = outline[3]
    assert [c[0] for c in children] == ["Document", "English translation", "Translator's certificate"]
    assert b_page < children[0][1] < children[1][1] < children[2][1] < outline[4][1]
    cert_text = reader.pages[children[2][1]].extract_text()
    assert "Sam Translator (fictional)" in cert_text and "Spanish" in cert_text and "English" in cert_text
    assert "competent" in cert_text.lower()

    # The exhibit list's printed ranges match the outline: first = the tab page, last = the page before the next.
    list_text = reader.pages[1].extract_text()
    starts = [p for _t, p, _c in outline[2:]]
    for k, (title, start, _c) in enumerate(outline[2:-1]):
        first, last = start + 1, starts[k + 1]
        label = title.split(":")[0].split()[1]
        assert re.search(rf"\b{label}\b.*?\b{first}\s*[-–]\s*{last}\b", list_text, re.S), (label, first, last)
    manifest = stored.load_manifest(runtime, case_id, result.build_id)
    assert manifest["inputs"][1]["translation"]["id"] == translation
    assert [e["first_page"] for e in manifest["exhibits"]] == [s + 1 for s in starts[:-1]]
    assert manifest["outputs"][0]["sha256"] == result.parts[0].sha256
    assert "Maria" not in json.dumps(manifest) and "123456789" not in json.dumps(manifest)

    subprocess.run(["qpdf", "--check", str(path)], check=True, capture_output=True, timeout=60)


def _letter_pdf(path: Path, words: str) -> Path:
    from fpdf import FPDF

    pdf = FPDF(unit="pt", format="letter")
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.text(72, 144, words)
    pdf.output(str(path))
    return path


@pytest.mark.parametrize(
    ("title", "source"),
    [
        ("Letter", "Aunt"),  # rows of one line: the list is shorter than its first pass guessed
        ("Letter from the applicant's aunt about the threats the family received", "Family member (fictional)"),
    ],
)
def test_a_long_exhibit_list_prints_the_ranges_of_its_final_length(
    runtime: Runtime, case_id: str, tmp_path: Path, title: str, source: str
) -> None:
    """Eighteen one-page exhibits: the list's page count is guessed before it is laid out, and whatever the guess,
    the list prints each exhibit's range where its bookmark is (the build's own check would refuse it otherwise)."""
    letters = [_letter_pdf(tmp_path / f"letter-{i}.pdf", f"Fictional letter number {i}") for i in range(18)]
    rows = [
        {"document": _add(runtime, case_id, letter), "title": f"{title} {i}", "source": source}
        for i, letter in enumerate(letters)
    ]
    _plan(runtime, case_id, rows)
    result = _build(runtime, case_id)
    (path,) = _download(runtime, result, tmp_path / "out")
    reader = PdfReader(path)
    outline = _outline(reader)
    list_first, first_tab = outline[1][1], outline[2][1]
    list_text = "".join(reader.pages[i].extract_text() for i in range(list_first, first_tab))
    starts = [p for _t, p, _c in outline[2:]]
    assert len(starts) == 18 + 1
    for k, (tab_title, start, _c) in enumerate(outline[2:-1]):
        label = tab_title.split(":")[0].split()[1]
        assert re.search(rf"\b{label}\b.*?\b{start + 1}\s*[-–]\s*{starts[k + 1]}\b", list_text, re.S), label
    assert result.pages == len(reader.pages) == 1 + (first_tab - list_first) + 18 * 2 + 1


def test_rebuild_of_the_same_inputs_is_byte_identical(
    runtime: Runtime, case_id: str, built_case: dict[str, str], tmp_path: Path
) -> None:
    _translate(runtime, case_id, built_case["denuncia"])
    first = _build(runtime, case_id)
    again = _build(runtime, case_id)
    assert again.reused and again.build_id == first.build_id
    # Remove the stored build entirely and build it from scratch: the same id and the same bytes.
    for key in list(runtime.store.list(f"packets/{case_id}/")):
        runtime.store.delete(key)
    rebuilt = _build(runtime, case_id)
    assert not rebuilt.reused and rebuilt.build_id == first.build_id
    assert [p.sha256 for p in rebuilt.parts] == [p.sha256 for p in first.parts]
    # A different service date is a different input: a different build.
    other = packet.build_packet(runtime, case_id, packet.BuildOptions(service_date=date(2027, 2, 2), **DHS))
    assert other.build_id != first.build_id
    assert {b["build_id"] for b in stored.list_builds(runtime, case_id)} == {first.build_id, other.build_id}


def test_photo_pages_are_downsampled_in_the_packet_only(
    runtime: Runtime, case_id: str, built_case: dict[str, str], tmp_path: Path
) -> None:
    result = _build(runtime, case_id, allow_missing_translations=True)
    with runtime.catalog.session() as session:
        photo = runtime.catalog.get_document(session, built_case["photo"])
        original_key, original_sha = photo.original_key, photo.sha256
    assert original_key is not None
    assert runtime.store.download(original_key, tmp_path / "orig.jpg") == original_sha  # the original is untouched
    # 3000x4000 px fitted into about 7 x 9.3 in is about 430 dpi: resampled to 300 dpi, about half the pixels.
    assert result.images_downsampled == 1
    assert result.bytes_saved > (tmp_path / "orig.jpg").stat().st_size * 0.3
    (path,) = _download(runtime, result, tmp_path / "out")
    # The photo in the packet: about half its pixels, and far fewer bytes than the stored original. (The packet as a
    # whole is not compared with the photo: each template rendering embeds its own font subsets, see renderings.py.)
    with pikepdf.open(path) as pdf:
        photo_in_packet = max(
            (o for o in pdf.objects if isinstance(o, pikepdf.Stream) and o.stream_dict.get("/Subtype") == "/Image"),
            key=lambda o: int(o.Width) * int(o.Height),
        )
        assert int(photo_in_packet.Width) * int(photo_in_packet.Height) < 3000 * 4000 * 0.6
        assert len(photo_in_packet.read_raw_bytes()) < (tmp_path / "orig.jpg").stat().st_size * 0.7


def test_a_large_image_in_a_practice_template_is_downsampled_too(
    runtime: Runtime, case_id: str, built_case: dict[str, str], tmp_path: Path
) -> None:
    """Template pages go through the same downsampling rule as exhibit pages (a letterhead scanned at 1200 dpi)."""
    logo = io.BytesIO()
    noise = random.Random(7).randbytes(1200 * 1200 * 3)  # noise: its PNG does not compress to nothing
    Image.frombytes("RGB", (1200, 1200), noise).save(logo, "PNG")
    overrides = tmp_path / "overrides" / "packet"
    overrides.mkdir(parents=True)
    (overrides / "cover_page.html.j2").write_text(
        '{% extends "packet/base.html.j2" %}{% block body %}'
        f'<img src="data:image/png;base64,{base64.b64encode(logo.getvalue()).decode()}" style="width:1in;height:1in">'
        "<p>{{ filing_title }}</p>{% endblock %}",
        encoding="utf-8",
    )
    settings = runtime.settings.model_copy(update={"template_overrides": tmp_path / "overrides"})
    options = packet.BuildOptions(service_date=SERVICE_DATE, allow_missing_translations=True, **DHS)
    result = packet.build_packet(replace(runtime, settings=settings), case_id, options)
    assert result.images_downsampled == 2  # the client's photo and the letterhead
    (path,) = _download(runtime, result, tmp_path / "out")
    with pikepdf.open(path) as pdf:
        images = list(pikepdf.Page(pdf.pages[0]).get_images().values())
        assert [(int(im.Width), int(im.Height)) for im in images] == [(300, 300)]  # 1 in at 300 dpi


def test_a_layer_the_document_hides_stays_hidden_in_the_packet(runtime: Runtime, case_id: str, tmp_path: Path) -> None:
    from test_pagelayout import halves, layered_pdf

    doc = _add(runtime, case_id, layered_pdf(tmp_path / "layered.pdf"))
    _plan(runtime, case_id, [{"document": doc, "title": "Letter with layers"}])
    result = _build(runtime, case_id)
    (path,) = _download(runtime, result, tmp_path / "out")
    page = next(p for t, p, _c in _outline(PdfReader(path)) if t.startswith("Exhibit A")) + 2  # after the tab page
    left, right = halves(path, tmp_path, page)
    assert left < 235 and right > 250, (left, right)  # the hidden square is not drawn (only the page number is)
    with pikepdf.open(path) as pdf:
        assert [str(g.Name) for g in pdf.Root.OCProperties.D.OFF] == ["Hidden"]


def test_stamp_sits_in_the_margin_below_content_on_an_edge_to_edge_page(
    runtime: Runtime, case_id: str, built_case: dict[str, str], tmp_path: Path
) -> None:
    result = _build(runtime, case_id, allow_missing_translations=True)
    (path,) = _download(runtime, result, tmp_path / "out")
    reader = PdfReader(path)
    outline = _outline(reader)
    edge_page = next(p for t, p, _c in outline if t.startswith("Exhibit C")) + 1  # after the tab page
    dpi = 50
    image, dark_rows = _dark_rows(path, edge_page, dpi, tmp_path)
    width, height = image.size
    band_top = height - round(54 / 72 * dpi)
    content_rows = [y for y in dark_rows if y < band_top]
    stamp_rows = [y for y in dark_rows if y >= band_top]
    assert content_rows and stamp_rows
    # The frame that touched every edge of the source page is now inside the page, above the stamp band.
    assert min(content_rows) > 0 and max(content_rows) < band_top - 2
    assert max(stamp_rows) < height - 1
    stamp_box = image.crop((0, band_top, width, height)).point(lambda v: 255 if v < 128 else 0).getbbox()
    assert stamp_box is not None and stamp_box[0] > width * 0.3 and stamp_box[2] < width * 0.7  # centred number
    assert _band_text(reader, edge_page) == str(edge_page + 1)


@pytest.mark.parametrize(
    ("stamp", "bottom", "top"),
    [
        ({"enabled": False}, 36 + 54, 36),  # numbers only: their band below
        ({"enabled": True, "position": "top-right"}, 36 + 54, 36 + 54),  # numbers below, labels on top
        ({"enabled": True, "position": "bottom-right", "offset": "0.9in"}, 36 + 64.8 + 15, 36),  # same edge: deeper
    ],
)
def test_exhibit_pages_are_fitted_clear_of_every_stamp_band(stamp: dict[str, Any], bottom: float, top: float) -> None:
    from test_pagelayout import profile_with

    numbers = {"enabled": True, "position": "bottom-center", "offset": "0.5in", "font_size": "10pt"}
    profile = profile_with(page={"fit_margin": "0.5in"}, page_numbers=numbers, stamp={"font_size": "10pt", **stamp})
    fit, _labels = packet._layouts(profile)
    x0, y0, x1, y1 = fit.content_box()
    assert (x0, x1) == (36, 612 - 36)
    assert y0 == pytest.approx(bottom) and 792 - y1 == pytest.approx(top)


def test_numbers_below_and_labels_on_top_both_stay_clear_of_the_content(
    runtime: Runtime, case_id: str, built_case: dict[str, str], tmp_path: Path
) -> None:
    """A practice profile may number pages at the bottom and label exhibits at the top-right: exhibit pages are then
    fitted between the two bands."""
    config = tmp_path / "config"
    shutil.copytree(runtime.settings.config_dir, config)
    eoir = config / "profiles" / "eoir.toml"
    eoir.write_text(
        eoir.read_text(encoding="utf-8")
        + '\n[stamp]\nenabled = true\nformat = "Exhibit {label}, page {i} of {n}"\nposition = "top-right"\n'
        'offset = "0.5in"\nfont_size = "10pt"\nstamp_front_matter = false\n',
        encoding="utf-8",
    )
    settings = runtime.settings.model_copy(update={"config_dir": config})
    options = packet.BuildOptions(service_date=SERVICE_DATE, allow_missing_translations=True, **DHS)
    result = packet.build_packet(replace(runtime, settings=settings), case_id, options)  # its check passed
    (path,) = _download(runtime, result, tmp_path / "out")
    reader = PdfReader(path)
    edge_page = next(p for t, p, _c in _outline(reader) if t.startswith("Exhibit C")) + 1  # after the tab page
    dpi = 50
    image, dark = _dark_rows(path, edge_page, dpi, tmp_path)
    height = image.height
    band = round(54 / 72 * dpi)
    content = [y for y in dark if band <= y < height - band]
    assert content and [y for y in dark if y < band] and [y for y in dark if y >= height - band]  # label, number
    assert min(content) > band + 2 and max(content) < height - band - 2  # the edge page's frame, clear of both
    assert _band_text(reader, edge_page) == str(edge_page + 1)
    assert "Exhibit C, page 2 of 2" in reader.pages[edge_page].extract_text()


def test_split_into_parts_under_the_size_limit_keeps_numbering(
    runtime: Runtime, case_id: str, built_case: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config"
    shutil.copytree(runtime.settings.config_dir, config)
    profile = (config / "profiles" / "eoir.toml").read_text(encoding="utf-8")
    limit = 250_000  # the police report scan and the photo exhibit are each larger than this on their own
    (config / "profiles" / "eoir.toml").write_text(
        profile.replace("ecas = 26_214_400", f"ecas = {limit}"), encoding="utf-8"
    )
    settings = runtime.settings.model_copy(update={"config_dir": config})
    result = packet.build_packet(
        replace(runtime, settings=settings),
        case_id,
        packet.BuildOptions(service_date=SERVICE_DATE, allow_missing_translations=True, **DHS),
    )
    assert len(result.parts) >= 2
    assert [p.name for p in result.parts] == [
        f"{case_id}-eoir-exhibits-part{i:02d}.pdf" for i in range(1, len(result.parts) + 1)
    ]
    paths = _download(runtime, result, tmp_path / "out")
    expected = 1
    exhibit_parts: dict[str, set[int]] = {}
    for k, (path, part) in enumerate(zip(paths, result.parts, strict=True)):
        assert path.stat().st_size <= limit
        reader = PdfReader(path)
        assert part.first_page == expected
        for i in range(len(reader.pages)):
            assert _band_text(reader, i) == str(expected), (path.name, i)
            assert reader.page_labels[i] == str(expected)
            expected += 1
        for title, _p, _c in _outline(reader):
            exhibit_parts.setdefault(title.removesuffix(" (continued)"), set()).add(k)
    assert expected - 1 == result.pages
    # No exhibit is cut across parts unless it is bigger than the limit on its own.
    split = [t for t, parts in exhibit_parts.items() if len(parts) > 1]
    assert split and all(t.startswith(("Exhibit B", "Exhibit D")) for t in split), split


def test_a_packet_just_under_the_size_limit_stays_one_file(
    runtime: Runtime, case_id: str, built_case: dict[str, str], tmp_path: Path
) -> None:
    """The builder skips writing the whole packet when its inputs are well over the limit; when the packet itself
    fits (downsampling, pages not copied), it is still one file with the packet's own name, not "part01"."""
    whole = _build(runtime, case_id, allow_missing_translations=True)
    (only,) = whole.parts
    config = tmp_path / "config"
    shutil.copytree(runtime.settings.config_dir, config)
    profile = (config / "profiles" / "eoir.toml").read_text(encoding="utf-8")
    (config / "profiles" / "eoir.toml").write_text(
        profile.replace("ecas = 26_214_400", f"ecas = {only.bytes}"), encoding="utf-8"
    )
    settings = runtime.settings.model_copy(update={"config_dir": config})
    options = packet.BuildOptions(service_date=SERVICE_DATE, allow_missing_translations=True, **DHS)
    tight = packet.build_packet(replace(runtime, settings=settings), case_id, options)
    assert tight.build_id != whole.build_id  # the profile is an input
    assert [(p.name, p.pages, p.bytes) for p in tight.parts] == [(only.name, only.pages, only.bytes)]


def test_uscis_packet_labels_every_exhibit_page(
    runtime: Runtime, case_id: str, built_case: dict[str, str], tmp_path: Path
) -> None:
    _translate(runtime, case_id, built_case["denuncia"])
    _uscis_case(runtime, case_id)
    result = _build(runtime, case_id, profile="uscis", recipient=USCIS_LOCKBOX)
    (path,) = _download(runtime, result, tmp_path / "out")
    reader = PdfReader(path)
    outline = _outline(reader)
    assert [t for t, _p, _c in outline[:2]] == ["Cover letter", "Exhibit Index"]
    b_start = next(p for t, p, _c in outline if t.startswith("Exhibit B"))
    c_start = next(p for t, p, _c in outline if t.startswith("Exhibit C"))
    n = c_start - b_start  # document + translation + certificate, no tab pages
    assert n == 2 + 2 + 1
    for i in range(n):
        text = reader.pages[b_start + i].extract_text()
        assert f"Exhibit B, page {i + 1} of {n}" in text
    assert "Exhibit" not in _band_text(reader, 0, band=72)  # the cover letter is not labelled
    letter = reader.pages[0].extract_text()
    assert "Exhibit A" in letter and "Exhibit 1" not in letter  # one lettered series for USCIS
    assert "Exhibit E" in letter


def test_markup_in_client_supplied_text_is_printed_literally(
    runtime: Runtime, case_id: str, built_case: dict[str, str], tmp_path: Path
) -> None:
    hostile = '<b>Carta</b> & "apoyo" <script>x</script>'
    _plan(runtime, case_id, [{"document": built_case["medical"], "title": hostile}])
    result = _build(runtime, case_id)
    (path,) = _download(runtime, result, tmp_path / "out")
    text = PdfReader(path).pages[1].extract_text()
    assert "<b>Carta</b>" in text and "<script>x</script>" in text


def test_a_failed_build_leaves_nothing_that_looks_finished(
    runtime: Runtime, case_id: str, built_case: dict[str, str], tmp_path: Path
) -> None:
    from casefile.tasks.core.render import TemplateError

    overrides = tmp_path / "overrides" / "packet"
    overrides.mkdir(parents=True)
    (overrides / "certificate_of_service.html.j2").write_text("{{ service.no_such_field }}", encoding="utf-8")
    settings = runtime.settings.model_copy(update={"template_overrides": tmp_path / "overrides"})
    with pytest.raises(TemplateError, match="no_such_field"):
        packet.build_packet(
            replace(runtime, settings=settings),
            case_id,
            packet.BuildOptions(service_date=SERVICE_DATE, allow_missing_translations=True, **DHS),
        )
    assert list(runtime.store.list("packets/")) == []
    assert stored.list_builds(runtime, case_id) == []
    assert not list((runtime.settings.work_dir).glob("packet-*"))


# CLI + Prefect ------------------------------------------------------------------------------------------------------
@pytest.mark.prefect
def test_cli_plan_set_translate_build_list_get_check(prefect_api: str, tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {"CASEFILE_OCR_ENABLED": "false"}
    case_id = new_case_cli(home)
    practice_init_cli(home, dhs_office=False)
    proc = run_cli(
        "add",
        case_id,
        str(SAMPLE / "medical_record_en.pdf"),
        str(SAMPLE / "denuncia_scan_es.pdf"),
        "--json",
        home=home,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    docs = {Path(i["file"]).name: i["document_id"] for i in json.loads(proc.stdout)["items"]}

    plan_file = tmp_path / "plan.yaml"
    proc = run_cli("exhibits", "plan", case_id, "-o", str(plan_file), "--json", home=home, env=env)
    assert proc.returncode == 0, proc.stderr
    text = plan_file.read_text(encoding="utf-8")
    # OCR is off here, so mark the Spanish document's language by hand, as an advocate would.
    import yaml

    plan = yaml.safe_load(text)
    for row in plan["exhibits"]:
        if row["document"] == docs["denuncia_scan_es.pdf"]:
            row["language"] = "es"
    plan_file.write_text(yaml.safe_dump(plan), encoding="utf-8")
    proc = run_cli("exhibits", "set", case_id, str(plan_file), "--json", home=home, env=env)
    assert proc.returncode == 0, proc.stderr
    saved = json.loads(proc.stdout)["exhibits"]
    assert [e["label"] for e in saved] == ["A", "B"]
    spanish = next(e["label"] for e in saved if e["document"] == docs["denuncia_scan_es.pdf"])

    # The eoir profile's DHS office is a placeholder: refused, saying where to set the real one (a setting: exit 7).
    proc = run_cli("packet", "build", case_id, "--json", home=home, env=env)
    assert proc.returncode == 7
    assert json.loads(proc.stdout)["error"]["type"] == "ServiceOfficePlaceholder"
    dhs = ("--service-office", DEMO_DHS_OFFICE, "--service-address", "; ".join(DEMO_DHS_ADDRESS))
    proc = run_cli("packet", "build", case_id, *dhs, "--json", home=home, env=env)
    assert proc.returncode != 0
    err = json.loads(proc.stdout)["error"]
    assert err["type"] == "MissingTranslations" and f"Exhibit {spanish}:" in err["message"]

    proc = run_cli(
        "translation",
        "add",
        case_id,
        str(TRANSLATIONS / "denuncia_scan_es.en.pdf"),
        "--for",
        docs["denuncia_scan_es.pdf"],
        "--translator",
        "Sam Translator (fictional)",
        "--address",
        "2 Example Avenue; Queens, NY 11100",
        "--phone",
        "(718) 555-0199",
        "--signed-electronically",
        "--json",
        home=home,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["for"] == docs["denuncia_scan_es.pdf"]
    assert json.loads(proc.stdout)["signature"] == "electronic"

    proc = run_cli("packet", "build", case_id, *dhs, "--service-date", "2027-02-01", "--json", home=home, env=env)
    assert proc.returncode == 0, proc.stderr
    built = json.loads(proc.stdout)
    assert built["pages"] == 1 + 1 + 2 + 2 + 2 + 2 + 1 + 1 and len(built["parts"]) == 1

    proc = run_cli("packet", "list", case_id, "--json", home=home)
    assert [b["build_id"] for b in json.loads(proc.stdout)] == [built["build_id"]]
    out = tmp_path / "download"
    proc = run_cli("packet", "get", case_id, "-o", str(out), "--json", home=home)
    assert proc.returncode == 0, proc.stderr
    (got,) = json.loads(proc.stdout)["files"]
    pdf = Path(got["path"])
    assert got["sha256"] == built["parts"][0]["sha256"]

    proc = run_cli("packet", "check", str(pdf), "--profile", "eoir", "--json", home=home)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert json.loads(proc.stdout)["findings"] == [] or all(
        f["severity"] != "error" for f in json.loads(proc.stdout)["findings"]
    )
    # Drop one page: the check finds the gap in the numbering and refuses.
    import pikepdf

    with pikepdf.open(pdf) as broken:
        del broken.pages[5]
        broken.save(tmp_path / "gap.pdf")
    proc = run_cli("packet", "check", str(tmp_path / "gap.pdf"), "--json", home=home)
    assert proc.returncode == 4
    assert any(f["severity"] == "error" for f in json.loads(proc.stdout)["findings"])
    # A packet that must continue an earlier filing's numbering (a supplemental filing) is refused when it does not.
    proc = run_cli("packet", "check", str(pdf), "--first-page", "40", "--json", home=home)
    assert proc.returncode == 4
    assert [f["code"] for f in json.loads(proc.stdout)["findings"] if f["severity"] == "error"] == ["numbering-start"]


def test_the_prefect_artifact_has_labels_documents_and_ranges_but_no_titles_or_client_data(
    runtime: Runtime, case_id: str, built_case: dict[str, str]
) -> None:
    from conftest import A_NUMBER, CLIENT_NAME

    result = _build(runtime, case_id, allow_missing_translations=True)
    md = stored.artifact_markdown(result)
    assert f"| A | {built_case['medical']} |" in md and result.parts[0].name in md
    assert "Emergency room record" not in md  # titles default to file names: never in Prefect
    assert CLIENT_NAME not in md and A_NUMBER not in md and "123-456-789" not in md
    assert "Built without translations for:** B" in md


def test_a_document_in_use_cannot_be_removed(runtime: Runtime, case_id: str, built_case: dict[str, str]) -> None:
    """`casefile doc rm` on an exhibit or a translation is refused with what uses it; nothing changes."""
    from casefile.tasks.core.catalog import Document
    from casefile.tasks.documents.removal import DocumentInUse, delete_document

    translation = _translate(runtime, case_id, built_case["denuncia"])
    with pytest.raises(DocumentInUse) as info:
        delete_document(runtime, built_case["denuncia"], "tester")
    assert "exhibit B" in info.value.message and f"original translated in {translation}" in info.value.message
    with runtime.catalog.session() as session:
        assert session.get(Document, built_case["denuncia"]) is not None
    _plan(runtime, case_id, [{"document": built_case["medical"], "title": "Only this one"}])
    assert delete_document(runtime, built_case["edge"], "tester") == built_case["edge"]
    with runtime.catalog.session() as session:
        assert session.get(Document, built_case["edge"]) is None


@pytest.mark.s3
def test_packet_in_s3_over_http(runtime: Runtime, case_id: str, s3_store: object, tmp_path: Path) -> None:
    """The same build against moto's S3 server: parts and manifest under packets/<case>/<build>/, listed and
    downloaded with their SHA-256 verified."""
    from casefile.tasks.core.storage import S3ObjectStore

    assert isinstance(s3_store, S3ObjectStore)
    rt = replace(runtime, store=s3_store)
    medical = _add(rt, case_id, SAMPLE / "medical_record_en.pdf", "medical")
    edge = _add(rt, case_id, _edge_pdf(tmp_path / "edge.pdf"))
    _plan(rt, case_id, [{"document": medical, "title": "Medical record"}, {"document": edge, "title": "Edge"}])
    result = _build(rt, case_id)
    keys = list(s3_store.list(f"packets/{case_id}/"))
    assert keys == sorted([p.key for p in result.parts] + [result.manifest_key])
    assert [b["build_id"] for b in stored.list_builds(rt, case_id)] == [result.build_id]
    assert stored.list_builds(rt, case_id)[0]["location"].startswith("s3://")
    (path,) = _download(rt, result, tmp_path / "out")
    assert len(PdfReader(path).pages) == result.pages == 1 + 1 + (1 + 2) + (1 + 1) + 1  # cover, list, tab+doc x2, COS


def test_a_supplemental_filing_continues_the_first_packets_exhibit_letters_and_page_numbers(
    runtime: Runtime, case_id: str, built_case: dict[str, str], tmp_path: Path
) -> None:
    """Evidence that arrives after the first filing goes in a second packet (`--continue-from`): the exhibits already
    filed are left out, the new ones go on from the first packet's letters, its pages from the first packet's last
    page number, and its own cover and exhibit list say that it is a supplemental filing."""
    from casefile.tasks.core.errors import ValidationError
    from casefile.tasks.packets.check import check_packet
    from casefile.tasks.packets.profile import load_profile

    _translate(runtime, case_id, built_case["denuncia"])
    first = _build(runtime, case_id)
    assert [e["label"] for e in first.exhibits] == ["A", "B", "C", "D", "1"]
    last_page = first.parts[-1].last_page
    late = _add(runtime, case_id, SAMPLE / "school_record_2pages.tif", "school")
    _plan(
        runtime,
        case_id,
        [
            {"document": built_case["medical"], "title": "Emergency room record", "source": "Hospital"},
            {"document": built_case["denuncia"], "title": "Police report (denuncia)", "language": "es"},
            {"document": built_case["edge"], "title": "Edge test page"},
            {"document": built_case["photo"], "title": "Photo of a letter"},
            {"document": late, "title": "School record", "source": "School"},
            {"document": built_case["report"], "title": "Country report", "section": "country"},
        ],
    )
    second = _build(runtime, case_id, continue_from=first.build_id.lower())
    assert second.build_id != first.build_id
    assert [(e["label"], e["document_id"]) for e in second.exhibits] == [("E", late)]
    assert second.parts[0].first_page == last_page + 1
    (path,) = _download(runtime, second, tmp_path / "second")
    manifest = stored.load_manifest(runtime, case_id, second.build_id)
    assert manifest["continues"] == {"build_id": first.build_id, "first_page": last_page + 1}
    reader = PdfReader(path)
    assert reader.page_labels[0] == str(last_page + 1)
    cover, listing = (re.sub(r"\s+", " ", reader.pages[i].extract_text()) for i in (0, 1))
    assert "Supplemental filing" in cover and "Supplemental filing" in listing
    (row,) = second.exhibits
    assert row["first_page"] > last_page + 1 and f"{row['first_page']}\u2013{row['last_page']}" in listing

    # The check knows where a supplemental filing must start: the first packet is not one.
    profile = runtime.config(load_profile, "eoir")
    report = check_packet([path], profile, first_number=last_page + 1)
    assert not [f for f in report.findings if f.severity == "error"], report.findings
    (first_path,) = _download(runtime, first, tmp_path / "first")
    wrong = check_packet([first_path], profile, first_number=last_page + 1)
    assert [f.code for f in wrong.findings if f.severity == "error"] == ["numbering-start"]

    # Nothing new to file: refused, naming what to do.
    with pytest.raises(ValidationError, match="filed in packet"):
        _build(runtime, case_id, continue_from=second.build_id)


def test_a_corrupted_stream_in_a_new_packet_is_caught_even_when_its_original_was_verified_before(
    runtime: Runtime, case_id: str, built_case: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check does not decode again a picture copied byte for byte from a stored document whose pictures were
    verified once (the verdict is kept by the document's SHA-256); any other stream, and a picture whose bytes are
    not the verified ones, is decoded on every build. A builder that damaged a picture of an exhibit on the way into
    the packet is caught by the next build's check, however many verdicts the earlier builds kept."""
    from casefile.tasks.packets import prepare, qpdf_child

    first = _build(runtime, case_id, allow_missing_translations=True)
    pieces = stored.load_manifest(runtime, case_id, first.build_id)["pieces"]
    assert pieces["written"].get("verdicts", 0) >= 4  # every stored document's pictures verified once, and kept

    real = prepare.prepare_source
    damaged: list[str] = []

    def damaging(job: prepare.PrepareJob) -> prepare.PrepareResult:
        result = real(job)
        if job.name == f"document {built_case['denuncia']}":
            with pikepdf.open(result.out, allow_overwriting_input=True) as pdf:
                for obj in pdf.objects:
                    if isinstance(obj, pikepdf.Stream) and obj.stream_dict.get("/Filter") == "/DCTDecode":
                        data = obj.read_raw_bytes()
                        obj.write(data[: len(data) // 2], filter=pikepdf.Name.DCTDecode)
                        damaged.append(str(obj.objgen))
                pdf.save(result.out)
        return result

    monkeypatch.setattr(prepare, "prepare_source", damaging)
    verified: list[object] = []  # documents whose pictures are verified again (none: every verdict is kept)
    monkeypatch.setattr(qpdf_child, "verify_pictures", lambda path: verified.append(path))
    settings = runtime.settings.model_copy(update={"packet_workers": 1})  # jobs in this process: the patch applies
    options = packet.BuildOptions(service_date=date(2027, 2, 2), allow_missing_translations=True, **DHS)
    with pytest.raises(packet.PacketCheckFailed) as refused:
        packet.build_packet(replace(runtime, settings=settings), case_id, options)
    assert damaged, "the scanned police report has a JPEG page to damage"
    assert verified == []  # the damaged pictures were caught although their document's verdict trusts its pictures
    assert "qpdf-check" in str(refused.value.problems)
    assert {b["build_id"] for b in stored.list_builds(runtime, case_id)} == {first.build_id}


def test_a_kept_piece_is_found_only_by_the_same_inputs_and_never_when_its_bytes_changed(runtime: Runtime) -> None:
    """Pieces of builds (tasks/packets/cache.py) are keyed by everything they are made from: another content, setting
    or code version is another key; a stored piece whose bytes no longer match its checksum is made again."""
    from casefile.tasks.packets.cache import PieceCache, piece_key

    key = piece_key("images", source="a" * 64, layout={"image_dpi": 300}, code="v1")
    assert key == piece_key("images", layout={"image_dpi": 300}, source="a" * 64, code="v1")  # order does not count
    others = [
        piece_key("images", source="b" * 64, layout={"image_dpi": 300}, code="v1"),  # content
        piece_key("images", source="a" * 64, layout={"image_dpi": 200}, code="v1"),  # settings
        piece_key("images", source="a" * 64, layout={"image_dpi": 300}, code="v2"),  # code version
        piece_key("verdicts", source="a" * 64, layout={"image_dpi": 300}, code="v1"),  # kind
    ]
    assert len({key.digest, *(k.digest for k in others)}) == 5

    cache = PieceCache(runtime.store)
    cache.put(key, b"resampled images")
    assert cache.get(key) == b"resampled images"
    assert all(cache.get(k) is None for k in others)
    stored = runtime.store.get_bytes(key.object_key)
    runtime.store.put_bytes(key.object_key, stored[:-1] + b"X")  # one byte changed in the store
    assert cache.get(key) is None
    assert PieceCache(runtime.store, enabled=False).get(others[0]) is None
