"""What record-request letters and forms say, as a holder reads them: every letter and form rendered for real in
English and Spanish (page counts, no page left nearly empty, the signature block with its last paragraph, Spanish
labels), the wording the legal review asked for (ask, do not assert; HIPAA and FERPA access requests; FOIA), and
each Spanish template compared with its English pair (same variables, conditions and sections)."""

from __future__ import annotations

import re
import subprocess
from collections import Counter
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import jinja2
import pytest
from jinja2 import nodes

from casefile.tasks.core.settings import PACKAGE_ROOT
from casefile.tasks.requests.config import Basis, RequestConfig, request_config
from casefile.tasks.requests.letters import render_followup_pdf, render_request_pdfs
from casefile.tasks.requests.lifecycle import create_request

if TYPE_CHECKING:
    from casefile.tasks.core.runtime import Runtime

TEMPLATES = PACKAGE_ROOT / "templates" / "requests"
LETTER_DATE = date(2026, 11, 20)
RECORDS = "Emergency department visit of May 14, 2024, and follow-up visits"
CHILD = ("Diego Quiroga Test", "mother")  # fictional, like the case's client
NEARLY_EMPTY = 0.2  # a page whose text spans less than this share of its height holds a stray line or two


def pdf_pages_text(path: Path, layout: bool = True) -> list[str]:
    """Each page's text (poppler); ``layout`` False reads table columns one after the other, not line by line."""
    args = ["pdftotext", *(["-layout"] if layout else []), str(path), "-"]
    out = subprocess.run(args, capture_output=True, text=True, check=True, timeout=60)
    pages = out.stdout.split("\f")
    return pages[:-1] if pages and not pages[-1].strip() else pages


def flat(text: str) -> str:
    return " ".join(text.split())


def text_extent(path: Path) -> list[float]:
    """Per page: the share of the page's height between its first and last line of text (pdfium)."""
    import pypdfium2 as pdfium

    shares = []
    document = pdfium.PdfDocument(str(path))
    try:
        for index in range(len(document)):
            page = document[index]
            textpage = page.get_textpage()
            try:
                tops, bottoms = [], []
                for k in range(textpage.count_rects()):
                    _left, bottom, _right, top = textpage.get_rect(k)
                    bottoms.append(bottom)
                    tops.append(top)
                height = page.get_height()
                shares.append((max(tops) - min(bottoms)) / height if tops else 0.0)
            finally:
                textpage.close()
                page.close()
    finally:
        document.close()
    return shares


@dataclass
class Rendered:
    record_type: str
    language: str
    role: str  # letter | authorization | enclosure | follow-up
    path: Path
    subject: bool


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> list[Rendered]:
    """Every record type's letter, forms and follow-up, in each language it has, for the client's own records and,
    where the type allows it, for a child's: rendered to PDF once for the module."""
    import os

    from casefile.tasks.cases.case import create_case
    from casefile.tasks.core.runtime import get_runtime, reset_runtimes
    from casefile.tasks.demo.scenario import fictional_case

    home = tmp_path_factory.mktemp("letters-home")
    old = os.environ.get("CASEFILE_HOME")
    os.environ["CASEFILE_HOME"] = str(home)
    reset_runtimes()
    try:
        rt = get_runtime()
        config = request_config(rt)
        with rt.catalog.session() as session:
            case_id = create_case(session, fictional_case()).id
        out: list[Rendered] = []
        for key, rtype in config.types.items():
            provider = next(p.key for p in config.providers.values() if key in p.serves)
            subjects = [False, True] if rtype.other_subject else [False]
            for language in rtype.letters:
                for with_child in subjects:
                    out += _render_one(rt, config, case_id, key, provider, language, with_child, home)
        out.append(_spanish_identity_form(rt, config, case_id, home))
        return out
    finally:
        if old is None:
            os.environ.pop("CASEFILE_HOME", None)
        else:
            os.environ["CASEFILE_HOME"] = old
        reset_runtimes()


