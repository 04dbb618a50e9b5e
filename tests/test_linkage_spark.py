"""Linkage parity: the same batches linked on DuckDB and on Spark (Splink's Spark backend) give the same
records, the same deterministic links and the same clusters. Marked ``spark`` (a local session)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dtsen.engine import get_engine
from dtsen.linkage.config import LinkConfig, Probabilistic
from dtsen.linkage.inputs import latest_batches, stack
from dtsen.linkage.run import link_records, model_for

pytestmark = pytest.mark.spark


def test_duckdb_and_spark_link_alike(tmp_path: Path, spark_engine: object) -> None:
    from dtsen.sources.ingest import ingest
    from dtsen.synth.generate import SynthRequest, generate

    synth, data = tmp_path / "synth", tmp_path / "data"
    generate(SynthRequest(persons=1500, out=synth, seed=5, kabupaten=["3471"], force=True, workers=1))
    manifest = json.loads((synth / "manifest.json").read_text(encoding="utf-8"))
    for f in manifest["files"]:
        if f["kind"] == "source":
            ingest(f["table"], [synth / f["path"]], data_dir=data)
    cfg = LinkConfig(probabilistic=Probabilistic(training_sample=20_000, u_max_pairs=2e5))
    batches = latest_batches(data)
    state = tmp_path / "state"
    results = {}
    for name, eng in (("duckdb", get_engine("duckdb")), ("spark", spark_engine)):
        work = tmp_path / name
        work.mkdir()
        eng.write_parquet(stack(eng, batches, cfg), work / "records.parquet")  # type: ignore[attr-defined]
        if name == "duckdb":
            model_for(work / "records.parquet", cfg, state, retrain=True)  # one model, used by both
        results[name] = link_records(eng, work / "records.parquet", work, state, cfg)
    duck, spark = results["duckdb"], results["spark"]
    keys = ["rid", "spine", "entitas", "sumber", "id_rekaman"]
    records = [pl.read_parquet(tmp_path / n / "records.parquet", columns=keys).sort("rid") for n in results]
    assert records[0].equals(records[1])
    det = [pl.read_parquet(tmp_path / n / "deterministic.parquet").sort("rid") for n in ("duckdb", "spark")]
    assert det[0].equals(det[1])
    clusters = [pl.read_parquet(r.clusters).sort("rid") for r in (duck, spark)]
    assert clusters[0].height > 1000
    assert (
        clusters[0].select("rid", "cluster", "metode").equals(clusters[1].select("rid", "cluster", "metode"))
    )


def test_spark_broadcasts_reference_tables_not_parquet_joins(tmp_path: Path, spark_engine: Any) -> None:
    """A join of two Parquet tables whose files are under Spark's 10 MB broadcast threshold shuffles both
    rather than collecting one into the driver (rows take ~20x their file bytes: the golden persons
    query at 1 M persons broke on that); a small in-memory reference table is still broadcast."""
    rng = np.random.default_rng(1)
    n = 150_000  # random 64-bit values: about 2 MB of Parquet per table
    for name in ("a", "b"):
        values = {"rid": rng.permutation(n), f"v_{name}": rng.integers(0, 2**62, n)}
        pq.write_table(pa.table(values), tmp_path / f"{name}.parquet")
    eng = spark_engine
    a, b = eng.read_parquet(tmp_path / "a.parquet"), eng.read_parquet(tmp_path / "b.parquet")
    ref = eng.memtable(pa.table({"rid": pa.array(range(100), pa.int64())}))

    def plan(expr: Any) -> str:
        return eng.session.sql(eng.con.compile(expr))._jdf.queryExecution().executedPlan().toString()

    parquet_join = plan(a.join(b, "rid"))
    assert "SortMergeJoin" in parquet_join
    assert "Broadcast" not in parquet_join
    assert "BroadcastHashJoin" in plan(a.join(ref, "rid"))
