"""What the legal review asked of a filed packet: signed certificates (or a profile that allows signing after
printing), the DHS office served, the cover page's filer, hearing time and proceedings, languages decided by a person
and named on the translator's certificate, the USCIS cover letter and index, and answers to record requests filed
under their request's type, title and date. Real builds of real documents (OCR off), PDFs opened and read."""

from __future__ import annotations

import shutil
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from pypdf import PdfReader
from test_packet import (  # noqa: F401 - built_case and _no_ocr are fixtures used here
    DHS,
    SAMPLE,
    SERVICE_DATE,
    TRANSLATIONS,
    USCIS_LOCKBOX,
    _add,
    _build,
    _download,
    _no_ocr,
    _outline,
    _plan,
    _translate,
    _uscis_case,
    built_case,
)

from casefile.tasks.core.settings import PACKAGE_ROOT
from casefile.tasks.packets import build as packet
from casefile.tasks.packets import filing
from casefile.tasks.packets import manifest as stored
from casefile.tasks.packets.check import check_packet
from casefile.tasks.packets.profile import read_profile

if TYPE_CHECKING:
    from casefile.tasks.core.runtime import Runtime

CONFIG = PACKAGE_ROOT / "config"


@pytest.fixture
def exhibits(built_case: dict[str, str]) -> dict[str, str]:  # noqa: F811 - the fixture of test_packet
    """test_packet's case of five exhibits (a Spanish police report among them): document ids by name."""
    return built_case


def flat(text: str) -> str:
    return " ".join(text.split())


def _config_copy(tmp_path: Path) -> Path:
    config = tmp_path / "config"
    shutil.copytree(CONFIG, config)
    return config


def _with_config(runtime: Runtime, config: Path) -> Runtime:
    return replace(runtime, settings=runtime.settings.model_copy(update={"config_dir": config}))


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, (path.name, old)
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def _page_of(reader: PdfReader, title: str, child: str | None = None) -> int:
    for t, page, children in _outline(reader):
        if t.startswith(title):
            return page if child is None else dict(children)[child]
    raise AssertionError(title)


# 14. Signed certificates ----------------------------------------------------------------------------------------
def test_certificates_carry_the_electronic_signatures_and_the_manifest_says_so(
    runtime: Runtime, case_id: str, exhibits: dict[str, str], tmp_path: Path
) -> None:
    translation = _translate(runtime, case_id, exhibits["denuncia"])  # the translator signed electronically
    result = _build(runtime, case_id)
    (path,) = _download(runtime, result, tmp_path / "out")
    reader = PdfReader(path)
    service = flat(reader.pages[_page_of(reader, "Certificate of service")].extract_text())
    assert "/s/ Ana Vega (fictional)" in service  # avega signs electronically (config/practice.toml)
    certificate = flat(reader.pages[_page_of(reader, "Exhibit B", "Translator's certificate")].extract_text())
    assert "/s/ Sam Translator (fictional)" in certificate
    manifest = stored.load_manifest(runtime, case_id, result.build_id)
    assert manifest["signatures"] == {
        "signed": ["certificate of service (avega, electronic)", f"translator's certificate of exhibit B (translation "
                   f"{translation})"],
        "to_sign_after_printing": [],
    }  # fmt: skip
    assert (manifest["filer"], manifest["signer"], manifest["channel"]) == ("avega", "avega", "ecas")
    assert check_packet([path], read_profile(CONFIG, "eoir")).ok


def test_unsigned_certificates_refuse_the_build_and_say_how_to_sign(
    runtime: Runtime, case_id: str, exhibits: dict[str, str]
) -> None:
    from casefile.tasks.core.catalog import Translation

    tid = _translate(runtime, case_id, exhibits["denuncia"])
    with runtime.catalog.session() as session:
        translation = session.get(Translation, tid)
        assert translation is not None
        translation.signature = None  # the translator will sign by hand
    with pytest.raises(filing.UnsignedCertificates) as refused:
        _build(runtime, case_id, signer="jsmith")  # a person who signs by hand
    assert refused.value.unsigned == [
        "certificate of service (jsmith)",
        f"translator's certificate of exhibit B (translation {tid})",
    ]
    assert "signed-electronically" in refused.value.message and "wet_after_printing" in refused.value.message
    assert list(runtime.store.list("packets/")) == []


