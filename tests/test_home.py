"""Which casefile home a command uses: a read where there is none says where it looked and how to point elsewhere
(and creates nothing); a command that creates one says where; a home other than the working directory's is named.

The command runs in this process (click's runner, real settings and catalog), in an empty folder of its own; one
test runs the real console script as a user does."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import A_NUMBER, CLIENT_NAME

from casefile.flows.cli import output
from casefile.flows.cli.main import main as cli
from casefile.tasks.core.errors import ExitCode
from casefile.tasks.core.runtime import reset_runtimes

NEW_CASE = (
    "case", "new", "--client", CLIENT_NAME, "--a-number", A_NUMBER, "--court", "New York, NY (Broadway)",
    "--hearing", "2027-03-04", "--hearing-type", "individual",
)  # fmt: skip


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty working folder, no CASEFILE_HOME: where a user runs casefile by mistake."""
    folder = tmp_path / "some-other-folder"
    folder.mkdir()
    monkeypatch.chdir(folder)
    for name in ("CASEFILE_HOME", "CASEFILE_CONFIG", "CASEFILE_DATABASE_URL", "CASEFILE_STORAGE_BACKEND"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(output, "_home_said", set())
    reset_runtimes()
    yield folder
    reset_runtimes()


def run(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.mark.parametrize(
    "command",
    [
        ("case", "list"),
        ("case", "show", "C-ABCDEF"),
        ("docs", "C-ABCDEF"),
        ("search", "amenaza"),
        ("request", "list"),
        ("request", "chase", "--dry-run"),
        ("packet", "list", "C-ABCDEF"),
        ("exhibits", "show", "C-ABCDEF"),
        ("serve",),
    ],
)
def test_a_read_where_no_home_exists_says_where_it_looked_and_creates_nothing(
    elsewhere: Path, command: tuple[str, ...]
) -> None:
    result = run(*command)
    assert result.exit_code == ExitCode.NOT_FOUND
    assert str(elsewhere / ".casefile") in result.stderr
    assert "CASEFILE_HOME" in result.stderr and "cd" in result.stderr
    assert "No cases yet" not in result.stdout
    assert list(elsewhere.iterdir()) == []  # no empty catalog left behind


def test_the_json_form_of_that_refusal_is_one_error_document(elsewhere: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "argv", ["casefile", "case", "list", "--json"])  # where the CLI looks for --json
    result = run("case", "list", "--json")
    assert result.exit_code == ExitCode.NOT_FOUND
    assert json.loads(result.stdout)["error"]["type"] == "HomeNotFound"


def test_a_home_named_by_casefile_home_that_does_not_exist_is_named_too(elsewhere: Path, tmp_path: Path) -> None:
    missing = tmp_path / "typo" / ".casefile"
    os.environ["CASEFILE_HOME"] = str(missing)  # removed by the fixture's monkeypatch.delenv at teardown
    try:
        result = run("request", "list")
    finally:
        del os.environ["CASEFILE_HOME"]
    assert result.exit_code == ExitCode.NOT_FOUND
    assert str(missing) in result.stderr and "chosen by CASEFILE_HOME" in result.stderr
    assert not missing.exists()


def test_case_new_says_where_it_created_the_home_without_breaking_json(elsewhere: Path) -> None:
    result = run(*NEW_CASE, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["id"].startswith("C-")  # stdout is still exactly one JSON document
    assert f"Created a new casefile home at {elsewhere / '.casefile'}" in result.stderr
    again = run("case", "list", "--json")
    assert again.exit_code == 0 and len(json.loads(again.stdout)) == 1
    assert "Created" not in again.stderr and "Using the casefile home" not in again.stderr  # it is ./.casefile


def test_a_home_other_than_the_working_directorys_is_named_on_stderr(
    elsewhere: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "office" / ".casefile"
    monkeypatch.setenv("CASEFILE_HOME", str(home))
    created = run(*NEW_CASE)
    assert created.exit_code == 0, created.output
    assert f"Created a new casefile home at {home}" in created.stderr
    output._home_said.clear()  # each command is a process of its own; here they share one
    listed = run("case", "list", "--json")
    assert listed.exit_code == 0
    assert f"Using the casefile home at {home} (from CASEFILE_HOME)" in listed.stderr
    assert len(json.loads(listed.stdout)) == 1
    assert list(elsewhere.iterdir()) == []


def test_config_says_whether_the_home_exists(elsewhere: Path) -> None:
    doc = json.loads(run("config", "--json").stdout)
    assert doc["home"] == str(elsewhere / ".casefile") and doc["home_exists"] is False
    assert doc["home_from"] == "the working directory"
    assert list(elsewhere.iterdir()) == []


@pytest.mark.slow
def test_the_console_script_in_an_empty_folder(tmp_path: Path) -> None:
    folder = tmp_path / "empty"
    folder.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASEFILE_")}
    exe = Path(sys.executable).with_name("casefile")
    read = subprocess.run(
        [str(exe), "docs", "C-ABCDEF"], capture_output=True, text=True, env=env, cwd=folder, timeout=120, check=False
    )
    assert read.returncode == ExitCode.NOT_FOUND and "Traceback" not in read.stderr
    assert str(folder / ".casefile") in read.stderr
    assert list(folder.iterdir()) == []
    made = subprocess.run(
        [str(exe), *NEW_CASE, "--json"], capture_output=True, text=True, env=env, cwd=folder, timeout=120, check=False
    )
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout)["id"] and f"at {folder / '.casefile'}" in made.stderr
