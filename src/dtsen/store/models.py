"""Declarative models of the serving database.

The schema itself is created only by the Alembic migrations in ``dtsen/store/migrations`` (they also
install the append-only triggers and the audit chain head row); these classes mirror it for queries and
for ``alembic revision --autogenerate``. Never build a database with ``Base.metadata.create_all``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    DateTime,
    Dialect,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Deterministic constraint names: Alembic needs them to alter or drop constraints (SQLite batch mode).
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

REGION_LEVELS = ("provinsi", "kabupaten", "kecamatan", "desa")

# A region row must be internally consistent: the level matches the code length and every parent code is
# the matching prefix of the code (a level's own code for itself, NULL above it). Scoping a query by
# ``kode_kab = '3302'`` is then exactly "this kabupaten and everything inside it".
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
# Neither backend has a portable "digits only" test: PostgreSQL has regular expressions, SQLite GLOB.
REGION_DIGITS_CHECK_POSTGRESQL = "kode ~ '^[0-9]+$'"
REGION_DIGITS_CHECK_SQLITE = "kode NOT GLOB '*[^0-9]*'"

AUDIT_GENESIS_HASH = "0" * 64


def region_code(length: int) -> String:
    """A region code column: byte-order ("C") collation on PostgreSQL, which makes its indexes cheaper to
    build and lets ``LIKE '3302%'`` use them; SQLite already compares bytewise."""
    return String(length).with_variant(String(length, collation="C"), "postgresql")


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp that is always timezone-aware UTC in Python, on both backends.

    PostgreSQL stores ``timestamptz``; SQLite has no time zones, so the value is stored as naive UTC and
    given its zone back on reading. Naive input is refused: its meaning would depend on the server clock.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("naive datetime: pass a timezone-aware value")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Region(Base):
    """An administrative region (Kepmendagri 2025 codes, no dots); every query is scoped through it."""

    __tablename__ = "region"
    __table_args__ = (
        CheckConstraint(REGION_HIERARCHY_CHECK, name="level_matches_kode"),
        CheckConstraint(REGION_DIGITS_CHECK_POSTGRESQL, name="kode_digits").ddl_if(dialect="postgresql"),
        CheckConstraint(REGION_DIGITS_CHECK_SQLITE, name="kode_digits").ddl_if(dialect="sqlite"),
    )

    kode: Mapped[str] = mapped_column(region_code(10), primary_key=True)
    nama: Mapped[str] = mapped_column(String(100))
    level: Mapped[str] = mapped_column(String(10), index=True)
    kode_prov: Mapped[str] = mapped_column(region_code(2), index=True)
    kode_kab: Mapped[str | None] = mapped_column(region_code(4), index=True)
    kode_kec: Mapped[str | None] = mapped_column(region_code(6), index=True)


class AuditLog(Base):
    """One processing activity on personal data (UU 27/2022 PDP), hash-chained to the row before it.

    ``subject_ref`` is a keyed HMAC of the NIK, never the NIK; see :mod:`dtsen.store.audit`.
    """

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_actor_occurred_at", "actor", "occurred_at"),)

    # SQLite only auto-increments a column declared exactly INTEGER PRIMARY KEY (the rowid alias).
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    actor: Mapped[str] = mapped_column(String(128))
    actor_role: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    resource: Mapped[str | None] = mapped_column(String(64))
    subject_ref: Mapped[str | None] = mapped_column(String(64), index=True)
    region_kode: Mapped[str | None] = mapped_column(String(10), index=True)
    purpose: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    row_hash: Mapped[str] = mapped_column(String(64), unique=True)


class AuditChainHead(Base):
    """The single row (id 1) naming the newest chain entry: the lock appends serialise on, and the
    value that reveals deleted newest rows (a bare hash chain cannot show a truncated tail)."""

    __tablename__ = "audit_chain_head"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    row_count: Mapped[int] = mapped_column(BigInteger)
    last_id: Mapped[int | None] = mapped_column(BigInteger)
    last_hash: Mapped[str] = mapped_column(String(64))
