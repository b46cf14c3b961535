"""The template renderer: one environment, escaping, StrictUndefined, overrides, reproducible letter-size PDFs."""

from __future__ import annotations

import subprocess
import tomllib
from datetime import date, time
from pathlib import Path
from typing import Any, cast

import jinja2
import pytest
from pypdf import PdfReader
from pypdf.generic import ArrayObject, DictionaryObject, PdfObject

from casefile.tasks.core.errors import ConfigError, ExitCode
from casefile.tasks.core.render import (
    MissingTemplate,
    MissingTemplateField,
    TemplateError,
    format_a_number_filter,
    format_date,
    format_time,
    make_environment,
    render_html,
    render_pdf,
    template_versions,
)
from casefile.tasks.core.settings import PACKAGE_ROOT
from casefile.tasks.packets.profile import FilingProfile, available_profiles, read_profile

TEMPLATES = PACKAGE_ROOT / "templates"
PROFILES = PACKAGE_ROOT / "config" / "profiles"
HOSTILE_NAME = '<b>José</b> & "Ana" <script>'
PAGES = [
    "packet/cover_page.html.j2",
    "packet/exhibit_list.html.j2",
    "packet/tab_page.html.j2",
    "packet/certificate_of_service.html.j2",
    "packet/translator_certificate.html.j2",
    "packet/uscis_cover_letter.html.j2",
]


@pytest.fixture(scope="module")
def env() -> jinja2.Environment:
    return make_environment(TEMPLATES)


@pytest.fixture(scope="module")
def eoir_profile() -> FilingProfile:
    return read_profile(PACKAGE_ROOT / "config", "eoir")


def make_sample_context(eoir_profile: FilingProfile) -> dict[str, Any]:
    """Every field any packet template uses, with fictional data."""
    return {
        "page": eoir_profile.page.css(),
        "filer": {
            "name": "Jordan Example Lawyer",
            "bar_number": "NY 0000000",
            "eoir_id": "ZZ000000",
            "firm": "Example Immigration Legal Services (fictional)",
            "address_lines": ["1 Sample Street, Suite 2", "New York, NY 10000"],
            "phone": "(212) 555-0100",
            "email": "lawyer@example.org",
        },
        "client": {"name": "Maria Fernanda Quiroga Test", "a_number": "123456789"},
        "court": {"city": "New York, New York"},
        "judge": "Hon. Pat Example",
        "hearing": {"date": date(2027, 3, 4), "time": time(9, 0), "type": "Individual (merits) hearing"},
        "detained": False,
        "filing_title": "Respondent's Exhibits in Support of Application for Asylum",
        "exhibits": [
            {
                "tab": "A",
                "title": "Birth certificate",
                "date": date(1990, 5, 1),
                "source": "Civil registry",
                "first_page": 4,
                "last_page": 5,
            },
            {
                "tab": "B",
                "title": "Declaration",
                "date": None,
                "source": "Respondent",
                "first_page": 12,
                "last_page": 19,
            },
        ],
        "tab": "A",
        "tab_label": "Exhibit",
        "title": "Birth certificate",
        "service": {
            "office": eoir_profile.service.office,
            "address_lines": list(eoir_profile.service.address_lines),
            "method": "electronic service through ECAS",
            "date": "2027-02-01",
        },
        "signer": {"name": "Jordan Example Lawyer"},
        "translator": {
            "name": "Sam Translator",
            "address_lines": ["2 Example Avenue", "Queens, NY 11100"],
            "phone": "(718) 555-0199",
        },
        "source_language": "Spanish",
        "document_title": "Birth certificate (Exhibit A)",
        "date": date(2027, 2, 1),
        "recipient": {"address_lines": ["USCIS (fictional lockbox)", "P.O. Box 0000", "Chicago, IL 60600"]},
        "subject": "Form I-589, Application for Asylum and for Withholding of Removal",
        "intro": "On behalf of the applicant, we submit the enclosed application and supporting evidence.",
        "enclosures": [
            {"label": "Form G-28", "title": "Notice of Entry of Appearance"},
            {"label": "Exhibit A", "title": "Birth certificate"},
        ],
    }


