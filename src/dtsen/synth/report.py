"""Calibration report: generated statistics against their public targets, each with a tolerance.

Read from ``truth/`` of a generated dataset, so it checks what was written, not what was intended.
National-only targets (urban/rural poverty, Java's share of the poor) are skipped for partial runs,
and the poverty target of a partial run is the population-weighted mean of its provinces' targets.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import polars as pl
from scipy.stats import spearmanr

from dtsen.reference import regions
from dtsen.synth.calibration import gini
from dtsen.synth.dirt import NikDirt
from dtsen.synth.params import PROVINCE_POVERTY_RATE, SynthParams

JAVA = {"31", "32", "33", "34", "35", "36"}


@dataclass(frozen=True)
class Check:
    metric: str
    target: float
    generated: float
    tolerance: float
    source: str

    @property
    def ok(self) -> bool:
        return bool(abs(self.generated - self.target) <= self.tolerance)


def calibration_report(directory: Path) -> list[Check]:
    manifest = json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
    params = SynthParams.model_validate(manifest["params"])
    fam = pl.read_parquet(directory / "truth" / "families.parquet")
    per = pl.read_parquet(directory / "truth" / "persons.parquet", columns=["family_id", "alive", "umur"])
    living = per.filter(pl.col("alive")).group_by("family_id").len("living")
    fam = fam.join(living, on="family_id", how="left").with_columns(pl.col("living").fill_null(0))
    fam = fam.with_columns(pl.col("kode_desa").str.slice(0, 2).alias("prov"))
    w = fam["living"].to_numpy().astype(float)
    poor = fam["poor"].to_numpy()
    urban = fam["urban"].to_numpy()
    prov = fam["prov"].to_numpy()
    checks: list[Check] = []
    national = manifest.get("provinces") is None and manifest.get("kabupaten") is None

    pop = regions.population().filter(pl.col("kode").str.len_chars() == 2)
    covered = sorted(set(prov.tolist()))
    pw = pop.filter(pl.col("kode").is_in(covered))
    target_rate = float(
        np.average([PROVINCE_POVERTY_RATE[k] for k in pw["kode"]], weights=pw["total"].to_numpy())
    )
    rate = 100 * np.average(poor, weights=w)
    checks.append(
        Check(
            "poverty rate (% persons)",
            round(target_rate, 2),
            round(rate, 2),
            1.0,
            "BPS Mar 2025, 8.47% nationally",
        )
    )
    pc = fam["pc_consumption"].to_numpy().astype(float)
    if national:
        checks.append(
            Check("gini (per-capita consumption)", 0.375, round(gini(pc, w), 3), 0.03, "BPS Sep 2024")
        )
        checks.append(
            Check(
                "urban poverty rate (%)",
                6.7,
                round(100 * np.average(poor[urban], weights=w[urban]), 2),
                2.5,
                "BPS Sep 2024",
            )
        )
        checks.append(
            Check(
                "rural poverty rate (%)",
                11.3,
                round(100 * np.average(poor[~urban], weights=w[~urban]), 2),
                2.5,
                "BPS Sep 2024",
            )
        )
        java = np.isin(prov, list(JAVA))
        checks.append(
            Check(
                "share of the poor living on Java (%)",
                52.75,
                round(100 * (w * poor * java).sum() / (w * poor).sum(), 2),
                6.0,
                "BPS",
            )
        )
        checks.append(
            Check(
                "urban share of persons (%)",
                57.0,
                round(100 * np.average(urban, weights=w), 1),
                7.0,
                "BPS 2020 census ~56.7%",
            )
        )
        by_prov = (
            pl.DataFrame({"prov": prov, "w": w, "poor": poor * w})
            .group_by("prov")
            .agg(pl.col("poor").sum() / pl.col("w").sum())
        )
        gen = dict(zip(by_prov["prov"].to_list(), by_prov["poor"].to_list(), strict=True))
        keys = sorted(gen)
        rho = spearmanr([gen[k] for k in keys], [PROVINCE_POVERTY_RATE[k] for k in keys]).statistic
        checks.append(
            Check(
                "provincial ordering (Spearman vs BPS)",
                1.0,
                round(float(rho), 3),
                0.15,
                "BPS Mar 2025 by province",
            )
        )
    else:
        checks.append(
            Check(
                "gini (per-capita consumption)",
                0.375,
                round(gini(pc, w), 3),
                0.06,
                "BPS Sep 2024 (national; region runs vary)",
            )
        )
    has = w > 0
    checks.append(
        Check(
            "persons per KK", 3.04, round(float(w[has].mean()), 3), 0.15, "DTSEN Jan 2026: 289.1 M / 95.0 M"
        )
    )
    checks.append(
        Check(
            "persons per poor KK",
            4.7,
            round(float(w[has & poor].mean()), 2),
            0.6,
            "BPS: poor households average 4.7",
        )
    )
    checks.extend(_dirt_checks(directory, params))
    return checks


def _rate(frame: pl.DataFrame, expr: pl.Expr) -> float:
    return float(frame.select(expr.mean()).item()) if frame.height else 0.0


def _dirt_checks(directory: Path, params: SynthParams) -> list[Check]:
    truth = directory / "truth"
    out: list[Check] = []
    dtks = pl.read_parquet(truth / "links_dtks.parquet")
    p = params.dtks
    invalid_nik = p.nik_missing + p.nik_excel + p.nik_truncated + p.nik_transposed + p.nik_typo
    out.append(
        Check(
            "DTKS rows with a NIK not Dukcapil's (%)",
            round(100 * invalid_nik, 2),
            round(100 * _rate(dtks, pl.col("nik_dirt").is_between(NikDirt.MISSING, NikDirt.TRUNCATED)), 2),
            1.0,
            "audit: 10.9 M of ~99 M",
        )
    )
    out.append(
        Check(
            "DTKS rows with an invalid KK (%)",
            round(100 * p.kk_invalid, 2),
            round(100 * _rate(dtks, pl.col("kk_dirt") > 0), 2),
            1.5,
            "audit: 16.4 M invalid KK",
        )
    )
    out.append(
        Check(
            "DTKS duplicate rows (%)",
            round(100 * p.duplicate_row / (1 + p.duplicate_row), 2),
            round(100 * _rate(dtks, pl.col("duplicate")), 2),
            0.5,
            "21 M duplicates deactivated 2021",
        )
    )
    out.append(
        Check(
            "DTKS dead but active (%)",
            round(100 * params.dtks_dead_active, 2),
            round(100 * _rate(dtks, ~pl.col("alive")), 2),
            0.4,
            "1.69 M dead still active",
        )
    )
    out.append(
        Check(
            "DTKS NIK ganda (%)",
            round(100 * p.nik_ganda, 2),
            round(100 * _rate(dtks, pl.col("nik_dirt") == NikDirt.GANDA), 3),
            0.05,
            "86 k duplicate NIKs",
        )
    )
    fam = pl.read_parquet(truth / "families.parquet", columns=["family_id", "desil"])
    in_dtks = fam.with_columns(pl.col("family_id").is_in(dtks["family_id"].implode()).alias("in_dtks"))
    bottom = in_dtks.filter(pl.col("desil") <= 4)
    expected = float(np.mean(params.dtks_inclusion_by_decile[:4]))
    out.append(
        Check(
            "DTKS coverage of true desil 1-4 families (%)",
            round(100 * expected, 1),
            round(100 * _rate(bottom, pl.col("in_dtks")), 1),
            4.0,
            "bottom ~40% plus leakage",
        )
    )
    regs = pl.read_parquet(truth / "links_regsosek_anggota.parquet")
    r = params.regsosek
    out.append(
        Check(
            "Regsosek NIK missing (%)",
            round(100 * r.nik_missing, 2),
            round(100 * _rate(regs, pl.col("nik_dirt") == NikDirt.MISSING), 2),
            0.5,
            "assumption",
        )
    )
    out.append(
        Check(
            "Regsosek name spelling variants (%)",
            round(100 * r.name_variant, 2),
            round(100 * _rate(regs, (pl.col("name_dirt") & 1) > 0), 2),
            2.0,
            "assumption; single names rarely have a variant",
        )
    )
    sus = pl.read_parquet(truth / "links_susenas_rumah_tangga.parquet")
    out.append(
        Check(
            "Susenas households sampled (%)",
            round(100 * params.susenas_sample_rate, 2),
            round(100 * sus.height / max(fam.height, 1), 2),
            0.3,
            "345 k of ~75 M households",
        )
    )
    return out


def to_markdown(checks: list[Check]) -> str:
    lines = [
        "| metric | target | generated | tolerance | within | source |",
        "|---|---:|---:|---:|:---:|---|",
    ]
    for c in checks:
        lines.append(
            f"| {c.metric} | {c.target:g} | {c.generated:g} | ±{c.tolerance:g} | "
            f"{'yes' if c.ok else '**no**'} | {c.source} |"
        )
    return "\n".join(lines) + "\n"


def to_json(checks: list[Check]) -> list[dict[str, object]]:
    return [{**asdict(c), "ok": c.ok} for c in checks]
