"""Batch-plane table contracts: the columns, in order, and types of every table one part of the pipeline
writes and another reads (or that is published), declared once.

The canonical entities (persons, families, source records) are declared by the data model
(:mod:`dtsen.canonical.model`); this module declares the tables the pipeline adds around them: where each
attribute came from (provenance), how identifiers changed (lineage), the identifier registry, quarantined
rows, the between-cycle feeds and their outcomes, and the closed sets of values their status columns
hold (string enums: the values are what Parquet and the serving database store). Types are Arrow's (what
Parquet stores and every engine reads); :attr:`Contract.polars` gives the same schema to Polars code.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property
from typing import Any

import polars as pl
import pyarrow as pa

from dtsen.canonical.model import LOCATION as _LOCATION_FIELDS


@dataclass(frozen=True)
class Contract:
    """A table's columns in order, with their Arrow types."""

    name: str
    fields: tuple[tuple[str, pa.DataType], ...]

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.fields)

    @cached_property
    def arrow(self) -> pa.Schema:
        return pa.schema(list(self.fields))

    @cached_property
    def polars(self) -> dict[str, pl.DataType]:
        return dict(pl.from_arrow(self.arrow.empty_table()).schema)  # type: ignore[union-attr]

    def empty(self) -> pl.DataFrame:
        return pl.DataFrame(schema=self.polars)

    def frame(self, rows: Iterable[Mapping[str, Any]]) -> pl.DataFrame:
        """``rows`` (dicts) as a frame of this contract; no rows still gives the typed columns."""
        rows = list(rows)
        return pl.DataFrame(rows, schema=self.polars, orient="row") if rows else self.empty()


class FeedStatus(StrEnum):
    """What became of an event or a correction (``status`` of the outcomes tables)."""

    DITERAPKAN = "diterapkan"  # applied
    SUDAH_DITERAPKAN = "sudah_diterapkan"  # already reflected in the tables (re-applying a feed is a no-op)
    DIGANTIKAN = "digantikan"  # a later decision on the same attribute wins (corrections)
    DITOLAK = "ditolak"  # cannot be applied; ``alasan`` says why
    DITUNDA = "ditunda"  # registered after the cut-off: applied by the next cycle


class OutcomeReason(StrEnum):
    """Why an event or a correction was not applied, or needed no change (``alasan`` of the outcomes)."""

    NIK_TIDAK_DITEMUKAN = "nik_tidak_ditemukan"  # nobody living has that NIK
    SUDAH_MENINGGAL = "sudah_meninggal"  # the death is already recorded
    NIK_SUDAH_ADA = "nik_sudah_ada"  # a person with the newborn's NIK exists
    KELUARGA_TIDAK_DITEMUKAN = "keluarga_tidak_ditemukan"  # no family to place the newborn in
    KK_TIDAK_DITEMUKAN = "kk_tidak_ditemukan"  # no family has that KK
    ALAMAT_SAMA = "alamat_sama"  # the family already lives there
    SUDAH_DI_KK_TUJUAN = "sudah_di_kk_tujuan"  # the person is already on the destination KK
    SUDAH_KAWIN = "sudah_kawin"  # both are already married (on that KK)
    SUDAH_CERAI = "sudah_cerai"  # both are already divorced
    KK_BARU_SUDAH_ADA = "kk_baru_sudah_ada"  # the new KK already exists
    ANGGOTA_BUKAN_KELUARGA_ASAL = (
        "anggota_bukan_keluarga_asal"  # a named member is not in the family being split
    )
    SETELAH_BATAS_WAKTU = "setelah_batas_waktu"  # registered or decided after the cut-off
    KEPUTUSAN_LEBIH_BARU = "keputusan_lebih_baru"  # a later decision on the same attribute wins
    ID_PENSIUN = "id_pensiun"  # the ID was retired
    ID_TIDAK_DITEMUKAN = "id_tidak_ditemukan"  # no person or family has the ID
    KOLOM_TIDAK_ADA_DI_TABEL = "kolom_tidak_ada_di_tabel"  # the table has no such column
    NILAI_LAMA_BERBEDA = "nilai_lama_berbeda"  # the value is no longer the one the decision changed


