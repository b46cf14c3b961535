"""A long scan's OCR streams: page results go to their destination as they arrive and are let go, and the text-only
pages Tesseract returns are gathered into files that the searchable PDF is assembled from.

Memory figures belong in benchmarks/bench_ocr.py (``--only long-scan``); these tests check the mechanism: what is
held, and that the output is the same as it was.
"""

from __future__ import annotations

import gc
import importlib.util
import weakref
from pathlib import Path
from types import ModuleType

import pypdfium2 as pdfium
import pytest

from casefile.tasks.core.runtime import Runtime
from casefile.tasks.documents import ocr, pipeline, text
from casefile.tasks.documents.ocr import PageResult, PageSpool, Word, ocr_document

RESOURCES = Path(__file__).parent / "resources"


def _load_generate() -> ModuleType:
    spec = importlib.util.spec_from_file_location("generate", RESOURCES / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


generate = _load_generate()


def _ocr_page(number: int) -> PageResult:
    return PageResult(
        number,
        "ocr",
        text=f"Declaración de testigo, página {number}",
        confidence=91.25,
        language="es",
        words=[Word("Declaración", 90.5, 10.0, 20.0, 80.25, 31.5), Word(f"{number}", 92.0, 85.0, 20.0, 90.0, 31.5)],
        low_confidence=False,
        rotation_applied=90,
        width=612.0,
        height=792.0,
        languages={"es": 0.93, "en": 0.07},
        seconds=1.5,
    )


def test_page_results_are_handed_on_in_page_order_holding_only_the_early_ones() -> None:
    handed: list[int] = []
    ordered = ocr._InOrder(lambda page: handed.append(page.number))
    for number in (2, 3):
        ordered.put(PageResult(number, "ocr"))
    assert handed == [] and sorted(ordered.early) == [2, 3]
    ordered.put(PageResult(1, "blank"))
    assert handed == [1, 2, 3] and not ordered.early
    ordered.put(PageResult(5, "ocr"))
    ordered.put(PageResult(4, "failed", error="Tesseract failed"))
    assert handed == [1, 2, 3, 4, 5] and not ordered.early
    assert ordered.counts == {"ocr": 3, "blank": 1, "failed": 1} and ordered.emitted == 5


def test_spooled_page_results_are_read_back_as_written_and_not_kept(tmp_path: Path) -> None:
    spool = PageSpool(tmp_path)
    gone = []
    for number in range(1, 201):
        page = _ocr_page(number)
        gone.append(weakref.ref(page))
        spool.append(page)
    del page
    gc.collect()
    assert not any(ref() is not None for ref in gone)  # the spool keeps offsets, not the pages
    assert list(tmp_path.iterdir()) == []  # an unnamed file: nothing left behind by a crash
    assert len(spool) == 200
    assert spool[0] == _ocr_page(1) and spool[-1] == _ocr_page(200)
    assert spool[98:100] == [_ocr_page(99), _ocr_page(100)]
    assert [p.number for p in spool] == list(range(1, 201))
    spool.close()


def test_a_long_documents_page_results_are_let_go_as_they_are_spooled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pages = [[f"Page {n} of a fictional medical record.", *generate.MEDICAL_RECORD_EN[n % 2][:4]] for n in range(40)]
    source = tmp_path / "record.pdf"
    generate.make_born_digital_pdf(source, pages)
    spooled: list[weakref.ref[PageResult]] = []
    real_append = PageSpool.append

    def watching(self: PageSpool, page: PageResult) -> None:
        spooled.append(weakref.ref(page))
        real_append(self, page)

    monkeypatch.setattr(PageSpool, "append", watching)
    result = ocr_document(source, tmp_path / "out.pdf", workers=1, spool_folder=tmp_path / "spool")
    gc.collect()
    assert isinstance(result.pages, PageSpool) and len(spooled) == 40
    assert not any(ref() is not None for ref in spooled)  # nothing in ocr_document holds a page once it is spooled
    assert [p.number for p in result.pages] == list(range(1, 41))
    assert all(p.source == "text-layer" for p in result.pages) and result.text_pages == 40
    assert result.pages[7].text.startswith("Page 7 of a fictional medical record.")


def test_pdfium_is_opened_afresh_while_a_long_document_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ocr, "PDFIUM_REOPEN_PAGES", 3)
    source = tmp_path / "record.pdf"
    generate.make_born_digital_pdf(source, [[f"Entry {n} of a fictional visit log."] for n in range(10)])
    opened: list[object] = []
    real_open = pdfium.PdfDocument

    def counting(path: object) -> pdfium.PdfDocument:
        opened.append(path)
        return real_open(path)

    monkeypatch.setattr(pdfium, "PdfDocument", counting)
    pages = ocr.PdfiumPages(source)
    try:
        for index in range(10):
            page = pages[index]
            textpage = page.get_textpage()
            assert f"Entry {index} of a fictional visit log." in textpage.get_text_range()
            textpage.close()
            page.close()
    finally:
        pages.close()
    assert len(opened) == 4  # pages 1-3, 4-6, 7-9, 10: what PDFium parsed is let go with each old document


MARKERS = ["Harbor", "Meadow", "Lantern", "Orchard", "Granite"]


@pytest.mark.tesseract
def test_searchable_pdf_is_assembled_from_text_layer_chunks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ocr, "TEXT_CHUNK_PAGES", 2)
    held: list[int] = []
    real_add = ocr._Grafter.add

    def watching(self: ocr._Grafter, number: int, text_pdf: bytes, matrix: ocr.Affine) -> None:
        real_add(self, number, text_pdf, matrix)
        held.append(len(self.sources))

    monkeypatch.setattr(ocr._Grafter, "add", watching)
    source = tmp_path / "scan.pdf"
    generate.make_scanned_pdf(
        source, [[f"Witness statement {word}", "The fictional clinic opened at nine."] for word in MARKERS], dpi=200
    )
    out = tmp_path / "searchable.pdf"
    result = ocr_document(source, out, workers=1, osd=False)
    assert result.searchable_pdf == out and result.ocr_pages == len(MARKERS)
    assert max(held) <= 2 and len(held) == len(MARKERS)  # at most one chunk's text-only PDFs open at a time
    assert not any(p.name.startswith(".ocr-text-") for p in tmp_path.iterdir())  # chunk files removed
    doc = pdfium.PdfDocument(out)
    try:
        for index, word in enumerate(MARKERS):
            textpage = doc[index].get_textpage()
            text = textpage.get_text_range()
            textpage.close()
            assert word in text and word in result.pages[index].text
            assert all(other not in text for other in MARKERS if other != word)
    finally:
        doc.close()


@pytest.mark.tesseract  # the text stage checks Tesseract's language packs first (no page here is OCR'd)
def test_a_long_documents_pages_are_recorded_in_batches_all_in_one_go(
    runtime: Runtime, case_id: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(text, "RECORD_FLUSH_PAGES", 7)
    source = tmp_path / "visit-log.pdf"
    generate.make_born_digital_pdf(source, [[f"Entry {n + 1} of a fictional visit log."] for n in range(23)])
    result = pipeline.ingest_file(runtime, case_id, source, "unclassified")
    assert result.document_id is not None
    with runtime.catalog.session() as session:
        doc = runtime.catalog.get_document(session, result.document_id)
        assert doc.ocr_status == "done"
        rows = sorted(doc.pages, key=lambda p: p.number)
        assert [p.number for p in rows] == list(range(1, 24))
        for row in rows:
            assert row.text_source == "text-layer"
            assert f"Entry {row.number} of a fictional visit log." in (row.text or "")
