"""`casefile practice init|show|set|person|dhs-office` and `casefile translator add|list|rm`: the practice's own
details, kept in the home (tasks/core/practice_file.py writes them; tasks/core/practice.py reads them)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ...tasks.core.practice import ROLES, SIGNATURES
from .output import emit, home_settings, json_option, runtime

SECURITY_CHOICES = ["none", "starttls", "ssl"]


def _summary() -> dict[str, Any]:
    from ...tasks.core.practice import load_practice
    from ...tasks.core.practice_file import practice_summary
    from ...tasks.core.settings import load_settings

    settings = load_settings()
    return practice_summary(settings, load_practice(settings))


def print_practice(doc: dict[str, Any]) -> None:
    if doc["sample"]:
        click.echo(
            f"No practice of this home's own yet ({doc['own_file']} does not exist): this is the packaged FICTIONAL "
            "sample, which only the demo uses. Set yours with `casefile practice init`."
        )
    else:
        click.echo(f"Practice file: {doc['file']}")
    click.echo(f"  {doc['name']}")
    for line in doc["address_lines"]:
        click.echo(f"  {line}")
    click.echo(f"  Telephone {doc['phone'] or '-'}   e-mail {doc['email'] or '-'}")
    click.echo(f"  Reply address for record requests: {doc['reply_to'] or '-'}")
    click.echo("People (who files, signs and sends requests):")
    for p in doc["people"]:
        eoir = f"  EOIR ID {p['eoir_id']}" if p["eoir_id"] else ""
        click.echo(f"  {p['key']:<10} {p['role']:<26} {p['name']}{eoir}  {p['email']}  signs: {p['signature']}")
    if not doc["people"]:
        click.echo("  none yet: `casefile practice person KEY --name ... --role attorney --eoir-id ... --email ...`")
    click.echo("DHS (ICE OPLA) office served, by court:")
    for o in doc["dhs_offices"]:
        click.echo(f"  {o['court']}: {o['office']}; {'; '.join(o['address_lines'])}")
    if not doc["dhs_offices"]:
        click.echo('  none yet: `casefile practice dhs-office "COURT" --office "..." --address "line; line"`')
    click.echo("Translators:")
    for t in doc["translators"]:
        click.echo(f"  {t['key']:<10} {t['name']}; {t['address']}; {t['phone']}  signs: {t['signature']}")
    if not doc["translators"]:
        click.echo('  none saved: `casefile translator add KEY --name "..." --address "..." --phone "..."`')
    mail = doc["mail"]
    login = f", login {mail['smtp_username']}" if mail["smtp_username"] else ""
    login += f", password {mail['smtp_password']}" if mail["smtp_password"] else ""
    click.echo(
        f"Mail server: {mail['smtp_host']}:{mail['smtp_port']} ({mail['smtp_security']}{login}), in "
        f"{mail['settings_file']}"
    )
    overrides = doc["template_overrides"] or f"none ({doc['template_overrides_folder']} does not exist)"
    click.echo(f"Template overrides: {overrides}")
    for p in doc["placeholders"]:
        click.echo(f"PLACEHOLDER: {p['what']} is {p['value']!r}: set it with `{p['command']}`")


@click.group()
def practice() -> None:
    """The practice's own details (letterhead, people who sign, DHS offices, mail server), kept in the home."""


class _Asker:
    """Takes a value from its flag, else asks for it (unless --no-input: then a missing required one is listed)."""

    def __init__(self, no_input: bool) -> None:
        self.no_input = no_input
        self.missing: list[str] = []

    def __call__(self, value: Any, flag: str, question: str, *, required: bool = True, default: Any = None) -> Any:
        if value not in (None, ""):
            return value
        if self.no_input:
            if required and default is None:
                self.missing.append(flag)
            return default
        try:
            answer = click.prompt(
                question + ("" if required else " (empty: skip)"),
                default=default if default is not None else ("" if not required else None),
                show_default=default not in (None, ""),
                err=True,
            )
        except click.Abort:
            self.missing.append(flag)
            return default
        return answer


