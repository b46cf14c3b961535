"""Comparing two editions of a series: per topic, the passages one edition has and the other has not.

Advocates file an older edition beside a newer one when the newer dropped what the case needs (the 2024 State
Department reports dropped whole sections). ``compare_editions`` finds, for each topic, the sentences of each edition
that hold the topic's terms, and whether the other edition says the same: a sentence counts as present in the other
edition when a sentence there shares most of its words (``SAME_SHARE`` of the shorter one's distinct words), so
rewording a few words or moving a paragraph to another page does not count as a change. Headings present in one
edition only are listed too: they show a dropped section at a glance.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..core.catalog import ConditionSource
from ..core.errors import NotFoundError, ValidationError
from .config import load_countries, load_topics
from .library import edition_order, get_source, looks_like_source_id, series_key
from .passages import Sentence, count_hits, fold, is_heading, page_words, sentences
from .propose import topic_terms

if TYPE_CHECKING:
    from ..core.runtime import Runtime

SAME_SHARE = 0.8  # of the shorter sentence's distinct words (3 letters or more) found in the other one
MIN_WORD = 3


@dataclass(frozen=True)
class _Located:
    page: int
    sentence: Sentence
    words: frozenset[str]


def _words(sentence: Sentence) -> frozenset[str]:
    return frozenset(t for t in sentence.tokens if len(t) >= MIN_WORD)


def _sentences(source: ConditionSource) -> tuple[list[_Located], list[tuple[int, str]]]:
    found: list[_Located] = []
    headings: list[tuple[int, str]] = []
    for page in source.pages:
        words = page_words(json.loads(page.words_json) if page.words_json else None, page.text)
        for sentence in sentences(words):
            if is_heading(sentence):
                headings.append((page.number, sentence.text))
            else:
                found.append(_Located(page.number, sentence, _words(sentence)))
    return found, headings


class _Finder:
    """Which sentences of an edition share most of their words with a given sentence."""

    def __init__(self, located: Sequence[_Located]) -> None:
        self.located = located
        self.by_word: dict[str, list[int]] = defaultdict(list)
        for i, item in enumerate(located):
            for word in item.words:
                self.by_word[word].append(i)

    def has(self, words: frozenset[str]) -> bool:
        if not words:
            return True
        shared: dict[int, int] = defaultdict(int)
        for word in words:
            for i in self.by_word.get(word, ()):
                shared[i] += 1
        for i, n in shared.items():
            other = self.located[i].words
            if n / min(len(words), len(other)) >= SAME_SHARE:
                return True
        return False


def find_edition(
    rt: Runtime, session: Session, country: str, series: str | None, edition: str, publisher: str | None
) -> ConditionSource:
    """A source by its id, or by country, series (and publisher) and edition; an error when none or several match."""
    if looks_like_source_id(edition):
        return get_source(session, edition)
    if not series:
        raise ValidationError('Name the series (--series "...") or give source ids (S-XXXXXXXX) to compare.')
    want_series = " ".join(fold(series).split())
    want_publisher = " ".join(fold(publisher).split()) if publisher else None
    matches = [
        s
        for s in session.scalars(select(ConditionSource).where(ConditionSource.country == country))
        if series_key(s)[2] == want_series
        and fold(s.edition) == fold(edition)
        and (want_publisher is None or series_key(s)[1] == want_publisher)
    ]
    if not matches:
        raise NotFoundError(
            f"No {edition} edition of {series!r} for {country} in the library. Run `casefile conditions list "
            f"--country {country}` to see the editions."
        )
    if len(matches) > 1:
        ids = ", ".join(s.id for s in sorted(matches, key=edition_order))
        raise ValidationError(
            f"Several sources are the {edition} edition of {series!r} ({ids}); give --publisher or the source ids."
        )
    return matches[0]


def compare_editions(
    rt: Runtime,
    country: str,
    first: str,
    second: str,
    *,
    series: str | None = None,
    publisher: str | None = None,
    topic_keys: Sequence[str] = (),
) -> dict[str, Any]:
    """Per topic (default: every topic of config/conditions/topics.toml), the passages of ``first`` absent from
    ``second`` and the other way round; ``first`` and ``second`` are editions ("2023") or source ids."""
    topics = rt.config(load_topics)
    code = rt.config(load_countries).get(country)
    chosen = topics.pick(list(topic_keys)) if topic_keys else list(topics.topics.values())
    with rt.catalog.session() as session:
        a = find_edition(rt, session, code.code, series, first, publisher)
        b = find_edition(rt, session, code.code, series, second, publisher)
        if a.id == b.id:
            raise ValidationError(f"Both editions are the same source ({a.id}); name two different editions.")
        sentences_a, headings_a = _sentences(a)
        sentences_b, headings_b = _sentences(b)
        meta = {
            s.id: {
                "id": s.id,
                "publisher": s.publisher,
                "series": s.series,
                "edition": s.edition,
                "published": s.published_on.isoformat(),
                "pages": s.page_count,
            }
            for s in (a, b)
        }
    finder_a, finder_b = _Finder(sentences_a), _Finder(sentences_b)
    rows = []
    for topic in chosen:
        terms = topic_terms(topic, code)
        in_a = [x for x in sentences_a if count_hits(terms, x.sentence.tokens)]
        in_b = [x for x in sentences_b if count_hits(terms, x.sentence.tokens)]
        only_a = [x for x in in_a if not finder_b.has(x.words)]
        only_b = [x for x in in_b if not finder_a.has(x.words)]
        rows.append(
            {
                "topic": topic.key,
                "title": topic.title,
                "first": len(in_a),
                "second": len(in_b),
                "only_in_first": [{"page": x.page, "quote": x.sentence.text} for x in only_a],
                "only_in_second": [{"page": x.page, "quote": x.sentence.text} for x in only_b],
                "dropped": bool(in_a) and not in_b,
                "added": bool(in_b) and not in_a,
            }
        )
    folded_b = {fold(text) for _p, text in headings_b}
    folded_a = {fold(text) for _p, text in headings_a}
    return {
        "country": code.code,
        "first": meta[a.id],
        "second": meta[b.id],
        "topics": rows,
        "headings_only_in_first": [{"page": p, "heading": t} for p, t in headings_a if fold(t) not in folded_b],
        "headings_only_in_second": [{"page": p, "heading": t} for p, t in headings_b if fold(t) not in folded_a],
    }
