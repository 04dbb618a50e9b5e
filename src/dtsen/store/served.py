"""Published snapshots as served to people: one row set per loaded snapshot, switched in one transaction.

Every loaded snapshot gets a ``served_snapshot`` row and its own rows in the ``served_*`` tables, keyed by
``(snapshot_id, natural id)``. A load writes beside the current snapshot (status ``loading``) and one
transaction then flips ``is_current``; readers resolve the current ``snapshot_id`` once and read only its
rows, so they never see a mix. Older snapshots stay for a family's history.

The row tables carry no foreign key to ``served_snapshot``: a per-row check would cost the bulk load
(COPY) a trigger call for each of millions of rows, and the loader is the only writer (it deletes a
snapshot's rows before its ``served_snapshot`` row). Every table holding personal data carries the four
region codes so :func:`dtsen.auth.scope.apply_scope` applies to it. Columns a page filters or shows are
columns; the rest of a snapshot row travels as one JSON ``atribut`` object (null values left out).
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    Dialect,
    Float,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    TypeDecorator,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from dtsen.store.models import Base, UtcDateTime, region_code

SNAPSHOT_STATUSES = ("loading", "ready", "failed")


class JsonText(TypeDecorator[Any]):
    """JSON kept as text on both backends and parsed in Python on reading.

    PostgreSQL's ``json`` input function re-parses every value during COPY: for a snapshot's rows that
    tripled the load time (persons: 1.6 s as text, 4.5 s as json, 200k rows). The values are written only
    by the loader, which builds them with DuckDB's ``to_json``, so the database's check adds nothing.
    Queries that need to look inside can still cast (``atribut::json``).
    """

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else json.dumps(value, ensure_ascii=False, separators=(",", ":"))

    def process_result_value(self, value: str | None, dialect: Dialect) -> Any:
        return None if value is None else json.loads(value)


#: Family columns kept as columns (a family page shows them); every other families.parquet column goes
#: into ``served_family.atribut``.
FAMILY_HOUSING_COLUMNS = (
    "status_bangunan",
    "luas_lantai",
    "lantai",
    "dinding",
    "atap",
    "sumber_air_minum",
    "sumber_penerangan",
    "daya_listrik",
    "bahan_bakar_masak",
    "fasilitas_bab",
)


class ServedSnapshot(Base):
    """One loaded (or loading, or failed) snapshot; at most one row is current."""

    __tablename__ = "served_snapshot"
    __table_args__ = (
        CheckConstraint("status IN ('loading', 'ready', 'failed')", name="status"),
        CheckConstraint("NOT is_current OR status = 'ready'", name="current_is_ready"),
        # At most one current snapshot: a partial unique index on both backends.
        Index(
            "uq_served_snapshot_current",
            "is_current",
            unique=True,
            postgresql_where=text("is_current"),
            sqlite_where=text("is_current"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    periode: Mapped[str] = mapped_column(String(6))  # 2026Q2
    versi: Mapped[int] = mapped_column(Integer)
    ref: Mapped[str] = mapped_column(String(16), index=True)  # 2026Q2/v1
    manifest_sha256: Mapped[str] = mapped_column(String(64))
    versi_model: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())  # when the snapshot was published
    loaded_at: Mapped[datetime | None] = mapped_column(UtcDateTime())  # when it became ready
    status: Mapped[str] = mapped_column(String(8))
    is_current: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    counts: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # rows loaded per table
    programs: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # program code -> name (programs.json)
    error: Mapped[str | None] = mapped_column(Text)  # why a load failed


class _Regions:
    """The four region codes every served table with personal data carries (scoping needs them)."""

    kode_prov: Mapped[str | None] = mapped_column(region_code(2))
    kode_kab: Mapped[str | None] = mapped_column(region_code(4))
    kode_kec: Mapped[str | None] = mapped_column(region_code(6))
    kode_desa: Mapped[str | None] = mapped_column(region_code(10))


class ServedFamily(_Regions, Base):
    """A family of one snapshot with its welfare score, desil and explanation."""

    __tablename__ = "served_family"
    __table_args__ = (
        Index("ix_served_family_id_keluarga_dtsen", "id_keluarga_dtsen"),  # history across snapshots
        Index("ix_served_family_snapshot_id_kode_desa", "snapshot_id", "kode_desa"),
        Index("ix_served_family_snapshot_id_no_kk", "snapshot_id", "no_kk"),
    )

    snapshot_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    id_keluarga_dtsen: Mapped[str] = mapped_column(String(32), primary_key=True)
    no_kk: Mapped[str | None] = mapped_column(String(32))
    id_kepala: Mapped[str | None] = mapped_column(String(32))
    jumlah_anggota: Mapped[int | None] = mapped_column(SmallInteger)
    alamat: Mapped[str | None] = mapped_column(Text)
    rt: Mapped[str | None] = mapped_column(String(8))
    rw: Mapped[str | None] = mapped_column(String(8))
    perkotaan: Mapped[bool | None] = mapped_column(Boolean)
    konflik: Mapped[list[str] | None] = mapped_column(JsonText)
    # welfare score (scores.parquet); null for families not ranked
    skor: Mapped[float | None] = mapped_column(Float)
    perkiraan_pengeluaran: Mapped[int | None] = mapped_column(BigInteger)
    batas_bawah: Mapped[int | None] = mapped_column(BigInteger)
    batas_atas: Mapped[int | None] = mapped_column(BigInteger)
    peringkat: Mapped[int | None] = mapped_column(BigInteger)
    desil_nasional: Mapped[int | None] = mapped_column(SmallInteger)
    desil_provinsi: Mapped[int | None] = mapped_column(SmallInteger)
    desil_kabkota: Mapped[int | None] = mapped_column(SmallInteger)
    p_desil_le4: Mapped[float | None] = mapped_column(Float)
    p_desil_le5: Mapped[float | None] = mapped_column(Float)
    borderline: Mapped[bool | None] = mapped_column(Boolean)
    penjelasan: Mapped[list[dict[str, Any]] | None] = mapped_column(
        JsonText
    )  # [{faktor, kontribusi, kalimat}]
    versi_model: Mapped[str | None] = mapped_column(String(64))
    status_peringkat: Mapped[str | None] = mapped_column(String(32))  # diperingkat | tidak_diperingkat
    alasan_tidak_diperingkat: Mapped[str | None] = mapped_column(String(64))
    model_peringkat: Mapped[str | None] = mapped_column(String(64))
    # housing (codes as in the canonical model)
    status_bangunan: Mapped[int | None] = mapped_column(SmallInteger)
    luas_lantai: Mapped[int | None] = mapped_column(Integer)
    lantai: Mapped[int | None] = mapped_column(SmallInteger)
    dinding: Mapped[int | None] = mapped_column(SmallInteger)
    atap: Mapped[int | None] = mapped_column(SmallInteger)
    sumber_air_minum: Mapped[int | None] = mapped_column(SmallInteger)
    sumber_penerangan: Mapped[int | None] = mapped_column(SmallInteger)
    daya_listrik: Mapped[int | None] = mapped_column(SmallInteger)
    bahan_bakar_masak: Mapped[int | None] = mapped_column(SmallInteger)
    fasilitas_bab: Mapped[int | None] = mapped_column(SmallInteger)
    atribut: Mapped[dict[str, Any] | None] = mapped_column(
        JsonText
    )  # assets, livestock, programs received...


class ServedPerson(_Regions, Base):
    """A person of one snapshot; ``nama_norm`` is the name as :func:`normalize_name` spells it."""

    __tablename__ = "served_person"
    __table_args__ = (
        Index("ix_served_person_snapshot_id_nik", "snapshot_id", "nik"),
        Index("ix_served_person_snapshot_id_no_kk", "snapshot_id", "no_kk"),
        Index("ix_served_person_snapshot_id_kode_desa_nama_norm", "snapshot_id", "kode_desa", "nama_norm"),
        Index("ix_served_person_snapshot_id_id_keluarga_dtsen", "snapshot_id", "id_keluarga_dtsen"),
    )

    snapshot_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    id_dtsen: Mapped[str] = mapped_column(String(32), primary_key=True)
    id_keluarga_dtsen: Mapped[str | None] = mapped_column(String(32))
    nik: Mapped[str | None] = mapped_column(String(16))
    no_kk: Mapped[str | None] = mapped_column(String(16))
    nama: Mapped[str | None] = mapped_column(Text)
    nama_norm: Mapped[str | None] = mapped_column(Text)
    nama_ibu_kandung: Mapped[str | None] = mapped_column(Text)
    tanggal_lahir: Mapped[date | None] = mapped_column(Date)
    jenis_kelamin: Mapped[int | None] = mapped_column(SmallInteger)
    hubungan: Mapped[int | None] = mapped_column(SmallInteger)
    status_hidup: Mapped[bool | None] = mapped_column(Boolean)
    umur: Mapped[int | None] = mapped_column(SmallInteger)
    status_padan: Mapped[int | None] = mapped_column(SmallInteger)  # linkage status with Dukcapil
    bukti_status: Mapped[str | None] = mapped_column(Text)
    di_dukcapil: Mapped[bool | None] = mapped_column(Boolean)
    sumber_data: Mapped[list[str] | None] = mapped_column(JsonText)
    segmen_bpjs: Mapped[int | None] = mapped_column(SmallInteger)
    atribut: Mapped[dict[str, Any] | None] = mapped_column(JsonText)


class ServedEligibility(_Regions, Base):
    """One program's decision for one family in one snapshot (``nilai_tahunan`` in rupiah a year)."""

    __tablename__ = "served_eligibility"

    snapshot_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    id_keluarga_dtsen: Mapped[str] = mapped_column(String(32), primary_key=True)
    program: Mapped[str] = mapped_column(String(32), primary_key=True)
    layak: Mapped[bool | None] = mapped_column(Boolean)
    alasan: Mapped[list[str] | None] = mapped_column(JsonText)
    jumlah_penerima: Mapped[int | None] = mapped_column(Integer)
    nilai_tahunan: Mapped[int | None] = mapped_column(BigInteger)


class ServedProvenance(_Regions, Base):
    """Where each attribute of one person or family came from: one row per entity naming its pattern.

    A snapshot's provenance.parquet holds one row per attribute (11.5 M rows at 200k persons, 57 M at
    1 M), yet only a few thousand distinct attribute -> source maps occur (which sources supplied which
    attributes, in which batch). Each distinct map is stored once in :class:`ServedProvenancePola` and an
    entity names it by ``pola``: the same answer as a per-entity JSON map at a few bytes a row instead of
    ~5 kB, which keeps a 1 M-person load within a minute.
    """

    __tablename__ = "served_provenance"

    snapshot_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    entitas: Mapped[str] = mapped_column(String(8), primary_key=True)  # person | family
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    pola: Mapped[int] = mapped_column(Integer)


class ServedProvenancePola(Base):
    """One distinct provenance map: ``atribut`` maps attribute -> ``{sumber, batch_id, tanggal_data}``."""

    __tablename__ = "served_provenance_pola"

    snapshot_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    pola: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    atribut: Mapped[dict[str, Any]] = mapped_column(JsonText)