@practice.command("init")
@click.option("--name", help="The organisation's name, as on its letterhead.")
@click.option("--address", help='Its address, lines separated by ";".')
@click.option("--phone", help="Its telephone.")
@click.option("--email", help="Its e-mail address.")
@click.option("--reply-to", "reply_to", help="Where answers to record requests go (default: --email).")
@click.option("--person", "person_key", help="Key of the first person who files and signs, e.g. avega.")
@click.option("--person-name", help="Their full name.")
@click.option("--role", type=click.Choice(ROLES), default=None, help="Their role (default: attorney).")
@click.option("--eoir-id", "eoir_id", help="Their EOIR ID (attorneys and accredited representatives).")
@click.option("--person-email", help="Their e-mail address.")
@click.option("--signature", type=click.Choice(SIGNATURES), default=None,
              help='electronic: certificates print "/s/ Name"; none: they sign by hand after printing.')  # fmt: skip
@click.option("--court", help='A court the practice files in, e.g. "New York, NY (Broadway)".')
@click.option("--dhs-office", "dhs_office", help="The ICE OPLA office served for that court.")
@click.option("--dhs-address", "dhs_address", help='Its address, lines separated by ";".')
@click.option("--smtp-host", help="The mail server (default: the loopback test server, nothing leaves the machine).")
@click.option("--smtp-port", type=click.IntRange(1, 65535), default=None, help="Its port (587 with starttls).")
@click.option("--smtp-security", type=click.Choice(SECURITY_CHOICES), default=None, help="none, starttls or ssl.")
@click.option("--smtp-username", help="The mail server's login, if it wants one.")
@click.option("--smtp-password", "ask_password", is_flag=True, help="Ask for the mail server's password (hidden).")
@click.option("--no-input", "no_input", is_flag=True, help="Never ask: every required value comes from its flag.")
@click.option("--force", is_flag=True, help="Replace a practice file that exists.")
@json_option
def practice_init(
    name: str | None,
    address: str | None,
    phone: str | None,
    email: str | None,
    reply_to: str | None,
    person_key: str | None,
    person_name: str | None,
    role: str | None,
    eoir_id: str | None,
    person_email: str | None,
    signature: str | None,
    court: str | None,
    dhs_office: str | None,
    dhs_address: str | None,
    smtp_host: str | None,
    smtp_port: int | None,
    smtp_security: str | None,
    smtp_username: str | None,
    ask_password: bool,
    no_input: bool,
    force: bool,
    as_json: bool,
) -> None:
    """Set up the practice's own details in the home, asking for each one not given as a flag: the letterhead,
    the first person who files and signs, the DHS office served for a court, the mail server."""
    from ...tasks.core.errors import ValidationError
    from ...tasks.core.practice_file import (
        PracticeDetails,
        check_can_init,
        init_practice,
        lines,
        set_dhs_office,
        set_mail,
        set_person,
    )

    settings = runtime(creates=True).settings
    check_can_init(settings, force=force)  # before anything is asked
    ask = _Asker(no_input)
    details = PracticeDetails(
        name=ask(name, "--name", "Organisation's name"),
        address_lines=tuple(lines(ask(address, "--address", 'Address (lines separated by ";")'))),
        phone=ask(phone, "--phone", "Telephone"),
        email=ask(email, "--email", "E-mail"),
        reply_to=ask(reply_to, "--reply-to", "Reply address for record requests", required=False, default="") or "",
    )
    key = ask(person_key, "--person", "Key of the first person who files and signs (e.g. avega)")
    role = ask(role, "--role", f"Their role ({', '.join(ROLES)})", default="attorney")
    person = {
        "name": ask(person_name, "--person-name", "Their full name"),
        "role": role,
        "eoir_id": ask(eoir_id, "--eoir-id", "Their EOIR ID") if role in ("attorney", "accredited-representative")
        else eoir_id,
        "email": ask(person_email, "--person-email", "Their e-mail"),
        "signature": ask(signature, "--signature", "Signature: electronic (/s/ Name) or none", default="electronic"),
    }  # fmt: skip
    court = ask(court, "--court", "A court the practice files in", required=False, default="")
    office = address_of_office = None
    if court:
        office = ask(dhs_office, "--dhs-office", "The ICE OPLA office served for it")
        address_of_office = ask(dhs_address, "--dhs-address", 'Its address (lines separated by ";")')
    mail: dict[str, Any] = {}
    host = ask(smtp_host, "--smtp-host", "Mail server host", required=False, default="")
    if host:
        mail["smtp_host"] = host
        mail["smtp_port"] = int(ask(smtp_port, "--smtp-port", "Mail server port", default=587))
        mail["smtp_security"] = ask(
            smtp_security, "--smtp-security", "Security (none, starttls, ssl)", default="starttls"
        )
        username = ask(smtp_username, "--smtp-username", "Login", required=False, default="")
        if username:
            mail["smtp_username"] = username
    if ask.missing:
        raise ValidationError(f"Give {', '.join(ask.missing)} (or run without --no-input to be asked).")
    if (
        role not in ROLES
        or person["signature"] not in SIGNATURES
        or mail.get("smtp_security", "none") not in (SECURITY_CHOICES)
    ):
        raise ValidationError(
            f"Role is one of {', '.join(ROLES)}; signature one of {', '.join(SIGNATURES)}; security one of "
            f"{', '.join(SECURITY_CHOICES)}."
        )
    if ask_password:
        mail["smtp_password"] = click.prompt("Mail server password", hide_input=True, err=True)
    init_practice(settings, details, force=force)
    set_person(settings, key, person)
    if court and office and address_of_office:
        set_dhs_office(settings, court, office, lines(address_of_office))
    if mail:
        set_mail(settings, mail)
    doc = _summary()

    def human() -> None:
        click.echo(f"Practice saved in {doc['file']}.")
        print_practice(doc)

    emit(as_json, doc, human)


