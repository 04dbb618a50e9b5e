"""The batch engine layer: one place that knows whether Ibis expressions run on DuckDB or Spark.

Pipeline code builds Ibis expressions and calls :meth:`Engine.read_parquet` / :meth:`Engine.write_parquet`;
nothing else in the batch plane imports duckdb or pyspark for transforms.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.parquet as pq

from dtsen.config import get_settings


@dataclass
class Engine:
    name: str
    con: Any

    def read_parquet(self, path: Path | str) -> ir.Table:
        return self.con.read_parquet(str(path))

    def memtable(self, table: pa.Table) -> ir.Table:
        return ibis.memtable(table)

    def write_parquet(self, expr: ir.Table, path: Path) -> int:
        """Write ``expr`` to one Parquet file; returns the row count."""
        if self.name == "duckdb":
            self.con.to_parquet(expr, str(path), compression="zstd")
            return pq.ParquetFile(path).metadata.num_rows
        rows = 0
        writer: pq.ParquetWriter | None = None
        try:
            for batch in self.con.to_pyarrow_batches(expr):
                if writer is None:
                    writer = pq.ParquetWriter(path, batch.schema, compression="zstd")
                writer.write_batch(batch)
                rows += batch.num_rows
            if writer is None:
                pq.write_table(expr.schema().to_pyarrow().empty_table(), path)
        finally:
            if writer is not None:
                writer.close()
        return rows

    def to_pyarrow(self, expr: ir.Expr) -> Any:
        return self.con.to_pyarrow(expr)

    def execute(self, expr: ir.Expr) -> Any:
        return self.con.execute(expr)


@cache
def spark_session(master: str = "local[2]") -> Any:
    """One local Spark session per process (start-up costs ~10-20 s)."""
    from pyspark.sql import SparkSession

    return (
        SparkSession.builder.master(master)
        .appName("dtsen")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.memory", "4g")
        .config("spark.local.dir", tempfile.gettempdir())
        .getOrCreate()
    )


def get_engine(name: str | None = None) -> Engine:
    settings = get_settings()
    name = name or settings.engine
    if name == "duckdb":
        config: dict[str, Any] = {"memory_limit": settings.memory_limit}
        if settings.threads:
            config["threads"] = settings.threads
        con = ibis.duckdb.connect(**config)
        return Engine("duckdb", con)
    if name == "spark":
        session = spark_session(settings.spark_master)
        return Engine("spark", ibis.pyspark.connect(session))
    raise ValueError(f"unknown engine {name!r} (duckdb or spark)")
