"""The DCI ``{signature, header, message}`` envelope: our Ed25519 key, signing, verifying, replay refusal.

Signature string (DCI/Beckn style, as the spec's ``MsgSignature`` example)::

    Signature: namespace="dci", kidId="{sender_id}|{key_id}|ed25519", algorithm="ed25519",
    created="<unix>", expires="<unix>", headers="(created) (expires) digest", signature="<base64>"

The signed content is ``(created): <c>\\n(expires): <e>\\ndigest: BLAKE-512=<b64>`` where the digest is
BLAKE2b-512 of :func:`canonical_json` of ``{"header": ..., "message": ...}``: sorted keys and no
whitespace, so the sender and we hash the same bytes whatever JSON library either side uses. A client's
public keys are registered per client (JWK, OKP/Ed25519) under the ``key_id`` its ``kidId`` names; ours is
generated once into ``data_dir/.dci_signing_key`` (mode 0600) and published in the JWKS next to the
token key.

The HTTP bearer token says which client is calling; the signature proves the body came from that client
unchanged and not long ago (``expires - created`` at most an hour), and ``message_id`` is remembered so the
same body cannot be played twice.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache, cached_property
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import bindparam, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dtsen.config import get_settings
from dtsen.sharing.dci.errors import DciError
from dtsen.store.dci import DciClientKey, DciSeenMessage
from dtsen.store.identity import ApiClient

__all__ = [
    "DciKey",
    "canonical_json",
    "check_envelope",
    "envelope",
    "header_for_reply",
    "jwk_of_public_key",
    "key_id_hint",
    "our_key",
    "parse_signature",
    "public_key_of_jwk",
    "remember_message",
    "sign",
    "signed_content",
    "verify",
]

KEY_FILE = ".dci_signing_key"
NAMESPACES = frozenset({"dci", "spdci"})  # ours is "dci"; the spec's example says "spdci"
ALGORITHM = "ed25519"
SIGNED_HEADERS = "(created) (expires) digest"
PROTOCOL_VERSION = "1.0.0"
CLOCK_SKEW_SECONDS = 60  # a sender's clock may run this far ahead of ours
MAX_SIGNATURE_LIFETIME = 3600  # expires - created
MAX_SIGNATURE_LENGTH = 2000
_FIELD_RE = re.compile(r'([A-Za-z]+)="([^"]*)"')
_KEY_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
# The dialects whose INSERT has ON CONFLICT DO NOTHING ... RETURNING (the replay guard in one statement).
_UPSERT_INSERTS = {"postgresql": postgresql_insert, "sqlite": sqlite_insert}


def canonical_json(obj: Any) -> bytes:
    """The bytes both sides hash: sorted keys, no whitespace, UTF-8 (not ``\\u`` escapes)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def jwk_of_public_key(public_key: Ed25519PublicKey) -> dict[str, str]:
    """The public JWK (RFC 8037, kty OKP) of an Ed25519 key, with its RFC 7638 thumbprint as ``kid``."""
    x = _b64url(public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw))
    canonical = json.dumps({"crv": "Ed25519", "kty": "OKP", "x": x}, separators=(",", ":"))
    kid = _b64url(hashlib.sha256(canonical.encode()).digest())
    return {"kty": "OKP", "crv": "Ed25519", "x": x, "kid": kid, "use": "sig", "alg": "EdDSA"}


def public_key_of_jwk(jwk: Any) -> Ed25519PublicKey:
    """The Ed25519 public key of a JWK; ``ValueError`` for anything else (a private JWK included: the
    registry must never hold a client's private key)."""
    if not isinstance(jwk, dict) or jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
        raise ValueError("not an Ed25519 public JWK (kty OKP, crv Ed25519)")
    if "d" in jwk:
        raise ValueError("this JWK holds a private key; register the public key only")
    x = jwk.get("x")
    if not isinstance(x, str):
        raise ValueError("the JWK has no x")
    try:
        raw = _b64url_decode(x)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("the JWK's x is not base64url") from exc
    if len(raw) != 32:
        raise ValueError("the JWK's x is not a 32-byte Ed25519 public key")
    return Ed25519PublicKey.from_public_bytes(raw)


