"""The practice (law office or nonprofit): its name and letterhead, the people who sign and advocate, the DHS (ICE
OPLA) office it serves for each court, its saved translators, the reply address of its record requests, and the
languages of its clients.

One typed model of ``practice.toml``, loaded by ``load_practice(settings)`` (through ``practice_of(rt)``, read again
when the file changes) and used by the packet builder (filer and signer: each person's EOIR ID, the role printed
under their name, how they sign; the DHS office of the case's court), by record requests (letterhead, advocates,
supervisors, the signer's title in English and Spanish), by translations (saved translators) and by language
identification.

Where it is read from, first found: the practice's own file, ``$CASEFILE_HOME/practice.toml`` (or ``practice.toml`` in
the folder of the setting ``practice_dir``), which `casefile practice init/set` write (``practice_file``); a
``practice.toml`` in a practice's own copy of the config folder (setting ``config_dir``); else the packaged fictional
sample, for the demo (``Practice.sample``). ``Practice.placeholders`` names every fictional or placeholder value a
filing must not carry (the sample's, ``EXAMPLE`` EOIR IDs, example.org addresses): a packet build refuses them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .config import TomlTable
from .errors import ConfigError, ValidationError

if TYPE_CHECKING:
    from .runtime import Runtime
    from .settings import Settings

PRACTICE_FILE = "practice.toml"
SAMPLE_PRACTICE = (
    Path(__file__).resolve().parents[2] / "config" / PRACTICE_FILE
)  # the packaged fictional sample (the demo's practice)
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
class DhsOffice:
    """The DHS office a certificate of service names for a court: ICE's Office of the Principal Legal Advisor (OPLA)
    for that court, and its address."""

    court: str
    office: str
    address_lines: tuple[str, ...]


@dataclass(frozen=True)
class Translator:
    """A translator saved once (`casefile translator add`), named with ``--translator KEY`` afterwards: what their
    certificates say of them, and whether they sign certificates electronically ("/s/ Name")."""

    key: str
    name: str
    address: str  # lines separated by ";", as typed
    phone: str
    email: str = ""
    signs_electronically: bool = False


def court_key(court: str) -> str:
    """A court's name as compared: case and runs of spaces ignored."""
    return " ".join(court.split()).casefold()


@dataclass(frozen=True)
class Placeholder:
    """A fictional or placeholder value of the practice, and the command that replaces it (practice data, never
    client data)."""

    what: str
    value: str
    command: str

    def line(self) -> str:
        return f"{self.what} is {self.value!r}: {self.command}"


