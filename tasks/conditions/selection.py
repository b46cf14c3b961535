"""The selection file, read back and checked line by line: what a case's bundle holds.

``parse_selection(rt, text, path, case_id)`` returns a ``Selection`` (only what is kept, in the file's order) or
raises ``SelectionInvalid`` listing every problem with its line: an unknown field, a source that is not in the
library or not of the selection's country, pages outside the source, a kept stale source without a reason, a
passage whose quote is not on its page, an unknown legal element. The checked selection has a canonical form
(``canonical``) that, with the sources' hashes, makes the bundle's id: comments, scores and dropped entries do not
change a bundle.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from ..core.catalog import ConditionSource
from ..core.errors import SelectionInvalid, ValidationError
from .config import load_countries, load_ranking, load_topics
from .library import staleness
from .passages import find_quote, page_words

if TYPE_CHECKING:
    import yaml

    from ..core.runtime import Runtime

TOP_FIELDS = ("case", "country", "topics", "sources")
SOURCE_FIELDS = ("source", "keep", "pages", "reason", "passages")
PASSAGE_FIELDS = ("page", "topic", "element", "keep", "score", "quote")
_PAGES = re.compile(r"^\s*(\d+)\s*(?:[-\u2013]\s*(\d+))?\s*$")
MAX_REASON = 500
MAX_QUOTE = 2000


@dataclass(frozen=True)
class SelectedPassage:
    page: int  # of the source
    element: str
    topic: str | None
    quote: str
    start: int  # the words of the page it covers
    end: int


@dataclass(frozen=True)
class SelectedSource:
    source_id: str
    pages: tuple[int, ...]  # of the source, in order
    whole: bool  # every page of the source
    reason: str
    stale: tuple[str, ...]  # why it is stale (empty when it is not)
    passages: tuple[SelectedPassage, ...]


@dataclass(frozen=True)
class Selection:
    case_id: str
    country: str
    topics: tuple[str, ...]
    sources: tuple[SelectedSource, ...] = field(default_factory=tuple)

    def canonical(self) -> dict[str, Any]:
        return asdict(self)

    def digest_text(self) -> str:
        return json.dumps(self.canonical(), sort_keys=True, ensure_ascii=True)


class _LineLoader:
    """Safe YAML without implicit dates, whose mappings remember the line of each key (1-based)."""

    @staticmethod
    def load(text: str, path: str) -> Any:
        import yaml

        class Loader(yaml.SafeLoader):
            pass

        Loader.yaml_implicit_resolvers = {
            key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
            for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
        }

        def mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> _Lined:
            out = _Lined(line=node.start_mark.line + 1)
            for key_node, value_node in node.value:
                key = loader.construct_object(key_node, deep=True)
                out[str(key)] = loader.construct_object(value_node, deep=True)
                out.lines[str(key)] = key_node.start_mark.line + 1
            return out

        Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, mapping)
        try:
            return yaml.load(text, Loader=Loader)  # noqa: S506 - a SafeLoader subclass
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"line {mark.line + 1}" if mark is not None else "somewhere"
            raise SelectionInvalid(
                path, [f"{where}: not valid YAML ({getattr(exc, 'problem', 'syntax error')})"]
            ) from None


class _Lined(dict[str, Any]):
    def __init__(self, line: int) -> None:
        super().__init__()
        self.line = line
        self.lines: dict[str, int] = {}

    def at(self, key: str) -> str:
        return f"line {self.lines.get(key, self.line)}"


def parse_pages(value: Any, count: int) -> tuple[list[int] | None, str | None]:
    """``auto`` (None), ``all``, ``"3-5, 9"`` or a list of numbers -> the pages, or a problem."""
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "auto")):
        return None, None
    if isinstance(value, str) and value.strip().lower() == "all":
        return list(range(1, count + 1)), None
    parts: list[str] = []
    if isinstance(value, int) and not isinstance(value, bool):
        parts = [str(value)]
    elif isinstance(value, list) and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        parts = [str(v) for v in value]
    elif isinstance(value, str):
        parts = [p for p in value.split(",") if p.strip()]
    else:
        return None, 'pages must be auto, all, or pages like "3-5, 9"'
    pages: set[int] = set()
    for part in parts:
        match = _PAGES.match(part)
        if not match:
            return None, f'pages {value!r} cannot be read; write auto, all, or pages like "3-5, 9"'
        lo, hi = int(match[1]), int(match[2] or match[1])
        if lo < 1 or hi > count or lo > hi:
            return None, f"pages {part.strip()} are outside the source's pages 1-{count}"
        pages.update(range(lo, hi + 1))
    if not pages:
        return None, "pages lists no page"
    return sorted(pages), None


def _bool(value: Any, default: bool = True) -> bool | None:
    if value is None:
        return default
    return value if isinstance(value, bool) else None


def parse_selection(rt: Runtime, text: str, path: str, case_id: str, *, today: date | None = None) -> Selection:
    """Check a selection file (see the module docstring); every problem is reported with its line."""
    today = today or datetime.now(UTC).date()
    data = _LineLoader.load(text, path)
    if not isinstance(data, _Lined):
        raise SelectionInvalid(path, ["line 1: expected a mapping with case:, country:, topics: and sources:"])
    problems: list[str] = []
    topics_cfg = rt.config(load_topics)
    unknown = sorted(set(data) - set(TOP_FIELDS))
    if unknown:
        problems.append(
            f"{data.at(unknown[0])}: unknown field(s) {', '.join(unknown)}; allowed: {', '.join(TOP_FIELDS)}"
        )
    with rt.catalog.session() as session:
        case = rt.catalog.get_case(session, case_id)
    declared = str(data.get("case") or "").strip().upper()
    if declared and declared != case.id:
        problems.append(f"{data.at('case')}: the selection is for case {declared}, not {case.id}")
    country = ""
    try:
        country = rt.config(load_countries).get(str(data.get("country") or "")).code
    except ValidationError as exc:
        problems.append(f"{data.at('country')}: {exc.message}")
    raw_topics = data.get("topics") or []
    if isinstance(raw_topics, str):
        raw_topics = [t.strip() for t in raw_topics.split(",") if t.strip()]
    topic_keys: list[str] = []
    if not isinstance(raw_topics, list) or not all(isinstance(t, str) for t in raw_topics):
        problems.append(f"{data.at('topics')}: topics must be a list of topic keys")
    else:
        bad = [t for t in raw_topics if t not in topics_cfg.topics]
        if bad:
            problems.append(
                f"{data.at('topics')}: unknown topic(s) {', '.join(bad)}; use: {', '.join(topics_cfg.topics)}"
            )
        topic_keys = list(raw_topics)
    items = data.get("sources")
    if not isinstance(items, list):
        problems.append(f"{data.at('sources')}: sources must be a list (as `casefile conditions propose` writes it)")
        items = []
    ranking = rt.config(load_ranking)
    selected: list[SelectedSource] = []
    seen: dict[str, int] = {}
    with rt.catalog.session() as session:
        for item in items:
            if not isinstance(item, _Lined):
                problems.append(f"{data.at('sources')}: each source must be a mapping (source:, keep:, pages:, ...)")
                continue
            entry = _check_source(rt, session, item, country, topics_cfg, ranking.max_age_years, today, seen, problems)
            if entry is not None:
                selected.append(entry)
    if not problems and not selected:
        problems.append(f"{data.at('sources')}: no source is kept; keep at least one (keep: true)")
    if problems:
        raise SelectionInvalid(path, problems)
    return Selection(case.id, country, tuple(topic_keys), tuple(selected))


def _check_source(
    rt: Runtime,
    session: Any,
    item: _Lined,
    country: str,
    topics_cfg: Any,
    max_age_years: float,
    today: date,
    seen: dict[str, int],
    problems: list[str],
) -> SelectedSource | None:
    start = len(problems)
    where = f"line {item.line}"
    unknown = sorted(set(item) - set(SOURCE_FIELDS))
    if unknown:
        problems.append(
            f"{item.at(unknown[0])}: unknown field(s) {', '.join(unknown)}; allowed: {', '.join(SOURCE_FIELDS)}"
        )
    source_id = str(item.get("source") or "").strip().upper()
    keep = _bool(item.get("keep"))
    if keep is None:
        problems.append(f"{item.at('keep')}: keep must be true or false")
        keep = True
    if not source_id:
        problems.append(f"{where}: `source` is missing (a library id like S-XXXXXXXX, see `casefile conditions list`)")
        return None
    if source_id in seen:
        problems.append(f"{item.at('source')}: source {source_id} is already on line {seen[source_id]}")
        return None
    seen[source_id] = item.lines.get("source", item.line)
    source = session.get(ConditionSource, source_id)
    if source is None:
        problems.append(f"{item.at('source')}: no source {source_id} in the library (see `casefile conditions list`)")
        return None
    if not keep:
        return None
    if country and source.country != country:
        problems.append(f"{item.at('source')}: source {source_id} is about {source.country}, not {country}")
    pages, problem = parse_pages(item.get("pages"), source.page_count)
    if problem:
        problems.append(f"{item.at('pages')}: {problem}")
    reason = str(item.get("reason") or "").strip()
    if len(reason) > MAX_REASON:
        problems.append(f"{item.at('reason')}: the reason is longer than {MAX_REASON} characters")
    stale = staleness(rt, session, [source], today)[source.id]
    stale_reasons = tuple(stale.reasons(source, max_age_years))
    if stale.stale and not reason:
        problems.append(
            f"{item.at('source')}: source {source_id} is stale ({'; '.join(stale_reasons)}); keeping it needs a "
            'reason, printed in the bundle\'s index (reason: "the newer edition omits ...")'
        )
    raw_passages = item.get("passages") or []
    if not isinstance(raw_passages, list):
        problems.append(f"{item.at('passages')}: passages must be a list")
        raw_passages = []
    passages: list[SelectedPassage] = []
    page_rows = {p.number: p for p in source.pages}
    for raw in raw_passages:
        passage = _check_passage(raw, item, source, page_rows, topics_cfg, problems)
        if passage is not None:
            passages.append(passage)
    whole = isinstance(item.get("pages"), str) and str(item.get("pages")).strip().lower() == "all"
    if pages is None:  # auto: the pages of its kept passages
        pages = sorted({p.page for p in passages})
        if not pages:
            problems.append(f"{item.at('source')}: source {source_id} is kept but keeps no passage; name its pages")
    else:
        outside = sorted({p.page for p in passages} - set(pages))
        if outside:
            problems.append(
                f"{item.at('pages')}: passages on page(s) {', '.join(map(str, outside))} are not among the pages kept"
            )
    if len(problems) > start:
        return None
    passages.sort(key=lambda p: (p.page, p.start))
    return SelectedSource(source.id, tuple(pages), whole, reason, stale_reasons, tuple(passages))


def _check_passage(
    raw: Any, item: _Lined, source: ConditionSource, page_rows: dict[int, Any], topics_cfg: Any, problems: list[str]
) -> SelectedPassage | None:
    if not isinstance(raw, _Lined):
        problems.append(f"{item.at('passages')}: each passage must be a mapping (page:, element:, quote:, ...)")
        return None
    where = f"line {raw.line}"
    unknown = sorted(set(raw) - set(PASSAGE_FIELDS))
    if unknown:
        problems.append(
            f"{raw.at(unknown[0])}: unknown field(s) {', '.join(unknown)}; allowed: {', '.join(PASSAGE_FIELDS)}"
        )
    keep = _bool(raw.get("keep"))
    if keep is None:
        problems.append(f"{raw.at('keep')}: keep must be true or false")
        return None
    if not keep:
        return None
    page = raw.get("page")
    if not isinstance(page, int) or isinstance(page, bool) or not 1 <= page <= source.page_count:
        problems.append(f"{raw.at('page')}: page must be a page number of the source, 1-{source.page_count}")
        return None
    element = str(raw.get("element") or "").strip()
    if element not in topics_cfg.elements:
        problems.append(f"{raw.at('element')}: element {element!r} is not one of: {', '.join(topics_cfg.elements)}")
    topic = raw.get("topic")
    topic_key = str(topic).strip() if topic is not None else None
    if topic_key and topic_key not in topics_cfg.topics:
        problems.append(f"{raw.at('topic')}: unknown topic {topic_key!r}; use: {', '.join(topics_cfg.topics)}")
    quote = raw.get("quote")
    if not isinstance(quote, str) or not quote.strip():
        problems.append(f"{where}: `quote` is missing: the passage as printed on page {page}")
        return None
    if len(quote) > MAX_QUOTE:
        problems.append(f"{raw.at('quote')}: the quote is longer than {MAX_QUOTE} characters; shorten it with ...")
        return None
    row = page_rows.get(page)
    words = page_words(
        json.loads(row.words_json) if row is not None and row.words_json else None, row.text if row else None
    )
    span = find_quote(words, quote)
    if span is None:
        problems.append(
            f"{raw.at('quote')}: the quote is not on page {page} of {source.id} (copy it as printed, or skip words "
            'with "...")'
        )
        return None
    if element not in topics_cfg.elements:
        return None
    return SelectedPassage(page, element, topic_key or None, " ".join(quote.split()), span[0], span[1])


# Stored selections ---------------------------------------------------------------------------------------------
# A selection file is handed to the `conditions-bundle` flow by its SHA-256 (parameters carry ids and hashes only):
# the command line stores the file's bytes under conditions/<case>/selections/<sha256>.yaml first.
def selection_key(case_id: str, sha256: str) -> str:
    return f"conditions/{case_id}/selections/{sha256}.yaml"


def store_selection(rt: Runtime, case_id: str, text: str) -> str:
    """Keep a selection file's text in the object store; returns its SHA-256."""
    import hashlib

    data = text.encode("utf-8")
    sha = hashlib.sha256(data).hexdigest()
    key = selection_key(case_id, sha)
    if not rt.store.exists(key):
        rt.store.put_bytes(key, data)
    return sha


def load_selection_text(rt: Runtime, case_id: str, sha256: str) -> str:
    from ..core.errors import IntegrityError, NotFoundError

    key = selection_key(case_id, sha256)
    try:
        data = rt.store.get_bytes(key)
    except FileNotFoundError:
        raise NotFoundError(
            f"No stored selection {sha256[:12]}… for case {case_id}; run `casefile conditions bundle` with the file."
        ) from None
    import hashlib

    if hashlib.sha256(data).hexdigest() != sha256:
        raise IntegrityError(f"The stored selection {sha256[:12]}… of case {case_id} does not match its SHA-256.")
    return data.decode("utf-8")
