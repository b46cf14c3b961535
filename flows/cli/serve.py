"""`casefile serve`: the long-running process for scheduled work (the overdue check, inbox polling).

Registered on the main group in flows/cli/main.py. This module imports neither Prefect nor the catalog at import
time: `casefile --help` stays fast. It runs the supervisor (flows/supervisor.py), which never imports Prefect; the
deployments it serves are flows/deployments.py's.
"""

from __future__ import annotations

import sys

import click


@click.command("serve")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=0,
    show_default=True,
    help="Port of the Prefect server on 127.0.0.1 (0: a free port; written to $CASEFILE_HOME/prefect/server-url).",
)
def serve(port: int) -> None:
    """Start a Prefect server on loopback and serve the scheduled flows until Ctrl-C or SIGTERM.

    The overdue check (follow-ups, escalations, one digest per advocate) runs on `chase_cron` in `chase_timezone`
    (default weekday mornings at 8:00, America/New_York); the inbox is polled every `inbox_poll_seconds`. While it
    runs, other casefile commands on this machine run their flows on this server (API only, no UI).
    Stops the runner, then the server, and exits 0.
    """
    from ...tasks.core.settings import load_settings
    from ..supervisor import serve_forever

    settings = load_settings()
    code = serve_forever(settings, port=port or None, echo=lambda msg: click.echo(msg, err=True))
    sys.exit(code)
