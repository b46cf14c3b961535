"""Record-request letters (real PDFs), e-mail to a loopback SMTP server, and what comes back: QR codes read with
zxing-cpp, OCR of a rasterised cover sheet with real Tesseract, the inbox poller."""

from __future__ import annotations

import hashlib
import io
import shutil
import subprocess
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from pypdf import PdfReader

from casefile.tasks.core.catalog import Document, InboxItem, OutboundMail, RecordRequest
from casefile.tasks.core.errors import NotFoundError
from casefile.tasks.core.settings import DEMO_DATA
from casefile.tasks.requests.config import load_request_config, request_config
from casefile.tasks.requests.letters import read_qr_codes
from casefile.tasks.requests.sending import new_request, send_request

if TYPE_CHECKING:
    from smtpserver import LoopbackSmtp

    from casefile.tasks.core.runtime import Runtime

SAMPLE = DEMO_DATA / "sample"
HOSTILE = '<b>ER visit</b> & "2024-05" <script>'


def pdf_text(path: Path) -> str:
    return subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True, timeout=60
    ).stdout


def _fetch(runtime: Runtime, document_id: str | None, dest: Path) -> Path:
    assert document_id is not None
    with runtime.catalog.session() as session:
        doc = session.get(Document, document_id)
        assert doc is not None and doc.original_key is not None
        runtime.store.download(doc.original_key, dest, expected_sha256=doc.sha256)
    return dest


def _request(runtime: Runtime, request_id: str) -> RecordRequest:
    with runtime.catalog.session() as session:
        req = session.get(RecordRequest, request_id)
        assert req is not None
        return req


def test_english_letter_and_authorization_are_real_pdfs(runtime: Runtime, case_id: str, tmp_path: Path) -> None:
    out = new_request(
        runtime, case_id=case_id, record_type="medical", provider="metro-general", records=HOSTILE,
        sent_on=date(2026, 11, 20), actor="tester",
    )  # fmt: skip
    ref = out["id"]
    assert out["status"] == "sent" and out["due_on"] == "2026-12-20" and not out["mailed"]
    req = _request(runtime, ref)
    letter = _fetch(runtime, req.letter_document_id, tmp_path / "letter.pdf")
    text = pdf_text(letter)
    flat_letter = " ".join(text.split())
    assert ref in text and "December 20, 2026" in text and "45 CFR 164.508" in flat_letter
    # An attorney's request under an authorization: the letter asks for a date, it asserts no HIPAA deadline or fee.
    assert "We ask for a response by: December 20, 2026" in flat_letter
    assert "Response due" not in flat_letter and "law requires" not in flat_letter and "cost-based" not in flat_letter
    assert HOSTILE in " ".join(text.split())  # escaped: the markup is printed as text, not interpreted
    assert "RETURN COVER SHEET" in text and "Send to / Enviar a" in text
    assert len(PdfReader(letter).pages) >= 2
    auth = " ".join(pdf_text(_fetch(runtime, req.authorization_document_id, tmp_path / "auth.pdf")).split())
    assert "AUTHORIZATION TO RELEASE PROTECTED HEALTH INFORMATION" in auth and ref in auth
    # The letters are documents of the case, with a SHA-256, of type "request".
    with runtime.catalog.session() as session:
        docs = [session.get(Document, d) for d in out["documents"]]
        assert all(d is not None and d.doc_type == "request" and len(d.sha256) == 64 for d in docs)
    # The QR code on the cover sheet reads back as the reference code.
    assert read_qr_codes(letter) == [ref]


def test_spanish_letter_for_a_spanish_provider(runtime: Runtime, case_id: str, tmp_path: Path) -> None:
    out = new_request(
        runtime, case_id=case_id, record_type="foreign-civil", provider="registro-civil-oaxaca",
        records="Acta de nacimiento", sent_on=date(2026, 11, 20), actor="tester",
    )  # fmt: skip
    assert out["language"] == "es" and out["due_on"] == "2027-01-19"
    text = pdf_text(_fetch(runtime, _request(runtime, out["id"]).letter_document_id, tmp_path / "carta.pdf"))
    assert "Estimados señores" in text and "19 de enero de 2027" in text and out["id"] in text
    flat = " ".join(text.split())
    assert "registro civil o de la policía del país que los expide" in flat  # the legal basis in Spanish too
    assert "issuing country" not in flat
    assert out["authorization_document_id"] is None  # foreign civil records need no authorization form


