"""Packets from real-world scans and crafted PDFs: copier scans (JBIG2, JPEG 2000, CCITT) are filed; nothing a
reader does not see reaches a packet, and the pre-filing check refuses a packet that has any; the check's qpdf
findings name the exhibit and page, carry qpdf's lines whole, and call it a bug only when casefile made the page;
a failed build prints its message, never a traceback."""

from __future__ import annotations

import io
import json
import re
import shutil
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import pikepdf
import pytest
import yaml
from conftest import load_resource, new_case_cli, practice_init_cli, run_cli
from pikepdf import Dictionary, Name

from casefile.tasks.core.errors import ExitCode
from casefile.tasks.demo.scenario import DEMO_DHS_ADDRESS, DEMO_DHS_OFFICE
from casefile.tasks.packets import build as packet
from casefile.tasks.packets import manifest as stored
from casefile.tasks.packets.check import check_packet
from casefile.tasks.packets.exhibits import parse_plan, save_plan
from casefile.tasks.packets.profile import load_profile

if TYPE_CHECKING:
    from casefile.tasks.core.runtime import Runtime

SERVICE_DATE = date(2027, 2, 1)
CORPUS = load_resource("corpus")


def _add(rt: Runtime, case_id: str, path: Path, *, ocr: bool = False) -> str:
    from casefile.tasks.documents import pipeline, text

    result = pipeline.ingest_file(rt, case_id, path, "unclassified", searchable=ocr)
    document_id = pipeline.taken_in(result)
    assert document_id, result
    if not ocr:
        text.skip_text(rt, document_id)
    return document_id


def _packet(rt: Runtime, case_id: str, docs: dict[str, str], tmp_path: Path, language: str = "en") -> list[Path]:
    rows = [{"document": d, "title": f"Exhibit made from {name}", "language": language} for name, d in docs.items()]
    save_plan(rt, parse_plan(yaml.safe_dump({"case": case_id, "exhibits": rows}), "plan.yaml", case_id), "plan.yaml")
    options = packet.BuildOptions(
        service_date=SERVICE_DATE,
        allow_missing_translations=language != "en",
        fictional_practice=True,  # the packaged fictional practice, on purpose (as the demo files)
        service_office=DEMO_DHS_OFFICE,
        service_address=DEMO_DHS_ADDRESS,
    )
    result = packet.build_packet(rt, case_id, options)
    out = stored.download_build(rt, case_id, result.build_id, tmp_path / "out")
    return [Path(f["path"]) for f in out["files"]]


def _uncompressed(path: Path) -> bytes:
    """Every object of the PDF spelled out (no object streams, streams decoded where qpdf can): what a byte search
    for hidden content must see."""
    with pikepdf.open(path) as pdf:
        buf = io.BytesIO()
        pdf.save(
            buf,
            compress_streams=False,
            stream_decode_level=pikepdf.StreamDecodeLevel.generalized,
            object_stream_mode=pikepdf.ObjectStreamMode.disable,
        )
    return buf.getvalue()


# 5. Scans as copiers make them -------------------------------------------------------------------------------------
@pytest.mark.tesseract
def test_jbig2_jpx_and_ccitt_scans_are_taken_in_read_and_filed(runtime: Runtime, case_id: str, tmp_path: Path) -> None:
    docs = {}
    for name, make in (
        ("scan-jbig2.pdf", CORPUS.make_jbig2_pdf),
        ("scan-jpx.pdf", CORPUS.make_jpx_pdf),
        ("scan-ccitt.pdf", CORPUS.make_ccitt_pdf),
    ):
        make(tmp_path / name)
        docs[name] = _add(runtime, case_id, tmp_path / name, ocr=True)
    from casefile.tasks.documents.access import show_document

    for name, doc_id in docs.items():
        shown = show_document(runtime, doc_id)
        (page,) = shown["page_list"]
        assert page["text_source"] == "ocr", name
        with runtime.catalog.session() as session:
            text = runtime.catalog.get_document(session, doc_id).pages[0].text or ""
        assert "amenaza de muerte" in text.lower(), (name, text)
    (part,) = _packet(runtime, case_id, docs, tmp_path, language="es")  # Spanish scans: built without translations
    assert check_packet([part], load_profile(runtime.settings, "eoir"), expect_translations=False).ok
    filters: set[str] = set()
    with pikepdf.open(part) as pdf:
        for obj in pdf.objects:
            if isinstance(obj, pikepdf.Stream) and obj.get("/Subtype") == Name.Image:
                value = obj.get("/Filter")
                filters.update(str(f) for f in (value if isinstance(value, pikepdf.Array) else [value]))
    assert {"/JBIG2Decode", "/JPXDecode", "/CCITTFaxDecode"} <= filters  # the scans' data kept as they came


