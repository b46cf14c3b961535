"""Start-up of commands that run no flow: `casefile --help` and `casefile docs CASE` (issue 3: under 0.5 s).

Run from the repository root (not part of the tests):

    python -m benchmarks.bench_startup [--runs 15] [--json]

A fresh CASEFILE_HOME in a temporary folder gets one fictional case with a few documents (plain function calls,
OCR off). Then each command runs ``--runs`` times as a subprocess, as a user runs it, interleaved with two
references measured in the same run: a bare interpreter (``python -c pass``) and an interpreter that only imports
the libraries every catalog command needs (``sqlalchemy.orm, pydantic_settings, click``), imported as `casefile`
imports them (garbage collector off, no interpreter teardown). Printed: median and best wall time per command, and
the ratio of each median to the import-only reference (what casefile adds on top of its libraries). Exit status 1
when a median is 0.5 s or more.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import machine_info

TARGET_SECONDS = 0.5
# What casefile cannot go below: its libraries imported the way `casefile` imports them (no garbage collection
# while importing, no interpreter teardown at exit).
LIBRARIES = "reference: the libraries alone (sqlalchemy.orm, pydantic_settings, click)"


def _time(command: list[str], env: dict[str, str], cwd: Path) -> float:
    started = time.perf_counter()
    subprocess.run(command, env=env, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def _setup(home: Path) -> str:
    """One fictional case with the sample documents (OCR off), in ``home``."""
    os.environ["CASEFILE_HOME"] = str(home)
    os.environ["CASEFILE_OCR_ENABLED"] = "false"
    from casefile.tasks.cases.case import create_case
    from casefile.tasks.core.runtime import get_runtime
    from casefile.tasks.core.settings import DEMO_DATA
    from casefile.tasks.demo.scenario import fictional_case
    from casefile.tasks.documents import pipeline

    rt = get_runtime()
    with rt.catalog.session() as session:
        case_id = create_case(session, fictional_case()).id
    for path in sorted((DEMO_DATA / "sample").iterdir()):
        pipeline.ingest_file(rt, case_id, path, "unclassified", searchable=False)
    pipeline.make_searchable(rt, case_id)
    return case_id


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=15, help="runs of each command (default 15)")
    parser.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="bench-startup-"))
    try:
        home = work / "home"
        case_id = _setup(home)
        env = {**os.environ, "CASEFILE_HOME": str(home)}
        exe = str(Path(sys.executable).with_name("casefile"))
        commands: dict[str, list[str]] = {
            "reference: python -c pass": [sys.executable, "-c", "pass"],
            LIBRARIES: [
                sys.executable,
                "-c",
                "import gc; gc.disable(); import sqlalchemy.orm, pydantic_settings, click, os; os._exit(0)",
            ],
            "casefile --help": [exe, "--help"],
            f"casefile docs {case_id}": [exe, "docs", case_id],
            f"casefile docs {case_id} --json": [exe, "docs", case_id, "--json"],
        }
        for command in commands.values():  # warm the page cache and the .pyc files
            _time(command, env, work)
        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.runs):  # interleaved, so a busy moment hits every command alike
            for name, command in commands.items():
                times[name].append(_time(command, env, work))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    libraries = statistics.median(times[LIBRARIES])
    rows: list[dict[str, Any]] = []
    for name, values in times.items():
        median = statistics.median(values)
        rows.append(
            {
                "command": name,
                "median_s": round(median, 3),
                "best_s": round(min(values), 3),
                "x_libraries": round(median / libraries, 2),
                "target_met": None if name.startswith("reference") else median < TARGET_SECONDS,
            }
        )
    ok = all(r["target_met"] is not False for r in rows)
    report = {"machine": machine_info(), "runs": args.runs, "target_seconds": TARGET_SECONDS, "rows": rows, "ok": ok}
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"casefile start-up, {args.runs} runs each, interleaved; target: median under {TARGET_SECONDS} s")
        print(f"{'command':58} {'median':>8} {'best':>8} {'x libs':>7}  target")
        for r in rows:
            mark = "" if r["target_met"] is None else ("met" if r["target_met"] else "MISSED")
            print(f"{r['command']:58} {r['median_s']:8.3f} {r['best_s']:8.3f} {r['x_libraries']:7.2f}  {mark}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
