"""`casefile check`: a home's stored objects against their SHA-256, interrupted batches, leftovers, unfinished and
damaged packet builds; what `--repair` fixes from what is stored, and what it says to do about the rest."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from conftest import DEMO_DATA, new_case_cli, run_cli
from sqlalchemy import select

from casefile.tasks.core.catalog import Document, IntakeBatch
from casefile.tasks.core.errors import ExitCode
from casefile.tasks.core.storage import original_key
from casefile.tasks.core.workdirs import OWNER_FILE, work_folder
from casefile.tasks.documents import intake, pipeline
from casefile.tasks.health.doctor import DAMAGED_MANIFEST, check_home

if TYPE_CHECKING:
    from casefile.tasks.core.runtime import Runtime

SAMPLE = DEMO_DATA / "sample"


@pytest.fixture(autouse=True)
def _no_ocr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CASEFILE_OCR_ENABLED", "false")


def codes(report: Any, *, open_only: bool = False) -> set[tuple[str, str]]:
    problems = report.open_problems if open_only else report.problems
    return {(p.code, p.subject) for p in problems if p.area != "tools"}


def old(path: Path, seconds: float = 7200) -> None:
    os.utime(path, (time.time() - seconds, time.time() - seconds))


def test_a_healthy_home_has_nothing_to_fix(runtime: Runtime, case_id: str) -> None:
    pipeline.ingest_files(runtime, case_id, [SAMPLE / "id_card.png", SAMPLE / "medical_record_en.pdf"], "unclassified")
    report = check_home(runtime)
    assert codes(report) == set()
    assert report.ok and report.checked["documents"] == 2 and report.checked["document_objects"] == 3


def test_damaged_and_missing_objects_are_found_and_what_can_be_made_again_is(
    runtime: Runtime, case_id: str, home: Path
) -> None:
    pipeline.ingest_files(runtime, case_id, [SAMPLE / "id_card.png", SAMPLE / "medical_record_en.pdf"], "unclassified")
    with runtime.catalog.session() as session:
        png, pdf = sorted(session.scalars(select(Document)), key=lambda d: d.kind != "png")
        png_id, png_pdf, png_sha = png.id, str(png.normalised_key), png.normalised_sha256
        pdf_id, pdf_original = pdf.id, str(pdf.original_key)
    (home / "objects" / png_pdf).write_bytes(b"%PDF-1.7 damaged")  # a derived PDF: made again from the original
    (home / "objects" / pdf_original).unlink()  # an original: only the file can bring it back

    report = check_home(runtime)
    assert codes(report) == {("pdf-corrupt", png_id), ("original-missing", pdf_id)}
    assert all(p.serious for p in report.problems if p.area == "documents")
    assert not report.ok

    repaired = check_home(runtime, repair=True)
    by_code = {p.code: p for p in repaired.problems}
    assert by_code["pdf-corrupt"].repaired
    assert not by_code["original-missing"].repaired and "casefile add" in by_code["original-missing"].message
    assert intake.object_state(runtime.store, png_pdf, str(png_sha)) == "ok"
    assert codes(check_home(runtime)) == {("original-missing", pdf_id)}

    # The advice works: adding the same file again writes the original back.
    pipeline.ingest_files(runtime, case_id, [SAMPLE / "medical_record_en.pdf"], "unclassified")
    assert check_home(runtime).ok


def test_an_interrupted_batch_is_resumed(runtime: Runtime, case_id: str) -> None:
    files = [SAMPLE / "id_card.png", SAMPLE / "phone_photo_letter.jpg"]
    batch_id = pipeline.new_batch(runtime, case_id, files, "unclassified")
    intake.start_batch(runtime, batch_id)
    intake.ingest_item(runtime, batch_id, 0)
    intake.batch_lock(runtime.settings, batch_id).parent.mkdir(parents=True, exist_ok=True)
    intake.batch_lock(runtime.settings, batch_id).touch()  # what a killed run leaves: its lock file, held by no one

    report = check_home(runtime)
    assert codes(report) == {("batch-interrupted", batch_id)}
    repaired = check_home(runtime, repair=True)
    (problem,) = [p for p in repaired.problems if p.code == "batch-interrupted"]
    assert problem.repaired and "Resumed: 2 stored" in problem.message  # the batch now reports both files
    with runtime.catalog.session() as session:
        batch = session.get(IntakeBatch, batch_id)
        assert batch is not None and batch.status == "done"
    assert check_home(runtime).ok


def test_a_live_batch_is_left_alone(runtime: Runtime, case_id: str) -> None:
    from casefile.tasks.core.workdirs import owner_lock

    batch_id = pipeline.new_batch(runtime, case_id, [SAMPLE / "id_card.png"], "unclassified")
    intake.start_batch(runtime, batch_id)
    with owner_lock(intake.batch_lock(runtime.settings, batch_id)):
        assert codes(check_home(runtime, repair=True)) == set()


def test_leftovers_of_killed_runs_are_removed_but_never_a_live_runs(runtime: Runtime, home: Path) -> None:
    work = runtime.settings.work_dir
    temp = home / "objects" / ".tmp" / "tmpkilled"
    temp.write_bytes(b"half an object")
    old(temp)
    with work_folder(work, "live-") as live:
        old(live / OWNER_FILE)  # old, but its owner (this process) holds it
        dead = work / "B-KILLED00-0-abcd"
        dead.mkdir(parents=True)
        (dead / OWNER_FILE).write_text("12345\n")  # its owner died: nobody holds the lock
        (dead / "stage-copy").write_bytes(b"a copy of a client's file")
        old(dead / OWNER_FILE)
        report = check_home(runtime, repair=True)
        assert {p.code for p in report.problems if p.area == "work"} == {"work-left-behind", "store-temp-left-behind"}
        assert all(p.repaired for p in report.problems if p.area == "work")
        assert live.is_dir()
    assert not dead.exists() and not temp.exists()


def test_unreferenced_originals_are_reported_and_kept(runtime: Runtime, case_id: str) -> None:
    stray = original_key("ab" * 32)
    runtime.store.put_bytes(stray, b"stored, then the run was killed before recording it")
    report = check_home(runtime, repair=True)
    assert codes(report) == {("unreferenced-original", stray)}
    assert report.ok  # a note, not a failure
    assert runtime.store.exists(stray)


def test_removed_documents_bytes_are_expected_not_reported(runtime: Runtime, case_id: str) -> None:
    from casefile.tasks.documents.removal import delete_document

    result = pipeline.ingest_file(runtime, case_id, SAMPLE / "medical_record_en.pdf", "unclassified")
    assert result.document_id is not None
    delete_document(runtime, result.document_id, "tester")
    assert codes(check_home(runtime)) == set()


def test_unfinished_and_damaged_packet_builds(runtime: Runtime, case_id: str, home: Path) -> None:
    store = runtime.store
    unfinished = f"packets/{case_id}/P-UNFINISHED/{case_id}-eoir-exhibits.pdf"
    store.put_bytes(unfinished, b"%PDF-1.7 a part whose build failed")
    old(home / "objects" / unfinished)
    young = f"packets/{case_id}/P-YOUNG0000/{case_id}-eoir-exhibits.pdf"
    store.put_bytes(young, b"%PDF-1.7 a part of a build that may still be running elsewhere")
    part_key = f"packets/{case_id}/P-FINISHED/{case_id}-eoir-exhibits.pdf"
    store.put_bytes(part_key, b"%PDF-1.7 damaged since")
    manifest = {
        "build_id": "P-FINISHED",
        "case_id": case_id,
        "profile": "eoir",
        "outputs": [{"name": "x.pdf", "key": part_key, "sha256": "00" * 32}],
    }
    store.put_bytes(f"packets/{case_id}/P-FINISHED/manifest.json", json.dumps(manifest).encode())

    report = check_home(runtime, repair=True)
    by_subject = {p.subject: p for p in report.problems}
    assert by_subject["P-UNFINISHED"].code == "build-unfinished" and by_subject["P-UNFINISHED"].repaired
    assert by_subject["P-YOUNG0000"].code == "build-unfinished" and not by_subject["P-YOUNG0000"].repaired
    assert by_subject["P-FINISHED"].code == "build-damaged" and by_subject["P-FINISHED"].repaired
    assert not store.exists(unfinished) and store.exists(young)
    assert not store.exists(f"packets/{case_id}/P-FINISHED/manifest.json")  # the next build makes it again
    assert store.exists(f"packets/{case_id}/P-FINISHED/{DAMAGED_MANIFEST}")  # what was filed stays on record


@pytest.mark.prefect
def test_check_command_reports_repairs_and_exit_codes(prefect_api: str, home: Path) -> None:
    case_id = new_case_cli(home)
    proc = run_cli("check", "--json", home=home)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["ok"] is True
    stray = home / "objects" / "derived" / "ab" / ("ab" * 32 + ".pdf")
    stray.parent.mkdir(parents=True)
    stray.write_bytes(b"x")
    work = home / "work" / "packet-P-KILLED-xyz"
    work.mkdir(parents=True)
    (work / "rendered.pdf").write_bytes(b"%PDF cover page with client data")
    (work / OWNER_FILE).write_text("1\n")
    old(work / OWNER_FILE)
    missing = home / "objects" / "originals"
    add = run_cli("add", case_id, str(SAMPLE / "id_card.png"), home=home)
    assert add.returncode == 0, add.stderr
    assert not work.exists()  # any command's start removes what killed runs left (never a live run's)
    for original in missing.rglob("*"):
        if original.is_file():
            original.unlink()
    found = run_cli("check", home=home)
    assert found.returncode == ExitCode.INTEGRITY, found.stdout
    assert "original-missing" in found.stdout and "casefile add" in found.stdout
    fixed = run_cli("check", "--repair", "--case", case_id, "--json", home=home)
    assert fixed.returncode == ExitCode.INTEGRITY  # an original cannot be made from anything else
    assert run_cli("add", case_id, str(SAMPLE / "id_card.png"), home=home).returncode == 0
    assert run_cli("check", home=home).returncode == 0
    assert "Traceback" not in found.stderr + fixed.stderr
