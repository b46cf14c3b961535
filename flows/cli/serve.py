"""`casefile serve`: the long-running process for scheduled work (the overdue check, inbox polling) and the Prefect UI.

Registered on the main group in flows/cli/main.py. This module imports neither Prefect nor the catalog at import
time: `casefile --help` stays fast. It runs the supervisor (flows/supervisor.py), which never imports Prefect; the
deployments it serves are flows/deployments.py's.
"""

from __future__ import annotations

import os
import sys

import click

from .output import emit, home_settings


@click.command("serve")
@click.option(
    "--host",
    default=None,
    help="Address the Prefect server and UI listen on (default: the setting serve_host, 127.0.0.1). Anything but "
    "loopback exposes a UI without login: only behind a firewall or a reverse proxy that asks for one.",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=None,
    help="Port of the Prefect server and UI (default: the setting serve_port, 4200; 0: any free port).",
)
@click.option(
    "--ui-url",
    default=None,
    help="The address people open the UI at, when it is not http://HOST:PORT (an SSH tunnel to another local port, "
    "a reverse proxy): flow-run links point there. Default: the setting serve_ui_url.",
)
@click.option(
    "--grace",
    type=click.FloatRange(0),
    default=None,
    help="Seconds a flow run in flight gets to finish when serve is stopped (default: the setting "
    "serve_stop_grace_seconds, 60).",
)
@click.option(
    "--pool",
    default=None,
    metavar="NAME",
    help="A practice's deployment: register the flows with the Prefect server at PREFECT_API_URL for its process work "
    "pool NAME (created if missing), then exit; the server schedules them and `prefect worker start --pool NAME` "
    "on each machine runs them (long scans are OCR'd in page ranges across the workers). Default: the setting "
    "work_pool when PREFECT_API_URL is set, else serve on this machine.",
)
@click.option("--json", "as_json", is_flag=True, help="With --pool: print one JSON document on stdout.")
def serve(
    host: str | None, port: int | None, ui_url: str | None, grace: float | None, pool: str | None, as_json: bool
) -> None:
    """Serve the Prefect UI and the scheduled flows until Ctrl-C, SIGTERM or the terminal closes.

    With --pool (a practice's deployment: a Prefect server of its own and workers on several machines), registers the
    flows with that server's work pool instead, and exits.

    Starts a Prefect server with its UI (open the URL it prints: advocates build packets there with the
    `build-packet/on-demand` deployment) and a runner for the deployments. The overdue check (follow-ups,
    escalations, one digest per advocate) runs on `chase_cron` in `chase_timezone` (default weekday mornings at
    8:00, America/New_York); the inbox is polled every `inbox_poll_seconds`. While it runs, other casefile commands
    on this machine run their flows on this server, and the links they print open in its UI. One serve per home.
    On a stop, flow runs in flight get the grace period, then the runner and the server stop; exit 0.
    """
    settings = home_settings()
    pool = pool or (settings.work_pool if (settings.prefect_api_url or os.environ.get("PREFECT_API_URL")) else None)
    if pool:
        from ..deployments import deploy_to_pool

        names = deploy_to_pool(settings, pool)
        emit(
            as_json,
            {"work_pool": pool, "deployments": names},
            lambda: click.echo(
                f"Deployed {len(names)} flows to the work pool {pool!r}: {', '.join(names)}. Start "
                f"`prefect worker start --pool {pool}` on each machine that should run them.",
            ),
        )
        return
    from ..supervisor import serve_forever

    code = serve_forever(
        settings,
        host=host,
        port=port,
        ui_url=ui_url,
        grace=grace,
        echo=lambda msg: click.echo(msg, err=True),
    )
    sys.exit(code)
