"""OCR on real Tesseract: synthetic pages rendered from known text, the searchable PDF, failures and timeouts.

One module-scoped run of ``ocr_document`` (two worker processes) over a mixed document serves most asserts:
a born-digital page, an English scan, a Spanish scan, a blank scan, a scan stored sideways (OSD must turn it),
and a scan under a junk invisible text layer. Smaller in-process runs (``workers=1``) count Tesseract calls
through the wrapper and inject failures, as OCRmyPDF's tests replace a tool with one that fails.

Accuracy bounds: bench_ocr measured 0.06% (English) and 0.15% (Spanish) character error rate on clean
synthetic scans; these pages carry noise and skew, so the bounds are 2% for scans and 4% for the phone photo.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import re
import subprocess
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import img2pdf
import pikepdf
import pytest
from fpdf import FPDF
from fpdf.enums import TextMode
from PIL import Image
from pypdf import PdfReader

from casefile.tasks.core.errors import ToolError, ToolMissing, ToolTimeout
from casefile.tasks.core.settings import DEMO_DATA
from casefile.tasks.documents import ocr, tesseract
from casefile.tasks.documents.ocr import (
    Affine,
    DocumentOcr,
    PageGeometry,
    PageResult,
    assess_text_layer,
    ocr_document,
    unit_rotation,
)

pytestmark = pytest.mark.tesseract  # real Tesseract throughout (the fast lane leaves this module out)

RESOURCES = Path(__file__).parent / "resources"
CER_SCAN = 0.02
CER_PHOTO = 0.04


def _load_generate() -> ModuleType:
    spec = importlib.util.spec_from_file_location("generate", RESOURCES / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


generate = _load_generate()

ENGLISH = [
    "# Bronx Example Medical Center (fictional)",
    "Emergency department note - SYNTHETIC TEST DOCUMENT",
    "The patient reports that two armed men entered her house and struck her left arm with a metal pipe.",
    "X-ray of the left forearm shows a fracture of the ulna. The wound was cleaned and sutured.",
    "Her son was expelled from school after the family received threats by telephone.",
    "She was advised to return in two weeks for a follow-up visit.",
]
SPANISH = [
    "# Comisaría de San Isidro (ficticia)",
    "Denuncia presentada por la señora Quiroga Test el 18 de agosto de 2023.",
    "La denunciante manifiesta que dos hombres armados entraron a su vivienda y la golpearon.",
    "Le dijeron que la matarían si no se iba del barrio; ella lo entiende como una amenaza de muerte.",
    "Un médico del hospital la atendió esa misma noche y le suturó una herida en el brazo.",
    "Se registra la denuncia por lesiones, allanamiento de morada y amenaza de muerte.",
]
SIDEWAYS = [
    "# Constancia (ficticia)",
    "Hacemos constar que la señora asiste a nuestra congregación todos los domingos.",
    "Colabora como voluntaria en el banco de alimentos desde noviembre de 2023.",
    "Se extiende la presente a solicitud de la interesada.",
]
UNDER_JUNK = [
    "# Certificate of attendance (fictional)",
    "This certifies that the student attended school every day in January.",
    "Signed by the school registrar, Bronx Example Public School 000.",
]
GIBBERISH = "xqzt brvk mnpl wrtzx qqpt klmnv hgfd zxcvb tsrq plkj"


# Helpers -------------------------------------------------------------------------------------------------------


def normalise(text: str) -> str:
    """Whitespace collapsed and headings unmarked: line wrapping is not an OCR error."""
    return " ".join(unicodedata.normalize("NFC", text).replace("# ", " ").split())


def levenshtein(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, start=1):
        current = [i]
        for j, char_b in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b)))
        previous = current
    return previous[-1]


def cer(recognised: str, truth_lines: list[str]) -> float:
    truth = normalise("\n".join(truth_lines))
    return levenshtein(normalise(recognised), truth) / len(truth)


def words_of(text: str) -> set[str]:
    return {w.lower() for w in re.findall(r"\w+", text) if len(w) > 2}


def scan_jpeg(lines: list[str], *, dpi: int = 300, skew: float = 0.6, seed: int = 1, turn: int = 0) -> bytes:
    """A grey page rendered from known text with noise and skew, JPEG-encoded like a scanner would.

    ``turn`` stores the pixels turned that many degrees counter-clockwise (a page fed sideways).
    """
    page = generate.render_text_page(lines, dpi=dpi, skew_deg=skew, noise=0.02, seed=seed)
    if turn:
        page = page.rotate(turn, expand=True)
    buffer = io.BytesIO()
    page.save(buffer, format="JPEG", quality=80, dpi=(dpi, dpi))
    return buffer.getvalue()


def jpeg_pdf(jpeg: bytes) -> bytes:
    """A one-page PDF holding the JPEG unchanged, as intake makes it (img2pdf, internal engine)."""
    return bytes(img2pdf.convert(jpeg, engine=img2pdf.Engine.internal, rotation=img2pdf.Rotation.ifvalid))


def junk_layer_pdf(jpeg: bytes, folder: Path) -> bytes:
    """A scan under an invisible text layer of gibberish (a bad earlier OCR)."""
    image_path = folder / "junk-scan.jpg"
    image_path.write_bytes(jpeg)
    pdf = FPDF(unit="pt", format="letter")
    pdf.add_page()
    pdf.image(str(image_path), x=0, y=0, w=612, h=792)
    pdf.add_font("DejaVu", "", str(generate.FONT_REGULAR))
    pdf.set_font("DejaVu", size=10)
    pdf.text_mode = TextMode.INVISIBLE
    for row in range(12):
        pdf.text(72, 100 + 14 * row, GIBBERISH)
    return bytes(pdf.output())


def join_pdfs(parts: list[bytes], out: Path) -> None:
    with pikepdf.Pdf.new() as joined:
        sources = [pikepdf.open(io.BytesIO(part)) for part in parts]
        for source in sources:
            joined.pages.extend(source.pages)
        joined.save(out)
        for source in sources:
            source.close()


def image_streams(path: Path) -> list[dict[str, bytes]]:
    """Per page, the raw (still encoded) bytes of every image XObject, by resource name."""
    with pikepdf.open(path) as pdf:
        out: list[dict[str, bytes]] = []
        for page in pdf.pages:
            xobjects = page.obj.get("/Resources")
            found: dict[str, bytes] = {}
            if isinstance(xobjects, pikepdf.Dictionary) and "/XObject" in xobjects:
                for name, obj in xobjects["/XObject"].items():
                    if obj.get("/Subtype") == pikepdf.Name.Image:
                        found[name] = bytes(obj.read_raw_bytes())
            out.append(found)
        return out


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# The mixed document, OCR'd once --------------------------------------------------------------------------------

PAGE_BORN_DIGITAL, PAGE_ENGLISH, PAGE_SPANISH, PAGE_BLANK, PAGE_SIDEWAYS, PAGE_JUNK = range(1, 7)


@dataclass
class MixedRun:
    source: Path
    source_sha256_before: str
    result: DocumentOcr
    out: Path

    def page(self, number: int) -> PageResult:
        return self.result.pages[number - 1]


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> MixedRun:
    folder = tmp_path_factory.mktemp("ocr-mixed")
    source = folder / "mixed.pdf"
    join_pdfs(
        [
            generate.born_digital_pdf_bytes([generate.MEDICAL_RECORD_EN[0][:9]]),
            jpeg_pdf(scan_jpeg(ENGLISH, seed=1)),
            jpeg_pdf(scan_jpeg(SPANISH, seed=2, skew=-0.5)),
            jpeg_pdf(scan_jpeg([], seed=3)),
            jpeg_pdf(scan_jpeg(SIDEWAYS, seed=4, turn=90)),
            junk_layer_pdf(scan_jpeg(UNDER_JUNK, seed=5, skew=0.3), folder),
        ],
        source,
    )
    before = sha256(source)
    out = folder / "searchable.pdf"
    result = ocr_document(source, out, workers=2, page_timeout=120.0)
    return MixedRun(source, before, result, out)


def test_every_page_has_an_outcome(mixed: MixedRun) -> None:
    assert [p.number for p in mixed.result.pages] == [1, 2, 3, 4, 5, 6]
    assert [p.source for p in mixed.result.pages] == ["text-layer", "ocr", "ocr", "blank", "ocr", "ocr"]
    assert (mixed.result.text_pages, mixed.result.ocr_pages, mixed.result.blank_pages) == (1, 4, 1)
    assert mixed.result.failed_pages == 0
    assert all(p.error is None for p in mixed.result.pages)


def test_born_digital_page_keeps_its_text(mixed: MixedRun) -> None:
    page = mixed.page(PAGE_BORN_DIGITAL)
    assert "Bronx Example Medical Center" in page.text
    assert "123-456-789" in page.text
    assert page.words == [] and page.confidence is None
    assert page.language == "en"


def test_english_scan_recognised(mixed: MixedRun) -> None:
    page = mixed.page(PAGE_ENGLISH)
    assert cer(page.text, ENGLISH) < CER_SCAN
    assert {"fracture", "expelled", "forearm"} <= words_of(page.text)
    assert page.language == "en"
    assert page.confidence is not None and page.confidence > 80
    assert not page.low_confidence


def test_spanish_scan_keeps_accents(mixed: MixedRun) -> None:
    page = mixed.page(PAGE_SPANISH)
    assert cer(page.text, SPANISH) < CER_SCAN
    text = normalise(page.text)
    for phrase in ("amenaza de muerte", "médico", "denuncia", "señora", "suturó"):
        assert phrase in text
    assert page.language == "es"
    assert page.languages == {"es": 1.0}


def test_blank_page(mixed: MixedRun) -> None:
    page = mixed.page(PAGE_BLANK)
    assert (page.source, page.text, page.error, page.words) == ("blank", "", None, [])


def test_sideways_scan_turned_by_osd(mixed: MixedRun) -> None:
    page = mixed.page(PAGE_SIDEWAYS)
    # Stored turned 90 degrees counter-clockwise, so it must be turned 90 degrees clockwise to read.
    assert page.rotation_applied == 90
    assert cer(page.text, SIDEWAYS) < CER_SCAN
    assert (page.width, page.height) == (612.0, 792.0)  # displayed upright in the searchable PDF
    with pikepdf.open(mixed.out) as pdf:
        assert int(pdf.pages[PAGE_SIDEWAYS - 1].obj.get("/Rotate", 0)) == 90


def test_junk_text_layer_is_ocrd(mixed: MixedRun) -> None:
    assert not assess_text_layer(GIBBERISH * 3).usable
    page = mixed.page(PAGE_JUNK)
    assert page.source == "ocr"
    assert cer(page.text, UNDER_JUNK) < CER_SCAN
    assert "xqzt" not in page.text


def test_word_boxes_are_on_the_displayed_page(mixed: MixedRun) -> None:
    # render_text_page puts the first line one inch (72 pt) from the top-left corner; skew moves it a little.
    for number in (PAGE_ENGLISH, PAGE_SPANISH, PAGE_SIDEWAYS):
        page = mixed.page(number)
        first = page.words[0]
        assert 60 < first.x0 < 90 and 60 < first.y0 < 95, (number, first)
        for word in page.words:
            assert 0 <= word.x0 < word.x1 <= page.width and 0 <= word.y0 < word.y1 <= page.height
            assert 0 <= word.conf <= 100


def test_searchable_pdf_keeps_original_pages(mixed: MixedRun) -> None:
    assert mixed.result.searchable_pdf == mixed.out
    assert sha256(mixed.source) == mixed.source_sha256_before  # the input is not modified
    before, after = image_streams(mixed.source), image_streams(mixed.out)
    assert len(after) == len(before) == 6
    assert all(before[1:])  # every page but the born-digital one holds its scan...
    assert after == before  # ...and keeps it byte for byte: not re-encoded, not resampled
    with pikepdf.open(mixed.source) as original, pikepdf.open(mixed.out) as searchable:
        for number, (old, new) in enumerate(zip(original.pages, searchable.pages, strict=True), start=1):
            old_streams = [bytes(s.read_raw_bytes()) for s in _contents(old)]
            new_streams = [bytes(s.read_raw_bytes()) for s in _contents(new)]
            grafted = mixed.page(number).source == "ocr"
            # The original content streams are all still there, unchanged, after the one we drew first.
            assert new_streams[int(grafted) :] == old_streams, number
            assert [float(v) for v in new.mediabox] == [float(v) for v in old.mediabox]


def _contents(page: pikepdf.Page) -> list[pikepdf.Object]:
    contents = page.obj.Contents
    return list(contents) if isinstance(contents, pikepdf.Array) else [contents]


def pdftotext_pages(path: Path) -> list[str]:
    """Text of each page in raw (content-stream) order, by poppler's pdftotext: an independent reader.

    (pypdf would do too, but parses the 65,536-entry ToUnicode map of Tesseract's GlyphLessFont on every page,
    about 0.25 s a page.)
    """
    done = subprocess.run(["pdftotext", "-raw", str(path), "-"], capture_output=True, check=True, timeout=60)
    return done.stdout.decode("utf-8").split("\f")[:-1]


def test_searchable_pdf_text_matches_recognised_words(mixed: MixedRun) -> None:
    pages = pdftotext_pages(mixed.out)
    assert len(pages) == 6
    for number in (PAGE_ENGLISH, PAGE_SPANISH, PAGE_SIDEWAYS, PAGE_JUNK):
        recognised = words_of(mixed.page(number).text)
        assert recognised and recognised <= words_of(pages[number - 1]), number
    assert "amenaza de muerte" in normalise(pages[PAGE_SPANISH - 1])
    assert pages[PAGE_BLANK - 1].strip() == ""
    assert PdfReader(mixed.out).pages[PAGE_ENGLISH - 1].extract_text().split() == mixed.page(PAGE_ENGLISH).text.split()


# The phone photo with EXIF orientation (img2pdf's /Rotate) -----------------------------------------------------


def test_phone_photo_with_exif_rotation(tmp_path: Path) -> None:
    source = tmp_path / "photo.pdf"
    source.write_bytes(jpeg_pdf((DEMO_DATA / "sample" / "phone_photo_rotated.jpg").read_bytes()))
    with pikepdf.open(source) as pdf:
        assert int(pdf.pages[0].obj.Rotate) == 90  # EXIF orientation 6, as intake stores it
    result = ocr_document(source, tmp_path / "photo-ocr.pdf", workers=1)
    page = result.pages[0]
    assert page.source == "ocr" and page.rotation_applied == 0  # /Rotate already made it upright
    assert cer(page.text, generate.CONSTANCIA_ES) < CER_PHOTO
    assert page.language == "es"
    assert (page.width, page.height) == (1200.0, 1600.0)  # as displayed: portrait
    assert image_streams(source) == image_streams(tmp_path / "photo-ocr.pdf")


# In-process runs: counting Tesseract calls and injecting failures -----------------------------------------------


@pytest.fixture(scope="module")
def small_mixed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Spanish scan, born-digital page, English scan: small 200-dpi pages so in-process runs stay quick."""
    path = tmp_path_factory.mktemp("ocr-small") / "small.pdf"
    join_pdfs(
        [
            jpeg_pdf(scan_jpeg(SPANISH[:3], dpi=200, seed=6)),
            generate.born_digital_pdf_bytes([generate.MEDICAL_RECORD_EN[1][:6]]),
            jpeg_pdf(scan_jpeg(ENGLISH[:3], dpi=200, seed=7)),
        ],
        path,
    )
    return path