def test_support_letter_sends_the_bilingual_guide(runtime: Runtime, case_id: str, tmp_path: Path) -> None:
    out = new_request(
        runtime, case_id=case_id, record_type="support-letter", provider="tio-ejemplo", sent_on=date(2026, 11, 2),
        actor="tester",
    )  # fmt: skip
    guide_id = out["documents"][1]
    guide = " ".join(pdf_text(_fetch(runtime, guide_id, tmp_path / "guide.pdf")).split())
    assert "HOW TO WRITE A LETTER OF SUPPORT" in guide and "CÓMO ESCRIBIR UNA CARTA DE APOYO" in guide
    assert "perjury" in guide and "perjurio" in guide


def test_email_request_sent_once_and_failed_send_stays_draft(
    smtp_server: LoopbackSmtp, home: Path, tmp_path: Path
) -> None:
    from casefile.tasks.cases.case import create_case
    from casefile.tasks.core.runtime import get_runtime
    from casefile.tasks.demo.scenario import fictional_case

    runtime = get_runtime()  # after the SMTP settings are in the environment
    with runtime.catalog.session() as session:
        case_id = create_case(session, fictional_case()).id
    out = new_request(runtime, case_id=case_id, record_type="medical", provider="metro-general", actor="tester")
    ref = out["id"]
    assert out["status"] == "sent" and out["mailed"] and out["sent_on"] == date.today().isoformat()
    assert smtp_server.wait_for(1)
    [message] = smtp_server.messages
    assert ref in message.subject and "Maria" not in message.subject  # no client name in the subject
    assert "him-requests@metro-general.example.org" in message.rcpt_tos
    attachments = message.attachments()
    assert len(attachments) == 2
    for name, mime, data in attachments:
        assert mime == "application/pdf" and name.startswith(ref)
        assert len(PdfReader(io.BytesIO(data)).pages) >= 1
    # Sending again changes nothing and mails nothing.
    config = request_config(runtime)
    again = send_request(runtime, config, ref, actor="tester")
    assert not again.mailed and len(smtp_server.messages) == 1
    with runtime.catalog.session() as session:
        row = session.query(OutboundMail).filter_by(dedupe_key=f"request:{ref}:initial").one()
        assert (row.status, row.attempts, row.request_id) == ("sent", 1, ref)

    # The SMTP server cannot be reached: the request is kept as a draft that says it is not sent yet and what sends
    # it (never "run the same command again", which would create it twice); a later send works.
    from smtpserver import free_port

    from casefile.tasks.core.settings import load_settings
    from casefile.tasks.requests.tracking import show_request

    unreachable = get_runtime(load_settings(smtp_port=free_port()))  # same catalog, a port nobody listens on
    kept = new_request(unreachable, case_id=case_id, record_type="school", provider="ps-example", actor="tester")
    assert kept["status"] == "draft" and "NOT SENT YET" in kept["not_sent"]
    assert f"casefile request send {kept['id']}" in kept["not_sent"]
    with runtime.catalog.session() as session:
        draft = session.query(RecordRequest).filter_by(record_type="school").one()
        assert (draft.status, draft.sent_on) == ("draft", None)
        draft_id = draft.id
    sending = show_request(runtime, draft_id)["sending"]
    assert sending["attempts"] == 1 and sending["last_error"] == "MailTransientError"
    assert "nothing retries it automatically" in sending["line"]
    assert send_request(runtime, config, draft_id, actor="tester").mailed
    assert _request(runtime, draft_id).status == "sent"
    assert smtp_server.wait_for(2) and ref not in smtp_server.messages[1].subject


def _rasterise_last_page(pdf: Path, out: Path, dpi: int = 200) -> Path:
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(str(pdf))
    try:
        page = document[len(document) - 1]
        page.render(scale=dpi / 72, grayscale=True).to_pil().save(out)
        page.close()
    finally:
        document.close()
    return out


