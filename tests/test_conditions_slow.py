"""Country conditions with the real tools: the scanned report OCR'd by Tesseract (its word boxes carry the marks), the
`conditions-bundle` flow on the session's Prefect server (its artifact), and the commands as a user types them."""

from __future__ import annotations

import json
import re
import shutil
from datetime import date
from pathlib import Path
from typing import Any, cast

import pytest
from conftest import A_NUMBER, CLIENT_NAME, DEMO_DATA, new_case_cli, practice_init_cli, run_cli

from casefile.tasks.core.runtime import Runtime
from casefile.tasks.demo.scenario import DEMO_DHS_ADDRESS, DEMO_DHS_OFFICE

LIBRARY = DEMO_DATA / "conditions"
TODAY = date(2026, 12, 7)
SCAN = "hrw_2022_valdoria_scan.pdf"
SECRETS = (CLIENT_NAME, "Quiroga", A_NUMBER, "123456789")


@pytest.mark.tesseract
def test_a_scanned_report_is_ocrd_with_word_boxes_and_its_passages_are_marked_on_them(
    runtime: Runtime, case_id: str
) -> None:
    from casefile.tasks.conditions.bundle import load_bundle_manifest, render_bundle
    from casefile.tasks.conditions.library import add_source, read_metadata_csv, show_source
    from casefile.tasks.conditions.passages import find_quote, page_words
    from casefile.tasks.conditions.selection import parse_selection
    from casefile.tasks.core.catalog import ConditionPage

    path, meta = next((p, m) for p, m in read_metadata_csv(runtime, LIBRARY) if p.name == SCAN)
    added = add_source(runtime, path, meta)
    assert added.outcome == "added" and added.ocr_pages == 2
    row = show_source(runtime, added.source_id, today=TODAY)
    assert all(p["text_source"] == "ocr" and p["words"] > 20 for p in row["page_list"])
    assert row["stale"] and "more than 4 years ago" in row["stale_reasons"][0]

    quote = "Several police officers worked for Los Cuervos"
    selection = (
        f"case: {case_id}\ncountry: XV\ntopics: [state-protection]\nsources:\n"
        f"  - source: {added.source_id}\n    keep: true\n    pages: auto\n"
        '    reason: "the only report of police torture in custody"\n'
        f'    passages:\n      - page: 2\n        element: cat-acquiescence\n        quote: "{quote}"\n'
    )
    result = render_bundle(runtime, parse_selection(runtime, selection, "selection.yaml", case_id, today=TODAY))
    manifest = load_bundle_manifest(runtime, case_id, result.bundle_id)
    (passage,) = manifest["exhibits"][0]["passages"]
    assert passage["exhibit_page"] == 1 and passage["rectangles"]
    with runtime.catalog.session() as session:
        page = session.get(ConditionPage, (added.source_id, 2))
        assert page is not None and page.words_json
        words = page_words(json.loads(page.words_json), None)
        height = page.height_pt
    span = find_quote(words, quote)
    assert span is not None
    # Every OCR'd word of the passage lies inside a drawn rectangle (both in PDF points, origin bottom-left).
    for word in words[span[0] : span[1]]:
        assert word.box is not None
        x0, top, x1, bottom = word.box
        assert any(
            r[0] <= x0 + 0.01 and x1 <= r[2] + 0.01 and r[1] <= height - bottom + 0.01 and height - top <= r[3] + 0.01
            for r in passage["rectangles"]
        ), word.text