@pytest.fixture
def ocr_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[bytes]]:
    """Every image handed to Tesseract for OCR in this process; rendering pages is made to fail loudly."""
    calls: list[bytes] = []
    real = tesseract.ocr_image

    def recording(image: Path, **kwargs: Any) -> tesseract.OcrOutput:
        calls.append(image.read_bytes())
        return real(image, **kwargs)

    def no_rendering(path: str) -> None:
        raise AssertionError("a page that is one JPEG must not be rendered")

    monkeypatch.setattr(tesseract, "ocr_image", recording)
    monkeypatch.setattr(ocr, "_render_doc", no_rendering)
    yield calls


def test_born_digital_page_makes_no_ocr_call(small_mixed: Path, ocr_calls: list[bytes], tmp_path: Path) -> None:
    result = ocr_document(small_mixed, tmp_path / "out.pdf", workers=1)
    assert [p.source for p in result.pages] == ["ocr", "text-layer", "ocr"]
    assert len(ocr_calls) == 2  # the two scans, not the born-digital page
    # Tesseract read the embedded JPEGs themselves: no rasterising, no re-encoding.
    embedded = [next(iter(page.values())) for page in image_streams(small_mixed) if page]
    assert ocr_calls == embedded


def test_ocr_switched_off_reads_text_layers_only(small_mixed: Path, ocr_calls: list[bytes], tmp_path: Path) -> None:
    """ocr_enabled = false: the born-digital page's own text is still read (and so searchable); the scans are
    recorded as skipped, with no Tesseract call and no searchable PDF."""
    result = ocr_document(small_mixed, tmp_path / "out.pdf", workers=1, ocr=False)
    assert [p.source for p in result.pages] == ["skipped", "text-layer", "skipped"]
    assert ocr_calls == [] and result.searchable_pdf is None and not (tmp_path / "out.pdf").exists()
    assert "healed linear scar" in (result.pages[1].text or "")
    assert result.pages[1].language == "en"


