"""The practice (law office or nonprofit): its name and contact details and the people who sign and advocate.

One typed model of ``practice.toml``, loaded by ``load_practice(settings)`` (through ``rt.config(load_practice)``) and
used by the packet builder (filer and signer) and by record requests (letterhead, advocates, supervisors).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .config import TomlTable
from .errors import ConfigError, ValidationError

if TYPE_CHECKING:
    from .settings import Settings

PRACTICE_FILE = "practice.toml"
SIGNING_ROLES = ("attorney", "accredited-representative")


@dataclass(frozen=True)
class Person:
    key: str
    name: str
    role: str  # attorney | accredited-representative | paralegal
    title: str
    email: str
    supervisor: str | None = None


@dataclass(frozen=True)
class Practice:
    name: str
    address_lines: tuple[str, ...]
    phone: str
    email: str
    eoir_id: str
    people: dict[str, Person] = field(default_factory=dict)

    def person(self, key: str) -> Person:
        try:
            return self.people[key]
        except KeyError:
            raise ValidationError(
                f"No person with key {key!r} in {PRACTICE_FILE}; use one of: {', '.join(self.people)}."
            ) from None

    def default_signer(self) -> Person:
        """The first attorney or accredited representative (else the first person)."""
        for person in self.people.values():
            if person.role in SIGNING_ROLES:
                return person
        return next(iter(self.people.values()))

    def default_advocate(self) -> Person:
        for person in self.people.values():
            if person.role == "attorney":
                return person
        return next(iter(self.people.values()))

    def letterhead(self) -> dict[str, Any]:
        """What templates print of the practice."""
        return {
            "name": self.name,
            "address_lines": list(self.address_lines),
            "phone": self.phone,
            "email": self.email,
        }


def load_practice(settings: Settings) -> Practice:
    root = TomlTable.load(settings.config_dir, PRACTICE_FILE)
    firm = root.table("practice")
    people: dict[str, Person] = {}
    for row in root.tables("people"):
        person = Person(
            key=row.get("key", str),
            name=row.get("name", str),
            role=row.get("role", str, "attorney"),
            title=row.get("title", str, ""),
            email=row.get("email", str),
            supervisor=row.get("supervisor", str, None),
        )
        people[person.key] = person
    if not people:
        raise ConfigError(f"{root.path}: no [[people]] entries; add the practice's advocates there.")
    for person in people.values():
        if person.supervisor is not None and person.supervisor not in people:
            raise ConfigError(
                f"{root.path}: the supervisor {person.supervisor!r} of {person.key!r} is not one of the [[people]]."
            )
    return Practice(
        name=firm.get("name", str, ""),
        address_lines=firm.strings("address_lines", ()),
        phone=firm.get("phone", str, ""),
        email=firm.get("email", str, ""),
        eoir_id=firm.get("eoir_id", str, ""),
        people=people,
    )
