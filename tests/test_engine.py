"""The engine classes on DuckDB: which class a name gives, and the DuckDB-only accessors keep their limits.

What the two engines compute is compared in test_engine_parity.py (Spark)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dtsen.engine import (
    DuckDBEngine,
    SparkEngine,
    engine_class,
    get_engine,
    local_duckdb,
    local_engine,
    prefetched,
)


def test_a_name_gives_its_engine_class() -> None:
    assert engine_class("duckdb") is DuckDBEngine
    assert engine_class("spark") is SparkEngine
    with pytest.raises(ValueError, match="unknown engine 'polars'"):
        engine_class("polars")


def test_spark_ingests_one_source_at_a_time() -> None:
    assert DuckDBEngine.sources_at_once(3) == 3
    assert SparkEngine.sources_at_once(3) == 1


def test_local_duckdb_applies_its_limits() -> None:
    con = local_duckdb(memory_limit="300MB", threads=1)
    try:
        limit, threads = con.execute(
            "SELECT current_setting('memory_limit'), current_setting('threads')"
        ).fetchone()  # type: ignore[misc]
    finally:
        con.close()
    assert limit == "286.1 MiB"  # 300 MB as DuckDB reports it
    assert threads == 1


def test_local_engine_is_duckdb_whatever_the_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    from dtsen.config import get_settings, reset_settings

    monkeypatch.setenv("DTSEN_ENGINE", "spark")
    reset_settings()
    try:
        assert get_settings().engine == "spark"
        assert isinstance(local_engine(), DuckDBEngine)
    finally:
        monkeypatch.undo()
        reset_settings()


def test_work_and_published_parquet_hold_the_same_rows(tmp_path: Path) -> None:
    eng = get_engine("duckdb")
    t = eng.memtable(pa.table({"nama": ["SITI AMINAH", "BUDI", None], "n": [1, 2, 3]}))
    expr = t.mutate(jw=eng.jaro_winkler(t.nama, "SITI AMINA"))
    eng.write_work_parquet(expr, tmp_path / "work.parquet")
    assert eng.write_parquet(expr, tmp_path / "out.parquet") == 3
    work, out = pq.read_table(tmp_path / "work.parquet"), pq.read_table(tmp_path / "out.parquet")
    assert work.to_pylist() == out.to_pylist()
    jw = out.column("jw").to_pylist()
    assert jw[0] > 0.9
    assert jw[1] < 0.7
    assert jw[2] is None
    assert all(f.nullable for f in out.schema)


def test_splink_api_sees_the_views_and_tables_in_order(tmp_path: Path) -> None:
    pq.write_table(pa.table({"rid": [1, 2, 3], "spine": [True, False, False]}), tmp_path / "r.parquet")
    pq.write_table(pa.table({"rid": [3]}), tmp_path / "residue.parquet")
    eng = get_engine("duckdb")
    views = {"dtsen_records": tmp_path / "r.parquet", "dtsen_residue_rids": tmp_path / "residue.parquet"}
    tables = {
        "dtsen_spine": "SELECT rid FROM dtsen_records WHERE spine",
        "dtsen_residue": "SELECT rid FROM dtsen_records WHERE rid IN (SELECT rid FROM dtsen_residue_rids)",
    }
    with eng.splink_api(views, tables) as db:
        spine = db.register("dtsen_spine").as_pandas_dataframe()
        residue = db.register("dtsen_residue").as_pandas_dataframe()
    assert spine["rid"].tolist() == [1]
    assert residue["rid"].tolist() == [3]


def _batch(i: int) -> pa.RecordBatch:
    return pa.record_batch({"i": [i]})


def test_prefetched_batches_arrive_in_order_and_errors_reach_the_writer() -> None:
    assert [b["i"][0].as_py() for b in prefetched(_batch(i) for i in range(50))] == list(range(50))

    def failing():
        yield _batch(0)
        raise ValueError("engine failed")

    got = prefetched(failing())
    assert next(got)["i"][0].as_py() == 0
    with pytest.raises(ValueError, match="engine failed"):
        next(got)


def test_a_writer_that_stops_early_stops_the_producer() -> None:
    made: list[int] = []

    def endless():
        i = 0
        while True:
            made.append(i)
            yield _batch(i)
            i += 1

    got = prefetched(endless(), depth=2)
    next(got)
    got.close()  # the writer failed: the producer thread is joined, not left blocked on a full queue
    stopped_at = len(made)
    assert stopped_at <= 5  # at most depth ahead, plus the batch in hand when it saw the stop
    assert len(made) == stopped_at


def test_write_parquet_through_the_prefetch_keeps_rows_and_order(tmp_path: Path) -> None:
    rows = list(range(400_000, 0, -1))  # several batches, written in the expression's order
    pq.write_table(pa.table({"i": rows}), tmp_path / "in.parquet")
    eng = get_engine("duckdb")
    t = eng.read_parquet(tmp_path / "in.parquet")
    assert eng.write_parquet(t.order_by("i"), tmp_path / "out.parquet") == len(rows)
    assert pq.read_table(tmp_path / "out.parquet")["i"].to_pylist() == sorted(rows)
