"""Machine clients (agency systems, Dukcapil): registered once, then OAuth2 client credentials -> JWT.

The secret is shown once at registration and stored only as an argon2id hash; a client asks for a subset
of the scopes it was granted (scope names are permission names of :mod:`dtsen.auth.permissions`, limited
to what its role may hold), and its tokens carry its regions, which the scoping rule applies like a
staff user's.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dtsen.auth.accounts import CLIENT_ROLES, AccountError, parse_role, validate_regions
from dtsen.auth.passwords import burn_verification, hash_secret, verify_secret
from dtsen.auth.permissions import PERMISSIONS, permissions_of
from dtsen.auth.scope import Role
from dtsen.store import audit
from dtsen.store.identity import ApiClient, ApiClientRegion

MAX_SECRET_LENGTH = 256
CLIENT_ID_ALPHABET = "abcdefghijkmnpqrstuvwxyz"


@dataclass(frozen=True)
class NewClient:
    client: ApiClient
    secret: str  # shown once, never stored


def parse_scopes(values: Iterable[str], role: Role) -> frozenset[str]:
    """Scope names (space- or comma-separated) checked against the permission table and the role."""
    scopes = frozenset(part for value in values for part in value.replace(",", " ").split())
    if not scopes:
        raise AccountError("give at least one --scope")
    allowed = permissions_of(role)
    for scope in sorted(scopes):
        if scope not in PERMISSIONS:
            raise AccountError(f"unknown scope {scope!r}; one of: {', '.join(sorted(PERMISSIONS))}")
        if scope not in allowed:
            raise AccountError(
                f"role {role.value} cannot hold scope {scope!r} (allowed: {' '.join(sorted(allowed))})"
            )
    return scopes


def create_client(
    db: Session,
    *,
    name: str,
    organisation: str | None,
    role: str | Role,
    scopes: Iterable[str],
    regions: Iterable[str],
    now: datetime,
    actor: Mapping[str, Any],
) -> NewClient:
    if not name.strip() or len(name) > 200:
        raise AccountError("client name is required (at most 200 characters)")
    parsed_role = parse_role(str(role), CLIENT_ROLES)
    granted = parse_scopes(scopes, parsed_role)
    codes = validate_regions(db, parsed_role, regions)
    # Letters only: a client id appears in audit entries, which refuse anything shaped like a NIK.
    client_id = "dtsen-" + "".join(secrets.choice(CLIENT_ID_ALPHABET) for _ in range(16))
    secret = secrets.token_urlsafe(32)
    client = ApiClient(
        client_id=client_id,
        secret_hash=hash_secret(secret),
        name=name.strip(),
        organisation=(organisation or "").strip() or None,
        role=parsed_role.value,
        scopes=" ".join(sorted(granted)),
        active=True,
        created_at=now,
        revoked_at=None,
        regions=[ApiClientRegion(kode=kode) for kode in codes],
    )
    db.add(client)
    db.flush()
    audit.record(
        db,
        **actor,
        action="client_created",
        resource="api_client",
        detail={
            "client_id": client_id,
            "role": parsed_role.value,
            "scopes": sorted(granted),
            "regions": list(codes),
        },
        occurred_at=now,
    )
    return NewClient(client, secret)


def get_client(db: Session, client_id: str) -> ApiClient | None:
    if not client_id or len(client_id) > 64:
        return None
    return db.scalar(select(ApiClient).where(ApiClient.client_id == client_id))


def authenticate_client(db: Session, client_id: str, secret: str) -> tuple[ApiClient | None, str]:
    """The client if its id and secret match and it is active; else ``None`` and the reason (audit only).
    Unknown ids spend one verification too, so timing does not reveal which ids exist."""
    client = get_client(db, client_id)
    secret = secret[:MAX_SECRET_LENGTH]
    if client is None:
        burn_verification(secret)
        return None, "unknown_client"
    if not verify_secret(client.secret_hash, secret):
        return None, "wrong_secret"
    if not client.active or client.revoked_at is not None:
        return None, "revoked"
    return client, "ok"


def revoke_client(db: Session, client: ApiClient, *, now: datetime, actor: Mapping[str, Any]) -> None:
    """Revoke for good: no new tokens, and tokens already issued stop working at their next use."""
    client.active = False
    client.revoked_at = now
    audit.record(
        db,
        **actor,
        action="client_revoked",
        resource="api_client",
        detail={"client_id": client.client_id},
        occurred_at=now,
    )


def rotate_secret(db: Session, client: ApiClient, *, now: datetime, actor: Mapping[str, Any]) -> str:
    """A new secret for an existing client (the old one stops working at once); shown once."""
    secret = secrets.token_urlsafe(32)
    client.secret_hash = hash_secret(secret)
    audit.record(
        db,
        **actor,
        action="client_secret_rotated",
        resource="api_client",
        detail={"client_id": client.client_id},
        occurred_at=now,
    )
    return secret


def list_clients(db: Session) -> list[ApiClient]:
    return list(db.scalars(select(ApiClient).order_by(ApiClient.client_id)))
