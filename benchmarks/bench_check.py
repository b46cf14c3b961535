"""Benchmark: the pre-filing check (``check_packet``) of a 1,000-page packet, against a budget of 10 s.

Run from the repository root (not part of the tests):

    python -m benchmarks.bench_check [--pages 1000] [--repeat 3] [--sample 40] [--json] [--save FILE]

1. The packet (synthetic, made in the run, not timed): ``--pages`` letter pages of English text in an embedded
   DejaVu subset (fpdf2), 30 lines each, every page numbered in the bottom band, with the builder's front and back
   bookmarks and decimal page labels (the file tests/test_packetcheck.py checks for correctness, untimed).
2. Timed: ``check_packet`` against the eoir profile, ``--repeat`` times (best, and the median beside it); its
   report must be clean.
3. References in the same run: ``qpdf --check`` of the file alone, run the way the check runs it (``python -m
   casefile.tasks.packets.qpdf_child``); and, on the first ``--sample`` pages, reading every text run with its
   position, by pypdf (``extract_text(visitor_text=...)``) and by pdfium (the check's way), per page.

Prints the check's time over the budget (target: at most 1, i.e. 10 s per 1,000 pages), over ``qpdf --check``
alone, and the per-page cost of the two ways of reading text. Exit status 1 when the budget is missed or the check
finds a problem. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import machine_busy_seconds, machine_info

BUDGET_SECONDS_PER_1000_PAGES = 10.0
LINE = "The respondent reported the threats to the local police, then left."


def make_packet(path: Path, pages: int) -> Path:
    """``pages`` numbered letter pages of text, with the builder's front/back bookmarks and page labels."""
    import pikepdf
    from fpdf import FPDF

    from casefile.tasks.packets.layout import find_stamp_font

    pdf = FPDF(unit="pt", format="letter")
    pdf.add_font("dv", fname=str(find_stamp_font()))
    pdf.set_font("dv", size=11)
    for n in range(1, pages + 1):
        pdf.add_page()
        for k in range(30):
            pdf.text(72, 90 + 20 * k, LINE)
        pdf.text(300, 792 - 36, str(n))  # fpdf2 measures y from the top
    pdf.text(72, 720, "/s/ Ana Vega (fictional)")  # the certificate of service, last page, is signed
    raw = path.with_suffix(".raw.pdf")
    pdf.output(str(raw))
    with pikepdf.open(raw) as big:
        with big.open_outline() as outline:
            outline.root.append(pikepdf.OutlineItem("Cover page", 0))
            outline.root.append(pikepdf.OutlineItem("Index of Exhibits", 1))
            outline.root.append(pikepdf.OutlineItem("Certificate of service", pages - 1))
        big.Root.PageLabels = pikepdf.Dictionary(Nums=pikepdf.Array([0, pikepdf.Dictionary(S=pikepdf.Name.D)]))
        big.save(path)
    raw.unlink()
    return path


def time_check(path: Path) -> tuple[float, list[str]]:
    from casefile.tasks.core.settings import PACKAGE_ROOT
    from casefile.tasks.packets.check import check_packet
    from casefile.tasks.packets.profile import read_profile

    profile = read_profile(PACKAGE_ROOT / "config", "eoir")
    started = time.perf_counter()
    report = check_packet([path], profile)
    seconds = time.perf_counter() - started
    return seconds, [f"{f.code} ({f.file}, page {f.page})" for f in report.findings]


def time_qpdf_check(path: Path) -> float:
    from casefile.tasks.core.processes import module_command, module_env
    from casefile.tasks.packets.check.qpdf import QPDF_CHILD

    started = time.perf_counter()
    subprocess.run(module_command(QPDF_CHILD, str(path)), env=module_env(), capture_output=True, check=True)
    return time.perf_counter() - started


