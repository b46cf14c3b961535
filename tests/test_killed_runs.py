"""Killed runs leave no client data in work files: what a killed `add`, `packet build` or overdue run was working
on (staged copies, page images, rendered cover pages, half packets, rendered letters) stays inside the home's work
folder, never in the machine's temporary folder, and the next start of any command removes it (never a live run's).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from conftest import DEMO_DATA, new_case_cli, practice_init_cli, run_cli

SAMPLE = DEMO_DATA / "sample"


def wait_for(predicate: object, proc: subprocess.Popen[bytes], timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.01)
    raise AssertionError("the run ended before it could be killed at the right moment")


def start(home: Path, machine_tmp: Path, *args: str) -> subprocess.Popen[bytes]:
    env = dict(os.environ, CASEFILE_HOME=str(home), TMPDIR=str(machine_tmp))
    return subprocess.Popen(
        [str(Path(sys.executable).with_name("casefile")), *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def kill(proc: subprocess.Popen[bytes]) -> None:
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


def files_in(machine_tmp: Path) -> list[Path]:
    """Files left in the machine's temporary folder (multiprocessing's folder for its sockets holds no file)."""
    return [p for p in machine_tmp.rglob("*") if p.is_file()]


def folders(work: Path, prefix: str) -> list[Path]:
    return sorted(p for p in work.glob(f"{prefix}*") if p.is_dir()) if work.is_dir() else []


@pytest.mark.prefect
@pytest.mark.tesseract
def test_an_add_killed_during_ocr_leaves_its_page_images_only_in_the_home_and_they_go_next_time(
    prefect_api: str, home: Path, tmp_path: Path
) -> None:
    machine_tmp = tmp_path / "machine-tmp"  # the TMPDIR the user's shell gives: nothing may be left there
    machine_tmp.mkdir()
    case_id = new_case_cli(home)
    proc = start(home, machine_tmp, "add", case_id, str(SAMPLE / "denuncia_scan_es.pdf"))
    work = home / "work"
    wait_for(lambda: any(folders(work, "text-")), proc)
    kill(proc)
    assert folders(work, "text-"), "the kill must land while the scan's pages are read"
    assert files_in(machine_tmp) == []

    assert run_cli("docs", case_id, home=home, env={"TMPDIR": str(machine_tmp)}).returncode == 0
    assert folders(work, "text-") == [] and folders(work, "tmp-") == []  # the next start removed them
    again = run_cli("add", case_id, str(SAMPLE / "denuncia_scan_es.pdf"), "--json", home=home)
    assert again.returncode == 0, again.stderr
    assert files_in(machine_tmp) == []


@pytest.mark.prefect
def test_a_killed_packet_build_leaves_no_half_packet_or_cover_page_behind(
    prefect_api: str, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CASEFILE_OCR_ENABLED", "false")
    machine_tmp = tmp_path / "machine-tmp"
    machine_tmp.mkdir()
    practice_init_cli(home)  # a practice of its own (the packaged sample is refused)
    case_id = new_case_cli(home)
    added = run_cli("add", case_id, str(SAMPLE / "medical_record_en.pdf"), str(SAMPLE / "id_card.png"), home=home)
    assert added.returncode == 0, added.stderr
    plan = home.parent / "plan.yaml"
    assert run_cli("exhibits", "plan", case_id, "-o", str(plan), home=home).returncode == 0
    # The ID card has no text (OCR is off): a person decides its language, as a build requires.
    plan.write_text(plan.read_text(encoding="utf-8").replace("language: unknown", "language: en"), encoding="utf-8")
    assert run_cli("exhibits", "set", case_id, str(plan), home=home).returncode == 0

    proc = start(home, machine_tmp, "packet", "build", case_id)
    work = home / "work"
    wait_for(lambda: any(any(f.iterdir()) for f in folders(work, "packet-")), proc)
    kill(proc)
    left = folders(work, "packet-")
    assert left, "the kill must land while the packet is assembled"
    assert files_in(machine_tmp) == []

    listed = run_cli("packet", "list", case_id, "--json", home=home)
    assert listed.returncode == 0 and listed.stdout.strip() == "[]"  # nothing that looks finished
    assert not any(p.exists() for p in left)  # and the next start removed what the build was working on
    built = run_cli("packet", "build", case_id, home=home)
    assert built.returncode == 0, built.stderr
    assert files_in(machine_tmp) == []


def test_a_killed_overdue_run_leaves_its_rendered_letters_to_the_next_start(home: Path, tmp_path: Path) -> None:
    """The overdue check renders follow-up letters in a work folder (tasks/requests/letters.py); a run killed there
    leaves the folder, and the next start of anything that uses work folders removes it, but not a live one's."""
    from casefile.tasks.core.runtime import get_runtime
    from casefile.tasks.core.workdirs import GRACE_SECONDS, work_folder

    rt = get_runtime()
    script = textwrap.dedent(
        """
        import sys, time
        from casefile.tasks.core.runtime import get_runtime
        from casefile.tasks.requests.letters import _workdir
        with _workdir(get_runtime(), "letters-RQ-KILLED-") as work:
            (work / "followup.pdf").write_bytes(b"%PDF a letter with a client's name")
            print(work, flush=True)
            time.sleep(600)
        """
    )
    env = dict(os.environ, CASEFILE_HOME=str(home))
    proc = subprocess.Popen([sys.executable, "-c", script], env=env, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    folder = Path(proc.stdout.readline().strip())
    assert (folder / "followup.pdf").exists()

    os.utime(folder / ".owner", (time.time() - 2 * GRACE_SECONDS,) * 2)
    from casefile.tasks.core import workdirs

    workdirs._cleaned.clear()  # a new start of this process, as far as cleaning goes
    with work_folder(rt.settings.work_dir, "another-run-"):
        assert folder.exists()  # its owner is alive: never removed
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    workdirs._cleaned.clear()
    with work_folder(rt.settings.work_dir, "the-next-start-"):
        assert not folder.exists()
