"""A practice's deployment: `casefile migrate` moves an embedded home into PostgreSQL and S3 (moto's server over
HTTP), verifiably and resumably, without touching the old home; `casefile deploy check` says which part answers."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from s3server import DUMMY_ACCESS_KEY_ID, DUMMY_SECRET_ACCESS_KEY

from casefile.tasks.core.errors import IntegrityError, MigrationError, TransientStorageError
from casefile.tasks.core.settings import DEMO_DATA, Settings, StorageBackend

if TYPE_CHECKING:
    from smtpserver import LoopbackSmtp

    from casefile.tasks.core.runtime import Runtime

pytestmark = [pytest.mark.postgres, pytest.mark.s3]

SAMPLES = [DEMO_DATA / "sample" / "medical_record_en.pdf", DEMO_DATA / "sample" / "id_card.png"]


def _tree_digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.name.endswith(("-wal", "-shm"))
    }


@pytest.fixture
def s3_env(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CASEFILE_S3_ENDPOINT_URL", moto_endpoint)
    monkeypatch.setenv("CASEFILE_S3_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", DUMMY_ACCESS_KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", DUMMY_SECRET_ACCESS_KEY)


@pytest.fixture
def embedded_home(home: Path, monkeypatch: pytest.MonkeyPatch, s3_env: None) -> Iterator[Runtime]:
    """An embedded home (SQLite, local folder) with a fictional case and two documents (no OCR: fast lane)."""
    from casefile.tasks.cases.case import create_case
    from casefile.tasks.core.runtime import get_runtime, reset_runtimes
    from casefile.tasks.demo.scenario import fictional_case
    from casefile.tasks.documents.pipeline import ingest_files

    monkeypatch.delenv("CASEFILE_DATABASE_URL", raising=False)  # even when the suite runs on PostgreSQL
    monkeypatch.setenv("CASEFILE_OCR_ENABLED", "false")
    reset_runtimes()
    rt = get_runtime()
    with rt.catalog.session() as session:
        case_id = create_case(session, fictional_case()).id
    outcome = ingest_files(rt, case_id, SAMPLES, "medical")
    assert outcome.counts["stored"] == 2
    yield rt
    reset_runtimes()


def _migrate(rt: Runtime, pg_url: str, bucket: str, **kw: Any) -> Any:
    from casefile.tasks.deploy.migration import migrate_home

    return migrate_home(
        rt.settings, to=pg_url.replace("postgresql+psycopg://", "postgresql://"), store=f"s3://{bucket}/practice", **kw
    )


def _target(rt: Runtime, pg_url: str, bucket: str) -> Settings:
    return rt.settings.model_copy(
        update={
            "database_url": pg_url,
            "storage_backend": StorageBackend.S3,
            "s3_bucket": bucket,
            "s3_prefix": "practice",
        }
    )


def test_migration_copies_every_row_and_object_and_leaves_the_old_home_as_it_was(
    embedded_home: Runtime, pg_url: str, s3_bucket: str
) -> None:
    from casefile.tasks.core.catalog import Document
    from casefile.tasks.core.runtime import get_runtime, reset_runtimes
    from casefile.tasks.core.settings import load_settings
    from casefile.tasks.search.lookup import search_pages

    rt = embedded_home
    home = rt.settings.home
    reset_runtimes()  # the old home's connections closed: its files as they rest
    before = _tree_digest(home)

    report = _migrate(rt, pg_url, s3_bucket)

    assert _tree_digest(home) == before  # the old home is only read
    objects = sorted(
        p.relative_to(rt.settings.objects_path).as_posix()
        for p in rt.settings.objects_path.rglob("*")
        if p.is_file() and ".tmp" not in p.parts
    )
    assert report.objects == len(objects) == report.objects_copied == 3  # two originals, the photo as a PDF
    assert report.tables["cases"] == 1 and report.tables["documents"] == 2 and report.tables["audit_events"] > 0
    assert report.search_pages >= 1
    assert report.settings["CASEFILE_DATABASE_URL"] == pg_url
    assert report.settings["CASEFILE_S3_BUCKET"] == s3_bucket

    target = get_runtime(_target(rt, pg_url, s3_bucket))
    assert sorted(target.store.list()) == objects
    with target.catalog.session() as session:
        docs = session.query(Document).all()
        assert {d.original_name for d in docs} == {p.name for p in SAMPLES}
        for doc in docs:
            assert doc.original_key is not None
            assert hashlib.sha256(target.store.get_bytes(doc.original_key)).hexdigest() == doc.sha256
    hits = search_pages(target, "outpatient")
    assert hits and {h["document"] for h in hits} == {"medical_record_en.pdf"}
    assert load_settings(database_url=pg_url).search_on_postgres

    again = _migrate(rt, pg_url, s3_bucket)  # a second run finds everything done and verifies it again
    assert (again.objects_copied, again.rows_copied) == (0, 0)
    assert again.tables == report.tables

    # New rows get new ids after the copied ones (the sequences moved past them) ...
    from casefile.tasks.core.catalog import audit

    with target.catalog.session() as session:
        audit(session, actor="test", entity="case", entity_id="x", action="checked")
    # ... and once the deployment is in use, running the migration again is refused, not merged.
    with pytest.raises(MigrationError):
        _migrate(rt, pg_url, s3_bucket)


def test_an_interrupted_migration_resumes_where_it_stopped(
    embedded_home: Runtime, pg_url: str, s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from casefile.tasks.core.storage import S3ObjectStore

    real_put = S3ObjectStore.put_file
    calls = {"n": 0}

    def put_then_fail(self: S3ObjectStore, key: str, path: Path) -> None:
        calls["n"] += 1
        if calls["n"] == 3:
            raise TransientStorageError("the connection dropped (simulated)")
        real_put(self, key, path)

    monkeypatch.setattr(S3ObjectStore, "put_file", put_then_fail)
    with pytest.raises(TransientStorageError):
        _migrate(embedded_home, pg_url, s3_bucket)
    monkeypatch.setattr(S3ObjectStore, "put_file", real_put)

    from sqlalchemy import create_engine, text

    engine = create_engine(pg_url)
    with engine.connect() as conn:
        verified = conn.execute(text("SELECT count(*) FROM casefile_migration.objects")).scalar_one()
    engine.dispose()
    assert verified < 3  # what was read back and verified before the failure (threads: 0 to 2), and only that

    report = _migrate(embedded_home, pg_url, s3_bucket)
    assert report.objects_copied == report.objects - verified  # those are not copied again
    assert report.tables["documents"] == 2


def test_a_database_holding_another_catalog_is_refused(
    embedded_home: Runtime, pg_url: str, s3_bucket: str, s3_client: Any
) -> None:
    from casefile.tasks.cases.case import create_case
    from casefile.tasks.core.catalog import Catalog
    from casefile.tasks.demo.scenario import fictional_case

    other = Catalog(pg_url)
    with other.session() as session:
        create_case(session, fictional_case(client="Another Fictional Client"))
    other.dispose()
    with pytest.raises(MigrationError):
        _migrate(embedded_home, pg_url, s3_bucket)
    assert s3_client.list_objects_v2(Bucket=s3_bucket).get("KeyCount", 0) == 0  # nothing was copied


def test_a_damaged_original_is_never_migrated(embedded_home: Runtime, pg_url: str, s3_bucket: str) -> None:
    original = next((embedded_home.settings.objects_path / "originals").rglob("*"))
    while original.is_dir():
        original = next(original.iterdir())
    original.write_bytes(original.read_bytes() + b"changed on disk")
    with pytest.raises(IntegrityError):
        _migrate(embedded_home, pg_url, s3_bucket)


def test_deploy_check_names_each_part_and_fails_when_one_is_down(
    embedded_home: Runtime, pg_url: str, s3_bucket: str, smtp_server: LoopbackSmtp
) -> None:
    from casefile.tasks.deploy.check import check_deployment

    _migrate(embedded_home, pg_url, s3_bucket)
    settings = _target(embedded_home, pg_url, s3_bucket).model_copy(
        update={"smtp_host": smtp_server.host, "smtp_port": smtp_server.port}
    )
    parts = {p.name: p for p in check_deployment(settings, prefect_api=None)}
    assert list(parts) == ["database", "search", "object-store", "prefect", "smtp"]
    assert all(p.ok for p in parts.values()), parts
    assert "PostgreSQL" in parts["search"].detail
    with_password = settings.model_copy(update={"database_url": pg_url.replace("casefile@", "casefile:s3cret@")})
    assert "s3cret" not in check_deployment(with_password, prefect_api=None)[0].where  # trust auth: it still connects

    down = settings.model_copy(
        update={
            "database_url": pg_url.rsplit("/", 1)[0] + "/no_such_db",
            "s3_bucket": "no-such-bucket",
            "smtp_port": 1,
            "work_pool": "casefile",
        }
    )
    parts = {p.name: p for p in check_deployment(down, prefect_api="http://127.0.0.1:1/api")}
    assert {n for n, p in parts.items() if not p.ok} == {
        "database",
        "search",
        "object-store",
        "prefect",
        "work-pool",
        "smtp",
    }


def test_deploy_check_of_a_folder_without_a_home_creates_nothing(tmp_path: Path) -> None:
    from casefile.tasks.deploy.check import check_deployment

    settings = Settings(home=tmp_path / "nothing-here", smtp_port=1)
    parts = {p.name: p for p in check_deployment(settings, prefect_api=None)}
    assert not parts["database"].ok and not parts["object-store"].ok
    assert not (tmp_path / "nothing-here").exists()
