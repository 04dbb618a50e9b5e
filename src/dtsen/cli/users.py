"""``dtsen users``: staff accounts (add, list, disable, enable, reset-password, unlock, demo-accounts).

Passwords are typed twice at a hidden prompt or read from stdin (``--password-stdin``, for scripts); they
are never command-line arguments, which would land in shell history and ``ps``. Every change is written
to the audit log with the operating-system user as the actor.
"""

from __future__ import annotations

import getpass
import os
import re
import secrets
import sys
from datetime import UTC, datetime
from typing import Any

import typer

from dtsen.cli.db import URL_OPTION, _database_errors, _fail, _require_schema, _session

app = typer.Typer(help="Staff accounts of the serving app (argon2id passwords, roles bound to regions).")

DEMO_ENV = "DTSEN_DEMO"
DEMO_KAB = "3471"  # Kota Yogyakarta: in the synthetic DI Yogyakarta demo data
DEMO_DESA = ("3471121001", "3471141003")
DEMO_CLIENT_NAME = "Demo klien instansi"


def _now() -> datetime:
    return datetime.now(UTC)


def cli_actor() -> dict[str, Any]:
    """The audit actor of a CLI change: the operating-system account that ran it."""
    try:
        who = getpass.getuser()
    except (KeyError, OSError):
        who = "unknown"
    who = re.sub(r"[^A-Za-z0-9._-]", "_", who)[:64] or "unknown"
    return {"actor": f"cli:{who}", "actor_role": "cli"}


def read_password(password_stdin: bool, *, prompt: str = "Password") -> str:
    if password_stdin:
        value = sys.stdin.readline().rstrip("\r\n")
        if not value:
            raise _fail("no password on stdin")
        return value
    return str(typer.prompt(prompt, hide_input=True, confirmation_prompt=True))


def _run(url: str | None, work: Any) -> Any:
    """Run ``work(session)`` in one transaction; account errors become one line and exit 1."""
    from dtsen.auth.accounts import AccountError
    from dtsen.auth.passwords import PasswordPolicyError

    with _database_errors(url):
        _require_schema(url)
        try:
            with _session(url) as session:
                return work(session)
        except (AccountError, PasswordPolicyError) as exc:
            raise _fail(str(exc)) from exc


@app.command("add")
def add(
    username: str = typer.Argument(..., help="Login name: 3-64 of a-z 0-9 . _ -"),
    role: str = typer.Option(
        ..., "--role", help="admin_bps, analis_bps, kemensos, dinsos, operator_desa, ..."
    ),
    name: str = typer.Option(..., "--name", help="Full name of the person."),
    region: list[str] = typer.Option(
        [], "--region", help="Region code (repeat for a pendamping's desa); none for national roles."
    ),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from stdin."),
    must_change: bool = typer.Option(
        False, "--must-change/--no-must-change", help="Ask for a new password at the first login."
    ),
    url: str | None = URL_OPTION,
) -> None:
    """Create an account (the password is asked twice, or read from stdin)."""
    from dtsen.auth.accounts import create_user

    password = read_password(password_stdin)

    def work(session: Any) -> Any:
        return create_user(
            session,
            username=username,
            full_name=name,
            role=role,
            regions=region,
            password=password,
            now=_now(),
            actor=cli_actor(),
            must_change_password=must_change,
        )

    user = _run(url, work)
    regions = ", ".join(user.region_codes) or "national"
    typer.echo(f"user {user.username} created: role {user.role}, regions {regions}")


@app.command("list")
def list_users(url: str | None = URL_OPTION) -> None:
    """Every account, tab-separated: username, role, regions, state, full name."""
    from sqlalchemy import select

    from dtsen.store.identity import StaffUser

    def work(session: Any) -> list[tuple[str, ...]]:
        now = _now()
        rows = []
        for user in session.scalars(select(StaffUser).order_by(StaffUser.username)):
            state = "active" if user.active else "disabled"
            if user.locked_until is not None and user.locked_until > now:
                state += f",locked-until-{user.locked_until:%Y-%m-%dT%H:%MZ}"
            if user.must_change_password:
                state += ",must-change-password"
            rows.append((user.username, user.role, ",".join(user.region_codes) or "-", state, user.full_name))
        return rows

    rows = _run(url, work)
    if not rows:
        typer.echo("no users")
        return
    typer.echo("username\trole\tregions\tstate\tname")
    for row in rows:
        typer.echo("\t".join(row))


def _change(url: str | None, username: str, change: Any) -> None:
    from dtsen.auth.accounts import require_user_row

    def work(session: Any) -> None:
        change(session, require_user_row(session, username))

    _run(url, work)


@app.command("disable")
def disable(username: str = typer.Argument(...), url: str | None = URL_OPTION) -> None:
    """Disable an account; its sessions end at once."""
    from dtsen.auth.accounts import set_active

    _change(url, username, lambda s, u: set_active(s, u, False, now=_now(), actor=cli_actor()))
    typer.echo(f"user {username} disabled; every session ended")


@app.command("enable")
def enable(username: str = typer.Argument(...), url: str | None = URL_OPTION) -> None:
    """Enable a disabled account again."""
    from dtsen.auth.accounts import set_active

    _change(url, username, lambda s, u: set_active(s, u, True, now=_now(), actor=cli_actor()))
    typer.echo(f"user {username} enabled")


