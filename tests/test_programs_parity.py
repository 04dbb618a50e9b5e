"""The program rules are one set of Ibis expressions: Spark decides exactly what DuckDB decides.

PKH, PBI-JK and BLT Kesra (components with a cap, members with keep rules and a review
exclusion, a family amount), a flag list and a quota run on both engines over the hand-made golden fixture;
eligibility, every beneficiary list and the budget must be equal, schema included. Without Java or
pyspark the test is skipped, except with ``CI=true``, where that is a failure.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest

from dtsen.config import get_settings
from dtsen.engine import get_engine, spark_session
from dtsen.programs.decide import decide
from dtsen.programs.definition import definitions_dir
from golden_frames import sample, write_golden

pytestmark = pytest.mark.spark


def _spark_or_skip() -> None:
    try:
        import pyspark  # noqa: F401
    except ImportError:
        reason = "pyspark is not installed"
    else:
        reason = "" if shutil.which("java") or os.environ.get("JAVA_HOME") else "no Java for Spark"
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}; CI=true: the Spark parity tests may not be skipped", pytrace=False)
        pytest.skip(reason)


def test_decide_agrees_on_duckdb_and_spark(tmp_path: Path) -> None:
    _spark_or_skip()
    spark_session(get_settings().spark_master, java_options="-XX:TieredStopAtLevel=1 -XX:+UseSerialGC")
    programs = tmp_path / "programs"  # one program of each benefit kind (BPNT and PIP add no construct)
    programs.mkdir()
    for code in ("pkh", "pbi_jk", "blt_kesra"):
        shutil.copy(definitions_dir() / f"{code}.yaml", programs)
    with (programs / "blt_kesra.yaml").open("a", encoding="utf-8") as handle:
        handle.write("quota: {level: kode_kab, values: {'3302': 1}}\n")
    flags = tmp_path / "ppatk.csv"
    flags.write_text("nik,no_kk\n3302010101600002,\n,3302010101200004\n", encoding="utf-8")
    p, f, s = sample()
    paths = write_golden(tmp_path / "in", p, f, s)
    for name in ("duckdb", "spark"):
        decide(*paths, tmp_path / name, programs=programs, flag_lists=[flags], engine=get_engine(name))
    files = sorted(x.relative_to(tmp_path / "duckdb") for x in (tmp_path / "duckdb").rglob("*.parquet"))
    assert len(files) == 2 + 3
    for rel in files:
        a, b = pq.read_table(tmp_path / "duckdb" / rel), pq.read_table(tmp_path / "spark" / rel)
        assert a.schema.equals(b.schema, check_metadata=False), (
            f"{rel}: schemas differ\n{a.schema}\n{b.schema}"
        )
        assert a.num_rows > 0, f"{rel}: empty on DuckDB, the comparison would prove nothing"
        assert pl.from_arrow(a).equals(pl.from_arrow(b)), f"{rel}: values or order differ"
