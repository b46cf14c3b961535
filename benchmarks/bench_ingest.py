"""Benchmark: ingest of a synthetic corpus (default 200 files) through the real pipeline.

Run from the repository root (not part of the tests):

    python -m benchmarks.bench_ingest [--files 200] [--repeat 1] [--workdir DIR] [--json]

In one process, on the same files (generated first, seeded, fictional):

1. reference: copy every file into a fresh folder while SHA-256-hashing it (the I/O any ingest must do),
   once plainly and once with an fsync per file (the object store fsyncs every object it writes);
2. the pipeline's plain functions without Prefect, doing what the flow does: ``intake.ingest_item`` per file,
   sequentially and on a thread pool of ``ingest_workers`` threads (what the flow uses), then the text and index
   stage (``documents.text``) per document; intake and that stage are timed apart;
3. the real Prefect flow ``casefile.flows.ingest.ingest_case`` against a local Prefect server started beforehand
   (its start-up, a fixed cost of any Prefect process, is reported separately, as is ``import prefect``).

OCR is switched off unless ``--ocr`` is given (this benchmark is about intake; OCR has its own benchmark).

Each pipeline run gets a fresh CASEFILE_HOME (catalog, object store). Every file must come out "stored";
anything else fails the benchmark (exit code 1). With ``--repeat N`` every run is done N times (interleaved)
and the fastest is reported, with the median beside it. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import io
import json
import os
import pstats
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmarks.common import (
    Corpus,
    FileKind,
    Phase,
    children_cpu_seconds,
    cpu_seconds,
    generate_corpus,
    kind_of,
    load_corpus,
    machine_busy_seconds,
    machine_info,
    measure,
    peak_rss_children_mb,
    peak_rss_mb,
    tree_stats,
)

if TYPE_CHECKING:
    from casefile.tasks.core.runtime import Runtime
    from casefile.tasks.documents.intake import ItemResult

DOC_TYPE = "unclassified"
CLIENT_NAME = "Maria Fernanda Quiroga Test"  # the fictional client of the test data
A_NUMBER = "123-456-789"


class BenchmarkFailed(Exception):
    """A run did not store every file: the numbers would be meaningless."""


@dataclass
class Sample:
    """One measured run."""

    phase: Phase
    per_kind: dict[str, dict[str, float]] = field(default_factory=dict)
    server_cpu: float = 0.0  # Prefect server CPU-seconds during the run
    server_busy_after: float = 0.0  # seconds the server stayed busy after the flow returned
    server_cpu_after: float = 0.0  # and the CPU-seconds it used then
    text_seconds: float | None = None  # plain runs: the text and index stage (the rest is intake)
    text_counts: dict[str, int] = field(default_factory=dict)  # what that stage (or the flow) reported


@dataclass
class Series:
    """The repetitions of one kind of run."""

    key: str
    samples: list[Sample] = field(default_factory=list)

    @property
    def best(self) -> Sample:
        return min(self.samples, key=lambda s: s.phase.seconds)

    @property
    def median_seconds(self) -> float:
        return statistics.median(s.phase.seconds for s in self.samples)


# Reference ---------------------------------------------------------------------------------------------------
def reference_copy_hash(files: list[Path], dest: Path, fsync: bool) -> tuple[Sample, list[str]]:
    """Read each file, SHA-256 it and write it to ``dest`` (same chunk size as the pipeline)."""
    from casefile.tasks.core.storage import CHUNK

    dest.mkdir(parents=True)
    hashes: list[str] = []
    with measure("reference copy+hash" + (" +fsync" if fsync else "")) as phase:
        for number, source in enumerate(files):
            digest = hashlib.sha256()
            with source.open("rb") as src, (dest / f"{number:04d}").open("wb") as out:
                while block := src.read(CHUNK):
                    digest.update(block)
                    out.write(block)
                if fsync:
                    out.flush()
                    os.fsync(out.fileno())
            hashes.append(digest.hexdigest())
    return Sample(phase), hashes


# Pipeline helpers --------------------------------------------------------------------------------------------
def import_pipeline_libraries() -> None:
    """Import what ingest_item imports lazily, so the first measured run does not pay for it alone."""
    import img2pdf  # noqa: F401
    import pypdf  # noqa: F401
    from PIL import Image, JpegImagePlugin, TiffImagePlugin  # noqa: F401

    import casefile.tasks.cases.case
    import casefile.tasks.documents.intake  # noqa: F401


_CASEFILE_VARS_KEPT = {"CASEFILE_INGEST_WORKERS"}
# Outcomes of intake items (documents.intake.Outcome); the flow may return more counts (e.g. text extraction).
OUTCOMES = ("pending", "stored", "duplicate", "quarantined", "failed")


def isolate_environment(workers: int | None, ocr: bool) -> None:
    """Use only the defaults (local object store, SQLite catalog) plus the worker count. Unless ``ocr``, OCR
    is switched off (CASEFILE_OCR_ENABLED=false) for the flow and the plain runs: this benchmark is about intake."""
    for name in list(os.environ):
        if name.startswith("CASEFILE_") and name not in _CASEFILE_VARS_KEPT:
            del os.environ[name]
    if workers is not None:
        os.environ["CASEFILE_INGEST_WORKERS"] = str(workers)
    if not ocr:
        os.environ["CASEFILE_OCR_ENABLED"] = "false"


def fresh_runtime(home: Path) -> Runtime:
    """A runtime for a new, empty CASEFILE_HOME (set in the environment, as Prefect's task threads read it)."""
    from casefile.tasks.core.runtime import get_runtime

    os.environ["CASEFILE_HOME"] = str(home)
    return get_runtime()


def new_batch(rt: Runtime, files: list[Path]) -> tuple[str, str]:
    """A fictional case and an intake batch of ``files`` (what `casefile add` does before the flow)."""
    from casefile.tasks.cases.case import create_case, validate_new_case
    from casefile.tasks.documents.intake import create_batch

    new = validate_new_case(
        client=CLIENT_NAME,
        a_number=A_NUMBER,
        court="New York, NY (Broadway)",
        hearing="2027-03-04",
        hearing_type="individual",
        detained=False,
        judge=None,
        filing_deadline=None,
    )
    with rt.catalog.session() as session:
        case = create_case(session, new)
        session.flush()
        case_id: str = case.id
        batch_id: str = create_batch(session, case_id, files, DOC_TYPE).id
    return case_id, batch_id


def check_stored(rt: Runtime, batch_id: str, counts: dict[str, int], corpus: Corpus, run: str) -> dict[str, int]:
    """Every file stored, with every page and one original object each; returns documents/pages/objects."""
    from sqlalchemy import func, select

    from casefile.tasks.core.catalog import Document

    n = len(corpus.specs)
    others = {k: v for k, v in counts.items() if k in OUTCOMES and k != "stored" and v}
    with rt.catalog.session() as session:
        docs, pages = session.execute(
            select(func.count(), func.coalesce(func.sum(Document.page_count), 0)).where(
                Document.batch_id == batch_id, Document.status == "ready"
            )
        ).one()
    originals = sum(1 for _ in rt.store.list("originals/"))
    problems = []
    if counts.get("stored", 0) != n or others:
        problems.append(f"outcomes {counts} (expected {n} stored, nothing else)")
    if docs != n or pages != corpus.pages:
        problems.append(f"{docs} ready documents with {pages} pages (expected {n} with {corpus.pages})")
    if originals != n:
        problems.append(f"{originals} original objects in the store (expected {n})")
    if problems:
        raise BenchmarkFailed(f"{run}: " + "; ".join(problems))
    return {"documents": int(docs), "pages": int(pages), "originals": originals}


def run_plain(
    rt: Runtime,
    case_id: str,
    batch_id: str,
    workers: int,
    kinds: dict[int, FileKind],
    profile: Path | None = None,
) -> tuple[Sample, dict[str, int]]:
    """The flow's work without Prefect: start the batch, ``ingest_item`` per file (sequentially or on a
    thread pool), text and index for the case's documents, finish the batch."""
    from casefile.tasks.documents import intake, pipeline

    def one(seq: int) -> tuple[ItemResult, float]:
        started = time.perf_counter()
        result = intake.ingest_item(rt, batch_id, seq)
        return result, time.perf_counter() - started

    profiler = cProfile.Profile() if profile else None
    with measure("plain functions, " + ("sequential" if workers == 1 else f"{workers} threads")) as phase:
        if profiler:
            profiler.enable()
        seqs = intake.start_batch(rt, batch_id)
        if workers == 1:
            results = [one(seq) for seq in seqs]
        else:
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="bench-ingest") as pool:
                results = list(pool.map(one, seqs))
        intake_done = time.perf_counter()
        text_counts = pipeline.make_searchable(rt, case_id)
        text_done = time.perf_counter()
        counts = intake.finish_batch(rt, batch_id)
        if profiler:
            profiler.disable()
    if profiler and profile:
        profiler.dump_stats(profile)
    per_kind: dict[str, dict[str, float]] = {}
    for result, seconds in results:
        row = per_kind.setdefault(kinds[result.seq].value, {"files": 0, "pages": 0, "seconds": 0.0})
        row["files"] += 1
        row["pages"] += result.pages
        row["seconds"] += seconds
    sample = Sample(phase, per_kind, text_counts=text_counts)
    sample.text_seconds = text_done - intake_done
    return sample, counts


