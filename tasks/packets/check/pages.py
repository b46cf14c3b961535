"""Page by page: size and orientation, page numbers, exhibit labels and PDF page labels.

- ``page-size``: every page's viewed size (CropBox, else MediaBox; /Rotate 90/270 swaps width and height) is the
  profile's [page] size, within ``SIZE_TOLERANCE_PT``. A page of the right size printed sideways (landscape) is a
  ``page-orientation`` warning: courts accept it, but the stamp band is then on a long edge.
- ``page-number-missing`` / ``numbering-gap`` ([page_numbers] enabled): each page carries its number, formatted by
  [page_numbers] format ("{n}"), as one text run of its own inside the stamp band (``Placement.band_pt`` of the
  profile: at least 0.75 in from the viewed page's bottom edge, or top edge for position "top-right"). Numbers run
  consecutively across all pages of all parts given; the first may be anything (reported per file).
- ``stamp-missing`` / ``stamp-mismatch`` / ``stamp-unexpected`` ([stamp] enabled, USCIS): every exhibit page
  carries [stamp] format ("Exhibit {label}, page {i} of {n}") in its band, with the exhibit's label, i running
  1..n over the exhibit's pages (tab page, document, translation, certificate) and n their count; front matter
  carries none when stamp_front_matter is false (it is not checked when true).
- ``page-labels`` ([exhibits] page_labels): /PageLabels gives each page the number printed on it, in decimal
  style (/S /D, /St = the file's first number; no prefix).
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .fonts import MAX_NESTING
from .pdffile import Geometry
from .report import ERROR, WARNING, Findings, place

if TYPE_CHECKING:
    from .config import CheckConfig
    from .outline import Exhibit
    from .pdffile import PdfFile
    from .text import PageText

SIZE_TOLERANCE_PT = 1.0


def check_size(geometry: Geometry, cfg: CheckConfig, name: str, number: int, out: Findings) -> None:
    width, height = geometry.size
    want_w, want_h = cfg.size
    tolerance = SIZE_TOLERANCE_PT
    if abs(width - want_w) <= tolerance and abs(height - want_h) <= tolerance:
        return
    if abs(width - want_h) <= tolerance and abs(height - want_w) <= tolerance:
        out.add(
            "page-orientation",
            WARNING,
            name,
            number,
            f"{name}, page {number}: the page is {cfg.size_name} size but landscape ({width:.0f} x {height:.0f} pt). "
            "Check that it reads the right way up when printed.",
        )
        return
    out.add(
        "page-size",
        ERROR,
        name,
        number,
        f"{name}, page {number}: the page is {width:.1f} x {height:.1f} pt; the {cfg.name} profile needs "
        f"{cfg.size_name} ({want_w:g} x {want_h:g} pt). Rebuild the packet so every page is fitted to "
        f"{cfg.size_name}.",
    )


def _number_tree(node: Any, out: list[tuple[int, Any]], depth: int = 0) -> None:
    node = node.get_object()
    if depth > MAX_NESTING or not hasattr(node, "get"):
        return
    nums = node.get("/Nums")
    if nums is not None:
        items = list(nums.get_object())
        for i in range(0, len(items) - 1, 2):
            out.append((int(items[i]), items[i + 1].get_object()))
    for kid in node.get("/Kids", []) or []:
        _number_tree(kid, out, depth + 1)


def page_labels(root: Any, pages: int) -> list[str | None] | None:
    """Each page's label as a viewer shows it; None for a page in a non-decimal range ("i", "A-1")."""
    tree = root.get("/PageLabels")
    if tree is None:
        return None
    ranges: list[tuple[int, Any]] = []
    _number_tree(tree, ranges)
    ranges.sort(key=lambda item: item[0])
    starts = [start for start, _ in ranges]
    labels: list[str | None] = []
    for index in range(pages):
        at = bisect.bisect_right(starts, index) - 1
        if at < 0:
            labels.append(str(index + 1))  # pages before the first range: a viewer shows the physical number
            continue
        start, spec = ranges[at]
        style = spec.get("/S") if hasattr(spec, "get") else None
        prefix = str(spec.get("/P", "")) if hasattr(spec, "get") else ""
        first = int(spec.get("/St", 1)) if hasattr(spec, "get") else 1
        labels.append(f"{prefix}{first + index - start}" if style == "/D" else None)
    return labels


