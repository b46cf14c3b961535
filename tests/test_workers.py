"""Work spread over machines, on loopback: a Prefect server on PostgreSQL, `casefile serve --pool casefile`, two
`prefect worker start --pool casefile` processes, the catalog on PostgreSQL and objects in S3 (moto). One case's long
scan is OCR'd in page ranges across both workers; one worker (with its flow runs) is killed mid-run, as a machine
that dies, and every page's result still lands once."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import psutil
import pytest
from conftest import A_NUMBER, CLIENT_NAME, RESOURCES, run_cli
from s3server import DUMMY_ACCESS_KEY_ID, DUMMY_SECRET_ACCESS_KEY

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from pgserver import PostgresCluster

pytestmark = [pytest.mark.prefect, pytest.mark.tesseract, pytest.mark.postgres, pytest.mark.s3, pytest.mark.slow]

PAGES = 8
PER_PART = 2
MARKERS = ["Albatross", "Bluebell", "Cormorant", "Dandelion", "Egret", "Foxglove", "Gannet", "Hyacinth"]


def _generate() -> ModuleType:
    spec = importlib.util.spec_from_file_location("generate", RESOURCES / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _scan(path: Path) -> None:
    pages = [
        [f"Fictional record, page {n + 1}.", f"The marker word of this page is {MARKERS[n]}.", "Synthetic test data."]
        for n in range(PAGES)
    ]
    _generate().make_scanned_pdf(path, pages, dpi=200)


def _stop_tree(process: subprocess.Popen[bytes]) -> None:
    """Kill a process, its group and every descendant (a machine that goes away takes its flow runs with it)."""
    with contextlib.suppress(psutil.NoSuchProcess):
        family = psutil.Process(process.pid).children(recursive=True)
        for proc in family:
            with contextlib.suppress(psutil.NoSuchProcess):
                proc.kill()
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)


def _worker_of(pid: int, workers: dict[str, subprocess.Popen[bytes]]) -> str | None:
    with contextlib.suppress(psutil.NoSuchProcess):
        for parent in psutil.Process(pid).parents():
            for name, worker in workers.items():
                if parent.pid == worker.pid:
                    return name
    return None


@pytest.fixture
def practice(
    postgres: PostgresCluster, tmp_path: Path, moto_endpoint: str, s3_client: S3Client, s3_bucket: str
) -> Iterator[dict[str, str]]:
    """A Prefect server on PostgreSQL and the environment every machine of the practice shares."""
    from casefile.flows.prefect_server import LocalPrefectServer

    prefect_db = postgres.new_database().replace("+psycopg", "+asyncpg")
    catalog = postgres.new_database()
    prefect_home = tmp_path / "prefect"
    saved = {k: os.environ.get(k) for k in ("PREFECT_API_DATABASE_CONNECTION_URL", "PREFECT_API_URL")}
    os.environ["PREFECT_API_DATABASE_CONNECTION_URL"] = prefect_db  # `prefect server start` on PostgreSQL
    server = LocalPrefectServer(prefect_home, log_path=tmp_path / "server.log")
    try:
        api = server.start(timeout=180)
        env = {
            "PREFECT_API_URL": api,
            "PREFECT_HOME": str(prefect_home),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_WORKER_QUERY_SECONDS": "1",
            "PREFECT_RESULTS_PERSIST_BY_DEFAULT": "false",
            "CASEFILE_DATABASE_URL": catalog,
            "CASEFILE_STORAGE_BACKEND": "s3",
            "CASEFILE_S3_ENDPOINT_URL": moto_endpoint,
            "CASEFILE_S3_BUCKET": s3_bucket,
            "CASEFILE_S3_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": DUMMY_ACCESS_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": DUMMY_SECRET_ACCESS_KEY,
            "CASEFILE_WORK_POOL": "casefile",
            "CASEFILE_OCR_SPLIT_PAGES": str(PER_PART),
            "CASEFILE_OCR_LEASE_SECONDS": "6",
            "CASEFILE_OCR_WORKERS": "1",
            "CASEFILE_HOME": str(tmp_path / "home"),
        }
        yield env
    finally:
        server.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def test_a_long_scan_is_ocrd_across_two_workers_and_every_page_lands_once_when_one_dies(
    practice: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from casefile.tasks.core.catalog import Document, OcrPart
    from casefile.tasks.core.runtime import get_runtime, reset_runtimes
    from casefile.tasks.core.settings import load_settings

    home = Path(practice["CASEFILE_HOME"])
    deployed = run_cli("serve", "--pool", "casefile", "--json", home=home, env=practice)
    assert deployed.returncode == 0, deployed.stderr[-3000:]
    assert "ocr-pages/pool" in json.loads(deployed.stdout)["deployments"]

    prefect = str(Path(sys.executable).with_name("prefect"))
    workers: dict[str, subprocess.Popen[bytes]] = {}
    full_env = {**os.environ, **practice}
    for name in ("machine-1", "machine-2"):
        log = (tmp_path / f"{name}.log").open("wb")
        workers[name] = subprocess.Popen(
            [prefect, "worker", "start", "--pool", "casefile", "--name", name, "--limit", "1"],
            env=full_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    try:
        created = run_cli(
            "case", "new", "--client", CLIENT_NAME, "--a-number", A_NUMBER, "--court", "New York, NY (Broadway)",
            "--hearing", "2027-03-04", "--hearing-type", "individual", "--json", home=home, env=practice,
        )  # fmt: skip
        assert created.returncode == 0, created.stderr
        case_id = json.loads(created.stdout)["id"]
        scan = tmp_path / "long_scan.pdf"
        _scan(scan)
        checked = run_cli("deploy", "check", "--workers", "2", "--json", home=home, env=practice)
        parts = {p["name"]: p for p in json.loads(checked.stdout)["parts"]}
        assert parts["work-pool"]["ok"] or "online" in parts["work-pool"]["detail"], parts

        add = subprocess.Popen(
            [str(Path(sys.executable).with_name("casefile")), "add", case_id, str(scan), "--json"],
            env={**full_env, "CASEFILE_HOME": str(home)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=home.parent,
        )
        for key, value in practice.items():  # this process looks at the same catalog and store
            if key.startswith(("CASEFILE_", "AWS_")):
                monkeypatch.setenv(key, value)
        reset_runtimes()
        rt = get_runtime(load_settings())
        claims: dict[int, set[str]] = {}
        killed: tuple[str, int] | None = None
        deadline = time.monotonic() + 600
        while add.poll() is None and time.monotonic() < deadline:
            with rt.catalog.session() as session:
                for part in session.query(OcrPart).all():
                    if part.status == "running" and part.claimed_by:
                        who = _worker_of(int(part.claimed_by.rsplit(":", 1)[1]), workers)
                        if who:
                            claims.setdefault(part.first_page, set()).add(who)
                            if killed is None and who == "machine-1":
                                _stop_tree(workers[who])  # the machine dies with its run in the middle of OCR
                                killed = (who, part.first_page)
            time.sleep(0.2)
        out, err = add.communicate(timeout=60)
        assert add.returncode == 0, err.decode()[-4000:]
        assert json.loads(out)["counts"]["stored"] == 1

        assert killed is not None, "machine-1 never took a part"
        with rt.catalog.session() as session:
            (doc,) = session.query(Document).filter(Document.case_id == case_id).all()
            assert doc.ocr_status == "done" and doc.page_count == PAGES
            parts_done = session.query(OcrPart).filter(OcrPart.document_id == doc.id).all()
            assert len(parts_done) == PAGES // PER_PART and all(p.status == "done" for p in parts_done)
            retried = next(p for p in parts_done if p.first_page == killed[1])
            assert retried.attempts >= 2  # given to the other machine after its lease ran out
            assert {len(doc.pages)} == {PAGES}
            for page, marker in zip(doc.pages, MARKERS, strict=True):
                assert page.text_source == "ocr" and page.text is not None
                assert marker in page.text and page.text.count(marker) == 1, (page.number, marker)
            searchable_key = doc.searchable_key
        # Both machines took part; the survivor finished what the dead one held.
        assert {w for who in claims.values() for w in who} == {"machine-1", "machine-2"}
        assert "machine-2" in claims[killed[1]]
        # One searchable PDF with every page's text layer, in the original order.
        import pypdfium2 as pdfium

        assert searchable_key is not None
        pdf_path = tmp_path / "searchable.pdf"
        rt.store.download(searchable_key, pdf_path)
        pdf = pdfium.PdfDocument(pdf_path)
        assert len(pdf) == PAGES
        for n, marker in enumerate(MARKERS):
            assert marker in pdf[n].get_textpage().get_text_range()
        pdf.close()
        found = run_cli("search", MARKERS[killed[1] - 1], "--json", home=home, env=practice)
        assert found.returncode == 0 and json.loads(found.stdout)[0]["page"] == killed[1], found.stdout
    finally:
        for worker in workers.values():
            if worker.poll() is None:
                _stop_tree(worker)
        reset_runtimes()


@pytest.mark.tesseract
def test_two_runs_of_one_page_range_record_it_once_and_the_parts_assemble_in_order(
    pg_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No Prefect here: the promises of tasks/documents/split.py, as two workers racing for one part would test them."""
    from concurrent.futures import ThreadPoolExecutor

    from casefile.tasks.cases.case import create_case
    from casefile.tasks.core.catalog import AuditEvent, Document, OcrPart
    from casefile.tasks.core.runtime import get_runtime, reset_runtimes
    from casefile.tasks.demo.scenario import fictional_case
    from casefile.tasks.documents import split
    from casefile.tasks.documents.pipeline import ingest_files, taken_in

    monkeypatch.setenv("CASEFILE_OCR_SPLIT_PAGES", "3")
    monkeypatch.setenv("CASEFILE_OCR_WORKERS", "1")
    reset_runtimes()
    rt = get_runtime()
    scan = tmp_path / "scan.pdf"
    _scan(scan)
    with rt.catalog.session() as session:
        case_id = create_case(session, fictional_case()).id
    doc_id = taken_in(ingest_files(rt, case_id, [scan], "police", searchable=False).items[0])
    assert doc_id is not None
    assert split.plan_parts(rt, doc_id) == [(1, 3), (4, 6), (7, 8)]
    assert split.plan_parts(rt, doc_id) == [(1, 3), (4, 6), (7, 8)]  # planned once

    with ThreadPoolExecutor(2) as pool:
        outcomes = list(pool.map(lambda _n: split.ocr_part(rt, doc_id, 4, "run"), range(2)))
    assert sorted(o.recorded for o in outcomes) == [False, True]
    for first in (7, 1):  # out of order, as workers finish
        assert split.ocr_part(rt, doc_id, first).recorded
    assert not split.ocr_part(rt, doc_id, 1).recorded  # a late duplicate run keeps nothing
    summary = split.assemble(rt, doc_id)
    assert summary.ocr_status == "done" and summary.ocr_pages == PAGES
    with rt.catalog.session() as session:
        doc = session.get(Document, doc_id)
        assert doc is not None
        assert [MARKERS[p.number - 1] in (p.text or "") for p in doc.pages] == [True] * PAGES
        assert {p.status for p in session.query(OcrPart).filter(OcrPart.document_id == doc_id)} == {"done"}
        assert session.query(AuditEvent).filter(AuditEvent.action == "text-extracted").count() == 1
        key = doc.searchable_key
    assert key is not None
    import pypdfium2 as pdfium

    path = tmp_path / "searchable.pdf"
    rt.store.download(key, path)
    pdf = pdfium.PdfDocument(path)
    assert [MARKERS[n] in pdf[n].get_textpage().get_text_range() for n in range(PAGES)] == [True] * PAGES
    pdf.close()
    assert split.assemble(rt, doc_id).ocr_status == "done"  # again: nothing changes
    reset_runtimes()
