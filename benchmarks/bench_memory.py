"""Peak memory of intake and of a packet build against the size of their largest single input (issue 13, item 10).

    python -m benchmarks.bench_memory [--json] [--keep DIR]

Each case runs in a fresh process (the plain pipeline, OCR off, no Prefect) and reports its peak resident set size
(VmHWM) less the peak of the same process taking in a one-page PDF (the reference, measured in the same run): what
the input itself costs. The inputs are at or near the default limits: a PDF of max_file_bytes / 2 (JPEG pages), an
image at max_image_pixels (grey PNG, RGB JPEG), a PDF whose Flate image is at max_image_pixels, and packets built from
them. The bound the README states is checked against these numbers (the benchmark prints the ratio of each case's
extra memory to the bound).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import zlib
from pathlib import Path

MB = 1024 * 1024
REPO_ROOT = Path(__file__).resolve().parents[1]

CHILD = textwrap.dedent(
    """
    import json, os, sys
    from datetime import date
    from pathlib import Path
    os.environ["CASEFILE_OCR_ENABLED"] = "false"
    from casefile.tasks.core.runtime import get_runtime
    from casefile.tasks.cases.case import create_case
    from casefile.tasks.demo.scenario import fictional_case
    from casefile.tasks.documents import pipeline, text
    what, paths = sys.argv[1], [Path(p) for p in sys.argv[2:]]
    rt = get_runtime()
    with rt.catalog.session() as s:
        case_id = create_case(s, fictional_case()).id
    docs = []
    for path in paths:
        result = pipeline.ingest_file(rt, case_id, path, "unclassified", searchable=False)
        assert result.outcome.value == "stored", (path.name, result)
        text.skip_text(rt, result.document_id)
        docs.append(result.document_id)
    if what == "packet":
        import yaml
        from casefile.tasks.packets import build
        from casefile.tasks.packets.exhibits import parse_plan, save_plan
        rows = [{"document": d, "title": f"Exhibit {i}"} for i, d in enumerate(docs)]
        save_plan(rt, parse_plan(yaml.safe_dump({"case": case_id, "exhibits": rows}), "p.yaml", case_id), "p.yaml")
        built = build.build_packet(rt, case_id, build.BuildOptions(service_date=date(2027, 2, 1)))
        assert built.pages > 0
    with open("/proc/self/status") as fh:
        peak = next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:"))
    print(json.dumps({"peak_mb": peak / 1024}))
    """
)


def _run(what: str, paths: list[Path], home: Path) -> float:
    env = {**os.environ, "CASEFILE_HOME": str(home), "PYTHONPATH": str(REPO_ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", CHILD, what, *map(str, paths)],
        capture_output=True,
        text=True,
        env=env,
        timeout=1800,
        check=False,
        cwd=REPO_ROOT,
    )
    if out.returncode != 0:
        raise SystemExit(f"{what} of {[p.name for p in paths]} failed:\n{out.stderr[-3000:]}")
    return float(json.loads(out.stdout.strip().splitlines()[-1])["peak_mb"])


def _one_page_pdf(path: Path) -> Path:
    import pikepdf

    with pikepdf.new() as pdf:
        pdf.add_blank_page()
        pdf.save(path)
    return path


def _big_pdf(path: Path, megabytes: int) -> Path:
    """A PDF of JPEG pages of noise (incompressible), ``megabytes`` in all."""
    import io
    import random

    import pikepdf
    from PIL import Image

    rng = random.Random(3)
    page = Image.frombytes("L", (1700, 2200), bytes(rng.getrandbits(8) for _ in range(1700 * 2200)))
    buf = io.BytesIO()
    page.save(buf, "JPEG", quality=95)
    jpeg = buf.getvalue()
    count = max(1, megabytes * MB // len(jpeg))
    with pikepdf.new() as pdf:
        for i in range(count):
            tag = f"page {i:06d}".encode()  # a JPEG comment segment: distinct, valid streams (no sharing)
            data = jpeg[:2] + b"\xff\xfe" + (len(tag) + 2).to_bytes(2, "big") + tag + jpeg[2:]
            image = pdf.make_stream(
                data,
                Type=pikepdf.Name.XObject,
                Subtype=pikepdf.Name.Image,
                Width=1700,
                Height=2200,
                ColorSpace=pikepdf.Name.DeviceGray,
                BitsPerComponent=8,
                Filter=pikepdf.Name.DCTDecode,
            )
            content = pdf.make_stream(b"q 612 0 0 792 0 0 cm /Im0 Do Q")
            pdf.pages.append(
                pikepdf.Page(
                    pikepdf.Dictionary(
                        Type=pikepdf.Name.Page,
                        MediaBox=[0, 0, 612, 792],
                        Resources=pikepdf.Dictionary(XObject=pikepdf.Dictionary(Im0=image)),
                        Contents=content,
                    )
                )
            )
        pdf.save(path)
    return path


def _image(path: Path, mode: str, side: tuple[int, int], fmt: str) -> Path:
    from PIL import Image, ImageDraw

    image = Image.new(mode, side, 235 if mode == "L" else (235, 230, 220))
    draw = ImageDraw.Draw(image)
    for y in range(0, side[1], 400):
        draw.rectangle((200, y, side[0] - 200, y + 60), fill=20 if mode == "L" else (20, 20, 30))
    image.save(path, fmt, **({"quality": 90} if fmt == "JPEG" else {}))
    return path


def _flate_image_pdf(path: Path, width: int, height: int) -> Path:
    """One letter page drawing a width x height RGB Flate image (compressible: a small file, a big decode)."""
    import pikepdf

    row = bytes([235, 230, 220]) * width
    squeeze = zlib.compressobj(6)
    data = b"".join(squeeze.compress(row * 100) for _ in range(height // 100)) + squeeze.flush()
    with pikepdf.new() as pdf:
        image = pdf.make_stream(
            data,
            Type=pikepdf.Name.XObject,
            Subtype=pikepdf.Name.Image,
            Width=width,
            Height=height - height % 100,
            ColorSpace=pikepdf.Name.DeviceRGB,
            BitsPerComponent=8,
            Filter=pikepdf.Name.FlateDecode,
        )
        content = pdf.make_stream(b"q 612 0 0 792 0 0 cm /Im0 Do Q")
        pdf.pages.append(
            pikepdf.Page(
                pikepdf.Dictionary(
                    Type=pikepdf.Name.Page,
                    MediaBox=[0, 0, 612, 792],
                    Resources=pikepdf.Dictionary(XObject=pikepdf.Dictionary(Im0=image)),
                    Contents=content,
                )
            )
        )
        pdf.save(path, compress_streams=False)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--keep", type=Path, default=None)
    parser.add_argument("--pdf-mb", type=int, default=256, help="size of the large PDF (default 256 MB)")
    args = parser.parse_args(argv)
    from casefile.tasks.core.settings import Settings

    defaults = Settings()
    pixels = defaults.max_image_pixels
    with tempfile.TemporaryDirectory(prefix="casefile-memory-") as scratch:
        root = args.keep or Path(scratch)
        root.mkdir(parents=True, exist_ok=True)
        side = int(pixels**0.5) - 8
        files = {
            "one page (reference)": [_one_page_pdf(root / "one.pdf")],
            f"PDF of {args.pdf_mb} MB (JPEG pages)": [_big_pdf(root / "big.pdf", args.pdf_mb)],
            f"grey PNG at the pixel limit ({side} x {side})": [_image(root / "grey.png", "L", (side, side), "PNG")],
            f"RGB JPEG at the pixel limit ({side} x {side})": [_image(root / "rgb.jpg", "RGB", (side, side), "JPEG")],
            f"PDF with an RGB Flate image at the limit ({side} x {side})": [
                _flate_image_pdf(root / "flate.pdf", side, side)
            ],
        }
        rows = []
        base = {"intake": 0.0, "packet": 0.0}
        for index, (label, paths) in enumerate(files.items()):
            for what in ("intake", "packet"):
                peak = _run(what, paths, root / f"home-{index}-{what}")
                if index == 0:
                    base[what] = peak
                size = sum(p.stat().st_size for p in paths) / MB
                rows.append(
                    {
                        "input": label,
                        "stage": what,
                        "file_mb": round(size, 1),
                        "peak_mb": round(peak, 1),
                        "extra_mb": round(peak - base[what], 1),
                    }
                )
    if args.json:
        print(json.dumps({"max_image_pixels": pixels, "rows": rows}, indent=2))
    else:
        print(
            f"Peak memory (VmHWM) per input, less the one-page reference of the same stage; limits: "
            f"max_file_bytes {defaults.max_file_bytes // MB} MB, max_image_pixels {pixels:,}"
        )
        print(f"{'input':<58} {'stage':<7} {'file MB':>8} {'peak MB':>8} {'extra MB':>9}")
        for r in rows:
            print(f"{r['input']:<58} {r['stage']:<7} {r['file_mb']:>8} {r['peak_mb']:>8} {r['extra_mb']:>9}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
