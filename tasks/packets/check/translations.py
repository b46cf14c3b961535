"""``translation-missing``: an exhibit whose document pages (from its "Document" bookmark, else the page after its
tab page, up to its "English translation" bookmark or the next exhibit) have a text layer that documents/language.py
finds non-English needs "English translation" and, when [translations] certificate, "Translator's certificate"
bookmarks under it. An error when translations are expected, else a warning. Only the first
``LANGUAGE_SAMPLE_PAGES`` pages are read, and only for exhibits that lack one of those; pages without text (scans
without OCR) cannot be told apart and give no finding.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Protocol

from .report import ERROR, WARNING, Findings, place
from .titles import CHILD_CERTIFICATE, CHILD_DOCUMENT, CHILD_TRANSLATION

if TYPE_CHECKING:
    from .config import CheckConfig
    from .outline import Exhibit
    from .pdffile import PdfFile
    from .text import PageText

LANGUAGE_SAMPLE_PAGES = 3  # document pages read per exhibit for language identification


def document_pages(exhibit: Exhibit, cfg: CheckConfig) -> range:
    children = exhibit.entry.children
    start = children.get(CHILD_DOCUMENT, exhibit.entry.g + (1 if cfg.tab_pages else 0))
    stop = children.get(CHILD_TRANSLATION, children.get(CHILD_CERTIFICATE, exhibit.end + 1))
    return range(start, max(start, min(stop, exhibit.end + 1)))


def missing_translation_parts(exhibit: Exhibit, cfg: CheckConfig) -> list[str]:
    """The children a non-English exhibit needs and does not have ("English translation", certificate)."""
    needed = [CHILD_TRANSLATION, *([CHILD_CERTIFICATE] if cfg.certificate else [])]
    return [c for c in needed if c not in exhibit.entry.children]


def language_samples(exhibits: Sequence[Exhibit], cfg: CheckConfig) -> dict[int, str]:
    """Global page -> exhibit label, for the first document pages of every exhibit that lacks a translation or its
    certificate (an exhibit with both passes whatever its language, so its text is not read)."""
    samples: dict[int, str] = {}
    for exhibit in exhibits:
        if not missing_translation_parts(exhibit, cfg):
            continue
        for g in document_pages(exhibit, cfg)[:LANGUAGE_SAMPLE_PAGES]:
            samples[g] = exhibit.label
    return samples


class LanguageMemo(Protocol):
    """Where the language read in a text is remembered between checks (the packet builder keeps it with the pieces
    of its builds: tasks/packets/cache.py), by ``memo_key``: identification is the check's slowest step when it
    has to load its language models, and an exhibit's text does not change between two builds."""

    def recall(self, keys: Sequence[str]) -> Mapping[str, str | None]: ...

    def keep(self, found: Mapping[str, str | None]) -> None: ...


def memo_key(text: str, languages: Sequence[str]) -> str:
    """The SHA-256 of a text and the candidate languages it is told among."""
    payload = "\n".join(languages) + "\n\n" + text
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def check_translations(
    where: Sequence[tuple[PdfFile, int]],
    texts: Sequence[PageText],
    exhibits: Sequence[Exhibit],
    samples: Mapping[int, str],
    cfg: CheckConfig,
    out: Findings,
    expect_translations: bool,
    memo: LanguageMemo | None = None,
) -> None:
    from ...documents.language import detect_language

    severity = ERROR if expect_translations and cfg.translations_required else WARNING
    read: list[tuple[Exhibit, list[str], str]] = []
    for exhibit in exhibits:
        missing = missing_translation_parts(exhibit, cfg)
        pages = [g for g in document_pages(exhibit, cfg)[:LANGUAGE_SAMPLE_PAGES] if g in samples]
        if not missing or not pages:
            continue
        read.append((exhibit, missing, "\n".join(seg.text for g in pages for seg in (texts[g].body or []))))
    keys = [memo_key(text, cfg.languages) for _exhibit, _missing, text in read]
    known = dict(memo.recall(keys)) if memo is not None and keys else {}
    found: dict[str, str | None] = {}
    for (exhibit, missing, text), key in zip(read, keys, strict=True):
        if key in known:
            language = known[key]
        else:
            language = found[key] = detect_language(text, languages=cfg.languages).language
        if language is None or language == "en":
            continue  # English, or no text layer to tell by
        name, page = place(where, exhibit.entry.g)
        out.add(
            "translation-missing",
            severity,
            name,
            page,
            f"{name}, page {page}: exhibit {exhibit.label} reads as language {language!r} but has no "
            f"{' and no '.join(m.lower() for m in missing)} (bookmarks {', '.join(repr(m) for m in missing)} under "
            "the exhibit). Add the translation (`casefile translation add`) and rebuild"
            f"{'' if severity == ERROR else '; the build was allowed without it'}.",
        )
    if memo is not None and found:
        memo.keep(found)
