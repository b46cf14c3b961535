"""A file given to the check as its structure was read (``PdfFile``): its pages' boxes (``Geometry``) and its
top-level bookmarks (``Entry``). At the bottom of the check's modules, with ``report``, ``config`` and ``titles``:
every check reads these and none of them is imported here.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .config import Band


@dataclass(frozen=True)
class Geometry:
    """A page's CropBox and /Rotate: maps PDF user space to the viewed page (origin bottom-left, upright)."""

    x0: float
    y0: float
    w: float
    h: float
    rotate: int

    @property
    def size(self) -> tuple[float, float]:
        return (self.h, self.w) if self.rotate in (90, 270) else (self.w, self.h)

    def point(self, x: float, y: float) -> tuple[float, float]:
        u, v = x - self.x0, y - self.y0
        if self.rotate == 90:
            return v, self.w - u
        if self.rotate == 180:
            return self.w - u, self.h - v
        if self.rotate == 270:
            return self.h - v, u
        return u, v

    def rect(self, left: float, bottom: float, right: float, top: float) -> tuple[float, float, float, float]:
        ax, ay = self.point(left, bottom)
        bx, by = self.point(right, top)
        return min(ax, bx), min(ay, by), max(ax, bx), max(ay, by)

    def in_band(self, band: Band, y0: float, y1: float) -> bool:
        middle = (y0 + y1) / 2
        height = self.size[1]
        return middle >= height - band.depth if band.top else middle <= band.depth


@dataclass
class Entry:
    """A top-level bookmark, with the titles and pages of its children."""

    title: str
    file: int
    page: int  # 0-based page in its file
    g: int  # 0-based page in the whole packet (all parts)
    children: dict[str, int] = field(default_factory=dict)  # child title -> global page


@dataclass
class PdfFile:
    """One file given to the check, as its structure was read."""

    path: Path
    name: str
    bytes: int
    sha256: str
    pages: int = 0
    readable: bool = True  # False: encrypted with a password; not checked further
    geometry: list[Geometry] = field(default_factory=list)
    entries: list[Entry] = field(default_factory=list)
    labels: list[str | None] | None = None  # page labels as a viewer shows them; None: no /PageLabels
    offset: int = 0  # global index of its first page


def file_hash(path: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()
