"""Country conditions: the library, proposals, editions, bundles and their pin cites in real packets.

Everything runs on the demo's fictional library (tasks/demo/data/conditions: the fictional country Valdoria, XV)
through the real intake, the real index and real PDF rendering, with OCR off (the scanned report is left out here;
tests/test_conditions_slow.py OCRs it). The library is built once per module and copied into each test's home.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from types import ModuleType
from typing import Any

import pikepdf
import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
import pytest
import yaml
from conftest import A_NUMBER, CLIENT_NAME, DEMO_DATA

from casefile.tasks.conditions.bundle import BundleResult, load_bundle_manifest, render_bundle, source_table_markdown
from casefile.tasks.conditions.compare import compare_editions
from casefile.tasks.conditions.config import load_topics
from casefile.tasks.conditions.library import (
    add_source,
    add_translation,
    check_meta,
    list_sources,
    read_metadata_csv,
)
from casefile.tasks.conditions.packet import labels_after
from casefile.tasks.conditions.passages import find_quote, page_words
from casefile.tasks.conditions.propose import dump_selection, propose
from casefile.tasks.conditions.selection import parse_selection
from casefile.tasks.core.errors import LibraryMetadataInvalid, SelectionInvalid, ValidationError
from casefile.tasks.core.runtime import Runtime, get_runtime, reset_runtimes
from casefile.tasks.core.storage import original_key
from casefile.tasks.documents.words import text_layer_words
from casefile.tasks.packets.translations import TranslatorInfo

LIBRARY = DEMO_DATA / "conditions"
TRANSLATIONS = DEMO_DATA / "translations"
TODAY = date(2026, 12, 7)
SERIES = "Country Reports on Human Rights Practices"
SCAN = "hrw_2022_valdoria_scan.pdf"
TRANSLATOR = TranslatorInfo(
    "Sam Translator (fictional)", "2 Example Avenue; Queens, NY 11100", "(718) 555-0199", signed_electronically=True
)
REASON = "the 2024 edition omits the section on women and domestic violence"


def _load_generate() -> ModuleType:
    spec = importlib.util.spec_from_file_location("generate", Path(__file__).parent / "resources" / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


generate = _load_generate()


# The library, built once ------------------------------------------------------------------------------------------
def _environment(mp: pytest.MonkeyPatch, home: Path) -> None:
    mp.setenv("CASEFILE_HOME", str(home))
    mp.setenv("CASEFILE_OCR_ENABLED", "false")
    for name in ("CASEFILE_STORAGE_BACKEND", "CASEFILE_DATABASE_URL", "CASEFILE_CONFIG", "CASEFILE_CONFIG_DIR"):
        mp.delenv(name, raising=False)


@pytest.fixture(scope="module")
def library_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home whose library holds the demo's reports except the scan (no OCR here), and the Spanish report's
    translation; ``ids.json`` maps file names to source ids."""
    home = tmp_path_factory.mktemp("library") / "home"
    with pytest.MonkeyPatch.context() as mp:
        _environment(mp, home)
        reset_runtimes()
        rt = get_runtime()
        ids = {}
        for path, meta in read_metadata_csv(rt, LIBRARY):
            if path.name != SCAN:
                ids[path.name] = add_source(rt, path, meta, actor="test").source_id
        add_translation(
            rt, ids["ovdh_violencia_2024_es.pdf"], TRANSLATIONS / "ovdh_violencia_2024_es.en.pdf", TRANSLATOR, TODAY
        )
        (home / "ids.json").write_text(json.dumps(ids))
        reset_runtimes()
    return home


@dataclass
class Library:
    rt: Runtime
    ids: dict[str, str]  # file name -> source id
    home: Path

    def name(self, source_id: str) -> str:
        return next(name for name, sid in self.ids.items() if sid == source_id)

    def case(self, **overrides: Any) -> str:
        from casefile.tasks.cases.case import create_case
        from casefile.tasks.demo.scenario import fictional_case

        with self.rt.catalog.session() as session:
            return create_case(session, fictional_case(**overrides)).id


@pytest.fixture
def lib(library_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Library]:
    home = tmp_path / "home"
    shutil.copytree(library_home, home)
    _environment(monkeypatch, home)
    reset_runtimes()
    yield Library(get_runtime(), json.loads((home / "ids.json").read_text()), home)
    reset_runtimes()


def _selection(
    lib: Library, case_id: str, topics: tuple[str, ...], edit: Callable[[dict[str, Any]], None] | None = None
) -> str:
    """The proposal for the case as a selection file, edited by ``edit`` as a person would (on the parsed YAML)."""
    proposal = propose(lib.rt, case_id, "XV", topics, today=TODAY)
    text = dump_selection(proposal, lib.rt.config(load_topics))
    if edit is None:
        return text
    data = yaml.safe_load(text)
    edit(data)
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def _entry(lib: Library, data: dict[str, Any], name: str) -> dict[str, Any]:
    entry: dict[str, Any] = next(e for e in data["sources"] if e["source"] == lib.ids[name])
    return entry


def _keep_older_edition(lib: Library) -> Callable[[dict[str, Any]], None]:
    def edit(data: dict[str, Any]) -> None:
        entry = _entry(lib, data, "state_2023_valdoria.pdf")
        entry["keep"], entry["reason"] = True, REASON
        for passage in entry["passages"]:
            passage["keep"] = passage["topic"] == "domestic-violence"

    return edit


