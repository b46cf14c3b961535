"""The per-page search index (tasks/search/query.py, index.py, sqlite_fts.py and postgres_fts.py): matching, ranking,
filters, snippets, query syntax and its errors, injection attempts, idempotent writes, atomic rebuild, damaged and
busy files.

The contract every backend keeps is tested once, on each backend in turn (the ``index`` and ``make_index`` fixtures:
a real SQLite FTS5 file, then a real PostgreSQL database), and ``test_both_backends_find_the_same_pages`` asserts that
both find exactly the same pages for the same queries. Tests that take a ``SqliteFtsIndex`` test that backend's own
files (damaged, foreign, busy, killed)."""

from __future__ import annotations

import contextlib
import random
import sqlite3
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from casefile.tasks.core.errors import (
    ExitCode,
    QuerySyntaxError,
    QueryTooBroad,
    SearchIndexBusy,
    SearchIndexError,
    ValidationError,
)
from casefile.tasks.search.index import Hit, IndexedDocument, IndexedPage, SearchIndex, normalize_language
from casefile.tasks.search.query import AllOf, AnyOf, Term, parse_query, query_terms
from casefile.tasks.search.sqlite_fts import SqliteFtsIndex, to_fts5

if TYPE_CHECKING:
    from collections.abc import Callable


# Fictional sample pages ------------------------------------------------------------------------------------
DENUNCIA = (
    "DENUNCIA PENAL. El señor declaró ante la Policía Nacional que miembros de la pandilla lo amenazaron. "
    "Le dijeron que era una amenaza de muerte contra su niño si no pagaba la extorsión. El médico de turno "
    "anotó golpes en el brazo."
)
MEDICAL_ES = "Expediente clínico. Diagnóstico: fractura del radio. El MÉDICO indicó reposo. Año 2023."
MEDICAL_EN = (
    "Emergency room record. The patient reports she was beaten by gang members. Diagnosis: fractured left arm; "
    "bruises on the face. The physician noted a prior threat of death."
)
SCHOOL_EN = "School record. The student was expelled after threats from a gang. Attendance: poor."
POLICE_EN_NO_ACCENTS = "Police report: the medico at the clinica confirmed the injuries. Nino of 8 years."

CASE_A, CASE_B = "C-AAAA22", "C-BBBB33"


Doc = tuple[IndexedDocument, list[IndexedPage]]


def _doc(doc_id: str, case_id: str, doc_type: str, *texts: str, language: str | None = None) -> Doc:
    pages = [IndexedPage(n, text, language) for n, text in enumerate(texts, 1)]
    return IndexedDocument(doc_id, case_id, doc_type), pages


def _sample() -> list[Doc]:
    """Five pages in four documents of two cases; one document has a Spanish and an English page."""
    med_doc, _ = _doc("D-MED1", CASE_A, "medical")
    medical = (med_doc, [IndexedPage(1, MEDICAL_ES, "es"), IndexedPage(2, MEDICAL_EN, "en")])
    return [
        _doc("D-DEN1", CASE_A, "police", DENUNCIA, language="es"),
        medical,
        _doc("D-SCH1", CASE_B, "school", SCHOOL_EN, language="en"),
        _doc("D-POL1", CASE_B, "police", POLICE_EN_NO_ACCENTS, language="eng"),
    ]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def make_index(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[..., SearchIndex]]:
    """Opens the test's one index (a new object each call, as another process would) on each backend in turn."""
    opened: list[SearchIndex] = []

    def make(**options: Any) -> SearchIndex:
        ix: SearchIndex
        if request.param == "sqlite":
            ix = SqliteFtsIndex(tmp_path / "index" / "search.sqlite", **options)
        else:
            from casefile.tasks.search.postgres_fts import PostgresFtsIndex

            ix = PostgresFtsIndex(request.getfixturevalue("pg_url"), **options)
        opened.append(ix)
        return ix

    yield make
    for ix in opened:
        ix.close()