def _render_one(
    rt: Runtime, config: RequestConfig, case_id: str, key: str, provider: str, language: str, child: bool, home: Path
) -> list[Rendered]:
    folder = home / "pdf" / f"{key}-{language}-{'child' if child else 'own'}"
    with rt.catalog.session() as session:
        req = create_request(
            session, config, case_id=case_id, record_type=key, provider_key=provider, records=RECORDS, actor="test",
            subject_name=CHILD[0] if child else None, subject_relationship=CHILD[1] if child else None,
        )  # fmt: skip
        req.language = language
        session.flush()
        pdfs = render_request_pdfs(rt, session, config, req, folder, letter_date=LETTER_DATE)
        req.status, req.sent_on, req.due_on = "overdue", LETTER_DATE, date(2026, 12, 20)
        followup = render_followup_pdf(rt, session, config, req, 1, folder, letter_date=date(2027, 1, 4))
        session.rollback()
    return [Rendered(key, language, p.role, p.path, child) for p in [*pdfs, followup]]


def _spanish_identity_form(rt: Runtime, config: RequestConfig, case_id: str, home: Path) -> Rendered:
    """FOIA letters are in English only (federal agencies); the client may sign the identity form in Spanish."""
    from casefile.tasks.core.render import make_environment, render_pdf
    from casefile.tasks.requests.letters import letter_context

    with rt.catalog.session() as session:
        req = create_request(
            session, config, case_id=case_id, record_type="foia-uscis", provider_key="uscis-foia", actor="test"
        )
        req.language = "es"
        context = {**letter_context(session, config, req, letter_date=LETTER_DATE), "cover_sheet": False}
        session.rollback()
    out = home / "pdf" / "foia-identity-es.pdf"
    env = make_environment(PACKAGE_ROOT / "templates")
    render_pdf(env, config.forms["foia-identity"].template("es"), context, out)
    return Rendered("foia-uscis", "es", "authorization", out, False)


def test_every_letter_and_form_renders_in_both_languages_without_a_nearly_empty_page(
    rendered: list[Rendered],
) -> None:
    """Letters are one page and the return cover sheet (FOIA letters, which say more, two pages); forms one page; no
    page holds only a stray paragraph or a signature: the signature block stays with the letter's last paragraph."""
    config = request_config_for_tests()
    spanish_types = {k for k, t in config.types.items() if "es" in t.letters}
    assert {r.record_type for r in rendered if r.language == "es" and r.role == "letter"} == spanish_types
    assert {"medical", "medical-access", "school", "school-access", "foreign-civil"} <= spanish_types
    problems = []
    for item in rendered:
        pages = pdf_pages_text(item.path)
        foia = config.types[item.record_type].kind.value == "determination" and item.role == "letter"
        expected = {1} if item.role in ("authorization", "enclosure") else {2, 3} if foia else {2}
        if len(pages) not in expected:
            problems.append(f"{item.path.name} ({item.language}): {len(pages)} pages, expected {expected}")
        for number, share in enumerate(text_extent(item.path), start=1):
            if share < NEARLY_EMPTY:
                problems.append(f"{item.path.name} ({item.language}) page {number}: nearly empty ({share:.0%})")
        if item.role in ("letter", "follow-up") and len(pages) in expected:
            first = flat(" ".join(pages[:-1]))
            signer = "Ana Vega (fictional)"
            if config.types[item.record_type].letter_signer == "client" and item.role == "letter":
                signer = "Signature of the requester" if item.language == "en" else "Firma de la persona solicitante"
            if signer not in first:
                problems.append(f"{item.path.name}: no signature before the return cover sheet")
    assert problems == [], "\n".join(problems)


SPANISH_ONLY_FORBIDDEN = (
    "Response due", "Our reference", "Records requested", "Client:", "Enclosures", "Dear ", "Sincerely",
    "Attorney for", "Re:", "We ask", "Signature", "Printed name", "Thank you",
)  # fmt: skip


