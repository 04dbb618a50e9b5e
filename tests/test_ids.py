"""Stable-ID assignment as engine queries (ids.py): the same IDs, lineage and registry as the Polars rules
it replaced, over consecutive runs with merges, splits and retirements; and the same on Spark as on
DuckDB (marked ``spark``)."""

from __future__ import annotations

import random
from pathlib import Path

import polars as pl
import pytest

from dtsen.engine import Engine, get_engine
from dtsen.linkage.ids import (
    DIGITS,
    LAST_KEY,
    PREFIX,
    assign,
    registry_path,
    registry_table,
    save_registry,
    write_pending,
)
from dtsen.tables import ID_REGISTRY, LINEAGE, LineageKind

GROUP_SCHEMA = {"group": pl.Int64, "kunci": pl.String, "kuat": pl.Boolean}


def _reference(groups: pl.DataFrame, registry: pl.DataFrame, kind: str, run: str) -> tuple[pl.DataFrame, ...]:
    """The in-memory Polars rules ids.assign had before it became engine queries (the oracle)."""

    def number(ids: pl.Series) -> int:
        return 0 if ids.is_empty() else int(ids.str.slice(1).cast(pl.Int64).max() or 0)

    reg = registry.filter(pl.col("jenis_id") == kind)
    hits = groups.join(reg.select("kunci", "id"), on="kunci", how="inner")
    claims = hits.group_by("group", "id").agg(kuat=pl.col("kuat").any(), n=pl.len())
    winners = claims.sort(["id", "kuat", "n", "group"], descending=[False, True, True, False]).unique(
        "id", keep="first"
    )
    kept = winners.sort(["group", "kuat", "n", "id"], descending=[False, True, True, False]).unique(
        "group", keep="first"
    )
    merged = winners.join(kept.select("group", id_baru="id"), on="group").filter(
        pl.col("id") != pl.col("id_baru")
    )
    new_groups = (
        groups.select("group").unique().join(kept.select("group"), on="group", how="anti").sort("group")
    )
    start = number(reg["id"]) + 1
    new_ids = new_groups.with_columns(
        id=pl.format(
            "{}{}",
            pl.lit(PREFIX[kind]),
            pl.int_range(start, start + pl.len()).cast(pl.String).str.zfill(DIGITS),
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
            merged.select(id_lama="id", id_baru="id_baru", jenis=pl.lit(LineageKind.GABUNG.value)),
            split.unique().with_columns(jenis=pl.lit(LineageKind.PISAH.value)),
            retired.select(
                id_lama="id", id_baru=pl.lit(None, pl.String), jenis=pl.lit(LineageKind.PENSIUN.value)
            ),
        ]
    ).with_columns(jenis_id=pl.lit(kind), run=pl.lit(run))
    current = groups.join(ids, on="group").select(
        jenis_id=pl.lit(kind), kunci="kunci", id="id", aktif=pl.lit(True), run=pl.lit(run)
    )
    old = reg.join(current.select("kunci"), on="kunci", how="anti").filter(pl.col("kunci") != LAST_KEY)
    last = max(start - 1, number(ids["id"]))
    sentinel = ID_REGISTRY.frame(
        [
            {
                "jenis_id": kind,
                "kunci": LAST_KEY,
                "id": f"{PREFIX[kind]}{last:0{DIGITS}d}",
                "aktif": False,
                "run": run,
            }
        ]
    )
    others = registry.filter(pl.col("jenis_id") != kind)
    new_registry = pl.concat([current, old.with_columns(aktif=pl.lit(False)), sentinel, others])
    return ids, lineage.select(LINEAGE.columns), new_registry


def _engine_run(
    eng: Engine, tmp: Path, groups: pl.DataFrame, state: Path, kind: str, run: str
) -> tuple[pl.DataFrame, ...]:
    """One linkage run's ID step on ``eng``: groups from Parquet, registry from ``state``, saved back."""
    work = tmp / f"{run}-{kind}-{eng.name}"
    work.mkdir()
    groups.write_parquet(work / "groups.parquet")
    registry = registry_table(eng, state, work)
    got = assign(eng, eng.read_parquet(work / "groups.parquet"), registry, kind, run, work)
    others = registry.filter(registry.jenis_id != kind)
    save_registry(state, write_pending(eng, [*got.registry, others], state))
    return pl.read_parquet(got.ids), got.lineage, pl.read_parquet(registry_path(state))


def _random_quarters(seed: int, kind: str) -> list[pl.DataFrame]:
    """Three quarters of groups over one pool of keys: keys regroup (merges and splits), vanish
    (retirements) and come back, strong keys move between groups."""
    rnd = random.Random(seed)
    pool = [f"{kind[0]}{i}" for i in range(60)]
    quarters = []
    for q in range(3):
        rows = []
        keys = [k for k in pool if rnd.random() < 0.8]
        rnd.shuffle(keys)
        group = 100 * q + rnd.randrange(5)
        for k in keys:
            if rnd.random() < 0.4:
                group += rnd.randrange(1, 4)
            rows.append((group, k, rnd.random() < 0.3))
        quarters.append(pl.DataFrame(rows, schema=GROUP_SCHEMA, orient="row"))
    return quarters


def _sorted(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.sort(frame.columns, nulls_last=True)


@pytest.mark.parametrize("seed", range(4))
def test_engine_assign_equals_the_polars_rules(tmp_path: Path, seed: int) -> None:
    eng = get_engine("duckdb")
    state = tmp_path / "state"
    reference = ID_REGISTRY.empty()
    seen: set[str] = set()
    for kind in ("person", "family"):  # both kinds share the registry file; each keeps the other's rows
        for q, groups in enumerate(_random_quarters(seed, kind)):
            run = f"r{q}"
            want = _reference(groups, reference, kind, run)
            got = _engine_run(eng, tmp_path, groups, state, kind, run)
            reference = want[2]
            for w, g in zip(want, got, strict=True):
                assert _sorted(g).equals(_sorted(w.select(g.columns)))
            seen |= set(want[1]["jenis"])
    assert set(reference["jenis_id"]) == {"person", "family"}
    assert seen == {"gabung", "pisah", "pensiun"}  # the case exercises every rule


def _case() -> list[list[tuple[int, str, bool]]]:
    """A merge (groups 1 and 2), a split (c2 leaves group 3 with c's weak key), a retirement (d)."""
    return [
        [(1, "a", True), (1, "a2", False), (2, "b", True), (3, "c", True), (3, "c3", False), (4, "d", True)],
        [(10, "a", True), (10, "b", True), (11, "c", True), (12, "c2", True), (12, "c3", False)],
        [(20, "a", True), (21, "b", True), (22, "d", False), (23, "z", True)],
    ]


@pytest.mark.spark
def test_spark_assigns_as_duckdb(tmp_path: Path, spark_engine: Engine) -> None:
    results = {}
    for eng in (get_engine("duckdb"), spark_engine):
        state = tmp_path / f"state-{eng.name}"
        runs = []
        for q, rows in enumerate(_case()):
            groups = pl.DataFrame(rows, schema=GROUP_SCHEMA, orient="row")
            runs.append(_engine_run(eng, tmp_path, groups, state, "person", f"r{q}"))
        results[eng.name] = runs
    jenis = set()
    for duck, spark in zip(results["duckdb"], results["spark"], strict=True):
        for d, s in zip(duck, spark, strict=True):
            assert _sorted(d).equals(_sorted(s))
        jenis |= set(duck[1]["jenis"])
    assert jenis == {"gabung", "pisah", "pensiun"}
