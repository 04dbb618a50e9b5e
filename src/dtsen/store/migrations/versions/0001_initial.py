"""Initial schema: regions, the hash-chained audit log and its chain head.

Revision ID: 0001
Revises:
Create Date: 2026-11-21

The DDL is written out here rather than taken from the models, so this revision stays what it was when
later model changes land. The audit log is made append-only in the database itself (triggers refuse
UPDATE, DELETE and, on PostgreSQL, TRUNCATE); the hash chain then shows tampering by anyone able to get
around that.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GENESIS_HASH = "0" * 64

REGION_HIERARCHY_CHECK = (
    "(level = 'provinsi' AND length(kode) = 2 AND kode_prov = kode"
    " AND kode_kab IS NULL AND kode_kec IS NULL)"
    " OR (level = 'kabupaten' AND length(kode) = 4 AND kode_prov = substr(kode, 1, 2)"
    " AND kode_kab = kode AND kode_kec IS NULL)"
    " OR (level = 'kecamatan' AND length(kode) = 6 AND kode_prov = substr(kode, 1, 2)"
    " AND kode_kab = substr(kode, 1, 4) AND kode_kec = kode)"
    " OR (level = 'desa' AND length(kode) = 10 AND kode_prov = substr(kode, 1, 2)"
    " AND kode_kab = substr(kode, 1, 4) AND kode_kec = substr(kode, 1, 6))"
)

POSTGRESQL_GUARD = [
    """
    CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION USING
            MESSAGE = 'audit_log is append-only: ' || TG_OP || ' refused',
            ERRCODE = 'insufficient_privilege';
    END
    $$
    """,
    """
    CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()
    """,
    """
    CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()
    """,
]

SQLITE_GUARD = [
    """
    CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
    BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: UPDATE refused'); END
    """,
    """
    CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
    BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: DELETE refused'); END
    """,
]


def _dialect() -> str:
    return op.get_context().dialect.name


def _code(length: int) -> sa.String:
    # Byte-order collation on PostgreSQL: cheaper index builds, and LIKE '3302%' can use the index.
    return sa.String(length).with_variant(sa.String(length, collation="C"), "postgresql")


def upgrade() -> None:
    digits_check = "kode ~ '^[0-9]+$'" if _dialect() == "postgresql" else "kode NOT GLOB '*[^0-9]*'"
    op.create_table(
        "region",
        sa.Column("kode", _code(10), nullable=False),
        sa.Column("nama", sa.String(100), nullable=False),
        sa.Column("level", sa.String(10), nullable=False),
        sa.Column("kode_prov", _code(2), nullable=False),
        sa.Column("kode_kab", _code(4), nullable=True),
        sa.Column("kode_kec", _code(6), nullable=True),
        sa.PrimaryKeyConstraint("kode", name=op.f("pk_region")),
        sa.CheckConstraint(REGION_HIERARCHY_CHECK, name=op.f("ck_region_level_matches_kode")),
        sa.CheckConstraint(digits_check, name=op.f("ck_region_kode_digits")),
    )
    for column in ("level", "kode_prov", "kode_kab", "kode_kec"):
        op.create_index(op.f(f"ix_region_{column}"), "region", [column])

    op.create_table(
        "audit_log",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("actor_role", sa.String(64), nullable=True),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("resource", sa.String(64), nullable=True),
        sa.Column("subject_ref", sa.String(64), nullable=True),
        sa.Column("region_kode", sa.String(10), nullable=True),
        sa.Column("purpose", sa.Text(), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("row_hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
        sa.UniqueConstraint("row_hash", name=op.f("uq_audit_log_row_hash")),
    )
    op.create_index(op.f("ix_audit_log_occurred_at"), "audit_log", ["occurred_at"])
    op.create_index(op.f("ix_audit_log_subject_ref"), "audit_log", ["subject_ref"])
    op.create_index(op.f("ix_audit_log_region_kode"), "audit_log", ["region_kode"])
    op.create_index("ix_audit_log_actor_occurred_at", "audit_log", ["actor", "occurred_at"])

    head = op.create_table(
        "audit_chain_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("row_count", sa.BigInteger(), nullable=False),
        sa.Column("last_id", sa.BigInteger(), nullable=True),
        sa.Column("last_hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_chain_head")),
        sa.CheckConstraint("id = 1", name=op.f("ck_audit_chain_head_single_row")),
    )
    op.bulk_insert(head, [{"id": 1, "row_count": 0, "last_id": None, "last_hash": GENESIS_HASH}])

    for statement in POSTGRESQL_GUARD if _dialect() == "postgresql" else SQLITE_GUARD:
        op.execute(statement)


def downgrade() -> None:
    op.drop_table("audit_chain_head")
    op.drop_index("ix_audit_log_actor_occurred_at", table_name="audit_log")
    op.drop_index(op.f("ix_audit_log_region_kode"), table_name="audit_log")
    op.drop_index(op.f("ix_audit_log_subject_ref"), table_name="audit_log")
    op.drop_index(op.f("ix_audit_log_occurred_at"), table_name="audit_log")
    op.drop_table("audit_log")  # drops its triggers too
    if _dialect() == "postgresql":
        op.execute("DROP FUNCTION audit_log_append_only()")
    for column in ("kode_kec", "kode_kab", "kode_prov", "level"):
        op.drop_index(op.f(f"ix_region_{column}"), table_name="region")
    op.drop_table("region")
