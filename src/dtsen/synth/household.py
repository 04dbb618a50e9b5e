"""Who lives together: families (KK) placed in villages, their heads, members and the recently dead.

These are the first draws of a chunk; every later part of the model (attributes, welfare, housing,
identifiers) reads the two frames built here. The order of random draws is part of the output
(same seed, same bytes), so the functions run in a fixed order from ``population.generate_chunk``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl

from dtsen.synth import names as nm
from dtsen.synth.geography import VillageFrame, slice_codes, slice_int
from dtsen.synth.params import SynthParams
from dtsen.synth.places import old_villages

EPOCH = date(1970, 1, 1)
# Roles inside a family (internal; mapped to the Regsosek and SIAK code lists on output).
HEAD, SPOUSE, CHILD, CHILD_IN_LAW, GRANDCHILD, PARENT, OTHER = range(7)
ROLE_TO_HUBUNGAN = np.array([1, 2, 3, 4, 5, 6, 8], dtype=np.int8)


def days(d: date) -> int:
    return (d - EPOCH).days


def to_date(day_numbers: np.ndarray) -> np.ndarray:
    return day_numbers.astype("datetime64[D]")


@dataclass(frozen=True)
class Households:
    """One row per family: where it lives, its culture, its unobserved status and its head."""

    size: np.ndarray
    vil_idx: np.ndarray  # index into the chunk's VillageFrame
    urban: np.ndarray
    kode_desa: np.ndarray
    prov: np.ndarray  # province code strings
    prov_int: np.ndarray
    kab_int: np.ndarray
    culture: np.ndarray  # index into names.CULTURES
    ses: np.ndarray  # unobserved socio-economic status of the family, ~N(0, 1)
    has_spouse: np.ndarray
    head_age: np.ndarray
    head_male: np.ndarray

    @property
    def n(self) -> int:
        return len(self.size)


@dataclass(frozen=True)
class Members:
    """One row per person (living and recently dead), families contiguous, head first."""

    fam: np.ndarray  # row of the family in Households
    role: np.ndarray
    male: np.ndarray
    age: np.ndarray  # years (float) at the reference date
    alive: np.ndarray
    death: np.ndarray  # day number of death, -1 for the living
    birth: np.ndarray  # day number
    birth_year: np.ndarray
    age_int: np.ndarray
    age_2022: np.ndarray
    head_of: np.ndarray  # row of each family's head

    @property
    def n(self) -> int:
        return len(self.fam)


def households(
    rng: np.random.Generator, kab: pl.DataFrame, villages: VillageFrame, params: SynthParams
) -> Households:
    """Families with sizes summing to each kabupaten's persons, placed in villages by weight."""
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
    kode_desa = villages.kode[vil_idx]
    prov = slice_codes(kode_desa, 0, 2)
    culture = nm.draw_culture(rng, prov)
    ses = rng.standard_normal(nf)
    has_spouse, head_age, head_male = _heads(rng, size)
    return Households(
        size=size,
        vil_idx=vil_idx,
        urban=villages.urban[vil_idx],
        kode_desa=kode_desa,
        prov=prov,
        prov_int=slice_int(kode_desa, 0, 2),
        kab_int=slice_int(kode_desa, 0, 4),
        culture=culture,
        ses=ses,
        has_spouse=has_spouse,
        head_age=head_age,
        head_male=head_male,
    )


