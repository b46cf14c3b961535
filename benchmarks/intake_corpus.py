"""Intake over the corpus of hostile and odd files (tests/resources/corpus.py), with the real `casefile` commands.

    python -m benchmarks.intake_corpus [--no-ocr] [--no-packet] [--keep DIR] [--json]

Prints what happened to each kind of file and the table the issue asks for: files tried, stored, refused by reason,
tracebacks (must be 0), objects lost (must be 0), and whether a packet of every stored file builds and passes its
check. Exits 1 when a traceback was printed, an object was lost or a file came out otherwise than expected.
tests/test_corpus.py runs the same report and asserts it.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType

REPO_ROOT = Path(__file__).resolve().parents[1]


def load_corpus() -> ModuleType:
    spec = importlib.util.spec_from_file_location("casefile_corpus", REPO_ROOT / "tests" / "resources" / "corpus.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["casefile_corpus"] = module
    spec.loader.exec_module(module)
    return module


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--no-ocr", action="store_true", help="switch OCR off (faster; intake is what is tried)")
    parser.add_argument("--no-packet", action="store_true", help="do not build a packet of the stored files")
    parser.add_argument("--keep", type=Path, default=None, help="work in DIR and keep the home and the corpus there")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    args = parser.parse_args(argv)
    if args.no_ocr:
        os.environ["CASEFILE_OCR_ENABLED"] = "false"
    corpus = load_corpus()
    with tempfile.TemporaryDirectory(prefix="casefile-corpus-") as scratch:
        root = args.keep or Path(scratch)
        root.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        expected = corpus.make_corpus(root / "corpus", outside=root)
        made = time.monotonic() - started
        report = corpus.intake_report(root / "corpus", root / "home", expected, packet=not args.no_packet)
        seconds = time.monotonic() - started - made
    if args.json:
        print(
            json.dumps(
                {
                    "tried": report.tried,
                    "outcomes": report.outcomes,
                    "tracebacks": report.tracebacks,
                    "objects_lost": report.objects_lost,
                    "unexpected": report.unexpected,
                    "packet": report.packet,
                    "seconds": round(seconds, 1),
                },
                indent=2,
            )
        )
    else:
        filed = " and filed" if report.packet else ""
        print(f"Intake of the hostile and odd files corpus ({len(corpus.CORPUS)} made files, a symbolic link, a FIFO")
        print(f"and a hidden file; made in {made:.1f} s, taken in{filed} in {seconds:.1f} s)")
        for entry in corpus.CORPUS:
            print(f"  {entry.name:<24} {report.outcomes.get(entry.name, '?'):<22} {entry.what}")
        print()
        print(report.table())
        if report.tracebacks and "Traceback" in report.stderr:
            print("\nstderr around the first traceback:")
            at = report.stderr.index("Traceback")
            print(report.stderr[max(0, at - 2000) : at + 4000])
    bad = report.tracebacks or report.objects_lost or report.unexpected or report.packet.startswith("FAILED")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
