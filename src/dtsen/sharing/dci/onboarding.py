"""Onboarding a DCI client (after ``dtsen clients add``): its envelope keys, its callback URIs, and the
approved access request it reads under. Every change is audited; the CLI (``dtsen clients key|callback|
grant``) is a thin shell over these functions.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from dtsen.auth.accounts import AccountError
from dtsen.auth.scope import Role
from dtsen.sharing.dci.envelope import jwk_of_public_key, public_key_of_jwk
from dtsen.store import audit
from dtsen.store.dci import DciCallback, DciClientKey, DciGrant
from dtsen.store.identity import ApiClient
from dtsen.store.sharing import AccessRequest

MAX_URI_LENGTH = 500
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


def _record(
    session: Session, actor: Mapping[str, Any], action: str, detail: dict[str, Any], now: datetime
) -> None:
    audit.record(session, **actor, action=action, resource="api_client", detail=detail, occurred_at=now)


def parse_jwk(text: str) -> dict[str, str]:
    """A public Ed25519 JWK from its JSON text (a JWKS with exactly one key is accepted too)."""
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise AccountError("the key is not JSON (give a public JWK: kty OKP, crv Ed25519)") from exc
    if isinstance(value, dict) and isinstance(value.get("keys"), list):
        if len(value["keys"]) != 1:
            raise AccountError("the JWKS must hold exactly one key")
        value = value["keys"][0]
    try:
        public_key = public_key_of_jwk(value)
    except ValueError as exc:
        raise AccountError(str(exc)) from exc
    return jwk_of_public_key(public_key)


def add_key(
    session: Session,
    client: ApiClient,
    jwk_text: str,
    *,
    key_id: str | None,
    now: datetime,
    actor: Mapping[str, Any],
) -> DciClientKey:
    """Register a public key; its id is ``key_id`` or, by default, the key's RFC 7638 thumbprint."""
    jwk = parse_jwk(jwk_text)
    kid = key_id or jwk["kid"]
    if not kid or len(kid) > 64 or any(char in kid for char in '|" '):
        raise AccountError("a key id is 1-64 characters without |, quotes or spaces")
    exists = session.scalar(
        select(DciClientKey.id).where(DciClientKey.client_pk == client.id, DciClientKey.key_id == kid)
    )
    if exists is not None:
        raise AccountError(f"client {client.client_id} already has a key {kid!r}")
    row = DciClientKey(client_pk=client.id, key_id=kid, public_jwk=jwk, created_at=now, revoked_at=None)
    session.add(row)
    session.flush()
    _record(session, actor, "dci_key_added", {"client_id": client.client_id, "key_id": kid}, now)
    return row


def list_keys(session: Session, client: ApiClient) -> list[DciClientKey]:
    return list(
        session.scalars(
            select(DciClientKey).where(DciClientKey.client_pk == client.id).order_by(DciClientKey.id)
        )
    )


def revoke_key(
    session: Session, client: ApiClient, key_id: str, *, now: datetime, actor: Mapping[str, Any]
) -> None:
    """Stop accepting signatures by a key (kept, marked revoked, so the record stays readable)."""
    row = session.scalar(
        select(DciClientKey).where(DciClientKey.client_pk == client.id, DciClientKey.key_id == key_id)
    )
    if row is None:
        raise AccountError(f"client {client.client_id} has no key {key_id!r}")
    if row.revoked_at is None:
        row.revoked_at = now
        _record(session, actor, "dci_key_revoked", {"client_id": client.client_id, "key_id": key_id}, now)


def check_callback_uri(uri: str) -> str:
    """An https URL (plain http only to this machine, for testing), without credentials or fragment."""
    uri = uri.strip()
    if not uri or len(uri) > MAX_URI_LENGTH:
        raise AccountError(f"a callback URI is 1-{MAX_URI_LENGTH} characters")
    parts = urlsplit(uri)
    if parts.scheme not in {"https", "http"} or not parts.hostname:
        raise AccountError("a callback URI is an absolute https:// URL")
    if parts.scheme == "http" and parts.hostname not in LOCAL_HOSTS:
        raise AccountError("plain http is allowed only to localhost; use https")
    if parts.username or parts.password or parts.fragment:
        raise AccountError("a callback URI carries no user name, password or #fragment")
    return uri


def add_callback(
    session: Session, client: ApiClient, uri: str, *, now: datetime, actor: Mapping[str, Any]
) -> DciCallback:
    uri = check_callback_uri(uri)
    exists = session.scalar(
        select(DciCallback.id).where(DciCallback.client_pk == client.id, DciCallback.uri == uri)
    )
    if exists is not None:
        raise AccountError("this callback URI is already registered for the client")
    row = DciCallback(client_pk=client.id, uri=uri, created_at=now)
    session.add(row)
    session.flush()
    _record(
        session,
        actor,
        "dci_callback_added",
        {"client_id": client.client_id, "host": urlsplit(uri).hostname},
        now,
    )
    return row


def list_callbacks(session: Session, client: ApiClient) -> list[DciCallback]:
    return list(
        session.scalars(
            select(DciCallback).where(DciCallback.client_pk == client.id).order_by(DciCallback.id)
        )
    )


def remove_callback(
    session: Session, client: ApiClient, uri: str, *, now: datetime, actor: Mapping[str, Any]
) -> None:
    """Forget a callback URI: queued pushes to it are not sent (the outbox checks again at delivery)."""
    gone = session.execute(
        delete(DciCallback).where(DciCallback.client_pk == client.id, DciCallback.uri == uri.strip())
    )
    if not getattr(gone, "rowcount", 0):
        raise AccountError("no such callback URI for the client")
    _record(
        session,
        actor,
        "dci_callback_removed",
        {"client_id": client.client_id, "host": urlsplit(uri).hostname},
        now,
    )


def grant(
    session: Session, client: ApiClient, nomor: str, *, now: datetime, actor: Mapping[str, Any]
) -> DciGrant:
    """Link a client to an approved access request (replacing an earlier link); the client then sees
    what the request allows, within the regions both the request and the client name."""
    if client.role != Role.KLIEN_INSTANSI.value:
        raise AccountError("only klien_instansi clients read the registry over DCI")
    if not client.active or client.revoked_at is not None:
        raise AccountError(f"client {client.client_id} is revoked")
    request = session.scalar(select(AccessRequest).where(AccessRequest.nomor == nomor.strip()))
    if request is None:
        raise AccountError(f"no access request {nomor!r}")
    if request.state != "disetujui":
        raise AccountError(f"access request {request.nomor} is not approved (state {request.state})")
    row = session.get(DciGrant, client.id)
    if row is None:
        row = DciGrant(
            client_pk=client.id, request_id=request.id, created_at=now, created_by=str(actor["actor"])
        )
        session.add(row)
    else:
        row.request_id, row.created_at, row.created_by = request.id, now, str(actor["actor"])
    session.flush()
    _record(session, actor, "dci_grant", {"client_id": client.client_id, "nomor": request.nomor}, now)
    return row
