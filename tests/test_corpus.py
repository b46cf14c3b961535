"""The corpus report (benchmarks/intake_corpus.py prints it): `casefile add` over every hostile and odd file of
tests/resources/corpus.py, then a packet of everything stored. Every file comes out as expected (stored, or refused
with its typed reason), no traceback is printed, no object is lost, and the packet builds and passes its check."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import load_resource

pytestmark = pytest.mark.prefect


def test_the_corpus_is_taken_in_without_a_traceback_or_a_lost_object(
    prefect_api: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CASEFILE_OCR_ENABLED", "false")  # intake is what is tried; OCR of these scans: test_hostile_*
    corpus = load_resource("corpus")
    expected = corpus.make_corpus(tmp_path / "corpus", outside=tmp_path)
    report = corpus.intake_report(tmp_path / "corpus", tmp_path / "home", expected)
    print(report.table())
    assert report.tracebacks == 0
    assert report.objects_lost == []
    assert report.unexpected == {}
    assert report.packet.startswith("built and checked"), report.packet
    assert report.tried == len(corpus.CORPUS) + 3  # a link, a FIFO, a hidden file