def test_a_profile_that_allows_signing_after_printing_builds_with_a_warning_in_the_manifest(
    runtime: Runtime, case_id: str, exhibits: dict[str, str], tmp_path: Path
) -> None:
    from casefile.tasks.core.catalog import Translation

    tid = _translate(runtime, case_id, exhibits["denuncia"])
    with runtime.catalog.session() as session:
        translation = session.get(Translation, tid)
        assert translation is not None
        translation.signature = None
    config = _config_copy(tmp_path)
    _edit(config / "profiles" / "eoir.toml", "wet_after_printing = false", "wet_after_printing = true")
    result = _build(_with_config(runtime, config), case_id, signer="jsmith")
    to_sign = ["certificate of service (jsmith)", f"translator's certificate of exhibit B (translation {tid})"]
    assert result.to_sign == to_sign
    manifest = stored.load_manifest(runtime, case_id, result.build_id)
    assert manifest["signatures"]["to_sign_after_printing"] == to_sign
    unsigned = [w for w in manifest["check"]["warnings"] if w.startswith("unsigned-certificate")]
    assert len(unsigned) == 2
    assert "To sign by hand after printing" in stored.artifact_markdown(result)


def test_the_check_refuses_unsigned_certificates_and_accepts_s_signatures_and_images(tmp_path: Path) -> None:
    from test_packetcheck import build, codes

    eoir = read_profile(CONFIG, "eoir")
    unsigned, _ = build(tmp_path, signed=False, name="unsigned.pdf")
    # The translator's certificate of exhibit B is page 10, the certificate of service page 13.
    assert codes(check_packet([unsigned], eoir)) == {
        ("unsigned-certificate", "error", 10),
        ("unsigned-certificate", "error", 13),
    }
    wet = replace(eoir, signatures=replace(eoir.signatures, wet_after_printing=True))
    allowed = check_packet([unsigned], wet)
    assert allowed.ok and codes(allowed) == {
        ("unsigned-certificate", "warning", 10),
        ("unsigned-certificate", "warning", 13),
    }
    signed, _ = build(tmp_path, name="signed.pdf")
    assert check_packet([signed], eoir).findings == []
    # A signature image (or a page scanned after it was signed by hand) counts as signed.
    imaged = _stamp_image(unsigned, [9, 12], tmp_path / "imaged.pdf")
    assert check_packet([imaged], eoir).findings == []


def _stamp_image(src: Path, pages: list[int], out: Path) -> Path:
    """``src`` with a small grey image drawn on the given 0-based pages (a signature)."""
    import pikepdf

    with pikepdf.open(src) as pdf:
        for index in pages:
            image = pikepdf.Stream(pdf, bytes(60 * 20))
            image.Type, image.Subtype = pikepdf.Name.XObject, pikepdf.Name.Image
            image.Width, image.Height, image.BitsPerComponent = 60, 20, 8
            image.ColorSpace = pikepdf.Name.DeviceGray
            page = pikepdf.Page(pdf.pages[index])
            name = page.add_resource(image, pikepdf.Name.XObject, prefix="Sig")
            page.contents_add(pdf.make_stream(b"q 120 0 0 40 72 100 cm " + str(name).encode() + b" Do Q"))
        pdf.save(out)
    return out


