"""The canonical data model: the tables every source is conformed to, declared once.

Ingestion writes these tables from every source (SIAK, Regsosek, DTKS, P3KE, PLN, BPJS, vehicle and land
registries, Susenas); linkage reads them and writes golden records of the same shape; the welfare model
and program rules read them. Physical schemas (:func:`arrow_schema`, :func:`polars_schema`) and
``docs/data-model.md`` are both generated from the :class:`Entity` declarations below, so a column is
defined in exactly one place.

Conventions, chosen because the sources break them: NIK, No. KK and every other identifier are strings
(a float or int column silently loses leading zeros and the last digits); coded answers are small ints
tied to a :class:`~dtsen.reference.codes.CodeList`; money is int64 rupiah; dates are date32; a field is
non-nullable only when a row is meaningless without it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, replace
from enum import StrEnum
from functools import cache
from typing import Any

import polars as pl
import pyarrow as pa

from dtsen.reference.codes import (
    CODE_LISTS,
    Agama,
    Aset,
    Atap,
    BahanBakarMasak,
    BuktiKepemilikan,
    CodeList,
    DayaListrik,
    Dinding,
    FasilitasBAB,
    FungsiTubuh,
    HubunganKeluarga,
    HubunganSIAK,
    IjazahTertinggi,
    JaminanKesehatan,
    JenisKelamin,
    JenisKloset,
    JenjangPendidikan,
    Keberadaan,
    Lantai,
    LapanganUsaha,
    OmzetUsaha,
    PartisipasiSekolah,
    PekerjaanSIAK,
    PembuanganTinja,
    PendidikanSIAK,
    PenyakitKronis,
    ProgramBansos,
    SegmenBPJS,
    StatusBangunan,
    StatusKawin,
    StatusKK,
    StatusPekerjaan,
    SumberAirMinum,
    SumberPenerangan,
    Ternak,
    TingkatKesulitan,
)

# --- code lists the registry sources need but the questionnaire does not have -------------------


class JenisKendaraan(CodeList):
    """Vehicle category in the motor-vehicle registry (dtsen's own grouping, not an official code)."""

    SEPEDA_MOTOR = 1, "Sepeda motor", "Motorcycle"
    MOBIL_PENUMPANG = 2, "Mobil penumpang", "Passenger car"
    MOBIL_BARANG = 3, "Mobil barang/truk", "Goods vehicle/truck"
    BUS = 4, "Bus", "Bus"
    LAINNYA = 5, "Lainnya", "Other"


class JenisHak(CodeList):
    """Land right registered by ATR/BPN (UUPA rights; dtsen's numbering, not a BPN code)."""

    HAK_MILIK = 1, "Hak Milik (HM)", "Freehold"
    HAK_GUNA_BANGUNAN = 2, "Hak Guna Bangunan (HGB)", "Right to build"
    HAK_GUNA_USAHA = 3, "Hak Guna Usaha (HGU)", "Right to cultivate"
    HAK_PAKAI = 4, "Hak Pakai (HP)", "Right of use"
    HAK_PENGELOLAAN = 5, "Hak Pengelolaan (HPL)", "Right of management"
    HAK_WAKAF = 6, "Tanah wakaf", "Endowment (wakaf)"
    HAK_MILIK_SARUSUN = 7, "Hak Milik atas Satuan Rumah Susun", "Apartment unit ownership"
    LAINNYA = 8, "Lainnya", "Other"


class StatusPadan(CodeList):
    """How a person's record stands against Dukcapil: the matching statuses kept per person."""

    PADAN = 1, "Padan", "Matched Dukcapil"
    TIDAK_PADAN = 2, "Tidak padan", "Does not match Dukcapil"
    NIK_TIDAK_VALID = 3, "NIK tidak valid", "Invalid NIK"
    NIK_GANDA = 4, "NIK ganda", "Duplicate NIK"
    MENINGGAL = 5, "Meninggal", "Deceased"
    PINDAH = 6, "Pindah", "Moved"
    TIDAK_DITEMUKAN = 7, "Tidak ditemukan", "Not found"
    ANGGOTA_BARU = 8, "Anggota baru", "New member"


MODEL_CODE_LISTS: dict[str, type[CodeList]] = {
    cls.__name__: cls for cls in (JenisKendaraan, JenisHak, StatusPadan)
}


def all_code_lists() -> dict[str, type[CodeList]]:
    """Every code list a canonical field may use: the Regsosek/SIAK lists, then the model's own."""
    return {**CODE_LISTS, **MODEL_CODE_LISTS}


# --- sources --------------------------------------------------------------------------------------


class Sumber(StrEnum):
    """Names written in the ``sumber`` provenance column."""

    SIAK = "siak"
    REGSOSEK = "regsosek"
    DTKS = "dtks"
    P3KE = "p3ke"
    PLN = "pln"
    BPJS_KESEHATAN = "bpjs_kesehatan"
    RANMOR = "ranmor"
    ATR_BPN = "atr_bpn"
    SUSENAS = "susenas"

    @property
    def description(self) -> str:
        return _SOURCE_DESCRIPTIONS[self]


_SOURCE_DESCRIPTIONS: dict[Sumber, str] = {
    Sumber.SIAK: "Dukcapil population administration (SIAK): the authority for NIK, KK, identity, "
    "vital status and address",
    Sumber.REGSOSEK: "BPS Registrasi Sosial Ekonomi 2022 (REGSOSEK22-K questionnaire)",
    Sumber.DTKS: "Kemensos Data Terpadu Kesejahteraan Sosial (SIKS-NG)",
    Sumber.P3KE: "Data Pensasaran Percepatan Penghapusan Kemiskinan Ekstrem (from BKKBN family data)",
    Sumber.PLN: "PLN electricity customer records",
    Sumber.BPJS_KESEHATAN: "BPJS Kesehatan JKN membership",
    Sumber.RANMOR: "Motor-vehicle registration (registrasi kendaraan bermotor, Korlantas/Samsat)",
    Sumber.ATR_BPN: "ATR/BPN land parcels and registered rights",
    Sumber.SUSENAS: "BPS Susenas household consumption survey (welfare-model training data)",
}


# --- fields and entities --------------------------------------------------------------------------


class DType(StrEnum):
    """Logical column types; each maps to one Arrow and one Polars type (see :func:`arrow_type`)."""

    STRING = "string"
    CODE = "code"  # a CodeList value, stored as the smallest int that holds the list
    BOOL = "bool"
    INT8 = "int8"
    INT16 = "int16"
    INT32 = "int32"
    INT64 = "int64"
    FLOAT64 = "float64"
    MONEY = "money"  # whole rupiah
    DATE = "date"
    STRING_LIST = "list<string>"


_ARROW: dict[DType, pa.DataType] = {
    DType.STRING: pa.string(),
    DType.BOOL: pa.bool_(),
    DType.INT8: pa.int8(),
    DType.INT16: pa.int16(),
    DType.INT32: pa.int32(),
    DType.INT64: pa.int64(),
    DType.FLOAT64: pa.float64(),
    DType.MONEY: pa.int64(),
    DType.DATE: pa.date32(),
    DType.STRING_LIST: pa.list_(pa.string()),
}

_POLARS: dict[DType, pl.DataType] = {
    DType.STRING: pl.String(),
    DType.BOOL: pl.Boolean(),
    DType.INT8: pl.Int8(),
    DType.INT16: pl.Int16(),
    DType.INT32: pl.Int32(),
    DType.INT64: pl.Int64(),
    DType.FLOAT64: pl.Float64(),
    DType.MONEY: pl.Int64(),
    DType.DATE: pl.Date(),
    DType.STRING_LIST: pl.List(pl.String()),
}


def _code_storage(code_list: type[CodeList]) -> DType:
    codes = code_list.codes()
    return DType.INT8 if min(codes) >= -128 and max(codes) <= 127 else DType.INT16


@dataclass(frozen=True)
class Field:
    """One column: its meaning, type, and the rules every source must meet to fill it.

    ``required`` makes the column non-nullable; ``pii`` marks data that identifies a person (masked in
    logs and extracts); ``sensitive`` marks UU 27/2022 specific data (health, personal finance) that
    needs a stated purpose; ``regsosek`` is the questionnaire item the column answers;
    ``derived_from`` names the column ingestion computes it from.
    """

    name: str
    dtype: DType
    description: str
    code_list: type[CodeList] | None = None
    required: bool = False
    pii: bool = False
    sensitive: bool = False
    unit: str | None = None
    regsosek: str | None = None
    derived_from: str | None = None
    group: str = ""

    def __post_init__(self) -> None:
        if not self.name.isidentifier() or self.name != self.name.lower():
            raise ValueError(f"field name must be snake_case: {self.name!r}")
        if (self.dtype is DType.CODE) != (self.code_list is not None):
            raise ValueError(f"{self.name}: a code_list goes with dtype CODE and only with it")
        if not self.description.strip():
            raise ValueError(f"{self.name}: a field needs a description")

    @property
    def storage(self) -> DType:
        """The physical logical type (``CODE`` resolved to INT8/INT16)."""
        return _code_storage(self.code_list) if self.code_list is not None else self.dtype

    @property
    def arrow_type(self) -> pa.DataType:
        return _ARROW[self.storage]

    @property
    def polars_type(self) -> pl.DataType:
        return _POLARS[self.storage]

    def arrow_field(self) -> pa.Field:
        """The Arrow field, with description/code list/unit as metadata so Parquet files explain
        themselves."""
        meta = {"description": self.description}
        if self.code_list is not None:
            meta["code_list"] = self.code_list.__name__
        if self.unit:
            meta["unit"] = self.unit
        if self.pii:
            meta["pii"] = "true"
        if self.sensitive:
            meta["sensitive"] = "true"
        return pa.field(self.name, self.arrow_type, nullable=not self.required, metadata=meta)


@dataclass(frozen=True)
class Entity:
    """A canonical table: what one row is, its key, the sources that feed it and its columns in order."""

    name: str
    description: str
    key: tuple[str, ...]
    fields: tuple[Field, ...]
    sources: tuple[Sumber, ...] = ()
    _index: dict[str, Field] = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        index: dict[str, Field] = {}
        for f in self.fields:
            if f.name in index:
                raise ValueError(f"{self.name}: duplicate field {f.name!r}")
            index[f.name] = f
        missing = [k for k in self.key if k not in index]
        if missing:
            raise ValueError(f"{self.name}: key field(s) {missing} not among the fields")
        for f in self.fields:
            if f.derived_from is not None and f.derived_from not in index:
                raise ValueError(f"{self.name}.{f.name}: derived from unknown field {f.derived_from!r}")
        object.__setattr__(self, "_index", index)

    @property
    def field_names(self) -> list[str]:
        return [f.name for f in self.fields]

    def field(self, name: str) -> Field:
        return self._index[name]

    def __contains__(self, name: object) -> bool:
        return name in self._index

    def groups(self) -> list[tuple[str, list[Field]]]:
        """Fields by group, in first-appearance order (the doc renders one table per group)."""
        out: dict[str, list[Field]] = {}
        for f in self.fields:
            out.setdefault(f.group, []).append(f)
        return list(out.items())

    def arrow_schema(self) -> pa.Schema:
        return pa.schema(
            [f.arrow_field() for f in self.fields],
            metadata={"entity": self.name, "key": ",".join(self.key)},
        )

    def polars_schema(self) -> pl.Schema:
        return pl.Schema([(f.name, f.polars_type) for f in self.fields])


@dataclass(frozen=True)
class Relationship:
    """``child.child_field`` refers to ``parent.parent_field`` (one parent row, many child rows).

    ``partial`` means only some child rows point at this parent (survey members in ``anggota``).
    """

    parent: str
    parent_field: str
    child: str
    child_field: str
    label: str
    partial: bool = False


# --- field builders -------------------------------------------------------------------------------


def _code(name: str, code_list: type[CodeList], description: str, **kw: Any) -> Field:
    return Field(name, DType.CODE, description, code_list=code_list, **kw)


def _bool(name: str, description: str, **kw: Any) -> Field:
    return Field(name, DType.BOOL, description, **kw)


def _group(title: str, *fields: Field) -> tuple[Field, ...]:
    return tuple(replace(f, group=title) for f in fields)


# --- shared field groups --------------------------------------------------------------------------

G_LOCATION = "Location"
G_HOUSING = "Housing (Blok III)"
G_ASSETS = "Assets (Blok V)"
G_PROGRAMS = "Programs received (Blok V, 501)"
G_PROVENANCE = "Provenance"

LOCATION: tuple[Field, ...] = _group(
    G_LOCATION,
    Field(
        "kode_desa",
        DType.STRING,
        "Desa/kelurahan code of the address: 10 digits without dots (PP KK CC DDDD, Kepmendagri "
        "300.2.2-2138/2025; serial 1xxx kelurahan, 2xxx desa). The finest area every source places a row in.",
        regsosek="Blok I",
    ),
    Field(
        "kode_kec",
        DType.STRING,
        "Kecamatan code: the first 6 digits of kode_desa.",
        derived_from="kode_desa",
    ),
    Field(
        "kode_kab",
        DType.STRING,
        "Kabupaten/kota code: the first 4 digits of kode_desa (digits 3-4 from 71 are a kota). "
        "The unit of regional desil and of per-district welfare models.",
        derived_from="kode_desa",
    ),
    Field(
        "kode_prov", DType.STRING, "Province code: the first 2 digits of kode_desa.", derived_from="kode_desa"
    ),
    _bool(
        "perkotaan",
        "True when BPS classifies the village as urban. Poverty lines and welfare models differ by "
        "urban/rural.",
        derived_from="kode_desa",
    ),
    Field(
        "alamat",
        DType.STRING,
        "Street address as written by the source (free text, without RT/RW).",
        pii=True,
        regsosek="Blok I",
    ),
    Field(
        "rt",
        DType.STRING,
        "RT (rukun tetangga) number as text, zero-padded to 3 digits; with rw it names the SLS "
        "(smallest local unit) Regsosek enumerates by.",
        pii=True,
        regsosek="Blok I",
    ),
    Field(
        "rw",
        DType.STRING,
        "RW (rukun warga) number as text, zero-padded to 3 digits.",
        pii=True,
        regsosek="Blok I",
    ),
)

_LOCATION_BY_NAME = {f.name: f for f in LOCATION}


def _location(*names: str, **changes: Any) -> tuple[Field, ...]:
    """Location columns for an administrative source: no Regsosek item, optionally other changes."""
    return tuple(replace(_LOCATION_BY_NAME[n], regsosek=None, **changes.get(n, {})) for n in names)


HOUSING: tuple[Field, ...] = _group(
    G_HOUSING,
    _code("status_bangunan", StatusBangunan, "Tenure of the dwelling the family lives in.", regsosek="301a"),
    _code(
        "bukti_kepemilikan",
        BuktiKepemilikan,
        "Proof of ownership of the dwelling; asked only when status_bangunan is owned.",
        regsosek="301b",
    ),
    Field("luas_lantai", DType.INT32, "Floor area of the dwelling.", unit="m²", regsosek="302"),
    _code("lantai", Lantai, "Main floor material (widest area).", regsosek="303"),
    _code("dinding", Dinding, "Main wall material (widest area).", regsosek="304"),
    _code("atap", Atap, "Main roof material (widest area).", regsosek="305"),
    _code("sumber_air_minum", SumberAirMinum, "Main source of drinking water.", regsosek="306a"),
    _code("sumber_penerangan", SumberPenerangan, "Main source of lighting.", regsosek="307a"),
    _code(
        "daya_listrik",
        DayaListrik,
        "Installed power of the family's (first) PLN meter; only when sumber_penerangan is PLN with "
        "meter. Every meter the family holds is in pelanggan_pln.",
        regsosek="307b",
    ),
    _code("bahan_bakar_masak", BahanBakarMasak, "Main cooking fuel.", regsosek="308"),
    _code("fasilitas_bab", FasilitasBAB, "Toilet facility and who uses it.", regsosek="309a"),
    _code(
        "jenis_kloset", JenisKloset, "Type of closet; only when a toilet facility is used.", regsosek="309b"
    ),
    _code("pembuangan_tinja", PembuanganTinja, "Final disposal of faeces.", regsosek="310"),
)

ASSETS: tuple[Field, ...] = _group(
    G_ASSETS,
    *(
        _bool(
            m.field, f"The family owns: {m.label_en[0].lower()}{m.label_en[1:]}.", regsosek=f"502{m.letter}"
        )
        for m in Aset
    ),
    _bool("lahan_lain", "The family owns land other than the plot the dwelling stands on.", regsosek="503"),
    _bool("rumah_lain", "The family owns a house other than the one it lives in.", regsosek="503"),
    *(
        Field(
            m.field,
            DType.INT16,
            f"Livestock the family owns: {m.label_en.lower()} (0 when none).",
            unit="head",
            regsosek="504",
        )
        for m in Ternak
    ),
    _bool("internet", "The family has access to the internet.", regsosek="505"),
    _bool(
        "rekening_bank",
        "A member of the family has a bank account or an e-wallet.",
        sensitive=True,
        regsosek="506",
    ),
)

PROGRAMS: tuple[Field, ...] = _group(
    G_PROGRAMS,
    *(_bool(m.field, f"Received in the last year: {m.label_en}.", regsosek="501") for m in ProgramBansos),
)

PROVENANCE: tuple[Field, ...] = _group(
    G_PROVENANCE,
    Field(
        "sumber",
        DType.STRING,
        "Source system the row came from (a name listed under Sources). Survivorship in linkage ranks "
        "sources by it.",
        required=True,
    ),
    Field(
        "batch_id",
        DType.STRING,
        "Ingestion batch that produced the row; ties it to the batch manifest (file checksums, run log).",
        required=True,
    ),
    Field(
        "berkas",
        DType.STRING,
        "File the row was read from, relative to the batch; null for API deliveries.",
    ),
    Field(
        "baris",
        DType.INT64,
        "Line number in berkas (header = line 1) or row number for spreadsheets, so a finding can be "
        "shown in the original file.",
    ),
    Field(
        "tanggal_data",
        DType.DATE,
        "Date the source observed the facts in this row (interview date, registry extract date or "
        "survey reference date); the row's observation date, used by linkage to prefer recent values.",
        required=True,
    ),
    Field(
        "flags",
        DType.STRING_LIST,
        "Warning codes (Finding.code) raised while conforming the row, e.g. nik_sex_mismatch; an empty "
        "list when there are none.",
        required=True,
    ),
)

_NO_KK = Field(
    "no_kk",
    DType.STRING,
    "Kartu Keluarga number: 16 digits kept as text (a numeric column loses digits), validated with "
    "dtsen.reference.nik.check_kk; null when missing or invalid (see flags).",
    pii=True,
    regsosek="Blok I",
)

_NIK = Field(
    "nik",
    DType.STRING,
    "NIK: the 16-digit national identity number kept as text, validated with "
    "dtsen.reference.nik.check_nik; null when missing or invalid (see flags).",
    pii=True,
    regsosek="Blok IV",
)


def _nik_of(name: str, whose: str) -> Field:
    return Field(
        name,
        DType.STRING,
        f"NIK of {whose} (16 digits as text), the key that attaches this fact to a person in anggota; "
        "null when the source has none or it is invalid.",
        pii=True,
    )


def _name_of(name: str, whose: str) -> Field:
    return Field(
        name,
        DType.STRING,
        f"Name of {whose} as the source holds it; links the record when the NIK is missing or invalid.",
        pii=True,
    )


# --- entities -------------------------------------------------------------------------------------

KELUARGA = Entity(
    name="keluarga",
    description="One family (the Kartu Keluarga unit) as one source describes it at one date: location, "
    "housing (Blok III), assets (Blok V) and programs received. Linkage merges the rows of all sources "
    "into one golden family.",
    key=("id_keluarga",),
    sources=(Sumber.REGSOSEK, Sumber.DTKS, Sumber.P3KE, Sumber.SIAK),
    fields=(
        *_group(
            "Identity",
            Field(
                "id_keluarga",
                DType.STRING,
                "Record key of the family row, assigned at ingestion and stable across batches of the "
                "same source (source name + source family id); anggota rows point to it.",
                required=True,
            ),
            Field(
                "id_keluarga_sumber",
                DType.STRING,
                "Family identifier in the source as received (Regsosek family number, DTKS or P3KE id), "
                "to trace a row back.",
            ),
            _NO_KK,
            _code(
                "status_kk",
                StatusKK,
                "How the family relates to its Kartu Keluarga (as on the card, parent or split family).",
                regsosek="Blok I",
            ),
            Field(
                "jumlah_anggota",
                DType.INT16,
                "Number of members the source reports for the family (it can differ from the anggota "
                "rows received; the difference is a finding).",
                unit="persons",
                regsosek="Blok I",
            ),
            Field(
                "desil_kesejahteraan",
                DType.INT8,
                "Welfare decile (1 = poorest) the source itself assigned, e.g. P3KE's district PMT rank. "
                "Kept for comparison; not the DTSEN rank, which the welfare model computes.",
            ),
        ),
        *LOCATION,
        *HOUSING,
        *ASSETS,
        *PROGRAMS,
        *PROVENANCE,
    ),
)

ANGGOTA = Entity(
    name="anggota",
    description="One person (a member of a family) as one source describes them at one date: identity, "
    "demography, education, work, business, functional difficulty, health and programs (Blok IV), "
    "vital status from Dukcapil. Linkage merges the rows of all sources into one golden person.",
    key=("id_anggota",),
    sources=(Sumber.SIAK, Sumber.REGSOSEK, Sumber.DTKS, Sumber.P3KE, Sumber.SUSENAS),
    fields=(
        *_group(
            "Identity",
            Field(
                "id_anggota",
                DType.STRING,
                "Record key of the person row, assigned at ingestion and stable across batches of the "
                "same source.",
                required=True,
            ),
            Field(
                "id_anggota_sumber",
                DType.STRING,
                "Person identifier in the source as received (e.g. DTKS member id), to trace a row back.",
            ),
            _NIK,
            _NO_KK,
            Field(
                "id_keluarga",
                DType.STRING,
                "Record key of the family row this person belongs to in the same source (keluarga, or "
                "survei_rumah_tangga for Susenas members).",
                required=True,
            ),
            Field(
                "nama",
                DType.STRING,
                "Full name standardized for matching: upper case, single spaces, punctuation and titles "
                "removed (titles go to gelar).",
                pii=True,
                regsosek="Blok IV",
            ),
            Field(
                "nama_asli",
                DType.STRING,
                "Full name exactly as received, kept for display and audit.",
                pii=True,
            ),
            Field(
                "gelar",
                DType.STRING_LIST,
                "Academic, religious and professional titles split off the name (e.g. H., HJ., DR., S.PD.).",
                pii=True,
            ),
            Field(
                "nama_ibu_kandung",
                DType.STRING,
                "Mother's name as on Dukcapil records; a strong linkage field when the NIK is missing or "
                "shared.",
                pii=True,
            ),
            Field("tempat_lahir", DType.STRING, "Place of birth as written by the source.", pii=True),
            Field("tanggal_lahir", DType.DATE, "Date of birth.", pii=True, regsosek="Blok IV"),
            Field(
                "umur",
                DType.INT16,
                "Age in completed years as the source reports it; used when tanggal_lahir is missing.",
                unit="years",
                regsosek="Blok IV",
            ),
            _code("jenis_kelamin", JenisKelamin, "Sex.", regsosek="Blok IV"),
            _code("agama", Agama, "Religion as on the family card."),
            _code("status_kawin", StatusKawin, "Marital status.", regsosek="Blok IV"),
            _code(
                "hubungan",
                HubunganKeluarga,
                "Relationship to the head of family (Regsosek's 8 codes).",
                regsosek="Blok IV",
            ),
            _code(
                "hubungan_siak",
                HubunganSIAK,
                "Relationship to the head as on the Kartu Keluarga (SHDK, Dukcapil's 11 codes); from SIAK.",
            ),
            Field(
                "desil_kesejahteraan",
                DType.INT8,
                "Welfare decile (1 = poorest) the source assigned to the member's family, e.g. P3KE's "
                "district PMT rank, when the source ships one row per member. Kept for comparison, not the "
                "DTSEN rank.",
            ),
        ),
        *_group(
            "Presence and vital status",
            _code(
                "keberadaan",
                Keberadaan,
                "Whether the member still lives with the family at the visit (died, moved, new, not found).",
                regsosek="402",
            ),
            _bool(
                "status_hidup",
                "True when Dukcapil records the person alive, False when a death is registered; from SIAK.",
            ),
            Field("tanggal_meninggal", DType.DATE, "Registered date of death; from SIAK."),
            _code(
                "status_padan",
                StatusPadan,
                "Standing of the record against Dukcapil (padan, tidak padan, NIK ganda, ...), as the "
                "source reports it or linkage decides it.",
            ),
            _bool("hamil", "The member is pregnant.", sensitive=True, regsosek="Blok IV"),
        ),
        *_group(
            "Education",
            _code(
                "partisipasi_sekolah",
                PartisipasiSekolah,
                "School participation: never, in school, no longer.",
                regsosek="Blok IV",
            ),
            _code(
                "jenjang_pendidikan",
                JenjangPendidikan,
                "Level of the school attended now or last (Paket A to S3).",
                regsosek="Blok IV",
            ),
            Field(
                "kelas_tertinggi",
                DType.INT8,
                "Highest grade reached at that level (1-8).",
                regsosek="Blok IV",
            ),
            _code("ijazah_tertinggi", IjazahTertinggi, "Highest diploma held.", regsosek="Blok IV"),
            _code(
                "pendidikan_siak",
                PendidikanSIAK,
                "Highest education as on the family card (PDDK_AKH); from SIAK.",
            ),
        ),
        *_group(
            "Work",
            _bool("bekerja", "Worked during the last week.", regsosek="Blok IV"),
            Field(
                "jam_kerja",
                DType.INT16,
                "Hours worked during the last week, all jobs.",
                unit="hours/week",
                regsosek="Blok IV",
            ),
            _code("lapangan_usaha", LapanganUsaha, "Sector of the main job.", regsosek="Blok IV"),
            _code(
                "status_pekerjaan",
                StatusPekerjaan,
                "Status in the main job (5 = civil servant/military/police/SOE/official, an exclusion flag "
                "for programs).",
                regsosek="Blok IV",
            ),
            _code(
                "pekerjaan_siak",
                PekerjaanSIAK,
                "Occupation as on the family card (JENIS_PKRJN); from SIAK.",
            ),
            _bool("punya_npwp", "Has a taxpayer number (NPWP).", regsosek="Blok IV"),
        ),
        *_group(
            "Business",
            _bool("punya_usaha", "Owns a business.", regsosek="Blok IV"),
            Field(
                "usaha_pekerja_dibayar",
                DType.INT16,
                "Paid workers in the member's business.",
                unit="persons",
                regsosek="Blok IV",
            ),
            Field(
                "usaha_pekerja_tidak_dibayar",
                DType.INT16,
                "Unpaid workers in the member's business.",
                unit="persons",
                regsosek="Blok IV",
            ),
            _bool("usaha_izin", "The business has a licence or registration.", regsosek="Blok IV"),
            _code(
                "omzet_usaha",
                OmzetUsaha,
                "Monthly turnover band of the business.",
                sensitive=True,
                regsosek="Blok IV",
            ),
        ),
        *_group(
            "Functional difficulty and health",
            *(
                _code(
                    m.field,
                    TingkatKesulitan,
                    f"Difficulty in {m.label_en.lower()} ({m.label}), Washington Group scale.",
                    sensitive=True,
                    regsosek="Blok IV",
                )
                for m in FungsiTubuh
            ),
            _code(
                "penyakit_kronis",
                PenyakitKronis,
                "Main chronic disease (0 = none); catastrophic ones keep PBI-JK.",
                sensitive=True,
                regsosek="Blok IV",
            ),
        ),
        *_group(
            "Insurance and programs",
            _code(
                "jaminan_kesehatan",
                JaminanKesehatan,
                "Health insurance as self-reported.",
                regsosek="Blok IV",
            ),
            _bool("ikut_prakerja", "Took part in the Kartu Prakerja program.", regsosek="Blok IV"),
            _bool("ikut_kur", "Received a people's business credit (KUR).", regsosek="Blok IV"),
            _bool("terima_pip", "Received school aid (PIP/KIP).", regsosek="Blok IV"),
            _bool(
                "jaminan_ketenagakerjaan",
                "Covered by employment insurance (BPJS Ketenagakerjaan or similar).",
                regsosek="Blok IV",
            ),
        ),
        *LOCATION,
        *PROVENANCE,
    ),
)

PELANGGAN_PLN = Entity(
    name="pelanggan_pln",
    description="One PLN electricity connection (meter) as PLN reports it: installed power, tariff and "
    "consumption, attached to a person by the owner's NIK. A family may hold several.",
    key=("id_pelanggan",),
    sources=(Sumber.PLN,),
    fields=(
        *_group(
            "Connection",
            Field(
                "id_pelanggan",
                DType.STRING,
                "PLN customer id (IDPEL) as text.",
                required=True,
                pii=True,
            ),
            _nik_of("nik_pemilik", "the customer the connection is registered to"),
            _name_of("nama_pelanggan", "the registered customer"),
            Field("daya_va", DType.INT32, "Installed power of the connection.", unit="VA"),
            Field(
                "tarif",
                DType.STRING,
                "Tariff class as PLN writes it (e.g. R1 450 VA and R1 900 VA are subsidised, R1M 900 VA is "
                "not).",
            ),
            Field(
                "rata_pemakaian_kwh",
                DType.FLOAT64,
                "Average monthly consumption over the months the source covers.",
                unit="kWh/month",
            ),
            Field(
                "rata_tagihan",
                DType.MONEY,
                "Average monthly bill over the months the source covers.",
                unit="rupiah/month",
            ),
        ),
        *_location("kode_desa", "kode_kec", "kode_kab", "kode_prov", "alamat"),
        *PROVENANCE,
    ),
)

KEPESERTAAN_BPJS = Entity(
    name="kepesertaan_bpjs",
    description="One JKN (BPJS Kesehatan) membership: segment and whether it is active, keyed by the "
    "member's NIK. PBI-JK deactivation and reactivation show here.",
    key=("nomor_kartu",),
    sources=(Sumber.BPJS_KESEHATAN,),
    fields=(
        *_group(
            "Membership",
            Field("nomor_kartu", DType.STRING, "JKN card number as text.", required=True, pii=True),
            replace(
                _nik_of("nik", "the member"),
                description="NIK of the member (16 digits as text); null when the source has none or it "
                "is invalid.",
            ),
            replace(_NO_KK, regsosek=None),
            _name_of("nama", "the member"),
            Field(
                "tanggal_lahir",
                DType.DATE,
                "Member's birth date as BPJS holds it; links the membership when the NIK is missing.",
                pii=True,
            ),
            _code("jenis_kelamin", JenisKelamin, "Member's sex as BPJS holds it."),
            _code("segmen", SegmenBPJS, "Membership segment (PBI APBN/APBD, PPU, PBPU, BP)."),
            Field("kelas_rawat", DType.INT8, "Inpatient care class, 1-3 (PBI members are class 3)."),
            _bool("status_aktif", "True when the membership is active at tanggal_data."),
        ),
        *_location("kode_desa", "kode_kec", "kode_kab", "kode_prov"),
        *PROVENANCE,
    ),
)

KENDARAAN = Entity(
    name="kendaraan",
    description="One registered motor vehicle, attached to a person by the owner's NIK. Car ownership is "
    "an exclusion signal programs must treat as a reviewable reason, never a silent cliff.",
    key=("nomor_registrasi",),
    sources=(Sumber.RANMOR,),
    fields=(
        *_group(
            "Vehicle",
            Field(
                "nomor_registrasi",
                DType.STRING,
                "The registry's own id of the registration; unique, unlike plates, which are reissued.",
                required=True,
            ),
            Field(
                "nomor_polisi",
                DType.STRING,
                "Registration plate, upper case without spaces (e.g. B1234XYZ).",
                required=True,
                pii=True,
            ),
            _code("jenis", JenisKendaraan, "Vehicle category."),
            Field("merek", DType.STRING, "Make as registered (HONDA, TOYOTA ...)."),
            Field("tahun_pembuatan", DType.INT16, "Year of manufacture.", unit="year"),
            Field("isi_silinder", DType.INT32, "Engine displacement.", unit="cc"),
            _nik_of("nik_pemilik", "the registered owner"),
            _name_of("nama_pemilik", "the registered owner"),
        ),
        *_location("kode_desa", "kode_kec", "kode_kab", "kode_prov", "alamat"),
        *PROVENANCE,
    ),
)

BIDANG_TANAH = Entity(
    name="bidang_tanah",
    description="One registered land parcel and the right held on it, attached to a person by the holder's "
    "NIK.",
    key=("nib",),
    sources=(Sumber.ATR_BPN,),
    fields=(
        *_group(
            "Parcel",
            Field(
                "nib",
                DType.STRING,
                "Nomor Identifikasi Bidang: the parcel id ATR/BPN assigns, as text.",
                required=True,
            ),
            Field("luas_m2", DType.FLOAT64, "Parcel area.", unit="m²"),
            _code("jenis_hak", JenisHak, "Registered right on the parcel."),
            Field(
                "penggunaan", DType.STRING, "Land use as registered (PERUMAHAN, PERTANIAN ...), upper case."
            ),
            _nik_of("nik_pemegang", "the right holder"),
            _name_of("nama_pemegang", "the right holder"),
        ),
        *_location(
            "kode_desa",
            "kode_kec",
            "kode_kab",
            "kode_prov",
            kode_desa={
                "description": "Desa/kelurahan code of the parcel's location, 10 digits without dots."
            },
        ),
        *PROVENANCE,
    ),
)

SURVEI_RUMAH_TANGGA = Entity(
    name="survei_rumah_tangga",
    description="One Susenas sample household: survey weight, per-capita expenditure (the welfare model's "
    "target) and the same housing, asset and program columns as keluarga, so a model trained here scores "
    "keluarga directly. Its members are anggota rows with sumber = susenas.",
    key=("id_keluarga",),
    sources=(Sumber.SUSENAS,),
    fields=(
        *_group(
            "Survey",
            Field(
                "id_keluarga",
                DType.STRING,
                "Record key of the survey household; the anggota rows of its members carry it in "
                "id_keluarga, so member features are built the same way as for keluarga.",
                required=True,
            ),
            Field(
                "id_rumah_tangga_sumber",
                DType.STRING,
                "Household identifier in the survey file as received.",
            ),
            Field(
                "penimbang",
                DType.FLOAT64,
                "Survey weight: the number of households this sample household represents.",
                unit="households",
                required=True,
            ),
            Field(
                "jumlah_art",
                DType.INT16,
                "Household size (members of the household).",
                unit="persons",
                required=True,
            ),
            Field(
                "pengeluaran_per_kapita",
                DType.MONEY,
                "Household consumption expenditure per member per month: the target of the welfare model "
                "and the measure compared with the poverty line.",
                unit="rupiah/capita/month",
                required=True,
            ),
        ),
        *_location(
            "kode_prov",
            "kode_kab",
            "kode_kec",
            "kode_desa",
            "perkotaan",
            kode_prov={"required": True, "derived_from": None, "description": "Province code, 2 digits."},
            kode_kab={
                "required": True,
                "derived_from": None,
                "description": "Kabupaten/kota code, 4 digits: the finest area public Susenas files "
                "give, and the unit of per-district welfare models.",
            },
            kode_kec={"derived_from": None, "description": "Kecamatan code, 6 digits, when the file has it."},
            kode_desa={
                "description": "Desa/kelurahan code, 10 digits without dots, when the file has it.",
            },
            perkotaan={
                "required": True,
                "derived_from": None,
                "description": "True when the household lives in an urban area (survey classification).",
            },
        ),
        *HOUSING,
        *ASSETS,
        *PROGRAMS,
        *PROVENANCE,
    ),
)

ENTITIES: dict[str, Entity] = {
    e.name: e
    for e in (
        KELUARGA,
        ANGGOTA,
        PELANGGAN_PLN,
        KEPESERTAAN_BPJS,
        KENDARAAN,
        BIDANG_TANAH,
        SURVEI_RUMAH_TANGGA,
    )
}

RELATIONSHIPS: tuple[Relationship, ...] = (
    Relationship("keluarga", "id_keluarga", "anggota", "id_keluarga", "has members"),
    Relationship(
        "survei_rumah_tangga", "id_keluarga", "anggota", "id_keluarga", "has survey members", partial=True
    ),
    Relationship("anggota", "nik", "pelanggan_pln", "nik_pemilik", "holds PLN connection"),
    Relationship("anggota", "nik", "kepesertaan_bpjs", "nik", "is JKN member"),
    Relationship("anggota", "nik", "kendaraan", "nik_pemilik", "owns vehicle"),
    Relationship("anggota", "nik", "bidang_tanah", "nik_pemegang", "holds land"),
)


def entity(name: str) -> Entity:
    """The entity called ``name``; a KeyError names the known entities."""
    try:
        return ENTITIES[name]
    except KeyError:
        raise KeyError(f"unknown entity {name!r}; known: {', '.join(ENTITIES)}") from None


@cache
def arrow_schema(entity_name: str) -> pa.Schema:
    """The Arrow/Parquet schema of an entity (non-nullable = required; field docs in metadata)."""
    return entity(entity_name).arrow_schema()


def polars_schema(entity_name: str) -> pl.Schema:
    """The Polars schema of an entity (a fresh, mutable copy each call); equals ``pl.from_arrow`` of
    :func:`arrow_schema`'s empty table."""
    return entity(entity_name).polars_schema()


def code_list_usage() -> dict[str, list[str]]:
    """Code list name -> ``entity.field`` columns that use it (for docs and ``dtsen reference codes``)."""
    usage: dict[str, list[str]] = {name: [] for name in all_code_lists()}
    for ent in ENTITIES.values():
        for f in ent.fields:
            if f.code_list is not None:
                usage.setdefault(f.code_list.__name__, []).append(f"{ent.name}.{f.name}")
    return usage
