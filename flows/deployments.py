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
