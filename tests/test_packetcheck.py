"""The pre-filing check (tasks/packets/check/) on real PDFs: small packets laid out with WeasyPrint (the exhibit
list from the real template), bookmarks and page labels added with pikepdf, then broken one way at a time."""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pikepdf
import pytest

from casefile.tasks.core.errors import ConfigError, PacketCheckError, ToolError
from casefile.tasks.packets.check import CheckReport, Finding, check_packet
from casefile.tasks.packets.check.pdffile import Geometry
from casefile.tasks.packets.profile import FilingProfile, read_profile

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "config"
DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")

ENGLISH = (
    "The respondent went to the clinic on several occasions after the attack. The physician noted bruises on "
    "both arms and recommended rest and follow-up visits at the same clinic."
)
SPANISH = (
    "El señor fue amenazado de muerte por miembros de la pandilla en su barrio. La policía no hizo nada para "
    "protegerlo y su familia tuvo que huir de la ciudad durante la noche."
)


@dataclass
class Ex:
    label: str
    title: str
    pages: list[str]  # body text of each document page
    translation: list[str] | None = None  # English translation pages; a certificate page follows


@dataclass
class Plan:
    """Where everything landed: 0-based page indexes, and the outline the builder would write."""

    bands: list[str | None] = field(default_factory=list)
    bodies: list[str] = field(default_factory=list)
    outline: list[tuple[str, int, list[tuple[str, int]]]] = field(default_factory=list)
    ranges: dict[str, tuple[int, int]] = field(default_factory=dict)  # label -> first, last (0-based)


EXHIBITS = [
    Ex("A", "Medical record", [ENGLISH, ENGLISH]),
    Ex("B", "Police report", [SPANISH, SPANISH], translation=[ENGLISH]),
    Ex("1", "Country conditions report", [ENGLISH]),
]


def _plan(profile: str, exhibits: Sequence[Ex], signed: bool = True) -> Plan:
    """``signed``: the certificates carry "/s/ Name" (as the builder prints an electronic signature)."""
    plan = Plan()
    eoir = profile == "eoir"
    front = ["Cover page", "Index of Exhibits"] if eoir else ["Cover letter", "Exhibit Index"]
    for title in front:
        plan.outline.append((title, len(plan.bodies), []))
        plan.bodies.append("LIST" if "Index" in title else f"<h1>{title}</h1>")
    for ex in exhibits:
        first = len(plan.bodies)
        children: list[tuple[str, int]] = []
        if eoir:
            plan.bodies.append(f"<h1>Exhibit {ex.label}</h1>")
        if ex.translation is not None:
            children.append(("Document", len(plan.bodies)))
        plan.bodies += [f"<p>{text}</p>" for text in ex.pages]
        if ex.translation is not None:
            children.append(("English translation", len(plan.bodies)))
            plan.bodies += [f"<p>{text}</p>" for text in ex.translation]
            children.append(("Translator's certificate", len(plan.bodies)))
            plan.bodies.append(
                "<h1>Certificate of Translation</h1><p>I certify that I am competent.</p>"
                + ("<p>/s/ Sam Translator (fictional)</p>" if signed else "")
            )
        plan.outline.append((f"Exhibit {ex.label}: {ex.title}", first, children))
        plan.ranges[ex.label] = (first, len(plan.bodies) - 1)
    if eoir:
        plan.outline.append(("Certificate of service", len(plan.bodies), []))
        plan.bodies.append("<h1>Certificate of Service</h1>" + ("<p>/s/ Ana Vega (fictional)</p>" if signed else ""))
    for g in range(len(plan.bodies)):
        if eoir:
            plan.bands.append(str(g + 1))
        else:
            owner = next((label for label, (a, b) in plan.ranges.items() if a <= g <= b), None)
            if owner is None:
                plan.bands.append(None)
            else:
                a, b = plan.ranges[owner]
                plan.bands.append(f"Exhibit {owner}, page {g - a + 1} of {b - a + 1}")
    return plan


