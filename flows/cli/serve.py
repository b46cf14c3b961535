"""`casefile serve`: the long-running process for scheduled work (the overdue check, inbox polling) and the Prefect UI.

Registered on the main group in flows/cli/main.py. This module imports neither Prefect nor the catalog at import
time: `casefile --help` stays fast. It runs the supervisor (flows/supervisor.py), which never imports Prefect; the
deployments it serves are flows/deployments.py's.
"""

from __future__ import annotations

import sys

import click

from .output import home_settings


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
def serve(host: str | None, port: int | None, ui_url: str | None, grace: float | None) -> None:
    """Serve the Prefect UI and the scheduled flows until Ctrl-C, SIGTERM or the terminal closes.

    Starts a Prefect server with its UI (open the URL it prints: advocates build packets there with the
    `build-packet/on-demand` deployment) and a runner for the deployments. The overdue check (follow-ups,
    escalations, one digest per advocate) runs on `chase_cron` in `chase_timezone` (default weekday mornings at
    8:00, America/New_York); the inbox is polled every `inbox_poll_seconds`. While it runs, other casefile commands
    on this machine run their flows on this server, and the links they print open in its UI. One serve per home.
    On a stop, flow runs in flight get the grace period, then the runner and the server stop; exit 0.
    """
    from ..supervisor import serve_forever

    settings = home_settings()
    code = serve_forever(
        settings,
        host=host,
        port=port,
        ui_url=ui_url,
        grace=grace,
        echo=lambda msg: click.echo(msg, err=True),
    )
    sys.exit(code)
