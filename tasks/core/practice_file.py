"""Writing the practice's own file (``practice.toml`` in the home, or in the folder of the setting ``practice_dir``)
and its mail server settings (the settings file, ``$CASEFILE_HOME/config.toml``): what `casefile practice init/set`,
`casefile practice person`, `casefile practice dhs-office` and `casefile translator add/rm` change.

Edits keep what a person wrote by hand (comments, order: tomlkit), and a file is replaced only once the edited copy
reads back as a valid practice (written beside it, then renamed), so a mistake never leaves a broken practice.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import tomlkit
from tomlkit.items import AoT, Table

from .errors import ConfigError, ValidationError
from .practice import (
    DEFAULT_CLIENT_LANGUAGES,
    ROLES,
    SIGNATURES,
    Practice,
    court_key,
    practice_source,
    read_practice_file,
)
from .settings import config_file

if TYPE_CHECKING:
    from tomlkit.toml_document import TOMLDocument

    from .settings import Settings

HEADER = """\
The practice's own details: its letterhead, the people who file and sign, the DHS (ICE OPLA) office it serves for
each court, its translators. Written by `casefile practice init/set/person/dhs-office` and `casefile translator add`;
edits by hand are kept. `casefile practice show` shows it, with any value a filing must not carry.
"""
# The title under a person's signature in letters, when none is given.
DEFAULT_TITLES = {
    "attorney": "Attorney",
    "accredited-representative": "Accredited Representative",
    "paralegal": "Paralegal",
    "pro-se": "Respondent",
}
MAIL_KEYS = ("smtp_host", "smtp_port", "smtp_security", "smtp_username", "smtp_password")


@dataclass(frozen=True)
class PracticeDetails:
    """What `casefile practice init` asks: the letterhead and the reply address of record requests."""

    name: str
    address_lines: tuple[str, ...]
    phone: str
    email: str
    reply_to: str = ""


def lines(raw: str | None) -> tuple[str, ...]:
    """An address typed on one line, its lines separated by ';'."""
    return tuple(part.strip() for part in (raw or "").split(";") if part.strip())


def _new() -> TOMLDocument:
    doc = tomlkit.document()
    for line in HEADER.splitlines():
        doc.add(tomlkit.comment(line))
    return doc


def _load(path: Path) -> TOMLDocument:
    if not path.is_file():
        return _new()
    try:
        return tomlkit.parse(path.read_text(encoding="utf-8"))
    except Exception as exc:  # tomlkit's parse errors have no common base class worth naming
        raise ConfigError(f"{path} is not valid TOML ({exc}); fix the marked line, then try again.") from None


def _save(path: Path, doc: TOMLDocument) -> Practice:
    """Write ``doc`` to ``path`` once it reads back as a valid practice (else ConfigError, and nothing changes)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".practice-", suffix=".toml", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(tomlkit.dumps(doc))
        read_practice_file(tmp)  # a ConfigError naming the key leaves the file as it was
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return read_practice_file(path)


def _own_file(settings: Settings) -> Path:
    return settings.practice_file


def _table(doc: TOMLDocument, name: str) -> Table:
    if name not in doc:
        doc.add(name, tomlkit.table())
    table = doc[name]
    assert isinstance(table, Table)
    return table


def _array_of_tables(doc: TOMLDocument, name: str) -> AoT:
    if name not in doc:
        doc.add(name, tomlkit.aot())
    rows = doc[name]
    if not isinstance(rows, AoT) and isinstance(rows, list) and not rows:  # left empty by a removal
        del doc[name]
        doc.add(name, tomlkit.aot())
        rows = doc[name]
    if not isinstance(rows, AoT):
        raise ConfigError(f"In the practice file, {name} must be written as [[{name}]] tables.")
    return rows


def _drop_if_empty(doc: TOMLDocument, name: str) -> None:
    if name in doc and not doc[name]:
        del doc[name]


def _strings(values: Sequence[str]) -> Any:
    array = tomlkit.array()
    array.extend(values)
    return array


