"""The true synthetic population of one chunk of kabupaten/kota: families (KK), members, welfare,
housing and assets, and what changed since Regsosek 2022 (deaths, births, moves, split families).

Everything is vectorized over the chunk with NumPy; the only Python loops run over kabupaten or over
the few rows that need a repair. Source exports and their dirt are derived from this truth elsewhere
(``sources.py``), so nothing here knows how an agency spells a column.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np
import polars as pl
from scipy.special import ndtr, ndtri

from dtsen.reference import codes as rc
from dtsen.reference import regions
from dtsen.synth import names as nm
from dtsen.synth.calibration import Calibration
from dtsen.synth.geography import hash_normal, slice_codes, slice_int, village_frame
from dtsen.synth.params import POVERTY_LINE, SynthParams

EPOCH = date(1970, 1, 1)
# Roles inside a family (internal; mapped to the Regsosek and SIAK code lists on output).
HEAD, SPOUSE, CHILD, CHILD_IN_LAW, GRANDCHILD, PARENT, OTHER = range(7)
ROLE_TO_HUBUNGAN = np.array([1, 2, 3, 4, 5, 6, 8], dtype=np.int8)
NON_NATIVE_SERIAL_BASE = 5000  # serials of NIKs first registered outside the chunk: 5000 + 9*chunk + rank
NON_NATIVE_BAND = 9


def days(d: date) -> int:
    return (d - EPOCH).days


def to_date(day_numbers: np.ndarray) -> np.ndarray:
    return day_numbers.astype("datetime64[D]")


@dataclass
class Population:
    """Truth of one chunk: one row per family and per person (living and recently dead)."""

    families: dict[str, np.ndarray] = field(default_factory=dict)
    persons: dict[str, np.ndarray] = field(default_factory=dict)

    def families_frame(self) -> pl.DataFrame:
        return pl.DataFrame(self.families)

    def persons_frame(self) -> pl.DataFrame:
        return pl.DataFrame(self.persons)


def _categorical(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One draw per row from a (rows x K) probability matrix."""
    cum = np.cumsum(probs, axis=1)
    cum /= cum[:, -1:]
    return (rng.random((probs.shape[0], 1)) > cum).sum(axis=1).clip(0, probs.shape[1] - 1)


def _ordered(
    rng: np.random.Generator,
    signal: np.ndarray,
    loading: float,
    shares: list[float],
    shift: np.ndarray | float = 0.0,
) -> np.ndarray:
    """Category index (worst..best) from a latent ``loading*signal + noise`` cut at the target shares.

    The latent is standardised so the marginal shares match ``shares`` when ``signal`` is ~N(0,1); the
    loading sets how well welfare predicts the item (as imperfectly as in real PMT data).
    """
    latent = (loading * signal + rng.standard_normal(signal.shape[0])) / np.sqrt(1.0 + loading**2) + shift
    cuts = ndtri(np.clip(np.cumsum(shares)[:-1] / np.sum(shares), 1e-9, 1 - 1e-9))
    return np.searchsorted(cuts, latent)


def _binary(
    rng: np.random.Generator, signal: np.ndarray, loading: float, share: float, shift=0.0
) -> np.ndarray:
    return _ordered(rng, signal, loading, [1.0 - share, share], shift) == 1


EASTERN = {"53", "81", "82", "91", "92", "93", "94", "95", "96"}
WOOD_BUILDING = EASTERN | {"61", "62", "63", "64", "65", "71", "72", "74", "75", "76", "14", "15", "21"}


