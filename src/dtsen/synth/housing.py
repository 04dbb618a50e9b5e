"""What a family's welfare shows: housing (Regsosek Blok III), assets and programs (Blok V), JKN.

Every item is drawn from the standardised welfare signal with noise; each item has its own loading (a
car says more than a bicycle) and regional patterns (wooden houses and zinc roofs outside Java, little
electricity in rural Papua), respecting the Regsosek skip rules (appliances need electricity, 301b only
for owners, 307b only for metered PLN, gas tank iff LPG 5.5/12 kg).
"""

from __future__ import annotations

import numpy as np

from dtsen.reference import codes as rc
from dtsen.synth import names as nm
from dtsen.synth.draws import binary, ordered
from dtsen.synth.geography import EASTERN

WOOD_BUILDING = EASTERN | {"61", "62", "63", "64", "65", "71", "72", "74", "75", "76", "14", "15", "21"}
JAVA_BALI = ["31", "32", "33", "34", "35", "36", "51"]

# Asset: (loading on welfare, national share)
_ASSETS = {
    rc.Aset.LEMARI_ES: (1.2, 0.55),
    rc.Aset.AC: (1.5, 0.09),
    rc.Aset.PEMANAS_AIR: (1.5, 0.04),
    rc.Aset.TELEPON_RUMAH: (1.0, 0.03),
    rc.Aset.TV_LAYAR_DATAR: (1.3, 0.30),
    rc.Aset.EMAS_PERHIASAN: (1.2, 0.20),
    rc.Aset.KOMPUTER: (1.4, 0.18),
    rc.Aset.SEPEDA_MOTOR: (0.8, 0.82),
    rc.Aset.SEPEDA: (0.1, 0.30),
    rc.Aset.MOBIL: (1.6, 0.11),
    rc.Aset.PERAHU: (-0.3, 0.02),
    rc.Aset.PERAHU_MOTOR: (0.0, 0.012),
    rc.Aset.SMARTPHONE: (1.0, 0.86),
}
# Livestock: (share of rural families, mean head count of owners)
_LIVESTOCK = {
    rc.Ternak.SAPI: (0.09, 3),
    rc.Ternak.KERBAU: (0.01, 2),
    rc.Ternak.KUDA: (0.005, 1),
    rc.Ternak.BABI: (0.0, 3),
    rc.Ternak.KAMBING_DOMBA: (0.12, 4),
}
_PIG_CULTURES = ["bali", "papua", "kristen_timur", "batak", "dayak"]


def housing_and_assets(
    rng: np.random.Generator,
    s: np.ndarray,
    urban: np.ndarray,
    prov: np.ndarray,
    size: np.ndarray,
    culture: np.ndarray,
) -> dict[str, np.ndarray]:
    """Blok III and Blok V columns of every family, keyed by their canonical field names."""
    out = _dwelling(rng, s, urban, prov, size)
    out.update(_assets(rng, s, urban, prov, culture, out))
    return out