@dataclass(frozen=True)
class DciKey:
    """An Ed25519 signing key: ours (replies, callbacks, pushes) or a test client's."""

    private_key: Ed25519PrivateKey

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.private_key.public_key()

    def public_jwk(self) -> dict[str, str]:
        return jwk_of_public_key(self.public_key)

    @cached_property
    def kid(self) -> str:
        """The RFC 7638 thumbprint (worked out once per key: it is in every signature we make)."""
        return self.public_jwk()["kid"]

    def sign(self, data: bytes) -> bytes:
        return self.private_key.sign(data)

    @classmethod
    def generate(cls) -> DciKey:
        return cls(Ed25519PrivateKey.generate())

    def private_pem(self) -> bytes:
        return self.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )

    @classmethod
    def from_pem(cls, pem: bytes) -> DciKey:
        loaded = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(loaded, Ed25519PrivateKey):
            raise ValueError("not an Ed25519 private key")
        return cls(loaded)

    @classmethod
    def load_or_create(cls, path: Path) -> DciKey:
        """The key in ``path``; generated and written (mode 0600, never overwritten) on first use."""
        if path.exists():
            return cls.from_pem(path.read_bytes())
        key = cls.generate()
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first: use theirs
            return cls.from_pem(path.read_bytes())
        with os.fdopen(fd, "wb") as handle:
            handle.write(key.private_pem())
        return key


@cache
def _key_at(path: Path) -> DciKey:
    """The key file's key, once per process and path (resolved here, once: not a ``stat`` a request)."""
    return _key_at_resolved(path.resolve())


@cache
def _key_at_resolved(path: Path) -> DciKey:
    return DciKey.load_or_create(path)


def our_key(app: Any | None = None) -> DciKey:
    """Our envelope key: ``app.state.dci_key`` if the app carries one, else the one in the data_dir of
    the app's settings (or of the configured settings)."""
    settings = get_settings()
    if app is not None:
        key = getattr(app.state, "dci_key", None)
        if isinstance(key, DciKey):
            return key
        settings = getattr(app.state, "settings", None) or settings
    return _key_at(settings.data_dir / KEY_FILE)


def _digest(header: Any, message: Any) -> str:
    digest = hashlib.blake2b(canonical_json({"header": header, "message": message}), digest_size=64).digest()
    return base64.b64encode(digest).decode()


def signed_content(header: Any, message: Any, *, created: int, expires: int) -> bytes:
    """The exact bytes a signature covers."""
    digest = _digest(header, message)
    return f"(created): {created}\n(expires): {expires}\ndigest: BLAKE-512={digest}".encode()


def sign(
    header: dict[str, Any], message: dict[str, Any], key: DciKey, *, now: datetime, ttl: int = 300
) -> str:
    """The signature string for an envelope sent by ``header["sender_id"]`` with ``key``."""
    if not 0 < ttl <= MAX_SIGNATURE_LIFETIME:
        raise ValueError(f"ttl must be 1..{MAX_SIGNATURE_LIFETIME} seconds")
    created = int(now.timestamp())
    expires = created + ttl
    sender = str(header.get("sender_id") or get_settings().dci_receiver_id)
    signature = base64.b64encode(key.sign(signed_content(header, message, created=created, expires=expires)))
    return (
        f'Signature: namespace="dci", kidId="{sender}|{key.kid}|{ALGORITHM}", algorithm="{ALGORITHM}", '
        f'created="{created}", expires="{expires}", headers="{SIGNED_HEADERS}", '
        f'signature="{signature.decode()}"'
    )


def envelope(
    header: dict[str, Any], message: dict[str, Any], key: DciKey, *, now: datetime
) -> dict[str, Any]:
    """A signed ``{signature, header, message}`` envelope."""
    return {"signature": sign(header, message, key, now=now), "header": header, "message": message}


def parse_signature(value: Any) -> dict[str, str]:
    """The fields of a signature string; :class:`DciError` (err.signature.missing / .invalid) if it is
    absent or not of the expected shape."""
    if value is None or value == "":
        raise DciError.transport("err.signature.missing", "the envelope has no signature")
    if not isinstance(value, str) or len(value) > MAX_SIGNATURE_LENGTH:
        raise DciError.transport("err.signature.invalid", "the signature is not a signature string")
    text = value.strip()
    if text.lower().startswith("signature:"):
        text = text[len("signature:") :]
    fields: dict[str, str] = {}
    for name, content in _FIELD_RE.findall(text):
        if name in fields:
            raise DciError.transport("err.signature.invalid", f"the signature repeats {name}")
        fields[name] = content
    required = ("namespace", "kidId", "algorithm", "created", "expires", "headers", "signature")
    missing = [name for name in required if name not in fields]
    if missing:
        raise DciError.transport("err.signature.invalid", f"the signature lacks {', '.join(missing)}")
    if fields["namespace"] not in NAMESPACES:
        raise DciError.transport("err.signature.invalid", "unknown signature namespace")
    if fields["algorithm"].lower() != ALGORITHM:
        raise DciError.transport("err.signature.invalid", "the signature algorithm must be ed25519")
    if " ".join(fields["headers"].split()) != SIGNED_HEADERS:
        raise DciError.transport("err.signature.invalid", f'the signed headers must be "{SIGNED_HEADERS}"')
    return fields


