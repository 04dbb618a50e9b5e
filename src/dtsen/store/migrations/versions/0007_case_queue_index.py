"""The case queues' order among open cases, per kab/kota and per desa, as indexes.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06

A dinsos' queue is the open cases of the kab/kota, highest priority and oldest first. With a million
cases the planner sorted the ~25,000 open ones of a kab/kota for every page (p95 100 ms); scanning a
partial index on (region, priority) backwards it stops after the page (ties of priority, rare with float
priorities, are sorted incrementally).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ("kode_kab", "kode_desa")


def upgrade() -> None:
    for column in COLUMNS:
        op.create_index(
            f"ix_workflow_case_open_{column}_priority",
            "workflow_case",
            [column, "priority"],
            postgresql_where=sa.text("closed_at IS NULL"),
            sqlite_where=sa.text("closed_at IS NULL"),
        )


def downgrade() -> None:
    for column in COLUMNS:
        op.drop_index(f"ix_workflow_case_open_{column}_priority", table_name="workflow_case")