@practice.command("show")
@json_option
def practice_show(as_json: bool) -> None:
    """The practice's details, where they are kept, and any value a filing must not carry."""
    home_settings()
    doc = _summary()
    emit(as_json, doc, lambda: print_practice(doc))


@practice.command("set")
@click.option("--name", default=None, help="The organisation's name.")
@click.option("--address", default=None, help='Its address, lines separated by ";".')
@click.option("--phone", default=None, help="Its telephone.")
@click.option("--email", default=None, help="Its e-mail address.")
@click.option("--reply-to", "reply_to", default=None, help="Where answers to record requests go.")
@click.option("--client-languages", default=None, help="Languages of the clients, e.g. en,es,pt,quc.")
@click.option("--smtp-host", default=None, help="The mail server.")
@click.option("--smtp-port", type=click.IntRange(1, 65535), default=None, help="Its port.")
@click.option("--smtp-security", type=click.Choice(SECURITY_CHOICES), default=None, help="none, starttls or ssl.")
@click.option("--smtp-username", default=None, help="The mail server's login.")
@click.option("--smtp-password", "ask_password", is_flag=True, help="Ask for the mail server's password (hidden).")
@json_option
def practice_set(
    name: str | None,
    address: str | None,
    phone: str | None,
    email: str | None,
    reply_to: str | None,
    client_languages: str | None,
    smtp_host: str | None,
    smtp_port: int | None,
    smtp_security: str | None,
    smtp_username: str | None,
    ask_password: bool,
    as_json: bool,
) -> None:
    """Change the letterhead, the reply address of record requests, the clients' languages or the mail server."""
    from ...tasks.core.practice_file import lines, set_mail, update_practice

    settings = runtime(creates=True).settings  # writes into the home, creating it (and saying so) if needed
    changes: dict[str, Any] = {
        key: value
        for key, value in (("name", name), ("phone", phone), ("email", email), ("reply_to", reply_to))
        if value is not None
    }
    if address is not None:
        changes["address_lines"] = list(lines(address))
    if client_languages is not None:
        changes["client_languages"] = [c.strip().lower() for c in client_languages.split(",") if c.strip()]
    mail: dict[str, Any] = {
        key: value
        for key, value in (
            ("smtp_host", smtp_host),
            ("smtp_port", smtp_port),
            ("smtp_security", smtp_security),
            ("smtp_username", smtp_username),
        )
        if value is not None
    }
    if ask_password:
        mail["smtp_password"] = click.prompt("Mail server password", hide_input=True, err=True)
    if changes or not mail:
        update_practice(settings, changes)
    if mail:
        set_mail(settings, mail)
    doc = _summary()
    emit(as_json, doc, lambda: print_practice(doc))


@practice.command("person")
@click.argument("key")
@click.option("--name", default=None, help="Full name.")
@click.option("--role", type=click.Choice(ROLES), default=None, help="Role (a new person: attorney by default).")
@click.option("--eoir-id", "eoir_id", default=None, help="EOIR ID, printed on cover pages under the filer's name.")
@click.option("--email", default=None, help="E-mail address.")
@click.option("--title", default=None, help='Title under their signature in letters, e.g. "Staff Attorney".')
@click.option("--title-es", "title_es", default=None, help="The same title in Spanish letters.")
@click.option("--filer-role", "filer_role", default=None, help='Under their name on a cover page ("Attorney for ...").')
@click.option("--signature", type=click.Choice(SIGNATURES), default=None,
              help='electronic: certificates print "/s/ Name"; none: they sign by hand.')  # fmt: skip
