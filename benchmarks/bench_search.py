"""Search benchmark: index build rate and query latency over synthetic English and Spanish pages.

    python -m benchmarks.bench_search [--pages 100000] [--queries 200] [--workdir DIR] [--compare-filters]
                                      [--postgres] [--json]

Builds a SqliteFtsIndex of ``--pages`` deterministic pseudo-text pages (250-400 words each: function words,
legal/medical/police words topical to each document type, Zipf-distributed filler words, a few set phrases;
some Spanish pages lose their accents as OCR often does, some lines are in capitals) spread over ~500 cases and
seven document types, then times a FIXED set of 200 queries (single words, accented words typed without accents,
phrases, prefixes, AND/OR/NOT, with and without case, language and type filters).

Printed, all measured in the same run:
- build: pages/s of ``rebuild()`` (one transaction, including the final segment merge), and of re-indexing
  documents one by one with ``replace_document()`` (the ingest path);
- latency: p50/p95/max over the query set after one warm-up pass (target: p95 under 50 ms), per query class;
- ratio: ``search()`` (parse + BM25 top-N + metadata + snippets) against the floor of any ranked search, a plain
  ``SELECT rowid FROM page_text WHERE page_text MATCH ?`` of the same expression fetching every match;
- ``--compare-filters``: p50/p95 of case-filtered queries for the filter layouts considered (filter tokens in the
  MATCH, as shipped; a joined metadata table; UNINDEXED columns), each built from the same pages.

- ``--postgres``: the same pages and queries on the PostgreSQL backend (``PostgresFtsIndex``, a throwaway cluster
  started like the tests' from Debian's server binaries): build rate, p50/p95 overall and per class, and its p95
  against SQLite's in the same run.

Nothing here is part of the tests. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import shutil
import sqlite3
import statistics
import tempfile
import time
import unicodedata
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import accumulate
from pathlib import Path
from typing import Any

from benchmarks.common import machine_info
from casefile.tasks.search.index import Hit, IndexedDocument, IndexedPage, SearchIndex
from casefile.tasks.search.sqlite_fts import TOKENIZER, SqliteFtsIndex

TARGET_P95_MS = 50.0
SEED = 20240604


def _words(text: str) -> list[str]:
    return " ".join(text.split()).split(" ")


# Vocabulary ------------------------------------------------------------------------------------------------
_EN_FUNCTION = _words("""the of and to in a that is was he for it with as his on be at by i this had not are but from or
have an they which one you were her all she there would their we him been has when who will more no if out so said
what up its about into than them can only other new some could time these two may then do first any my now such
like our over me even most made after also did many before must through back years where much your way well down
should because each just those people how too little state good very make still own see work long get here between
both life being under never day same another know while last might us great old year off come since against go came
right used take three""")
_ES_FUNCTION = _words("""de la que el en y a los se del las un por con no una su para es al lo como más o pero sus le ha
me si sin sobre este ya entre cuando todo esta ser son dos también fue había era muy años hasta desde está mi porque
qué sólo han yo hay vez puede todos así nos ni parte tiene él uno donde bien tiempo mismo ese ahora cada e vida otro
después te otros aunque esa eso hace otra tan durante siempre día tanto ella tres sí dijo sido gran según menos antes
estado contra sino forma caso nada hacer general estaba poco estos mayor ante unos les algo hacia casa ellos ayer
hecho primera mucho mientras además quien momento esto""")

# Topical words per document type: a medical record repeats medical words, a police report police words.
_TOPICS: dict[str, dict[str, str]] = {
    "medical": {
        "en": """hospital clinic doctor physician nurse patient diagnosis treatment prescription surgery emergency
        trauma fracture fractured bruise bruises scar wound injury injuries x-ray psychological anxiety depression
        ptsd medication discharge admitted examination laceration contusion sutures pain chronic""",
        "es": """hospital clínica médico médica doctora enfermera paciente diagnóstico tratamiento receta cirugía
        emergencia trauma fractura fracturado moretón moretones cicatriz herida lesión lesiones radiografía
        psicológico ansiedad depresión medicamento alta ingresado examen laceración contusión suturas dolor""",
    },
    "police": {
        "en": """police report officer arrest detained threat threatened death gang extortion assault attack beaten
        complaint investigation suspect victim weapon gun knife shot robbery kidnapping homicide patrol station
        statement incident""",
        "es": """policía denuncia oficial arresto detenido amenaza amenazas amenazado muerte pandilla maras extorsión
        agresión ataque golpeado golpes queja investigación sospechoso víctima arma pistola cuchillo disparo robo
        secuestro homicidio patrulla estación declaración incidente""",
    },
    "court": {
        "en": """court judge hearing sentence conviction custody prosecutor defendant ruling appeal order case
        record clerk criminal proceedings verdict testimony witness attorney""",
        "es": """tribunal juez audiencia sentencia condena custodia fiscal acusado resolución apelación orden
        expediente secretario penal proceso veredicto testimonio testigo abogado juzgado""",
    },
    "school": {
        "en": """school student teacher principal transcript attendance grades expelled suspended enrollment
        classroom bullying threatened counselor report card semester""",
        "es": """escuela estudiante maestro maestra director calificaciones asistencia expulsado suspendido matrícula
        aula acoso amenazado orientador boleta semestre colegio""",
    },
    "identity": {
        "en": """passport birth certificate identity card national registry civil record father mother born
        citizen nationality photograph signature stamp official copy""",
        "es": """pasaporte partida nacimiento cédula identidad registro nacional civil padre madre nacido ciudadano
        nacionalidad fotografía firma sello oficial copia certificada""",
    },
    "country-conditions": {
        "en": """human rights government military soldiers cartel militia violence persecution impunity
        corruption journalists women indigenous displacement refugees asylum seekers security forces""",
        "es": """derechos humanos gobierno militares soldados cártel milicia violencia persecución impunidad
        corrupción periodistas mujeres indígenas desplazamiento refugiados asilo solicitantes fuerzas seguridad""",
    },
    "declaration": {
        "en": """declaration affidavit family mother father brother sister child children daughter son wife husband
        home village town fear return church religion political opinion threatened fled border""",
        "es": """declaración jurada familia madre padre hermano hermana hijo hija hijos esposa esposo hogar aldea
        pueblo miedo regreso iglesia religión opinión política amenazado huí frontera niño niña año""",
    },
}
_PHRASES: dict[str, dict[str, tuple[str, ...]]] = {
    "medical": {
        "en": ("broken arm", "emergency room", "medical record"),
        "es": ("brazo fracturado", "sala de emergencias", "expediente clínico"),
    },
    "police": {
        "en": ("police report", "death threat", "gang members"),
        "es": ("amenaza de muerte", "denuncia penal", "miembros de la pandilla"),
    },
    "court": {"en": ("criminal record", "court order"), "es": ("antecedentes penales", "orden judicial")},
    "school": {"en": ("report card", "school records"), "es": ("boleta de calificaciones", "constancia de estudios")},
    "identity": {
        "en": ("birth certificate", "national registry"),
        "es": ("partida de nacimiento", "registro nacional"),
    },
    "country-conditions": {
        "en": ("human rights", "security forces"),
        "es": ("derechos humanos", "fuerzas de seguridad"),
    },
    "declaration": {"en": ("fear of return", "my family"), "es": ("miedo de regresar", "mi familia")},
}
_DOC_TYPES = ("medical", "police", "court", "school", "identity", "country-conditions", "declaration")
_DOC_TYPE_WEIGHTS = (25, 20, 12, 8, 10, 15, 10)
_SYLLABLES = _words("""ba be bi bo bu ca ce co cu da de di do du fa fe fi fo ga go gu la le li lo lu ma me mi mo mu
na ne
ni no nu pa pe pi po pu ra re ri ro ru sa se si so su ta te ti to tu va ve vi vo za zo tra tre pro pre con des bra
cri""")
_ID_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"


def _pseudo_words(n: int, rng: random.Random) -> list[str]:
    seen: set[str] = set()
    out: list[str] = []
    while len(out) < n:
        word = "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 4)))
        if word not in seen:
            seen.add(word)
            out.append(word)
    return out


def _zipf(n: int, total: float, s: float = 1.0) -> list[float]:
    weights = [1.0 / (i + 1) ** s for i in range(n)]
    scale = total / sum(weights)
    return [w * scale for w in weights]


def _strip_accents(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")


@dataclass(frozen=True)
class _Vocabulary:
    words: list[str]
    cum_weights: list[float]


def _vocabulary(language: str, doc_type: str, filler: list[str], rng: random.Random) -> _Vocabulary:
    """Function words 45%, filler (long Zipf tail) 40%, domain words 15% (80% of them topical)."""
    function = _EN_FUNCTION if language == "en" else _ES_FUNCTION
    topical = _words(_TOPICS[doc_type][language])
    others = [w for t, langs in _TOPICS.items() if t != doc_type for w in _words(langs[language])]
    rng.shuffle(topical)
    rng.shuffle(others)
    words = [*function, *filler, *topical, *others]
    weights = [*_zipf(len(function), 45), *_zipf(len(filler), 40), *_zipf(len(topical), 12, 0.7)]
    weights += _zipf(len(others), 3, 0.7)
    return _Vocabulary(words, list(accumulate(weights)))


Corpus = list[tuple[IndexedDocument, list[IndexedPage]]]


def synthetic_corpus(pages: int, seed: int = SEED, cases: int = 500) -> Corpus:
    """Deterministic documents of pseudo-text; the same arguments give the same corpus."""
    rng = random.Random(seed)
    filler = {"en": _pseudo_words(20_000, rng), "es": _pseudo_words(20_000, rng)}
    vocab = {
        (language, doc_type): _vocabulary(language, doc_type, filler[language], rng)
        for language in ("en", "es")
        for doc_type in _DOC_TYPES
    }
    case_ids = sorted({"C-" + "".join(rng.choice(_ID_ALPHABET) for _ in range(6)) for _ in range(cases)})
    corpus: Corpus = []
    made = 0
    while made < pages:
        doc_type = rng.choices(_DOC_TYPES, weights=_DOC_TYPE_WEIGHTS)[0]
        language = "es" if rng.random() < 0.55 else "en"
        n_pages = min(pages - made, rng.choice((1, 1, 2, 2, 3, 4, 5, 8, 12, 20, 35, 60)))
        doc = IndexedDocument(
            "D-" + "".join(rng.choice(_ID_ALPHABET) for _ in range(8)), rng.choice(case_ids), doc_type
        )
        v = vocab[(language, doc_type)]
        phrases = _PHRASES[doc_type][language]
        doc_pages: list[IndexedPage] = []
        for number in range(1, n_pages + 1):
            words = rng.choices(v.words, cum_weights=v.cum_weights, k=rng.randint(250, 400))
            for _ in range(rng.choice((0, 0, 1, 1, 2))):
                words.insert(rng.randrange(len(words)), rng.choice(phrases))
            sentences = [" ".join(words[i : i + 14]) for i in range(0, len(words), 14)]
            text = ".\n".join(s[:1].upper() + s[1:] for s in sentences) + "."
            if rng.random() < 0.3:
                text = text[:60].upper() + text[60:]  # a heading in capitals
            if language == "es" and rng.random() < 0.1:
                text = _strip_accents(text)  # OCR that lost the accents
            doc_pages.append(IndexedPage(number, " ".join(text.split(" ")), language))
        corpus.append((doc, doc_pages))
        made += n_pages
    return corpus


# Queries ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class BenchQuery:
    kind: str
    text: str
    case_id: str | None = None
    language: str | None = None
    doc_type: str | None = None

    @property
    def filters(self) -> dict[str, str | None]:
        return {"case_id": self.case_id, "language": self.language, "doc_type": self.doc_type}

    @property
    def label(self) -> str:
        used = [name for name, value in self.filters.items() if value is not None]
        return self.kind + (" +" + "+".join(used) if used else "")


def query_set(cases_by_type: Mapping[str, Sequence[str]], n: int = 200, seed: int = 7) -> list[BenchQuery]:
    """A fixed mix of queries: same cases and seed, same queries.

    Words come from one document type's vocabulary, and a case filter names a case holding a document of that
    type, as an advocate searches a case for what its records are about. ``OR`` pairs an English and a Spanish
    word of the same topic ("threat OR amenaza").
    """
    rng = random.Random(seed)
    types = sorted(cases_by_type)

    def topic() -> tuple[str, str]:
        return rng.choice(types), rng.choice(("en", "es"))

    def word(doc_type: str, language: str) -> str:
        return rng.choice(_words(_TOPICS[doc_type][language]))

    def case(doc_type: str, i: int, every: int = 2) -> str | None:
        return rng.choice(cases_by_type[doc_type]) if i % every == 1 else None

    queries: list[BenchQuery] = []
    for i in range(40):
        t, lang = topic()
        queries.append(BenchQuery("word", word(t, lang), case_id=case(t, i)))
    for i in range(30):
        t, _ = topic()
        accented = [w for w in _words(_TOPICS[t]["es"]) if _strip_accents(w) != w] or ["policía"]
        queries.append(BenchQuery("unaccented", _strip_accents(rng.choice(accented)), language="es" if i % 2 else None))
    for i in range(30):
        t, lang = topic()
        queries.append(BenchQuery("phrase", f'"{rng.choice(_PHRASES[t][lang])}"', case_id=case(t, i)))
    for i in range(30):
        t, lang = topic()
        long_words = [w for w in _words(_TOPICS[t][lang]) if len(w) >= 7]
        stem = _strip_accents(rng.choice(long_words))[: rng.randint(4, 6)]
        queries.append(BenchQuery("prefix", stem + "*", case_id=case(t, i)))
    for i in range(20):
        t, lang = topic()
        queries.append(BenchQuery("and", f"{word(t, lang)} {word(t, lang)}", doc_type=t if i % 2 else None))
    for i in range(15):
        t, _ = topic()
        queries.append(BenchQuery("or", f"{word(t, 'en')} OR {word(t, 'es')}", case_id=case(t, i, 3)))
    for i in range(15):
        t, lang = topic()
        queries.append(BenchQuery("not", f"{word(t, lang)} -{word(t, lang)}", language=lang if i % 2 else None))
    for i in range(20):
        t, lang = topic()
        text = f'"{rng.choice(_PHRASES[t][lang])}" {_strip_accents(word(t, lang))[:5]}*'
        queries.append(BenchQuery("mixed", text, case_id=case(t, i), doc_type=t if i % 4 == 1 else None))
    while len(queries) < n:
        queries.extend(queries[: n - len(queries)])
    return queries[:n]


# Measuring -------------------------------------------------------------------------------------------------
def _percentile(sorted_ms: Sequence[float], p: float) -> float:
    """Nearest-rank percentile."""
    if not sorted_ms:
        return 0.0
    rank = max(1, min(len(sorted_ms), round(p / 100 * len(sorted_ms) + 0.5)))
    return sorted_ms[rank - 1]


def _summary(ms: Sequence[float]) -> dict[str, float]:
    ordered = sorted(ms)
    return {
        "p50_ms": round(statistics.median(ordered), 2) if ordered else 0.0,
        "p95_ms": round(_percentile(ordered, 95), 2),
        "max_ms": round(ordered[-1], 2) if ordered else 0.0,
        "mean_ms": round(statistics.fmean(ordered), 2) if ordered else 0.0,
    }


def _ms_since(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def _search(index: SearchIndex, q: BenchQuery) -> list[Hit]:
    return index.search(q.text, case_id=q.case_id, language=q.language, doc_type=q.doc_type)


def _expression(index: SqliteFtsIndex, q: BenchQuery) -> str:
    return index.fts5_expression(q.text, case_id=q.case_id, language=q.language, doc_type=q.doc_type)


# The floor for any ranked search: every match has to be visited to rank it.
PLAIN_MATCH_SQL = "SELECT rowid FROM page_text WHERE page_text MATCH ?"


def _build_variant(path: Path, corpus: Corpus, layout: str) -> sqlite3.Connection:
    """A bare FTS5 index in one of the filter layouts we did not choose (for --compare-filters)."""
    for suffix in ("", "-wal", "-shm"):  # a kept --workdir: start afresh
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    if layout == "unindexed":
        conn.execute(f"CREATE VIRTUAL TABLE page_text USING fts5(body, case_id UNINDEXED, tokenize = '{TOKENIZER}')")
    else:
        conn.execute(f"CREATE VIRTUAL TABLE page_text USING fts5(body, tokenize = '{TOKENIZER}')")
        conn.execute("CREATE TABLE pages (id INTEGER PRIMARY KEY, case_id TEXT NOT NULL)")
        conn.execute("CREATE INDEX pages_case ON pages (case_id)")
    rows = [(doc.case_id, page.text) for doc, pages in corpus for page in pages]
    conn.execute("BEGIN")
    if layout == "unindexed":
        conn.executemany(
            "INSERT INTO page_text (rowid, body, case_id) VALUES (?, ?, ?)",
            ((i, text, case_id) for i, (case_id, text) in enumerate(rows, 1)),
        )
    else:
        conn.executemany(
            "INSERT INTO page_text (rowid, body) VALUES (?, ?)", ((i, t) for i, (_, t) in enumerate(rows, 1))
        )
        conn.executemany("INSERT INTO pages (id, case_id) VALUES (?, ?)", ((i, c) for i, (c, _) in enumerate(rows, 1)))
    conn.execute("COMMIT")
    conn.execute("INSERT INTO page_text (page_text) VALUES ('optimize')")
    return conn


_VARIANT_SQL = {
    "UNINDEXED case_id column": "SELECT rowid, bm25(page_text) AS s FROM page_text"
    " WHERE page_text MATCH ? AND case_id = ? ORDER BY s LIMIT 20",
    "metadata table joined by rowid": "SELECT t.rowid, bm25(page_text) AS s FROM page_text AS t"
    " JOIN pages AS p ON p.id = t.rowid WHERE page_text MATCH ? AND p.case_id = ? ORDER BY s LIMIT 20",
}


def compare_filters(
    workdir: Path, corpus: Corpus, index: SqliteFtsIndex, queries: list[BenchQuery]
) -> dict[str, dict[str, float]]:
    """p50/p95 of the case-filtered queries (BM25 top 20) in each layout, built from the same pages."""
    filtered = [q for q in queries if q.case_id is not None]
    results: dict[str, dict[str, float]] = {}
    for number, (layout, sql) in enumerate(_VARIANT_SQL.items()):
        conn = _build_variant(workdir / f"variant-{number}.sqlite", corpus, "unindexed" if number == 0 else "joined")
        # The user expression without our filter tokens: these layouts filter in SQL.
        params = [(index.fts5_expression(q.text), q.case_id) for q in filtered]
        for param in params:  # warm-up
            conn.execute(sql, param).fetchall()
        times: list[float] = []
        for param in params:
            started = time.perf_counter()
            conn.execute(sql, param).fetchall()
            times.append(_ms_since(started))
        results[layout] = _summary(times)
        conn.close()
    times = []
    for q in filtered:
        started = time.perf_counter()
        _search(index, q)
        times.append(_ms_since(started))
    results["filter tokens in the MATCH (shipped; whole search())"] = _summary(times)
    return results


def run(pages: int, n_queries: int, workdir: Path, compare: bool, postgres: bool = False) -> dict[str, Any]:
    result: dict[str, Any] = {"benchmark": "search", "machine": machine_info(packages=()), "pages": pages}
    result["machine"]["sqlite"] = sqlite3.sqlite_version
    started = time.perf_counter()
    corpus = synthetic_corpus(pages)
    generation_ms = _ms_since(started)
    words = sum(len((p.text or "").split()) for _, doc_pages in corpus for p in doc_pages)
    case_ids = sorted({doc.case_id for doc, _ in corpus})
    result["corpus"] = {
        "documents": len(corpus),
        "cases": len(case_ids),
        "words_per_page": round(words / pages, 1),
        "generation_s": round(generation_ms / 1000, 1),
    }

    index = SqliteFtsIndex(workdir / "search.sqlite")
    gc.collect()
    started = time.perf_counter()
    indexed = index.rebuild(iter(corpus))
    build_s = _ms_since(started) / 1000
    stats = index.stats()
    sample = corpus[:300]
    sample_pages = sum(len(p) for _, p in sample)
    started = time.perf_counter()
    for doc, doc_pages in sample:
        index.replace_document(doc, doc_pages)
    replace_s = _ms_since(started) / 1000
    if index.count_pages() != indexed:
        raise RuntimeError("re-indexing duplicated pages")
    index.optimize()
    result["build"] = {
        "pages": indexed,
        "seconds": round(build_s, 2),
        "pages_per_s": round(indexed / build_s),
        "index_mb": round(stats.size_bytes / 2**20, 1),
        "replace_document": {
            "documents": len(sample),
            "pages": sample_pages,
            "pages_per_s": round(sample_pages / replace_s),
        },
    }

    cases_by_type: dict[str, set[str]] = defaultdict(set)
    for doc, _ in corpus:
        cases_by_type[doc.doc_type].add(doc.case_id)
    queries = query_set({t: sorted(c) for t, c in cases_by_type.items()}, n_queries)
    exprs = [_expression(index, q) for q in queries]
    reference = sqlite3.connect(index.path, isolation_level=None)
    for q, expr in zip(queries, exprs, strict=True):  # warm-up pass: OS page cache and SQLite caches
        _search(index, q)
        reference.execute(PLAIN_MATCH_SQL, (expr,)).fetchall()
    ours: list[float] = []
    ref: list[float] = []
    hits: list[int] = []
    matches: list[int] = []
    by_class: dict[str, list[float]] = defaultdict(list)
    for q, expr in zip(queries, exprs, strict=True):
        started = time.perf_counter()
        found = _search(index, q)
        ours.append(_ms_since(started))
        by_class[q.label].append(ours[-1])
        hits.append(len(found))
        started = time.perf_counter()
        rows = reference.execute(PLAIN_MATCH_SQL, (expr,)).fetchall()
        ref.append(_ms_since(started))
        matches.append(len(rows))
    reference.close()
    summary, ref_summary = _summary(ours), _summary(ref)
    result["queries"] = {
        "count": len(queries),
        "search": summary,
        "reference_plain_match": ref_summary,
        "ratio_p50": round(summary["p50_ms"] / ref_summary["p50_ms"], 2) if ref_summary["p50_ms"] else None,
        "ratio_p95": round(summary["p95_ms"] / ref_summary["p95_ms"], 2) if ref_summary["p95_ms"] else None,
        "target_p95_ms": TARGET_P95_MS,
        "meets_target": summary["p95_ms"] < TARGET_P95_MS,
        "queries_with_hits": sum(1 for h in hits if h),
        "median_matching_pages": int(statistics.median(matches)),
        "max_matching_pages": max(matches),
        "by_class": {label: {"n": len(ms), **_summary(ms)} for label, ms in sorted(by_class.items())},
    }
    if compare:
        result["filter_layouts_case_filtered"] = compare_filters(workdir, corpus, index, queries)
    index.close()
    if postgres:
        result["postgres"] = run_postgres(corpus, queries, summary)
    return result


def run_postgres(corpus: Corpus, queries: list[BenchQuery], sqlite_summary: dict[str, float]) -> dict[str, Any]:
    """The same pages and queries on PostgreSQL full-text search, in a throwaway cluster."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from pgserver import running_postgres

    from casefile.tasks.search.postgres_fts import PostgresFtsIndex

    # Settings a practice's server would have for a 1-2 GB index on a small machine (the throwaway cluster's own
    # durability settings are off, as in the tests: this measures searching, not commits).
    with running_postgres(settings={"shared_buffers": "1GB", "work_mem": "64MB", "effective_cache_size": "4GB"}) as pg:
        index = PostgresFtsIndex(pg.new_database())
        started = time.perf_counter()
        indexed = index.rebuild(iter(corpus))
        build_s = _ms_since(started) / 1000
        size_mb = round(index.stats().size_bytes / 2**20, 1)
        for q in queries:  # warm-up pass
            _search(index, q)
        ours: list[float] = []
        by_class: dict[str, list[float]] = defaultdict(list)
        for q in queries:
            started = time.perf_counter()
            _search(index, q)
            ours.append(_ms_since(started))
            by_class[q.label].append(ours[-1])
        index.close()
    summary = _summary(ours)
    return {
        "build": {"pages": indexed, "seconds": round(build_s, 1), "pages_per_s": round(indexed / build_s)},
        "index_mb": size_mb,
        "search": summary,
        "p95_vs_sqlite": round(summary["p95_ms"] / sqlite_summary["p95_ms"], 2) if sqlite_summary["p95_ms"] else None,
        "meets_target": summary["p95_ms"] < TARGET_P95_MS,
        "by_class": {label: {"n": len(ms), **_summary(ms)} for label, ms in sorted(by_class.items())},
    }


