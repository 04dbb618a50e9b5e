"""Dukcapil vital events received over DCI notify; agencies' DCI subscriptions.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06

Explicit DDL (not taken from the models), so this revision stays what it was when the models change.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _id() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _when(name: str, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _region(name: str, length: int) -> sa.Column[object]:
    return sa.Column(name, sa.String(length).with_variant(sa.String(length, collation="C"), "postgresql"))


def upgrade() -> None:
    op.create_table(
        "dci_event_inbox",
        sa.Column("id", _id(), autoincrement=True, nullable=False),
        sa.Column("id_peristiwa", sa.String(64), nullable=False),
        sa.Column("jenis", sa.String(8), nullable=False),
        sa.Column("tanggal_peristiwa", sa.Date(), nullable=False),
        sa.Column("tanggal_lapor", sa.Date(), nullable=False),
        sa.Column("nik", sa.String(16), nullable=True),
        sa.Column("baris", sa.JSON(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("client_pk", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.String(128), nullable=False),
        sa.Column("transaction_id", sa.String(99), nullable=False),
        _when("received_at", False),
        _region("kode_prov", 2),
        _region("kode_kab", 4),
        _region("kode_kec", 6),
        _region("kode_desa", 10),
        sa.Column("periode_ekspor", sa.String(6), nullable=True),
        _when("exported_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dci_event_inbox")),
        sa.UniqueConstraint("id_peristiwa", name=op.f("uq_dci_event_inbox_id_peristiwa")),
        sa.ForeignKeyConstraint(
            ["client_pk"], ["api_client.id"], name=op.f("fk_dci_event_inbox_client_pk_api_client")
        ),
        sa.CheckConstraint(
            "jenis IN ('LAHIR', 'MATI', 'KAWIN', 'CERAI')", name=op.f("ck_dci_event_inbox_jenis_known")
        ),
    )
    op.create_index("ix_dci_event_inbox_periode_ekspor", "dci_event_inbox", ["periode_ekspor"])
    op.create_index("ix_dci_event_inbox_jenis_nik", "dci_event_inbox", ["jenis", "nik"])

    op.create_table(
        "dci_subscription",
        sa.Column("id", _id(), autoincrement=True, nullable=False),
        sa.Column("kode", sa.String(64), nullable=False),
        sa.Column("client_pk", sa.Integer(), nullable=False),
        sa.Column("request_id", _id(), nullable=False),
        sa.Column("reference_id", sa.String(128), nullable=False),
        sa.Column("transaction_id", sa.String(99), nullable=False),
        sa.Column("reg_event_type", sa.String(64), nullable=False),
        sa.Column("perubahan", sa.String(8), nullable=False),
        sa.Column("kriteria", sa.JSON(), nullable=False),
        sa.Column("wilayah", sa.JSON(), nullable=False),
        sa.Column("notify_uri", sa.Text(), nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("alasan", sa.String(64), nullable=True),
        sa.Column("last_snapshot", sa.String(16), nullable=True),
        _when("created_at", False),
        _when("ended_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dci_subscription")),
        sa.UniqueConstraint("kode", name=op.f("uq_dci_subscription_kode")),
        sa.ForeignKeyConstraint(
            ["client_pk"], ["api_client.id"], name=op.f("fk_dci_subscription_client_pk_api_client")
        ),
        sa.ForeignKeyConstraint(
            ["request_id"], ["access_request.id"], name=op.f("fk_dci_subscription_request_id_access_request")
        ),
        sa.CheckConstraint("status IN ('aktif', 'berhenti')", name=op.f("ck_dci_subscription_status_known")),
    )
    op.create_index("ix_dci_subscription_client_pk_status", "dci_subscription", ["client_pk", "status"])


def downgrade() -> None:
    op.drop_table("dci_subscription")
    op.drop_table("dci_event_inbox")
