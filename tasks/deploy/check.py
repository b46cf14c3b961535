"""`casefile deploy check`: what the settings point at, and whether each part of the deployment answers.

One ``Part`` per line: the catalog database (reachable, at this version's schema), the search index, the object
store (a probe object written, read back and removed), the Prefect server (its health endpoint), the work pool (how
many workers are online) and the SMTP server (connect, STARTTLS and log in, as a send would; nothing is sent). Every
check has a timeout and says what to do when it fails; none prints a password or a client's data.
"""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..core.settings import Settings

TIMEOUT = 10.0  # seconds for each network check
PROBE_PREFIX = "health"


@dataclass(frozen=True)
class Part:
    name: str  # database | search | object-store | prefect | work-pool | smtp
    ok: bool
    where: str  # what the settings point at (no credentials)
    detail: str  # what was found, or what to do

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparseable URL: say nothing of it but its scheme
        return url.split("://", 1)[0] + "://…"


def check_database(settings: Settings) -> Part:
    from sqlalchemy import text

    from ..core.catalog import HEAD_REVISION, make_engine

    where = _safe_url(settings.catalog_url)
    if settings.catalog_url.startswith("sqlite:///"):
        path = Path(settings.catalog_url.removeprefix("sqlite:///"))
        if not path.is_file():  # never create a home by checking one
            return Part("database", False, where, "no catalog there: check CASEFILE_HOME (or database_url).")
    engine = make_engine(settings.catalog_url)
    try:
        with engine.connect() as conn:
            if engine.dialect.name == "postgresql":
                conn.execute(text(f"SET statement_timeout = {int(TIMEOUT * 1000)}"))
            try:
                revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one_or_none()
            except Exception:
                revision = None
    except Exception as exc:
        return Part(
            "database",
            False,
            where,
            f"not reachable ({type(exc).__name__}): check the URL, the server, "
            "the firewall and the password (PGPASSFILE or the URL).",
        )
    finally:
        engine.dispose()
    if revision != HEAD_REVISION:
        return Part(
            "database",
            False,
            where,
            f"reachable, but its schema is {revision or 'empty'}, not "
            f"{HEAD_REVISION}: run any casefile command once (it migrates), e.g. `casefile case list`.",
        )
    return Part("database", True, where, f"reachable, schema {HEAD_REVISION}")


def check_search(settings: Settings) -> Part:
    from ..search.index import open_index

    if not settings.search_on_postgres and not settings.search_index_path.is_file():
        return Part(
            "search", True, str(settings.search_index_path), "SQLite FTS5, not created yet (the first add does)"
        )
    try:
        index = open_index(settings)
    except Exception as exc:
        return Part("search", False, "?", f"not usable ({type(exc).__name__}): check search_backend and search_url.")
    where = index.describe()
    if settings.search_on_postgres:
        where = _safe_url(settings.search_database_url)
    try:
        pages = index.count_pages()
    except Exception as exc:
        return Part("search", False, where, f"not usable ({type(exc).__name__}): `casefile reindex` rebuilds it.")
    finally:
        index.close()
    backend = "PostgreSQL full-text" if settings.search_on_postgres else "SQLite FTS5"
    return Part("search", True, where, f"{backend}, {pages} pages indexed")


def check_store(settings: Settings) -> Part:
    from ..core.settings import StorageBackend
    from ..core.storage import open_store

    if settings.storage_backend is StorageBackend.LOCAL and not settings.objects_path.is_dir():
        return Part(
            "object-store",
            False,
            f"local folder {settings.objects_path}",
            "no such folder: check CASEFILE_HOME (or storage_path).",
        )
    try:
        store = open_store(settings)
    except Exception as exc:
        return Part("object-store", False, settings.storage_backend.value, f"cannot be opened ({type(exc).__name__})")
    where = store.describe()
    key = f"{PROBE_PREFIX}/probe-{socket.gethostname()}-{uuid.uuid4().hex[:8]}"
    data = f"casefile deploy check {time.time()}".encode()
    try:
        store.put_bytes(key, data)
        if store.get_bytes(key) != data:
            return Part("object-store", False, where, "a probe object read back different bytes: check the store.")
        store.delete(key)
    except Exception as exc:
        return Part(
            "object-store",
            False,
            where,
            f"not writable ({type(exc).__name__}): check the bucket, the "
            "credentials (environment, ~/.aws or instance role) and the bucket policy.",
        )
    return Part("object-store", True, where, "writable (a probe object written, read back and removed)")


