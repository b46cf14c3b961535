"""The deployments `casefile serve` serves, and the runner process that serves them.

``python -m casefile.flows.deployments`` is the runner: flows/supervisor.py starts it as a child process, with
``PREFECT_API_URL`` pointing at the Prefect server it started, and stops it with SIGTERM. It calls Prefect's
``serve()`` with ``build_deployments(settings)`` until then (Prefect cancels the flow runs still going and pauses the
schedules on the way out, which needs the server still up). Flow runs are the runner's own subprocesses, in its
process group; if the supervisor dies without stopping it (SIGKILL), a watchdog kills that group
(tasks/core/processes.py ``end_with``).

Deployments (each with a concurrency limit of 1 where scheduled):
- ``chase-overdue/scheduled``: flows/chase.py, on ``chase_cron`` in ``chase_timezone`` (default weekday mornings,
  8:00 America/New_York), or every ``chase_interval_seconds`` when that is set (tests);
- ``poll-inbox/scheduled``: flows/inbox.py, every ``inbox_poll_seconds``;
- ``build-packet/on-demand``: flows/packet.py, no schedule (run from the Prefect UI or the API);
- ``conditions-bundle/on-request``: flows/conditions.py, no schedule;
- ``ingest-case/on-request``: flows/ingest.py, no schedule (the staff page runs it for an upload's intake batch).
Entry points are module paths (``casefile.flows.chase.chase_overdue``), so flow runs load the installed package
whatever the working directory.

`casefile serve --pool NAME` (``deploy_to_pool``) registers the same deployments, plus ``ocr-pages/pool`` (one page
range of a long document: flows/ocr.py), with a Prefect server of the practice's (``PREFECT_API_URL``) and its
process work pool NAME (created if missing). The server's scheduler then starts the scheduled runs and any worker of
the pool (`prefect worker start --pool NAME`, on each machine, with casefile installed) runs them: nothing of casefile
needs to keep running on the machine that deployed them.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

from ..tasks.core.settings import Settings
from .supervisor import ServeError

if TYPE_CHECKING:
    from prefect.deployments.runner import RunnerDeployment

SUPERVISOR_PID_ENV = "CASEFILE_SUPERVISOR_PID"  # set by the supervisor for its runner
CHASE_DEPLOYMENT = "chase-overdue/scheduled"
INBOX_DEPLOYMENT = "poll-inbox/scheduled"


def build_deployments(settings: Settings) -> list[RunnerDeployment]:
    """The deployments above, from the settings (imports Prefect and the flows)."""
    from datetime import timedelta

    from prefect.deployments.runner import RunnerDeployment
    from prefect.schedules import Cron, Interval
    from prefect.types.entrypoint import EntrypointType

    from .chase import chase_overdue
    from .inbox import poll_inbox_flow
    from .ingest import ingest_case
    from .packet import build_packet_flow

    if settings.chase_interval_seconds:
        chase_schedule = Interval(timedelta(seconds=settings.chase_interval_seconds), timezone=settings.chase_timezone)
    else:
        chase_schedule = Cron(settings.chase_cron, timezone=settings.chase_timezone)
    chase_deployment = chase_overdue.to_deployment(
        name="scheduled",
        schedules=[chase_schedule],
        concurrency_limit=1,
        entrypoint_type=EntrypointType.MODULE_PATH,
        description="Mark overdue record requests, send follow-ups and escalations, e-mail each advocate a digest.",
        tags=["casefile", "requests"],
    )
    assert isinstance(chase_deployment, RunnerDeployment)  # called outside an event loop: never a coroutine
    poll_deployment = poll_inbox_flow.to_deployment(
        name="scheduled",
        schedules=[Interval(timedelta(seconds=settings.inbox_poll_seconds))],
        concurrency_limit=1,
        entrypoint_type=EntrypointType.MODULE_PATH,
        description="Take in what arrived in the inbox folder (and S3 prefix) and match it to requests.",
        tags=["casefile", "requests"],
    )
    assert isinstance(poll_deployment, RunnerDeployment)
    # No schedule: an advocate triggers it from the Prefect UI ("Run" with the case id and profile) or the API.
    packet_deployment = build_packet_flow.to_deployment(
        name="on-demand",
        entrypoint_type=EntrypointType.MODULE_PATH,
        description="Build, check and store one case's exhibit packet (parameters: case id, filing profile).",
        tags=["casefile", "packets"],
    )
    assert isinstance(packet_deployment, RunnerDeployment)
    # No schedule: the staff page (flows/web/runs.py) runs it with the intake batch of an upload.
    ingest_deployment = ingest_case.to_deployment(
        name="on-request",
        entrypoint_type=EntrypointType.MODULE_PATH,
        description="Take in the files of one intake batch (parameter: the batch id), as `casefile add` does.",
        tags=["casefile", "documents"],
    )
    assert isinstance(ingest_deployment, RunnerDeployment)
    from .conditions import deployment as conditions_deployment  # conditions-bundle/on-request, no schedule

    return [chase_deployment, poll_deployment, packet_deployment, conditions_deployment(), ingest_deployment]


def deploy_to_pool(settings: Settings, pool: str) -> list[str]:
    """Register the deployments (and ``ocr-pages/pool``) on the configured Prefect server for the process work pool
    ``pool``, creating the pool if it does not exist. Returns the deployments' names."""
    from .prefect_env import configure_prefect

    if not (os.environ.get("PREFECT_API_URL") or settings.prefect_api_url):
        raise ServeError(
            "`casefile serve --pool` deploys to a Prefect server of the practice: set PREFECT_API_URL (or the setting "
            "prefect_api_url) to its API, e.g. http://prefect.internal:4200/api."
        )
    configure_prefect(settings)
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectNotFound
    from prefect.types.entrypoint import EntrypointType

    from .ocr import ocr_pages

    with get_client(sync_client=True) as client:
        try:
            existing = client.read_work_pool(pool)
        except ObjectNotFound:
            client.create_work_pool(WorkPoolCreate(name=pool, type="process"))
        else:
            if existing.type != "process":
                raise ServeError(
                    f"The work pool {pool!r} is of type {existing.type}; casefile's flows run in a process pool. "
                    "Choose another name (--pool)."
                )
    ocr_deployment = ocr_pages.to_deployment(
        name="pool",
        entrypoint_type=EntrypointType.MODULE_PATH,
        description="OCR one page range of a long document and record its pages once (submitted by the ingest flow).",
        tags=["casefile", "ocr"],
    )
    names = []
    for deployment in [*build_deployments(settings), ocr_deployment]:
        deployment.apply(work_pool_name=pool)  # type: ignore[union-attr]
        names.append(f"{deployment.flow_name}/{deployment.name}")  # type: ignore[union-attr]
    return names


def serve_deployments(settings: Settings) -> None:
    """Serve the deployments until SIGTERM (the supervisor's) or Ctrl-C. Needs PREFECT_API_URL set."""
    from .prefect_env import configure_prefect

    if not os.environ.get("PREFECT_API_URL"):
        raise ServeError("The runner needs PREFECT_API_URL (the supervisor sets it). Start it with `casefile serve`.")
    configure_prefect(settings)
    from prefect import serve

    deployments = build_deployments(settings)
    serve(*deployments, print_starting_message=False)


def main() -> None:
    """The runner's entry point (``python -m casefile.flows.deployments``); logs go to stderr (the runner log)."""
    from ..tasks.core.processes import end_with
    from ..tasks.core.settings import load_settings

    # Started in its own session by the supervisor: this process leads the group its flow runs join. Prefect's
    # runner installs its own SIGTERM handler (the supervisor's stop); the watchdog covers a supervisor that died.
    end_with(int(os.environ.get(SUPERVISOR_PID_ENV) or os.getppid()), own_group=False, take_sigterm=False)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per API call otherwise
    serve_deployments(load_settings())


if __name__ == "__main__":
    main()
