"""Bookmarks, and the exhibit list's printed page ranges against them.

The builder's conventions (tasks/packets/build.py ``outline_for`` writes them): top-level bookmarks in page order
are the front matter titles (``FRONT_TITLES``: "Cover page" or "Cover letter", then [exhibits] list_title), one per
exhibit titled "<tab_label> <label>: <title>" (e.g. "Exhibit A: Birth certificate", "Exhibit 1: ...") pointing at
the exhibit's first page (its tab page when there are tabs), then the back matter ("Certificate of service"). A
section page between exhibits (``SECTION_TITLES``: the country-conditions index) has a top-level bookmark too. An
exhibit's children may be "Document", "English translation", "Translator's certificate". In a split packet each
part has the bookmarks of its own pages; an exhibit cut by a split starts the next part with "<its title>
(continued)".

- ``no-outline`` / ``outline-mismatch`` / ``outline-order`` / ``outline-broken`` ([exhibits] bookmarks): the
  bookmarks follow those conventions.
- ``list-missing`` / ``list-unreadable`` / ``list-entry-missing`` / ``list-entry-extra`` / ``range-mismatch``: the
  exhibit list (the pages from the list bookmark up to the first exhibit; in part 1 of a split packet) is a table
  whose rows' first text line holds the tab label in the leftmost column and the pages in the rightmost column,
  printed "5-12", "5–12" (en dash) or "5". Each exhibit's printed range must be the printed numbers of its first
  page (where its bookmark points) and of the page before the next top-level bookmark (or the packet's end).
  Without page numbers (USCIS) no packet page number is printed anywhere, so the list gives what a reader can
  count instead: each exhibit's number of pages (the n of its "page i of n" labels).
"""

from __future__ import annotations

import itertools
import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .pdffile import Entry
from .report import ERROR, WARNING, Findings, place
from .titles import CONTINUED, SECTION_TITLES

if TYPE_CHECKING:
    from .config import CheckConfig
    from .pdffile import PdfFile
    from .text import PageText, Seg

_LABEL = re.compile(r"[A-Z]{1,3}|\d{1,4}")
_RANGE = re.compile(r"(\d{1,6})(?:\s*[-\u2013\u2014]\s*(\d{1,6}))?")


def read_outline(reader: Any, index: int, name: str, out: Findings) -> list[Entry]:
    """The top-level bookmarks of one file (a pypdf reader); ``outline-broken`` for one that points at no page."""
    entries: list[Entry] = []

    def page_of(item: Any) -> int | None:
        try:
            number = reader.get_destination_page_number(item)
        except (KeyError, ValueError, IndexError, AttributeError):
            number = None
        if number is None or number < 0:
            out.add(
                "outline-broken",
                ERROR,
                name,
                None,
                f"{name}: a bookmark points at no page. Rebuild the packet.",
            )
            return None
        return int(number)

    for item in reader.outline:
        if isinstance(item, list):
            if not entries:
                continue
            for child in item:
                if isinstance(child, list):
                    continue  # grandchildren: not part of the builder's conventions
                page = page_of(child)
                if page is not None:
                    entries[-1].children.setdefault(str(child.title), page)
            continue
        page = page_of(item)
        if page is not None:
            entries.append(Entry(str(item.title), index, page, page))
    return entries


@dataclass
class Exhibit:
    """An exhibit as the bookmarks give it: its label, its bookmark (its first page) and its last page."""

    label: str
    entry: Entry
    end: int  # global index of its last page