@pytest.mark.prefect
def test_the_bundle_flow_proposes_renders_and_leaves_a_source_table_without_client_data(
    prefect_api: str, runtime: Runtime, case_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect.artifacts import Artifact

    from casefile.flows.conditions import conditions_bundle_flow
    from casefile.tasks.conditions.bundle import active_bundle
    from casefile.tasks.conditions.library import add_source, read_metadata_csv

    monkeypatch.setenv("CASEFILE_OCR_ENABLED", "false")
    for path, meta in read_metadata_csv(runtime, LIBRARY):
        if path.name != SCAN:
            add_source(runtime, path, meta)
    summary = conditions_bundle_flow(case_id.lower(), "xv", ["gangs", "domestic-violence"])
    assert summary["case_id"] == case_id and summary["exhibits"] >= 3 and summary["selection"]
    active = active_bundle(runtime, case_id)
    assert active is not None and active.id == summary["bundle_id"]
    artifact = cast(Artifact | None, Artifact.get(f"conditions-{summary['bundle_id'].lower()}"))
    assert artifact is not None
    text = str(artifact.data) + str(artifact.description)
    assert "US Department of State" in text and summary["bundle_id"] in text
    for secret in SECRETS:
        assert secret not in text
        assert secret not in json.dumps(summary)


@pytest.mark.prefect
def test_the_commands_from_library_to_packet(prefect_api: str, home: Path, tmp_path: Path) -> None:
    env = {"CASEFILE_OCR_ENABLED": "false"}
    library = tmp_path / "library"
    shutil.copytree(LIBRARY, library)
    (library / SCAN).unlink()
    sheet = library / "sources.csv"
    sheet.write_text("\n".join(line for line in sheet.read_text().splitlines() if SCAN not in line) + "\n")

    def cli(*args: str) -> Any:
        proc = run_cli(*args, "--json", home=home, env=env)
        assert proc.returncode == 0, proc.stderr[-2000:]
        return json.loads(proc.stdout)  # exactly one JSON document

    added = cli("conditions", "add", str(library))
    assert [r["outcome"] for r in added["sources"]] == ["added"] * 5 and added["not_in_metadata"] == []
    ids = {Path(r["file"]).name: r["source_id"] for r in added["sources"]}
    spanish = ids["ovdh_violencia_2024_es.pdf"]
    translation = cli(
        "conditions", "translate", spanish, str(DEMO_DATA / "translations" / "ovdh_violencia_2024_es.en.pdf"),
        "--translator", "Sam Translator (fictional)", "--address", "2 Example Avenue; Queens, NY 11100",
        "--phone", "(718) 555-0199", "--signed-electronically",
    )  # fmt: skip
    assert translation["pages"] == [1, 2]
    stale = cli("conditions", "list", "--country", "XV", "--stale")
    assert [r["id"] for r in stale] == [ids["state_2023_valdoria.pdf"]]
    hits = cli("conditions", "search", "violencia doméstica", "--country", "XV")
    assert hits[0]["source_id"] == spanish
    compared = cli(
        "conditions", "compare", "XV", "2023", "2024", "--series", "Country Reports on Human Rights Practices"
    )
    assert {t["topic"] for t in compared["topics"] if t["dropped"]} >= {"domestic-violence", "lgbtq"}

    case_id = new_case_cli(home)
    practice_init_cli(home, dhs_office=False)
    selection = tmp_path / "selection.yaml"
    proposed = cli(
        "conditions", "propose", case_id, "--country", "XV", "--topics", "gangs,domestic-violence",
        "-o", str(selection),
    )  # fmt: skip
    assert proposed["file"] == str(selection) and proposed["pages"] > 0
    # The advocate keeps the superseded 2023 edition, with the reason.
    text = selection.read_text()
    older = ids["state_2023_valdoria.pdf"]
    block = re.search(rf"  - source: {older}\n(?:    .*\n|      .*\n)*", text)
    assert block is not None
    edited = block.group(0).replace("keep: false", "keep: true", 1)
    edited = edited.replace('reason: ""', 'reason: "the 2024 edition omits the section on women"')
    selection.write_text(text.replace(block.group(0), edited))

    preview = tmp_path / "preview.pdf"
    bundle = cli("conditions", "bundle", case_id, str(selection), "-o", str(preview))
    assert bundle["exhibits"] == 5 and preview.read_bytes().startswith(b"%PDF-")
    assert {s["source_id"] for s in bundle["sources"]} >= {older, spanish}
    assert cli("conditions", "bundles", case_id)[0]["active"] is True

    built = cli(
        "packet", "build", case_id, "--service-date", "2027-02-01",
        "--service-office", DEMO_DHS_OFFICE, "--service-address", "; ".join(DEMO_DHS_ADDRESS),
    )  # fmt: skip
    out = tmp_path / "packet"
    (part,) = cli("packet", "get", case_id, "-o", str(out))["files"]
    check = run_cli("packet", "check", part["path"], "--profile", "eoir", "--json", home=home)
    assert check.returncode == 0, check.stdout
    manifest = json.loads((out / f"{built['build_id']}-manifest.json").read_text())
    assert manifest["conditions"]["bundle_id"] == bundle["bundle_id"]
    assert manifest["conditions"]["exhibits"] == ["1", "2", "3", "4", "5"]

    # A selection with a problem is refused before anything runs, naming its line.
    broken = tmp_path / "broken.yaml"
    broken.write_text(text.replace("element: ", "element: bravery-", 1))
    refused = run_cli("conditions", "bundle", case_id, str(broken), "--json", home=home, env=env)
    assert refused.returncode == 2
    assert re.search(r"line \d+: element 'bravery-", json.loads(refused.stdout)["error"]["message"])


@pytest.mark.prefect
def test_the_bundle_flow_is_deployed_with_the_others(home: Path) -> None:
    from casefile.flows.deployments import build_deployments
    from casefile.tasks.core.settings import load_settings

    deployments = {(d.flow_name, d.name): d for d in build_deployments(load_settings())}
    bundle = deployments[("conditions-bundle", "on-request")]
    assert bundle.entrypoint == "casefile.flows.conditions.conditions_bundle_flow"
    assert not bundle.schedules
    assert {("build-packet", "on-demand"), ("chase-overdue", "scheduled"), ("poll-inbox", "scheduled")} <= set(
        deployments
    )
