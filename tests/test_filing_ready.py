"""Issue 14's traps, one by one: labels that follow the list, nothing replaced silently, what a document says and
what is missing, the identity cross-check, readiness for filing, requests that say when they are at risk or not
sent. In-process commands (click's runner) over real documents taken in with OCR off; a few real builds."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import yaml
from click.testing import CliRunner, Result
from test_packet import (  # noqa: F401 - built_case and _no_ocr are fixtures used here
    SAMPLE,
    TRANSLATIONS,
    _add,
    _build,
    _no_ocr,
    _plan,
    built_case,
)

from casefile.flows.cli.main import main
from casefile.tasks.core.catalog import Page
from casefile.tasks.core.errors import ExitCode
from casefile.tasks.packets.exhibits import PlanInvalid, parse_plan, propose_plan, relabel, save_plan
from casefile.tasks.packets.readiness import readiness

if TYPE_CHECKING:
    from casefile.tasks.core.runtime import Runtime


def cli(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)


def _labels(runtime: Runtime, case_id: str) -> list[tuple[str, str]]:
    from casefile.tasks.packets.exhibits import show_exhibits

    return [(e["label"], e["document"]) for e in show_exhibits(runtime, case_id)["exhibits"]]


# 4. Labels follow the list ---------------------------------------------------------------------------------------
def test_labels_follow_the_list_order_unless_pinned() -> None:
    rows = [("client", "", False), ("client", "C", True), ("client", "", False), ("country", "", False)]
    assert relabel(rows) == ["A", "C", "D", "1"]
    assert relabel([("client", "B", False), ("client", "A", False)]) == ["A", "B"]
    assert relabel([("client", "", False), ("client", "A", True), ("client", "", False)]) == ["B", "A", "C"]


def test_moving_lines_in_the_plan_re_letters_them_and_says_so(runtime: Runtime, case_id: str, tmp_path: Path) -> None:
    first = _add(runtime, case_id, SAMPLE / "medical_record_en.pdf", "medical")
    second = _add(runtime, case_id, SAMPLE / "phone_photo_letter.jpg")
    third = _add(runtime, case_id, SAMPLE / "id_card.png")
    text = yaml.safe_dump(
        {
            "case": case_id,
            "exhibits": [
                {"label": "B", "document": second, "title": "Letter"},  # moved up, its old label kept
                {"label": "A", "document": first, "title": "Medical"},
                {"label": "C!", "document": third, "title": "ID card"},
            ],
        }
    )
    plan = parse_plan(text, "plan.yaml", case_id)
    save_plan(runtime, plan, "plan.yaml")
    assert _labels(runtime, case_id) == [("A", second), ("B", first), ("C", third)]
    assert any(f"document {second} is exhibit A" in n and "B!" in n for n in plan.notes)
    assert propose_plan(runtime, case_id).as_dict()["exhibits"][2]["label"] == "C!"  # the pin is kept

    assert cli("exhibits", "move", case_id, "C", "--before", "A").exit_code == 0
    # C is pinned; the others follow it in the list's order.
    assert _labels(runtime, case_id) == [("C", third), ("D", second), ("E", first)]
    moved = cli("exhibits", "move", case_id, "E", "--before", "D", "--json")
    assert moved.exit_code == 0 and "exhibit E is now D" in moved.output
    assert _labels(runtime, case_id) == [("C", third), ("D", first), ("E", second)]
    assert cli("exhibits", "move", case_id, "Q", "--before", "A").exit_code == ExitCode.USAGE


def test_a_client_exhibit_takes_a_letter_and_a_country_conditions_one_a_number(case_id: str) -> None:
    text = yaml.safe_dump(
        {
            "exhibits": [
                {"label": "3", "section": "client", "document": "D-AAAAAAAA", "title": "x"},
                {"label": "B", "section": "country", "document": "D-BBBBBBBB", "title": "y"},
            ]
        }
    )
    with pytest.raises(PlanInvalid) as refused:
        parse_plan(text, "plan.yaml", case_id)
    assert len(refused.value.problems) == 2
    assert "client exhibits are lettered" in refused.value.problems[0]
    assert "country-conditions exhibits are numbered" in refused.value.problems[1]


# 3. Nothing replaced silently -------------------------------------------------------------------------------------
def test_the_plan_file_is_not_overwritten_without_force(runtime: Runtime, case_id: str, tmp_path: Path) -> None:
    _add(runtime, case_id, SAMPLE / "medical_record_en.pdf", "medical")
    plan = tmp_path / "plan.yaml"
    plan.write_text("# my edits\n")
    refused = cli("exhibits", "plan", case_id, "-o", str(plan))
    assert refused.exit_code == ExitCode.USAGE and "--force" in refused.output
    assert plan.read_text() == "# my edits\n"
    assert cli("exhibits", "plan", case_id, "-o", str(plan), "--force").exit_code == 0
    assert "exhibits:" in plan.read_text()


def test_a_translation_is_replaced_only_when_asked_and_can_be_removed(
    runtime: Runtime, case_id: str, tmp_path: Path
) -> None:
    denuncia = _add(runtime, case_id, SAMPLE / "denuncia_scan_es.pdf", "police")
    _plan(runtime, case_id, [{"document": denuncia, "title": "Police report", "language": "es"}])
    english = TRANSLATIONS / "denuncia_scan_es.en.pdf"
    who = ("--translator", "Sam Translator", "--address", "2 Pier St; Queens", "--phone", "(718) 300-4001")
    assert cli("translation", "add", case_id, str(english), "--for", denuncia, *who).exit_code == 0
    other = tmp_path / "denuncia_v2.pdf"
    other.write_bytes(english.read_bytes() + b"\n% revised\n")
    again = cli("translation", "add", case_id, str(other), "--for", denuncia, *who)
    assert again.exit_code == ExitCode.USAGE and "--replace" in again.output and "translation rm" in again.output
    replaced = cli("translation", "add", case_id, str(other), "--for", denuncia, *who, "--replace", "--json")
    assert replaced.exit_code == 0 and '"replaced": "T-' in replaced.output
    listed = cli("translation", "list", case_id)
    assert (
        "exhibit A" in listed.output and "denuncia_scan_es.pdf" in listed.output and "denuncia_v2.pdf" in listed.output
    )
    tid = listed.output.split()[0]
    assert cli("translation", "rm", tid).exit_code == 0
    assert "No translations yet." in cli("translation", "list", case_id).output


def test_a_folder_of_translations_named_after_their_documents_with_a_saved_translator(
    runtime: Runtime, case_id: str, tmp_path: Path
) -> None:
    denuncia = _add(runtime, case_id, SAMPLE / "denuncia_scan_es.pdf", "police")
    letter = _add(runtime, case_id, SAMPLE / "phone_photo_letter.jpg")
    folder = tmp_path / "translations"
    folder.mkdir()
    (folder / "denuncia_scan_es.en.pdf").write_bytes((TRANSLATIONS / "denuncia_scan_es.en.pdf").read_bytes())
    (folder / f"{letter}.pdf").write_bytes((TRANSLATIONS / "phone_photo_letter.en.pdf").read_bytes())
    (folder / "unknown.pdf").write_bytes((TRANSLATIONS / "id_card.en.pdf").read_bytes())
    saved = cli("translator", "add", "sgarcia", "--name", "Sofia Garcia", "--address", "1 Pier St; Queens, NY",
                "--phone", "(718) 300-4000", "--signs-electronically")  # fmt: skip
    assert saved.exit_code == 0
    refused = cli("translation", "add", case_id, str(folder), "--translator", "sgarcia", "--language", "es")
    assert refused.exit_code == ExitCode.USAGE and "unknown.pdf" in refused.output  # nothing added
    assert "No translations yet." in cli("translation", "list", case_id).output
    (folder / "unknown.pdf").unlink()
    added = cli("translation", "add", case_id, str(folder), "--translator", "sgarcia", "--language", "es", "--json")
    assert added.exit_code == 0, added.output
    rows = yaml.safe_load(added.output)
    assert {r["for"] for r in rows} == {denuncia, letter}
    assert {r["translator"] for r in rows} == {"Sofia Garcia"} and {r["signature"] for r in rows} == {"electronic"}


def test_packet_get_names_files_after_the_build_and_keeps_two_builds_apart(
    runtime: Runtime, case_id: str, tmp_path: Path
) -> None:
    from casefile.tasks.cases.case import CaseChanges, update_case
    from casefile.tasks.packets import manifest as stored

    medical = _add(runtime, case_id, SAMPLE / "medical_record_en.pdf", "medical")
    _plan(runtime, case_id, [{"document": medical, "title": "Emergency room record"}])
    first = _build(runtime, case_id)
    out = tmp_path / "filing"
    got = stored.download_build(runtime, case_id, first.build_id, out)
    assert all(Path(f["path"]).name.startswith(f"{first.build_id}-") for f in got["files"])
    assert readiness(runtime, case_id)["last_build"]["current"] is True
    from datetime import time

    update_case(runtime, case_id, CaseChanges(hearing_time=time(13, 30)))
    last = readiness(runtime, case_id)["last_build"]
    assert last["current"] is False and last["why_not_current"]
    second = _build(runtime, case_id)
    assert second.build_id != first.build_id
    with pytest.raises(stored.OtherBuildInFolder):
        stored.download_build(runtime, case_id, second.build_id, out)
    assert stored.download_build(runtime, case_id, second.build_id, out, force=True)["build_id"] == second.build_id


# 6. Seeing what is there -----------------------------------------------------------------------------------------
def _set_text(runtime: Runtime, document_id: str, text: str, language: str = "en") -> None:
    with runtime.catalog.session() as session:
        page = session.get(Page, (document_id, 1))
        assert page is not None
        page.text, page.text_source, page.language = text, "ocr", language


def test_docs_show_languages_and_doc_show_prints_a_pages_text(runtime: Runtime, case_id: str) -> None:
    doc_id = _add(runtime, case_id, SAMPLE / "phone_photo_letter.jpg")
    _set_text(runtime, doc_id, "Querida Maria, te escribo esta carta.", "es")
    listed = cli("docs", case_id)
    assert doc_id in listed.output and " es " in listed.output
    shown = cli("doc", "show", doc_id, "--text", "--page", "1")
    assert "Querida Maria" in shown.output and "page 1" in shown.output
    assert cli("doc", "show", doc_id, "--text", "--page", "9").exit_code == ExitCode.USAGE


def test_doc_set_corrects_type_title_and_date_and_the_saved_exhibit_takes_them(runtime: Runtime, case_id: str) -> None:
    doc_id = _add(runtime, case_id, SAMPLE / "phone_photo_letter.jpg")
    _plan(runtime, case_id, [{"document": doc_id, "title": "phone photo letter"}])
    result = cli("doc", "set", doc_id, "--type", "medical", "--title", "Letter of Dr. Ejemplo", "--date", "2024-01-05")
    assert result.exit_code == 0, result.output
    assert "exhibit A of the saved list updated too" in result.output
    (row,) = yaml.safe_load(cli("exhibits", "show", case_id, "--json").output)["exhibits"]
    assert (row["title"], row["date"]) == ("Letter of Dr. Ejemplo", "2024-01-05")
    assert cli("doc", "set", doc_id, "--type", "nonsense").exit_code == ExitCode.USAGE


def test_help_marks_required_options_as_required() -> None:
    cases: tuple[tuple[list[str], str], ...] = (
        (["request", "new", "--help"], "--provider"),
        (["translation", "add", "--help"], "--translator"),
        (["translator", "add", "--help"], "--phone"),
        (["packet", "get", "--help"], "--output"),
    )
    for args, option in cases:
        text = " ".join(cli(*args).output.split())
        after = text.split(option, 1)[1]
        assert "[required]" in after.split(" --", 1)[0], (args, option)


# 7-8. Readiness and the identity cross-check ----------------------------------------------------------------------
def test_readiness_lists_what_stands_between_the_case_and_a_filing(runtime: Runtime, case_id: str) -> None:
    denuncia = _add(runtime, case_id, SAMPLE / "denuncia_scan_es.pdf", "police")
    stray = _add(runtime, case_id, SAMPLE / "id_card.png")
    _plan(runtime, case_id, [{"document": denuncia, "title": "Police report", "language": "es"}])
    r = readiness(runtime, case_id, today=date(2027, 1, 3))
    assert r["days_to_deadline"] == (date.fromisoformat(r["filing_deadline"]) - date(2027, 1, 3)).days
    assert r["exhibits_without_translation"] == [{"label": "A", "document": denuncia, "language": "es"}]
    assert r["documents_not_on_exhibit_list"] == [stray]
    assert any("EXAMPLE0" in line for line in r["practice_placeholders"])  # the packaged sample practice
    assert r["dhs_office"] is None and r["last_build"] is None and r["ready"] is False
    shown = cli("case", "show", case_id)
    assert "Readiness for filing: NOT READY" in shown.output and "no English translation" in shown.output


def test_a_document_naming_another_person_is_flagged_for_a_person_to_confirm(
    runtime: Runtime, case_id: str, caplog: pytest.LogCaptureFixture
) -> None:
    mine = _add(runtime, case_id, SAMPLE / "medical_record_en.pdf", "medical")
    other = _add(runtime, case_id, SAMPLE / "phone_photo_letter.jpg", "medical")
    _set_text(runtime, mine, "Patient: Maria Fernanda Quiroga Test\nA-number: 123-456-789")
    _set_text(runtime, other, "Patient: Juan Otro Ejemplo\nAlien registration number (A-number): 987-654-321")
    plan = propose_plan(runtime, case_id)
    checks = {r.document: r.check for r in plan.rows}
    assert checks[mine] == "" and "A-number that is not the client's" in checks[other]
    assert "another person's name" in checks[other] and "987" not in checks[other] and "Juan" not in checks[other]
    flags = readiness(runtime, case_id)["identity_checks"]
    assert {(f["document"], f["kind"]) for f in flags} == {(other, "a-number"), (other, "name")}
    assert "987" not in caplog.text and "Juan" not in caplog.text  # nothing logged with the values
    assert cli("doc", "set", other, "--identity-confirmed").exit_code == 0
    assert readiness(runtime, case_id)["identity_checks"] == []


# 10. Requests ----------------------------------------------------------------------------------------------------
def test_request_show_gives_the_filing_deadline_and_whether_an_extension_puts_it_at_risk(
    runtime: Runtime, case_id: str
) -> None:
    from casefile.tasks.cases.case import CaseChanges, update_case
    from casefile.tasks.requests.sending import new_request
    from casefile.tasks.requests.tracking import show_request

    sent = date.today() - timedelta(days=2)
    made = new_request(runtime, case_id=case_id, record_type="medical", provider="metro-general", sent_on=sent)
    due = date.fromisoformat(made["due_on"])
    update_case(runtime, case_id, CaseChanges(filing_deadline=due + timedelta(days=21)))  # safe; +30 days is not
    shown = show_request(runtime, made["id"])
    assert shown["filing_deadline"] == (due + timedelta(days=21)).isoformat()
    assert shown["risk"] == "safe" and shown["at_risk_if_extended"] is True
    text = cli("request", "show", made["id"]).output
    assert "AT RISK IF EXTENDED" in text and "Case filing deadline" in text
    draft = new_request(runtime, case_id=case_id, record_type="police", provider="example-pd")
    assert "NOT SENT YET" in show_request(runtime, draft["id"])["sending"]["line"]