def generate_chunk(
    kab: pl.DataFrame, chunk_index: int, params: SynthParams, calibration: Calibration, seed: int
) -> Population:
    """Generate the population of the kabupaten in ``kab`` (columns ``kode``, ``kode_prov``, ``n``)."""
    rng = np.random.default_rng([seed, chunk_index, 101])
    ref = params.reference_date
    kab_codes = kab["kode"].to_list()
    villages = village_frame(kab_codes)

    # ---- families: sizes and places --------------------------------------------------------------
    probs = np.asarray(params.family_size_probs, dtype=float)
    probs /= probs.sum()
    sizes, fam_vil = [], []
    for i, n in enumerate(kab["n"].to_list()):
        if n <= 0:
            continue
        draw = rng.choice(np.arange(1, len(probs) + 1), size=int(n / 2.6) + 16, p=probs)
        total = np.cumsum(draw)
        k = int(np.searchsorted(total, n))
        draw = draw[: k + 1].copy()
        draw[-1] -= total[k] - n
        vil = villages.for_kab(i)
        weights = villages.weight[vil]
        sizes.append(draw)
        fam_vil.append(rng.choice(vil, size=len(draw), p=weights / weights.sum()))
    size = np.concatenate(sizes).astype(np.int32)
    vil_idx = np.concatenate(fam_vil)
    nf = len(size)
    urban = villages.urban[vil_idx]
    kode_desa = villages.kode[vil_idx]
    prov = slice_codes(kode_desa, 0, 2)
    prov_int = slice_int(kode_desa, 0, 2)
    kab_int = slice_int(kode_desa, 0, 4)
    culture = nm.draw_culture(rng, prov)
    ses = rng.standard_normal(nf)  # unobserved socio-economic status of the family

    # ---- heads ---------------------------------------------------------------------------------
    has_spouse = np.where(size == 1, False, rng.random(nf) < np.where(size == 2, 0.72, 0.88))
    u = rng.random(nf)
    single_age = np.where(
        u < 0.45,
        rng.uniform(19, 35, nf),
        np.where(u < 0.85, rng.uniform(60, 88, nf), rng.uniform(35, 60, nf)),
    )
    head_age = np.where(size == 1, single_age, 21 + 57 * rng.beta(2.2, 3.4, nf))
    head_male_p = np.where(has_spouse, 0.97, np.where(size == 1, np.where(head_age < 35, 0.6, 0.3), 0.25))
    head_male = rng.random(nf) < head_male_p

    # ---- members -------------------------------------------------------------------------------
    fam = np.repeat(np.arange(nf), size)
    starts = np.concatenate([[0], np.cumsum(size)[:-1]])
    pos = np.arange(len(fam)) - np.repeat(starts, size)
    n_living = len(fam)
    ha = head_age[fam]
    r = rng.random(n_living)
    older = ha >= 50
    extra_role = np.where(
        older,
        np.select([r < 0.22, r < 0.28, r < 0.30, r < 0.33], [GRANDCHILD, CHILD_IN_LAW, PARENT, OTHER], CHILD),
        np.select([r < 0.07, r < 0.10], [PARENT, OTHER], CHILD),
    )
    role = np.where(pos == 0, HEAD, np.where((pos == 1) & has_spouse[fam], SPOUSE, extra_role)).astype(
        np.int8
    )

    male = np.empty(n_living, dtype=bool)
    male_p = np.select(
        [role == CHILD, role == GRANDCHILD, role == PARENT, role == CHILD_IN_LAW],
        [0.51, 0.51, 0.35, 0.3],
        0.5,
    )
    male[:] = rng.random(n_living) < male_p
    male[role == HEAD] = head_male
    male[role == SPOUSE] = ~head_male[fam[role == SPOUSE]]

    spouse_age = np.clip(head_age + np.where(head_male, -3.5, 3.5) + rng.normal(0, 3.5, nf), 17, 95)
    mother_age = np.where(has_spouse & head_male, spouse_age, head_age)
    age = np.select(
        [
            role == HEAD,
            role == SPOUSE,
            role == CHILD,
            role == GRANDCHILD,
            role == CHILD_IN_LAW,
            role == PARENT,
        ],
        [
            ha,
            spouse_age[fam],
            rng.random(n_living) ** 0.9 * np.clip(mother_age[fam] - 17, 0.3, 38),
            rng.uniform(0, 1, n_living) * np.clip(ha - 40, 1, 20),
            np.clip(ha - 25 + rng.normal(0, 4, n_living), 17, 60),
            np.clip(ha + 26 + rng.normal(0, 4, n_living), 40, 98),
        ],
        rng.uniform(3, 75, n_living),
    )

    # ---- the recently dead (died between Regsosek and now), attached to families --------------------
    n_dead = round(n_living * params.death_rate_since_regsosek)
    widowed = ~has_spouse & (head_age >= 40) & (size <= 6)
    kind = rng.random(n_dead)
    w_spouse = widowed.astype(float)
    w_parent = ((head_age >= 30) & (head_age <= 70)).astype(float)
    w_any = np.ones(nf)
    dead_fam = np.concatenate(
        [
            rng.choice(nf, size=int((kind < 0.45).sum()), p=w_spouse / w_spouse.sum(), replace=False)
            if w_spouse.sum() >= (kind < 0.45).sum()
            else rng.choice(nf, size=int((kind < 0.45).sum()), p=w_any / nf),
            rng.choice(nf, size=int(((kind >= 0.45) & (kind < 0.9)).sum()), p=w_parent / w_parent.sum()),
            rng.choice(nf, size=int((kind >= 0.9).sum()), p=w_any / nf),
        ]
    )
    nd = len(dead_fam)
    dead_role = np.concatenate(
        [
            np.full(int((kind < 0.45).sum()), SPOUSE),
            np.full(int(((kind >= 0.45) & (kind < 0.9)).sum()), PARENT),
            np.full(int((kind >= 0.9).sum()), CHILD),
        ]
    ).astype(np.int8)
    death_day = rng.integers(days(params.regsosek_date) + 1, days(ref) + 1, nd)
    years_ago = (days(ref) - death_day) / 365.25
    dead_age_now = np.select(
        [dead_role == SPOUSE, dead_role == PARENT],
        [
            head_age[dead_fam] + rng.normal(1.5, 4, nd),
            np.clip(head_age[dead_fam] + 27 + rng.normal(0, 4, nd), 55, 104),
        ],
        rng.uniform(0, 30, nd),
    )
    dead_age_now = np.maximum(dead_age_now, years_ago + 0.1)
    dead_male = np.where(dead_role == SPOUSE, ~head_male[dead_fam], rng.random(nd) < 0.55)

    fam = np.concatenate([fam, dead_fam])
    role = np.concatenate([role, dead_role])
    male = np.concatenate([male, dead_male])
    age = np.concatenate([age, dead_age_now])
    alive = np.concatenate([np.ones(n_living, bool), np.zeros(nd, bool)])
    death = np.concatenate([np.full(n_living, -1, np.int64), death_day])
    order = np.lexsort((np.where(alive, 0, 1), role, fam))  # keep families contiguous, head first
    fam, role, male, age, alive, death = (a[order] for a in (fam, role, male, age, alive, death))
    n = len(fam)
    birth = (days(ref) - age * 365.25).astype(np.int64)
    birth_year = 1970 + birth // 365.25
    age_int = np.floor(age).astype(np.int32)
    age_2022 = (days(params.regsosek_date) - birth) / 365.25
    head_of = np.flatnonzero(role == HEAD)
    if len(head_of) != nf or not np.all(np.diff(fam[head_of]) > 0):  # pragma: no cover - invariant
        raise RuntimeError("every family must have exactly one head, listed first")

    # ---- marital status, religion --------------------------------------------------------------
    r = rng.random(n)
    single_head_status = np.where(
        age < 28,
        np.where(r < 0.85, 1, 3),
        np.where(male, np.select([r < 0.5, r < 0.8], [4, 3], 1), np.select([r < 0.7, r < 0.9], [4, 3], 1)),
    )
    kawin = np.select(
        [
            (role == HEAD) & has_spouse[fam],
            role == HEAD,
            (role == SPOUSE) | (role == CHILD_IN_LAW),
            role == PARENT,
            age < 19,
        ],
        [2, single_head_status, 2, np.where(r < 0.75, 4, 2), 1],
        np.select([r < 0.8, r < 0.95], [1, 2], 3),
    ).astype(np.int8)
    kawin[(role == HEAD) & ~alive] = 2
    religion = _religion(rng, culture[fam])

    # ---- education -----------------------------------------------------------------------------
    u_fam = ses[fam]
    urb = urban[fam]
    cohort = np.select(
        [birth_year < 1960, birth_year < 1970, birth_year < 1980, birth_year < 1990, birth_year < 2000],
        [-0.9, -0.4, 0.0, 0.45, 0.8],
        1.0,
    )
    prov_edu = 0.15 * hash_normal(prov_int, 5)[fam]
    latent = cohort + 0.55 * u_fam + 0.35 * urb + prov_edu + rng.normal(0, 0.85, n)
    ijazah = np.searchsorted(np.array([-1.3, -0.05, 0.55, 1.75, 2.05, 2.75]), latent).astype(np.int8)
    cap = np.select([age < 13, age < 16, age < 19, age < 22, age < 24], [0, 1, 2, 3, 4], 6)
    ijazah = np.minimum(ijazah, cap).astype(np.int8)
    p_school = np.select(
        [age < 7, age < 13, age < 16, age < 19, age < 25],
        [
            np.where(age >= 6, 0.45, 0.0),
            0.985,
            0.90 + 0.04 * np.tanh(u_fam),
            _phi(0.55 + 0.5 * u_fam + 0.3 * urb),
            _phi(-0.85 + 0.6 * u_fam + 0.3 * urb),
        ],
        0.0,
    )
    in_school = (rng.random(n) < p_school) & alive
    level_choice = rng.random(n)
    jenjang_school = np.select(
        [age < 13, age < 16, age < 19],
        [
            np.where(level_choice < 0.2, rc.JenjangPendidikan.MI, rc.JenjangPendidikan.SD),
            np.where(level_choice < 0.25, rc.JenjangPendidikan.MTS, rc.JenjangPendidikan.SMP),
            np.select(
                [level_choice < 0.35, level_choice < 0.47],
                [rc.JenjangPendidikan.SMK, rc.JenjangPendidikan.MA],
                rc.JenjangPendidikan.SMA,
            ),
        ],
        np.where(level_choice < 0.2, rc.JenjangPendidikan.D3, rc.JenjangPendidikan.D4_S1),
    )
    jenjang_done = np.array(
        [
            rc.JenjangPendidikan.SD,
            rc.JenjangPendidikan.SD,
            rc.JenjangPendidikan.SMP,
            rc.JenjangPendidikan.SMA,
            rc.JenjangPendidikan.D3,
            rc.JenjangPendidikan.D4_S1,
            rc.JenjangPendidikan.S2,
        ]
    )[ijazah]
    jenjang_done = np.where((ijazah == 3) & (level_choice < 0.35), rc.JenjangPendidikan.SMK, jenjang_done)
    never = (~in_school) & (ijazah == 0) & ((latent < -1.9) | (age < 7))
    partisipasi = np.where(in_school, 1, np.where(never, 0, 2)).astype(np.int8)
    jenjang = np.where(in_school, jenjang_school, np.where(never, 0, jenjang_done)).astype(np.int8)
    grade = np.where(
        in_school,
        np.clip(age_int - np.select([age < 13, age < 16, age < 19], [6, 12, 15], 18), 1, 6),
        np.where(never, 0, np.select([jenjang_done <= 5], [6], 3)),
    )
    pendidikan_siak = np.select(
        [ijazah == 0, ijazah == 1, ijazah == 2, ijazah == 3, ijazah == 4, ijazah == 5],
        [np.where(never | (age < 7), 1, 2), 3, 4, 5, np.where(level_choice < 0.4, 6, 7), 8],
        np.where(level_choice < 0.08, 10, 9),
    ).astype(np.int8)

    # ---- work ----------------------------------------------------------------------------------
    p_work = np.where(
        male,
        np.select([age < 15, age < 20, age < 60, age < 70], [0, 0.35, 0.88, 0.6], 0.3),
        np.select([age < 15, age < 20, age < 60, age < 70], [0, 0.22, 0.55, 0.3], 0.12),
    ) * np.where(in_school, 0.15, 1.0)
    works = (rng.random(n) < p_work) & alive
    agri_p = np.where(urb, 0.08, 0.50) - 0.08 * np.clip(ijazah - 2, 0, 4)
    is_agri = rng.random(n) < agri_p
    agri_sector = rng.choice(np.arange(1, 8), size=n, p=[0.45, 0.12, 0.25, 0.07, 0.03, 0.06, 0.02])
    nonagri_codes = np.arange(8, 27)
    nonagri_p = np.array(
        [
            0.015,
            0.17,
            0.003,
            0.004,
            0.10,
            0.30,
            0.07,
            0.10,
            0.02,
            0.02,
            0.005,
            0.03,
            0.05,
            0.06,
            0.025,
            0.04,
            0.02,
            0.0005,
            0.005,
        ]
    )
    tilt = np.zeros((n, len(nonagri_codes)))
    educated = np.clip(ijazah - 3, 0, 3)[:, None]
    for j, code in enumerate(nonagri_codes):
        if code in (16, 17, 20, 21, 22):
            tilt[:, j] = 0.8 * educated[:, 0]
    sector_nonagri = nonagri_codes[_categorical(rng, nonagri_p[None, :] * np.exp(tilt))]
    sector = np.where(works, np.where(is_agri, agri_sector, sector_nonagri), 0).astype(np.int8)

    status_agri = np.array([0.30, 0.30, 0.02, 0.08, 0.0, 0.12, 0.0, 0.18])
    status_other = np.array([0.22, 0.08, 0.04, 0.45, 0.01, 0.0, 0.10, 0.10])
    theta = np.array([0.0, 0.1, 0.6, 0.3, 0.5, -0.6, -0.5, -0.3])
    base = np.where(is_agri[:, None], status_agri[None, :], status_other[None, :])
    base = base * np.exp(theta[None, :] * (0.7 * u_fam + 0.25 * (ijazah - 3))[:, None])
    base[:, 7] *= np.where(male, 0.5, 2.0)
    status = (_categorical(rng, base) + 1).astype(np.int8)
    public = np.isin(sector, [20])
    teacher_health = np.isin(sector, [21, 22])
    status = np.where(public, np.where(rng.random(n) < 0.85, 5, 4), status)
    status = np.where(teacher_health & (rng.random(n) < np.where(ijazah >= 4, 0.45, 0.08)), 5, status)
    status = np.where(works, status, 0).astype(np.int8)
    hours = np.where(
        works,
        np.clip(np.where(np.isin(status, [4, 5]), rng.normal(43, 6, n), rng.normal(34, 12, n)), 1, 98),
        0,
    ).astype(np.int16)
    pekerjaan_siak = _siak_occupation(rng, works, sector, status, in_school, male, age)
    own_business = works & np.isin(status, [1, 2, 3])
    paid_workers = np.where(status == 3, rng.integers(1, 6, n), 0).astype(np.int16)
    unpaid_workers = np.where(status == 2, rng.integers(1, 3, n), 0).astype(np.int16)
    omzet = np.where(
        own_business, 1 + np.searchsorted([0.6, 1.4, 2.0], u_fam + rng.normal(0, 0.7, n)), 0
    ).astype(np.int8)
    npwp = works & (
        rng.random(n) < np.where(np.isin(status, [4, 5]), 0.25 + 0.12 * np.clip(ijazah - 2, 0, 4), 0.05)
    )

    # ---- health ----------------------------------------------------------------------------------
    p_dis = np.select([age < 18, age < 60, age < 75], [0.015, 0.025, 0.12], 0.30)
    disabled = rng.random(n) < p_dis
    difficulty = np.ones((n, len(rc.FungsiTubuh)), dtype=np.int8)
    domain_p = np.where(
        (age >= 60)[:, None],
        [[0.22, 0.18, 0.35, 0.05, 0.03, 0.01, 0.03, 0.08, 0.05]],
        [[0.15, 0.12, 0.25, 0.08, 0.15, 0.07, 0.10, 0.05, 0.03]],
    )
    first = _categorical(rng, domain_p)
    severity = np.where(rng.random(n) < 0.25, 4, 3)
    rows = np.flatnonzero(disabled)
    difficulty[rows, first[rows]] = severity[rows]
    mild = (age >= 60) & ~disabled & (rng.random(n) < 0.25)
    difficulty[np.flatnonzero(mild), 0] = 2
    p_chronic = np.select([age < 30, age < 45, age < 60], [0.02, 0.06, 0.15], 0.32)
    chronic = np.where(
        rng.random(n) < p_chronic,
        rng.choice(
            np.arange(1, 18),
            size=n,
            p=_norm([35, 12, 6, 8, 13, 3, 4, 2, 2, 0.2, 0.3, 8, 0.5, 0.3, 0.3, 0.4, 5]),
        ),
        0,
    ).astype(np.int8)
    pregnant = (~male) & alive & (kawin == 2) & (age >= 15) & (age < 50) & (rng.random(n) < 0.06)

    # ---- welfare (true per-capita consumption) --------------------------------------------------
    wp = params.welfare
    living = alive.astype(float)
    n_child = np.bincount(fam, weights=living * (age < 15), minlength=nf)
    n_old = np.bincount(fam, weights=living * (age >= 65), minlength=nf)
    n_workers = np.bincount(fam, weights=living * works, minlength=nf)
    h_edu = ijazah[head_of]
    h_status = status[head_of]
    h_agri = np.isin(sector[head_of], np.arange(1, 8))
    edu_effect = np.array([-0.25, -0.12, 0.0, 0.15, 0.33, 0.52, 0.72])[h_edu] + 0.15 * urban * (h_edu >= 5)
    status_effect = np.array([-0.12, 0.0, -0.02, 0.30, 0.05, 0.20, -0.25, -0.15, -0.10])[h_status]
    status_effect = np.where((h_status == 0) & (head_age >= 60), -0.05, status_effect)
    other_workers = np.maximum(n_workers - (h_status > 0), 0)
    kab_effect = wp.kabupaten_sd * hash_normal(kab_int, 3)
    log_size = np.log(size)
    struct = (
        kab_effect
        + wp.urban_effect * urban
        + wp.size_elasticity * log_size
        + wp.child_share_effect * n_child / size
        + wp.elderly_share_effect * n_old / size
        + wp.female_head_effect * ~head_male
        + edu_effect
        + status_effect
        + 0.22 * np.log1p(other_workers)
        - 0.08 * h_agri
        - 0.10 * (h_agri & np.isin(prov, list(EASTERN)) & ~urban)
        + wp.latent_ses_effect * ses
        - 0.05 * (log_size * (1 - urban))
    )
    alpha_table = np.zeros(100)
    for code, value in calibration.province_alpha.items():
        alpha_table[int(code)] = value
    alpha = alpha_table[prov_int]
    lnc = alpha + struct + calibration.noise_sd * rng.standard_normal(nf)
    pc_consumption = np.round(np.exp(lnc)).astype(np.int64)
    s = (lnc - calibration.lnc_mean) / calibration.lnc_sd  # standardised welfare for the observables
    desil = (np.searchsorted(calibration.decile_cuts, lnc) + 1).astype(np.int8)

    # ---- housing and assets, drawn from welfare with noise --------------------------------------
    h = _housing(rng, s, urban, prov, size, culture)
    # ---- JKN membership (BPJS segment; 0 = none) --------------------------------------------------
    pbi = _binary(rng, -s, 1.3, 0.36)
    ppu = ~pbi & np.isin(h_status, [4, 5]) & (rng.random(nf) < 0.75)
    pbpu = ~pbi & ~ppu & (rng.random(nf) < 0.72)
    fam_segment = np.select(
        [pbi & (rng.random(nf) < 0.2), pbi, ppu, pbpu & (head_age >= 60) & (h_status == 0)],
        [2, 1, 3, 5],
        np.where(pbpu, 4, 0),
    )
    segment = np.where(rng.random(n) < (1 - params.jkn_coverage) * 0.5, 0, fam_segment[fam]).astype(np.int8)
    jamkes = np.array([5, 1, 1, 3, 2, 2], dtype=np.int8)[segment]
    # ---- dynamics since Regsosek ------------------------------------------------------------------
    moved = rng.random(nf) < params.moved_since_regsosek
    move_day = np.where(moved, rng.integers(days(params.regsosek_date) + 1, days(ref), nf), -1)
    old_vil = _old_villages(rng, villages.kode, prov, nf)
    old_desa = np.where(moved, old_vil, kode_desa)
    move_reported = moved & (rng.random(nf) < params.siak_move_reported)

    young_couple = has_spouse & (head_age >= 20) & (head_age <= 36)
    split_new = (
        young_couple
        & (rng.random(nf) < params.split_since_regsosek / max(young_couple.mean(), 1e-9) * 0.25)
        & ~moved
    )
    parent_family = _parent_families(rng, split_new, head_age, vil_idx, moved)
    split_new &= parent_family >= 0

    # ---- identifiers -------------------------------------------------------------------------------
    fam_kec = slice_codes(kode_desa, 0, 6)
    old_kec = slice_codes(old_desa, 0, 6)
    born_here = (birth > np.where(moved, move_day, 0)[fam]) | (age < 1)
    adult = age >= 17
    migrant = adult & (rng.random(n) < params.lifetime_migrant)
    nik_kec = np.where(moved[fam] & ~born_here, old_kec[fam], fam_kec[fam])
    nik_kec = np.where(migrant, _random_kec(rng, fam_kec[fam], n), nik_kec)
    chunk_kabs = set(kab_codes)
    sex_day_offset = np.where(male, 0, 40)
    nik_serial = _serials(rng, nik_kec, birth, sex_day_offset, chunk_kabs, chunk_index, fam_kec[fam])
    nik_kec = nik_serial[1]
    nik = _compose(nik_kec, birth, sex_day_offset, nik_serial[0])

    kk_issue_now = np.where(
        split_new,
        rng.integers(days(params.regsosek_date) + 1, days(ref), nf),
        np.where(
            move_reported,
            np.minimum(move_day + rng.integers(7, 120, nf), days(ref)),
            # an unchanged family still holds the card Regsosek 2022 saw: issued before the survey
            rng.integers(days(date(2008, 1, 1)), days(params.regsosek_date) - 30, nf),
        ),
    )
    kk_issue_old = np.where(
        moved | split_new,
        rng.integers(days(date(2006, 1, 1)), days(params.regsosek_date) - 30, nf),
        kk_issue_now,
    )
    kk_prefix_now = np.where(moved & ~move_reported, old_kec, fam_kec)
    # one numbering for today's cards and the 2022 cards of movers, so two families never share a number
    mv = np.flatnonzero(moved)
    kk_serial, kk_prefix = _serials(
        rng,
        np.concatenate([kk_prefix_now, old_kec[mv]]),
        np.concatenate([kk_issue_now, kk_issue_old[mv]]),
        np.zeros(nf + len(mv), np.int64),
        chunk_kabs,
        chunk_index,
        np.concatenate([fam_kec, fam_kec[mv]]),
    )
    no_kk_now = _compose(kk_prefix[:nf], kk_issue_now, np.zeros(nf, np.int64), kk_serial[:nf])
    no_kk_old = no_kk_now.copy()
    if len(mv):
        no_kk_old[mv] = _compose(
            kk_prefix[nf:], kk_issue_old[mv], np.zeros(len(mv), np.int64), kk_serial[nf:]
        )
    # families that moved without telling Dukcapil still have the old card there
    no_kk_siak = np.where(moved & ~move_reported, no_kk_old, no_kk_now)
    no_kk_old = np.where(split_new, no_kk_old[np.maximum(parent_family, 0)], no_kk_old)

    # ---- names and places ------------------------------------------------------------------------------
    sex_code = np.where(male, 1, 2).astype(np.int8)
    surname = nm.family_surnames(rng, culture)
    nama = nm.draw_full_names(
        rng,
        sex_code,
        culture[fam],
        birth_year.astype(np.int32),
        family_surname=surname[fam],
        role=role,
    )
    birthplace = _birthplaces(nik_kec)
    alamat, rt, rw = _addresses(rng, urban, nf)
    old_alamat, old_rt, old_rw = _addresses(rng, urban, nf)
    old_alamat = np.where(moved, old_alamat, alamat)

    # ---- Regsosek family units (who was listed with whom in 2022) ------------------------------------
    family_id_base = np.int64(chunk_index) * 100_000_000
    family_id = family_id_base + np.arange(nf, dtype=np.int64)
    person_id = family_id_base + np.arange(n, dtype=np.int64)
    unit = family_id[fam].copy()
    in_parent = split_new[fam]
    unit[in_parent] = family_id[parent_family[fam[in_parent]]]
    role_2022 = ROLE_TO_HUBUNGAN[role].copy()
    role_2022[in_parent] = np.select([role[in_parent] == HEAD, role[in_parent] == SPOUSE], [3, 4], 5)
    split_unit = _regsosek_split_units(rng, fam, role, male, age, params.regsosek_split_unit, nf)
    # inside its own unit the married child is the head, the in-law the spouse, their children children
    role_2022 = np.where(
        split_unit, np.select([role == CHILD, role == CHILD_IN_LAW], [1, 2], 3), role_2022
    ).astype(np.int8)
    status_kk_2022 = np.zeros(n, dtype=np.int8)
    status_kk_2022[split_unit] = 2
    unit = np.where(split_unit, -(family_id[fam] + 1), unit)  # a unit of its own, keyed apart from the family
    has_split = np.zeros(nf, bool)
    has_split[fam[split_unit]] = True
    status_kk_2022 = np.where(~split_unit & has_split[fam], 1, status_kk_2022).astype(np.int8)
    existed_2022 = birth <= days(params.regsosek_date)
    # a split unit shares its parents' dwelling: the enumerator reached both or neither
    covered_unit = _hash_cover(np.where(unit >= 0, unit, -unit - 1), seed, params.regsosek_coverage)

    families = {
        "family_id": family_id,
        "no_kk": no_kk_siak,
        "no_kk_now": no_kk_now,
        "no_kk_2022": no_kk_old,
        "kode_desa": kode_desa,
        "kode_desa_2022": old_desa,
        "urban": urban,
        "culture": np.array(nm.CULTURES)[culture],
        "size": size,
        "pc_consumption": pc_consumption,
        "log_consumption": lnc,
        "poor": pc_consumption < POVERTY_LINE,
        "desil": desil,
        "moved": moved,
        "move_date": np.where(moved, to_date(move_day), np.datetime64("NaT")),
        "move_reported": move_reported,
        "split_since_regsosek": split_new,
        "parent_family_id": np.where(split_new, family_id[np.maximum(parent_family, 0)], -1),
        "alamat": alamat,
        "rt": rt,
        "rw": rw,
        "alamat_2022": old_alamat,
        "rt_2022": np.where(moved, old_rt, rt),
        "rw_2022": np.where(moved, old_rw, rw),
        **h,
    }
    persons = {
        "person_id": person_id,
        "family_id": family_id[fam],
        "regsosek_unit": unit,
        "nik": nik,
        "nama": nama,
        "jenis_kelamin": sex_code,
        "tanggal_lahir": to_date(birth),
        "tempat_lahir": birthplace,
        "umur": age_int,
        "alive": alive,
        "tanggal_meninggal": np.where(alive, np.datetime64("NaT"), to_date(death)),
        "role": role,
        "hubungan": ROLE_TO_HUBUNGAN[role],
        "hubungan_siak": _siak_relationship(rng, role, male),
        "hubungan_2022": role_2022,
        "status_kk_2022": status_kk_2022,
        "in_regsosek": existed_2022 & covered_unit,
        "born_since_regsosek": ~existed_2022,
        "status_kawin": kawin,
        "agama": religion,
        "hamil": pregnant,
        "partisipasi_sekolah": partisipasi,
        "jenjang_pendidikan": jenjang,
        "kelas_tertinggi": grade.astype(np.int8),
        "ijazah_tertinggi": ijazah,
        "pendidikan_siak": pendidikan_siak,
        "bekerja": works,
        "jam_kerja": hours,
        "lapangan_usaha": sector,
        "status_pekerjaan": status,
        "pekerjaan_siak": pekerjaan_siak,
        "punya_npwp": npwp,
        "punya_usaha": own_business,
        "usaha_pekerja_dibayar": paid_workers,
        "usaha_pekerja_tidak_dibayar": unpaid_workers,
        "omzet_usaha": omzet,
        "penyakit_kronis": chronic,
        "segmen_bpjs": segment,
        "jaminan_kesehatan": jamkes,
        "age_2022": age_2022.astype(np.float32),
    }
    for j, dom in enumerate(rc.FungsiTubuh):
        persons[dom.field] = difficulty[:, j]
    return Population(families, persons)