def _list_html(profile: str, exhibits: Sequence[Ex], plan: Plan, override: Mapping[str, str]) -> tuple[str, str]:
    """The exhibit list rendered by the real template: (its stylesheet, its body)."""
    from casefile.tasks.core.render import make_environment, render_html

    env = make_environment(ROOT / "templates")
    rows = []
    for ex in exhibits:
        a, b = plan.ranges[ex.label]
        rows.append(
            {
                "tab": ex.label,
                "title": ex.title + " issued by the authorities of the place where it happened, with a long title",
                "date": "2024-03-05",
                "source": "Clinic records office",
                "first_page": a + 1,
                "last_page": b + 1,
                "pages": b - a + 1,
            }
        )
    html = render_html(
        env,
        "packet/exhibit_list.html.j2",
        {
            "client": {"name": "Test Person", "a_number": "123456789"},
            "filing_title": "Exhibits",
            "exhibits": rows,
            "list_title": "Index of Exhibits" if profile == "eoir" else "Exhibit Index",
            "list_counts": profile != "eoir",  # USCIS prints no page numbers: the list gives each exhibit's pages
        },
    )
    for label, text in override.items():  # a wrong range printed in the list
        a, b = plan.ranges[label]
        printed = str(b - a + 1) if profile != "eoir" else f"{a + 1}\u2013{b + 1}" if a != b else str(a + 1)
        html = re.sub(
            rf'(<td class="tab">{label}</td>.*?<td class="pages">){re.escape(printed)}(</td>)',
            rf"\g<1>{text}\g<2>",
            html,
            count=1,
            flags=re.DOTALL,
        )
    style = re.search(r"<style>(.*?)</style>", html, re.DOTALL)
    body = re.search(r"<body>(.*)</body>", html, re.DOTALL)
    assert style and body
    return style[1], body[1]


def _render(plan: Plan, list_css: str, list_body: str, out: Path, position: str) -> None:
    """One page per body; each page's band text in a margin box of its own (a named page per page)."""
    import weasyprint

    rules = []
    pages = []
    for g, (body, band) in enumerate(zip(plan.bodies, plan.bands, strict=True)):
        content = f'content: "{band}";' if band is not None else ""
        size = "11pt" if position == "bottom-center" else "10pt"
        rules.append(f"@page p{g} {{ @{position} {{ {content} font-size: {size}; }} }} .p{g} {{ page: p{g}; }}")
        html = list_body if body == "LIST" else body
        pages.append(f'<section class="p{g}" style="break-before: page">{html}</section>')
    doc = f"<html><head><style>{list_css}\n{''.join(rules)}</style></head><body>{''.join(pages)}</body></html>"
    weasyprint.HTML(string=doc).write_pdf(out)


def _finish(
    src: Path, plan: Plan, out: Path, pages: range | None = None, *, labels: bool = True, label_start: int = 1
) -> Path:
    """Pages ``pages`` of ``src`` with the builder's bookmarks (those that fall in the range) and page labels."""
    with pikepdf.open(src) as pdf:
        keep = pages if pages is not None else range(len(pdf.pages))
        part = pikepdf.new()
        part.pages.extend(pdf.pages[keep.start : keep.stop])
        with part.open_outline() as outline:
            for title, first, children in plan.outline:
                kids = [(t, p) for t, p in children if p in keep]
                if first not in keep and not kids:
                    continue
                at = first if first in keep else keep.start
                item = pikepdf.OutlineItem(title if first in keep else f"{title} (continued)", at - keep.start)
                for t, p in kids:
                    item.children.append(pikepdf.OutlineItem(t, p - keep.start))
                outline.root.append(item)
        if labels:
            part.Root.PageLabels = part.make_indirect(
                pikepdf.Dictionary(
                    Nums=pikepdf.Array([0, pikepdf.Dictionary(S=pikepdf.Name.D, St=label_start + keep.start)])
                )
            )
        part.save(out)
    return out