def _dwelling(
    rng: np.random.Generator, s: np.ndarray, urban: np.ndarray, prov: np.ndarray, size: np.ndarray
) -> dict[str, np.ndarray]:
    """Tenure, floor area, materials, water, light, cooking fuel and sanitation (Blok III)."""
    nf = len(s)
    wood = np.isin(prov, list(WOOD_BUILDING))
    eastern_rural = np.isin(prov, list(EASTERN)) & ~urban
    out: dict[str, np.ndarray] = {}
    u = rng.random(nf)
    tenure = np.where(
        urban,
        np.select([u < 0.70, u < 0.87, u < 0.98, u < 0.99], [1, 2, 3, 4], 5),
        np.select([u < 0.88, u < 0.91, u < 0.99, u < 0.995], [1, 2, 3, 4], 5),
    )
    out["status_bangunan"] = tenure.astype(np.int8)
    proof = 1 + ordered(rng, -s, 0.8, [0.50, 0.15, 0.22, 0.13])
    out["bukti_kepemilikan"] = np.where(tenure == 1, proof, 0).astype(np.int8)
    out["luas_lantai"] = (
        np.clip(np.exp(3.85 + 0.30 * s + 0.12 * np.log(size) + rng.normal(0, 0.38, nf)), 9, 2000)
        .round()
        .astype(np.int32)
    )
    floor = np.array([8, 7, 5, 6, 4, 2, 3, 1])[
        ordered(rng, s, 1.0, [0.05, 0.01, 0.09, 0.20, 0.06, 0.55, 0.01, 0.03], np.where(wood, -0.25, 0.1))
    ]
    floor = np.where(wood & (floor == 6) & (rng.random(nf) < 0.5), 5, floor)
    out["lantai"] = floor.astype(np.int8)
    wall = np.array([7, 6, 5, 4, 3, 2, 1])[
        ordered(rng, s, 0.9, [0.005, 0.01, 0.005, 0.05, 0.13, 0.02, 0.78], np.where(wood, -0.9, 0.15))
    ]
    out["dinding"] = wall.astype(np.int8)
    roof = np.array([7, 5, 6, 8, 4, 3, 2, 1])[
        ordered(rng, s, 0.5, [0.01, 0.003, 0.01, 0.005, 0.10, 0.32, 0.50, 0.05])
    ]
    java_bali = np.isin(prov, JAVA_BALI)
    roof = np.where(~java_bali & (roof == 2) & (rng.random(nf) < 0.75), 3, roof)
    out["atap"] = roof.astype(np.int8)
    water = np.array([9, 8, 6, 10, 11, 7, 5, 4, 3, 2, 1])[
        ordered(
            rng,
            s,
            0.9,
            [0.02, 0.02, 0.04, 0.02, 0.005, 0.06, 0.12, 0.17, 0.10, 0.40, 0.045],
            np.where(urban, 0.4, -0.3),
        )
    ]
    out["sumber_air_minum"] = water.astype(np.int8)
    light = np.array([4, 3, 2, 1])[
        ordered(rng, s, 0.8, [0.01, 0.015, 0.03, 0.945], np.where(eastern_rural, -1.2, 0.1))
    ]
    out["sumber_penerangan"] = light.astype(np.int8)
    power = 1 + ordered(rng, s, 1.6, [0.30, 0.42, 0.18, 0.07, 0.03], np.where(urban, 0.2, -0.2))
    out["daya_listrik"] = np.where(light == 1, power, 0).astype(np.int8)
    fuel = np.array([10, 9, 7, 0, 4, 5, 1, 3, 2])[
        ordered(
            rng, s, 1.0, [0.10, 0.003, 0.01, 0.02, 0.80, 0.004, 0.01, 0.04, 0.013], np.where(urban, 0.5, -0.4)
        )
    ]
    out["bahan_bakar_masak"] = fuel.astype(np.int8)
    toilet = np.array([6, 5, 4, 3, 2, 1])[
        ordered(rng, s, 0.8, [0.05, 0.005, 0.02, 0.01, 0.07, 0.845], np.where(eastern_rural, -0.7, 0.05))
    ]
    out["fasilitas_bab"] = toilet.astype(np.int8)
    closet = np.array([4, 3, 2, 1])[ordered(rng, s, 0.8, [0.05, 0.03, 0.02, 0.90])]
    out["jenis_kloset"] = np.where(toilet <= 5, closet, 0).astype(np.int8)
    out["pembuangan_tinja"] = np.where(
        toilet <= 5,
        np.array([5, 3, 4, 6, 2, 1])[
            ordered(rng, s, 0.8, [0.03, 0.08, 0.10, 0.01, 0.02, 0.76], np.where(urban, 0.3, -0.3))
        ],
        0,
    ).astype(np.int8)
    return out