@dataclass(frozen=True)
class Practice:
    name: str
    address_lines: tuple[str, ...]
    phone: str
    email: str
    eoir_id: str  # the practice-wide EOIR ID of older practice.toml files; a person's own `eoir_id` wins
    people: dict[str, Person] = field(default_factory=dict)
    client_languages: tuple[str, ...] = DEFAULT_CLIENT_LANGUAGES
    reply_to: str = ""  # the reply address of record requests; default: ``email``
    dhs_offices: tuple[DhsOffice, ...] = ()
    translators: dict[str, Translator] = field(default_factory=dict)
    path: Path = SAMPLE_PRACTICE  # the file it was read from
    sample: bool = False  # the packaged fictional sample: no practice of the home's own

    def person(self, key: str) -> Person:
        try:
            return self.people[key]
        except KeyError:
            known = ", ".join(self.people) or "none yet"
            raise ValidationError(
                f"No person with key {key!r} in the practice ({self.path}); use one of: {known}. Add one with "
                f"`casefile practice person {key} --name ... --role attorney --email ...`."
            ) from None

    def _anyone(self) -> Person:
        if not self.people:
            raise ConfigError(
                f"The practice ({self.path}) has no people yet. Add who files and signs with `casefile practice "
                "person KEY --name ... --role attorney --eoir-id ... --email ...` (or `casefile practice init`)."
            )
        return next(iter(self.people.values()))

    def default_signer(self) -> Person:
        """The first attorney or accredited representative (else the first person)."""
        for person in self.people.values():
            if person.role in SIGNING_ROLES:
                return person
        return self._anyone()

    def filer(self, key: str | None) -> Person:
        """The person named as the filer (``key``, else the first who may file); ValidationError for a person who
        may not file (a paralegal)."""
        person = self.person(key) if key else self.default_signer()
        if person.role not in FILING_ROLES:
            allowed = ", ".join(p.key for p in self.people.values() if p.role in FILING_ROLES) or "none"
            raise ValidationError(
                f"{person.key!r} is a {person.role} in the practice and cannot be named as the filer; choose an "
                f"attorney or accredited representative ({allowed})."
            )
        return person

    def eoir_id_of(self, person: Person) -> str:
        return person.eoir_id or self.eoir_id

    def default_advocate(self) -> Person:
        for person in self.people.values():
            if person.role == "attorney":
                return person
        return self._anyone()

    def letterhead(self) -> dict[str, Any]:
        """What templates print of the practice."""
        return {
            "name": self.name,
            "address_lines": list(self.address_lines),
            "phone": self.phone,
            "email": self.email,
        }

    @property
    def reply_address(self) -> str:
        """Where answers to record requests go (the sender of their e-mails): ``reply_to``, else ``email``."""
        return self.reply_to or self.email

    def dhs_office_for(self, court: str) -> DhsOffice | None:
        wanted = court_key(court)
        return next((o for o in self.dhs_offices if court_key(o.court) == wanted), None)

    def translator(self, key: str) -> Translator | None:
        return self.translators.get(key.strip().lower())

    def placeholders(self, people: Iterable[str] | None = None, court: str | None = None) -> list[Placeholder]:
        """Every fictional or placeholder value a filing would print: the letterhead, ``people`` (keys; default
        everyone) with their EOIR IDs and e-mails, and the DHS office of ``court`` when the practice has one. The
        packaged sample is all placeholders."""
        found: list[Placeholder] = []

        def check(what: str, value: str, command: str) -> None:
            if value and is_placeholder(value):
                found.append(Placeholder(what, value, command))

        check("the practice's name", self.name, 'casefile practice set --name "..."')
        for line in self.address_lines:
            check("the practice's address", line, 'casefile practice set --address "line; line"')
        check("the practice's telephone", self.phone, 'casefile practice set --phone "..."')
        check("the practice's e-mail", self.email, "casefile practice set --email ...")
        keys = list(self.people) if people is None else [k for k in people if k in self.people]
        for key in keys:
            person = self.people[key]
            command = f"casefile practice person {key}"
            check(f"{key}'s name", person.name, f'{command} --name "..."')
            if person.role in SIGNING_ROLES:
                eoir_id = self.eoir_id_of(person)
                if not eoir_id:
                    found.append(Placeholder(f"{key}'s EOIR ID", "", f"{command} --eoir-id ..."))
                else:
                    check(f"{key}'s EOIR ID", eoir_id, f"{command} --eoir-id ...")
            check(f"{key}'s e-mail", person.email, f"{command} --email ...")
        if court is not None:
            office = self.dhs_office_for(court)
            if office is not None:
                command = f'casefile practice dhs-office "{office.court}" --office "..." --address "line; line"'
                check(f"the DHS office for {office.court}", office.office, command)
                for line in office.address_lines:
                    check(f"the DHS office's address for {office.court}", line, command)
        if self.sample and not found:  # the sample as a whole, even where a value looks real
            found.append(Placeholder("the practice", self.name, "casefile practice init"))
        return found


# Markers of sample data: the packaged sample's own values, "(fictional)", EXAMPLE EOIR IDs, PLACEHOLDER, the reserved
# example.com/.net/.org domains (RFC 2606) and the 555-01xx telephone numbers kept for fiction.
_MARKERS = re.compile(
    r"\(fictional\)|placeholder|^example\d*$|@example\.(?:com|net|org)\b|\bexample\.(?:com|net|org)$|555-01\d\d",
    re.IGNORECASE,
)