def check_numbers(
    files: Sequence[PdfFile],
    where: Sequence[tuple[PdfFile, int]],
    texts: Sequence[PageText],
    cfg: CheckConfig,
    out: Findings,
) -> list[int | None]:
    """The number printed on each page (None: none found); findings for missing and non-consecutive numbers.

    A page is out of sequence when it fits neither the numbered page before it nor the one after it (two swapped
    pages are both named); where two runs that are each in sequence meet with a jump (a gap, a lost page, a part
    missing between two parts), the first page after the jump is named. So one problem gives one finding, not one
    per page after it.
    """
    assert cfg.number_rx is not None
    found: list[list[int]] = [[int(m["n"]) for t in text.band if (m := cfg.number_rx.fullmatch(t))] for text in texts]
    numbers: list[int | None] = []
    previous: tuple[int, int] | None = None  # (page, number) of the last numbered page
    for g, candidates in enumerate(found):
        if not candidates:
            numbers.append(None)
            continue
        wanted = previous[1] + g - previous[0] if previous is not None else None
        number = wanted if wanted in candidates else candidates[0]
        numbers.append(number)
        previous = (g, number)
    numbered = [g for g, n in enumerate(numbers) if n is not None]

    def fits(a: int, b: int) -> bool:
        na, nb = numbers[a], numbers[b]
        return na is not None and nb is not None and nb - na == b - a

    wrong: set[int] = set()
    for k, g in enumerate(numbered):
        neighbours = [numbered[j] for j in (k - 1, k + 1) if 0 <= j < len(numbered)]
        if neighbours and not any(fits(min(g, h), max(g, h)) for h in neighbours):
            wrong.add(g)
    for k, g in enumerate(numbered):
        before = numbered[k - 1] if k > 0 else None
        jump = before is not None and before not in wrong and not fits(before, g)
        if g not in wrong and not jump:
            continue
        name, page = place(where, g)
        if before is not None and before not in wrong:
            expected = numbers[before]
            assert expected is not None
            expected += g - before
        elif k + 1 < len(numbered):
            after = numbered[k + 1]
            expected = numbers[after]
            assert expected is not None
            expected -= after - g
        else:
            expected = None
        out.add(
            "numbering-gap",
            ERROR,
            name,
            page,
            f"{name}, page {page}: the page is numbered {numbers[g]}"
            f"{f', expected {expected}' if expected is not None else ''}: the numbering must run on without gaps "
            "or repeats across the whole filing (and across its parts, given in order). Rebuild the packet, or "
            "check that no part is missing.",
        )
    for g, n in enumerate(numbers):
        if n is None:
            name, page = place(where, g)
            out.add(
                "page-number-missing",
                ERROR,
                name,
                page,
                f"{name}, page {page}: no page number in the {'top' if cfg.number_band.top else 'bottom'} margin. "
                "Every page of the filing must be numbered; rebuild the packet.",
            )
    return numbers


def check_start(
    files: Sequence[PdfFile], numbers: Sequence[int | None], first_number: int, cfg: CheckConfig, out: Findings
) -> None:
    """``numbering-start``: the packet's first printed page number is ``first_number`` (a supplemental filing
    continues the numbering of the filing before it)."""
    first = next(((g, n) for g, n in enumerate(numbers) if n is not None), None)
    if first is None or not files:
        return  # no number at all: page-number-missing says so
    g, number = first
    if number - g == first_number:
        return
    name = files[0].name
    out.add(
        "numbering-start",
        ERROR,
        name,
        1,
        f"{name}, page 1: the packet starts at page {number - g}, but it must start at page {first_number} (it "
        "continues the numbering of the filing before it). Rebuild the packet with --continue-from that filing's "
        "build, or check it without --first-page.",
    )


