"""Personal attributes of the synthetic population: marital status, religion, education, work, health.

Each follows age, sex, birth cohort, urban/rural, province and the family's unobserved status, with the
code lists of Regsosek (and SIAK's own labels where Dukcapil codes differently).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr

from dtsen.reference import codes as rc
from dtsen.synth import names as nm
from dtsen.synth.draws import categorical, norm
from dtsen.synth.geography import hash_normal
from dtsen.synth.household import CHILD, CHILD_IN_LAW, GRANDCHILD, HEAD, PARENT, SPOUSE, Households, Members


def marital_status(rng: np.random.Generator, hh: Households, m: Members) -> np.ndarray:
    """Status kawin (1 single, 2 married, 3 divorced, 4 widowed) consistent with the family's roles."""
    age, male, role = m.age, m.male, m.role
    r = rng.random(m.n)
    single_head_status = np.where(
        age < 28,
        np.where(r < 0.85, 1, 3),
        np.where(male, np.select([r < 0.5, r < 0.8], [4, 3], 1), np.select([r < 0.7, r < 0.9], [4, 3], 1)),
    )
    kawin = np.select(
        [
            (role == HEAD) & hh.has_spouse[m.fam],
            role == HEAD,
            (role == SPOUSE) | (role == CHILD_IN_LAW),
            role == PARENT,
            age < 19,
        ],
        [2, single_head_status, 2, np.where(r < 0.75, 4, 2), 1],
        np.select([r < 0.8, r < 0.95], [1, 2], 3),
    ).astype(np.int8)
    kawin[(role == HEAD) & ~m.alive] = 2
    return kawin


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


def religion(rng: np.random.Generator, culture_idx: np.ndarray) -> np.ndarray:
    """Agama code 1-7 by the cultural region of the family."""
    table = np.array([_RELIGION_BY_CULTURE.get(c, _RELIGION_DEFAULT) for c in nm.CULTURES], dtype=float)
    return (categorical(rng, table[culture_idx]) + 1).astype(np.int8)


@dataclass(frozen=True)
class Education:
    in_school: np.ndarray
    ijazah: np.ndarray  # highest certificate 0-6
    partisipasi: np.ndarray
    jenjang: np.ndarray
    grade: np.ndarray
    pendidikan_siak: np.ndarray


def education(rng: np.random.Generator, hh: Households, m: Members) -> Education:
    """Schooling from birth cohort, urban/rural, province and the family's unobserved status."""
    age, fam, n = m.age, m.fam, m.n
    u_fam = hh.ses[fam]
    urb = hh.urban[fam]
    birth_year = m.birth_year
    cohort = np.select(
        [birth_year < 1960, birth_year < 1970, birth_year < 1980, birth_year < 1990, birth_year < 2000],
        [-0.9, -0.4, 0.0, 0.45, 0.8],
        1.0,
    )
    prov_edu = 0.15 * hash_normal(hh.prov_int, 5)[fam]
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
            ndtr(0.55 + 0.5 * u_fam + 0.3 * urb),
            ndtr(-0.85 + 0.6 * u_fam + 0.3 * urb),
        ],
        0.0,
    )
    in_school = (rng.random(n) < p_school) & m.alive
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
    grade = np.where(
        in_school,
        np.clip(m.age_int - np.select([age < 13, age < 16, age < 19], [6, 12, 15], 18), 1, 6),
        np.where(never, 0, np.select([jenjang_done <= 5], [6], 3)),
    )
    pendidikan_siak = np.select(
        [ijazah == 0, ijazah == 1, ijazah == 2, ijazah == 3, ijazah == 4, ijazah == 5],
        [np.where(never | (age < 7), 1, 2), 3, 4, 5, np.where(level_choice < 0.4, 6, 7), 8],
        np.where(level_choice < 0.08, 10, 9),
    ).astype(np.int8)
    return Education(
        in_school=in_school,
        ijazah=ijazah,
        partisipasi=np.where(in_school, 1, np.where(never, 0, 2)).astype(np.int8),
        jenjang=np.where(in_school, jenjang_school, np.where(never, 0, jenjang_done)).astype(np.int8),
        grade=grade,
        pendidikan_siak=pendidikan_siak,
    )


@dataclass(frozen=True)
class Work:
    works: np.ndarray
    sector: np.ndarray  # lapangan usaha 1-26, 0 = not working
    status: np.ndarray  # status pekerjaan 1-8, 0 = not working
    hours: np.ndarray
    pekerjaan_siak: np.ndarray
    own_business: np.ndarray
    paid_workers: np.ndarray
    unpaid_workers: np.ndarray
    omzet: np.ndarray
    npwp: np.ndarray


