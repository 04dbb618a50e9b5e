"""Per-family explanations in plain Bahasa Indonesia: the few factors that moved the estimate most.

Contributions come from the model itself, in log points of per-capita consumption: for the challenger
the path attribution of each tree (the change in node value along the family's path, credited to the
split's feature; exact TreeSHAP via ``pred_contrib`` costs ~1 ms per family on 2 cores, ~5 minutes for
300k families, so it serves global importance and single-family appeals), for the OLS baseline the
coefficient x deviation from the mean. They are summed per explanation group (the floor indicators
together are "lantai"), the largest by size are kept, and each becomes one sentence naming the family's
actual answer, e.g.
"Lantai rumah tanah menurunkan perkiraan pengeluaran sekitar 8%."

A group nobody observed for the family (every feature of it missing, scored at the survey mean) is never
chosen as a reason, since its sentence would state a value nobody saw; instead one closing item
(``data_tidak_tersedia``) names what was missing.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa

from dtsen.reference.codes import (
    Atap,
    BahanBakarMasak,
    Dinding,
    FasilitasBAB,
    IjazahTertinggi,
    Lantai,
    StatusPekerjaan,
    SumberAirMinum,
    SumberPenerangan,
)
from dtsen.reference.regions import kabupaten, provinces
from dtsen.welfare.features import ASSETS, FEATURES

TOP = 3
MISSING_FACTOR = "data_tidak_tersedia"
GROUPS: tuple[str, ...] = tuple(dict.fromkeys(f.group for f in FEATURES))
_GROUP_OF = np.array([GROUPS.index(f.group) for f in FEATURES])
EXPLANATION_TYPE = pa.list_(
    pa.struct([("faktor", pa.string()), ("kontribusi", pa.float64()), ("kalimat", pa.string())])
)
ASSET_LABEL = {
    "aset_tabung_gas": "tabung gas 5,5 kg atau lebih",
    "aset_lemari_es": "lemari es",
    "aset_ac": "AC",
    "aset_pemanas_air": "pemanas air",
    "aset_telepon_rumah": "telepon rumah",
    "aset_tv_layar_datar": "TV layar datar 30 inci atau lebih",
    "aset_emas_perhiasan": "emas/perhiasan 10 gram atau lebih",
    "aset_komputer": "komputer/laptop/tablet",
    "aset_sepeda_motor": "sepeda motor",
    "aset_sepeda": "sepeda",
    "aset_mobil": "mobil",
    "aset_perahu": "perahu",
    "aset_perahu_motor": "perahu motor",
    "aset_smartphone": "smartphone",
    "lahan_lain": "lahan selain tempat tinggal",
    "rumah_lain": "rumah lain",
    "internet": "akses internet",
    "rekening_bank": "rekening bank atau dompet digital",
}


# What a group is about, for "tidak ada data ..." (groups not listed here read as their name).
GROUP_LABEL = {
    "luas_lantai": "luas lantai",
    "lantai": "jenis lantai",
    "dinding": "dinding",
    "atap": "atap",
    "air_minum": "sumber air minum",
    "penerangan": "penerangan",
    "bahan_bakar": "bahan bakar memasak",
    "sanitasi": "fasilitas buang air besar",
    "status_rumah": "status kepemilikan rumah",
    "jumlah_aset": "jumlah aset",
    "ternak": "ternak",
    "wilayah": "wilayah",
    "kepala_pendidikan": "pendidikan kepala keluarga",
    "pendidikan_keluarga": "pendidikan anggota keluarga",
}


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:] if text[1:2].islower() else text


def _labels(code_list: type) -> dict[int, str]:
    return {int(m): _lower_first(m.label) for m in code_list}


def _coded(column: str, code_list: type, prefix: str) -> pl.Expr:
    labels = {str(k): v for k, v in _labels(code_list).items()}
    value = pl.col(column).cast(pl.Int64).cast(pl.String).replace_strict(labels, default="tidak diketahui")
    return pl.concat_str(pl.lit(prefix + " "), value)


def _yes_no(condition: pl.Expr, yes: str, no: str) -> pl.Expr:
    return pl.when(condition.fill_null(False)).then(pl.lit(yes)).otherwise(pl.lit(no))


def _int(column: str) -> pl.Expr:
    return pl.col(column).fill_nan(None).round(0).cast(pl.Int64).cast(pl.String).fill_null("?")


def descriptions() -> dict[str, pl.Expr]:
    """One expression per explanation group: the family's answer in words (over the feature table)."""
    prov_names = {str(int(r["kode"])): r["nama"] for r in provinces().iter_rows(named=True)}
    kab_names = {str(int(r["kode"])): r["nama"] for r in kabupaten().iter_rows(named=True)}
    head_job = pl.col("kepala_status_pekerjaan").cast(pl.Int64).cast(pl.String)
    out: dict[str, pl.Expr] = {
        "ukuran_keluarga": pl.format("Jumlah anggota keluarga {} orang", _int("jumlah_anggota")),
        "komposisi": pl.format(
            "Keluarga dengan {} anak dan {} lansia", _int("jumlah_anak"), _int("jumlah_lansia")
        ),
        "pekerja": pl.when(pl.col("jumlah_pekerja") > 0)
        .then(pl.format("{} anggota keluarga bekerja", _int("jumlah_pekerja")))
        .otherwise(pl.lit("Tidak ada anggota keluarga yang bekerja")),
        "kepala_demografi": pl.format(
            "Kepala keluarga {} berumur {} tahun",
            _yes_no(pl.col("kepala_perempuan") > 0, "perempuan", "laki-laki"),
            _int("kepala_umur"),
        ),
        "kepala_pendidikan": _coded("kepala_ijazah", IjazahTertinggi, "Ijazah tertinggi kepala keluarga:"),
        "kepala_pekerjaan": pl.when(pl.col("kepala_bekerja") > 0)
        .then(
            pl.concat_str(
                pl.lit("Kepala keluarga bekerja sebagai "),
                head_job.replace_strict(
                    {str(k): v for k, v in _labels(StatusPekerjaan).items()}, default="pekerja"
                ),
                pl.when(pl.col("kepala_pertanian") > 0).then(pl.lit(" di pertanian")).otherwise(pl.lit("")),
            )
        )
        .otherwise(pl.lit("Kepala keluarga tidak bekerja")),
        "pendidikan_keluarga": _coded("ijazah_maks", IjazahTertinggi, "Ijazah tertinggi dalam keluarga:"),
        "pekerjaan_keluarga": pl.when(pl.col("ada_pns") > 0)
        .then(pl.lit("Ada anggota keluarga PNS/TNI/Polri/pegawai BUMN"))
        .when(pl.col("ada_usaha_berkaryawan") > 0)
        .then(pl.lit("Ada anggota keluarga dengan usaha yang mempekerjakan pegawai dibayar"))
        .when((pl.col("ada_npwp") > 0) | (pl.col("ada_jkn_pemberi_kerja") > 0))
        .then(pl.lit("Ada anggota keluarga dengan pekerjaan formal (NPWP atau JKN dari pemberi kerja)"))
        .otherwise(pl.lit("Tidak ada anggota keluarga dengan pekerjaan formal")),
        "disabilitas": _yes_no(
            pl.col("ada_disabilitas") > 0,
            "Ada anggota keluarga dengan disabilitas",
            "Tidak ada anggota keluarga dengan disabilitas",
        ),
        "kesehatan": _yes_no(
            pl.col("ada_penyakit_kronis") > 0,
            "Ada anggota keluarga dengan penyakit kronis",
            "Tidak ada anggota keluarga dengan penyakit kronis",
        ),
        "status_rumah": pl.when(pl.col("rumah_milik") > 0)
        .then(pl.lit("Rumah milik sendiri"))
        .when(pl.col("rumah_sewa") > 0)
        .then(pl.lit("Rumah kontrak/sewa"))
        .otherwise(pl.lit("Rumah bukan milik sendiri")),
        "luas_lantai": pl.format(
            "Luas lantai sekitar {} m² per orang",
            # m² per person is often exactly x.5 (83 m² for 2 persons): round the exp(log) to 6 digits
            # first, or the last bit of the engine's log decides 41 or 42
            pl.col("log_luas_lantai_per_kapita").exp().round(6).round(0).cast(pl.Int64),
        ),
        "lantai": _coded("lantai", Lantai, "Lantai rumah"),
        "dinding": _coded("dinding", Dinding, "Dinding rumah"),
        "atap": _coded("atap", Atap, "Atap rumah"),
        "air_minum": _coded("sumber_air_minum", SumberAirMinum, "Sumber air minum"),
        "penerangan": pl.when(pl.col("sumber_penerangan").is_null() & (pl.col("daya_listrik_va") > 0))
        .then(pl.format("Listrik PLN {} VA", pl.col("daya_listrik_va").cast(pl.Int64)))
        .otherwise(
            pl.concat_str(
                _coded("sumber_penerangan", SumberPenerangan, "Penerangan"),
                pl.when(pl.col("daya_listrik_va") > 0)
                .then(pl.format(" ({} VA)", pl.col("daya_listrik_va").cast(pl.Int64)))
                .otherwise(pl.lit("")),
            )
        ),
        "bahan_bakar": _coded("bahan_bakar_masak", BahanBakarMasak, "Bahan bakar memasak"),
        "sanitasi": _coded("fasilitas_bab", FasilitasBAB, "Fasilitas buang air besar:"),
        "jumlah_aset": pl.format("Memiliki {} dari {} jenis aset", _int("jumlah_aset"), pl.lit(len(ASSETS))),
        "ternak": pl.when(pl.col("jumlah_ternak") > 0)
        .then(pl.format("Memiliki {} ekor ternak", _int("jumlah_ternak")))
        .otherwise(pl.lit("Tidak memiliki ternak")),
        # The area effect is estimated at every level the survey has (province, kab/kota and deeper),
        # so the sentence names the kab/kota as well as the province where the family's kab is known.
        "wilayah": pl.format(
            "Tinggal di daerah {} di {}",
            _yes_no(pl.col("perkotaan") > 0, "perkotaan", "perdesaan"),
            pl.concat_str(
                pl.col("kab").cast(pl.Int64).cast(pl.String).replace_strict(kab_names, default=None),
                pl.lit(", "),
                ignore_nulls=False,
            ).fill_null("")
            + pl.col("prov")
            .cast(pl.Int64)
            .cast(pl.String)
            .replace_strict(prov_names, default="provinsi tidak diketahui"),
        ),
    }
    for asset in ASSETS:
        out[asset] = _yes_no(
            pl.col(asset) > 0, f"Memiliki {ASSET_LABEL[asset]}", f"Tidak memiliki {ASSET_LABEL[asset]}"
        )
    missing = set(GROUPS) - set(out)
    if missing:  # a feature group without words would explain nothing
        raise RuntimeError(f"explanation groups without a description: {sorted(missing)}")
    return out