@pytest.fixture
def index(make_index: Callable[..., SearchIndex]) -> SearchIndex:
    ix = make_index(busy_timeout=2)
    ix.rebuild(_sample())
    return ix


@pytest.fixture
def sqlite_index(tmp_path: Path) -> Iterator[SqliteFtsIndex]:
    ix = SqliteFtsIndex(tmp_path / "index" / "search.sqlite", busy_timeout=2)
    ix.rebuild(_sample())
    yield ix
    ix.close()


def _found(hits: list[Hit]) -> set[tuple[str, int]]:
    return {(h.document_id, h.page) for h in hits}


# Matching --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("medico", {("D-DEN1", 1), ("D-MED1", 1), ("D-POL1", 1)}),  # typed without accent, finds "médico"
        ("MÉDICO", {("D-DEN1", 1), ("D-MED1", 1), ("D-POL1", 1)}),  # typed with accent, finds plain "medico"
        ("Médico", {("D-DEN1", 1), ("D-MED1", 1), ("D-POL1", 1)}),
        ("policia", {("D-DEN1", 1)}),
        ("clínica", {("D-POL1", 1)}),
        ("diagnostico", {("D-MED1", 1)}),
        ("nino", {("D-DEN1", 1), ("D-POL1", 1)}),  # ñ folds to n, both ways
        ("niño", {("D-DEN1", 1), ("D-POL1", 1)}),
        ("ano", {("D-MED1", 1)}),
        ("EXPELLED", {("D-SCH1", 1)}),
    ],
)
def test_accents_and_case_are_ignored_both_ways(index: SearchIndex, query: str, expected: set[tuple[str, int]]) -> None:
    assert _found(index.search(query)) == expected


def test_ligatures_and_full_width_letters_from_text_layers_are_folded(make_index: Callable[..., SearchIndex]) -> None:
    ix = make_index()
    ix.replace_document(IndexedDocument("D-1", CASE_A), [IndexedPage(1, "Birth certi\ufb01cate, ＦＩＬＥＤ")])
    assert _found(ix.search("certificate filed")) == {("D-1", 1)}
    assert _found(ix.search("certi\ufb01cate")) == {("D-1", 1)}


def test_phrase_matches_words_in_order_only(index: SearchIndex) -> None:
    assert _found(index.search('"amenaza de muerte"')) == {("D-DEN1", 1)}
    assert _found(index.search('"threat of death"')) == {("D-MED1", 2)}
    assert index.search('"death of threat"') == []
    assert _found(index.search("death threat")) == {("D-MED1", 2)}  # words anywhere on the page
    assert _found(index.search('"gang members"')) == {("D-MED1", 2)}


def test_prefix_matches_word_starts(index: SearchIndex) -> None:
    assert _found(index.search("amenaz*")) == {("D-DEN1", 1)}  # amenazaron, amenaza
    assert _found(index.search("threat*")) == {("D-MED1", 2), ("D-SCH1", 1)}
    assert _found(index.search("fractur*")) == {("D-MED1", 1), ("D-MED1", 2)}
    assert _found(index.search("FRACTUR*")) == {("D-MED1", 1), ("D-MED1", 2)}
    assert _found(index.search('"amenaza de mue"*')) == {("D-DEN1", 1)}
    assert index.search("threa") == []  # no * : whole words only


def test_and_or_not(index: SearchIndex) -> None:
    assert _found(index.search("gang arm")) == {("D-MED1", 2)}
    assert _found(index.search("gang AND arm")) == {("D-MED1", 2)}
    assert _found(index.search("expelled OR fractura")) == {("D-SCH1", 1), ("D-MED1", 1)}
    assert _found(index.search("gang -expelled")) == {("D-MED1", 2)}
    assert _found(index.search("gang NOT expelled")) == {("D-MED1", 2)}
    assert _found(index.search("medico -(policia OR clinica)")) == {("D-MED1", 1)}
    assert _found(index.search('gang -"gang members"')) == {("D-SCH1", 1)}