@cache
def _sample_values() -> frozenset[str]:
    try:
        sample = _read(SAMPLE_PRACTICE, sample=True)
    except ConfigError:
        return frozenset()
    values = {sample.name, sample.phone, sample.email, *sample.address_lines}
    for person in sample.people.values():
        values.update({person.name, person.email, person.eoir_id})
    return frozenset(v.strip().casefold() for v in values if v.strip())


def is_placeholder(value: str) -> bool:
    """Whether a practice value is a sample's or a placeholder (never a real practice's)."""
    text = value.strip()
    return bool(_MARKERS.search(text)) or text.casefold() in _sample_values()


def practice_source(settings: Settings) -> tuple[Path, bool]:
    """The practice file the settings read, and whether it is the packaged fictional sample."""
    own = settings.practice_file
    if own.is_file():
        return own, own.resolve() == SAMPLE_PRACTICE.resolve()
    copied = settings.config_dir / PRACTICE_FILE
    if copied.resolve() != SAMPLE_PRACTICE.resolve() and copied.is_file():
        return copied, False
    return SAMPLE_PRACTICE, True


def load_practice(settings: Settings, stamp: object = None) -> Practice:
    """The practice of these settings (see the module docstring for where it is read from). ``stamp`` (ignored) keys
    the runtime's cache: ``practice_of`` passes the file's modification time."""
    path, sample = practice_source(settings)
    return _read(path, sample=sample)


def practice_stamp(settings: Settings) -> tuple[str, int]:
    """Which practice file the settings read and when it last changed: a long-running process (`casefile serve`'s
    flows) sees a change made with `casefile practice ...` at its next run."""
    path, _sample = practice_source(settings)
    try:
        return str(path), path.stat().st_mtime_ns
    except OSError:
        return str(path), 0


def practice_of(rt: Runtime) -> Practice:
    """The runtime's practice, read again when its file changed."""
    return rt.config(load_practice, practice_stamp(rt.settings))


def read_practice_file(path: Path) -> Practice:
    """A practice file as written (what `casefile practice` checks before it replaces the file)."""
    return _read(path, sample=path.resolve() == SAMPLE_PRACTICE.resolve())


def _read(path: Path, *, sample: bool) -> Practice:
    root = TomlTable.load(path.parent, path.name)
    firm = root.table("practice", {})
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
            email=row.get("email", str, ""),
            supervisor=row.get("supervisor", str, None),
            eoir_id=row.get("eoir_id", str, ""),
            filer_role=row.get("filer_role", str, ""),
            title_es=row.get("title_es", str, ""),
            signature=row.choice("signature", SIGNATURES, "none"),
            signature_image=image_path,
        )
        if person.key in people:
            raise row.fail("key", f"is {person.key!r}, which another person already has")
        people[person.key] = person
    for person in people.values():
        if person.supervisor is not None and person.supervisor not in people:
            raise ConfigError(
                f"{root.path}: the supervisor {person.supervisor!r} of {person.key!r} is not one of the [[people]]."
            )
    offices = tuple(
        DhsOffice(
            court=row.get("court", str),
            office=row.get("office", str),
            address_lines=row.strings("address_lines", ()),
        )
        for row in root.tables("dhs_offices")
    )
    translators: dict[str, Translator] = {}
    for row in root.tables("translators"):
        translator = Translator(
            key=row.get("key", str).strip().lower(),
            name=row.get("name", str),
            address=row.get("address", str, ""),
            phone=row.get("phone", str, ""),
            email=row.get("email", str, ""),
            signs_electronically=row.choice("signature", SIGNATURES, "none") == "electronic",
        )
        translators[translator.key] = translator
    return Practice(
        name=firm.get("name", str, ""),
        address_lines=firm.strings("address_lines", ()),
        phone=firm.get("phone", str, ""),
        email=firm.get("email", str, ""),
        eoir_id=firm.get("eoir_id", str, ""),
        people=people,
        client_languages=firm.strings("client_languages", DEFAULT_CLIENT_LANGUAGES),
        reply_to=firm.get("reply_to", str, ""),
        dhs_offices=offices,
        translators=translators,
        path=root.path,
        sample=sample,
    )
