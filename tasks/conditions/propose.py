"""Proposing passages for a case: the library's pages ranked for the case's topics, written as an editable selection.

``propose(rt, case_id, country, topics)``:
1. for each topic, one full-text query (its English and Spanish terms, plus the country's own terms for it) on the
   library index, filtered to the country: the best ``pages_per_topic`` pages by BM25 (sources published before
   ``since`` left out);
2. each page's score: relevance (BM25 over the topic's best), recency (a half-life from the publication date) and
   publisher authority, weighted as config/conditions/ranking.toml says;
3. on each page, the sentences that hold the topic's terms (the best ``sentences_per_page``) become passages, each
   tied to the topic's legal element whose cue words it holds most;
4. passages in score order fill the page budget (``max_pages``); the ones past it are proposed with ``keep: false``.
   A stale source (superseded by a newer edition, or older than the configured age) is proposed with its passages
   but ``keep: false`` and an empty ``reason``: keeping it is the advocate's choice, with a reason.

``dump_selection`` writes the proposal as plain YAML with comments for the person who edits it; ``selection``
reads it back, line by line. Nothing here logs text: only counts.
"""

from __future__ import annotations

import json
import logging
import math
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from ..core.catalog import ConditionPage, ConditionSource
from ..search.query import AnyOf, QueryNode, Term, normalize_text
from .config import Country, Ranking, Topic, Topics, load_countries, load_ranking, load_topics
from .index import index_pending, library_index
from .library import source_row, staleness
from .passages import SearchTerm, count_hits, is_heading, page_words, sentences

if TYPE_CHECKING:
    from ..core.runtime import Runtime

log = logging.getLogger(__name__)

MAX_FETCH_ROUNDS = 4  # with --since, older pages are skipped: fetch further down the ranking, this many times


def topic_terms(topic: Topic, country: Country) -> tuple[SearchTerm, ...]:
    return tuple(dict.fromkeys(topic.terms + country.terms.get(topic.key, ())))


def topic_query(terms: Sequence[SearchTerm]) -> QueryNode:
    """The full-text query of a topic: any of its terms (phrases and prefixes as written)."""
    options = tuple(Term(normalize_text(t.text), prefix=t.prefix, phrase=len(t.words) > 1 or t.prefix) for t in terms)
    return options[0] if len(options) == 1 else AnyOf(options)


@dataclass
class ProposedPassage:
    source_id: str
    page: int
    topic: str
    element: str
    quote: str
    score: float
    hits: int
    start: int  # first word on the page (ordering only)
    keep: bool = True
    also_topics: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "page": self.page,
            "topic": self.topic,
            "element": self.element,
            "keep": self.keep,
            "score": round(self.score, 4),
            "quote": self.quote,
            "also_topics": self.also_topics,
        }


@dataclass
class ProposedSource:
    source: dict[str, Any]  # the library's row (library.source_row) with staleness
    passages: list[ProposedPassage] = field(default_factory=list)

    @property
    def keep(self) -> bool:
        """Proposed as kept: not stale (keeping a stale source is the advocate's choice, with a reason) and with a
        kept passage."""
        return not self.source["stale"] and any(p.keep for p in self.passages)

    def kept_pages(self) -> list[int]:
        return sorted({p.page for p in self.passages if p.keep}) if self.keep else []

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.source,
            "keep": self.keep,
            "pages": self.kept_pages(),
            "passages": [p.as_dict() for p in self.passages],
        }


@dataclass
class Proposal:
    case_id: str
    country: str
    country_name: str
    topics: list[str]
    max_pages: int
    since: date | None
    today: date
    sources: list[ProposedSource]

    @property
    def pages(self) -> int:
        return sum(len(s.kept_pages()) for s in self.sources)

    def passages(self) -> list[ProposedPassage]:
        return sorted(
            (p for s in self.sources for p in s.passages), key=lambda p: (-p.score, -p.hits, p.source_id, p.page)
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "case": self.case_id,
            "country": self.country,
            "topics": self.topics,
            "max_pages": self.max_pages,
            "since": self.since.isoformat() if self.since else None,
            "pages": self.pages,
            "sources": [s.as_dict() for s in self.sources],
        }