def check_can_init(settings: Settings, *, force: bool = False) -> None:
    """Refuse to start the practice's file again when one exists, unless ``force`` (before anything is asked)."""
    path = _own_file(settings)
    if path.is_file() and not force:
        raise ValidationError(
            f"The practice is already set up in {path}; change it with `casefile practice set` and `casefile "
            "practice person`, or start again with `casefile practice init --force` (which replaces the file)."
        )


def init_practice(settings: Settings, details: PracticeDetails, *, force: bool = False) -> Practice:
    """Start the practice's own file with its letterhead; refuses to replace an existing one unless ``force``."""
    check_can_init(settings, force=force)
    path = _own_file(settings)
    _check_letterhead(details)
    doc = _new()
    firm = _table(doc, "practice")
    firm["name"] = details.name
    firm["address_lines"] = _strings(details.address_lines)
    firm["phone"] = details.phone
    firm["email"] = details.email
    if details.reply_to:
        firm["reply_to"] = details.reply_to
    firm["client_languages"] = _strings(DEFAULT_CLIENT_LANGUAGES)
    return _save(path, doc)


def _check_letterhead(details: PracticeDetails) -> None:
    missing = [
        flag
        for flag, value in (
            ("--name", details.name),
            ("--address", "".join(details.address_lines)),
            ("--phone", details.phone),
            ("--email", details.email),
        )
        if not value.strip()
    ]
    if missing:
        raise ValidationError(f"The practice's letterhead needs {', '.join(missing)}.")
    for value in (details.email, details.reply_to):
        if value and "@" not in value:
            raise ValidationError(f"{value!r} is not an e-mail address.")


def update_practice(settings: Settings, changes: Mapping[str, Any]) -> Practice:
    """Change the letterhead (``name``, ``address_lines``, ``phone``, ``email``), ``reply_to`` or
    ``client_languages`` of the practice's own file (created when missing)."""
    if not changes:
        raise ValidationError(
            "Nothing to change: pass --name, --address, --phone, --email, --reply-to or --client-languages (or mail "
            "server options)."
        )
    for key in ("email", "reply_to"):
        if key in changes and changes[key] and "@" not in str(changes[key]):
            raise ValidationError(f"{changes[key]!r} is not an e-mail address.")
    path = _own_file(settings)
    doc = _load(path)
    firm = _table(doc, "practice")
    for key, value in changes.items():
        firm[key] = _strings(value) if isinstance(value, tuple | list) else value
    return _save(path, doc)


def _copy_signature(settings: Settings, key: str, image: Path) -> str:
    if image.suffix.lower() not in (".png", ".jpg", ".jpeg") or not image.is_file():
        raise ValidationError(f"{image} is not a PNG or JPEG file; give the signature as a PNG or JPEG image.")
    folder = settings.practice_folder / "signatures"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{key}{image.suffix.lower()}"
    shutil.copyfile(image, target)
    return f"signatures/{target.name}"


