"""Each agency's export, derived from the truth of a chunk: its own columns, IDs, code spellings,
time of observation and dirt, plus a truth table linking every row back to the true person and family.

Column names follow what each source is known to ship (SIAK's ``NAMA_LGKP``, Regsosek's item numbers,
DTKS's ``IDDTKS`` ...). Nothing true that the agency could not know is written to a source file.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import polars as pl

from dtsen.reference import codes as rc
from dtsen.synth import names as nm
from dtsen.synth.dirt import NikDirt, date_dirt, identifier_dirt, kk_rates, nik_rates
from dtsen.synth.geography import hash_uniform, slice_codes, slice_int
from dtsen.synth.params import DirtParams, SynthParams
from dtsen.synth.population import Population

SOURCES: dict[str, str] = {
    "siak_penduduk": "siak",
    "regsosek_keluarga": "regsosek",
    "regsosek_anggota": "regsosek",
    "dtks": "dtks",
    "p3ke": "p3ke",
    "pln_pelanggan": "pln",
    "bpjs_peserta": "bpjs_kesehatan",
    "kendaraan": "ranmor",
    "bidang_tanah": "atr_bpn",
    "susenas_rumah_tangga": "susenas",
    "susenas_anggota": "susenas",
}

# The column(s) that identify a row of each export; truth's record_id joins them with "-".
RECORD_ID: dict[str, tuple[str, ...]] = {
    "siak_penduduk": ("NIK",),
    "regsosek_keluarga": ("ID_KELUARGA",),
    "regsosek_anggota": ("ID_KELUARGA", "NO_ART"),
    "dtks": ("IDDTKS",),
    "p3ke": ("ID_INDIVIDU",),
    "pln_pelanggan": ("IDPEL",),
    "bpjs_peserta": ("NOKA",),
    "kendaraan": ("NO_REGISTRASI",),
    "bidang_tanah": ("NIB",),
    "susenas_rumah_tangga": ("ID_RUTA",),
    "susenas_anggota": ("ID_RUTA", "ART_NO"),
}

PLATE_PREFIX = {
    "11": "BL", "12": "BK", "13": "BA", "14": "BM", "15": "BH", "16": "BG", "17": "BD", "18": "BE", "19": "BN",
    "21": "BP", "31": "B", "32": "D", "33": "H", "34": "AB", "35": "L", "36": "A", "51": "DK", "52": "DR",
    "53": "DH", "61": "KB", "62": "KH", "63": "DA", "64": "KT", "65": "KU", "71": "DB", "72": "DN", "73": "DD",
    "74": "DT", "75": "DM", "76": "DC", "81": "DE", "82": "DG", "91": "PA", "92": "PB", "93": "PS", "94": "PT",
    "95": "PG", "96": "PY",
}  # fmt: skip


@dataclass
class SourceTables:
    """One chunk's rows for one output file and its truth links."""

    rows: pl.DataFrame
    truth: pl.DataFrame


def labels(enum: type[rc.CodeList], values: np.ndarray, upper: bool = True) -> np.ndarray:
    table = {int(m): (m.label.upper() if upper else m.label) for m in enum}
    lookup = np.array([table.get(i, "") for i in range(max(table) + 1)], dtype=object)
    return lookup[np.clip(values.astype(np.int64), 0, len(lookup) - 1)]


def fmt_dates(dates: np.ndarray, fmt: str) -> np.ndarray:
    return pl.Series("d", dates).dt.strftime(fmt).fill_null("").to_numpy().astype(object)


def mixed_dates(rng: np.random.Generator, dates: np.ndarray, formats: list[tuple[str, float]]) -> np.ndarray:
    """The same column in several formats, as exports merged from several districts look."""
    choice = rng.choice(len(formats), size=len(dates), p=[w for _, w in formats])
    out = np.empty(len(dates), dtype=object)
    for i, (fmt, _) in enumerate(formats):
        m = choice == i
        out[m] = fmt_dates(dates[m], fmt)
    return out


def dotted(codes: np.ndarray) -> np.ndarray:
    return (
        pl.Series("k", codes)
        .str.replace(r"^(\d{2})(\d{2})(\d{2})(\d{4})$", "$1.$2.$3.$4")
        .to_numpy()
        .astype(object)
    )


def region_codes(rng: np.random.Generator, codes: np.ndarray, rate_dotted: float) -> np.ndarray:
    return np.where(rng.random(len(codes)) < rate_dotted, dotted(codes), codes).astype(object)


def member_keys(household_ids: np.ndarray, seq: np.ndarray) -> np.ndarray:
    """``<household id>-<member number>``: the record id of a member row (see RECORD_ID)."""
    return (
        pl.DataFrame({"u": household_ids, "s": seq})
        .select(pl.col("u") + pl.lit("-") + pl.col("s").cast(pl.Utf8))
        .to_series()
        .to_numpy()
        .astype(object)
    )


def make_ids(prefix: str, chunk: int, n: int, width: int = 8) -> np.ndarray:
    return (
        pl.DataFrame({"s": np.arange(1, n + 1, dtype=np.int64)})
        .select(pl.lit(f"{prefix}{chunk:03d}") + pl.col("s").cast(pl.Utf8).str.zfill(width))
        .to_series()
        .to_numpy()
        .astype(object)
    )


