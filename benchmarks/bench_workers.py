"""OCR of one long scan spread over a work pool's workers, against the embedded single-process run.

    python -m benchmarks.bench_workers [--pages 200] [--per-part 25] [--workers 1 2] [--json]

Renders a ``--pages`` scanned PDF (200-dpi JPEG pages of fictional text, tests/resources/generate.py), then OCRs it
three ways, all measured in the same run on the same file:

- **embedded**: ``ocr.ocr_document`` as `casefile add` runs it without a server (one process, a pool of
  ``os.cpu_count()`` Tesseract processes);
- **pool, N workers** for each N in ``--workers``: a Prefect server on PostgreSQL (throwaway cluster, as the tests
  start it), the catalog on PostgreSQL, ``N`` `prefect worker start --pool casefile --limit 1` processes, and
  ``flows.ocr.distribute_text`` splitting the document into ``--per-part`` page ranges. On one machine the workers
  share its cores, so each gets ``cpu_count // N`` OCR processes; on a practice's machines each would have all of
  its own.

Printed: pages/s and the scaling factor against the embedded run (the target the issue sets is a factor, measured,
not asserted), and CPU-seconds per page: ``getrusage`` of this process and of every process below it, Tesseract
included (the benchmark makes itself the subreaper of its descendants, so the OCR pools' forkservers, orphaned when
their run ends, are reaped and counted; the embedded run runs in a child process for the same reason). The pool
figures include the workers' own start-up and polling. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import load_generate, machine_info

TESTS = Path(__file__).resolve().parents[1] / "tests"


def _cpu() -> float:
    """CPU-seconds of this process and of every descendant reaped so far. Descendants are all reaped here: this
    process is the subreaper of its tree (``_subreaper``), so processes orphaned below it (a flow run's or an OCR
    run's multiprocessing forkserver and its pool) come back to it and ``_reap_orphans`` collects them."""
    _reap_orphans()
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _subreaper() -> None:
    """Linux: orphaned descendants are re-parented to this process instead of init, so their CPU time is counted."""
    import ctypes

    pr_set_child_subreaper = 36
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_child_subreaper, 1, 0, 0, 0)


def _reap_orphans(settle: float = 3.0) -> None:
    """Reap descendants that have ended (orphans exit within moments of their parent); live children are left."""
    deadline = time.monotonic() + settle
    while time.monotonic() < deadline:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            time.sleep(0.1)


def make_scan(path: Path, pages: int) -> None:
    generate = load_generate()
    texts = [
        [f"Fictional record, page {n + 1} of {pages}.", "The respondent declared that the gang threatened him.",
         "Synthetic benchmark data, not a real document.", f"Reference number {1000 + n}."]
        for n in range(pages)
    ]  # fmt: skip
    generate.make_scanned_pdf(path, texts, dpi=200)


_EMBEDDED = """import sys
from pathlib import Path
from casefile.tasks.documents.ocr import ocr_document
result = ocr_document(Path(sys.argv[1]), Path(sys.argv[2]), workers=int(sys.argv[3]), languages="eng+spa")
print(len(result.pages))
"""


def embedded(scan: Path, work: Path) -> dict[str, Any]:
    """``ocr_document`` as `casefile add` runs it, in a child process (so that its OCR pool's CPU is counted)."""
    workers = os.cpu_count() or 1
    cpu, started = _cpu(), time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", _EMBEDDED, str(scan), str(work / "embedded.pdf"), str(workers)],
        capture_output=True,
        text=True,
        timeout=7200,
        check=True,
    )
    seconds = time.perf_counter() - started
    return _figures(int(done.stdout.strip()), seconds, _cpu() - cpu, ocr_processes=workers)


def _figures(pages: int, seconds: float, cpu: float, **extra: Any) -> dict[str, Any]:
    return {
        "pages": pages,
        "seconds": round(seconds, 1),
        "pages_per_s": round(pages / seconds, 3),
        "cpu_s_per_page": round(cpu / pages, 2),
        **extra,
    }


