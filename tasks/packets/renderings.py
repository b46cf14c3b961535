"""The template pages of a packet (cover, exhibit list, tab pages, translator's certificates, certificate of service,
USCIS cover letter, country-conditions index): each rendering laid out by WeasyPrint once and kept as its own PDF.

A rendering is known by its key (``cache.piece_key("pages", ...)``): the template's name, the HTML it renders to
with the build's context (so a client's data, a title, a date are in it), the versions of every template of the
packet (a practice's override counts), the page layout that resampling follows, and the version of the code and
libraries that write it. ``Renderer.one`` / ``Renderer.many`` give a rendering's pages (from the cache of pieces
when an earlier build made the same one; else laid out now, several of one template as one WeasyPrint document:
``core.render.layout_many``); ``Renderer.write`` writes the PDF of each rendering the packet uses and keeps the new
ones. Each rendering's PDF is written on its own (its fonts subset to its own text), with hidden content stripped
and large images resampled as on exhibit pages, so the same rendering gives the same bytes whether it was laid out
with others, alone, or in an earlier build.
"""

from __future__ import annotations

import hashlib
import io
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .cache import PieceCache, PieceKey
    from .layout import PageLayout

log = logging.getLogger(__name__)


@dataclass(eq=False)
class Rendering:
    name: str  # the template
    key: PieceKey
    pages: int
    laid_out: Any | None = None  # the laid-out pages (this build), or None (the cache has the PDF)
    data: bytes | None = None  # its PDF, once written or found
    path: Path | None = None  # where the PDF is in the build's work folder, once written there
    cached: bool = False
    images_downsampled: int = 0  # images of the template (a letterhead) resampled when it was written
    bytes_saved: int = 0


def _code_version() -> str:
    from ..core import render
    from . import layout, renderings
    from .cache import code_version

    return code_version([render, renderings, layout], ["weasyprint", "pikepdf", "pillow", "fonttools", "pydyf"])


@dataclass
class Renderer:
    env: Any
    cache: PieceCache
    work: Path
    layout: PageLayout
    versions: Mapping[str, str]  # every template of the packet: name -> SHA-256 of the source used
    _seen: dict[str, Rendering] = field(default_factory=dict)
    _code: str = ""

    def _key(self, name: str, html: str) -> PieceKey:
        from .cache import piece_key

        if not self._code:
            self._code = _code_version()
        return piece_key(
            "pages",
            template=name,
            html=hashlib.sha256(html.encode("utf-8")).hexdigest(),
            templates=dict(self.versions),
            image_dpi=self.layout.image_dpi,
            code=self._code,
        )

    def many(self, name: str, contexts: Sequence[Mapping[str, Any]]) -> list[Rendering]:
        """The renderings of template ``name`` with each context, in order."""
        from ..core.render import layout_many, render_html

        htmls = [render_html(self.env, name, ctx) for ctx in contexts]
        keys = [self._key(name, html) for html in htmls]
        known = self.cache.get_many(k for k in keys if k.digest not in self._seen)
        missing: dict[str, int] = {}  # key -> index of a context to lay out
        for i, key in enumerate(keys):
            if key.digest in self._seen:
                continue
            data = known.get(key)
            if data is not None:
                pages, downsampled, saved = _facts(data)
                self._seen[key.digest] = Rendering(
                    name, key, pages, data=data, cached=True, images_downsampled=downsampled, bytes_saved=saved
                )
            else:
                missing.setdefault(key.digest, i)
        if missing:
            order = list(missing.values())
            for i, laid in zip(order, layout_many(self.env, name, [contexts[i] for i in order]), strict=True):
                self._seen[keys[i].digest] = Rendering(name, keys[i], len(laid.pages), laid_out=laid)
        return [self._seen[key.digest] for key in keys]

    def one(self, name: str, context: Mapping[str, Any]) -> Rendering:
        return self.many(name, [context])[0]

    def write(self, renderings: Sequence[Rendering]) -> None:
        """Each rendering's PDF in the work folder (``Rendering.path``); the ones laid out in this build are written,
        cleaned and kept in the cache."""
        from ..core.render import documents_pdf

        for rendering in dict.fromkeys(renderings):
            if rendering.path is not None:
                continue
            path = self.work / f"rendering-{rendering.key.digest[:24]}.pdf"
            if rendering.data is None:
                raw = documents_pdf([rendering.laid_out], identifier=rendering.key.digest)
                rendering.data = _finished(raw, self.layout)
                _pages, rendering.images_downsampled, rendering.bytes_saved = _facts(rendering.data)
                self.cache.put(rendering.key, rendering.data)
            path.write_bytes(rendering.data)
            rendering.path = path
            rendering.laid_out = None


_FACTS = "/CfResampled"  # in a rendering's document catalog (never copied into a packet): [images, bytes saved]


def _facts(data: bytes) -> tuple[int, int, int]:
    """A rendering's page count, and the images resampled (and bytes saved) when it was written."""
    import pikepdf

    with pikepdf.open(io.BytesIO(data)) as pdf:
        facts = pdf.Root.get(_FACTS)
        if isinstance(facts, pikepdf.Array) and len(facts) == 2:
            return len(pdf.pages), int(facts[0]), int(facts[1])
        return len(pdf.pages), 0, 0


def _finished(raw: bytes, layout: PageLayout) -> bytes:
    """WeasyPrint's PDF of one rendering as the packet takes it: its pages only (no named destinations), hidden
    content stripped (a link in a practice's template), large images resampled; saved deterministically."""
    import pikepdf

    from .layout import downsample_images, strip_hidden

    with pikepdf.open(io.BytesIO(raw)) as written, pikepdf.new() as pdf:
        pdf.pages.extend(written.pages)
        strip_hidden(pdf)
        report = downsample_images(pdf, layout, workers=1)
        pdf.Root[_FACTS] = pikepdf.Array([report.images_downsampled, report.bytes_saved])
        out = io.BytesIO()
        pdf.save(
            out,
            deterministic_id=True,
            compress_streams=True,
            object_stream_mode=pikepdf.ObjectStreamMode.disable,
            fix_metadata_version=False,
        )
    return out.getvalue()


def lay_out_only(renderings: Sequence[Rendering]) -> Mapping[str, int]:
    """Counts for logs: renderings found in the cache and laid out now."""
    cached = sum(1 for r in dict.fromkeys(renderings) if r.cached)
    return {"cached": cached, "laid_out": len(dict.fromkeys(renderings)) - cached}
