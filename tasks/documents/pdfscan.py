"""The safety scan of a PDF at intake: what a viewer, the OCR stage or a packet build will decode, checked first.

``scan_pdf(path, limits)`` opens the file with qpdf (pikepdf) and walks every object the pages reach (their
resources, fonts, images, forms, annotations' appearances; not the page tree's back links or thumbnails), without
recursion and at most ``MAX_OBJECTS`` of them. It refuses, with a typed ``QuarantinedFile``:

- ``too-many-pixels``: an image (an image XObject, an inline image, or the picture inside JPEG / JPEG 2000 / JBIG2
  data, by its own header) larger than ``max_image_pixels``, like an image file (a 40,000 x 40,000 picture in a
  1.5 MB PDF is a decompression bomb for every reader);
- ``decompression-bomb``: compressed data (Flate) that expands beyond ``max_stream_bytes`` (or, for an image,
  beyond what its size needs), found by decoding in bounded chunks that are thrown away;
- ``corrupt``: compressed data qpdf cannot decode cleanly, JPEG and JBIG2 pictures included (``qpdf --check`` of a
  packet decodes them and would report it), or pages that qpdf and pypdf count differently;
- ``unsupported-encoding``: a filter that no reader here decodes;
- ``too-complex``: more reachable objects than any document needs.

Memory stays bounded: stream data is read one stream at a time, Flate output in ``CHUNK`` pieces.
"""

from __future__ import annotations

import logging
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core.errors import QuarantinedFile, QuarantineReason
from ..core.settings import Limits

log = logging.getLogger(__name__)

MAX_OBJECTS = 2_000_000  # reachable objects of one PDF: a 5,000-page scan has a few tens of thousands
CHUNK = 1 << 20

_GENERALIZED = {"/FlateDecode", "/LZWDecode", "/ASCII85Decode", "/ASCIIHexDecode", "/RunLengthDecode"}
_IMAGE_CODECS = {"/DCTDecode", "/JPXDecode", "/JBIG2Decode", "/CCITTFaxDecode"}
_ABBREVIATIONS = {  # inline images may abbreviate their filters
    "/AHx": "/ASCIIHexDecode",
    "/A85": "/ASCII85Decode",
    "/LZW": "/LZWDecode",
    "/Fl": "/FlateDecode",
    "/RL": "/RunLengthDecode",
    "/CCF": "/CCITTFaxDecode",
    "/DCT": "/DCTDecode",
}
KNOWN_FILTERS = _GENERALIZED | _IMAGE_CODECS | {"/Crypt"}
_SKIPPED_KEYS = {"/Parent", "/P", "/Thumb", "/B", "/PieceInfo", "/Metadata", "/StructParents"}


@dataclass(frozen=True)
class ScanResult:
    pages: int  # as qpdf counts them
    objects: int  # reachable objects walked
    streams_decoded: int
    decoded_bytes: int


def _filters(stream: Any) -> list[str]:
    import pikepdf

    value = stream.stream_dict.get("/Filter")
    if value is None:
        return []
    if isinstance(value, pikepdf.Name):
        return [str(value)]
    if isinstance(value, pikepdf.Array):
        return [str(v) for v in value if isinstance(v, pikepdf.Name)]
    return ["?"]


def _int(value: Any) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number


def _check_pixels(width: int | None, height: int | None, limits: Limits, what: str) -> None:
    if width is None or height is None or width <= 0 or height <= 0:
        return
    if width * height > limits.max_image_pixels:
        raise QuarantinedFile(
            QuarantineReason.TOO_MANY_PIXELS,
            f"{what} of {width:,} x {height:,} pixels inside the PDF, limit {limits.max_image_pixels:,}",
        )


def _expected_image_bytes(d: Any) -> int:
    """What an image's decoded data may hold: its pixels at its bits per component, plus a byte per row (PNG
    predictors) and some slack."""
    width, height = _int(d.get("/Width")) or 0, _int(d.get("/Height")) or 0
    bits = _int(d.get("/BitsPerComponent")) or 8
    components = 4  # the most a colour space here has (CMYK); a bound, not a measure
    return max(0, width) * max(0, height) * components * max(1, bits) // 8 + max(0, height) + (1 << 20)


# Declared sizes inside image codecs -------------------------------------------------------------------------
def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a JPEG's start-of-frame marker."""
    i = 2 if data[:2] == b"\xff\xd8" else -1
    while 0 <= i < len(data) - 9:
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7 or marker == 0xFF:
            i += 1 if marker == 0xFF else 2
            continue
        (length,) = struct.unpack(">H", data[i + 2 : i + 4])
        if marker in (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF):
            height, width = struct.unpack(">HH", data[i + 5 : i + 9])
            return width, height
        i += 2 + length
    return None