def _get_json(url: str, body: dict[str, Any] | None = None) -> Any:
    request = urllib.request.Request(  # noqa: S310 - the configured Prefect server
        url,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Content-Type": "application/json"},
        method="POST" if body is not None else "GET",
    )
    with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310
        payload = response.read()
    return json.loads(payload) if payload else None


def check_prefect(settings: Settings, api: str | None) -> Part:
    if not api:
        if settings.work_pool:
            return Part(
                "prefect",
                False,
                "not set",
                "a work pool is set but no Prefect server: set "
                "PREFECT_API_URL (or prefect_api_url) to http://SERVER:4200/api.",
            )
        return Part(
            "prefect",
            True,
            "embedded",
            "no server set: each command starts a temporary one (the "
            "embedded default; `casefile serve` runs one on this machine)",
        )
    try:
        _get_json(api.rstrip("/") + "/health")
        version = _get_json(api.rstrip("/") + "/admin/version")
    except (OSError, ValueError) as exc:
        return Part(
            "prefect",
            False,
            api,
            f"not reachable ({type(exc).__name__}): is `prefect server start` running there, and the port open?",
        )
    return Part("prefect", True, api, f"healthy, Prefect {version}")


def check_work_pool(settings: Settings, api: str | None, min_workers: int) -> Part | None:
    pool = settings.work_pool
    if not pool:
        return None
    if not api:
        return Part("work-pool", False, pool, "no Prefect server to ask (see the prefect line).")
    base = api.rstrip("/")
    try:
        info = _get_json(f"{base}/work_pools/{pool}")
        workers = _get_json(f"{base}/work_pools/{pool}/workers/filter", {})
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return Part(
                "work-pool",
                False,
                pool,
                "does not exist: `casefile serve --pool NAME` creates it and deploys the flows to it.",
            )
        return Part("work-pool", False, pool, f"the server answered {exc.code}.")
    except (OSError, ValueError) as exc:
        return Part("work-pool", False, pool, f"not reachable ({type(exc).__name__}).")
    online = sorted(w["name"] for w in workers if w.get("status") == "ONLINE")
    kind = info.get("type", "?")
    if len(online) < min_workers:
        return Part(
            "work-pool",
            False,
            pool,
            f"{kind} pool, {len(online)} worker(s) online, {min_workers} wanted: "
            f"start `prefect worker start --pool {pool}` on each machine that does the work.",
        )
    paused = " (PAUSED: `prefect work-pool resume " + pool + "`)" if info.get("is_paused") else ""
    return Part("work-pool", not paused, pool, f"{kind} pool, {len(online)} worker(s) online{paused}")


def check_smtp(settings: Settings) -> Part:
    from ..requests.mail import probe

    where = f"{settings.smtp_host}:{settings.smtp_port} ({settings.smtp_security.value})"
    try:
        probe(settings.model_copy(update={"smtp_timeout": min(settings.smtp_timeout, TIMEOUT)}))
    except Exception as exc:
        return Part(
            "smtp",
            False,
            where,
            f"not reachable or refused ({type(exc).__name__}): check smtp_host, "
            "smtp_port, smtp_security and the credentials.",
        )
    login = " and logged in" if settings.smtp_username else ""
    return Part("smtp", True, where, f"answered{login} (nothing sent)")


def check_deployment(settings: Settings, *, prefect_api: str | None, min_workers: int = 1) -> list[Part]:
    """Every part, in the order a request travels; each check runs whatever the others found. ``prefect_api``: the
    Prefect server commands use (flows/prefect_env.py decides), None for the embedded default."""
    checks: list[Callable[[], Part | None]] = [
        lambda: check_database(settings),
        lambda: check_search(settings),
        lambda: check_store(settings),
        lambda: check_prefect(settings, prefect_api),
        lambda: check_work_pool(settings, prefect_api, min_workers),
        lambda: check_smtp(settings),
    ]
    return [part for check in checks if (part := check()) is not None]