def test_or_binds_tighter_than_the_implied_and(index: SearchIndex) -> None:
    # gang AND (expelled OR physician), as in web search engines; not (gang AND expelled) OR physician.
    assert _found(index.search("gang expelled OR physician")) == {("D-SCH1", 1), ("D-MED1", 2)}
    assert _found(index.search("attendance expelled OR physician")) == {("D-SCH1", 1)}
    assert _found(index.search("(attendance expelled) OR physician")) == {("D-SCH1", 1), ("D-MED1", 2)}


def test_spanish_and_english_pages_side_by_side(index: SearchIndex) -> None:
    hits = index.search("threat OR amenaza")
    assert _found(hits) == {("D-MED1", 2), ("D-DEN1", 1)}
    assert {h.language for h in hits} == {"en", "es"}


# Filters ---------------------------------------------------------------------------------------------------
def test_filters_by_case_type_and_language(index: SearchIndex) -> None:
    assert _found(index.search("medico", case_id=CASE_A)) == {("D-DEN1", 1), ("D-MED1", 1)}
    assert _found(index.search("medico", case_id=CASE_B)) == {("D-POL1", 1)}
    assert index.search("medico", case_id="C-NONE99") == []
    assert _found(index.search("medico", doc_type="police")) == {("D-DEN1", 1), ("D-POL1", 1)}
    assert _found(index.search("medico", doc_type="POLICE", case_id=CASE_B)) == {("D-POL1", 1)}
    assert _found(index.search("gang", language="en")) == {("D-MED1", 2), ("D-SCH1", 1)}
    assert _found(index.search("medico", language="spa")) == {("D-DEN1", 1), ("D-MED1", 1)}
    assert _found(index.search("medico", language="es", doc_type="medical", case_id=CASE_A)) == {("D-MED1", 1)}
    hit = index.search("expelled")[0]
    assert (hit.case_id, hit.document_id, hit.page, hit.language, hit.doc_type) == (
        CASE_B,
        "D-SCH1",
        1,
        "en",
        "school",
    )


@pytest.mark.parametrize(
    ("case_id", "doc_type", "language"),
    [(" ", None, None), (None, "", None), (None, None, "spanish!"), (None, None, "e")],
)
def test_bad_filter_values_are_validation_errors(
    index: SearchIndex, case_id: str | None, doc_type: str | None, language: str | None
) -> None:
    with pytest.raises(ValidationError):
        index.search("gang", case_id=case_id, doc_type=doc_type, language=language)


def test_language_codes_are_normalised() -> None:
    assert normalize_language("spa") == "es"
    assert normalize_language(" ES ") == "es"
    assert normalize_language("eng") == "en"
    assert normalize_language("hat") == "ht"
    assert normalize_language("und") is None
    assert normalize_language("es-MX") is None
    assert normalize_language(None) is None


# Ranking and snippets --------------------------------------------------------------------------------------
def test_bm25_ranks_denser_and_rarer_matches_first(tmp_path: Path) -> None:
    ix = SqliteFtsIndex(tmp_path / "s.sqlite")
    filler = " ".join(f"palabra{i}" for i in range(200))
    ix.rebuild(
        [
            _doc("D-DENSE", CASE_A, "police", "amenaza amenaza amenaza contra la familia"),
            _doc("D-SHORT", CASE_A, "police", "una amenaza contra la familia"),
            _doc("D-LONG", CASE_A, "police", f"una amenaza {filler}"),
            *[_doc(f"D-OTHER{i}", CASE_B, "other", f"texto sin nada {i} {filler}") for i in range(5)],
        ]
    )
    hits = ix.search("amenaza")
    assert [h.document_id for h in hits] == ["D-DENSE", "D-SHORT", "D-LONG"]
    assert hits[0].score > hits[1].score > hits[2].score > 0
    # A page with the rarer of two OR'd words outranks one with only the commoner word.
    ix.replace_document(*_doc("D-RARE", CASE_A, "police", "extorsion contra la familia"))
    ranked = [h.document_id for h in ix.search("extorsion OR familia")]
    assert ranked[0] == "D-RARE"