def pool(scan: Path, work: Path, n_workers: int, per_part: int) -> dict[str, Any]:
    """OCR through ``n_workers`` Prefect process workers; the Prefect server and catalog on PostgreSQL."""
    sys.path.insert(0, str(TESTS))
    from pgserver import running_postgres

    from casefile.flows.prefect_server import LocalPrefectServer

    ocr_processes = max(1, (os.cpu_count() or 1) // n_workers)
    with running_postgres() as pg:
        prefect_home = work / f"prefect-{n_workers}"
        os.environ["PREFECT_API_DATABASE_CONNECTION_URL"] = pg.new_database().replace("+psycopg", "+asyncpg")
        server = LocalPrefectServer(prefect_home, log_path=work / f"server-{n_workers}.log")
        api = server.start(timeout=180)
        env = {
            "PREFECT_API_URL": api,
            "PREFECT_HOME": str(prefect_home),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_WORKER_QUERY_SECONDS": "1",
            "PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW": "ignore",
            "PREFECT_RESULTS_PERSIST_BY_DEFAULT": "false",
            "CASEFILE_HOME": str(work / f"home-{n_workers}"),
            "CASEFILE_DATABASE_URL": pg.new_database(),
            "CASEFILE_WORK_POOL": "casefile",
            "CASEFILE_OCR_SPLIT_PAGES": str(per_part),
            "CASEFILE_OCR_WORKERS": str(ocr_processes),
            "OMP_THREAD_LIMIT": "1",
        }
        os.environ.update(env)
        casefile = str(Path(sys.executable).with_name("casefile"))
        deployed = subprocess.run([casefile, "serve", "--pool", "casefile", "--json"], capture_output=True,
                                  timeout=300, check=False)  # fmt: skip
        if deployed.returncode != 0:
            raise RuntimeError(deployed.stderr.decode()[-2000:])
        workers = [
            subprocess.Popen(
                [
                    str(Path(sys.executable).with_name("prefect")),
                    "worker",
                    "start",
                    "--pool",
                    "casefile",
                    "--limit",
                    "1",
                    "--name",
                    f"bench-{i}",
                ],
                stdout=(work / f"worker-{n_workers}-{i}.log").open("wb"),
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
            for i in range(n_workers)
        ]
        try:
            from prefect.settings import PREFECT_API_URL, temporary_settings

            from casefile.flows.ocr import distribute_text
            from casefile.tasks.cases.case import create_case
            from casefile.tasks.core.runtime import get_runtime, reset_runtimes
            from casefile.tasks.demo.scenario import fictional_case
            from casefile.tasks.documents.pipeline import ingest_files, taken_in

            reset_runtimes()
            rt = get_runtime()
            with rt.catalog.session() as session:
                case_id = create_case(session, fictional_case()).id
            doc_id = taken_in(ingest_files(rt, case_id, [scan], "other", searchable=False).items[0])
            assert doc_id is not None
            time.sleep(5)  # the workers have started and polled once
            cpu, started = _cpu(), time.perf_counter()
            # Prefect reads its settings once per process: each pass's server is given explicitly (the second
            # pass's server listens on another port than the first's).
            with temporary_settings(updates={PREFECT_API_URL: api}):
                summary = distribute_text(rt, doc_id, poll=0.5)
            seconds = time.perf_counter() - started
        finally:
            for worker in workers:
                worker.terminate()
            for worker in workers:
                try:
                    worker.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    worker.kill()
                    worker.wait()
            cpu_total = _cpu() - cpu
            reset_runtimes()
            server.stop()
    return _figures(
        summary.ocr_pages + summary.blank_pages + summary.failed_pages + summary.text_pages,
        seconds,
        cpu_total,
        workers=n_workers,
        ocr_processes_per_worker=ocr_processes,
        failed_pages=summary.failed_pages,
    )


def run(pages: int, per_part: int, worker_counts: list[int]) -> dict[str, Any]:
    _subreaper()
    work = Path(tempfile.mkdtemp(prefix="casefile-bench-workers-"))
    try:
        scan = work / "scan.pdf"
        started = time.perf_counter()
        make_scan(scan, pages)
        result: dict[str, Any] = {
            "benchmark": "workers",
            "machine": machine_info(packages=("prefect", "pikepdf")),
            "pages": pages,
            "per_part": per_part,
            "scan_mb": round(scan.stat().st_size / 1e6, 1),
            "generation_s": round(time.perf_counter() - started, 1),
        }
        result["embedded"] = embedded(scan, work)
        base = result["embedded"]["pages_per_s"]
        result["pool"] = []
        for n in worker_counts:
            figures = pool(scan, work, n, per_part)
            figures["scaling_vs_embedded"] = round(figures["pages_per_s"] / base, 2)
            result["pool"].append(figures)
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_workers", description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--per-part", type=int, default=25)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    result = run(args.pages, args.per_part, args.workers)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    m = result["machine"]
    print(f"machine: {m['cpu_model']}, {m['cpus']} CPUs; scan: {result['pages']} pages, {result['scan_mb']} MB")
    e = result["embedded"]
    print(
        f"embedded (1 process, {e['ocr_processes']} OCR processes): {e['seconds']} s = {e['pages_per_s']} pages/s, "
        f"{e['cpu_s_per_page']} CPU-s/page"
    )
    for p in result["pool"]:
        print(
            f"pool, {p['workers']} worker(s) x {p['ocr_processes_per_worker']} OCR processes, parts of "
            f"{result['per_part']} pages: {p['seconds']} s = {p['pages_per_s']} pages/s (x{p['scaling_vs_embedded']} "
            f"the embedded run), {p['cpu_s_per_page']} CPU-s/page"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