def _heads(rng: np.random.Generator, size: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Whether the head has a spouse, the head's age and sex (single-person KKs: young or widowed)."""
    nf = len(size)
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
    return has_spouse, head_age, head_male


def members(rng: np.random.Generator, hh: Households, params: SynthParams) -> Members:
    """The living members of every family plus the people who died since Regsosek 2022."""
    fam, role, male, age = _living(rng, hh)
    n_living = len(fam)
    dead_fam, dead_role, dead_male, dead_age_now, death_day = _recently_dead(rng, hh, n_living, params)
    fam = np.concatenate([fam, dead_fam])
    role = np.concatenate([role, dead_role])
    male = np.concatenate([male, dead_male])
    age = np.concatenate([age, dead_age_now])
    alive = np.concatenate([np.ones(n_living, bool), np.zeros(len(dead_fam), bool)])
    death = np.concatenate([np.full(n_living, -1, np.int64), death_day])
    order = np.lexsort((np.where(alive, 0, 1), role, fam))  # keep families contiguous, head first
    fam, role, male, age, alive, death = (a[order] for a in (fam, role, male, age, alive, death))
    ref = params.reference_date
    birth = (days(ref) - age * 365.25).astype(np.int64)
    head_of = np.flatnonzero(role == HEAD)
    if len(head_of) != hh.n or not np.all(np.diff(fam[head_of]) > 0):  # pragma: no cover - invariant
        raise RuntimeError("every family must have exactly one head, listed first")
    return Members(
        fam=fam,
        role=role,
        male=male,
        age=age,
        alive=alive,
        death=death,
        birth=birth,
        birth_year=1970 + birth // 365.25,
        age_int=np.floor(age).astype(np.int32),
        age_2022=(days(params.regsosek_date) - birth) / 365.25,
        head_of=head_of,
    )


def _living(rng: np.random.Generator, hh: Households) -> tuple[np.ndarray, ...]:
    """Roles, sexes and ages of the living members, consistent with the head's."""
    size, has_spouse, head_age, head_male = hh.size, hh.has_spouse, hh.head_age, hh.head_male
    nf = hh.n
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
    return fam, role, male, age


def _recently_dead(
    rng: np.random.Generator, hh: Households, n_living: int, params: SynthParams
) -> tuple[np.ndarray, ...]:
    """People who died between Regsosek and now, attached to the families they belonged to.

    Mostly widowed spouses and elderly parents, as the death rate by age says.
    """
    size, has_spouse, head_age, head_male = hh.size, hh.has_spouse, hh.head_age, hh.head_male
    nf = hh.n
    ref = params.reference_date
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
    return dead_fam, dead_role, dead_male, dead_age_now, death_day


@dataclass(frozen=True)
class Dynamics:
    """What happened to each family since Regsosek 2022: a move (maybe unreported) or a split."""

    moved: np.ndarray
    move_day: np.ndarray  # day number, -1 if not moved
    old_desa: np.ndarray  # village code in 2022 (the current one unless moved)
    move_reported: np.ndarray  # SIAK knows of the move
    split_new: np.ndarray  # a young couple that left a parent's KK since 2022
    parent_family: np.ndarray  # row of the family it left, -1 if none


def dynamics(
    rng: np.random.Generator, hh: Households, villages: VillageFrame, params: SynthParams
) -> Dynamics:
    """Moves and splits since Regsosek; a split family comes from an older family in its village."""
    nf = hh.n
    moved = rng.random(nf) < params.moved_since_regsosek
    move_day = np.where(
        moved, rng.integers(days(params.regsosek_date) + 1, days(params.reference_date), nf), -1
    )
    old_vil = old_villages(rng, villages.kode, nf)
    move_reported = moved & (rng.random(nf) < params.siak_move_reported)

    young_couple = hh.has_spouse & (hh.head_age >= 20) & (hh.head_age <= 36)
    split_new = (
        young_couple
        & (rng.random(nf) < params.split_since_regsosek / max(young_couple.mean(), 1e-9) * 0.25)
        & ~moved
    )
    parent_family = _parent_families(rng, split_new, hh.head_age, hh.vil_idx, moved)
    split_new &= parent_family >= 0
    return Dynamics(
        moved=moved,
        move_day=move_day,
        old_desa=np.where(moved, old_vil, hh.kode_desa),
        move_reported=move_reported,
        split_new=split_new,
        parent_family=parent_family,
    )


def _parent_families(
    rng: np.random.Generator,
    split_new: np.ndarray,
    head_age: np.ndarray,
    vil_idx: np.ndarray,
    moved: np.ndarray,
) -> np.ndarray:
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
