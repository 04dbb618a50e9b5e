"""Agency access requests (permintaan akses data) and the extracts produced for them.

A request names what an agency may receive (level, regions, fields, programs, period, validity) and moves
through the review workflow of :mod:`dtsen.sharing.requests`; ``version`` is bumped and checked by every
move (``UPDATE ... WHERE version = :seen``) as for workflow cases. An extract is one file produced from the
served snapshot for an approved request, stored content-addressed; its downloads are counted here and each
one is audited.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, CheckConstraint, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from dtsen.store.models import Base, UtcDateTime

LEVELS = ("aggregate", "deidentified", "byname")
FORMATS = ("csv", "parquet", "xlsx")


def _id() -> BigInteger:
    # SQLite only auto-increments a column declared exactly INTEGER PRIMARY KEY.
    return BigInteger().with_variant(Integer, "sqlite")


class AccessRequest(Base):
    """One agency's request for DTSEN data, from filing to approval (with its BAST) or rejection."""

    __tablename__ = "access_request"
    __table_args__ = (
        CheckConstraint("level IN ('aggregate', 'deidentified', 'byname')", name="level_known"),
        Index("ix_access_request_state", "state"),
        Index("ix_access_request_pemohon", "pemohon"),
    )

    id: Mapped[int] = mapped_column(_id(), primary_key=True, autoincrement=True)
    nomor: Mapped[str] = mapped_column(String(40), unique=True)  # AKSES-2026-000001
    instansi: Mapped[str] = mapped_column(String(200))  # the agency
    pemohon: Mapped[str] = mapped_column(String(128))  # the filing user's username or client id
    tujuan: Mapped[str] = mapped_column(Text)  # purpose / KAK (terms of reference)
    dasar_hukum: Mapped[str] = mapped_column(Text)  # legal basis
    level: Mapped[str] = mapped_column(String(16))
    regions: Mapped[list[str]] = mapped_column(JSON, default=list)  # region codes (2/4/6/10 digits)
    fields: Mapped[list[str]] = mapped_column(JSON, default=list)
    programs: Mapped[list[str]] = mapped_column(JSON, default=list)
    periode: Mapped[str] = mapped_column(String(6))
    k_min: Mapped[int] = mapped_column(Integer, default=10)  # small-cell threshold of aggregate extracts
    tautan: Mapped[str | None] = mapped_column(String(40))  # an earlier request whose tokens are shared
    valid_from: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date] = mapped_column(Date)
    state: Mapped[str] = mapped_column(String(32))
    version: Mapped[int] = mapped_column(Integer, default=1)
    pernyataan_sha256: Mapped[str] = mapped_column(String(64))  # the signed security statement
    pernyataan_mime: Mapped[str] = mapped_column(String(32))
    reviews: Mapped[list[dict[str, Any]]] = mapped_column(
        JSON, default=list
    )  # [{action, actor, role, at, catatan}]
    alasan: Mapped[str | None] = mapped_column(Text)  # the decision's reason
    bast_sha256: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class AccessExtract(Base):
    """One file produced for an approved request (content-addressed under ``data_dir/extracts``)."""

    __tablename__ = "access_extract"
    __table_args__ = (
        CheckConstraint("format IN ('csv', 'parquet', 'xlsx')", name="format_known"),
        CheckConstraint("level IN ('aggregate', 'deidentified', 'byname')", name="level_known"),
    )

    id: Mapped[int] = mapped_column(_id(), primary_key=True, autoincrement=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("access_request.id", ondelete="CASCADE"), index=True)
    format: Mapped[str] = mapped_column(String(8))
    level: Mapped[str] = mapped_column(String(16))
    snapshot_ref: Mapped[str] = mapped_column(String(16))
    rows: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(String(300))  # relative to the extracts root
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    created_by: Mapped[str] = mapped_column(String(128))
    downloads: Mapped[int] = mapped_column(Integer, default=0)
    last_download_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
