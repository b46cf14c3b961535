"""Evidence never silently leaves a case: the machine's faults are not the file's, re-adding repairs, hostile files
get typed reasons, symbolic links and odd entries of folders are refused or counted.

Intake runs here as the plain pipeline (``pipeline.ingest_files``: the same stages as the ingest flow, without
Prefect); the full disk and the read-only work folder are real (a small tmpfs over the home's work folder, as root),
and fault injection by replacing a wrapper covers the same paths anywhere.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from conftest import DEMO_DATA, RESOURCES, SmallDisk, load_resource
from sqlalchemy import select

from casefile.flows.cli.batches import batch_exit_code
from casefile.tasks.core.catalog import AuditEvent, Document, IntakeBatch
from casefile.tasks.core.errors import ExitCode, QuarantinedFile, QuarantineReason
from casefile.tasks.core.settings import Limits
from casefile.tasks.core.storage import derived_key, original_key, sha256_file
from casefile.tasks.documents import intake, normalise, pipeline

if TYPE_CHECKING:
    from casefile.tasks.core.runtime import Runtime

SAMPLE = DEMO_DATA / "sample"
BROKEN = RESOURCES / "broken"
LIMITS = Limits(max_file_bytes=512 * 1024 * 1024, max_pages=5000, max_image_pixels=100_000_000)


@pytest.fixture(autouse=True)
def _no_ocr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CASEFILE_OCR_ENABLED", "false")


def add(rt: Runtime, case_id: str, *paths: Path, follow_symlinks: bool = False) -> dict[str, Any]:
    """`casefile add` without Prefect: the batch's report, with the exit code the command would give."""
    batch_id = pipeline.new_batch(rt, case_id, list(paths), "unclassified", follow_symlinks=follow_symlinks)
    pipeline.ingest_batch(rt, batch_id)
    report = intake.batch_report(rt, batch_id)
    report["exit"] = batch_exit_code(report)
    return report


def documents(rt: Runtime, case_id: str) -> list[Document]:
    with rt.catalog.session() as session:
        return list(session.scalars(select(Document).where(Document.case_id == case_id)))


def store_keys(rt: Runtime) -> list[str]:
    return [k for k in rt.store.list() if k.startswith(("originals/", "derived/"))]


# 1. The machine's faults -----------------------------------------------------------------------------------------
def test_a_full_work_disk_is_retryable_and_never_recorded_as_a_property_of_the_file(
    runtime: Runtime, case_id: str, home: Path, small_disk: SmallDisk
) -> None:
    small_disk.mount(home / "work", size="64k")  # smaller than the photo: the staged copy cannot be written
    photo = SAMPLE / "phone_photo_letter.jpg"
    assert photo.stat().st_size > 64 * 1024

    first = add(runtime, case_id, photo)
    (item,) = first["items"]
    assert item["outcome"] == "failed" and item["reason"] == "transient"
    assert "disk is full" in item["message"] and "run the same command again" in item["message"]
    assert first["exit"] == ExitCode.TRANSIENT
    assert documents(runtime, case_id) == []  # nothing recorded about the file: not "corrupt", not "unreadable"
    assert store_keys(runtime) == []  # and no object without a document

    small_disk.remount(size="64m")
    second = add(runtime, case_id, photo)
    assert second["counts"] == {"stored": 1} and second["exit"] == ExitCode.OK
    (doc,) = documents(runtime, case_id)
    assert doc.status == "ready" and doc.sha256 == sha256_file(photo)


def test_a_read_only_work_folder_is_retryable(
    runtime: Runtime, case_id: str, home: Path, small_disk: SmallDisk
) -> None:
    small_disk.mount(home / "work", size="16m", read_only=True)
    report = add(runtime, case_id, SAMPLE / "medical_record_en.pdf")
    (item,) = report["items"]
    assert (item["outcome"], item["reason"]) == ("failed", "transient")
    assert "read-only" in item["message"]
    assert report["exit"] == ExitCode.TRANSIENT
    assert documents(runtime, case_id) == []

    small_disk.remount(size="16m")
    assert add(runtime, case_id, SAMPLE / "medical_record_en.pdf")["counts"] == {"stored": 1}