def _jpx_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a JPEG 2000 file's image header box, or a raw codestream's SIZ marker."""
    at = data.find(b"ihdr", 0, 4096)
    if at >= 4 and len(data) >= at + 12:
        height, width = struct.unpack(">II", data[at + 4 : at + 12])
        return width, height
    at = data.find(b"\xff\x51", 0, 4096)  # SIZ: Lsiz, Rsiz, Xsiz, Ysiz, XOsiz, YOsiz
    if at >= 0 and len(data) >= at + 22:
        xsiz, ysiz, xo, yo = struct.unpack(">IIII", data[at + 6 : at + 22])
        return xsiz - xo, ysiz - yo
    return None


def _jbig2_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from the page information segment (type 48) at the start of an embedded JBIG2 stream."""
    if len(data) < 11:
        return None
    flags = data[4]
    if flags & 0x3F != 48:
        return None
    referred = data[5]
    count = referred >> 5
    if count == 7:
        return None  # the long form: no real page information segment starts like this
    at = 6 + count  # referred segment numbers are one byte each for small segment numbers
    at += 4 if flags & 0x40 else 1  # page association
    at += 4  # data length
    if len(data) < at + 8:
        return None
    width, height = struct.unpack(">II", data[at : at + 8])
    return width, (0 if height == 0xFFFFFFFF else height)


def _codec_size(filters: list[str], raw: bytes) -> tuple[int, int] | None:
    last = filters[-1] if filters else ""
    if len(filters) != 1:
        return None  # a codec under another filter: its header is not readable without decoding
    try:
        if last == "/DCTDecode":
            return _jpeg_size(raw[:65536])
        if last == "/JPXDecode":
            return _jpx_size(raw[:4096])
        if last == "/JBIG2Decode":
            return _jbig2_size(raw[:64])
    except struct.error:
        return None
    return None


# Decoding ---------------------------------------------------------------------------------------------------
def _inflated_size(raw: bytes, cap: int) -> tuple[int, bool]:
    """How many bytes ``raw`` inflates to, counting at most ``cap`` + 1 (chunks are thrown away), and whether the
    data was clean (a complete zlib stream)."""
    inflater = zlib.decompressobj()
    total = 0
    pending = raw
    try:
        while pending:
            chunk = inflater.decompress(pending, CHUNK)
            total += len(chunk)
            if total > cap:
                return total, True
            pending = inflater.unconsumed_tail
            if inflater.eof:
                break
            if not chunk and not pending:
                break
        while not inflater.eof and total <= cap:
            chunk = inflater.decompress(b"", CHUNK)
            if not chunk:
                break
            total += len(chunk)
    except zlib.error:
        return total, False
    return total, inflater.eof


