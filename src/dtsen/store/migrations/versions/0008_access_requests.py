"""Agency access requests and their extracts.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06

Explicit DDL (not taken from the models), so this revision stays what it was when the models change.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _id() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _when(name: str, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


LEVEL_CHECK = "level IN ('aggregate', 'deidentified', 'byname')"


def upgrade() -> None:
    op.create_table(
        "access_request",
        sa.Column("id", _id(), autoincrement=True, nullable=False),
        sa.Column("nomor", sa.String(40), nullable=False),
        sa.Column("instansi", sa.String(200), nullable=False),
        sa.Column("pemohon", sa.String(128), nullable=False),
        sa.Column("tujuan", sa.Text(), nullable=False),
        sa.Column("dasar_hukum", sa.Text(), nullable=False),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("regions", sa.JSON(), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("programs", sa.JSON(), nullable=False),
        sa.Column("periode", sa.String(6), nullable=False),
        sa.Column("k_min", sa.Integer(), nullable=False),
        sa.Column("tautan", sa.String(40), nullable=True),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("pernyataan_sha256", sa.String(64), nullable=False),
        sa.Column("pernyataan_mime", sa.String(32), nullable=False),
        sa.Column("reviews", sa.JSON(), nullable=False),
        sa.Column("alasan", sa.Text(), nullable=True),
        sa.Column("bast_sha256", sa.String(64), nullable=True),
        _when("created_at", False),
        _when("updated_at", False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_request")),
        sa.UniqueConstraint("nomor", name=op.f("uq_access_request_nomor")),
        sa.CheckConstraint(LEVEL_CHECK, name=op.f("ck_access_request_level_known")),
    )
    op.create_index("ix_access_request_state", "access_request", ["state"])
    op.create_index("ix_access_request_pemohon", "access_request", ["pemohon"])

    op.create_table(
        "access_extract",
        sa.Column("id", _id(), autoincrement=True, nullable=False),
        sa.Column("request_id", _id(), nullable=False),
        sa.Column("format", sa.String(8), nullable=False),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("snapshot_ref", sa.String(16), nullable=False),
        sa.Column("rows", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("path", sa.String(300), nullable=False),
        _when("created_at", False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("downloads", sa.Integer(), nullable=False),
        _when("last_download_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_extract")),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["access_request.id"],
            name=op.f("fk_access_extract_request_id_access_request"),
            ondelete="CASCADE",
        ),
        sa.CheckConstraint(
            "format IN ('csv', 'parquet', 'xlsx')", name=op.f("ck_access_extract_format_known")
        ),
        sa.CheckConstraint(LEVEL_CHECK, name=op.f("ck_access_extract_level_known")),
    )
    op.create_index(op.f("ix_access_extract_request_id"), "access_extract", ["request_id"])


def downgrade() -> None:
    op.drop_table("access_extract")
    op.drop_table("access_request")
