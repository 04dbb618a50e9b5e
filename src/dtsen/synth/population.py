"""The true synthetic population of one chunk of kabupaten/kota: families (KK), members, welfare,
housing and assets, and what changed since Regsosek 2022 (deaths, births, moves, split families).

Everything is vectorized over the chunk with NumPy; the only Python loops run over kabupaten or over
the few rows that need a repair. Source exports and their dirt are derived from this truth elsewhere
(``sources/``), so nothing here knows how an agency spells a column.

``generate_chunk`` runs the parts of the model in a fixed order, because the order of random draws is
part of the output (same seed, same bytes):

1. ``household``: families, heads, members and the recently dead;
2. ``attributes``: marital status, religion, education, work, health;
3. ``consumption``: true per-capita consumption (the welfare model);
4. ``housing``: housing, assets, programs and JKN drawn from welfare;
5. ``household.dynamics``: moves and splits since Regsosek;
6. ``identifiers``: NIK and KK numbers; names and places; who Regsosek listed with whom.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl

from dtsen.reference import codes as rc
from dtsen.synth import attributes as attr
from dtsen.synth import household as hhd
from dtsen.synth import names as nm
from dtsen.synth.calibration import Calibration
from dtsen.synth.consumption import Consumption, family_consumption
from dtsen.synth.geography import hash_uniform, village_frame
from dtsen.synth.household import (
    CHILD,
    CHILD_IN_LAW,
    GRANDCHILD,
    HEAD,
    ROLE_TO_HUBUNGAN,
    SPOUSE,
    Dynamics,
    Households,
    Members,
    to_date,
)
from dtsen.synth.housing import housing_and_assets, jkn_segment
from dtsen.synth.identifiers import Identifiers, identifiers
from dtsen.synth.params import POVERTY_LINE, SynthParams
from dtsen.synth.places import addresses, birthplaces


@dataclass
class Population:
    """Truth of one chunk: one row per family and per person (living and recently dead)."""

    families: dict[str, np.ndarray] = field(default_factory=dict)
    persons: dict[str, np.ndarray] = field(default_factory=dict)

    def families_frame(self) -> pl.DataFrame:
        return pl.DataFrame(self.families)

    def persons_frame(self) -> pl.DataFrame:
        return pl.DataFrame(self.persons)


def generate_chunk(
    kab: pl.DataFrame, chunk_index: int, params: SynthParams, calibration: Calibration, seed: int
) -> Population:
    """Generate the population of the kabupaten in ``kab`` (columns ``kode``, ``kode_prov``, ``n``)."""
    rng = np.random.default_rng([seed, chunk_index, 101])
    kab_codes = kab["kode"].to_list()
    villages = village_frame(kab_codes)

    hh = hhd.households(rng, kab, villages, params)
    m = hhd.members(rng, hh, params)
    kawin = attr.marital_status(rng, hh, m)
    religion = attr.religion(rng, hh.culture[m.fam])
    edu = attr.education(rng, hh, m)
    job = attr.work(rng, hh, m, edu)
    health = attr.health(rng, m, kawin)
    welfare = family_consumption(
        rng, hh, m, job.works, edu.ijazah, job.status, job.sector, params.welfare, calibration
    )
    housing = housing_and_assets(rng, welfare.welfare, hh.urban, hh.prov, hh.size, hh.culture)
    segment, jamkes = jkn_segment(
        rng, welfare.welfare, job.status[m.head_of], hh.head_age, m.fam, params.jkn_coverage
    )
    dyn = hhd.dynamics(rng, hh, villages, params)
    ids = identifiers(rng, hh, m, dyn, set(kab_codes), chunk_index, params)

    nama, alamat = _names_and_places(rng, hh, m)
    family_id_base = np.int64(chunk_index) * 100_000_000
    family_id = family_id_base + np.arange(hh.n, dtype=np.int64)
    units = _regsosek_units(rng, hh, m, dyn, family_id, seed, params)
    families = _family_columns(family_id, hh, welfare, dyn, ids, alamat, housing)
    persons = {
        "person_id": family_id_base + np.arange(m.n, dtype=np.int64),
        "family_id": family_id[m.fam],
        "regsosek_unit": units.unit,
        "nik": ids.nik,
        "nama": nama,
        "jenis_kelamin": np.where(m.male, 1, 2).astype(np.int8),
        "tanggal_lahir": to_date(m.birth),
        "tempat_lahir": birthplaces(ids.nik_kec),
        "umur": m.age_int,
        "alive": m.alive,
        "tanggal_meninggal": np.where(m.alive, np.datetime64("NaT"), to_date(m.death)),
        "role": m.role,
        "hubungan": ROLE_TO_HUBUNGAN[m.role],
        "hubungan_siak": attr.siak_relationship(rng, m.role, m.male),
        "hubungan_2022": units.role_2022,
        "status_kk_2022": units.status_kk_2022,
        "in_regsosek": units.in_regsosek,
        "born_since_regsosek": units.born_since,
        "status_kawin": kawin,
        "agama": religion,
        "hamil": health.pregnant,
        "partisipasi_sekolah": edu.partisipasi,
        "jenjang_pendidikan": edu.jenjang,
        "kelas_tertinggi": edu.grade.astype(np.int8),
        "ijazah_tertinggi": edu.ijazah,
        "pendidikan_siak": edu.pendidikan_siak,
        "bekerja": job.works,
        "jam_kerja": job.hours,
        "lapangan_usaha": job.sector,
        "status_pekerjaan": job.status,
        "pekerjaan_siak": job.pekerjaan_siak,
        "punya_npwp": job.npwp,
        "punya_usaha": job.own_business,
        "usaha_pekerja_dibayar": job.paid_workers,
        "usaha_pekerja_tidak_dibayar": job.unpaid_workers,
        "omzet_usaha": job.omzet,
        "penyakit_kronis": health.chronic,
        "segmen_bpjs": segment,
        "jaminan_kesehatan": jamkes,
        "age_2022": m.age_2022.astype(np.float32),
    }
    for j, dom in enumerate(rc.FungsiTubuh):
        persons[dom.field] = health.difficulty[:, j]
    return Population(families, persons)


def _names_and_places(
    rng: np.random.Generator, hh: Households, m: Members
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Every person's full name from the family's cultural pool; each family's address now and in 2022."""
    sex_code = np.where(m.male, 1, 2).astype(np.int8)
    surname = nm.family_surnames(rng, hh.culture)
    nama = nm.draw_full_names(
        rng,
        sex_code,
        hh.culture[m.fam],
        m.birth_year.astype(np.int32),
        family_surname=surname[m.fam],
        role=m.role,
    )
    alamat, rt, rw = addresses(rng, hh.urban, hh.n)
    old_alamat, old_rt, old_rw = addresses(rng, hh.urban, hh.n)
    return nama, {
        "alamat": alamat,
        "rt": rt,
        "rw": rw,
        "alamat_2022": old_alamat,
        "rt_2022": old_rt,
        "rw_2022": old_rw,
    }


