"""The product installs and runs anywhere: one namespace (casefile.*), its data shipped as package data."""

from __future__ import annotations

import fnmatch
import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from casefile.tasks.core.settings import PACKAGE_ROOT

REPO = PACKAGE_ROOT
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
SETUPTOOLS = PYPROJECT["tool"]["setuptools"]


def _code_packages() -> set[str]:
    found = set()
    for top in ("tasks", "flows"):
        for init in (REPO / top).rglob("__init__.py"):
            found.add("casefile." + ".".join(init.parent.relative_to(REPO).parts))
    return found


def test_every_code_folder_is_listed_as_a_package() -> None:
    listed = set(SETUPTOOLS["packages"])
    assert _code_packages() - listed == set()
    assert SETUPTOOLS["package-dir"] == {"casefile": "."}
    assert {"casefile.config", "casefile.templates"} <= listed


@pytest.mark.parametrize(("folder", "package"), [("config", "casefile.config"), ("templates", "casefile.templates")])
def test_every_data_file_is_shipped(folder: str, package: str) -> None:
    patterns = SETUPTOOLS["package-data"][package]
    files = [p.relative_to(REPO / folder).as_posix() for p in (REPO / folder).rglob("*") if p.is_file()]
    unshipped = [f for f in files if f != "README.md" and not any(fnmatch.fnmatch(f, pat) for pat in patterns)]
    assert unshipped == []


def test_the_demo_data_is_shipped() -> None:
    patterns = SETUPTOOLS["package-data"]["casefile.tasks.demo"]
    root = REPO / "tasks" / "demo"
    files = [p.relative_to(root).as_posix() for p in (root / "data").rglob("*") if p.is_file()]
    assert files and [f for f in files if not any(fnmatch.fnmatch(f, pat) for pat in patterns)] == []


def test_the_code_never_imports_bare_tasks_or_flows() -> None:
    offenders = []
    for top in ("tasks", "flows"):
        for path in (REPO / top).rglob("*.py"):
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
                stripped = line.strip()
                if stripped.startswith(("from tasks", "from flows", "import tasks", "import flows")):
                    offenders.append(f"{path.relative_to(REPO)}:{number}")
    assert offenders == []


def _source_copy(dest: Path) -> Path:
    """The working tree as git sees it (tracked and untracked, not ignored), copied: building never touches the
    checkout (no build/ or egg-info beside the source)."""
    listing = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO, capture_output=True, check=True
    ).stdout.decode()
    for name in filter(None, listing.split("\0")):
        source = REPO / name
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            target.symlink_to(os.readlink(source))
        elif source.is_file():
            shutil.copy2(source, target)
    return dest


def _dependencies_only(dest: Path) -> Path:
    """This environment's installed libraries without casefile itself: a fresh venv borrows them instead of
    downloading them again (only the build backend comes from the package index, as for any `pip install .`)."""
    import sysconfig

    site = Path(sysconfig.get_paths()["purelib"])
    dest.mkdir()
    for entry in site.iterdir():
        if entry.name.lower().startswith(("casefile", "__editable__")):
            continue
        (dest / entry.name).symlink_to(entry)
    return dest


@pytest.mark.slow
def test_pip_install_then_the_demo_runs_in_an_empty_folder(tmp_path: Path, prefect_api: str) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    (Path(purelib) / "casefile-test-deps.pth").write_text(str(_dependencies_only(tmp_path / "deps")) + "\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CASEFILE_", "PYTHONPATH", "VIRTUAL_ENV"))}
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--no-deps", str(_source_copy(tmp_path / "src"))],
        capture_output=True, text=True, env=env, timeout=600, check=False,
    )  # fmt: skip
    assert install.returncode == 0, install.stderr[-2000:]

    empty = tmp_path / "elsewhere"
    empty.mkdir()
    where = subprocess.run(
        [str(python), "-c", "import casefile.tasks, casefile.flows.cli.main as m; print(m.__file__)"],
        capture_output=True, text=True, env=env, cwd=empty, check=True,
    )  # fmt: skip
    assert Path(where.stdout.strip()).is_relative_to(venv), where.stdout
    bare = subprocess.run([str(python), "-c", "import tasks"], capture_output=True, env=env, cwd=empty, check=False)
    assert bare.returncode != 0  # no top-level `tasks` (or `flows`) in site-packages

    demo = subprocess.run(
        [str(venv / "bin" / "casefile"), "demo", "--json"],
        capture_output=True, text=True, env=env, cwd=empty, timeout=900, check=False,
    )  # fmt: skip
    assert demo.returncode == 0, demo.stderr[-3000:]
    result = json.loads(demo.stdout)
    assert Path(result["home"]) == empty / ".casefile"
    assert result["packet"]["pages"] > 10 and result["ingest"]["counts"]["stored"] == 6
    assert (empty / ".casefile" / "catalog.db").is_file()
