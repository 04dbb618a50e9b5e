"""Citizen requests: usulan and sanggahan intake, documents, tracking history; rate-limit counters and
used challenges of the public pages.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05

Explicit DDL (not taken from the models), so this revision stays what it was when the models change.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KATEGORI_CHECK = (
    "(jenis = 'usulan' AND kategori IS NULL) OR (jenis = 'sanggahan' AND kategori IN "
    "('excluded_but_eligible', 'included_not_eligible', 'wrong_data', 'deceased_listed'))"
)


def _id() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _code(length: int) -> sa.String:
    return sa.String(length).with_variant(sa.String(length, collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "citizen_request",
        sa.Column("id", _id(), autoincrement=True, nullable=False),
        sa.Column("tracking_number", sa.String(32), nullable=False),
        sa.Column("idempotency_key", sa.String(64), nullable=False),
        sa.Column("jenis", sa.String(16), nullable=False),
        sa.Column("kategori", sa.String(32), nullable=True),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("reporter_ref", sa.String(64), nullable=False),
        sa.Column("reporter_nik_enc", sa.Text(), nullable=False),
        sa.Column("reporter_nama", sa.String(200), nullable=False),
        sa.Column("reporter_telepon", sa.String(32), nullable=True),
        sa.Column("subject_ref", sa.String(64), nullable=True),
        sa.Column("subject_nik_enc", sa.Text(), nullable=True),
        sa.Column("subject_kk_ref", sa.String(64), nullable=True),
        sa.Column("subject_kk_enc", sa.Text(), nullable=True),
        sa.Column("subject_nama", sa.String(200), nullable=True),
        sa.Column("kode_prov", _code(2), nullable=False),
        sa.Column("kode_kab", _code(4), nullable=False),
        sa.Column("kode_kec", _code(6), nullable=False),
        sa.Column("kode_desa", _code(10), nullable=False),
        sa.Column("alasan", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ack_due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_citizen_request")),
        sa.UniqueConstraint("tracking_number", name=op.f("uq_citizen_request_tracking_number")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_citizen_request_idempotency_key")),
        sa.CheckConstraint("jenis IN ('usulan', 'sanggahan')", name=op.f("ck_citizen_request_jenis_known")),
        sa.CheckConstraint(KATEGORI_CHECK, name=op.f("ck_citizen_request_kategori_matches_jenis")),
    )
    for column in ("reporter_ref", "subject_ref", "subject_kk_ref", "received_at", "ack_due_at"):
        op.create_index(op.f(f"ix_citizen_request_{column}"), "citizen_request", [column])
    op.create_index("ix_citizen_request_kode_desa_status", "citizen_request", ["kode_desa", "status"])
    op.create_index("ix_citizen_request_kode_kab_status", "citizen_request", ["kode_kab", "status"])

    op.create_table(
        "citizen_request_document",
        sa.Column("id", _id(), autoincrement=True, nullable=False),
        sa.Column("request_id", _id(), nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("mime", sa.String(32), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("original_name", sa.String(120), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_citizen_request_document")),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["citizen_request.id"],
            name=op.f("fk_citizen_request_document_request_id_citizen_request"),
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("request_id", "sha256", name="uq_citizen_request_document_request_id_sha256"),
        sa.CheckConstraint(
            "mime IN ('image/jpeg', 'image/png', 'application/pdf')",
            name=op.f("ck_citizen_request_document_mime_known"),
        ),
    )
    for column in ("request_id", "sha256"):
        op.create_index(op.f(f"ix_citizen_request_document_{column}"), "citizen_request_document", [column])

    op.create_table(
        "citizen_request_event",
        sa.Column("id", _id(), autoincrement=True, nullable=False),
        sa.Column("request_id", _id(), nullable=False),
        sa.Column("state", sa.String(24), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_citizen_request_event")),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["citizen_request.id"],
            name=op.f("fk_citizen_request_event_request_id_citizen_request"),
            ondelete="CASCADE",
        ),
    )
    op.create_index(op.f("ix_citizen_request_event_request_id"), "citizen_request_event", ["request_id"])

    op.create_table(
        "rate_limit_counter",
        sa.Column("bucket", sa.String(32), nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("window_start", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("bucket", "key", "window_start", name=op.f("pk_rate_limit_counter")),
    )

    op.create_table(
        "used_challenge",
        sa.Column("challenge_id", sa.String(32), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("challenge_id", name=op.f("pk_used_challenge")),
    )
    op.create_index(op.f("ix_used_challenge_expires_at"), "used_challenge", ["expires_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_used_challenge_expires_at"), table_name="used_challenge")
    op.drop_table("used_challenge")
    op.drop_table("rate_limit_counter")
    op.drop_index(op.f("ix_citizen_request_event_request_id"), table_name="citizen_request_event")
    op.drop_table("citizen_request_event")
    for column in ("sha256", "request_id"):
        op.drop_index(op.f(f"ix_citizen_request_document_{column}"), table_name="citizen_request_document")
    op.drop_table("citizen_request_document")
    op.drop_index("ix_citizen_request_kode_kab_status", table_name="citizen_request")
    op.drop_index("ix_citizen_request_kode_desa_status", table_name="citizen_request")
    for column in ("ack_due_at", "received_at", "subject_kk_ref", "subject_ref", "reporter_ref"):
        op.drop_index(op.f(f"ix_citizen_request_{column}"), table_name="citizen_request")
    op.drop_table("citizen_request")