@click.option("--signature-image", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="A PNG or JPEG of their signature (copied into the practice folder).")  # fmt: skip
@click.option("--supervisor", default=None, help="Key of the person overdue requests escalate to.")
@click.option("--remove", is_flag=True, help="Remove this person from the practice.")
@json_option
def practice_person(
    key: str,
    name: str | None,
    role: str | None,
    eoir_id: str | None,
    email: str | None,
    title: str | None,
    title_es: str | None,
    filer_role: str | None,
    signature: str | None,
    signature_image: Path | None,
    supervisor: str | None,
    remove: bool,
    as_json: bool,
) -> None:
    """Add a person who files, signs or sends requests, change one, or remove one (--remove)."""
    from ...tasks.core.practice_file import set_person

    settings = runtime(creates=True).settings  # writes into the home, creating it (and saying so) if needed
    changes = {
        field: value
        for field, value in (
            ("name", name),
            ("role", role),
            ("eoir_id", eoir_id),
            ("email", email),
            ("title", title),
            ("title_es", title_es),
            ("filer_role", filer_role),
            ("signature", signature),
            ("supervisor", supervisor),
        )
        if value is not None
    }
    set_person(settings, key, changes, signature_image=signature_image, remove=remove)
    doc = _summary()
    emit(as_json, doc, lambda: print_practice(doc))


@practice.command("dhs-office")
@click.argument("court")
@click.option("--office", default=None, help="The ICE Office of the Principal Legal Advisor (OPLA) office served.")
@click.option("--address", default=None, help='Its address, lines separated by ";".')
@click.option("--remove", is_flag=True, help="Forget the office of this court.")
@json_option
def practice_dhs_office(court: str, office: str | None, address: str | None, remove: bool, as_json: bool) -> None:
    """The DHS office that certificates of service name for cases before COURT (as `case new --court` names it)."""
    from ...tasks.core.practice_file import lines, set_dhs_office

    settings = runtime(creates=True).settings  # writes into the home, creating it (and saying so) if needed
    set_dhs_office(settings, court, office, lines(address), remove=remove)
    doc = _summary()
    emit(as_json, doc, lambda: print_practice(doc))


# Translators ---------------------------------------------------------------------------------------------------------
@click.group()
def translator() -> None:
    """Translators saved once, then named with `translation add --translator KEY`."""


@translator.command("add")
@click.argument("key")
@click.option("--name", required=True, help="The translator's full name.")
@click.option("--address", required=True, help='Their address, lines separated by ";".')
@click.option("--phone", required=True, help="Their telephone.")
@click.option("--email", default="", help="Their e-mail (optional).")
@click.option("--signs-electronically", "signs", is_flag=True,
              help='They sign certificates electronically: "/s/ Name" is printed (else by hand).')  # fmt: skip
@json_option
def translator_add(key: str, name: str, address: str, phone: str, email: str, signs: bool, as_json: bool) -> None:
    """Save a translator's details for their certificates (adding KEY again replaces them)."""
    from ...tasks.core.practice_file import set_translator, translator_row

    settings = runtime(creates=True).settings  # writes into the home, creating it (and saying so) if needed
    saved = set_translator(
        settings, key, name=name, address=address, phone=phone, email=email, signs_electronically=signs
    )
    found = saved.translator(key)
    assert found is not None
    row = translator_row(found)
    emit(
        as_json,
        row,
        lambda: click.echo(
            f"Translator {row['key']} saved; use it with `casefile translation add ... --translator {row['key']}`."
        ),
    )


@translator.command("list")
@json_option
def translator_list(as_json: bool) -> None:
    """The saved translators."""
    doc = (home_settings(), _summary())[1]
    rows = doc["translators"]

    def human() -> None:
        for t in rows:
            click.echo(f"{t['key']:<10} {t['name']}; {t['address']}; {t['phone']}  signs: {t['signature']}")
        if not rows:
            click.echo(
                'No translator saved yet: `casefile translator add KEY --name "..." --address "..." --phone ...`'
            )

    emit(as_json, rows, human)


@translator.command("rm")
@click.argument("key")
@json_option
def translator_rm(key: str, as_json: bool) -> None:
    """Forget a saved translator (translations already added keep their certificates' data)."""
    from ...tasks.core.practice_file import remove_translator

    remove_translator(home_settings(), key)
    emit(as_json, {"key": key.lower(), "removed": True}, lambda: click.echo(f"Translator {key.lower()} removed."))
