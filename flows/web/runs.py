"""Starting the same Prefect flows as the command line from the staff page, and following them to the end.

When `casefile serve` is running (its server-url file answers), a build or an ingest is a run of its deployment
(``build-packet/on-demand``, ``ingest-case/on-request``), executed by serve's runner, and a watcher thread here reads
its state until it is final. Otherwise the flow runs in a worker thread of this process (two at most; the others
wait), like `casefile add` and `packet build` do. Prefect is imported only when the first run starts. Parameters are
ids only; the job record (tasks/staff/jobs.py) is what the page shows.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from ...tasks.core.errors import CasefileError
from ...tasks.staff import jobs
from ...tasks.staff.jobs import JobKind, JobState
from ...tasks.staff.uploads import remove_upload, upload_folder_of
from ..prefect_env import configure_prefect, local_server_url

if TYPE_CHECKING:
    from ...tasks.core.runtime import Runtime
    from ...tasks.packets.build import BuildOptions

log = logging.getLogger(__name__)

BUILD_DEPLOYMENT = "build-packet/on-demand"
INGEST_DEPLOYMENT = "ingest-case/on-request"
WATCH_EVERY = 1.0
_FINAL_TYPES = {
    "COMPLETED": JobState.COMPLETED,
    "FAILED": JobState.FAILED,
    "CRASHED": JobState.FAILED,
    "CANCELLED": JobState.FAILED,
    "CANCELLING": JobState.RUNNING,
    "RUNNING": JobState.RUNNING,
    "PENDING": JobState.SCHEDULED,
    "SCHEDULED": JobState.SCHEDULED,
    "PAUSED": JobState.RUNNING,
}


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, CasefileError):
        return exc.message  # written for people, never client data
    return f"The run failed ({type(exc).__name__}). Try again; if it fails again, tell an admin."


class FlowRuns:
    """One per web application."""

    def __init__(self, rt: Runtime, *, threads: int = 2) -> None:
        self.rt = rt
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="web-flow")
        self._watcher: threading.Thread | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()

    # Starting --------------------------------------------------------------------------------------------------
    def server_url(self) -> str | None:
        return local_server_url(self.rt.settings)

    def start_build(self, case_id: str, user_id: int, options: BuildOptions) -> str:
        """A build with the options the page set (tasks/staff/builds.py), already through the preflight."""
        from ...tasks.staff.builds import flow_parameters

        params = flow_parameters(case_id, options)
        return self._start(JobKind.BUILD, case_id, user_id, params, profile=options.profile)

    def start_ingest(self, case_id: str, user_id: int, batch_id: str) -> str:
        return self._start(JobKind.INGEST, case_id, user_id, {"batch_id": batch_id}, batch_id=batch_id)

    def _start(self, kind: JobKind, case_id: str, user_id: int, params: dict[str, Any], **extra: Any) -> str:
        api = self.server_url()
        runner = "deployment" if api else "thread"
        job_id = jobs.create_job(self.rt, kind, case_id, user_id, runner, **extra)
        if api:
            try:
                flow_run_id = self._run_deployment(api, kind, params)
            except Exception as exc:
                log.warning("job %s: the deployment could not be started (%s)", job_id, type(exc).__name__)
                jobs.update_job(self.rt, job_id, JobState.FAILED, error=_error_text(exc))
                self._cleanup(kind, params)
                return job_id
            jobs.update_job(self.rt, job_id, JobState.SCHEDULED, flow_run_id=flow_run_id)
            self._ensure_watcher()
        else:
            self._pool.submit(self._run_here, job_id, kind, params)
        return job_id

    def _run_deployment(self, api: str, kind: JobKind, params: dict[str, Any]) -> str:
        configure_prefect(self.rt.settings)
        from prefect.deployments import run_deployment
        from prefect.settings import PREFECT_API_URL, temporary_settings

        name = BUILD_DEPLOYMENT if kind is JobKind.BUILD else INGEST_DEPLOYMENT
        with temporary_settings(updates={PREFECT_API_URL: api}):
            run = run_deployment(name, parameters=params, timeout=0, as_subflow=False)
        return str(run.id)  # type: ignore[union-attr]

    def _run_here(self, job_id: str, kind: JobKind, params: dict[str, Any]) -> None:
        jobs.update_job(self.rt, job_id, JobState.RUNNING)
        try:
            configure_prefect(self.rt.settings)
            if kind is JobKind.BUILD:
                from ..packet import build_packet_flow

                result = build_packet_flow(**params)
                jobs.update_job(self.rt, job_id, JobState.COMPLETED, build_id=str(result["build_id"]))
            else:
                from ..ingest import ingest_case

                ingest_case(params["batch_id"])
                jobs.update_job(self.rt, job_id, JobState.COMPLETED)
        except BaseException as exc:
            log.warning("job %s failed: %s", job_id, type(exc).__name__)
            jobs.update_job(self.rt, job_id, JobState.FAILED, error=_error_text(exc))
            if not isinstance(exc, Exception):
                raise
        finally:
            self._cleanup(kind, params)

    def _cleanup(self, kind: JobKind, params: dict[str, Any]) -> None:
        if kind is JobKind.INGEST:
            remove_upload_of_batch(self.rt, params["batch_id"])

    # Watching deployment runs --------------------------------------------------------------------------------
    def _ensure_watcher(self) -> None:
        with self._lock:
            if self._watcher is None or not self._watcher.is_alive():
                self._watcher = threading.Thread(target=self._watch, name="web-flow-watcher", daemon=True)
                self._watcher.start()

    def _watch(self) -> None:
        idle_rounds = 0
        while not self._stop.is_set() and idle_rounds < 30:
            pending = jobs.unfinished_jobs(self.rt, runner="deployment")
            idle_rounds = 0 if pending else idle_rounds + 1
            for job in pending:
                try:
                    self.poll(job)
                except Exception as exc:  # the server may be restarting: try again next round
                    log.info("job %s: state not read (%s)", job["id"], type(exc).__name__)
            self._stop.wait(WATCH_EVERY)

    def poll(self, job: dict[str, Any]) -> None:
        """Read the deployment run's state once and record it (the build id from the run's artifact)."""
        api = self.server_url()
        if api is None or not job["flow_run_id"]:
            return
        configure_prefect(self.rt.settings)
        from uuid import UUID

        from prefect.client.orchestration import get_client
        from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId
        from prefect.settings import PREFECT_API_URL, temporary_settings

        with temporary_settings(updates={PREFECT_API_URL: api}), get_client(sync_client=True) as client:
            run = client.read_flow_run(UUID(job["flow_run_id"]))
            state_type = run.state.type.value if run.state else "PENDING"
            state = _FINAL_TYPES.get(state_type, JobState.RUNNING)
            build_id = None
            if state is JobState.COMPLETED and job["kind"] == JobKind.BUILD.value:
                artifacts = client.read_artifacts(
                    artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run.id]))
                )
                keys = [a.key for a in artifacts if a.key and a.key.startswith("packet-")]
                build_id = keys[0].removeprefix("packet-").upper() if keys else None
            error = None
            if state is JobState.FAILED:
                error = _state_message(run.state.message if run.state else None)
        jobs.update_job(self.rt, job["id"], state, build_id=build_id, error=error)
        if state.final and job["kind"] == JobKind.INGEST.value and job["batch_id"]:
            remove_upload_of_batch(self.rt, job["batch_id"])

    # Life cycle ------------------------------------------------------------------------------------------------
    def recover(self) -> None:
        """At start-up: runs this process's predecessor had in its threads died with it; deployment runs go on."""
        for job in jobs.unfinished_jobs(self.rt, runner="thread"):
            jobs.update_job(
                self.rt,
                job["id"],
                JobState.FAILED,
                error="The web page was restarted while this ran. Start it again.",
            )
            if job["batch_id"]:
                remove_upload_of_batch(self.rt, job["batch_id"])
        if jobs.unfinished_jobs(self.rt, runner="deployment"):
            self._ensure_watcher()

    def close(self, wait: bool = False) -> None:
        self._stop.set()
        self._pool.shutdown(wait=wait, cancel_futures=True)

    def wait_idle(self, timeout: float, is_done: Callable[[], bool]) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if is_done():
                return True
            time.sleep(0.2)
        return False


def _state_message(message: str | None) -> str:
    """A failed run's message as Prefect recorded it ("Flow run encountered an exception: Type: text"): the typed
    error's own text (written for people, never client data), without Prefect's prefix."""
    if not message:
        return "The run failed. Open it in the Prefect UI for details, or try again."
    text = message.split("exception: ", 1)[-1]
    _type, sep, rest = text.partition(": ")
    return (rest if sep else text)[:2000]


def remove_upload_of_batch(rt: Runtime, batch_id: str) -> None:
    from ...tasks.core.catalog import IntakeItem

    with rt.catalog.session() as session:
        from sqlalchemy import select

        paths = list(session.scalars(select(IntakeItem.source_path).where(IntakeItem.batch_id == batch_id)))
    folder = upload_folder_of(paths)
    if folder is not None:
        remove_upload(folder)