def test_every_label_of_a_spanish_letter_is_spanish_including_the_signers_role(rendered: list[Rendered]) -> None:
    spanish = [r for r in rendered if r.language == "es" and r.path.name.endswith(".pdf")]
    assert spanish
    for item in spanish:
        pages = pdf_pages_text(item.path)
        # The return cover sheet (a letter's last page) is bilingual on purpose: every label says both.
        body = flat(" ".join(pages[:-1] if item.role in ("letter", "follow-up") else pages))
        found = [word for word in SPANISH_ONLY_FORBIDDEN if word in body]
        assert found == [], (item.path.name, found)
        if item.role in ("letter", "follow-up") and item.record_type not in ("medical-access", "school-access"):
            assert "Abogada de la persona interesada" in body, item.path.name  # practice.toml title_es


def request_config_for_tests() -> RequestConfig:
    from casefile.tasks.cases.rules import read_filing_rules
    from casefile.tasks.core.practice import load_practice
    from casefile.tasks.core.settings import load_settings
    from casefile.tasks.requests.config import read_request_config

    config_dir = PACKAGE_ROOT / "config"
    practice = load_practice(load_settings(config_dir=config_dir))
    return read_request_config(config_dir, practice, read_filing_rules(config_dir), PACKAGE_ROOT / "templates")


def _letters(
    rendered: list[Rendered], key: str, language: str = "en", child: bool = False, layout: bool = True
) -> dict[str, str]:
    return {
        r.role: flat(" ".join(pdf_pages_text(r.path, layout)))
        for r in rendered
        if r.record_type == key and r.language == language and r.subject is child
    }


def test_letters_ask_for_a_date_unless_the_law_sets_it(rendered: list[Rendered]) -> None:
    """Types whose days are the practice's expectation say "We ask for a response by"; only types whose deadline is
    the law's say "Response due" (FOIA: "Determination due"), and no practice-type letter asserts a legal duty."""
    config = request_config_for_tests()
    assertive = ("Response due", "law requires", "must comply", "statute requires", "cost-based")
    for key, rtype in config.types.items():
        for language in rtype.letters:
            letter = _letters(rendered, key, language)["letter"]
            cover = _letters(rendered, key, language, layout=False)["letter"].split("RETURN COVER SHEET")[-1]
            if rtype.basis is Basis.PRACTICE:
                asked = "We ask for a response by:" if language == "en" else "Les pedimos responder antes del:"
                assert asked in letter, (key, language)
                assert not [w for w in assertive if w in letter.split("RETURN COVER SHEET")[0]], (key, language)
                assert "Please reply by / Favor de responder antes del" in cover
            elif rtype.kind.value == "determination":
                assert "Determination due:" in letter and "Determination due / Fecha límite de la decisión" in cover
            else:
                assert ("Response due:" if language == "en" else "Fecha límite de respuesta:") in letter
    assert {k for k, t in config.types.items() if t.basis is Basis.LAW} == {
        "medical-access", "school-access", "foia-uscis", "foia-ice", "foia-cbp", "foia-eoir",
    }  # fmt: skip


def test_hipaa_letters_ask_under_an_authorization_and_assert_the_law_only_in_the_patients_own_request(
    rendered: list[Rendered],
) -> None:
    attorney, patient = _letters(rendered, "medical")["letter"], _letters(rendered, "medical-access")["letter"]
    assert "45 CFR 164.508" in attorney and "164.524" not in attorney
    assert "We ask for a response within 30 days" in attorney and "Please tell us in advance of any fee." in attorney
    assert "I request a copy of my protected health information" in patient and "45 CFR 164.524" in patient
    assert "The law requires you to act on this request within 30 days" in patient
    assert "for a copy I receive myself, the law allows only a reasonable, cost-based fee" in patient
    assert "Signature of the requester" in patient and "Ana Vega (fictional), Example Immigrant" in patient
    # Spanish says the same, sentence for sentence (the fee sentence included).
    es_attorney, es_patient = (
        _letters(rendered, "medical", "es")["letter"],
        _letters(rendered, "medical-access", "es")["letter"],
    )
    assert "Les rogamos informarnos de antemano de cualquier costo." in es_attorney
    assert "164.524" not in es_attorney and "La ley exige" not in es_attorney
    assert "la ley solo permite una tarifa razonable basada en el costo" in es_patient


