"""Ingest now makes every page searchable: OCR where needed, page text in the catalog, and search.

One case with the sample documents is ingested once (real Prefect flow, real Tesseract); the tests then
look at what it produced through the catalog and the `casefile` command line.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import DEMO_DATA, run_cli
from sqlalchemy import select

from casefile.tasks.core.catalog import Document
from casefile.tasks.core.errors import ExitCode
from casefile.tasks.core.runtime import Runtime, get_runtime, reset_runtimes
from casefile.tasks.documents.intake import create_batch, expand_inputs
from casefile.tasks.search.backends import search_index

pytestmark = pytest.mark.prefect

SAMPLE = DEMO_DATA / "sample"


@pytest.fixture(scope="module")
def searchable(prefect_api: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Runtime, str, Path]]:
    from casefile.flows.ingest import ingest_case
    from casefile.tasks.cases.case import create_case
    from casefile.tasks.demo.scenario import fictional_case

    home = tmp_path_factory.mktemp("search") / "home"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CASEFILE_HOME", str(home))
        reset_runtimes()
        runtime = get_runtime()
        new = fictional_case(client="Fictional Search Client", a_number="A 222 333 444", court="Newark, NJ")
        with runtime.catalog.session() as session:
            case_id = create_case(session, new).id
            batch_id = create_batch(session, case_id, expand_inputs([SAMPLE]), "unclassified").id
        counts = ingest_case(batch_id)
        assert counts["stored"] == 6 and counts["failed"] == 0
        yield runtime, case_id, home
        reset_runtimes()


def docs_by_name(runtime: Runtime, case_id: str) -> dict[str, Document]:
    with runtime.catalog.session() as session:
        docs = session.scalars(select(Document).where(Document.case_id == case_id)).all()
        for doc in docs:
            _ = doc.pages  # load while the session is open
        return {d.original_name: d for d in docs}


def search(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli("search", *args, home=home)


def test_pages_record_text_source_language_and_words(searchable: tuple[Runtime, str, Path]) -> None:
    runtime, case_id, _ = searchable
    docs = docs_by_name(runtime, case_id)
    born_digital = docs["medical_record_en.pdf"]
    assert born_digital.ocr_status == "done"
    assert {p.text_source for p in born_digital.pages} == {"text-layer"}
    assert {p.language for p in born_digital.pages} == {"en"}
    assert all(p.words_json is None and p.ocr_confidence is None for p in born_digital.pages)
    assert born_digital.searchable_key == born_digital.normalised_key  # nothing to add: no new object

    scan = docs["denuncia_scan_es.pdf"]
    assert [p.text_source for p in scan.pages] == ["ocr", "ocr"]
    assert [p.language for p in scan.pages] == ["es", "es"]
    assert all(p.ocr_confidence is not None and p.ocr_confidence > 80 for p in scan.pages)
    assert scan.pages[0].text is not None and "amenaza" in scan.pages[0].text
    words = json.loads(scan.pages[0].words_json or "[]")
    assert any(w[0].startswith("denunciante") for w in words)
    width, height = scan.pages[0].width_pt, scan.pages[0].height_pt
    assert all(0 <= w[2] < w[4] <= width + 1 and 0 <= w[3] < w[5] <= height + 1 for w in words)
    assert scan.searchable_key is not None and scan.searchable_key != scan.normalised_key

    rotated = docs["phone_photo_rotated.jpg"]
    assert rotated.pages[0].text_source == "ocr"
    assert rotated.pages[0].rotation == 90  # EXIF orientation 6, kept as the page's /Rotate
    assert "CONSTANCIA" in (rotated.pages[0].text or "") and "congregación" in (rotated.pages[0].text or "")


def test_search_accents_phrases_prefix_and_filters(searchable: tuple[Runtime, str, Path]) -> None:
    _, case_id, home = searchable
    accents = json.loads(search(home, "medica comisaria", "--json").stdout)
    assert [h["document"] for h in accents] == ["denuncia_scan_es.pdf"]

    phrase = json.loads(search(home, '"amenaza de muerte"', "--case", case_id, "--json").stdout)
    assert {h["document"] for h in phrase} >= {"denuncia_scan_es.pdf"}
    assert all("[amenaza de muerte]" in h["snippet"].lower() for h in phrase)
    assert all(h["language"] == "es" and h["case_id"] == case_id for h in phrase)
    assert [h["rank"] for h in phrase] == list(range(1, len(phrase) + 1))

    prefix = json.loads(search(home, "intimidat*", "--json").stdout)
    assert [(h["document"], h["page"]) for h in prefix] == [("denuncia_scan_es.pdf", 1)]

    assert json.loads(search(home, "amenaza", "--lang", "en", "--json").stdout) == []
    assert json.loads(search(home, "amenaza", "--type", "medical", "--json").stdout) == []
    unknown = search(home, "amenaza", "--case", "C-22222X", "--json")
    assert unknown.returncode == ExitCode.NOT_FOUND
    assert json.loads(unknown.stdout)["error"]["type"] == "CaseNotFound"


def test_bad_query_is_a_clear_error(searchable: tuple[Runtime, str, Path]) -> None:
    _, _, home = searchable
    for query in ('"amenaza de', "*", "OR", "(amenaza"):
        proc = search(home, query)
        assert proc.returncode == ExitCode.USAGE, query
        # the home in use may be named first (CASEFILE_HOME is not the working directory's); then the error alone
        assert "Traceback" not in proc.stderr and proc.stderr.splitlines()[-1].startswith("error: ")


def test_searchable_pdf_has_the_ocr_text(searchable: tuple[Runtime, str, Path], tmp_path: Path) -> None:
    runtime, case_id, home = searchable
    scan = docs_by_name(runtime, case_id)["denuncia_scan_es.pdf"]
    out = tmp_path / "searchable.pdf"
    got = run_cli("doc", "get", scan.id, "--searchable", "-o", str(out), "--json", home=home)
    assert got.returncode == 0, got.stderr
    assert json.loads(got.stdout)["sha256"] == scan.searchable_sha256
    text = subprocess.run(["pdftotext", "-raw", str(out), "-"], capture_output=True, text=True, check=True).stdout
    assert "amenaza de muerte" in text
    assert "denunciante" in text


def test_reindex_and_rerun_never_duplicate_rows(searchable: tuple[Runtime, str, Path]) -> None:
    from casefile.flows.ingest import ingest_case

    runtime, case_id, home = searchable
    before = search_index(runtime).count_pages(case_id=case_id)
    assert before == 9  # every page of the six documents has text
    for args in (["reindex"], ["reindex", "--case", case_id]):
        proc = run_cli(*args, "--json", home=home)
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout)["pages_indexed"] == before
        assert search_index(runtime).count_pages(case_id=case_id) == before
    with runtime.catalog.session() as session:
        batch_id = create_batch(session, case_id, expand_inputs([SAMPLE]), "unclassified").id
    counts = ingest_case(batch_id)
    assert counts["duplicate"] == 6
    assert search_index(runtime).count_pages(case_id=case_id) == before


def test_removing_a_document_removes_its_pages_from_the_index(searchable: tuple[Runtime, str, Path]) -> None:
    runtime, case_id, home = searchable
    doc = docs_by_name(runtime, case_id)["phone_photo_letter.jpg"]
    assert search_index(runtime).count_pages(document_id=doc.id) == 1
    proc = run_cli("doc", "rm", doc.id, "--json", home=home)
    assert proc.returncode == 0, proc.stderr
    assert search_index(runtime).count_pages(document_id=doc.id) == 0
    hits = json.loads(search(home, '"amenaza de muerte"', "--json").stdout)
    assert doc.id not in {h["document_id"] for h in hits}
    assert run_cli("doc", "show", doc.id, home=home).returncode == ExitCode.NOT_FOUND