def build(
    tmp: Path,
    *,
    profile: str = "eoir",
    exhibits: Sequence[Ex] = EXHIBITS,
    bands: Mapping[int, str | None] | None = None,  # 1-based page -> band text (None: nothing)
    list_override: Mapping[str, str] | None = None,
    name: str = "packet.pdf",
    signed: bool = True,
) -> tuple[Path, Plan]:
    plan = _plan(profile, exhibits, signed)
    for page, text in (bands or {}).items():
        plan.bands[page - 1] = text
    css, body = _list_html(profile, exhibits, plan, list_override or {})
    raw = tmp / f"raw-{name}"
    _render(plan, css, body, raw, "bottom-center" if profile == "eoir" else "bottom-right")
    return _finish(raw, plan, tmp / name, labels=profile == "eoir"), plan


CONFIDENTIAL = ("Test Person", "Medical record", "Police report", "Country conditions", "amenazado", "respondent")


def codes(report: CheckReport) -> set[tuple[str, str, int | None]]:
    """(code, severity, page) of every finding; and no finding quotes a name, a title or page text."""
    for finding in report.findings:
        assert not any(secret.lower() in finding.message.lower() for secret in CONFIDENTIAL), finding.message
    return {(f.code, f.severity, f.page) for f in report.findings}


def only(report: CheckReport, code: str) -> list[Finding]:
    return [f for f in report.findings if f.code == code]


@pytest.fixture(scope="module")
def eoir() -> FilingProfile:
    return read_profile(CONFIG, "eoir")


@pytest.fixture(scope="module")
def uscis() -> FilingProfile:
    return read_profile(CONFIG, "uscis")


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Plan]:
    return build(tmp_path_factory.mktemp("good"))


@pytest.fixture
def copy_of(good: tuple[Path, Plan], tmp_path: Path) -> Path:
    out = tmp_path / "packet.pdf"
    out.write_bytes(good[0].read_bytes())
    return out


# Profiles ---------------------------------------------------------------------------------------------------------
def test_load_profile_unknown_name_lists_profiles() -> None:
    with pytest.raises(ConfigError) as err:
        read_profile(CONFIG, "bond")
    assert "eoir" in str(err.value) and "uscis" in str(err.value)
    with pytest.raises(ConfigError):
        read_profile(CONFIG, "../eoir")


# The good packet --------------------------------------------------------------------------------------------------
def test_good_eoir_packet_passes(good: tuple[Path, Plan], eoir: FilingProfile) -> None:
    path, plan = good
    report = check_packet([path], eoir)
    assert report.ok, report.findings
    assert report.findings == []
    (row,) = report.files
    assert row["name"] == "packet.pdf" and row["pages"] == len(plan.bodies) == 13
    assert (row["first_number"], row["last_number"]) == (1, 13)
    assert len(row["sha256"]) == 64 and row["bytes"] == path.stat().st_size
    as_dict = report.to_dict()
    assert as_dict["ok"] is True and as_dict["profile"] == "eoir" and as_dict["findings"] == []


# Page size, size limit, encryption, fonts -------------------------------------------------------------------------
def test_wrong_page_size_is_named(copy_of: Path, eoir: FilingProfile) -> None:
    with pikepdf.open(copy_of, allow_overwriting_input=True) as pdf:
        pdf.pages[3].MediaBox = pikepdf.Array([0, 0, 595, 842])  # A4 in a letter filing
        pdf.save(copy_of)
    report = check_packet([copy_of], eoir)
    assert not report.ok
    assert codes(report) == {("page-size", "error", 4)}
    assert "packet.pdf" in only(report, "page-size")[0].message


def test_rotated_page_is_read_as_viewed(copy_of: Path, eoir: FilingProfile) -> None:
    with pikepdf.open(copy_of, allow_overwriting_input=True) as pdf:
        pdf.pages[3].Rotate = 90  # landscape when viewed; its number now runs up the left edge
        pdf.save(copy_of)
    report = check_packet([copy_of], eoir)
    assert ("page-orientation", "warning", 4) in codes(report)
    assert ("page-number-missing", "error", 4) in codes(report)


def test_geometry_maps_user_space_to_the_viewed_page() -> None:
    g = Geometry(100, 50, 612, 792, 90)  # CropBox offset by (100, 50), rotated 90 clockwise
    assert g.size == (792, 612)
    assert g.point(100 + 612, 50 + 10) == (10, 0)  # the user right edge is the viewed bottom
    assert Geometry(0, 0, 612, 792, 270).point(0, 10) == (782, 0)  # the user left edge is the viewed bottom
    assert Geometry(0, 0, 612, 792, 180).point(10, 20) == (602, 772)