# ---------------------------------------------------------------------------------------------------
def _phi(x: np.ndarray) -> np.ndarray:
    return ndtr(x)


def _norm(weights: list[float]) -> np.ndarray:
    w = np.asarray(weights, dtype=float)
    return w / w.sum()


_RELIGION_BY_CULTURE: dict[str, list[float]] = {
    # Islam, Kristen, Katolik, Hindu, Buddha, Khonghucu, Kepercayaan
    "batak": [0.35, 0.57, 0.07, 0, 0, 0, 0.01],
    "bali": [0.04, 0.01, 0.005, 0.94, 0.005, 0, 0],
    "kristen_timur": [0.08, 0.52, 0.39, 0, 0, 0, 0.01],
    "papua": [0.10, 0.68, 0.21, 0, 0, 0, 0.01],
    "tionghoa": [0.08, 0.30, 0.15, 0, 0.40, 0.07, 0],
    "dayak": [0.30, 0.38, 0.25, 0.05, 0, 0, 0.02],
}
_RELIGION_DEFAULT = [0.975, 0.012, 0.006, 0.002, 0.003, 0.0, 0.002]


def _religion(rng: np.random.Generator, culture_idx: np.ndarray) -> np.ndarray:
    table = np.array([_RELIGION_BY_CULTURE.get(c, _RELIGION_DEFAULT) for c in nm.CULTURES], dtype=float)
    return (_categorical(rng, table[culture_idx]) + 1).astype(np.int8)