def test_ferpa_letters_ask_under_a_consent_and_the_45_days_bind_only_the_parents_own_request(
    rendered: list[Rendered],
) -> None:
    consent, parent = _letters(rendered, "school")["letter"], _letters(rendered, "school-access")["letter"]
    assert "34 CFR 99.30" in consent and "99.10" not in consent and "We ask for a response within 45 days" in consent
    assert "I ask to inspect and review my education records" in parent and "34 CFR 99.10" in parent
    assert "The law requires the school to comply within 45 days" in parent
    assert "I ask that you send me copies instead" in parent


def test_a_childs_records_name_the_child_and_the_parent_signs_with_the_relationship(rendered: list[Rendered]) -> None:
    name, relationship = CHILD
    medical = _letters(rendered, "medical", child=True)
    assert f"Records of: {name} (our client is their {relationship})" in medical["letter"]
    assert f"signed by our client as {relationship} of the patient, {name}" in medical["letter"]
    assert f"Patient name {name}" in medical["authorization"]
    assert f"description of authority: {relationship} of the patient" in medical["authorization"]
    school = _letters(rendered, "school", child=True)
    assert f"Student name {name}" in school["authorization"]
    assert f"Signature of the student's {relationship} · Date" in school["authorization"]
    access = _letters(rendered, "school-access", child=True)["letter"]
    assert f"the education records of {name}, as their {relationship}" in access
    spanish = _letters(rendered, "medical", "es", child=True)
    assert f"Documentos de: {name} (la persona que representamos es su madre)" in spanish["letter"]
    assert f"Nombre del paciente {name}" in spanish["authorization"]


def test_hipaa_authorization_excludes_psychotherapy_notes_and_expires_at_the_earlier_date(
    rendered: list[Rendered],
) -> None:
    english, spanish = (
        _letters(rendered, "medical")["authorization"],
        _letters(rendered, "medical", "es")["authorization"],
    )
    assert "This authorization does not cover psychotherapy notes" in english
    assert "separate authorization" in english
    assert "One year from the date signed, or on ______________, whichever is earlier" in english
    assert "no cubre las notas de psicoterapia" in spanish and "lo que ocurra primero" in spanish


def test_foia_forms_and_letters(rendered: list[Rendered]) -> None:
    identity = _letters(rendered, "foia-uscis")["authorization"]
    assert "Current address" in identity and "6 CFR 5.21(d)" in identity and "28 CFR 16.41(d)" in identity
    assert "knowingly or willfully seeking or obtaining access to records about another person under false " in identity
    assert "fine of up to USD 5,000" in identity
    spanish = next(
        flat(" ".join(pdf_pages_text(r.path)))
        for r in rendered
        if r.record_type == "foia-uscis" and r.language == "es" and r.role == "authorization"
    )
    assert "a sabiendas o intencionalmente" in spanish and "solicitar u obtener" in spanish
    assert "5 000 dólares estadounidenses (USD 5,000" in spanish and "Dirección actual" in spanish
    eoir = _letters(rendered, "foia-eoir")["letter"]
    assert "Record of Proceedings" in eoir and "A-file" not in eoir
    uscis = _letters(rendered, "foia-uscis")["letter"]
    assert "A-file" in uscis and "Track 3 requested" in uscis  # the fictional case's hearing is in 2027


def test_the_support_letter_guide_gives_the_1746_declaration_without_qualifiers(rendered: list[Rendered]) -> None:
    guide = _letters(rendered, "support-letter", layout=False)["enclosure"]
    assert (
        "I declare under penalty of perjury under the laws of the United States of America that the foregoing is "
        "true and correct." in guide
    )
    assert (
        "Declaro bajo pena de perjurio conforme a las leyes de los Estados Unidos de América que lo anterior es "
        "verdadero y correcto." in guide
    )
    assert "to the best of my knowledge that" not in guide and 'según mi leal saber y entender."' not in guide