@pytest.mark.tesseract  # the inbox poll OCRs scans to read their codes
def test_inbox_poll_matches_by_ocr_qr_and_file_name_else_inbox(runtime: Runtime, case_id: str, tmp_path: Path) -> None:
    """Real ingest and real Tesseract: a scanned cover sheet is matched by its OCR text, a photo of the QR code
    alone by zxing-cpp, a file named after the code by its name, and a record without a code waits in the inbox.
    A second poll does nothing; the files move to processed/ byte for byte."""
    import segno

    from casefile.tasks.requests.inbox import PROCESSED, inbox_root, poll_inbox

    config = load_request_config(runtime.settings)
    refs = [
        new_request(
            runtime, case_id=case_id, record_type=t, provider=p, sent_on=date(2026, 11, 2), actor="tester",
            config=config,
        )["id"]
        for t, p in [("medical", "metro-general"), ("school", "ps-example"), ("police", "example-pd")]
    ]  # fmt: skip
    letter = _fetch(runtime, _request(runtime, refs[0]).letter_document_id, tmp_path / "letter.pdf")
    folder = inbox_root(runtime) / case_id
    folder.mkdir(parents=True)
    _rasterise_last_page(letter, folder / "scan0001.png")  # the cover sheet, scanned: no text layer
    segno.make(refs[1], error="m").save(str(folder / "IMG_0002.png"), scale=8, border=4)  # the QR code alone
    shutil.copy(SAMPLE / "medical_record_en.pdf", folder / f"{refs[2]} police report.pdf")
    shutil.copy(SAMPLE / "medical_record_en.pdf", folder / "unlabelled.pdf")  # same bytes, no code
    hashes = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}

    result = poll_inbox(runtime, config, actor="inbox")
    assert result.files == 4 and len(set(result.linked)) == 3 and result.inbox == [] and result.skipped == 0
    with runtime.catalog.session() as session:
        items = {i.source_ref.split("/", 1)[1]: i for i in session.query(InboxItem).all()}
        assert (items["scan0001.png"].request_id, items["scan0001.png"].matched_by) == (refs[0], "text")
        assert (items["IMG_0002.png"].request_id, items["IMG_0002.png"].matched_by) == (refs[1], "qr")
        police = items[f"{refs[2]} police report.pdf"]
        assert (police.request_id, police.matched_by) == (refs[2], "filename")
        # The same bytes under another name are one document (intake deduplicates), already linked.
        unlabelled = items["unlabelled.pdf"]
        assert (unlabelled.document_id, unlabelled.matched_by) == (police.document_id, "duplicate")
        for ref in refs:
            assert session.get(RecordRequest, ref).status == "partially-received"  # type: ignore[union-attr]

    moved = folder / PROCESSED
    assert sorted(p.name for p in folder.iterdir() if p.is_file()) == []
    assert {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in moved.iterdir()} == hashes
    assert poll_inbox(runtime, config, actor="inbox").files == 0  # nothing new


@pytest.mark.tesseract
def test_unmatched_file_waits_in_the_inbox(runtime: Runtime, case_id: str) -> None:
    from casefile.tasks.requests.inbox import inbox_root, poll_inbox
    from casefile.tasks.requests.receiving import assign_document, inbox_rows

    config = load_request_config(runtime.settings)
    ref = new_request(
        runtime, case_id=case_id, record_type="medical", provider="metro-general", sent_on=date(2026, 11, 2),
        actor="tester", config=config,
    )["id"]  # fmt: skip
    folder = inbox_root(runtime) / case_id
    folder.mkdir(parents=True)
    shutil.copy(SAMPLE / "medical_record_en.pdf", folder / "from_hospital.pdf")
    result = poll_inbox(runtime, config, actor="inbox")
    assert result.linked == [] and len(result.inbox) == 1
    [waiting] = inbox_rows(runtime, case_id.lower())["items"]
    assert waiting["document_id"] == result.inbox[0]
    assert (waiting["name"], waiting["source"], waiting["pages"]) == ("from_hospital.pdf", "folder", 2)
    assigned = assign_document(runtime, result.inbox[0].lower(), ref, complete=True, actor="tester")
    assert (assigned["id"], assigned["status"]) == (ref, "received")
    assert inbox_rows(runtime, case_id) == {"case_id": case_id, "items": []}
    with pytest.raises(NotFoundError):  # assigned already: no longer waiting
        assign_document(runtime, result.inbox[0], ref, complete=True, actor="tester")
    with runtime.catalog.session() as session:
        req = session.get(RecordRequest, ref)
        assert req is not None and req.status == "received"
        assert [e.document_id for e in req.events if e.kind == "received"] == result.inbox


@pytest.mark.s3
@pytest.mark.tesseract
def test_inbox_poll_takes_in_objects_under_an_s3_prefix_once(runtime: Runtime, case_id: str, s3_store: object) -> None:
    """Answers uploaded to S3 (moto over HTTP) under <prefix><CASE-ID>/ are taken in and matched, each object once;
    the objects stay where they are (the ledger remembers them)."""
    from dataclasses import replace

    from casefile.tasks.core.storage import S3ObjectStore
    from casefile.tasks.requests.inbox import poll_inbox

    assert isinstance(s3_store, S3ObjectStore)
    rt = replace(runtime, store=s3_store)
    config = load_request_config(runtime.settings)
    ref = new_request(
        rt, case_id=case_id, record_type="medical", provider="metro-general", sent_on=date(2026, 11, 2),
        actor="tester", config=config,
    )["id"]  # fmt: skip
    body = (SAMPLE / "medical_record_en.pdf").read_bytes()
    s3_store.put_bytes(f"incoming/{case_id}/{ref}-records.pdf", body)
    s3_store.put_bytes(f"incoming/{case_id}/notes.txt", b"not a record")  # not a supported file: left alone
    s3_store.put_bytes("incoming/C-NOSUCH/x.pdf", body)  # an unknown case: skipped

    result = poll_inbox(rt, config, s3_prefix="incoming/", inbox_dir=Path("/nonexistent"), actor="inbox")
    assert result.files == 1 and len(result.linked) == 1 and result.requests == [ref]
    assert _request(rt, ref).status == "partially-received"
    with rt.catalog.session() as session:
        doc = session.get(Document, result.linked[0])
        assert doc is not None and doc.sha256 == hashlib.sha256(body).hexdigest()
    assert s3_store.get_bytes(f"incoming/{case_id}/{ref}-records.pdf") == body  # kept in place
    again = poll_inbox(rt, config, s3_prefix="incoming/", inbox_dir=Path("/nonexistent"), actor="inbox")
    assert again.files == 0 and again.skipped == 1