def _siak_occupation(rng, works, sector, status, in_school, male, age) -> np.ndarray:
    n = len(works)
    r = rng.random(n)
    worker = np.select(
        [
            status == 5,
            np.isin(sector, [1, 2, 3, 7]) & (status == 6),
            np.isin(sector, [1, 2, 3, 7]),
            np.isin(sector, [4, 5]),
            sector == 6,
            sector == 9,
            sector == 12,
            sector == 13,
            sector == 14,
            sector == 24,
            status == 7,
            status == 4,
            np.isin(status, [1, 2, 3]),
        ],
        [
            np.select([sector == 21, r < 0.70, r < 0.85, r < 0.95], [84, 5, 6, 7], 16),
            20, 9, 11, 10,
            np.where(r < 0.5, 12, 15),
            np.where(r < 0.6, 13, 19),
            np.where(r < 0.7, 8, 88),
            14, 23, 19, 15, 88,
        ],
        89,
    )  # fmt: skip
    idle = np.select(
        [age < 5, in_school, (~male) & (age >= 18), age >= 58],
        [1, 3, np.where(r < 0.8, 2, 1), np.where(r < 0.12, 4, 1)],
        1,
    )
    return np.where(works, worker, idle).astype(np.int8)


def _siak_relationship(rng: np.random.Generator, role: np.ndarray, male: np.ndarray) -> np.ndarray:
    r = rng.random(len(role))
    return np.select(
        [
            role == HEAD,
            role == SPOUSE,
            role == CHILD,
            role == CHILD_IN_LAW,
            role == GRANDCHILD,
            role == PARENT,
        ],
        [1, np.where(male, 2, 3), 4, 5, 6, np.where(r < 0.5, 7, 8)],
        np.where(r < 0.9, 9, 10),
    ).astype(np.int8)


