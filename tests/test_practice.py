"""The practice's own details, set once in the home (`casefile practice ...`, `casefile translator ...`), and never
the packaged fictional sample's on a real filing. In-process command runs (click's runner) and real builds."""

from __future__ import annotations

import os
import stat
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from click.testing import CliRunner, Result
from conftest import HARBOR_DHS, PRACTICE_FLAGS
from pypdf import PdfReader
from test_packet import SAMPLE, SERVICE_DATE, _add, _download, _no_ocr, _plan  # noqa: F401 - _no_ocr: a fixture

from casefile.flows.cli.main import main
from casefile.tasks.core.errors import ExitCode
from casefile.tasks.core.practice import SAMPLE_PRACTICE, load_practice
from casefile.tasks.core.runtime import reset_runtimes
from casefile.tasks.packets import build as packet
from casefile.tasks.packets.filing import FictionalPractice

if TYPE_CHECKING:
    from casefile.tasks.core.runtime import Runtime


def cli(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)


def test_practice_init_asks_for_each_detail_and_writes_them_into_the_home(home: Path) -> None:
    answers = "\n".join(
        [
            "Harbor Immigrant Legal Services",  # name
            "12 Harbor Lane, Suite 3; Brooklyn, NY 11201",  # address
            "(718) 200-3000",  # phone
            "intake@harborlegal.test",  # e-mail
            "records@harborlegal.test",  # reply address for record requests
            "lnavarro",  # the first person's key
            "attorney",
            "Lucia Navarro",
            "ZX123456",  # EOIR ID
            "lnavarro@harborlegal.test",
            "electronic",
            "New York, NY (Broadway)",  # a court
            "ICE OPLA New York",
            "26 Harbor Plaza; New York, NY 10278",
            "smtp.harborlegal.test",  # mail server
            "587",
            "starttls",
            "records",  # login
        ]
    )
    result = cli("practice", "init", input=answers + "\n")
    assert result.exit_code == 0, result.output
    assert (home / "practice.toml").is_file()
    reset_runtimes()
    from casefile.tasks.core.settings import load_settings

    settings = load_settings()
    practice = load_practice(settings)
    assert not practice.sample and practice.path == home / "practice.toml"
    assert practice.name == "Harbor Immigrant Legal Services" and practice.reply_address == "records@harborlegal.test"
    assert practice.person("lnavarro").eoir_id == "ZX123456" and practice.person("lnavarro").signs_electronically
    office = practice.dhs_office_for("new york, ny  (broadway)")  # case and spaces do not matter
    assert office is not None and office.address_lines == ("26 Harbor Plaza", "New York, NY 10278")
    assert (settings.smtp_host, settings.smtp_port, settings.smtp_username) == ("smtp.harborlegal.test", 587, "records")
    assert practice.placeholders() == []
    shown = cli("practice", "show")
    assert "Practice file: " + str(home / "practice.toml") in shown.output and "PLACEHOLDER" not in shown.output
    config = cli("config", "--json")
    assert f'"practice_file": "{home / "practice.toml"}"' in config.output


def test_init_for_scripts_takes_flags_and_names_what_is_missing(home: Path) -> None:
    missing = cli("practice", "init", "--no-input", "--name", "Harbor Immigrant Legal Services")
    assert missing.exit_code == ExitCode.USAGE
    assert "--address" in missing.output and "--eoir-id" in missing.output
    assert not (home / "practice.toml").exists()
    assert cli("practice", "init", "--no-input", *PRACTICE_FLAGS, *HARBOR_DHS).exit_code == 0
    again = cli("practice", "init", "--no-input", *PRACTICE_FLAGS)
    assert again.exit_code == ExitCode.USAGE and "--force" in again.output  # never replaced silently
    assert cli("practice", "init", "--no-input", "--force", *PRACTICE_FLAGS).exit_code == 0


def test_changes_keep_what_a_person_wrote_by_hand_and_a_bad_one_changes_nothing(home: Path) -> None:
    assert cli("practice", "init", "--no-input", *PRACTICE_FLAGS).exit_code == 0
    path = home / "practice.toml"
    path.write_text(path.read_text() + "# Our board approved these details on 2026-10-01.\n")
    assert cli("practice", "set", "--phone", "(718) 200-3001").exit_code == 0
    added = cli("practice", "person", "jdoe", "--name", "Jo Doe", "--role", "paralegal", "--email", "jd@h.test")
    assert added.exit_code == 0
    text = path.read_text()
    assert "# Our board approved" in text and "(718) 200-3001" in text and 'key = "jdoe"' in text
    before = path.read_bytes()
    bad = cli("practice", "person", "jdoe", "--supervisor", "nobody")  # not one of the people
    assert bad.exit_code == ExitCode.CONFIG and path.read_bytes() == before
    assert cli("practice", "person", "jdoe", "--remove").exit_code == 0
    assert 'key = "jdoe"' not in path.read_text()


