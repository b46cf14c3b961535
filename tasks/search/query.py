"""The search query language: what a user types, parsed into a small tree that every index backend compiles.

``parse_query`` turns text into ``Term``, ``AnyOf`` and ``AllOf`` nodes, or raises ``QuerySyntaxError`` naming
what to fix (by character position, never quoting the query). A backend compiles the tree into its own query
language with every term quoted, so user text never reaches SQL or a full-text query language unquoted.

- ``amenaza muerte``        pages with both words (AND is implied; ``AND`` may be written)
- ``"amenaza de muerte"``   the exact phrase
- ``amenaz*``               words starting with "amenaz" (at least 3 letters before the ``*``)
- ``muerte OR violencia``   either word; ``OR`` binds tighter than the implied AND, as in web search engines:
                            ``amenaza muerte OR violencia`` = amenaza AND (muerte OR violencia)
- ``-borrador``, ``NOT borrador``  leave out pages with that word (next to at least one word to look for)
- ``(a b) OR c``            parentheses group
- Only upper-case ``OR``/``AND``/``NOT`` are operators; quote them (``"OR"``) to search for the word itself.

Matching, which every backend must honour: case and accents are ignored. Terms and page text both go through
``normalize_text`` (Unicode NFKC, so ligatures and full-width letters from PDF text layers, "certiﬁcate", are
folded); the backend's tokenizer then folds case and removes diacritics. The tilde is an accent for this purpose,
so "ano" also finds "año" and "nino" finds "niño": advocates often type on English keyboards, and in evidence
search a missed page costs more than an extra hit. Both ways: "medico" finds "médico" and "MÉDICO" finds "medico".
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import NamedTuple

from ..core.errors import QuerySyntaxError

# Limits: generous for people, small enough that a pasted page of text cannot make a monster query.
MAX_QUERY_CHARS = 1000
MAX_QUERY_TERMS = 32
MAX_QUERY_DEPTH = 8
MIN_PREFIX_CHARS = 3  # "a*" would expand to most of the vocabulary

# Control characters become spaces, in terms and page text alike: backends mark snippet matches with control
# characters, and terminal escape sequences in a hostile text layer must never reach a user's terminal.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")  # tab, LF and CR stay: whitespace


def normalize_text(text: str) -> str:
    """Text as the index compares it: NFKC (ligatures and full-width forms folded), control characters as
    spaces. Applied to query terms here and to page text before indexing (``index.clean_page_text``)."""
    if not unicodedata.is_normalized("NFKC", text):
        text = unicodedata.normalize("NFKC", text)
    return _CONTROL.sub(" ", text)


@dataclass(frozen=True, slots=True)
class Term:
    """A word or a quoted phrase (``text`` may hold several words); ``prefix``: its last word is a prefix."""

    text: str
    prefix: bool = False
    phrase: bool = False


@dataclass(frozen=True, slots=True)
class AnyOf:
    """At least one of ``options`` (OR)."""

    options: tuple[QueryNode, ...]


@dataclass(frozen=True, slots=True)
class AllOf:
    """Every node of ``include`` and none of ``exclude`` (AND, NOT). ``include`` is never empty."""

    include: tuple[QueryNode, ...]
    exclude: tuple[QueryNode, ...] = ()


QueryNode = Term | AnyOf | AllOf


class _Tok(NamedTuple):
    kind: str  # word | phrase | lparen | rparen | or | and | not | neg
    text: str
    pos: int  # 1-based character position, for messages (never the query text itself)
    prefix: bool = False


def _has_word_chars(text: str) -> bool:
    return any(ch.isalnum() for ch in text)


def _lex(query: str) -> list[_Tok]:
    toks: list[_Tok] = []
    i, n = 0, len(query)
    while i < n:
        ch = query[i]
        if ch.isspace():
            i += 1
        elif ch == '"':
            close = query.find('"', i + 1)
            if close < 0:
                raise QuerySyntaxError(f"the quote at character {i + 1} is not closed", position=i + 1)
            j = close + 1
            while j < n and query[j] == "*":
                j += 1
            toks.append(_Tok("phrase", query[i + 1 : close], i + 1, prefix=j > close + 1))
            i = j
        elif ch in "()":
            toks.append(_Tok("lparen" if ch == "(" else "rparen", ch, i + 1))
            i += 1
        elif ch == "-" and i + 1 < n and (query[i + 1] in '"(' or query[i + 1].isalnum()):
            toks.append(_Tok("neg", ch, i + 1))
            i += 1
        else:
            j = i
            while j < n and not query[j].isspace() and query[j] not in '"()':
                j += 1
            word = query[i:j]
            stem = word.rstrip("*")
            if not stem.strip("-*") and "*" in word:
                raise QuerySyntaxError(f"the * at character {i + 1} has no word before it", position=i + 1)
            if "*" in stem:
                raise QuerySyntaxError(
                    f"a * can only end a word (character {i + word.index('*') + 1})", position=i + word.index("*") + 1
                )
            if word in ("OR", "AND", "NOT"):
                toks.append(_Tok(word.lower(), word, i + 1))
            else:
                toks.append(_Tok("word", stem, i + 1, prefix=stem != word))
            i = j
    return toks


class _Parser:
    def __init__(self, toks: list[_Tok]) -> None:
        self.toks = toks
        self.i = 0
        self.terms = 0

    def peek(self) -> _Tok | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self) -> _Tok:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def starts_operand(self) -> bool:
        tok = self.peek()
        return tok is not None and tok.kind in ("word", "phrase", "lparen", "neg", "not")

    def all_of(self, depth: int) -> QueryNode | None:
        include: list[QueryNode] = []
        exclude: list[QueryNode] = []
        seen_operand = False
        while (tok := self.peek()) is not None and tok.kind != "rparen":
            if tok.kind == "and":
                self.take()
                if not seen_operand or not self.starts_operand():
                    raise QuerySyntaxError(f"AND at character {tok.pos} needs a word on each side", position=tok.pos)
                continue
            negated, node = self.any_of(depth)
            seen_operand = True
            if node is not None:
                (exclude if negated else include).append(node)
        if not include:
            if exclude:
                raise QuerySyntaxError("a query needs at least one word to look for, not only words to leave out")
            return None
        if len(include) == 1 and not exclude:
            return include[0]
        return AllOf(tuple(include), tuple(exclude))

    def any_of(self, depth: int) -> tuple[bool, QueryNode | None]:
        first = self.peek()
        negated, node = self.unary(depth)
        options = [(negated, node)]
        while (tok := self.peek()) is not None and tok.kind == "or":
            self.take()
            if not self.starts_operand():
                raise QuerySyntaxError(f"OR at character {tok.pos} needs a word on each side", position=tok.pos)
            options.append(self.unary(depth))
        if len(options) == 1:
            return negated, node
        if any(neg for neg, _ in options):
            pos = first.pos if first else 0
            raise QuerySyntaxError(
                f"OR cannot join a word to leave out (near character {pos}); put the -word outside the OR",
                position=pos,
            )
        kept = tuple(n for _, n in options if n is not None)
        if not kept:
            return False, None
        return False, kept[0] if len(kept) == 1 else AnyOf(kept)

    def unary(self, depth: int) -> tuple[bool, QueryNode | None]:
        tok = self.peek()
        if tok is not None and tok.kind in ("neg", "not"):
            self.take()
            nxt = self.peek()
            if nxt is None or nxt.kind not in ("word", "phrase", "lparen"):
                what = "-" if tok.kind == "neg" else "NOT"
                raise QuerySyntaxError(
                    f"{what} at character {tok.pos} must be followed by the word to leave out", position=tok.pos
                )
            return True, self.primary(depth)
        return False, self.primary(depth)

    def primary(self, depth: int) -> QueryNode | None:
        tok = self.take()
        if tok.kind in ("word", "phrase"):
            return self.term(tok)
        if tok.kind == "lparen":
            if depth >= MAX_QUERY_DEPTH:
                raise QuerySyntaxError(f"too many nested parentheses (at most {MAX_QUERY_DEPTH})", position=tok.pos)
            node = self.all_of(depth + 1)
            closing = self.peek()
            if closing is None or closing.kind != "rparen":
                raise QuerySyntaxError(f"the ( at character {tok.pos} is not closed", position=tok.pos)
            self.take()
            return node
        if tok.kind == "rparen":
            raise QuerySyntaxError(f"the ) at character {tok.pos} has no matching (", position=tok.pos)
        raise QuerySyntaxError(f"{tok.text} at character {tok.pos} needs a word on each side", position=tok.pos)

    def term(self, tok: _Tok) -> Term | None:
        text = normalize_text(tok.text).strip()
        if not _has_word_chars(text):
            if tok.prefix:
                raise QuerySyntaxError(f"the * at character {tok.pos} has no word before it", position=tok.pos)
            return None  # punctuation only: nothing FTS would index, so nothing to look for
        if tok.prefix:
            last = "".join(ch if ch.isalnum() else " " for ch in text).split()[-1]
            if len(last) < MIN_PREFIX_CHARS:
                raise QuerySyntaxError(
                    f"put at least {MIN_PREFIX_CHARS} letters before the * (character {tok.pos})", position=tok.pos
                )
        self.terms += 1
        if self.terms > MAX_QUERY_TERMS:
            raise QuerySyntaxError(f"too many words; use at most {MAX_QUERY_TERMS}")
        return Term(text, prefix=tok.prefix, phrase=tok.kind == "phrase")


def parse_query(query: str) -> QueryNode:
    """Parse what a user typed into a query tree; ``QuerySyntaxError`` says what to fix."""
    if len(query) > MAX_QUERY_CHARS:
        raise QuerySyntaxError(f"the query is too long (at most {MAX_QUERY_CHARS} characters)")
    parser = _Parser(_lex(query))
    node = parser.all_of(0)
    tok = parser.peek()
    if tok is not None:  # only a stray ")" stops the top level early
        raise QuerySyntaxError(f"the ) at character {tok.pos} has no matching (", position=tok.pos)
    if node is None:
        raise QuerySyntaxError("type at least one word to search for")
    return node


def query_terms(node: QueryNode) -> list[Term]:
    """The terms a page must or may contain (excluded terms left out), e.g. to highlight them elsewhere."""
    if isinstance(node, Term):
        return [node]
    if isinstance(node, AnyOf):
        return [t for option in node.options for t in query_terms(option)]
    return [t for part in node.include for t in query_terms(part)]