class FeedProblem(StrEnum):
    """Why a row of an event or correction file was quarantined (``kode`` of the feed quarantine)."""

    WAJIB_KOSONG = "wajib_kosong"  # a required value is empty
    TANGGAL_TIDAK_VALID = "tanggal_tidak_valid"  # not a YYYY-MM-DD date
    JENIS_TIDAK_DIKENAL = "jenis_tidak_dikenal"  # not one of the feed's kinds
    ID_GANDA = "id_ganda"  # repeats an earlier row's id
    LAPOR_SEBELUM_PERISTIWA = "lapor_sebelum_peristiwa"  # reported before it happened
    KODE_TIDAK_DIKENAL = "kode_tidak_dikenal"  # not in the code list
    NIK_TIDAK_VALID = "nik_tidak_valid"  # fails the NIK rules
    KK_TIDAK_VALID = "kk_tidak_valid"  # fails the KK number rules
    DESA_TIDAK_DIKENAL = "desa_tidak_dikenal"  # not a village code
    BUKAN_ANGKA = "bukan_angka"  # not digits
    PASANGAN_SAMA = "pasangan_sama"  # a person named as their own spouse
    TARGET_TIDAK_JELAS = "target_tidak_jelas"  # not exactly one of id_dtsen and id_keluarga_dtsen
    ATRIBUT_TIDAK_VALID = "atribut_tidak_valid"  # not an attribute a correction may set
    NILAI_TIDAK_VALID = "nilai_tidak_valid"  # not a value of the attribute's type or code list


class EventKind(StrEnum):
    """A civil-registration event (``jenis`` of the event feed)."""

    LAHIR = "LAHIR"  # birth
    MATI = "MATI"  # death
    PINDAH = "PINDAH"  # a move (a whole family, or one person to another KK)
    KAWIN = "KAWIN"  # marriage
    CERAI = "CERAI"  # divorce
    PISAH_KK = "PISAH_KK"  # members split off onto a new KK


class LineageKind(StrEnum):
    """How an identifier changed (``jenis`` of lineage)."""

    GABUNG = "gabung"  # merged into ``id_baru``
    PISAH = "pisah"  # ``id_baru`` split off from ``id_lama``
    PENSIUN = "pensiun"  # retired: nobody holds it any more


class LinkMethod(StrEnum):
    """How a record was linked to its person (``metode`` of links)."""

    DETERMINISTIK = "deterministik"  # NIK rules (or the household rule)
    PROBABILISTIK = "probabilistik"  # Splink at or above the match threshold
    KLERIKAL = "klerikal"  # a clerk decided the pair is the same person
    TUNGGAL = "tunggal"  # nothing linked to it: a cluster of one


class ReviewDecision(StrEnum):
    """A clerk's decision on a review pair (``keputusan`` of the review decisions)."""

    COCOK = "cocok"  # same person
    TIDAK_COCOK = "tidak_cocok"  # different persons


class BatchStatus(StrEnum):
    """What ingesting a source file did."""

    COMMITTED = "committed"  # a new batch was published
    NOOP = "noop"  # the same file was already ingested


class CycleStatus(StrEnum):
    """A quarterly run's ``status`` (state.json) or what running it did."""

    RUNNING = "running"
    PUBLISHED = "published"
    NOOP = "noop"  # the period was already published


class RankingStatus(StrEnum):
    """Whether a family is ranked (``status_peringkat`` of scores)."""

    DIPERINGKAT = "diperingkat"
    TIDAK_DIPERINGKAT = "tidak_diperingkat"


