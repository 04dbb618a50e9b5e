"""Dukcapil civil-registration events (births, deaths, moves, marriages, divorces, KK splits) applied to
the registry.

The feed is a file (CSV or Parquet, format in ``docs/events-and-corrections.md``) or a push over the DCI
CRVS notify API (:mod:`dtsen.sharing.dci.crvs`), which checks each pushed event with :func:`check_row`, the
very check a file row gets, and writes the received events as one file at the freeze: one validation, one
path into the cycle. :func:`read_events` validates every row
(file, line, column) and quarantines bad ones; :func:`apply_events` updates the golden persons and
families for every event registered up to the cut-off, in event order, and reports each event's outcome,
the provenance of every attribute it changed and the lineage of families it created or retired (a
family emptied by moves, or whose members all died, is not published; children left without an adult
follow the adult who left). Re-applying the same
feed is a no-op (a death already recorded, a birth whose NIK exists, ... are reported as already applied).

New ids come from the caller (``new_id``): the linkage package owns identifier allocation.
:func:`deaths_in_snapshot` answers the urgent question at once, before the next cycle: which of the
published beneficiaries died.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from dtsen.canonical import StatusPadan
from dtsen.cycle.feed import Problem, RowCheck, read_feed, rows_frame, rt_rw, village_code
from dtsen.cycle.snapshot import Snapshot
from dtsen.linkage.families import ADULT_AGE, FRAGMENT
from dtsen.logs import get_logger
from dtsen.reference.codes import HubunganKeluarga, HubunganSIAK, JenisKelamin, Keberadaan, StatusKawin
from dtsen.reference.nik import check_kk, check_nik

log = get_logger(__name__)

EVENT_SOURCE = "peristiwa_dukcapil"  # the sumber of provenance rows written by events
KINDS = ("LAHIR", "MATI", "PINDAH", "KAWIN", "CERAI", "PISAH_KK")
COLUMNS = (
    "id_peristiwa", "jenis", "tanggal_peristiwa", "tanggal_lapor", "nik", "no_kk", "nama", "jenis_kelamin",
    "nik_ibu", "nik_pasangan", "no_kk_baru", "nik_anggota", "kode_desa_tujuan", "alamat_tujuan", "rt_tujuan",
    "rw_tujuan",
)  # fmt: skip
REQUIRED = ("id_peristiwa", "jenis", "tanggal_peristiwa", "tanggal_lapor")
EVENT_SCHEMA: dict[str, pl.DataType] = {
    "id_peristiwa": pl.String(), "jenis": pl.String(), "tanggal_peristiwa": pl.Date(),
    "tanggal_lapor": pl.Date(), "nik": pl.String(), "no_kk": pl.String(), "nama": pl.String(),
    "jenis_kelamin": pl.Int8(), "nik_ibu": pl.String(), "nik_pasangan": pl.String(),
    "no_kk_baru": pl.String(), "nik_anggota": pl.List(pl.String()), "kode_desa_tujuan": pl.String(),
    "alamat_tujuan": pl.String(), "rt_tujuan": pl.String(), "rw_tujuan": pl.String(),
    "berkas": pl.String(), "baris": pl.Int64(),
}  # fmt: skip
OUTCOME_SCHEMA: dict[str, pl.DataType] = {
    "id_peristiwa": pl.String(), "jenis": pl.String(), "status": pl.String(), "alasan": pl.String(),
    "id_dtsen": pl.String(), "id_keluarga_dtsen": pl.String(), "tanggal_lapor": pl.Date(),
}  # fmt: skip
PROVENANCE_SCHEMA: dict[str, pl.DataType] = {
    "entitas": pl.String(), "id": pl.String(), "atribut": pl.String(), "sumber": pl.String(),
    "batch_id": pl.String(), "tanggal_data": pl.Date(),
}  # fmt: skip
LINEAGE_SCHEMA: dict[str, pl.DataType] = {
    "id_lama": pl.String(), "id_baru": pl.String(), "jenis": pl.String(), "jenis_id": pl.String(),
    "run": pl.String(),
}  # fmt: skip
# Family columns a new family copies from the one it leaves when it stays in the same dwelling.
ADDRESS = ("kode_desa", "kode_kec", "kode_kab", "kode_prov", "perkotaan", "alamat", "rt", "rw")

IdAllocator = Callable[[str, str | None], str]  # (kind "person"|"family", NIK or KK) -> a new id


@dataclass
class EventFeed:
    events: pl.DataFrame  # valid rows, typed (EVENT_SCHEMA)
    quarantine: pl.DataFrame  # one row per problem (berkas, baris, kolom, kode, pesan, raw)


@dataclass
class EventReport:
    outcomes: pl.DataFrame  # one row per event: diterapkan | sudah_diterapkan | ditolak | ditunda
    provenance: pl.DataFrame  # entitas, id, atribut, sumber, batch_id, tanggal_data
    lineage: pl.DataFrame  # id_lama, id_baru, jenis (pisah), jenis_id, run
    new_persons: int = 0
    new_families: int = 0
    retired_families: int = 0  # emptied or all members dead: removed, lineage pensiun

    def summary(self) -> dict[str, Any]:
        counts: dict[str, dict[str, int]] = {}
        for row in self.outcomes.group_by("jenis", "status").len().iter_rows(named=True):
            counts.setdefault(row["jenis"], {})[row["status"]] = row["len"]
        return {
            "events": self.outcomes.height,
            "by_kind": {k: dict(sorted(v.items())) for k, v in sorted(counts.items())},
            "new_persons": self.new_persons,
            "new_families": self.new_families,
            "retired_families": self.retired_families,
            "attributes_changed": self.provenance.height,
        }


# -- reading ------------------------------------------------------------------------------------------
def _identifier(
    check: RowCheck, column: str, checker: Callable[[str], Any], code: str, *, required: bool = False
) -> str | None:
    """A NIK or No. KK read with ``checker`` (check_nik / check_kk): its digits, or a finding ``code``."""
    value = check.text(column, required=required)
    if value is None:
        return None
    result = checker(value)
    if not result.valid:
        check.fail(column, code, f"{column}: {', '.join(result.codes)}")
        return None
    return result.digits


def _parse(row: dict[str, str | None]) -> tuple[dict[str, Any], RowCheck]:
    c = RowCheck(row)
    out: dict[str, Any] = {"id_peristiwa": c.text("id_peristiwa", required=True)}
    out["jenis"] = kind = c.kind(KINDS, str.upper)
    out["tanggal_peristiwa"] = c.date("tanggal_peristiwa", required=True)
    out["tanggal_lapor"] = c.date("tanggal_lapor", required=True)
    if out["tanggal_peristiwa"] and out["tanggal_lapor"] and out["tanggal_peristiwa"] > out["tanggal_lapor"]:
        c.fail("tanggal_lapor", "lapor_sebelum_peristiwa", "tanggal_lapor is before tanggal_peristiwa")
    need = {
        "LAHIR": ("nik", "nama", "jenis_kelamin"),
        "MATI": ("nik",),
        "PINDAH": ("kode_desa_tujuan",),
        "KAWIN": ("nik", "nik_pasangan"),
        "CERAI": ("nik", "nik_pasangan"),
        "PISAH_KK": ("no_kk", "no_kk_baru", "nik_anggota"),
    }.get(kind, ())
    for column in ("nik", "nik_ibu", "nik_pasangan"):
        out[column] = _identifier(c, column, check_nik, "nik_tidak_valid", required=column in need)
    for column in ("no_kk", "no_kk_baru"):
        out[column] = _identifier(c, column, check_kk, "kk_tidak_valid", required=column in need)
    out["nama"] = c.text("nama", required="nama" in need)
    sex = c.text("jenis_kelamin", required="jenis_kelamin" in need)
    out["jenis_kelamin"] = None
    if sex is not None:
        if sex not in ("1", "2"):
            c.fail("jenis_kelamin", "kode_tidak_dikenal", f"jenis_kelamin {sex!r}: 1 or 2")
        else:
            out["jenis_kelamin"] = int(sex)
    members = c.text("nik_anggota", required="nik_anggota" in need)
    out["nik_anggota"] = None
    if members is not None:
        niks = []
        for part in (p.strip() for p in members.split(";") if p.strip()):
            result = check_nik(part)
            if not result.valid:
                c.fail("nik_anggota", "nik_tidak_valid", f"nik_anggota: {', '.join(result.codes)}")
            else:
                niks.append(result.digits)
        out["nik_anggota"] = niks
    desa = c.text("kode_desa_tujuan", required="kode_desa_tujuan" in need)
    out["kode_desa_tujuan"] = None
    if desa is not None:
        code = village_code(desa)
        if code is None:
            c.fail(
                "kode_desa_tujuan", "desa_tidak_dikenal", f"kode_desa_tujuan {desa!r} is not a village code"
            )
        else:
            out["kode_desa_tujuan"] = code
    for column in ("alamat_tujuan", "rt_tujuan", "rw_tujuan"):
        out[column] = c.text(column)
    for column in ("rt_tujuan", "rw_tujuan"):
        if out[column] is not None:
            padded = rt_rw(out[column])
            if padded is None:
                c.fail(column, "bukan_angka", f"{column} must be digits")
            else:
                out[column] = padded
    if kind == "PINDAH" and out["nik"] is None and out["no_kk"] is None:
        c.fail("nik", "wajib_kosong", "PINDAH needs no_kk (the whole family) or nik (one person)")
    if kind == "PINDAH" and out["nik"] is not None and out["no_kk_baru"] is None:
        c.fail(
            "no_kk_baru", "wajib_kosong", "a person moving alone needs no_kk_baru (the card joined or issued)"
        )
    if kind == "LAHIR" and out["no_kk"] is None and out["nik_ibu"] is None:
        c.fail("no_kk", "wajib_kosong", "LAHIR needs no_kk or nik_ibu to place the child in a family")
    if kind in ("KAWIN", "CERAI") and out["nik"] is not None and out["nik"] == out["nik_pasangan"]:
        c.fail("nik_pasangan", "pasangan_sama", "nik_pasangan equals nik")
    return out, c


def check_row(row: Mapping[str, Any]) -> tuple[dict[str, Any], list[Problem]]:
    """One event given as a mapping of column -> value (a row of a file, or an event pushed over DCI):
    its typed values and its problems, by the same check :func:`read_events` applies to every file row.

    Values are read as text, as a file's are (``None`` and blanks are empty); an event is valid only with
    no problem. ``nik_anggota`` may be a list or the file's ``;``-separated text.
    """
    text: dict[str, str | None] = {}
    for column, value in row.items():
        if value is None:
            text[str(column).strip().lower()] = None
        elif isinstance(value, list | tuple):
            text[str(column).strip().lower()] = ";".join(str(v) for v in value)
        else:
            text[str(column).strip().lower()] = str(value)
    values, check = _parse(text)
    return values, list(check.problems)


def read_events(paths: Path | Sequence[Path]) -> EventFeed:
    """Validate event files; good rows become typed events, bad rows go to quarantine (none is lost)."""
    events, quarantine, files = read_feed(
        paths, required=REQUIRED, parse=_parse, key="id_peristiwa", noun="event", schema=EVENT_SCHEMA
    )
    log.info("events read", files=files, events=events.height, quarantined=quarantine.height)
    return EventFeed(events, quarantine)


# -- applying -----------------------------------------------------------------------------------------
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
                    {"_row": pl.Series(rows, dtype=pl.UInt32),
                     "_new": pl.Series([self.changes[r][column] for r in rows], dtype=frame.schema[column])}
                )  # fmt: skip
                frame = frame.join(update.with_columns(pl.lit(True).alias("_hit")), on="_row", how="left")
                frame = frame.with_columns(
                    pl.when(pl.col("_hit")).then(pl.col("_new")).otherwise(pl.col(column)).alias(column)
                ).drop("_new", "_hit")
            frame = frame.drop("_row")
        if self.added:
            extra = pl.DataFrame([{c: r.get(c) for c in frame.columns} for r in self.added],
                                 schema=frame.schema, orient="row")  # fmt: skip
            frame = pl.concat([frame, extra])
        return frame


class _Registry:
    """Persons and families with the lookups events need, recording provenance as values change."""

    def __init__(
        self,
        persons: pl.DataFrame,
        families: pl.DataFrame,
        batch_id: str,
        cutoff: date,
        ref: date | None = None,
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
        self.perkotaan: dict[str, bool] | None = None

    def set_person(self, row: int, column: str, value: Any, when: date) -> None:
        if self.p.set(row, column, value):
            self.provenance.append({"entitas": "person", "id": self.p.get(row, "id_dtsen"), "atribut": column,
                                    "sumber": EVENT_SOURCE, "batch_id": self.batch_id, "tanggal_data": when})  # fmt: skip

    def set_family(self, row: int, column: str, value: Any, when: date) -> None:
        if self.f.set(row, column, value):
            self.provenance.append({"entitas": "family", "id": self.f.get(row, "id_keluarga_dtsen"),
                                    "atribut": column, "sumber": EVENT_SOURCE, "batch_id": self.batch_id,
                                    "tanggal_data": when})  # fmt: skip

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
        for column in ADDRESS:
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
            self.provenance.append({"entitas": "family", "id": fid, "atribut": column, "sumber": EVENT_SOURCE,
                                    "batch_id": self.batch_id, "tanggal_data": when})  # fmt: skip
        return row

    def relocate(self, frow: int, event: dict[str, Any], when: date) -> None:
        desa = event["kode_desa_tujuan"]
        if desa is None:
            return
        values = {"kode_desa": desa, "kode_kec": desa[:6], "kode_kab": desa[:4], "kode_prov": desa[:2],
                  "perkotaan": self.urban(desa), "alamat": event["alamat_tujuan"], "rt": event["rt_tujuan"],
                  "rw": event["rw_tujuan"]}  # fmt: skip
        for column, value in values.items():
            self.set_family(frow, column, value, when)
        fid = self.f.get(frow, "id_keluarga_dtsen")
        for r in self.living_members(fid):
            for column in ADDRESS:
                self.set_person(r, column, self.f.get(frow, column), when)

    def adult(self, row: int) -> bool:
        """Aged ADULT_AGE or more at the reference date; an unknown age is not taken for a child."""
        age = self.p.get(row, "umur")
        if age is None:
            born = self.p.get(row, "tanggal_lahir")
            return born is None or _age(born, self.ref) >= ADULT_AGE
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
                self.lineage.append(
                    {
                        "id_lama": fid,
                        "id_baru": None,
                        "jenis": "pensiun",
                        "jenis_id": "family",
                        "run": self.batch_id,
                    }
                )
                continue
            if "konflik" in self.f.frame.columns:
                codes = set(self.f.get(frow, "konflik") or [])
                codes = codes - {FRAGMENT} if any(self.adult(r) for r in living) else codes | {FRAGMENT}
                self.set_family(frow, "konflik", sorted(codes), when)
        return retired


def _age(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def apply_events(
    persons: pl.DataFrame,
    families: pl.DataFrame,
    events: EventFeed | pl.DataFrame,
    cutoff: date,
    *,
    new_id: IdAllocator,
    batch_id: str = "peristiwa",
    reference_date: date | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame, EventReport]:
    """Apply every event registered (``tanggal_lapor``) on or before ``cutoff``, oldest event first.

    Later events are reported ``ditunda`` (kept for the next cycle); events that cannot be applied
    (nobody with that NIK, a KK split naming a non-member) are ``ditolak`` with a reason; events already
    reflected in the tables are ``sudah_diterapkan``. ``reference_date`` (default ``cutoff``) is the
    date ages (``umur``) of new persons are computed at.
    """
    frame = events.events if isinstance(events, EventFeed) else events
    reg = _Registry(persons, families, batch_id, cutoff, reference_date)
    outcomes: list[dict[str, Any]] = []
    new_persons = new_families = 0
    ordered = frame.sort("tanggal_peristiwa", "tanggal_lapor", "id_peristiwa")
    for event in ordered.iter_rows(named=True):
        outcome = {"id_peristiwa": event["id_peristiwa"], "jenis": event["jenis"], "id_dtsen": None,
                   "id_keluarga_dtsen": None, "tanggal_lapor": event["tanggal_lapor"], "alasan": None}  # fmt: skip
        if event["tanggal_lapor"] > cutoff:
            outcomes.append({**outcome, "status": "ditunda", "alasan": "setelah_batas_waktu"})
            continue
        handler = _HANDLERS[event["jenis"]]
        status, reason, pid, fid, made = handler(reg, event, new_id, reference_date or cutoff)
        new_persons += made[0]
        new_families += made[1]
        outcomes.append(
            {**outcome, "status": status, "alasan": reason, "id_dtsen": pid, "id_keluarga_dtsen": fid}
        )
    retired = reg.settle_families(cutoff)
    report = EventReport(
        outcomes=rows_frame(outcomes, OUTCOME_SCHEMA),
        provenance=rows_frame(reg.provenance, PROVENANCE_SCHEMA),
        lineage=rows_frame(reg.lineage, LINEAGE_SCHEMA),
        new_persons=new_persons,
        new_families=new_families,
        retired_families=len(retired),
    )
    log.info("events applied", **{k: v for k, v in report.summary().items() if k != "by_kind"})
    families_out = reg.f.result().filter(~pl.col("id_keluarga_dtsen").is_in(retired))
    return reg.p.result(), families_out, report


Result = tuple[str, str | None, str | None, str | None, tuple[int, int]]


def _death(reg: _Registry, e: dict[str, Any], new_id: IdAllocator, ref: date) -> Result:
    row = reg.by_nik.get(e["nik"])
    if row is None:
        return "ditolak", "nik_tidak_ditemukan", None, None, (0, 0)
    pid, fid = reg.p.get(row, "id_dtsen"), reg.p.get(row, "id_keluarga_dtsen")
    if not reg.living(row):
        return "sudah_diterapkan", "sudah_meninggal", pid, fid, (0, 0)
    when = e["tanggal_lapor"]
    reg.set_person(row, "status_hidup", False, when)
    reg.set_person(row, "tanggal_meninggal", e["tanggal_peristiwa"], when)
    reg.set_person(row, "status_padan", int(StatusPadan.MENINGGAL), when)
    reg.set_person(row, "keberadaan", int(Keberadaan.MENINGGAL), when)
    reg.touched.add(fid)
    if fid in reg.family_row:
        reg.reassign_head(fid, when)
    return "diterapkan", None, pid, fid, (0, 0)


def _birth(reg: _Registry, e: dict[str, Any], new_id: IdAllocator, ref: date) -> Result:
    if e["nik"] in reg.by_nik:
        row = reg.by_nik[e["nik"]]
        return (
            "sudah_diterapkan",
            "nik_sudah_ada",
            reg.p.get(row, "id_dtsen"),
            reg.p.get(row, "id_keluarga_dtsen"),
            (0, 0),
        )
    mother = reg.by_nik.get(e["nik_ibu"]) if e["nik_ibu"] else None
    frow = reg.by_kk.get(e["no_kk"]) if e["no_kk"] else None
    if frow is None and mother is not None:
        frow = reg.family_row.get(reg.p.get(mother, "id_keluarga_dtsen"))
    if frow is None:
        return "ditolak", "keluarga_tidak_ditemukan", None, None, (0, 0)
    fid = reg.f.get(frow, "id_keluarga_dtsen")
    parent_role = reg.p.get(mother, "hubungan") if mother is not None else HubunganKeluarga.KEPALA_KELUARGA
    child = parent_role in (HubunganKeluarga.KEPALA_KELUARGA, HubunganKeluarga.ISTRI_SUAMI)
    pid = new_id("person", e["nik"])
    when, born = e["tanggal_lapor"], e["tanggal_peristiwa"]
    values: dict[str, Any] = {
        "id_dtsen": pid, "id_keluarga_dtsen": fid, "nik": e["nik"], "no_kk": reg.f.get(frow, "no_kk"),
        "nama": e["nama"], "nama_asli": e["nama"], "jenis_kelamin": e["jenis_kelamin"], "tanggal_lahir": born,
        "umur": _age(born, ref), "status_kawin": int(StatusKawin.BELUM_KAWIN),
        "hubungan": int(HubunganKeluarga.ANAK if child else HubunganKeluarga.CUCU),
        "hubungan_siak": int(HubunganSIAK.ANAK if child else HubunganSIAK.CUCU),
        "status_hidup": True, "keberadaan": int(Keberadaan.ANGGOTA_BARU),
        "status_padan": int(StatusPadan.ANGGOTA_BARU), "di_dukcapil": True, "sumber_data": ["siak"],
        "bukti_status": f"{EVENT_SOURCE}:{e['id_peristiwa']}", "gelar": [],
        "nama_ibu_kandung": reg.p.get(mother, "nama") if mother is not None else None,
        **{c: reg.f.get(frow, c) for c in ADDRESS},
    }  # fmt: skip
    if "flags" in reg.p.frame.columns:
        values["flags"] = []
    row = reg.p.add({k: v for k, v in values.items() if k in reg.p.frame.columns})
    reg.by_nik[e["nik"]] = row
    reg.members.setdefault(fid, []).append(row)
    reg.touched.add(fid)
    for column in values:
        if column in reg.p.frame.columns:
            reg.provenance.append({"entitas": "person", "id": pid, "atribut": column, "sumber": EVENT_SOURCE,
                                   "batch_id": reg.batch_id, "tanggal_data": when})  # fmt: skip
    return "diterapkan", None, pid, fid, (1, 0)


def _move(reg: _Registry, e: dict[str, Any], new_id: IdAllocator, ref: date) -> Result:
    when = e["tanggal_lapor"]
    if e["nik"] is None:  # the whole family moves
        frow = reg.by_kk.get(e["no_kk"])
        if frow is None:
            return "ditolak", "kk_tidak_ditemukan", None, None, (0, 0)
        fid = reg.f.get(frow, "id_keluarga_dtsen")
        if reg.f.get(frow, "kode_desa") == e["kode_desa_tujuan"] and (
            e["alamat_tujuan"] is None or reg.f.get(frow, "alamat") == e["alamat_tujuan"]
        ):
            return "sudah_diterapkan", "alamat_sama", None, fid, (0, 0)
        reg.relocate(frow, e, when)
        return "diterapkan", None, None, fid, (0, 0)
    row = reg.by_nik.get(e["nik"])
    if row is None or not reg.living(row):
        return "ditolak", "nik_tidak_ditemukan", None, None, (0, 0)
    pid, old = reg.p.get(row, "id_dtsen"), reg.p.get(row, "id_keluarga_dtsen")
    target = reg.by_kk.get(e["no_kk_baru"])
    made = (0, 0)
    if target is not None and reg.f.get(target, "id_keluarga_dtsen") == old:
        return "sudah_diterapkan", "sudah_di_kk_tujuan", pid, old, made
    if target is None:  # a new card at the destination, the mover its head
        fid = new_id("family", e["no_kk_baru"])
        target = reg.new_family(fid, e["no_kk_baru"], row, None, when)
        reg.lineage.append(
            {"id_lama": old, "id_baru": fid, "jenis": "pisah", "jenis_id": "family", "run": reg.batch_id}
        )
        made = (0, 1)
        reg.set_person(row, "hubungan", int(HubunganKeluarga.KEPALA_KELUARGA), when)
        reg.set_person(row, "hubungan_siak", int(HubunganSIAK.KEPALA_KELUARGA), when)
        reg.relocate(target, e, when)
    fid = reg.f.get(target, "id_keluarga_dtsen")
    reg.move_person(row, fid, when)
    if old in reg.family_row:
        reg.reassign_head(old, when, to=fid)
    return "diterapkan", None, pid, fid, made


def _marriage(reg: _Registry, e: dict[str, Any], new_id: IdAllocator, ref: date) -> Result:
    a, b = reg.by_nik.get(e["nik"]), reg.by_nik.get(e["nik_pasangan"])
    if a is None or b is None or not reg.living(a) or not reg.living(b):
        return "ditolak", "nik_tidak_ditemukan", None, None, (0, 0)
    when = e["tanggal_lapor"]
    pid, fa = reg.p.get(a, "id_dtsen"), reg.p.get(a, "id_keluarga_dtsen")
    married = int(StatusKawin.KAWIN)
    already = reg.p.get(a, "status_kawin") == married and reg.p.get(b, "status_kawin") == married
    target_kk = e["no_kk_baru"]
    if already and (target_kk is None or reg.p.get(a, "no_kk") == target_kk == reg.p.get(b, "no_kk")):
        return "sudah_diterapkan", "sudah_kawin", pid, fa, (0, 0)
    reg.set_person(a, "status_kawin", married, when)
    reg.set_person(b, "status_kawin", married, when)
    made = (0, 0)
    if target_kk is not None and target_kk not in reg.by_kk:  # the couple gets its own card
        fid = new_id("family", target_kk)
        origin = reg.family_row.get(fa)
        frow = reg.new_family(fid, target_kk, a, origin if e["kode_desa_tujuan"] is None else None, when)
        reg.lineage.append(
            {"id_lama": fa, "id_baru": fid, "jenis": "pisah", "jenis_id": "family", "run": reg.batch_id}
        )
        made = (0, 1)
        if e["kode_desa_tujuan"] is not None:
            reg.relocate(frow, e, when)
        old_b = reg.p.get(b, "id_keluarga_dtsen")
        reg.move_person(a, fid, when)
        reg.move_person(b, fid, when)
        reg.set_person(a, "hubungan", int(HubunganKeluarga.KEPALA_KELUARGA), when)
        reg.set_person(a, "hubungan_siak", int(HubunganSIAK.KEPALA_KELUARGA), when)
        reg.set_person(b, "hubungan", int(HubunganKeluarga.ISTRI_SUAMI), when)
        wife = reg.p.get(b, "jenis_kelamin") == JenisKelamin.PEREMPUAN
        reg.set_person(b, "hubungan_siak", int(HubunganSIAK.ISTRI if wife else HubunganSIAK.SUAMI), when)
        for old in sorted({fa, old_b}):
            if old in reg.family_row:
                reg.reassign_head(old, when, to=fid)
        return "diterapkan", None, pid, fid, made
    target = reg.by_kk.get(target_kk) if target_kk is not None else reg.family_row.get(fa)
    if target is None:
        return "ditolak", "kk_tidak_ditemukan", pid, fa, made
    fid = reg.f.get(target, "id_keluarga_dtsen")
    for person in (a, b):
        if reg.p.get(person, "id_keluarga_dtsen") != fid:
            old = reg.p.get(person, "id_keluarga_dtsen")
            reg.move_person(person, fid, when)
            head_here = reg.f.get(target, "id_kepala")
            spouse_of_head = any(reg.p.get(x, "id_dtsen") == head_here for x in (a, b))
            role = HubunganKeluarga.ISTRI_SUAMI if spouse_of_head else HubunganKeluarga.MENANTU
            reg.set_person(person, "hubungan", int(role), when)
            siak = (HubunganSIAK.ISTRI if reg.p.get(person, "jenis_kelamin") == JenisKelamin.PEREMPUAN
                    else HubunganSIAK.SUAMI) if spouse_of_head else HubunganSIAK.MENANTU  # fmt: skip
            reg.set_person(person, "hubungan_siak", int(siak), when)
            if old in reg.family_row:
                reg.reassign_head(old, when, to=fid)
    return "diterapkan", None, pid, fid, made


def _divorce(reg: _Registry, e: dict[str, Any], new_id: IdAllocator, ref: date) -> Result:
    """Both spouses ``Cerai hidup``. Who keeps which card is Dukcapil's next event (a KK split or a move),
    so the family is left as it is."""
    a, b = reg.by_nik.get(e["nik"]), reg.by_nik.get(e["nik_pasangan"])
    if a is None or b is None or not reg.living(a) or not reg.living(b):
        return "ditolak", "nik_tidak_ditemukan", None, None, (0, 0)
    pid, fid = reg.p.get(a, "id_dtsen"), reg.p.get(a, "id_keluarga_dtsen")
    divorced = int(StatusKawin.CERAI_HIDUP)
    if reg.p.get(a, "status_kawin") == divorced and reg.p.get(b, "status_kawin") == divorced:
        return "sudah_diterapkan", "sudah_cerai", pid, fid, (0, 0)
    when = e["tanggal_lapor"]
    reg.set_person(a, "status_kawin", divorced, when)
    reg.set_person(b, "status_kawin", divorced, when)
    return "diterapkan", None, pid, fid, (0, 0)


def _split(reg: _Registry, e: dict[str, Any], new_id: IdAllocator, ref: date) -> Result:
    origin = reg.by_kk.get(e["no_kk"])
    if origin is None:
        return "ditolak", "kk_tidak_ditemukan", None, None, (0, 0)
    fa = reg.f.get(origin, "id_keluarga_dtsen")
    if e["no_kk_baru"] in reg.by_kk:
        existing = reg.f.get(reg.by_kk[e["no_kk_baru"]], "id_keluarga_dtsen")
        return "sudah_diterapkan", "kk_baru_sudah_ada", None, existing, (0, 0)
    rows = [reg.by_nik.get(n) for n in e["nik_anggota"]]
    if not rows or any(
        r is None or not reg.living(r) or reg.p.get(r, "id_keluarga_dtsen") != fa for r in rows
    ):
        return "ditolak", "anggota_bukan_keluarga_asal", None, fa, (0, 0)
    when = e["tanggal_lapor"]
    fid = new_id("family", e["no_kk_baru"])
    head = rows[0]
    assert head is not None
    frow = reg.new_family(fid, e["no_kk_baru"], head, origin if e["kode_desa_tujuan"] is None else None, when)
    if e["kode_desa_tujuan"] is not None:
        reg.relocate(frow, e, when)
    reg.lineage.append(
        {"id_lama": fa, "id_baru": fid, "jenis": "pisah", "jenis_id": "family", "run": reg.batch_id}
    )
    for i, r in enumerate(rows):
        assert r is not None
        reg.move_person(r, fid, when)
        if i == 0:
            role, siak = HubunganKeluarga.KEPALA_KELUARGA, HubunganSIAK.KEPALA_KELUARGA
        elif i == 1 and reg.p.get(r, "status_kawin") == StatusKawin.KAWIN:
            role = HubunganKeluarga.ISTRI_SUAMI
            wife = reg.p.get(r, "jenis_kelamin") == JenisKelamin.PEREMPUAN
            siak = HubunganSIAK.ISTRI if wife else HubunganSIAK.SUAMI
        else:
            role, siak = HubunganKeluarga.ANAK, HubunganSIAK.ANAK
        reg.set_person(r, "hubungan", int(role), when)
        reg.set_person(r, "hubungan_siak", int(siak), when)
    reg.reassign_head(fa, when, to=fid)
    return "diterapkan", None, reg.p.get(head, "id_dtsen"), fid, (0, 1)


_HANDLERS: dict[str, Callable[..., Result]] = {
    "MATI": _death, "LAHIR": _birth, "PINDAH": _move, "KAWIN": _marriage, "CERAI": _divorce,
    "PISAH_KK": _split,
}  # fmt: skip


# -- reported at once ---------------------------------------------------------------------------------
DEATH_REPORT_SCHEMA: dict[str, pl.DataType] = {
    "id_peristiwa": pl.String(), "tanggal_peristiwa": pl.Date(), "tanggal_lapor": pl.Date(),
    "id_dtsen": pl.String(), "nik": pl.String(), "id_keluarga_dtsen": pl.String(), "program": pl.String(),
    "peran": pl.String(), "nilai_tahunan": pl.Int64(), "kode_prov": pl.String(), "kode_kab": pl.String(),
}  # fmt: skip


def deaths_in_snapshot(snapshot: Snapshot, events: EventFeed | pl.DataFrame) -> pl.DataFrame:
    """Published beneficiaries who died according to ``events``, one row per person and program.

    ``peran`` is ``penerima`` for a person on a per-person list (PBI-JK, PIP), ``kepala`` or ``anggota``
    for a member of an eligible family on a per-family list; ministries can stop payment before the next
    cycle takes the person out for good.
    """
    frame = events.events if isinstance(events, EventFeed) else events
    deaths = frame.filter(pl.col("jenis") == "MATI").select(
        "id_peristiwa", "tanggal_peristiwa", "tanggal_lapor", "nik"
    )
    if deaths.is_empty():
        return pl.DataFrame(schema=DEATH_REPORT_SCHEMA)
    persons = pl.scan_parquet(snapshot.file("persons.parquet")).select(
        "id_dtsen", "nik", "id_keluarga_dtsen", "status_hidup"
    )
    hit = (
        deaths.lazy()
        .join(persons.filter(pl.col("status_hidup").fill_null(True)), on="nik", how="inner")
        .drop("status_hidup")
        .collect()
    )
    if hit.is_empty():
        return pl.DataFrame(schema=DEATH_REPORT_SCHEMA)
    eligibility = pl.scan_parquet(snapshot.file("eligibility.parquet")).filter(pl.col("layak"))
    heads = pl.scan_parquet(snapshot.file("families.parquet")).select("id_keluarga_dtsen", "id_kepala")
    rows = (
        hit.lazy()
        .join(
            eligibility.select("program", "id_keluarga_dtsen", "nilai_tahunan", "kode_prov", "kode_kab"),
            on="id_keluarga_dtsen",
            how="inner",
        )
        .join(heads, on="id_keluarga_dtsen", how="left")
        .collect()
    )
    parts = []
    for program, group in rows.group_by("program", maintain_order=True):
        name = f"beneficiaries/{program[0]}.parquet"
        listed: set[str] = set()
        per_person = False
        if snapshot.has(name):
            cols = pl.read_parquet_schema(snapshot.file(name))
            if "id_dtsen" in cols:
                per_person = True
                listed = set(pl.read_parquet(snapshot.file(name), columns=["id_dtsen"])["id_dtsen"].to_list())
        if per_person:
            group = group.filter(pl.col("id_dtsen").is_in(list(listed))).with_columns(
                peran=pl.lit("penerima")
            )
        else:
            group = group.with_columns(
                peran=pl.when(pl.col("id_dtsen") == pl.col("id_kepala"))
                .then(pl.lit("kepala"))
                .otherwise(pl.lit("anggota"))
            )
        parts.append(group)
    out = pl.concat(parts) if parts else pl.DataFrame(schema=DEATH_REPORT_SCHEMA)
    return out.select(list(DEATH_REPORT_SCHEMA)).cast(DEATH_REPORT_SCHEMA).sort("id_peristiwa", "program")


def sequential_ids(prefix: str, start: int = 1) -> IdAllocator:
    """An allocator for tests and demos: ``<prefix>P000001`` / ``<prefix>K000001`` in call order."""
    counters = {"person": start, "family": start}

    def allocate(kind: str, _key: str | None) -> str:
        n = counters[kind]
        counters[kind] += 1
        return f"{prefix}{'P' if kind == 'person' else 'K'}{n:06d}"

    return allocate


def event_files(paths: Iterable[Path]) -> list[Path]:
    """Event files among ``paths`` (CSV/Parquet), directories expanded, sorted for a stable order."""
    out: list[Path] = []
    for path in paths:
        path = Path(path)
        if path.is_dir():
            out.extend(sorted(p for p in path.iterdir() if p.suffix.lower() in (".csv", ".parquet")))
        else:
            out.append(path)
    return out