# 8. Nothing hidden reaches a packet -------------------------------------------------------------------------------
HIDDEN = ("javascript.pdf", "launch.pdf", "attachment.pdf", "hidden-resources.pdf")
MARKERS = (b"/JavaScript", b"/JS", b"/Launch", b"/EmbeddedFile", b"/Filespec", b"/AA", b"/AF", b"/Ref", b"/EF")


def test_a_packet_built_from_pdfs_with_scripts_actions_and_attachments_has_none_of_them(
    runtime: Runtime, case_id: str, tmp_path: Path
) -> None:
    entries = {e.name: e for e in CORPUS.CORPUS}
    docs = {}
    for name in HIDDEN:
        entries[name].make(tmp_path / name)
        docs[name] = _add(runtime, case_id, tmp_path / name)
        assert any(marker in _uncompressed(tmp_path / name) for marker in MARKERS)  # the input has them
    (part,) = _packet(runtime, case_id, docs, tmp_path)
    spelled = _uncompressed(part)
    for marker in MARKERS:
        assert not re.search(re.escape(marker) + rb"(?![A-Za-z])", spelled), marker
    assert b"FICTIONAL HIDDEN PAYLOAD" not in spelled and b"calc.exe" not in spelled and b"app.alert" not in spelled
    # What the pages showed is still drawn: each exhibit page keeps its text.
    from pypdf import PdfReader

    text = "\n".join(page.extract_text() for page in PdfReader(part).pages)
    assert "A link that launches a program" in text and "Resources that reach hidden files" in text


@pytest.fixture
def good_packet(runtime: Runtime, case_id: str, tmp_path: Path) -> tuple[Path, Runtime]:
    from conftest import DEMO_DATA

    docs = {
        "medical": _add(runtime, case_id, DEMO_DATA / "sample" / "medical_record_en.pdf"),
        "card": _add(runtime, case_id, DEMO_DATA / "sample" / "id_card.png"),
    }
    (part,) = _packet(runtime, case_id, docs, tmp_path)
    return part, runtime


def _page_of_exhibit(part: Path, label: str) -> int:
    """The 1-based page of the packet where exhibit ``label``'s document starts (after its tab page)."""
    from pypdf import PdfReader

    reader = PdfReader(part)
    for item in reader.outline:
        if not isinstance(item, list) and str(item.title).startswith(f"Exhibit {label}:"):
            number = reader.get_destination_page_number(item)
            assert number is not None
            return number + 2
    raise AssertionError(label)


def test_the_check_refuses_a_packet_with_hidden_content_and_names_the_exhibit(
    good_packet: tuple[Path, Runtime], tmp_path: Path
) -> None:
    part, rt = good_packet
    page_number = _page_of_exhibit(part, "B")
    tampered = tmp_path / part.name
    with pikepdf.open(part) as pdf:
        page = pdf.pages[page_number - 1]
        payload = pdf.make_stream(b"FICTIONAL HIDDEN PAYLOAD", Type=Name.EmbeddedFile)
        spec = pdf.make_indirect(Dictionary(Type=Name.Filespec, F=pikepdf.String("x.txt"), EF=Dictionary(F=payload)))
        page.obj.Resources.Extra = spec
        pdf.Root.OpenAction = Dictionary(S=Name.JavaScript, JS=pikepdf.String("app.alert(1)"))
        pdf.save(tampered)
    report = check_packet([tampered], load_profile(rt.settings, "eoir"))
    hidden = [f for f in report.findings if f.code == "hidden-content"]
    assert not report.ok and {f.severity for f in hidden} == {"error"}
    on_page = [f for f in hidden if f.page == page_number]
    assert on_page and all(f.exhibit == "B" for f in on_page)
    assert all("Exhibit B" in f.message for f in on_page)
    assert any(f.page is None and "JavaScript" in f.message for f in hidden)
    assert not any("FICTIONAL" in f.message or "app.alert" in f.message for f in hidden)  # never what was found


# 6. The check's qpdf findings ------------------------------------------------------------------------------------
def _damage_a_stream(part: Path, page_number: int, out: Path) -> None:
    with pikepdf.open(part) as pdf:
        page = pdf.pages[page_number - 1]
        form = page.obj.Resources.XObject.P0  # the exhibit's page, drawn as a form
        form.write(b"\x78\x9c this is not deflate data at all", filter=Name.FlateDecode)
        pdf.save(out, compress_streams=False, stream_decode_level=pikepdf.StreamDecodeLevel.none)


