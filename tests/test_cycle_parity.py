"""The whole batch plane on DuckDB and on Spark (local mode) gives the same snapshot.

Both runs start from the same raw source files. The Spark run is given the Splink model the DuckDB run
trained; each run trains its own welfare model on the survey it ingested (training is deterministic),
then every published table is compared: identities, families, desil and eligibility exactly, floating
point columns to 1e-6 (Splink's similarity functions differ in the last bits between engines).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from dtsen.cycle import snapshot
from dtsen.synth.generate import SynthRequest, generate
from dtsen.synth.params import SynthParams

pytestmark = pytest.mark.spark

TABLES = {
    "persons.parquet": "id_dtsen",
    "families.parquet": "id_keluarga_dtsen",
    "links.parquet": ["sumber", "id_rekaman"],
    "scores.parquet": "id_keluarga_dtsen",
    "eligibility.parquet": ["program", "id_keluarga_dtsen"],
    "budget.parquet": None,
    "beneficiaries/pkh.parquet": None,
    "beneficiaries/pbi_jk.parquet": None,
}


def cycle(data_dir: Path, engine: str, inbox: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DTSEN_DATA_DIR": str(data_dir)}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "dtsen.cli.main",
            "cycle",
            "run",
            "--period",
            "2026Q1",
            "--inbox",
            str(inbox),
            "--engine",
            engine,
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


def test_cycle_duckdb_and_spark_publish_the_same_snapshot(tmp_path: Path) -> None:
    synth = tmp_path / "synth"
    generate(
        SynthRequest(
            persons=1500, out=synth, seed=5, kabupaten=["3471"], params=SynthParams(susenas_sample_rate=0.3)
        )
    )
    duck, spark = tmp_path / "duckdb", tmp_path / "spark"
    r = cycle(duck, "duckdb", synth)
    assert r.returncode == 0, r.stderr[-3000:]
    shutil.copytree(duck / "linkage" / "model", spark / "linkage" / "model")
    r = cycle(spark, "spark", synth)
    assert r.returncode == 0, r.stderr[-3000:]

    a, b = snapshot.latest("2026Q1", data_dir=duck), snapshot.latest("2026Q1", data_dir=spark)
    assert a is not None
    assert b is not None
    for name, key in TABLES.items():
        # batch IDs carry the landing time and model versions the training time: both differ by construction
        left = pl.read_parquet(a.file(name)).drop("batch_id", "versi_model", strict=False)
        right = pl.read_parquet(b.file(name)).drop("batch_id", "versi_model", strict=False)
        assert left.columns == right.columns, name
        order = key or [c for c, t in left.schema.items() if not t.is_nested() and not t.is_float()]
        assert_frame_equal(left.sort(order), right.sort(order), check_exact=False, rel_tol=1e-6, abs_tol=1e-6)
