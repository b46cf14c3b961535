"""The per-page search index, whatever the backend: what callers hand it, what they get back, the rules backends keep.

The index is derived data. The catalog keeps each page's text and the index can always be rebuilt from it
(``SearchIndex.rebuild``), so it never lives inside the catalog. Callers depend on ``SearchIndex`` only and get
it from ``search_index(rt)``; ``open_index`` chooses the backend (``sqlite_fts.SqliteFtsIndex``, the embedded
default, or ``postgres_fts.PostgresFtsIndex`` for a practice's shared deployment). Queries are written in the
language of ``query``.

Every backend gives the same answers to the same calls: it indexes page text through ``clean_page_text``,
checks paging with ``check_paging`` and filters with ``search_filters``, and makes ``Hit`` fragments with
``snippet_fragments``. Backends never log query text or page text: only counts and timings.
"""

from __future__ import annotations

import re
import unicodedata
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from html import escape
from typing import TYPE_CHECKING, NamedTuple, Self

from ..core.errors import ValidationError
from .query import QueryNode, normalize_text

if TYPE_CHECKING:
    from ..core.runtime import Runtime
    from ..core.settings import Settings

MAX_LIMIT = 500
MAX_OFFSET = 10_000
MAX_SNIPPET_WORDS = 64  # FTS5's own limit for snippet(); the same for every backend
# A real page holds a few thousand characters; a hostile text layer can hold megabytes. Beyond this, cut.
MAX_PAGE_CHARS = 100_000

DEFAULT_START_MARK = "[["
DEFAULT_END_MARK = "]]"
ELLIPSIS = "…"  # where a snippet cuts page text


# Documents and pages handed to the index --------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class IndexedDocument:
    """What the index needs to know about a document (ids as the catalog spells them)."""

    document_id: str
    case_id: str
    doc_type: str = "unclassified"


@dataclass(frozen=True, slots=True)
class IndexedPage:
    """One page's text. Pages without text (blank, failed OCR) are accepted and skipped.

    ``language`` is an ISO 639-1 code ("es"); ISO 639-2/3 codes ("spa") are converted; anything else is
    stored as unknown.
    """

    number: int  # 1-based
    text: str | None
    language: str | None = None


# Results ----------------------------------------------------------------------------------------------------
class SnippetFragment(NamedTuple):
    text: str
    match: bool  # True for text that matched the query


@dataclass(frozen=True, slots=True)
class Hit:
    """One matching page.

    ``score`` is the backend's relevance, higher is better; hits come best first. Scores compare hits of the
    same query on the same backend only (``SqliteFtsIndex`` says how it scores).
    """

    case_id: str
    document_id: str
    page: int
    language: str | None
    doc_type: str
    score: float
    fragments: tuple[SnippetFragment, ...] = ()

    def snippet(self, start: str = DEFAULT_START_MARK, end: str = DEFAULT_END_MARK) -> str:
        """The snippet with each match between ``start`` and ``end`` ("…" where page text was cut).

        Fragment text is already safe for a terminal: control and bidi-format characters are removed and
        whitespace (including line breaks) is collapsed to single spaces.
        """
        return "".join(f"{start}{f.text}{end}" if f.match else f.text for f in self.fragments)

    @property
    def plain_snippet(self) -> str:
        """The snippet without any markers."""
        return "".join(f.text for f in self.fragments)

    def snippet_html(self, tag: str = "mark") -> str:
        """The snippet as HTML: text escaped, each match inside ``<mark>`` (or ``tag``)."""
        return "".join(f"<{tag}>{escape(f.text)}</{tag}>" if f.match else escape(f.text) for f in self.fragments)


@dataclass(frozen=True, slots=True)
class IndexStats:
    pages: int
    documents: int
    cases: int
    languages: dict[str, int]  # "und" for pages of unknown language
    doc_types: dict[str, int]
    size_bytes: int  # storage the index takes (SQLite: its file plus the write-ahead log)


