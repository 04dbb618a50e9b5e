"""Every knob of the synthetic population, with the figure each default comes from.

Rates of dirt are per source row unless said otherwise. Citations name the domain file
(``shared/domain/DTSEN.md``) section or the public statistic; *(assumption)* marks a value chosen for
realism where no public figure exists, so users know which numbers to revisit with real data.
"""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field

POVERTY_LINE = 609_160  # Rp per capita per month, March 2025 (DTSEN.md section 5)

# Poverty rate (%) per province, BPS March 2025 release, rounded *(reading of BPS tables from memory;
# recheck against the official table before using the generator for policy work)*.
PROVINCE_POVERTY_RATE: dict[str, float] = {
    "11": 12.3,
    "12": 7.5,
    "13": 5.4,
    "14": 6.4,
    "15": 7.2,
    "16": 10.5,
    "17": 13.4,
    "18": 10.0,
    "19": 4.5,
    "21": 4.8,
    "31": 4.3,
    "32": 7.0,
    "33": 9.5,
    "34": 10.2,
    "35": 9.5,
    "36": 5.6,
    "51": 3.7,
    "52": 11.8,
    "53": 18.6,
    "61": 6.3,
    "62": 5.0,
    "63": 4.0,
    "64": 5.6,
    "65": 5.8,
    "71": 6.9,
    "72": 11.0,
    "73": 7.6,
    "74": 10.6,
    "75": 13.3,
    "76": 10.7,
    "81": 15.8,
    "82": 6.0,
    "91": 17.8,
    "92": 20.7,
    "93": 17.1,
    "94": 28.9,
    "95": 30.0,
    "96": 17.6,
}


class WelfareParams(BaseModel):
    """Coefficients of the true log per-capita consumption model (see docs/synthetic-data.md)."""

    gini_target: float = Field(0.375, description="Gini of per-capita consumption, Sep 2024 (DTSEN.md s5)")
    urban_effect: float = Field(
        0.0, description="Urban premium beyond composition; 0 reproduces the BPS urban/rural gap (tuned)"
    )
    size_elasticity: float = Field(-0.55, description="Effect of log family size (economies of scale)")
    child_share_effect: float = Field(-0.35, description="Share of members under 15")
    elderly_share_effect: float = Field(-0.10, description="Share of members 65+")
    female_head_effect: float = Field(-0.06, description="Female-headed family")
    latent_ses_effect: float = Field(
        0.22, description="Unobserved family socio-economic status (also drives education)"
    )
    kabupaten_sd: float = Field(0.10, description="Std. dev. of kabupaten/kota effects around the province")


class DirtParams(BaseModel):
    """Data-quality problems of one field-collected source (rates per row)."""

    nik_missing: float = 0.0
    nik_transposed: float = 0.0
    nik_typo: float = 0.0
    nik_excel: float = 0.0
    nik_truncated: float = 0.0
    nik_ganda: float = 0.0
    kk_invalid: float = 0.0
    name_variant: float = 0.0
    name_title: float = 0.0
    name_typo: float = 0.0
    date_swap: float = 0.0
    date_default: float = 0.0
    date_year_typo: float = 0.0
    duplicate_row: float = 0.0
    region_dotted: float = 0.0


