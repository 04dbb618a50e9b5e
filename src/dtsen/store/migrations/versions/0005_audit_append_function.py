"""The audit chain's append as one PostgreSQL function call.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06

``audit_append`` does what :func:`dtsen.store.audit.record` did in three statements: take the chain
lock (the head row), hash the new entry on the previous hash, insert it, move the head. One round trip
instead of three, and the lock is taken at the last moment of the caller's transaction instead of
three round trips before its commit, so concurrent audited reads queue for much less time. The hash is
the one :func:`dtsen.store.audit.row_hash` computes (Python passes the canonical content and the
context line, so the format lives in one place); ``dtsen audit verify`` checks every row in Python.
SQLite keeps the Python append (its writer lock already serialises appends).
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AUDIT_APPEND = """
CREATE FUNCTION audit_append(
    p_prefix text, p_content text, p_occurred_at timestamptz, p_actor varchar, p_actor_role varchar,
    p_action varchar, p_resource varchar, p_subject_ref varchar, p_region_kode varchar, p_purpose text,
    p_detail json
) RETURNS TABLE (entry_id bigint, entry_hash varchar, previous varchar) LANGUAGE plpgsql AS $$
BEGIN
    UPDATE audit_chain_head SET row_count = row_count + 1 WHERE id = 1 RETURNING last_hash INTO previous;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'audit_chain_head is missing: create the database with dtsen db upgrade';
    END IF;
    entry_hash := encode(sha256(convert_to(p_prefix || previous || E'\\n' || p_content, 'UTF8')), 'hex');
    INSERT INTO audit_log (occurred_at, actor, actor_role, action, resource, subject_ref, region_kode,
                           purpose, detail, prev_hash, row_hash)
    VALUES (p_occurred_at, p_actor, p_actor_role, p_action, p_resource, p_subject_ref, p_region_kode,
            p_purpose, p_detail, previous, entry_hash)
    RETURNING audit_log.id INTO entry_id;
    UPDATE audit_chain_head SET last_id = entry_id, last_hash = entry_hash WHERE id = 1;
    RETURN NEXT;
END
$$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(AUDIT_APPEND)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "DROP FUNCTION audit_append(text, text, timestamptz, varchar, varchar, varchar, varchar, "
            "varchar, varchar, text, json)"
        )
