""" "Splink alone": every stacked record deduplicated by Splink without the deterministic stage, the
baseline the two-stage design is measured against (bench only). Same model, same blocking rules plus
exact NIK, Splink's own connected-components clustering."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import polars as pl

from dtsen.linkage.splink_model import Model


def splink_alone(
    records: Path, model: Model, threshold: float, kabupaten: list[str] | None
) -> tuple[pl.DataFrame, float]:
    """(rid -> cluster, seconds) for the records (of ``kabupaten`` when given; vehicle rows, which have no
    region, are kept when their NIK's kabupaten is in the sample)."""
    from splink import DuckDBAPI, Linker, block_on

    from dtsen.engine import local_duckdb

    frame = pl.scan_parquet(records)
    if kabupaten is not None:
        kab = pl.coalesce(pl.col("kode_kab"), pl.col("nik").str.slice(0, 4))
        frame = frame.filter(kab.is_in(kabupaten))
    cols = [pl.col("rid").alias("unique_id") if c == "unique_id" else pl.col(c) for c in model.spec.columns]
    data = frame.select(cols).collect().to_arrow()
    spine_tf = pl.scan_parquet(records).filter(pl.col("spine"))
    con = local_duckdb()
    start = time.perf_counter()
    try:
        db = DuckDBAPI(connection=con)
        df = db.register(data, table_name="dtsen_all")
        from splink.internals.settings_creator import SettingsCreator

        settings = SettingsCreator.from_path_or_dict(str(model.path))
        settings.blocking_rules_to_generate_predictions = [
            *settings.blocking_rules_to_generate_predictions,
            block_on("nik"),
        ]
        linker = Linker(df, settings, log_level=logging.WARNING)
        for c in model.spec.tf_columns:
            tf = (
                spine_tf.group_by(c)
                .agg(n=pl.len())
                .drop_nulls(c)
                .with_columns((pl.col("n") / pl.col("n").sum()).alias(f"tf_{c}"))
                .select(c, f"tf_{c}")
                .collect()
                .to_arrow()
            )
            linker.table_management.register_term_frequency_lookup(db.register(tf, table_name=f"tf_{c}"), c)
        pred = linker.inference.predict(threshold_match_probability=threshold, warning_mode="never")
        clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(pred, threshold)
        out: Any = clusters.as_pyarrow_table()
        seconds = time.perf_counter() - start
    finally:
        con.close()
    result = pl.from_arrow(out).select(
        rid=pl.col("unique_id").cast(pl.Int64), cluster=pl.col("cluster_id").cast(pl.String)
    )
    return result, seconds  # type: ignore[return-value]