@pytest.fixture
def sample_context(eoir_profile: FilingProfile) -> dict[str, Any]:
    return make_sample_context(eoir_profile)


def pdf_text(path: Path) -> str:
    """The PDF's text with runs of whitespace (line wraps, layout) collapsed to one space."""
    raw = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(path), "-"], check=True, capture_output=True, timeout=30
    ).stdout.decode("utf-8")
    return " ".join(raw.split())


# Filters ---------------------------------------------------------------------------------------------------------


def test_filters() -> None:
    assert format_date(date(2027, 3, 4)) == "March 4, 2027"
    assert format_date("2027-12-25") == "December 25, 2027"
    assert format_time(time(13, 30)) == "1:30 PM"
    assert format_time("09:00") == "9:00 AM"
    assert format_a_number_filter("123456789") == "A123-456-789"
    assert format_a_number_filter("A 12345678") == "A012-345-678"


# HTML --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", PAGES)
def test_every_template_renders_with_the_sample_context(
    env: jinja2.Environment, sample_context: dict[str, Any], name: str
) -> None:
    html = render_html(env, name, sample_context)
    assert html.lstrip().startswith("<!DOCTYPE html>")
    assert "@page" in html and "size: letter" in html


def test_cover_page_content(env: jinja2.Environment, sample_context: dict[str, Any]) -> None:
    html = render_html(env, "packet/cover_page.html.j2", sample_context)
    for expected in (
        "EXECUTIVE OFFICE FOR IMMIGRATION REVIEW",
        "A123-456-789",
        "March 4, 2027 at 9:00 AM",
        "Non-Detained",
        "In removal proceedings",
    ):
        assert expected in html
    sample_context["detained"] = True
    assert ">Detained<" in render_html(env, "packet/cover_page.html.j2", sample_context)


def test_exhibit_list_page_ranges(env: jinja2.Environment, sample_context: dict[str, Any]) -> None:
    html = render_html(env, "packet/exhibit_list.html.j2", sample_context)
    assert "12\u201319" in html and "4\u20135" in html
    assert "May 1, 1990" in html and "Undated" in html


def test_missing_field_is_a_typed_error_naming_the_field(
    env: jinja2.Environment, sample_context: dict[str, Any]
) -> None:
    del sample_context["judge"]
    with pytest.raises(MissingTemplateField) as info:
        render_html(env, "packet/cover_page.html.j2", sample_context)
    err = info.value
    assert isinstance(err, ConfigError) and err.exit_code == ExitCode.CONFIG
    assert err.field == "judge" and err.template == "packet/cover_page.html.j2"
    assert "'judge'" in str(err) and "cover_page.html.j2" in str(err)
    assert "Traceback" not in str(err)


def test_missing_nested_field_names_the_field(env: jinja2.Environment, sample_context: dict[str, Any]) -> None:
    del sample_context["filer"]["email"]
    with pytest.raises(MissingTemplateField) as info:
        render_html(env, "packet/cover_page.html.j2", sample_context)
    assert info.value.field == "email"
    assert "_macros.html.j2" in str(info.value)  # the template file and line where it is used
    assert sample_context["client"]["name"] not in str(info.value)


def test_missing_template_is_a_typed_error(env: jinja2.Environment) -> None:
    with pytest.raises(MissingTemplate) as info:
        render_html(env, "packet/nope.html.j2", {})
    assert "packet/nope.html.j2" in str(info.value)
    with pytest.raises(MissingTemplate):
        template_versions(env, ["packet/nope.html.j2"])