def _assets(
    rng: np.random.Generator,
    s: np.ndarray,
    urban: np.ndarray,
    prov: np.ndarray,
    culture: np.ndarray,
    dwelling: dict[str, np.ndarray],
) -> dict[str, np.ndarray]:
    """Assets, land, livestock, internet, bank account and program receipt (Blok V)."""
    nf = len(s)
    electric = dwelling["sumber_penerangan"] <= 3
    fuel = dwelling["bahan_bakar_masak"]
    java_bali = np.isin(prov, JAVA_BALI)
    # region x asset interaction: the same asset says less about welfare in urban Java-Bali, where nearly
    # everyone has one, and more in the rural outer islands, where it marks the better-off
    reach = np.where(urban, 0.5, 1.6) * np.where(java_bali, 0.85, 1.15)
    out: dict[str, np.ndarray] = {}
    for aset, (loading, share) in _ASSETS.items():
        has = binary(rng, s, loading * reach, share, np.where(urban, 0.15, -0.1))
        if aset.needs_electricity:
            has &= electric
        out[aset.field] = has
    out[rc.Aset.TABUNG_GAS.field] = np.isin(fuel, [2, 3])  # skip rule: a 5.5/12 kg tank iff cooking with it
    out["lahan_lain"] = binary(rng, s, 0.3, 0.30, np.where(urban, -0.9, 0.1))
    out["rumah_lain"] = binary(rng, s, 1.2, 0.07)
    pig_culture = np.isin(np.array(nm.CULTURES)[culture], _PIG_CULTURES)
    for animal, (share, mean) in _LIVESTOCK.items():
        p = np.where(urban, share * 0.2, share * 1.6)
        if animal is rc.Ternak.BABI:
            p = np.where(pig_culture, 0.25, 0.0) * np.where(urban, 0.3, 1.0)
        owns = rng.random(nf) < p
        out[animal.field] = np.where(owns, 1 + rng.poisson(mean - 1, nf), 0).astype(np.int16)
    out["internet"] = binary(rng, s, 1.2, 0.62, np.where(urban, 0.3, -0.3))
    out["rekening_bank"] = binary(rng, s, 1.3, 0.52)
    poor_signal = -s
    daya = dwelling["daya_listrik"]
    out[rc.ProgramBansos.PKH.field] = binary(rng, poor_signal, 1.4, 0.09)
    out[rc.ProgramBansos.SEMBAKO.field] = binary(rng, poor_signal, 1.3, 0.18)
    out[rc.ProgramBansos.BLT_DESA.field] = binary(rng, poor_signal, 1.0, 0.05) & ~urban
    out[rc.ProgramBansos.SUBSIDI_LISTRIK.field] = (daya >= 1) & (daya <= 2)
    out[rc.ProgramBansos.BANTUAN_PEMDA.field] = binary(rng, poor_signal, 1.0, 0.03)
    out[rc.ProgramBansos.SUBSIDI_PUPUK.field] = binary(rng, poor_signal, 0.3, 0.15) & ~urban
    out[rc.ProgramBansos.SUBSIDI_LPG.field] = fuel == 4
    return out


def jkn_segment(
    rng: np.random.Generator,
    s: np.ndarray,
    head_status: np.ndarray,
    head_age: np.ndarray,
    fam: np.ndarray,
    coverage: float,
) -> tuple[np.ndarray, np.ndarray]:
    """BPJS segment per person (0 none, 1 PBI APBN, 2 PBI APBD, 3 PPU, 4 PBPU, 5 BP) and jaminan code.

    The family's segment follows welfare (PBI for the poor) and the head's job; a few members are
    uncovered on their own.
    """
    nf, n = len(s), len(fam)
    pbi = binary(rng, -s, 1.3, 0.36)
    ppu = ~pbi & np.isin(head_status, [4, 5]) & (rng.random(nf) < 0.75)
    pbpu = ~pbi & ~ppu & (rng.random(nf) < 0.72)
    fam_segment = np.select(
        [pbi & (rng.random(nf) < 0.2), pbi, ppu, pbpu & (head_age >= 60) & (head_status == 0)],
        [2, 1, 3, 5],
        np.where(pbpu, 4, 0),
    )
    segment = np.where(rng.random(n) < (1 - coverage) * 0.5, 0, fam_segment[fam]).astype(np.int8)
    jamkes = np.array([5, 1, 1, 3, 2, 2], dtype=np.int8)[segment]
    return segment, jamkes
