"""Record-request rules and the provider directory, read from config/record_types.toml and config/providers.toml.

Everything is validated when loaded: a missing or wrong value is a ``ConfigError`` that names the file and the key,
so a practice that edits the files learns exactly what to fix.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from itertools import pairwise
from pathlib import Path
from typing import Any

from casefile.tasks.core.config import load_toml
from casefile.tasks.core.errors import ConfigError, ValidationError

RECORD_TYPES_FILE = "record_types.toml"
PROVIDERS_FILE = "providers.toml"
PRACTICE_FILE = "practice.toml"
LANGUAGES = ("en", "es")


class Channel(StrEnum):
    EMAIL = "email"
    MAIL = "mail"
    FAX = "fax"
    PORTAL = "portal"


class DayUnit(StrEnum):
    CALENDAR = "calendar"
    BUSINESS = "business"


@dataclass(frozen=True)
class EscalationStep:
    step: int
    kind: str  # follow-up | escalation
    days_after_due: int
    to: str  # provider | supervisor


@dataclass(frozen=True)
class Form:
    key: str
    label: str
    signer: str
    templates: dict[str, str]
    label_es: str | None = None

    def label_for(self, language: str) -> str:
        return self.label_es if language == "es" and self.label_es else self.label

    def template(self, language: str) -> str:
        return self.templates.get(language) or self.templates["en"]


@dataclass(frozen=True)
class RecordType:
    key: str
    label: str
    legal_basis: str
    unit: DayUnit
    days: int
    extension_days: int
    roll_forward: bool
    authorization: str | None  # a Form key, None for "none"
    enclosures: tuple[str, ...]
    letters: dict[str, str]
    document_type: str
    escalation: tuple[EscalationStep, ...]
    agency: str | None = None
    label_es: str | None = None  # for letters in Spanish; the English text when absent
    legal_basis_es: str | None = None

    def label_for(self, language: str) -> str:
        return self.label_es if language == "es" and self.label_es else self.label

    def legal_basis_for(self, language: str) -> str:
        return self.legal_basis_es if language == "es" and self.legal_basis_es else self.legal_basis

    def letter_template(self, language: str) -> str:
        return self.letters.get(language) or self.letters["en"]

    @property
    def family(self) -> str:
        return Path(self.letters["en"]).name.removeprefix("letter_").split(".")[0]


@dataclass(frozen=True)
class Provider:
    key: str
    name: str
    address_lines: tuple[str, ...]
    email: str | None
    phone: str | None
    fax: str | None
    language: str
    channel: Channel
    serves: tuple[str, ...]


@dataclass(frozen=True)
class Person:
    key: str
    name: str
    role: str
    title: str
    email: str
    supervisor: str | None


@dataclass(frozen=True)
class RequestConfig:
    types: dict[str, RecordType]
    forms: dict[str, Form]
    providers: dict[str, Provider]
    practice: dict[str, Any]
    people: dict[str, Person] = field(default_factory=dict)

    def record_type(self, key: str) -> RecordType:
        try:
            return self.types[key]
        except KeyError:
            raise ValidationError(
                f"Unknown record type {key!r}; use one of: {', '.join(self.types)} (config/{RECORD_TYPES_FILE})."
            ) from None

    def provider(self, key: str) -> Provider:
        try:
            return self.providers[key]
        except KeyError:
            raise ValidationError(
                f"No provider with key {key!r} in config/{PROVIDERS_FILE}. Add it there, or use one of: "
                f"{', '.join(sorted(self.providers))}."
            ) from None

    def person(self, key: str) -> Person:
        try:
            return self.people[key]
        except KeyError:
            raise ValidationError(
                f"No person with key {key!r} in config/{PRACTICE_FILE}; use one of: {', '.join(self.people)}."
            ) from None

    def default_advocate(self) -> Person:
        for person in self.people.values():
            if person.role == "attorney":
                return person
        return next(iter(self.people.values()))


# Loading ------------------------------------------------------------------------------------------------------
class _Reader:
    """Typed access to one TOML table; every failure names the file and the dotted key."""

    def __init__(self, path: Path, data: dict[str, Any], where: str) -> None:
        self.path, self.data, self.where = path, data, where

    def _fail(self, key: str, what: str) -> ConfigError:
        return ConfigError(f"{self.path}: the key {self.where}.{key} {what}. Fix it in that file.")

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = ...) -> Any:
        if key not in self.data:
            if default is ...:
                raise self._fail(key, "is missing")
            return default
        value = self.data[key]
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
            names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
            raise self._fail(key, f"must be a {names}")
        return value

    def table(self, key: str, default: Any = ...) -> _Reader:
        value = self.get(key, dict, default)
        return _Reader(self.path, value if isinstance(value, dict) else {}, f"{self.where}.{key}")

    def choice(self, key: str, choices: type[StrEnum] | tuple[str, ...], default: Any = ...) -> str:
        value = self.get(key, str, default)
        allowed = tuple(c.value for c in choices) if isinstance(choices, type) else choices
        if value not in allowed:
            raise self._fail(key, f"is {value!r}; use one of: {', '.join(allowed)}")
        return str(value)

    def nonneg(self, key: str, default: Any = ...) -> int:
        value = int(self.get(key, int, default))
        if value < 0:
            raise self._fail(key, "must not be negative")
        return value


def _escalation(path: Path, table: _Reader) -> tuple[EscalationStep, ...]:
    raw = table.get("steps", list)
    steps: list[EscalationStep] = []
    for index, item in enumerate(raw):
        if not isinstance(item, dict):
            raise ConfigError(f"{path}: {table.where}.steps[{index}] must be a table. Fix it in that file.")
        r = _Reader(path, item, f"{table.where}.steps[{index}]")
        steps.append(
            EscalationStep(
                step=r.nonneg("step"),
                kind=r.choice("kind", ("follow-up", "escalation")),
                days_after_due=r.nonneg("days_after_due"),
                to=r.choice("to", ("provider", "supervisor")),
            )
        )
    numbers = [s.step for s in steps]
    if numbers != list(range(1, len(steps) + 1)) or any(
        a.days_after_due > b.days_after_due for a, b in pairwise(steps)
    ):
        raise ConfigError(
            f"{path}: {table.where}.steps must be numbered 1, 2, 3... with days_after_due not decreasing. "
            "Fix it in that file."
        )
    return tuple(steps)


def _templates(reader: _Reader, key: str) -> dict[str, str]:
    table = reader.table(key)
    out = {lang: str(table.get(lang, str)) for lang in LANGUAGES if lang in table.data}
    if "en" not in out:
        raise reader._fail(f"{key}.en", "is missing (every letter and form needs an English template)")
    unknown = set(table.data) - set(LANGUAGES)
    if unknown:
        raise reader._fail(f"{key}.{sorted(unknown)[0]}", f"is not a supported language ({', '.join(LANGUAGES)})")
    return out


def load_request_config(config_dir: Path, templates_dir: Path | None = None) -> RequestConfig:
    """Read and check the record types, forms, providers and practice people. ``templates_dir``: also check that
    every template named exists there."""
    rt_path = config_dir / RECORD_TYPES_FILE
    root = _Reader(rt_path, load_toml(config_dir, RECORD_TYPES_FILE), "")
    root.where = ""
    default_escalation = _escalation(rt_path, _Reader(rt_path, root.get("escalation", dict), "escalation"))

    forms: dict[str, Form] = {}
    for key, raw in root.get("forms", dict).items():
        r = _Reader(rt_path, raw if isinstance(raw, dict) else {}, f"forms.{key}")
        forms[key] = Form(
            key,
            r.get("label", str),
            r.choice("signer", ("client", "none")),
            _templates(r, "templates"),
            r.get("label_es", str, None),
        )

    types: dict[str, RecordType] = {}
    for key, raw in root.get("types", dict).items():
        r = _Reader(rt_path, raw if isinstance(raw, dict) else {}, f"types.{key}")
        response = r.table("response")
        authorization = r.get("authorization", str, "none")
        enclosures = tuple(r.get("enclosures", list, []))
        for form_key in (authorization, *enclosures):
            if form_key != "none" and form_key not in forms:
                raise r._fail("authorization", f"names the form {form_key!r}, which is not in [forms]")
        escalation = default_escalation
        if "escalation" in r.data:
            escalation = _escalation(rt_path, r.table("escalation"))
        types[key] = RecordType(
            key=key,
            label=r.get("label", str),
            legal_basis=r.get("legal_basis", str),
            label_es=r.get("label_es", str, None),
            legal_basis_es=r.get("legal_basis_es", str, None),
            unit=DayUnit(response.choice("unit", DayUnit)),
            days=response.nonneg("days"),
            extension_days=r.nonneg("extension", 0),
            roll_forward=bool(r.get("roll_forward", bool, False)),
            authorization=None if authorization == "none" else authorization,
            enclosures=enclosures,
            letters=_templates(r, "letter"),
            document_type=r.get("document_type", str, "other"),
            escalation=escalation,
            agency=r.get("agency", str, None),
        )
    if not types:
        raise ConfigError(f"{rt_path}: no [types.*] tables. Restore the file from the repository.")

    pv_path = config_dir / PROVIDERS_FILE
    providers: dict[str, Provider] = {}
    for key, raw in _Reader(pv_path, load_toml(config_dir, PROVIDERS_FILE), "").get("providers", dict).items():
        r = _Reader(pv_path, raw if isinstance(raw, dict) else {}, f"providers.{key}")
        serves = tuple(str(s) for s in r.get("serves", list, []))
        for served in serves:
            if served not in types:
                raise r._fail("serves", f"names the record type {served!r}, which is not in {RECORD_TYPES_FILE}")
        providers[key] = Provider(
            key=key,
            name=r.get("name", str),
            address_lines=tuple(str(x) for x in r.get("address_lines", list, [])),
            email=r.get("email", str, None),
            phone=r.get("phone", str, None),
            fax=r.get("fax", str, None),
            language=r.choice("language", LANGUAGES, "en"),
            channel=Channel(r.choice("channel", Channel, "mail")),
            serves=serves,
        )
        if providers[key].channel is Channel.EMAIL and not providers[key].email:
            raise r._fail("email", "is missing but the default channel is email")

    pr_path = config_dir / PRACTICE_FILE
    practice_root = _Reader(pr_path, load_toml(config_dir, PRACTICE_FILE), "")
    practice = practice_root.get("practice", dict)
    people: dict[str, Person] = {}
    for index, raw in enumerate(practice_root.get("people", list, [])):
        r = _Reader(pr_path, raw if isinstance(raw, dict) else {}, f"people[{index}]")
        person = Person(
            key=r.get("key", str),
            name=r.get("name", str),
            role=r.get("role", str, "attorney"),
            title=r.get("title", str, ""),
            email=r.get("email", str),
            supervisor=r.get("supervisor", str, None),
        )
        people[person.key] = person
    if not people:
        raise ConfigError(f"{pr_path}: no [[people]] entries; add the practice's advocates there.")
    for person in people.values():
        if person.supervisor is not None and person.supervisor not in people:
            raise ConfigError(
                f"{pr_path}: the supervisor {person.supervisor!r} of {person.key!r} is not one of the [[people]]."
            )

    config = RequestConfig(types=types, forms=forms, providers=providers, practice=practice, people=people)
    if templates_dir is not None:
        check_templates(config, templates_dir, rt_path)
    return config


def check_templates(config: RequestConfig, templates_dir: Path, rt_path: Path) -> None:
    names = {n for t in config.types.values() for n in t.letters.values()}
    names |= {n for f in config.forms.values() for n in f.templates.values()}
    for name in sorted(names):
        if not (templates_dir / name).is_file():
            raise ConfigError(f"{rt_path}: the template {name!r} does not exist under {templates_dir}.")