@dataclass
class Dirtied:
    nama: np.ndarray
    name_kind: np.ndarray
    nik: np.ndarray
    nik_kind: np.ndarray
    tanggal: np.ndarray
    date_kind: np.ndarray


def dirty_person_fields(
    rng: np.random.Generator,
    nama: np.ndarray,
    nik: np.ndarray,
    tanggal: np.ndarray,
    sex: np.ndarray,
    age: np.ndarray,
    education: np.ndarray,
    p: DirtParams,
    ganda_pool: np.ndarray | None = None,
) -> Dirtied:
    """Names, NIKs and birth dates as a field-collected source holds them; kinds say what changed.

    Name kind bits: 1 spelling variant, 2 title, 4 typo.
    """
    name_kind = np.zeros(len(nama), dtype=np.int8)
    out = nama
    if p.name_variant:
        out, changed = nm.name_variants(rng, out, p.name_variant)
        name_kind |= changed.astype(np.int8) * 1
    if p.name_title:
        out, changed = nm.add_titles(rng, out, sex, age, education, p.name_title)
        name_kind |= changed.astype(np.int8) * 2
    if p.name_typo:
        out, changed = nm.typos(rng, out, p.name_typo)
        name_kind |= changed.astype(np.int8) * 4
    nik_out, nik_kind = identifier_dirt(rng, nik, nik_rates(p), ganda_pool)
    date_out, date_kind = date_dirt(rng, tanggal, p)
    return Dirtied(out, name_kind, nik_out, nik_kind, date_out, date_kind)


def _truth(
    source: str, record_id: np.ndarray, person_id: np.ndarray, family_id: np.ndarray, **extra: np.ndarray
) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "source": np.full(len(record_id), source, dtype=object),
            "record_id": record_id,
            "person_id": person_id,
            "family_id": family_id,
            **extra,
        }
    )