# Prefect -----------------------------------------------------------------------------------------------------
def wait_until_idle(
    pid: int, interval: float = 0.5, quiet_cpu: float = 0.05, timeout: float = 120.0
) -> tuple[float, float]:
    """Wait until the process tree uses less than ``quiet_cpu`` CPU-seconds in ``interval``; returns the
    time waited and the CPU it used meanwhile (the final quiet interval excluded)."""
    started = time.perf_counter()
    first = last = tree_stats(pid).cpu_seconds
    while time.perf_counter() - started < timeout:
        time.sleep(interval)
        now = tree_stats(pid).cpu_seconds
        if now - last < quiet_cpu:
            return max(0.0, time.perf_counter() - started - interval), last - first
        last = now
    return time.perf_counter() - started, last - first


@dataclass
class PrefectSetup:
    pid: int
    api_url: str
    server_start: Phase
    import_prefect: Phase
    ingest_case: Callable[[str], dict[str, int]]
    empty_flow: Callable[[], None]


@contextmanager
def prefect_server(prefect_home: Path, settings_home: Path) -> Iterator[PrefectSetup]:
    """Start a local Prefect server, point this process at it and only then import Prefect (its settings
    are read at import), as `casefile add` does when a server is running."""
    from casefile.flows.prefect_env import configure_prefect
    from casefile.flows.prefect_server import LocalPrefectServer
    from casefile.tasks.core.settings import load_settings

    if "prefect" in sys.modules:
        raise RuntimeError("Prefect was imported before its environment was set; this benchmark would be wrong.")
    os.environ.update(
        PREFECT_HOME=str(prefect_home),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW="ignore",
        PREFECT_RESULTS_PERSIST_BY_DEFAULT="false",
    )
    server = LocalPrefectServer(prefect_home)
    with measure("Prefect server start-up") as server_start:
        api_url = server.start()
    os.environ["PREFECT_API_URL"] = api_url
    try:
        assert server.process is not None
        configure_prefect(load_settings(home=settings_home))  # thread pool size, logging, results
        with measure("import prefect + casefile.flows.ingest") as import_prefect:
            from prefect import flow

            from casefile.flows.ingest import ingest_case

        @flow(name="bench-empty-flow", persist_result=False)
        def empty_flow() -> None:
            return None

        yield PrefectSetup(server.process.pid, api_url, server_start, import_prefect, ingest_case, empty_flow)
        from prefect.logging.handlers import APILogHandler

        APILogHandler().flush()  # send buffered run logs before the server goes away
    finally:
        server.stop()


