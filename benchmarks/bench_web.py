"""Staff page benchmark: concurrent signed-in users browsing cases and downloading a 25 MB packet part.

    python -m benchmarks.bench_web [--users 50] [--seconds 60] [--part-mb 25] [--cases 20] [--workdir DIR]
                                   [--json] [--save FILE]

Sets up a fresh home (``--cases`` fictional cases, each with a finished packet build whose one part is ``--part-mb``
MB, ``--users`` staff accounts), starts the real ``casefile web`` on a free loopback port and, in the same run, a
plain static file server (``python -m http.server``) serving the same part file and a saved copy of a case page.
Then, for ``--seconds`` each, ``--users`` concurrent clients loop over: the start page, a case page, a search, and a
download of the part (streamed and discarded; the first download of each user is checked against the manifest's
SHA-256). The same loop runs against the static server (the case page's saved copy for the pages, the same file for
the download). Both phases stop by themselves: no new request after the deadline, and requests still running 30 s
later are cancelled.

Printed: p50/p95/max page latency and the download throughput (MB/s, all users together) of each server, their
ratios (staff page / static server), the server processes' peak and final memory, and the CPU used by other
processes meanwhile (a busy machine makes every number worse). Loopback only. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from benchmarks.common import MB, machine_busy_seconds, machine_info

SEED = 20261207
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
PASSWORD = "benchmark passphrase, fictional"  # noqa: S105 - the fictional accounts of this run
DRAIN_SECONDS = 30.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_http(url: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"the server at {url} stopped (exit {proc.returncode})")
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - loopback
                return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"the server at {url} did not answer within {timeout} s")


# Set-up ----------------------------------------------------------------------------------------------------
def prepare(home: Path, cases: int, users: int, part_mb: int) -> dict[str, Any]:
    """Cases with a finished build each (one part of ``part_mb`` MB), and staff users. Returns what the clients need."""
    os.environ["CASEFILE_HOME"] = str(home)
    from casefile.tasks.cases.case import open_case
    from casefile.tasks.core.catalog import StaffUser
    from casefile.tasks.core.runtime import get_runtime
    from casefile.tasks.demo.scenario import fictional_case
    from casefile.tasks.packets.manifest import MANIFEST, build_prefix
    from casefile.tasks.staff.users import hash_password

    rt = get_runtime()
    rng = random.Random(SEED)
    body = bytearray(b"%PDF-1.7\n% casefile benchmark part (fictional)\n")
    body += rng.randbytes(part_mb * MB - len(body) - 6) + b"%%EOF\n"
    part = bytes(body)
    sha = hashlib.sha256(part).hexdigest()
    case_ids = []
    for i in range(cases):
        case_id = open_case(rt, fictional_case(client=f"Benchmark Client {i:03d} Fictional", a_number=f"{i:09d}"))["id"]
        build_id = f"P-BENCH{i:05d}".replace("0", "2")
        prefix = build_prefix(case_id, build_id)
        name = f"{case_id}-eoir-exhibits.pdf"
        rt.store.put_bytes(prefix + name, part)
        manifest = {
            "manifest_version": 1, "build_id": build_id, "case_id": case_id, "profile": "eoir",
            "created_at": "2026-12-01T10:00:00+00:00", "service_date": "2026-12-01", "pages": 400, "inputs": [],
            "exhibits": [], "overrides": [], "check": {"ok": True, "warnings": []},
            "outputs": [{"name": name, "key": prefix + name, "sha256": sha, "bytes": len(part), "pages": 400,
                         "first_page": 1, "last_page": 400}],
        }  # fmt: skip
        rt.store.put_bytes(prefix + MANIFEST, json.dumps(manifest).encode())
        case_ids.append((case_id, build_id))
    digest = hash_password(PASSWORD)
    with rt.catalog.session() as session:
        for u in range(users):
            session.add(StaffUser(name=f"bench.user{u:03d}", role="staff", password_hash=digest))
    return {"cases": case_ids, "sha256": sha, "part": part, "users": [f"bench.user{u:03d}" for u in range(users)]}


# Load ------------------------------------------------------------------------------------------------------
class Stats:
    def __init__(self) -> None:
        self.page_ms: list[float] = []
        self.download_bytes = 0
        self.downloads = 0
        self.download_seconds: list[float] = []
        self.errors: dict[str, int] = {}
        self.verified = 0

    def error(self, what: str) -> None:
        self.errors[what] = self.errors.get(what, 0) + 1


async def _page(client: Any, stats: Stats, method: str, url: str, **kwargs: Any) -> str:
    started = time.perf_counter()
    response = await client.request(method, url, **kwargs)
    stats.page_ms.append((time.perf_counter() - started) * 1000)
    if response.status_code != 200:
        stats.error(f"{method} {response.status_code}")
    return str(response.text)


async def _download(client: Any, stats: Stats, url: str, expect: str | None) -> None:
    started = time.perf_counter()
    digest = hashlib.sha256() if expect else None
    async with client.stream("GET", url) as response:
        if response.status_code != 200:
            stats.error(f"download {response.status_code}")
            return
        async for block in response.aiter_bytes(256 * 1024):
            stats.download_bytes += len(block)
            if digest is not None:
                digest.update(block)
    stats.downloads += 1
    stats.download_seconds.append(time.perf_counter() - started)
    if digest is not None:
        if digest.hexdigest() != expect:
            stats.error("sha256 mismatch")
        else:
            stats.verified += 1


async def _user_web(base: str, name: str, site: dict[str, Any], deadline: float, stats: Stats, seed: int) -> None:
    import httpx

    rng = random.Random(seed)
    async with httpx.AsyncClient(base_url=base, timeout=120) as client:
        form = await client.get("/signin")
        token = CSRF.search(form.text)
        signin = await client.post(
            "/signin", data={"name": name, "password": PASSWORD, "csrf": token.group(1) if token else ""}
        )
        if "cf_session" not in client.cookies:
            stats.error(f"sign-in {signin.status_code}")
            return
        csrf = ""
        first = True
        while time.monotonic() < deadline:
            case_id, build_id = rng.choice(site["cases"])
            home = await _page(client, stats, "GET", "/")
            found = CSRF.search(home)
            csrf = found.group(1) if found else csrf
            await _page(client, stats, "GET", f"/cases/{case_id}")
            await _page(
                client,
                stats,
                "POST",
                "/search",
                data={"q": f"Client {rng.randrange(len(site['cases'])):03d}", "csrf": csrf},
            )
            if time.monotonic() >= deadline:
                break
            await _download(
                client, stats, f"/cases/{case_id}/packets/{build_id}/parts/1", site["sha256"] if first else None
            )
            first = False


async def _user_static(base: str, site: dict[str, Any], deadline: float, stats: Stats, seed: int) -> None:
    import httpx

    first = True
    async with httpx.AsyncClient(base_url=base, timeout=120) as client:
        while time.monotonic() < deadline:
            for _ in range(3):
                await _page(client, stats, "GET", "/case.html")
            if time.monotonic() >= deadline:
                break
            await _download(client, stats, "/part.pdf", site["sha256"] if first else None)
            first = False


async def _run(make: Any, users: int, seconds: float) -> tuple[Stats, float]:
    stats = Stats()
    deadline = time.monotonic() + seconds
    started = time.monotonic()
    tasks = [asyncio.create_task(make(i, deadline, stats)) for i in range(users)]
    done, pending = await asyncio.wait(tasks, timeout=seconds + DRAIN_SECONDS)
    for task in pending:
        task.cancel()
    for task in done:
        if task.exception() is not None:
            stats.error(type(task.exception()).__name__)
    return stats, time.monotonic() - started


class MemoryWatch:
    """Samples a process's RSS (with its children) every 0.2 s: peak and last."""

    def __init__(self, pid: int) -> None:
        import psutil

        self.process = psutil.Process(pid)
        self.peak = 0.0
        self.last = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _rss(self) -> float:
        import psutil

        total = 0.0
        try:
            for p in (self.process, *self.process.children(recursive=True)):
                total += p.memory_info().rss
        except psutil.Error:
            pass
        return total / MB

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.last = self._rss()
            self.peak = max(self.peak, self.last)
            self._stop.wait(0.2)

    def __enter__(self) -> MemoryWatch:
        self.last = self.peak = self._rss()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _summary(stats: Stats, seconds: float) -> dict[str, Any]:
    pages = sorted(stats.page_ms)
    p95 = pages[int(0.95 * (len(pages) - 1))] if pages else None
    return {
        "seconds": round(seconds, 1),
        "page_requests": len(pages),
        "page_ms_p50": round(statistics.median(pages), 1) if pages else None,
        "page_ms_p95": round(p95, 1) if p95 is not None else None,
        "page_ms_max": round(pages[-1], 1) if pages else None,
        "downloads": stats.downloads,
        "download_mb_per_s": round(stats.download_bytes / MB / seconds, 1) if seconds else None,
        "verified_sha256": stats.verified,
        "errors": stats.errors,
    }