def set_person(
    settings: Settings,
    key: str,
    changes: Mapping[str, Any],
    *,
    signature_image: Path | None = None,
    remove: bool = False,
) -> Practice:
    """Add a person (``name`` and ``email`` needed; ``role`` attorney by default), change one, or ``remove`` one.
    ``changes`` may hold name, role, eoir_id, email, title, title_es, filer_role, signature, supervisor."""
    key = key.strip().lower()
    if not key or not key.replace("-", "").replace("_", "").isalnum():
        raise ValidationError(f"{key!r} cannot be a person's key; use letters and digits, like avega.")
    if "role" in changes and changes["role"] not in ROLES:
        raise ValidationError(f"Unknown role {changes['role']!r}; use one of: {', '.join(ROLES)}.")
    if "signature" in changes and changes["signature"] not in SIGNATURES:
        raise ValidationError(f"Unknown signature {changes['signature']!r}; use one of: {', '.join(SIGNATURES)}.")
    path = _own_file(settings)
    doc = _load(path)
    people = _array_of_tables(doc, "people")
    index = next((i for i, row in enumerate(people) if str(row.get("key", "")).lower() == key), None)
    if remove:
        if index is None:
            raise ValidationError(f"There is no person {key!r} in {path}.")
        supervised = [str(row.get("key")) for row in people if str(row.get("supervisor", "")) == key]
        if supervised:
            raise ValidationError(
                f"{key!r} supervises {', '.join(supervised)}; give them another supervisor first "
                f"(`casefile practice person KEY --supervisor OTHER`)."
            )
        del people[index]
        _drop_if_empty(doc, "people")
        return _save(path, doc)
    if not changes and signature_image is None:
        raise ValidationError("Nothing to change: pass --name, --role, --eoir-id, --email, --signature, ...")
    if index is None:
        missing = [flag for flag, field in (("--name", "name"), ("--email", "email")) if not changes.get(field)]
        if missing:
            raise ValidationError(f"A new person needs {' and '.join(missing)}.")
        row = tomlkit.table()
        row["key"] = key
        people.append(row)
        index = len(people) - 1
        role = str(changes.get("role", "attorney"))
        row["role"] = role
        if "title" not in changes:
            row["title"] = DEFAULT_TITLES[role]
        if "signature" not in changes:
            row["signature"] = "none"
    row = people[index]
    for field, value in changes.items():
        if value in (None, ""):
            if field in row:
                del row[field]
        else:
            row[field] = value
    if signature_image is not None:
        row["signature_image"] = _copy_signature(settings, key, signature_image)
    if "email" in changes and changes["email"] and "@" not in str(changes["email"]):
        raise ValidationError(f"{changes['email']!r} is not an e-mail address.")
    return _save(path, doc)


def set_dhs_office(
    settings: Settings, court: str, office: str | None, address_lines: Sequence[str], *, remove: bool = False
) -> Practice:
    """The DHS (ICE OPLA) office the certificate of service names for ``court`` (added, changed or removed)."""
    if not court.strip():
        raise ValidationError('Name the court, as cases name it, e.g. "New York, NY (Broadway)".')
    path = _own_file(settings)
    doc = _load(path)
    offices = _array_of_tables(doc, "dhs_offices")
    index = next((i for i, row in enumerate(offices) if court_key(str(row.get("court", ""))) == court_key(court)), None)
    if remove:
        if index is None:
            raise ValidationError(f"The practice has no DHS office for {court!r}.")
        del offices[index]
        _drop_if_empty(doc, "dhs_offices")
        return _save(path, doc)
    if index is None:
        if not office or not address_lines:
            raise ValidationError("A DHS office needs --office (its name) and --address (its lines, separated by ';').")
        row = tomlkit.table()
        row["court"] = " ".join(court.split())
        offices.append(row)
        index = len(offices) - 1
    row = offices[index]
    if office:
        row["office"] = office.strip()
    if address_lines:
        row["address_lines"] = _strings(list(address_lines))
    return _save(path, doc)


def set_translator(
    settings: Settings,
    key: str,
    *,
    name: str,
    address: str,
    phone: str,
    email: str = "",
    signs_electronically: bool = False,
) -> Practice:
    """Save a translator (or replace what was saved under ``key``)."""
    key = key.strip().lower()
    if not key or not key.replace("-", "").replace("_", "").isalnum():
        raise ValidationError(f"{key!r} cannot be a translator's key; use letters and digits, like sgarcia.")
    if not name.strip() or not address.strip() or not phone.strip():
        raise ValidationError(
            "A translator's certificate needs their name, address and telephone (--name, --address, --phone); "
            "immigration courts and USCIS reject certificates without them."
        )
    path = _own_file(settings)
    doc = _load(path)
    rows = _array_of_tables(doc, "translators")
    row = next((r for r in rows if str(r.get("key", "")).lower() == key), None)
    if row is None:
        row = tomlkit.table()
        row["key"] = key
        rows.append(row)
        row = rows[len(rows) - 1]
    row["name"] = name.strip()
    row["address"] = address.strip()
    row["phone"] = phone.strip()
    if email.strip():
        row["email"] = email.strip()
    elif "email" in row:
        del row["email"]
    row["signature"] = "electronic" if signs_electronically else "none"
    return _save(path, doc)


