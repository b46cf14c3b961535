"""`casefile user add|list|disable|enable|reset|role`: the people who sign in to the staff page (tasks/staff/users.py).

The first admin is made here. Passwords are asked for twice without echo, or read from standard input with
--password-stdin (one line, for scripts); they are never taken as an argument (it would stay in the shell history).
"""

from __future__ import annotations

import sys

import click

from ...tasks.core.errors import ValidationError
from .output import emit, json_option, runtime


def _password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        password = line.rstrip("\r\n")
        if not password:
            raise ValidationError("No password on standard input; pipe one line with the password.")
        return password
    value: str = click.prompt("Password", hide_input=True, confirmation_prompt=True, err=True)
    return value


def _actor() -> str:
    from ...tasks.core.catalog import current_actor

    return f"cli:{current_actor()}"


@click.group("user")
def user() -> None:
    """Manage who can sign in to the staff page (`casefile web`) and their roles: staff, advocate, admin."""


@user.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(["staff", "advocate", "admin"]), required=True, help="What the user may do.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input (one line).")
@json_option
def user_add(name: str, role: str, password_stdin: bool, as_json: bool) -> None:
    """Add a user (asks for a password of 12 characters or more)."""
    from ...tasks.staff.users import add_user

    rt = runtime(creates=True)  # the first admin may come before the first case: the home is made, and named
    row = add_user(rt, name, role, _password(password_stdin), actor=_actor())
    emit(as_json, row, lambda: click.echo(f"User {row['name']} added as {row['role']}."))


@user.command("list")
@json_option
def user_list(as_json: bool) -> None:
    """List the users, their roles and last sign-in."""
    from ...tasks.staff.users import list_users

    rows = list_users(runtime())

    def human() -> None:
        if not rows:
            click.echo("No users yet: casefile user add NAME --role admin")
        for r in rows:
            state = "disabled" if r["disabled"] else "active"
            click.echo(f"{r['name']:24} {r['role']:9} {state:9} last sign-in {r['last_signin_at'] or '-'}")

    emit(as_json, rows, human)


@user.command("disable")
@click.argument("name")
@json_option
def user_disable(name: str, as_json: bool) -> None:
    """Stop a user from signing in; their open sessions end at once."""
    from ...tasks.staff.users import set_disabled

    row = set_disabled(runtime(), name, True, actor=_actor())
    emit(as_json, row, lambda: click.echo(f"User {row['name']} disabled; their sessions have ended."))


@user.command("enable")
@click.argument("name")
@json_option
def user_enable(name: str, as_json: bool) -> None:
    """Let a disabled user sign in again."""
    from ...tasks.staff.users import set_disabled

    row = set_disabled(runtime(), name, False, actor=_actor())
    emit(as_json, row, lambda: click.echo(f"User {row['name']} enabled."))


@user.command("reset")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the new password from standard input (one line).")
@json_option
def user_reset(name: str, password_stdin: bool, as_json: bool) -> None:
    """Set a new password; the user's open sessions end."""
    from ...tasks.staff.users import reset_password

    row = reset_password(runtime(), name, _password(password_stdin), actor=_actor())
    emit(as_json, row, lambda: click.echo(f"Password of {row['name']} reset; their sessions have ended."))


@user.command("role")
@click.argument("name")
@click.argument("role", type=click.Choice(["staff", "advocate", "admin"]))
@json_option
def user_role(name: str, role: str, as_json: bool) -> None:
    """Change a user's role."""
    from ...tasks.staff.users import set_role

    row = set_role(runtime(), name, role, actor=_actor())
    emit(as_json, row, lambda: click.echo(f"User {row['name']} is now {row['role']}."))