def _family_columns(
    family_id: np.ndarray,
    hh: Households,
    welfare: Consumption,
    dyn: Dynamics,
    ids: Identifiers,
    address: dict[str, np.ndarray],
    housing: dict[str, np.ndarray],
) -> dict[str, np.ndarray]:
    """The truth table of families, in its column order."""
    moved, split_new = dyn.moved, dyn.split_new
    return {
        "family_id": family_id,
        "no_kk": ids.no_kk_siak,
        "no_kk_now": ids.no_kk_now,
        "no_kk_2022": ids.no_kk_2022,
        "kode_desa": hh.kode_desa,
        "kode_desa_2022": dyn.old_desa,
        "urban": hh.urban,
        "culture": np.array(nm.CULTURES)[hh.culture],
        "size": hh.size,
        "pc_consumption": welfare.per_capita,
        "log_consumption": welfare.log_consumption,
        "poor": welfare.per_capita < POVERTY_LINE,
        "desil": welfare.desil,
        "moved": moved,
        "move_date": np.where(moved, to_date(dyn.move_day), np.datetime64("NaT")),
        "move_reported": dyn.move_reported,
        "split_since_regsosek": split_new,
        "parent_family_id": np.where(split_new, family_id[np.maximum(dyn.parent_family, 0)], -1),
        "alamat": address["alamat"],
        "rt": address["rt"],
        "rw": address["rw"],
        "alamat_2022": np.where(moved, address["alamat_2022"], address["alamat"]),
        "rt_2022": np.where(moved, address["rt_2022"], address["rt"]),
        "rw_2022": np.where(moved, address["rw_2022"], address["rw"]),
        **housing,
    }