def test_a_uscis_foia_request_asks_for_track_3_and_encloses_the_hearing_notice(
    smtp_server: LoopbackSmtp, home: Path, tmp_path: Path
) -> None:
    """The fictional case's hearing (2027-03-04) is ahead: the USCIS letter asks for Track 3. Without a hearing notice
    in the case the advocate is told to add one; with one, it is listed, e-mailed and its id recorded."""
    from casefile.tasks.cases.case import create_case
    from casefile.tasks.core.runtime import get_runtime
    from casefile.tasks.demo.scenario import fictional_case
    from casefile.tasks.documents import pipeline

    runtime = get_runtime()
    with runtime.catalog.session() as session:
        case_id = create_case(session, fictional_case()).id
    without = new_request(
        runtime, case_id=case_id, record_type="foia-uscis", provider="uscis-foia", sent_on=date(2026, 11, 20),
        actor="tester",
    )  # fmt: skip
    assert without["enclosed_document_id"] is None and "Track 3" in without["warnings"][0]
    notice = pipeline.taken_in(
        pipeline.ingest_file(runtime, case_id, SAMPLE / "medical_record_en.pdf", "hearing-notice", searchable=False)
    )
    assert notice is not None
    out = new_request(
        runtime, case_id=case_id, record_type="foia-uscis", provider="uscis-foia", channel="email", actor="tester"
    )
    assert out["enclosed_document_id"] == notice and out["warnings"] == [] and out["mailed"]
    letter = " ".join(
        pdf_text(_fetch(runtime, _request(runtime, out["id"]).letter_document_id, tmp_path / "l.pdf")).split()
    )
    assert (
        "Track 3 requested." in letter and "a copy of the Notice to Appear or notice of hearing is enclosed" in letter
    )
    assert "Copy of the Notice to Appear or notice of hearing before the immigration court" in letter  # enclosures
    assert "Determination due:" in letter and "Response due" not in letter
    assert smtp_server.wait_for(1)
    names = [name for name, _mime, _data in smtp_server.messages[-1].attachments()]
    assert f"{out['id']}-hearing-notice.pdf" in names and len(names) == 3  # letter, identity form, hearing notice


def test_a_type_with_a_spanish_letter_needs_its_spanish_labels(tmp_path: Path) -> None:
    import shutil

    from casefile.tasks.core.errors import ConfigError
    from casefile.tasks.core.settings import PACKAGE_ROOT, load_settings

    config = tmp_path / "config"
    shutil.copytree(PACKAGE_ROOT / "config", config)
    path = config / "record_types.toml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace('label_es = "Certificado de disposición (tribunal penal)"\n', ""), encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_request_config(load_settings(config_dir=config))
    assert "types.court-disposition.label_es" in err.value.message and "Spanish" in err.value.message


def test_the_clients_own_access_request_waits_for_the_clients_signature(smtp_server: LoopbackSmtp, home: Path) -> None:
    """A patient's access request is the client's letter: even to a hospital that takes e-mail, casefile does not
    e-mail it unsigned; it stays a draft until the signed copy went out and is recorded."""
    from casefile.tasks.cases.case import create_case
    from casefile.tasks.core.errors import ValidationError
    from casefile.tasks.core.runtime import get_runtime
    from casefile.tasks.demo.scenario import fictional_case
    from casefile.tasks.requests.sending import send_draft

    runtime = get_runtime()
    with runtime.catalog.session() as session:
        case_id = create_case(session, fictional_case()).id
    out = new_request(runtime, case_id=case_id, record_type="medical-access", provider="metro-general", actor="t")
    assert (out["status"], out["mailed"], out["channel"]) == ("draft", False, "email")
    assert "the client signs this letter" in out["warnings"][0] and smtp_server.messages == []
    with pytest.raises(ValidationError):
        send_draft(runtime, out["id"], actor="t")
    sent = send_draft(runtime, out["id"], on=date(2026, 11, 20), actor="t")
    assert (sent["status"], sent["mailed"], sent["due_basis"]) == ("sent", False, "law")
    assert smtp_server.messages == []
