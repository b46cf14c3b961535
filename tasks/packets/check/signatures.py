"""``unsigned-certificate``: the certificate of service and each translator's certificate must be signed before
filing (ICPM 3.2(e) and 3.3(a); 8 CFR 1003.33): an error, unless the profile allows signing by hand after printing
([signatures] wet_after_printing: a paper filing), then a warning that names the page to sign.

The builder's conventions (tasks/packets/build.py ``outline_for``): the certificate of service is the back matter
bookmarked "Certificate of service", up to the next top-level bookmark or the packet's end; a translator's
certificate is an exhibit's child bookmark "Translator's certificate", up to the exhibit's end. A certificate counts
as signed when one of its pages has an electronic signature ("/s/" followed by a name) in its text, or draws an image
(a signature image, or the scan of a certificate signed by hand).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .report import ERROR, WARNING, Findings, place
from .titles import CHILD_CERTIFICATE, FRONT_TITLES

if TYPE_CHECKING:
    from .config import CheckConfig
    from .outline import Exhibit
    from .pdffile import Entry, PdfFile
    from .text import PageText

SERVICE_TITLE = FRONT_TITLES["packet/certificate_of_service.html.j2"]
_E_SIGNATURE = re.compile(r"/s/\s*\w")
_FORM_DEPTH = 4  # nested form XObjects followed when looking for an image


def certificate_pages(
    entries: Sequence[Entry], exhibits: Sequence[Exhibit], cfg: CheckConfig, total: int
) -> dict[str, list[int]]:
    """What must be signed -> its global pages: "the certificate of service", "the translator's certificate of
    exhibit B"."""
    found: dict[str, list[int]] = {}
    if cfg.service_certificate:
        for k, entry in enumerate(entries):
            if entry.title == SERVICE_TITLE:
                end = entries[k + 1].g if k + 1 < len(entries) else total
                found["the certificate of service"] = list(range(entry.g, max(entry.g + 1, end)))
    if cfg.certificate:
        for exhibit in exhibits:
            first = exhibit.entry.children.get(CHILD_CERTIFICATE)
            if first is not None:
                pages = list(range(first, max(first, exhibit.end) + 1))
                found[f"the translator's certificate of exhibit {exhibit.label}"] = pages
    return found


def _draws_image(resources: Any, depth: int = 0) -> bool:
    import pikepdf

    xobjects = resources.get("/XObject") if resources is not None else None
    if xobjects is None:
        return False
    for _name, xobject in xobjects.items():
        subtype = xobject.get("/Subtype")
        if subtype == pikepdf.Name.Image:
            return True
        if subtype == pikepdf.Name.Form and depth < _FORM_DEPTH and _draws_image(xobject.get("/Resources"), depth + 1):
            return True
    return False


def _pages_with_images(where: Sequence[tuple[PdfFile, int]], pages: set[int]) -> set[int]:
    """The global pages among ``pages`` that draw an image (pikepdf, one open per file)."""
    import pikepdf

    by_file: dict[int, tuple[PdfFile, list[tuple[int, int]]]] = {}
    for g in sorted(pages):
        info, index = where[g]
        by_file.setdefault(id(info), (info, []))[1].append((g, index))
    found: set[int] = set()
    for info, wanted in by_file.values():
        if not info.readable:
            continue
        try:
            with pikepdf.open(info.path) as pdf:
                for g, index in wanted:
                    if _draws_image(pdf.pages[index].obj.get("/Resources")):
                        found.add(g)
        except (pikepdf.PdfError, OSError):
            continue  # an unreadable file is reported by the structure and qpdf checks
    return found


def check_signatures(
    where: Sequence[tuple[PdfFile, int]],
    texts: Sequence[PageText],
    certificates: Mapping[str, list[int]],
    cfg: CheckConfig,
    out: Findings,
) -> None:
    if not certificates:
        return
    images = _pages_with_images(where, {g for pages in certificates.values() for g in pages})
    for what, pages in certificates.items():
        signed = any(
            g in images or _E_SIGNATURE.search(" ".join(seg.text for seg in texts[g].body or [])) for g in pages
        )
        if signed:
            continue
        name, page = place(where, pages[-1])
        if cfg.wet_signatures:
            message = (
                f"{name}, page {page}: {what} is not signed; sign it by hand after printing, before filing "
                "(the profile allows signatures after printing)."
            )
        else:
            message = (
                f'{name}, page {page}: {what} is not signed (no "/s/ Name" and no signature image). Sign it '
                "electronically and rebuild the packet, or file on paper with a profile that allows signing by "
                "hand after printing."
            )
        out.add("unsigned-certificate", WARNING if cfg.wet_signatures else ERROR, name, page, message)
