"""Moving an embedded home (SQLite catalog, local object folder) to a practice's deployment (PostgreSQL, S3).

    report = migrate_home(settings, to="postgresql+psycopg://...", store="s3://bucket/prefix")

The old home is only read: its catalog is opened read-only and must already be at this version's schema (any
casefile command upgrades it first). In order:

1. **Objects**, one by one: the source file's SHA-256 is computed (an original, whose key is its SHA-256, must match
   its own name), the object is written to the target store, then read back from it and hashed again. Only then
   is it entered in the migration's ledger (table ``casefile_migration.objects`` in the target database).
2. **Rows**, table by table in foreign-key order, in batches; a row already in the target (same primary key) is
   left as it is, and each integer id's sequence is moved past the copied ids.
3. **Verification**: every table's row count in the target equals the source's, and every object of the source is
   in the ledger with its SHA-256 and in the target store with its size.
4. The search index (cases and the country-conditions library) is rebuilt in the target database from the copied
   page text, and the run is recorded as finished.

Interrupted anywhere (a crash, Ctrl-C, a lost connection), the same command resumes: verified objects are not
copied again, copied rows are skipped. A target database holding another home's data is refused. Nothing here logs
keys of client files' names or row contents: counts, bytes and table names only.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.errors import ConfigError, IntegrityError, MigrationError, ValidationError
from ..core.storage import CHUNK, LocalObjectStore, ObjectStore, open_store

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine, Table

    from ..core.settings import Settings

log = logging.getLogger(__name__)

LEDGER_SCHEMA = "casefile_migration"
ROW_BATCH = 1000


@dataclass
class MigrationReport:
    """What was copied and verified: counts, bytes and seconds (safe for logs)."""

    catalog: str  # the target database, without credentials
    store: str  # the target store, as ObjectStore.describe() says
    tables: dict[str, int] = field(default_factory=dict)  # rows per table, equal in source and target
    objects: int = 0  # objects in the source, all verified in the target
    object_bytes: int = 0
    objects_copied: int = 0  # by this run (the others were verified by an earlier, interrupted run)
    bytes_copied: int = 0
    rows_copied: int = 0  # by this run
    search_pages: int = 0
    library_pages: int = 0
    seconds: float = 0.0
    settings: dict[str, str] = field(default_factory=dict)  # what the practice's machines set to use the target

    @property
    def mb_per_second(self) -> float:
        return self.bytes_copied / 1e6 / self.seconds if self.seconds else 0.0


def _target_store_settings(settings: Settings, to: str, store: str) -> Settings:
    from ..core.settings import StorageBackend

    if not to.startswith(("postgresql://", "postgresql+psycopg://")):
        raise ValidationError("--to must be a PostgreSQL URL: postgresql://USER@HOST:PORT/DATABASE.")
    url = "postgresql+psycopg://" + to.split("://", 1)[1]
    update: dict[str, Any] = {"database_url": url, "search_url": ""}
    if store.startswith("s3://"):
        bucket, _, prefix = store.removeprefix("s3://").partition("/")
        if not bucket:
            raise ValidationError("--store must name a bucket: s3://BUCKET/PREFIX.")
        update.update(storage_backend=StorageBackend.S3, s3_bucket=bucket, s3_prefix=prefix.strip("/"))
    else:
        path = Path(store.removeprefix("file://")).expanduser().resolve()
        if path == settings.objects_path:
            raise ValidationError("--store is the old home's own object folder; name a new one.")
        update.update(storage_backend=StorageBackend.LOCAL, storage_path=path)
    return settings.model_copy(update=update)


def _source_engine(settings: Settings) -> Engine:
    from sqlalchemy import create_engine, text

    from ..core.catalog import HEAD_REVISION

    url = settings.catalog_url
    if not url.startswith("sqlite:///"):
        raise ConfigError("casefile migrate moves an embedded home (a SQLite catalog); this home's is a server.")
    path = Path(url.removeprefix("sqlite:///"))
    if not path.is_file():
        raise MigrationError(f"There is no catalog at {path}: nothing to migrate. Check CASEFILE_HOME.")
    engine = create_engine(f"sqlite:///file:{path}?mode=ro&uri=true", future=True)
    with engine.connect() as conn:
        revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one_or_none()
    if revision != HEAD_REVISION:
        engine.dispose()
        raise MigrationError(
            f"The home's catalog is at schema {revision}, this casefile at {HEAD_REVISION}. Run any casefile "
            "command on the home first (for example `casefile case list`): it upgrades the catalog; then migrate."
        )
    return engine


def _describe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    return f"postgresql://{parsed.host or 'localhost'}:{parsed.port or 5432}/{parsed.database}"


# The ledger ---------------------------------------------------------------------------------------------------
_LEDGER_SQL = (
    "CREATE SCHEMA IF NOT EXISTS casefile_migration",
    """CREATE TABLE IF NOT EXISTS casefile_migration.runs (
        source TEXT PRIMARY KEY, started_at TIMESTAMP NOT NULL DEFAULT now(), finished_at TIMESTAMP)""",
    """CREATE TABLE IF NOT EXISTS casefile_migration.objects (
        key TEXT PRIMARY KEY, sha256 TEXT NOT NULL, size BIGINT NOT NULL,
        verified_at TIMESTAMP NOT NULL DEFAULT now())""",
)


def _start_ledger(engine: Engine, source_id: str, tables: list[Table]) -> None:
    """The ledger, and the refusal of a target that holds somebody else's data."""
    from sqlalchemy import func, select, text

    with engine.begin() as conn:
        conn.execute(text("SELECT pg_advisory_xact_lock(1128680781)"))  # two migrations into one database: in turn
        for statement in _LEDGER_SQL:
            conn.execute(text(statement))
        runs = [r[0] for r in conn.execute(text("SELECT source FROM casefile_migration.runs"))]
        if source_id in runs:
            return
        occupied = [t.name for t in tables if conn.execute(select(func.count()).select_from(t)).scalar_one()]
        if runs or occupied:
            raise MigrationError(
                "The target database already holds a catalog"
                + (f" (tables {', '.join(occupied[:3])} have rows)" if occupied else " migrated from another home")
                + ". Migrate into a new, empty database; nothing was copied."
            )
        conn.execute(text("INSERT INTO casefile_migration.runs (source) VALUES (:s)"), {"s": source_id})