def remove_translator(settings: Settings, key: str) -> Practice:
    path = _own_file(settings)
    doc = _load(path)
    rows = _array_of_tables(doc, "translators")
    index = next((i for i, r in enumerate(rows) if str(r.get("key", "")).lower() == key.strip().lower()), None)
    if index is None:
        raise ValidationError(f"No translator {key!r} is saved; `casefile translator list` shows them.")
    del rows[index]
    _drop_if_empty(doc, "translators")
    return _save(path, doc)


# The mail server: settings, in the settings file ------------------------------------------------------------------
def set_mail(settings: Settings, values: Mapping[str, Any]) -> Path:
    """Write mail server settings (``smtp_host``, ``smtp_port``, ``smtp_security``, ``smtp_username``,
    ``smtp_password``) into the settings file; readable by its owner only when it holds a password."""
    unknown = set(values) - set(MAIL_KEYS)
    if unknown:
        raise ValidationError(f"Unknown mail settings: {', '.join(sorted(unknown))}.")
    path = config_file()
    try:
        doc = tomlkit.parse(path.read_text(encoding="utf-8")) if path.is_file() else tomlkit.document()
    except Exception as exc:  # see _load
        raise ConfigError(f"{path} is not valid TOML ({exc}); fix the marked line, then try again.") from None
    for key, value in values.items():
        if value in (None, ""):
            if key in doc:
                del doc[key]
        else:
            doc[key] = value
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".config-", suffix=".toml", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(tomlkit.dumps(doc))
    if "smtp_password" in doc:
        os.chmod(tmp_name, 0o600)
    os.replace(tmp_name, path)
    return path


# Reading, for `casefile practice show` ------------------------------------------------------------------------------
def practice_summary(settings: Settings, practice: Practice) -> dict[str, Any]:
    """The practice as `casefile practice show` prints it: where it is read from, every value, and the placeholders
    a filing must not carry (practice data only; the mail password never)."""
    path, sample = practice_source(settings)
    return {
        "file": str(path),
        "own_file": str(settings.practice_file),
        "sample": sample,
        "name": practice.name,
        "address_lines": list(practice.address_lines),
        "phone": practice.phone,
        "email": practice.email,
        "reply_to": practice.reply_address,
        "client_languages": list(practice.client_languages),
        "people": [
            {
                "key": p.key,
                "name": p.name,
                "role": p.role,
                "eoir_id": practice.eoir_id_of(p),
                "email": p.email,
                "title": p.title,
                "signature": "image" if p.signature_image else p.signature,
                "supervisor": p.supervisor,
            }
            for p in practice.people.values()
        ],
        "dhs_offices": [
            {"court": o.court, "office": o.office, "address_lines": list(o.address_lines)} for o in practice.dhs_offices
        ],
        "translators": [translator_row(t) for t in practice.translators.values()],
        "mail": {
            "smtp_host": settings.smtp_host,
            "smtp_port": settings.smtp_port,
            "smtp_security": settings.smtp_security.value,
            "smtp_username": settings.smtp_username,
            "smtp_password": "**********" if settings.smtp_password else None,
            "settings_file": str(config_file()),
        },
        "template_overrides": str(settings.overrides_dir) if settings.overrides_dir else None,
        "template_overrides_folder": str(settings.template_overrides or settings.practice_folder / "templates"),
        "placeholders": [{"what": p.what, "value": p.value, "command": p.command} for p in practice.placeholders()],
    }


def translator_row(t: Any) -> dict[str, Any]:
    return {
        "key": t.key,
        "name": t.name,
        "address": t.address,
        "phone": t.phone,
        "email": t.email,
        "signature": "electronic" if t.signs_electronically else "by hand",
    }
