"""The country-conditions configuration in config/conditions/, one typed model per file, each read once per runtime
(``rt.config(load_topics)``...):

- ``topics.toml`` -> ``Topics``: the legal elements (with cue words) and the topics (English and Spanish terms, the
  elements they support);
- ``countries.toml`` -> ``Countries``: ISO 3166 codes, English and Spanish names, country-specific topic terms;
- ``ranking.toml`` -> ``Ranking``: the weights of relevance, recency and authority, publishers' authority, staleness;
- ``bundle.toml`` -> ``BundleStyle``: how passages are marked and sources cited on the page.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..core.config import TomlTable
from ..core.errors import ConfigError, ValidationError
from ..packets.profile import css_points
from .passages import SearchTerm, fold

if TYPE_CHECKING:
    from ..core.settings import Settings

CONDITIONS_DIR = "conditions"
_KEY = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
_CODE = re.compile(r"^[A-Z]{2}$")
MARK_STYLES = ("box", "bracket", "both")


def _terms(table: TomlTable, key: str) -> tuple[SearchTerm, ...]:
    out: dict[SearchTerm, None] = {}
    for raw in table.strings(key, ()):
        try:
            out[SearchTerm.parse(raw)] = None
        except ValueError as exc:
            raise table.fail(key, f"has a bad term: {exc}") from None
    return tuple(out)


# Topics and elements ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Element:
    key: str
    title: str
    cues: tuple[SearchTerm, ...]


@dataclass(frozen=True)
class Topic:
    key: str
    title: str
    elements: tuple[str, ...]  # element keys, the most usual first
    terms: tuple[SearchTerm, ...]


@dataclass(frozen=True)
class Topics:
    elements: dict[str, Element]
    topics: dict[str, Topic]

    def pick(self, keys: list[str]) -> list[Topic]:
        """The topics named (in that order), or ValidationError listing the known ones."""
        if not keys:
            raise ValidationError(f"Name at least one topic (--topics), from: {', '.join(self.topics)}.")
        unknown = [k for k in keys if k not in self.topics]
        if unknown:
            raise ValidationError(
                f"Unknown topic(s) {', '.join(unknown)}; use: {', '.join(self.topics)} (or add one to "
                "config/conditions/topics.toml)."
            )
        return [self.topics[k] for k in dict.fromkeys(keys)]

    def element(self, key: str) -> Element:
        if key not in self.elements:
            raise ValidationError(f"Unknown legal element {key!r}; use one of: {', '.join(self.elements)}.")
        return self.elements[key]


def load_topics(settings: Settings) -> Topics:
    data = TomlTable.load(settings.config_dir / CONDITIONS_DIR, "topics.toml")
    elements: dict[str, Element] = {}
    table = data.table("elements")
    for key in table.data:
        if not _KEY.match(key):
            raise table.fail(key, "is not a key (lower-case letters, digits and hyphens)")
        entry = table.table(key)
        elements[key] = Element(key, entry.get("title", str), _terms(entry, "en") + _terms(entry, "es"))
    if not elements:
        raise data.fail("elements", "has no element")
    topics: dict[str, Topic] = {}
    table = data.table("topics")
    for key in table.data:
        if not _KEY.match(key):
            raise table.fail(key, "is not a key (lower-case letters, digits and hyphens)")
        entry = table.table(key)
        linked = entry.strings("elements")
        bad = [e for e in linked if e not in elements]
        if bad or not linked:
            raise entry.fail("elements", f"must name elements of [elements] ({', '.join(elements)})")
        terms = _terms(entry, "en") + _terms(entry, "es")
        if not terms:
            raise entry.fail("en", "and es have no term")
        topics[key] = Topic(key, entry.get("title", str), tuple(linked), terms)
    if not topics:
        raise data.fail("topics", "has no topic")
    return Topics(elements, topics)


# Countries -------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Country:
    code: str
    name: str  # English
    name_es: str
    terms: dict[str, tuple[SearchTerm, ...]] = field(default_factory=dict)  # topic key -> extra terms


@dataclass(frozen=True)
class Countries:
    by_code: dict[str, Country]

    def get(self, code: str) -> Country:
        value = code.strip().upper()
        if not _CODE.match(value):
            raise ValidationError(f"The country {code!r} is not an ISO 3166 two-letter code such as HN or GT.")
        if value not in self.by_code:
            raise ValidationError(
                f"The country {value} is not in config/conditions/countries.toml; add it there (code, English and "
                "Spanish names) and try again."
            )
        return self.by_code[value]


def load_countries(settings: Settings) -> Countries:
    data = TomlTable.load(settings.config_dir / CONDITIONS_DIR, "countries.toml")
    table = data.table("countries")
    out: dict[str, Country] = {}
    for code in table.data:
        if not _CODE.match(code):
            raise table.fail(code, "is not an ISO 3166 two-letter code in capitals")
        entry = table.table(code)
        terms: dict[str, tuple[SearchTerm, ...]] = {}
        extra = entry.table("terms", {})
        for topic in extra.data:
            per_topic = extra.table(topic)
            terms[topic] = _terms(per_topic, "en") + _terms(per_topic, "es")
        out[code] = Country(code, entry.get("en", str), entry.get("es", str), terms)
    return Countries(out)


# Ranking -----------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Ranking:
    relevance: float
    recency: float
    authority: float
    half_life_years: float
    max_age_years: float
    pages_per_topic: int
    sentences_per_page: int
    max_quote_words: int
    default_authority: float
    publishers: tuple[tuple[frozenset[str], float], ...]  # folded names and aliases -> score

    def authority_of(self, publisher: str) -> float:
        name = " ".join(fold(publisher).split())
        for names, score in self.publishers:
            if name in names:
                return score
        return self.default_authority


def _fraction(table: TomlTable, key: str, default: float) -> float:
    value = float(table.get(key, (int, float), default))
    if not 0 <= value <= 1:
        raise table.fail(key, "must be between 0 and 1")
    return value


def _positive(table: TomlTable, key: str, default: float) -> float:
    value = float(table.get(key, (int, float), default))
    if value <= 0:
        raise table.fail(key, "must be more than 0")
    return value


def load_ranking(settings: Settings) -> Ranking:
    data = TomlTable.load(settings.config_dir / CONDITIONS_DIR, "ranking.toml")
    weights = data.table("weights")
    recency, stale, proposal = data.table("recency", {}), data.table("staleness", {}), data.table("proposal", {})
    authority = data.table("authority", {})
    publishers = []
    for entry in authority.tables("publishers"):
        names = {entry.get("name", str), *entry.strings("aliases", ())}
        publishers.append((frozenset(" ".join(fold(n).split()) for n in names), _fraction(entry, "score", 0.5)))
    values = [float(weights.get(k, (int, float))) for k in ("relevance", "recency", "authority")]
    if any(v < 0 for v in values) or not sum(values):
        raise weights.fail("relevance", "and the other weights must not be negative, and not all 0")
    return Ranking(
        relevance=values[0],
        recency=values[1],
        authority=values[2],
        half_life_years=_positive(recency, "half_life_years", 3.0),
        max_age_years=_positive(stale, "max_age_years", 4.0),
        pages_per_topic=max(1, min(500, int(proposal.nonneg("pages_per_topic", 80)))),
        sentences_per_page=max(1, int(proposal.nonneg("sentences_per_page", 2))),
        max_quote_words=max(10, int(proposal.nonneg("max_quote_words", 80))),
        default_authority=_fraction(authority, "default", 0.5),
        publishers=tuple(publishers),
    )


# Bundle style ------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class BundleStyle:
    mark_style: str  # box | bracket | both
    line_width_pt: float
    padding_pt: float
    bracket_gap_pt: float
    highlight: tuple[float, float, float] | None  # RGB 0..1
    band_pt: float
    font_size_pt: float
    index_title: str
    quote_words: int


_COLOUR = re.compile(r"^#([0-9a-fA-F]{6})$")


def _length(table: TomlTable, key: str, default: str) -> float:
    try:
        return css_points(table.get(key, str, default), key)
    except ConfigError:
        raise table.fail(key, 'must be a length with its unit in quotes, like "0.75in" or "1.2pt"') from None


def load_bundle_style(settings: Settings) -> BundleStyle:
    data = TomlTable.load(settings.config_dir / CONDITIONS_DIR, "bundle.toml")
    marks, citation, index = data.table("marks", {}), data.table("citation", {}), data.table("index", {})
    highlight_raw = str(marks.get("highlight", str, "")).strip()
    highlight = None
    if highlight_raw:
        match = _COLOUR.match(highlight_raw)
        if not match:
            raise marks.fail("highlight", 'must be a colour like "#fff176", or empty')
        value = int(match[1], 16)
        highlight = ((value >> 16) / 255, ((value >> 8) & 0xFF) / 255, (value & 0xFF) / 255)
    band = _length(citation, "band", "0.75in")
    if not 36 <= band <= 144:
        raise citation.fail("band", "must be between 0.5in and 2in")
    return BundleStyle(
        mark_style=marks.choice("style", MARK_STYLES, "both"),
        line_width_pt=_length(marks, "line_width", "1.2pt"),
        padding_pt=_length(marks, "padding", "1.5pt"),
        bracket_gap_pt=_length(marks, "bracket_gap", "6pt"),
        highlight=highlight,
        band_pt=band,
        font_size_pt=_length(citation, "font_size", "8.5pt"),
        index_title=str(index.get("title", str, "Country Conditions Index")),
        quote_words=max(5, int(index.nonneg("quote_words", 30))),
    )