def test_snippets_mark_the_match(index: SearchIndex) -> None:
    hit = index.search('"amenaza de muerte"')[0]
    assert "[[amenaza de muerte]]" in hit.snippet()
    assert "«amenaza de muerte»" in hit.snippet("«", "»")
    assert "amenaza de muerte" in hit.plain_snippet and "[[" not in hit.plain_snippet
    assert any(f.match and f.text == "amenaza de muerte" for f in hit.fragments)
    # Prefix queries take the scratch-table path: the same marking.
    assert "[[amenazaron]]" in index.search("amenaz*")[0].snippet()
    # Accent-folded matches mark the word as written on the page.
    assert "[[médico]]" in index.search("medico", case_id=CASE_A, doc_type="police")[0].snippet()
    for query in ("medico", "gang -expelled", "threat OR amenaza", "fractur* -radio", '"gang members" arm'):
        hits = index.search(query)
        assert hits and all(any(f.match for f in h.fragments) for h in hits), query


def test_snippets_are_safe_for_terminals_and_html(make_index: Callable[..., SearchIndex]) -> None:
    ix = make_index()
    hostile = "Line one\n\nthe <script>alert(1)</script> threat\x1b[2J\x1b]0;pwned\x07 here\u202eevil\x00end"
    ix.replace_document(IndexedDocument("D-1", CASE_A), [IndexedPage(1, hostile)])
    for query in ("threat", "threa*"):
        hit = ix.search(query)[0]
        text = hit.snippet()
        assert not any(ord(c) < 32 or 0x7F <= ord(c) < 0xA0 or c == "\u202e" for c in text), repr(text)
        assert "Line one the" in text  # line breaks collapsed
        assert "[[threat]]" in text
        html = hit.snippet_html()
        assert "<script>" not in html and "&lt;script&gt;" in html and "<mark>threat</mark>" in html


def test_snippet_length_is_bounded(index: SearchIndex) -> None:
    short = index.search("extorsion", snippet_words=5)[0]
    assert len(short.plain_snippet.replace("…", "").split()) <= 5
    with pytest.raises(ValidationError):
        index.search("extorsion", snippet_words=65)


def test_limit_offset_and_count(make_index: Callable[..., SearchIndex]) -> None:
    ix = make_index()
    ix.rebuild(
        [_doc(f"D-{i:03d}", CASE_A, "police", *(f"amenaza {'x ' * (i + p)}" for p in range(3))) for i in range(10)]
    )
    assert ix.count("amenaza") == 30
    pages = [ix.search("amenaza", limit=7, offset=o) for o in range(0, 30, 7)]
    seen = [(h.document_id, h.page) for page in pages for h in page]
    assert len(seen) == 30 and len(set(seen)) == 30
    scores = [h.score for page in pages for h in page]
    assert scores == sorted(scores, reverse=True)
    assert ix.count("amenaza", case_id=CASE_B) == 0
    for limit, offset in ((0, 0), (501, 0), (20, -1), (20, 10_001)):
        with pytest.raises(ValidationError):
            ix.search("amenaza", limit=limit, offset=offset)


# Query syntax ----------------------------------------------------------------------------------------------
def test_parse_query_builds_the_tree() -> None:
    assert parse_query("amenaza") == Term("amenaza")
    assert parse_query('"amenaza de muerte"') == Term("amenaza de muerte", phrase=True)
    assert parse_query("amenaz*") == Term("amenaz", prefix=True)
    assert parse_query("a b OR c -d") == AllOf((Term("a"), AnyOf((Term("b"), Term("c")))), (Term("d"),))
    assert parse_query("¿ amenaza ?") == Term("amenaza")  # punctuation alone is not searched
    assert parse_query("co-worker") == Term("co-worker")  # an inner hyphen is part of the word
    assert parse_query("amenaza - muerte") == AllOf((Term("amenaza"), Term("muerte")))  # a lone - is dropped
    assert [t.text for t in query_terms(parse_query("a (b OR c) -d"))] == ["a", "b", "c"]


