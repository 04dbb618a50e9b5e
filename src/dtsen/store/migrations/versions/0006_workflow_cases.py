"""Workflow cases (usulan, sanggahan, verval), their steps, approved changes, musyawarah desa sessions.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06

Explicit DDL (not taken from the models), so this revision stays what it was when the models change.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _id() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _code(length: int) -> sa.String:
    return sa.String(length).with_variant(sa.String(length, collation="C"), "postgresql")


def _regions() -> list[sa.Column[str]]:
    return [
        sa.Column("kode_prov", _code(2), nullable=False),
        sa.Column("kode_kab", _code(4), nullable=False),
        sa.Column("kode_kec", _code(6), nullable=False),
        sa.Column("kode_desa", _code(10), nullable=False),
    ]


def _when(name: str, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "workflow_case",
        sa.Column("id", _id(), autoincrement=True, nullable=False),
        sa.Column("nomor", sa.String(32), nullable=False),
        sa.Column("jenis", sa.String(16), nullable=False),
        sa.Column("kategori", sa.String(32), nullable=True),
        sa.Column("asal", sa.String(8), nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("periode", sa.String(6), nullable=False),
        *_regions(),
        sa.Column("id_keluarga_dtsen", sa.String(32), nullable=True),
        sa.Column("subject_ref", sa.String(64), nullable=True),
        sa.Column("subject_nama", sa.String(200), nullable=True),
        sa.Column("request_id", _id(), nullable=True),
        sa.Column("duplicate_of", _id(), nullable=True),
        sa.Column("assigned_to", sa.String(64), nullable=True),
        sa.Column("priority", sa.Float(), nullable=False),
        _when("opened_at", False),
        _when("updated_at", False),
        _when("ack_due_at"),
        _when("acknowledged_at"),
        _when("due_at"),
        _when("closed_at"),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("outcome", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workflow_case")),
        sa.UniqueConstraint("nomor", name=op.f("uq_workflow_case_nomor")),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["citizen_request.id"],
            name=op.f("fk_workflow_case_request_id_citizen_request"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["duplicate_of"], ["workflow_case.id"], name=op.f("fk_workflow_case_duplicate_of_workflow_case")
        ),
        sa.CheckConstraint(
            "jenis IN ('usulan', 'sanggahan', 'verval')", name=op.f("ck_workflow_case_jenis_known")
        ),
        sa.CheckConstraint(
            "asal IN ('publik', 'desa', 'dinsos', 'sistem')", name=op.f("ck_workflow_case_asal_known")
        ),
    )
    for column in ("subject_ref", "request_id", "duplicate_of", "ack_due_at", "due_at"):
        op.create_index(op.f(f"ix_workflow_case_{column}"), "workflow_case", [column])
    op.create_index("ix_workflow_case_kode_desa_state", "workflow_case", ["kode_desa", "state"])
    op.create_index("ix_workflow_case_kode_kab_state", "workflow_case", ["kode_kab", "state"])
    op.create_index("ix_workflow_case_assigned_to_state", "workflow_case", ["assigned_to", "state"])
    op.create_index("ix_workflow_case_periode_jenis", "workflow_case", ["periode", "jenis"])
    op.create_index("ix_workflow_case_id_keluarga_dtsen", "workflow_case", ["id_keluarga_dtsen"])

    op.create_table(
        "workflow_step",
        sa.Column("id", _id(), autoincrement=True, nullable=False),
        sa.Column("case_id", _id(), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("from_state", sa.String(32), nullable=True),
        sa.Column("to_state", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("actor_role", sa.String(64), nullable=True),
        _when("at", False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("fields", sa.JSON(), nullable=True),
        sa.Column("idempotency_key", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workflow_step")),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["workflow_case.id"],
            name=op.f("fk_workflow_step_case_id_workflow_case"),
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_workflow_step_idempotency_key")),
    )
    op.create_index(op.f("ix_workflow_step_case_id"), "workflow_step", ["case_id"])

    op.create_table(
        "approved_change",
        sa.Column("id", _id(), autoincrement=True, nullable=False),
        sa.Column("id_koreksi", sa.String(48), nullable=False),
        sa.Column("case_id", _id(), nullable=False),
        sa.Column("jenis", sa.String(16), nullable=False),
        sa.Column("entitas", sa.String(8), nullable=False),
        sa.Column("target_id", sa.String(32), nullable=False),
        sa.Column("atribut", sa.String(64), nullable=False),
        sa.Column("nilai_baru", sa.Text(), nullable=False),
        sa.Column("nilai_lama", sa.Text(), nullable=True),
        sa.Column("nomor_keputusan", sa.String(64), nullable=False),
        sa.Column("tanggal_keputusan", sa.Date(), nullable=False),
        sa.Column("petugas", sa.String(128), nullable=False),
        sa.Column("periode", sa.String(6), nullable=False),
        _when("exported_at"),
        sa.Column("status", sa.String(24), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_approved_change")),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["workflow_case.id"],
            name=op.f("fk_approved_change_case_id_workflow_case"),
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("id_koreksi", name="uq_approved_change_id_koreksi"),
        sa.CheckConstraint("entitas IN ('person', 'family')", name=op.f("ck_approved_change_entitas_known")),
    )
    op.create_index(op.f("ix_approved_change_case_id"), "approved_change", ["case_id"])
    op.create_index("ix_approved_change_periode_exported", "approved_change", ["periode", "exported_at"])

    op.create_table(
        "musdes_session",
        sa.Column("id", _id(), autoincrement=True, nullable=False),
        sa.Column("nomor", sa.String(40), nullable=False),
        sa.Column("periode", sa.String(6), nullable=False),
        *_regions(),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("tanggal", sa.Date(), nullable=False),
        sa.Column("tempat", sa.String(200), nullable=False),
        sa.Column("pimpinan", sa.String(200), nullable=False),
        sa.Column("hadir", sa.JSON(), nullable=False),
        sa.Column("opened_by", sa.String(128), nullable=False),
        _when("opened_at", False),
        sa.Column("berita_acara_sha256", sa.String(64), nullable=True),
        sa.Column("scan_sha256", sa.String(64), nullable=True),
        sa.Column("scan_mime", sa.String(32), nullable=True),
        sa.Column("closed_by", sa.String(128), nullable=True),
        _when("closed_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_musdes_session")),
        sa.UniqueConstraint("nomor", name=op.f("uq_musdes_session_nomor")),
        sa.CheckConstraint("status IN ('dibuka', 'ditutup')", name=op.f("ck_musdes_session_status_known")),
    )
    op.create_index("ix_musdes_session_kode_desa_status", "musdes_session", ["kode_desa", "status"])

    op.create_table(
        "musdes_item",
        sa.Column("id", _id(), autoincrement=True, nullable=False),
        sa.Column("session_id", _id(), nullable=False),
        sa.Column("case_id", _id(), nullable=False),
        sa.Column("keputusan", sa.String(8), nullable=True),
        sa.Column("catatan", sa.Text(), nullable=True),
        sa.Column("decided", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_musdes_item")),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["musdes_session.id"],
            name=op.f("fk_musdes_item_session_id_musdes_session"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["workflow_case.id"],
            name=op.f("fk_musdes_item_case_id_workflow_case"),
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("session_id", "case_id", name="uq_musdes_item_session_id_case_id"),
        sa.CheckConstraint(
            "keputusan IS NULL OR keputusan IN ('setuju', 'tolak', 'tunda')",
            name=op.f("ck_musdes_item_keputusan_known"),
        ),
    )
    for column in ("session_id", "case_id"):
        op.create_index(op.f(f"ix_musdes_item_{column}"), "musdes_item", [column])


def downgrade() -> None:
    op.drop_table("musdes_item")
    op.drop_table("musdes_session")
    op.drop_table("approved_change")
    op.drop_table("workflow_step")
    op.drop_table("workflow_case")
