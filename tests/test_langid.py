"""Language identification on short, long and mixed English/Spanish text (Lingua, no OCR involved)."""

from __future__ import annotations

import pytest

from casefile.tasks.documents.language import LanguageGuess, detect_language, detector, from_tesseract

ENGLISH_PAGE = """Bronx Example Medical Center (fictional)
Ms. Quiroga Test is a 33-year-old woman who arrived in the United States in October 2023.
She reports that two armed men forced their way into her house and struck her left arm with a metal pipe.
Since then she has had daily headaches, difficulty falling asleep and nightmares."""

EN_ES = ("en", "es")
SPANISH_PAGE = """Comisaría de San Isidro (ficticia)
La denunciante manifiesta que dos hombres con el rostro cubierto ingresaron por la fuerza a su vivienda.
Los agresores le exigieron que abandonara el barrio; ella interpreta estas palabras como una amenaza de muerte.
Fue atendida esa misma noche por un médico del servicio de urgencias."""


def test_english_page() -> None:
    assert detect_language(ENGLISH_PAGE) == LanguageGuess("en", {"en": 1.0})


def test_spanish_page() -> None:
    assert detect_language(SPANISH_PAGE) == LanguageGuess("es", {"es": 1.0})


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("amenaza de muerte", "es"),
        ("denuncia por lesiones", "es"),
        ("certificado médico", "es"),
        ("fracture of the left arm", "en"),
        ("expelled from school", "en"),
        ("Date of birth: March 14, 1990", "en"),
    ],
)
def test_short_text(text: str, language: str) -> None:
    """Among English and Spanish (a practice whose clients speak those): two-word Spanish phrases can read as
    Portuguese once Portuguese is a candidate too, which is why a document's language is a person's decision."""
    assert detect_language(text, languages=EN_ES).language == language


@pytest.mark.parametrize("text", ["", "   \n ", "p. 3", "12/03/2024 - 000123", "médico"])
def test_too_little_text_has_no_language(text: str) -> None:
    assert detect_language(text) == LanguageGuess(None, {})
    assert detect_language(text, languages=EN_ES) == LanguageGuess(None, {})


def test_mixed_page_reports_both_languages() -> None:
    english = ENGLISH_PAGE.splitlines()[1:3]
    spanish = SPANISH_PAGE.splitlines()[1:3]
    guess = detect_language("\n".join(english + spanish))
    assert set(guess.shares) == {"en", "es"}
    assert all(0.3 < share < 0.7 for share in guess.shares.values())
    assert sum(guess.shares.values()) == pytest.approx(1.0)
    assert guess.language == max(guess.shares, key=lambda code: guess.shares[code])


def test_mixed_page_majority() -> None:
    mostly_spanish = "\n".join([*SPANISH_PAGE.splitlines(), ENGLISH_PAGE.splitlines()[1]])
    guess = detect_language(mostly_spanish)
    assert guess.language == "es"
    assert 0 < guess.shares["en"] < guess.shares["es"]


def test_long_page_in_chunks() -> None:
    page = "\n".join([ENGLISH_PAGE] * 4 + [SPANISH_PAGE])
    guess = detect_language(page)
    assert guess.language == "en"
    assert guess.shares["es"] == pytest.approx(0.2, abs=0.1)


def test_more_candidate_languages() -> None:
    french = "Le patient déclare avoir été agressé à son domicile par deux hommes armés."
    assert detect_language(french, languages=("en", "es", "fr")).language == "fr"


def test_tesseract_spec_to_iso_codes() -> None:
    assert from_tesseract("eng+spa") == ("en", "es")
    assert from_tesseract("eng+spa+osd+chi_sim+fra") == ("en", "es", "fr")


def test_bad_candidates() -> None:
    with pytest.raises(ValueError):
        detector(("en",))
    with pytest.raises(ValueError):
        detector(("en", "xx"))
