"""A corpus of hostile and odd real-world files, made here (no client data, nothing downloaded).

``make_corpus(folder)`` writes every file of ``CORPUS`` into ``folder`` (plus a symbolic link, a FIFO and a hidden
file, which a folder given to `casefile add` may hold) and returns the entries with what intake must do with each:
take it in ("stored") or refuse it with a quarantine reason. The tests (tests/test_corpus.py) and the report
(benchmarks/intake_corpus.py) run intake over it. Every file is made in a few milliseconds from fixed seeds, except
the two decompression bombs (about a second each).

What is in it, by kind:

- scans as office copiers make them: JBIG2 (a generic region, MMR coded: the T.6 data libtiff writes for a group 4
  TIFF, wrapped in JBIG2 segments by hand, since Debian has no JBIG2 encoder), JPEG 2000 (JPX), CCITT group 4;
- odd but valid PDFs: page boxes with offsets and negative origins, /Rotate 270, /UserUnit, a tiny and a huge page,
  a page without content, content as an array of streams, an incremental update, a linearized file, PDF 2.0, junk
  before the header, a broken xref table (readers rebuild it), a permissions-only encrypted file, CMYK / 16-bit /
  indexed / alpha images;
- hidden content a packet must never carry: JavaScript (document and page actions), a launch action, an embedded
  file (attachment, file-attachment annotation, and a file specification reached from page resources and from an
  annotation's appearance), a reference XObject to an outside file;
- hostile or broken files intake must refuse: a 40,000 x 40,000 image in a small PDF, a JPEG whose header claims
  60,000 x 60,000 pixels behind a small image dictionary, an inline image bomb, Flate bombs (a content stream, a
  font), damaged Flate data, a scan whose JPEG data is cut off, an unknown and a Brotli filter, a page tree that
  loops, deeply nested arrays, an array too long for a reader, a million-page page tree, a trailer without a
  catalog;
- what a folder holds: images with alpha, other types (GIF, WebP, ZIP named .pdf), a symbolic link, a FIFO, a
  hidden file.
"""

from __future__ import annotations

import io
import os
import random
import runpy
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import img2pdf
import pikepdf
from pikepdf import Array, Dictionary, Name
from PIL import Image

STORED = "stored"
SKIPPED = "skipped"  # hidden: not an item at all

LINES = ["# Informe de la policia (ficticio)", "amenaza de muerte", "Fictional test data - no real person"]