class _QpdfWarnings(logging.Handler):
    """What qpdf says while it decodes a stream (pikepdf passes its warnings to the ``pikepdf._core`` logger)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1


def _qpdf_decodes_cleanly(stream: Any, *, images: bool = False) -> bool:
    """Whether qpdf decodes the stream without an error or a warning, as `qpdf --check` of a packet will (with
    ``images``, JPEG and JBIG2 data too: the check decodes them)."""
    import pikepdf

    handler = _QpdfWarnings()
    logger = logging.getLogger("pikepdf._core")
    logger.addHandler(handler)
    propagate, logger.propagate = logger.propagate, False
    level = pikepdf.StreamDecodeLevel.all if images else pikepdf.StreamDecodeLevel.generalized
    try:
        stream.read_bytes(decode_level=level)
    except (pikepdf.PdfError, pikepdf.DataDecodingError, NotImplementedError, ValueError):
        return False
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate
    return handler.count == 0


# The walk ---------------------------------------------------------------------------------------------------
def _children(obj: Any, key: str | None) -> Iterator[tuple[str | None, Any]]:
    """(key, value) of the containers inside ``obj``; an array's items carry the array's own key (``/Contents``
    may be an array of streams)."""
    import pikepdf

    if isinstance(obj, pikepdf.Stream):
        items: Any = obj.stream_dict.items()
    elif isinstance(obj, pikepdf.Dictionary):
        items = obj.items()
    elif isinstance(obj, pikepdf.Array):
        items = ((key, v) for v in obj)
    else:
        return
    for key, value in items:
        if key not in _SKIPPED_KEYS and isinstance(value, (pikepdf.Dictionary, pikepdf.Array, pikepdf.Stream)):
            yield key, value


class _Scanner:
    def __init__(self, limits: Limits, decode_pictures: bool = True) -> None:
        self.limits = limits
        self.decode_pictures = decode_pictures
        self.objects = 0
        self.streams = 0
        self.decoded = 0
        self.content_streams: list[Any] = []

    def walk(self, roots: list[Any]) -> None:
        import pikepdf

        seen: set[tuple[int, int]] = set()
        stack: list[tuple[str | None, Any]] = [(None, r) for r in roots]
        while stack:
            key, obj = stack.pop()
            if obj.is_indirect:
                if obj.objgen in seen:
                    continue
                seen.add(obj.objgen)
            self.objects += 1
            if self.objects > MAX_OBJECTS:
                raise QuarantinedFile(
                    QuarantineReason.TOO_COMPLEX, f"its pages reach more than {MAX_OBJECTS:,} objects"
                )
            if isinstance(obj, pikepdf.Stream):
                self.stream(obj, key)
            stack.extend(_children(obj, key))

    def stream(self, stream: Any, key: str | None) -> None:
        d = stream.stream_dict
        filters = _filters(stream)
        unknown = [f for f in filters if f not in KNOWN_FILTERS]
        if unknown:
            raise QuarantinedFile(
                QuarantineReason.UNSUPPORTED_ENCODING,
                f"object {stream.objgen[0]} is compressed with a method that is not a PDF filter",
            )
        number = stream.objgen[0]
        image = d.get("/Subtype") == "/Image"
        if image:
            _check_pixels(_int(d.get("/Width")), _int(d.get("/Height")), self.limits, "an image")
        if filters and filters[-1] in _IMAGE_CODECS:
            raw = stream.read_raw_bytes() if len(filters) == 1 else b""
            size = _codec_size(filters, raw)
            if size is not None:
                _check_pixels(size[0], size[1], self.limits, f"a {filters[-1][1:-6]} picture")
            if self.decode_pictures and filters in (["/DCTDecode"], ["/JBIG2Decode"]) and self._decodable(filters[0]):
                # `qpdf --check` of a packet decodes JPEG and JBIG2 data (within the pixel limit checked above)
                self.streams += 1
                if not _qpdf_decodes_cleanly(stream, images=True):
                    raise QuarantinedFile(QuarantineReason.CORRUPT, f"the picture data of object {number} is damaged")
            if not all(f in _GENERALIZED for f in filters[:-1]):
                return
            # the generalized layers above the codec are decoded by qpdf in a packet: check they decode
        if all(f in _GENERALIZED for f in filters):
            self.decode(stream, filters, number, image, d)
        if key == "/Contents" or (d.get("/Subtype") == "/Form" and not image):
            self.content_streams.append(stream)

    def _decodable(self, codec: str) -> bool:
        """JBIG2 is decoded by the jbig2dec program: without it, that is this machine's problem, not the file's (the
        packet check says what to install)."""
        if codec != "/JBIG2Decode":
            return True
        from pikepdf import jbig2

        return jbig2.get_decoder().available()

    def decode(self, stream: Any, filters: list[str], number: int, image: bool, d: Any) -> None:
        cap = self.limits.max_stream_bytes
        if image:
            cap = max(cap, _expected_image_bytes(d))
        self.streams += 1
        if filters == ["/FlateDecode"]:
            size, clean = _inflated_size(stream.read_raw_bytes(), cap)
            if size > cap:
                raise QuarantinedFile(
                    QuarantineReason.DECOMPRESSION_BOMB,
                    f"object {number} expands past {cap:,} bytes (setting max_stream_bytes)",
                )
            self.decoded += size
            if clean:
                return
        elif not filters:
            return
        # Other generalized filters, or Flate data zlib calls damaged: decode as qpdf does (a packet's check will)
        if not _qpdf_decodes_cleanly(stream):
            raise QuarantinedFile(QuarantineReason.CORRUPT, f"the compressed data of object {number} is damaged")

    def inline_images(self) -> None:
        """Inline images (BI ... ID ... EI) in content streams: their declared size, like image XObjects."""
        import pikepdf

        for stream in self.content_streams:
            try:
                data = stream.read_bytes()
            except (pikepdf.PdfError, pikepdf.DataDecodingError, NotImplementedError, ValueError):
                continue  # already judged by decode(); an image codec as content is left to the reader
            if b"ID" not in data:
                continue
            try:
                instructions = pikepdf.parse_content_stream(stream)
            except pikepdf.PdfError:
                continue
            for instruction in instructions:
                if isinstance(instruction, pikepdf.ContentStreamInlineImage):
                    iimage = instruction.iimage
                    _check_pixels(_int(iimage.width), _int(iimage.height), self.limits, "an inline image")
                    for name in iimage.filters:
                        full = _ABBREVIATIONS.get(str(name), str(name))
                        if full not in KNOWN_FILTERS:
                            raise QuarantinedFile(
                                QuarantineReason.UNSUPPORTED_ENCODING, "an inline image with an unknown filter"
                            )


def scan_pdf(path: Path, limits: Limits, password: str = "", *, decode_pictures: bool = True) -> ScanResult:
    """Walk what the pages of the PDF at ``path`` reach; see the module doc. Raises ``QuarantinedFile``; other
    exceptions (from a hostile file) are the caller's to map. Without ``decode_pictures``, JPEG and JBIG2 data is
    not decoded (a PDF made here from an image file that was decoded already)."""
    import pikepdf

    try:
        pdf = pikepdf.open(path, password=password)
    except pikepdf.PasswordError:
        raise QuarantinedFile(QuarantineReason.ENCRYPTED) from None
    with pdf:
        pages = len(pdf.pages)
        scanner = _Scanner(limits, decode_pictures)
        scanner.walk([page.obj for page in pdf.pages])
        scanner.inline_images()
        return ScanResult(pages, scanner.objects, scanner.streams, scanner.decoded)
