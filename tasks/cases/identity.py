"""The identity cross-check: does a document of a case name another person than its client?

A document filed in the wrong case, or another person's record, is easy to miss among a hundred pages. Its text
(text layer or OCR, from the catalog) is read for A-numbers (``A123-456-789``, or after a label such as "A-number:")
and for the names on a record's subject line ("Patient:", "Paciente:", "Student:", "Alumno:", "Respondent:", ...).
An A-number that is not the case's, or a subject name that shares no word with the client's (nor with the person a
record request was for, a child say) is flagged, by document and page, for a person to confirm (`casefile doc set
DOC-ID --identity-confirmed`). Nothing is blocked, and the values themselves are never logged nor put in a flag:
only the document id, the page number and what kind of value differs.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from ..core.catalog import Case, Document, Page, RecordRequest
from ..documents.types import REQUEST, TRANSLATION

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

_DIGITS = r"(\d{3}[\s.\-]?\d{3}[\s.\-]?\d{2,3})(?!\d)"
A_NUMBER = re.compile(
    r"(?:(?<![A-Za-z0-9])A\s?[#:.\-]?\s?" + _DIGITS + r")|(?:(?:A-?\s?(?:number|no\.?|#)|alien\s+(?:registration\s+)?"
    r"(?:number|no\.?)|n[uú]mero\s+(?:de\s+)?(?:extranjero|registro\s+de\s+extranjero)|n[uú]mero\s+A)\)?\s*[:#]?\s*"
    + _DIGITS
    + ")",
    re.IGNORECASE,
)
# The subject line of a record: whose record it is. A bare "Name:" is not one (a letter's writer signs with it).
SUBJECT = re.compile(
    r"^[ \t]*(?:patient(?:'s)?(?:\s+name)?|name\s+of\s+(?:the\s+)?patient|paciente|nombre\s+del\s+paciente|"
    r"student(?:'s)?(?:\s+name)?|alumno|alumna|estudiante|nombre\s+del\s+(?:alumno|estudiante)|respondent|"
    r"applicant|solicitante|denunciante|agraviad[oa]|v[ií]ctima)[ \t]*[:：][ \t]*([^\n]{2,80})$",
    re.IGNORECASE | re.MULTILINE,
)
_WORD = re.compile(r"[^\W\d_]{2,}")


@dataclass(frozen=True)
class IdentityFlag:
    document_id: str
    page: int
    kind: str  # "a-number" | "name"

    def line(self) -> str:
        what = "an A-number that is not the client's" if self.kind == "a-number" else "another person's name"
        return (
            f"document {self.document_id} page {self.page}: its text has {what}; confirm it belongs in this case "
            f"(`casefile doc show {self.document_id} --text --page {self.page}`, then `casefile doc set "
            f"{self.document_id} --identity-confirmed`) or remove it"
        )

    def as_dict(self) -> dict[str, Any]:
        return {"document": self.document_id, "page": self.page, "kind": self.kind, "message": self.line()}


def _words(text: str) -> set[str]:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").casefold()
    return {w for w in _WORD.findall(folded) if len(w) >= 3}


def page_flags(text: str, a_number: str, names: list[set[str]]) -> set[str]:
    """The kinds of identity values on a page that differ from the case's (``a_number``: 9 digits; ``names``: the
    words of each name the case's records may carry)."""
    kinds: set[str] = set()
    for match in A_NUMBER.finditer(text):
        digits = re.sub(r"\D", "", match.group(1) or match.group(2) or "")
        if len(digits) in (8, 9) and digits.zfill(9) != a_number:
            kinds.add("a-number")
    for match in SUBJECT.finditer(text):
        found = _words(re.split(r"\s{3,}|[,;|(]", match.group(1))[0])
        if found and not any(found & name for name in names):
            kinds.add("name")
    return kinds


def identity_flags(session: Session, case: Case, document_ids: list[str] | None = None) -> list[IdentityFlag]:
    """Flags for the case's ready documents (or ``document_ids``), by document and page; documents a person
    confirmed, translations and the practice's own request letters are not read."""
    names = [_words(case.client_name)]
    for subject in session.scalars(
        select(RecordRequest.subject_name).where(
            RecordRequest.case_id == case.id, RecordRequest.subject_name.is_not(None)
        )
    ):
        names.append(_words(subject or ""))
    query = select(Document.id).where(
        Document.case_id == case.id,
        Document.status == "ready",
        Document.identity_confirmed_at.is_(None),
        Document.doc_type.not_in([TRANSLATION, REQUEST]),
    )
    if document_ids is not None:
        query = query.where(Document.id.in_(document_ids))
    wanted = set(session.scalars(query))
    flags: list[IdentityFlag] = []
    if not wanted:
        return flags
    rows = session.execute(
        select(Page.document_id, Page.number, Page.text)
        .where(Page.document_id.in_(wanted), Page.text.is_not(None))
        .order_by(Page.document_id, Page.number)
    )
    for document_id, number, text in rows:
        for kind in sorted(page_flags(text or "", case.a_number, names)):
            flags.append(IdentityFlag(document_id, number, kind))
    return flags