def run_flow(setup: PrefectSetup, batch_id: str) -> tuple[Sample, dict[str, int]]:
    before = tree_stats(setup.pid)
    with measure("Prefect flow ingest_case") as phase:
        counts = setup.ingest_case(batch_id)
    after = tree_stats(setup.pid)
    # The server records task-run events asynchronously and can stay busy after the flow has returned.
    busy_after, cpu_after = wait_until_idle(setup.pid)
    sample = Sample(phase, server_cpu=after.cpu_seconds - before.cpu_seconds)
    sample.server_busy_after, sample.server_cpu_after = busy_after, cpu_after
    return sample, counts


# Report ------------------------------------------------------------------------------------------------------
def _mb(n_bytes: int) -> float:
    return n_bytes / 1e6


def _r(value: float, digits: int = 2) -> float:
    return round(value, digits)


def build_result(
    machine: dict[str, Any],
    corpus: Corpus,
    series: dict[str, Series],
    prefect: dict[str, Any] | None,
    stored: dict[str, dict[str, int]],
    extra: dict[str, Any],
) -> dict[str, Any]:
    n = len(corpus.specs)
    ref = series["reference"].best.phase.seconds
    ref_fsync = series["reference_fsync"].best.phase.seconds
    runs: dict[str, Any] = {}
    for key, s in series.items():
        if not s.samples:
            continue
        best = s.best
        row: dict[str, Any] = {
            **best.phase.as_dict(),
            # CPU time used meanwhile by processes other than this one and the Prefect server: on a shared
            # machine, anything well above zero means the numbers are pessimistic.
            "other_cpu_seconds": _r(
                max(0.0, best.phase.machine_cpu_seconds - best.phase.cpu_seconds - best.server_cpu)
            ),
            "files_per_s": _r(n / best.phase.seconds),
            "pages_per_s": _r(corpus.pages / best.phase.seconds),
            "ratio_to_reference": _r(best.phase.seconds / ref, 1),
            "ratio_to_reference_fsync": _r(best.phase.seconds / ref_fsync),
            "seconds_median": _r(s.median_seconds, 4),
            "seconds_all": [_r(x.phase.seconds, 4) for x in s.samples],
            # The peak RSS is a high-water mark: the first repetition's value shows what this kind of run added.
            "peak_rss_mb_after_first": s.samples[0].phase.peak_rss_mb,
        }
        if best.text_seconds is not None:
            intake_seconds = best.phase.seconds - best.text_seconds
            row["intake_seconds"] = _r(intake_seconds, 4)
            row["intake_ratio_to_reference"] = _r(intake_seconds / ref, 1)
            row["text_index_seconds"] = _r(best.text_seconds, 4)
        if best.text_counts:
            row["text_counts"] = best.text_counts
        if best.per_kind:
            row["per_kind"] = {
                kind: {**k, "seconds": _r(k["seconds"], 3), "ms_per_file": _r(1000 * k["seconds"] / k["files"], 1)}
                for kind, k in sorted(best.per_kind.items())
            }
        if key == "prefect_flow":
            row["server_cpu_seconds"] = _r(best.server_cpu)
            row["server_busy_after_flow_seconds"] = _r(best.server_busy_after)
            row["server_cpu_seconds_after_flow"] = _r(best.server_cpu_after)
        runs[key] = row
    result: dict[str, Any] = {
        "benchmark": "ingest",
        "machine": machine,
        "corpus": {
            "path": str(corpus.path),
            "files": n,
            "bytes": corpus.total_bytes,
            "pages": corpus.pages,
            "kinds": {k.value: corpus.count(k) for k in FileKind},
            "generation_seconds": _r(corpus.seconds),
            "generation_jobs": corpus.jobs,
            "reused": corpus.reused,
        },
        **extra,
        "runs": runs,
        "stored": stored,
    }
    flow_series, threads_series = series.get("prefect_flow"), series.get("plain_threads")
    if prefect is not None and flow_series and flow_series.samples and threads_series and threads_series.samples:
        flow_best, threads_best = flow_series.best, threads_series.best
        # Wall-clock overhead (sensitive to other load on the machine) and CPU overhead: the extra CPU of this
        # process plus all the server's CPU for the flow, per file (much steadier from run to run).
        prefect["per_file_ms"] = _r(1000 * (flow_best.phase.seconds - threads_best.phase.seconds) / n, 1)
        prefect["per_file_ms_without_empty_flow"] = _r(
            1000 * (flow_best.phase.seconds - prefect["empty_flow_seconds"] - threads_best.phase.seconds) / n, 1
        )
        extra_cpu = (
            flow_best.phase.cpu_seconds
            - threads_best.phase.cpu_seconds
            + flow_best.server_cpu
            + flow_best.server_cpu_after
        )
        prefect["cpu_ms_per_file"] = _r(1000 * extra_cpu / n, 1)
    if prefect is not None:
        result["prefect"] = prefect
    result["peak_rss_mb"] = peak_rss_mb()
    return result


