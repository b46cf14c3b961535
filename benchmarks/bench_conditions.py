"""Benchmark: country conditions at a practice's scale: `propose` over a library of 2,000 reports (about 100,000
pages) and the rendering of a 150-page bundle.

Run from the repository root (not part of the tests):

    python -m benchmarks.bench_conditions [--reports 2000] [--pages 50] [--bundle-pages 150] [--repeat 3]
                                          [--workdir DIR] [--json] [--save FILE]

1. Library (made in the run, not timed; reused from ``--workdir`` when it holds one of the same size): ``--reports``
   synthetic reports of ``--pages`` pages for one country, in the catalog (a source and its pages' text, the way
   `conditions add` records them) and in the library's full-text index (``reindex_library``). Pages are
   report-like English and Spanish text (seeded), with topical sentences on gangs, domestic violence and the
   police among filler, from six publishers and yearly editions of their series, so ranking, staleness and the
   sentence matching all have work to do.
2. Timed: ``propose`` for one case, three topics, a 150-page budget (best of ``--repeat``, median beside it).
   Reference, same run: one plain search of the same index (``search("police", country filter, limit 20)``).
   Target: under 2 s.
3. Bundle (made in the run, not timed): three real born-digital reports of ``--bundle-pages / 3`` pages (fpdf2,
   embedded DejaVu) added through the real intake (text layer, word boxes); a selection keeping every page, with
   two marked passages per page. Timed: ``render_bundle`` (exhibit PDFs with citation bands and marks, the preview
   with its index, storing), best of ``--repeat``. Reference, same run: a plain ``qpdf`` extraction of the same
   pages into one file (``qpdf --empty --pages a.pdf 1-50 b.pdf 1-50 ... -- out.pdf``). Target: under 5 s.

Prints both times, their ratios to the references and to the targets, and where the bundle's time goes. Exit
status 1 when a target is missed. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from benchmarks.common import load_generate, machine_busy_seconds, machine_info

PROPOSE_TARGET_SECONDS = 2.0
BUNDLE_TARGET_SECONDS = 5.0
COUNTRY = "HN"
TOPICS = ("gangs", "domestic-violence", "state-protection")
TODAY = date(2026, 12, 7)
SEED = 20261207

PUBLISHERS = (
    ("US Department of State", "Country Reports on Human Rights Practices", "en"),
    ("UNHCR", "Eligibility Guidelines", "en"),
    ("Human Rights Watch", "World Report", "en"),
    ("Amnesty International", "Annual Report", "en"),
    ("InSight Crime", "Investigations", "en"),
    ("Observatorio de Derechos Humanos (ficticio)", "Informe anual", "es"),
)
TOPICAL = {
    "en": (
        "Gang members extorted bus drivers and shopkeepers through a weekly war tax.",
        "The gang killed people who refused to pay extortion or to join it.",
        "Police colluded with gang members in several districts and shared the names of complainants.",
        "Domestic violence remained widespread and police often refused to register complaints.",
        "Courts rarely issued protection orders, and few femicide cases reached a conviction.",
        "Authorities rarely investigated complaints of torture, and impunity remained pervasive.",
        "Forced recruitment of children by gangs continued in urban neighborhoods.",
        "Gangs tracked down people who fled to other cities through their informants.",
    ),
    "es": (
        "Las pandillas extorsionaron a conductores de autobús mediante un impuesto de guerra semanal.",
        "La violencia doméstica siguió siendo generalizada y la policía se negó a recibir denuncias.",
        "Las medidas de protección rara vez se cumplieron y la impunidad fue casi total.",
        "La policía actuó en colusión con las pandillas en varios barrios.",
    ),
}
FILLER = {
    "en": [
        "The government held elections that observers considered generally free.",
        "The economy grew slowly during the year.",
        "The ministry published statistics on education and health.",
        "Civil society organizations operated with few restrictions.",
        "The legislature debated a reform of the electoral code.",
        "Rural areas lacked roads and clinics.",
        "International organizations provided assistance to farmers.",
    ],
    "es": [
        "El gobierno celebró elecciones que los observadores consideraron libres.",
        "La economía creció lentamente.",
        "El ministerio publicó estadísticas de educación y salud.",
        "Las organizaciones civiles trabajaron con pocas restricciones.",
        "Las zonas rurales carecían de caminos y clínicas.",
    ],
}


def _page_text(rng: random.Random, language: str) -> str:
    chosen = [rng.choice(FILLER[language]) for _ in range(rng.randint(14, 22))]
    for _ in range(rng.choice((0, 0, 1, 1, 2, 3))):
        chosen.insert(rng.randrange(len(chosen) + 1), rng.choice(TOPICAL[language]))
    lines, line = [], []
    for word in " ".join(chosen).split():
        line.append(word)
        if len(line) >= 14:
            lines.append(" ".join(line))
            line = []
    lines.append(" ".join(line))
    return "\n".join(lines)


# The library ---------------------------------------------------------------------------------------------------
def build_library(home: Path, reports: int, pages: int) -> dict[str, Any]:
    """Catalog rows and index for ``reports`` x ``pages`` synthetic pages; returns counts and timings."""
    from sqlalchemy import insert

    from casefile.tasks.conditions.index import reindex_library
    from casefile.tasks.core.catalog import ConditionPage, ConditionSource, utcnow
    from casefile.tasks.core.runtime import get_runtime

    rt = get_runtime()
    rng = random.Random(SEED)
    started = time.perf_counter()
    sources, rows = [], []
    for r in range(reports):
        publisher, series, language = PUBLISHERS[r % len(PUBLISHERS)]
        edition = r // len(PUBLISHERS)  # each publisher's reports: series of five yearly editions, 2021 to 2025
        year = 2021 + edition % 5
        source_id = f"S-B{r:07d}"
        sources.append(
            {
                "id": source_id,
                "sha256": f"{r:064x}",
                "original_key": f"originals/bench/{r}",
                "original_name": f"report-{r}.pdf",
                "size_bytes": 0,
                "kind": "pdf",
                "normalised_key": f"originals/bench/{r}",
                "normalised_sha256": f"{r:064x}",
                "page_count": pages,
                "ocr_status": "done",
                "country": COUNTRY,
                "publisher": publisher,
                "series": f"{series} {edition // 5}",
                "title": f"{series}: Honduras ({year})",
                "edition": str(year),
                "published_on": min(TODAY, date(year + 1, 1 + r % 12, 1 + r % 28)),
                "language": language,
                "added_by": "benchmark",
                "added_at": utcnow(),
            }
        )
        for n in range(1, pages + 1):
            rows.append(
                {
                    "source_id": source_id,
                    "number": n,
                    "width_pt": 612.0,
                    "height_pt": 792.0,
                    "rotation": 0,
                    "text": _page_text(rng, language),
                    "text_source": "text-layer",
                    "language": language,
                }
            )
    generated = time.perf_counter() - started
    with rt.catalog.session() as session:
        session.execute(insert(ConditionSource), sources)
        for k in range(0, len(rows), 20_000):
            session.execute(insert(ConditionPage), rows[k : k + 20_000])
    stored = time.perf_counter() - started - generated
    indexed_pages = reindex_library(rt)
    indexed = time.perf_counter() - started - generated - stored
    return {
        "reports": reports,
        "pages": reports * pages,
        "indexed_pages": indexed_pages,
        "generate_seconds": round(generated, 1),
        "catalog_seconds": round(stored, 1),
        "index_seconds": round(indexed, 1),
    }


def _best(times: list[float]) -> tuple[float, float]:
    return min(times), statistics.median(times)


def time_propose(case_id: str, repeat: int) -> dict[str, Any]:
    from casefile.tasks.conditions.index import library_index
    from casefile.tasks.conditions.propose import propose
    from casefile.tasks.core.runtime import get_runtime

    rt = get_runtime()
    index = library_index(rt)
    index.search("police", case_id=COUNTRY, limit=20)  # warm-up: the page cache, the first connection
    propose(rt, case_id, COUNTRY, TOPICS, max_pages=150, today=TODAY)
    proposes, references = [], []
    passages = pages = 0
    for _ in range(repeat):  # interleaved, so a busy moment hits both alike
        started = time.perf_counter()
        index.search("police", case_id=COUNTRY, limit=20)
        references.append(time.perf_counter() - started)
        started = time.perf_counter()
        proposal = propose(rt, case_id, COUNTRY, TOPICS, max_pages=150, today=TODAY)
        proposes.append(time.perf_counter() - started)
        passages, pages = len(proposal.passages()), proposal.pages
    best, median = _best(proposes)
    ref, _ = _best(references)
    return {
        "seconds": round(best, 3),
        "seconds_median": round(median, 3),
        "reference_search_seconds": round(ref, 4),
        "ratio_to_reference": round(best / ref, 1),
        "ratio_to_target": round(best / PROPOSE_TARGET_SECONDS, 3),
        "passages": passages,
        "pages_kept": pages,
    }


# The bundle ----------------------------------------------------------------------------------------------------
def make_reports(folder: Path, count: int, pages: int) -> list[Path]:
    generate = load_generate()
    rng = random.Random(SEED + 1)
    paths = []
    for r in range(count):
        content = []
        for n in range(pages):
            filler = FILLER["en"]
            first = [rng.choice(filler) for _ in range(6)] + [TOPICAL["en"][(r + n) % len(TOPICAL["en"])]]
            second = [rng.choice(filler) for _ in range(5)] + [TOPICAL["en"][(r + n + 3) % len(TOPICAL["en"])]]
            content.append([f"# Section {n + 1}", " ".join(first), "", " ".join(second + filler[:3])])
        path = folder / f"report-{r}.pdf"
        path.write_bytes(generate.born_digital_pdf_bytes(content, title=f"Benchmark report {r} (fictional)"))
        paths.append(path)
    return paths


def bundle_selection(rt: Any, case_id: str, source_ids: list[str]) -> Any:
    """Every page of each source, two passages marked per page (its two topical sentences)."""
    import json as _json

    from casefile.tasks.conditions.passages import find_quote, page_words, sentences
    from casefile.tasks.conditions.selection import SelectedPassage, SelectedSource, Selection
    from casefile.tasks.core.catalog import ConditionSource

    chosen = []
    with rt.catalog.session() as session:
        for source_id in source_ids:
            source = session.get(ConditionSource, source_id)
            passages = []
            for page in source.pages:
                words = page_words(_json.loads(page.words_json) if page.words_json else None, page.text)
                topical = [s for s in sentences(words) if any(s.text == t for t in TOPICAL["en"])][:2]
                for sentence in topical:
                    span = find_quote(words, sentence.text)
                    assert span is not None
                    passages.append(SelectedPassage(page.number, "persecution", "gangs", sentence.text, *span))
            chosen.append(
                SelectedSource(source.id, tuple(range(1, source.page_count + 1)), True, "", (), tuple(passages))
            )
    return Selection(case_id, COUNTRY, TOPICS, tuple(chosen))


def time_bundle(work: Path, case_id: str, total_pages: int, repeat: int) -> dict[str, Any]:
    from casefile.tasks.conditions import bundle as bundle_module
    from casefile.tasks.conditions.library import add_source, check_meta
    from casefile.tasks.core.runtime import get_runtime

    rt = get_runtime()
    per_report = max(1, total_pages // 3)
    folder = work / "reports"
    folder.mkdir(exist_ok=True)
    paths = make_reports(folder, 3, per_report)
    ids = []
    for k, path in enumerate(paths):
        meta, problems = check_meta(
            rt,
            {"country": COUNTRY, "publisher": "UNHCR", "series": f"Bundle benchmark {k}", "edition": "2025",
             "published": "2025-06-01", "url": "https://example.org/bench", "accessed": "2026-01-02"},
            today=TODAY,
        )  # fmt: skip
        assert meta is not None, problems
        ids.append(add_source(rt, path, meta).source_id)
    selection = bundle_selection(rt, case_id, ids)
    passages = sum(len(s.passages) for s in selection.sources)

    phases: dict[str, float] = {}

    def timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                phases[name] = phases.get(name, 0.0) + time.perf_counter() - started

        return wrapper

    originals = {n: getattr(bundle_module, n) for n in ("_render_citations", "_exhibit_pdf", "_render_preview")}
    for name, fn in originals.items():
        setattr(bundle_module, name, timed(name, fn))
    qpdf = shutil.which("qpdf")
    pdfs = [work / f"plain-{k}.pdf" for k in range(3)]
    for k, path in enumerate(paths):
        shutil.copy(path, pdfs[k])
    bundles, references, runs = [], [], []
    try:
        bundle_module.render_bundle(rt, selection, force=True)  # warm-up: fonts, templates, imports
        for _ in range(repeat):
            phases.clear()
            if qpdf:
                command = [qpdf, "--empty", "--pages"]
                for pdf in pdfs:
                    command += [str(pdf), f"1-{per_report}"]
                command += ["--", str(work / "extracted.pdf")]
                started = time.perf_counter()
                subprocess.run(command, check=True, capture_output=True, timeout=120)
                references.append(time.perf_counter() - started)
            started = time.perf_counter()
            result = bundle_module.render_bundle(rt, selection, force=True)
            bundles.append(time.perf_counter() - started)
            runs.append(dict(phases))
    finally:
        for name, fn in originals.items():
            setattr(bundle_module, name, fn)
    best, median = _best(bundles)
    fastest = runs[bundles.index(best)]
    accounted = sum(fastest.values())
    return {
        "pages": result.pages,
        "passages": passages,
        "seconds": round(best, 3),
        "seconds_median": round(median, 3),
        "reference_qpdf_seconds": round(min(references), 4) if references else None,
        "ratio_to_reference": round(best / min(references), 1) if references else None,
        "ratio_to_target": round(best / BUNDLE_TARGET_SECONDS, 3),
        "phases": {
            "citation bands (WeasyPrint)": round(fastest.get("_render_citations", 0.0), 3),
            "exhibit PDFs (place, mark, stamp, save)": round(fastest.get("_exhibit_pdf", 0.0), 3),
            "preview with its index": round(fastest.get("_render_preview", 0.0), 3),
            "the rest (reading, hashing, storing)": round(best - accounted, 3),
        },
    }


# Run -----------------------------------------------------------------------------------------------------------
def run(args: argparse.Namespace) -> dict[str, Any]:
    from casefile.tasks.core.runtime import get_runtime, reset_runtimes

    keep = args.workdir is not None
    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench-conditions-"))
    work.mkdir(parents=True, exist_ok=True)
    home = work / f"home-{args.reports}x{args.pages}"
    marker = home / "library.json"
    os.environ["CASEFILE_HOME"] = str(home)
    os.environ["CASEFILE_OCR_ENABLED"] = "false"
    reset_runtimes()
    try:
        if marker.exists():
            library = json.loads(marker.read_text())
        else:
            shutil.rmtree(home, ignore_errors=True)
            library = build_library(home, args.reports, args.pages)
            marker.write_text(json.dumps(library))
        rt = get_runtime()
        from casefile.tasks.cases.case import create_case
        from casefile.tasks.demo.scenario import fictional_case

        with rt.catalog.session() as session:
            case_id = create_case(session, fictional_case()).id
        busy0 = machine_busy_seconds()
        proposed = time_propose(case_id, args.repeat)
        bundled = time_bundle(work, case_id, args.bundle_pages, args.repeat)
        busy = machine_busy_seconds() - busy0
    finally:
        reset_runtimes()
        if not keep:
            shutil.rmtree(work, ignore_errors=True)
    return {
        "machine": machine_info(("pikepdf", "pypdfium2", "weasyprint", "sqlalchemy")),
        "library": library,
        "repeat": args.repeat,
        "propose": proposed,
        "bundle": bundled,
        "machine_cpu_seconds_meanwhile": round(busy, 1),
        "ok": proposed["ratio_to_target"] <= 1 and bundled["ratio_to_target"] <= 1,
    }


def print_report(report: dict[str, Any]) -> None:
    lib, p, b = report["library"], report["propose"], report["bundle"]
    print(
        f"Library: {lib['reports']:,} reports, {lib['pages']:,} pages, one country (made in "
        f"{lib['generate_seconds']} s, catalog {lib['catalog_seconds']} s, index {lib['index_seconds']} s)"
    )
    met = "met" if p["ratio_to_target"] <= 1 else "MISSED"
    print(
        f"propose, 3 topics, 150-page budget: {p['seconds']:.3f} s best of {report['repeat']} "
        f"({p['seconds_median']:.3f} s median), {p['passages']} passages, {p['pages_kept']} pages kept"
    )
    print(f"  reference: one search of the index (limit 20)   {p['reference_search_seconds'] * 1000:.1f} ms")
    print(f"  ratio propose / reference search               {p['ratio_to_reference']}")
    print(f"  ratio propose / target ({PROPOSE_TARGET_SECONDS:g} s)                 {p['ratio_to_target']}  {met}")
    met = "met" if b["ratio_to_target"] <= 1 else "MISSED"
    print(
        f"bundle of {b['pages']} pages, {b['passages']} passages marked: {b['seconds']:.3f} s best "
        f"({b['seconds_median']:.3f} s median)"
    )
    if b["reference_qpdf_seconds"] is not None:
        print(f"  reference: qpdf extraction of the same pages  {b['reference_qpdf_seconds']:.3f} s")
        print(f"  ratio bundle / qpdf extraction               {b['ratio_to_reference']}")
    print(f"  ratio bundle / target ({BUNDLE_TARGET_SECONDS:g} s)                  {b['ratio_to_target']}  {met}")
    for name, seconds in b["phases"].items():
        print(f"    {name:<44}{seconds:>7.3f} s")
    print(f"other processes and this one used {report['machine_cpu_seconds_meanwhile']} CPU-seconds meanwhile")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--reports", type=int, default=2000, help="reports in the library (default 2000)")
    parser.add_argument("--pages", type=int, default=50, help="pages per report (default 50)")
    parser.add_argument("--bundle-pages", type=int, default=150, help="pages of the bundle (default 150)")
    parser.add_argument("--repeat", type=int, default=3, help="timed repetitions (default 3)")
    parser.add_argument("--workdir", type=Path, help="keep the library here and reuse it on later runs")
    parser.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    parser.add_argument("--save", type=Path, help="also write the JSON document to this file")
    args = parser.parse_args(argv)
    report = run(args)
    if args.save:
        args.save.write_text(json.dumps(report, indent=2, default=str) + "\n")
    if args.json:
        print(json.dumps(report, indent=2, default=str))
    else:
        print_report(report)
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