def structure(
    files: Sequence[PdfFile], cfg: CheckConfig, out: Findings, total: int
) -> tuple[list[Entry], list[Exhibit]]:
    """The packet's top-level bookmarks (continuations merged) and its exhibits with their page ranges."""
    exhibit_title = re.compile(rf"{re.escape(cfg.tab_label)}\s+(?P<label>[A-Za-z0-9]{{1,6}}):(?:\s.*)?", re.DOTALL)
    entries: list[Entry] = []
    for info in files:
        if not info.readable:
            continue
        if cfg.bookmarks and not info.entries and info.pages:
            out.add(
                "no-outline",
                ERROR,
                info.name,
                None,
                f"{info.name} has no bookmarks; the {cfg.name} profile needs one for the cover, the exhibit list and "
                "each exhibit. Rebuild the packet.",
            )
        for entry in info.entries:
            if entry.title.endswith(CONTINUED) and entries and entries[-1].title == entry.title[: -len(CONTINUED)]:
                for title, g in entry.children.items():
                    entries[-1].children.setdefault(title, g)
                continue
            entries.append(entry)
    for before, after in itertools.pairwise(entries):
        if after.g < before.g:
            name, page = files[after.file].name, after.page + 1
            out.add(
                "outline-order",
                ERROR,
                name,
                page,
                f"{name}: the bookmarks are not in page order (one points at page {page} after one that points "
                "further on). Rebuild the packet.",
            )
            break
    entries.sort(key=lambda e: e.g)
    exhibits: list[Exhibit] = []
    others: list[str] = []
    for k, entry in enumerate(entries):
        end = (entries[k + 1].g if k + 1 < len(entries) else total) - 1
        match = exhibit_title.fullmatch(entry.title)
        if match:
            exhibits.append(Exhibit(match["label"], entry, max(entry.g, end)))
        else:
            others.append(entry.title)
    if cfg.bookmarks and entries:
        expected = [*cfg.front_titles, *cfg.back_titles]
        missing = [t for t in expected if t not in others]
        if missing:
            info = files[0]
            out.add(
                "outline-mismatch",
                ERROR,
                info.name,
                None,
                f"{info.name}: no bookmark titled {', '.join(repr(t) for t in missing)}; the {cfg.name} profile's "
                f"packet has bookmarks {', '.join(repr(t) for t in expected)} and one per exhibit "
                f"('{cfg.tab_label} A: ...'). Rebuild the packet.",
            )
        first_exhibit = exhibits[0].entry.g if exhibits else None
        last_exhibit = exhibits[-1].entry.g if exhibits else None
        misplaced = [
            e.title
            for e in entries
            if first_exhibit is not None
            and last_exhibit is not None
            and (
                (e.title in cfg.front_titles and e.g > first_exhibit)
                or (e.title in cfg.back_titles and e.g < last_exhibit)
            )
        ]
        if misplaced:
            info = files[0]
            out.add(
                "outline-mismatch",
                ERROR,
                info.name,
                None,
                f"{info.name}: the bookmark(s) {', '.join(repr(t) for t in misplaced)} are on the wrong side of the "
                f"exhibits; the {cfg.name} profile's order is {', '.join(repr(t) for t in cfg.front_titles)}, the "
                f"exhibits, then {', '.join(repr(t) for t in cfg.back_titles) or 'nothing'}. Rebuild the packet.",
            )
        extra = len([t for t in others if t not in expected and t not in SECTION_TITLES.values()])
        if extra:
            info = files[0]
            out.add(
                "outline-mismatch",
                WARNING,
                info.name,
                None,
                f"{info.name}: {extra} top-level bookmark(s) are neither front or back matter nor an exhibit "
                f"('{cfg.tab_label} A: ...'); their pages are counted with the exhibit before them.",
            )
    return entries, exhibits


def list_pages(entries: Sequence[Entry], exhibits: Sequence[Exhibit], cfg: CheckConfig) -> list[int]:
    listing = next((e for e in entries if e.title == cfg.list_title), None)
    if listing is None:
        return []
    later = [e.g for e in entries if e.g > listing.g]
    end = min(later) if later else listing.g + 1
    return list(range(listing.g, end))


@dataclass(frozen=True)
class _Row:
    label: str
    first: int
    last: int
    g: int  # global page of the list page it is on


def _lines(segments: Sequence[Seg]) -> list[list[Seg]]:
    """Text runs grouped into lines (tops within 3 pt), top to bottom, each left to right."""
    lines: list[list[Seg]] = []
    for seg in sorted(segments, key=lambda s: -s.y1):
        if lines and abs(lines[-1][0].y1 - seg.y1) <= 3.0:
            lines[-1].append(seg)
        else:
            lines.append([seg])
    return [sorted(line, key=lambda s: s.x0) for line in lines]