def _bundle(lib: Library, case_id: str, text: str) -> BundleResult:
    return render_bundle(lib.rt, parse_selection(lib.rt, text, "selection.yaml", case_id, today=TODAY))


# 1. Library ---------------------------------------------------------------------------------------------------------
def test_a_report_is_kept_byte_for_byte_once_and_its_metadata_never_changes(lib: Library) -> None:
    report = LIBRARY / "state_2024_valdoria.pdf"
    source_id = lib.ids[report.name]
    assert lib.rt.store.get_bytes(original_key(hashlib.sha256(report.read_bytes()).hexdigest())) == report.read_bytes()

    meta, problems = check_meta(
        lib.rt,
        {"country": "XV", "publisher": "Someone else", "series": "Other", "edition": "1999", "published": "1999-01-01"},
        today=TODAY,
    )
    assert problems == [] and meta is not None
    again = add_source(lib.rt, report, meta)
    assert (again.outcome, again.source_id) == ("duplicate", source_id)
    row = next(r for r in list_sources(lib.rt, today=TODAY) if r["id"] == source_id)
    assert (row["publisher"], row["edition"], row["published"]) == ("US Department of State", "2024", "2025-08-12")


def test_every_page_has_its_text_and_word_boxes_from_the_text_layer(lib: Library) -> None:
    from casefile.tasks.conditions.library import show_source

    row = show_source(lib.rt, lib.ids["state_2023_valdoria.pdf"], today=TODAY)
    assert row["pages"] == 6 and row["country"] == "XV" and row["language"] == "en"
    assert all(p["text_source"] == "text-layer" and p["words"] > 10 for p in row["page_list"])
    assert row["url"] == "https://www.example.org/fictional/state/2023-valdoria" and row["accessed"] == "2026-11-02"
    spanish = show_source(lib.rt, lib.ids["ovdh_violencia_2024_es.pdf"], today=TODAY)
    assert spanish["language"] == "es" and spanish["translations"][0]["pages"] == [1, 2]


def test_a_saved_web_page_is_archived_as_a_pdf_with_its_url_and_access_date(lib: Library) -> None:
    from casefile.tasks.core.catalog import ConditionSource

    page = LIBRARY / "valdoria_daily_2025_war_tax.html"
    with lib.rt.catalog.session() as session:
        source = session.get(ConditionSource, lib.ids[page.name])
        assert source is not None
        assert (source.kind, source.url) == ("html", "https://news.example.org/valdoria/bus-drivers-war-tax")
        original, archived = source.original_key, source.normalised_key
        text = source.pages[0].text or ""
    assert lib.rt.store.get_bytes(original) == page.read_bytes()  # the page as saved is the original
    assert lib.rt.store.get_bytes(archived).startswith(b"%PDF-")
    assert "Archived copy of https://news.example.org/valdoria/bus-drivers-war-tax" in text
    assert "accessed 2025-10-02" in text and "war tax to the gang Los Cuervos" in text
    assert "scripts never run" not in text


def test_a_saved_web_page_needs_its_url_and_access_date(lib: Library, tmp_path: Path) -> None:
    page = tmp_path / "other.html"
    page.write_text("<html><body><p>Another fictional article.</p></body></html>", encoding="utf-8")
    meta, _ = check_meta(
        lib.rt,
        {"country": "XV", "publisher": "P", "series": "S", "edition": "1", "published": "2025-01-01"},
        today=TODAY,
    )
    assert meta is not None
    with pytest.raises(ValidationError, match="--url and --accessed"):
        add_source(lib.rt, page, meta)


def test_a_metadata_csv_is_checked_line_by_line_before_anything_is_added(lib: Library, tmp_path: Path) -> None:
    folder = tmp_path / "reports"
    folder.mkdir()
    shutil.copy(LIBRARY / "unhcr_2023_valdoria.pdf", folder / "a.pdf")
    (folder / "sources.csv").write_text(
        "file,country,publisher,series,title,edition,published,url,accessed,lang\n"
        "a.pdf,ZZ,UNHCR,Guidelines,,2023,2023-09-15,,,en\n"
        "missing.pdf,XV,UNHCR,Guidelines,,2023,2023-13-01,ftp://x,,english\n",
        encoding="utf-8",
    )
    with pytest.raises(LibraryMetadataInvalid) as caught:
        read_metadata_csv(lib.rt, folder)
    problems = caught.value.problems
    assert any(p.startswith("line 2:") and "ZZ" in p for p in problems)
    assert {"line 3: no file 'missing.pdf'", "line 3: published '2023-13-01'", "line 3: url", "line 3: lang"} <= {
        p[: len(prefix)]
        for p in problems
        for prefix in ("line 3: no file 'missing.pdf'", "line 3: published '2023-13-01'", "line 3: url", "line 3: lang")
    }


