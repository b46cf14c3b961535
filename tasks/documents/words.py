"""Word boxes of pages that keep their own text layer (OCR'd pages get theirs from Tesseract, ``ocr.Word``).

``text_layer_words(pdf, numbers)`` reads each page's characters and their boxes with PDFium and groups them into
words: a word ends at white space, at a jump to another line, or at a gap wider than a third of the text's height.
Boxes are in the frame of ``ocr.Word``: PDF points on the page as displayed (after its /Rotate, relative to its
CropBox), origin at the top-left corner, y downwards. Nothing here logs text.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

import pikepdf
import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from .ocr import PageGeometry, Word

log = logging.getLogger(__name__)

MAX_PAGE_CHARS = 100_000  # a hostile text layer can hold megabytes: beyond this a page gets no word boxes


def _page_words(text_page: pdfium.PdfTextPage, geometry: PageGeometry) -> list[Word]:
    to_view = geometry.user_to_view_points()
    count = text_page.count_chars()
    if count <= 0 or count > MAX_PAGE_CHARS:
        return []
    words: list[Word] = []
    chars: list[str] = []
    box: list[float] = []  # x0, y0, x1, y1 in view points

    def flush() -> None:
        if chars:
            text = "".join(chars).strip()
            if text:
                words.append(Word(text, 100.0, *(round(v, 2) for v in box)))
        chars.clear()
        box.clear()

    for index in range(count):
        code = pdfium_c.FPDFText_GetUnicode(text_page.raw, index)
        ch = chr(code) if 0 < code < 0x110000 else ""
        if not ch or ch.isspace() or ch in "\ufffe\uffff":
            flush()
            continue
        left, bottom, right, top = text_page.get_charbox(index, loose=True)
        if right <= left or top <= bottom:  # generated characters (hyphens, breaks) have no box
            continue
        corners = [to_view.apply(x, y) for x in (left, right) for y in (bottom, top)]
        xs, ys = [c[0] for c in corners], [c[1] for c in corners]
        x0, y0, x1, y1 = min(xs), min(ys), max(xs), max(ys)
        if box:
            height = max(box[3] - box[1], y1 - y0, 1.0)
            middle, current = (y0 + y1) / 2, (box[1] + box[3]) / 2
            if abs(middle - current) > height * 0.6 or x0 - box[2] > height / 3 or x1 < box[0]:
                flush()
        if box:
            box[:] = [min(box[0], x0), min(box[1], y0), max(box[2], x1), max(box[3], y1)]
        else:
            box.extend((x0, y0, x1, y1))
        chars.append(ch)
    flush()
    return words


def text_layer_words(pdf: Path, numbers: Iterable[int]) -> dict[int, list[Word]]:
    """The words of the given pages (1-based) of ``pdf``, by page number; a page that cannot be read gets none."""
    wanted = sorted(set(numbers))
    out: dict[int, list[Word]] = {}
    if not wanted:
        return out
    with pikepdf.open(pdf) as doc:
        text_doc = pdfium.PdfDocument(pdf)
        try:
            for number in wanted:
                if not 1 <= number <= len(doc.pages):
                    continue
                page = text_doc[number - 1]
                try:
                    text_page = page.get_textpage()
                    try:
                        out[number] = _page_words(text_page, PageGeometry.of(doc.pages[number - 1]))
                    finally:
                        text_page.close()
                except (pdfium.PdfiumError, pikepdf.PdfError, ValueError) as exc:
                    log.warning("page %d: no word boxes (%s)", number, type(exc).__name__)
                    out[number] = []
                finally:
                    page.close()
        finally:
            text_doc.close()
    return out