@pytest.mark.parametrize(
    "where",
    ["staging", "converting"],
    ids=["the staged copy cannot be written", "the converted PDF cannot be written"],
)
def test_disk_full_anywhere_in_intake_is_the_machines_problem(
    runtime: Runtime, case_id: str, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    """The same without root: the wrappers that write in the work folder are replaced by ones that find it full."""
    full = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    if where == "staging":

        def mkstemp(*_a: Any, **_k: Any) -> Any:
            raise full

        monkeypatch.setattr("casefile.tasks.documents.normalise.tempfile.mkstemp", mkstemp)
    else:
        import img2pdf

        def convert(*_a: Any, **_k: Any) -> Any:
            raise full

        monkeypatch.setattr(img2pdf, "convert", convert)
    report = add(runtime, case_id, SAMPLE / "id_card.png")
    (item,) = report["items"]
    assert (item["outcome"], item["reason"]) == ("failed", "transient")
    assert report["exit"] == ExitCode.TRANSIENT
    assert documents(runtime, case_id) == [] and store_keys(runtime) == []

    monkeypatch.undo()
    assert add(runtime, case_id, SAMPLE / "id_card.png")["counts"] == {"stored": 1}


def test_an_object_store_that_fails_for_good_leaves_the_item_failed_not_quarantined(
    runtime: Runtime, case_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from casefile.tasks.core.errors import TransientStorageError

    def down(*_a: Any, **_k: Any) -> None:
        raise TransientStorageError("The object store is unavailable (503) for a key; retry.")

    monkeypatch.setattr(runtime.store, "put_file", down)
    report = add(runtime, case_id, SAMPLE / "medical_record_en.pdf", BROKEN / "truncated.pdf")
    assert [(i["outcome"], i["reason"]) for i in report["items"]] == [("failed", "transient")] * 2
    assert report["exit"] == ExitCode.TRANSIENT
    assert documents(runtime, case_id) == []


# 2. Re-adding repairs ---------------------------------------------------------------------------------------------
def test_re_adding_writes_back_a_missing_or_damaged_original_after_checking_its_sha256(
    runtime: Runtime, case_id: str, home: Path
) -> None:
    letter = SAMPLE / "medical_record_en.pdf"
    add(runtime, case_id, letter)
    key = original_key(sha256_file(letter))
    stored = home / "objects" / key

    stored.unlink()
    again = add(runtime, case_id, letter)
    (item,) = again["items"]
    assert item["outcome"] == "repaired" and item["repaired"] == ["original-restored"]
    assert stored.read_bytes() == letter.read_bytes()
    assert again["exit"] == ExitCode.OK

    stored.write_bytes(b"%PDF-1.7 damaged on disk")
    assert add(runtime, case_id, letter)["items"][0]["repaired"] == ["original-restored"]
    assert sha256_file(stored) == sha256_file(letter)
    assert add(runtime, case_id, letter)["items"][0]["outcome"] == "duplicate"  # intact: nothing to repair
    with runtime.catalog.session() as session:
        actions = list(session.scalars(select(AuditEvent.action).where(AuditEvent.entity == "document")))
    assert actions.count("repaired") == 2


def test_re_adding_an_image_makes_its_missing_pdf_again(runtime: Runtime, case_id: str, home: Path) -> None:
    add(runtime, case_id, SAMPLE / "id_card.png")
    (doc,) = documents(runtime, case_id)
    assert doc.normalised_key and doc.normalised_key.startswith("derived/")
    pdf = home / "objects" / doc.normalised_key
    pdf.unlink()
    (item,) = add(runtime, case_id, SAMPLE / "id_card.png")["items"]
    assert item["outcome"] == "repaired" and item["repaired"] == ["normalised-restored"]
    assert sha256_file(pdf) == doc.normalised_sha256


def test_a_quarantine_the_file_did_not_cause_is_lifted_when_it_is_added_again(
    runtime: Runtime, case_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file quarantined by mistake (here: a reader that failed on it, as an older version or a missing decoder
    would) is checked again when it is added again, and taken in: its pages recorded, its quarantine lifted."""
    scan = SAMPLE / "denuncia_scan_es.pdf"
    real = normalise.normalise

    def failing(staged: Any, limits: Any) -> Any:
        raise QuarantinedFile(QuarantineReason.UNSUPPORTED_ENCODING, "a decoder was missing")

    monkeypatch.setattr("casefile.tasks.documents.intake.normalise", failing)
    first = add(runtime, case_id, scan)
    assert first["items"][0]["outcome"] == "quarantined" and first["exit"] == ExitCode.INPUT_REJECTED
    monkeypatch.setattr("casefile.tasks.documents.intake.normalise", real)

    second = add(runtime, case_id, scan)
    (item,) = second["items"]
    assert item["outcome"] == "stored" and item["repaired"] == ["quarantine-lifted"]
    assert second["exit"] == ExitCode.OK
    (doc,) = documents(runtime, case_id)
    assert doc.id == item["document_id"]  # the same document: exhibits and history stay with it
    assert (doc.status, doc.page_count, doc.quarantine_reason) == ("ready", 2, None)
    assert doc.normalised_key == original_key(doc.sha256)


def test_a_file_still_quarantined_is_reported_quarantined_again_never_duplicate(runtime: Runtime, case_id: str) -> None:
    for _ in range(2):
        report = add(runtime, case_id, BROKEN / "truncated.pdf", SAMPLE / "id_card.png")
        outcomes = [i["outcome"] for i in report["items"]]
        assert outcomes[0] == "quarantined" and report["exit"] == ExitCode.INPUT_REJECTED
        assert report["items"][0]["reason"] == "truncated"
    assert [d.status for d in sorted(documents(runtime, case_id), key=lambda d: d.kind)] == ["quarantined", "ready"]


# 3. Hostile files get typed reasons ------------------------------------------------------------------------------
def _hostile() -> list[Any]:
    corpus = load_resource("corpus")
    return [e for e in corpus.CORPUS if e.expected != corpus.STORED]


@pytest.mark.parametrize("entry", _hostile(), ids=lambda e: e.name)
def test_every_hostile_file_is_quarantined_with_its_typed_reason(entry: Any, tmp_path: Path) -> None:
    path = tmp_path / entry.name
    entry.make(path)
    with pytest.raises(QuarantinedFile) as info:
        staged = normalise.stage_copy(path, tmp_path / "work", LIMITS)
        normalise.check_extension(path.name, staged.kind)
        normalise.normalise(staged, LIMITS)
    assert info.value.reason.value == entry.expected
    assert info.value.message.endswith(QuarantinedFile(info.value.reason).message.split(": ", 1)[-1])


def test_a_cut_off_image_is_refused_even_after_weasyprint_made_pillow_lenient(tmp_path: Path) -> None:
    """WeasyPrint sets Pillow's LOAD_TRUNCATED_IMAGES when imported (a worker renders letters, then takes files
    in): a half JPEG must still be refused, not stored padded with grey."""
    import weasyprint  # noqa: F401
    from PIL import ImageFile

    ImageFile.LOAD_TRUNCATED_IMAGES = True  # as WeasyPrint leaves it
    (entry,) = [e for e in load_resource("corpus").CORPUS if e.name == "truncated-image.jpg"]
    entry.make(tmp_path / entry.name)
    with pytest.raises(QuarantinedFile) as info:
        normalise.normalise(normalise.stage_copy(tmp_path / entry.name, tmp_path / "w", LIMITS), LIMITS)
    assert info.value.reason is QuarantineReason.TRUNCATED


def _raiser(exc: BaseException) -> Any:
    def parse(*_a: Any, **_k: Any) -> Any:
        raise exc

    return parse


@pytest.mark.parametrize(
    ("exc", "reason"),
    [
        (__import__("pypdf").errors.LimitReachedError("limit"), QuarantineReason.TOO_COMPLEX),
        (RecursionError("deep"), QuarantineReason.TOO_COMPLEX),
        (MemoryError(), QuarantineReason.TOO_COMPLEX),
        (__import__("pypdf").errors.DependencyError("brotli is required"), QuarantineReason.UNSUPPORTED_ENCODING),
        (__import__("pikepdf").DependencyError("jbig2dec"), QuarantineReason.UNSUPPORTED_ENCODING),
        (NotImplementedError("/FooDecode"), QuarantineReason.UNSUPPORTED_ENCODING),
        (__import__("zlib").error("invalid stored block"), QuarantineReason.CORRUPT),
        (__import__("struct").error("unpack"), QuarantineReason.CORRUPT),
        (__import__("pikepdf").PdfError("qpdf"), QuarantineReason.CORRUPT),
        (OSError("a broken image, no errno"), QuarantineReason.CORRUPT),
        (ZeroDivisionError(), QuarantineReason.CORRUPT),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, BaseException) else str(v),
)
def test_any_exception_a_reader_raises_is_a_typed_reason_and_leaves_no_object_without_a_document(
    runtime: Runtime, case_id: str, monkeypatch: pytest.MonkeyPatch, exc: BaseException, reason: QuarantineReason
) -> None:
    import pypdf

    monkeypatch.setattr(pypdf, "PdfReader", _raiser(exc))
    report = add(runtime, case_id, SAMPLE / "medical_record_en.pdf")
    (item,) = report["items"]
    assert (item["outcome"], item["reason"]) == ("quarantined", reason.value)
    assert report["exit"] == ExitCode.INPUT_REJECTED  # never "failed, re-run" (75) for the file's own problem
    (doc,) = documents(runtime, case_id)
    assert doc.status == "quarantined"  # its bytes are kept, with a document that says why
    assert store_keys(runtime) == [doc.original_key]


def test_an_environment_error_inside_a_reader_is_not_the_files(
    runtime: Runtime, case_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pypdf

    monkeypatch.setattr(pypdf, "PdfReader", _raiser(OSError(errno.EIO, "Input/output error")))
    report = add(runtime, case_id, SAMPLE / "medical_record_en.pdf")
    assert [(i["outcome"], i["reason"]) for i in report["items"]] == [("failed", "transient")]
    assert documents(runtime, case_id) == [] and store_keys(runtime) == []


def test_a_bug_is_reported_as_one_not_as_a_bad_file(
    runtime: Runtime, case_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(intake, "_record_document", _raiser(KeyError("a bug")))
    report = add(runtime, case_id, SAMPLE / "medical_record_en.pdf")
    (item,) = report["items"]
    assert (item["outcome"], item["reason"]) == ("failed", "error")
    assert "bug" in item["message"]
    assert report["exit"] == ExitCode.FAILURE
    assert documents(runtime, case_id) == []


# 7. Images inside PDFs obey the pixel limit ----------------------------------------------------------------------
def test_a_40000_pixel_square_image_in_a_small_pdf_is_refused_before_any_reader_decodes_it(tmp_path: Path) -> None:
    corpus = load_resource("corpus")
    bomb = tmp_path / "bomb.pdf"
    corpus.make_pixel_bomb_pdf(bomb)
    assert bomb.stat().st_size < 1_500_000
    with pytest.raises(QuarantinedFile) as info:
        normalise.normalise(normalise.stage_copy(bomb, tmp_path / "w", LIMITS), LIMITS)
    assert info.value.reason is QuarantineReason.TOO_MANY_PIXELS
    assert "40,000 x 40,000" in info.value.detail


def test_the_stream_limit_is_a_setting(tmp_path: Path) -> None:
    corpus = load_resource("corpus")
    bomb = tmp_path / "content.pdf"
    corpus.make_content_bomb_pdf(bomb, size=8 << 20)  # 8 MiB of spaces: fine by default
    staged = normalise.stage_copy(bomb, tmp_path / "w", LIMITS)
    assert len(normalise.normalise(staged, LIMITS).pages) == 1
    tight = Limits(LIMITS.max_file_bytes, LIMITS.max_pages, LIMITS.max_image_pixels, max_stream_bytes=4 << 20)
    with pytest.raises(QuarantinedFile) as info:
        normalise.normalise(staged, tight)
    assert info.value.reason is QuarantineReason.DECOMPRESSION_BOMB


# 9. Symbolic links, hidden files, odd entries --------------------------------------------------------------------
@pytest.fixture
def folder_with_links(tmp_path: Path) -> dict[str, Path]:
    outside = tmp_path / "outside"
    outside.mkdir()
    shutil.copy(SAMPLE / "medical_record_en.pdf", outside / "private.pdf")
    folder = tmp_path / "records"
    folder.mkdir()
    shutil.copy(SAMPLE / "id_card.png", folder / "id_card.png")
    (folder / "link.pdf").symlink_to(outside / "private.pdf")
    (folder / "linked-folder").symlink_to(outside, target_is_directory=True)
    (folder / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    (folder / ".hidden-folder").mkdir()
    (folder / ".hidden-folder" / "secret.pdf").write_bytes(b"%PDF-1.7")
    os.mkfifo(folder / "pipe.pdf")
    return {"folder": folder, "outside": outside, "link": folder / "link.pdf"}


def test_symlinks_are_refused_and_nothing_outside_the_folder_is_copied(
    runtime: Runtime, case_id: str, folder_with_links: dict[str, Path]
) -> None:
    report = add(runtime, case_id, folder_with_links["folder"], folder_with_links["link"])
    by_name = {Path(i["file"]).name: i for i in report["items"]}
    assert by_name["id_card.png"]["outcome"] == "stored"
    for name in ("link.pdf", "linked-folder"):
        assert (by_name[name]["outcome"], by_name[name]["reason"]) == ("quarantined", "symlink")
        assert "--follow-symlinks" in by_name[name]["message"]
    assert (by_name["pipe.pdf"]["outcome"], by_name["pipe.pdf"]["reason"]) == ("quarantined", "unsupported-type")
    assert report["hidden_skipped"] == 2
    assert report["exit"] == ExitCode.INPUT_REJECTED
    private = sha256_file(folder_with_links["outside"] / "private.pdf")
    assert original_key(private) not in store_keys(runtime)  # not one byte from outside the folder
    assert len(report["items"]) == 5  # id card, the link given, the link found, the linked folder, the FIFO


def test_follow_symlinks_takes_what_links_point_to(
    runtime: Runtime, case_id: str, folder_with_links: dict[str, Path]
) -> None:
    os.unlink(folder_with_links["folder"] / "pipe.pdf")
    report = add(runtime, case_id, folder_with_links["folder"], follow_symlinks=True)
    outcomes = sorted((Path(i["file"]).name, i["outcome"]) for i in report["items"])
    assert outcomes == [("id_card.png", "stored"), ("link.pdf", "stored"), ("private.pdf", "duplicate")]
    assert report["follow_symlinks"] is True and report["exit"] == ExitCode.OK


def test_an_empty_folder_of_hidden_files_says_so(runtime: Runtime, case_id: str, tmp_path: Path) -> None:
    from casefile.tasks.core.errors import ValidationError

    (tmp_path / "dots").mkdir()
    (tmp_path / "dots" / ".a").write_bytes(b"x")
    with pytest.raises(ValidationError) as info:
        pipeline.new_batch(runtime, case_id, [tmp_path / "dots"], "unclassified")
    assert "1 hidden file(s) skipped" in info.value.message


# 2. A killed run's files are reported as stored by the next run --------------------------------------------------
def test_files_a_killed_run_stored_are_reported_stored_by_the_next_run_then_duplicate(
    runtime: Runtime, case_id: str
) -> None:
    killed = pipeline.new_batch(runtime, case_id, [SAMPLE / "id_card.png"], "unclassified")
    intake.start_batch(runtime, killed)
    intake.ingest_item(runtime, killed, 0)  # stored; then the run dies: the batch stays "running", unlocked
    with runtime.catalog.session() as session:
        assert session.get(IntakeBatch, killed).status == "running"  # type: ignore[union-attr]
    rerun = add(runtime, case_id, SAMPLE / "id_card.png")
    assert rerun["counts"] == {"stored": 1}
    assert add(runtime, case_id, SAMPLE / "id_card.png")["counts"] == {"duplicate": 1}


def test_report_lists_repairs_in_json(runtime: Runtime, case_id: str, home: Path) -> None:
    add(runtime, case_id, SAMPLE / "id_card.png")
    (doc,) = documents(runtime, case_id)
    (home / "objects" / original_key(doc.sha256)).unlink()
    (home / "objects" / derived_key(str(doc.normalised_sha256))).unlink()
    report = add(runtime, case_id, SAMPLE / "id_card.png")
    assert json.loads(json.dumps(report))["items"][0]["repaired"] == ["original-restored", "normalised-restored"]
