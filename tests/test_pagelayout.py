"""tasks/packets/layout.py on real PDFs made here: rotated, cropped, landscape, A4, phone-photo, UserUnit, annotated,
scanned and edge-touching pages. Pages are rendered with pdftoppm at low resolution and checked by their pixels."""

from __future__ import annotations

import hashlib
import io
import subprocess
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import img2pdf
import pikepdf
import pypdf
import pytest
from fpdf import FPDF
from pikepdf import Array, Dictionary, Name
from PIL import Image

from casefile.tasks.core.config import load_toml
from casefile.tasks.core.errors import ConfigError, PacketInputError, ToolMissing, ValidationError
from casefile.tasks.packets.layout import (
    PageLayout,
    carry_optional_content,
    downsample_images,
    find_stamp_font,
    place_pages,
    stamp_pages,
)
from casefile.tasks.packets.profile import FilingProfile, css_points, parse_profile, read_profile

CONFIG = Path(__file__).resolve().parent.parent / "config"
LAYOUT = PageLayout()
RES = 36  # render resolution (dpi): half a pixel per point
K = RES / 72
DARK = 40  # below: black marker
INK = 235  # below: any content


# Rendering -------------------------------------------------------------------------------------------------------
def render(pdf: pikepdf.Pdf | Path, tmp: Path, dpi: int = RES) -> list[Image.Image]:
    """Every page as a greyscale image (pdftoppm)."""
    if isinstance(pdf, pikepdf.Pdf):
        path = tmp / "render.pdf"
        pdf.save(path)
    else:
        path = pdf
    prefix = tmp / "page"
    for old in tmp.glob("page-*.pgm"):
        old.unlink()
    subprocess.run(["pdftoppm", "-r", str(dpi), "-gray", "-cropbox", str(path), str(prefix)], check=True, timeout=60)
    images = []
    for file in sorted(tmp.glob("page-*.pgm"), key=lambda p: int(p.stem.rsplit("-", 1)[1])):
        with Image.open(file) as im:
            images.append(im.convert("L"))
    return images


def bbox(im: Image.Image, below: int) -> tuple[int, int, int, int] | None:
    """Bounding box (left, top, right, bottom) of the pixels darker than ``below``."""
    return im.point(lambda v: 255 if v < below else 0).getbbox()