def test_a_signature_image_from_the_practice_signs_the_certificate(
    runtime: Runtime, case_id: str, tmp_path: Path
) -> None:
    from PIL import Image, ImageDraw

    config = _config_copy(tmp_path)
    signature = config / "signatures" / "mrivera.png"
    signature.parent.mkdir()
    image = Image.new("RGB", (400, 120), "white")
    ImageDraw.Draw(image).line([(10, 100), (120, 20), (220, 90), (390, 15)], fill="black", width=6)
    image.save(signature)
    mrivera = 'title_es = "Abogada supervisora"\nemail = "marta.rivera@example.org"\n'
    _edit(
        config / "practice.toml",
        mrivera + 'signature = "electronic"',
        mrivera + 'signature_image = "signatures/mrivera.png"',
    )
    medical = _add(runtime, case_id, SAMPLE / "medical_record_en.pdf", "medical")
    _plan(runtime, case_id, [{"document": medical, "title": "Emergency room record"}])
    result = _build(_with_config(runtime, config), case_id, signer="mrivera")
    (path,) = _download(runtime, result, tmp_path / "out")
    manifest = stored.load_manifest(runtime, case_id, result.build_id)
    assert manifest["signatures"]["signed"] == ["certificate of service (mrivera, image)"]
    reader = PdfReader(path)
    page = reader.pages[_page_of(reader, "Certificate of service")]
    assert "/s/" not in page.extract_text() and list(page.images)  # the image, not a typed signature


# 15. Languages ----------------------------------------------------------------------------------------------------
def test_pages_without_text_are_unknown_never_english(runtime: Runtime, case_id: str) -> None:
    from casefile.tasks.documents.language import document_language
    from casefile.tasks.packets.exhibits import propose_plan

    assert document_language([None, None]) == "unknown"
    assert document_language(["es", None, None]) == "unknown"  # mostly unknown
    assert document_language(["es", "es", None]) == "es"
    assert document_language(["en", "es", "es", None]) == "es"
    scan = _add(runtime, case_id, SAMPLE / "denuncia_scan_es.pdf", "police")  # a scan, not OCR'd here: no text
    born_digital = _add(runtime, case_id, SAMPLE / "medical_record_en.pdf", "medical")  # its text layer is not read
    languages = {row.document: row.language for row in propose_plan(runtime, case_id).rows}
    assert languages == {scan: "unknown", born_digital: "unknown"}


def test_an_exhibit_of_unknown_language_waits_for_a_persons_decision(runtime: Runtime, case_id: str) -> None:
    import yaml

    from casefile.tasks.packets.exhibits import dump_plan, parse_plan, propose_plan, save_plan

    scan = _add(runtime, case_id, SAMPLE / "denuncia_scan_es.pdf", "police")
    proposed = dump_plan(propose_plan(runtime, case_id), "yaml")
    assert "language: unknown" in proposed and "set the language before building" in proposed
    save_plan(runtime, parse_plan(proposed, "plan.yaml", case_id), "plan.yaml")  # saving is fine ...
    with pytest.raises(packet.LanguageUndecided) as undecided:  # ... building is not
        _build(runtime, case_id)
    assert undecided.value.undecided == [("A", scan, "its pages have no text to tell its language by")]
    decided = yaml.safe_load(proposed)
    decided["exhibits"][0]["language"] = "es"
    save_plan(runtime, parse_plan(yaml.safe_dump(decided), "plan.yaml", case_id), "plan.yaml")
    with pytest.raises(packet.MissingTranslations):  # now it is Spanish, and needs its translation
        _build(runtime, case_id)
    with pytest.raises(Exception, match="language code"):
        parse_plan(
            yaml.safe_dump({**decided, "exhibits": [{**decided["exhibits"][0], "language": "xx"}]}), "p", case_id
        )


def test_the_translators_certificate_names_the_language_of_the_plan(
    runtime: Runtime, case_id: str, tmp_path: Path
) -> None:
    """The translation was linked as Spanish; a person then decides the document is in K'iche' (a language no
    identifier knows) and says so in the plan: the certificate names K'iche', not a guess."""
    scan = _add(runtime, case_id, SAMPLE / "denuncia_scan_es.pdf", "police")
    _plan(runtime, case_id, [{"document": scan, "title": "Statement", "language": "es"}])
    _translate(runtime, case_id, scan)
    _plan(runtime, case_id, [{"document": scan, "title": "Statement", "language": "quc"}])
    result = _build(runtime, case_id)
    (path,) = _download(runtime, result, tmp_path / "out")
    reader = PdfReader(path)
    certificate = flat(reader.pages[_page_of(reader, "Exhibit A", "Translator's certificate")].extract_text())
    assert "competent to translate from K'iche' into English" in certificate
    assert "complete, true and accurate" in certificate  # Appendix G
    assert "Spanish" not in certificate