def time_text_readers(path: Path, sample: int) -> dict[str, float]:
    """Milliseconds per page to read every text run with its position: pypdf's visitor, and pdfium."""
    import pypdfium2 as pdfium
    from pypdf import PdfReader

    reader = PdfReader(path)
    sample = min(sample, len(reader.pages))
    runs: list[str] = []
    started = time.perf_counter()
    for page in reader.pages[:sample]:
        page.extract_text(visitor_text=lambda text, *_: runs.append(text))
    pypdf_ms = (time.perf_counter() - started) * 1000 / sample
    doc = pdfium.PdfDocument(str(path))
    started = time.perf_counter()
    try:
        for index in range(sample):
            page = doc[index]
            textpage = page.get_textpage()
            for k in range(textpage.count_rects()):
                runs.append(textpage.get_text_bounded(*textpage.get_rect(k)))
            textpage.close()
            page.close()
    finally:
        doc.close()
    pdfium_ms = (time.perf_counter() - started) * 1000 / sample
    return {"pages": sample, "pypdf_ms_per_page": round(pypdf_ms, 2), "pdfium_ms_per_page": round(pdfium_ms, 2)}


def run(args: argparse.Namespace) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="bench-check-"))
    try:
        path = make_packet(work / "packet.pdf", args.pages)
        time_check(path)  # warm-up: imports, the language models, the page cache (not reported)
        busy0 = machine_busy_seconds()
        checks: list[float] = []
        qpdf: list[float] = []
        findings: list[str] = []
        for _ in range(args.repeat):  # interleaved, so a busy moment hits both alike
            seconds, findings = time_check(path)
            checks.append(seconds)
            qpdf.append(time_qpdf_check(path))
        readers = time_text_readers(path, args.sample)
        busy = machine_busy_seconds() - busy0
        size = path.stat().st_size
    finally:
        shutil.rmtree(work, ignore_errors=True)
    budget = BUDGET_SECONDS_PER_1000_PAGES * args.pages / 1000
    best = min(checks)
    return {
        "machine": machine_info(("pypdf", "pikepdf", "pypdfium2", "fpdf2")),
        "pages": args.pages,
        "bytes": size,
        "repeat": args.repeat,
        "check_seconds": round(best, 3),
        "check_seconds_median": round(statistics.median(checks), 3),
        "pages_per_second": round(args.pages / best, 1),
        "budget_seconds": budget,
        "ratio_to_budget": round(best / budget, 3),
        "qpdf_check_seconds": round(min(qpdf), 3),
        "ratio_to_qpdf_check": round(best / min(qpdf), 2),
        "text_readers": readers,
        "machine_cpu_seconds_meanwhile": round(busy, 1),
        "findings": findings,
        "ok": not findings and best <= budget,
    }


def print_report(report: dict[str, Any]) -> None:
    r = report
    readers = r["text_readers"]
    print(f"check_packet of {r['pages']:,} numbered text pages ({r['bytes'] / 2**20:.1f} MB), eoir profile")
    print(
        f"{'check_packet, best of ' + str(r['repeat']) + ' (median)':<44}{r['check_seconds']:>8.3f} s"
        f"  ({r['check_seconds_median']:.3f} s)  {r['pages_per_second']:,} pages/s"
    )
    print(f"{'reference: qpdf --check alone':<44}{r['qpdf_check_seconds']:>8.3f} s")
    met = "met" if r["ratio_to_budget"] <= 1 else "MISSED"
    print(
        f"{'ratio check / budget (' + format(r['budget_seconds'], 'g') + ' s)':<44}{r['ratio_to_budget']:>8.3f}"
        f"    target <= 1: {met}"
    )
    print(f"{'ratio check / qpdf --check':<44}{r['ratio_to_qpdf_check']:>8.2f}")
    print(
        f"text with positions, first {readers['pages']} pages: pypdf {readers['pypdf_ms_per_page']} ms/page, "
        f"pdfium {readers['pdfium_ms_per_page']} ms/page"
    )
    if r["findings"]:
        print(f"FINDINGS (the file should be clean): {', '.join(r['findings'][:5])}")
    print(f"other processes and this one used {r['machine_cpu_seconds_meanwhile']} CPU-seconds during the measurement")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--pages", type=int, default=1000, help="pages in the packet (default 1000)")
    parser.add_argument("--repeat", type=int, default=3, help="timed checks (default 3)")
    parser.add_argument("--sample", type=int, default=40, help="pages read by each text reader (default 40)")
    parser.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    parser.add_argument("--save", type=Path, help="also write the JSON document to this file")
    args = parser.parse_args(argv)
    report = run(args)
    if args.save:
        args.save.write_text(json.dumps(report, indent=2) + "\n")
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_report(report)
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
