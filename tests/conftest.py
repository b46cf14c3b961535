"""Shared fixtures. One section per concern; add new sections below the existing ones.

The fast lane, `pytest -m "not slow"`, runs without Tesseract, Prefect or the `casefile` command in a subprocess:
tests marked `prefect` or `tesseract`, or using the Prefect server fixture, count as slow, and in the fast lane an
import of Prefect or a start of `tesseract`, `prefect` or `casefile` fails the test that tries it (so the markers
stay true).
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from s3server import make_s3_client, running_moto_server

from casefile.tasks.cases.sample import DEMO_A_NUMBER, DEMO_CLIENT
from casefile.tasks.core.settings import DEMO_DATA as DEMO_DATA  # re-exported for the tests
from casefile.tasks.core.storage import LocalObjectStore, ObjectStore, S3ObjectStore

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from pgserver import PostgresCluster
    from smtpserver import LoopbackSmtp

    from casefile.tasks.core.runtime import Runtime


# Lanes -----------------------------------------------------------------------------------------------------
SLOW_MARKERS = ("prefect", "tesseract")
SLOW_FIXTURES = ("prefect_api",)
FAST_LANE_FORBIDDEN = ("tesseract", "prefect", "casefile")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        uses = set(getattr(item, "fixturenames", ()))
        if any(item.get_closest_marker(m) for m in SLOW_MARKERS) or uses & set(SLOW_FIXTURES):
            item.add_marker(pytest.mark.slow)


class _FastLaneImports:
    """A meta-path finder that refuses Prefect in the fast lane."""

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        if name == "prefect" or name.startswith("prefect."):
            raise ImportError(f"the fast lane runs without Prefect ({name}): mark this test @pytest.mark.slow")


def _guard_fast_lane() -> None:
    import os
    import sys

    sys.meta_path.insert(0, _FastLaneImports())
    original: Any = subprocess.Popen.__init__

    def popen(self: Any, args: Any, *rest: Any, **kwargs: Any) -> None:
        first = args[0] if isinstance(args, list | tuple) and args else args
        program = os.path.basename(str(first).split()[0]) if first else ""
        if program in FAST_LANE_FORBIDDEN:
            raise RuntimeError(f"the fast lane runs without {program}: mark this test @pytest.mark.slow")
        original(self, args, *rest, **kwargs)

    subprocess.Popen.__init__ = popen  # type: ignore[method-assign]


def pytest_configure(config: pytest.Config) -> None:
    if "not slow" in (config.option.markexpr or ""):
        _guard_fast_lane()


@pytest.fixture(autouse=True)
def _own_temporary_folder() -> Iterator[None]:
    """A command run in this process makes a temporary folder in its home its process's (core.workdirs): give the
    next test, and the commands it starts, the temporary folder the session had."""
    import os
    import tempfile

    saved_env, saved_dir = os.environ.get("TMPDIR"), tempfile.tempdir
    yield
    from casefile.tasks.core import workdirs

    workdirs.release_process_tempdir()
    tempfile.tempdir = saved_dir
    if saved_env is None:
        os.environ.pop("TMPDIR", None)
    else:
        os.environ["TMPDIR"] = saved_env


# Object stores -------------------------------------------------------------------------------------
# S3 tests talk over real HTTP to moto's standalone server, one process per test session on loopback.
# Each test gets its own bucket, so tests never see each other's objects.


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    with running_moto_server() as endpoint:
        yield endpoint


@pytest.fixture(scope="session")
def s3_client(moto_endpoint: str) -> S3Client:
    return make_s3_client(moto_endpoint)


@pytest.fixture
def s3_bucket(s3_client: S3Client) -> str:
    name = f"casefile-test-{uuid.uuid4().hex[:16]}"
    s3_client.create_bucket(Bucket=name)
    return name


@pytest.fixture
def s3_store(s3_client: S3Client, s3_bucket: str) -> S3ObjectStore:
    return S3ObjectStore(s3_client, s3_bucket)


@pytest.fixture
def local_store(tmp_path: Path) -> LocalObjectStore:
    return LocalObjectStore(tmp_path / "objects")


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.s3)])
def store(request: pytest.FixtureRequest) -> ObjectStore:
    """Each backend in turn; the S3 one starts moto only when selected (``-m "not s3"`` skips it)."""
    backend: ObjectStore = request.getfixturevalue(f"{request.param}_store")
    return backend


# Casefile home and Prefect ------------------------------------------------------------------------
# Flows run for real against one Prefect server on loopback for the whole session (started here, with
# its own PREFECT_HOME), so CLI subprocesses skip Prefect's ~5 s temporary server. Prefect is imported
# only by tests that need it, after this fixture has set its environment.

RESOURCES = Path(__file__).parent / "resources"  # broken and odd files; the demo's samples are DEMO_DATA
CLIENT_NAME = DEMO_CLIENT  # the fictional client of the sample data
A_NUMBER = DEMO_A_NUMBER


@pytest.fixture(scope="session")
def prefect_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    import os

    from casefile.flows.prefect_server import LocalPrefectServer

    prefect_home = tmp_path_factory.mktemp("prefect-home")
    os.environ.update(
        PREFECT_HOME=str(prefect_home),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW="ignore",
        PREFECT_RESULTS_PERSIST_BY_DEFAULT="false",
    )
    server = LocalPrefectServer(prefect_home)
    api_url = server.start()
    os.environ["PREFECT_API_URL"] = api_url
    try:
        yield api_url
    finally:
        import sys

        if "prefect" in sys.modules:  # send buffered run logs before the server goes away
            from prefect.logging.handlers import APILogHandler

            APILogHandler().flush()
        server.stop()


# CASEFILE_TEST_DATABASE=postgresql runs every test that uses a home on a PostgreSQL catalog and search index.
ALL_ON_POSTGRES = "CASEFILE_TEST_DATABASE"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Iterator[Path]:
    """A fresh CASEFILE_HOME (catalog, objects, work folder) for one test."""
    import os

    from casefile.tasks.core.runtime import reset_runtimes

    path = tmp_path / "casefile-home"
    monkeypatch.setenv("CASEFILE_HOME", str(path))
    for name in ("CASEFILE_STORAGE_BACKEND", "CASEFILE_DATABASE_URL", "CASEFILE_CONFIG", "CASEFILE_SEARCH_BACKEND"):
        monkeypatch.delenv(name, raising=False)
    if os.environ.get(ALL_ON_POSTGRES) == "postgresql":
        monkeypatch.setenv("CASEFILE_DATABASE_URL", request.getfixturevalue("pg_url"))
    reset_runtimes()
    yield path
    reset_runtimes()


@pytest.fixture
def runtime(home: Path) -> Runtime:
    from casefile.tasks.core.runtime import get_runtime

    return get_runtime()


@pytest.fixture
def case_id(runtime: Runtime) -> str:
    from casefile.tasks.cases.case import create_case
    from casefile.tasks.demo.scenario import fictional_case

    new = fictional_case()
    with runtime.catalog.session() as session:
        return create_case(session, new).id


def run_cli(
    *args: str, home: Path, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """The real console script in a subprocess, as a user runs it."""
    import os
    import sys

    full_env = dict(os.environ)
    full_env["CASEFILE_HOME"] = str(home)
    full_env.update(env or {})
    exe = Path(sys.executable).with_name("casefile")
    return subprocess.run(
        [str(exe), *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
        check=False,
        cwd=home.parent,
    )


def new_case_cli(home: Path, *extra: str, client: str = CLIENT_NAME, a_number: str = A_NUMBER) -> str:
    """`casefile case new --json` for a fictional client; returns the new case id."""
    import json

    proc = run_cli(
        "case",
        "new",
        "--client",
        client,
        "--a-number",
        a_number,
        "--court",
        "New York, NY (Broadway)",
        "--hearing",
        "2027-03-04",
        "--hearing-type",
        "individual",
        *extra,
        "--json",
        home=home,
    )
    assert proc.returncode == 0, proc.stderr
    case_id: str = json.loads(proc.stdout)["id"]
    return case_id


# The practice -----------------------------------------------------------------------------------------------------
# A fictional practice that looks like a real one (no sample values): what a build accepts. The packaged sample
# (config/practice.toml) is fictional on purpose and refused by real builds.
def practice_init_cli(home: Path, *, dhs_office: bool = True) -> None:
    """`casefile practice init --no-input` with the fictional Harbor practice (and its DHS office for the cases'
    court)."""
    flags = (*PRACTICE_FLAGS, *(HARBOR_DHS if dhs_office else ()))
    proc = run_cli("practice", "init", "--no-input", *flags, home=home)
    assert proc.returncode == 0, proc.stderr


# SMTP -------------------------------------------------------------------------------------------------
# A real SMTP server (aiosmtpd) on loopback per test; CASEFILE_SMTP_* point casefile at it.


@pytest.fixture
def smtp_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LoopbackSmtp]:
    from smtpserver import LoopbackSmtp

    server = LoopbackSmtp(folder=tmp_path / "smtp-received")
    with server:
        for key, value in server.env().items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("CASEFILE_MAIL_FROM", "records@example.org")
        monkeypatch.delenv("CASEFILE_SMTP_USERNAME", raising=False)
        monkeypatch.delenv("CASEFILE_SMTP_PASSWORD", raising=False)
        yield server


# PostgreSQL -------------------------------------------------------------------------------------------------
# One throwaway cluster per test session (tests/pgserver.py: Debian's server binaries, a temporary folder, loopback
# only, run as an unprivileged user when the tests run as root); each test that asks gets a new empty database.


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster]:
    from pgserver import running_postgres

    with running_postgres() as cluster:
        yield cluster


@pytest.fixture
def pg_url(postgres: PostgresCluster) -> Iterator[str]:
    """A new, empty PostgreSQL database (SQLAlchemy URL) for one test, dropped afterwards."""
    from casefile.tasks.core.runtime import reset_runtimes

    url = postgres.new_database()
    yield url
    reset_runtimes()  # close the test's connections before the database goes
    postgres.drop_database(url)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def catalog_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each catalog backend in turn: a SQLite file, then a PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'catalog.db'}"
    url: str = request.getfixturevalue("pg_url")
    return url


@pytest.fixture
def pg_home(home: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh home whose catalog (and search index) is a PostgreSQL database; objects stay in a local folder."""
    from casefile.tasks.core.runtime import reset_runtimes

    monkeypatch.setenv("CASEFILE_DATABASE_URL", pg_url)
    reset_runtimes()
    return home