def pixels(im: Image.Image, below: int) -> set[tuple[int, int]]:
    mask = im.point(lambda v: 255 if v < below else 0)
    w = mask.width
    return {(i % w, i // w) for i, v in enumerate(mask.tobytes()) if v}


def expected_rect(view_w: float, view_h: float, layout: PageLayout = LAYOUT) -> tuple[float, float, float, float]:
    """Where a page of this viewed size must land, in pixels (left, top, right, bottom) of the render."""
    x0, y0, x1, y1 = layout.content_box()
    s = min(1.0, (x1 - x0) / view_w, (y1 - y0) / view_h)
    w, h = view_w * s, view_h * s
    left = x0 + ((x1 - x0) - w) / 2
    bottom = y0 + ((y1 - y0) - h) / 2
    return (left * K, (layout.height_pt - bottom - h) * K, (left + w) * K, (layout.height_pt - bottom) * K)


def close(a: tuple[float, ...], b: tuple[float, ...], tol: float = 2.0) -> bool:
    return all(abs(x - y) <= tol for x, y in zip(a, b, strict=True))


# Source pages ----------------------------------------------------------------------------------------------------
SQUARE = 60.0  # pt: the marker drawn at the viewed top-left corner


def drawn_page(
    pdf: pikepdf.Pdf,
    media: tuple[float, float, float, float],
    *,
    rotate: int = 0,
    crop: tuple[float, float, float, float] | None = None,
    user_unit: float | None = None,
) -> pikepdf.Page:
    """A page filled grey over its visible box (dark grey outside it), with a black square at the corner a viewer
    shows top-left."""
    x0, y0, x1, y1 = crop or media
    turn = rotate % 360
    sq = min(SQUARE, (x1 - x0) / 4, (y1 - y0) / 4)
    corner = {0: (x0, y1 - sq), 90: (x0, y0), 180: (x1 - sq, y0), 270: (x1 - sq, y1 - sq)}[turn]
    mx0, my0, mx1, my1 = media
    content = (
        f"0.25 g {mx0} {my0} {mx1 - mx0} {my1 - my0} re f\n"
        f"0.5 g {x0} {y0} {x1 - x0} {y1 - y0} re f\n"
        f"0 g {corner[0]} {corner[1]} {sq} {sq} re f\n"
    )
    page = Dictionary(
        Type=Name.Page,
        MediaBox=Array(list(media)),
        Contents=pdf.make_stream(content.encode()),
        Resources=Dictionary(),
    )
    if rotate:
        page.Rotate = rotate
    if crop:
        page.CropBox = Array(list(crop))
    if user_unit:
        page.UserUnit = user_unit
    pdf.pages.append(pikepdf.Page(pdf.make_indirect(page)))
    return pdf.pages[-1]


def jpeg(size: tuple[int, int], dpi: int, *, mode: str = "L", square: int = 0, quality: int = 90) -> bytes:
    """A noisy grey photo-like JPEG with a black square at its top-left corner."""
    small = Image.effect_noise((max(1, size[0] // 8), max(1, size[1] // 8)), 40).resize(size, Image.Resampling.BICUBIC)
    im = small.convert(mode)
    if square:
        im.paste(0, (0, 0, square, square))
    out = io.BytesIO()
    im.save(out, "JPEG", quality=quality, dpi=(dpi, dpi))
    return out.getvalue()


def annotated_page(pdf: pikepdf.Pdf) -> None:
    """A letter page with a Square annotation (its own appearance), a link, and a filled-in AcroForm text field
    without an appearance (/NeedAppearances true)."""
    page = drawn_page(pdf, (0, 0, 612, 792))
    appearance = pdf.make_stream(b"0 g 0 0 100 100 re f", BBox=Array([0, 0, 100, 100]), Type=Name.XObject)
    appearance.Subtype = Name.Form
    square = pdf.make_indirect(
        Dictionary(
            Type=Name.Annot, Subtype=Name.Square, Rect=Array([200, 300, 300, 400]), F=4, AP=Dictionary(N=appearance)
        )
    )
    link = pdf.make_indirect(
        Dictionary(
            Type=Name.Annot,
            Subtype=Name.Link,
            Rect=Array([100, 100, 200, 120]),
            A=Dictionary(S=Name.URI, URI=pikepdf.String("https://example.org/")),
        )
    )
    field = pdf.make_indirect(
        Dictionary(
            Type=Name.Annot,
            Subtype=Name.Widget,
            FT=Name.Tx,
            T=pikepdf.String("name"),
            V=pikepdf.String("Hola"),
            DA=pikepdf.String("/Helv 12 Tf 0 g"),
            Rect=Array([350, 500, 550, 530]),
            F=4,
            P=page.obj,
        )
    )
    page.obj.Annots = Array([square, link, field])
    helv = pdf.make_indirect(
        Dictionary(Type=Name.Font, Subtype=Name.Type1, BaseFont=Name.Helvetica, Encoding=Name.WinAnsiEncoding)
    )
    pdf.Root.AcroForm = Dictionary(
        Fields=Array([field]),
        NeedAppearances=True,
        DR=Dictionary(Font=Dictionary(Helv=helv)),
        DA=pikepdf.String("/Helv 0 Tf 0 g"),
    )


def edge_page(path: Path) -> None:
    """A born-digital letter page (fpdf2) with text and black bars touching all four edges."""
    doc = FPDF(unit="pt", format="letter")
    doc.add_page()
    doc.set_fill_color(0, 0, 0)
    doc.rect(0, 0, 612, 12, style="F")
    doc.rect(0, 780, 612, 12, style="F")
    doc.rect(0, 0, 12, 792, style="F")
    doc.rect(600, 0, 12, 792, style="F")
    doc.set_font("Helvetica", size=14)
    doc.text(72, 100, "Certificate of birth")
    doc.output(str(path))


@dataclass(frozen=True)
class Sources:
    pages: Path  # one page per geometry case, in the order of GEOMETRY
    photo: Path  # 3000x4000 px JPEG at 72 dpi (41.7 x 55.6 in page)
    scan: Path  # 2550x3300 px grey JPEG at 300 dpi (letter)
    annotated: Path
    edge: Path


# (name, viewed width, viewed height)
GEOMETRY = [
    ("rotate-0", 612.0, 792.0),
    ("rotate-90", 792.0, 612.0),
    ("rotate-180", 612.0, 792.0),
    ("rotate-270", 792.0, 612.0),
    ("rotate-minus-90", 792.0, 612.0),
    ("rotate-450", 792.0, 612.0),
    ("crop-offset-small", 300.0, 400.0),
    ("landscape", 792.0, 612.0),
    ("a4", 595.276, 841.89),
    ("user-unit", 1000.0, 800.0),
]


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> Sources:
    tmp = tmp_path_factory.mktemp("sources")
    pdf = pikepdf.new()
    for rotate in (0, 90, 180, 270, -90, 450):
        drawn_page(pdf, (0.0, 0.0, 612.0, 792.0), rotate=rotate)
    drawn_page(pdf, (-50.0, -50.0, 612.0, 792.0), crop=(100.0, 150.0, 400.0, 550.0))
    drawn_page(pdf, (0.0, 0.0, 792.0, 612.0))
    drawn_page(pdf, (0.0, 0.0, 595.276, 841.89))
    drawn_page(pdf, (0.0, 0.0, 100.0, 80.0), user_unit=10.0)
    pdf.save(tmp / "pages.pdf")
    photo = tmp / "photo.pdf"
    photo.write_bytes(img2pdf.convert(jpeg((3000, 4000), 72, mode="RGB", square=400, quality=92)))
    scan = tmp / "scan.pdf"
    scan.write_bytes(img2pdf.convert(jpeg((2550, 3300), 300, square=300, quality=75)))
    annotated = pikepdf.new()
    annotated_page(annotated)
    annotated.save(tmp / "annotated.pdf")
    edge_page(tmp / "edge.pdf")
    return Sources(tmp / "pages.pdf", photo, scan, tmp / "annotated.pdf", tmp / "edge.pdf")


@pytest.fixture
def opened() -> Iterator[Callable[[Path], pikepdf.Pdf]]:
    pdfs: list[pikepdf.Pdf] = []

    def open_(path: Path) -> pikepdf.Pdf:
        pdfs.append(pikepdf.open(path))
        return pdfs[-1]

    yield open_
    for pdf in pdfs:
        pdf.close()


# Layout ----------------------------------------------------------------------------------------------------------
def profile_with(**tables: dict[str, object]) -> FilingProfile:
    """The EOIR profile with some of its tables replaced by ``tables``."""
    data = load_toml(CONFIG, "profiles/eoir.toml")
    return parse_profile({**data, **tables}, CONFIG / "profiles" / "eoir.toml")


def test_layout_from_the_profiles() -> None:
    eoir = PageLayout.from_profile(read_profile(CONFIG, "eoir"))
    assert eoir == PageLayout()
    assert eoir.content_box() == (36.0, 90.0, 576.0, 756.0)
    uscis = PageLayout.from_profile(read_profile(CONFIG, "uscis"))
    assert (uscis.stamp_position, uscis.stamp_font_size_pt, uscis.stamp_band_pt) == ("bottom-right", 10.0, 54.0)
    a4 = PageLayout.from_profile(
        profile_with(page={"size": "A4", "fit_margin": "12mm"}, page_numbers={"position": "top-right", "offset": "1in"})
    )
    assert a4.width_pt == pytest.approx(595.276, abs=0.01) and a4.fit_margin_pt == pytest.approx(34.016, abs=0.01)
    assert a4.stamp_band_pt == pytest.approx(72 + 16.5)  # deep enough for the offset + 1.5 x font size
    assert a4.content_box()[3] == pytest.approx(a4.height_pt - a4.fit_margin_pt - a4.stamp_band_pt)
    legal = PageLayout.from_profile(profile_with(page={"size": "legal"}))
    assert (legal.width_pt, legal.height_pt) == (612.0, 1008.0)


@pytest.mark.parametrize(
    ("text", "points"), [("0.5in", 36.0), ("2.54cm", 72.0), ("72pt", 72.0), ("12mm", 34.0157), ("1pc", 12.0)]
)
def test_css_lengths(text: str, points: float) -> None:
    assert css_points(text, "[page] fit_margin") == pytest.approx(points, abs=1e-3)


@pytest.mark.parametrize(
    "profile",
    [
        {"page": {"size": "tabloid"}},
        {"page": {"fit_margin": "half an inch"}},
        {"page": {"fit_margin": 36}},
        {"page": {"image_dpi": "300dpi"}},
        {"page": {"image_dpi": 0}},
        {"page": {"fit_margin": "5in"}},
        {"page_numbers": {"position": "left"}},
        {"page_numbers": {"offset": "-1in"}},
        {"page_numbers": {"font_size": "200pt"}},
    ],
)
def test_invalid_profile_values(profile: dict[str, dict[str, object]]) -> None:
    with pytest.raises(ConfigError):
        PageLayout.from_profile(profile_with(**profile))


def test_an_invalid_profile_value_names_the_file_the_key_and_how_to_write_it() -> None:
    with pytest.raises(ConfigError) as err:
        profile_with(page_numbers={"offset": 36})
    assert "eoir.toml" in str(err.value) and "page_numbers.offset" in str(err.value) and '"0.5in"' in str(err.value)
    with pytest.raises(ConfigError) as err:
        profile_with(page={"size": "tabloid"})
    assert "page.size" in str(err.value) and '"legal"' in str(err.value)


# Placing ---------------------------------------------------------------------------------------------------------
def assert_placed(page: pikepdf.Page, layout: PageLayout = LAYOUT) -> None:
    size = [0, 0, layout.width_pt, layout.height_pt]
    assert [float(v) for v in page.obj.MediaBox] == size
    assert [float(v) for v in page.obj.CropBox] == size
    assert "/Rotate" not in page.obj and "/Annots" not in page.obj


def test_pages_fit_upright_inside_the_content_box(
    sources: Sources, opened: Callable[[Path], pikepdf.Pdf], tmp_path: Path
) -> None:
    src = opened(sources.pages)
    dest = pikepdf.new()
    assert place_pages(dest, src, LAYOUT) == len(GEOMETRY)
    images = render(dest, tmp_path)
    x0, y0, x1, y1 = LAYOUT.content_box()
    box_px = (x0 * K, (LAYOUT.height_pt - y1) * K, x1 * K, (LAYOUT.height_pt - y0) * K)
    for page, im, (name, w, h) in zip(dest.pages, images, GEOMETRY, strict=True):
        assert_placed(page)
        content = bbox(im, INK)
        assert content is not None, name
        assert close(content, expected_rect(w, h)), (name, content, expected_rect(w, h))
        assert box_px[0] - 1 <= content[0] and content[2] <= box_px[2] + 1, name
        assert box_px[1] - 1 <= content[1] and content[3] <= box_px[3] + 1, name  # never in the stamp band
        square = bbox(im, DARK)
        assert square is not None, name
        assert close(square[:2], content[:2]), (name, square, content)  # the viewed top-left stays top-left
        assert square[2] - square[0] < (content[2] - content[0]) / 2, name


def test_small_page_stays_at_full_size(sources: Sources, opened: Callable[[Path], pikepdf.Pdf], tmp_path: Path) -> None:
    dest = pikepdf.new()
    place_pages(dest, opened(sources.pages), LAYOUT, [7])
    content = bbox(render(dest, tmp_path)[0], INK)
    assert content is not None
    assert close((content[2] - content[0], content[3] - content[1]), (300 * K, 400 * K))


def test_photo_scan_and_edge_pages(sources: Sources, opened: Callable[[Path], pikepdf.Pdf], tmp_path: Path) -> None:
    dest = pikepdf.new()
    for path in (sources.photo, sources.scan, sources.edge):
        assert place_pages(dest, opened(path), LAYOUT) == 1
    images = render(dest, tmp_path)
    for page, im, (w, h) in zip(dest.pages, images, [(3000, 4000), (612, 792), (612, 792)], strict=True):
        assert_placed(page)
        content = bbox(im, INK)
        assert content is not None and close(content, expected_rect(w, h)), (content, expected_rect(w, h))
    photo_square, edge_content = bbox(images[0], DARK), bbox(images[2], INK)
    assert photo_square is not None and edge_content is not None
    assert close(photo_square[:2], expected_rect(3000, 4000)[:2])
    # the edge page's black bars touch every side of its placed rectangle
    assert close(edge_content, expected_rect(612, 792))


def test_source_streams_are_not_reencoded(sources: Sources, opened: Callable[[Path], pikepdf.Pdf]) -> None:
    src = opened(sources.scan)
    dest = pikepdf.new()
    place_pages(dest, src, LAYOUT)
    form = dest.pages[0].obj.Resources.XObject.P0
    original = src.pages[0].obj
    assert form.read_raw_bytes() == original.Contents.read_raw_bytes()
    ((_name, image),) = form.Resources.XObject.items()
    ((_name, original_image),) = original.Resources.XObject.items()
    assert image.read_raw_bytes() == original_image.read_raw_bytes()


def test_annotations_are_flattened(sources: Sources, opened: Callable[[Path], pikepdf.Pdf], tmp_path: Path) -> None:
    dest = pikepdf.new()
    place_pages(dest, opened(sources.annotated), LAYOUT)
    assert_placed(dest.pages[0])
    dest.save(tmp_path / "flat.pdf")
    assert "Hola" in pypdf.PdfReader(tmp_path / "flat.pdf").pages[0].extract_text()
    assert "/AcroForm" not in pikepdf.open(tmp_path / "flat.pdf").Root
    im = render(tmp_path / "flat.pdf", tmp_path)[0]
    # the Square annotation's black appearance, where its /Rect lands on the placed page
    left, top, _right, _bottom = expected_rect(612, 792)
    x0, y0, x1, y1 = LAYOUT.content_box()
    s = min((x1 - x0) / 612, (y1 - y0) / 792)
    ax, ay = left + 200 * s * K, top + (792 - 400) * s * K
    black = bbox(im.crop((int(ax) + 2, int(ay) + 2, int(ax + 100 * s * K) - 2, int(ay + 100 * s * K) - 2)), DARK)
    assert black is not None and black[0] == 0 and black[1] == 0


def test_template_pages_are_appended_unchanged(sources: Sources, opened: Callable[[Path], pikepdf.Pdf]) -> None:
    src = opened(sources.pages)
    dest = pikepdf.new()
    assert place_pages(dest, src, LAYOUT, [2, 1], fit=False) == 2
    assert dest.pages[0].obj.Rotate == 90
    assert dest.pages[1].obj.Contents.read_raw_bytes() == src.pages[0].obj.Contents.read_raw_bytes()


@pytest.mark.parametrize(
    ("change", "page"),
    [
        ({"MediaBox": Array([0, 0, 0, 0])}, 1),
        ({"MediaBox": Array([0, 0, 612])}, 1),
        ({"Rotate": 45}, 1),
        ({"UserUnit": -1}, 1),
        ({"CropBox": Array([700, 800, 900, 1000])}, 1),
        ({"Contents": pikepdf.String("not a stream")}, 1),
    ],
)
def test_unplaceable_pages(change: dict[str, object], page: int) -> None:
    src = pikepdf.new()
    src.add_blank_page()
    for key, value in change.items():
        src.pages[0].obj[Name("/" + key)] = value
    with pytest.raises(PacketInputError) as info:
        place_pages(pikepdf.new(), src, LAYOUT, source="document DOC-1")
    assert info.value.page == page
    with pytest.raises(PacketInputError):
        place_pages(pikepdf.new(), src, LAYOUT, [2])


# Stamping --------------------------------------------------------------------------------------------------------
def test_stamp_text_position_and_content(
    sources: Sources, opened: Callable[[Path], pikepdf.Pdf], tmp_path: Path
) -> None:
    dest = pikepdf.new()
    place_pages(dest, opened(sources.edge), LAYOUT)
    place_pages(dest, opened(sources.pages), LAYOUT, [2, 3])
    before = [bytes(p.obj.Contents.read_raw_bytes()) for p in dest.pages]
    (tmp_path / "before").mkdir()
    unstamped = render(dest, tmp_path / "before")
    labels = ["12", "Exhibit B, page 2 of 5", "Anexo Ñ, página 3 de 5"]
    stamp_pages(dest, labels, LAYOUT)
    for page, old in zip(dest.pages, before, strict=True):
        contents = page.obj.Contents
        assert isinstance(contents, Array) and len(contents) == 3
        assert contents[0].read_bytes().strip() == b"q" and contents[1].read_raw_bytes() == old
    dest.save(tmp_path / "stamped.pdf")
    reader = pypdf.PdfReader(tmp_path / "stamped.pdf")
    edge_text = reader.pages[0].extract_text()
    assert "12" in edge_text.split() and "Certificate of birth" in edge_text
    assert [p.extract_text() for p in reader.pages[1:]] == labels[1:]
    text = subprocess.run(
        ["pdftotext", "-layout", str(tmp_path / "stamped.pdf"), "-"], capture_output=True, check=True, timeout=30
    ).stdout.decode()
    assert all(label in text for label in labels)
    stamped = render(tmp_path / "stamped.pdf", tmp_path)
    band_top = (LAYOUT.height_pt - LAYOUT.stamp_band_pt) * K
    for old_im, new_im in zip(unstamped, stamped, strict=True):
        content = pixels(old_im, 128)
        ink = pixels(new_im, 128) - content
        assert ink, "no stamp visible"
        assert all(0 <= x < new_im.width and band_top <= y < new_im.height for x, y in ink)
        assert max(y for _x, y in content) < min(y for _x, y in ink)  # no overlap: content ends above the stamp
        assert all(y < band_top for _x, y in content)  # content never enters the band
        xs = sorted(x for x, _y in ink)
        assert abs((xs[0] + xs[-1]) / 2 - new_im.width / 2) <= 3  # bottom-center


def test_stamp_reads_upright_on_rotated_pages(tmp_path: Path) -> None:
    pdf = pikepdf.new()
    label = "Exhibit C, page 1 of 2"
    for rotate, media, crop in (
        (0, (0, 0, 612, 792), None),
        (90, (0, 0, 792, 612), None),
        (270, (0, 0, 792, 612), None),
        (180, (0, 0, 700, 900), (44, 54, 656, 846)),
    ):
        page = Dictionary(Type=Name.Page, MediaBox=Array(list(media)), Rotate=rotate)
        if crop:
            page.CropBox = Array(list(crop))
        pdf.pages.append(pikepdf.Page(pdf.make_indirect(page)))
    stamp_pages(pdf, [label] * 4, LAYOUT)
    images = render(pdf, tmp_path, dpi=72)
    reference = images[0]
    ref_box = bbox(reference, 128)
    assert ref_box is not None and ref_box[1] >= reference.height - LAYOUT.stamp_band_pt
    for im in images[1:]:
        assert im.size == reference.size
        assert bbox(im, 128) == ref_box
        diff = sum(abs(a - b) for a, b in zip(im.tobytes(), reference.tobytes(), strict=True))
        assert diff < 255 * 20  # the same pixels: upright, same place
    pdf.save(tmp_path / "rotated.pdf")
    assert [p.extract_text() for p in pypdf.PdfReader(tmp_path / "rotated.pdf").pages] == [label] * 4


@pytest.mark.parametrize("position", ["bottom-right", "top-right"])
def test_stamp_positions(position: str, tmp_path: Path) -> None:
    layout = PageLayout(stamp_position=position, stamp_font_size_pt=10)
    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(612, 792))
    stamp_pages(pdf, ["Exhibit AB, page 10 of 12"], layout)
    im = render(pdf, tmp_path, dpi=72)[0]
    ink = bbox(im, 128)
    assert ink is not None
    assert abs(ink[2] - (612 - layout.stamp_offset_pt)) <= 2
    if position == "top-right":
        assert ink[3] <= layout.stamp_band_pt and ink[3] == pytest.approx(layout.stamp_offset_pt, abs=4)
    else:
        assert ink[1] >= 792 - layout.stamp_band_pt and ink[3] == pytest.approx(792 - 36, abs=4)


def test_one_embedded_font_per_pdf(tmp_path: Path) -> None:
    pdf = pikepdf.new()
    for _ in range(3):
        pdf.add_blank_page()
    stamp_pages(pdf, ["1", "2", "3"], LAYOUT)
    stamp_pages(pdf, ["Exhibit A, page 1 of 2", None, "Exhibit A, page 2 of 2"], PageLayout(stamp_position="top-right"))
    pdf.save(tmp_path / "fonts.pdf")
    with pikepdf.open(tmp_path / "fonts.pdf") as saved:
        fonts = {p.obj.Resources.Font.CfStamp.objgen for p in saved.pages}
        assert len(fonts) == 1
        font = saved.pages[0].obj.Resources.Font.CfStamp
        program = font.FontDescriptor.FontFile2
        assert font.ToUnicode is not None and str(font.BaseFont).endswith("+DejaVuSans")
        assert len(program.read_raw_bytes()) < 40_000  # a subset, not the 740 KB font
        assert len(program.read_bytes()) == int(program.Length1)
    assert (tmp_path / "fonts.pdf").stat().st_size < 50_000


def test_labels_outside_the_font_are_refused() -> None:
    pdf = pikepdf.new()
    pdf.add_blank_page()
    with pytest.raises(ValidationError):
        stamp_pages(pdf, ["Exhibit Ω"], LAYOUT)
    with pytest.raises(ValueError, match="labels"):
        stamp_pages(pdf, ["1", "2"], LAYOUT)


def test_missing_font_names_the_package(tmp_path: Path) -> None:
    assert find_stamp_font().name == "DejaVuSans.ttf"
    with pytest.raises(ToolMissing) as info:
        find_stamp_font([tmp_path / "DejaVuSans.ttf"])
    assert "fonts-dejavu-core" in str(info.value)


# Downsampling ----------------------------------------------------------------------------------------------------
def test_photo_is_downsampled_and_scan_is_not(
    sources: Sources, opened: Callable[[Path], pikepdf.Pdf], tmp_path: Path
) -> None:
    stored = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in (sources.photo, sources.scan)}
    photo_src, scan_src = opened(sources.photo), opened(sources.scan)
    dest = pikepdf.new()
    place_pages(dest, photo_src, LAYOUT)
    place_pages(dest, scan_src, LAYOUT)
    scan_before = only_image(dest.pages[1]).read_raw_bytes()
    report = downsample_images(dest, LAYOUT)
    assert (report.images_seen, report.images_downsampled) == (2, 1)
    assert report.bytes_saved == report.bytes_before - report.bytes_after > report.bytes_before * 0.3
    photo = only_image(dest.pages[0])
    x0, y0, x1, y1 = LAYOUT.content_box()
    scale = min((x1 - x0) / 3000, (y1 - y0) / 4000)
    drawn_in = (3000 * scale / 72, 4000 * scale / 72)
    assert photo.Filter == Name.DCTDecode
    assert photo.Width / drawn_in[0] <= LAYOUT.image_dpi + 1 and photo.Height / drawn_in[1] <= LAYOUT.image_dpi + 1
    assert photo.Width / drawn_in[0] >= LAYOUT.image_dpi - 1
    scan = only_image(dest.pages[1])
    assert scan.read_raw_bytes() == scan_before
    # the sources are untouched, in memory and on disk
    assert photo_src.pages[0].obj.Resources.XObject.Im0.Width == 3000
    assert {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in stored} == stored
    im = render(dest, tmp_path)[0]
    square = bbox(im, DARK)
    assert square is not None and close(square[:2], expected_rect(3000, 4000)[:2])
    again = downsample_images(dest, LAYOUT)
    assert again.images_downsampled == 0 and again.bytes_saved == 0


def only_image(page: pikepdf.Page) -> pikepdf.Object:
    """The one image inside a placed page's form XObject."""
    ((_name, image),) = page.obj.Resources.XObject.P0.Resources.XObject.items()
    return image


def image_stream(pdf: pikepdf.Pdf, im: Image.Image, **extra: object) -> pikepdf.Object:
    if im.mode == "CMYK":
        out = io.BytesIO()
        im.save(out, "JPEG", quality=90)
        stream = pdf.make_stream(out.getvalue(), Filter=Name.DCTDecode, ColorSpace=Name.DeviceCMYK)
    elif im.mode == "1":
        stream = pdf.make_stream(zlib.compress(im.tobytes()), Filter=Name.FlateDecode, ImageMask=False)
        stream.ColorSpace, stream.BitsPerComponent = Name.DeviceGray, 1
    else:
        space = Name.DeviceRGB if im.mode == "RGB" else Name.DeviceGray
        stream = pdf.make_stream(zlib.compress(im.tobytes()), Filter=Name.FlateDecode, ColorSpace=space)
    stream.Type, stream.Subtype = Name.XObject, Name.Image
    stream.Width, stream.Height = im.size
    stream.BitsPerComponent = 1 if im.mode == "1" else 8
    for key, value in extra.items():
        stream[Name("/" + key)] = value
    return stream


def test_odd_images_are_left_alone() -> None:
    """1-bit, CMYK, soft-masked and /Decode images drawn at 1200 dpi stay; an RGB one (in a nested form drawn
    twice, the larger draw counts) is resampled to 300 dpi of its larger draw."""
    pdf = pikepdf.new()
    noise = Image.effect_noise((1200, 1200), 60)
    mask = image_stream(pdf, noise)
    images = {
        "Bits": image_stream(pdf, noise.convert("1")),
        "Cmyk": image_stream(pdf, noise.convert("CMYK")),
        "Masked": image_stream(pdf, noise.convert("RGB"), SMask=mask),
        "Decoded": image_stream(pdf, noise, Decode=Array([1, 0])),
        "Rgb": image_stream(pdf, Image.merge("RGB", (noise, noise.rotate(90), noise.rotate(180)))),
    }
    form = pdf.make_stream(
        b"q 72 0 0 72 0 0 cm /Rgb Do Q", Type=Name.XObject, Subtype=Name.Form, BBox=Array([0, 0, 72, 72])
    )
    form.Resources = Dictionary(XObject=Dictionary(Rgb=images["Rgb"]))
    outer = pdf.make_stream(
        b"q 2 0 0 2 0 0 cm /Inner Do Q /Inner Do", Type=Name.XObject, Subtype=Name.Form, BBox=Array([0, 0, 144, 144])
    )
    outer.Resources = Dictionary(XObject=Dictionary(Inner=form))
    draws = "".join(f"q 72 0 0 72 {i * 80} 0 cm /{name} Do Q\n" for i, name in enumerate(images) if name != "Rgb")
    pdf.add_blank_page()
    page = pdf.pages[0]
    page.obj.Contents = pdf.make_stream((draws + "q 1 0 0 1 0 200 cm /Outer Do Q").encode())
    xobjects = Dictionary(Outer=outer)
    for key, image in images.items():
        if key != "Rgb":
            xobjects[Name("/" + key)] = image
    page.obj.Resources = Dictionary(XObject=xobjects)
    raw = {k: v.read_raw_bytes() for k, v in images.items()}
    report = downsample_images(pdf, LAYOUT, workers=1)
    assert (report.images_seen, report.images_downsampled) == (5, 1)
    for name, image in images.items():
        if name == "Rgb":
            assert (int(image.Width), int(image.Height)) == (600, 600)  # 2 in at 300 dpi
            assert image.Filter == Name.DCTDecode
        else:
            assert image.read_raw_bytes() == raw[name], name


# Determinism -----------------------------------------------------------------------------------------------------
def test_same_inputs_same_bytes(sources: Sources) -> None:
    def build() -> bytes:
        with (
            pikepdf.open(sources.pages) as pages,
            pikepdf.open(sources.photo) as photo,
            pikepdf.open(sources.annotated) as annotated,
            pikepdf.new() as dest,
        ):
            place_pages(dest, pages, LAYOUT, [1, 2], fit=False)
            for src in (pages, photo, annotated):
                place_pages(dest, src, LAYOUT)
            downsample_images(dest, LAYOUT)
            total = len(dest.pages)
            stamp_pages(dest, [str(n) for n in range(1, total + 1)], LAYOUT)
            stamp_pages(
                dest,
                [None, None, *(f"Exhibit A, page {i} of {total - 2}" for i in range(1, total - 1))],
                PageLayout(stamp_position="top-right"),
            )
            out = io.BytesIO()
            dest.save(out, deterministic_id=True, compress_streams=True)
            return out.getvalue()

    first = build()
    assert build() == first


# Optional content -------------------------------------------------------------------------------------------------
def layered_pdf(path: Path, *, base_off: bool = False, annotation: bool = False) -> Path:
    """One letter page with two black squares, each in its own layer: "Shown" (left) and "Hidden" (right), the
    second hidden by the document's default configuration (/OFF, or /BaseState /OFF with "Shown" /ON). With
    ``annotation``, the right square is a Square annotation's appearance in the "Hidden" layer instead."""
    pdf = pikepdf.new()
    shown = pdf.make_indirect(Dictionary(Type=Name.OCG, Name=pikepdf.String("Shown")))
    hidden = pdf.make_indirect(Dictionary(Type=Name.OCG, Name=pikepdf.String("Hidden")))
    config = Dictionary(BaseState=Name.OFF, ON=Array([shown])) if base_off else Dictionary(OFF=Array([hidden]))
    pdf.Root.OCProperties = Dictionary(OCGs=Array([shown, hidden]), D=config)
    content = b"/OC /s BDC 0 g 50 300 200 200 re f EMC"
    if not annotation:
        content += b" /OC /h BDC 0 g 362 300 200 200 re f EMC"
    page = Dictionary(
        Type=Name.Page,
        MediaBox=Array([0, 0, 612, 792]),
        Resources=Dictionary(Properties=Dictionary(s=shown, h=hidden)),
        Contents=pdf.make_stream(content),
    )
    if annotation:
        look = pdf.make_stream(b"0 g 0 0 200 200 re f")
        look.Type, look.Subtype, look.BBox = Name.XObject, Name.Form, Array([0, 0, 200, 200])
        square = Dictionary(
            Type=Name.Annot,
            Subtype=Name.Square,
            Rect=Array([362, 300, 562, 500]),
            F=4,
            OC=hidden,
            AP=Dictionary(N=look),
        )
        page.Annots = Array([pdf.make_indirect(square)])
    pdf.pages.append(pikepdf.Page(pdf.make_indirect(page)))
    pdf.save(path)
    return path


def halves(pdf_path: Path, tmp_path: Path, page: int = 1) -> tuple[int, int]:
    """Mean grey of the left and right half of a page as poppler renders it (poppler honours layers)."""
    prefix = tmp_path / f"halves-{pdf_path.stem}-{page}"
    subprocess.run(
        ["pdftoppm", "-r", "20", "-gray", "-png", "-f", str(page), "-l", str(page), str(pdf_path), str(prefix)],
        check=True,
    )
    (png,) = tmp_path.glob(f"{prefix.name}*.png")
    with Image.open(png) as rendered:
        im = rendered.convert("L")
        w, h = im.size
        left, right = (
            im.crop(box).resize((1, 1), Image.Resampling.BOX).tobytes()[0]
            for box in ((0, 0, w // 2, h), (w // 2, 0, w, h))
        )
    return left, right


@pytest.mark.parametrize(("base_off", "annotation"), [(False, False), (True, False), (False, True)])
def test_hidden_layers_stay_hidden(tmp_path: Path, base_off: bool, annotation: bool) -> None:
    source = layered_pdf(tmp_path / "layered.pdf", base_off=base_off, annotation=annotation)
    left, right = halves(source, tmp_path)
    assert left < 235 and right == 255  # the document shows only its left square
    dest = pikepdf.new()
    with pikepdf.open(source) as src:
        place_pages(dest, src, LAYOUT)
        assert carry_optional_content(dest, src) == 2
        assert carry_optional_content(dest, src) == 0  # the same groups are not added twice
    dest.save(tmp_path / "placed.pdf")
    left, right = halves(tmp_path / "placed.pdf", tmp_path)
    assert left < 235 and right == 255
    with pikepdf.open(tmp_path / "placed.pdf") as placed:
        props = placed.Root.OCProperties
        assert [str(g.Name) for g in props.OCGs] == ["Shown", "Hidden"]
        assert [str(g.Name) for g in props.D.OFF] == ["Hidden"]


def test_a_document_without_layers_adds_none(sources: Sources, opened: Callable[[Path], pikepdf.Pdf]) -> None:
    dest = pikepdf.new()
    src = opened(sources.edge)
    place_pages(dest, src, LAYOUT)
    assert carry_optional_content(dest, src) == 0 and "/OCProperties" not in dest.Root
