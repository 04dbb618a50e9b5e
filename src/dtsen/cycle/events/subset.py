"""The part of the golden tables a quarter's events and corrections can read or change, selected in the
engine, and the tables written back: the untouched rows streamed through, that part changed merged in.

Events and corrections touch a small share of a national registry; the Polars logic (:mod:`.apply`,
:mod:`dtsen.cycle.corrections`) runs on that share only. The share is complete when every lookup the
handlers make answers as it would over the whole tables:

- persons by NIK (every person holding a NIK an event names: ``by_nik`` prefers a living duplicate);
- families by No. KK (every family holding a KK an event names), and by ID (corrected families, and
  the IDs they were merged into: :func:`dtsen.cycle.corrections.apply_corrections` follows ``gabung``);
- the families of the persons found by NIK, and every member of each of those families (heads are
  reassigned, children follow the last adult, families are recounted and retired);
- persons by ID (corrected persons, and the IDs they were merged into).

Two facts are global and computed by a query: the urban flag the registry records for a village an
event moves a family to (:meth:`Registry.urban`), and the highest ID number present (the allocator).
Both tables come out of the linkage sorted by ID; ties in the handlers follow that order, which the
share keeps.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import ibis
import ibis.expr.types as ir
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from dtsen.engine import BATCH_ROWS, COMPRESSION, COMPRESSION_LEVEL, Engine
from dtsen.tables import LineageKind

PERSON_KEY, FAMILY_KEY = "id_dtsen", "id_keluarga_dtsen"


@dataclass
class Touched:
    """The persons and families events and corrections may read or change, and the global facts."""

    persons: pl.DataFrame  # sorted by id_dtsen
    families: pl.DataFrame  # sorted by id_keluarga_dtsen
    urban: dict[str, bool]  # village -> urban flag most families there have (Registry.urban)
    highest: dict[str, int]  # person|family -> highest ID number present in the tables


def _keys(values: list[str | None]) -> list[str]:
    return sorted({v for v in values if v is not None})


def _ids(eng: Engine, column: str, values: list[str]) -> ir.Table:
    return eng.memtable(pa.table({column: pa.array(values, pa.string())}))


def _merged_closure(ids: list[str], kind: str, lineage: pl.DataFrame | None) -> list[str]:
    """``ids`` and every ID they were merged into (``gabung``, chains followed) for ``kind``."""
    if lineage is None or not lineage.height:
        return ids
    merged = dict(
        lineage.filter(
            (pl.col("jenis") == LineageKind.GABUNG)
            & (pl.col("jenis_id") == kind)
            & pl.col("id_baru").is_not_null()
        )
        .select("id_lama", "id_baru")
        .iter_rows()
    )
    found = set(ids)
    for id_ in ids:
        while id_ in merged and merged[id_] not in found:
            id_ = merged[id_]
            found.add(id_)
    return sorted(found)


def select_touched(
    eng: Engine,
    persons_path: Path,
    families_path: Path,
    events: pl.DataFrame | None,
    corrections: pl.DataFrame | None,
    cutoff: date,
    lineage: pl.DataFrame | None = None,
) -> Touched:
    """The share of ``persons_path`` / ``families_path`` that ``events`` and ``corrections`` (each
    counted up to ``cutoff``) can read or change; ``lineage``: the merges a correction follows."""
    niks: list[str | None] = []
    kks: list[str | None] = []
    villages: list[str | None] = []
    if events is not None:
        due = events.filter(pl.col("tanggal_lapor") <= cutoff)
        for column in ("nik", "nik_ibu", "nik_pasangan"):
            niks += due[column].to_list()
        niks += due["nik_anggota"].explode().to_list()
        kks = due["no_kk"].to_list() + due["no_kk_baru"].to_list()
        villages = due["kode_desa_tujuan"].to_list()
    person_ids: list[str] = []
    family_ids: list[str] = []
    if corrections is not None:
        due = corrections.filter(pl.col("tanggal_keputusan") <= cutoff)
        person_ids = _merged_closure(_keys(due.filter(entitas="person")["id"].to_list()), "person", lineage)
        family_ids = _merged_closure(_keys(due.filter(entitas="family")["id"].to_list()), "family", lineage)

    p, f = eng.read_parquet(persons_path), eng.read_parquet(families_path)
    by_nik = p.semi_join(_ids(eng, "nik", _keys(niks)), "nik")
    family_set = ibis.union(
        by_nik.select(FAMILY_KEY),
        f.semi_join(_ids(eng, "no_kk", _keys(kks)), "no_kk").select(FAMILY_KEY),
        _ids(eng, FAMILY_KEY, family_ids),
        distinct=True,
    )
    fids = _keys(pl.from_arrow(eng.to_pyarrow(family_set))[FAMILY_KEY].to_list())
    families_t = _ids(eng, FAMILY_KEY, fids)
    person_set = ibis.union(
        by_nik.select(PERSON_KEY),
        p.semi_join(families_t, FAMILY_KEY).select(PERSON_KEY),
        _ids(eng, PERSON_KEY, person_ids),
        distinct=True,
    )
    persons = p.semi_join(person_set, PERSON_KEY).order_by(PERSON_KEY)
    families = f.semi_join(families_t, FAMILY_KEY).order_by(FAMILY_KEY)
    return Touched(
        persons=pl.from_arrow(eng.to_pyarrow(persons)),  # type: ignore[arg-type]
        families=pl.from_arrow(eng.to_pyarrow(families)),  # type: ignore[arg-type]
        urban=_urban(eng, f, _keys(villages)),
        highest={
            "person": _highest(eng, p, PERSON_KEY),
            "family": _highest(eng, f, FAMILY_KEY),
        },
    )


def _urban(eng: Engine, f: ir.Table, villages: list[str]) -> dict[str, bool]:
    """Per village, the urban flag most of its families have; a tie goes to the flag of the family
    first in ID order (what Registry.urban's Counter over the whole table answers)."""
    if not villages:
        return {}
    known = f.semi_join(_ids(eng, "kode_desa", villages), "kode_desa").filter(f.perkotaan.notnull())
    votes = known.group_by("kode_desa").aggregate(
        urban=known.count(where=known.perkotaan),
        rural=known.count(where=~known.perkotaan),
        first_urban=known[FAMILY_KEY].min(where=known.perkotaan),
        first_rural=known[FAMILY_KEY].min(where=~known.perkotaan),
    )
    out = {}
    for r in pl.from_arrow(eng.to_pyarrow(votes)).iter_rows(named=True):  # type: ignore[union-attr]
        if r["urban"] != r["rural"]:
            out[r["kode_desa"]] = r["urban"] > r["rural"]
        else:
            out[r["kode_desa"]] = r["first_urban"] < r["first_rural"]
    return out


def _highest(eng: Engine, t: ir.Table, key: str) -> int:
    """The highest ID number in ``t`` (0 for none): what the allocator continues from."""
    top = eng.to_pyarrow(t[key].substr(1).cast("int64").max().as_table()).column(0)[0].as_py()
    return int(top or 0)


def write_back(
    base: Path, key: str, touched: pl.Series, changed: pl.DataFrame, out: Path, batch_rows: int = BATCH_ROWS
) -> int:
    """``base`` without the rows whose ``key`` is in ``touched`` (the share read), plus ``changed`` (the
    share as events and corrections left it: rows removed, changed, added), of ``base``'s schema and in
    ``key`` order; returns the row count.

    ``base`` is sorted by ``key`` (the linkage writes it so), so the changed rows are merged into it one
    batch (``batch_rows``) at a time: memory holds a batch and the share, where an engine sort of the
    whole table would hold up to the engine's memory limit."""
    source = pq.ParquetFile(base)
    schema = source.schema_arrow
    drop = pa.array(touched.to_list(), schema.field(key).type)
    pending = changed.sort(key).to_arrow().select(schema.names).cast(schema)
    keys = pending[key].to_pylist()
    rows = taken = 0
    last: str | None = None
    with pq.ParquetWriter(out, schema, compression=COMPRESSION, compression_level=COMPRESSION_LEVEL) as w:
        for batch in source.iter_batches(batch_size=batch_rows):
            if not batch.num_rows:
                continue
            ids = batch[key]
            ascending = pc.all(pc.less(ids[:-1], ids[1:]), min_count=0).as_py()
            if not ascending or (last is not None and ids[0].as_py() <= last):
                raise ValueError(f"{base} is not sorted by {key}")
            last = ids[-1].as_py()
            kept = pa.Table.from_batches([batch]).filter(pc.invert(pc.is_in(ids, drop)))
            upto = bisect.bisect_right(keys, last)
            merged = pa.concat_tables([kept, pending.slice(taken, upto - taken)]).sort_by(key)
            taken = upto
            if merged.num_rows:  # every row of the batch was read into the share, none added here
                w.write_table(merged)
                rows += merged.num_rows
        if taken < pending.num_rows:  # added rows numbered after every untouched one
            w.write_table(pending.slice(taken))
    return rows + pending.num_rows - taken