def test_user_text_is_always_quoted_for_fts5() -> None:
    assert to_fts5(parse_query("case_id:XYZ")) == '"case_id:XYZ"'
    assert to_fts5(parse_query("NEAR(a b)")) == '("NEAR" AND ("a" AND "b"))'
    assert to_fts5(Term('say "hi"')) == '"say ""hi"""'
    assert to_fts5(parse_query("amenaz* -x")) == '(("amenaz" *) NOT "x")'


@pytest.mark.parametrize(
    "query",
    [
        "",
        "   ",
        "¿?!",
        '""',
        '"amenaza de muerte',
        'amenaza "de muerte',
        "*",
        "**",
        "-*",
        "a*",
        "am*",
        "am*enaza",
        "OR",
        "AND",
        "NOT",
        "amenaza OR",
        "OR amenaza",
        "amenaza AND",
        "AND amenaza",
        "amenaza OR OR muerte",
        "amenaza NOT",
        "-amenaza",
        "NOT amenaza",
        "amenaza OR -muerte",
        "(amenaza",
        "amenaza)",
        "()",
        "(-amenaza) muerte",
        "(" * 9 + "a" + ")" * 9,
        "x" * 1001,
        " ".join(f"w{i}" for i in range(33)),
    ],
)
def test_bad_query_syntax_is_a_clear_usage_error(index: SearchIndex, query: str) -> None:
    with pytest.raises(QuerySyntaxError) as caught:
        index.search(query)
    assert caught.value.exit_code == ExitCode.USAGE
    assert "quotes" in str(caught.value)  # the message says how to write a query
    with pytest.raises(QuerySyntaxError):
        index.count(query)


def test_query_syntax_error_never_repeats_the_query() -> None:
    with pytest.raises(QuerySyntaxError) as caught:
        parse_query('"Maria Quiroga')
    assert "Maria" not in str(caught.value)
    assert caught.value.position == 1


INJECTIONS = [
    '"; DROP TABLE pages; --',
    "'; DROP TABLE pages; --",
    "') OR 1=1 --",
    "medico') OR ('1'='1",
    "medico; DELETE FROM pages",
    f"case_id:{CASE_B} medico",
    "tags:medico",
    "{tags}: medico",
    '{tags} : "c432d42424242333"',
    "{body tags}: medico",
    "body:medico",
    "NEAR(medico policia, 10)",
    "medico NEAR/2 policia",
    "^medico",
    "medico + policia",
    "rank:medico",
    "medico\x00 OR 1",
    "medico' UNION SELECT * FROM pages --",
    "* OR *",
]


@pytest.mark.parametrize("query", INJECTIONS)
def test_injection_attempts_are_plain_words_or_rejected(index: SearchIndex, query: str) -> None:
    before = index.stats()
    try:
        hits = index.search(query, case_id=CASE_A)
    except QuerySyntaxError:
        hits = []
    assert all(h.case_id == CASE_A for h in hits)  # the case filter cannot be bypassed
    with contextlib.suppress(QuerySyntaxError):
        index.count(query, case_id=CASE_A)
    assert index.stats() == before
    assert index.count_pages() == 5


def test_filter_tokens_cannot_be_searched_for(index: SearchIndex) -> None:
    tag = "c" + CASE_B.encode().hex()  # how the index spells the case filter internally
    assert index.search(tag) == []
    assert index.search(f'"{tag}"') == []
    assert index.search(f"{tag[:6]}*") == []