def _housing(rng, s, urban, prov, size, culture) -> dict[str, np.ndarray]:
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
    proof = 1 + _ordered(rng, -s, 0.8, [0.50, 0.15, 0.22, 0.13])
    out["bukti_kepemilikan"] = np.where(tenure == 1, proof, 0).astype(np.int8)
    out["luas_lantai"] = (
        np.clip(np.exp(3.85 + 0.30 * s + 0.12 * np.log(size) + rng.normal(0, 0.38, nf)), 9, 2000)
        .round()
        .astype(np.int32)
    )
    floor = np.array([8, 7, 5, 6, 4, 2, 3, 1])[
        _ordered(rng, s, 1.0, [0.05, 0.01, 0.09, 0.20, 0.06, 0.55, 0.01, 0.03], np.where(wood, -0.25, 0.1))
    ]
    floor = np.where(wood & (floor == 6) & (rng.random(nf) < 0.5), 5, floor)
    out["lantai"] = floor.astype(np.int8)
    wall = np.array([7, 6, 5, 4, 3, 2, 1])[
        _ordered(rng, s, 0.9, [0.005, 0.01, 0.005, 0.05, 0.13, 0.02, 0.78], np.where(wood, -0.9, 0.15))
    ]
    out["dinding"] = wall.astype(np.int8)
    roof = np.array([7, 5, 6, 8, 4, 3, 2, 1])[
        _ordered(rng, s, 0.5, [0.01, 0.003, 0.01, 0.005, 0.10, 0.32, 0.50, 0.05])
    ]
    java_bali = np.isin(prov, ["31", "32", "33", "34", "35", "36", "51"])
    roof = np.where(~java_bali & (roof == 2) & (rng.random(nf) < 0.75), 3, roof)
    out["atap"] = roof.astype(np.int8)
    water = np.array([9, 8, 6, 10, 11, 7, 5, 4, 3, 2, 1])[
        _ordered(
            rng,
            s,
            0.9,
            [0.02, 0.02, 0.04, 0.02, 0.005, 0.06, 0.12, 0.17, 0.10, 0.40, 0.045],
            np.where(urban, 0.4, -0.3),
        )
    ]
    out["sumber_air_minum"] = water.astype(np.int8)
    light = np.array([4, 3, 2, 1])[
        _ordered(rng, s, 0.8, [0.01, 0.015, 0.03, 0.945], np.where(eastern_rural, -1.2, 0.1))
    ]
    out["sumber_penerangan"] = light.astype(np.int8)
    power = 1 + _ordered(rng, s, 1.6, [0.30, 0.42, 0.18, 0.07, 0.03], np.where(urban, 0.2, -0.2))
    out["daya_listrik"] = np.where(light == 1, power, 0).astype(np.int8)
    fuel = np.array([10, 9, 7, 0, 4, 5, 1, 3, 2])[
        _ordered(
            rng, s, 1.0, [0.10, 0.003, 0.01, 0.02, 0.80, 0.004, 0.01, 0.04, 0.013], np.where(urban, 0.5, -0.4)
        )
    ]
    out["bahan_bakar_masak"] = fuel.astype(np.int8)
    toilet = np.array([6, 5, 4, 3, 2, 1])[
        _ordered(rng, s, 0.8, [0.05, 0.005, 0.02, 0.01, 0.07, 0.845], np.where(eastern_rural, -0.7, 0.05))
    ]
    out["fasilitas_bab"] = toilet.astype(np.int8)
    closet = np.array([4, 3, 2, 1])[_ordered(rng, s, 0.8, [0.05, 0.03, 0.02, 0.90])]
    out["jenis_kloset"] = np.where(toilet <= 5, closet, 0).astype(np.int8)
    out["pembuangan_tinja"] = np.where(
        toilet <= 5,
        np.array([5, 3, 4, 6, 2, 1])[
            _ordered(rng, s, 0.8, [0.03, 0.08, 0.10, 0.01, 0.02, 0.76], np.where(urban, 0.3, -0.3))
        ],
        0,
    ).astype(np.int8)

    electric = light <= 3
    asset_spec = {
        rc.Aset.LEMARI_ES: (1.2, 0.55), rc.Aset.AC: (1.5, 0.09), rc.Aset.PEMANAS_AIR: (1.5, 0.04),
        rc.Aset.TELEPON_RUMAH: (1.0, 0.03), rc.Aset.TV_LAYAR_DATAR: (1.3, 0.30), rc.Aset.EMAS_PERHIASAN: (1.2, 0.20),
        rc.Aset.KOMPUTER: (1.4, 0.18), rc.Aset.SEPEDA_MOTOR: (0.8, 0.82), rc.Aset.SEPEDA: (0.1, 0.30),
        rc.Aset.MOBIL: (1.6, 0.11), rc.Aset.PERAHU: (-0.3, 0.02), rc.Aset.PERAHU_MOTOR: (0.0, 0.012),
        rc.Aset.SMARTPHONE: (1.0, 0.86),
    }  # fmt: skip
    for aset, (loading, share) in asset_spec.items():
        has = _binary(rng, s, loading, share, np.where(urban, 0.15, -0.1))
        if aset.needs_electricity:
            has &= electric
        out[aset.field] = has
    out[rc.Aset.TABUNG_GAS.field] = np.isin(fuel, [2, 3])  # skip rule: a 5.5/12 kg tank iff cooking with it
    out["lahan_lain"] = _binary(rng, s, 0.3, 0.30, np.where(urban, -0.9, 0.1))
    out["rumah_lain"] = _binary(rng, s, 1.2, 0.07)
    pig_culture = np.isin(
        np.array(nm.CULTURES)[culture], ["bali", "papua", "kristen_timur", "batak", "dayak"]
    )
    livestock = {
        rc.Ternak.SAPI: (0.09, 3), rc.Ternak.KERBAU: (0.01, 2), rc.Ternak.KUDA: (0.005, 1),
        rc.Ternak.BABI: (0.0, 3), rc.Ternak.KAMBING_DOMBA: (0.12, 4),
    }  # fmt: skip
    for animal, (share, mean) in livestock.items():
        p = np.where(urban, share * 0.2, share * 1.6)
        if animal is rc.Ternak.BABI:
            p = np.where(pig_culture, 0.25, 0.0) * np.where(urban, 0.3, 1.0)
        owns = rng.random(nf) < p
        out[animal.field] = np.where(owns, 1 + rng.poisson(mean - 1, nf), 0).astype(np.int16)
    out["internet"] = _binary(rng, s, 1.2, 0.62, np.where(urban, 0.3, -0.3))
    out["rekening_bank"] = _binary(rng, s, 1.3, 0.52)
    poor_signal = -s
    out[rc.ProgramBansos.PKH.field] = _binary(rng, poor_signal, 1.4, 0.09)
    out[rc.ProgramBansos.SEMBAKO.field] = _binary(rng, poor_signal, 1.3, 0.18)
    out[rc.ProgramBansos.BLT_DESA.field] = _binary(rng, poor_signal, 1.0, 0.05) & ~urban
    out[rc.ProgramBansos.SUBSIDI_LISTRIK.field] = (out["daya_listrik"] >= 1) & (out["daya_listrik"] <= 2)
    out[rc.ProgramBansos.BANTUAN_PEMDA.field] = _binary(rng, poor_signal, 1.0, 0.03)
    out[rc.ProgramBansos.SUBSIDI_PUPUK.field] = _binary(rng, poor_signal, 0.3, 0.15) & ~urban
    out[rc.ProgramBansos.SUBSIDI_LPG.field] = fuel == 4
    return out


