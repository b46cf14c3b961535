"""What the check reports: ``Finding``s in a ``CheckReport``.

A finding has a stable code, a severity, the file name and the 1-based page in that file, and a message that says
what to do; it never quotes page text, exhibit titles or names (only file names, page numbers, labels, codes, counts
and font names). ``Findings`` collects them while the check runs: a problem repeated on many pages gives
``MAX_FINDINGS_PER_CODE`` findings per file and code, then one that counts the rest.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .pdffile import PdfFile

ERROR = "error"
WARNING = "warning"
MAX_FINDINGS_PER_CODE = 20  # per file and code; the rest are counted in one more finding


@dataclass(frozen=True)
class Finding:
    code: str  # stable machine code ("page-size", "numbering-gap", ...)
    severity: str  # "error" | "warning"
    message: str  # names the file and page and what to do; never page text
    file: str  # file name only
    page: int | None  # 1-based page in that file
    exhibit: str | None = None  # the exhibit's label when the problem is in an exhibit's pages (not a template page)


@dataclass(frozen=True)
class CheckReport:
    profile: str
    files: list[dict[str, Any]]  # per file: name, pages, bytes, sha256, first_number, last_number
    findings: list[Finding]

    @property
    def ok(self) -> bool:
        """No error-severity finding (warnings allowed)."""
        return not any(f.severity == ERROR for f in self.findings)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == ERROR]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity != ERROR]

    def to_dict(self) -> dict[str, Any]:
        return {
            "profile": self.profile,
            "ok": self.ok,
            "files": [dict(f) for f in self.files],
            "findings": [asdict(f) for f in self.findings],
        }


class Findings:
    """Collects findings, capping each (file, code) at MAX_FINDINGS_PER_CODE with one more that counts the rest."""

    def __init__(self) -> None:
        self.items: list[Finding] = []
        self._counts: dict[tuple[str, str], int] = {}
        self._severity: dict[tuple[str, str], str] = {}

    def add(
        self, code: str, severity: str, file: str, page: int | None, message: str, exhibit: str | None = None
    ) -> None:
        key = (file, code)
        count = self._counts.get(key, 0) + 1
        self._counts[key] = count
        if count <= MAX_FINDINGS_PER_CODE:
            self.items.append(Finding(code, severity, message, file, page, exhibit))
        elif severity == ERROR:
            self._severity[key] = ERROR
        else:
            self._severity.setdefault(key, severity)

    def finish(self) -> list[Finding]:
        out = list(self.items)
        for (file, code), count in self._counts.items():
            if count > MAX_FINDINGS_PER_CODE:
                more = count - MAX_FINDINGS_PER_CODE
                out.append(
                    Finding(
                        code,
                        self._severity[(file, code)],
                        f"{file}: {more} more page(s) with the same problem ({code}) are not listed one by one.",
                        file,
                        None,
                    )
                )
        return out


def place(where: Sequence[tuple[PdfFile, int]], g: int) -> tuple[str, int]:
    info, index = where[g]
    return info.name, index + 1