def test_random_queries_never_crash(index: SearchIndex) -> None:
    rng = random.Random(1234)
    pieces = ['"', "*", "-", "(", ")", "OR", "AND", "NOT", ":", "{", "}", "^", "+", "'", ";", "\\", "\x00", "ñ"]
    pieces += ["medico", "amenaza", "gang", "NEAR", "tags", "body", " ", " ", " ", "é", "…", "\u202e", "1=1"]
    for _ in range(400):
        query = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 12)))
        with contextlib.suppress(QuerySyntaxError):
            index.search(query, case_id=CASE_A)
    assert index.count_pages() == 5


# Writing ---------------------------------------------------------------------------------------------------
def test_reindexing_a_document_replaces_and_never_duplicates(index: SearchIndex) -> None:
    doc, pages = _sample()[1]
    assert index.count_pages(document_id="D-MED1") == 2
    for _ in range(3):
        assert index.replace_document(doc, pages) == 2
    assert index.count_pages() == 5
    assert len(index.search("fractura")) == 1
    # New text replaces the old: the old words are gone, page 2 is gone.
    index.replace_document(doc, [IndexedPage(1, "Informe corregido: luxación del hombro.", "es")])
    assert index.count_pages(document_id="D-MED1") == 1
    assert index.search("fractura") == []
    assert _found(index.search("luxacion")) == {("D-MED1", 1)}


def test_pages_without_text_are_skipped_and_bad_pages_refused(make_index: Callable[..., SearchIndex]) -> None:
    ix = make_index()
    doc = IndexedDocument("D-1", CASE_A)
    assert ix.replace_document(doc, [IndexedPage(1, "texto"), IndexedPage(2, None), IndexedPage(3, "  \n ")]) == 1
    with pytest.raises(ValueError):
        ix.replace_document(doc, [IndexedPage(1, "a"), IndexedPage(1, "b")])
    with pytest.raises(ValueError):
        ix.replace_document(doc, [IndexedPage(0, "a")])
    assert ix.count_pages() == 1


def test_delete_document_and_case(index: SearchIndex) -> None:
    assert index.delete_document("D-MED1") == 2
    assert index.search("fractura") == [] and index.search("physician") == []
    assert index.delete_document("D-MED1") == 0
    assert index.count_pages() == 3
    assert index.delete_case(CASE_B) == 2
    assert index.search("expelled") == []
    assert {h.case_id for h in index.search("medico")} == {CASE_A}
    assert index.stats().cases == 1


def test_replace_case_is_atomic(index: SearchIndex) -> None:
    def failing() -> Iterator[Doc]:
        yield _doc("D-NEW1", CASE_B, "court", "sentencia del juez")
        raise OSError("catalog went away")

    with pytest.raises(OSError):
        index.replace_case(CASE_B, failing())
    assert _found(index.search("expelled")) == {("D-SCH1", 1)}
    assert index.search("sentencia") == []
    assert index.replace_case(CASE_B, [_doc("D-NEW1", CASE_B, "court", "sentencia del juez")]) == 1
    assert index.search("expelled") == []
    assert index.count_pages(case_id=CASE_B) == 1
    assert index.count_pages(case_id=CASE_A) == 3
    with pytest.raises(ValueError):
        index.replace_case(CASE_B, [_doc("D-X", CASE_A, "court", "otro caso")])


def test_rebuild_failure_leaves_the_old_index_searchable(
    index: SearchIndex, make_index: Callable[..., SearchIndex]
) -> None:
    other_process = make_index()  # another reader of the same index
    assert len(other_process.search("medico")) == 3

    def failing() -> Iterator[Doc]:
        for i in range(50):
            yield _doc(f"D-R{i}", CASE_A, "police", "solo texto nuevo")
        raise RuntimeError("catalog read failed mid-rebuild")

    with pytest.raises(RuntimeError):
        index.rebuild(failing())
    for ix in (index, other_process):
        assert ix.count_pages() == 5
        assert len(ix.search("medico")) == 3
        assert ix.search("nuevo") == []
    assert index.rebuild([_doc("D-R1", CASE_A, "police", "solo texto nuevo")]) == 1
    assert _found(other_process.search("nuevo")) == {("D-R1", 1)}
    assert other_process.search("medico") == []
    other_process.close()