LABELS = {
    "reference": "reference: copy + SHA-256",
    "reference_fsync": "reference: copy + SHA-256 + fsync",
    "plain_sequential": "pipeline, plain functions, 1 thread",
    "plain_threads": "pipeline, plain functions, {w} threads",
    "prefect_flow": "pipeline, Prefect flow ({w} threads)",
}


def format_report(result: dict[str, Any], corpus: Corpus) -> str:
    m, c, runs = result["machine"], result["corpus"], result["runs"]
    pk = m["packages"]
    out = io.StringIO()

    def line(text: str = "") -> None:
        out.write(text + "\n")

    line(f"casefile ingest benchmark, {m['date']}")
    line(
        f"machine: {m['cpus']} CPUs ({m['cpu_model']}), {m['memory_mb']} MB, load average at start "
        f"{' '.join(str(x) for x in m['load_average'])}; Python {m['python']}, prefect {pk['prefect']}, "
        f"pypdf {pk['pypdf']}, img2pdf {pk['img2pdf']}, Pillow {pk['pillow']}"
    )
    how = (
        "reused" if c["reused"] else f"generated in {c['generation_seconds']:.1f} s ({c['generation_jobs']} processes)"
    )
    line(f"corpus: {corpus.describe()}, {_mb(c['bytes']):.1f} MB; {how}")
    repeat = result["repeat"]
    line()
    line(
        f"{'run' + (f' (best of {repeat})' if repeat > 1 else ''):<40}{'seconds':>8}{'median':>8}{'files/s':>9}"
        f"{'CPU s':>7}{'others':>8}{'x ref':>7}{'x ref+fsync':>12}"
    )
    for key, label in LABELS.items():
        if key not in runs:
            continue
        r = runs[key]
        line(
            f"{label.format(w=result['ingest_workers']):<40}{r['seconds']:>8.3f}{r['seconds_median']:>8.3f}"
            f"{r['files_per_s']:>9.1f}{r['cpu_seconds']:>7.2f}{r['other_cpu_seconds']:>8.2f}"
            f"{r['ratio_to_reference']:>7.0f}{r['ratio_to_reference_fsync']:>12.1f}"
        )
    ref = runs["reference"]
    line(
        f"(reference: {_mb(c['bytes']) / ref['seconds']:.0f} MB/s. CPU s: this process, all threads. others: "
        "CPU-seconds used meanwhile by other processes on the machine, the Prefect server excluded)"
    )
    for key in ("plain_sequential", "plain_threads"):
        r = runs.get(key)
        if r and "intake_seconds" in r:
            line(
                f"{LABELS[key].format(w=result['ingest_workers'])}: intake {r['intake_seconds']:.3f} s "
                f"({r['intake_ratio_to_reference']:.0f} x ref), then text + index {r['text_index_seconds']:.3f} s"
            )
    text_counts = runs.get("prefect_flow", runs.get("plain_sequential", {})).get("text_counts")
    if text_counts:
        line(f"text stage (OCR {'on' if result['ocr'] else 'off'}): {text_counts}")
    prefect = result.get("prefect")
    if prefect:
        flow = runs["prefect_flow"]
        line()
        line(
            f"Prefect fixed costs (not in the flow time): server start-up {prefect['server_start_seconds']:.2f} s, "
            f"import {prefect['import_seconds']:.2f} s; an empty flow run takes {prefect['empty_flow_seconds']:.3f} s"
        )
        line(
            f"Prefect server CPU: {flow['server_cpu_seconds']:.1f} s during the flow, then "
            f"{flow['server_cpu_seconds_after_flow']:.1f} s more in the {flow['server_busy_after_flow_seconds']:.1f} s "
            "it stayed busy after the flow returned"
        )
        if "per_file_ms" in prefect:
            line(
                f"Prefect overhead per file vs plain threads: {prefect['per_file_ms']:.1f} ms wall "
                f"({prefect['per_file_ms_without_empty_flow']:.1f} ms without the empty-flow cost), "
                f"{prefect['cpu_ms_per_file']:.1f} ms CPU (this process + server)"
            )
    line()
    line("per kind (plain functions, 1 thread):")
    for kind, row in runs.get("plain_sequential", {}).get("per_kind", {}).items():
        line(
            f"  {kind:<14}{row['files']:>5} files {row['pages']:>5} pages {row['seconds']:>8.2f} s "
            f"{row['ms_per_file']:>8.1f} ms/file"
        )
    line()
    peaks = ", ".join(
        f"{label} {runs[key]['peak_rss_mb_after_first']:.0f} MB"
        for key, label in (
            ("reference_fsync", "after the reference"),
            ("plain_threads", "after the plain runs"),
            ("prefect_flow", "after the flow"),
        )
        if key in runs
    )
    line(f"peak RSS of this process: {result['peak_rss_mb']:.0f} MB ({peaks})")
    if prefect:
        peak = prefect["server_peak_rss_mb"]
        procs, rss = prefect["server_processes"], prefect["server_rss_mb"]
        line(
            f"Prefect server ({procs} process(es)): RSS {rss:.0f} MB at the end"
            + (f", peak {peak:.0f} MB" if peak is not None else "")
        )
    if c.get("generation_peak_rss_mb") is not None:
        line(f"corpus generation workers: peak RSS {c['generation_peak_rss_mb']:.0f} MB (separate processes)")
    stored = "; ".join(f"{run}: {s['documents']} stored, {s['pages']} pages" for run, s in result["stored"].items())
    line(f"outcomes: {stored}")
    whole = result["whole_run"]
    share = whole["other_cpu_seconds"] / whole["wall_seconds"]
    line(
        f"other processes on the machine used {whole['other_cpu_seconds']:.1f} CPU-s during the "
        f"{whole['wall_seconds']:.0f} s of this benchmark ({share:.0%} of one CPU)"
        + ("; the machine was not idle, so these numbers are pessimistic" if share > 0.05 else "")
    )
    return out.getvalue()


