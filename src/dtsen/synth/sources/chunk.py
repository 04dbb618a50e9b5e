"""One chunk's source exports: the context every agency module reads, and the list of builders.

Each export is built by its own module (one per agency, named after its mapping file); this class holds
what they share: the chunk's truth, parameters, a random stream per export, and the choice of the
person an administrative record is held in the name of.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import polars as pl

from dtsen.synth.geography import hash_uniform
from dtsen.synth.params import DirtParams, SynthParams
from dtsen.synth.population import Population
from dtsen.synth.sources import (
    bidang_tanah,
    bpjs_peserta,
    dtks,
    kendaraan,
    p3ke,
    pln_pelanggan,
    regsosek,
    siak_penduduk,
    susenas,
)
from dtsen.synth.sources.common import Dirtied, SourceTables, dirty_person_fields

# The exports that tell the registry something about a family's welfare (a field survey or an
# administrative record): an unregistered family is in none of them. Regsosek needs no filter: the
# families are chosen among those it did not reach.
REGISTERS = ("dtks", "p3ke", "pln_pelanggan", "kendaraan", "bidang_tanah")
# Truth columns naming a family a record is about or held by.
FAMILY_COLUMNS = ("family_id", "holder_family_id", "user_family_id")


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
        self._regsosek: tuple[SourceTables, SourceTables] | None = None
        self._susenas: tuple[SourceTables, SourceTables] | None = None
        self.unregistered = self._unregistered_families()

    def rng(self, salt: int) -> np.random.Generator:
        """The random stream of one export: independent of which other exports are built."""
        return np.random.default_rng([self.seed, self.chunk, 2000 + salt])

    def builders(self) -> dict[str, Callable[[], SourceTables]]:
        builders: dict[str, Callable[[], SourceTables]] = {
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
        if len(self.unregistered):
            for name in REGISTERS:
                builders[name] = self._without_unregistered(builders[name])
        return builders

    def _unregistered_families(self) -> np.ndarray:
        """The ``family_id`` of the families only SIAK knows (``unregistered_share``): among those
        Regsosek did not reach, the lowest by a hash of their id, so the choice draws no random number
        and leaves every other row of every export as it was."""
        share = self.params.unregistered_share
        fam_ids = self.f["family_id"]
        if share <= 0 or not len(fam_ids):
            return np.empty(0, dtype=fam_ids.dtype)
        reached = np.zeros(len(fam_ids), dtype=bool)
        reached[self.fam_index[self.p["in_regsosek"]]] = True
        candidates = fam_ids[~reached]
        n = math.ceil(share * len(candidates))
        order = np.argsort(
            hash_uniform(candidates.astype(np.int64), self.seed % 1_000_003 + 4099), kind="stable"
        )
        return np.sort(candidates[order[:n]])

    def _without_unregistered(self, build: Callable[[], SourceTables]) -> Callable[[], SourceTables]:
        """``build`` with the rows about, or held by, an unregistered family left out."""

        def filtered() -> SourceTables:
            tables = build()
            columns = [c for c in FAMILY_COLUMNS if c in tables.truth.columns]
            keep = ~pl.any_horizontal(pl.col(c).is_in(self.unregistered.tolist()) for c in columns)
            mask = tables.truth.select(keep.fill_null(True)).to_series()
            return SourceTables(tables.rows.filter(mask), tables.truth.filter(mask))

        return filtered

    def siak(self) -> SourceTables:
        return siak_penduduk.build(self)

    def regsosek(self) -> tuple[SourceTables, SourceTables]:
        """Both Regsosek files come from one draw (units and their members), built once."""
        if self._regsosek is None:
            self._regsosek = regsosek.build(self)
        return self._regsosek

    def dtks(self) -> SourceTables:
        return dtks.build(self)

    def p3ke(self) -> SourceTables:
        return p3ke.build(self)

    def pln(self) -> SourceTables:
        return pln_pelanggan.build(self)

    def bpjs(self) -> SourceTables:
        return bpjs_peserta.build(self)

    def kendaraan(self) -> SourceTables:
        return kendaraan.build(self)

    def bidang_tanah(self) -> SourceTables:
        return bidang_tanah.build(self)

    def susenas(self) -> tuple[SourceTables, SourceTables]:
        """Both Susenas files come from one sample, built once."""
        if self._susenas is None:
            self._susenas = susenas.build(self)
        return self._susenas

    # --- whose name an administrative record is in (PLN, BPJS, vehicles, land) --------------------
    def adult_member(self, rng: np.random.Generator, fam_rows: np.ndarray, head_share: float) -> np.ndarray:
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

    def stranger(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Adults of the chunk outside the family: landlords, former owners, sellers."""
        adults = np.flatnonzero((self.p["umur"] >= 25) & self.p["alive"])
        return adults[rng.integers(0, len(adults), n)]

    def admin_identity(self, rng: np.random.Generator, who: np.ndarray) -> Dirtied:
        """Name, NIK and birth date of ``who`` as an administrative registry holds them."""
        return self.identity(rng, who, self.params.admin)

    def identity(
        self,
        rng: np.random.Generator,
        who: np.ndarray,
        dirt: DirtParams,
        ganda_pool: np.ndarray | None = None,
    ) -> Dirtied:
        """Name, NIK and birth date of the persons ``who`` with a source's dirt applied."""
        p = self.p
        return dirty_person_fields(
            rng,
            p["nama"][who],
            p["nik"][who],
            p["tanggal_lahir"][who],
            p["jenis_kelamin"][who],
            p["umur"][who],
            p["ijazah_tertinggi"][who],
            dirt,
            ganda_pool,
        )
