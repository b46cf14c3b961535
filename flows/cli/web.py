"""`casefile web`: the staff page (flows/web) served by uvicorn on this machine's catalog and object store.

Access logging is the page's own (route templates and status codes, never a path with a query string or a form value);
uvicorn's access log is off. Serve it on loopback behind a TLS-terminating proxy, or with --ssl-certfile/--ssl-keyfile;
session cookies are Secure whenever the request came over TLS.
"""

from __future__ import annotations

import ipaddress
import sys
from pathlib import Path

import click


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@click.command("web")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(1, 65535), default=8080, show_default=True, help="Port to listen on.")
@click.option("--ssl-certfile", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None)
@click.option("--ssl-keyfile", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None)
def web(host: str, port: int, ssl_certfile: Path | None, ssl_keyfile: Path | None) -> None:
    """Serve the staff page: find a case, see what is ready and at risk, download packets (until Ctrl-C).

    Users sign in with accounts made by `casefile user add NAME --role staff|advocate|admin`.
    """
    import logging

    import uvicorn

    from ...tasks.staff.users import count_admins
    from ..web.app import create_app
    from .output import runtime

    rt = runtime()
    tls = ssl_certfile is not None and ssl_keyfile is not None
    if not _loopback(host) and not tls:
        click.echo(
            f"warning: serving plain HTTP on {host}: passwords and client files cross the network unencrypted. "
            "Put a TLS proxy in front (and keep --host 127.0.0.1), or pass --ssl-certfile and --ssl-keyfile.",
            err=True,
        )
    if count_admins(rt) == 0:
        click.echo("No admin yet: make one with `casefile user add NAME --role admin`.", err=True)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = create_app(runtime=rt)
    scheme = "https" if tls else "http"
    click.echo(f"Staff page at {scheme}://{host}:{port}/ (Ctrl-C to stop)", err=True)
    uvicorn.run(
        app,
        host=host,
        port=port,
        access_log=False,
        log_config=None,
        proxy_headers=True,
        server_header=False,
        ssl_certfile=str(ssl_certfile) if ssl_certfile else None,
        ssl_keyfile=str(ssl_keyfile) if ssl_keyfile else None,
        timeout_graceful_shutdown=10,
    )
    sys.exit(0)