def test_bad_value_for_a_filter_is_a_template_error(env: jinja2.Environment, sample_context: dict[str, Any]) -> None:
    sample_context["client"]["a_number"] = "12"
    with pytest.raises(TemplateError, match="A-number"):
        render_html(env, "packet/cover_page.html.j2", sample_context)


def test_client_markup_is_escaped_in_html(env: jinja2.Environment, sample_context: dict[str, Any]) -> None:
    sample_context["client"]["name"] = HOSTILE_NAME
    for name in ("packet/cover_page.html.j2", "packet/exhibit_list.html.j2"):
        html = render_html(env, name, sample_context)
        assert "&lt;b&gt;José&lt;/b&gt; &amp; &#34;Ana&#34; &lt;script&gt;" in html
        assert "<script>" not in html and "<b>José" not in html


def test_override_folder_wins(tmp_path: Path, sample_context: dict[str, Any]) -> None:
    override = tmp_path / "practice"
    (override / "packet").mkdir(parents=True)
    (override / "packet" / "tab_page.html.j2").write_text(
        '{% extends "packet/base.html.j2" %}{% block body %}PRACTICE TAB {{ tab }}{% endblock %}', encoding="utf-8"
    )
    env = make_environment(TEMPLATES, override)
    assert "PRACTICE TAB A" in render_html(env, "packet/tab_page.html.j2", sample_context)
    # templates the practice did not copy still come from the defaults
    assert "EXECUTIVE OFFICE" in render_html(env, "packet/cover_page.html.j2", sample_context)
    default_env = make_environment(TEMPLATES)
    ours = template_versions(env, ["packet/tab_page.html.j2", "packet/cover_page.html.j2"])
    theirs = template_versions(default_env, ["packet/tab_page.html.j2", "packet/cover_page.html.j2"])
    assert ours["packet/tab_page.html.j2"] != theirs["packet/tab_page.html.j2"]
    assert ours["packet/cover_page.html.j2"] == theirs["packet/cover_page.html.j2"]
    assert all(len(v) == 64 for v in ours.values())


def test_sandbox_blocks_unsafe_attribute_access(tmp_path: Path) -> None:
    override = tmp_path / "practice"
    (override / "packet").mkdir(parents=True)
    (override / "packet" / "evil.html.j2").write_text("{{ ''.__class__.__mro__ }}", encoding="utf-8")
    env = make_environment(TEMPLATES, override)
    with pytest.raises(TemplateError):
        render_html(env, "packet/evil.html.j2", {})


# PDF ---------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cover_pdfs(
    env: jinja2.Environment, eoir_profile: FilingProfile, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Path]:
    """The cover page rendered twice (with a hostile client name), for the PDF checks below."""
    context = make_sample_context(eoir_profile)
    context["client"]["name"] = HOSTILE_NAME
    out = tmp_path_factory.mktemp("pdf")
    first = render_pdf(env, "packet/cover_page.html.j2", context, out / "one.pdf", created=date(2027, 2, 1))
    second = render_pdf(env, "packet/cover_page.html.j2", context, out / "two.pdf", created=date(2027, 2, 1))
    return first, second


def test_pdf_is_reproducible(cover_pdfs: tuple[Path, Path]) -> None:
    first, second = cover_pdfs
    assert first.read_bytes() == second.read_bytes()
    assert not list(first.parent.glob(".*.tmp"))  # no temporary file left behind


def _dict(obj: PdfObject) -> DictionaryObject:
    resolved = obj.get_object()
    assert isinstance(resolved, DictionaryObject)
    return resolved


def test_pdf_is_letter_size_with_embedded_fonts(cover_pdfs: tuple[Path, Path]) -> None:
    reader = PdfReader(cover_pdfs[0])
    assert len(reader.pages) == 1
    box = reader.pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (612, 792)
    fonts = 0
    for page in reader.pages:
        resources = _dict(page["/Resources"])
        for font_ref in _dict(resources["/Font"]).values():
            font = _dict(font_ref)
            if font.get("/Subtype") == "/Type0":
                font = _dict(cast(ArrayObject, font["/DescendantFonts"].get_object())[0])
            descriptor = _dict(font["/FontDescriptor"])
            assert "/FontFile2" in descriptor or "/FontFile3" in descriptor, font.get("/BaseFont")
            fonts += 1
    assert fonts >= 1
    assert reader.metadata is not None and reader.metadata.get("/CreationDate", "").startswith("D:20270201")


