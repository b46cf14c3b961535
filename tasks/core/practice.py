"""The practice (law office or nonprofit): its name and contact details, the people who sign and advocate, and the
languages of its clients.

One typed model of ``practice.toml``, loaded by ``load_practice(settings)`` (through ``rt.config(load_practice)``) and
used by the packet builder (filer and signer: each person's EOIR ID, the role printed under their name, how they
sign), by record requests (letterhead, advocates, supervisors, the signer's title in English and Spanish) and by
language identification (``client_languages``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .config import TomlTable
from .errors import ConfigError, ValidationError

if TYPE_CHECKING:
    from .settings import Settings

PRACTICE_FILE = "practice.toml"
ROLES = ("attorney", "accredited-representative", "paralegal", "pro-se")
SIGNING_ROLES = ("attorney", "accredited-representative")
FILING_ROLES = (*SIGNING_ROLES, "pro-se")  # who may be named as the filer on a cover page
# What the cover page prints under the filer's name when practice.toml gives no `filer_role` for the person.
DEFAULT_FILER_ROLES = {
    "attorney": "Attorney for the Respondent",
    "accredited-representative": "Accredited Representative",
    "pro-se": "Respondent, pro se",
}
# The signer's title in Spanish letters when practice.toml gives no `title_es` for the person.
DEFAULT_TITLES_ES = {
    "attorney": "Abogada/Abogado de la persona interesada",
    "accredited-representative": "Representante acreditada/o de la persona interesada",
    "paralegal": "Asistente legal",
    "pro-se": "Persona interesada",
}
SIGNATURES = ("electronic", "none")  # electronic: "/s/ Name" is printed where the person signs
# Languages of a practice's clients by default (ISO 639-1; K'iche' has only the ISO 639-3 code "quc").
DEFAULT_CLIENT_LANGUAGES = ("en", "es", "pt", "fr", "ht", "quc")


@dataclass(frozen=True)
class Person:
    key: str
    name: str
    role: str  # one of ROLES
    title: str
    email: str
    supervisor: str | None = None
    eoir_id: str = ""  # the person's own EOIR ID (attorneys and accredited representatives), on the cover page
    filer_role: str = ""  # printed under the filer's name on the cover page, e.g. "Attorney for the Respondent"
    title_es: str = ""  # the title in Spanish letters
    signature: str = "none"  # electronic: "/s/ Name"; none: signs by hand (unless signature_image is set)
    signature_image: Path | None = None  # an image of the person's signature (PNG or JPEG), printed where they sign

    @property
    def printed_role(self) -> str:
        """The role under the filer's name on a cover page."""
        return self.filer_role or DEFAULT_FILER_ROLES.get(self.role, self.title)

    def title_for(self, language: str) -> str:
        if language == "es":
            return self.title_es or DEFAULT_TITLES_ES.get(self.role, self.title)
        return self.title

    @property
    def signs_electronically(self) -> bool:
        return self.signature == "electronic" or self.signature_image is not None


@dataclass(frozen=True)
class Practice:
    name: str
    address_lines: tuple[str, ...]
    phone: str
    email: str
    eoir_id: str  # the practice-wide EOIR ID of older practice.toml files; a person's own `eoir_id` wins
    people: dict[str, Person] = field(default_factory=dict)
    client_languages: tuple[str, ...] = DEFAULT_CLIENT_LANGUAGES

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

    def filer(self, key: str | None) -> Person:
        """The person named as the filer (``key``, else the first who may file); ValidationError for a person who
        may not file (a paralegal)."""
        person = self.person(key) if key else self.default_signer()
        if person.role not in FILING_ROLES:
            allowed = ", ".join(p.key for p in self.people.values() if p.role in FILING_ROLES) or "none"
            raise ValidationError(
                f"{person.key!r} is a {person.role} in {PRACTICE_FILE} and cannot be named as the filer; choose an "
                f"attorney or accredited representative ({allowed})."
            )
        return person

    def eoir_id_of(self, person: Person) -> str:
        return person.eoir_id or self.eoir_id

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
        image = row.get("signature_image", str, None)
        image_path = None
        if image:
            image_path = (root.path.parent / image).resolve()
            if image_path.suffix.lower() not in (".png", ".jpg", ".jpeg") or not image_path.is_file():
                raise row.fail("signature_image", f"names {image_path}, which is not a PNG or JPEG file")
        person = Person(
            key=row.get("key", str),
            name=row.get("name", str),
            role=row.choice("role", ROLES, "attorney"),
            title=row.get("title", str, ""),
            email=row.get("email", str),
            supervisor=row.get("supervisor", str, None),
            eoir_id=row.get("eoir_id", str, ""),
            filer_role=row.get("filer_role", str, ""),
            title_es=row.get("title_es", str, ""),
            signature=row.choice("signature", SIGNATURES, "none"),
            signature_image=image_path,
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
        client_languages=firm.strings("client_languages", DEFAULT_CLIENT_LANGUAGES),
    )
