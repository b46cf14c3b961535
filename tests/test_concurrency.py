"""Concurrency on a shared PostgreSQL catalog, run for real from several threads at once (each its own connection and
transaction): two `casefile add` of the same files into one case, two builds of one case's packet, and the overdue
check running while an advocate edits the same requests. Correct results, nothing lost, nothing twice."""

from __future__ import annotations

import hashlib
import itertools
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pytest
from sqlalchemy import func, select

from casefile.tasks.core.settings import DEMO_DATA

if TYPE_CHECKING:
    from casefile.tasks.core.runtime import Runtime

pytestmark = [pytest.mark.postgres]

T = TypeVar("T")
SAMPLES = [DEMO_DATA / "sample" / "medical_record_en.pdf", DEMO_DATA / "translations" / "id_card.en.pdf"]


@pytest.fixture(autouse=True)
def _no_ocr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CASEFILE_OCR_ENABLED", "false")  # born-digital files: their own text layer, no Tesseract


@pytest.fixture
def shared(pg_home: Path) -> Runtime:
    from casefile.tasks.core.runtime import get_runtime

    rt = get_runtime()
    assert rt.settings.catalog_on_postgres and rt.settings.search_on_postgres
    return rt


@pytest.fixture
def case(shared: Runtime) -> str:
    from casefile.tasks.cases.case import create_case
    from casefile.tasks.demo.scenario import fictional_case

    with shared.catalog.session() as session:
        return create_case(session, fictional_case()).id


def at_once(*calls: Callable[[], T]) -> list[T]:
    """Run the calls in threads released together; their results (or the first exception) in order."""
    start = threading.Barrier(len(calls))

    def run(call: Callable[[], T]) -> T:
        start.wait(timeout=30)
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        futures = [pool.submit(run, call) for call in calls]
        return [f.result(timeout=300) for f in futures]


def test_two_adds_of_the_same_files_into_one_case_store_each_once(shared: Runtime, case: str) -> None:
    from casefile.tasks.core.catalog import AuditEvent, Document, Page
    from casefile.tasks.documents.pipeline import ingest_files
    from casefile.tasks.search.index import search_index

    for _round in range(3):
        outcomes = at_once(*(lambda: ingest_files(shared, case, SAMPLES, "medical") for _ in range(2)))
        with shared.catalog.session() as session:
            docs = session.scalars(select(Document).where(Document.case_id == case)).all()
            assert sorted(d.original_name for d in docs) == sorted(p.name for p in SAMPLES)
            texts = session.scalar(
                select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "text-extracted")
            )
            assert texts == len(SAMPLES)  # each document's text recorded once, whichever command got there first
            pages = session.scalar(
                select(func.count()).select_from(Page).join(Document).where(Document.case_id == case)
            )
        stored = sorted(r.outcome.value for o in outcomes for r in o.items)
        assert stored.count("stored") <= len(SAMPLES) and set(stored) <= {"stored", "duplicate"}
        assert search_index(shared).count_pages(case_id=case) == pages  # no page indexed twice


def test_two_builds_of_one_packet_at_once_give_one_good_packet(shared: Runtime, case: str, tmp_path: Path) -> None:
    import yaml

    from casefile.tasks.demo.scenario import DEMO_DHS_ADDRESS, DEMO_DHS_OFFICE
    from casefile.tasks.documents import pipeline
    from casefile.tasks.packets import build as packet
    from casefile.tasks.packets import manifest as stored
    from casefile.tasks.packets.exhibits import parse_plan, save_plan

    ids = [pipeline.taken_in(pipeline.ingest_file(shared, case, p, "medical")) for p in SAMPLES]
    rows = [{"document": doc_id, "title": f"Exhibit {n}"} for n, doc_id in enumerate(ids, 1)]
    text = yaml.safe_dump({"case": case, "exhibits": rows}, sort_keys=False)
    save_plan(shared, parse_plan(text, "plan.yaml", case), "plan.yaml")
    options = packet.BuildOptions(
        service_date=date(2027, 2, 1),
        service_office=DEMO_DHS_OFFICE,
        service_address=DEMO_DHS_ADDRESS,
        fictional_practice=True,  # the demo's fictional case and practice, on purpose (as the demo builds it)
    )

    first, second = at_once(*(lambda: packet.build_packet(shared, case, options) for _ in range(2)))

    assert first.build_id == second.build_id and first.pages == second.pages
    manifest = stored.load_manifest(shared, case, first.build_id)
    out = stored.download_build(shared, case, first.build_id, tmp_path / "out")
    for part, downloaded in zip(manifest["outputs"], out["files"], strict=True):
        assert hashlib.sha256(Path(downloaded["path"]).read_bytes()).hexdigest() == part["sha256"]
    assert [b["build_id"] for b in stored.list_builds(shared, case)] == [first.build_id]


def test_the_overdue_check_never_overwrites_an_advocates_edit(shared: Runtime, case: str) -> None:
    from casefile.tasks.core.catalog import RecordRequest, RequestEvent
    from casefile.tasks.requests.config import request_config
    from casefile.tasks.requests.lifecycle import create_request, get_request, mark_overdue, transition
    from casefile.tasks.requests.status import Status
    from casefile.tasks.requests.tracking import update_request

    config = request_config(shared)
    refs = []
    for _ in range(30):
        with shared.catalog.session() as session:
            req = create_request(
                session, config, case_id=case, record_type="medical", provider_key="metro-general", actor="tester"
            )
            transition(session, config, req, Status.SENT, actor="tester", on=date(2026, 1, 5))  # long past due
            refs.append(req.id)

    def chase() -> list[str]:
        with shared.catalog.session() as session:
            return mark_overdue(session, config, date(2026, 12, 7), actor="overdue-check")

    def advocate() -> list[str]:
        for ref in reversed(refs):  # from the other end, so the two meet in the middle
            update_request(shared, ref, status=Status.RECEIVED, actor="advocate")
        return []

    marked, _ = at_once(chase, advocate)

    with shared.catalog.session() as session:
        for ref in refs:
            req = get_request(session, ref)
            assert req.status == Status.RECEIVED.value, ref  # the advocate's edit is never lost
            events = session.scalars(
                select(RequestEvent)
                .where(RequestEvent.request_id == ref, RequestEvent.kind == "status")
                .order_by(RequestEvent.id)
            ).all()
            chain: list[Any] = [(e.from_status, e.to_status) for e in events]
            for (_, before), (after, _) in itertools.pairwise(chain):
                assert before == after, (ref, chain)  # each change starts from what the last one left
            assert ("overdue" in [to for _, to in chain]) == (ref in marked)
        assert session.scalar(select(func.count()).select_from(RecordRequest)) == len(refs)