def test_qpdf_findings_name_the_exhibit_and_page_carry_every_line_and_say_what_to_do(
    good_packet: tuple[Path, Runtime], tmp_path: Path
) -> None:
    part, rt = good_packet
    page_number = _page_of_exhibit(part, "A")
    damaged = tmp_path / part.name
    _damage_a_stream(part, page_number, damaged)
    from casefile.tasks.packets.qpdf_child import check

    lines = check(damaged)["problems"]
    report = check_packet([damaged], load_profile(rt.settings, "eoir"))
    (finding,) = [f for f in report.findings if f.code == "qpdf-check"]
    assert finding.page == page_number and finding.exhibit == "A"
    assert "Exhibit A" in finding.message and "print it to a new PDF" in finding.message
    assert "bug" not in finding.message
    for line in lines:
        assert line in finding.message  # whole, however long


def test_qpdf_findings_on_pages_casefile_made_are_reported_as_a_bug(
    good_packet: tuple[Path, Runtime], tmp_path: Path
) -> None:
    part, rt = good_packet
    damaged = tmp_path / part.name
    with pikepdf.open(part) as pdf:
        cover = pdf.pages[0]
        contents = cover.obj.Contents
        stream = contents[0] if isinstance(contents, pikepdf.Array) else contents
        stream.write(b"\x78\x9c broken cover page content", filter=Name.FlateDecode)
        pdf.save(damaged, compress_streams=False, stream_decode_level=pikepdf.StreamDecodeLevel.none)
    report = check_packet([damaged], load_profile(rt.settings, "eoir"))
    (finding,) = [f for f in report.findings if f.code == "qpdf-check"]
    assert finding.page == 1 and finding.exhibit is None
    assert "bug" in finding.message


def test_a_build_whose_exhibit_fails_the_check_names_it_exits_4_and_is_not_called_a_bug(
    runtime: Runtime, case_id: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Damaged data an exhibit carries (here put into the stored document's PDF behind intake's back, as a disk that
    corrupts a file would) fails the build's own check: the error says which exhibit to replace, exit 4."""
    from conftest import DEMO_DATA

    doc_id = _add(runtime, case_id, DEMO_DATA / "sample" / "medical_record_en.pdf")
    real_download = runtime.store.download

    def damaged_download(key: str, dest: Path, expected_sha256: str | None = None) -> str:
        sha = real_download(key, dest, expected_sha256)
        with pikepdf.open(dest, allow_overwriting_input=True) as pdf:
            stream = pdf.pages[0].obj.Contents
            stream = stream[0] if isinstance(stream, pikepdf.Array) else stream
            stream.write(b"\x78\x9c damaged exhibit content", filter=Name.FlateDecode)
            pdf.save(dest, compress_streams=False, stream_decode_level=pikepdf.StreamDecodeLevel.none)
        return sha

    monkeypatch.setattr(runtime.store, "download", damaged_download)
    with pytest.raises(packet.PacketCheckFailed) as info:
        _packet(runtime, case_id, {"medical": doc_id}, tmp_path)
    assert info.value.exit_code == ExitCode.INPUT_REJECTED
    assert info.value.exhibits == ["A"]
    assert "Exhibit A" in info.value.message and "bug" not in info.value.message.split("\n")[-1]
    assert stored.list_builds(runtime, case_id) == []  # nothing that looks finished


@pytest.mark.prefect
def test_a_failed_build_prints_its_message_once_and_no_traceback(prefect_api: str, home: Path, tmp_path: Path) -> None:
    from conftest import DEMO_DATA

    practice_init_cli(home)  # a practice of its own (the packaged sample is refused)
    case_id = new_case_cli(home)
    shutil.copy(DEMO_DATA / "sample" / "medical_record_en.pdf", tmp_path / "letter.pdf")
    assert run_cli("add", case_id, str(tmp_path / "letter.pdf"), home=home).returncode == 0
    (doc,) = json.loads(run_cli("docs", case_id, "--json", home=home).stdout)
    plan = tmp_path / "plan.yaml"
    row = {"document": doc["id"], "title": "Carta", "language": "es"}
    plan.write_text(yaml.safe_dump({"case": case_id, "exhibits": [row]}))
    assert run_cli("exhibits", "set", case_id, str(plan), home=home).returncode == 0
    proc = run_cli("packet", "build", case_id, home=home)  # a Spanish exhibit without its translation
    assert proc.returncode == ExitCode.USAGE
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "no English translation" in errors[0]