# Images and scans ---------------------------------------------------------------------------------------------
def _text_image(dpi: int = 150, lines: list[str] | None = None) -> Image.Image:
    """A letter-size grey page with a few lines of text (the generator's renderer)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("generate", Path(__file__).with_name("generate.py"))
    assert spec is not None and spec.loader is not None
    generate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generate)
    image: Image.Image = generate.render_text_page(lines or LINES, dpi=dpi)
    return image


def _bilevel(image: Image.Image) -> Image.Image:
    return image.point(lambda v: 255 if v > 128 else 0).convert("1")


def g4_strip(image: Image.Image, dpi: int = 150) -> bytes:
    """The T.6 (CCITT group 4) data libtiff writes for a bilevel image, as one strip."""
    buf = io.BytesIO()
    image.save(buf, "TIFF", compression="group4", dpi=(dpi, dpi), tiffinfo={278: image.size[1]})
    with Image.open(io.BytesIO(buf.getvalue())) as tif:
        tags = tif.tag_v2  # type: ignore[attr-defined]
        (offset,), (count,) = tags[273], tags[279]  # StripOffsets, StripByteCounts: one strip
    return buf.getvalue()[offset : offset + count]


def jbig2_generic_mmr(image: Image.Image) -> bytes:
    """An embedded JBIG2 stream (as a PDF holds it: segments, no file header) of one page with one immediate
    generic region, MMR coded. MMR is T.6, so the region's data is the group 4 data of the image; JBIG2 codes black
    as 1, the inverse of the bilevel TIFF libtiff writes (MinIsBlack), hence the inversion."""
    width, height = image.size
    mmr = g4_strip(Image.eval(image.convert("L"), lambda v: 255 - v).convert("1"))

    def segment(number: int, kind: int, data: bytes) -> bytes:
        # number, flags (type; 1-byte page association), referred-to segments (none), page 1, data length
        return struct.pack(">IBBBI", number, kind, 0, 1, len(data)) + data

    page_info = struct.pack(">IIIIBH", width, height, 0, 0, 0, 0)  # size, resolution unknown, flags, no striping
    region = struct.pack(">IIIIB", width, height, 0, 0, 0) + bytes([0x01]) + mmr  # region info, MMR flag
    return segment(0, 48, page_info) + segment(1, 38, region)


def _one_image_pdf(path: Path, image: pikepdf.Object | Callable[[pikepdf.Pdf], pikepdf.Object], w: int, h: int) -> None:
    pdf = pikepdf.new()
    xobject = image(pdf) if callable(image) else image
    w_pt, h_pt = w * 72 / 150, h * 72 / 150
    content = pdf.make_stream(f"q {w_pt:.2f} 0 0 {h_pt:.2f} 0 0 cm /Im0 Do Q".encode("ascii"))
    page = Dictionary(
        Type=Name.Page,
        MediaBox=Array([0, 0, round(w_pt, 2), round(h_pt, 2)]),
        Resources=Dictionary(XObject=Dictionary(Im0=xobject)),
        Contents=content,
    )
    pdf.pages.append(pikepdf.Page(page))
    pdf.save(path, deterministic_id=True)


def make_jbig2_pdf(path: Path) -> None:
    image = _bilevel(_text_image())
    width, height = image.size
    data = jbig2_generic_mmr(image)

    def xobject(pdf: pikepdf.Pdf) -> pikepdf.Object:
        stream = pdf.make_stream(data)
        stream.Type, stream.Subtype = Name.XObject, Name.Image
        stream.Width, stream.Height, stream.BitsPerComponent = width, height, 1
        stream.ColorSpace, stream.Filter = Name.DeviceGray, Name.JBIG2Decode
        return stream

    _one_image_pdf(path, xobject, width, height)


def make_ccitt_pdf(path: Path) -> None:
    buf = io.BytesIO()
    image = _bilevel(_text_image())
    image.save(buf, "TIFF", compression="group4", dpi=(150, 150), tiffinfo={278: image.size[1]})
    path.write_bytes(img2pdf.convert(buf.getvalue(), nodate=True, engine=img2pdf.Engine.internal))


def make_jpx_pdf(path: Path) -> None:
    buf = io.BytesIO()
    _text_image().save(buf, "JPEG2000", irreversible=False)
    with Image.open(io.BytesIO(buf.getvalue())) as probe:
        assert probe.format == "JPEG2000"
    path.write_bytes(img2pdf.convert(buf.getvalue(), nodate=True, engine=img2pdf.Engine.internal))


def _image_file(path: Path, mode: str, fmt: str, **save: object) -> None:
    rng = random.Random(path.name)
    size = (320, 200)
    base = Image.frombytes("L", size, bytes(rng.getrandbits(8) for _ in range(size[0] * size[1])))
    image = base.convert(mode) if mode not in ("I;16",) else base.convert("I").point(lambda v: v * 200).convert("I;16")
    if mode == "RGBA":
        image.putalpha(base.point(lambda v: 255 if v > 40 else 0))
    image.save(path, fmt, **save)


# Hand-made PDFs ------------------------------------------------------------------------------------------------
def _text_page(pdf: pikepdf.Pdf, text: str = "Fictional test page", **page: object) -> Dictionary:
    font = pdf.make_indirect(
        Dictionary(Type=Name.Font, Subtype=Name.Type1, BaseFont=Name.Helvetica, Encoding=Name.WinAnsiEncoding)
    )
    content = pdf.make_stream(f"BT /F1 14 Tf 72 700 Td ({text}) Tj ET".encode("latin-1"))
    d = Dictionary(
        Type=Name.Page,
        MediaBox=Array([0, 0, 612, 792]),
        Resources=Dictionary(Font=Dictionary(F1=font)),
        Contents=content,
    )
    for key, value in page.items():
        d[Name("/" + key)] = value
    return d


def _save(pdf: pikepdf.Pdf, path: Path, **kw: object) -> None:
    pdf.save(path, deterministic_id=True, **kw)  # type: ignore[arg-type]


def _pdf_with(path: Path, *pages: Dictionary | Callable[[pikepdf.Pdf], Dictionary], **root: object) -> pikepdf.Pdf:
    pdf = pikepdf.new()
    for page in pages:
        pdf.pages.append(pikepdf.Page(page(pdf) if callable(page) else page))
    for key, value in root.items():
        pdf.Root[Name("/" + key)] = value(pdf) if callable(value) else value
    _save(pdf, path)
    return pdf


def make_odd_boxes_pdf(path: Path) -> None:
    pdf = pikepdf.new()
    pdf.pages.append(pikepdf.Page(_text_page(pdf, "CropBox offset", CropBox=Array([50, 50, 400, 500]))))
    negative = _text_page(pdf, "Negative origin", MediaBox=Array([-300, -400, 312, 392]))
    pdf.pages.append(pikepdf.Page(negative))
    pdf.pages.append(pikepdf.Page(_text_page(pdf, "Rotated 270", Rotate=270)))
    pdf.pages.append(pikepdf.Page(_text_page(pdf, "Rotate -90", Rotate=-90)))
    pdf.pages.append(pikepdf.Page(_text_page(pdf, "UserUnit 2", UserUnit=2)))
    pdf.pages.append(pikepdf.Page(_text_page(pdf, "Tiny", MediaBox=Array([0, 0, 72, 72]))))
    pdf.pages.append(pikepdf.Page(_text_page(pdf, "Huge", MediaBox=Array([0, 0, 14400, 14400]))))
    _save(pdf, path)


def make_no_content_pdf(path: Path) -> None:
    pdf = pikepdf.new()
    pdf.pages.append(pikepdf.Page(Dictionary(Type=Name.Page, MediaBox=Array([0, 0, 612, 792]))))
    _save(pdf, path)


def make_content_array_pdf(path: Path) -> None:
    pdf = pikepdf.new()
    page = _text_page(pdf, "Two content streams")
    page.Contents = Array([pdf.make_stream(b"q"), page.Contents, pdf.make_stream(b"Q")])
    pdf.pages.append(pikepdf.Page(page))
    _save(pdf, path)


def make_incremental_pdf(path: Path) -> None:
    pdf = pikepdf.new()
    pdf.pages.append(pikepdf.Page(_text_page(pdf, "First revision")))
    _save(pdf, path)
    first = path.read_bytes()
    with pikepdf.open(io.BytesIO(first)) as again:
        again.pages.append(pikepdf.Page(_text_page(again, "Second revision")))
        again.docinfo = again.make_indirect(Dictionary(Title=pikepdf.String("Fictional")))
        again.save(path, deterministic_id=True)  # rewritten whole; the incremental part is appended by hand below
    # an incremental update: the first file, then a new version of its info dictionary and a second xref section
    xref_at = first.rindex(b"startxref")
    prev = int(first[xref_at + 9 :].split()[0])
    body = b"\n99 0 obj\n<< /Title (Fictional, revised) >>\nendobj\n"
    at = len(first) + 1
    update = body + b"xref\n99 1\n%010d 00000 n \n" % at
    size = 100
    with pikepdf.open(io.BytesIO(first)) as probe:
        root = probe.Root.objgen[0]
    update += b"trailer\n<< /Size %d /Root %d 0 R /Info 99 0 R /Prev %d >>\n" % (size, root, prev)
    update += b"startxref\n%d\n%%%%EOF\n" % (len(first) + len(body))
    path.write_bytes(first + update)


def make_linearized_pdf(path: Path) -> None:
    pdf = pikepdf.new()
    for n in range(3):
        pdf.pages.append(pikepdf.Page(_text_page(pdf, f"Linearized page {n + 1}")))
    _save(pdf, path, linearize=True)


def make_pdf20(path: Path) -> None:
    pdf = pikepdf.new()
    pdf.pages.append(pikepdf.Page(_text_page(pdf, "PDF 2.0")))
    _save(pdf, path, min_version="2.0")


def make_junk_before_header_pdf(path: Path) -> None:
    pdf = pikepdf.new()
    pdf.pages.append(pikepdf.Page(_text_page(pdf, "Junk before the header")))
    buf = io.BytesIO()
    _save(pdf, buf)  # type: ignore[arg-type]
    path.write_bytes(b"X-Mailer junk line\r\n" * 20 + buf.getvalue())


def make_broken_xref_pdf(path: Path) -> None:
    pdf = pikepdf.new()
    pdf.pages.append(pikepdf.Page(_text_page(pdf, "Broken xref offsets")))
    buf = io.BytesIO()
    pdf.save(buf, deterministic_id=True, object_stream_mode=pikepdf.ObjectStreamMode.disable)
    data = bytearray(buf.getvalue())
    start = data.rindex(b"xref\n")
    table = data[start:].split(b"trailer")[0]
    broken = table.replace(b" 00000 n", b" 00000 n").replace(b"0000000", b"0000001")  # every offset off by far
    data[start : start + len(table)] = broken[: len(table)].ljust(len(table), b" ")
    path.write_bytes(bytes(data))


def make_owner_only_encrypted_pdf(path: Path) -> None:
    pdf = pikepdf.new()
    pdf.pages.append(pikepdf.Page(_text_page(pdf, "Opens without a password")))
    pdf.save(path, encryption=pikepdf.Encryption(owner="fictional-owner", user="", R=4))


def make_odd_images_pdf(path: Path) -> None:
    """CMYK JPEG, 16-bit grey, indexed and an image with a soft mask, one per page."""
    pdf = pikepdf.new()
    images: list[pikepdf.Object] = []
    buf = io.BytesIO()
    Image.new("CMYK", (64, 64), (10, 200, 30, 0)).save(buf, "JPEG")
    images.append(
        pdf.make_stream(
            buf.getvalue(),
            Type=Name.XObject,
            Subtype=Name.Image,
            Width=64,
            Height=64,
            ColorSpace=Name.DeviceCMYK,
            BitsPerComponent=8,
            Filter=Name.DCTDecode,
            Decode=Array([1, 0, 1, 0, 1, 0, 1, 0]),
        )
    )
    sixteen = zlib.compress(bytes(range(256)) * 32)
    images.append(
        pdf.make_stream(
            sixteen,
            Type=Name.XObject,
            Subtype=Name.Image,
            Width=64,
            Height=64,
            ColorSpace=Name.DeviceGray,
            BitsPerComponent=16,
            Filter=Name.FlateDecode,
        )
    )
    palette = pikepdf.String(bytes([0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0, 255]))
    images.append(
        pdf.make_stream(
            zlib.compress(bytes(i % 4 for i in range(64 * 64))),
            Type=Name.XObject,
            Subtype=Name.Image,
            Width=64,
            Height=64,
            ColorSpace=Array([Name.Indexed, Name.DeviceRGB, 3, palette]),
            BitsPerComponent=8,
            Filter=Name.FlateDecode,
        )
    )
    mask = pdf.make_stream(
        zlib.compress(bytes((i * 7) % 256 for i in range(64 * 64))),
        Type=Name.XObject,
        Subtype=Name.Image,
        Width=64,
        Height=64,
        ColorSpace=Name.DeviceGray,
        BitsPerComponent=8,
        Filter=Name.FlateDecode,
    )
    images.append(
        pdf.make_stream(
            zlib.compress(bytes(200 for _ in range(64 * 64 * 3))),
            Type=Name.XObject,
            Subtype=Name.Image,
            Width=64,
            Height=64,
            ColorSpace=Name.DeviceRGB,
            BitsPerComponent=8,
            Filter=Name.FlateDecode,
            SMask=mask,
        )
    )
    for image in images:
        page = Dictionary(
            Type=Name.Page,
            MediaBox=Array([0, 0, 612, 792]),
            Resources=Dictionary(XObject=Dictionary(Im0=image)),
            Contents=pdf.make_stream(b"q 300 0 0 300 100 300 cm /Im0 Do Q"),
        )
        pdf.pages.append(pikepdf.Page(page))
    _save(pdf, path)


# Hidden content -----------------------------------------------------------------------------------------------
def _filespec(pdf: pikepdf.Pdf, name: str = "payload.txt") -> pikepdf.Object:
    payload = pdf.make_stream(b"FICTIONAL HIDDEN PAYLOAD: never in a packet", Type=Name.EmbeddedFile)
    return pdf.make_indirect(
        Dictionary(Type=Name.Filespec, F=pikepdf.String(name), UF=pikepdf.String(name), EF=Dictionary(F=payload))
    )


def make_javascript_pdf(path: Path) -> None:
    pdf = pikepdf.new()
    js = Dictionary(S=Name.JavaScript, JS=pikepdf.String("app.alert('fictional');"))
    page = _text_page(pdf, "JavaScript on open and on this page")
    page.AA = Dictionary(O=pdf.make_indirect(js.copy()))
    pdf.pages.append(pikepdf.Page(page))
    pdf.Root.OpenAction = pdf.make_indirect(js)
    pdf.Root.Names = Dictionary(JavaScript=Dictionary(Names=Array([pikepdf.String("x"), pdf.make_indirect(js.copy())])))
    _save(pdf, path)


def make_launch_pdf(path: Path) -> None:
    pdf = pikepdf.new()
    page = _text_page(pdf, "A link that launches a program")
    launch = Dictionary(S=Name.Launch, F=pikepdf.String("calc.exe"), NewWindow=True)
    link = Dictionary(
        Type=Name.Annot, Subtype=Name.Link, Rect=Array([72, 600, 300, 640]), A=launch, Border=Array([0, 0, 1])
    )
    widget_ap = pdf.make_stream(b"0 0 1 rg 0 0 100 20 re f", Type=Name.XObject, Subtype=Name.Form, BBox=[0, 0, 100, 20])
    button = Dictionary(
        Type=Name.Annot,
        Subtype=Name.Widget,
        FT=Name.Btn,
        Ff=65536,
        T=pikepdf.String("go"),
        Rect=Array([72, 500, 172, 520]),
        AP=Dictionary(N=widget_ap),
        A=Dictionary(S=Name.Launch, F=pikepdf.String("cmd.exe")),
        AA=Dictionary(E=Dictionary(S=Name.JavaScript, JS=pikepdf.String("app.alert(1)"))),
    )
    page.Annots = Array([pdf.make_indirect(link), pdf.make_indirect(button)])
    pdf.pages.append(pikepdf.Page(page))
    pdf.Root.AcroForm = Dictionary(Fields=Array([page.Annots[1]]))
    _save(pdf, path)


def make_attachment_pdf(path: Path) -> None:
    """An attachment in the document's name tree and a file-attachment annotation on the page."""
    pdf = pikepdf.new()
    page = _text_page(pdf, "A page with an attached file")
    icon = pdf.make_stream(b"0 0 0 rg 0 0 20 20 re f", Type=Name.XObject, Subtype=Name.Form, BBox=[0, 0, 20, 20])
    annot = Dictionary(
        Type=Name.Annot,
        Subtype=Name.FileAttachment,
        Rect=Array([500, 700, 520, 720]),
        FS=_filespec(pdf, "annot-payload.txt"),
        AP=Dictionary(N=icon),
    )
    page.Annots = Array([pdf.make_indirect(annot)])
    pdf.pages.append(pikepdf.Page(page))
    pdf.Root.Names = Dictionary(EmbeddedFiles=Dictionary(Names=Array([pikepdf.String("a.txt"), _filespec(pdf)])))
    pdf.Root.AF = Array([_filespec(pdf, "associated.txt")])
    _save(pdf, path)


