"""Stage 2: score the residue (records stage 1 could not link) with the persisted Splink model.

Two predictions, never a self-join of the register: residue against the register (``predict_between``)
and residue within itself (``predict_within``: people missing from Dukcapil, deduplicated across
sources). Term frequencies of names come from the register. Runs on the engine's Splink backend
(:meth:`dtsen.engine.Engine.splink_api`, DuckDB or Spark); either way the result is the same pair table.
Scored pairs whose names and birth data both disagree are then flagged (:func:`flag_conflicts`): the model
never links them (clusters.py), a clerk sees them (review.py).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pyarrow as pa

from dtsen.engine import Engine
from dtsen.linkage.config import Deterministic
from dtsen.linkage.deterministic import conflicting
from dtsen.linkage.laps import Laps
from dtsen.linkage.splink_model import Model, blocking_rules, trained_settings

# The SQL below is assembled from this module's constant table names and the link spec's column names;
# no data reaches it (hence the S608 waivers), and files are opened by the engine, never named in SQL.

PAIR_SCHEMA = pa.schema(
    [
        ("rid_l", pa.int64()),
        ("rid_r", pa.int64()),
        ("probabilitas", pa.float64()),
        ("bukti", pa.string()),
        ("jenis", pa.string()),  # spine | residu
    ]
)


def _select(model: Model, table: str, where: str, have: set[str]) -> str:
    """The spec's link fields; one the record table lacks (built by an older version or by hand) is null,
    as in the training sample."""

    def column(c: str) -> str:
        if c == "unique_id":
            return "rid AS unique_id"
        return c if c in have else f"CAST(NULL AS {'INT' if c == 'tahun_lahir' else 'STRING'}) AS {c}"

    cols = ", ".join(column(c) for c in model.spec.columns)
    return f"SELECT {cols} FROM {table} WHERE {where}"  # noqa: S608


def _tf_sql(column: str) -> str:
    return (
        f"SELECT {column}, CAST(COUNT(*) AS DOUBLE) / SUM(COUNT(*)) OVER () AS tf_{column} "  # noqa: S608
        f"FROM dtsen_spine WHERE {column} IS NOT NULL GROUP BY {column}"
    )


def _evidence(t: pa.Table) -> pa.Array:
    """What a clerk reads next to a pair: per comparison its level (``gamma_``) or, as Splink 5 returns
    it, its match weight (``mw_``, term-frequency adjustment included), e.g. ``nik=9.1,nama=-2.3``."""
    import polars as pl

    names = t.column_names
    gammas = [c for c in names if c.startswith("gamma_")]
    if gammas:
        parts = [pl.format(f"{g[6:]}={{}}", pl.col(g)) for g in gammas]
    else:
        weights = [c[3:] for c in names if c.startswith("mw_") and not c.startswith("mw_tf_adj_")]
        parts = [
            pl.format(
                f"{w}={{}}",
                (
                    pl.col(f"mw_{w}")
                    + (pl.col(f"mw_tf_adj_{w}").fill_null(0) if f"mw_tf_adj_{w}" in names else 0)
                ).round(2),
            )
            for w in weights
        ]
    if not parts:
        return pa.array([""] * t.num_rows, pa.string())
    frame = pl.DataFrame(pl.from_arrow(t.select([c for c in names if c.startswith(("gamma_", "mw_"))])))
    return frame.select(pl.concat_str(parts, separator=",", ignore_nulls=True)).to_series().to_arrow()


def _pairs(predictions: Any, jenis: str) -> pa.Table:
    t = predictions.as_pyarrow_table()
    return pa.table(
        {
            "rid_l": t["unique_id_l"].cast(pa.int64()),
            "rid_r": t["unique_id_r"].cast(pa.int64()),
            "probabilitas": t["match_probability"].cast(pa.float64()),
            "bukti": _evidence(t).cast(pa.string()),
            "jenis": pa.array([jenis] * t.num_rows, pa.string()),
        },
        schema=PAIR_SCHEMA,
    )


def score_residue(eng: Engine, records: Path, residue: Path, model: Model, threshold: float) -> pa.Table:
    """Pairs scored at or above ``threshold``: residue x register and residue x residue."""
    import pyarrow.parquet as pq

    have = set(pq.read_schema(records).names)
    views = {"dtsen_records": records, "dtsen_residue_rids": residue}
    tables = {
        "dtsen_spine": _select(model, "dtsen_records", "spine", have),
        "dtsen_residue": _select(model, "dtsen_records", "rid IN (SELECT rid FROM dtsen_residue_rids)", have),
        **{f"dtsen_tf_{c}": _tf_sql(c) for c in model.spec.tf_columns},
    }
    laps = Laps("score_residue")
    with eng.splink_api(views, tables) as db:
        laps.lap("tables")
        return _predict(db, model, threshold, laps)


def _predict(db: Any, model: Model, threshold: float, laps: Laps) -> pa.Table:
    from splink import Linker

    spine = db.register("dtsen_spine")
    residue = db.register("dtsen_residue")
    linker = Linker(spine, trained_settings(model.path, model.spec), log_level=logging.WARNING)
    for c in model.spec.tf_columns:
        linker.table_management.register_term_frequency_lookup(db.register(f"dtsen_tf_{c}"), c)
    # blocking rules from the spec, not the JSON: the JSON holds them as SQL of the dialect it was trained on
    rules = blocking_rules(model.spec)
    between = linker.inference.predict_between(
        spine,
        residue,
        blocking_rules_to_generate_predictions=rules,
        threshold_match_probability=threshold,
        warning_mode="never",
    )
    laps.lap("between")
    within = linker.inference.predict_within(
        residue,
        blocking_rules_to_generate_predictions=rules,
        threshold_match_probability=threshold,
        warning_mode="never",
    )
    laps.lap("within")
    out = pa.concat_tables([_pairs(between, "spine"), _pairs(within, "residu")])
    laps.lap("pairs")
    return out


CONFLICT_FIELDS = ("nama", "nama_depan", "nama_urut", "tanggal_lahir", "tahun_lahir")
FIELD_TYPES = {"tahun_lahir": "int32", "tanggal_lahir": "date"}
CONFLICT_EVIDENCE = "tolak=nama+lahir"  # appended to ``bukti`` of a refused pair


def flag_conflicts(eng: Engine, records: Path, pairs: Path, out: Path, cfg: Deterministic) -> int:
    """Write (rid_l, rid_r, ditolak) for the scored pairs in ``pairs`` to ``out``: ``ditolak`` when the
    two records' names and birth data both disagree (:func:`deterministic.conflicting`). An engine
    query, so it runs where the records are (DuckDB or Spark); returns the row count."""
    import pyarrow.parquet as pq

    rec = eng.read_parquet(records)
    have = set(pq.read_schema(records).names)
    scored = eng.read_parquet(pairs)

    def side(prefix: str, key: str) -> Any:
        import ibis

        fields = {
            f"{prefix}{c}": rec[c] if c in have else ibis.null(FIELD_TYPES.get(c, "string"))
            for c in CONFLICT_FIELDS
        }
        return rec.select(**{key: rec.rid}, **fields)

    j = scored.join(side("l_", "rid_l"), "rid_l").join(side("r_", "rid_r"), "rid_r")
    return eng.write_parquet(j.select("rid_l", "rid_r", ditolak=conflicting(eng, j, cfg)), out)
