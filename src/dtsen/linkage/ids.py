"""Stable identifiers: a registry of keys -> ID that survives quarterly runs and never reuses an ID.

A group (a person cluster, a family) carries keys: its records' keys (``sumber:id_rekaman``) for persons;
its KK number and its members' person IDs for families. Each key remembers the ID it belonged to last
run. An ID goes to the group holding its *strong* key (the register row, the KK number) or, failing
that, most of its keys; a group claiming several IDs keeps the best and the others are merged into it
(lineage ``gabung``); a group that lost the ID it had keys of is split off under a new ID (``pisah``);
an ID no group claims is retired (``pensiun``). New IDs continue from the highest ever issued.

The registry holds one row per key ever seen (~5 per person: 50 M rows at 10 M persons), so it never
sits whole in driver memory: assignment is engine queries from Parquet (the state file, the groups) to
Parquet (the IDs, the new registry); only the lineage and a few scalars reach the driver.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import ibis
import ibis.expr.types as ir
import polars as pl
import pyarrow as pa

from dtsen.atomic import atomic_file, commit_file
from dtsen.engine import Engine
from dtsen.tables import ID_REGISTRY, LINEAGE, LineageKind

PREFIX = {"person": "P", "family": "K"}
DIGITS = 12
LAST_KEY = "#terakhir"  # registry row holding the highest ID issued per kind
FAMILY_KEY_PREFIX = "kk:"  # a family's strong key: its Kartu Keluarga number


def record_key(sumber: str, record_id: str) -> str:
    """The registry key of a source record, ``<sumber>:<id_rekaman>``; ingestion makes id_rekaman
    ``<sumber>:<the source's own record id>`` (the register's is the NIK). Events use it to reserve an
    ID under the key next quarter's register record of a newborn will carry."""
    return f"{sumber}:{sumber}:{record_id}"


def family_key(no_kk: str) -> str:
    return f"{FAMILY_KEY_PREFIX}{no_kk}"


@dataclass
class Assignment:
    ids: Path  # group -> id (Parquet, under the run's work dir)
    lineage: pl.DataFrame
    registry: list[ir.Table]  # the registry rows of this kind after the run (read from ``ids``)


def registry_path(state_dir: Path) -> Path:
    return state_dir / "ids.parquet"


def pending_path(state_dir: Path) -> Path:
    """Where a run writes its new registry until its output is in place (:func:`save_registry`): beside
    the registry, so the move is one rename; a fixed name, so a killed run's file is overwritten."""
    return state_dir / ".ids.pending.parquet"


def registry_table(eng: Engine, state_dir: Path, work: Path) -> ir.Table:
    """The registry as an engine table; before the first run an empty one (written under ``work``)."""
    path = registry_path(state_dir)
    if not path.exists():
        path = work / "ids_empty.parquet"
        pl.DataFrame(schema=ID_REGISTRY.polars).write_parquet(path)
    return eng.read_parquet(path)


def _number(ids: ir.StringColumn) -> ir.IntegerColumn:
    return ids.substr(1).cast("int64")


def _scalar(eng: Engine, value: ir.Scalar) -> int:
    """A small aggregate's value on the driver (0 when there are no rows)."""
    got = eng.to_pyarrow(value.as_table()).column(0)[0].as_py()
    return int(got or 0)


def _format(kind: str, number: ir.IntegerValue) -> ir.StringValue:
    return ibis.literal(PREFIX[kind]).concat(number.cast("string").lpad(DIGITS, "0"))


def assign(eng: Engine, groups: ir.Table, registry: ir.Table, kind: str, run: str, work: Path) -> Assignment:
    """IDs for ``groups`` (columns group: int64, kunci: str, kuat: bool) given the ``registry`` (all
    kinds; this one's rows are used). Intermediates and the IDs are written under ``work/ids_<kind>``."""
    out = work / f"ids_{kind}"
    out.mkdir(exist_ok=True)
    reg = registry.filter(registry.jenis_id == kind)
    hits = groups.join(reg.select("kunci", "id"), "kunci")
    claims = hits.group_by("group", "id").aggregate(kuat=hits.kuat.any(), n=hits.count())
    eng.write_work_parquet(claims, out / "claims.parquet")
    claims = eng.read_parquet(out / "claims.parquet")
    # each ID goes to its best claimant: strong key first, then most keys, then the lowest group
    best = ibis.row_number().over(
        group_by=claims.id, order_by=[ibis.desc(claims.kuat), ibis.desc(claims.n), claims.group]
    )
    winners = claims.mutate(_pos=best)
    winners = winners.filter(winners._pos == 0).drop("_pos")
    # a group keeping several IDs keeps its best one; the rest merge into it
    keep = ibis.row_number().over(
        group_by=winners.group, order_by=[ibis.desc(winners.kuat), ibis.desc(winners.n), winners.id]
    )
    eng.write_work_parquet(winners.mutate(kept=keep == 0), out / "winners.parquet")
    winners = eng.read_parquet(out / "winners.parquet")
    kept = winners.filter(winners.kept).select("group", "id")
    merged = (
        winners.filter(~winners.kept)
        .select("group", id_lama="id")
        .join(kept.select("group", id_baru="id"), "group")
        .select("id_lama", "id_baru")
    )
    # groups that kept no ID get new ones, numbered in group order from the highest ever issued
    start = _scalar(eng, _number(reg.id).max()) + 1
    new = groups.select("group").distinct().anti_join(kept, "group")
    new = new.select("group", id=_format(kind, ibis.row_number().over(order_by=new.group) + start))
    eng.write_work_parquet(ibis.union(kept, new), out / "ids.parquet")
    ids = eng.read_parquet(out / "ids.parquet")
    # groups that had keys of an ID they did not get were split off
    lost = claims.anti_join(winners, ["group", "id"])
    split = lost.join(ids.select("group", id_baru="id"), "group").select(id_lama="id", id_baru="id_baru")
    retired = (
        reg.filter(reg.aktif)
        .select("id")
        .distinct()
        .anti_join(ids.select("id"), "id")
        .anti_join(merged.select(id="id_lama"), "id")
    )
    lineage = ibis.union(
        merged.mutate(jenis=ibis.literal(LineageKind.GABUNG.value)),
        split.distinct().mutate(jenis=ibis.literal(LineageKind.PISAH.value)),
        retired.select(
            id_lama="id", id_baru=ibis.null("string"), jenis=ibis.literal(LineageKind.PENSIUN.value)
        ),
        distinct=False,
    )
    order = {k.value: i for i, k in enumerate(LineageKind)}
    lineage_frame = (
        pl.from_arrow(eng.to_pyarrow(lineage))
        .with_columns(jenis_id=pl.lit(kind), run=pl.lit(run))
        .sort(pl.col("jenis").replace_strict(order), "id_lama", "id_baru", nulls_last=True)
        .select(LINEAGE.columns)
    )
    current = groups.join(ids, "group").select(
        jenis_id=ibis.literal(kind), kunci="kunci", id="id", aktif=ibis.literal(True), run=ibis.literal(run)
    )
    # keys not seen this run keep their last ID (inactive), so a record that comes back gets it again
    old = reg.anti_join(groups.select("kunci"), "kunci")  # every group has an ID: its keys are current
    old = old.filter(old.kunci != LAST_KEY).mutate(aktif=ibis.literal(False)).select(*ID_REGISTRY.columns)
    last = max(start - 1, _scalar(eng, _number(ids.id).max()))  # kept even when it is merged away
    sentinel = pa.table(
        {
            "jenis_id": [kind],
            "kunci": [LAST_KEY],
            "id": [f"{PREFIX[kind]}{last:0{DIGITS}d}"],
            "aktif": [False],
            "run": [run],
        },
        schema=ID_REGISTRY.arrow,
    )
    return Assignment(out / "ids.parquet", lineage_frame, [current, old, eng.memtable(sentinel)])


