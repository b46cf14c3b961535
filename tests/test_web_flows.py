"""Uploads and builds started from the staff page run the same Prefect flows as the command line: in a worker thread
of the web server when `casefile serve` is not running, through serve's deployments when it is. The page shows each
run's state until it is final, and per-file results in words."""

from __future__ import annotations

import hashlib
import os
import re
import signal
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml
from conftest import DEMO_DATA, practice_init_cli
from staffpage import add_users, sign_in

from casefile.tasks.demo.scenario import fictional_case

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

if TYPE_CHECKING:
    from casefile.tasks.core.runtime import Runtime

pytestmark = [pytest.mark.prefect, pytest.mark.slow]
SAMPLE = DEMO_DATA / "sample"


# The DHS office served, typed on the page instead of the practice's own for the court.
NEWARK_OFFICE = "U.S. Immigration and Customs Enforcement, Office of the Principal Legal Advisor - Newark"
NEWARK_ADDRESS = ("Office of the Chief Counsel", "970 Broad Street, Room 1300", "Newark, NJ 07102")


@pytest.fixture
def no_ocr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CASEFILE_OCR_ENABLED", "false")  # Tesseract is not what these tests are about


@pytest.fixture
def harbor(runtime: Runtime) -> None:
    """The home's own practice (the fictional Harbor practice that looks real): what a real build files for."""
    practice_init_cli(runtime.settings.home)


def _wait_for_job(client: TestClient, url: str, timeout: float = 300) -> str:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        html: str = client.get(url).text
        if 'http-equiv="refresh"' not in html:
            return html
        time.sleep(1)
    pytest.fail(f"the job at {url} did not finish; last page:\n{html[-2000:]}")


def _upload_and_build(client: TestClient, rt: Runtime, case: str) -> dict[str, Any]:
    token = sign_in(client, "avi.advocate")
    files = [
        ("files", ("medical record.pdf", (SAMPLE / "medical_record_en.pdf").read_bytes(), "application/pdf")),
        ("files", ("IMG_2041.jpg", (SAMPLE / "phone_photo_letter.jpg").read_bytes(), "image/jpeg")),
        ("files", ("scan.pdf", b"%PDF-1.4\n1 0 obj <<", "application/pdf")),  # cut off: quarantined
    ]
    sent = client.post(
        f"/cases/{case}/upload", data={"csrf": token, "doc_type": "medical"}, files=files, follow_redirects=False
    )
    assert sent.status_code == 303, sent.text[-1000:]
    upload_job = sent.headers["location"]
    html = _wait_for_job(client, upload_job)
    assert "finished" in html, html[-2000:]
    items = dict(re.findall(r"<strong>([^<]+)</strong>: ([a-z]+)", html))
    assert items == {"medical record.pdf": "stored", "IMG_2041.jpg": "stored", "scan.pdf": "quarantined"}
    assert "cut off" in html or "damaged" in html  # the reason in words
    assert not any((rt.settings.work_dir / "uploads").iterdir())  # the upload's files are gone once taken in

    again = client.post(f"/cases/{case}/upload", data={"csrf": token}, follow_redirects=False, files=[files[0]])
    assert "duplicate" in _wait_for_job(client, again.headers["location"])

    from casefile.tasks.documents.access import list_documents
    from casefile.tasks.packets.exhibits import parse_plan, save_plan

    docs = {d["name"]: d["id"] for d in list_documents(rt, case)}
    plan = {
        "case": case,
        "exhibits": [
            {"document": docs["medical record.pdf"], "title": "Emergency room record", "language": "en"},
            {"document": docs["IMG_2041.jpg"], "title": "Letter of support", "language": "en"},
        ],
    }
    save_plan(rt, parse_plan(yaml.safe_dump(plan), "plan.yaml", case), "plan.yaml")

    served = {"service_office": NEWARK_OFFICE, "service_address": "\n".join(NEWARK_ADDRESS)}
    started = client.post(
        f"/cases/{case}/builds", data={"csrf": token, "profile": "eoir", **served}, follow_redirects=False
    )
    assert started.status_code == 303
    html = _wait_for_job(client, started.headers["location"])
    found = re.search(r"#build-(P-[A-Z0-9]+)", html)
    assert "finished" in html and found, html[-2000:]
    build_id = found.group(1)
    case_page = client.get(f"/cases/{case}").text
    assert build_id in case_page
    from casefile.tasks.staff.downloads import build_manifest

    manifest = build_manifest(rt, case, build_id)
    part = client.get(f"/cases/{case}/packets/{build_id}/parts/1")
    assert hashlib.sha256(part.content).hexdigest() == manifest["outputs"][0]["sha256"]
    import io

    from pypdf import PdfReader

    text = " ".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(part.content)).pages)
    assert "970 Broad Street" in text  # the office served typed on the page, on the certificate of service
    return {"upload_job": upload_job, "build_job": started.headers["location"], "build_id": build_id}


