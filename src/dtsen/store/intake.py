"""Citizen requests (usulan, sanggahan) received through the public pages, with their documents and history,
plus the two small tables that protect the public pages: rate-limit counters and used challenges.

Identity numbers of citizens are never stored in clear: each NIK/KK is kept twice, as a keyed HMAC
(``*_ref``: the same reference :func:`dtsen.store.audit.subject_ref` gives, so a request is found by NIK
and joins a person's audit trail) and encrypted with AES-GCM under a key derived from the deployment
secret (``*_enc``: the village operator and the dinsos must read it to verify the reporter, contact them
and match the subject to the registry; see :mod:`dtsen.workflows.intake`). Names and phone numbers stay in
clear: the desa needs them to call back, and they are no key to anything.

Every request carries the region codes of the subject's desa so the one scoping rule
(:func:`dtsen.auth.scope.apply_scope`) puts it in the queue of that desa and of the dinsos of its kab/kota.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from dtsen.store.models import Base, UtcDateTime, region_code

REQUEST_KINDS = ("usulan", "sanggahan")
OBJECTION_CATEGORIES = ("excluded_but_eligible", "included_not_eligible", "wrong_data", "deceased_listed")
DOCUMENT_KINDS = ("ktp", "kk", "tagihan_listrik", "lainnya")
# The first states; issue 12's queues add the reviewing and decision states after "diterima".
REQUEST_STATES = ("diterima", "dikonfirmasi", "diverifikasi", "disetujui", "ditolak", "selesai")


def _id() -> BigInteger:
    # SQLite only auto-increments a column declared exactly INTEGER PRIMARY KEY.
    return BigInteger().with_variant(Integer, "sqlite")


class CitizenRequest(Base):
    """One usulan (proposal of a family) or sanggahan (objection), from receipt to decision."""

    __tablename__ = "citizen_request"
    __table_args__ = (
        CheckConstraint("jenis IN ('usulan', 'sanggahan')", name="jenis_known"),
        CheckConstraint(
            "(jenis = 'usulan' AND kategori IS NULL) OR (jenis = 'sanggahan' AND kategori IN "
            "('excluded_but_eligible', 'included_not_eligible', 'wrong_data', 'deceased_listed'))",
            name="kategori_matches_jenis",
        ),
        Index("ix_citizen_request_kode_desa_status", "kode_desa", "status"),
        Index("ix_citizen_request_kode_kab_status", "kode_kab", "status"),
    )

    id: Mapped[int] = mapped_column(_id(), primary_key=True, autoincrement=True)
    tracking_number: Mapped[str] = mapped_column(String(32), unique=True)
    # A random key issued with the form: a replayed POST finds the request it already created.
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    jenis: Mapped[str] = mapped_column(String(16))
    kategori: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(24))

    reporter_ref: Mapped[str] = mapped_column(String(64), index=True)
    reporter_nik_enc: Mapped[str] = mapped_column(Text)
    reporter_nama: Mapped[str] = mapped_column(String(200))
    reporter_telepon: Mapped[str | None] = mapped_column(String(32))

    subject_ref: Mapped[str | None] = mapped_column(String(64), index=True)
    subject_nik_enc: Mapped[str | None] = mapped_column(Text)
    subject_kk_ref: Mapped[str | None] = mapped_column(String(64), index=True)
    subject_kk_enc: Mapped[str | None] = mapped_column(Text)
    subject_nama: Mapped[str | None] = mapped_column(String(200))

    kode_prov: Mapped[str] = mapped_column(region_code(2))
    kode_kab: Mapped[str] = mapped_column(region_code(4))
    kode_kec: Mapped[str] = mapped_column(region_code(6))
    kode_desa: Mapped[str] = mapped_column(region_code(10))

    alasan: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    # UU 27/2022 (PDP): a request about one's data is acknowledged within 3 x 24 hours.
    ack_due_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    documents: Mapped[list[CitizenRequestDocument]] = relationship(
        back_populates="request", order_by="CitizenRequestDocument.id"
    )
    events: Mapped[list[CitizenRequestEvent]] = relationship(
        back_populates="request", order_by="CitizenRequestEvent.id"
    )


class CitizenRequestDocument(Base):
    """A supporting document, stored content-addressed (sha256 of the stored bytes) under data_dir/uploads."""

    __tablename__ = "citizen_request_document"
    __table_args__ = (
        UniqueConstraint("request_id", "sha256", name="uq_citizen_request_document_request_id_sha256"),
        CheckConstraint("mime IN ('image/jpeg', 'image/png', 'application/pdf')", name="mime_known"),
    )

    id: Mapped[int] = mapped_column(_id(), primary_key=True, autoincrement=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("citizen_request.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(24))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    mime: Mapped[str] = mapped_column(String(32))
    size_bytes: Mapped[int] = mapped_column(Integer)
    original_name: Mapped[str] = mapped_column(String(120))
    uploaded_at: Mapped[datetime] = mapped_column(UtcDateTime())

    request: Mapped[CitizenRequest] = relationship(back_populates="documents")


class CitizenRequestEvent(Base):
    """One step of a request's history, as the citizen sees it on Lacak."""

    __tablename__ = "citizen_request_event"

    id: Mapped[int] = mapped_column(_id(), primary_key=True, autoincrement=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("citizen_request.id", ondelete="CASCADE"), index=True)
    state: Mapped[str] = mapped_column(String(24))
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    actor: Mapped[str] = mapped_column(String(128))
    note: Mapped[str | None] = mapped_column(Text)

    request: Mapped[CitizenRequest] = relationship(back_populates="events")


class RateLimitCounter(Base):
    """Hits of one key (a hashed client IP, NIK or tracking number) in one fixed window of one bucket.

    Two adjacent windows give a sliding-window estimate (see :mod:`dtsen.api.ratelimit`); living in the
    database, the counters are shared by every worker process of the server.
    """

    __tablename__ = "rate_limit_counter"

    bucket: Mapped[str] = mapped_column(String(32), primary_key=True)
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    window_start: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hits: Mapped[int] = mapped_column(Integer)


class UsedChallenge(Base):
    """A challenge (proof of work or question) already spent: a second use is refused until it expires."""

    __tablename__ = "used_challenge"

    challenge_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