def retired(ids: pl.Series, kind: str, run: str) -> pl.DataFrame:
    """Lineage rows (``pensiun``) for IDs a run retires outside :func:`assign`: a family whose members
    all died, or that events or corrections emptied; its registry keys are kept."""
    return pl.DataFrame(
        {
            "id_lama": ids.cast(pl.String),
            "id_baru": None,
            "jenis": LineageKind.PENSIUN,
            "jenis_id": kind,
            "run": run,
        },
        schema=LINEAGE.polars,
    )


def write_registry(eng: Engine, parts: list[ir.Table], path: Path) -> None:
    """The registry ``parts`` (each with the registry's columns), one after the other, into ``path``."""
    schema = ibis.Schema.from_pyarrow(ID_REGISTRY.arrow)
    eng.write_parquet_parts([p.select(*ID_REGISTRY.columns).cast(schema) for p in parts], path)


def write_pending(eng: Engine, parts: list[ir.Table], state_dir: Path) -> Path:
    """The run's new registry at :func:`pending_path` (it becomes the registry in :func:`save_registry`,
    once the run's output is in place)."""
    path = pending_path(state_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_registry(eng, parts, path)
    return path


def save_registry(state_dir: Path, pending: Path) -> None:
    """Make ``pending`` (:func:`write_pending`) the registry: fsync and rename over it."""
    commit_file(pending, registry_path(state_dir))


def highest_issued(eng: Engine, state_dir: Path) -> dict[str, int]:
    """Per kind, the highest ID number the registry has issued (0 for none, or no registry)."""
    path = registry_path(state_dir)
    if not path.exists():
        return dict.fromkeys(PREFIX, 0)
    reg = eng.read_parquet(path)
    top = reg.group_by("jenis_id").aggregate(n=_number(reg.id).max())
    found = {k: int(n or 0) for k, n in pl.from_arrow(eng.to_pyarrow(top)).iter_rows()}
    return {kind: found.get(kind, 0) for kind in PREFIX}


def reserve(eng: Engine, state_dir: Path, reserved: Path, run: str) -> None:
    """Add the registry rows of IDs issued outside linkage (``reserved``: events' new_ids.parquet) to
    the registry in ``state_dir``: a reserved key replaces the row it had, and each kind's highest-issued
    row is rewritten to cover them."""
    path = registry_path(state_dir)
    reg = eng.read_parquet(path)
    added = eng.read_parquet(reserved).select(*ID_REGISTRY.columns).cast(reg.schema())
    kept = reg.anti_join(added.select("kunci"), "kunci")
    rows = ibis.union(kept, added, distinct=False)
    rows = rows.filter(rows.kunci != LAST_KEY)
    # the highest ID per kind, of the kept and added rows and of the old highest-issued rows
    tops = ibis.union(
        rows.select("jenis_id", "id"), reg.filter(reg.kunci == LAST_KEY).select("jenis_id", "id")
    )
    top = dict(
        pl.from_arrow(eng.to_pyarrow(tops.group_by("jenis_id").aggregate(id=tops.id.max()))).iter_rows()
    )
    sentinels = pa.table(
        {
            "jenis_id": list(PREFIX),
            "kunci": [LAST_KEY] * len(PREFIX),
            "id": [top[kind] for kind in PREFIX],
            "aktif": [False] * len(PREFIX),
            "run": [run] * len(PREFIX),
        },
        schema=ID_REGISTRY.arrow,
    )
    with atomic_file(path) as tmp:
        write_registry(eng, [rows, eng.memtable(sentinels)], tmp)