def make_hidden_in_resources_pdf(path: Path) -> None:
    """Embedded files reached from page resources (a form XObject's /AF, an odd resource entry, a marked-content
    property) and from a stamp annotation's appearance stream (its resources carry a file specification and the
    form a JavaScript /AA); and a reference XObject to an outside file."""
    pdf = pikepdf.new()
    form = pdf.make_stream(
        b"0 0 1 rg 0 0 50 50 re f",
        Type=Name.XObject,
        Subtype=Name.Form,
        BBox=[0, 0, 50, 50],
        AF=Array([_filespec(pdf, "form-payload.txt")]),
        Ref=Dictionary(F=_filespec(pdf, "outside.pdf"), Page=0),
    )
    page = _text_page(pdf, "Resources that reach hidden files")
    page.Resources.XObject = Dictionary(Fx=form)
    page.Resources.Properties = Dictionary(MC0=Dictionary(Attached=_filespec(pdf, "property-payload.txt")))
    page.Resources.Hidden = Dictionary(Payload=_filespec(pdf, "resource-payload.txt"))
    page.Contents = pdf.make_stream(page.Contents.read_bytes() + b"\nq 1 0 0 1 100 100 cm /Fx Do Q\n")
    appearance = pdf.make_stream(
        b"1 0 0 rg 0 0 80 30 re f",
        Type=Name.XObject,
        Subtype=Name.Form,
        BBox=[0, 0, 80, 30],
        Resources=Dictionary(Extra=_filespec(pdf, "appearance-payload.txt")),
        AA=Dictionary(PO=Dictionary(S=Name.JavaScript, JS=pikepdf.String("app.alert(2)"))),
    )
    stamp = Dictionary(
        Type=Name.Annot, Subtype=Name.Stamp, Rect=Array([300, 300, 380, 330]), AP=Dictionary(N=appearance)
    )
    page.Annots = Array([pdf.make_indirect(stamp)])
    pdf.pages.append(pikepdf.Page(page))
    _save(pdf, path)


