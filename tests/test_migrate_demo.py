"""`casefile migrate` on the demo's home: everything moves into PostgreSQL and S3 (moto over HTTP), and the demo's
packet, built again from the migrated deployment alone, is byte for byte the packet the embedded home built."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import run_cli
from s3server import DUMMY_ACCESS_KEY_ID, DUMMY_SECRET_ACCESS_KEY

pytestmark = [pytest.mark.prefect, pytest.mark.tesseract, pytest.mark.postgres, pytest.mark.s3, pytest.mark.slow]


def test_the_demo_home_migrates_and_its_packet_rebuilds_byte_identically(
    prefect_api: str,
    tmp_path: Path,
    pg_url: str,
    moto_endpoint: str,
    s3_bucket: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from casefile.tasks.core.runtime import get_runtime, reset_runtimes
    from casefile.tasks.core.settings import load_settings
    from casefile.tasks.demo.scenario import demo_build_options
    from casefile.tasks.packets.build import build_packet
    from casefile.tasks.packets.manifest import build_prefix, load_manifest

    home = tmp_path / "home"
    demo = run_cli("demo", "--json", home=home, timeout=900)
    assert demo.returncode == 0, demo.stderr[-3000:]
    built = json.loads(demo.stdout)
    # The demo's last packet is its supplemental filing, which continues its first (both migrate).
    case_id, build_id, first_id = built["case"]["id"], built["supplemental"]["build_id"], built["packet"]["build_id"]
    monkeypatch.setenv("CASEFILE_HOME", str(home))
    for name in ("CASEFILE_DATABASE_URL", "CASEFILE_STORAGE_BACKEND", "CASEFILE_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    reset_runtimes()
    original = load_manifest(get_runtime(), case_id, build_id)
    reset_runtimes()

    s3 = {
        "CASEFILE_S3_ENDPOINT_URL": moto_endpoint,
        "CASEFILE_S3_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": DUMMY_ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": DUMMY_SECRET_ACCESS_KEY,
    }
    to = pg_url.replace("postgresql+psycopg://", "postgresql://")
    moved = run_cli("migrate", "--to", to, "--store", f"s3://{s3_bucket}/practice", "--json", home=home, env=s3)
    assert moved.returncode == 0, moved.stderr[-3000:]
    report = json.loads(moved.stdout)
    assert report["verified"] and report["objects"] == report["objects_copied"] > 20
    assert report["tables"]["cases"] == 1 and report["tables"]["condition_sources"] >= 4
    assert report["search_pages"] > 0 and report["library_pages"] > 0

    # From now on only the migrated deployment: PostgreSQL and S3, as the report says to set.
    for key, value in {**s3, **report["settings"]}.items():
        monkeypatch.setenv(key, value)
    reset_runtimes()
    rt = get_runtime(load_settings())
    assert rt.settings.catalog_on_postgres and rt.store.describe().startswith(f"s3://{s3_bucket}/practice")
    prefix = build_prefix(case_id, build_id)
    for key in list(rt.store.list(prefix)):  # the migrated build goes: the packet must really be built again
        rt.store.delete(key)
    rebuilt = build_packet(rt, case_id, replace(demo_build_options(), continue_from=first_id))

    assert not rebuilt.reused and rebuilt.build_id == build_id
    again = load_manifest(rt, case_id, build_id)
    assert [(o["name"], o["sha256"], o["bytes"]) for o in again["outputs"]] == [
        (o["name"], o["sha256"], o["bytes"]) for o in original["outputs"]
    ]
    found = run_cli("search", "denuncia", "--json", home=home, env={**s3, **report["settings"]})
    assert found.returncode == 0 and json.loads(found.stdout), found.stderr
    reset_runtimes()