def _old_villages(
    rng: np.random.Generator, chunk_villages: np.ndarray, prov: np.ndarray, nf: int
) -> np.ndarray:
    """A previous address: mostly elsewhere in the chunk, sometimes anywhere in Indonesia."""
    everywhere = regions.villages()["kode"].to_numpy().astype(object)
    near = chunk_villages[rng.integers(0, len(chunk_villages), nf)]
    far = everywhere[rng.integers(0, len(everywhere), nf)]
    return np.where(rng.random(nf) < 0.7, near, far)


def _random_kec(rng: np.random.Generator, home_kec: np.ndarray, n: int) -> np.ndarray:
    """First-registration kecamatan of a lifetime migrant: 60% from the same kabupaten, else anywhere."""
    all_kec = regions.kecamatan()["kode"].to_numpy().astype(object)
    # vectorized: pick a random kecamatan index inside the same kabupaten via sorted offsets
    sorted_kec = np.sort(all_kec)
    kab_of_kec = slice_codes(sorted_kec, 0, 4)
    home_kab = slice_codes(home_kec, 0, 4)
    first = np.searchsorted(kab_of_kec, home_kab, side="left")
    last = np.searchsorted(kab_of_kec, home_kab, side="right")
    same = sorted_kec[first + (rng.random(n) * np.maximum(last - first, 1)).astype(np.int64)]
    anywhere = sorted_kec[rng.integers(0, len(sorted_kec), n)]
    return np.where(rng.random(n) < 0.6, same, anywhere)