def test_size_limit(good: tuple[Path, Plan], eoir: FilingProfile) -> None:
    profile = replace(eoir, size_limit=replace(eoir.size_limit, max_bytes=1000))
    report = check_packet([good[0]], profile)
    assert codes(report) == {("too-large", "error", None)}


def test_encrypted_file_is_a_finding(copy_of: Path, tmp_path: Path, eoir: FilingProfile) -> None:
    locked = tmp_path / "locked.pdf"
    with pikepdf.open(copy_of) as pdf:
        pdf.save(locked, encryption=pikepdf.Encryption(user="secret", owner="owner"))
    report = check_packet([locked], eoir)
    assert ("encrypted", "error", None) in codes(report)
    assert not report.ok
    opened = tmp_path / "open.pdf"  # opens without a password: reported, and checked all the same
    with pikepdf.open(copy_of) as pdf:
        pdf.save(opened, encryption=pikepdf.Encryption(user="", owner="owner"))
    report = check_packet([opened], eoir)
    assert codes(report) == {("encrypted", "error", None)}
    assert report.files[0]["last_number"] == 13


@pytest.mark.parametrize(("font", "severity"), [("Calibri", "error"), ("Helvetica", "warning")])
def test_font_not_embedded(copy_of: Path, eoir: FilingProfile, font: str, severity: str) -> None:
    """A font that is not embedded is an error; one of the 14 standard fonts every reader has is a warning."""
    with pikepdf.open(copy_of, allow_overwriting_input=True) as pdf:
        page = pdf.pages[4]
        helvetica = pdf.make_indirect(
            pikepdf.Dictionary(Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont=pikepdf.Name("/" + font))
        )
        # inside a form XObject: nested resources are walked too
        form = pikepdf.Stream(pdf, b"BT /FHelv 10 Tf 72 400 Td (Note) Tj ET")
        form.Type = pikepdf.Name.XObject
        form.Subtype = pikepdf.Name.Form
        form.BBox = pikepdf.Array([0, 0, 612, 792])
        form.Resources = pikepdf.Dictionary(Font=pikepdf.Dictionary(FHelv=helvetica))
        shared = page.Resources  # shared by every page: give this page resources of its own
        xobjects = pikepdf.Dictionary({k: v for k, v in shared.get("/XObject", pikepdf.Dictionary()).items()})
        xobjects.FmHelv = pdf.make_indirect(form)
        own = pikepdf.Dictionary({k: v for k, v in shared.items() if k != "/XObject"})
        own.XObject = xobjects
        page.Resources = own
        name = "/FmHelv"
        page.contents_add(pikepdf.Stream(pdf, f"q {name} Do Q".encode()), prepend=False)
        pdf.save(copy_of)
    report = check_packet([copy_of], eoir)
    (finding,) = only(report, "font-not-embedded")
    assert (finding.severity, finding.page) == (severity, 5)
    assert font in finding.message
    assert codes(report) == {("font-not-embedded", severity, 5)}
    assert report.ok is (severity == "warning")


# Errors -----------------------------------------------------------------------------------------------------------
def test_corrupt_or_missing_file_is_a_typed_error(tmp_path: Path, eoir: FilingProfile) -> None:
    bad = tmp_path / "bad.pdf"
    bad.write_bytes(b"%PDF-1.7\nthis is not really a PDF at all\n")
    with pytest.raises(PacketCheckError) as err:
        check_packet([bad], eoir)
    assert err.value.file == "bad.pdf"
    with pytest.raises(PacketCheckError):
        check_packet([tmp_path / "nowhere.pdf"], eoir)


def test_a_qpdf_check_that_dies_is_a_typed_error_not_a_verdict(
    good: tuple[Path, Plan], eoir: FilingProfile, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "executable", shutil.which("false"))  # the checking process exits without an answer
    with pytest.raises(ToolError) as err:
        check_packet([good[0]], eoir)
    assert good[0].name in str(err.value) and "without an answer" in str(err.value)


