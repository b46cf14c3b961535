"""The overdue check as a real Prefect flow run, and `casefile serve` as an operator runs it.

The serve tests start the real command (`casefile serve`: its own Prefect server and UI on loopback, and the
runner), with the chase on a 5-second interval (CASEFILE_CHASE_INTERVAL_SECONDS, testing only) and the server's
scheduler and the runner's polling made fast. They check: the schedule fires and a SIGTERM stops everything (exit 0,
no process left behind); the UI is served and the flow-run links a command prints open in it; a second serve on
the same home is refused without touching the first, and closing the terminal (SIGHUP) stops it; a flow run in
flight when the stop comes finishes within the grace period, or, past it, is cancelled and marked in Prefect.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from datetime import date, timedelta
from pathlib import Path
from typing import Any, cast

import psutil
import pytest
from conftest import A_NUMBER, CLIENT_NAME, DEMO_DATA, run_cli
from smtpserver import LoopbackSmtp, free_port
from test_chase import HOSPITAL, new_request

from casefile.tasks.core.runtime import Runtime

pytestmark = pytest.mark.prefect


def test_chase_flow_run_and_artifact(
    prefect_api: str, smtp_server: LoopbackSmtp, runtime: Runtime, case_id: str
) -> None:
    from prefect.artifacts import Artifact

    from casefile.flows.chase import ARTIFACT_KEY, chase_overdue

    ids = sorted(new_request(runtime, case_id) for _ in range(2))
    counts = chase_overdue(today="2026-12-03", confirm=True)  # another day than today: confirmed
    assert counts["followups_emailed"] == 2 and counts["digests_sent"] == 1 and counts["overdue_marked"] == 2
    assert len(smtp_server.messages) == 3
    artifact = cast(Artifact | None, Artifact.get(ARTIFACT_KEY))
    assert artifact is not None and isinstance(artifact.data, str)
    for rid in ids:
        assert rid in artifact.data
    for secret in (CLIENT_NAME, A_NUMBER, "Metro General", HOSPITAL, "fictional"):
        assert secret not in artifact.data and secret not in (artifact.description or "")
    assert chase_overdue(today="2026-12-03", confirm=True)["emails_sent"] == 0  # the same day again: nothing twice
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


def _get(url: str) -> tuple[int, str]:
    """GET as a browser asks for a page (the UI answers any of its routes with its app only then)."""
    request = urllib.request.Request(url, headers={"Accept": "text/html,application/xhtml+xml"})  # noqa: S310
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (loopback URL we started)
        return int(response.status), response.read().decode(errors="replace")


def _chase_runs(api_url: str, *states: str) -> list[dict[str, Any]]:
    runs: list[dict[str, Any]] = _api(
        api_url,
        "/flow_runs/filter",
        {"flows": {"name": {"any_": ["chase-overdue"]}}, "flow_runs": {"state": {"type": {"any_": list(states)}}}},
    )
    return [r for r in runs if r.get("deployment_id")]


class Serve:
    """`casefile serve` as a subprocess, as an operator starts it, with fast schedules."""

    def __init__(self, home: Path, log: Path, *args: str, env: dict[str, str] | None = None) -> None:
        self.home = home
        self.log = log
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
        full_env.update(
            CASEFILE_HOME=str(home),
            CASEFILE_CHASE_INTERVAL_SECONDS="5",
            PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS="2",  # the server schedules new runs within 2 s
            PREFECT_RUNNER_POLL_FREQUENCY="2",  # the runner looks for due runs every 2 s (default 10)
        )
        full_env.update(env or {})
        exe = Path(sys.executable).with_name("casefile")
        with log.open("wb") as out:
            self.proc = subprocess.Popen(
                [str(exe), "serve", "--port", "0", *args],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=full_env,
                cwd=log.parent,
                start_new_session=True,
            )
        self.url_file = home / "prefect" / "server-url"
        lines = self.wait_for(  # (a killed serve may have left its file: wait for this one's runner)
            lambda: "Serving the scheduled flows" in self.text() and self.url_file.read_text().split(),
            120,
            "the Prefect server and the runner",
        )
        self.api_url, self.ui_url = lines[0], lines[1]
        self.children: set[int] = set()

    def wait_for(self, predicate: Any, timeout: float, what: str) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"casefile serve exited ({self.proc.returncode}) while waiting for {what}: {self.text()}")
            value = predicate()
            if value:
                return value
            time.sleep(0.25)
        pytest.fail(f"timed out waiting for {what}: {self.text()}")

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def snapshot_children(self) -> set[int]:
        self.children = {p.pid for p in psutil.Process(self.proc.pid).children(recursive=True)}
        return self.children

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 150) -> int:
        if not self.children:
            self.snapshot_children()
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            raise

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)

    def assert_nothing_left(self) -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(_running(pid) for pid in self.children):
            time.sleep(0.2)
        assert not [pid for pid in self.children if _running(pid)], "processes left behind"
        assert not self.url_file.exists()


def _without_prefect_settings(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    """The command as a user on the machine runs it: no PREFECT_* variables (the tests' own server is not used)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env["CASEFILE_HOME"] = str(home)
    exe = Path(sys.executable).with_name("casefile")
    return subprocess.run(
        [str(exe), *args], capture_output=True, text=True, env=env, cwd=home.parent, timeout=300, check=False
    )


def _running(pid: int) -> bool:
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


@pytest.mark.slow
def test_serve_fires_the_schedule_and_stops_cleanly(
    smtp_server: LoopbackSmtp, runtime: Runtime, case_id: str, tmp_path: Path
) -> None:
    # Due 40 days ago by the real clock: the scheduled run (today = the real date) has a follow-up to send.
    rid = new_request(runtime, case_id, sent_on=date.today() - timedelta(days=40))
    serve = Serve(runtime.settings.home, tmp_path / "serve.log")
    try:
        serve.wait_for(lambda: _chase_runs(serve.api_url, "COMPLETED"), 90, "a completed scheduled chase run")
        deployments = {d["name"]: d for d in _api(serve.api_url, "/deployments/filter", {})}
        assert {"scheduled", "on-demand"} <= set(deployments)
        assert deployments["on-demand"]["entrypoint"] == "casefile.flows.packet.build_packet_flow"  # run from the UI
        assert not deployments["on-demand"].get("schedules")
        assert len(serve.snapshot_children()) >= 2  # the server and the runner at least
        code = serve.stop(signal.SIGTERM)
    finally:
        serve.kill()
    assert code == 0, serve.text()
    followups = [m for m in smtp_server.messages if HOSPITAL in m.rcpt_tos]
    assert len(followups) == 1 and rid in followups[0].subject  # several runs fired; the follow-up went out once
    serve.assert_nothing_left()
    text = serve.text()
    assert text.index("Stopping the runner") < text.index("Stopping the Prefect server")


@pytest.mark.slow
def test_the_prefect_ui_is_served_and_the_links_a_command_prints_open_in_it(
    runtime: Runtime, case_id: str, tmp_path: Path
) -> None:
    """`--ui-url` is the address a browser uses (here `localhost`, as through an SSH tunnel); the UI calls the API
    there, and the flow-run link `casefile add` prints (it runs its flow on serve's server) opens."""
    port = free_port()
    ui_url = f"http://localhost:{port}"
    serve = Serve(runtime.settings.home, tmp_path / "serve.log", "--port", str(port), "--ui-url", ui_url)
    try:
        assert serve.ui_url == ui_url and serve.api_url == f"http://127.0.0.1:{port}/api"
        status, page = _get(ui_url + "/")
        assert status == 200 and "<html" in page.lower()
        settings = json.loads(_get(ui_url + "/ui-settings")[1])
        assert settings["api_url"] == ui_url + "/api"  # what the browser calls
        added = _without_prefect_settings(
            "add", case_id, str(DEMO_DATA / "sample" / "medical_record_en.pdf"), home=runtime.settings.home
        )
        assert added.returncode == 0, added.stderr
        links = re.findall(r"View at (\S+/runs/flow-run/([0-9a-f-]{36}))", added.stderr)
        assert links, added.stderr
        link, run_id = links[0]
        assert link.startswith(ui_url + "/")
        status, page = _get(link)
        assert status == 200 and "<html" in page.lower()
        with urllib.request.urlopen(f"{serve.api_url}/flow_runs/{run_id}", timeout=10) as response:  # noqa: S310
            assert json.loads(response.read())["state"]["type"] == "COMPLETED"  # the run the link shows is there
        code = serve.stop()
    finally:
        serve.kill()
    assert code == 0, serve.text()
    serve.assert_nothing_left()


@pytest.mark.slow
def test_a_second_serve_is_refused_and_closing_the_terminal_stops_the_first(
    runtime: Runtime, case_id: str, tmp_path: Path
) -> None:
    home = runtime.settings.home
    first = Serve(home, tmp_path / "first.log")
    try:
        files = {name: (home / "prefect" / name).read_bytes() for name in ("server-url", "serve.lock")}
        second = run_cli("serve", "--port", "0", home=home, timeout=60)
        assert second.returncode == 1
        assert f"pid {first.proc.pid}" in second.stderr and "already running" in second.stderr
        assert {name: (home / "prefect" / name).read_bytes() for name in files} == files  # untouched
        assert _get(first.api_url + "/health")[0] == 200 and first.proc.poll() is None
        first.snapshot_children()
        code = first.stop(signal.SIGHUP)  # the terminal it runs in was closed
    finally:
        first.kill()
    assert code == 0, first.text()
    first.assert_nothing_left()
    assert "Stopped." in first.text()


def _slow_chase(runtime: Runtime, case_id: str, requests: int) -> list[str]:
    """Requests that each get a follow-up today; with CASEFILE_MAIL_SEND_INTERVAL the run takes a while."""
    sent_on = date.today() - timedelta(days=40)
    return [new_request(runtime, case_id, sent_on=sent_on) for _ in range(requests)]


def _final_states(home: Path) -> list[tuple[str, str]]:
    """(state type, state name) of the deployment's chase runs, read from serve's Prefect database once it stopped."""
    with sqlite3.connect(home / "prefect" / "prefect.db") as db:
        rows = db.execute(
            "SELECT r.state_type, r.state_name FROM flow_run r JOIN flow f ON f.id = r.flow_id "
            "WHERE f.name = 'chase-overdue' AND r.deployment_id IS NOT NULL AND r.start_time IS NOT NULL"
        ).fetchall()
    return [(str(t), str(n)) for t, n in rows]


@pytest.mark.slow
def test_a_flow_run_in_flight_at_sigterm_finishes_within_the_grace_period(
    smtp_server: LoopbackSmtp, runtime: Runtime, case_id: str, tmp_path: Path
) -> None:
    ids = _slow_chase(runtime, case_id, 3)
    serve = Serve(runtime.settings.home, tmp_path / "serve.log", env={"CASEFILE_MAIL_SEND_INTERVAL": "3"})
    try:
        serve.wait_for(lambda: _chase_runs(serve.api_url, "RUNNING"), 90, "a running chase")
        serve.snapshot_children()
        code = serve.stop(signal.SIGTERM)
    finally:
        serve.kill()
    assert code == 0, serve.text()
    assert "Every flow run finished." in serve.text()
    assert ("COMPLETED", "Completed") in _final_states(runtime.settings.home)
    followed_up = sorted(m.subject.split(":")[0] for m in smtp_server.messages if HOSPITAL in m.rcpt_tos)
    assert followed_up == sorted(ids)  # the run was not cut: every follow-up went out, once
    serve.assert_nothing_left()


@pytest.mark.slow
def test_a_flow_run_past_the_grace_period_is_cancelled_marked_and_safe_to_run_again(
    smtp_server: LoopbackSmtp, runtime: Runtime, case_id: str, tmp_path: Path
) -> None:
    from casefile.tasks.requests.chase import run_chase

    ids = _slow_chase(runtime, case_id, 4)
    serve = Serve(
        runtime.settings.home, tmp_path / "serve.log", "--grace", "1", env={"CASEFILE_MAIL_SEND_INTERVAL": "4"}
    )
    try:
        serve.wait_for(lambda: _chase_runs(serve.api_url, "RUNNING"), 90, "a running chase")
        serve.snapshot_children()
        code = serve.stop(signal.SIGTERM)
    finally:
        serve.kill()
    assert code == 0, serve.text()
    assert "still running: the runner cancels them" in serve.text()
    states = _final_states(runtime.settings.home)
    assert states and all(t in ("COMPLETED", "CANCELLED", "CRASHED") for t, _ in states), states
    assert any(t in ("CANCELLED", "CRASHED") for t, _ in states), states  # the cut run says so
    serve.assert_nothing_left()
    cut_short = len([m for m in smtp_server.messages if HOSPITAL in m.rcpt_tos])
    assert cut_short < len(ids)
    run_chase(runtime, date.today())  # the next run does the rest, and nothing twice
    followed_up = sorted(m.subject.split(":")[0] for m in smtp_server.messages if HOSPITAL in m.rcpt_tos)
    assert followed_up == sorted(ids)


@pytest.mark.slow
def test_a_killed_serve_leaves_no_server_runner_or_flow_run_behind(
    smtp_server: LoopbackSmtp, runtime: Runtime, case_id: str, tmp_path: Path
) -> None:
    _slow_chase(runtime, case_id, 3)
    serve = Serve(runtime.settings.home, tmp_path / "serve.log", env={"CASEFILE_MAIL_SEND_INTERVAL": "4"})
    try:
        serve.wait_for(lambda: _chase_runs(serve.api_url, "RUNNING"), 90, "a running chase")
        started = serve.snapshot_children()
        assert len(started) >= 3  # the server, the runner and the flow run's process at least
        os.kill(serve.proc.pid, signal.SIGKILL)  # the supervisor alone: what it started must go by itself
        assert serve.proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        serve.kill()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(_running(pid) for pid in started):
        time.sleep(0.2)
    assert not [pid for pid in started if _running(pid)], "processes left behind by a killed serve"
    restarted = Serve(runtime.settings.home, tmp_path / "again.log")  # its lock went with it: serve starts again
    try:
        assert "left running by an earlier serve or command Crashed" in restarted.text()  # the killed run, marked
        assert restarted.stop() == 0, restarted.text()
    finally:
        restarted.kill()
    assert "Waiting up to" not in restarted.text()  # no grace period spent on a run nobody runs