def _parent_families(rng, split_new, head_age, vil_idx, moved) -> np.ndarray:
    """For each family split off since 2022, an older family in the same village it came from."""
    parent = np.full(len(split_new), -1, dtype=np.int64)
    candidates = np.flatnonzero((head_age >= 45) & ~moved & ~split_new)
    if len(candidates) == 0:
        return parent
    order = np.argsort(vil_idx[candidates], kind="stable")
    cand_sorted = candidates[order]
    cand_vil = vil_idx[cand_sorted]
    kids = np.flatnonzero(split_new)
    lo = np.searchsorted(cand_vil, vil_idx[kids], side="left")
    hi = np.searchsorted(cand_vil, vil_idx[kids], side="right")
    has = hi > lo
    pick = lo + (rng.random(len(kids)) * np.maximum(hi - lo, 1)).astype(np.int64)
    parent[kids[has]] = cand_sorted[pick[has]]
    return parent


def _regsosek_split_units(rng, fam, role, male, age, rate, nf) -> np.ndarray:
    """Married children living with their parents whom Regsosek listed as a separate unit (kode KK 2)."""
    has_inlaw = np.zeros(nf, bool)
    has_inlaw[fam[role == CHILD_IN_LAW]] = True
    chosen = has_inlaw & (rng.random(nf) < rate)
    member = chosen[fam] & ((role == CHILD_IN_LAW) | (role == GRANDCHILD))
    # the married child: the oldest child of the family (opposite sex to the in-law, where there is one)
    is_child = chosen[fam] & (role == CHILD) & (age >= 18)
    idx = np.flatnonzero(is_child)
    if len(idx):
        order = np.lexsort((-age[idx], fam[idx]))
        idx = idx[order]
        first = np.r_[True, fam[idx][1:] != fam[idx][:-1]]
        member[idx[first]] = True
    return member