def test_qpdf_check_module_reports_qpdf_exit_status_and_file_names_only(tmp_path: Path) -> None:
    """Run as the check runs it, in a fresh process: qpdf's limits are process-wide, and a process that has read a
    hostile file (as other tests here do) has qpdf add "some configurable limits were exceeded" to every job."""

    def child(path: Path) -> Any:
        out = subprocess.run(
            [sys.executable, "-m", "casefile.tasks.packets.qpdf_child", str(path)],
            capture_output=True,
            text=True,
            check=True,
        )
        return json.loads(out.stdout)

    clean = tmp_path / "clean.pdf"
    with pikepdf.new() as pdf:
        pdf.add_blank_page()
        pdf.save(clean)
    assert child(clean) == {"exit": 0, "problems": [], "libqpdf": pikepdf.__libqpdf_version__, "missing_decoders": []}
    damaged = tmp_path / "damaged.pdf"
    damaged.write_bytes(clean.read_bytes()[:-40])  # no trailer, no startxref
    answer = child(damaged)
    assert answer["exit"] in (2, 3) and answer["problems"]
    assert all(str(tmp_path) not in line for line in answer["problems"])
    assert any(line.startswith("damaged.pdf") for line in answer["problems"])


def test_damaged_structure_fails_qpdf_check(copy_of: Path, eoir: FilingProfile) -> None:
    data = copy_of.read_bytes()
    start = data.rindex(b"startxref")
    data = data[:start] + re.sub(rb"startxref\s+\d+", b"startxref\n17", data[start:])
    copy_of.write_bytes(data)  # readers recover by scanning the file; qpdf --check says it is damaged
    report = check_packet([copy_of], eoir)
    assert codes(report) == {("qpdf-check", "error", None)}
    (finding,) = only(report, "qpdf-check")
    assert finding.severity == "error"
    assert str(copy_of.parent) not in finding.message


# Numbering --------------------------------------------------------------------------------------------------------
def test_missing_number(tmp_path: Path, eoir: FilingProfile) -> None:
    path, _ = build(tmp_path, bands={7: None})
    report = check_packet([path], eoir)
    assert codes(report) == {("page-number-missing", "error", 7)}


def test_numbers_out_of_order(tmp_path: Path, eoir: FilingProfile) -> None:
    path, _ = build(tmp_path, bands={4: "5", 5: "4"})
    report = check_packet([path], eoir)
    gaps = {(f.code, f.page) for f in report.findings if f.code.startswith(("numbering", "page-number"))}
    assert gaps == {("numbering-gap", 4), ("numbering-gap", 5)}  # both swapped pages, nothing after them
    assert ("page-labels", "error", 4) in codes(report)  # the viewer's labels no longer match the print
    assert "expected 4" in only(report, "numbering-gap")[0].message


def test_split_packet_numbering_continues_across_parts(
    good: tuple[Path, Plan], tmp_path: Path, eoir: FilingProfile
) -> None:
    _, plan = good
    raw = good[0].parent / "raw-packet.pdf"
    part1 = _finish(raw, plan, tmp_path / "packet-part01.pdf", range(0, 5))  # cover, list, exhibit A
    part2 = _finish(raw, plan, tmp_path / "packet-part02.pdf", range(5, 13))  # exhibits B, 1, certificate
    report = check_packet([part1, part2], eoir)
    assert report.ok, report.findings
    assert [(f["first_number"], f["last_number"]) for f in report.files] == [(1, 5), (6, 13)]

    gap = _finish(raw, plan, tmp_path / "gap-part02.pdf", range(6, 13))  # page 6 (exhibit B's tab) lost
    report = check_packet([part1, gap], eoir)
    assert ("numbering-gap", "error", 1) in codes(report)
    (finding,) = only(report, "numbering-gap")
    assert finding.file == "gap-part02.pdf"