def run(users: int, seconds: float, part_mb: int, cases: int, workdir: Path) -> dict[str, Any]:
    home = workdir / "home"
    site = prepare(home, cases, users, part_mb)
    static_root = workdir / "static"
    static_root.mkdir()
    (static_root / "part.pdf").write_bytes(site.pop("part"))

    web_port, static_port = _free_port(), _free_port()
    env = {**os.environ, "CASEFILE_HOME": str(home)}
    exe = Path(sys.executable).with_name("casefile")
    web_log = (workdir / "web.log").open("wb")
    web = subprocess.Popen([str(exe), "web", "--port", str(web_port)], stdout=web_log, stderr=subprocess.STDOUT,
                           env=env, cwd=workdir)  # fmt: skip
    static = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(static_port), "--bind", "127.0.0.1", "--directory", str(static_root)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    result: dict[str, Any] = {"users": users, "seconds": seconds, "part_mb": part_mb, "cases": cases}
    try:
        web_base, static_base = f"http://127.0.0.1:{web_port}", f"http://127.0.0.1:{static_port}"
        _wait_http(web_base + "/healthz", web)
        _wait_http(static_base + "/part.pdf", static)
        # The static copy of a case page: what the staff page sends for one, saved as a file.
        import httpx

        with httpx.Client(base_url=web_base) as client:
            form = client.get("/signin")
            token = CSRF.search(form.text)
            client.post(
                "/signin",
                data={"name": site["users"][0], "password": PASSWORD, "csrf": token.group(1) if token else ""},
            )
            (static_root / "case.html").write_text(client.get(f"/cases/{site['cases'][0][0]}").text)

        busy0 = machine_busy_seconds()
        with MemoryWatch(web.pid) as web_memory:
            idle_mb = web_memory.last
            web_stats, web_seconds = asyncio.run(
                _run(lambda i, d, s: _user_web(web_base, site["users"][i], site, d, s, SEED + i), users, seconds)
            )
        busy_web = machine_busy_seconds() - busy0
        busy0 = machine_busy_seconds()
        with MemoryWatch(static.pid) as static_memory:
            static_stats, static_seconds = asyncio.run(
                _run(lambda i, d, s: _user_static(static_base, site, d, s, SEED + i), users, seconds)
            )
        busy_static = machine_busy_seconds() - busy0
    finally:
        for proc in (web, static):
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        web_log.close()

    web_sum, static_sum = _summary(web_stats, web_seconds), _summary(static_stats, static_seconds)

    def ratio(a: float | None, b: float | None) -> float | None:
        return round(a / b, 2) if a is not None and b else None

    result.update(
        {
            "staff_page": {**web_sum, "memory_mb_idle": round(idle_mb, 1), "memory_mb_peak": round(web_memory.peak, 1),
                           "memory_mb_end": round(web_memory.last, 1), "machine_cpu_seconds": round(busy_web, 1)},
            "static_server": {**static_sum, "memory_mb_peak": round(static_memory.peak, 1),
                              "machine_cpu_seconds": round(busy_static, 1)},
            "ratios": {
                "page_p95_latency": ratio(web_sum["page_ms_p95"], static_sum["page_ms_p95"]),
                "download_throughput": ratio(web_sum["download_mb_per_s"], static_sum["download_mb_per_s"]),
            },
            "machine": machine_info(("fastapi", "starlette", "uvicorn", "httpx", "sqlalchemy")),
        }
    )  # fmt: skip
    return result


