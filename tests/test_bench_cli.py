"""`dtsen bench ingest` and `dtsen bench link` at a small scale: the commands whose 1 M-person runs are
recorded in docs/benchmarks.md print one JSON line with what the issues ask for, measured, not typed in."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from dtsen.cli.main import app

runner = CliRunner()
ENV = {"DTSEN_LOG_LEVEL": None, "DTSEN_LOG_FORMAT": None, "DTSEN_CONFIG": None}
PERSONS = "3000"


def _bench(*args: str) -> dict[str, Any]:
    result = runner.invoke(app, ["bench", *args], env=ENV)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("bench_cache")


def test_bench_ingest(cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    out = _bench("ingest", "--persons", PERSONS, "--cache", str(cache), "--jobs", "2")
    assert out["stage"] == "ingest"
    assert out["source_rows"] > int(PERSONS)  # SIAK alone lists everyone
    assert out["rows_per_second"] == pytest.approx(out["source_rows"] / out["seconds"], rel=0.05)
    assert out["jobs"] == 2
    assert {"siak_penduduk", "regsosek_anggota", "pln_pelanggan"} <= set(out["per_source_seconds"])
    assert all(s > 0 for s in out["per_source_seconds"].values())
    assert out["peak_rss_mb"] > 0
    assert list(scratch.iterdir()) == []  # the ingested copy is removed


def test_bench_link_measures_against_truth_and_splink_alone(cache: Path) -> None:
    out = _bench("link", "--persons", PERSONS, "--cache", str(cache))
    assert out["stage"] == "link"
    assert out["source_rows"] == out["counts"]["records"] > int(PERSONS)
    assert 0.9 < out["f1"] <= 1
    assert out["baseline_sampled"] is False  # Splink alone on every record by default
    assert out["baseline_rows"] == out["source_rows"]
    assert 0 < out["baseline_f1"] <= 1
    stages = out["stage_seconds"]
    matching = sum(stages[k] for k in ("deterministic", "training", "probabilistic", "clusters"))
    assert out["matching_seconds"] == pytest.approx(matching, abs=0.05)
    speed = out["speedup_vs_baseline"]
    assert speed["matching"] == pytest.approx(out["baseline_seconds"] / matching, rel=0.05)
    assert speed["end_to_end"] < speed["matching"]  # consolidation counts end to end only
    assert "kode_kec+tgl_lahir" in out["largest_blocks"]
    assert 0 < out["peak_rss_link_mb"] <= out["peak_rss_mb"]
