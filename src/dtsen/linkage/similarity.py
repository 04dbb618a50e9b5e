"""String similarity inside engine queries: Jaro-Winkler is DuckDB's builtin and, on Spark, the UDF from the
similarity jar that ships in the Splink wheel (registered by :func:`prepare_spark`)."""

from __future__ import annotations

from typing import Any

import ibis
import ibis.expr.types as ir

from dtsen.engine import Engine

SPARK_JW_CLASS = "uk.gov.moj.dash.linkage.JaroWinklerSimilarity"


@ibis.udf.scalar.builtin(name="jaro_winkler_similarity")
def _jw_duckdb(a: str, b: str) -> float:  # type: ignore[empty-body]
    """DuckDB's jaro_winkler_similarity."""


@ibis.udf.scalar.builtin(name="jaro_winkler")
def _jw_spark(a: str, b: str) -> float:  # type: ignore[empty-body]
    """The Splink jar's jaro_winkler UDF."""


def jaro_winkler(eng: Engine, a: ir.StringValue, b: ir.StringValue) -> ir.FloatingValue:
    """Jaro-Winkler similarity (1 = equal); null when either side is null."""
    if eng.name == "spark":
        return _jw_spark(a, b)
    return _jw_duckdb(a, b)


def prepare_spark(session: Any) -> None:
    """Make the Splink similarity jar usable on ``session`` (jaro_winkler for the deterministic stage; Splink's
    own UDFs for stage 2) and give Splink the checkpoint directory it needs before predicting."""
    import tempfile

    from pyspark.sql.types import DoubleType
    from splink.backends.spark import similarity_jar_location

    jar = similarity_jar_location()
    if jar not in (session.conf.get("spark.jars", "") or ""):
        session.sql(f"ADD JAR '{jar}'")
    session.udf.registerJavaFunction("jaro_winkler", SPARK_JW_CLASS, DoubleType())
    if not session.sparkContext.getCheckpointDir():
        session.sparkContext.setCheckpointDir(tempfile.mkdtemp(prefix="dtsen-spark-ckpt-"))