def test_the_practices_client_languages_and_what_the_identifier_knows_of_them() -> None:
    from casefile.tasks.core.practice import load_practice
    from casefile.tasks.core.settings import load_settings
    from casefile.tasks.documents.language import DEFAULT_LANGUAGES, detect_language, language_name, supported

    practice = load_practice(load_settings(config_dir=CONFIG))
    assert practice.client_languages == ("en", "es", "pt", "fr", "ht", "quc")
    # Lingua has no Haitian Creole and no K'iche': identification chooses among the other four.
    assert supported(practice.client_languages) == DEFAULT_LANGUAGES == ("en", "es", "pt", "fr")
    assert (language_name("ht"), language_name("quc"), language_name("pt")) == (
        "Haitian Creole",
        "K'iche'",
        "Portuguese",
    )
    portuguese = "O requerente declarou que foi ameaçado de morte por membros de uma gangue no seu bairro."
    french = "Le requérant déclare avoir été menacé de mort par des membres d'un gang dans son quartier."
    spanish = "El solicitante declaró que fue amenazado de muerte por miembros de una pandilla en su barrio."
    found = [
        detect_language(t, languages=supported(practice.client_languages)).language
        for t in (portuguese, french, spanish)
    ]
    assert found == ["pt", "fr", "es"]


# 16. The cover page -----------------------------------------------------------------------------------------------
def _cover(runtime: Runtime, case_id: str, tmp_path: Path, **options: Any) -> str:
    result = _build(runtime, case_id, **options)
    (path,) = _download(runtime, result, tmp_path / f"out-{result.build_id}")
    return flat(PdfReader(path).pages[0].extract_text())


def test_the_cover_page_names_the_filer_their_eoir_id_and_role_and_the_hearing_time(
    runtime: Runtime, case_id: str, tmp_path: Path
) -> None:
    from casefile.tasks.cases.case import CaseChanges, update_case

    medical = _add(runtime, case_id, SAMPLE / "medical_record_en.pdf", "medical")
    _plan(runtime, case_id, [{"document": medical, "title": "Emergency room record"}])
    cover = _cover(runtime, case_id, tmp_path)  # the case's advocate: avega
    assert "Ana Vega (fictional)" in cover and "EOIR ID: EXAMPLE0" in cover and "Attorney for the Respondent" in cover
    assert "March 4, 2027 at 9:00 AM" in cover and "In removal proceedings" in cover
    other = _cover(runtime, case_id, tmp_path, filer="mrivera")
    assert "Marta Rivera (fictional)" in other and "EOIR ID: EXAMPLE1" in other
    update_case(runtime, case_id, CaseChanges(advocate="mrivera"))  # the case's advocate files by default
    assert "EOIR ID: EXAMPLE1" in _cover(runtime, case_id, tmp_path)
    with pytest.raises(Exception, match="paralegal"):
        _build(runtime, case_id, filer="jsmith")


def test_an_accredited_representative_and_a_bond_profile_print_their_own_words(
    runtime: Runtime, case_id: str, tmp_path: Path
) -> None:
    config = _config_copy(tmp_path)
    practice = config / "practice.toml"
    _edit(practice, 'key = "mrivera"\nname = "Marta Rivera (fictional)"\nrole = "attorney"',
          'key = "mrivera"\nname = "Marta Rivera (fictional)"\nrole = "accredited-representative"')  # fmt: skip
    rt = _with_config(runtime, config)
    medical = _add(rt, case_id, SAMPLE / "medical_record_en.pdf", "medical")
    _plan(rt, case_id, [{"document": medical, "title": "Emergency room record"}])
    cover = _cover(rt, case_id, tmp_path, filer="mrivera", profile="eoir-bond")
    assert "Accredited Representative" in cover and "Attorney for" not in cover
    assert "In bond proceedings" in cover and "In removal proceedings" not in cover