# Hostile files and small disks -------------------------------------------------------------------------------
# tests/resources is not a package: its generators are loaded by path. A tmpfs of a chosen size (or read-only) stands
# in for a full or read-only work disk; mounting needs root, so those tests skip elsewhere (fault injection by
# replacing a wrapper covers the same code without root).


def load_resource(name: str) -> Any:
    """tests/resources/<name>.py as a module (generate, corpus)."""
    import importlib.util
    import sys

    module_name = f"casefile_test_resources_{name}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, RESOURCES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


_HARBOR = load_resource("practice")  # a fictional practice that looks real: tests/resources/practice.py
PRACTICE_FLAGS: tuple[str, ...] = _HARBOR.PRACTICE_FLAGS
HARBOR_DHS: tuple[str, ...] = _HARBOR.HARBOR_DHS


def _can_mount() -> bool:
    import os
    import shutil

    return hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("mount") is not None


class SmallDisk:
    """A tmpfs mounted at a folder (a real file system that fills up, or refuses writes when read-only)."""

    def __init__(self) -> None:
        self.path = Path()
        self.mounted = False

    def mount(self, at: Path, size: str = "1m", *, read_only: bool = False) -> Path:
        self.path = at
        self.path.mkdir(parents=True, exist_ok=True)
        options = f"size={size},mode=0755" + (",ro" if read_only else "")
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", options, "casefile-test", str(self.path)],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
        self.mounted = True
        return self.path

    def remount(self, size: str = "64m", *, read_only: bool = False) -> None:
        options = f"remount,size={size}" + (",ro" if read_only else ",rw")
        subprocess.run(["mount", "-o", options, str(self.path)], check=True, timeout=30, capture_output=True)

    def unmount(self) -> None:
        if self.mounted:
            subprocess.run(["umount", "-l", str(self.path)], check=False, timeout=30, capture_output=True)
            self.mounted = False


@pytest.fixture
def small_disk() -> Iterator[SmallDisk]:
    if not _can_mount():
        pytest.skip("mounting a small file system needs root")
    disk = SmallDisk()
    try:
        yield disk
    finally:
        disk.unmount()
