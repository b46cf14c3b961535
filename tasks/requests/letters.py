"""Record-request letters and forms: render them (tasks/core/render.py), store them in the case, read QR codes back.

- ``render_request_pdfs`` renders a request's letter (with its return cover sheet as the last page) and its
  authorization form and enclosures, as PDFs in a folder. ``store_request_documents`` stores them in the case
  (through the documents pipeline, so each gets a document id and SHA-256 like any other file) and records the ids
  on the request. ``render_followup_pdf`` and ``store_followup_document`` do the same for a follow-up letter.
- ``request_mail`` builds the e-mail (tasks/requests/mail.py's ``MailMessage``) for the first request or a follow-up.
- ``qr_data_url`` makes the QR code (segno) as a data: URL (the renderer only allows data: URLs);
  ``read_qr_codes`` rasterises the first pages of a PDF (pypdfium2) and decodes QR codes (zxing-cpp).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from ..core.catalog import Case, Document, RecordRequest
from ..core.errors import CasefileError
from .config import RequestConfig
from .lifecycle import FIRST_PAGES, effective_due

if TYPE_CHECKING:
    from ..core.runtime import Runtime
    from .mail import MailMessage

REQUEST_DOC_TYPE = "request"  # document type of the letters the practice sends (config/document_types.toml)
HEARING_NOTICE_LABELS = {
    "en": "Copy of the Notice to Appear or notice of hearing before the immigration court",
    "es": "Copia de la notificación de comparecencia o del aviso de audiencia ante el tribunal de inmigración",
}


# The relationships typed most often, as a Spanish letter says them (anything else is printed as typed).
RELATIONSHIPS_ES = {
    "mother": "madre",
    "father": "padre",
    "parent": "madre o padre",
    "legal guardian": "tutor legal",
    "guardian": "tutor",
    "grandmother": "abuela",
    "grandfather": "abuelo",
    "aunt": "tía",
    "uncle": "tío",
    "stepmother": "madrastra",
    "stepfather": "padrastro",
    "sister": "hermana",
    "brother": "hermano",
}


def asks_track3(session: Session, config: RequestConfig, req: RecordRequest, on: date | None = None) -> bool:
    """Whether the letter asks USCIS for Track 3 (the requester has a scheduled immigration-court hearing): the
    type allows it and the case's hearing is still ahead on ``on`` (default today)."""
    case = session.get(Case, req.case_id)
    return case is not None and config.record_type(req.record_type).track3 and case.hearing_date >= (on or date.today())


def qr_data_url(text: str) -> str:
    """A QR code of ``text`` as an SVG data: URL (quiet zone included; error correction M survives a fax)."""
    import segno

    return str(segno.make(text, error="m", micro=False).svg_data_uri(scale=4, border=4))


def read_qr_codes(pdf: Path, pages: int = FIRST_PAGES, dpi: int = 200) -> list[str]:
    """The texts of every QR code on the first ``pages`` pages of ``pdf`` (rendered at ``dpi``)."""
    import pypdfium2 as pdfium
    import zxingcpp

    found: list[str] = []
    document = pdfium.PdfDocument(str(pdf))
    try:
        for index in range(min(pages, len(document))):
            page = document[index]
            try:
                image = page.render(scale=dpi / 72, grayscale=True).to_pil()
            finally:
                page.close()
            for barcode in zxingcpp.read_barcodes(image):
                if barcode.text and barcode.text not in found:
                    found.append(barcode.text)
    finally:
        document.close()
    return found


def document_qr_reader(rt: Runtime) -> Callable[[Document], list[str]]:
    """A ``qr_reader`` for casefile.tasks.requests.lifecycle.match_document: reads the stored PDF of a document."""

    def read(document: Document) -> list[str]:
        key, sha = document.normalised_key, document.normalised_sha256
        if key is None:
            return []
        with _workdir(rt, f"qr-{document.id}-") as work:
            pdf = work / "doc.pdf"
            rt.store.download(key, pdf, expected_sha256=sha)
            return read_qr_codes(pdf)

    return read


@contextmanager
def _workdir(rt: Runtime, prefix: str) -> Iterator[Path]:
    from ..core.workdirs import work_folder

    with work_folder(rt.settings.work_dir, prefix) as work:
        yield work


