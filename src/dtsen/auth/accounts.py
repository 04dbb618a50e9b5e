"""Staff accounts: create, check a login (with lock-out), change password, disable, unlock.

The login answer never says which check failed (unknown user, wrong password, locked, disabled all look
the same and take the same time); the audit log records which, so an administrator can see a lock-out
or a password-guessing run.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from dtsen.auth.passwords import (
    burn_verification,
    check_password_policy,
    hash_secret,
    needs_rehash,
    verify_secret,
)
from dtsen.auth.policy import AuthPolicy
from dtsen.auth.scope import NATIONAL_ROLES, REGION_LEVEL, Role
from dtsen.auth.sessions import revoke_user_sessions
from dtsen.store import audit
from dtsen.store.identity import StaffUser, StaffUserRegion
from dtsen.store.models import Region

USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{2,63}$")
# Roles a person (not a machine client) can have.
USER_ROLES = frozenset(Role) - {Role.DUKCAPIL}
CLIENT_ROLES = frozenset({Role.KLIEN_INSTANSI, Role.DUKCAPIL})


class AccountError(ValueError):
    """Invalid account input (unknown role, bad region, taken username ...); the message is shown as is."""


def normalise_username(username: str) -> str:
    return username.strip().lower()


def audit_username(username: str) -> str:
    """A typed-in username made safe for the audit log: bounded, and long digit runs (someone typing
    a NIK into the login form) replaced, since the log must never hold a NIK."""
    cleaned = "".join(char if char.isprintable() else "?" for char in normalise_username(username)[:64])
    if sum(char.isdigit() for char in cleaned) >= 8:  # also "3471-0112-0385-0001" and other spellings
        cleaned = re.sub(r"\d", "#", cleaned)
    return cleaned or "-"


def parse_role(value: str, allowed: Iterable[Role] = USER_ROLES) -> Role:
    allowed = frozenset(allowed)
    try:
        role = Role(value.strip().lower())
    except ValueError:
        role = None
    if role is None or role not in allowed:
        names = ", ".join(sorted(r.value for r in allowed))
        raise AccountError(f"unknown role {value!r}; one of: {names}")
    return role


def validate_regions(db: Session, role: Role, codes: Iterable[str]) -> tuple[str, ...]:
    """Region codes normalised, checked to exist and to fit the role (dinsos one kab/kota, operator one
    desa, pendamping one or more desa, national roles none)."""
    from dtsen.reference.regions import exists as reference_exists
    from dtsen.reference.regions import normalize_code

    normalised: list[str] = []
    for code in codes:
        kode = normalize_code(code)
        if kode is None:
            raise AccountError(f"region {code!r} is not a region code (2, 4, 6 or 10 digits)")
        if kode not in normalised:
            normalised.append(kode)
    if role in NATIONAL_ROLES or role is Role.DUKCAPIL:
        if normalised:
            raise AccountError(f"role {role.value} is national: give no --region")
        return ()
    if not normalised:
        raise AccountError(f"role {role.value} needs at least one --region")
    level = REGION_LEVEL.get(role)
    if level is not None and any(len(kode) != level for kode in normalised):
        what = {4: "kabupaten/kota (4 digits)", 10: "desa/kelurahan (10 digits)"}[level]
        raise AccountError(f"role {role.value} is bound to a {what}")
    if role in {Role.DINSOS, Role.OPERATOR_DESA} and len(normalised) != 1:
        raise AccountError(f"role {role.value} is bound to exactly one region")
    loaded = db.scalar(select(exists().select_from(Region)))
    for kode in normalised:
        known = db.get(Region, kode) is not None if loaded else reference_exists(kode)
        if not known:
            raise AccountError(f"region {kode} does not exist (see `dtsen db load-regions`)")
    return tuple(sorted(normalised))


def get_user(db: Session, username: str) -> StaffUser | None:
    return db.scalar(select(StaffUser).where(StaffUser.username == normalise_username(username)))


def require_user_row(db: Session, username: str) -> StaffUser:
    user = get_user(db, username)
    if user is None:
        raise AccountError(f"no user {normalise_username(username)!r}")
    return user


def create_user(
    db: Session,
    *,
    username: str,
    full_name: str,
    role: str | Role,
    regions: Iterable[str],
    password: str,
    now: datetime,
    actor: Mapping[str, Any],
    must_change_password: bool = False,
) -> StaffUser:
    """A new active account; refuses a taken or malformed username, a bad region or a weak password."""
    name = normalise_username(username)
    if not USERNAME_RE.match(name):
        raise AccountError(
            f"username {username!r}: 3-64 characters, lowercase letters, digits, '.', '_' or '-'"
        )
    if sum(char.isdigit() for char in name) > 8:
        raise AccountError(f"username {username!r}: at most 8 digits (a username is not a NIK)")
    if not full_name.strip() or len(full_name) > 200:
        raise AccountError("full name is required (at most 200 characters)")
    parsed_role = parse_role(str(role))
    codes = validate_regions(db, parsed_role, regions)
    check_password_policy(password, username=name)
    if get_user(db, name) is not None:
        raise AccountError(f"username {name!r} is taken")
    user = StaffUser(
        username=name,
        full_name=full_name.strip(),
        role=parsed_role.value,
        password_hash=hash_secret(password),
        active=True,
        failed_attempts=0,
        locked_until=None,
        password_changed_at=now,
        must_change_password=must_change_password,
        created_at=now,
        regions=[StaffUserRegion(kode=kode) for kode in codes],
    )
    db.add(user)
    db.flush()
    audit.record(
        db,
        **actor,
        action="user_created",
        resource="staff_user",
        region_kode=codes[0] if len(codes) == 1 else None,
        detail={"username": name, "role": parsed_role.value, "regions": list(codes)},
        occurred_at=now,
    )
    return user


def set_password(
    db: Session,
    user: StaffUser,
    password: str,
    *,
    now: datetime,
    actor: Mapping[str, Any],
    must_change_password: bool = False,
) -> None:
    """Replace the password (policy-checked), clear a lock-out and end every session of the user."""
    check_password_policy(password, username=user.username)
    user.password_hash = hash_secret(password)
    user.password_changed_at = now
    user.must_change_password = must_change_password
    user.failed_attempts = 0
    user.locked_until = None
    revoked = revoke_user_sessions(db, user.id)
    audit.record(
        db,
        **actor,
        action="password_set",
        resource="staff_user",
        detail={"username": user.username, "sessions_revoked": revoked},
        occurred_at=now,
    )


def set_active(
    db: Session, user: StaffUser, active: bool, *, now: datetime, actor: Mapping[str, Any]
) -> None:
    """Enable or disable an account; disabling ends every session at once."""
    user.active = active
    revoked = 0 if active else revoke_user_sessions(db, user.id)
    audit.record(
        db,
        **actor,
        action="user_enabled" if active else "user_disabled",
        resource="staff_user",
        detail={"username": user.username, "sessions_revoked": revoked},
        occurred_at=now,
    )


def unlock(db: Session, user: StaffUser, *, now: datetime, actor: Mapping[str, Any]) -> None:
    """Lift a lock-out and forget the failed attempts."""
    user.failed_attempts = 0
    user.locked_until = None
    audit.record(
        db,
        **actor,
        action="user_unlocked",
        resource="staff_user",
        detail={"username": user.username},
        occurred_at=now,
    )


@dataclass(frozen=True)
class LoginResult:
    """``user`` is set only when the login succeeded; ``reason`` (for the audit only) says why not."""

    user: StaffUser | None
    reason: str  # ok | unknown_user | wrong_password | locked | disabled


def authenticate(
    db: Session,
    username: str,
    password: str,
    *,
    now: datetime,
    policy: AuthPolicy,
    ip_address: str | None = None,
) -> LoginResult:
    """Check a login and audit it (login, login_failed with the reason, locked when this failure locks).

    Every path verifies one argon2 hash, so the time taken does not tell an unknown user from a wrong
    password; a locked or disabled account is refused even with the right password.
    """
    detail_base: dict[str, Any] = {"ip": ip_address} if ip_address else {}
    name = normalise_username(username)
    user = get_user(db, name) if USERNAME_RE.match(name) else None
    if user is None:
        burn_verification(password[:1024])
        audit.record(
            db,
            actor="anonymous",
            action="login_failed",
            resource="staff_session",
            detail={**detail_base, "username": audit_username(username), "reason": "unknown_user"},
            occurred_at=now,
        )
        return LoginResult(None, "unknown_user")

    actor = {"actor": f"user:{user.username}", "actor_role": user.role}
    matches = verify_secret(user.password_hash, password[:1024])
    locked = user.locked_until is not None and now < user.locked_until
    if locked or not user.active:
        reason = "locked" if locked else "disabled"
        audit.record(
            db,
            **actor,
            action="login_failed",
            resource="staff_session",
            detail={**detail_base, "reason": reason},
            occurred_at=now,
        )
        return LoginResult(None, reason)
    if not matches:
        user.failed_attempts += 1
        audit.record(
            db,
            **actor,
            action="login_failed",
            resource="staff_session",
            detail={**detail_base, "reason": "wrong_password", "failed_attempts": user.failed_attempts},
            occurred_at=now,
        )
        if user.failed_attempts >= policy.max_failed_logins:
            user.locked_until = now + policy.lockout
            audit.record(
                db,
                **actor,
                action="locked",
                resource="staff_user",
                detail={
                    **detail_base,
                    "failed_attempts": user.failed_attempts,
                    "locked_until": user.locked_until.isoformat(),
                },
                occurred_at=now,
            )
            user.failed_attempts = 0
        return LoginResult(None, "wrong_password")

    user.failed_attempts = 0
    user.locked_until = None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_secret(password)
    return LoginResult(user, "ok")