def _clean(text: str) -> str:
    """A quote safe for a YAML string and a terminal: control and format characters become spaces."""
    return " ".join("".join(" " if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co") else ch for ch in text).split())


def _element(topic: Topic, topics: Topics, tokens: Sequence[str]) -> str:
    best, best_hits = topic.elements[0], 0
    for key in topic.elements:
        hits = count_hits(topics.elements[key].cues, tokens)
        if hits > best_hits:
            best, best_hits = key, hits
    return best


def _age_years(published: date, today: date) -> float:
    return max(0.0, (today - published).days / 365.25)


def page_score(
    ranking: Ranking, relevance: float, published: date, publisher: str, today: date
) -> tuple[float, float, float]:
    """(score, recency, authority) of a page with ``relevance`` (0..1)."""
    recency = math.pow(0.5, _age_years(published, today) / ranking.half_life_years)
    authority = ranking.authority_of(publisher)
    total = ranking.relevance + ranking.recency + ranking.authority
    score = (ranking.relevance * relevance + ranking.recency * recency + ranking.authority * authority) / total
    return score, recency, authority


def propose(
    rt: Runtime,
    case_id: str,
    country_code: str,
    topic_keys: Sequence[str],
    *,
    max_pages: int = 150,
    since: date | None = None,
    today: date | None = None,
) -> Proposal:
    """Ranked passages of the library for the case (see the module docstring)."""
    from ..core.errors import ValidationError

    today = today or datetime.now(UTC).date()
    if max_pages < 1:
        raise ValidationError("--max-pages must be at least 1.")
    topics, ranking = rt.config(load_topics), rt.config(load_ranking)
    country = rt.config(load_countries).get(country_code)
    chosen = topics.pick(list(topic_keys))
    with rt.catalog.session() as session:
        case_id = rt.catalog.get_case(session, case_id).id
    index_pending(rt)
    index = library_index(rt)

    hits: dict[str, list[tuple[str, int, float]]] = {}  # topic -> (source, page, bm25)
    published: dict[str, date] = {}
    with rt.catalog.session() as session:
        for topic in chosen:
            query = topic_query(topic_terms(topic, country))
            found: list[tuple[str, int, float]] = []
            offset = 0
            for _round in range(MAX_FETCH_ROUNDS):
                batch = index.search(
                    query, case_id=country.code, limit=ranking.pages_per_topic, offset=offset, snippet_words=1
                )
                unknown = {h.document_id for h in batch} - published.keys()
                if unknown:
                    dates = session.execute(
                        select(ConditionSource.id, ConditionSource.published_on).where(ConditionSource.id.in_(unknown))
                    )
                    published.update({sid: when for sid, when in dates})
                found += [
                    (h.document_id, h.page, h.score)
                    for h in batch
                    if h.document_id in published and (since is None or published[h.document_id] >= since)
                ]
                offset += len(batch)
                if since is None or len(batch) < ranking.pages_per_topic or len(found) >= ranking.pages_per_topic:
                    break
            hits[topic.key] = found[: ranking.pages_per_topic]
        wanted_sources = {s for rows in hits.values() for s, _p, _x in rows}
        sources = {
            s.id: s for s in session.scalars(select(ConditionSource).where(ConditionSource.id.in_(wanted_sources)))
        }
        stale = staleness(rt, session, list(sources.values()), today)
        wanted_pages = {(s, p) for rows in hits.values() for s, p, _x in rows}
        pages: dict[tuple[str, int], tuple[str | None, str | None]] = {}
        for source_id in wanted_sources:
            numbers = sorted(p for s, p in wanted_pages if s == source_id)
            page_rows = session.execute(
                select(ConditionPage.number, ConditionPage.text, ConditionPage.words_json).where(
                    ConditionPage.source_id == source_id, ConditionPage.number.in_(numbers)
                )
            )
            for number, text, words_json in page_rows:
                pages[(source_id, number)] = (text, words_json)
        rows_by_source = {sid: source_row(src, stale[sid], ranking.max_age_years) for sid, src in sources.items()}
        publisher = {sid: src.publisher for sid, src in sources.items()}

    passages: dict[tuple[str, int, int], ProposedPassage] = {}
    for topic in chosen:
        terms = topic_terms(topic, country)
        ranked = hits[topic.key]
        best = max((score for _s, _p, score in ranked), default=0.0)
        for source_id, number, bm25 in ranked:
            relevance = bm25 / best if best > 0 else 0.0
            score, _recency, _authority = page_score(
                ranking, relevance, published[source_id], publisher[source_id], today
            )
            text, words_json = pages.get((source_id, number), (None, None))
            words = page_words(json.loads(words_json) if words_json else None, text)
            matched = []
            for sentence in sentences(words, ranking.max_quote_words):
                if is_heading(sentence):
                    continue
                n = count_hits(terms, sentence.tokens)
                if n:
                    matched.append((n, sentence))
            matched.sort(key=lambda item: (-item[0], item[1].start))
            for n, sentence in matched[: ranking.sentences_per_page]:
                key = (source_id, number, sentence.start)
                current = passages.get(key)
                if current is not None:
                    if topic.key not in current.also_topics and topic.key != current.topic:
                        current.also_topics.append(topic.key)
                    continue
                passages[key] = ProposedPassage(
                    source_id,
                    number,
                    topic.key,
                    _element(topic, topics, sentence.tokens),
                    _clean(sentence.text),
                    score + 0.001 * min(n, 5),  # more of the topic's words in the sentence: a little higher
                    n,
                    sentence.start,
                )

    ordered = sorted(passages.values(), key=lambda p: (-p.score, -p.hits, p.source_id, p.page, p.start))
    budget: dict[str, set[int]] = {}
    used = 0
    for passage in ordered:
        if stale[passage.source_id].stale:
            continue  # its passages stay proposed; the source is not kept unless the advocate gives a reason
        kept = budget.setdefault(passage.source_id, set())
        if passage.page not in kept:
            if used + 1 > max_pages:
                passage.keep = False
                continue
            kept.add(passage.page)
            used += 1
    grouped: dict[str, ProposedSource] = {}
    for passage in ordered:
        grouped.setdefault(passage.source_id, ProposedSource(rows_by_source[passage.source_id])).passages.append(
            passage
        )
    for entry in grouped.values():
        entry.passages.sort(key=lambda p: (p.page, p.start))
    log.info(
        "proposal for case %s: %d passages from %d sources, %d pages kept",
        case_id,
        len(ordered),
        len(grouped),
        used,
    )
    return Proposal(
        case_id, country.code, country.name, [t.key for t in chosen], max_pages, since, today, list(grouped.values())
    )


# The selection file ------------------------------------------------------------------------------------------------
_HEADER = """\
# Country-conditions selection for case {case} ({country_name}, {country}), proposed {today} for the topics
# {topics}. Page budget {max_pages}; {pages} page(s) kept as proposed.
#
# Edit it, then: casefile conditions bundle {case} {file}
#   keep      true or false, for a whole source or one passage
#   pages     auto (the pages of its kept passages), all (the whole source), or pages like "3-5, 9"
#   element   the legal element the passage supports: {elements}
#   quote     the passage, as printed on its page (shorten it, or skip words with "..."); it is marked on the page
#   reason    keeping a STALE source (superseded by a newer edition, or old) needs one; the bundle's index prints
#             it, e.g. "the 2024 edition omits the section on domestic violence"
# Sources are bundled in this order (move them to reorder the numbered exhibits).
"""


def _q(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def dump_selection(proposal: Proposal, topics: Topics, file_name: str = "selection.yaml") -> str:
    lines = [
        _HEADER.format(
            case=proposal.case_id,
            country=proposal.country,
            country_name=proposal.country_name,
            today=proposal.today.isoformat(),
            topics=", ".join(proposal.topics),
            max_pages=proposal.max_pages,
            pages=proposal.pages,
            file=file_name,
            elements=", ".join(topics.elements),
        ),
        f"case: {proposal.case_id}",
        f"country: {proposal.country}",
        f"topics: [{', '.join(proposal.topics)}]",
        "sources:",
    ]
    if not proposal.sources:
        lines[-1] = "sources: []  # nothing in the library matched: add reports with `casefile conditions add`"
    for entry in proposal.sources:
        s = entry.source
        lines.append(f"  - source: {s['id']}")
        lines.append(
            f"    # {s['publisher']}, {s['title']}, {s['edition']} edition, published {s['published']}, "
            f"{s['pages']} page(s), {s['language']}"
        )
        for reason in s["stale_reasons"]:
            lines.append(f"    # STALE: {reason}")
        lines.append(f"    keep: {'true' if entry.keep else 'false'}")
        lines.append("    pages: auto")
        if s["stale"]:
            lines.append('    reason: ""')
        lines.append("    passages:")
        for p in entry.passages:
            extra = f"  # also: {', '.join(p.also_topics)}" if p.also_topics else ""
            lines.append(f"      - page: {p.page}")
            lines.append(f"        topic: {p.topic}{extra}")
            lines.append(f"        element: {p.element}")
            lines.append(f"        keep: {'true' if p.keep else 'false'}")
            lines.append(f"        score: {p.score:.3f}")
            lines.append(f"        quote: {_q(p.quote)}")
    return "\n".join(lines) + "\n"
