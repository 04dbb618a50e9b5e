"""``dtsen users`` and ``dtsen clients`` on SQLite and PostgreSQL: every command, its refusals, and the
audit entries they write."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from argon2 import PasswordHasher
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from dtsen.auth import passwords
from dtsen.auth.accounts import authenticate, get_user
from dtsen.auth.clients import authenticate_client
from dtsen.auth.policy import DEFAULT_POLICY
from dtsen.auth.scope import Role
from dtsen.cli.main import app
from dtsen.store.db import session_scope
from dtsen.store.identity import StaffSession
from dtsen.store.models import AuditLog

runner = CliRunner()
PASSWORD = "gunung-merapi-berasap-tipis"  # noqa: S105 - a test account's password


@pytest.fixture(autouse=True)
def _cheap_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2id at its production cost takes ~0.2 s a hash on a busy CI core; these tests hash and verify
    hundreds of times, so they use the same algorithm at a low cost (the production parameters are
    checked in test_production_hash_parameters)."""
    cheap = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)
    monkeypatch.setattr(passwords, "hasher", lambda: cheap)
    monkeypatch.setattr(passwords, "_dummy_hash", lambda: cheap.hash("dummy"))


def _invoke(*args: str, stdin: str | None = None, url: str) -> tuple[int, str]:
    result = runner.invoke(app, [*args, "--url", url], input=stdin)
    return result.exit_code, result.output


def _actions(engine: Engine) -> list[str]:
    with Session(engine) as db:
        return list(db.scalars(select(AuditLog.action).order_by(AuditLog.id)))


def _login_ok(engine: Engine, username: str, password: str) -> bool:
    with session_scope(engine=engine) as db:
        result = authenticate(db, username, password, now=datetime.now(UTC), policy=DEFAULT_POLICY)
        return result.user is not None


def test_users_add_list_and_refusals(engine: Engine, db_url: str) -> None:
    code, output = _invoke(
        "users",
        "add",
        "sari.op",
        "--role",
        "operator_desa",
        "--region",
        "34.71.12.1001",
        "--name",
        "Sari Wulandari",
        "--password-stdin",
        stdin=PASSWORD + "\n",
        url=db_url,
    )
    assert code == 0, output
    assert "regions 3471121001" in output
    assert _login_ok(engine, "sari.op", PASSWORD)

    # Prompted twice at a hidden prompt.
    code, output = _invoke(
        "users",
        "add",
        "budi.pd",
        "--role",
        "pendamping",
        "--region",
        "3471121001",
        "--region",
        "3471141003",
        "--name",
        "Budi",
        stdin=f"{PASSWORD}\n{PASSWORD}\n",
        url=db_url,
    )
    assert code == 0, output
    assert PASSWORD not in output

    code, output = _invoke("users", "list", url=db_url)
    assert code == 0
    assert re.search(r"budi\.pd\tpendamping\t3471121001,3471141003\tactive\tBudi", output)

    refusals = [
        (["users", "add", "x.y", "--role", "lurah", "--name", "X"], "unknown role"),
        (["users", "add", "x.y", "--role", "dinsos", "--region", "3471121001", "--name", "X"], "kabupaten"),
        (["users", "add", "x.y", "--role", "analis_bps", "--name", "X"], "12"),  # short password below
        (["users", "add", "sari.op", "--role", "analis_bps", "--name", "X"], "taken"),
    ]
    for args, message in refusals:
        password = "pendek" if message == "12" else PASSWORD
        code, output = _invoke(*args, "--password-stdin", stdin=password + "\n", url=db_url)
        assert code == 1, output
        assert message in output
    assert "user_created" in _actions(engine)


def test_disable_enable_unlock_and_reset_password(engine: Engine, db_url: str) -> None:
    _invoke(
        "users",
        "add",
        "rina.dinsos",
        "--role",
        "dinsos",
        "--region",
        "3471",
        "--name",
        "Rina",
        "--password-stdin",
        stdin=PASSWORD + "\n",
        url=db_url,
    )
    with session_scope(engine=engine) as db:
        user = get_user(db, "rina.dinsos")
        assert user is not None
        db.add(
            StaffSession(
                id="a" * 64,
                user_id=user.id,
                created_at=datetime.now(UTC),
                last_seen_at=datetime.now(UTC),
                expires_at=datetime.now(UTC) + timedelta(hours=1),
                csrf_token="t",  # noqa: S106
                revoked=False,
            )
        )
    assert _invoke("users", "disable", "rina.dinsos", url=db_url)[0] == 0
    assert not _login_ok(engine, "rina.dinsos", PASSWORD)
    with Session(engine) as db:
        session_row = db.get(StaffSession, "a" * 64)
        assert session_row is not None
        assert session_row.revoked
    assert "disabled" in _invoke("users", "list", url=db_url)[1]
    assert _invoke("users", "enable", "rina.dinsos", url=db_url)[0] == 0
    assert _login_ok(engine, "rina.dinsos", PASSWORD)

    for _ in range(5):
        _login_ok(engine, "rina.dinsos", "salah-salah-salah")
    assert "locked-until" in _invoke("users", "list", url=db_url)[1]
    assert not _login_ok(engine, "rina.dinsos", PASSWORD)
    assert _invoke("users", "unlock", "rina.dinsos", url=db_url)[0] == 0
    assert _login_ok(engine, "rina.dinsos", PASSWORD)

    new = "sungai-progo-mengalir-jauh"
    code, output = _invoke(
        "users", "reset-password", "rina.dinsos", "--password-stdin", stdin=new + "\n", url=db_url
    )
    assert code == 0, output
    assert _login_ok(engine, "rina.dinsos", new)
    assert not _login_ok(engine, "rina.dinsos", PASSWORD)
    assert "must-change-password" in _invoke("users", "list", url=db_url)[1]
    code, output = _invoke("users", "disable", "nobody", url=db_url)
    assert code == 1
    assert "no user" in output
    actions = _actions(engine)
    for action in ("user_disabled", "user_enabled", "locked", "user_unlocked", "password_set"):
        assert action in actions


