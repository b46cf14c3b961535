"""The ingest flow, run for real by Prefect (session server on loopback), on real files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, cast

import pytest
from conftest import A_NUMBER, CLIENT_NAME, DEMO_DATA, RESOURCES
from sqlalchemy import select

from casefile.tasks.core.catalog import Document, IntakeBatch
from casefile.tasks.core.errors import StorageError, TransientStorageError
from casefile.tasks.core.runtime import Runtime
from casefile.tasks.core.storage import ObjectStore, sha256_file
from casefile.tasks.documents.intake import create_batch, expand_inputs

pytestmark = pytest.mark.prefect

SAMPLE = DEMO_DATA / "sample"
BROKEN = RESOURCES / "broken"


def ingest(runtime: Runtime, case_id: str, paths: list[Path]) -> tuple[str, dict[str, int]]:
    from casefile.flows.ingest import ingest_case

    with runtime.catalog.session() as session:
        batch_id = create_batch(session, case_id, expand_inputs(paths), "unclassified").id
    counts = ingest_case(batch_id)
    return batch_id, counts


def documents(runtime: Runtime, case_id: str) -> list[Document]:
    with runtime.catalog.session() as session:
        return list(session.scalars(select(Document).where(Document.case_id == case_id).order_by(Document.sha256)))


def test_ingest_samples_and_broken_files(prefect_api: str, runtime: Runtime, case_id: str) -> None:
    batch_id, counts = ingest(runtime, case_id, [SAMPLE, BROKEN])
    assert counts["stored"] == 6
    assert counts["quarantined"] == 8
    assert counts["failed"] == counts["pending"] == 0

    docs = documents(runtime, case_id)
    ready = [d for d in docs if d.status == "ready"]
    assert sorted(d.page_count for d in ready) == [1, 1, 1, 2, 2, 2]
    # Every file that could be read is kept byte for byte, quarantined ones included (the empty file
    # has no bytes to keep).
    by_name = {d.original_name: d for d in docs}
    for path in expand_inputs([SAMPLE, BROKEN]):
        if path.name == "empty.pdf":
            assert path.name not in by_name
            continue
        doc = by_name[path.name]
        assert doc.sha256 == sha256_file(path)
        assert doc.original_key is not None
        assert runtime.store.get_bytes(doc.original_key) == path.read_bytes()
    for doc in ready:
        assert doc.normalised_key is not None
        assert sha256_file_bytes(runtime.store, doc.normalised_key) == doc.normalised_sha256
    reasons = {d.original_name: d.quarantine_reason for d in docs if d.status == "quarantined"}
    assert reasons == {
        "corrupt.pdf": "corrupt",
        "encrypted.pdf": "encrypted",
        "jpeg_named.pdf": "extension-mismatch",
        "million_pages.pdf": "too-many-pages",
        "notes.txt": "unsupported-type",
        "png_bomb.png": "too-many-pixels",
        "truncated.pdf": "truncated",
    }
    with runtime.catalog.session() as session:
        batch = session.get(IntakeBatch, batch_id)
        assert batch is not None and batch.status == "done"


def sha256_file_bytes(store: ObjectStore, key: str) -> str:
    import hashlib

    return hashlib.sha256(store.get_bytes(key)).hexdigest()


def test_same_file_twice_is_a_duplicate_not_stored_twice(
    prefect_api: str, runtime: Runtime, case_id: str, tmp_path: Path
) -> None:
    copy = tmp_path / "renamed-copy.pdf"
    shutil.copy(SAMPLE / "medical_record_en.pdf", copy)
    _, first = ingest(runtime, case_id, [SAMPLE / "medical_record_en.pdf"])
    keys_before = list(runtime.store.list())
    _, second = ingest(runtime, case_id, [SAMPLE / "medical_record_en.pdf", copy])
    assert first["stored"] == 1
    assert second == {**second, "stored": 0, "duplicate": 2}
    assert list(runtime.store.list()) == keys_before
    assert len(documents(runtime, case_id)) == 1


def test_artifact_has_ids_and_hashes_only(prefect_api: str, runtime: Runtime, case_id: str, tmp_path: Path) -> None:
    from prefect.artifacts import Artifact

    named = tmp_path / f"{CLIENT_NAME} {A_NUMBER} medical.pdf"
    shutil.copy(SAMPLE / "medical_record_en.pdf", named)
    batch_id, _ = ingest(runtime, case_id, [named, BROKEN / "notes.txt"])
    artifact = cast(Artifact | None, Artifact.get(f"ingest-{batch_id.lower()}"))
    assert artifact is not None
    rows: list[dict[str, Any]] = json.loads(str(artifact.data))
    assert {r["outcome"] for r in rows} == {"stored", "quarantined"}
    assert rows[0]["sha256"] == sha256_file(named)
    text = json.dumps(rows) + str(artifact.description)
    for secret in (CLIENT_NAME, "Quiroga", A_NUMBER, "123456789", "medical.pdf", "notes.txt", str(tmp_path)):
        assert secret not in text


class FlakyStore(ObjectStore):
    """Fault injection: the wrapped store fails the first ``failures`` writes with ``error``."""

    def __init__(self, inner: ObjectStore, failures: int, error: Exception) -> None:
        self.inner, self.failures, self.error, self.calls = inner, failures, error, 0

    def put_file(self, key: str, path: Path) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        self.inner.put_file(key, path)

    def put_bytes(self, key: str, data: bytes) -> None:
        self.inner.put_bytes(key, data)

    def open(self, key: str) -> Any:
        return self.inner.open(key)

    def exists(self, key: str) -> bool:
        return self.inner.exists(key)

    def size(self, key: str) -> int:
        return self.inner.size(key)

    def delete(self, key: str) -> None:
        self.inner.delete(key)

    def list(self, prefix: str = "") -> Any:
        return self.inner.list(prefix)

    def url(self, key: str, *, download_name: str | None = None, expires: int | None = None) -> str:
        return self.inner.url(key, download_name=download_name, expires=expires)

    def describe(self) -> str:
        return "flaky " + self.inner.describe()


@pytest.mark.parametrize(
    ("error", "retried"),
    [
        (TransientStorageError("object store unavailable (503); retry"), True),
        (StorageError("access denied"), False),
    ],
)
def test_only_transient_errors_are_retried(
    prefect_api: str,
    runtime: Runtime,
    case_id: str,
    monkeypatch: pytest.MonkeyPatch,
    error: Exception,
    retried: bool,
) -> None:
    import casefile.flows.ingest

    flaky = FlakyStore(runtime.store, failures=1, error=error)
    settings = runtime.settings.model_copy(update={"ocr_enabled": False})  # only the intake writes count here
    monkeypatch.setattr(casefile.flows.ingest, "get_runtime", lambda: Runtime(settings, runtime.catalog, flaky))
    _, counts = ingest(runtime, case_id, [SAMPLE / "id_card.png"])
    if retried:
        assert counts["stored"] == 1 and flaky.calls == 3  # failed put, then original + derived
    else:
        assert counts["failed"] == 1 and flaky.calls == 1
        assert documents(runtime, case_id) == []


@pytest.mark.s3
def test_ingest_into_s3_over_http(
    prefect_api: str,
    home: Path,
    moto_endpoint: str,
    s3_bucket: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    from casefile.tasks.cases.case import create_case
    from casefile.tasks.core.runtime import get_runtime, reset_runtimes
    from casefile.tasks.demo.scenario import fictional_case

    monkeypatch.setenv("CASEFILE_STORAGE_BACKEND", "s3")
    monkeypatch.setenv("CASEFILE_S3_ENDPOINT_URL", moto_endpoint)
    monkeypatch.setenv("CASEFILE_S3_BUCKET", s3_bucket)
    monkeypatch.setenv("CASEFILE_S3_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    reset_runtimes()
    runtime = get_runtime()
    assert runtime.store.describe().startswith(f"s3://{s3_bucket}")
    new = fictional_case(client="Fictional S3 Client", a_number="98765432", court="Elizabeth, NJ", detained=True)
    with runtime.catalog.session() as session:
        case = create_case(session, new).id
    _, counts = ingest(runtime, case, [SAMPLE / "school_record_2pages.tif", SAMPLE / "medical_record_en.pdf"])
    assert counts["stored"] == 2
    (tiff,) = [d for d in documents(runtime, case) if d.kind == "tiff"]
    assert tiff.normalised_key is not None and tiff.normalised_sha256 is not None
    out = tmp_path / "school.pdf"
    assert runtime.store.download(tiff.normalised_key, out, tiff.normalised_sha256) == tiff.normalised_sha256
    assert runtime.store.get_bytes(tiff.original_key or "") == (SAMPLE / "school_record_2pages.tif").read_bytes()
    assert not (home / "objects" / "originals").exists()  # nothing went to the local default
