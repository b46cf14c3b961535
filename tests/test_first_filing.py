"""The README's "Your first filing", run as a paralegal runs it: the same commands, counted, through the real
`casefile` command (real Prefect flow runs, real Tesseract, a real SMTP server on loopback)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml
from conftest import DEMO_DATA, HARBOR_DHS, PRACTICE_FLAGS, run_cli

if TYPE_CHECKING:
    from smtpserver import LoopbackSmtp

pytestmark = [pytest.mark.prefect, pytest.mark.tesseract, pytest.mark.slow]

README = Path(__file__).resolve().parents[1] / "README.md"


def walkthrough_commands() -> list[str]:
    """The commands of the README's "Your first filing" block."""
    text = README.read_text(encoding="utf-8")
    section = text.split("## Your first filing", 1)[1]
    block = section.split("```sh", 1)[1].split("```", 1)[0]
    return [line.split()[1] for line in block.splitlines() if line.startswith("casefile ")]


def test_the_first_filing_takes_the_commands_the_readme_counts(
    prefect_api: str, tmp_path: Path, smtp_server: LoopbackSmtp
) -> None:
    home = tmp_path / "home"
    ran: list[str] = []

    def cli(*args: str) -> Any:
        ran.append(args[0])
        proc = run_cli(*args, "--json", home=home, timeout=600)
        assert proc.returncode == 0, (args, proc.stdout[-2000:], proc.stderr[-3000:])
        assert "Traceback" not in proc.stderr
        return json.loads(proc.stdout)

    scans = tmp_path / "scans"
    scans.mkdir()
    for name in ("medical_record_en.pdf", "denuncia_scan_es.pdf"):
        shutil.copy(DEMO_DATA / "sample" / name, scans / name)
    translations = tmp_path / "translations"
    translations.mkdir()
    shutil.copy(DEMO_DATA / "translations" / "denuncia_scan_es.en.pdf", translations / "denuncia_scan_es.en.pdf")

    cli("practice", "init", "--no-input", *PRACTICE_FLAGS, *HARBOR_DHS)
    cli("translator", "add", "sgarcia", "--name", "Sofia Garcia", "--address", "1 Pier St; Queens, NY 11101",
        "--phone", "(718) 300-4000", "--signs-electronically")  # fmt: skip
    case_id = cli("case", "new", "--client", "Maria Fernanda Quiroga Test", "--a-number", "123-456-789",
                  "--court", "New York, NY (Broadway)", "--hearing", "2027-03-04", "--hearing-type",
                  "individual")["id"]  # fmt: skip
    added = cli("add", case_id, str(scans))
    assert added["counts"] == {"stored": 2}
    plan_file = tmp_path / "plan.yaml"
    cli("exhibits", "plan", case_id, "-o", str(plan_file))
    # The edit a person makes in the file: the police report first, a title typed, the labels left as they are.
    plan = yaml.safe_load(plan_file.read_text(encoding="utf-8"))
    rows = plan["exhibits"]
    assert {r["language"] for r in rows} == {"en", "es"}  # OCR told the scan's language
    rows.sort(key=lambda r: r["language"] != "es")
    rows[0]["title"] = "Police report (denuncia) of August 18, 2023"
    plan_file.write_text(yaml.safe_dump(plan, allow_unicode=True), encoding="utf-8")
    saved = cli("exhibits", "set", case_id, str(plan_file))
    assert [e["label"] for e in saved["exhibits"]] == ["A", "B"]  # re-lettered in the new order
    assert saved["exhibits"][0]["title"].startswith("Police report")
    assert any("no English translation yet" in w for w in saved["warnings"])
    (linked,) = cli("translation", "add", case_id, str(translations), "--translator", "sgarcia")
    assert linked["for"] == saved["exhibits"][0]["document"] and linked["signature"] == "electronic"
    shown = cli("case", "show", case_id)
    assert shown["readiness"]["ready"] is True, shown["readiness"]
    built = cli("packet", "build", case_id)
    out = tmp_path / "filing"
    got = cli("packet", "get", case_id, "-o", str(out))
    assert [Path(f["path"]).name for f in got["files"]] == [f"{built['build_id']}-{case_id}-eoir-exhibits.pdf"]
    request = cli("request", "new", case_id, "--type", "medical", "--provider", "metro-general",
                  "--records", "ER visit 2024-05")  # fmt: skip
    assert request["status"] == "sent" and request["mailed"] is True

    assert ran == walkthrough_commands()  # the README's walkthrough, command for command
    assert len(ran) == 11
    assert re.search(r"eleven commands", README.read_text(encoding="utf-8"))
