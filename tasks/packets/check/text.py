"""Page text for the check, read with pdfium (pypdfium2): the runs in the stamp band(s) of every page, and all runs
of the few pages read in full (the exhibit list, language samples).

Every page's band must be read, so the text is read with pdfium rather than pypdf's
``extract_text(visitor_text=...)``, which gives positions too but costs far more on text-heavy pages
(benchmarks/README.md, "Packet check"). pdfium's text rectangles are in PDF user space, so they are mapped to the
viewed page (``pages.Geometry``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ...core.errors import PacketCheckError

if TYPE_CHECKING:
    from .config import CheckConfig
    from .pdffile import PdfFile
    from .report import Findings


@dataclass(frozen=True)
class Seg:
    """A run of text on one line, in viewed-page points."""

    text: str
    x0: float
    y0: float
    x1: float
    y1: float

    @property
    def center(self) -> float:
        return (self.x0 + self.x1) / 2


def _norm(text: str) -> str:
    return " ".join(text.split())


@dataclass
class PageText:
    band: list[str] = field(default_factory=list)  # text runs in the stamp band(s)
    body: list[Seg] | None = None  # every other text run, for pages read in full


def read_text(
    info: PdfFile, cfg: CheckConfig, full: set[int], out: Findings, *, bands_too: bool = True
) -> list[PageText]:
    """Band text of every page (when numbers or stamps are checked; not with ``bands_too=False``, when the bands were
    read already) and all text of the pages in ``full``."""
    import pypdfium2 as pdfium

    bands = [b for b, on in ((cfg.number_band, cfg.numbers), (cfg.stamp_band, cfg.stamp)) if on]
    result = [PageText() for _ in range(info.pages)]
    every_page = bool(bands) and bands_too
    if not every_page and not full:
        return result
    try:
        doc = pdfium.PdfDocument(str(info.path))
    except pdfium.PdfiumError as exc:
        raise PacketCheckError(info.name, "its pages cannot be read") from exc
    try:
        if len(doc) != info.pages:
            raise PacketCheckError(info.name, "its page tree is damaged (readers disagree on the page count)")
        for index in range(info.pages):
            want_body = index in full
            if not every_page and not want_body:
                continue
            geometry = info.geometry[index]
            page = doc[index]
            textpage = page.get_textpage()
            try:
                body: list[Seg] = []
                for k in range(textpage.count_rects()):
                    rect = textpage.get_rect(k)
                    x0, y0, x1, y1 = geometry.rect(*rect)
                    banded = any(geometry.in_band(b, y0, y1) for b in bands)
                    if not banded and not want_body:
                        continue
                    text = _norm(textpage.get_text_bounded(*rect))
                    if not text:
                        continue
                    if banded:
                        if bands_too:
                            result[index].band.append(text)
                    else:
                        body.append(Seg(text, x0, y0, x1, y1))
                if want_body:
                    result[index].body = body
            finally:
                textpage.close()
                page.close()
    finally:
        doc.close()
    return result