# Hostile PDFs --------------------------------------------------------------------------------------------------
def make_pixel_bomb_pdf(path: Path, side: int = 40_000) -> None:
    """A small PDF with one side x side bilevel image (all white, Flate: about 200 KB for 40,000; every reader that
    draws it allocates 1.6 billion pixels)."""
    pdf = pikepdf.new()
    rows = b"\xff" * (side // 8) * 1000
    squeeze = zlib.compressobj(9)
    data = b"".join(squeeze.compress(rows) for _ in range(side // 1000)) + squeeze.flush()
    image = pdf.make_stream(
        data,
        Type=Name.XObject,
        Subtype=Name.Image,
        Width=side,
        Height=side,
        ColorSpace=Name.DeviceGray,
        BitsPerComponent=1,
        Filter=Name.FlateDecode,
    )
    page = Dictionary(
        Type=Name.Page,
        MediaBox=Array([0, 0, 612, 792]),
        Resources=Dictionary(XObject=Dictionary(Im0=image)),
        Contents=pdf.make_stream(b"q 612 0 0 792 0 0 cm /Im0 Do Q"),
    )
    pdf.pages.append(pikepdf.Page(page))
    pdf.save(path, deterministic_id=True, compress_streams=False, stream_decode_level=pikepdf.StreamDecodeLevel.none)


def make_jpeg_header_bomb_pdf(path: Path) -> None:
    """A small image dictionary (100 x 100) holding a JPEG whose frame header claims 60,000 x 60,000 pixels."""
    buf = io.BytesIO()
    Image.new("L", (100, 100), 200).save(buf, "JPEG")
    data = bytearray(buf.getvalue())
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", 60_000, 60_000)
    pdf = pikepdf.new()
    image = pdf.make_stream(
        bytes(data),
        Type=Name.XObject,
        Subtype=Name.Image,
        Width=100,
        Height=100,
        ColorSpace=Name.DeviceGray,
        BitsPerComponent=8,
        Filter=Name.DCTDecode,
    )
    page = Dictionary(
        Type=Name.Page,
        MediaBox=Array([0, 0, 612, 792]),
        Resources=Dictionary(XObject=Dictionary(Im0=image)),
        Contents=pdf.make_stream(b"q 300 0 0 300 100 300 cm /Im0 Do Q"),
    )
    pdf.pages.append(pikepdf.Page(page))
    _save(pdf, path)


def make_damaged_jpeg_pdf(path: Path) -> None:
    """A scanned page whose JPEG data is cut off two thirds of the way (viewers show part of it; `qpdf --check`
    of a packet that holds it fails)."""
    buf = io.BytesIO()
    _text_image().save(buf, "JPEG", quality=80)
    data = buf.getvalue()
    width, height = _text_image().size

    def xobject(pdf: pikepdf.Pdf) -> pikepdf.Object:
        return pdf.make_stream(
            data[: len(data) * 2 // 3],
            Type=Name.XObject,
            Subtype=Name.Image,
            Width=width,
            Height=height,
            ColorSpace=Name.DeviceGray,
            BitsPerComponent=8,
            Filter=Name.DCTDecode,
        )

    _one_image_pdf(path, xobject, width, height)


def make_inline_image_bomb_pdf(path: Path) -> None:
    content = b"q 612 0 0 792 0 0 cm BI /W 40000 /H 40000 /CS /G /BPC 1 /F /AHx ID 00> EI Q"
    pdf = pikepdf.new()
    page = Dictionary(Type=Name.Page, MediaBox=Array([0, 0, 612, 792]), Contents=pdf.make_stream(content))
    pdf.pages.append(pikepdf.Page(page))
    _save(pdf, path)


def _flate_bomb(size: int) -> bytes:
    squeeze = zlib.compressobj(9)
    block = b" " * (1 << 20)
    return b"".join(squeeze.compress(block) for _ in range(size >> 20)) + squeeze.flush()


def make_content_bomb_pdf(path: Path, size: int = 256 << 20) -> None:
    """A page whose content stream inflates to ``size`` bytes of spaces (256 MiB from about 250 KB)."""
    pdf = pikepdf.new()
    content = pdf.make_stream(_flate_bomb(size))
    content.Filter = Name.FlateDecode
    pdf.pages.append(pikepdf.Page(Dictionary(Type=Name.Page, MediaBox=Array([0, 0, 612, 792]), Contents=content)))
    pdf.save(path, deterministic_id=True, compress_streams=False, stream_decode_level=pikepdf.StreamDecodeLevel.none)


def make_font_bomb_pdf(path: Path, size: int = 128 << 20) -> None:
    pdf = pikepdf.new()
    page = _text_page(pdf, "A font file that is a bomb")
    program = pdf.make_stream(_flate_bomb(size))
    program.Filter = Name.FlateDecode
    program.Length1 = size
    descriptor = Dictionary(Type=Name.FontDescriptor, FontName=Name("/Bomb"), Flags=32, FontFile2=program)
    page.Resources.Font.F2 = pdf.make_indirect(
        Dictionary(Type=Name.Font, Subtype=Name.TrueType, BaseFont=Name("/Bomb"), FontDescriptor=descriptor)
    )
    pdf.pages.append(pikepdf.Page(page))
    pdf.save(path, deterministic_id=True, compress_streams=False, stream_decode_level=pikepdf.StreamDecodeLevel.none)


def make_damaged_flate_pdf(path: Path) -> None:
    pdf = pikepdf.new()
    page = _text_page(pdf, "x")
    good = zlib.compress(b"BT /F1 14 Tf 72 700 Td (Damaged compressed content) Tj ET" * 20)
    rng = random.Random(5)
    damaged = good[:40] + bytes(rng.getrandbits(8) for _ in range(60)) + good[100:]
    content = pdf.make_stream(damaged)
    content.Filter = Name.FlateDecode
    page.Contents = content
    pdf.pages.append(pikepdf.Page(page))
    pdf.save(path, deterministic_id=True, compress_streams=False, stream_decode_level=pikepdf.StreamDecodeLevel.none)


def _filter_pdf(path: Path, filter_name: str) -> None:
    pdf = pikepdf.new()
    page = _text_page(pdf, "x")
    content = pdf.make_stream(b"\x00\x01\x02 fictional compressed bytes")
    content.Filter = Name(filter_name)
    page.Contents = content
    pdf.pages.append(pikepdf.Page(page))
    pdf.save(path, deterministic_id=True, compress_streams=False, stream_decode_level=pikepdf.StreamDecodeLevel.none)


def make_unknown_filter_pdf(path: Path) -> None:
    _filter_pdf(path, "/FictionalDecode")


def make_brotli_pdf(path: Path) -> None:
    _filter_pdf(path, "/BrotliDecode")


def _hand_written(objects: list[bytes]) -> bytes:
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


_PAGE = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>"
_CONTENT = b"<< /Length 0 >>\nstream\n\nendstream"


def make_page_tree_loop_pdf(path: Path) -> None:
    """A page tree whose node lists itself among its kids."""
    path.write_bytes(
        _hand_written(
            [
                b"<< /Type /Catalog /Pages 2 0 R >>",
                b"<< /Type /Pages /Kids [3 0 R 2 0 R] /Count 2 >>",
                _PAGE,
                _CONTENT,
            ]
        )
    )


def make_deep_nesting_pdf(path: Path, depth: int = 50_000) -> None:
    """A page whose resources hold arrays nested ``depth`` deep."""
    nested = b"[" * depth + b"]" * depth
    path.write_bytes(
        _hand_written(
            [
                b"<< /Type /Catalog /Pages 2 0 R >>",
                b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Deep %s >> >>"
                % nested,
                _CONTENT,
            ]
        )
    )


def make_huge_array_pdf(path: Path, count: int = 300_000) -> None:
    """A page whose dictionary holds an array of ``count`` numbers (past pypdf's limit of 100,000 elements)."""
    huge = b"[" + b" ".join(b"0" for _ in range(count)) + b"]"
    path.write_bytes(
        _hand_written(
            [
                b"<< /Type /Catalog /Pages 2 0 R >>",
                b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Huge %s >>" % huge,
                _CONTENT,
            ]
        )
    )


def make_no_catalog_pdf(path: Path) -> None:
    data = _hand_written([b"<< /Type /Pages /Kids [] /Count 0 >>"]).replace(b"/Root 1 0 R", b"/Info 1 0 R")
    path.write_bytes(data)


def make_million_pages_pdf(path: Path) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("generate", Path(__file__).with_name("generate.py"))
    assert spec is not None and spec.loader is not None
    generate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generate)
    generate.make_million_pages_pdf(path, 1_000_000)


# The corpus ----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Entry:
    name: str
    make: Callable[[Path], None]
    expected: str  # "stored", or the quarantine reason
    what: str


def _bytes(data: bytes) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        path.write_bytes(data)

    return write


CORPUS: tuple[Entry, ...] = (
    Entry("scan-jbig2.pdf", make_jbig2_pdf, STORED, "a JBIG2 (MMR generic region) scan, as copiers make them"),
    Entry("scan-jpx.pdf", make_jpx_pdf, STORED, "a JPEG 2000 scan"),
    Entry("scan-ccitt.pdf", make_ccitt_pdf, STORED, "a CCITT group 4 scan"),
    Entry("odd-boxes.pdf", make_odd_boxes_pdf, STORED, "crop box offsets, negative origins, rotations, UserUnit"),
    Entry("no-content.pdf", make_no_content_pdf, STORED, "a page without content"),
    Entry("content-array.pdf", make_content_array_pdf, STORED, "content as an array of streams"),
    Entry("incremental.pdf", make_incremental_pdf, STORED, "an incremental update"),
    Entry("linearized.pdf", make_linearized_pdf, STORED, "a linearized file"),
    Entry("pdf20.pdf", make_pdf20, STORED, "PDF 2.0"),
    Entry("junk-header.pdf", make_junk_before_header_pdf, STORED, "junk before %PDF-"),
    Entry("broken-xref.pdf", make_broken_xref_pdf, STORED, "wrong xref offsets (readers rebuild the table)"),
    Entry("owner-only.pdf", make_owner_only_encrypted_pdf, STORED, "encrypted, opens without a password"),
    Entry("odd-images.pdf", make_odd_images_pdf, STORED, "CMYK, 16-bit, indexed, soft-masked images"),
    Entry("javascript.pdf", make_javascript_pdf, STORED, "JavaScript on open, on a page, in the name tree"),
    Entry("launch.pdf", make_launch_pdf, STORED, "launch actions on a link and a form button"),
    Entry("attachment.pdf", make_attachment_pdf, STORED, "attachments: name tree, annotation, associated file"),
    Entry("hidden-resources.pdf", make_hidden_in_resources_pdf, STORED, "embedded files behind resources, /Ref"),
    Entry("photo-alpha.png", lambda p: _image_file(p, "RGBA", "PNG"), STORED, "a PNG with an alpha channel"),
    Entry("scan-16bit.png", lambda p: _image_file(p, "I;16", "PNG"), STORED, "a 16-bit grey PNG"),
    Entry("photo-cmyk.jpg", lambda p: _image_file(p, "CMYK", "JPEG"), STORED, "a CMYK JPEG"),
    Entry("scan-lzw.tif", lambda p: _image_file(p, "L", "TIFF", compression="tiff_lzw"), STORED, "an LZW TIFF"),
    Entry("pixel-bomb.pdf", make_pixel_bomb_pdf, "too-many-pixels", "a 40,000 x 40,000 image in a small PDF"),
    Entry("jpeg-header-bomb.pdf", make_jpeg_header_bomb_pdf, "too-many-pixels", "a JPEG claiming 60,000 x 60,000"),
    Entry("inline-image-bomb.pdf", make_inline_image_bomb_pdf, "too-many-pixels", "an inline image bomb"),
    Entry("content-bomb.pdf", make_content_bomb_pdf, "decompression-bomb", "a content stream of 256 MiB (Flate)"),
    Entry("font-bomb.pdf", make_font_bomb_pdf, "decompression-bomb", "a font program of 128 MiB (Flate)"),
    Entry("damaged-flate.pdf", make_damaged_flate_pdf, "corrupt", "damaged Flate data in a content stream"),
    Entry("damaged-jpeg.pdf", make_damaged_jpeg_pdf, "corrupt", "a scan whose JPEG data is cut off"),
    Entry("unknown-filter.pdf", make_unknown_filter_pdf, "unsupported-encoding", "a filter no reader knows"),
    Entry("brotli.pdf", make_brotli_pdf, "unsupported-encoding", "a Brotli-compressed content stream"),
    Entry("page-tree-loop.pdf", make_page_tree_loop_pdf, "corrupt", "a page tree that contains itself"),
    # qpdf drops what is nested past its limit (500), and then counts other pages than pypdf
    Entry("deep-nesting.pdf", make_deep_nesting_pdf, "too-complex", "arrays nested 50,000 deep"),
    Entry("huge-array.pdf", make_huge_array_pdf, "too-complex", "an array of 300,000 elements in a page"),
    Entry("no-catalog.pdf", make_no_catalog_pdf, "corrupt", "a trailer without a catalog"),
    Entry("million-pages.pdf", make_million_pages_pdf, "too-many-pages", "a page tree of a million pages"),
    Entry("gif-image.gif", lambda p: _image_file(p, "P", "GIF"), "unsupported-type", "a GIF"),
    Entry("webp-image.webp", lambda p: _image_file(p, "RGB", "WEBP"), "unsupported-type", "a WebP"),
    Entry("zip-named.pdf", _bytes(b"PK\x03\x04" + bytes(200)), "unsupported-type", "a ZIP named .pdf"),
    Entry("html-named.pdf", _bytes(b"<!doctype html><p>not a pdf</p>"), "unsupported-type", "HTML named .pdf"),
    Entry("truncated-image.jpg", lambda p: _truncated_jpeg(p), "truncated", "a JPEG cut off half way"),
    Entry("empty.pdf", _bytes(b""), "empty", "an empty file"),
)


def _truncated_jpeg(path: Path) -> None:
    buf = io.BytesIO()
    Image.new("RGB", (400, 300), (90, 120, 200)).save(buf, "JPEG", quality=95)
    data = buf.getvalue()
    path.write_bytes(data[: len(data) // 2])


# What a folder holds besides files: a link, a FIFO, a hidden file.
SYMLINK_NAME = "link-to-outside.pdf"
FIFO_NAME = "named-pipe.pdf"
HIDDEN_NAME = ".DS_Store"
EXTRA: dict[str, str] = {SYMLINK_NAME: "symlink", FIFO_NAME: "unsupported-type", HIDDEN_NAME: SKIPPED}


def make_corpus(folder: Path, outside: Path | None = None) -> dict[str, str]:
    """Every file of ``CORPUS`` in ``folder``, plus a symbolic link to a file outside it (in ``outside``, default
    the folder's parent), a FIFO and a hidden file. Returns file name -> expected outcome."""
    folder.mkdir(parents=True, exist_ok=True)
    expected = {}
    for entry in CORPUS:
        entry.make(folder / entry.name)
        expected[entry.name] = entry.expected
    target_dir = outside or folder.parent
    secret = target_dir / "outside-the-folder.pdf"
    make_no_content_pdf(secret)
    os.symlink(secret, folder / SYMLINK_NAME)
    os.mkfifo(folder / FIFO_NAME)
    (folder / HIDDEN_NAME).write_bytes(b"\x00\x00\x00\x01Bud1")
    expected.update(EXTRA)
    return expected


# The report ----------------------------------------------------------------------------------------------------
@dataclass
class Report:
    """What intake did with the corpus (see ``intake_report``)."""

    tried: int
    outcomes: dict[str, str]  # file name -> "stored" / quarantine reason / "skipped" / "failed: reason" ...
    expected: dict[str, str]
    tracebacks: int  # "Traceback" on stderr, plus files that failed because of an unexpected exception (a bug)
    objects_lost: list[str]  # what is missing or damaged in the store, or stored without a document
    packet: str = ""  # what the packet build of every stored file said
    stderr: str = ""  # what the commands printed on stderr (to see a traceback when there is one)

    @property
    def unexpected(self) -> dict[str, tuple[str, str]]:
        return {
            name: (self.expected.get(name, "?"), got)
            for name, got in sorted(self.outcomes.items())
            if got != self.expected.get(name) and not (got == "duplicate" and self.expected.get(name) == STORED)
        }

    def table(self) -> str:
        counts: dict[str, int] = {}
        for got in self.outcomes.values():
            counts[got] = counts.get(got, 0) + 1
        stored = counts.pop(STORED, 0) + counts.pop("duplicate", 0)
        skipped = counts.pop(SKIPPED, 0)
        failed = {k: v for k, v in counts.items() if k.startswith("failed")}
        refused = {k: v for k, v in counts.items() if k not in failed}
        lines = [
            f"{'files tried':<34}{self.tried:>5}",
            f"{'stored':<34}{stored:>5}",
            f"{'refused (quarantined), by reason':<34}{sum(refused.values()):>5}",
            *(f"  {reason:<32}{n:>5}" for reason, n in sorted(refused.items())),
            f"{'skipped (hidden files)':<34}{skipped:>5}",
            f"{'failed (machine, store, bug)':<34}{sum(failed.values()):>5}",
            f"{'tracebacks (must be 0)':<34}{self.tracebacks:>5}",
            f"{'objects lost (must be 0)':<34}{len(self.objects_lost):>5}",
            f"{'outcomes not as expected':<34}{len(self.unexpected):>5}",
        ]
        lines += [f"    {name}: expected {want}, got {got}" for name, (want, got) in self.unexpected.items()]
        lines += [f"    lost: {what}" for what in self.objects_lost]
        if self.packet:
            lines.append(f"{'packet of every stored file':<34}{self.packet}")
        return "\n".join(lines)


def intake_report(folder: Path, home: Path, expected: dict[str, str], *, packet: bool = True) -> Report:
    """Run `casefile add` (the real command, in a process of its own, with the environment as it is) over
    ``folder`` into a new case in ``home``, then check what it stored: every file's outcome against ``expected``,
    tracebacks on stderr, and, with `casefile check`'s checks, every object of every document against its SHA-256
    and every original without a document. With ``packet``, every stored file then goes into a packet, built and
    checked by `casefile packet build` (Spanish scans without translations: --allow-missing-translations)."""
    import json
    import subprocess
    import sys

    exe = str(Path(sys.executable).with_name("casefile"))
    env = {**os.environ, "CASEFILE_HOME": str(home)}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([exe, *args], capture_output=True, text=True, env=env, timeout=1800, check=False)

    case = run(
        "case",
        "new",
        "--client",
        "Fictional Corpus Client",
        "--a-number",
        "987654321",
        "--court",
        "New York, NY (Broadway)",  # the court whose DHS office the practice below serves
        "--hearing",
        "2027-03-04",
        "--hearing-type",
        "individual",
        "--json",
    )
    case_id = json.loads(case.stdout)["id"]
    added = run("add", case_id, str(folder), "--json")
    report = json.loads(added.stdout)
    outcomes: dict[str, str] = {}
    tracebacks = added.stderr.count("Traceback")
    for item in report["items"]:
        name = Path(item["file"]).name
        if item["outcome"] == "quarantined":
            outcomes[name] = item["reason"]
        elif item["outcome"] == "failed":
            outcomes[name] = f"failed: {item['reason']}"
            tracebacks += item["reason"] == "error"  # an unexpected exception: a bug
        else:
            outcomes[name] = item["outcome"]
    for name, want in expected.items():
        if want == SKIPPED and name not in outcomes:
            outcomes[name] = SKIPPED
    lost = _objects_lost(home, report["items"])
    built = ""
    if packet:
        harbor = runpy.run_path(str(Path(__file__).with_name("practice.py")))  # a practice of its own
        run("practice", "init", "--no-input", *harbor["PRACTICE_FLAGS"], *harbor["HARBOR_DHS"])
        plan = home.parent / "corpus-plan.yaml"
        run("exhibits", "plan", case_id, "-o", str(plan))
        # What a person does after looking at the pages that have no text to tell their language by: decide it.
        plan.write_text(plan.read_text(encoding="utf-8").replace("language: unknown", "language: en"), encoding="utf-8")
        run("exhibits", "set", case_id, str(plan))
        build = run("packet", "build", case_id, "--allow-missing-translations", "--json")
        tracebacks += build.stderr.count("Traceback")
        if build.returncode == 0:
            result = json.loads(build.stdout)
            built = f"built and checked: {result['pages']} pages, {len(result['parts'])} part(s)"
        else:
            built = f"FAILED (exit {build.returncode}): {build.stderr.strip().splitlines()[-1:]}"
    stderr = added.stderr + (build.stderr if packet else "")
    tried = len(report["items"]) + report.get("hidden_skipped", 0)
    return Report(tried, outcomes, expected, tracebacks, lost, built, stderr)


def _objects_lost(home: Path, items: list[dict[str, object]]) -> list[str]:
    """Every file read (it has a SHA-256) has a document whose original is stored intact; every document's objects
    are intact; no original is stored without a document (the checks of `casefile check`)."""
    from casefile.tasks.core.runtime import get_runtime
    from casefile.tasks.core.settings import load_settings
    from casefile.tasks.health.doctor import check_home

    rt = get_runtime(load_settings(home=home))
    lost = [
        f"{p.code} {p.subject}"
        for p in check_home(rt).problems
        if p.area in ("documents", "objects") and p.code != "unreferenced-derived"
    ]
    from sqlalchemy import select

    from casefile.tasks.core.catalog import Document

    with rt.catalog.session() as session:
        known = set(session.scalars(select(Document.sha256)))
    for item in items:
        sha = item.get("sha256")
        if sha and sha not in known:
            lost.append(f"no document for {Path(str(item['file'])).name}")
    return lost
