"""Record-request rules and the provider directory, read from config/record_types.toml and config/providers.toml.

Everything is validated when loaded: a missing or wrong value is a ``ConfigError`` that names the file and the key,
so a practice that edits the files learns exactly what to fix. Stages read them once per runtime through
``request_config(rt)``. A light module (no SQLAlchemy or pydantic at import): the command line takes its channel
choices from ``Channel``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING

from ..cases.rules import FilingRules, read_filing_rules
from ..core.config import TomlTable, load_toml
from ..core.errors import ConfigError, ValidationError
from ..core.practice import Person, Practice, load_practice, practice_stamp

if TYPE_CHECKING:
    from ..core.runtime import Runtime
    from ..core.settings import Settings

RECORD_TYPES_FILE = "record_types.toml"
PROVIDERS_FILE = "providers.toml"
LANGUAGES = ("en", "es")


class Channel(StrEnum):
    EMAIL = "email"
    MAIL = "mail"
    FAX = "fax"
    PORTAL = "portal"


class DayUnit(StrEnum):
    CALENDAR = "calendar"
    BUSINESS = "business"


class Basis(StrEnum):
    """Whether a type's day count is the law's (the holder must answer in time) or the practice's own expectation
    (letters then ask for a date; they never assert a legal deadline)."""

    LAW = "law"
    PRACTICE = "practice"


class AnswerKind(StrEnum):
    """What is due on the due date: the records, or (FOIA) the agency's determination, which is not delivery."""

    RECORDS = "records"
    DETERMINATION = "determination"


# Calendar days from sending to the holder's receipt, per channel, when config/record_types.toml has no [receipt].
DEFAULT_RECEIPT_DAYS = {Channel.MAIL: 5, Channel.EMAIL: 0, Channel.FAX: 0, Channel.PORTAL: 0}


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
    basis: Basis = Basis.PRACTICE  # response.basis: are the days the law's, or the practice's expectation?
    kind: AnswerKind = AnswerKind.RECORDS  # response.kind
    expected: tuple[DayUnit, int] | None = None  # expected_delivery: when records usually arrive (an estimate)
    routing_days: int = 0  # FOIA: business days the request may take to reach the right component
    track3: bool = False  # USCIS FOIA: ask for Track 3 when the case has an immigration-court hearing scheduled
    other_subject: bool = False  # the records may be of someone other than the client (a child)
    letter_signer: str = "advocate"  # advocate | client (an access request is the client's own letter)

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
class RequestConfig:
    types: dict[str, RecordType]
    forms: dict[str, Form]
    providers: dict[str, Provider]
    practice: Practice
    filing_rules: FilingRules  # the case's filing deadline decides whether a request is at risk
    receipt_days: dict[Channel, int] = field(default_factory=lambda: dict(DEFAULT_RECEIPT_DAYS))

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
        return self.practice.person(key)

    def default_advocate(self) -> Person:
        return self.practice.default_advocate()


# Loading ------------------------------------------------------------------------------------------------------
def _escalation(path: Path, table: TomlTable) -> tuple[EscalationStep, ...]:
    raw = table.get("steps", list)
    steps: list[EscalationStep] = []
    for index, item in enumerate(raw):
        if not isinstance(item, dict):
            raise ConfigError(f"{path}: {table.where}.steps[{index}] must be a table. Fix it in that file.")
        r = TomlTable(path, item, f"{table.where}.steps[{index}]")
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


def _templates(reader: TomlTable, key: str) -> dict[str, str]:
    table = reader.table(key)
    out = {lang: str(table.get(lang, str)) for lang in LANGUAGES if lang in table.data}
    if "en" not in out:
        raise reader.fail(f"{key}.en", "is missing (every letter and form needs an English template)")
    unknown = set(table.data) - set(LANGUAGES)
    if unknown:
        raise reader.fail(f"{key}.{sorted(unknown)[0]}", f"is not a supported language ({', '.join(LANGUAGES)})")
    return out


def load_request_config(settings: Settings, stamp: object = None) -> RequestConfig:
    """The record types, forms and providers of ``settings.config_dir``, with the practice (read once per runtime
    and practice file: ``request_config(rt)``; ``stamp`` is the practice's, see ``core.practice.practice_stamp``)."""
    return read_request_config(settings.config_dir, load_practice(settings), read_filing_rules(settings.config_dir))


def request_config(rt: Runtime) -> RequestConfig:
    """The runtime's request config, read once, and again when the practice file changed (what every stage of
    tasks/requests uses)."""
    return rt.config(load_request_config, practice_stamp(rt.settings))


