"""Served snapshots: families, persons, scores, programs and provenance of every loaded snapshot.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-05

The DDL is written out here rather than taken from the models (see 0001). The row tables have no foreign
key to ``served_snapshot`` on purpose: the loader is their only writer and a per-row check would slow the
bulk load, and their JSON values are text (PostgreSQL's json input re-parses every value during COPY; see
:class:`dtsen.store.served.JsonText`).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SMALL = sa.SmallInteger
HOUSING = (
    ("status_bangunan", SMALL),
    ("luas_lantai", sa.Integer),
    ("lantai", SMALL),
    ("dinding", SMALL),
    ("atap", SMALL),
    ("sumber_air_minum", SMALL),
    ("sumber_penerangan", SMALL),
    ("daya_listrik", SMALL),
    ("bahan_bakar_masak", SMALL),
    ("fasilitas_bab", SMALL),
)


def _code(length: int) -> sa.String:
    return sa.String(length).with_variant(sa.String(length, collation="C"), "postgresql")


def _regions() -> list[sa.Column]:
    return [
        sa.Column("kode_prov", _code(2), nullable=True),
        sa.Column("kode_kab", _code(4), nullable=True),
        sa.Column("kode_kec", _code(6), nullable=True),
        sa.Column("kode_desa", _code(10), nullable=True),
    ]


def upgrade() -> None:
    op.create_table(
        "served_snapshot",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("periode", sa.String(6), nullable=False),
        sa.Column("versi", sa.Integer(), nullable=False),
        sa.Column("ref", sa.String(16), nullable=False),
        sa.Column("manifest_sha256", sa.String(64), nullable=False),
        sa.Column("versi_model", sa.String(64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("is_current", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=True),
        sa.Column("programs", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_served_snapshot")),
        sa.CheckConstraint(
            "status IN ('loading', 'ready', 'failed')", name=op.f("ck_served_snapshot_status")
        ),
        sa.CheckConstraint(
            "NOT is_current OR status = 'ready'", name=op.f("ck_served_snapshot_current_is_ready")
        ),
    )
    op.create_index(op.f("ix_served_snapshot_ref"), "served_snapshot", ["ref"])
    op.create_index(
        "uq_served_snapshot_current",
        "served_snapshot",
        ["is_current"],
        unique=True,
        postgresql_where=sa.text("is_current"),
        sqlite_where=sa.text("is_current"),
    )

    op.create_table(
        "served_family",
        sa.Column("snapshot_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("id_keluarga_dtsen", sa.String(32), nullable=False),
        sa.Column("no_kk", sa.String(32), nullable=True),
        sa.Column("id_kepala", sa.String(32), nullable=True),
        sa.Column("jumlah_anggota", SMALL(), nullable=True),
        sa.Column("alamat", sa.Text(), nullable=True),
        sa.Column("rt", sa.String(8), nullable=True),
        sa.Column("rw", sa.String(8), nullable=True),
        sa.Column("perkotaan", sa.Boolean(), nullable=True),
        sa.Column("konflik", sa.Text(), nullable=True),
        sa.Column("skor", sa.Float(), nullable=True),
        sa.Column("perkiraan_pengeluaran", sa.BigInteger(), nullable=True),
        sa.Column("batas_bawah", sa.BigInteger(), nullable=True),
        sa.Column("batas_atas", sa.BigInteger(), nullable=True),
        sa.Column("peringkat", sa.BigInteger(), nullable=True),
        sa.Column("desil_nasional", SMALL(), nullable=True),
        sa.Column("desil_provinsi", SMALL(), nullable=True),
        sa.Column("desil_kabkota", SMALL(), nullable=True),
        sa.Column("p_desil_le4", sa.Float(), nullable=True),
        sa.Column("p_desil_le5", sa.Float(), nullable=True),
        sa.Column("borderline", sa.Boolean(), nullable=True),
        sa.Column("penjelasan", sa.Text(), nullable=True),
        sa.Column("versi_model", sa.String(64), nullable=True),
        sa.Column("status_peringkat", sa.String(32), nullable=True),
        sa.Column("alasan_tidak_diperingkat", sa.String(64), nullable=True),
        sa.Column("model_peringkat", sa.String(64), nullable=True),
        *(sa.Column(name, kind(), nullable=True) for name, kind in HOUSING),
        sa.Column("atribut", sa.Text(), nullable=True),
        *_regions(),
        sa.PrimaryKeyConstraint("snapshot_id", "id_keluarga_dtsen", name=op.f("pk_served_family")),
    )
    op.create_index("ix_served_family_id_keluarga_dtsen", "served_family", ["id_keluarga_dtsen"])
    op.create_index("ix_served_family_snapshot_id_kode_desa", "served_family", ["snapshot_id", "kode_desa"])
    op.create_index("ix_served_family_snapshot_id_no_kk", "served_family", ["snapshot_id", "no_kk"])

    op.create_table(
        "served_person",
        sa.Column("snapshot_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("id_dtsen", sa.String(32), nullable=False),
        sa.Column("id_keluarga_dtsen", sa.String(32), nullable=True),
        sa.Column("nik", sa.String(16), nullable=True),
        sa.Column("no_kk", sa.String(16), nullable=True),
        sa.Column("nama", sa.Text(), nullable=True),
        sa.Column("nama_norm", sa.Text(), nullable=True),
        sa.Column("nama_ibu_kandung", sa.Text(), nullable=True),
        sa.Column("tanggal_lahir", sa.Date(), nullable=True),
        sa.Column("jenis_kelamin", SMALL(), nullable=True),
        sa.Column("hubungan", SMALL(), nullable=True),
        sa.Column("status_hidup", sa.Boolean(), nullable=True),
        sa.Column("umur", SMALL(), nullable=True),
        sa.Column("status_padan", SMALL(), nullable=True),
        sa.Column("bukti_status", sa.Text(), nullable=True),
        sa.Column("di_dukcapil", sa.Boolean(), nullable=True),
        sa.Column("sumber_data", sa.Text(), nullable=True),
        sa.Column("segmen_bpjs", SMALL(), nullable=True),
        sa.Column("atribut", sa.Text(), nullable=True),
        *_regions(),
        sa.PrimaryKeyConstraint("snapshot_id", "id_dtsen", name=op.f("pk_served_person")),
    )
    op.create_index("ix_served_person_snapshot_id_nik", "served_person", ["snapshot_id", "nik"])
    op.create_index("ix_served_person_snapshot_id_no_kk", "served_person", ["snapshot_id", "no_kk"])
    op.create_index(
        "ix_served_person_snapshot_id_kode_desa_nama_norm",
        "served_person",
        ["snapshot_id", "kode_desa", "nama_norm"],
    )
    op.create_index(
        "ix_served_person_snapshot_id_id_keluarga_dtsen",
        "served_person",
        ["snapshot_id", "id_keluarga_dtsen"],
    )

    op.create_table(
        "served_eligibility",
        sa.Column("snapshot_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("id_keluarga_dtsen", sa.String(32), nullable=False),
        sa.Column("program", sa.String(32), nullable=False),
        sa.Column("layak", sa.Boolean(), nullable=True),
        sa.Column("alasan", sa.Text(), nullable=True),
        sa.Column("jumlah_penerima", sa.Integer(), nullable=True),
        sa.Column("nilai_tahunan", sa.BigInteger(), nullable=True),
        *_regions(),
        sa.PrimaryKeyConstraint(
            "snapshot_id", "id_keluarga_dtsen", "program", name=op.f("pk_served_eligibility")
        ),
    )

    op.create_table(
        "served_provenance",
        sa.Column("snapshot_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("entitas", sa.String(8), nullable=False),
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("pola", sa.Integer(), nullable=False),
        *_regions(),
        sa.PrimaryKeyConstraint("snapshot_id", "entitas", "id", name=op.f("pk_served_provenance")),
    )
    op.create_table(
        "served_provenance_pola",
        sa.Column("snapshot_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("pola", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("atribut", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("snapshot_id", "pola", name=op.f("pk_served_provenance_pola")),
    )


def downgrade() -> None:
    op.drop_table("served_provenance_pola")
    op.drop_table("served_provenance")
    op.drop_table("served_eligibility")
    op.drop_table("served_person")  # drops its indexes too
    op.drop_table("served_family")
    op.drop_table("served_snapshot")
