"""Kinds of documents an advocate files (``document_types.toml``): the keys `casefile add --type` takes, and labels."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..core.config import TomlTable
from ..core.errors import ValidationError

if TYPE_CHECKING:
    from ..core.settings import Settings

DOCUMENT_TYPES_FILE = "document_types.toml"
UNCLASSIFIED = "unclassified"
REQUEST = "request"  # letters, forms and follow-ups the practice sends to request records
TRANSLATION = "translation"  # English translations, linked to their document
COUNTRY_CONDITIONS = "country-conditions"


@dataclass(frozen=True)
class DocumentTypes:
    labels: dict[str, str] = field(default_factory=dict)  # key -> label, in the file's order

    def check(self, key: str) -> str:
        if key not in self.labels:
            raise ValidationError(f"Unknown document type {key!r}; use one of: {', '.join(self.labels)}.")
        return key

    def label(self, key: str) -> str:
        return self.labels.get(key, key)


def load_document_types(settings: Settings) -> DocumentTypes:
    types = TomlTable.load(settings.config_dir, DOCUMENT_TYPES_FILE).table("types")
    labels = {str(key): str(types.get(key, str)) for key in types.data}
    for required in (UNCLASSIFIED, REQUEST, TRANSLATION, COUNTRY_CONDITIONS):
        if required not in labels:
            raise types.fail(required, "is missing (casefile uses this type itself)")
    return DocumentTypes(labels)