def test_rebuild_killed_mid_way_leaves_the_old_index(sqlite_index: SqliteFtsIndex) -> None:
    # A crash, not an exception: the process dies with the transaction open (no rollback runs).
    script = textwrap.dedent(
        f"""
        import os
        from pathlib import Path
        from casefile.tasks.search.index import IndexedDocument, IndexedPage
        from casefile.tasks.search.sqlite_fts import SqliteFtsIndex

        def docs():
            for i in range(200):
                yield IndexedDocument(f"D-K{{i}}", "C-K", "police"), [IndexedPage(1, "texto del proceso muerto")]
            os._exit(9)

        SqliteFtsIndex(Path({str(sqlite_index.path)!r})).rebuild(docs())
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60, check=False)
    assert result.returncode == 9, result.stderr
    fresh = SqliteFtsIndex(sqlite_index.path)
    assert fresh.count_pages() == 5
    assert len(fresh.search("medico")) == 3
    assert fresh.search("muerto") == []
    fresh.close()


def test_stats(index: SearchIndex) -> None:
    stats = index.stats()
    assert (stats.pages, stats.documents, stats.cases) == (5, 4, 2)
    assert stats.languages == {"es": 2, "en": 3}  # "eng" was stored as "en"
    assert stats.doc_types == {"police": 2, "medical": 2, "school": 1}
    assert stats.size_bytes > 0


# Damaged, foreign, outdated and busy files -----------------------------------------------------------------
def test_damaged_file_is_reported_and_rebuild_sets_it_aside(tmp_path: Path) -> None:
    path = tmp_path / "search.sqlite"
    path.write_bytes(b"this is not a database at all" * 200)
    ix = SqliteFtsIndex(path)
    with pytest.raises(SearchIndexError) as caught:
        ix.search("medico")
    assert "reindex" in str(caught.value)
    # sqlite3's own message is not chained: it can quote the query, and tracebacks reach logs.
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    assert ix.rebuild(_sample()) == 5
    assert len(ix.search("medico")) == 3
    assert len(list(tmp_path.glob("search.sqlite.damaged-*"))) == 1
    ix.close()


def test_somebody_elses_database_is_never_touched(tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE cases (id TEXT)")
        conn.execute("INSERT INTO cases VALUES ('precious')")
    conn.close()
    ix = SqliteFtsIndex(path)
    with pytest.raises(SearchIndexError):
        ix.search("medico")
    with pytest.raises(SearchIndexError):
        ix.rebuild(_sample())
    ix.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT id FROM cases").fetchall() == [("precious",)]
    conn.close()


def test_index_of_another_schema_version_asks_for_reindex(sqlite_index: SqliteFtsIndex) -> None:
    with sqlite3.connect(sqlite_index.path) as conn:
        conn.execute("PRAGMA user_version = 999")
    conn.close()
    stale = SqliteFtsIndex(sqlite_index.path)
    with pytest.raises(SearchIndexError):
        stale.search("medico")
    assert stale.rebuild(_sample()) == 5
    assert len(stale.search("medico")) == 3
    stale.close()


def test_busy_writer_is_a_transient_error_and_readers_keep_working(sqlite_index: SqliteFtsIndex) -> None:
    blocker = sqlite3.connect(sqlite_index.path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # as a long rebuild in another process would
    try:
        writer = SqliteFtsIndex(sqlite_index.path, busy_timeout=0.1)
        with pytest.raises(SearchIndexBusy) as caught:
            writer.delete_case(CASE_A)
        assert caught.value.exit_code == ExitCode.TRANSIENT
        assert len(writer.search("medico")) == 3
        writer.close()
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert sqlite_index.count_pages() == 5


def test_runaway_query_is_stopped(tmp_path: Path) -> None:
    ix = SqliteFtsIndex(tmp_path / "s.sqlite", query_timeout=0.0)
    ix.rebuild([_doc(f"D-{i}", CASE_A, "police", f"amenaza numero {i}") for i in range(500)])
    with pytest.raises(QueryTooBroad) as caught:
        ix.search("amenaza")
    assert caught.value.exit_code == ExitCode.USAGE
    ix.query_timeout = 10.0
    assert len(ix.search("amenaza", limit=5)) == 5


def test_threads_can_share_one_index(index: SearchIndex) -> None:
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(20):
                assert len(index.search("medico")) == 3
                assert len(index.search("amenaz*")) == 1
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_callers_can_depend_on_the_interface(index: SearchIndex, make_index: Callable[..., SearchIndex]) -> None:
    def search_everywhere(ix: SearchIndex, query: str) -> list[str]:
        return [h.document_id for h in ix.search(query)]

    assert search_everywhere(index, "expelled") == ["D-SCH1"]
    with make_index() as other:
        assert other.count("medico") == 3


# One contract, two backends ------------------------------------------------------------------------------------
CONTRACT_QUERIES = [
    "medico",
    "MÉDICO",
    "nino",
    "niño",
    "ano",
    "amenaz*",
    "threat*",
    "fractur* -radio",
    '"amenaza de muerte"',
    '"amenaza de mue"*',
    '"death of threat"',
    "death threat",
    "gang arm",
    "gang expelled OR physician",
    "(attendance expelled) OR physician",
    "medico -(policia OR clinica)",
    'gang -"gang members"',
    "threat OR amenaza",
    "co-worker",
    "certificate filed",
    "case_id:XYZ medico",
    "NEAR(medico policia, 10)",
    "2023",
    "de",
    "no",
]


@pytest.mark.postgres
def test_both_backends_find_the_same_pages(tmp_path: Path, pg_url: str) -> None:
    """The same pages, the same queries and filters: the same hits and counts on SQLite FTS5 and PostgreSQL."""
    from casefile.tasks.search.postgres_fts import PostgresFtsIndex

    extra = [
        _doc("D-CO1", CASE_B, "letter", "My co-worker saw it. No pagó la extorsión; no, no.", language="es"),
        _doc("D-LIG", CASE_B, "letter", "Birth certi\ufb01cate, ＦＩＬＥＤ 2023 — Ærø Ōsaka straße", language="en"),
    ]
    rng = random.Random(17)
    vocabulary = ["amenaza", "muerte", "médico", "niño", "gang", "threat", "school", "año", "de", "no", "policía"]
    extra += [
        _doc(
            f"D-R{i:03d}",
            CASE_A if i % 2 else CASE_B,
            rng.choice(["police", "medical"]),
            " ".join(rng.choice(vocabulary) for _ in range(rng.randint(3, 40))),
            language=rng.choice(["es", "en"]),
        )
        for i in range(120)
    ]
    sqlite_ix = SqliteFtsIndex(tmp_path / "s.sqlite")
    postgres_ix = PostgresFtsIndex(pg_url)
    for ix in (sqlite_ix, postgres_ix):
        ix.rebuild(_sample() + extra)
    random_queries = [
        " ".join(rng.choice([*vocabulary, "OR", "-muerte", '"de muerte"', "amen*"]) for _ in range(rng.randint(1, 4)))
        for _ in range(60)
    ]
    filters: list[dict[str, Any]] = [{}, {"case_id": CASE_A}, {"doc_type": "police"}, {"language": "es"}]
    for query in CONTRACT_QUERIES + random_queries:
        for where in filters:
            try:
                expected = _found(sqlite_ix.search(query, limit=500, **where))
            except QuerySyntaxError:
                with pytest.raises(QuerySyntaxError):
                    postgres_ix.search(query, limit=500, **where)
                continue
            assert _found(postgres_ix.search(query, limit=500, **where)) == expected, (query, where)
            assert postgres_ix.count(query, **where) == sqlite_ix.count(query, **where) == len(expected)
    assert postgres_ix.stats().pages == sqlite_ix.stats().pages
    sqlite_ix.close()
    postgres_ix.close()