def test_page_labels_must_match_printed_numbers(good: tuple[Path, Plan], tmp_path: Path, eoir: FilingProfile) -> None:
    raw = good[0].parent / "raw-packet.pdf"
    path = _finish(raw, good[1], tmp_path / "labels.pdf", label_start=2)
    report = check_packet([path], eoir)
    assert codes(report) == {("page-labels", "error", 1)}
    path = _finish(raw, good[1], tmp_path / "nolabels.pdf", labels=False)
    assert codes(check_packet([path], eoir)) == {("page-labels", "error", None)}


# Exhibit list and outline -----------------------------------------------------------------------------------------
def test_list_range_not_matching_outline(tmp_path: Path, eoir: FilingProfile) -> None:
    path, _ = build(tmp_path, list_override={"B": "6-9"})
    report = check_packet([path], eoir)
    (finding,) = only(report, "range-mismatch")
    assert (finding.severity, finding.page) == ("error", 2)  # on the exhibit list's page
    assert "exhibit B" in finding.message and "6-10" in finding.message
    assert codes(report) == {("range-mismatch", "error", 2)}


def test_missing_outline(good: tuple[Path, Plan], tmp_path: Path, eoir: FilingProfile) -> None:
    path = tmp_path / "flat.pdf"
    with pikepdf.open(good[0]) as pdf:
        del pdf.Root.Outlines
        pdf.save(path)
    report = check_packet([path], eoir)
    assert ("no-outline", "error", None) in codes(report)


def test_outline_out_of_order(good: tuple[Path, Plan], tmp_path: Path, eoir: FilingProfile) -> None:
    raw = good[0].parent / "raw-packet.pdf"
    plan = copy.deepcopy(good[1])
    title, _page, children = plan.outline[-1]
    plan.outline[-1] = (title, 0, children)  # "Certificate of service" pointing at the cover
    report = check_packet([_finish(raw, plan, tmp_path / "order.pdf")], eoir)
    found = codes(report)
    assert ("outline-order", "error", 1) in found
    assert ("outline-mismatch", "error", None) in found


# Translations -----------------------------------------------------------------------------------------------------
def test_spanish_exhibit_without_translation(tmp_path: Path, eoir: FilingProfile) -> None:
    exhibits = [EXHIBITS[0], Ex("B", "Police report", [SPANISH, SPANISH]), EXHIBITS[2]]
    path, _ = build(tmp_path, exhibits=exhibits)
    report = check_packet([path], eoir)
    assert codes(report) == {("translation-missing", "error", 6)}  # at exhibit B's tab page
    message = only(report, "translation-missing")[0].message
    assert "exhibit B" in message and "amenazado" not in message

    allowed = check_packet([path], eoir, expect_translations=False)
    assert codes(allowed) == {("translation-missing", "warning", 6)}
    assert allowed.ok


# USCIS ------------------------------------------------------------------------------------------------------------
def test_uscis_labels(tmp_path: Path, uscis: FilingProfile) -> None:
    path, plan = build(tmp_path, profile="uscis", name="uscis.pdf")
    report = check_packet([path], uscis)
    assert report.ok, report.findings
    assert report.findings == []
    assert plan.bands[:3] == [None, None, "Exhibit A, page 1 of 2"]

    path, _ = build(
        tmp_path,
        profile="uscis",
        name="wrong.pdf",
        bands={4: "Exhibit A, page 3 of 2", 5: None, 1: "Exhibit A, page 1 of 9"},
    )
    report = check_packet([path], uscis)
    assert codes(report) == {
        ("stamp-mismatch", "error", 4),
        ("stamp-missing", "error", 5),
        ("stamp-unexpected", "error", 1),
    }


