"""Workflow cases: proposals (usulan), objections (sanggahan) and ground checks (verval), their history,
the changes they approve for the next cycle, and the village deliberations (musyawarah desa) that decide
proposals.

A case moves through the states of its workflow (:mod:`dtsen.workflows.machine`); every move is a row of
``workflow_step`` (actor, time, reason, the fields it recorded) and an audit entry. ``version`` is bumped by
every move and checked by it (``UPDATE ... WHERE version = :seen``), so of two officers acting on the same
case at once the second gets a conflict instead of silently overwriting the first.

Every case carries the four region codes of its village, so the one scoping rule
(:func:`dtsen.auth.scope.apply_scope`) puts it in the queues of that desa, its pendamping and its dinsos.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from dtsen.store.models import Base, UtcDateTime, region_code

CASE_KINDS = ("usulan", "sanggahan", "verval")
CASE_ORIGINS = ("publik", "desa", "dinsos", "sistem")


def _id() -> BigInteger:
    # SQLite only auto-increments a column declared exactly INTEGER PRIMARY KEY.
    return BigInteger().with_variant(Integer, "sqlite")


class WorkflowCase(Base):
    """One case of one workflow, from its opening to its outcome in a published snapshot."""

    __tablename__ = "workflow_case"
    __table_args__ = (
        CheckConstraint("jenis IN ('usulan', 'sanggahan', 'verval')", name="jenis_known"),
        CheckConstraint("asal IN ('publik', 'desa', 'dinsos', 'sistem')", name="asal_known"),
        Index("ix_workflow_case_kode_desa_state", "kode_desa", "state"),
        Index("ix_workflow_case_kode_kab_state", "kode_kab", "state"),
        Index("ix_workflow_case_assigned_to_state", "assigned_to", "state"),
        Index("ix_workflow_case_periode_jenis", "periode", "jenis"),
        Index("ix_workflow_case_id_keluarga_dtsen", "id_keluarga_dtsen"),
        # The queues' order among open cases (a dinsos' kab/kota, a desa): the first page is read off
        # the index backwards (priority descending; ties, rare with float priorities, sorted after)
        # instead of sorting every open case of the region (migration 0007).
        *(
            Index(
                f"ix_workflow_case_open_{column}_priority",
                column,
                "priority",
                postgresql_where=text("closed_at IS NULL"),
                sqlite_where=text("closed_at IS NULL"),
            )
            for column in ("kode_kab", "kode_desa")
        ),
    )

    id: Mapped[int] = mapped_column(_id(), primary_key=True, autoincrement=True)
    nomor: Mapped[str] = mapped_column(String(32), unique=True)  # KASUS-2026Q3-0000123
    jenis: Mapped[str] = mapped_column(String(16))
    kategori: Mapped[str | None] = mapped_column(String(32))  # a sanggahan's type
    asal: Mapped[str] = mapped_column(String(8))  # who opened it
    state: Mapped[str] = mapped_column(String(32))
    version: Mapped[int] = mapped_column(Integer, default=1)
    periode: Mapped[str] = mapped_column(String(6))  # the quarter whose cycle it feeds (2026Q3)

    kode_prov: Mapped[str] = mapped_column(region_code(2))
    kode_kab: Mapped[str] = mapped_column(region_code(4))
    kode_kec: Mapped[str] = mapped_column(region_code(6))
    kode_desa: Mapped[str] = mapped_column(region_code(10))

    # The family and person it is about, as the registry knows them (None: not in the registry yet).
    id_keluarga_dtsen: Mapped[str | None] = mapped_column(String(32))
    subject_ref: Mapped[str | None] = mapped_column(String(64), index=True)  # audit.subject_ref(NIK)
    subject_nama: Mapped[str | None] = mapped_column(String(200))
    request_id: Mapped[int | None] = mapped_column(
        ForeignKey("citizen_request.id", ondelete="SET NULL"), index=True
    )
    duplicate_of: Mapped[int | None] = mapped_column(ForeignKey("workflow_case.id"), index=True)

    assigned_to: Mapped[str | None] = mapped_column(String(64))  # the pendamping's username
    priority: Mapped[float] = mapped_column(Float, default=0.0)  # higher first in a pendamping's list
    opened_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    ack_due_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), index=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    due_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), index=True)  # resolution deadline
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # fields the steps recorded
    outcome: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # desil and programs after publish


class WorkflowStep(Base):
    """One move of a case: which action took it from which state to which, by whom, when and why."""

    __tablename__ = "workflow_step"

    id: Mapped[int] = mapped_column(_id(), primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("workflow_case.id", ondelete="CASCADE"), index=True)
    action: Mapped[str] = mapped_column(String(32))
    from_state: Mapped[str | None] = mapped_column(String(32))
    to_state: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(128))
    actor_role: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    reason: Mapped[str | None] = mapped_column(Text)
    fields: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # An idempotency key sent with the form (the offline field form): the same key never moves twice.
    idempotency_key: Mapped[str | None] = mapped_column(String(64), unique=True)


class ApprovedChange(Base):
    """One attribute of one golden person or family that a decided case sets in the next cycle, in the
    shape of a row of the corrections path (:mod:`dtsen.cycle.corrections`)."""

    __tablename__ = "approved_change"
    __table_args__ = (
        CheckConstraint("entitas IN ('person', 'family')", name="entitas_known"),
        UniqueConstraint("id_koreksi", name="uq_approved_change_id_koreksi"),
        Index("ix_approved_change_periode_exported", "periode", "exported_at"),
    )

    id: Mapped[int] = mapped_column(_id(), primary_key=True, autoincrement=True)
    id_koreksi: Mapped[str] = mapped_column(String(48))  # KASUS-2026Q3-0000123-01
    case_id: Mapped[int] = mapped_column(ForeignKey("workflow_case.id", ondelete="CASCADE"), index=True)
    jenis: Mapped[str] = mapped_column(String(16))  # the corrections path's kind: usulan | sanggahan | verval
    entitas: Mapped[str] = mapped_column(String(8))
    target_id: Mapped[str] = mapped_column(String(32))  # id_dtsen or id_keluarga_dtsen
    atribut: Mapped[str] = mapped_column(String(64))
    nilai_baru: Mapped[str] = mapped_column(Text)
    nilai_lama: Mapped[str | None] = mapped_column(Text)
    nomor_keputusan: Mapped[str] = mapped_column(String(64))
    tanggal_keputusan: Mapped[date] = mapped_column(Date)
    petugas: Mapped[str] = mapped_column(String(128))  # the approver
    periode: Mapped[str] = mapped_column(String(6))  # the cycle it is for
    exported_at: Mapped[datetime | None] = mapped_column(UtcDateTime())  # taken by a cycle run
    status: Mapped[str | None] = mapped_column(String(24))  # the cycle's outcome: diterapkan, ditolak, ...


class MusdesSession(Base):
    """A musyawarah desa: opened by the desa operator, decides the village's open cases, closed only once
    the signed berita acara has been uploaded."""

    __tablename__ = "musdes_session"
    __table_args__ = (
        CheckConstraint("status IN ('dibuka', 'ditutup')", name="status_known"),
        Index("ix_musdes_session_kode_desa_status", "kode_desa", "status"),
    )

    id: Mapped[int] = mapped_column(_id(), primary_key=True, autoincrement=True)
    nomor: Mapped[str] = mapped_column(String(40), unique=True)
    periode: Mapped[str] = mapped_column(String(6))
    kode_prov: Mapped[str] = mapped_column(region_code(2))
    kode_kab: Mapped[str] = mapped_column(region_code(4))
    kode_kec: Mapped[str] = mapped_column(region_code(6))
    kode_desa: Mapped[str] = mapped_column(region_code(10))
    status: Mapped[str] = mapped_column(String(8))
    version: Mapped[int] = mapped_column(Integer, default=1)
    tanggal: Mapped[date] = mapped_column(Date)
    tempat: Mapped[str] = mapped_column(String(200))
    pimpinan: Mapped[str] = mapped_column(String(200))  # who chairs it
    hadir: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)  # [{nama, unsur}]
    opened_by: Mapped[str] = mapped_column(String(128))
    opened_at: Mapped[datetime] = mapped_column(UtcDateTime())
    berita_acara_sha256: Mapped[str | None] = mapped_column(String(64))  # the PDF rendered to sign
    scan_sha256: Mapped[str | None] = mapped_column(String(64))  # the signed scan
    scan_mime: Mapped[str | None] = mapped_column(String(32))
    closed_by: Mapped[str | None] = mapped_column(String(128))
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class MusdesItem(Base):
    """One case on a session's agenda and the decision taken on it."""

    __tablename__ = "musdes_item"
    __table_args__ = (
        UniqueConstraint("session_id", "case_id", name="uq_musdes_item_session_id_case_id"),
        CheckConstraint(
            "keputusan IS NULL OR keputusan IN ('setuju', 'tolak', 'tunda')", name="keputusan_known"
        ),
    )

    id: Mapped[int] = mapped_column(_id(), primary_key=True, autoincrement=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("musdes_session.id", ondelete="CASCADE"), index=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("workflow_case.id", ondelete="CASCADE"), index=True)
    keputusan: Mapped[str | None] = mapped_column(String(8))
    catatan: Mapped[str | None] = mapped_column(Text)
    decided: Mapped[bool] = mapped_column(Boolean, default=False)