class UnrankedReason(StrEnum):
    """Why a family is not ranked (``alasan_tidak_diperingkat``), most fundamental first."""

    TANPA_ANGGOTA = "tanpa_anggota"  # no living member lives in it
    TANPA_KEPALA_DEWASA = "tanpa_kepala_dewasa"  # no adult, or a child recorded as the head
    TANPA_OBSERVASI = "tanpa_observasi"  # no field or administrative observation to score


class RankingModel(StrEnum):
    """The model that ranks a family (``model_peringkat``)."""

    SURVEI = "survei"  # housing and assets observed in the field
    ADMINISTRATIF = "administratif"  # administrative records only (PLN, vehicles, land)


def _contract(name: str, *fields: tuple[str, pa.DataType]) -> Contract:
    return Contract(name, tuple(fields))


STRING, INT8, INT64, BOOL, DATE = pa.string(), pa.int8(), pa.int64(), pa.bool_(), pa.date32()

#: A family's (and, copied from it, its members') address: the data model's Location group.
LOCATION: tuple[str, ...] = tuple(f.name for f in _LOCATION_FIELDS)

# -- linkage output (<run>/link/, then the snapshot) ---------------------------------------------------
#: links.parquet: one row per source record, the person it was linked to and how (types: the records').
LINK_COLUMNS = (
    "sumber",
    "entitas",
    "id_rekaman",
    "batch_id",
    "berkas",
    "baris",
    "id_dtsen",
    "metode",
    "aturan",
    "probabilitas",
)

#: provenance.parquet: the source of every attribute of every golden person and family.
PROVENANCE = _contract(
    "provenance",
    ("entitas", STRING),  # person | family
    ("id", STRING),  # id_dtsen or id_keluarga_dtsen
    ("atribut", STRING),
    ("sumber", STRING),
    ("batch_id", STRING),
    ("tanggal_data", DATE),
)
#: The family rows of provenance as the golden-family rules produce them, before ``entitas``/``id``.
FAMILY_PROVENANCE = _contract(
    "family provenance",
    ("id_keluarga_dtsen", STRING),
    ("atribut", STRING),
    ("sumber", STRING),
    ("batch_id", STRING),
    ("tanggal_data", DATE),
)
#: lineage.parquet: how identifiers changed (gabung, pisah, pensiun); ``id_baru`` empty when retired.
LINEAGE = _contract(
    "lineage",
    ("id_lama", STRING),
    ("id_baru", STRING),
    ("jenis", STRING),
    ("jenis_id", STRING),  # person | family
    ("run", STRING),
)
#: The stable-ID registry (linkage state, ids.parquet): key -> the ID it belonged to last.
ID_REGISTRY = _contract(
    "ID registry",
    ("jenis_id", STRING),
    ("kunci", STRING),
    ("id", STRING),
    ("aktif", BOOL),
    ("run", STRING),
)
#: Clerical decisions on review pairs (linkage state, decisions.parquet).
REVIEW_DECISIONS = _contract(
    "review decisions",
    ("id_pasangan", STRING),
    ("keputusan", STRING),
    ("oleh", STRING),
    ("waktu", pa.timestamp("us", "UTC")),
)

# -- quarantine: a row that could not be used, kept with its values ------------------------------------
_QUARANTINE_WHERE = (("berkas", STRING), ("baris", INT64), ("kolom", STRING))
_QUARANTINE_WHY = (("kode", STRING), ("pesan", STRING), ("raw", STRING))
#: A source batch's quarantine.parquet (ingest): also the canonical field(s) read from ``kolom``.
SOURCE_QUARANTINE = _contract("source quarantine", *_QUARANTINE_WHERE, ("atribut", STRING), *_QUARANTINE_WHY)
#: Rows of an event or correction feed that failed their checks (the cycle's *_quarantine.parquet).
FEED_QUARANTINE = _contract("feed quarantine", *_QUARANTINE_WHERE, *_QUARANTINE_WHY)