@dataclass(frozen=True)
class RegsosekUnits:
    """Per person: the unit Regsosek 2022 listed them in and their place in it."""

    unit: np.ndarray  # family_id of the unit; -(family_id + 1) for a married child's own unit
    role_2022: np.ndarray  # hubungan in the 2022 unit
    status_kk_2022: np.ndarray  # 0 one unit, 1 parents' unit with a split unit inside, 2 the split unit
    in_regsosek: np.ndarray
    born_since: np.ndarray


def _regsosek_units(
    rng: np.random.Generator,
    hh: Households,
    m: Members,
    dyn: Dynamics,
    family_id: np.ndarray,
    seed: int,
    params: SynthParams,
) -> RegsosekUnits:
    """Who was listed with whom in 2022: split families inside their parents' unit, some married
    children in a unit of their own (kode KK 2), and whether the enumerator reached the unit."""
    fam, role = m.fam, m.role
    unit = family_id[fam].copy()
    in_parent = dyn.split_new[fam]
    unit[in_parent] = family_id[dyn.parent_family[fam[in_parent]]]
    role_2022 = ROLE_TO_HUBUNGAN[role].copy()
    role_2022[in_parent] = np.select([role[in_parent] == HEAD, role[in_parent] == SPOUSE], [3, 4], 5)
    split_unit = _regsosek_split_units(rng, m, params.regsosek_split_unit, hh.n)
    # inside its own unit the married child is the head, the in-law the spouse, their children children
    role_2022 = np.where(
        split_unit, np.select([role == CHILD, role == CHILD_IN_LAW], [1, 2], 3), role_2022
    ).astype(np.int8)
    status_kk_2022 = np.zeros(m.n, dtype=np.int8)
    status_kk_2022[split_unit] = 2
    unit = np.where(split_unit, -(family_id[fam] + 1), unit)  # a unit of its own, keyed apart from the family
    has_split = np.zeros(hh.n, bool)
    has_split[fam[split_unit]] = True
    status_kk_2022 = np.where(~split_unit & has_split[fam], 1, status_kk_2022).astype(np.int8)
    existed_2022 = m.birth <= hhd.days(params.regsosek_date)
    # a split unit shares its parents' dwelling: the enumerator reached both or neither
    covered_unit = _hash_cover(np.where(unit >= 0, unit, -unit - 1), seed, params.regsosek_coverage)
    return RegsosekUnits(
        unit=unit,
        role_2022=role_2022,
        status_kk_2022=status_kk_2022,
        in_regsosek=existed_2022 & covered_unit,
        born_since=~existed_2022,
    )


def _regsosek_split_units(rng: np.random.Generator, m: Members, rate: float, nf: int) -> np.ndarray:
    """Married children living with their parents whom Regsosek listed as a separate unit (kode KK 2)."""
    fam, role, age = m.fam, m.role, m.age
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
    return hash_uniform(np.abs(unit), seed % 1_000_003 + 17) < rate
