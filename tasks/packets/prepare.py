"""A stored document's pages prepared for a packet: one document per job, in a worker process (packets/workers.py).

``prepare_source(job)`` writes ``job.out``: every page of the document placed on the packet's page size
(``layout.place_pages``), its layers carried (``carry_optional_content``), hidden content stripped
(``strip_hidden``) and its images drawn far above the printed resolution resampled (``downsample_images``). Nothing
here depends on page numbers or exhibit labels (the parts are stamped when they are put together), so a prepared
document serves whatever its place in the packet.

Memory stays bounded whatever the document's size: the document is read lazily (``open_lazily``: qpdf copies a
page's streams from the file when it writes them, not before), and each resampled image is written to a small file
of its own and used from there, so the job holds one picture at a time, not the document's bytes.

Resampled images are kept for the next build as one bundle per document and page layout (a small PDF whose
``/CfImages`` maps each image's ``layout.image_key`` to its resampled stream): ``job.cached`` is the bundle of an
earlier build, and ``PrepareResult.bundle`` a new one when this job resampled anything.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pikepdf
from pikepdf import Dictionary, Name

from ..core.errors import PacketInputError
from .layout import (
    DOWNSAMPLE_TOLERANCE,
    PageLayout,
    Resampled,
    carry_optional_content,
    downsample_images,
    place_pages,
    strip_hidden,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

log = logging.getLogger(__name__)

BUNDLE_KEY = "/CfImages"
_IMAGE_KEY = "/CfImage"
_REPLACED = frozenset({"/Filter", "/DecodeParms", "/Decode", "/Length", "/Width", "/Height", "/BitsPerComponent"})
_OBJECT_BYTES = 40  # what an object other than a stream adds to a saved file, about (for splitting estimates)


def open_lazily(path: Path | str) -> pikepdf.Pdf:
    """The PDF at ``path``, opened so that copying its objects into another PDF does not copy their stream data into
    memory: qpdf reads it from this file when the other PDF is written. (``pikepdf.open`` asks qpdf to copy stream
    data at once, so that a copy outlives its source; a PDF made by qpdf's job interface does not.) The file must stay
    where it is until every PDF that copied from it is written."""
    return pikepdf.Job(["qpdf", str(path), "--", "/dev/null"]).create_pdf()


@dataclass(frozen=True)
class PrepareJob:
    source: str  # the stored PDF (a copy in the build's work folder)
    name: str  # "document D-..." for messages (an id, never a title)
    pages: int  # its page count as the catalog records it
    layout: PageLayout
    out: str  # where the prepared PDF goes
    work: str  # a folder of this job's own for its resampled images
    cached: str | None = None  # the bundle of resampled images an earlier build kept for this document and layout
    bundle_out: str | None = None  # where a new bundle goes, when this job resamples anything
    tolerance: float = DOWNSAMPLE_TOLERANCE


@dataclass(frozen=True)
class PrepareResult:
    out: str
    pages: int
    page_bytes: tuple[int, ...]  # per page: the bytes of what it reaches first (splitting estimates)
    images_seen: int
    images_downsampled: int
    bytes_before: int
    bytes_after: int
    images_cached: int  # resampled images taken from the cached bundle
    images_resampled: int  # resampled by this job
    bundle: str | None  # a new bundle of this document's resampled images, to keep
    hidden_removed: int


class _FileResults(Resampled):
    """Resampled images as small files, used from there (lazily); earlier ones from the cached bundle."""

    def __init__(self, work: Path, cached: pikepdf.Pdf | None) -> None:
        self.work = work
        self.cached = cached
        self.found: dict[str, pikepdf.Pdf] = {}  # image key -> the lazily opened file holding it
        self.taken = 0
        self.made = 0

    def get(self, key: str) -> bytes | None:
        if self.cached is None:
            return None
        images = self.cached.Root.get(BUNDLE_KEY)
        stream = images.get("/k" + key) if isinstance(images, Dictionary) else None
        if not isinstance(stream, pikepdf.Stream):
            return None
        self.taken += 1
        return stream.read_raw_bytes()

    def put(self, key: str, data: bytes) -> None:
        self.made += 1
        self._hold(key, data)  # kept in the bundle even when not used (not smaller): not resampled again

    def _hold(self, key: str, data: bytes) -> pikepdf.Pdf:
        held = self.found.get(key)
        if held is None:
            path = self.work / f"{key}.pdf"
            with pikepdf.new() as holder:
                holder.Root[_IMAGE_KEY] = holder.make_stream(data, Filter=Name.DCTDecode)
                holder.save(path, deterministic_id=True)
            held = self.found[key] = open_lazily(path)
        return held

    def install(
        self,
        pdf: pikepdf.Pdf,
        image: pikepdf.Object,
        uses: Sequence[tuple[Dictionary, Name]],
        key: str,
        data: bytes,
        width: int,
        height: int,
    ) -> None:
        replacement = pdf.copy_foreign(self._hold(key, data).Root[_IMAGE_KEY])
        for entry in image.keys():  # noqa: SIM118 (pikepdf keys): its colour space, its intent...
            if entry not in _REPLACED:
                replacement[entry] = image[entry]
        replacement.Width = width
        replacement.Height = height
        replacement.BitsPerComponent = 8
        for xobjects, name in uses:
            xobjects[name] = replacement

    def bundle(self, out: Path) -> None:
        """Every resampled image of this job, in one file (lazily copied), by key."""
        with pikepdf.new() as bundle:
            images = Dictionary()
            for key in sorted(self.found):
                images["/k" + key] = bundle.copy_foreign(self.found[key].Root[_IMAGE_KEY])
            bundle.Root[BUNDLE_KEY] = bundle.make_indirect(images)
            bundle.save(out, deterministic_id=True)


def _page_bytes(path: Path) -> tuple[int, ...]:
    """Per page of the PDF at ``path``: the bytes of the objects it reaches that no page before it reached (a
    stream's encoded length, about ``_OBJECT_BYTES`` for any other object). No stream data is read."""
    sizes: list[int] = []
    seen: set[tuple[int, int]] = set()
    with pikepdf.open(path) as pdf:
        for page in pdf.pages:
            total = 0
            stack: list[Any] = [page.obj]
            while stack:
                obj = stack.pop()
                if obj.is_indirect:
                    if obj.objgen in seen:
                        continue
                    seen.add(obj.objgen)
                    total += _OBJECT_BYTES
                if isinstance(obj, pikepdf.Stream):
                    length = obj.stream_dict.get("/Length")
                    total += int(length) if isinstance(length, int) else 0
                    container: Any = obj.stream_dict
                else:
                    container = obj
                if isinstance(container, Dictionary):
                    values: Any = (v for k, v in container.items() if k != "/Parent")
                elif isinstance(container, pikepdf.Array):
                    values = iter(container)
                else:
                    continue
                stack.extend(v for v in values if isinstance(v, Dictionary | pikepdf.Array | pikepdf.Stream))
            sizes.append(total)
    return tuple(sizes)


def prepare_source(job: PrepareJob) -> PrepareResult:
    """Prepare one stored document's pages (see the module doc)."""
    work = Path(job.work)
    work.mkdir(parents=True, exist_ok=True)
    try:
        source = open_lazily(job.source)
    except pikepdf.PdfError as exc:
        raise PacketInputError(job.name, 1, "its data is damaged") from exc
    cached = None
    if job.cached is not None:
        try:
            cached = open_lazily(job.cached)
        except pikepdf.PdfError:
            log.warning("a cached bundle of resampled images could not be read; resampling again")
    if len(source.pages) != job.pages:
        from ..core.errors import IntegrityError

        raise IntegrityError(
            f"Document {job.name.removeprefix('document ')} has {len(source.pages)} pages in its PDF but {job.pages} "
            "in the catalog; run `casefile reindex` or re-add the document."
        )
    results = _FileResults(work, cached)
    with pikepdf.new() as dest:
        place_pages(dest, source, job.layout, None, fit=True, source=job.name)
        carry_optional_content(dest, source)
        removed = strip_hidden(dest)
        report = downsample_images(dest, job.layout, tolerance=job.tolerance, workers=1, results=results)
        out = Path(job.out)
        dest.save(
            out,
            deterministic_id=True,
            compress_streams=True,
            object_stream_mode=pikepdf.ObjectStreamMode.disable,
            fix_metadata_version=False,
        )
    bundle = None
    if results.made and job.bundle_out is not None:
        results.bundle(Path(job.bundle_out))
        bundle = job.bundle_out
    return PrepareResult(
        out=str(out),
        pages=job.pages,
        page_bytes=_page_bytes(out),
        images_seen=report.images_seen,
        images_downsampled=report.images_downsampled,
        bytes_before=report.bytes_before,
        bytes_after=report.bytes_after,
        images_cached=results.taken,
        images_resampled=results.made,
        bundle=bundle,
        hidden_removed=removed,
    )