def check_envelope(body: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """(header, message) of a well-formed envelope; err.request.bad (400) for anything else, and
    err.version.not_supported for a protocol version other than 1.0.0."""
    if not isinstance(body, dict):
        raise DciError.transport("err.request.bad", "the body must be a JSON object")
    header, message = body.get("header"), body.get("message")
    if not isinstance(header, dict) or not isinstance(message, dict):
        raise DciError.transport("err.request.bad", "the envelope needs a header object and a message object")
    for name in ("message_id", "message_ts", "action", "sender_id"):
        if not isinstance(header.get(name), str) or not header[name].strip():
            raise DciError.transport("err.request.bad", f"header.{name} is required")
    if len(header["message_id"]) > 99 or len(header["sender_id"]) > 64:
        raise DciError.transport("err.request.bad", "header.message_id or header.sender_id is too long")
    version = header.get("version", PROTOCOL_VERSION)
    if version != PROTOCOL_VERSION:
        raise DciError.transport("err.version.not_supported", f"only version {PROTOCOL_VERSION} is supported")
    if header.get("is_msg_encrypted") is True:
        raise DciError.transport("err.encryption.invalid", "encrypted messages are not accepted")
    return header, message


def _message_time(header: dict[str, Any]) -> datetime:
    try:
        moment = datetime.fromisoformat(str(header["message_ts"]).replace("Z", "+00:00"))
    except ValueError as exc:
        raise DciError.transport("err.request.bad", "header.message_ts is not an ISO 8601 timestamp") from exc
    if moment.tzinfo is None:
        raise DciError.transport("err.request.bad", "header.message_ts needs a time zone")
    return moment


def key_id_hint(body: Any) -> str | None:
    """The key id a body's signature names, read leniently (``None`` if there is none of our shape), so
    the caller can fetch the client's key together with the client; :func:`verify` still checks
    everything in its own order."""
    signature = body.get("signature") if isinstance(body, dict) else None
    if not isinstance(signature, str) or len(signature) > MAX_SIGNATURE_LENGTH:
        return None
    found = re.search(r'kidId="[^"|]*\|([^"|]*)\|', signature)
    key_id = found.group(1) if found else None
    return key_id if key_id and _KEY_ID_RE.match(key_id) else None


def _client_key(
    session: Session, client: ApiClient, key_id: str, known: Mapping[str, DciClientKey | None] | None
) -> Ed25519PublicKey:
    if known is not None and key_id in known:
        row = known[key_id]
    else:
        row = session.scalar(
            select(DciClientKey).where(DciClientKey.client_pk == client.id, DciClientKey.key_id == key_id)
        )
    if row is not None and row.client_pk != client.id:
        row = None
    if row is None or row.revoked_at is not None:
        raise DciError.transport("err.signature.invalid", "unknown or revoked key id")
    try:
        return public_key_of_jwk(row.public_jwk)
    except ValueError as exc:
        raise DciError.transport("err.signature.invalid", "the registered key is unusable") from exc


def verify(
    session: Session,
    body: dict[str, Any],
    *,
    client: ApiClient,
    now: datetime,
    receiver_id: str | None = None,
    keys: Mapping[str, DciClientKey | None] | None = None,
) -> None:
    """Check an incoming envelope from ``client`` (the bearer token's): shape and version, sender and
    receiver ids (ours: ``receiver_id``, default the configured one), and the signature against the
    client's registered key; :class:`DciError` if not. ``keys``: the client's key rows by key id already
    fetched (``None`` for a key id looked up and not found); any other key id is looked up here."""
    header, message = check_envelope(body)
    _message_time(header)
    if header["sender_id"] != client.client_id:
        raise DciError.transport("err.sender_id.invalid", "header.sender_id is not the authenticated client")
    receiver = header.get("receiver_id")
    if receiver not in (None, "") and receiver != (receiver_id or get_settings().dci_receiver_id):
        raise DciError.transport("err.receiver_id.invalid", "header.receiver_id is not this registry")
    fields = parse_signature(body.get("signature"))
    parts = fields["kidId"].split("|")
    if len(parts) != 3 or parts[2].lower() != ALGORITHM or not _KEY_ID_RE.match(parts[1]):
        raise DciError.transport("err.signature.invalid", 'kidId must be "{sender_id}|{key_id}|ed25519"')
    if parts[0] != client.client_id:
        raise DciError.transport("err.sender_id.invalid", "the signature's sender is not the client")
    try:
        created, expires = int(fields["created"]), int(fields["expires"])
    except ValueError as exc:
        raise DciError.transport("err.signature.invalid", "created and expires must be unix times") from exc
    moment = int(now.timestamp())
    if created > moment + CLOCK_SKEW_SECONDS:
        raise DciError.transport("err.signature.invalid", "the signature was created in the future")
    if expires <= moment:
        raise DciError.transport("err.signature.invalid", "the signature has expired")
    if expires <= created or expires - created > MAX_SIGNATURE_LIFETIME:
        raise DciError.transport("err.signature.invalid", "a signature may be valid for at most one hour")
    try:
        raw = base64.b64decode(fields["signature"], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise DciError.transport("err.signature.invalid", "the signature value is not base64") from exc
    public_key = _client_key(session, client, parts[1], keys)
    try:
        public_key.verify(raw, signed_content(header, message, created=created, expires=expires))
    except InvalidSignature as exc:
        raise DciError.transport(
            "err.signature.invalid", "the signature does not match the envelope"
        ) from exc


def _timestamp(now: datetime) -> str:
    return now.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def header_for_reply(
    request_header: dict[str, Any],
    *,
    action: str,
    status: str,
    now: datetime,
    reason_code: str | None = None,
    reason_message: str | None = None,
    total_count: int = 0,
    completed_count: int = 0,
    sender_id: str | None = None,
) -> dict[str, Any]:
    """A ``MsgCallbackHeader`` answering ``request_header``: a fresh message_id, us as sender, the
    requester as receiver."""
    if status not in {"rcvd", "pdng", "succ", "rjct"}:
        raise ValueError(f"unknown status {status!r}")
    header: dict[str, Any] = {
        "version": PROTOCOL_VERSION,
        "message_id": str(uuid.uuid4()),
        "message_ts": _timestamp(now),
        "action": action,
        "status": status,
        "total_count": total_count,
        "completed_count": completed_count,
        "sender_id": sender_id or get_settings().dci_receiver_id,
        "receiver_id": str(request_header.get("sender_id", "")),
        "is_msg_encrypted": False,
    }
    if reason_code is not None:
        header["status_reason_code"] = reason_code
    if reason_message is not None:
        header["status_reason_message"] = reason_message[:999]
    return header


@cache
def _remember_statement(dialect: str) -> Any:
    """The replay guard's ``INSERT ... ON CONFLICT DO NOTHING RETURNING id`` on the table (not the ORM
    entity, whose bulk-insert path costs more than the statement), built once with bound values."""
    table = DciSeenMessage.__table__
    return (
        _UPSERT_INSERTS[dialect](table)
        .values({name: bindparam(name) for name in ("sender_id", "message_id", "action", "received_at")})
        .on_conflict_do_nothing(index_elements=["sender_id", "message_id"])
        .returning(table.c.id)
    )


def remember_message(
    session: Session, *, sender_id: str, message_id: str, action: str, now: datetime
) -> None:
    """Record an accepted message id; rjct.message_id.duplicate (409) if the sender used it before.

    Inside the caller's transaction, so a refusal later in the request forgets it again. One statement on
    PostgreSQL and SQLite (``INSERT ... ON CONFLICT DO NOTHING RETURNING id``: no row back means the
    unique index already holds the id, a racing copy's included, and the transaction stays usable).
    Elsewhere a look-up then an insert whose unique violation is the same refusal (the transaction is then
    unusable and must be rolled back: a DciError ends the request, which does that).
    """
    dialect = session.get_bind().dialect.name
    values = {"sender_id": sender_id, "message_id": message_id, "action": action, "received_at": now}
    if dialect in _UPSERT_INSERTS:
        inserted = session.execute(_remember_statement(dialect), values).first()
        if inserted is not None:
            return
        raise DciError(
            "rjct.message_id.duplicate", "this message_id was already received from this sender", 409
        )
    seen = session.scalar(
        select(DciSeenMessage.id).where(
            DciSeenMessage.sender_id == sender_id, DciSeenMessage.message_id == message_id
        )
    )
    if seen is None:
        try:
            session.add(DciSeenMessage(**values))
            session.flush()
            return
        except IntegrityError:
            pass
    raise DciError("rjct.message_id.duplicate", "this message_id was already received from this sender", 409)