def _hash_cover(unit: np.ndarray, seed: int, rate: float) -> np.ndarray:
    """Regsosek reached a unit or not: one draw per unit, shared by all its members."""
    from dtsen.synth.geography import hash_uniform

    return hash_uniform(np.abs(unit), seed % 1_000_003 + 17) < rate


def _serials(
    rng, prefix, day_number, day_offset, chunk_kabs, chunk_index, home_kec
) -> tuple[np.ndarray, np.ndarray]:
    """Serials unique per (prefix, encoded date) across every chunk of a run.

    A chunk owns the prefixes of its own kabupaten (serials 0001-4999); a number first registered
    elsewhere gets serial ``5000 + 9*chunk + k`` so chunks generated independently never collide. The
    rare tenth newcomer on one prefix and date in a chunk is re-registered at home instead.
    """
    prefix = prefix.copy()
    n = len(prefix)
    dd = day_number.astype("datetime64[D]")
    y = dd.astype("datetime64[Y]").astype(np.int64) + 1970
    m = (dd.astype("datetime64[M]").astype(np.int64) % 12) + 1
    d = (dd - dd.astype("datetime64[M]")).astype(np.int64) + 1
    ddmmyy = (d + day_offset) * 10000 + m * 100 + (y % 100)
    for _ in range(5):
        native = np.isin(slice_codes(prefix, 0, 4), list(chunk_kabs))
        key = prefix.astype(np.int64) * 1_000_000 + ddmmyy
        serial = np.zeros(n, dtype=np.int64)
        for mask, base in (
            (native, 1),
            (~native, NON_NATIVE_SERIAL_BASE + NON_NATIVE_BAND * (chunk_index % 555)),
        ):
            idx = np.flatnonzero(mask)
            if not len(idx):
                continue
            k = key[idx]
            order = np.argsort(k, kind="stable")
            ks = k[order]
            start = np.r_[True, ks[1:] != ks[:-1]]
            first = np.maximum.accumulate(np.where(start, np.arange(len(ks)), 0))
            rank = np.arange(len(ks)) - first
            serial[idx[order]] = base + rank
        overflow = (
            ~native
            & (serial >= NON_NATIVE_SERIAL_BASE + NON_NATIVE_BAND * (chunk_index % 555) + NON_NATIVE_BAND)
        ) | (native & (serial >= NON_NATIVE_SERIAL_BASE))
        if not overflow.any():
            return serial, prefix
        prefix[overflow] = home_kec[overflow]
    raise RuntimeError("could not assign unique NIK serials (population too dense for one date)")


def _compose(
    prefix: np.ndarray, day_number: np.ndarray, day_offset: np.ndarray, serial: np.ndarray
) -> np.ndarray:
    dd = day_number.astype("datetime64[D]")
    y = dd.astype("datetime64[Y]").astype(np.int64) + 1970
    m = (dd.astype("datetime64[M]").astype(np.int64) % 12) + 1
    d = (dd - dd.astype("datetime64[M]")).astype(np.int64) + 1
    tail = ((d + day_offset) * 10**8 + m * 10**6 + (y % 100) * 10**4 + serial).astype(np.int64)
    return (
        pl.DataFrame({"p": prefix, "t": tail})
        .select(pl.col("p") + pl.col("t").cast(pl.Utf8).str.zfill(10))
        .to_series()
        .to_numpy()
        .astype(object)
    )


def _birthplaces(nik_kec: np.ndarray) -> np.ndarray:
    """Birth place as SIAK writes it: the kabupaten/kota name of first registration, upper case."""
    kab = regions.kabupaten().select("kode", "nama")
    names = {
        k: v.upper().replace("KABUPATEN ", "").replace("KOTA ", "KOTA ").replace("KEPULAUAN ", "KEP. ")
        for k, v in kab.iter_rows()
    }
    keys = slice_codes(nik_kec, 0, 4)
    uniq, inv = np.unique(keys, return_inverse=True)
    table = np.array([names.get(k, "-") for k in uniq], dtype=object)
    return table[inv]


_STREETS = np.array(
    [
        "MERDEKA",
        "SUDIRMAN",
        "DIPONEGORO",
        "GATOT",
        "SUBROTO",
        "AHMAD",
        "YANI",
        "KARTINI",
        "PAHLAWAN",
        "PEMUDA",
        "VETERAN",
        "PATIMURA",
        "SISINGAMANGARAJA",
        "HASANUDDIN",
        "IMAM",
        "BONJOL",
        "TEUKU",
        "UMAR",
        "CUT",
        "NYAK",
        "DIEN",
        "KI",
        "HAJAR",
        "DEWANTARA",
        "MH",
        "THAMRIN",
        "GAJAH",
        "MADA",
        "HAYAM",
        "WURUK",
        "RAYA",
        "CEMPAKA",
        "MAWAR",
        "MELATI",
        "ANGGREK",
        "KENANGA",
        "FLAMBOYAN",
        "MANGGA",
        "RAMBUTAN",
        "NANGKA",
        "SALAK",
        "DURIAN",
        "KELAPA",
        "BERINGIN",
        "CENDANA",
        "SEROJA",
        "DAHLIA",
    ]
)


def _addresses(
    rng: np.random.Generator, urban: np.ndarray, nf: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    street = _STREETS[rng.integers(0, len(_STREETS), nf)]
    number = rng.integers(1, 250, nf)
    dusun = rng.integers(1, 9, nf)
    frame = pl.DataFrame({"s": street, "n": number, "d": dusun, "u": urban})
    alamat = frame.select(
        pl.when(pl.col("u"))
        .then(pl.lit("JL. ") + pl.col("s") + pl.lit(" NO. ") + pl.col("n").cast(pl.Utf8))
        .otherwise(pl.lit("DUSUN ") + pl.col("d").cast(pl.Utf8))
    ).to_series()
    rt = rng.integers(1, 16, nf).astype(np.int16)
    rw = rng.integers(1, 9, nf).astype(np.int16)
    return alamat.to_numpy().astype(object), rt, rw