# 17. The DHS office served ----------------------------------------------------------------------------------------
def test_the_placeholder_dhs_office_refuses_the_build_and_says_where_to_set_it(
    runtime: Runtime, case_id: str, tmp_path: Path
) -> None:
    medical = _add(runtime, case_id, SAMPLE / "medical_record_en.pdf", "medical")
    _plan(runtime, case_id, [{"document": medical, "title": "Emergency room record"}])
    assert read_profile(CONFIG, "eoir").service.placeholder
    with pytest.raises(filing.ServiceOfficePlaceholder) as refused:
        packet.build_packet(runtime, case_id, packet.BuildOptions(service_date=SERVICE_DATE, fictional_practice=True))
    message = refused.value.message
    assert "profiles/eoir.toml" in message and "--service-office" in message and "config_dir" in message
    assert 'casefile practice dhs-office "New York, NY (Broadway)"' in message
    result = _build(runtime, case_id)  # the office given for the build
    (path,) = _download(runtime, result, tmp_path / "out")
    reader = PdfReader(path)
    service = flat(reader.pages[_page_of(reader, "Certificate of service")].extract_text())
    assert DHS["service_office"] in service and "PLACEHOLDER" not in service
    # ... or set in the practice's copy of the profile.
    config = _config_copy(tmp_path)
    profile = config / "profiles" / "eoir.toml"
    text = profile.read_text(encoding="utf-8").replace("PLACEHOLDER - New York", "New York (fictional)")
    profile.write_text(text.replace('"PLACEHOLDER - NOT A REAL ADDRESS",\n', ""), encoding="utf-8")
    assert not read_profile(config, "eoir").service.placeholder
    options = packet.BuildOptions(service_date=SERVICE_DATE, fictional_practice=True)
    packet.build_packet(_with_config(runtime, config), case_id, options)


# 18. Templates cite the current manual ----------------------------------------------------------------------------
def test_packet_templates_cite_the_current_practice_manual() -> None:
    templates = PACKAGE_ROOT / "templates" / "packet"
    service = (templates / "certificate_of_service.html.j2").read_text(encoding="utf-8")
    translator = (templates / "translator_certificate.html.j2").read_text(encoding="utf-8")
    cover = (templates / "cover_page.html.j2").read_text(encoding="utf-8")
    assert "ICPM 3.2(e)" in service and "Appendix F" in service and "Appendix G" not in service
    assert "Appendix G" in translator and "ICPM 3.3(a)" in translator and "complete,\ntrue and accurate" in translator
    assert "Appendix E" in cover and "Appendix F" not in cover
    eoir = (CONFIG / "profiles" / "eoir.toml").read_text(encoding="utf-8")
    assert "Appendices E (cover page), F (certificate of service) and G (certificate of\n# translation)" in eoir


# 19 and 20. USCIS -------------------------------------------------------------------------------------------------
def test_the_uscis_cover_letter_takes_the_role_from_the_case_and_lists_forms_g28_and_fee(
    runtime: Runtime, case_id: str, exhibits: dict[str, str], tmp_path: Path
) -> None:
    _translate(runtime, case_id, exhibits["denuncia"])
    with pytest.raises(filing.MissingUscisRole):
        _build(runtime, case_id, profile="uscis", recipient=USCIS_LOCKBOX)
    _uscis_case(runtime, case_id, role="beneficiary", receipt="IOE 091 234 5678")
    with pytest.raises(filing.MissingRecipient):
        _build(runtime, case_id, profile="uscis")
    result = _build(
        runtime, case_id, profile="uscis", recipient=USCIS_LOCKBOX, forms=("I-130", "Form I-130A"), g28=True, fee="675"
    )
    (path,) = _download(runtime, result, tmp_path / "out")
    reader = PdfReader(path)
    letter_pages = _page_of(reader, "Exhibit Index")  # the cover letter is the front matter before the index
    letter = flat(" ".join(reader.pages[i].extract_text() for i in range(letter_pages)))
    assert "USCIS (fictional lockbox) Attn: I-130 P.O. Box 0000 Chicago, IL 60600" in letter
    assert "Beneficiary: Maria Fernanda Quiroga Test" in letter and "Receipt No.: IOE0912345678" in letter
    listed = [letter.index(item) for item in ("Form I-130 ", "Form I-130A", "Form G-28, Notice of Entry of Appearance",
                                              "Exhibit A:", "Exhibit E:")]  # fmt: skip
    assert listed == sorted(listed)  # forms, then the G-28, then the exhibits
    assert "The filing fee of $675.00 is enclosed." in letter and "(8 items)" in letter
    assert "Respectfully submitted," in letter and "Attorney for the Beneficiary" in letter


