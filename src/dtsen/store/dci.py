"""The DCI (Digital Convergence Initiative) protocol state: client envelope keys, callback addresses,
the access request each client reads under, seen message ids, async transactions and the push outbox.

* A client's Ed25519 public keys are stored as JWKs under the key id its signatures name
  (``kidId="{client_id}|{key_id}|ed25519"``); a revoked key stays (with ``revoked_at``) so old audit
  entries still resolve.
* ``dci_seen_message`` has a unique (sender_id, message_id): a replayed message fails on the index even
  when two copies race, not only on a prior SELECT.
* ``dci_transaction`` holds an async search (or txn/status) from ACK to its answer, for txn/status.
* ``dci_outbox`` holds every push we make (on-search callbacks, notify to subscribers) until delivered or
  given up; the payload is signed at delivery time so a retry after a key rotation signs with the new key.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, CheckConstraint, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from dtsen.store.models import Base, UtcDateTime

OUTBOX_STATES = ("antri", "terkirim", "gagal")  # queued, delivered, given up
TXN_STATES = ("pdng", "succ", "rjct")  # the spec's status values a stored transaction can be in


def _id() -> BigInteger:
    # SQLite only auto-increments a column declared exactly INTEGER PRIMARY KEY.
    return BigInteger().with_variant(Integer, "sqlite")


class DciClientKey(Base):
    """One Ed25519 public key (JWK, kty OKP) a client signs its envelopes with."""

    __tablename__ = "dci_client_key"
    __table_args__ = (UniqueConstraint("client_pk", "key_id", name="uq_dci_client_key_client_pk_key_id"),)

    id: Mapped[int] = mapped_column(_id(), primary_key=True, autoincrement=True)
    client_pk: Mapped[int] = mapped_column(ForeignKey("api_client.id", ondelete="CASCADE"))
    key_id: Mapped[str] = mapped_column(String(64))
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class DciCallback(Base):
    """A callback address registered for a client: the only URIs we ever push to for it."""

    __tablename__ = "dci_callback"
    __table_args__ = (UniqueConstraint("client_pk", "uri", name="uq_dci_callback_client_pk_uri"),)

    id: Mapped[int] = mapped_column(_id(), primary_key=True, autoincrement=True)
    client_pk: Mapped[int] = mapped_column(ForeignKey("api_client.id", ondelete="CASCADE"))
    uri: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class DciGrant(Base):
    """The approved access request a client reads under (one per client; re-granting replaces it)."""

    __tablename__ = "dci_grant"

    client_pk: Mapped[int] = mapped_column(
        ForeignKey("api_client.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    request_id: Mapped[int] = mapped_column(
        _id(), ForeignKey("access_request.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    created_by: Mapped[str] = mapped_column(String(128))


class DciSeenMessage(Base):
    """A message id accepted from a sender: a second message with the same id is a replay."""

    __tablename__ = "dci_seen_message"
    __table_args__ = (
        UniqueConstraint("sender_id", "message_id", name="uq_dci_seen_message_sender_id_message_id"),
    )

    id: Mapped[int] = mapped_column(_id(), primary_key=True, autoincrement=True)
    sender_id: Mapped[str] = mapped_column(String(64))
    message_id: Mapped[str] = mapped_column(String(99))
    action: Mapped[str] = mapped_column(String(32))
    received_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)


class DciTransaction(Base):
    """An async request from its ACK to its answer; ``correlation_id`` is ours, ``transaction_id`` the
    client's. ``response`` is the message we answered (or will answer) with, for txn/status."""

    __tablename__ = "dci_transaction"
    __table_args__ = (
        CheckConstraint("state IN ('pdng', 'succ', 'rjct')", name="state_known"),
        Index("ix_dci_transaction_client_pk_transaction_id", "client_pk", "transaction_id"),
        Index("ix_dci_transaction_state_created_at", "state", "created_at"),
    )

    id: Mapped[int] = mapped_column(_id(), primary_key=True, autoincrement=True)
    correlation_id: Mapped[str] = mapped_column(String(64), unique=True)
    client_pk: Mapped[int] = mapped_column(ForeignKey("api_client.id", ondelete="CASCADE"))
    transaction_id: Mapped[str] = mapped_column(String(99))
    action: Mapped[str] = mapped_column(String(32))  # search | txn-status
    state: Mapped[str] = mapped_column(String(8))
    sender_uri: Mapped[str | None] = mapped_column(String(500))
    request_header: Mapped[dict[str, Any]] = mapped_column(JSON)
    request_message: Mapped[dict[str, Any]] = mapped_column(JSON)
    reference_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    response_header: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    response_message: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class DciOutbox(Base):
    """One push to a client's registered URI, retried with back-off until delivered or given up."""

    __tablename__ = "dci_outbox"
    __table_args__ = (
        CheckConstraint("state IN ('antri', 'terkirim', 'gagal')", name="state_known"),
        Index("ix_dci_outbox_state_next_attempt_at", "state", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(_id(), primary_key=True, autoincrement=True)
    client_pk: Mapped[int] = mapped_column(ForeignKey("api_client.id", ondelete="CASCADE"), index=True)
    uri: Mapped[str] = mapped_column(String(500))
    action: Mapped[str] = mapped_column(String(32))
    correlation_id: Mapped[str] = mapped_column(String(64), index=True)
    header: Mapped[dict[str, Any]] = mapped_column(JSON)
    message: Mapped[dict[str, Any]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(8))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime())
    last_error: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
