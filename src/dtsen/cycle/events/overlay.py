"""The golden persons and families as events change them: an overlay of changes over the linked tables,
with the lookups events need (by NIK, by KK, members of a family) and the provenance of every change."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import polars as pl

from dtsen.linkage.families import ADULT_AGE, FRAGMENT
from dtsen.reference.codes import HubunganKeluarga, HubunganSIAK
from dtsen.tables import LOCATION, LineageKind

EVENT_SOURCE = "peristiwa_dukcapil"  # the sumber of provenance rows written by events


@dataclass
class Overlay:
    """A golden table with changes kept aside (row -> column -> value) and appended rows."""

    frame: pl.DataFrame
    key: str
    changes: dict[int, dict[str, Any]] = field(default_factory=dict)
    added: list[dict[str, Any]] = field(default_factory=list)
    _cache: dict[str, list[Any]] = field(default_factory=dict)

    def base(self, column: str) -> list[Any]:
        if column not in self._cache:
            self._cache[column] = (
                self.frame[column].to_list() if column in self.frame.columns else ([None] * self.frame.height)
            )
        return self._cache[column]

    def get(self, row: int, column: str) -> Any:
        if row >= self.frame.height:
            return self.added[row - self.frame.height].get(column)
        changed = self.changes.get(row)
        if changed is not None and column in changed:
            return changed[column]
        return self.base(column)[row]

    def set(self, row: int, column: str, value: Any) -> bool:
        """Set a value; False when it was already that value (no change, no provenance)."""
        if column not in self.frame.columns or self.get(row, column) == value:
            return False
        if row >= self.frame.height:
            self.added[row - self.frame.height][column] = value
        else:
            self.changes.setdefault(row, {})[column] = value
        return True

    def add(self, values: dict[str, Any]) -> int:
        self.added.append(dict(values))
        return self.frame.height + len(self.added) - 1

    @property
    def rows(self) -> int:
        return self.frame.height + len(self.added)

    def result(self) -> pl.DataFrame:
        frame = self.frame
        columns = sorted({c for change in self.changes.values() for c in change})
        if columns:
            frame = frame.with_row_index("_row")
            for column in columns:
                rows = [r for r, change in self.changes.items() if column in change]
                update = pl.DataFrame(
                    {
                        "_row": pl.Series(rows, dtype=pl.UInt32),
                        "_new": pl.Series(
                            [self.changes[r][column] for r in rows], dtype=frame.schema[column]
                        ),
                    }
                )
                frame = frame.join(update.with_columns(pl.lit(True).alias("_hit")), on="_row", how="left")
                frame = frame.with_columns(
                    pl.when(pl.col("_hit")).then(pl.col("_new")).otherwise(pl.col(column)).alias(column)
                ).drop("_new", "_hit")
            frame = frame.drop("_row")
        if self.added:
            extra = pl.DataFrame(
                [{c: r.get(c) for c in frame.columns} for r in self.added], schema=frame.schema, orient="row"
            )
            frame = pl.concat([frame, extra])
        return frame


class Registry:
    """Persons and families with the lookups events need, recording provenance as values change."""

    def __init__(
        self,
        persons: pl.DataFrame,
        families: pl.DataFrame,
        batch_id: str,
        cutoff: date,
        ref: date | None = None,
        urban: dict[str, bool] | None = None,
    ) -> None:
        self.ref = ref or cutoff
        self.p = Overlay(persons, "id_dtsen")
        self.f = Overlay(families, "id_keluarga_dtsen")
        self.batch_id, self.cutoff = batch_id, cutoff
        self.provenance: list[dict[str, Any]] = []
        self.lineage: list[dict[str, Any]] = []
        self.by_nik: dict[str, int] = {}
        alive = self.p.base("status_hidup")
        for i, nik in enumerate(self.p.base("nik")):
            if nik is not None and (nik not in self.by_nik or alive[i] is not False):
                self.by_nik[nik] = i  # a living record wins over a dead duplicate
        self.by_kk = {kk: i for i, kk in enumerate(self.f.base("no_kk")) if kk is not None}
        self.family_row = {fid: i for i, fid in enumerate(self.f.base("id_keluarga_dtsen"))}
        self.members: dict[str, list[int]] = {}
        for i, fid in enumerate(self.p.base("id_keluarga_dtsen")):
            self.members.setdefault(fid, []).append(i)
        self.touched: set[str] = set()
        # urban flag per village, over all families; given when ``families`` is a share of the table
        self.perkotaan: dict[str, bool] | None = urban

    def record(self, entitas: str, id_: str, column: str, when: date) -> None:
        """A provenance row: ``column`` of ``id_`` now comes from this event feed."""
        self.provenance.append(
            {
                "entitas": entitas,
                "id": id_,
                "atribut": column,
                "sumber": EVENT_SOURCE,
                "batch_id": self.batch_id,
                "tanggal_data": when,
            }
        )

    def family_lineage(self, old: str, new: str | None, kind: LineageKind) -> None:
        """A lineage row: family ``new`` split off from ``old``, or ``old`` retired (``new`` None)."""
        self.lineage.append(
            {"id_lama": old, "id_baru": new, "jenis": kind, "jenis_id": "family", "run": self.batch_id}
        )

    def set_person(self, row: int, column: str, value: Any, when: date) -> None:
        if self.p.set(row, column, value):
            self.record("person", self.p.get(row, "id_dtsen"), column, when)

    def set_family(self, row: int, column: str, value: Any, when: date) -> None:
        if self.f.set(row, column, value):
            self.record("family", self.f.get(row, "id_keluarga_dtsen"), column, when)

    def living(self, row: int) -> bool:
        return self.p.get(row, "status_hidup") is not False and self.p.get(row, "tanggal_meninggal") is None

    def living_members(self, fid: str) -> list[int]:
        return [
            r
            for r in self.members.get(fid, [])
            if self.living(r) and self.p.get(r, "id_keluarga_dtsen") == fid
        ]

    def move_person(self, row: int, fid: str, when: date) -> None:
        old = self.p.get(row, "id_keluarga_dtsen")
        self.set_person(row, "id_keluarga_dtsen", fid, when)
        self.members.setdefault(fid, []).append(row)
        self.touched.update({old, fid})
        frow = self.family_row[fid]
        self.set_person(row, "no_kk", self.f.get(frow, "no_kk"), when)
        for column in LOCATION:
            self.set_person(row, column, self.f.get(frow, column), when)

    def urban(self, desa: str) -> bool | None:
        """Urban flag of a village as the registry already records it for other families there."""
        if self.perkotaan is None:
            votes: dict[str, Counter[bool]] = {}
            for d, u in zip(self.f.base("kode_desa"), self.f.base("perkotaan"), strict=True):
                if d is not None and u is not None:
                    votes.setdefault(d, Counter())[u] += 1
            self.perkotaan = {d: c.most_common(1)[0][0] for d, c in votes.items()}
        return self.perkotaan.get(desa)

    def new_family(self, fid: str, kk: str, head: int, copy_from: int | None, when: date) -> int:
        values: dict[str, Any] = {
            "id_keluarga_dtsen": fid,
            "no_kk": kk,
            "id_kepala": self.p.get(head, "id_dtsen"),
        }
        if "konflik" in self.f.frame.columns:
            values["konflik"] = []
        if copy_from is not None:  # same dwelling: address and housing are the origin's
            for column in self.f.frame.columns:
                if column not in values and column not in ("jumlah_anggota",):
                    values[column] = self.f.get(copy_from, column)
        row = self.f.add(values)
        self.family_row[fid], self.by_kk[kk] = row, row
        for column in values:
            self.record("family", fid, column, when)
        return row

    def relocate(self, frow: int, event: dict[str, Any], when: date) -> None:
        desa = event["kode_desa_tujuan"]
        if desa is None:
            return
        values = {
            "kode_desa": desa,
            "kode_kec": desa[:6],
            "kode_kab": desa[:4],
            "kode_prov": desa[:2],
            "perkotaan": self.urban(desa),
            "alamat": event["alamat_tujuan"],
            "rt": event["rt_tujuan"],
            "rw": event["rw_tujuan"],
        }
        for column, value in values.items():
            self.set_family(frow, column, value, when)
        fid = self.f.get(frow, "id_keluarga_dtsen")
        for r in self.living_members(fid):
            for column in LOCATION:
                self.set_person(r, column, self.f.get(frow, column), when)

    def adult(self, row: int) -> bool:
        """Aged ADULT_AGE or more at the reference date; an unknown age is not taken for a child."""
        age = self.p.get(row, "umur")
        if age is None:
            born = self.p.get(row, "tanggal_lahir")
            return born is None or age(born, self.ref) >= ADULT_AGE
        return age >= ADULT_AGE

    def reassign_head(self, fid: str, when: date, to: str | None = None) -> None:
        """A family whose head died or left gets its oldest living spouse, else oldest living member.

        When the last adult left for family ``to`` (a move, a marriage, a KK split), the children left
        behind go with them: a child is not a family, and leaving them behind was what made one-child
        "families" headed by a child of 3."""
        if to is not None and to != fid:
            left = self.living_members(fid)
            if left and not any(self.adult(r) for r in left):
                for r in left:
                    self.move_person(r, to, when)
                return
        frow = self.family_row[fid]
        head = self.f.get(frow, "id_kepala")
        members = self.living_members(fid)
        if any(self.p.get(r, "id_dtsen") == head for r in members) or not members:
            return

        def order(r: int) -> tuple[int, date]:
            born = self.p.get(r, "tanggal_lahir") or date.max
            return (0 if self.p.get(r, "hubungan") == HubunganKeluarga.ISTRI_SUAMI else 1, born)

        new = min(members, key=order)
        self.set_family(frow, "id_kepala", self.p.get(new, "id_dtsen"), when)
        self.set_person(new, "hubungan", int(HubunganKeluarga.KEPALA_KELUARGA), when)
        self.set_person(new, "hubungan_siak", int(HubunganSIAK.KEPALA_KELUARGA), when)

    def settle_families(self, when: date) -> list[str]:
        """Recount the families events touched; return those to retire (lineage ``pensiun``).

        A family nobody belongs to any more (its members moved, married or split off) or whose members
        all died has no one to rank or pay, so it leaves the published table; the dead keep it as
        their last ``id_keluarga_dtsen``. A family left with living members but no adult (the adults
        died) keeps its ID and gets the conflict ``fragmen_tanpa_dewasa`` until a guardian is recorded.
        """
        retired = []
        for fid in sorted(f for f in self.touched if f is not None and f in self.family_row):
            frow, living = self.family_row[fid], self.living_members(fid)
            self.set_family(frow, "jumlah_anggota", len(living), when)
            if not living:
                retired.append(fid)
                self.family_lineage(fid, None, LineageKind.PENSIUN)
                continue
            if "konflik" in self.f.frame.columns:
                codes = set(self.f.get(frow, "konflik") or [])
                codes = codes - {FRAGMENT} if any(self.adult(r) for r in living) else codes | {FRAGMENT}
                self.set_family(frow, "konflik", sorted(codes), when)
        return retired


def age(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))
