"""Identity: staff users and their regions, server-side sessions, machine clients and their regions.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05

Explicit DDL (not taken from the models), like 0001. Only hashes of secrets are stored: argon2id for
passwords and client secrets, SHA-256 of the cookie token as the session id.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _code(length: int) -> sa.String:
    return sa.String(length).with_variant(sa.String(length, collation="C"), "postgresql")


def _timestamp() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "staff_user",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("full_name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("failed_attempts", sa.Integer(), nullable=False),
        sa.Column("locked_until", _timestamp(), nullable=True),
        sa.Column("password_changed_at", _timestamp(), nullable=False),
        sa.Column("must_change_password", sa.Boolean(), nullable=False),
        sa.Column("created_at", _timestamp(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_user")),
        sa.UniqueConstraint("username", name=op.f("uq_staff_user_username")),
    )
    op.create_table(
        "staff_user_region",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kode", _code(10), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["staff_user.id"],
            name=op.f("fk_staff_user_region_user_id_staff_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "kode", name=op.f("pk_staff_user_region")),
    )
    op.create_index(op.f("ix_staff_user_region_kode"), "staff_user_region", ["kode"])

    op.create_table(
        "staff_session",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", _timestamp(), nullable=False),
        sa.Column("last_seen_at", _timestamp(), nullable=False),
        sa.Column("expires_at", _timestamp(), nullable=False),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("ip_address", sa.String(64), nullable=True),
        sa.Column("user_agent", sa.String(200), nullable=True),
        sa.Column("revoked", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["staff_user.id"],
            name=op.f("fk_staff_session_user_id_staff_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_session")),
    )
    op.create_index(op.f("ix_staff_session_expires_at"), "staff_session", ["expires_at"])
    op.create_index("ix_staff_session_user_id_revoked", "staff_session", ["user_id", "revoked"])

    op.create_table(
        "api_client",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("secret_hash", sa.String(255), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("organisation", sa.String(200), nullable=True),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("scopes", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", _timestamp(), nullable=False),
        sa.Column("revoked_at", _timestamp(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_client")),
        sa.UniqueConstraint("client_id", name=op.f("uq_api_client_client_id")),
    )
    op.create_table(
        "api_client_region",
        sa.Column("client_pk", sa.Integer(), nullable=False),
        sa.Column("kode", _code(10), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_pk"],
            ["api_client.id"],
            name=op.f("fk_api_client_region_client_pk_api_client"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("client_pk", "kode", name=op.f("pk_api_client_region")),
    )


def downgrade() -> None:
    op.drop_table("api_client_region")
    op.drop_table("api_client")
    op.drop_index("ix_staff_session_user_id_revoked", table_name="staff_session")
    op.drop_index(op.f("ix_staff_session_expires_at"), table_name="staff_session")
    op.drop_table("staff_session")
    op.drop_index(op.f("ix_staff_user_region_kode"), table_name="staff_user_region")
    op.drop_table("staff_user_region")
    op.drop_table("staff_user")