_DESCRIPTIONS: dict[str, pl.Expr] | None = None
_DESCRIPTION_COLUMNS: dict[str, list[str]] = {}


def group_contributions(estimator: Any, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(prediction, contribution per explanation group) for rows ``x``.

    The tree model gives path attributions straight per group (as cheap as predicting); the OLS
    baseline's per-feature contributions are summed per group. Either way the groups plus the base value
    add up to the prediction.
    """
    if hasattr(estimator, "path_contributions"):
        out = estimator.path_contributions(x, _GROUP_OF, len(GROUPS))
        return out.sum(axis=1), out[:, :-1]
    per_feature = estimator.contributions(x)
    grouped = np.zeros((len(x), len(GROUPS)))
    np.add.at(grouped.T, _GROUP_OF, per_feature[:, :-1].T)
    return per_feature.sum(axis=1), grouped


def unobserved_groups(missing: np.ndarray) -> np.ndarray:
    """Rows x groups: True where every feature of the group is missing for that row."""
    out = np.ones((len(missing), len(GROUPS)), dtype=bool)
    for g in range(len(GROUPS)):
        out[:, g] = missing[:, np.equal(_GROUP_OF, g)].all(axis=1)
    return out


def contradicts(grouped: np.ndarray, features: pl.DataFrame) -> np.ndarray:
    """Rows x groups: True where an asset's contribution has the opposite sign of owning it."""
    out = np.zeros(grouped.shape, dtype=bool)
    for asset in ASSETS:
        if asset not in features.columns:
            continue
        g = GROUPS.index(asset)
        owns = features[asset].cast(pl.Float64).fill_nan(None).fill_null(0.0).to_numpy() > 0
        out[:, g] = np.where(owns, grouped[:, g] < 0, grouped[:, g] > 0)
    return out


def _group_label(name: str) -> str:
    if name in ASSET_LABEL:
        return ASSET_LABEL[name]
    return GROUP_LABEL.get(name, name.replace("_", " "))


def _missing_sentences(unobserved: np.ndarray) -> pl.DataFrame:
    """(_row, kalimat): one sentence naming the unobserved groups for each row that has any."""
    labels = [_group_label(g) for g in GROUPS]
    rows = np.flatnonzero(unobserved.any(axis=1))
    # one sentence per distinct pattern of unobserved groups (a handful), not one per row
    patterns, inverse = np.unique(unobserved[rows], axis=0, return_inverse=True)
    sentences = []
    for pattern in patterns:
        names = [labels[g] for g in np.flatnonzero(pattern)]
        listed = ", ".join(names[:6]) + (f" dan {len(names) - 6} hal lain" if len(names) > 6 else "")
        sentences.append(f"Tidak ada data {listed}; untuk perkiraan dipakai nilai rata-rata survei.")
    kalimat = pl.Series("kalimat", sentences, dtype=pl.String)[np.asarray(inverse).ravel()]
    return pl.DataFrame({"_row": rows, "kalimat": kalimat}, schema={"_row": pl.Int64, "kalimat": pl.String})


def explain(
    grouped: np.ndarray,
    features: pl.DataFrame,
    top: int = TOP,
    unobserved: np.ndarray | None = None,
    instead: pl.DataFrame | None = None,
) -> pa.Array:
    """``penjelasan`` for each row: the ``top`` observed groups with the largest |contribution|, largest
    first, then (where some were not observed) one :data:`MISSING_FACTOR` item naming them.

    ``grouped`` is the contribution of every explanation group (:func:`group_contributions`);
    ``features`` is the feature table of the same rows (model features and the raw answers);
    ``unobserved`` marks groups nobody observed (:func:`unobserved_groups`); ``instead`` (``_row``,
    ``faktor``, ``kalimat``) gives rows explained by one fixed item instead (families not ranked).
    """
    global _DESCRIPTIONS, _DESCRIPTION_COLUMNS
    if _DESCRIPTIONS is None:
        _DESCRIPTIONS = descriptions()
        _DESCRIPTION_COLUMNS = {k: sorted(set(e.meta.root_names())) for k, e in _DESCRIPTIONS.items()}
    n = len(features)
    k = min(top, len(GROUPS))
    if unobserved is None:
        unobserved = np.zeros(grouped.shape, dtype=bool)
    # an unobserved group can never be chosen (-1 sorts below every |contribution|), nor an asset whose
    # contribution contradicts the answer (owning it lowering the estimate): both models are constrained
    # so that it cannot happen in the model, but path attribution of a constrained tree can still credit a
    # split with a tiny opposite step, and "memiliki perahu menurunkan..." is no reason a family can accept
    size = np.where(unobserved | contradicts(grouped, features), -1.0, np.abs(grouped))
    part = np.argpartition(-size, k - 1, axis=1)[:, :k]
    vals = np.take_along_axis(grouped, part, axis=1)
    chosen_size = np.take_along_axis(size, part, axis=1)
    order = np.argsort(-chosen_size, axis=1, kind="stable")
    part = np.take_along_axis(part, order, axis=1)
    vals = np.take_along_axis(vals, order, axis=1)
    keep = np.take_along_axis(chosen_size, order, axis=1).ravel() >= 0
    long = pl.DataFrame(
        {
            "_row": np.repeat(np.arange(n), k)[keep],
            "_group": part.ravel()[keep],
            "kontribusi": vals.ravel()[keep],
        }
    )
    pieces = []
    for g, name in enumerate(GROUPS):
        rows = long.filter(pl.col("_group") == g)
        if rows.height == 0:
            continue
        # gather only the columns the sentence reads, not the whole feature table
        needed = features.select(_DESCRIPTION_COLUMNS[name]) if _DESCRIPTION_COLUMNS[name] else features
        text = needed[rows["_row"].to_numpy()].select(_DESCRIPTIONS[name].alias("_teks"))
        pieces.append(rows.with_columns(text["_teks"], faktor=pl.lit(name)))
    long = pl.concat(pieces).sort("_row", pl.col("kontribusi").abs(), descending=[False, True])
    # k log points change the estimate by exp(k) - 1: +0.1 is +11%, -0.1 is -10% (not -11%)
    pct = ((pl.col("kontribusi").exp() - 1).abs() * 100).round(0).cast(pl.Int64)
    kalimat = pl.format(
        "{} {} perkiraan pengeluaran {}.",
        pl.col("_teks"),
        pl.when(pl.col("kontribusi") >= 0).then(pl.lit("menaikkan")).otherwise(pl.lit("menurunkan")),
        pl.when(pct >= 1).then(pl.format("sekitar {}%", pct)).otherwise(pl.lit("sedikit")),
    )
    long = long.with_columns(kalimat.alias("kalimat")).select("_row", "faktor", "kontribusi", "kalimat")
    missing = _missing_sentences(unobserved).select(
        "_row", faktor=pl.lit(MISSING_FACTOR), kontribusi=pl.lit(0.0), kalimat=pl.col("kalimat")
    )
    parts = [long.with_columns(pl.col("_row").cast(pl.Int64)), missing]
    if instead is not None and instead.height:
        replaced = instead["_row"].cast(pl.Int64).implode()
        parts = [part.filter(~pl.col("_row").is_in(replaced)) for part in parts]
        parts.append(
            instead.select(
                pl.col("_row").cast(pl.Int64),
                pl.col("faktor"),
                kontribusi=pl.lit(0.0),
                kalimat=pl.col("kalimat"),
            )
        )
    rows = pl.DataFrame({"_row": np.arange(n)}, schema={"_row": pl.Int64})
    nested = (
        pl.concat(parts)
        .group_by("_row", maintain_order=True)
        .agg(pl.struct("faktor", "kontribusi", "kalimat").alias("penjelasan"))
    )
    nested = rows.join(nested, on="_row", how="left", maintain_order="left")
    return nested["penjelasan"].to_arrow().cast(EXPLANATION_TYPE)