# Languages --------------------------------------------------------------------------------------------------
# ISO 639-2/3 -> 639-1 for the languages an immigration practice meets most (Tesseract uses 639-2 names).
_LANGUAGE_CODES = {
    "eng": "en",
    "spa": "es",
    "por": "pt",
    "fra": "fr",
    "fre": "fr",
    "hat": "ht",
    "ara": "ar",
    "zho": "zh",
    "chi": "zh",
    "rus": "ru",
    "ukr": "uk",
    "vie": "vi",
    "kor": "ko",
    "hin": "hi",
    "urd": "ur",
    "ben": "bn",
    "pus": "ps",
    "fas": "fa",
    "per": "fa",
    "tur": "tr",
    "ron": "ro",
    "rum": "ro",
    "deu": "de",
    "ger": "de",
    "ita": "it",
    "pol": "pl",
    "tgl": "tl",
    "amh": "am",
    "tir": "ti",
    "som": "so",
    "swa": "sw",
    "nep": "ne",
    "pan": "pa",
    "guj": "gu",
    "tam": "ta",
    "mya": "my",
    "bur": "my",
}
UNKNOWN_LANGUAGE = "und"  # ISO 639-2 "undetermined"


def normalize_language(code: str | None) -> str | None:
    """ISO 639-1 code for ``code`` ("spa" -> "es", "ES" -> "es"); None when it is not a language code."""
    if code is None:
        return None
    value = code.strip().lower()
    if not (2 <= len(value) <= 3 and value.isascii() and value.isalpha()) or value == UNKNOWN_LANGUAGE:
        return None
    return _LANGUAGE_CODES.get(value, value)


# Page text and snippets -------------------------------------------------------------------------------------
# Backends mark matches in snippet text with these two control characters, which ``clean_page_text`` keeps out of
# page text, so that no page can fake a match or a fragment boundary.
MATCH_START, MATCH_END = "\x02", "\x03"
_MARKED = re.compile("(\x02[^\x03]*\x03)")
_SPACES = re.compile(" {2,}")


def clean_page_text(text: str) -> str:
    """The text as indexed: NFKC (ligatures and full-width forms folded), control characters as spaces."""
    return normalize_text(text[:MAX_PAGE_CHARS])


def snippet_fragments(marked: str) -> tuple[SnippetFragment, ...]:
    """Split snippet text (matches between ``MATCH_START`` and ``MATCH_END``) into fragments safe for a terminal:
    no control or format characters (bidi overrides), whitespace and line breaks collapsed to single spaces."""
    chars: list[str] = []
    for ch in marked:
        if ch in (MATCH_START, MATCH_END):
            chars.append(ch)
        elif ch.isspace() or unicodedata.category(ch) == "Cc":
            chars.append(" ")
        elif unicodedata.category(ch) != "Cf":
            chars.append(ch)
    text = _SPACES.sub(" ", "".join(chars)).strip()
    return tuple(
        SnippetFragment(part[1:-1], True) if part[0] == MATCH_START else SnippetFragment(part, False)
        for part in _MARKED.split(text)
        if part and part != MATCH_START + MATCH_END
    )