def _print(result: dict[str, Any]) -> None:
    m, c, b, q = result["machine"], result["corpus"], result["build"], result["queries"]
    print(
        f"machine: {m['cpu_model']}, {m['cpus']} CPUs, {m['memory_mb']} MB, Python {m['python']}, SQLite {m['sqlite']}"
    )
    print(
        f"corpus: {result['pages']} pages in {c['documents']} documents, {c['cases']} cases, "
        f"{c['words_per_page']} words/page (generated in {c['generation_s']} s)"
    )
    r = b["replace_document"]
    print(f"build: rebuild() {b['pages']} pages in {b['seconds']} s = {b['pages_per_s']} pages/s, {b['index_mb']} MB")
    print(f"       replace_document() {r['pages']} pages, {r['documents']} documents = {r['pages_per_s']} pages/s")
    s, ref = q["search"], q["reference_plain_match"]
    print(
        f"search ({q['count']} queries, {q['queries_with_hits']} with hits; matching pages median "
        f"{q['median_matching_pages']}, max {q['max_matching_pages']}):"
    )
    print(f"  search():          p50 {s['p50_ms']:7.2f} ms  p95 {s['p95_ms']:7.2f} ms  max {s['max_ms']:7.2f} ms")
    print(f"  plain MATCH (ref): p50 {ref['p50_ms']:7.2f} ms  p95 {ref['p95_ms']:7.2f} ms  max {ref['max_ms']:7.2f} ms")
    print(
        f"  ratio search/reference: p50 {q['ratio_p50']}, p95 {q['ratio_p95']}; "
        f"target p95 < {q['target_p95_ms']:g} ms: {'met' if q['meets_target'] else 'NOT met'}"
    )
    print("  by class:")
    for label, row in q["by_class"].items():
        n, p50, p95, top = row["n"], row["p50_ms"], row["p95_ms"], row["max_ms"]
        print(f"    {label:28s} n={n:3d}  p50 {p50:7.2f}  p95 {p95:7.2f}  max {top:7.2f}")
    if "filter_layouts_case_filtered" in result:
        print("case-filtered queries by filter layout (ranked top 20):")
        for layout, row in result["filter_layouts_case_filtered"].items():
            print(f"    {layout:50s} p50 {row['p50_ms']:7.2f}  p95 {row['p95_ms']:7.2f}  max {row['max_ms']:7.2f}")
    if "postgres" in result:
        pg = result["postgres"]
        s, b = pg["search"], pg["build"]
        print(
            f"PostgreSQL: rebuild() {b['pages']} pages in {b['seconds']} s = {b['pages_per_s']} pages/s, "
            f"{pg['index_mb']} MB"
        )
        print(
            f"  search():          p50 {s['p50_ms']:7.2f} ms  p95 {s['p95_ms']:7.2f} ms  max {s['max_ms']:7.2f} ms;"
            f" p95 / SQLite p95 {pg['p95_vs_sqlite']}; target p95 < {TARGET_P95_MS:g} ms: "
            f"{'met' if pg['meets_target'] else 'NOT met'}"
        )
        for label, row in pg["by_class"].items():
            n, p50, p95, top = row["n"], row["p50_ms"], row["p95_ms"], row["max_ms"]
            print(f"    {label:28s} n={n:3d}  p50 {p50:7.2f}  p95 {p95:7.2f}  max {top:7.2f}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_search", description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, default=100_000, help="pages to index (default 100000)")
    parser.add_argument("--queries", type=int, default=200, help="queries to time (default 200)")
    parser.add_argument("--workdir", type=Path, help="keep the index here (default: a temporary folder, removed)")
    parser.add_argument("--compare-filters", action="store_true", help="also build and time the other filter layouts")
    parser.add_argument("--postgres", action="store_true", help="also time the PostgreSQL backend (same run)")
    parser.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
        workdir, cleanup = args.workdir, False
    else:
        workdir, cleanup = Path(tempfile.mkdtemp(prefix="casefile-bench-search-")), True
    try:
        result = run(args.pages, args.queries, workdir, args.compare_filters, args.postgres)
    finally:
        if cleanup:
            shutil.rmtree(workdir, ignore_errors=True)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        _print(result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
