"""Finding cases by what a person remembers of them: the client's name (any order, case and accents ignored), the
A-number (with or without the A, dashes or spaces) or the case id."""

from __future__ import annotations

import re
import unicodedata
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from ..core.catalog import Case

if TYPE_CHECKING:
    from ..core.runtime import Runtime

MAX_QUERY = 200


def fold(text: str) -> str:
    """Lower case without accents: "Quiroga Núñez" -> "quiroga nunez"."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def _digits(text: str) -> str:
    return re.sub(r"[\s\-.]", "", text.strip()).upper().removeprefix("A")


def find_cases(rt: Runtime, text: str, *, limit: int = 50) -> list[dict[str, Any]]:
    """Cases whose id, A-number or client name matches ``text``: an exact id first, then A-numbers, then names that
    contain every word typed. Summaries as `casefile case list` gives them."""
    from .case import case_summary

    text = text.strip()[:MAX_QUERY]
    if not text:
        return []
    words = fold(text).split()
    digits = _digits(text)
    wanted_id = text.upper()
    with rt.catalog.session() as session:
        rows = session.execute(select(Case.id, Case.a_number, Case.client_name)).all()
        scored: list[tuple[int, str]] = []
        for case_id, a_number, name in rows:
            if case_id == wanted_id:
                scored.append((0, case_id))
            elif digits.isdigit() and len(digits) >= 3 and digits in a_number:
                scored.append((1, case_id))
            elif words and all(w in fold(name) for w in words):
                scored.append((2, case_id))
            elif len(wanted_id) >= 3 and case_id.startswith(wanted_id):
                scored.append((3, case_id))
        scored.sort()
        cases = [session.get(Case, case_id) for _rank, case_id in scored[:limit]]
        return [case_summary(rt, c) for c in cases if c is not None]