class ChunkSources:
    """Derives every source export of one chunk from its :class:`Population`."""

    def __init__(self, pop: Population, params: SynthParams, chunk: int, seed: int) -> None:
        self.pop = pop
        self.f = pop.families
        self.p = pop.persons
        self.params = params
        self.chunk = chunk
        self.seed = seed
        fam_ids = self.f["family_id"]
        self.fam_index = np.searchsorted(fam_ids, self.p["family_id"])  # person -> row of its family
        self.siak_nik = self.p["nik"]

    def rng(self, salt: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, self.chunk, 2000 + salt])

    def builders(self) -> dict[str, Callable[[], SourceTables]]:
        return {
            "siak_penduduk": self.siak,
            "regsosek_keluarga": lambda: self.regsosek()[0],
            "regsosek_anggota": lambda: self.regsosek()[1],
            "dtks": self.dtks,
            "p3ke": self.p3ke,
            "pln_pelanggan": self.pln,
            "bpjs_peserta": self.bpjs,
            "kendaraan": self.kendaraan,
            "bidang_tanah": self.bidang_tanah,
            "susenas_rumah_tangga": lambda: self.susenas()[0],
            "susenas_anggota": lambda: self.susenas()[1],
        }

    # ------------------------------------------------------------------------------------------
    def siak(self) -> SourceTables:
        """The population register: everyone living, the dead it knows of flagged; clean but not perfect."""
        rng = self.rng(1)
        p, f, fi = self.p, self.f, self.fam_index
        death_known = ~p["alive"] & (
            hash_uniform(p["person_id"], self.seed + 5) < self.params.siak_death_reported
        )
        keep = np.ones(len(p["person_id"]), dtype=bool)
        idx = np.flatnonzero(keep)
        dirt = dirty_person_fields(
            rng, p["nama"][idx], p["nik"][idx], p["tanggal_lahir"][idx], p["jenis_kelamin"][idx], p["umur"][idx],
            p["ijazah_tertinggi"][idx], self.params.siak,
        )  # fmt: skip
        moved_here = f["move_reported"] | ~f["moved"]
        desa = np.where(moved_here, f["kode_desa"], f["kode_desa_2022"])[fi[idx]]
        alamat = np.where(moved_here, f["alamat"], f["alamat_2022"])[fi[idx]]
        rows = pl.DataFrame(
            {
                "NIK": dirt.nik,
                "NO_KK": f["no_kk"][fi[idx]],
                "NAMA_LGKP": dirt.nama,
                "TMPT_LHR": p["tempat_lahir"][idx],
                "TGL_LHR": fmt_dates(dirt.tanggal, "%d-%m-%Y"),
                "JENIS_KLMIN": labels(rc.JenisKelamin, p["jenis_kelamin"][idx]),
                "AGAMA": labels(rc.Agama, p["agama"][idx]),
                "STATUS_KAWIN": labels(rc.StatusKawin, p["status_kawin"][idx]),
                "STAT_HBKEL": labels(rc.HubunganSIAK, p["hubungan_siak"][idx]),
                "PDDK_AKH": labels(rc.PendidikanSIAK, p["pendidikan_siak"][idx]),
                "JENIS_PKRJN": labels(rc.PekerjaanSIAK, p["pekerjaan_siak"][idx]),
                "ALAMAT": alamat,
                "NO_RT": np.where(moved_here, f["rt"], f["rt_2022"])[fi[idx]],
                "NO_RW": np.where(moved_here, f["rw"], f["rw_2022"])[fi[idx]],
                "NO_PROP": slice_int(desa, 0, 2),
                "NO_KAB": slice_int(desa, 2, 2),
                "NO_KEC": slice_int(desa, 4, 2),
                "NO_KEL": slice_int(desa, 6, 4),
                "STAT_HIDUP": np.where(death_known[idx], "MATI", "HIDUP"),
                "TGL_MATI": np.where(
                    death_known[idx], fmt_dates(p["tanggal_meninggal"][idx], "%d-%m-%Y"), ""
                ),
            }
        )
        truth = _truth(
            "siak", dirt.nik.copy(), p["person_id"][idx], p["family_id"][idx],
            nik_dirt=dirt.nik_kind, name_dirt=dirt.name_kind, date_dirt=dirt.date_kind,
            alive=p["alive"][idx], death_recorded=death_known[idx],
        )  # fmt: skip
        return SourceTables(rows, truth.with_columns(pl.col("record_id").cast(pl.Utf8)))

    # ------------------------------------------------------------------------------------------
    def _family_block(self, fam_rows: np.ndarray, prefix: str = "R") -> dict[str, np.ndarray]:
        """Housing (Blok III) and assets (Blok V) of the given family rows, with Regsosek item names."""
        f = self.f
        out: dict[str, np.ndarray] = {
            "R301A": f["status_bangunan"][fam_rows],
            "R301B": f["bukti_kepemilikan"][fam_rows],
            "R302": f["luas_lantai"][fam_rows],
            "R303": f["lantai"][fam_rows],
            "R304": f["dinding"][fam_rows],
            "R305": f["atap"][fam_rows],
            "R306A": f["sumber_air_minum"][fam_rows],
            "R307A": f["sumber_penerangan"][fam_rows],
            "R307B": f["daya_listrik"][fam_rows],
            "R308": f["bahan_bakar_masak"][fam_rows],
            "R309A": f["fasilitas_bab"][fam_rows],
            "R309B": f["jenis_kloset"][fam_rows],
            "R310": f["pembuangan_tinja"][fam_rows],
        }
        for aset in rc.Aset:
            out[f"R502{aset.letter.upper()}"] = np.where(f[aset.field][fam_rows], 1, 2).astype(np.int8)
        out["R503A"] = np.where(f["lahan_lain"][fam_rows], 1, 2).astype(np.int8)
        out["R503B"] = np.where(f["rumah_lain"][fam_rows], 1, 2).astype(np.int8)
        for i, animal in enumerate(rc.Ternak):
            out[f"R504{'ABCDE'[i]}"] = f[animal.field][fam_rows]
        out["R505"] = np.where(f["internet"][fam_rows], 1, 2).astype(np.int8)
        out["R506"] = np.where(f["rekening_bank"][fam_rows], 1, 2).astype(np.int8)
        for i, prog in enumerate(rc.ProgramBansos):
            out[f"R501{'ABCDEFG'[i]}"] = np.where(f[prog.field][fam_rows], 1, 2).astype(np.int8)
        return out

    def _member_block(self, idx: np.ndarray) -> dict[str, np.ndarray]:
        p = self.p
        out = {
            "R405_HAMIL": np.where(p["jenis_kelamin"][idx] == 2, np.where(p["hamil"][idx], 1, 2), 0).astype(
                np.int8
            ),
            "R407_PARTISIPASI_SEKOLAH": p["partisipasi_sekolah"][idx],
            "R408_JENJANG": p["jenjang_pendidikan"][idx],
            "R409_KELAS": p["kelas_tertinggi"][idx],
            "R410_IJAZAH": p["ijazah_tertinggi"][idx],
            "R411_BEKERJA": np.where(p["bekerja"][idx], 1, 2).astype(np.int8),
            "R412_JAM_KERJA": p["jam_kerja"][idx],
            "R413_LAPANGAN_USAHA": p["lapangan_usaha"][idx],
            "R414_STATUS_PEKERJAAN": p["status_pekerjaan"][idx],
            "R415_NPWP": np.where(p["punya_npwp"][idx], 1, 2).astype(np.int8),
            "R416_PUNYA_USAHA": np.where(p["punya_usaha"][idx], 1, 2).astype(np.int8),
            "R417_PEKERJA_DIBAYAR": p["usaha_pekerja_dibayar"][idx],
            "R418_PEKERJA_TIDAK_DIBAYAR": p["usaha_pekerja_tidak_dibayar"][idx],
            "R419_OMZET": p["omzet_usaha"][idx],
        }
        for i, dom in enumerate(rc.FungsiTubuh):
            out[f"R420{'ABCDEFGHI'[i]}"] = p[dom.field][idx]
        out["R421_PENYAKIT_KRONIS"] = p["penyakit_kronis"][idx]
        out["R422_JAMKES"] = p["jaminan_kesehatan"][idx]
        return out

    def regsosek(self) -> tuple[SourceTables, SourceTables]:
        """Regsosek 2022: near-full coverage, full questionnaire, the family as it was in late 2022."""
        if hasattr(self, "_regsosek"):
            return self._regsosek
        rng = self.rng(2)
        p, f = self.p, self.f
        idx = np.flatnonzero(p["in_regsosek"])
        unit = p["regsosek_unit"][idx]
        order = np.lexsort((p["hubungan_2022"][idx], unit))
        idx, unit = idx[order], unit[order]
        units, first, inverse = np.unique(unit, return_index=True, return_inverse=True)
        # the family whose dwelling and card the unit used in 2022: split units live with their parents
        unit_family = np.where(units >= 0, units, -units - 1)
        unit_fam_row = np.searchsorted(f["family_id"], unit_family)
        nu = len(units)
        unit_ids = make_ids("RS22", self.chunk, nu, 7)
        counts = np.bincount(inverse, minlength=nu)
        kode_kk = np.zeros(nu, dtype=np.int8)
        np.maximum.at(kode_kk, inverse, p["status_kk_2022"][idx])
        desa = f["kode_desa_2022"][unit_fam_row]
        block = self._family_block(unit_fam_row)
        kk_out, kk_kind = identifier_dirt(rng, f["no_kk_2022"][unit_fam_row], kk_rates(self.params.regsosek))
        keluarga = pl.DataFrame(
            {
                "ID_KELUARGA": unit_ids,
                "KODE_PROV": slice_codes(desa, 0, 2),
                "KODE_KAB": slice_codes(desa, 2, 2),
                "KODE_KEC": slice_codes(desa, 4, 2),
                "KODE_DESA": slice_codes(desa, 6, 4),
                "ALAMAT": f["alamat_2022"][unit_fam_row],
                "RT": f["rt_2022"][unit_fam_row],
                "RW": f["rw_2022"][unit_fam_row],
                "NO_KK": kk_out,
                "KODE_KK": kode_kk,
                "JML_ART": counts.astype(np.int16),
                **block,
            }
        )
        k_truth = _truth(
            "regsosek", unit_ids, np.full(nu, -1, np.int64), unit_family, kode_kk=kode_kk, kk_dirt=kk_kind
        )
        seq = np.arange(len(idx)) - first[inverse] + 1
        dirt = dirty_person_fields(
            rng, p["nama"][idx], p["nik"][idx], p["tanggal_lahir"][idx], p["jenis_kelamin"][idx], p["umur"][idx],
            p["ijazah_tertinggi"][idx], self.params.regsosek,
        )  # fmt: skip
        age_2022 = np.floor(p["age_2022"][idx]).astype(np.int16)
        new_member = (p["age_2022"][idx] < 1.0).astype(bool)
        anggota = pl.DataFrame(
            {
                "ID_KELUARGA": unit_ids[inverse],
                "NO_ART": seq.astype(np.int16),
                "NAMA": dirt.nama,
                "NIK": dirt.nik,
                "R402_KEBERADAAN": np.where(new_member, 5, 1).astype(np.int8),
                "R403_HUBUNGAN": p["hubungan_2022"][idx],
                "R404_JENIS_KELAMIN": p["jenis_kelamin"][idx],
                "R404_TGL_LAHIR": fmt_dates(dirt.tanggal, "%Y-%m-%d"),
                "R404_UMUR": age_2022,
                "R406_STATUS_KAWIN": p["status_kawin"][idx],
                **self._member_block(idx),
            }
        )
        record = member_keys(unit_ids[inverse], seq)
        a_truth = _truth(
            "regsosek", record, p["person_id"][idx], p["family_id"][idx],
            nik_dirt=dirt.nik_kind, name_dirt=dirt.name_kind, date_dirt=dirt.date_kind, alive=p["alive"][idx],
        )  # fmt: skip
        self._regsosek = (SourceTables(keluarga, k_truth), SourceTables(anggota, a_truth))
        return self._regsosek

    # ------------------------------------------------------------------------------------------
    def dtks(self) -> SourceTables:
        """DTKS: the bottom ~40% plus leakage, as of its last verification, with the audited dirt."""
        rng = self.rng(3)
        p, f, fi = self.p, self.f, self.fam_index
        prm = self.params
        incl = np.asarray(prm.dtks_inclusion_by_decile)[f["desil"] - 1]
        fam_in = hash_uniform(f["family_id"], self.seed + 31) < incl
        existed = p["tanggal_lahir"] <= np.datetime64(prm.dtks_date)
        dead = ~p["alive"]
        living_rows = fam_in[fi] & existed & ~dead
        dead_cand = fam_in[fi] & dead
        n_dead_target = round(prm.dtks_dead_active * living_rows.sum() / max(1 - prm.dtks_dead_active, 1e-9))
        keep_dead = dead_cand & (rng.random(len(dead)) < min(1.0, n_dead_target / max(dead_cand.sum(), 1)))
        idx = np.flatnonzero(living_rows | keep_dead)
        # duplicates: a second registration of the same person (new IDDTKS, slightly different entry)
        n_dup = round(prm.dtks.duplicate_row * len(idx))
        dup_src = (
            np.sort(rng.choice(len(idx), size=n_dup, replace=False)) if n_dup else np.array([], np.int64)
        )
        all_idx = np.concatenate([idx, idx[dup_src]])
        is_dup = np.r_[np.zeros(len(idx), bool), np.ones(n_dup, bool)]
        ganda_pool = self.siak_nik[idx]
        dirt = dirty_person_fields(
            rng, p["nama"][all_idx], p["nik"][all_idx], p["tanggal_lahir"][all_idx], p["jenis_kelamin"][all_idx],
            p["umur"][all_idx], p["ijazah_tertinggi"][all_idx], prm.dtks, ganda_pool,
        )  # fmt: skip
        ids = make_ids("", self.chunk, len(all_idx), 9)
        fam_seq = np.unique(p["family_id"][all_idx], return_inverse=True)[1]
        moved_after = f["moved"] & (f["move_date"] > np.datetime64(prm.dtks_date))
        desa = np.where(moved_after, f["kode_desa_2022"], f["kode_desa"])[fi[all_idx]]
        no_kk = np.where(moved_after, f["no_kk_2022"], f["no_kk_now"])[fi[all_idx]]
        kk_out, kk_kind = identifier_dirt(rng, no_kk, kk_rates(prm.dtks))
        rows = pl.DataFrame(
            {
                "IDDTKS": pl.Series(ids).str.replace("^", "DT"),
                "ID_KELUARGA": make_ids("K", self.chunk, fam_seq.max() + 1 if len(fam_seq) else 0, 8)[fam_seq]
                if len(fam_seq)
                else np.array([], dtype=object),
                "NIK": dirt.nik,
                "NOKK": kk_out,
                "NAMA": dirt.nama,
                "TGL_LAHIR": mixed_dates(
                    rng, dirt.tanggal, [("%d/%m/%Y", 0.6), ("%Y-%m-%d", 0.25), ("%d-%m-%Y", 0.15)]
                ),
                "JNS_KEL": np.where(p["jenis_kelamin"][all_idx] == 1, "L", "P"),
                "HUB_KEL": labels(rc.HubunganKeluarga, p["hubungan"][all_idx]),
                "PEKERJAAN": labels(rc.PekerjaanSIAK, p["pekerjaan_siak"][all_idx]),
                "ALAMAT": np.where(moved_after, f["alamat_2022"], f["alamat"])[fi[all_idx]],
                "KODE_WILAYAH": region_codes(rng, desa, prm.dtks.region_dotted),
                "STATUS_DTKS": np.full(len(all_idx), "AKTIF", dtype=object),
            }
        )
        order = np.argsort(
            np.r_[np.arange(len(idx)), dup_src + 0.5], kind="stable"
        )  # duplicates next to originals
        rows = rows[order]
        truth = _truth(
            "dtks", rows["IDDTKS"].to_numpy().astype(object), p["person_id"][all_idx][order], p["family_id"][all_idx][order],
            nik_dirt=dirt.nik_kind[order], kk_dirt=kk_kind[order], name_dirt=dirt.name_kind[order],
            date_dirt=dirt.date_kind[order], duplicate=is_dup[order], alive=p["alive"][all_idx][order],
        )  # fmt: skip
        return SourceTables(rows, truth)

    # ------------------------------------------------------------------------------------------
    def p3ke(self) -> SourceTables:
        """P3KE: families in desil 1-4 of an old district PMT, as BKKBN knew them in 2022."""
        rng = self.rng(4)
        p, f = self.p, self.f
        prm = self.params
        noisy = f["log_consumption"] + prm.p3ke_pmt_noise_sd * rng.standard_normal(len(f["family_id"]))
        kab = slice_codes(f["kode_desa"], 0, 4)
        old_desil = np.zeros(len(noisy), dtype=np.int8)
        for k in np.unique(kab):
            m = np.flatnonzero(kab == k)
            order = np.argsort(noisy[m], kind="stable")
            cum = np.cumsum(f["size"][m][order]) / f["size"][m].sum()
            old_desil[m[order]] = np.minimum(10, 1 + np.floor(cum * 10 - 1e-9)).astype(np.int8)
        fam_in = old_desil <= 4
        existed = p["tanggal_lahir"] <= np.datetime64(prm.p3ke_date)
        # BKKBN keeps the KK family: members of a split unit stay with their card
        home = np.where(p["regsosek_unit"] >= 0, p["regsosek_unit"], -p["regsosek_unit"] - 1)
        home_row = np.searchsorted(f["family_id"], home)
        idx = np.flatnonzero(fam_in[home_row] & existed)
        hr = home_row[idx]
        dirt = dirty_person_fields(
            rng, p["nama"][idx], p["nik"][idx], p["tanggal_lahir"][idx], p["jenis_kelamin"][idx], p["umur"][idx],
            p["ijazah_tertinggi"][idx], prm.p3ke,
        )  # fmt: skip
        kk_out, kk_kind = identifier_dirt(rng, f["no_kk_2022"][hr], kk_rates(prm.p3ke))
        fam_seq = np.unique(hr, return_inverse=True)[1]
        fam_ids = make_ids("P3KE", self.chunk, int(fam_seq.max()) + 1 if len(fam_seq) else 0, 8)
        desa = f["kode_desa_2022"][hr]
        rows = pl.DataFrame(
            {
                "ID_KELUARGA_P3KE": fam_ids[fam_seq] if len(fam_seq) else np.array([], dtype=object),
                "ID_INDIVIDU": make_ids("I", self.chunk, len(idx), 9),
                "KODE_WILAYAH": region_codes(rng, desa, prm.p3ke.region_dotted),
                "NIK": dirt.nik,
                "NO_KK": kk_out,
                "NAMA": dirt.nama,
                "TANGGAL_LAHIR": fmt_dates(dirt.tanggal, "%d/%m/%Y"),
                "JENIS_KELAMIN": labels(rc.JenisKelamin, p["jenis_kelamin"][idx], upper=False),
                "HUBUNGAN_KELUARGA": labels(rc.HubunganKeluarga, p["hubungan_2022"][idx], upper=False),
                "DESIL_KESEJAHTERAAN": old_desil[hr],
                "PADAN_DUKCAPIL": np.where(dirt.nik_kind == NikDirt.CLEAN, "Ya", "Tidak"),
            }
        )
        truth = _truth(
            "p3ke", rows["ID_INDIVIDU"].to_numpy().astype(object), p["person_id"][idx], p["family_id"][idx],
            nik_dirt=dirt.nik_kind, kk_dirt=kk_kind, name_dirt=dirt.name_kind, date_dirt=dirt.date_kind,
            alive=p["alive"][idx],
        )  # fmt: skip
        return SourceTables(rows, truth)

    # ------------------------------------------------------------------------------------------
    def _adult_member(self, rng: np.random.Generator, fam_rows: np.ndarray, head_share: float) -> np.ndarray:
        """A person index per family row: the head with probability ``head_share``, else another adult."""
        p = self.p
        heads = np.flatnonzero(p["role"] == 0)
        head_of_row = np.full(len(self.f["family_id"]), -1, np.int64)
        head_of_row[self.fam_index[heads]] = heads
        pick = head_of_row[fam_rows]
        # second person of the family (spouse when there is one), when present and adult
        second = np.minimum(pick + 1, len(p["person_id"]) - 1)
        ok = (p["family_id"][second] == p["family_id"][pick]) & (p["umur"][second] >= 17) & p["alive"][second]
        use_second = ok & (rng.random(len(fam_rows)) > head_share)
        return np.where(use_second, second, pick)

    def _stranger(self, rng: np.random.Generator, n: int) -> np.ndarray:
        adults = np.flatnonzero((self.p["umur"] >= 25) & self.p["alive"])
        return adults[rng.integers(0, len(adults), n)]

    def _admin_identity(self, rng: np.random.Generator, who: np.ndarray) -> Dirtied:
        p = self.p
        return dirty_person_fields(
            rng, p["nama"][who], p["nik"][who], p["tanggal_lahir"][who], p["jenis_kelamin"][who], p["umur"][who],
            p["ijazah_tertinggi"][who], self.params.admin,
        )  # fmt: skip

    def pln(self) -> SourceTables:
        """PLN customers: one account per metered family; some accounts in a landlord's or former owner's name."""
        rng = self.rng(5)
        f = self.f
        fam_rows = np.flatnonzero(f["sumber_penerangan"] == 1)
        holder = self._adult_member(rng, fam_rows, 0.88)
        other = rng.random(len(fam_rows)) < self.params.pln_holder_not_member + 0.25 * (
            f["status_bangunan"][fam_rows] == 2
        )
        holder = np.where(other, self._stranger(rng, len(fam_rows)), holder)
        ident = self._admin_identity(rng, holder)
        va = np.array([0, 450, 900, 1300, 2200, 3500])[f["daya_listrik"][fam_rows]]
        va = np.where(va == 3500, rng.choice([3500, 4400, 5500, 7700], len(va), p=[0.5, 0.25, 0.15, 0.1]), va)
        subsidised_900 = (va == 900) & (f["desil"][fam_rows] <= 4) & (rng.random(len(va)) < 0.7)
        tarif = np.select(
            [va == 450, subsidised_900, va == 900, va <= 2200],
            ["R1/450", "R1/900", "R1M/900", "R1/" + pl.Series(va).cast(pl.Utf8).to_numpy().astype(object)],
            "R2/" + pl.Series(va).cast(pl.Utf8).to_numpy().astype(object),
        )
        idpel = make_ids("5", self.chunk, len(fam_rows), 8)
        rows = pl.DataFrame(
            {
                "IDPEL": idpel,
                "NAMA_PELANGGAN": ident.nama,
                "NIK_PELANGGAN": ident.nik,
                "TARIF": tarif,
                "DAYA": va.astype(np.int32),
                "ALAMAT": f["alamat"][fam_rows],
                "KODE_WILAYAH": f["kode_desa"][fam_rows],
            }
        )
        truth = _truth(
            "pln", idpel, self.p["person_id"][holder], f["family_id"][fam_rows],
            holder_family_id=self.p["family_id"][holder], nik_dirt=ident.nik_kind, name_dirt=ident.name_kind,
        )  # fmt: skip
        return SourceTables(rows, truth)

    def bpjs(self) -> SourceTables:
        """BPJS Kesehatan members with their JKN segment; many of the dead are still active."""
        rng = self.rng(6)
        p = self.p
        idx = np.flatnonzero((p["segmen_bpjs"] > 0) & (p["alive"] | (rng.random(len(p["alive"])) < 0.85)))
        ident = self._admin_identity(rng, idx)
        noka = make_ids("000", self.chunk, len(idx), 7)
        status = np.where(p["alive"][idx] | (rng.random(len(idx)) < 0.6), "AKTIF", "NONAKTIF")
        rows = pl.DataFrame(
            {
                "NOKA": noka,
                "NIK": ident.nik,
                "NAMA": ident.nama,
                "TGL_LAHIR": fmt_dates(ident.tanggal, "%Y-%m-%d"),
                "JENIS_KELAMIN": np.where(p["jenis_kelamin"][idx] == 1, "L", "P"),
                "SEGMEN": labels(rc.SegmenBPJS, p["segmen_bpjs"][idx]),
                "STATUS_PESERTA": status,
                "KODE_WILAYAH": self.f["kode_desa"][self.fam_index[idx]],
            }
        )
        truth = _truth(
            "bpjs_kesehatan", noka, p["person_id"][idx], p["family_id"][idx], nik_dirt=ident.nik_kind,
            name_dirt=ident.name_kind, date_dirt=ident.date_kind, alive=p["alive"][idx],
        )  # fmt: skip
        return SourceTables(rows, truth)

    def kendaraan(self) -> SourceTables:
        """Vehicle registry: motorcycles and cars; a used vehicle is often still in the seller's name."""
        rng = self.rng(7)
        f = self.f
        moto = np.flatnonzero(f[rc.Aset.SEPEDA_MOTOR.field])
        cars = np.flatnonzero(f[rc.Aset.MOBIL.field])
        moto_n = 1 + rng.poisson(np.where(f["desil"][moto] >= 6, 0.7, 0.3))
        car_n = 1 + rng.poisson(np.where(f["desil"][cars] >= 9, 0.5, 0.1))
        fam_rows = np.concatenate([np.repeat(moto, moto_n), np.repeat(cars, car_n)])
        kind = np.concatenate([np.zeros(moto_n.sum(), np.int8), np.ones(car_n.sum(), np.int8)])
        owner = self._adult_member(rng, fam_rows, 0.7)
        not_transferred = rng.random(len(fam_rows)) < 0.08
        owner = np.where(not_transferred, self._stranger(rng, len(fam_rows)), owner)
        ident = self._admin_identity(rng, owner)
        year = np.clip(
            2026 - rng.gamma(2.0, 3.5, len(fam_rows)) + (f["desil"][fam_rows] - 5) * 0.6, 1985, 2026
        ).astype(np.int16)
        moto_brands = np.array(["HONDA", "YAMAHA", "SUZUKI", "KAWASAKI", "TVS"])
        car_brands = np.array(
            ["TOYOTA", "DAIHATSU", "HONDA", "MITSUBISHI", "SUZUKI", "NISSAN", "WULING", "HYUNDAI"]
        )
        brand = np.where(
            kind == 0,
            moto_brands[rng.choice(5, len(kind), p=[0.74, 0.2, 0.03, 0.02, 0.01])],
            car_brands[rng.choice(8, len(kind), p=[0.34, 0.18, 0.14, 0.13, 0.1, 0.04, 0.04, 0.03])],
        )
        jenis = np.where(
            kind == 0,
            "SEPEDA MOTOR",
            np.where(rng.random(len(kind)) < 0.85, "MOBIL PENUMPANG", "MOBIL BARANG"),
        )
        prov = slice_codes(f["kode_desa"][fam_rows], 0, 2)
        letters = np.array(list("ABCDEFGHJKLMNPRSTUVWXYZ"))
        plate = (
            pl.DataFrame(
                {
                    "p": pl.Series(prov, dtype=pl.Utf8).replace_strict(PLATE_PREFIX, default="B").to_numpy(),
                    "n": rng.integers(1, 10000, len(prov)),
                    "a": letters[rng.integers(0, len(letters), len(prov))],
                    "b": letters[rng.integers(0, len(letters), len(prov))],
                }
            )
            .select(
                pl.col("p")
                + pl.lit(" ")
                + pl.col("n").cast(pl.Utf8)
                + pl.lit(" ")
                + pl.col("a")
                + pl.col("b")
            )
            .to_series()
            .to_numpy()
            .astype(object)
        )
        reg_id = make_ids("KB", self.chunk, len(fam_rows), 8)
        rows = pl.DataFrame(
            {
                "NO_REGISTRASI": reg_id,
                "NOPOL": plate,
                "JENIS_KENDARAAN": jenis,
                "MEREK": brand,
                "TAHUN_PEMBUATAN": year,
                "NIK_PEMILIK": ident.nik,
                "NAMA_PEMILIK": ident.nama,
                "ALAMAT_PEMILIK": f["alamat"][fam_rows],
            }
        )
        truth = _truth(
            "ranmor", reg_id, self.p["person_id"][owner], self.p["family_id"][owner],
            user_family_id=f["family_id"][fam_rows], nik_dirt=ident.nik_kind, name_dirt=ident.name_kind,
            not_transferred=not_transferred,
        )  # fmt: skip
        return SourceTables(rows, truth)

    def bidang_tanah(self) -> SourceTables:
        """Land parcels (ATR/BPN): the titled house plot of owners, and other land."""
        rng = self.rng(8)
        f = self.f
        house = np.flatnonzero(f["bukti_kepemilikan"] == 1)
        land = np.flatnonzero(f["lahan_lain"])
        land_n = 1 + rng.poisson(0.4, len(land))
        fam_rows = np.concatenate([house, np.repeat(land, land_n)])
        use = np.r_[np.zeros(len(house), np.int8), np.ones(land_n.sum(), np.int8)]
        holder = self._adult_member(rng, fam_rows, 0.8)
        ident = self._admin_identity(rng, holder)
        area = (
            np.where(
                use == 0,
                f["luas_lantai"][fam_rows] * rng.uniform(1.2, 3.0, len(fam_rows)),
                np.exp(rng.normal(7.4, 1.0, len(fam_rows)) + 0.15 * (f["desil"][fam_rows] - 5)),
            )
            .round()
            .astype(np.int64)
        )
        nib = (
            pl.DataFrame(
                {
                    "k": slice_codes(f["kode_desa"][fam_rows], 0, 6),
                    "s": np.arange(len(fam_rows), dtype=np.int64),
                }
            )
            .select(pl.col("k") + pl.lit(f"{self.chunk:03d}") + pl.col("s").cast(pl.Utf8).str.zfill(5))
            .to_series()
            .to_numpy()
            .astype(object)
        )
        rows = pl.DataFrame(
            {
                "NIB": nib,
                "LUAS_M2": area,
                "JENIS_HAK": np.where((use == 0) | (rng.random(len(use)) < 0.9), "HM", "HGB"),
                "PENGGUNAAN": np.where(use == 0, "PERUMAHAN", "PERTANIAN"),
                "NIK_PEMEGANG": ident.nik,
                "NAMA_PEMEGANG": ident.nama,
                "KODE_DESA": dotted(f["kode_desa"][fam_rows]),
            }
        )
        truth = _truth(
            "atr_bpn", nib, self.p["person_id"][holder], f["family_id"][fam_rows], nik_dirt=ident.nik_kind,
            name_dirt=ident.name_kind,
        )  # fmt: skip
        return SourceTables(rows, truth)

    # ------------------------------------------------------------------------------------------
    def susenas(self) -> tuple[SourceTables, SourceTables]:
        """A Susenas-like sample: households with measured consumption and survey weights."""
        if hasattr(self, "_susenas"):
            return self._susenas
        rng = self.rng(9)
        f, p = self.f, self.p
        prm = self.params
        nf = len(f["family_id"])
        stratum = pl.DataFrame({"k": slice_codes(f["kode_desa"], 0, 4), "u": f["urban"]})
        picked = hash_uniform(f["family_id"], self.seed + 77) < prm.susenas_sample_rate
        fam_rows = np.flatnonzero(picked)
        strata = (
            stratum.with_columns(pl.Series("picked", picked))
            .group_by("k", "u")
            .agg(pl.len().alias("N"), pl.col("picked").sum().alias("n"))
        )
        w = stratum[fam_rows].join(strata, on=["k", "u"], how="left", maintain_order="left")
        weight = (w["N"] / w["n"]).to_numpy()
        measured = f["pc_consumption"][fam_rows] * np.exp(
            rng.normal(0, prm.consumption_measurement_sd, len(fam_rows))
        )
        ids = make_ids("SSN", self.chunk, len(fam_rows), 7)
        living_size = np.bincount(self.fam_index[p["alive"]], minlength=nf)[fam_rows]
        desa = f["kode_desa"][fam_rows]
        block = self._family_block(fam_rows)
        block.pop("R501A", None)
        rt = pl.DataFrame(
            {
                "ID_RUTA": ids,
                "KODE_PROV": slice_codes(desa, 0, 2),
                "KODE_KAB": slice_codes(desa, 2, 2),
                "KLASIFIKASI": np.where(f["urban"][fam_rows], 1, 2).astype(np.int8),
                "FWT": np.round(weight, 4),
                "JML_ART": living_size.astype(np.int16),
                "KAPITA": np.round(measured).astype(np.int64),
                **{k: v for k, v in block.items() if not k.startswith("R501")},
            }
        )
        rt_truth = _truth("susenas", ids, np.full(len(fam_rows), -1, np.int64), f["family_id"][fam_rows],
                          true_pc_consumption=f["pc_consumption"][fam_rows])  # fmt: skip
        sel = np.zeros(nf, bool)
        sel[fam_rows] = True
        idx = np.flatnonzero(sel[self.fam_index] & p["alive"])
        row_of = np.full(nf, -1, np.int64)
        row_of[fam_rows] = np.arange(len(fam_rows))
        hh = row_of[self.fam_index[idx]]
        seq = np.arange(len(idx)) - np.searchsorted(hh, hh, side="left") + 1
        art = pl.DataFrame(
            {
                "ID_RUTA": ids[hh],
                "ART_NO": seq.astype(np.int16),
                "HUB_KRT": p["hubungan"][idx],
                "JENIS_KELAMIN": p["jenis_kelamin"][idx],
                "UMUR": p["umur"][idx].astype(np.int16),
                "STATUS_KAWIN": p["status_kawin"][idx],
                **self._member_block(idx),
            }
        )
        art_ids = member_keys(ids[hh], seq)
        art_truth = _truth("susenas", art_ids, p["person_id"][idx], p["family_id"][idx])
        self._susenas = (SourceTables(rt, rt_truth), SourceTables(art, art_truth))
        return self._susenas
