"""Intake as plain functions: type sniffing, limits, quarantine reasons, lossless normalisation."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import pytest
from PIL import Image
from pypdf import PdfReader

from casefile.tasks.core.errors import QuarantinedFile, QuarantineReason
from casefile.tasks.core.settings import DEMO_DATA, Limits
from casefile.tasks.core.storage import sha256_file
from casefile.tasks.documents.intake import expand_inputs
from casefile.tasks.documents.normalise import Kind, StagedFile, check_extension, normalise, sniff_kind, stage_copy

RESOURCES = Path(__file__).parent / "resources"
SAMPLE = DEMO_DATA / "sample"
BROKEN = RESOURCES / "broken"
LIMITS = Limits(max_file_bytes=50 * 1024 * 1024, max_pages=2000, max_image_pixels=60_000_000)


def take_in(path: Path, work: Path, limits: Limits = LIMITS) -> tuple[StagedFile, list[tuple[float, float, int]]]:
    staged = stage_copy(path, work, limits)
    check_extension(path.name, staged.kind)
    result = normalise(staged, limits)
    return staged, [(p.width_pt, p.height_pt, p.rotation) for p in result.pages]


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("medical_record_en.pdf", Kind.PDF),
        ("denuncia_scan_es.pdf", Kind.PDF),
        ("phone_photo_letter.jpg", Kind.JPEG),
        ("phone_photo_rotated.jpg", Kind.JPEG),
        ("school_record_2pages.tif", Kind.TIFF),
        ("id_card.png", Kind.PNG),
    ],
)
def test_sniff_kind_by_content(name: str, kind: Kind) -> None:
    assert sniff_kind((SAMPLE / name).read_bytes()[:1024]) is kind


def test_sniff_rejects_text() -> None:
    assert sniff_kind(b"hello, this is not a document") is None


def test_stage_copy_hashes_and_keeps_bytes(tmp_path: Path) -> None:
    source = SAMPLE / "medical_record_en.pdf"
    staged = stage_copy(source, tmp_path, LIMITS)
    assert staged.sha256 == sha256_file(source)
    assert staged.path.read_bytes() == source.read_bytes()
    assert staged.size == source.stat().st_size


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("truncated.pdf", QuarantineReason.TRUNCATED),
        ("encrypted.pdf", QuarantineReason.ENCRYPTED),
        ("million_pages.pdf", QuarantineReason.TOO_MANY_PAGES),
        ("png_bomb.png", QuarantineReason.TOO_MANY_PIXELS),
        ("jpeg_named.pdf", QuarantineReason.EXTENSION_MISMATCH),
        ("corrupt.pdf", QuarantineReason.CORRUPT),
        ("empty.pdf", QuarantineReason.EMPTY),
        ("notes.txt", QuarantineReason.UNSUPPORTED_TYPE),
    ],
)
def test_broken_files_are_quarantined_with_reason(name: str, reason: QuarantineReason, tmp_path: Path) -> None:
    with pytest.raises(QuarantinedFile) as info:
        take_in(BROKEN / name, tmp_path)
    assert info.value.reason is reason
    # The message says what to do, and names no document text.
    assert info.value.message
    assert "Quiroga" not in info.value.message


def test_size_limit(tmp_path: Path) -> None:
    small = Limits(max_file_bytes=1000, max_pages=10, max_image_pixels=10**6)
    with pytest.raises(QuarantinedFile) as info:
        stage_copy(SAMPLE / "medical_record_en.pdf", tmp_path, small)
    assert info.value.reason is QuarantineReason.TOO_LARGE


def test_page_limit(tmp_path: Path) -> None:
    one_page = Limits(max_file_bytes=10**8, max_pages=1, max_image_pixels=10**8)
    with pytest.raises(QuarantinedFile) as info:
        take_in(SAMPLE / "medical_record_en.pdf", tmp_path, one_page)
    assert info.value.reason is QuarantineReason.TOO_MANY_PAGES


def test_born_digital_pdf_is_its_own_normalised_form(tmp_path: Path) -> None:
    staged = stage_copy(SAMPLE / "medical_record_en.pdf", tmp_path, LIMITS)
    result = normalise(staged, LIMITS)
    assert result.path == staged.path
    assert not result.derived
    assert [p.number for p in result.pages] == [1, 2]
    assert all(abs(p.width_pt - 612) < 1 and abs(p.height_pt - 792) < 1 for p in result.pages)


def _only_image_stream(pdf: Path, page: int = 0) -> tuple[bytes, str]:
    reader = PdfReader(pdf)
    xobjects = reader.pages[page]["/Resources"]["/XObject"]  # type: ignore[index]
    (image,) = [xobjects[name].get_object() for name in xobjects]
    return image._data, str(image.get("/Filter"))


def test_jpeg_embedded_without_reencoding(tmp_path: Path) -> None:
    source = SAMPLE / "phone_photo_letter.jpg"
    staged = stage_copy(source, tmp_path, LIMITS)
    result = normalise(staged, LIMITS)
    assert result.derived
    data, filt = _only_image_stream(result.path)
    assert filt == "/DCTDecode"
    assert data == source.read_bytes()  # the very same JPEG bytes: no generation loss
    with Image.open(source) as im:
        assert (result.pages[0].image_width_px, result.pages[0].image_height_px) == im.size
    assert result.pages[0].rotation == 0


def test_exif_rotation_applied_as_page_rotation(tmp_path: Path) -> None:
    source = SAMPLE / "phone_photo_rotated.jpg"
    with Image.open(source) as im:
        assert im.getexif().get(0x0112) == 6
    staged = stage_copy(source, tmp_path, LIMITS)
    result = normalise(staged, LIMITS)
    assert result.pages[0].rotation == 90
    data, _ = _only_image_stream(result.path)
    assert data == source.read_bytes()


@pytest.mark.parametrize(
    ("orientation", "stored_as"),
    [
        (2, Image.Transpose.FLIP_LEFT_RIGHT),
        (4, Image.Transpose.FLIP_TOP_BOTTOM),
        (5, Image.Transpose.TRANSPOSE),
        (7, Image.Transpose.TRANSVERSE),
    ],
)
def test_mirrored_exif_orientation_is_shown_upright(
    tmp_path: Path, orientation: int, stored_as: Image.Transpose
) -> None:
    """A mirrored orientation cannot be a /Rotate: the page must still show the picture as the camera meant it."""
    upright = Image.new("L", (400, 300), 255)  # landscape, a black block in the top-left corner
    upright.paste(0, (0, 0, 200, 150))
    exif = Image.Exif()
    exif[0x0112] = orientation
    source = tmp_path / f"mirrored-{orientation}.jpg"
    upright.transpose(stored_as).save(source, "JPEG", quality=95, exif=exif, dpi=(100, 100))  # these are involutions
    original = source.read_bytes()
    result = normalise(stage_copy(source, tmp_path / "staging", LIMITS), LIMITS)
    assert source.read_bytes() == original
    assert (result.pages[0].image_width_px, result.pages[0].image_height_px) == (400, 300)
    subprocess.run(["pdftoppm", "-r", "25", "-gray", "-png", str(result.path), str(tmp_path / "page")], check=True)
    (png,) = tmp_path.glob("page*.png")
    with Image.open(png) as rendered:
        page = rendered.convert("L")
        width, height = page.size
        assert width > height  # landscape, as the camera held it
        quadrants = [
            page.crop((x, y, x + width // 2, y + height // 2)).resize((1, 1), Image.Resampling.BOX).tobytes()[0]
            for y in (0, height // 2)
            for x in (0, width // 2)
        ]
    assert quadrants[0] < 60 and all(q > 200 for q in quadrants[1:]), quadrants


def test_multipage_tiff_stays_one_document(tmp_path: Path) -> None:
    source = SAMPLE / "school_record_2pages.tif"
    staged = stage_copy(source, tmp_path, LIMITS)
    result = normalise(staged, LIMITS)
    assert len(result.pages) == 2
    with Image.open(source) as im:
        for index in range(2):
            im.seek(index)
            assert (result.pages[index].image_width_px, result.pages[index].image_height_px) == im.size
            # 200 dpi frames become letter-size pages.
            assert abs(result.pages[index].width_pt - im.size[0] * 72 / 200) < 1


def test_png_pixels_unchanged(tmp_path: Path) -> None:
    source = SAMPLE / "id_card.png"
    staged = stage_copy(source, tmp_path, LIMITS)
    result = normalise(staged, LIMITS)
    reader = PdfReader(result.path)
    (embedded,) = reader.pages[0].images
    with Image.open(source) as original, Image.open(io.BytesIO(embedded.data)) as copy:
        assert copy.size == original.size
        assert copy.convert("RGB").tobytes() == original.convert("RGB").tobytes()


def test_normalisation_is_deterministic(tmp_path: Path) -> None:
    first = normalise(stage_copy(SAMPLE / "phone_photo_letter.jpg", tmp_path / "a", LIMITS), LIMITS)
    second = normalise(stage_copy(SAMPLE / "phone_photo_letter.jpg", tmp_path / "b", LIMITS), LIMITS)
    assert first.path.read_bytes() == second.path.read_bytes()


def test_heic_photo_normalised(tmp_path: Path) -> None:
    pillow_heif = pytest.importorskip("pillow_heif")
    if not pillow_heif.libheif_info().get("encoders"):
        pytest.skip("this libheif build cannot encode HEIC")
    source = tmp_path / "photo.heic"
    with Image.open(SAMPLE / "id_card.png") as im:
        pillow_heif.from_pillow(im.convert("RGB")).save(source, quality=-1)
    staged = stage_copy(source, tmp_path / "work", LIMITS)
    assert staged.kind is Kind.HEIC
    result = normalise(staged, LIMITS)
    assert result.derived and len(result.pages) == 1
    with Image.open(SAMPLE / "id_card.png") as im:
        assert (result.pages[0].image_width_px, result.pages[0].image_height_px) == im.size


def test_expand_inputs_walks_folders_sorted_and_skips_hidden(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "2.pdf").write_bytes(b"x")
    (tmp_path / "b" / ".hidden").write_bytes(b"x")
    (tmp_path / "a.pdf").write_bytes(b"x")
    single = tmp_path / "single.jpg"
    single.write_bytes(b"x")
    assert expand_inputs([tmp_path / "b", single]) == [(tmp_path / "b" / "2.pdf").resolve(), single.resolve()]
