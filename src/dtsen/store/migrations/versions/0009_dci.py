"""DCI protocol state: client envelope keys, callbacks, grants, seen messages, transactions, outbox.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06

Explicit DDL (not taken from the models), so this revision stays what it was when the models change.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _id() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _when(name: str, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _client_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["client_pk"], ["api_client.id"], name=op.f(f"fk_{table}_client_pk_api_client"), ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "dci_client_key",
        sa.Column("id", _id(), autoincrement=True, nullable=False),
        sa.Column("client_pk", sa.Integer(), nullable=False),
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("public_jwk", sa.JSON(), nullable=False),
        _when("created_at", False),
        _when("revoked_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dci_client_key")),
        _client_fk("dci_client_key"),
        sa.UniqueConstraint("client_pk", "key_id", name="uq_dci_client_key_client_pk_key_id"),
    )
    op.create_table(
        "dci_callback",
        sa.Column("id", _id(), autoincrement=True, nullable=False),
        sa.Column("client_pk", sa.Integer(), nullable=False),
        sa.Column("uri", sa.String(500), nullable=False),
        _when("created_at", False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dci_callback")),
        _client_fk("dci_callback"),
        sa.UniqueConstraint("client_pk", "uri", name="uq_dci_callback_client_pk_uri"),
    )
    op.create_table(
        "dci_grant",
        sa.Column("client_pk", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("request_id", _id(), nullable=False),
        _when("created_at", False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.PrimaryKeyConstraint("client_pk", name=op.f("pk_dci_grant")),
        _client_fk("dci_grant"),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["access_request.id"],
            name=op.f("fk_dci_grant_request_id_access_request"),
            ondelete="CASCADE",
        ),
    )
    op.create_index(op.f("ix_dci_grant_request_id"), "dci_grant", ["request_id"])
    op.create_table(
        "dci_seen_message",
        sa.Column("id", _id(), autoincrement=True, nullable=False),
        sa.Column("sender_id", sa.String(64), nullable=False),
        sa.Column("message_id", sa.String(99), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        _when("received_at", False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dci_seen_message")),
        sa.UniqueConstraint("sender_id", "message_id", name="uq_dci_seen_message_sender_id_message_id"),
    )
    op.create_index(op.f("ix_dci_seen_message_received_at"), "dci_seen_message", ["received_at"])
    op.create_table(
        "dci_transaction",
        sa.Column("id", _id(), autoincrement=True, nullable=False),
        sa.Column("correlation_id", sa.String(64), nullable=False),
        sa.Column("client_pk", sa.Integer(), nullable=False),
        sa.Column("transaction_id", sa.String(99), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("state", sa.String(8), nullable=False),
        sa.Column("sender_uri", sa.String(500), nullable=True),
        sa.Column("request_header", sa.JSON(), nullable=False),
        sa.Column("request_message", sa.JSON(), nullable=False),
        sa.Column("reference_ids", sa.JSON(), nullable=False),
        sa.Column("response_header", sa.JSON(), nullable=True),
        sa.Column("response_message", sa.JSON(), nullable=True),
        _when("created_at", False),
        _when("completed_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dci_transaction")),
        sa.UniqueConstraint("correlation_id", name=op.f("uq_dci_transaction_correlation_id")),
        _client_fk("dci_transaction"),
        sa.CheckConstraint("state IN ('pdng', 'succ', 'rjct')", name=op.f("ck_dci_transaction_state_known")),
    )
    op.create_index(
        "ix_dci_transaction_client_pk_transaction_id", "dci_transaction", ["client_pk", "transaction_id"]
    )
    op.create_index("ix_dci_transaction_state_created_at", "dci_transaction", ["state", "created_at"])
    op.create_table(
        "dci_outbox",
        sa.Column("id", _id(), autoincrement=True, nullable=False),
        sa.Column("client_pk", sa.Integer(), nullable=False),
        sa.Column("uri", sa.String(500), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("correlation_id", sa.String(64), nullable=False),
        sa.Column("header", sa.JSON(), nullable=False),
        sa.Column("message", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(8), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _when("next_attempt_at", False),
        sa.Column("last_error", sa.String(200), nullable=True),
        _when("created_at", False),
        _when("delivered_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dci_outbox")),
        _client_fk("dci_outbox"),
        sa.CheckConstraint("state IN ('antri', 'terkirim', 'gagal')", name=op.f("ck_dci_outbox_state_known")),
    )
    op.create_index(op.f("ix_dci_outbox_client_pk"), "dci_outbox", ["client_pk"])
    op.create_index(op.f("ix_dci_outbox_correlation_id"), "dci_outbox", ["correlation_id"])
    op.create_index("ix_dci_outbox_state_next_attempt_at", "dci_outbox", ["state", "next_attempt_at"])


def downgrade() -> None:
    op.drop_table("dci_outbox")
    op.drop_table("dci_transaction")
    op.drop_table("dci_seen_message")
    op.drop_table("dci_grant")
    op.drop_table("dci_callback")
    op.drop_table("dci_client_key")