def test_the_uscis_index_gives_each_exhibits_number_of_pages(
    runtime: Runtime, case_id: str, exhibits: dict[str, str], tmp_path: Path
) -> None:
    """No packet page number is printed in a USCIS packet: the index gives what a reader can count, each exhibit's
    pages (the "of n" of its labels); the EOIR list keeps the printed ranges."""
    _translate(runtime, case_id, exhibits["denuncia"])
    _uscis_case(runtime, case_id)
    result = _build(runtime, case_id, profile="uscis", recipient=USCIS_LOCKBOX)
    (path,) = _download(runtime, result, tmp_path / "out")
    reader = PdfReader(path)
    index = flat(reader.pages[1].extract_text())
    assert "Number of pages" in index
    for exhibit in result.exhibits:
        n = exhibit["pages"]
        labels = flat(reader.pages[exhibit["first_page"] - 1].extract_text())
        assert f"Exhibit {exhibit['label']}, page 1 of {n}" in labels
    assert [e["pages"] for e in result.exhibits] == [2, 5, 1, 1, 1]
    assert check_packet([path], read_profile(CONFIG, "uscis")).ok


def test_the_size_limit_depends_on_the_filing_channel(runtime: Runtime, case_id: str, exhibits: dict[str, str]) -> None:
    from casefile.tasks.core.errors import ConfigError

    uscis, eoir = read_profile(CONFIG, "uscis"), read_profile(CONFIG, "eoir")
    assert (uscis.size_limit.channel, uscis.size_limit.max_bytes) == ("paper", 0)
    assert uscis.for_channel("online").size_limit.max_bytes == 12_000_000
    assert (eoir.size_limit.channel, eoir.size_limit.max_bytes) == ("ecas", 25 * 1024 * 1024)
    assert eoir.for_channel("paper").size_limit.max_bytes == 0
    with pytest.raises(ConfigError, match="ecas, paper"):
        eoir.for_channel("fax")
    _translate(runtime, case_id, exhibits["denuncia"])
    _uscis_case(runtime, case_id)
    online = _build(runtime, case_id, profile="uscis", recipient=USCIS_LOCKBOX, channel="online")
    assert all(part.bytes <= 12_000_000 for part in online.parts)
    assert stored.load_manifest(runtime, case_id, online.build_id)["channel"] == "online"


# 22. Answers to record requests -----------------------------------------------------------------------------------
def test_an_answer_takes_its_requests_record_type_and_the_plan_its_title_and_date(
    runtime: Runtime, case_id: str
) -> None:
    from casefile.tasks.core.catalog import Document
    from casefile.tasks.packets.exhibits import propose_plan
    from casefile.tasks.requests.config import request_config
    from casefile.tasks.requests.lifecycle import create_request, get_request, route_document, transition

    config = request_config(runtime)
    with runtime.catalog.session() as session:
        req = create_request(
            session, config, case_id=case_id, record_type="medical", provider_key="metro-general",
            records="Emergency department visit, May 2024", actor="test",
        )  # fmt: skip
        transition(session, config, req, "sent", actor="test", on=date(2026, 11, 2))
        ref = req.id
    answer = _add(runtime, case_id, TRANSLATIONS / "id_card.en.pdf")  # any PDF: it arrives unclassified
    with runtime.catalog.session() as session:
        document = session.get(Document, answer)
        assert document is not None and document.doc_type == "unclassified"
        document.original_name = f"{ref}-records.pdf"
        route_document(session, config, document, source="folder", source_ref="x", actor="inbox")
        assert get_request(session, ref).status == "partially-received"
        assert document.doc_type == "medical"
    (row,) = [r for r in propose_plan(runtime, case_id).rows if r.document == answer]
    provider = config.provider("metro-general").name
    assert row.title == f"Medical record from {provider}: Emergency department visit, May 2024"
    assert (row.source, row.date) == (provider, date.today())