def _verified(engine: Engine) -> dict[str, tuple[str, int]]:
    from sqlalchemy import text

    with engine.connect() as conn:
        return {
            k: (s, int(n)) for k, s, n in conn.execute(text("SELECT key, sha256, size FROM casefile_migration.objects"))
        }


# Objects ------------------------------------------------------------------------------------------------------
def _sha256_of(stream_open: Callable[[], Any]) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with stream_open() as fh:
        for block in iter(lambda: fh.read(CHUNK), b""):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


def _named_sha(key: str) -> str | None:
    """The SHA-256 a content-addressed key names (originals/ab/<sha>, derived/ab/<sha>.pdf), else None."""
    parts = key.split("/")
    if len(parts) == 3 and parts[0] in ("originals", "derived"):
        name = parts[2].split(".", 1)[0]
        if len(name) == 64 and all(c in "0123456789abcdef" for c in name):
            return name
    return None


COPY_THREADS = 4  # objects copied at once: an upload and a read-back each wait on the network most of the time


def _copy_one(
    source: LocalObjectStore, target: ObjectStore, key: str, done: tuple[str, int] | None
) -> tuple[str, int, bool]:
    """Hash the source object, and unless ``done`` (the ledger's sha and size, still in the target) matches, upload it
    and read it back: (sha256, size, copied now)."""
    path = source.root / key
    sha, size = _sha256_of(lambda: path.open("rb"))
    named = _named_sha(key)
    if named is not None and named != sha:
        raise IntegrityError(
            f"The object {key} in the old home does not match its own SHA-256: the file was changed or damaged "
            "on disk. Restore it from backup, then run the command again."
        )
    if done == (sha, size):
        return sha, size, False
    target.put_file(key, path)
    if _sha256_of(lambda: target.open(key)) != (sha, size):
        raise IntegrityError(
            f"The copy of {key} in the target store does not match the original's SHA-256; it will be copied "
            "again on the next run. Check the object store, then run the command again."
        )
    return sha, size, True