def test_pdf_text_shows_markup_literally_and_the_cover_facts(cover_pdfs: tuple[Path, Path]) -> None:
    text = pdf_text(cover_pdfs[0])
    assert HOSTILE_NAME in text
    assert "A123-456-789" in text
    assert "NEW YORK, NEW YORK" in text
    assert "IMMIGRATION COURT" in text


def test_different_context_gives_a_different_pdf(
    env: jinja2.Environment, sample_context: dict[str, Any], tmp_path: Path
) -> None:
    one = render_pdf(env, "packet/tab_page.html.j2", sample_context, tmp_path / "a.pdf")
    sample_context["tab"] = "B"
    two = render_pdf(env, "packet/tab_page.html.j2", sample_context, tmp_path / "b.pdf")
    assert one.read_bytes() != two.read_bytes()
    assert "EXHIBIT B" in pdf_text(two)
    assert PdfReader(one).metadata is None or "/CreationDate" not in (PdfReader(one).metadata or {})


def test_missing_field_in_pdf_render_leaves_no_file(
    env: jinja2.Environment, sample_context: dict[str, Any], tmp_path: Path
) -> None:
    del sample_context["tab"]
    with pytest.raises(MissingTemplateField):
        render_pdf(env, "packet/tab_page.html.j2", sample_context, tmp_path / "tab.pdf")
    assert list(tmp_path.iterdir()) == []


def test_profiles_are_valid_data() -> None:
    config = PACKAGE_ROOT / "config"
    assert {"eoir", "uscis"} <= set(available_profiles(config))
    for name in available_profiles(config):  # every profile shipped loads, and names its own file
        with (PROFILES / f"{name}.toml").open("rb") as fh:
            assert tomllib.load(fh)["profile"]["name"] == name
        profile = read_profile(config, name)
        assert profile.name == name
        assert profile.page.size == "letter"
        templates = profile.templates
        for template in [*templates.pages, templates.tab, templates.translator_certificate]:
            assert (TEMPLATES / template).is_file()
    assert read_profile(config, "eoir").size_limit.max_bytes == 25 * 1024 * 1024


def test_layout_many_gives_each_rendering_the_pages_it_has_alone(
    env: jinja2.Environment, sample_context: dict[str, Any], tmp_path: Path
) -> None:
    """One WeasyPrint layout for many renderings of a template: each keeps exactly its own pages, in order."""
    from casefile.tasks.core.render import layout, layout_many, write_documents

    row = sample_context["exhibits"][0]
    many = [{**row, "tab": str(i), "title": f"Exhibit number {i}"} for i in range(1, 80)]  # several pages
    contexts = [
        {**sample_context, "filing_title": "First list"},
        {**sample_context, "filing_title": "Second list", "exhibits": many},
        {**sample_context, "filing_title": "Third list"},
    ]
    together = layout_many(env, "packet/exhibit_list.html.j2", contexts)
    alone = [layout(env, "packet/exhibit_list.html.j2", c) for c in contexts]
    assert [len(t.pages) for t in together] == [len(a.pages) for a in alone]
    assert len(together[1].pages) > 1
    out = write_documents(together, tmp_path / "lists.pdf", identifier="test")
    texts = [page.extract_text() for page in PdfReader(out).pages]
    assert len(texts) == sum(len(a.pages) for a in alone)
    assert "First list" in texts[0] and "Second list" in texts[1] and "Third list" in texts[-1]
    assert "Exhibit number 79" in texts[-2]
