"""`casefile migrate` throughput against a plain copy of the same objects to the same store.

    python -m benchmarks.bench_migrate [--objects 400] [--mb 200] [--json]

Makes an embedded home (a fictional case in a SQLite catalog) whose object folder holds ``--objects`` files of
``--mb`` MB in all (incompressible bytes, named by their SHA-256 as originals are), then, in the same run, against
moto's S3 server over HTTP on loopback and a throwaway PostgreSQL cluster (as the tests start them):

- **plain copy**: every object uploaded once with the store's own ``put_file`` (what `aws s3 sync` would do);
- **migrate**: ``migrate_home``: each object hashed, uploaded, read back and hashed again, recorded in the ledger;
  the rows copied and counted; the search index rebuilt.

Printed: MB/s of both and their ratio (the price of verifying every byte). See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import machine_info

TESTS = Path(__file__).resolve().parents[1] / "tests"


def _home(folder: Path, objects: int, total_mb: int) -> int:
    from casefile.tasks.cases.case import create_case
    from casefile.tasks.core.runtime import get_runtime, reset_runtimes
    from casefile.tasks.demo.scenario import fictional_case

    os.environ["CASEFILE_HOME"] = str(folder)
    reset_runtimes()
    rt = get_runtime()
    with rt.catalog.session() as session:
        create_case(session, fictional_case())
    size = total_mb * 1_000_000 // objects
    written = 0
    for _ in range(objects):
        data = os.urandom(size)
        sha = hashlib.sha256(data).hexdigest()
        path = rt.settings.objects_path / "originals" / sha[:2] / sha
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        written += size
    reset_runtimes()
    return written


def run(objects: int, total_mb: int) -> dict[str, Any]:
    sys.path.insert(0, str(TESTS))
    from pgserver import running_postgres
    from s3server import DUMMY_ACCESS_KEY_ID, DUMMY_SECRET_ACCESS_KEY, make_s3_client, running_moto_server

    from casefile.tasks.core.runtime import reset_runtimes
    from casefile.tasks.core.settings import load_settings
    from casefile.tasks.core.storage import LocalObjectStore, S3ObjectStore
    from casefile.tasks.deploy.migration import migrate_home

    work = Path(tempfile.mkdtemp(prefix="casefile-bench-migrate-"))
    try:
        home = work / "home"
        size = _home(home, objects, total_mb)
        with running_moto_server() as endpoint, running_postgres() as pg:
            os.environ.update(
                CASEFILE_S3_ENDPOINT_URL=endpoint,
                CASEFILE_S3_REGION="us-east-1",
                AWS_ACCESS_KEY_ID=DUMMY_ACCESS_KEY_ID,
                AWS_SECRET_ACCESS_KEY=DUMMY_SECRET_ACCESS_KEY,
            )
            client = make_s3_client(endpoint)
            client.create_bucket(Bucket="plain")
            client.create_bucket(Bucket="migrated")
            source = LocalObjectStore(home / "objects")
            plain = S3ObjectStore(client, "plain")
            started = time.perf_counter()
            for key in source.list():
                plain.put_file(key, source.root / key)
            plain_s = time.perf_counter() - started

            settings = load_settings()
            to = pg.new_database().replace("postgresql+psycopg://", "postgresql://")
            started = time.perf_counter()
            report = migrate_home(settings, to=to, store="s3://migrated/casefile")
            migrate_s = time.perf_counter() - started
            reset_runtimes()
        mb = size / 1e6
        return {
            "benchmark": "migrate",
            "machine": machine_info(packages=("boto3", "sqlalchemy", "psycopg")),
            "objects": objects,
            "mb": round(mb, 1),
            "plain_copy": {"seconds": round(plain_s, 2), "mb_per_s": round(mb / plain_s, 1)},
            "migrate": {
                "seconds": round(migrate_s, 2),
                "mb_per_s": round(mb / migrate_s, 1),
                "objects_verified": report.objects,
                "rows": sum(report.tables.values()),
            },
            "ratio_migrate_vs_plain": round(plain_s / migrate_s, 2),
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_migrate", description=__doc__.split("\n")[0])
    parser.add_argument("--objects", type=int, default=400)
    parser.add_argument("--mb", type=int, default=200)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = run(args.objects, args.mb)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    p, m = result["plain_copy"], result["migrate"]
    print(f"{result['objects']} objects, {result['mb']} MB, local folder -> S3 (moto over HTTP on loopback)")
    print(f"plain copy (put_file each): {p['seconds']} s = {p['mb_per_s']} MB/s")
    print(
        f"casefile migrate (hash, upload, read back, hash; rows; index): {m['seconds']} s = {m['mb_per_s']} MB/s "
        f"= {result['ratio_migrate_vs_plain']} x the plain copy"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
