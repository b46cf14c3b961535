"""Per-page language identification with Lingua (the ``lingua-language-detector`` package), and language names.

Lingua is restricted to the languages of the practice's clients (practice.toml ``client_languages``; by default
English, Spanish, Portuguese, French, Haitian Creole and K'iche'). Lingua knows the first four; Haitian Creole and
K'iche' are not among its languages (``supported`` leaves them out), so a page in them reads as a neighbouring
language or as none, and a person sets the document's language in the exhibit plan. Fewer candidates make short
texts more reliable ("certificado médico" reads as Portuguese once Portuguese is a candidate): a page's language is
a proposal, never what a certificate says.

A page without text (a scan not OCR'd, a blank page) has no language: it is ``UNKNOWN``, never English, and a
document whose pages are mostly unknown is unknown (``document_language``).
High-accuracy mode is used: it loads its models once per process (the cost is in benchmarks/README.md) and gets
short and name-heavy lines right where low-accuracy mode does not ("Patient: Maria Fernanda Quiroga Test" reads
as Spanish in low-accuracy mode).

A page is cut into chunks of whole lines holding about ``chunk_letters`` letters; each chunk gets one
language, weighted by its letters. The page's language is the one with the largest share, and the shares
themselves are returned, so a mixed English/Spanish page reports both. Nothing here logs text.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from lingua import IsoCode639_1, IsoCode639_3, Language, LanguageDetector, LanguageDetectorBuilder

# What identification chooses among when no list is given: the default client languages Lingua knows.
DEFAULT_LANGUAGES: tuple[str, ...] = ("en", "es", "pt", "fr")
UNKNOWN = "unknown"  # the language of a page or document nobody and nothing has identified
# Names as a translator's certificate prints them ("from Spanish into English"); ISO 639-1, or 639-3 where a
# language has no two-letter code (K'iche': quc, Mam: mam).
LANGUAGE_NAMES = {
    "en": "English",
    "es": "Spanish",
    "pt": "Portuguese",
    "fr": "French",
    "ht": "Haitian Creole",
    "quc": "K'iche'",
    "mam": "Mam",
    "qeq": "Q'eqchi'",
    "ar": "Arabic",
    "ru": "Russian",
    "uk": "Ukrainian",
    "zh": "Chinese",
    "hi": "Hindi",
    "pa": "Punjabi",
    "so": "Somali",
    "sw": "Swahili",
    "ti": "Tigrinya",
    "am": "Amharic",
    "ps": "Pashto",
    "fa": "Persian (Farsi/Dari)",
    "tr": "Turkish",
    "vi": "Vietnamese",
    "wo": "Wolof",
    "ff": "Fulani",
}
MIN_LETTERS = 10  # fewer letters than this ("p. 3", "12/03/2024") give no language
CHUNK_LETTERS = 200  # about three lines; 60-letter chunks cost 5x more time on full pages
MIN_CHUNK_LETTERS = 30  # short pages are cut finer (about six chunks), down to about one line each


@dataclass(frozen=True)
class LanguageGuess:
    """A page's language as an ISO 639-1 code ("en", "es"), or None when it has too little text.

    ``shares`` maps each detected language to its share of the page's letters (the shares sum to 1); it is
    empty when ``language`` is None.
    """

    language: str | None
    shares: dict[str, float] = field(default_factory=dict)


def _language(code: str) -> Language:
    try:
        return Language.from_iso_code_639_1(IsoCode639_1.from_str(code.lower()))
    except ValueError:
        raise ValueError(f"unknown ISO 639-1 language code {code!r}") from None


@functools.lru_cache(maxsize=8)
def detector(languages: tuple[str, ...] = DEFAULT_LANGUAGES) -> LanguageDetector:
    """A Lingua detector restricted to ``languages`` (ISO 639-1 codes), built once per process and set.

    Its language models load on first use.
    """
    chosen = sorted({_language(code) for code in languages}, key=lambda lang: lang.name)
    if len(chosen) < 2:
        raise ValueError("language identification needs at least two candidate languages")
    return LanguageDetectorBuilder.from_languages(*chosen).build()


def language_name(code: str) -> str | None:
    """The English name of a language code ("es" -> "Spanish"), from ``LANGUAGE_NAMES`` or Lingua; None when the code
    names no language either knows."""
    code = code.strip().lower()
    if code in LANGUAGE_NAMES:
        return LANGUAGE_NAMES[code]
    try:
        language = Language.from_iso_code_639_1(IsoCode639_1.from_str(code))
    except ValueError:
        try:
            language = Language.from_iso_code_639_3(IsoCode639_3.from_str(code))
        except ValueError:
            return None
    return language.name.capitalize()


def supported(codes: Sequence[str]) -> tuple[str, ...]:
    """The codes of ``codes`` that Lingua can identify, in order (Haitian Creole and K'iche' are not among them);
    ``DEFAULT_LANGUAGES`` when fewer than two remain."""
    known: list[str] = []
    for code in codes:
        try:
            _language(code)
        except ValueError:
            continue
        if code.lower() not in known:
            known.append(code.lower())
    return tuple(known) if len(known) >= 2 else DEFAULT_LANGUAGES


def document_language(page_languages: Sequence[str | None]) -> str:
    """A document's language from its pages' (None for a page without identified text): ``UNKNOWN`` when more than
    half of its pages have none, else the language most of the others are in."""
    if not page_languages:
        return UNKNOWN
    known = [code for code in page_languages if code and code != UNKNOWN]
    if len(page_languages) - len(known) > len(page_languages) / 2 or not known:
        return UNKNOWN
    counts: dict[str, int] = {}
    for code in known:
        counts[code] = counts.get(code, 0) + 1
    return max(sorted(counts), key=lambda code: counts[code])


def from_tesseract(spec: str) -> tuple[str, ...]:
    """The ISO 639-1 codes of a Tesseract language spec: "eng+spa" -> ("en", "es").

    Packs that are not natural languages or that Lingua does not know ("osd", "equ", "chi_sim") are left out.
    """
    codes: list[str] = []
    for pack in spec.split("+"):
        try:
            language = Language.from_iso_code_639_3(IsoCode639_3.from_str(pack.strip().lower()))
        except ValueError:
            continue
        code = language.iso_code_639_1.name.lower()
        if code not in codes:
            codes.append(code)
    return tuple(codes)


def _letters(text: str) -> int:
    return sum(1 for char in text if char.isalpha())


def _chunks(text: str, chunk_letters: int) -> Iterator[tuple[str, int]]:
    """Whole lines grouped until each group has at least ``chunk_letters`` letters, with its letter count."""
    lines: list[str] = []
    letters = 0
    for line in text.splitlines():
        count = _letters(line)
        if not count:
            continue
        lines.append(line)
        letters += count
        if letters >= chunk_letters:
            yield "\n".join(lines), letters
            lines, letters = [], 0
    if lines:
        yield "\n".join(lines), letters


def detect_language(
    text: str,
    *,
    languages: Sequence[str] = DEFAULT_LANGUAGES,
    min_letters: int = MIN_LETTERS,
    chunk_letters: int = CHUNK_LETTERS,
) -> LanguageGuess:
    """The majority language of a page of text among ``languages``, and each language's share of its letters.

    Returns ``LanguageGuess(None)`` for text with fewer than ``min_letters`` letters or that Lingua cannot
    place. Chunks hold about ``chunk_letters`` letters (a sixth of the page's letters on short pages, at least
    ``MIN_CHUNK_LETTERS``); a trailing short chunk still counts, weighted by its letters.
    """
    total_letters = _letters(text)
    if total_letters < min_letters:
        return LanguageGuess(None)
    model = detector(tuple(languages))
    weights: dict[str, int] = {}
    target = max(MIN_CHUNK_LETTERS, min(chunk_letters, total_letters // 6))
    for chunk, letters in _chunks(text, target):
        found = model.detect_language_of(chunk)
        if found is not None:
            code = found.iso_code_639_1.name.lower()
            weights[code] = weights.get(code, 0) + letters
    total = sum(weights.values())
    if not total:
        return LanguageGuess(None)
    shares = {code: weight / total for code, weight in sorted(weights.items(), key=lambda kv: (-kv[1], kv[0]))}
    return LanguageGuess(next(iter(shares)), shares)