# EN/ES parity ------------------------------------------------------------------------------------------------------
def _paths(node: nodes.Node) -> set[str]:
    """Dotted names the template reads ("request.due_on", "client.name"), longest chains only."""
    found: set[str] = set()

    def name_of(n: nodes.Node) -> str | None:
        if isinstance(n, nodes.Name):
            return n.name
        if isinstance(n, nodes.Getattr):
            base = name_of(n.node)
            return f"{base}.{n.attr}" if base else None
        return None

    def walk(n: nodes.Node, inside_attr: bool = False) -> None:
        if isinstance(n, nodes.Getattr | nodes.Name) and not inside_attr:
            dotted = name_of(n)
            if dotted and not (isinstance(n, nodes.Name) and n.ctx != "load"):
                found.add(dotted)
        for child in n.iter_child_nodes():
            walk(child, inside_attr=isinstance(n, nodes.Getattr))

    walk(node)
    return found


def _conditions(tree: nodes.Template) -> list[str]:
    """Each {% if %} test as the names and constants it compares, in order."""
    out = []
    for node in tree.find_all(nodes.If):
        consts = sorted(str(c.value) for c in node.test.find_all(nodes.Const))
        out.append(" ".join(sorted(_paths(node.test))) + " | " + " ".join(consts))
    return out


SECTION_MARKS = ("<p", "<tr", "<li", "<h1", "<h2", "<ol", "<table", 'class="keep"', "m.signature(",
                 "m.signature_line(", "m.due_line(", "{% block ", "{% extends ")  # fmt: skip


def _sections(source: str) -> Counter[str]:
    body = re.sub(r"\{#.*?#\}", "", source, flags=re.S)
    return Counter({mark: body.count(mark) for mark in SECTION_MARKS})


def _sentences(source: str) -> list[int]:
    """Sentences per paragraph, list item and table cell (fields count as words): a sentence dropped from one
    language's paragraph changes its count."""
    body = re.sub(r"\{#.*?#\}", "", source, flags=re.S)
    counts = []
    for _tag, inner in re.findall(r"<(p|li|td)\b[^>]*>(.*?)</\1>", body, flags=re.S):
        text = re.sub(r"\{\{.*?\}\}", "X", inner, flags=re.S)
        text = re.sub(r"<[^>]+>|\{%.*?%\}", " ", text, flags=re.S)
        counts.append(len(re.findall(r"[.!?](?=\s+[A-ZÁÉÍÓÚÑ¿X(]|\s*$)", " ".join(text.split()))))
    return counts


PAIRS = sorted(p.name for p in (TEMPLATES / "es").iterdir() if (TEMPLATES / "en" / p.name).exists())


def test_every_spanish_template_has_its_english_pair() -> None:
    assert sorted(p.name for p in (TEMPLATES / "es").iterdir()) == PAIRS
    assert len(PAIRS) >= 12


@pytest.mark.parametrize("name", PAIRS)
def test_spanish_template_matches_its_english_pair(name: str) -> None:
    """Same fields, same conditions, same paragraphs, rows, list items, blocks and signature lines: a sentence
    added to one language and not the other (the HIPAA fee sentence once) fails here."""
    env = jinja2.Environment(autoescape=True)
    en_source = (TEMPLATES / "en" / name).read_text(encoding="utf-8")
    es_source = (TEMPLATES / "es" / name).read_text(encoding="utf-8")
    en, es = env.parse(en_source), env.parse(es_source)
    assert _paths(en) == _paths(es)
    assert _conditions(en) == _conditions(es)
    assert [b.name for b in en.find_all(nodes.Block)] == [b.name for b in es.find_all(nodes.Block)]
    assert _sections(en_source) == _sections(es_source)
    assert _sentences(en_source) == _sentences(es_source)