@app.command("unlock")
def unlock(username: str = typer.Argument(...), url: str | None = URL_OPTION) -> None:
    """Lift a lock-out after repeated failed logins."""
    from dtsen.auth.accounts import unlock as unlock_user

    _change(url, username, lambda s, u: unlock_user(s, u, now=_now(), actor=cli_actor()))
    typer.echo(f"user {username} unlocked")


@app.command("reset-password")
def reset_password(
    username: str = typer.Argument(...),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from stdin."),
    temporary: bool = typer.Option(
        True, "--temporary/--permanent", help="Ask the user for a new password at the next login (default)."
    ),
    url: str | None = URL_OPTION,
) -> None:
    """Set a new password; ends every session and lifts a lock-out."""
    from dtsen.auth.accounts import set_password

    password = read_password(password_stdin, prompt="New password")
    _change(
        url,
        username,
        lambda s, u: set_password(
            s, u, password, now=_now(), actor=cli_actor(), must_change_password=temporary
        ),
    )
    suffix = "; a new one is asked at the next login" if temporary else ""
    typer.echo(f"password of {username} reset, every session ended{suffix}")


def demo_password() -> str:
    return secrets.token_urlsafe(15)  # 20 characters, 120 bits


@app.command("demo-accounts")
def demo_accounts(
    yes_demo: bool = typer.Option(False, "--yes-demo", help="Confirm: this is a demo installation."),
    kab: str = typer.Option(DEMO_KAB, "--kab", help="Kabupaten/kota of the dinsos account."),
    desa: list[str] = typer.Option(
        list(DEMO_DESA), "--desa", help="Desa of the operator (first) and the pendamping (all)."
    ),
    url: str | None = URL_OPTION,
) -> None:
    """One account per role with a random password, printed once (rerun: new passwords). Demo only:
    refuses without --yes-demo or DTSEN_DEMO=1."""
    from dtsen.auth.accounts import create_user, get_user, set_active, set_password
    from dtsen.auth.accounts import unlock as unlock_user
    from dtsen.auth.clients import create_client, rotate_secret
    from dtsen.auth.scope import Role
    from dtsen.store.identity import ApiClient

    if not (yes_demo or os.environ.get(DEMO_ENV) == "1"):
        raise _fail(f"demo accounts have printed passwords: pass --yes-demo or set {DEMO_ENV}=1")
    if not desa:
        raise _fail("give at least one --desa")
    plan: list[tuple[str, Role, str, tuple[str, ...]]] = [
        ("demo.admin", Role.ADMIN_BPS, "Admin BPS (demo)", ()),
        ("demo.analis", Role.ANALIS_BPS, "Analis BPS (demo)", ()),
        ("demo.kemensos", Role.KEMENSOS, "Petugas Kemensos (demo)", ()),
        ("demo.dinsos", Role.DINSOS, "Petugas Dinas Sosial (demo)", (kab,)),
        ("demo.operator", Role.OPERATOR_DESA, "Operator Desa (demo)", (desa[0],)),
        ("demo.pendamping", Role.PENDAMPING, "Pendamping Sosial (demo)", tuple(desa)),
        ("demo.auditor", Role.AUDITOR, "Auditor (demo)", ()),
    ]

    def work(session: Any) -> list[tuple[str, str, str, str]]:
        from sqlalchemy import select

        now, actor = _now(), cli_actor()
        printed = []
        for username, role, full_name, regions in plan:
            password = demo_password()
            user = get_user(session, username)
            if user is None:
                user = create_user(
                    session,
                    username=username,
                    full_name=full_name,
                    role=role,
                    regions=regions,
                    password=password,
                    now=now,
                    actor=actor,
                )
            else:
                set_password(session, user, password, now=now, actor=actor)
                if not user.active:
                    set_active(session, user, True, now=now, actor=actor)
                unlock_user(session, user, now=now, actor=actor)
            printed.append((role.value, username, password, ",".join(user.region_codes) or "nasional"))
        client = session.scalar(
            select(ApiClient).where(ApiClient.name == DEMO_CLIENT_NAME, ApiClient.active.is_(True))
        )
        if client is None:
            created = create_client(
                session,
                name=DEMO_CLIENT_NAME,
                organisation="Demo",
                role=Role.KLIEN_INSTANSI,
                scopes=("person.search", "family.read"),
                regions=(kab,),
                now=now,
                actor=actor,
            )
            client, secret = created.client, created.secret
        else:
            secret = rotate_secret(session, client, now=now, actor=actor)
        printed.append((Role.KLIEN_INSTANSI.value, client.client_id, secret, ",".join(client.region_codes)))
        return printed

    rows = _run(url, work)
    typer.echo("Demo accounts (passwords are shown only now; rerun this command for new ones):")
    typer.echo(f"{'role':<16} {'username / client_id':<24} {'password / secret':<44} regions")
    for role_name, username, password, regions in rows:
        typer.echo(f"{role_name:<16} {username:<24} {password:<44} {regions}")
    typer.echo(
        "klien_instansi: POST /auth/token with grant_type=client_credentials and the id and secret above."
    )