def _copy_objects(
    source: LocalObjectStore,
    target: ObjectStore,
    engine: Engine,
    report: MigrationReport,
    progress: Callable[[str], None],
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from sqlalchemy import text

    verified = _verified(engine)
    present = set(target.list())
    keys = list(source.list())
    record = text(
        "INSERT INTO casefile_migration.objects (key, sha256, size) VALUES (:k, :s, :n)"
        " ON CONFLICT (key) DO UPDATE SET sha256 = :s, size = :n, verified_at = now()"
    )
    with ThreadPoolExecutor(COPY_THREADS) as pool:
        futures = [
            pool.submit(_copy_one, source, target, key, verified.get(key) if key in present else None) for key in keys
        ]
        try:
            for n, (key, future) in enumerate(zip(keys, futures, strict=True), start=1):
                sha, size, copied = future.result()
                report.objects += 1
                report.object_bytes += size
                if copied:  # in the ledger only once read back and verified
                    with engine.begin() as conn:
                        conn.execute(record, {"k": key, "s": sha, "n": size})
                    report.objects_copied += 1
                    report.bytes_copied += size
                if n % 100 == 0:
                    progress(f"objects: {n} of {len(keys)} verified")
        except BaseException:
            for future in futures:
                future.cancel()
            raise


# Rows ---------------------------------------------------------------------------------------------------------
def _rows(conn: Connection, table: Table) -> Iterator[list[dict[str, Any]]]:
    from sqlalchemy import select

    result = conn.execute(select(table).order_by(*table.primary_key.columns)).mappings()
    while batch := result.fetchmany(ROW_BATCH):
        yield [dict(row) for row in batch]


def _copy_rows(source: Engine, target: Engine, tables: list[Table], report: MigrationReport) -> None:
    from sqlalchemy import Integer, func, select, text
    from sqlalchemy.dialects.postgresql import insert

    with source.connect() as src:
        for table in tables:
            copied = 0
            for batch in _rows(src, table):
                with target.begin() as conn:
                    result = conn.execute(insert(table).on_conflict_do_nothing(), batch)
                    copied += max(result.rowcount, 0)
            report.rows_copied += copied
            pk = list(table.primary_key.columns)
            if len(pk) == 1 and isinstance(pk[0].type, Integer) and pk[0].autoincrement in (True, "auto"):
                with target.begin() as conn:
                    top = conn.execute(select(func.max(pk[0]))).scalar_one()
                    if top is not None:
                        conn.execute(
                            text("SELECT setval(pg_get_serial_sequence(:t, :c), :v)"),
                            {"t": table.name, "c": pk[0].name, "v": int(top)},
                        )
            log.info("migrate: table %s, %d rows copied", table.name, copied)


def _verify_counts(source: Engine, target: Engine, tables: list[Table], report: MigrationReport) -> None:
    from sqlalchemy import func, select

    with source.connect() as src, target.connect() as dst:
        for table in tables:
            want = src.execute(select(func.count()).select_from(table)).scalar_one()
            got = dst.execute(select(func.count()).select_from(table)).scalar_one()
            if want != got:
                raise MigrationError(
                    f"Table {table.name}: {want} rows in the old home, {got} in the target. The target was changed "
                    "during the migration, or by something else; migrate into a new, empty database."
                )
            report.tables[table.name] = int(want)


def _verify_objects(source: LocalObjectStore, target: ObjectStore, engine: Engine) -> None:
    verified = _verified(engine)
    present = set(target.list())
    for key in source.list():
        if key not in verified or key not in present or target.size(key) != verified[key][1]:
            raise IntegrityError(
                f"The object {key} is not verified in the target store. Run the command again to copy it."
            )


# The whole move -----------------------------------------------------------------------------------------------
def migrate_home(
    settings: Settings, *, to: str, store: str, progress: Callable[[str], None] = lambda _m: None
) -> MigrationReport:
    """Copy the home of ``settings`` into the database ``to`` and the object store ``store`` (s3://bucket/prefix, or
    a folder), verify everything, rebuild the search index there; see the module docstring."""
    from sqlalchemy import select

    from ..core.catalog import Base, Catalog, ConditionSource
    from ..core.runtime import get_runtime

    started = time.perf_counter()
    target_settings = _target_store_settings(settings, to, store)
    source_engine = _source_engine(settings)
    source_store = LocalObjectStore(settings.objects_path)
    target_catalog = Catalog(target_settings.catalog_url)  # created and brought to the schema's head
    target_store = open_store(target_settings)
    report = MigrationReport(_describe_url(target_settings.catalog_url), target_store.describe())
    tables = [t for t in Base.metadata.sorted_tables]
    try:
        _start_ledger(target_catalog.engine, str(settings.home), tables)
        progress(f"Copying and verifying objects into {report.store} ...")
        _copy_objects(source_store, target_store, target_catalog.engine, report, progress)
        progress(f"Copying the catalog into {report.catalog} ...")
        _copy_rows(source_engine, target_catalog.engine, tables, report)
        _verify_counts(source_engine, target_catalog.engine, tables, report)
        _verify_objects(source_store, target_store, target_catalog.engine)
        progress("Rebuilding the search index in the target database ...")
        rt = get_runtime(target_settings)
        from ..search.indexing import reindex

        report.search_pages = reindex(rt)
        with rt.catalog.session() as session:
            has_library = session.scalars(select(ConditionSource.id).limit(1)).first() is not None
        if has_library:
            from ..conditions.index import reindex_library

            report.library_pages = reindex_library(rt)
        _finish_ledger(target_catalog.engine, str(settings.home))
    finally:
        source_engine.dispose()
        target_catalog.dispose()
    report.seconds = time.perf_counter() - started
    report.settings = _deployment_settings(target_settings, to)
    log.info(
        "migrate: %d objects (%d copied, %d bytes), %d rows copied, verified in %.1f s",
        report.objects,
        report.objects_copied,
        report.bytes_copied,
        report.rows_copied,
        report.seconds,
    )
    return report


def _finish_ledger(engine: Engine, source_id: str) -> None:
    from sqlalchemy import text

    with engine.begin() as conn:
        conn.execute(text("UPDATE casefile_migration.runs SET finished_at = now() WHERE source = :s"), {"s": source_id})


def _deployment_settings(target: Settings, to: str) -> dict[str, str]:
    """The settings the practice's machines use from now on (the database URL as the user typed it)."""
    from ..core.settings import StorageBackend

    out = {"CASEFILE_DATABASE_URL": "postgresql+psycopg://" + to.split("://", 1)[1]}
    if target.storage_backend is StorageBackend.S3:
        out.update(
            CASEFILE_STORAGE_BACKEND="s3", CASEFILE_S3_BUCKET=target.s3_bucket, CASEFILE_S3_PREFIX=target.s3_prefix
        )
    else:
        out.update(CASEFILE_STORAGE_BACKEND="local", CASEFILE_STORAGE_PATH=str(target.objects_path))
    return out