def test_clients_add_list_revoke(engine: Engine, db_url: str) -> None:
    code, output = _invoke(
        "clients",
        "add",
        "Dinas Kesehatan DIY",
        "--scope",
        "family.read person.search",
        "--region",
        "3471",
        "--organisation",
        "Pemda DIY",
        url=db_url,
    )
    assert code == 0, output
    client_id = re.search(r"client_id:\s+(\S+)", output).group(1)  # type: ignore[union-attr]
    secret = re.search(r"client_secret:\s+(\S+)", output).group(1)  # type: ignore[union-attr]
    with session_scope(engine=engine) as db:
        client, reason = authenticate_client(db, client_id, secret)
        assert reason == "ok"
        assert client is not None
        assert client.scope_set == {"family.read", "person.search"}
    code, output = _invoke("clients", "list", url=db_url)
    assert (
        f"{client_id}\tDinas Kesehatan DIY\tklien_instansi\tfamily.read person.search\t3471\tactive" in output
    )
    assert secret not in output

    for args, message in [
        (["--scope", "audit.read", "--region", "3471"], "cannot hold scope"),
        (["--scope", "family.raed", "--region", "3471"], "unknown scope"),
        (["--scope", "family.read", "--role", "admin_bps"], "unknown role"),
        (["--scope", "family.read"], "at least one --region"),
    ]:
        code, output = _invoke("clients", "add", "X", *args, url=db_url)
        assert code == 1, output
        assert message in output

    code, output = _invoke("clients", "rotate-secret", client_id, url=db_url)
    assert code == 0
    rotated = re.search(r"client_secret:\s+(\S+)", output).group(1)  # type: ignore[union-attr]
    with session_scope(engine=engine) as db:
        assert authenticate_client(db, client_id, secret)[1] == "wrong_secret"
        assert authenticate_client(db, client_id, rotated)[1] == "ok"

    assert _invoke("clients", "revoke", client_id, url=db_url)[0] == 0
    with session_scope(engine=engine) as db:
        assert authenticate_client(db, client_id, rotated)[1] == "revoked"
    assert "revoked" in _invoke("clients", "list", url=db_url)[1]
    assert _invoke("clients", "revoke", "dtsen-nothere", url=db_url)[0] == 1
    actions = _actions(engine)
    for action in ("client_created", "client_secret_rotated", "client_revoked"):
        assert action in actions


def _demo_rows(output: str) -> dict[str, list[str]]:
    roles = {role.value for role in Role}
    return {
        line.split()[0]: line.split()
        for line in output.splitlines()
        if line.split()[:1] and line.split()[0] in roles
    }


def test_demo_accounts(engine: Engine, db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DTSEN_DEMO", raising=False)
    code, output = _invoke("users", "demo-accounts", url=db_url)
    assert code == 1
    assert "--yes-demo" in output

    code, output = _invoke("users", "demo-accounts", "--yes-demo", url=db_url)
    assert code == 0, output
    rows = _demo_rows(output)
    assert set(rows) == {
        "admin_bps",
        "analis_bps",
        "kemensos",
        "dinsos",
        "operator_desa",
        "pendamping",
        "auditor",
        "klien_instansi",
    }
    assert rows["dinsos"][3] == "3471"
    assert rows["pendamping"][3] == "3471121001,3471141003"
    for role in ("admin_bps", "operator_desa", "auditor"):
        assert _login_ok(engine, rows[role][1], rows[role][2])
    with session_scope(engine=engine) as db:
        assert authenticate_client(db, rows["klien_instansi"][1], rows["klien_instansi"][2])[1] == "ok"

    monkeypatch.setenv("DTSEN_DEMO", "1")
    code, again = _invoke("users", "demo-accounts", url=db_url)  # rerun: new passwords, same accounts
    assert code == 0, again
    rows_again = _demo_rows(again)
    assert rows_again["admin_bps"][2] != rows["admin_bps"][2]
    assert not _login_ok(engine, "demo.admin", rows["admin_bps"][2])
    assert _login_ok(engine, "demo.admin", rows_again["admin_bps"][2])
    assert rows_again["klien_instansi"][1] == rows["klien_instansi"][1]
