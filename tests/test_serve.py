"""The overdue check as a real Prefect flow run, and `casefile serve` firing it on a real schedule.

The scheduled test starts the real command (`casefile serve`: its own Prefect server on loopback and the runner),
with the chase on a 5-second interval (CASEFILE_CHASE_INTERVAL_SECONDS, testing only) and the server's scheduler
and the runner's polling made fast; it waits for a completed flow run of the deployment and for its e-mails at a
loopback SMTP server, then sends SIGTERM and checks a clean stop: exit 0, no process left behind.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from datetime import date, timedelta
from pathlib import Path
from typing import Any, cast

import psutil
import pytest
from conftest import A_NUMBER, CLIENT_NAME
from smtpserver import LoopbackSmtp
from test_chase import HOSPITAL, new_request

from casefile.tasks.core.runtime import Runtime

pytestmark = pytest.mark.prefect


def test_chase_flow_run_and_artifact(
    prefect_api: str, smtp_server: LoopbackSmtp, runtime: Runtime, case_id: str
) -> None:
    from prefect.artifacts import Artifact

    from casefile.flows.chase import ARTIFACT_KEY, chase_overdue

    ids = sorted(new_request(runtime, case_id) for _ in range(2))
    counts = chase_overdue(today="2026-12-03")
    assert counts["followups_emailed"] == 2 and counts["digests_sent"] == 1 and counts["overdue_marked"] == 2
    assert len(smtp_server.messages) == 3
    artifact = cast(Artifact | None, Artifact.get(ARTIFACT_KEY))
    assert artifact is not None and isinstance(artifact.data, str)
    for rid in ids:
        assert rid in artifact.data
    for secret in (CLIENT_NAME, A_NUMBER, "Metro General", HOSPITAL, "fictional"):
        assert secret not in artifact.data and secret not in (artifact.description or "")
    assert chase_overdue(today="2026-12-03")["emails_sent"] == 0  # the same day again: nothing twice
    assert len(smtp_server.messages) == 3


def test_the_supervisor_imports_no_prefect_and_names_the_runner_module() -> None:
    """`casefile serve`'s own process stays free of Prefect; the runner it starts is flows/deployments.py."""
    from casefile.flows.supervisor import RUNNER_MODULE
    from casefile.tasks.core.processes import module_env

    code = "import sys, casefile.flows.supervisor; print(sorted(m for m in sys.modules if m.startswith('prefect')))"
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=module_env(), timeout=60, check=True
    )
    assert proc.stdout.strip() == "[]"
    assert RUNNER_MODULE == "casefile.flows.deployments"
    from casefile.flows import deployments

    assert callable(deployments.main) and callable(deployments.build_deployments)


def _api(api_url: str, path: str, body: dict[str, Any]) -> Any:
    request = urllib.request.Request(  # noqa: S310 (loopback URL we started)
        api_url.rstrip("/") + path,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return json.loads(response.read())


def _completed_chase_runs(api_url: str) -> list[dict[str, Any]]:
    runs: list[dict[str, Any]] = _api(
        api_url,
        "/flow_runs/filter",
        {
            "flows": {"name": {"any_": ["chase-overdue"]}},
            "flow_runs": {"state": {"type": {"any_": ["COMPLETED"]}}},
        },
    )
    return [r for r in runs if r.get("deployment_id")]


def _wait_for(predicate: Any, timeout: float, what: str, proc: subprocess.Popen[bytes], log: Path) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"casefile serve exited early ({proc.returncode}) while waiting for {what}: {log.read_text()}")
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    pytest.fail(f"timed out waiting for {what}")


@pytest.mark.slow
def test_serve_fires_the_schedule_and_stops_cleanly(
    smtp_server: LoopbackSmtp, runtime: Runtime, case_id: str, tmp_path: Path
) -> None:
    # Due 40 days ago by the real clock: the scheduled run (today = the real date) has a follow-up to send.
    rid = new_request(runtime, case_id, sent_on=date.today() - timedelta(days=40))
    home = runtime.settings.home
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(
        CASEFILE_HOME=str(home),
        CASEFILE_CHASE_INTERVAL_SECONDS="5",
        PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS="2",  # the server schedules new runs within 2 s (default 60)
        PREFECT_RUNNER_POLL_FREQUENCY="2",  # the runner looks for due runs every 2 s (default 10)
    )
    log = tmp_path / "serve.log"
    exe = Path(sys.executable).with_name("casefile")
    with log.open("wb") as out:
        proc = subprocess.Popen([str(exe), "serve"], stdout=out, stderr=subprocess.STDOUT, env=env, cwd=tmp_path)
    children: set[int] = set()
    try:
        url_file = home / "prefect" / "server-url"
        api_url = _wait_for(
            lambda: url_file.exists() and url_file.read_text().strip(), 90, "the Prefect server", proc, log
        )
        _wait_for(lambda: _completed_chase_runs(api_url), 90, "a completed scheduled chase run", proc, log)
        deployments = {d["name"]: d for d in _api(api_url, "/deployments/filter", {})}
        assert {"scheduled", "on-demand"} <= set(deployments)
        assert deployments["on-demand"]["entrypoint"] == "casefile.flows.packet.build_packet_flow"  # run from the UI
        assert not deployments["on-demand"].get("schedules")
        children = {p.pid for p in psutil.Process(proc.pid).children(recursive=True)}
        assert len(children) >= 2  # the server and the runner at least
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=90)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert code == 0, log.read_text()
    followups = [m for m in smtp_server.messages if HOSPITAL in m.rcpt_tos]
    assert len(followups) == 1 and rid in followups[0].subject  # several runs fired; the follow-up went out once
    for pid in children:
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE, pid
    assert not (home / "prefect" / "server-url").exists()
    text = log.read_text()
    assert text.index("Stopping the runner") < text.index("Stopping the Prefect server")
