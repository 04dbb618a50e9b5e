"""Dukcapil vital events received over DCI notify, and agencies' subscriptions to changes.

``dci_event_inbox``: one row per civil-registration event Dukcapil pushed (``/dci/registry/notify``),
already checked by the event feed's own row check and stored as that row (``baris``, text values as a
file carries them). ``id_peristiwa`` is unique: a repeated push is acknowledged, never stored twice. The
freeze of a cycle writes the events received up to its cut-off as one file per period into
``data_dir/events`` and stamps them with the period (``periode_ekspor``), so every event reaches the
registry through the file path and exactly one file. The subject's NIK and region are columns, so
``dtsen events deaths`` and the family page find a reported death at once.

``dci_subscription``: an agency client's subscription to changes of its approved population (desil or
program eligibility at each publish), answered with ``kode``; pushes go out through the DCI outbox.
``last_snapshot`` makes the publish hook idempotent: a snapshot is pushed to a subscription once.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, CheckConstraint, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from dtsen.store.models import Base, UtcDateTime, region_code

EVENT_KINDS = ("LAHIR", "MATI", "KAWIN", "CERAI")  # what a DCI vital event becomes (VitalEventTypeEnum)
SUBSCRIPTION_STATES = ("aktif", "berhenti")
CHANGE_KINDS = ("desil", "program")


def _id() -> BigInteger:
    # SQLite only auto-increments a column declared exactly INTEGER PRIMARY KEY.
    return BigInteger().with_variant(Integer, "sqlite")


class DciEventInbox(Base):
    """One vital event Dukcapil pushed, as the event-feed row the cycle will read from the period's file."""

    __tablename__ = "dci_event_inbox"
    __table_args__ = (
        CheckConstraint("jenis IN ('LAHIR', 'MATI', 'KAWIN', 'CERAI')", name="jenis_known"),
        Index("ix_dci_event_inbox_periode_ekspor", "periode_ekspor"),
        Index("ix_dci_event_inbox_jenis_nik", "jenis", "nik"),
    )

    id: Mapped[int] = mapped_column(_id(), primary_key=True, autoincrement=True)
    id_peristiwa: Mapped[str] = mapped_column(String(64), unique=True)  # the DCI reference_id
    jenis: Mapped[str] = mapped_column(String(8))
    tanggal_peristiwa: Mapped[date] = mapped_column(Date)
    tanggal_lapor: Mapped[date] = mapped_column(Date)
    nik: Mapped[str | None] = mapped_column(String(16))  # the subject (the newborn, the deceased, a spouse)
    baris: Mapped[dict[str, Any]] = mapped_column(JSON)  # the event-feed row (COLUMNS -> text)
    sha256: Mapped[str] = mapped_column(String(64))  # of the canonical row: a repeat must be identical
    client_pk: Mapped[int] = mapped_column(ForeignKey("api_client.id"))
    message_id: Mapped[str] = mapped_column(String(128))
    transaction_id: Mapped[str] = mapped_column(String(99))
    received_at: Mapped[datetime] = mapped_column(UtcDateTime())
    kode_prov: Mapped[str | None] = mapped_column(region_code(2))  # the subject's family, when received
    kode_kab: Mapped[str | None] = mapped_column(region_code(4))
    kode_kec: Mapped[str | None] = mapped_column(region_code(6))
    kode_desa: Mapped[str | None] = mapped_column(region_code(10))
    periode_ekspor: Mapped[str | None] = mapped_column(String(6))  # the cycle whose freeze took it
    exported_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class DciSubscription(Base):
    """An agency client's subscription to desil / program changes of its approved population."""

    __tablename__ = "dci_subscription"
    __table_args__ = (
        CheckConstraint("status IN ('aktif', 'berhenti')", name="status_known"),
        Index("ix_dci_subscription_client_pk_status", "client_pk", "status"),
    )

    id: Mapped[int] = mapped_column(_id(), primary_key=True, autoincrement=True)
    kode: Mapped[str] = mapped_column(String(64), unique=True)  # the spec's subscription code
    client_pk: Mapped[int] = mapped_column(ForeignKey("api_client.id"))
    request_id: Mapped[int] = mapped_column(ForeignKey("access_request.id"))  # the grant when subscribed
    reference_id: Mapped[str] = mapped_column(String(128))
    transaction_id: Mapped[str] = mapped_column(String(99))
    reg_event_type: Mapped[str] = mapped_column(String(64))
    perubahan: Mapped[str] = mapped_column(String(8))  # desil | program
    kriteria: Mapped[dict[str, Any]] = mapped_column(JSON)  # the subscribe_criteria as received
    wilayah: Mapped[list[str]] = mapped_column(JSON)  # region codes it covers (within the grant's)
    notify_uri: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(8))
    alasan: Mapped[str | None] = mapped_column(String(64))  # why it ended (unsubscribe, grant ended)
    last_snapshot: Mapped[str | None] = mapped_column(String(16))  # the last publish pushed
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