# 2. Topics and countries as data ------------------------------------------------------------------------------------
def test_a_practice_adds_a_topic_and_a_country_without_code(
    lib: Library, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config"
    shutil.copytree(lib.rt.settings.config_dir, config)
    with (config / "conditions" / "topics.toml").open("a", encoding="utf-8") as fh:
        fh.write(
            '\n[topics.transport-workers]\ntitle = "Bus drivers"\nelements = ["persecution"]\n'
            'en = ["bus drivers"]\nes = ["conductores de autobús"]\n'
        )
    with (config / "conditions" / "countries.toml").open("a", encoding="utf-8") as fh:
        fh.write('\n[countries.XW]\nen = "Westland (fictional)"\nes = "Westlandia (ficticio)"\n')
    monkeypatch.setenv("CASEFILE_CONFIG_DIR", str(config))
    reset_runtimes()
    rt = get_runtime()
    with rt.catalog.session() as session:
        from casefile.tasks.cases.case import create_case
        from casefile.tasks.demo.scenario import fictional_case

        case_id = create_case(session, fictional_case()).id
    proposal = propose(rt, case_id, "XV", ["transport-workers"], today=TODAY)
    assert lib.name(proposal.passages()[0].source_id) == "valdoria_daily_2025_war_tax.html"
    assert {p.element for p in proposal.passages()} == {"persecution"}
    assert "bus drivers" in proposal.passages()[0].quote.lower()
    meta, problems = check_meta(
        rt, {"country": "xw", "publisher": "P", "series": "S", "edition": "1", "published": "2025-01-01"}, today=TODAY
    )
    assert problems == [] and meta is not None and meta.country == "XW"


# 3. Proposal ----------------------------------------------------------------------------------------------------------
def _ranked_pages(lib: Library, case_id: str, topic: str) -> list[tuple[str, int]]:
    proposal = propose(lib.rt, case_id, "XV", [topic], today=TODAY)
    pages: list[tuple[str, int]] = []
    for passage in proposal.passages():
        key = (lib.name(passage.source_id), passage.page)
        if key not in pages:
            pages.append(key)
    return pages


def test_the_ranking_order_for_known_queries(lib: Library) -> None:
    case_id = lib.case()
    # Domestic violence: the State Department's 2023 section first (relevance and authority), then the Spanish NGO's
    # report (found by the topic's Spanish terms; recent but of default authority), then UNHCR; the 2024 edition,
    # which dropped the section, has nothing.
    assert _ranked_pages(lib, case_id, "domestic-violence") == [
        ("state_2023_valdoria.pdf", 4),
        ("ovdh_violencia_2024_es.pdf", 1),
        ("ovdh_violencia_2024_es.pdf", 2),
        ("unhcr_2023_valdoria.pdf", 2),
        ("unhcr_2023_valdoria.pdf", 1),
    ]
    # Gangs: the same page of both editions, the newer first (recency), then UNHCR, then the newspaper.
    assert _ranked_pages(lib, case_id, "gangs")[:4] == [
        ("state_2024_valdoria.pdf", 3),
        ("state_2023_valdoria.pdf", 3),
        ("unhcr_2023_valdoria.pdf", 2),
        ("valdoria_daily_2025_war_tax.html", 1),
    ]


def test_the_weights_in_config_change_the_ranking(
    lib: Library, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config"
    shutil.copytree(lib.rt.settings.config_dir, config)
    ranking = config / "conditions" / "ranking.toml"
    text = ranking.read_text(encoding="utf-8")
    text = text.replace("relevance = 0.6", "relevance = 0.05").replace("recency = 0.25", "recency = 1.0")
    ranking.write_text(text.replace("authority = 0.15", "authority = 0.0"), encoding="utf-8")
    monkeypatch.setenv("CASEFILE_CONFIG_DIR", str(config))
    reset_runtimes()
    lib.rt = get_runtime()
    # Recency first: the Spanish report of November 2024 now ranks above the 2023 edition's section.
    assert _ranked_pages(lib, lib.case(), "domestic-violence")[:2] == [
        ("ovdh_violencia_2024_es.pdf", 1),
        ("ovdh_violencia_2024_es.pdf", 2),
    ]


def test_each_proposed_passage_has_its_source_edition_page_sentence_and_element(lib: Library) -> None:
    case_id = lib.case()
    proposal = propose(lib.rt, case_id, "XV", ["gangs", "domestic-violence", "state-protection"], today=TODAY)
    text = dump_selection(proposal, lib.rt.config(load_topics))
    data = yaml.safe_load(text)
    assert data["case"] == case_id and data["country"] == "XV"
    first = data["sources"][0]
    assert first["source"] == lib.ids["state_2024_valdoria.pdf"] and first["keep"] is True
    assert "# US Department of State, 2024 Country Reports on Human Rights Practices: Valdoria, 2024 edition" in text
    passage = next(p for p in first["passages"] if p["page"] == 3 and p["quote"].startswith("Los Cuervos killed"))
    assert passage["element"] == "persecution" and passage["topic"] == "gangs" and passage["keep"] is True
    assert passage["quote"] == (
        "Los Cuervos killed people who refused to pay extortion or to join the gang, and carried out forced "
        "recruitment of children as young as twelve."
    )
    collusion = next(p for p in first["passages"] if p["quote"].startswith("Police colluded"))
    assert collusion["element"] == "unable-unwilling"
    # The proposal as written is a valid selection (stale sources proposed but not kept).
    checked = parse_selection(lib.rt, text, "selection.yaml", case_id, today=TODAY)
    assert lib.ids["state_2023_valdoria.pdf"] not in {s.source_id for s in checked.sources}


def test_the_page_budget_and_since_bound_the_proposal(lib: Library) -> None:
    case_id = lib.case()
    small = propose(lib.rt, case_id, "XV", ["gangs", "domestic-violence"], max_pages=2, today=TODAY)
    assert small.pages == 2
    assert any(not p.keep for s in small.sources for p in s.passages)  # proposed, past the budget: keep false
    recent = propose(lib.rt, case_id, "XV", ["gangs"], since=date(2025, 1, 1), today=TODAY)
    assert {lib.name(s.source["id"]) for s in recent.sources} == {
        "state_2024_valdoria.pdf",
        "valdoria_daily_2025_war_tax.html",
    }


def test_search_finds_spanish_pages_and_filters_by_country_and_date(lib: Library) -> None:
    from casefile.tasks.conditions.index import search_library

    hits = search_library(lib.rt, "violencia domestica", country="XV")
    assert [(lib.name(h["source_id"]), h["page"]) for h in hits] == [("ovdh_violencia_2024_es.pdf", 1)]
    assert "[violencia] [doméstica]" in hits[0]["snippet"].lower()
    assert search_library(lib.rt, "Cuervos", country="HN") == []
    since = search_library(lib.rt, "Cuervos", country="XV", since=date(2025, 1, 1), limit=50)
    assert {lib.name(h["source_id"]) for h in since} == {"state_2024_valdoria.pdf", "valdoria_daily_2025_war_tax.html"}


# 4. Editions ----------------------------------------------------------------------------------------------------------
def test_compare_finds_the_section_the_newer_edition_dropped(lib: Library) -> None:
    doc = compare_editions(lib.rt, "XV", "2023", "2024", series=SERIES)
    topics = {t["topic"]: t for t in doc["topics"]}
    dv = topics["domestic-violence"]
    assert dv["dropped"] and dv["second"] == 0 and {p["page"] for p in dv["only_in_first"]} == {4}
    assert any("protection orders" in p["quote"] for p in dv["only_in_first"])
    assert topics["lgbtq"]["dropped"] and topics["corruption"]["dropped"]
    # What both editions say is not reported as changed.
    assert not topics["gangs"]["dropped"] and topics["gangs"]["only_in_second"] == []
    assert all(p["page"] == 5 for p in topics["gangs"]["only_in_first"])
    assert {"Women", "Corruption in Government"} <= {h["heading"] for h in doc["headings_only_in_first"]}
    assert [h["heading"] for h in doc["headings_only_in_second"]] == [
        "2024 Country Reports on Human Rights Practices: Valdoria"  # its title: nothing the 2023 edition lacks
    ]
    # Source ids work as well as editions.
    by_id = compare_editions(
        lib.rt, "XV", lib.ids["state_2023_valdoria.pdf"], lib.ids["state_2024_valdoria.pdf"], topic_keys=["lgbtq"]
    )
    assert [t["topic"] for t in by_id["topics"]] == ["lgbtq"] and by_id["topics"][0]["dropped"]


def test_superseded_and_old_sources_are_stale(lib: Library) -> None:
    stale = {lib.name(r["id"]): r["stale_reasons"] for r in list_sources(lib.rt, stale_only=True, today=TODAY)}
    assert stale == {
        "state_2023_valdoria.pdf": [f"superseded by the 2024 edition ({lib.ids['state_2024_valdoria.pdf']})"]
    }
    later = {lib.name(r["id"]) for r in list_sources(lib.rt, stale_only=True, today=date(2028, 1, 1))}
    assert "unhcr_2023_valdoria.pdf" in later  # published 2023-09-15: older than 4 years by then


def test_keeping_a_stale_source_needs_a_reason_which_the_index_prints(lib: Library) -> None:
    case_id = lib.case()

    def without_reason(data: dict[str, Any]) -> None:
        _keep_older_edition(lib)(data)
        _entry(lib, data, "state_2023_valdoria.pdf")["reason"] = ""

    text = _selection(lib, case_id, ("gangs", "domestic-violence"), without_reason)
    line = next(n for n, s in enumerate(text.splitlines(), 1) if lib.ids["state_2023_valdoria.pdf"] in s)
    with pytest.raises(SelectionInvalid) as caught:
        parse_selection(lib.rt, text, "selection.yaml", case_id, today=TODAY)
    assert caught.value.problems == [
        f"line {line}: source {lib.ids['state_2023_valdoria.pdf']} is stale (superseded by the 2024 edition "
        f"({lib.ids['state_2024_valdoria.pdf']})); keeping it needs a reason, printed in the bundle's index "
        '(reason: "the newer edition omits ...")'
    ]
    result = _bundle(lib, case_id, _selection(lib, case_id, ("gangs", "domestic-violence"), _keep_older_edition(lib)))
    preview = lib.home / "preview.pdf"
    lib.rt.store.download(result.preview_key, preview)
    first = _page_text(preview, 0)
    assert f"2023 edition filed: {REASON}" in " ".join(first.split())


# Selection file problems, with their lines ----------------------------------------------------------------------------
def test_every_problem_of_an_edited_selection_is_listed_with_its_line(lib: Library) -> None:
    case_id = lib.case()
    text = _selection(lib, case_id, ("gangs",))
    lines = text.splitlines()
    first_quote = next(n for n, s in enumerate(lines) if s.strip().startswith("quote:"))
    lines[first_quote] = '        quote: "Words that are not on this page at all."'
    first_element = next(n for n, s in enumerate(lines) if s.strip().startswith("element:"))
    lines[first_element] = "        element: bravery"
    first_pages = next(n for n, s in enumerate(lines) if s.strip() == "pages: auto")
    lines[first_pages] = '    pages: "2-99"'
    lines.insert(first_pages + 1, "    colour: blue")
    with pytest.raises(SelectionInvalid) as caught:
        parse_selection(lib.rt, "\n".join(lines), "selection.yaml", case_id, today=TODAY)
    problems = caught.value.problems
    assert any(p.startswith(f"line {first_pages + 2}: unknown field(s) colour") for p in problems)
    assert any(p.startswith(f"line {first_pages + 1}: pages 2-99 are outside the source's pages 1-4") for p in problems)
    assert any(p.startswith(f"line {first_element + 2}: element 'bravery'") for p in problems)
    assert any(p.startswith(f"line {first_quote + 2}: the quote is not on page") for p in problems)
    with pytest.raises(SelectionInvalid, match="line 1"):
        parse_selection(lib.rt, "case: [unclosed", "selection.yaml", case_id, today=TODAY)
    other = lib.case()
    with pytest.raises(SelectionInvalid, match=f"is for case {case_id}, not {other}"):
        parse_selection(lib.rt, text, "selection.yaml", other, today=TODAY)


def test_a_shortened_quote_with_an_ellipsis_is_found_and_marked(lib: Library) -> None:
    words = page_words(None, "Los Cuervos killed people who refused to pay extortion or to join the gang.")
    assert find_quote(words, "Los Cuervos killed ... to join the gang") == (0, len(words))
    assert find_quote(words, "join the gang ... Los Cuervos") is None


# 5. Bundle: marks where the words are --------------------------------------------------------------------------------
def _page_text(pdf: Path, index: int) -> str:
    document = pdfium.PdfDocument(pdf)
    try:
        page = document[index]
        textpage = page.get_textpage()
        text = str(textpage.get_text_range())
        textpage.close()
        page.close()
        return text
    finally:
        document.close()


def _drawn_rectangles(pdf: Path, index: int) -> list[tuple[float, float, float, float]]:
    """The bounds of the paths drawn in the page's own content (not inside the placed source page)."""
    document = pdfium.PdfDocument(pdf)
    try:
        page = document[index]
        found = [
            tuple(float(v) for v in obj.get_bounds())
            for obj in page.get_objects(filter=(pdfium_c.FPDF_PAGEOBJ_PATH,), max_depth=1)
            if obj.level == 0
        ]
        page.close()
        return found  # type: ignore[return-value]
    finally:
        document.close()


def test_marks_are_drawn_around_the_words_of_each_passage_and_survive_grayscale(lib: Library) -> None:
    case_id = lib.case()
    result = _bundle(lib, case_id, _selection(lib, case_id, ("gangs",)))
    manifest = load_bundle_manifest(lib.rt, case_id, result.bundle_id)
    exhibit = manifest["exhibits"][0]
    assert exhibit["source_id"] == lib.ids["state_2024_valdoria.pdf"]
    pdf = lib.home / "exhibit.pdf"
    lib.rt.store.download(exhibit["key"], pdf, expected_sha256=exhibit["sha256"])
    passage = next(p for p in exhibit["passages"] if p["quote"].startswith("Los Cuervos killed"))
    index = passage["exhibit_page"] - 1
    with pikepdf.open(pdf) as doc:
        height = float(doc.pages[index].mediabox[3])
    # The words as the rendered page gives them (its own text, read back), and the rectangles drawn on it.
    found = text_layer_words(pdf, [index + 1])[index + 1]
    words = page_words([[w.text, 0, w.x0, w.y0, w.x1, w.y1] for w in found], None)
    span = find_quote(words, passage["quote"])
    assert span is not None
    drawn = _drawn_rectangles(pdf, index)
    boxes = [r for r in drawn if r[2] - r[0] > 50 and r[3] - r[1] < 30]  # line boxes (the bracket is tall, narrow)
    assert boxes
    for word in words[span[0] : span[1]]:
        assert word.box is not None
        x0, top, x1, bottom = word.box
        y0, y1 = height - bottom, height - top  # PDF points, origin bottom-left
        assert any(r[0] - 0.5 <= x0 and x1 <= r[2] + 0.5 and r[1] - 0.5 <= y0 and y1 <= r[3] + 0.5 for r in boxes), (
            word.text
        )
    # Each box is tight: no taller than a line and its padding, and a word of the passage is inside every box drawn
    # for it.
    mine = [r for r in boxes if any(r[1] <= height - w.box[3] + 0.5 for w in words[span[0] : span[1]] if w.box)]
    assert all(r[3] - r[1] < 22 for r in mine)
    # A bracket runs in the left margin beside the passage.
    assert any(r[2] - r[0] < 8 and r[3] - r[1] > 20 and r[0] < min(b[0] for b in boxes) - 3 for r in drawn)
    # Printed in black into the page content: visible in a grayscale rendering, on every box edge.
    document = pdfium.PdfDocument(pdf)
    try:
        scale = 2.0
        image = document[index].render(scale=scale, grayscale=True).to_pil()
    finally:
        document.close()
    for x0, y0, x1, y1 in boxes:
        mid_x = (x0 + x1) / 2
        samples = [
            image.getpixel((round(mid_x * scale), round((height - y) * scale) + dy))
            for y in (y0, y1)
            for dy in (-1, 0, 1)
        ]
        assert min(int(str(v)) for v in samples) < 100


def test_each_source_is_cited_on_its_first_page_and_excerpts_say_so(lib: Library) -> None:
    case_id = lib.case()

    def excerpt(data: dict[str, Any]) -> None:
        entry = _entry(lib, data, "state_2024_valdoria.pdf")
        entry["pages"] = "3-4"
        entry["passages"] = [p for p in entry["passages"] if p["page"] in (3, 4)]

    result = _bundle(lib, case_id, _selection(lib, case_id, ("gangs",), excerpt))
    manifest = load_bundle_manifest(lib.rt, case_id, result.bundle_id)
    exhibit = next(e for e in manifest["exhibits"] if e["source_id"] == lib.ids["state_2024_valdoria.pdf"])
    assert exhibit["pages"] == [3, 4] and exhibit["excerpt"] == "Excerpt: pages 3\u20134 of 4"
    pdf = lib.home / "excerpt.pdf"
    lib.rt.store.download(exhibit["key"], pdf)
    first = " ".join(_page_text(pdf, 0).split())
    assert "US Department of State, 2024 Country Reports on Human Rights Practices: Valdoria (2024 edition)" in first
    assert "https://www.example.org/fictional/state/2024-valdoria (accessed November 2, 2026)" in first
    assert "Excerpt: pages 3\u20134 of 4" in first and "The gang Los Cuervos" in first
    assert "page 4 of 4" in " ".join(_page_text(pdf, 1).split())


# 6. Frozen per case ---------------------------------------------------------------------------------------------------
def test_rendering_the_same_selection_again_gives_the_same_bytes(lib: Library) -> None:
    case_id = lib.case()
    text = _selection(lib, case_id, ("gangs", "domestic-violence"), _keep_older_edition(lib))
    first = _bundle(lib, case_id, text)
    again = render_bundle(lib.rt, parse_selection(lib.rt, text, "s.yaml", case_id, today=TODAY), force=True)
    assert again.bundle_id == first.bundle_id and not again.reused
    assert [e["sha256"] for e in again.exhibits] == [e["sha256"] for e in first.exhibits]
    assert again.preview_sha256 == first.preview_sha256
    manifest = load_bundle_manifest(lib.rt, case_id, first.bundle_id)
    head = manifest["exhibits"][0]
    assert (head["source_id"], head["source_sha256"], head["edition"]) == (
        lib.ids["state_2024_valdoria.pdf"],
        hashlib.sha256((LIBRARY / "state_2024_valdoria.pdf").read_bytes()).hexdigest(),
        "2024",
    )
    # Comments and scores do not change a bundle; a kept passage does.
    assert _bundle(lib, case_id, text.replace("score:", "score: 0 #")).bundle_id == first.bundle_id


# Packets: numbered exhibits, pin cites, translations ------------------------------------------------------------------
def _build(lib: Library, case_id: str, **options: Any) -> dict[str, Any]:
    from casefile.tasks.demo.scenario import DEMO_DHS_ADDRESS, DEMO_DHS_OFFICE
    from casefile.tasks.packets.build import BuildOptions, build_packet
    from casefile.tasks.packets.manifest import load_manifest

    # The fictional office served, for the packaged fictional practice (on purpose, as the demo).
    dhs = {"service_office": DEMO_DHS_OFFICE, "service_address": DEMO_DHS_ADDRESS, "fictional_practice": True}
    result = build_packet(
        lib.rt, case_id, BuildOptions(service_date=date(2027, 2, 1), **{**dhs, **options}), today=TODAY
    )
    manifest = load_manifest(lib.rt, case_id, result.build_id)
    pdf = lib.home / f"{result.build_id}.pdf"
    lib.rt.store.download(result.parts[0].key, pdf)
    return {"result": result, "manifest": manifest, "pdf": pdf}


def _stamped_number(pdf: Path, index: int) -> str:
    document = pdfium.PdfDocument(pdf)
    try:
        page = document[index]
        textpage = page.get_textpage()
        width = page.get_width()
        band = textpage.get_text_bounded(left=0, bottom=0, right=width, top=54)
        textpage.close()
        page.close()
        return str(band).strip()
    finally:
        document.close()


def _check_pins(built: dict[str, Any]) -> list[int]:
    manifest, pdf = built["manifest"], built["pdf"]
    conditions = manifest["conditions"]
    first, last = conditions["index_pages"]
    index_text = " ".join(" ".join(_page_text(pdf, i - 1) for i in range(first, last + 1)).split())
    pins = []
    for row in conditions["pins"]:
        pin = int(row["pin"])
        # The index prints it ...
        assert f"Exhibit {row['label']}, page {pin}" in index_text
        # ... and it is the number stamped on the page that holds the passage.
        assert _stamped_number(pdf, pin - 1) == str(pin)
        page_text = " ".join(_page_text(pdf, pin - 1).split())
        assert " ".join(row["quote"].split()[:6]) in page_text
        pins.append(pin)
    return pins


def test_pin_cites_equal_the_stamped_page_numbers_after_a_client_exhibit_is_added_ahead(lib: Library) -> None:
    from casefile.tasks.documents import pipeline
    from casefile.tasks.packets.exhibits import Plan, PlanRow, save_plan

    case_id = lib.case()
    _bundle(lib, case_id, _selection(lib, case_id, ("gangs", "domestic-violence"), _keep_older_edition(lib)))
    before = _build(lib, case_id)
    assert before["manifest"]["conditions"]["exhibits"] == ["1", "2", "3", "4", "5"]
    pins_before = _check_pins(before)

    # A client exhibit (a 2-page record) is added ahead of the bundle: it is lettered, the bundle keeps its numbers,
    # and every pin cite moves by its tab page and its 2 pages.
    result = pipeline.ingest_file(lib.rt, case_id, DEMO_DATA / "sample" / "medical_record_en.pdf", "medical")
    document = pipeline.taken_in(result)
    assert document is not None
    save_plan(lib.rt, Plan(case_id, [PlanRow("client", document, "Emergency room record")]), "plan")
    after = _build(lib, case_id)
    assert [e["label"] for e in after["manifest"]["exhibits"]][:2] == ["A", "1"]
    pins_after = _check_pins(after)
    assert pins_after == [p + 3 for p in pins_before]
    assert not [w for w in after["result"].warnings if "outline" in w]


def test_the_library_changing_later_never_changes_a_built_packet(lib: Library, tmp_path: Path) -> None:
    case_id = lib.case()
    _bundle(lib, case_id, _selection(lib, case_id, ("gangs",)))
    first = _build(lib, case_id)
    # A 2025 edition arrives: a new source in the same series; the 2024 edition is now stale.
    newer = tmp_path / "state_2025_valdoria.pdf"
    newer.write_bytes(generate.conditions_report_pdf_bytes(generate.STATE_2024_XV, title="2025 (fictional)"))
    meta, _ = check_meta(
        lib.rt,
        {
            "country": "XV",
            "publisher": "US Department of State",
            "series": SERIES,
            "edition": "2025",
            "published": "2026-08-01",
        },
        today=TODAY,
    )
    assert meta is not None
    add_source(lib.rt, newer, meta)
    second = _build(lib, case_id)
    assert second["result"].build_id == first["result"].build_id and second["result"].reused
    assert second["pdf"].read_bytes() == first["pdf"].read_bytes()


def test_spanish_sources_go_through_the_translation_gate(lib: Library) -> None:
    from casefile.tasks.conditions.library import translations_of
    from casefile.tasks.core.catalog import ConditionTranslation
    from casefile.tasks.packets.build import MissingTranslations

    case_id = lib.case()
    # Without a translation of the pages cited, the packet is refused, naming the exhibit.
    with lib.rt.catalog.session() as session:
        for row in translations_of(session, lib.ids["ovdh_violencia_2024_es.pdf"]):
            session.delete(session.get(ConditionTranslation, row.id))
    untranslated = _bundle(lib, case_id, _selection(lib, case_id, ("domestic-violence",)))
    assert untranslated.missing_translations == [lib.ids["ovdh_violencia_2024_es.pdf"]]
    with pytest.raises(MissingTranslations) as caught:
        _build(lib, case_id)
    assert [doc for _label, doc, _lang in caught.value.missing] == [lib.ids["ovdh_violencia_2024_es.pdf"]]
    # With the library's translation of those pages, the packet has it behind the excerpt, with its certificate.
    add_translation(
        lib.rt, lib.ids["ovdh_violencia_2024_es.pdf"], TRANSLATIONS / "ovdh_violencia_2024_es.en.pdf", TRANSLATOR, TODAY
    )
    _bundle(lib, case_id, _selection(lib, case_id, ("domestic-violence",)))
    built = _build(lib, case_id)
    row = next(r for r in built["manifest"]["inputs"] if r["document_id"] == lib.ids["ovdh_violencia_2024_es.pdf"])
    assert row["translation"] is not None and row["translation"]["certificate_pages"] != [0, 0]


def test_uscis_letters_the_bundle_after_the_client_exhibits_and_counts_pins_per_exhibit(lib: Library) -> None:
    assert labels_after(["A", "B"], ["client", "client"], 2, "numbers") == ["1", "2"]
    assert labels_after(["A", "C"], ["client", "client"], 2, "numbers") == ["1", "2"]  # the advocate's own letters
    assert labels_after(["A", "1"], ["client", "country"], 1, "numbers") == ["2"]
    assert labels_after(["A", "Q"], ["client", "client"], 2, "letters") == ["R", "S"]
    from test_packet import USCIS_LOCKBOX, _uscis_case

    case_id = lib.case()
    _uscis_case(lib.rt, case_id)  # the client's role on a USCIS filing: petitioner
    _bundle(lib, case_id, _selection(lib, case_id, ("gangs",)))
    built = _build(lib, case_id, profile="uscis", recipient=USCIS_LOCKBOX)
    labels = [e["label"] for e in built["manifest"]["exhibits"]]
    assert labels == ["A", "B", "C"]  # the three sources kept (the superseded edition is not)
    pins = built["manifest"]["conditions"]["pins"]
    first = next(p for p in pins if p["label"] == "A" and p["exhibit_page"] == 3)
    assert first["pin"] == "3"  # no tab pages on USCIS: the third page of the exhibit, as its label stamp says


# No client data in the library ----------------------------------------------------------------------------------------
def test_no_client_name_in_the_library_tables_or_the_flow_artifact(lib: Library) -> None:
    from sqlalchemy import text

    case_id = lib.case()
    result = _bundle(lib, case_id, _selection(lib, case_id, ("gangs", "domestic-violence"), _keep_older_edition(lib)))
    _build(lib, case_id)
    needles = [CLIENT_NAME, CLIENT_NAME.split()[0], "Quiroga", A_NUMBER, A_NUMBER.replace("-", "")]
    with lib.rt.catalog.engine.connect() as conn:
        for table in ("condition_sources", "condition_pages", "condition_translations", "condition_bundles"):
            rows = conn.execute(text(f"SELECT * FROM {table}")).all()  # noqa: S608 - our own table names
            assert rows, table
            dump = json.dumps([list(map(str, r)) for r in rows])
            assert not [n for n in needles if n in dump], table
    artifact = source_table_markdown(result)
    assert result.bundle_id in artifact and lib.ids["state_2024_valdoria.pdf"] in artifact
    assert not [n for n in needles if n in artifact] and REASON not in artifact
    assert not re.search(r"\d{3}-\d{3}-\d{3}", json.dumps(result.summary()))


def test_a_source_with_wrong_metadata_is_removed_and_added_again_while_bundles_keep_it(lib: Library) -> None:
    from casefile.tasks.conditions.index import search_library
    from casefile.tasks.conditions.library import remove_source

    case_id = lib.case()
    _bundle(lib, case_id, _selection(lib, case_id, ("gangs",)))
    built = _build(lib, case_id)
    wrong = lib.ids["valdoria_daily_2025_war_tax.html"]
    assert remove_source(lib.rt, wrong)["removed"]
    assert wrong not in {r["id"] for r in list_sources(lib.rt, today=TODAY)}
    assert wrong not in {h["source_id"] for h in search_library(lib.rt, "war tax", country="XV")}
    meta, _ = check_meta(
        lib.rt,
        {
            "country": "XV",
            "publisher": "Valdoria Daily",
            "series": "News",
            "edition": "2025-09-30",
            "published": "2025-09-30",
            "url": "https://news.example.org/valdoria/bus-drivers-war-tax",
            "accessed": "2025-10-02",
        },
        today=TODAY,
    )
    assert meta is not None
    again = add_source(lib.rt, LIBRARY / "valdoria_daily_2025_war_tax.html", meta)
    assert again.outcome == "added" and again.source_id != wrong
    # The packet built from the bundle is the same: the bundle holds its own copies.
    rebuilt = _build(lib, case_id)
    assert rebuilt["result"].build_id == built["result"].build_id


def test_a_source_left_out_of_the_index_is_indexed_at_the_next_search(lib: Library) -> None:
    from casefile.tasks.conditions.index import library_index, search_library
    from casefile.tasks.core.catalog import ConditionSource

    source_id = lib.ids["unhcr_2023_valdoria.pdf"]
    library_index(lib.rt).delete_document(source_id)  # as if the index write had been refused
    with lib.rt.catalog.session() as session:
        row = session.get(ConditionSource, source_id)
        assert row is not None
        row.indexed_at = None
    hits = search_library(lib.rt, '"internal flight"', country="XV")
    assert [h["source_id"] for h in hits] == [source_id]


def test_a_passage_on_a_page_without_word_boxes_is_cited_and_reported_unmarked(lib: Library) -> None:
    from casefile.tasks.core.catalog import ConditionPage

    source_id = lib.ids["unhcr_2023_valdoria.pdf"]
    with lib.rt.catalog.session() as session:
        page = session.get(ConditionPage, (source_id, 3))
        assert page is not None
        page.words_json = None  # as a page whose text came without boxes
    case_id = lib.case()
    result = _bundle(lib, case_id, _selection(lib, case_id, ("gangs", "internal-relocation")))
    assert f"{source_id}: page 3" in result.unmarked
    assert not [u for u in result.unmarked if not u.endswith("page 3")]


def test_an_archived_web_page_reads_nothing_but_the_files_saved_beside_it(tmp_path: Path) -> None:
    from PIL import Image

    from casefile.tasks.conditions.archive import archive_html

    (tmp_path / "page_files").mkdir()
    Image.new("RGB", (40, 40), (0, 0, 0)).save(tmp_path / "page_files" / "photo.png")
    secret = tmp_path.parent / "elsewhere.png"
    Image.new("RGB", (40, 40), (255, 0, 0)).save(secret)
    page = tmp_path / "page.html"
    page.write_text(
        '<html><head><link rel="stylesheet" href="https://example.com/site.css"></head><body>'
        '<p>Saved with its picture.</p><img src="page_files/photo.png">'
        f'<img src="https://example.com/tracker.png"><img src="file://{secret}"><img src="../elsewhere.png">'
        "</body></html>",
        encoding="utf-8",
    )
    out = archive_html(page, tmp_path / "archived.pdf", "https://example.org/article", date(2025, 1, 2))
    with pikepdf.open(out) as pdf:
        images = [name for p in pdf.pages for name in p.get_images()]
    assert len(images) == 1  # the picture saved with the page; nothing from the network or elsewhere on disk
    again = archive_html(page, tmp_path / "again.pdf", "https://example.org/article", date(2025, 1, 2))
    assert again.read_bytes() == out.read_bytes()


def test_a_packet_refuses_a_bundle_whose_manifest_changed_or_vanished(lib: Library) -> None:
    from casefile.tasks.core.errors import BundleNotFound, IntegrityError

    case_id = lib.case()
    result = _bundle(lib, case_id, _selection(lib, case_id, ("gangs",)))
    manifest = load_bundle_manifest(lib.rt, case_id, result.bundle_id)
    manifest["exhibits"][0]["edition"] = "1999"
    lib.rt.store.put_bytes(result.manifest_key, json.dumps(manifest).encode())
    with pytest.raises(IntegrityError):
        _build(lib, case_id)
    lib.rt.store.delete(result.manifest_key)
    with pytest.raises(BundleNotFound):
        _build(lib, case_id)
    # Rendering the selection again restores it (a forced render writes a new manifest, recorded as such).
    again = render_bundle(
        lib.rt, parse_selection(lib.rt, _selection(lib, case_id, ("gangs",)), "s.yaml", case_id, today=TODAY)
    )
    assert again.bundle_id == result.bundle_id and not again.reused
    assert _build(lib, case_id)["manifest"]["conditions"]["bundle_id"] == result.bundle_id