# Main --------------------------------------------------------------------------------------------------------
def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bench_ingest", description=__doc__.splitlines()[0] if __doc__ else None
    )
    parser.add_argument("--files", type=int, default=200, help="number of files (default 200)")
    parser.add_argument("--seed", type=int, default=0, help="corpus seed (default 0)")
    parser.add_argument("--repeat", type=int, default=1, help="repetitions of every run; the fastest is reported")
    parser.add_argument(
        "--workdir",
        type=Path,
        help="work here: the corpus (DIR/corpus-N-sSEED) is kept and reused by later runs with the same --files and "
        "--seed. Default: a temporary folder, removed at the end",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep what the runs wrote (homes, Prefect server log; ~0.4 GB a run)"
    )
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="processes generating the corpus")
    parser.add_argument("--workers", type=int, help="ingest_workers (default: the setting's default, 4)")
    parser.add_argument("--no-prefect", action="store_true", help="skip the Prefect runs")
    parser.add_argument(
        "--ocr", action="store_true", help="leave the flow's OCR on (default: off; the plain runs never OCR)"
    )
    parser.add_argument("--profile", type=Path, help="write a cProfile of the first sequential plain run here")
    parser.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    parser.add_argument("--save", type=Path, help="also write the JSON document to this file")
    args = parser.parse_args(argv)
    if args.files < 1 or args.repeat < 1:
        parser.error("--files and --repeat must be at least 1")
    return args


