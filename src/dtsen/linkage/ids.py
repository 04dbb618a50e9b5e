"""Stable identifiers: a registry of keys -> ID that survives quarterly runs and never reuses an ID.

A group (a person cluster, a family) carries keys: its records' keys (``sumber:id_rekaman``) for persons;
its KK number and its members' person IDs for families. Each key remembers the ID it belonged to last
run. An ID goes to the group holding its *strong* key (the register row, the KK number) or, failing
that, most of its keys; a group claiming several IDs keeps the best and the others are merged into it
(lineage ``gabung``); a group that lost the ID it had keys of is split off under a new ID (``pisah``);
an ID no group claims is retired (``pensiun``). New IDs continue from the highest ever issued.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from dtsen.atomic import atomic_file
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
    ids: pl.DataFrame  # group -> id
    lineage: pl.DataFrame
    registry: pl.DataFrame  # the registry rows of this kind after the run


def registry_path(state_dir: Path) -> Path:
    return state_dir / "ids.parquet"


def load_registry(state_dir: Path) -> pl.DataFrame:
    path = registry_path(state_dir)
    if not path.exists():
        return ID_REGISTRY.empty()
    return pl.read_parquet(path)


def _number(ids: pl.Series) -> int:
    if ids.is_empty():
        return 0
    return int(ids.str.slice(1).cast(pl.Int64).max() or 0)


def assign(groups: pl.DataFrame, registry: pl.DataFrame, kind: str, run: str) -> Assignment:
    """IDs for ``groups`` (columns group: int64, kunci: str, kuat: bool) given the registry of ``kind``."""
    reg = registry.filter(pl.col("jenis_id") == kind)
    hits = groups.join(reg.select("kunci", "id"), on="kunci", how="inner")
    claims = hits.group_by("group", "id").agg(kuat=pl.col("kuat").any(), n=pl.len())
    # each ID goes to its best claimant: strong key first, then most keys, then the lowest group
    winners = claims.sort(["id", "kuat", "n", "group"], descending=[False, True, True, False]).unique(
        "id", keep="first"
    )
    # a group keeping several IDs keeps its best one; the rest merge into it
    kept = winners.sort(["group", "kuat", "n", "id"], descending=[False, True, True, False]).unique(
        "group", keep="first"
    )
    merged = winners.join(kept.select("group", id_baru="id"), on="group").filter(
        pl.col("id") != pl.col("id_baru")
    )
    # groups that had keys of an ID they did not get were split off
    groups_all = groups.select("group").unique()
    new_groups = groups_all.join(kept.select("group"), on="group", how="anti").sort("group")
    start = _number(reg["id"]) + 1
    new_ids = new_groups.with_columns(
        id=pl.format(
            "{}{}",
            pl.lit(PREFIX[kind]),
            (pl.int_range(start, start + pl.len()).cast(pl.String).str.zfill(DIGITS)),
        )
    )
    ids = pl.concat([kept.select("group", "id"), new_ids.select("group", "id")])
    lost = claims.join(winners.select("group", "id"), on=["group", "id"], how="anti")
    split = lost.join(ids.select("group", id_baru="id"), on="group").select(id_lama="id", id_baru="id_baru")
    retired = (
        reg.filter(pl.col("aktif"))
        .select("id")
        .unique()
        .join(ids.select("id"), on="id", how="anti")
        .join(merged.select("id"), on="id", how="anti")
    )
    lineage = pl.concat(
        [
            merged.select(id_lama="id", id_baru="id_baru", jenis=pl.lit(LineageKind.GABUNG)),
            split.unique().with_columns(jenis=pl.lit(LineageKind.PISAH)),
            retired.select(id_lama="id", id_baru=pl.lit(None, pl.String), jenis=pl.lit(LineageKind.PENSIUN)),
        ]
    ).with_columns(jenis_id=pl.lit(kind), run=pl.lit(run))
    current = groups.join(ids, on="group").select(
        jenis_id=pl.lit(kind), kunci="kunci", id="id", aktif=pl.lit(True), run=pl.lit(run)
    )
    # keys not seen this run keep their last ID (inactive), so a record that comes back gets it again
    old = reg.join(current.select("kunci"), on="kunci", how="anti").filter(pl.col("kunci") != LAST_KEY)
    old = old.with_columns(aktif=pl.lit(False))
    last = max(start - 1, _number(ids["id"]))  # the highest ID ever issued, kept even when it is merged away
    sentinel = pl.DataFrame(
        {
            "jenis_id": [kind],
            "kunci": [LAST_KEY],
            "id": [f"{PREFIX[kind]}{last:0{DIGITS}d}"],
            "aktif": [False],
            "run": [run],
        },
        schema=ID_REGISTRY.polars,
    )
    return Assignment(
        ids=ids, lineage=lineage.select(LINEAGE.columns), registry=pl.concat([current, old, sentinel])
    )


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


def save_registry(state_dir: Path, frames: list[pl.DataFrame]) -> None:
    """Write the registry atomically (:func:`dtsen.atomic.atomic_file`)."""
    with atomic_file(registry_path(state_dir)) as tmp:
        pl.concat(frames).select(ID_REGISTRY.columns).write_parquet(tmp, compression="zstd")