def read_request_config(
    config_dir: Path, practice: Practice, filing_rules: FilingRules, templates_dir: Path | None = None
) -> RequestConfig:
    """Read and check the record types, forms and providers. ``templates_dir``: also check that every template named
    exists there."""
    rt_path = config_dir / RECORD_TYPES_FILE
    root = TomlTable(rt_path, load_toml(config_dir, RECORD_TYPES_FILE), "")
    root.where = ""
    default_escalation = _escalation(rt_path, TomlTable(rt_path, root.get("escalation", dict), "escalation"))

    forms: dict[str, Form] = {}
    for key, raw in root.get("forms", dict).items():
        r = TomlTable(rt_path, raw if isinstance(raw, dict) else {}, f"forms.{key}")
        forms[key] = Form(
            key,
            r.get("label", str),
            r.choice("signer", ("client", "none")),
            _templates(r, "templates"),
            r.get("label_es", str, None),
        )

    types: dict[str, RecordType] = {}
    for key, raw in root.get("types", dict).items():
        r = TomlTable(rt_path, raw if isinstance(raw, dict) else {}, f"types.{key}")
        response = r.table("response")
        authorization = r.get("authorization", str, "none")
        enclosures = tuple(r.get("enclosures", list, []))
        for form_key in (authorization, *enclosures):
            if form_key != "none" and form_key not in forms:
                raise r.fail("authorization", f"names the form {form_key!r}, which is not in [forms]")
        escalation = default_escalation
        if "escalation" in r.data:
            escalation = _escalation(rt_path, r.table("escalation"))
        expected = None
        if "expected_delivery" in r.data:
            delivery = r.table("expected_delivery")
            expected = (DayUnit(delivery.choice("unit", DayUnit)), delivery.nonneg("days"))
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
            basis=Basis(response.choice("basis", Basis, Basis.PRACTICE.value)),
            kind=AnswerKind(response.choice("kind", AnswerKind, AnswerKind.RECORDS.value)),
            expected=expected,
            routing_days=r.nonneg("routing_days", 0),
            track3=bool(r.get("track3", bool, False)),
            other_subject=bool(r.get("other_subject", bool, False)),
            letter_signer=r.choice("letter_signer", ("advocate", "client"), "advocate"),
        )
        _check_spanish(r, types[key], forms)
    if not types:
        raise ConfigError(f"{rt_path}: no [types.*] tables. Restore the file from the repository.")

    pv_path = config_dir / PROVIDERS_FILE
    providers: dict[str, Provider] = {}
    for key, raw in TomlTable(pv_path, load_toml(config_dir, PROVIDERS_FILE), "").get("providers", dict).items():
        r = TomlTable(pv_path, raw if isinstance(raw, dict) else {}, f"providers.{key}")
        serves = tuple(str(s) for s in r.get("serves", list, []))
        for served in serves:
            if served not in types:
                raise r.fail("serves", f"names the record type {served!r}, which is not in {RECORD_TYPES_FILE}")
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
            raise r.fail("email", "is missing but the default channel is email")

    receipt = root.get("receipt", dict, {})
    receipt_table = TomlTable(rt_path, receipt, "receipt")
    unknown = set(receipt) - {c.value for c in Channel}
    if unknown:
        raise receipt_table.fail(sorted(unknown)[0], f"is not a channel ({', '.join(c.value for c in Channel)})")
    receipt_days = {c: receipt_table.nonneg(c.value, DEFAULT_RECEIPT_DAYS[c]) for c in Channel}
    config = RequestConfig(types, forms, providers, practice, filing_rules, receipt_days)
    if templates_dir is not None:
        check_templates(config, templates_dir, rt_path)
    return config


def _check_spanish(reader: TomlTable, rtype: RecordType, forms: dict[str, Form]) -> None:
    """A type with a Spanish letter says everything in Spanish: its label and legal basis, and its forms' labels."""
    if "es" not in rtype.letters:
        return
    for key in ("label_es", "legal_basis_es"):
        if not reader.get(key, str, ""):
            raise reader.fail(key, "is missing (the type has a Spanish letter, whose every label must be Spanish)")
    for form_key in ((rtype.authorization,) if rtype.authorization else ()) + rtype.enclosures:
        form = forms[form_key]
        if not form.label_es:
            raise reader.fail(
                "authorization", f"names the form {form_key!r}, which has no label_es for the Spanish letter"
            )


def check_templates(config: RequestConfig, templates_dir: Path, rt_path: Path) -> None:
    names = {n for t in config.types.values() for n in t.letters.values()}
    names |= {n for f in config.forms.values() for n in f.templates.values()}
    for name in sorted(names):
        if not (templates_dir / name).is_file():
            raise ConfigError(f"{rt_path}: the template {name!r} does not exist under {templates_dir}.")