def test_upload_and_build_run_in_a_worker_thread_without_serve(
    prefect_api: str, no_ocr: None, harbor: None, runtime: Runtime
) -> None:
    from casefile.flows.web.app import create_app
    from casefile.tasks.cases.case import open_case

    add_users(runtime)
    case = open_case(runtime, fictional_case(advocate="lnavarro"))["id"]  # the Harbor attorney
    with TestClient(create_app(runtime=runtime)) as client:
        done = _upload_and_build(client, runtime, case)
        assert "in this web server" in client.get(done["build_job"]).text


@pytest.fixture
def serve(runtime: Runtime, no_ocr: None, tmp_path: Path) -> Iterator[str]:
    """`casefile serve` on the test's home: its own Prefect server and the runner of the deployments."""
    home = runtime.settings.home
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(CASEFILE_HOME=str(home), CASEFILE_OCR_ENABLED="false", PREFECT_RUNNER_POLL_FREQUENCY="1")
    log = tmp_path / "serve.log"
    exe = Path(sys.executable).with_name("casefile")
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(exe), "serve", "--port", "0"], stdout=out, stderr=subprocess.STDOUT, env=env, cwd=tmp_path
        )
    try:
        url_file = home / "prefect" / "server-url"
        end = time.monotonic() + 120
        while not (url_file.exists() and "ingest_case" in _deployments(_api_of(url_file))):
            assert proc.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < end, log.read_text()[-3000:]
            time.sleep(0.5)
        yield _api_of(url_file)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=90)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise


def _post(api: str, path: str) -> Any:
    import json
    import urllib.request

    headers = {"Content-Type": "application/json"}
    request = urllib.request.Request(api + path, data=b"{}", method="POST", headers=headers)  # noqa: S310
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback
        return json.loads(response.read())


def _api_of(url_file: Path) -> str:
    return url_file.read_text().splitlines()[0].strip()  # the API; the UI's address is on the next line


def _deployments(api: str) -> str:
    """The deployments' entry points, as one text."""
    try:
        return " ".join(str(d["entrypoint"]) for d in _post(api, "/deployments/filter"))
    except (OSError, ValueError):
        return ""


def test_with_serve_running_they_run_through_its_deployments(
    prefect_api: str, harbor: None, serve: str, runtime: Runtime
) -> None:
    from casefile.flows.web.app import create_app
    from casefile.tasks.cases.case import open_case
    from casefile.tasks.core.catalog import StaffJob

    add_users(runtime)
    case = open_case(runtime, fictional_case(advocate="lnavarro"))["id"]  # the Harbor attorney
    with TestClient(create_app(runtime=runtime)) as client:
        done = _upload_and_build(client, runtime, case)
        job_page = client.get(done["build_job"]).text
        assert "on the Prefect server of" in job_page
        assert "/runs/flow-run/" in job_page  # a link to the run in serve's Prefect UI
    with runtime.catalog.session() as session:
        jobs = list(session.query(StaffJob))
        assert {j.runner for j in jobs} == {"deployment"} and all(j.flow_run_id for j in jobs)
    import json

    names = {r["id"]: r for r in _post(serve, "/flow_runs/filter")}
    for job in jobs:
        run = names[str(job.flow_run_id)]
        assert run["state_type"] == "COMPLETED"
        ids_and_options = {
            "case_id",
            "profile",
            "allow_missing_translations",
            "batch_id",
            "service_office",
            "service_address",
            "service_date",
        }
        assert set(run["parameters"]) <= ids_and_options
        assert "Quiroga" not in json.dumps(run)