# Context ------------------------------------------------------------------------------------------------------
def letter_context(
    session: Session,
    config: RequestConfig,
    req: RecordRequest,
    *,
    letter_date: date,
    followup: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Everything the request templates use. ``due_on`` before the request is sent is the date it would have if
    sent on ``letter_date`` (received after the channel's mailing days). ``request.basis`` says whether the law sets
    that date ("law": "Response due") or the practice asks for it ("practice": "We ask for a response by");
    ``request.kind`` whether the records or (FOIA) a determination are due. ``subject`` is None for the client's own
    records, else the person whose records they are and the client's relationship to them."""
    from .dates import due_date, receipt_date

    case = session.get(Case, req.case_id)
    assert case is not None
    rtype = config.record_type(req.record_type)
    provider = config.providers.get(req.provider_key)
    advocate = config.person(req.advocate)
    receipt = req.holder_receipt_on or receipt_date(config, req.channel, letter_date)
    due = effective_due(req) or due_date(rtype, receipt)
    form_keys = ((rtype.authorization,) if rtype.authorization else ()) + rtype.enclosures
    enclosures = [config.forms[k].label_for(req.language) for k in form_keys]
    if req.enclosed_document_id:
        enclosures.append(HEARING_NOTICE_LABELS.get(req.language, HEARING_NOTICE_LABELS["en"]))
    subject = None
    if req.subject_name:
        relationship = req.subject_relationship or ""
        if req.language == "es":
            relationship = RELATIONSHIPS_ES.get(relationship.lower(), relationship)
        subject = {"name": req.subject_name, "relationship": relationship}
    return {
        "lang": req.language,
        "practice": config.practice.letterhead(),
        "advocate": {"name": advocate.name, "title": advocate.title_for(req.language), "email": advocate.email},
        "provider": {
            "name": req.provider_name,
            "address_lines": list(provider.address_lines) if provider else [],
            "email": req.provider_email or "",
        },
        "client": {"name": case.client_name, "a_number": case.a_number},
        "request": {
            "id": req.id,
            "type_label": rtype.label_for(req.language),
            "legal_basis": rtype.legal_basis_for(req.language),
            "agency": rtype.agency,
            "records": req.records_description,
            "days": rtype.days,
            "unit": rtype.unit.value,
            "extension_days": rtype.extension_days,
            "letter_date": letter_date,
            "sent_on": req.sent_on or letter_date,
            "due_on": due,
            "basis": rtype.basis.value,
            "kind": rtype.kind.value,
            "track3": asks_track3(session, config, req, letter_date),
            "hearing_notice_enclosed": req.enclosed_document_id is not None,
            "hearing_date": case.hearing_date,
        },
        "subject": subject,
        "enclosures": enclosures,
        "followup": followup,
        "qr_data_url": qr_data_url(req.id),
        "cover_sheet": True,
    }


@dataclass(frozen=True)
class RenderedPdf:
    role: str  # letter | authorization | enclosure | follow-up
    template: str
    path: Path


def _env(rt: Runtime) -> Any:
    from ..core.render import make_environment

    return make_environment(rt.settings.templates_dir, rt.settings.overrides_dir)


def render_request_pdfs(
    rt: Runtime, session: Session, config: RequestConfig, req: RecordRequest, out_dir: Path, *, letter_date: date
) -> list[RenderedPdf]:
    """The letter (cover sheet last), the authorization form and the enclosures of ``req``, as PDFs in ``out_dir``."""
    from ..core.render import render_pdf

    env = _env(rt)
    rtype = config.record_type(req.record_type)
    context = letter_context(session, config, req, letter_date=letter_date)
    forms = [("authorization", rtype.authorization)] if rtype.authorization else []
    forms += [("enclosure", key) for key in rtype.enclosures]
    jobs = [("letter", rtype.letter_template(req.language), f"{req.id}-letter.pdf", context)]
    for role, key in forms:
        form_context = {**context, "cover_sheet": False}
        jobs.append((role, config.forms[key].template(req.language), f"{req.id}-{key}.pdf", form_context))
    rendered = []
    for role, template, name, ctx in jobs:
        path = render_pdf(env, template, ctx, out_dir / name, created=letter_date, title=f"{req.id} {role}")
        rendered.append(RenderedPdf(role, template, path))
    return rendered


def render_followup_pdf(
    rt: Runtime,
    session: Session,
    config: RequestConfig,
    req: RecordRequest,
    step: int,
    out_dir: Path,
    *,
    letter_date: date,
) -> RenderedPdf:
    from ..core.render import render_pdf

    followup = {"step": step, "partial": req.status == "partially-received"}
    context = letter_context(session, config, req, letter_date=letter_date, followup=followup)
    template = f"requests/{req.language}/followup.html.j2"
    path = render_pdf(
        _env(rt),
        template,
        context,
        out_dir / f"{req.id}-followup-{step}.pdf",
        created=letter_date,
        title=f"{req.id} follow-up {step}",
    )
    return RenderedPdf("follow-up", template, path)


def _store(rt: Runtime, case_id: str, pdf: Path) -> str:
    """Store a rendered PDF as a document of the case (intake: hashed, original kept, pages recorded)."""
    from ..documents import pipeline

    # Stored, not read: its text is taken with the case's next ingest (the practice's own letter is not evidence).
    result = pipeline.ingest_file(rt, case_id, pdf, REQUEST_DOC_TYPE, searchable=False)
    document_id = pipeline.taken_in(result)
    if document_id is None:
        raise CasefileError(
            f"The rendered letter {pdf.name} could not be stored ({result.outcome.value}: {result.reason}). "
            "Check the templates (a practice override) and try again."
        )
    return document_id


def store_request_documents(rt: Runtime, config: RequestConfig, request_id: str, *, letter_date: date) -> list[str]:
    """Render the request's letter and forms and store them in its case; record the letter's and the
    authorization's document ids on the request. Returns every document id (letter first)."""
    with _workdir(rt, f"letters-{request_id}-") as work:
        with rt.catalog.session() as session:
            req = session.get(RecordRequest, request_id)
            assert req is not None
            rendered = render_request_pdfs(rt, session, config, req, work, letter_date=letter_date)
            case_id = req.case_id
        ids = {r.role + ":" + r.path.name: _store(rt, case_id, r.path) for r in rendered}
    with rt.catalog.session() as session:
        req = session.get(RecordRequest, request_id)
        assert req is not None
        for role_name, doc_id in ids.items():
            if role_name.startswith("letter:"):
                req.letter_document_id = doc_id
            elif role_name.startswith("authorization:"):
                req.authorization_document_id = doc_id
    return list(ids.values())


def store_followup_document(
    rt: Runtime, config: RequestConfig, request_id: str, step: int, *, letter_date: date
) -> str:
    """Render follow-up letter ``step`` for the request and store it in the case; returns its document id."""
    with _workdir(rt, f"followup-{request_id}-") as work:
        with rt.catalog.session() as session:
            req = session.get(RecordRequest, request_id)
            assert req is not None
            rendered = render_followup_pdf(rt, session, config, req, step, work, letter_date=letter_date)
            case_id = req.case_id
        return _store(rt, case_id, rendered.path)


# E-mail -------------------------------------------------------------------------------------------------------
_SUBJECTS = {
    "en": ("{ref}: request for records ({label})", "{ref}: follow-up {step}, request for records ({label})"),
    "es": ("{ref}: solicitud de documentos ({label})", "{ref}: seguimiento {step}, solicitud de documentos ({label})"),
}


def request_mail(
    rt: Runtime,
    config: RequestConfig,
    request_id: str,
    document_ids: list[str],
    *,
    letter_date: date,
    followup_step: int | None = None,
) -> MailMessage:
    """The e-mail to the provider with ``document_ids`` (stored PDFs) attached. The subject carries the reference
    code and the record type only (never the client's name: subjects travel in clear through mail servers)."""
    from ..core.render import render_html
    from .mail import Attachment, MailMessage

    with rt.catalog.session() as session:
        req = session.get(RecordRequest, request_id)
        assert req is not None
        if not req.provider_email:
            raise CasefileError(f"Record request {req.id} has no provider e-mail address; it cannot go by e-mail.")
        followup = {"step": followup_step, "partial": req.status == "partially-received"} if followup_step else None
        context = letter_context(session, config, req, letter_date=letter_date, followup=followup)
        attachments: list[Attachment] = []
        for doc_id in document_ids:
            doc = session.get(Document, doc_id)
            if doc is None or doc.original_key is None:
                raise CasefileError(f"Document {doc_id} of request {req.id} has no stored bytes to attach.")
            if doc_id == req.enclosed_document_id and doc.normalised_key:
                # A document of the case (the hearing notice): its PDF, named after the request, not its file.
                name, data = f"{req.id}-hearing-notice.pdf", rt.store.get_bytes(doc.normalised_key)
            else:
                name, data = doc.original_name, rt.store.get_bytes(doc.original_key)
            attachments.append(Attachment(name, data, "application/pdf"))
        context["attachments"] = [a.filename for a in attachments]
        lang = req.language if req.language in _SUBJECTS else "en"
        label = config.record_type(req.record_type).label
        template = _SUBJECTS[lang][1 if followup_step else 0]
        subject = template.format(ref=req.id, label=label, step=followup_step)
        text = render_html(_env(rt), f"requests/{lang}/email.txt.j2", context)
        advocate = config.person(req.advocate)
        return MailMessage(
            to=(req.provider_email,),
            subject=subject,
            text=text,
            cc=(advocate.email,),
            attachments=tuple(attachments),
            reply_to=config.practice.email or advocate.email,
        )
