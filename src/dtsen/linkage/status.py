"""Status of each golden person against Dukcapil, with the evidence that decided it (bukti_status).

Precedence (first that holds): meninggal (register death, or a field visit recording a death); NIK ganda
(the register holds the NIK more than once); for people not in the register: NIK tidak valid (every
record's NIK invalid), else tidak padan; tidak ditemukan (the latest field visit did not find them);
pindah (moved: the latest field visit says so, or its kecamatan differs from the register's); anggota
baru (in the register, in no field source, but in a family a field source saw); padan.

The published ``nik`` is a NIK this person holds, never one the register assigns to somebody else: a
person the register does not know whose reported NIK is a register NIK (linkage refused to merge them:
a sibling's or parent's NIK borrowed on a DTKS form) or a NIK two such persons both claim publishes no
NIK; the reported value stays in ``nik_dilaporkan`` as evidence and ``bukti_status`` says why
(``nik_milik_orang_lain``, ``nik_diklaim_ganda``). A beneficiary list then never names a person by
another's NIK, and an event on that NIK reaches its owner.
"""

from __future__ import annotations

import polars as pl

from dtsen.canonical.model import StatusPadan
from dtsen.reference.codes import Keberadaan


def person_status(
    persons: pl.DataFrame, evidence: pl.DataFrame, ganda_niks: pl.Series, spine_source: str
) -> pl.DataFrame:
    """``persons`` with status_padan and bukti_status.

    ``evidence`` per id_dtsen: ada_lapangan (a field record), sumber_lapangan, keberadaan_lapangan and
    kec_lapangan (of the latest field record), nik_ada (any record with a valid NIK), nik_tidak_valid
    (any record with an invalid one), sumber_nik (sources of those records).
    """
    p = persons.join(evidence, on="id_dtsen", how="left").with_columns(
        pl.col("ada_lapangan").fill_null(False)
    )
    family_seen = (
        p.filter(pl.col("no_kk").is_not_null())
        .group_by("no_kk")
        .agg(keluarga_terlihat=pl.col("ada_lapangan").any())
    )
    p = p.join(family_seen, on="no_kk", how="left")
    dead = (pl.col("status_hidup") == False) | pl.col("tanggal_meninggal").is_not_null()  # noqa: E712
    field_dead = pl.col("keberadaan_lapangan") == int(Keberadaan.MENINGGAL)
    moved_code = pl.col("keberadaan_lapangan").is_in(
        [int(Keberadaan.PINDAH_DALAM_NEGERI), int(Keberadaan.PINDAH_LUAR_NEGERI)]
    )
    moved_kec = (
        pl.col("di_dukcapil")
        & pl.col("kec_lapangan").is_not_null()
        & (pl.col("kec_lapangan") != pl.col("kode_kec"))
    )
    src = pl.col("sumber_lapangan").fill_null("")
    rules: list[tuple[pl.Expr, StatusPadan, pl.Expr]] = [
        (pl.col("di_dukcapil") & dead, StatusPadan.MENINGGAL, pl.lit(f"{spine_source}:status_hidup")),
        (field_dead, StatusPadan.MENINGGAL, pl.format("{}:keberadaan=meninggal", src)),
        (
            pl.col("nik").is_in(ganda_niks.implode()) & pl.col("di_dukcapil"),
            StatusPadan.NIK_GANDA,
            pl.lit(f"{spine_source}:nik_ganda"),
        ),
        (
            ~pl.col("di_dukcapil")
            & ~pl.col("nik_ada").fill_null(False)
            & pl.col("nik_tidak_valid").fill_null(False),
            StatusPadan.NIK_TIDAK_VALID,
            pl.format("{}:nik_tidak_valid", pl.col("sumber_nik").fill_null("")),
        ),
        (
            ~pl.col("di_dukcapil"),
            StatusPadan.TIDAK_PADAN,
            pl.format("{}:tidak_ada_di_{}", pl.col("sumber_nik").fill_null(src), pl.lit(spine_source)),
        ),
        (
            pl.col("keberadaan_lapangan") == int(Keberadaan.TIDAK_DITEMUKAN),
            StatusPadan.TIDAK_DITEMUKAN,
            pl.format("{}:keberadaan=tidak_ditemukan", src),
        ),
        (moved_code, StatusPadan.PINDAH, pl.format("{}:keberadaan=pindah", src)),
        (moved_kec, StatusPadan.PINDAH, pl.format("{}:kode_kec_beda_{}", src, pl.lit(spine_source))),
        (
            pl.col("keberadaan_lapangan") == int(Keberadaan.ANGGOTA_BARU),
            StatusPadan.ANGGOTA_BARU,
            pl.format("{}:keberadaan=anggota_baru", src),
        ),
        (
            ~pl.col("ada_lapangan") & pl.col("keluarga_terlihat").fill_null(False),
            StatusPadan.ANGGOTA_BARU,
            pl.lit(f"{spine_source}:anggota_baru_di_kk"),
        ),
    ]
    status = pl.lit(int(StatusPadan.PADAN), pl.Int8)
    bukti = pl.lit(f"{spine_source}:nik+nama+tanggal_lahir")
    for cond, code, why in reversed(rules):
        status = pl.when(cond.fill_null(False)).then(pl.lit(int(code), pl.Int8)).otherwise(status)
        bukti = pl.when(cond.fill_null(False)).then(why).otherwise(bukti)
    p = p.with_columns(status_padan=status, bukti_status=bukti)
    p = _withhold_foreign_nik(p)
    return p.drop(
        "ada_lapangan",
        "sumber_lapangan",
        "keberadaan_lapangan",
        "kec_lapangan",
        "nik_ada",
        "nik_tidak_valid",
        "sumber_nik",
        "keluarga_terlihat",
    )


NIK_MILIK_ORANG_LAIN = "nik_milik_orang_lain"  # the register gives this NIK to another id_dtsen
NIK_DIKLAIM_GANDA = "nik_diklaim_ganda"  # two persons outside the register report the same NIK


def _withhold_foreign_nik(p: pl.DataFrame) -> pl.DataFrame:
    """``nik`` null and ``nik_dilaporkan`` set where the NIK is not this person's to publish (module doc).
    A NIK the register holds twice (NIK ganda) stays: that is the register's own finding, flagged by
    status."""
    outside = ~pl.col("di_dukcapil").fill_null(False)
    register = p.filter(~outside & pl.col("nik").is_not_null()).select("nik").unique()
    claims = p.filter(outside & pl.col("nik").is_not_null()).group_by("nik").agg(_n=pl.len())
    p = p.join(claims, on="nik", how="left")
    reason = (
        pl.when(outside & pl.col("nik").is_in(register["nik"].implode()))
        .then(pl.lit(NIK_MILIK_ORANG_LAIN))
        .when(outside & (pl.col("_n") > 1))
        .then(pl.lit(NIK_DIKLAIM_GANDA))
    )
    p = p.with_columns(_alasan=reason)
    held = pl.col("_alasan").is_not_null()
    return p.with_columns(
        nik=pl.when(held).then(None).otherwise(pl.col("nik")),
        nik_dilaporkan=pl.when(held).then(pl.col("nik")).otherwise(None).cast(pl.String),
        bukti_status=pl.when(held)
        .then(pl.format("{};{}", "bukti_status", "_alasan"))
        .otherwise("bukti_status"),
    ).drop("_n", "_alasan")
