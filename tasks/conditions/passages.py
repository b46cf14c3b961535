"""Words, sentences and passages of a page: what a topic's terms match, where a quoted passage is, and its boxes.

Matching follows the search index (``search.query``): NFKC, case and accents folded (the tilde too: "nino" finds
"niño"), words split at anything that is not a letter or digit. A page is a list of words (OCR'd or text-layer
word boxes, ``documents.ocr.Word``), or of its text's words when it has no boxes; sentences are runs of words
ending in ".", "!" or "?" (or a line of their own: headings), cut at ``max_words``.

A passage is found again on its page by its quote: the quote's words, folded, in order, with "..." or "…" between
parts that may skip words. That is how an edited selection file points at its passages, and how the bundle finds
the boxes to mark.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

_TOKEN = re.compile(r"[^\W_]+")
_ELLIPSIS = re.compile(r"\s*(?:\.\.\.|…)\s*")
_SENTENCE_END = re.compile(r"[.!?][\"'”’)\]]*$")


@lru_cache(maxsize=65536)
def fold(text: str) -> str:
    """Text as compared: NFKC, case folded, accents and other combining marks removed."""
    decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", text).casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def tokens(text: str) -> list[str]:
    """The folded words of ``text`` (letters and digits; everything else separates)."""
    return _TOKEN.findall(fold(text))


# Terms ------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SearchTerm:
    """A word, a phrase, or a prefix (``extors*``), as a practice writes it in config/conditions/topics.toml."""

    text: str  # as written, without the final *
    words: tuple[str, ...]  # folded
    prefix: bool = False

    @classmethod
    def parse(cls, raw: str) -> SearchTerm:
        """``ValueError`` with what is wrong (the config loader names the file and key)."""
        text = raw.strip()
        prefix = text.endswith("*")
        text = text.rstrip("*").strip()
        words = tuple(tokens(text))
        if not words:
            raise ValueError(f"the term {raw!r} has no letters or digits")
        if prefix and len(words[-1]) < 3:
            raise ValueError(f"the prefix {raw!r} needs at least three letters before the *")
        if "*" in text:
            raise ValueError(f"the term {raw!r} may end in one * (a prefix), not hold one inside")
        return cls(text, words, prefix)

    def matches_at(self, words: Sequence[str], i: int) -> bool:
        """Whether the term matches the folded ``words`` starting at index ``i``."""
        n = len(self.words)
        if i + n > len(words):
            return False
        for k, want in enumerate(self.words):
            got = words[i + k]
            if k == n - 1 and self.prefix:
                if not got.startswith(want):
                    return False
            elif got != want:
                return False
        return True


class TermMatcher:
    """Counts where any of a set of terms matches in folded words (built once per set of terms)."""

    def __init__(self, terms: Iterable[SearchTerm]) -> None:
        self.by_first: dict[str, list[SearchTerm]] = {}
        prefixes: list[str] = []
        for term in terms:
            if len(term.words) == 1 and term.prefix:
                prefixes.append(term.words[0])
            else:
                self.by_first.setdefault(term.words[0], []).append(term)
        # A phrase whose first word is a prefix is looked up by its first word's prefixes too.
        self.prefix = re.compile("|".join(re.escape(p) for p in sorted(set(prefixes)))) if prefixes else None

    def count(self, words: Sequence[str]) -> int:
        hits = 0
        by_first, prefix = self.by_first, self.prefix
        for i, word in enumerate(words):
            starts = by_first.get(word)
            if (starts and any(t.matches_at(words, i) for t in starts)) or (prefix and prefix.match(word)):
                hits += 1
        return hits


@lru_cache(maxsize=256)
def matcher(terms: tuple[SearchTerm, ...]) -> TermMatcher:
    return TermMatcher(terms)


def count_hits(terms: Iterable[SearchTerm], words: Sequence[str]) -> int:
    """How many times any of ``terms`` matches in ``words`` (folded tokens)."""
    return matcher(tuple(terms)).count(words)


# Page words and sentences -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PageWord:
    text: str  # as printed
    box: tuple[float, float, float, float] | None  # x0, y0, x1, y1: points, top-left origin, y down
    line: int  # a running line number: words of one line share it


def page_words(words_json: Sequence[Sequence[object]] | None, text: str | None) -> list[PageWord]:
    """A page's words: from its word boxes when it has them (``[[text, conf, x0, y0, x1, y1], ...]``), else from its
    text (no boxes; lines as in the text)."""
    out: list[PageWord] = []
    if words_json:
        line, last = 0, None
        for item in words_json:
            word, _conf, x0, y0, x1, y1 = item
            box = (float(str(x0)), float(str(y0)), float(str(x1)), float(str(y1)))
            if last is not None:
                height = max(last[3] - last[1], box[3] - box[1], 1.0)
                if abs((box[1] + box[3]) / 2 - (last[1] + last[3]) / 2) > height * 0.5 or box[0] < last[0]:
                    line += 1
            out.append(PageWord(str(word), box, line))
            last = box
        return out
    for number, line_text in enumerate((text or "").splitlines()):
        out.extend(PageWord(word, None, number) for word in line_text.split())
    return out


@dataclass(frozen=True)
class Sentence:
    start: int  # index of its first word in the page's words
    end: int  # index after its last word
    text: str  # its words joined by single spaces
    tokens: tuple[str, ...]  # folded
    token_words: tuple[int, ...]  # for each token, the index of the page word it comes from


def _tokens_of(words: Sequence[PageWord], start: int, end: int) -> tuple[tuple[str, ...], tuple[int, ...]]:
    toks: list[str] = []
    owners: list[int] = []
    for i in range(start, end):
        for tok in tokens(words[i].text):
            toks.append(tok)
            owners.append(i)
    return tuple(toks), tuple(owners)


def sentences(words: Sequence[PageWord], max_words: int = 80) -> list[Sentence]:
    """The page's sentences in reading order. A sentence ends after a word ending in . ! or ? (before a word that
    does not start in lower case), at the end of a line that is a line of its own (a heading: the next line starts
    in upper case and this one has no final punctuation and fewer than 12 words), where the type size changes at a
    line break (a heading over two lines), or after ``max_words`` words."""
    out: list[Sentence] = []
    start = 0
    n = len(words)
    for i, word in enumerate(words):
        last = i == n - 1
        end_here = last or i + 1 - start >= max_words
        if not end_here and _SENTENCE_END.search(word.text):
            following = words[i + 1].text
            end_here = not following[:1].islower()
        if not end_here and words[i + 1].line != word.line and not word.text.endswith((",", ";", ":")):
            line_start = next((k for k in range(i, start - 1, -1) if words[k].line != word.line), start - 1) + 1
            short = i + 1 - line_start < 12 and line_start == start
            end_here = (short and words[i + 1].text[:1].isupper()) or _size_changes(word, words[i + 1])
        if end_here:
            toks, owners = _tokens_of(words, start, i + 1)
            if toks:
                text = " ".join(w.text for w in words[start : i + 1])
                out.append(Sentence(start, i + 1, text, toks, owners))
            start = i + 1
    return out


def _size_changes(word: PageWord, following: PageWord) -> bool:
    if word.box is None or following.box is None:
        return False
    a, b = word.box[3] - word.box[1], following.box[3] - following.box[1]
    return min(a, b) > 0 and max(a, b) / min(a, b) > 1.12


def is_heading(sentence: Sentence) -> bool:
    """A short run of words without final punctuation: a heading, not a passage to cite."""
    return len(sentence.tokens) < 12 and not _SENTENCE_END.search(sentence.text)


# Quotes -----------------------------------------------------------------------------------------------------------
def find_quote(words: Sequence[PageWord], quote: str) -> tuple[int, int] | None:
    """The page words (first index, index after the last) that ``quote`` covers, or None when it is not on the page.
    Parts separated by "..." or "…" are found in order, each after the previous one."""
    parts = [tokens(part) for part in _ELLIPSIS.split(quote) if tokens(part)]
    if not parts:
        return None
    toks, owners = _tokens_of(words, 0, len(words))
    position = 0
    first: int | None = None
    last = -1
    for part in parts:
        found = _find(toks, part, position)
        if found is None:
            return None
        if first is None:
            first = found
        position = found + len(part)
        last = position - 1
    assert first is not None
    return owners[first], owners[last] + 1


def _find(haystack: Sequence[str], needle: Sequence[str], start: int) -> int | None:
    n = len(needle)
    head = needle[0]
    for i in range(start, len(haystack) - n + 1):
        if haystack[i] == head and tuple(haystack[i : i + n]) == tuple(needle):
            return i
    return None


# Boxes ------------------------------------------------------------------------------------------------------------
Box = tuple[float, float, float, float]


def line_boxes(words: Sequence[PageWord], start: int, end: int) -> list[Box]:
    """One box per line of the words ``[start, end)`` that have boxes: the union of that line's word boxes."""
    lines: dict[int, list[float]] = {}
    order: list[int] = []
    for word in words[start:end]:
        if word.box is None:
            continue
        x0, y0, x1, y1 = word.box
        current = lines.get(word.line)
        if current is None:
            lines[word.line] = [x0, y0, x1, y1]
            order.append(word.line)
        else:
            current[:] = [min(current[0], x0), min(current[1], y0), max(current[2], x1), max(current[3], y1)]
    return [(lines[k][0], lines[k][1], lines[k][2], lines[k][3]) for k in order]


def shorten(text: str, max_words: int) -> str:
    """At most ``max_words`` words of ``text``, with "…" when cut."""
    words = text.split()
    return text if len(words) <= max_words else " ".join(words[:max_words]) + " …"
