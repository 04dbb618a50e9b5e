"""Synthetic civil-registration events and approved corrections for the quarter after a population.

Feeds the demo Q1 -> events + corrections -> Q2 with the files Dukcapil and the field services would send
(formats in ``docs/events-and-corrections.md``), drawn from the synthetic truth so that every event is
true of the population:

* deaths with a Gompertz hazard by age (annual ``exp(-9.5 + 0.085 x age)``: 0.1% at 30, 1.2% at 60,
  6.5% at 80; Indonesia's crude death rate is about 6.5 per 1,000), births to married women 15-49 (an
  age-specific fertility peaking at 12% a year at 28), whole-family moves within the kabupaten
  (3% of families a year), marriages of single adults 20-35 who take a new card, and married children
  living with their spouse in their parents' KK splitting off (keluarga pecahan);
* registration delays (exponential, mean 20 days), so some events are registered after the cut-off, and
  a few rows with a mistyped NIK, as real feeds have, for the quarantine;
* corrections: ground-check results that set a housing attribute of sampled families to what the
  officer saw (the truth where the registry differs, else a change since the survey), and approved
  objections (sanggahan) for families wrongly flagged as car owners by a vehicle still registered to them.

The same seed, population and period give byte-identical files.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from dtsen.cycle.period import Period
from dtsen.reference import regions
from dtsen.reference.nik import make_kk, make_nik
from dtsen.synth.params import SynthParams
from dtsen.tables import CORRECTION_FILE, EVENT_FILE

DEATH_A, DEATH_B = -9.5, 0.085
FERTILITY_PEAK, FERTILITY_AGE, FERTILITY_WIDTH = 0.12, 28.0, 7.0
MOVE_RATE = 0.03  # families a year
MARRIAGE_RATE = 0.08  # single adults 20-35 a year
SPLIT_RATE = 0.2  # married children living in the parents' KK, a year
DELAY_DAYS = 20.0
BAD_ROWS = 0.005
GROUND_CHECK_SHARE = 0.02
HOUSING = ("lantai", "dinding", "atap", "sumber_air_minum", "sumber_penerangan", "bahan_bakar_masak")
SERIAL_BAND = (9000, 9999)  # NIK/KK serials the generator never issues (it uses 0001-4999 and 5000+9k)


def _reference_date(synth_dir: Path) -> date:
    manifest = synth_dir / "manifest.json"
    if manifest.is_file():
        params = json.loads(manifest.read_text(encoding="utf-8")).get("params") or {}
        value = params.get("reference_date")
        if value:
            return date.fromisoformat(str(value))
    return SynthParams().reference_date


class _Serials:
    """Unused serials per kecamatan and date, so new NIKs and KK numbers never collide with old ones."""

    def __init__(self, taken: set[str]) -> None:
        self.taken = taken

    def nik(self, kec: str, born: date, sex: int) -> str:
        for serial in range(*SERIAL_BAND):
            value = make_nik(kec, born, sex, serial)
            if value not in self.taken:
                self.taken.add(value)
                return value
        raise ValueError(f"no free NIK serial for {kec} on {born}")

    def kk(self, kec: str, issued: date) -> str:
        for serial in range(*SERIAL_BAND):
            value = make_kk(kec, issued, serial)
            if value not in self.taken:
                self.taken.add(value)
                return value
        raise ValueError(f"no free KK serial for {kec} on {issued}")


def generate_events(synth_dir: Path, out: Path, *, period: str | None = None, seed: int = 1) -> Path:
    """Write ``out`` (CSV): the events of ``period`` (default: the quarter after the population's date)."""
    synth_dir = Path(synth_dir)
    ref = _reference_date(synth_dir)
    quarter = Period.parse(period) if period else Period(ref.year, (ref.month - 1) // 3 + 1).next()
    persons = pl.read_parquet(synth_dir / "truth" / "persons.parquet").sort("person_id")
    families = pl.read_parquet(synth_dir / "truth" / "families.parquet").sort("family_id")
    draw = _EventDraw(quarter, max(quarter.start, ref + timedelta(days=1)), seed, persons, families)
    alive = persons.filter(pl.col("alive"))
    fam = families.select("family_id", pl.col("no_kk_now").alias("no_kk"), "kode_desa")
    living = draw.deaths(alive.join(fam, on="family_id", how="left"))
    draw.births(living)
    draw.moves(families.filter(pl.col("family_id").is_in(living["family_id"].unique().implode())))
    draw.splits(living)
    draw.marriages(living)
    return draw.write(Path(out))


class _EventDraw:
    """The events of one quarter, drawn in a fixed order (the order is part of the output)."""

    def __init__(
        self, quarter: Period, start: date, seed: int, persons: pl.DataFrame, families: pl.DataFrame
    ) -> None:
        self.quarter = quarter
        self.start = start
        self.days = (quarter.end - start).days + 1
        self.rng = np.random.default_rng([seed, quarter.year, quarter.quarter])
        self.serials = _Serials(
            set(persons["nik"].drop_nulls().to_list()) | set(families["no_kk_now"].drop_nulls().to_list())
        )
        self.rows: list[dict[str, object]] = []
        self.used: set[int] = set()  # families that already had a birth, move or split this quarter

    def rate(self, per_year: float | np.ndarray) -> float | np.ndarray:
        """Probability over the quarter's days of something that happens ``per_year``."""
        return per_year * self.days / 365.25

    def when(self) -> tuple[date, date]:
        """The day it happened and the day it was registered (after a delay)."""
        happened = self.start + timedelta(days=int(self.rng.integers(0, self.days)))
        return happened, happened + timedelta(days=int(self.rng.exponential(DELAY_DAYS)))

    def deaths(self, alive: pl.DataFrame) -> pl.DataFrame:
        """Deaths by the Gompertz hazard; returns the people still living."""
        age = alive["umur"].to_numpy().astype(float)
        q_death = 1 - np.exp(-np.exp(DEATH_A + DEATH_B * age) * self.days / 365.25)
        dies = self.rng.random(alive.height) < q_death
        for r in alive.filter(pl.Series(dies)).iter_rows(named=True):
            happened, reported = self.when()
            self.rows.append(
                {"jenis": "MATI", "tanggal_peristiwa": happened, "tanggal_lapor": reported, "nik": r["nik"]}
            )
        return alive.filter(~pl.Series(dies))

    def births(self, living: pl.DataFrame) -> None:
        """Births to married women 15-49: a first name of the population, the mother's last word."""
        rng = self.rng
        mothers = living.filter(
            (pl.col("jenis_kelamin") == 2) & pl.col("umur").is_between(15, 49) & (pl.col("status_kawin") == 2)
        )
        f_rate = FERTILITY_PEAK * np.exp(
            -(((mothers["umur"].to_numpy() - FERTILITY_AGE) / FERTILITY_WIDTH) ** 2)
        )
        births = rng.random(mothers.height) < self.rate(f_rate)
        names = {
            s: living.filter(pl.col("jenis_kelamin") == s)["nama"].drop_nulls().to_list() for s in (1, 2)
        }
        for r in mothers.filter(pl.Series(births)).iter_rows(named=True):
            happened, reported = self.when()
            sex = int(rng.integers(1, 3))
            first = str(names[sex][int(rng.integers(0, len(names[sex])))]).split()[0]
            self.rows.append(
                {
                    "jenis": "LAHIR",
                    "tanggal_peristiwa": happened,
                    "tanggal_lapor": reported,
                    "nik": self.serials.nik(r["kode_desa"][:6], happened, sex),
                    "nama": f"{first} {r['nama'].split()[-1]}",
                    "jenis_kelamin": sex,
                    "nik_ibu": r["nik"],
                    "no_kk": r["no_kk"],
                }
            )
        self.used |= set(mothers.filter(pl.Series(births))["family_id"].to_list())

    def moves(self, families: pl.DataFrame) -> None:
        """Whole-family moves to another village of the same kabupaten."""
        rng = self.rng
        villages = regions.villages().select("kode", "kode_kab")
        by_kab = {k: g["kode"].sort().to_list() for (k,), g in villages.group_by("kode_kab")}
        moves = rng.random(families.height) < self.rate(MOVE_RATE)
        for r in families.filter(pl.Series(moves)).iter_rows(named=True):
            options = [v for v in by_kab.get(r["kode_desa"][:4], []) if v != r["kode_desa"]]
            if not options or r["family_id"] in self.used:
                continue
            self.used.add(r["family_id"])
            happened, reported = self.when()
            self.rows.append(
                {
                    "jenis": "PINDAH",
                    "tanggal_peristiwa": happened,
                    "tanggal_lapor": reported,
                    "no_kk": r["no_kk_now"],
                    "kode_desa_tujuan": options[int(rng.integers(0, len(options)))],
                    "alamat_tujuan": f"JL. BARU NO. {int(rng.integers(1, 300))}",
                    "rt_tujuan": f"{int(rng.integers(1, 15)):03d}",
                    "rw_tujuan": f"{int(rng.integers(1, 10)):03d}",
                }
            )

    def splits(self, living: pl.DataFrame) -> None:
        """A married child and the child-in-law leave the parents' KK with a new card (keluarga pecahan)."""
        splits = living.filter((pl.col("hubungan") == 3) & (pl.col("status_kawin") == 2))
        in_laws = (
            living.filter(pl.col("hubungan") == 4)
            .group_by("family_id")
            .agg(pl.col("nik").sort().first().alias("nik_menantu"))
        )
        splits = splits.join(in_laws, on="family_id", how="inner").unique(
            "family_id", keep="first", maintain_order=True
        )
        split_draw = self.rng.random(splits.height) < self.rate(SPLIT_RATE)
        for r in splits.filter(pl.Series(split_draw)).iter_rows(named=True):
            if r["family_id"] in self.used:
                continue
            self.used.add(r["family_id"])
            happened, reported = self.when()
            self.rows.append(
                {
                    "jenis": "PISAH_KK",
                    "tanggal_peristiwa": happened,
                    "tanggal_lapor": reported,
                    "no_kk": r["no_kk"],
                    "no_kk_baru": self.serials.kk(r["kode_desa"][:6], happened),
                    "nik_anggota": f"{r['nik']};{r['nik_menantu']}",
                }
            )

    def marriages(self, living: pl.DataFrame) -> None:
        """Single adults 20-35 of the same kabupaten marry and take a new card."""
        singles = living.filter(
            (pl.col("status_kawin") == 1)
            & pl.col("umur").is_between(20, 35)
            & ~pl.col("family_id").is_in(list(self.used))
        )
        draw = singles.filter(pl.Series(self.rng.random(singles.height) < self.rate(MARRIAGE_RATE)))
        groups = sorted(draw.group_by(pl.col("kode_desa").str.slice(0, 4)), key=lambda g: str(g[0]))
        for (_kab,), group in groups:
            men = group.filter(pl.col("jenis_kelamin") == 1).sort("person_id").iter_rows(named=True)
            women = group.filter(pl.col("jenis_kelamin") == 2).sort("person_id").iter_rows(named=True)
            for man, woman in zip(men, women, strict=False):
                if man["family_id"] == woman["family_id"]:
                    continue
                happened, reported = self.when()
                self.rows.append(
                    {
                        "jenis": "KAWIN",
                        "tanggal_peristiwa": happened,
                        "tanggal_lapor": reported,
                        "nik": man["nik"],
                        "nik_pasangan": woman["nik"],
                        "no_kk_baru": self.serials.kk(man["kode_desa"][:6], happened),
                    }
                )

    def write(self, out: Path) -> Path:
        """Events in date order with their ids, a few NIKs mistyped, as CSV."""
        rows = self.rows
        rows.sort(key=lambda r: (r["tanggal_peristiwa"], r["jenis"], str(r.get("nik") or r.get("no_kk"))))
        for i, r in enumerate(rows, start=1):
            r["id_peristiwa"] = f"EV-{self.quarter}-{i:07d}"
            if r.get("nik") and self.rng.random() < BAD_ROWS:  # a mistyped NIK: 15 digits
                r["nik"] = str(r["nik"])[:-1]
        # The event file's columns (text in the file); dates and sex typed so they print as it spells them.
        frame = pl.DataFrame(
            [{c: r.get(c) for c in EVENT_FILE.columns} for r in rows],
            schema={
                c: pl.Date()
                if c.startswith("tanggal")
                else pl.Int8()
                if c == "jenis_kelamin"
                else pl.String()
                for c in EVENT_FILE.columns
            },
            orient="row",
        )
        out.parent.mkdir(parents=True, exist_ok=True)
        frame.write_csv(out)
        return out


def generate_corrections(
    synth_dir: Path, families: Path, out: Path, *, period: str | None = None, seed: int = 1
) -> Path:
    """Write ``out`` (CSV): approved corrections of the golden ``families`` (Parquet, with
    ``id_keluarga_dtsen`` and ``no_kk``) decided during ``period``, true of the synthetic population."""
    synth_dir = Path(synth_dir)
    ref = _reference_date(synth_dir)
    quarter = Period.parse(period) if period else Period(ref.year, (ref.month - 1) // 3 + 1).next()
    rng = np.random.default_rng([seed, quarter.year, quarter.quarter, 7])
    golden = pl.read_parquet(families).sort("id_keluarga_dtsen")
    truth = pl.read_parquet(synth_dir / "truth" / "families.parquet").select(
        pl.col("no_kk_now").alias("no_kk"), *[pl.col(c).alias(f"{c}_benar") for c in (*HOUSING, "aset_mobil")]
    )
    matched = golden.join(truth, on="no_kk", how="inner").sort("id_keluarga_dtsen")
    days = (quarter.end - quarter.start).days + 1
    rows: list[dict[str, object]] = []

    def decided() -> date:
        return quarter.start + timedelta(days=int(rng.integers(0, days)))

    checked = matched.filter(pl.Series(rng.random(matched.height) < GROUND_CHECK_SHARE))
    from dtsen.canonical import ENTITIES

    keluarga = ENTITIES["keluarga"]
    for r in checked.iter_rows(named=True):
        column = HOUSING[int(rng.integers(0, len(HOUSING)))]
        if column not in golden.columns:
            continue
        current, true = r[column], r[f"{column}_benar"]
        if true is None:
            continue
        new = true
        if current == true:  # nothing wrong on file: the dwelling changed since the survey
            codes = [c for c in keluarga.field(column).code_list.codes() if c != current]  # type: ignore[union-attr]
            new = codes[int(rng.integers(0, len(codes)))]
        rows.append(
            {
                "jenis": "ground_check",
                "id_keluarga_dtsen": r["id_keluarga_dtsen"],
                "atribut": column,
                "nilai_baru": str(new),
                "nilai_lama": None if current is None else str(current),
                "sumber": "ground_check_kemensos",
                "tanggal_keputusan": decided(),
            }
        )
    if "aset_mobil" in golden.columns:
        wrong = matched.filter(pl.col("aset_mobil") & ~pl.col("aset_mobil_benar").fill_null(False))
        for r in wrong.head(max(1, wrong.height // 10)).iter_rows(named=True):
            rows.append(
                {
                    "jenis": "sanggahan",
                    "id_keluarga_dtsen": r["id_keluarga_dtsen"],
                    "atribut": "aset_mobil",
                    "nilai_baru": "tidak",
                    "nilai_lama": "ya",
                    "sumber": "sanggahan_cek_bansos",
                    "tanggal_keputusan": decided(),
                    "keterangan": "mobil sudah dijual, masih atas nama pemilik lama",
                }
            )
    rows.sort(key=lambda r: (r["tanggal_keputusan"], r["id_keluarga_dtsen"], r["atribut"]))
    for i, r in enumerate(rows, start=1):
        r["id_koreksi"] = f"KR-{quarter}-{i:06d}"
        r["nomor_keputusan"] = f"BA/{r['jenis'].upper()}/{quarter}/{i:05d}"
        r["petugas"] = f"PTG-{int(rng.integers(1000, 9999))}"
    columns = CORRECTION_FILE.columns  # the corrections file's (text in the file)
    frame = pl.DataFrame(
        [{c: r.get(c) for c in columns} for r in rows],
        schema={c: pl.Date() if c == "tanggal_keputusan" else pl.String() for c in columns},
        orient="row",
    )
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    frame.write_csv(out)
    return out