# The interface ----------------------------------------------------------------------------------------------
class SearchIndex(ABC):
    """A per-page full-text index. Callers depend on this, never on a backend.

    Write methods replace whole documents (or cases) atomically, so re-running never duplicates rows. Filters
    (``case_id``, ``doc_type``, ``language``) compare exactly, except that doc types and languages are
    lower-cased and languages normalised (``search_filters``).
    """

    @abstractmethod
    def replace_document(self, doc: IndexedDocument, pages: Iterable[IndexedPage]) -> int:
        """Make ``pages`` the document's only pages in the index; returns the number of pages indexed."""

    @abstractmethod
    def replace_case(self, case_id: str, documents: Iterable[tuple[IndexedDocument, Iterable[IndexedPage]]]) -> int:
        """Make ``documents`` the case's only documents (one transaction); returns pages indexed."""

    @abstractmethod
    def delete_document(self, document_id: str) -> int:
        """Remove the document's pages; returns how many were removed (0 if it was not indexed)."""

    @abstractmethod
    def delete_case(self, case_id: str) -> int:
        """Remove every page of the case; returns how many were removed."""

    @abstractmethod
    def rebuild(self, documents: Iterable[tuple[IndexedDocument, Iterable[IndexedPage]]]) -> int:
        """Replace the whole index with ``documents``. Atomic: if anything fails (including the caller's
        iterator), the previous index stays as it was and searchable. Returns the number of pages indexed."""

    @abstractmethod
    def search(
        self,
        query: str | QueryNode,
        *,
        case_id: str | None = None,
        language: str | None = None,
        doc_type: str | None = None,
        limit: int = 20,
        offset: int = 0,
        snippet_words: int = 24,
    ) -> list[Hit]:
        """Pages matching ``query``, best first. Raises ``QuerySyntaxError`` for a query that cannot be
        understood and ``QueryTooBroad`` when it runs past the time limit."""

    @abstractmethod
    def count(
        self,
        query: str | QueryNode,
        *,
        case_id: str | None = None,
        language: str | None = None,
        doc_type: str | None = None,
    ) -> int:
        """How many pages match (for "20 of 1,234")."""

    @abstractmethod
    def count_pages(self, *, case_id: str | None = None, document_id: str | None = None) -> int:
        """Pages in the index, optionally of one case or document."""

    @abstractmethod
    def stats(self) -> IndexStats: ...

    def describe(self) -> str:
        """Where the index is, for people (a file, or a database and table; never a password)."""
        return type(self).__name__

    def close(self) -> None:  # noqa: B027 - a backend without resources has nothing to close
        """Release connections. The object may be used again afterwards (it reconnects)."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def check_paging(limit: int, offset: int, snippet_words: int) -> None:
    """``ValidationError`` unless ``search``'s paging and snippet length are within the limits every backend keeps."""
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationError(f"The number of results must be between 1 and {MAX_LIMIT}.")
    if not 0 <= offset <= MAX_OFFSET:
        raise ValidationError(f"The result offset must be between 0 and {MAX_OFFSET}; narrow the search instead.")
    if not 1 <= snippet_words <= MAX_SNIPPET_WORDS:
        raise ValidationError(f"The snippet length must be between 1 and {MAX_SNIPPET_WORDS} words.")


class SearchFilters(NamedTuple):
    """Filter values as every backend compares them: exactly, doc type lower-cased, language as ISO 639-1."""

    case_id: str | None
    language: str | None
    doc_type: str | None


def search_filters(case_id: str | None, language: str | None, doc_type: str | None) -> SearchFilters:
    """The filters of a search or count, checked and normalised; ``ValidationError`` for an empty or unknown one."""
    doc_type = _filter_value(doc_type, "document type")
    case_id = _filter_value(case_id, "case")
    language = _language_filter(language)
    return SearchFilters(case_id, language, doc_type.lower() if doc_type is not None else None)


def _filter_value(value: str | None, what: str) -> str | None:
    if value is None:
        return None
    if not value.strip():
        raise ValidationError(f"The {what} filter is empty; leave it out to search everything.")
    return value


def _language_filter(language: str | None) -> str | None:
    if language is None:
        return None
    code = normalize_language(language)
    if code is None:
        raise ValidationError("The language filter must be a language code such as es, spa, en or eng.")
    return code


def open_index(settings: Settings, table: str = "pages") -> SearchIndex:
    """The index backend the settings name: SQLite FTS5 at ``search_index_path`` (the embedded default), or
    PostgreSQL full-text search in the ``search_url`` database (by default the catalog's, when it is PostgreSQL).
    ``table``: which index of that database (the country-conditions library keeps its own)."""
    # Imported here, not at the top: the backends import this module.
    if settings.search_on_postgres:
        from .postgres_fts import PostgresFtsIndex

        return PostgresFtsIndex(settings.search_database_url, table=table)
    from .sqlite_fts import SqliteFtsIndex

    return SqliteFtsIndex(settings.search_index_path)


def search_index(rt: Runtime) -> SearchIndex:
    """The runtime's search index, opened on first use (commands that don't search never open it)."""
    return rt.config(open_index)