def _print(result: dict[str, Any]) -> None:
    web, static, ratios = result["staff_page"], result["static_server"], result["ratios"]
    print(f"{result['users']} signed-in users, {result['seconds']:.0f} s per server, a {result['part_mb']} MB part, "
          f"{result['cases']} cases")  # fmt: skip
    print(f"{'':16}{'pages':>8}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}{'downloads':>11}{'MB/s':>8}{'peak MB':>9}")
    for label, row in (("staff page", web), ("static server", static)):
        print(f"{label:16}{row['page_requests']:>8}{row['page_ms_p50']:>9}{row['page_ms_p95']:>9}{row['page_ms_max']:>9}"
              f"{row['downloads']:>11}{row['download_mb_per_s']:>8}{row['memory_mb_peak']:>9}")  # fmt: skip
    print(f"ratios (staff page / static server): p95 page latency {ratios['page_p95_latency']}x, "
          f"download throughput {ratios['download_throughput']}x")  # fmt: skip
    print(f"staff page memory: {web['memory_mb_idle']} MB idle, {web['memory_mb_peak']} MB peak, "
          f"{web['memory_mb_end']} MB at the end")  # fmt: skip
    print(f"verified SHA-256 downloads: {web['verified_sha256']} (staff page), {static['verified_sha256']} (static)")
    for label, row in (("staff page", web), ("static server", static)):
        if row["errors"]:
            print(f"errors ({label}): {row['errors']}")
    print(f"machine CPU-seconds during each phase: {web['machine_cpu_seconds']} / {static['machine_cpu_seconds']} "
          f"on {result['machine']['cpus']} CPUs")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--part-mb", type=int, default=25)
    parser.add_argument("--cases", type=int, default=20)
    parser.add_argument("--workdir", type=Path, default=None, help="Keep the home and logs here (default: a temp dir).")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--save", type=Path, default=None)
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench-web-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        result = run(args.users, args.seconds, args.part_mb, args.cases, workdir)
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    if args.save:
        args.save.write_text(json.dumps(result, indent=2))
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        _print(result)


if __name__ == "__main__":
    main()