def run_all(
    args: argparse.Namespace, root: Path, run_dir: Path, machine: dict[str, Any]
) -> tuple[dict[str, Any], Corpus]:
    started, busy0, own0 = time.perf_counter(), machine_busy_seconds(), cpu_seconds() + children_cpu_seconds()
    corpus_dir = root / f"corpus-{args.files}-s{args.seed}"
    corpus = load_corpus(corpus_dir, args.files, args.seed)
    if corpus is None:
        say(f"Generating {args.files} files in {corpus_dir} ...")
        corpus = generate_corpus(corpus_dir, args.files, args.seed, args.jobs)
    generation_peak = None if corpus.reused else peak_rss_children_mb()

    from casefile.tasks.documents.intake import expand_inputs

    files = expand_inputs([corpus_dir])  # as `casefile add DIR` lists them
    kinds = {seq: kind_of(path.name) for seq, path in enumerate(files)}
    import_pipeline_libraries()

    series = {key: Series(key) for key in LABELS}
    say("Reference: copy + SHA-256 ...")
    for rep in range(args.repeat):
        for key, fsync in (("reference", False), ("reference_fsync", True)):
            sample, hashes = reference_copy_hash(files, run_dir / f"{key}-{rep}", fsync)
            series[key].samples.append(sample)
            if len(set(hashes)) != len(files):
                raise BenchmarkFailed(f"only {len(set(hashes))} distinct files out of {len(files)}")

    stored: dict[str, dict[str, int]] = {}
    from casefile.tasks.core.settings import load_settings

    workers = load_settings(home=run_dir / "settings").ingest_workers

    def plain_runs(rep: int) -> None:
        for key, threads in (("plain_sequential", 1), ("plain_threads", workers)):
            rt = fresh_runtime(run_dir / f"{key}-{rep}")
            case_id, batch_id = new_batch(rt, files)
            say(f"Pipeline without Prefect ({key.replace('_', ', ')}), run {rep + 1}/{args.repeat} ...")
            profile = args.profile if threads == 1 and rep == 0 else None
            sample, counts = run_plain(rt, case_id, batch_id, threads, kinds, profile)
            stored[key] = check_stored(rt, batch_id, counts, corpus, key)
            series[key].samples.append(sample)

    prefect: dict[str, Any] | None = None
    if args.no_prefect:
        for rep in range(args.repeat):
            plain_runs(rep)
    else:
        # The first plain runs happen before Prefect is even imported; later repetitions interleave plain and
        # Prefect runs so that load from other processes hits both alike.
        plain_runs(0)
        say("Starting a local Prefect server ...")
        with prefect_server(run_dir / "prefect-server", run_dir / "settings") as setup:
            for rep in range(args.repeat):
                if rep:
                    plain_runs(rep)
                rt = fresh_runtime(run_dir / f"prefect-{rep}")
                _, batch_id = new_batch(rt, files)
                say(f"Pipeline with Prefect, run {rep + 1}/{args.repeat} ...")
                sample, counts = run_flow(setup, batch_id)
                stored["prefect_flow"] = check_stored(rt, batch_id, counts, corpus, "prefect_flow")
                sample.text_counts = {k: v for k, v in counts.items() if k not in OUTCOMES}
                series["prefect_flow"].samples.append(sample)
            with measure("empty Prefect flow") as empty:
                setup.empty_flow()
            server = tree_stats(setup.pid)
        prefect = {
            "api_url": setup.api_url,
            "server_start_seconds": _r(setup.server_start.seconds),
            "import_seconds": _r(setup.import_prefect.seconds),
            "empty_flow_seconds": _r(empty.seconds, 3),
            "server_processes": server.processes,
            "server_rss_mb": server.rss_mb,
            "server_peak_rss_mb": server.peak_rss_mb,
        }

    own = cpu_seconds() + children_cpu_seconds() - own0  # this process, corpus workers, Prefect server
    wall = time.perf_counter() - started
    extra = {
        "repeat": args.repeat,
        "ocr": args.ocr,
        "ingest_workers": workers,
        "whole_run": {
            "wall_seconds": _r(wall, 1),
            "other_cpu_seconds": _r(max(0.0, machine_busy_seconds() - busy0 - own), 1),
        },
    }
    result = build_result(machine, corpus, series, prefect, stored, extra)
    result["corpus"]["generation_peak_rss_mb"] = generation_peak
    return result, corpus


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    machine = machine_info()
    isolate_environment(args.workers, args.ocr)
    temporary = args.workdir is None
    root = Path(tempfile.mkdtemp(prefix="casefile-bench-")) if temporary else args.workdir.resolve()
    root.mkdir(parents=True, exist_ok=True)
    run_dir = Path(tempfile.mkdtemp(prefix=time.strftime("run-%Y%m%d-%H%M%S-"), dir=root))
    try:
        result, corpus = run_all(args, root, run_dir, machine)
    except BenchmarkFailed as exc:
        print(f"BENCHMARK FAILED: {exc}", file=sys.stderr)
        return 1
    finally:
        if args.keep:
            say(f"Kept {run_dir}")
        else:
            shutil.rmtree(root if temporary else run_dir, ignore_errors=True)
    if args.profile:
        say(f"cProfile of the first sequential plain run written to {args.profile}; top functions (cumulative):")
        stream = io.StringIO()
        pstats.Stats(str(args.profile), stream=stream).sort_stats("cumulative").print_stats(25)
        say(stream.getvalue())
    if args.save:
        args.save.write_text(json.dumps(result, indent=2) + "\n")
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(format_report(result, corpus), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