def printed_numbers(numbers: Sequence[int | None], cfg: CheckConfig, total: int) -> list[int]:
    """The number of each page as the exhibit list should print it: the printed number, inferred from the pages
    around it where it is missing; without page numbers, the position counted from [page_numbers] start."""
    if not cfg.numbers or not any(n is not None for n in numbers):
        return [cfg.number_start + g for g in range(total)]
    first = next(g for g, n in enumerate(numbers) if n is not None)
    base = numbers[first]
    assert base is not None
    printed: list[int] = []
    last_g, last_n = first, base
    for g, n in enumerate(numbers):
        if n is not None:
            last_g, last_n = g, n
        printed.append(n if n is not None else last_n + (g - last_g))
    return printed


def check_labels(
    files: Sequence[PdfFile],
    where: Sequence[tuple[PdfFile, int]],
    numbers: Sequence[int | None],
    printed: Sequence[int],
    cfg: CheckConfig,
    out: Findings,
) -> None:
    for info in files:
        if not info.readable or not info.pages:
            continue
        if info.labels is None:
            out.add(
                "page-labels",
                ERROR,
                info.name,
                None,
                f"{info.name} has no page labels; the {cfg.name} profile wants the viewer's page numbers to match "
                "the printed ones. Rebuild the packet.",
            )
            continue
        wrong = [
            i
            for i in range(info.pages)
            if info.labels[i] != str(numbers[info.offset + i] if cfg.numbers else printed[info.offset + i])
            and (numbers[info.offset + i] is not None or not cfg.numbers)
        ]
        if wrong:
            out.add(
                "page-labels",
                ERROR,
                info.name,
                wrong[0] + 1,
                f"{info.name}, page {wrong[0] + 1}: the PDF page label is not the number printed on the page "
                f"({len(wrong)} page(s) differ). Page labels must be decimal, starting at the file's first printed "
                "number. Rebuild the packet.",
            )


def check_stamps(
    where: Sequence[tuple[PdfFile, int]],
    texts: Sequence[PageText],
    exhibits: Sequence[Exhibit],
    cfg: CheckConfig,
    out: Findings,
) -> None:
    assert cfg.stamp_rx is not None
    owner: dict[int, Exhibit] = {}
    for exhibit in exhibits:
        for g in range(exhibit.entry.g, exhibit.end + 1):
            owner[g] = exhibit
    for g, text in enumerate(texts):
        found = [(m["label"], int(m["i"]), int(m["n"])) for t in text.band if (m := cfg.stamp_rx.fullmatch(t))]
        name, page = place(where, g)
        mine = owner.get(g)
        if mine is None:
            if found and not cfg.stamp_front_matter:
                out.add(
                    "stamp-unexpected",
                    ERROR,
                    name,
                    page,
                    f"{name}, page {page}: the page carries an exhibit label but belongs to no exhibit (front or back "
                    "matter is not labelled in this profile). Rebuild the packet.",
                )
            continue
        want = (mine.label, g - mine.entry.g + 1, mine.end - mine.entry.g + 1)
        if not found:
            out.add(
                "stamp-missing",
                ERROR,
                name,
                page,
                f"{name}, page {page}: no exhibit label in the {'top' if cfg.stamp_band.top else 'bottom'} margin "
                f"(expected exhibit {want[0]}, page {want[1]} of {want[2]}). Rebuild the packet.",
            )
        elif want not in found:
            label, i, n = found[0]
            out.add(
                "stamp-mismatch",
                ERROR,
                name,
                page,
                f"{name}, page {page}: the exhibit label reads exhibit {label}, page {i} of {n}; the bookmarks make it "
                f"exhibit {want[0]}, page {want[1]} of {want[2]}. Rebuild the packet.",
            )