# Size -------------------------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_a_thousand_page_packet_is_checked_page_by_page(tmp_path: Path, eoir: FilingProfile) -> None:
    """Every page's number is read and the file comes out clean (how long it takes: benchmarks/bench_check.py)."""
    from fpdf import FPDF

    pdf = FPDF(unit="pt", format="letter")
    pdf.add_font("dv", fname=str(DEJAVU))
    pdf.set_font("dv", size=11)
    for n in range(1, 1001):
        pdf.add_page()
        for k in range(30):
            pdf.text(72, 90 + 20 * k, "The respondent reported the threats to the local police, then left.")
        pdf.text(300, 792 - 36, str(n))  # fpdf2 measures y from the top
    pdf.text(72, 720, "/s/ Ana Vega (fictional)")  # the certificate of service, last page, is signed
    raw = tmp_path / "raw.pdf"
    pdf.output(str(raw))
    path = tmp_path / "big.pdf"
    with pikepdf.open(raw) as big:
        with big.open_outline() as outline:
            outline.root.append(pikepdf.OutlineItem("Cover page", 0))
            outline.root.append(pikepdf.OutlineItem("Index of Exhibits", 1))
            outline.root.append(pikepdf.OutlineItem("Certificate of service", 999))
        big.Root.PageLabels = pikepdf.Dictionary(Nums=pikepdf.Array([0, pikepdf.Dictionary(S=pikepdf.Name.D)]))
        big.save(path)
    report = check_packet([path], eoir)
    assert report.ok, report.findings[:5]
    assert report.findings == []
    (row,) = report.files
    assert (row["pages"], row["first_number"], row["last_number"]) == (1000, 1, 1000)


# Pictures verified once per stored document (tasks/packets/qpdf_child.py) ------------------------------------------
def _grey_jpeg(seed: int) -> bytes:
    import io
    import random

    from PIL import Image

    out = io.BytesIO()
    Image.frombytes("L", (200, 200), random.Random(seed).randbytes(200 * 200)).save(out, "JPEG")
    return out.getvalue()


def _pictures_pdf(path: Path, pictures: Sequence[bytes], content: bytes = b"q 200 0 0 200 0 0 cm /Im0 Do Q") -> Path:
    with pikepdf.new() as pdf:
        for data in pictures:
            pdf.add_blank_page()
            image = pdf.make_stream(
                data,
                Type=pikepdf.Name.XObject,
                Subtype=pikepdf.Name.Image,
                Width=200,
                Height=200,
                ColorSpace=pikepdf.Name.DeviceGray,
                BitsPerComponent=8,
                Filter=pikepdf.Name.DCTDecode,
            )
            page = pdf.pages[-1]
            page.Resources = pikepdf.Dictionary(XObject=pikepdf.Dictionary(Im0=image))
            page.Contents = pdf.make_stream(content)
        pdf.save(path)
    return path


def test_a_verified_picture_is_trusted_but_a_damaged_copy_of_it_and_every_other_stream_are_checked(
    tmp_path: Path,
) -> None:
    from casefile.tasks.packets.qpdf_child import check, check_trusting, verify_pictures

    good = _grey_jpeg(1)
    verdict = verify_pictures(_pictures_pdf(tmp_path / "stored.pdf", [good]))
    assert verdict["pictures"] == 1 and len(verdict["trusted"]) == 1 and verdict["problems"] == []
    trusted = frozenset(verdict["trusted"])

    clean = _pictures_pdf(tmp_path / "clean.pdf", [good, good])
    assert check_trusting(clean, trusted)["exit"] == check(clean)["exit"] == 0

    # The same picture cut short, and with bytes overwritten: neither has the verified bytes, both are decoded.
    cut = good[: len(good) // 2]
    overwritten = bytearray(good)
    overwritten[len(good) // 2 : len(good) // 2 + 200] = bytes(200)
    damaged = _pictures_pdf(tmp_path / "damaged.pdf", [good, cut, bytes(overwritten)])
    answer = check_trusting(damaged, trusted)
    assert answer["exit"] != 0
    assert len([line for line in answer["problems"] if "error decoding stream data" in line]) == 2

    # A stream the builder writes (a page's contents) is checked whatever the pictures' verdicts.
    with pikepdf.open(clean) as pdf:
        contents = pdf.pages[0].Contents
        contents.write(b"x\x9c\x00\x01garbage", filter=pikepdf.Name.FlateDecode)
        pdf.save(tmp_path / "contents.pdf")
    answer = check_trusting(tmp_path / "contents.pdf", trusted)
    assert answer["exit"] != 0 and answer["problems"]
    assert check(tmp_path / "contents.pdf")["exit"] != 0