def _parse_list(texts: Sequence[PageText], pages: Sequence[int]) -> list[_Row]:
    """Rows of the exhibit list: lines whose leftmost run is a tab label and rightmost run a page range, kept when
    both sit in the table's outer columns (centres within ``tolerance`` of the median; a title or date wrapping
    onto a line of its own starts further right)."""
    candidates: list[tuple[int, Seg, Seg, re.Match[str]]] = []
    for g in pages:
        body = texts[g].body or []
        for line in _lines(body):
            if len(line) < 2:
                continue
            first, last = line[0], line[-1]
            match = _RANGE.fullmatch(last.text)
            if _LABEL.fullmatch(first.text) and match:
                candidates.append((g, first, last, match))
    if not candidates:
        return []
    tab_x = statistics.median(c[1].center for c in candidates)
    pages_x = statistics.median(c[2].center for c in candidates)
    tolerance = 12.0
    rows = []
    for g, first, last, match in candidates:
        if abs(first.center - tab_x) <= tolerance and abs(last.center - pages_x) <= tolerance:
            lo = int(match[1])
            rows.append(_Row(first.text, lo, int(match[2]) if match[2] else lo, g))
    return rows


def check_list(
    where: Sequence[tuple[PdfFile, int]],
    texts: Sequence[PageText],
    list_pages: Sequence[int],
    exhibits: Sequence[Exhibit],
    printed: Sequence[int],
    cfg: CheckConfig,
    out: Findings,
) -> None:
    first_name, _ = place(where, exhibits[0].entry.g)
    if not list_pages:
        out.add(
            "list-missing",
            ERROR,
            first_name,
            None,
            f"{first_name}: no bookmark titled {cfg.list_title!r}, so the exhibit list cannot be checked against the "
            "exhibits. Rebuild the packet.",
        )
        return
    list_name, list_page = place(where, list_pages[0])
    rows = _parse_list(texts, list_pages)
    if not rows:
        out.add(
            "list-unreadable",
            ERROR,
            list_name,
            list_page,
            f"{list_name}, page {list_page}: no exhibit rows could be read on the exhibit list (tab label in the "
            "leftmost column, pages like 5-12 in the rightmost). Check the exhibit list template.",
        )
        return
    by_label: dict[str, _Row] = {}
    for row in rows:
        by_label.setdefault(row.label, row)
    labels = {e.label for e in exhibits}
    for exhibit in exhibits:
        name, page = place(where, exhibit.entry.g)
        listed = by_label.get(exhibit.label)
        if listed is None:
            out.add(
                "list-entry-missing",
                ERROR,
                list_name,
                list_page,
                f"{list_name}: exhibit {exhibit.label} (bookmark at {name}, page {page}) is not in the exhibit list. "
                "Rebuild the packet.",
            )
            continue
        if cfg.list_counts:
            count = exhibit.end - exhibit.entry.g + 1
            if (listed.first, listed.last) != (count, count):
                row_name, row_page = place(where, listed.g)
                out.add(
                    "range-mismatch",
                    ERROR,
                    row_name,
                    row_page,
                    f"{row_name}, page {row_page}: the exhibit list gives exhibit {exhibit.label} "
                    f"{_range_text(listed.first, listed.last)} page(s), but it has {count} (bookmark at {name}, page "
                    f"{page}). Rebuild the packet.",
                )
            continue
        want = (printed[exhibit.entry.g], printed[exhibit.end])
        if (listed.first, listed.last) != want:
            row_name, row_page = place(where, listed.g)
            out.add(
                "range-mismatch",
                ERROR,
                row_name,
                row_page,
                f"{row_name}, page {row_page}: the exhibit list gives exhibit {exhibit.label} pages "
                f"{_range_text(listed.first, listed.last)}, but it is on pages {_range_text(*want)} (bookmark at "
                f"{name}, page {page}). Rebuild the packet.",
            )
    for row in rows:
        if row.label not in labels:
            row_name, row_page = place(where, row.g)
            out.add(
                "list-entry-extra",
                ERROR,
                row_name,
                row_page,
                f"{row_name}, page {row_page}: the exhibit list has exhibit {row.label}, which has no bookmark in the "
                "packet. Rebuild the packet.",
            )


def _range_text(first: int, last: int) -> str:
    return str(first) if first == last else f"{first}-{last}"