# -- between-cycle feeds (docs/events-and-corrections.md) ----------------------------------------------
#: An event file as Dukcapil sends it, or as the DCI CRVS notify inbox writes it (every column text).
EVENT_FILE = _contract(
    "event file",
    *(
        (name, STRING)
        for name in (
            "id_peristiwa",
            "jenis",
            "tanggal_peristiwa",
            "tanggal_lapor",
            "nik",
            "no_kk",
            "nama",
            "jenis_kelamin",
            "nik_ibu",
            "nik_pasangan",
            "no_kk_baru",
            "nik_anggota",
            "kode_desa_tujuan",
            "alamat_tujuan",
            "rt_tujuan",
            "rw_tujuan",
        )
    ),
)
#: A corrections file as the case workflows export their approved changes (every column text).
CORRECTION_FILE = _contract(
    "correction file",
    *(
        (name, STRING)
        for name in (
            "id_koreksi",
            "jenis",
            "id_dtsen",
            "id_keluarga_dtsen",
            "atribut",
            "nilai_baru",
            "nilai_lama",
            "sumber",
            "nomor_keputusan",
            "tanggal_keputusan",
            "petugas",
            "keterangan",
        )
    ),
)
#: Valid civil-registration events, typed, with the file and line each came from.
EVENTS = _contract(
    "events",
    ("id_peristiwa", STRING),
    ("jenis", STRING),
    ("tanggal_peristiwa", DATE),
    ("tanggal_lapor", DATE),
    ("nik", STRING),
    ("no_kk", STRING),
    ("nama", STRING),
    ("jenis_kelamin", INT8),
    ("nik_ibu", STRING),
    ("nik_pasangan", STRING),
    ("no_kk_baru", STRING),
    ("nik_anggota", pa.list_(STRING)),
    ("kode_desa_tujuan", STRING),
    ("alamat_tujuan", STRING),
    ("rt_tujuan", STRING),
    ("rw_tujuan", STRING),
    ("berkas", STRING),
    ("baris", INT64),
)
#: events_outcomes.parquet: what became of each event (status: :class:`FeedStatus`).
EVENT_OUTCOMES = _contract(
    "event outcomes",
    ("id_peristiwa", STRING),
    ("jenis", STRING),
    ("status", STRING),
    ("alasan", STRING),
    ("id_dtsen", STRING),
    ("id_keluarga_dtsen", STRING),
    ("tanggal_lapor", DATE),
)
#: Valid corrections (values still text until applied), with the file and line each came from.
CORRECTIONS = _contract(
    "corrections",
    ("id_koreksi", STRING),
    ("jenis", STRING),
    ("entitas", STRING),
    ("id", STRING),
    ("atribut", STRING),
    ("nilai_baru", STRING),
    ("nilai_lama", STRING),
    ("sumber", STRING),
    ("nomor_keputusan", STRING),
    ("tanggal_keputusan", DATE),
    ("petugas", STRING),
    ("keterangan", STRING),
    ("berkas", STRING),
    ("baris", INT64),
)
#: corrections_outcomes.parquet: what became of each correction.
CORRECTION_OUTCOMES = _contract(
    "correction outcomes",
    ("id_koreksi", STRING),
    ("jenis", STRING),
    ("entitas", STRING),
    ("id", STRING),
    ("atribut", STRING),
    ("status", STRING),
    ("alasan", STRING),
    ("nomor_keputusan", STRING),
)
#: Published beneficiaries who died according to the event feed, one row per person and program.
DEATH_REPORT = _contract(
    "death report",
    ("id_peristiwa", STRING),
    ("tanggal_peristiwa", DATE),
    ("tanggal_lapor", DATE),
    ("id_dtsen", STRING),
    ("nik", STRING),
    ("id_keluarga_dtsen", STRING),
    ("program", STRING),
    ("peran", STRING),
    ("nilai_tahunan", INT64),
    ("kode_prov", STRING),
    ("kode_kab", STRING),
)