def test_failing_tesseract_fails_only_that_page(
    small_mixed: Path, ocr_calls: list[bytes], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    recording = tesseract.ocr_image
    failures = iter([True])

    def fails_once(image: Path, **kwargs: Any) -> tesseract.OcrOutput:
        if next(failures, False):
            raise ToolError("Tesseract failed (exit code 1): injected failure")
        return recording(image, **kwargs)

    monkeypatch.setattr(tesseract, "ocr_image", fails_once)
    out = tmp_path / "out.pdf"
    result = ocr_document(small_mixed, out, workers=1)
    first, second, third = result.pages
    assert first.source == "failed" and first.error is not None and "injected" in first.error
    assert first.text == "" and first.words == []
    assert (second.source, third.source) == ("text-layer", "ocr")
    assert result.failed_pages == 1 and result.searchable_pdf == out
    pages = pdftotext_pages(out)
    assert len(pages) == 3
    assert pages[0].strip() == ""  # copied as it was, without a text layer
    assert "metal pipe" in pages[2]


def test_page_timeout_fails_pages_not_the_document(small_mixed: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.pdf"
    result = ocr_document(small_mixed, out, workers=2, page_timeout=0.05)
    assert [p.source for p in result.pages] == ["failed", "text-layer", "failed"]
    assert all(p.error for p in (result.pages[0], result.pages[2]))
    assert "Physical examination" in result.pages[1].text
    assert result.searchable_pdf is None and not out.exists()  # nothing was grafted: no new file


def test_only_text_pages_write_no_searchable_pdf(tmp_path: Path) -> None:
    source = tmp_path / "born.pdf"
    generate.make_born_digital_pdf(source, generate.MEDICAL_RECORD_EN)
    result = ocr_document(source, tmp_path / "out.pdf", workers=2)
    assert [p.source for p in result.pages] == ["text-layer", "text-layer"]
    assert result.searchable_pdf is None and not (tmp_path / "out.pdf").exists()


def test_output_must_be_a_new_file(small_mixed: Path) -> None:
    with pytest.raises(ValueError):
        ocr_document(small_mixed, small_mixed)


# The Tesseract wrapper ------------------------------------------------------------------------------------------


def test_probe_reports_version_and_languages() -> None:
    info = tesseract.probe()
    assert re.match(r"\d+\.\d+", info.version)
    assert {"eng", "spa", "osd"} <= info.languages
    tesseract.check_languages("eng+spa", info)
    with pytest.raises(ToolMissing):
        tesseract.check_languages("eng+xyz", info)


def test_missing_binary_is_tool_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    import pytesseract

    monkeypatch.setattr(pytesseract.pytesseract, "tesseract_cmd", "/nonexistent/tesseract")
    with pytest.raises(ToolMissing):
        tesseract.probe()


def test_tool_failure_keeps_the_cause(tmp_path: Path) -> None:
    with pytest.raises(ToolError) as caught:
        tesseract.run([str(tmp_path / "missing.png"), "-"], timeout=30)
    assert caught.value.__cause__ is not None


def test_timeout_kills_tesseract_and_removes_partial_output(tmp_path: Path) -> None:
    image = tmp_path / "page.jpg"
    image.write_bytes(scan_jpeg(ENGLISH, dpi=300))
    with pytest.raises(ToolTimeout):
        tesseract.ocr_image(image, languages="eng+spa", dpi=300, timeout=0.05)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["page.jpg"]


def test_osd_on_a_blank_image_is_unknown_orientation(tmp_path: Path) -> None:
    image = tmp_path / "blank.pgm"
    Image.new("L", (1275, 1650), 250).save(image)
    assert tesseract.detect_orientation(image, dpi=150, timeout=30) == tesseract.Orientation(0, 0.0)


def test_osd_finds_a_sideways_page(tmp_path: Path) -> None:
    image = tmp_path / "sideways.jpg"
    image.write_bytes(scan_jpeg(SIDEWAYS, dpi=150, turn=90))
    orientation = tesseract.detect_orientation(image, dpi=150, timeout=30)
    assert orientation.rotate == 90 and orientation.known


# Pure pieces ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "usable"),
    [
        ("The patient reports a fracture of the left arm after an assault.", True),
        ("Exhibit A", True),
        ("Свидетельство о рождении выдано отделом записи актов гражданского состояния", True),
        ("", False),
        ("\ufffd\ufffd\ufffd\ufffd \ufffd\ufffd\ufffd fracture", False),
        ("!#$% &*()+ =<>? ~^|` §¶†‡ •‰″ fracture", False),
        (GIBBERISH, False),
        ("\x01\x02\x03\x04\x05\x06 abc", False),
    ],
)
def test_text_layer_assessment(text: str, usable: bool) -> None:
    assert assess_text_layer(text).usable is usable


def test_affine_inverse_and_rotations() -> None:
    m = Affine(2, 0, 0, 3, 10, 20)
    assert m.then(m.inverse()).close_to(Affine(), 1e-9)
    for degrees in (0, 90, 180, 270):
        assert unit_rotation(degrees).then(unit_rotation(360 - degrees)).close_to(Affine(), 1e-9)
    assert unit_rotation(90).apply(0, 1) == (0, 0)  # the turned image's top-left was the bottom-left


def test_view_coordinates_follow_rotate_and_cropbox() -> None:
    geometry = PageGeometry(50, 100, 500, 700, 90)  # 450 x 600 box, displayed turned clockwise
    assert geometry.view_size() == (600, 450)
    to_view = geometry.user_to_view_points()
    assert to_view.apply(50, 100) == pytest.approx((0, 0))  # bottom-left goes to the top-left
    assert to_view.apply(50, 700) == pytest.approx((600, 0))  # top-left goes to the top-right
    assert to_view.apply(500, 100) == pytest.approx((0, 450))