class SynthParams(BaseModel):
    """Everything ``dtsen synth`` generates from; the manifest records the values used."""

    reference_date: date = Field(date(2026, 3, 31), description="'Now': the register date of SIAK")
    regsosek_date: date = Field(date(2022, 10, 31), description="Regsosek 2022 field date (Oct-Nov 2022)")
    dtks_date: date = Field(date(2023, 12, 31), description="Last DTKS verification the export reflects")
    p3ke_date: date = Field(date(2022, 6, 30), description="P3KE built from BKKBN family data 2021-22")
    chunk_persons: int = Field(150_000, description="Persons generated per chunk (memory bound)")

    family_size_probs: list[float] = Field(
        [0.20, 0.22, 0.22, 0.18, 0.10, 0.045, 0.020, 0.010, 0.005],
        description="P(KK size = 1..9); mean ~3.05 persons per KK (DTSEN.md s1: 3.04)",
    )
    death_rate_since_regsosek: float = Field(
        0.024, description="Deaths since Regsosek per living person (CDR ~6.5 per 1000 a year x 3.4 years)"
    )
    split_since_regsosek: float = Field(
        0.05, description="Share of young families that left a parent KK since 2022 *(assumption)*"
    )
    regsosek_split_unit: float = Field(
        0.35, description="Co-resident married children recorded as a split unit (kode KK 2)"
    )
    moved_since_regsosek: float = Field(
        0.03, description="Families that moved kecamatan since 2022 (~1%/yr, SUPAS)"
    )
    lifetime_migrant: float = Field(
        0.12, description="Adults whose NIK kecamatan (first registration) differs from home"
    )
    regsosek_coverage: float = Field(0.96, description="Families Regsosek reached (target 85.0 M families)")
    unregistered_share: float = Field(
        0.0,
        ge=0.0,
        le=1.0,
        description="Share of the families Regsosek did not reach that no DTKS, P3KE, PLN, vehicle or land "
        "record names either (only SIAK knows them: unrankable, `tanpa_observasi`); at least one a chunk "
        "when above 0, so a small test city shows the unranked path *(assumption; 0 leaves it to chance)*",
    )
    siak_death_reported: float = Field(
        0.80, description="Deaths already recorded in SIAK (the rest still 'alive')"
    )
    siak_move_reported: float = Field(
        0.75, description="Moves already recorded in SIAK (the rest at the old address)"
    )
    dtks_inclusion_by_decile: list[float] = Field(
        [0.80, 0.78, 0.72, 0.62, 0.35, 0.22, 0.12, 0.07, 0.04, 0.02],
        description="P(family in DTKS | true national desil 1..10): bottom ~40% plus leakage *(assumption)*",
    )
    dtks_dead_active: float = Field(
        0.017, description="Share of DTKS rows that are dead people (1.69 M of ~99 M, s3)"
    )
    p3ke_pmt_noise_sd: float = Field(
        0.45,
        description="Error of the old district PMT behind P3KE's desil_kesejahteraan (it keeps desil 1-4)",
    )
    susenas_sample_rate: float = Field(
        0.015, description="Household sample fraction (Susenas: 345k of ~75M households)"
    )
    consumption_measurement_sd: float = Field(
        0.18, description="Log measurement error of survey consumption *(assumption)*"
    )
    pln_holder_not_member: float = Field(
        0.12, description="PLN accounts held by someone outside the family (landlords, previous owners)"
    )
    jkn_coverage: float = Field(0.95, description="Persons with any JKN membership (BPJS, 2025 ~98% target)")

    siak: DirtParams = Field(
        default_factory=lambda: DirtParams(name_typo=0.004, name_title=0.01, date_default=0.002),
        description="SIAK: clean but not perfect *(assumption)*",
    )
    regsosek: DirtParams = Field(
        default_factory=lambda: DirtParams(
            nik_missing=0.04,
            nik_transposed=0.005,
            nik_typo=0.01,
            kk_invalid=0.03,
            name_variant=0.06,
            name_title=0.03,
            name_typo=0.02,
            date_swap=0.01,
            date_default=0.03,
            date_year_typo=0.005,
        ),
        description="Regsosek: door-to-door, NIK copied from the KK card *(assumption)*",
    )
    dtks: DirtParams = Field(
        default_factory=lambda: DirtParams(
            nik_missing=0.03,
            nik_transposed=0.015,
            nik_typo=0.02,
            nik_excel=0.02,
            nik_truncated=0.015,
            nik_ganda=0.001,
            kk_invalid=0.15,
            name_variant=0.12,
            name_title=0.05,
            name_typo=0.04,
            date_swap=0.02,
            date_default=0.04,
            date_year_typo=0.01,
            duplicate_row=0.05,
            region_dotted=0.3,
        ),
        description=(
            "DTKS: invalid NIK ~10% (10.9 M of ~99 M), invalid KK ~15% (16.4 M), NIK ganda ~0.1% (86 k), "
            "duplicates ~5% (21 M deactivated 2021) (DTSEN.md s3)"
        ),
    )
    p3ke: DirtParams = Field(
        default_factory=lambda: DirtParams(
            nik_missing=0.02,
            nik_transposed=0.01,
            nik_typo=0.01,
            nik_excel=0.01,
            kk_invalid=0.06,
            name_variant=0.08,
            name_title=0.03,
            name_typo=0.03,
            date_swap=0.015,
            date_default=0.03,
            region_dotted=1.0,
        ),
        description="P3KE: BKKBN family data, padanan with Dukcapil partly done *(assumption)*",
    )
    admin: DirtParams = Field(
        default_factory=lambda: DirtParams(
            nik_missing=0.02, nik_typo=0.005, name_variant=0.05, name_typo=0.01
        ),
        description=(
            "PLN/BPJS/vehicle/land registries: holder NIK sometimes missing or mistyped *(assumption)*"
        ),
    )
    welfare: WelfareParams = Field(default_factory=WelfareParams)