# Non-agricultural sectors 8-26 and their shares of workers outside agriculture
_NONAGRI_CODES = np.arange(8, 27)
_NONAGRI_P = np.array(
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
# Job status 1-8 shares in and outside agriculture, and how the family's status tilts them
_STATUS_AGRI = np.array([0.30, 0.30, 0.02, 0.08, 0.0, 0.12, 0.0, 0.18])
_STATUS_OTHER = np.array([0.22, 0.08, 0.04, 0.45, 0.01, 0.0, 0.10, 0.10])
_STATUS_THETA = np.array([0.0, 0.1, 0.6, 0.3, 0.5, -0.6, -0.5, -0.3])


def work(rng: np.random.Generator, hh: Households, m: Members, edu: Education) -> Work:
    """Employment, sector and job status by age, sex, schooling, place and the family's status."""
    age, male, n = m.age, m.male, m.n
    in_school, ijazah = edu.in_school, edu.ijazah
    u_fam = hh.ses[m.fam]
    urb = hh.urban[m.fam]
    p_work = np.where(
        male,
        np.select([age < 15, age < 20, age < 60, age < 70], [0, 0.35, 0.88, 0.6], 0.3),
        np.select([age < 15, age < 20, age < 60, age < 70], [0, 0.22, 0.55, 0.3], 0.12),
    ) * np.where(in_school, 0.15, 1.0)
    works = (rng.random(n) < p_work) & m.alive
    agri_p = np.where(urb, 0.08, 0.50) - 0.08 * np.clip(ijazah - 2, 0, 4)
    is_agri = rng.random(n) < agri_p
    agri_sector = rng.choice(np.arange(1, 8), size=n, p=[0.45, 0.12, 0.25, 0.07, 0.03, 0.06, 0.02])
    tilt = np.zeros((n, len(_NONAGRI_CODES)))
    educated = np.clip(ijazah - 3, 0, 3)[:, None]
    for j, code in enumerate(_NONAGRI_CODES):
        if code in (16, 17, 20, 21, 22):
            tilt[:, j] = 0.8 * educated[:, 0]
    sector_nonagri = _NONAGRI_CODES[categorical(rng, _NONAGRI_P[None, :] * np.exp(tilt))]
    sector = np.where(works, np.where(is_agri, agri_sector, sector_nonagri), 0).astype(np.int8)

    base = np.where(is_agri[:, None], _STATUS_AGRI[None, :], _STATUS_OTHER[None, :])
    base = base * np.exp(_STATUS_THETA[None, :] * (0.7 * u_fam + 0.25 * (ijazah - 3))[:, None])
    base[:, 7] *= np.where(male, 0.5, 2.0)
    status = (categorical(rng, base) + 1).astype(np.int8)
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
    return Work(
        works=works,
        sector=sector,
        status=status,
        hours=hours,
        pekerjaan_siak=pekerjaan_siak,
        own_business=own_business,
        paid_workers=paid_workers,
        unpaid_workers=unpaid_workers,
        omzet=omzet,
        npwp=npwp,
    )


def _siak_occupation(
    rng: np.random.Generator,
    works: np.ndarray,
    sector: np.ndarray,
    status: np.ndarray,
    in_school: np.ndarray,
    male: np.ndarray,
    age: np.ndarray,
) -> np.ndarray:
    """The occupation label SIAK records (its own list, not Regsosek's sector/status)."""
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
            20,
            9,
            11,
            10,
            np.where(r < 0.5, 12, 15),
            np.where(r < 0.6, 13, 19),
            np.where(r < 0.7, 8, 88),
            14,
            23,
            19,
            15,
            88,
        ],
        89,
    )
    idle = np.select(
        [age < 5, in_school, (~male) & (age >= 18), age >= 58],
        [1, 3, np.where(r < 0.8, 2, 1), np.where(r < 0.12, 4, 1)],
        1,
    )
    return np.where(works, worker, idle).astype(np.int8)


def siak_relationship(rng: np.random.Generator, role: np.ndarray, male: np.ndarray) -> np.ndarray:
    """SHDK as SIAK codes it (husband and wife apart, parents and in-laws apart)."""
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


@dataclass(frozen=True)
class Health:
    difficulty: np.ndarray  # persons x FungsiTubuh domains, 1 = no difficulty .. 4 = cannot
    chronic: np.ndarray
    pregnant: np.ndarray


def health(rng: np.random.Generator, m: Members, kawin: np.ndarray) -> Health:
    """Disability (Washington Group domains), chronic disease and pregnancy by age."""
    age, n = m.age, m.n
    p_dis = np.select([age < 18, age < 60, age < 75], [0.015, 0.025, 0.12], 0.30)
    disabled = rng.random(n) < p_dis
    difficulty = np.ones((n, len(rc.FungsiTubuh)), dtype=np.int8)
    domain_p = np.where(
        (age >= 60)[:, None],
        [[0.22, 0.18, 0.35, 0.05, 0.03, 0.01, 0.03, 0.08, 0.05]],
        [[0.15, 0.12, 0.25, 0.08, 0.15, 0.07, 0.10, 0.05, 0.03]],
    )
    first = categorical(rng, domain_p)
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
            p=norm([35, 12, 6, 8, 13, 3, 4, 2, 2, 0.2, 0.3, 8, 0.5, 0.3, 0.3, 0.4, 5]),
        ),
        0,
    ).astype(np.int8)
    pregnant = (~m.male) & m.alive & (kawin == 2) & (age >= 15) & (age < 50) & (rng.random(n) < 0.06)
    return Health(difficulty=difficulty, chronic=chronic, pregnant=pregnant)