def test_the_mail_password_is_asked_hidden_and_kept_readable_by_its_owner_only(home: Path) -> None:
    assert cli("practice", "init", "--no-input", *PRACTICE_FLAGS).exit_code == 0
    result = cli("practice", "set", "--smtp-host", "smtp.harborlegal.test", "--smtp-password", input="s3cret\n")
    assert result.exit_code == 0 and "s3cret" not in result.output
    config = home / "config.toml"
    assert 'smtp_password = "s3cret"' in config.read_text()
    assert stat.S_IMODE(os.stat(config).st_mode) == 0o600
    assert "**********" in cli("practice", "show").output


def test_template_overrides_live_in_the_practice_folder(runtime: Runtime, home: Path) -> None:
    from casefile.tasks.core.settings import load_settings

    assert load_settings().overrides_dir is None
    (home / "templates" / "packet").mkdir(parents=True)
    assert load_settings().overrides_dir == home / "templates"
    assert str(home / "templates") in cli("practice", "show").output


def test_without_a_practice_of_its_own_the_home_reads_the_fictional_sample_and_says_so(home: Path) -> None:
    from casefile.tasks.core.settings import load_settings

    home.mkdir()
    practice = load_practice(load_settings())
    assert practice.sample and practice.path == SAMPLE_PRACTICE
    lines = [p.line() for p in practice.placeholders()]
    assert any("EXAMPLE0" in line and "casefile practice person avega --eoir-id" in line for line in lines)
    assert any("(fictional)" in line for line in lines)


def test_translators_are_saved_once(home: Path) -> None:
    assert cli("practice", "init", "--no-input", *PRACTICE_FLAGS).exit_code == 0
    added = cli("translator", "add", "sgarcia", "--name", "Sofia Garcia", "--address", "1 Pier St; Queens, NY 11101",
                "--phone", "(718) 300-4000", "--signs-electronically", "--json")  # fmt: skip
    assert added.exit_code == 0, added.output
    listed = cli("translator", "list")
    assert "sgarcia" in listed.output and "Sofia Garcia" in listed.output
    assert cli("translator", "rm", "sgarcia").exit_code == 0
    assert cli("translator", "rm", "sgarcia").exit_code == ExitCode.USAGE


# A build refuses fictional and placeholder values ---------------------------------------------------------------------
def _one_exhibit(rt: Runtime, case_id: str) -> None:
    medical = _add(rt, case_id, SAMPLE / "medical_record_en.pdf", "medical")
    _plan(rt, case_id, [{"document": medical, "title": "Emergency room record"}])


DHS_FOR_BUILD: dict[str, Any] = {
    "service_office": "ICE OPLA New York",
    "service_address": ("26 Harbor Plaza", "New York, NY 10278"),
}


def test_a_build_with_the_sample_practice_refuses_naming_each_value_and_the_command_that_sets_it(
    runtime: Runtime, case_id: str
) -> None:
    _one_exhibit(runtime, case_id)
    with pytest.raises(FictionalPractice) as refused:
        packet.build_packet(runtime, case_id, packet.BuildOptions(service_date=SERVICE_DATE, **DHS_FOR_BUILD))
    message = refused.value.message
    assert "'EXAMPLE0'" in message and "casefile practice person avega --eoir-id" in message
    assert "'Ana Vega (fictional)'" in message and "casefile practice init" in message
    assert refused.value.exit_code == ExitCode.CONFIG
    assert list(runtime.store.list("packets/")) == []


def test_an_example_eoir_id_left_in_the_homes_own_practice_refuses_too(
    runtime: Runtime, case_id: str, home: Path
) -> None:
    _one_exhibit(runtime, case_id)
    assert cli("practice", "init", "--no-input", *PRACTICE_FLAGS).exit_code == 0
    assert cli("practice", "person", "lnavarro", "--eoir-id", "EXAMPLE7").exit_code == 0
    with pytest.raises(FictionalPractice) as refused:
        packet.build_packet(runtime, case_id, packet.BuildOptions(service_date=SERVICE_DATE, filer="lnavarro",
                                                                  **DHS_FOR_BUILD))  # fmt: skip
    assert [p.value for p in refused.value.placeholders] == ["EXAMPLE7"]
    assert str(home / "practice.toml") in refused.value.message


def test_the_practices_dhs_office_for_the_cases_court_is_served(
    runtime: Runtime, case_id: str, home: Path, tmp_path: Path
) -> None:
    _one_exhibit(runtime, case_id)
    assert cli("practice", "init", "--no-input", *PRACTICE_FLAGS, *HARBOR_DHS).exit_code == 0
    result = packet.build_packet(runtime, case_id, packet.BuildOptions(service_date=date(2027, 2, 1), filer="lnavarro"))
    (path,) = _download(runtime, result, tmp_path / "out")
    reader = PdfReader(path)
    cover = " ".join(reader.pages[0].extract_text().split())
    assert "Lucia Navarro" in cover and "ZX123456" in cover and "Harbor Immigrant Legal Services" in cover
    service = " ".join(reader.pages[-1].extract_text().split())
    assert "26 Harbor Plaza, Room 100" in service and "/s/ Lucia Navarro" in service
