"""``dtsen synth`` and ``dtsen bench synth`` from the command line: clear errors, output that is either
complete or absent, and the benchmark's JSON line."""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dtsen.cli.main import app
from dtsen.config import reset_settings
from dtsen.synth.sources import SOURCES, ChunkSources

runner = CliRunner()
# the CLI sets DTSEN_LOG_LEVEL from --log-level; listing the keys here makes CliRunner restore them
ENV = {"DTSEN_LOG_LEVEL": None, "DTSEN_LOG_FORMAT": None, "DTSEN_CONFIG": None}
SMALL = ["-n", "1500", "--kabupaten", "3471", "--seed", "2", "--workers", "1"]


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Run in an empty directory; remove the log handler each invocation installs on the root logger."""
    monkeypatch.chdir(tmp_path)
    root = logging.getLogger()
    level = root.level
    yield
    for handler in list(root.handlers):
        if getattr(handler, "_dtsen", False):
            root.removeHandler(handler)
    root.setLevel(level)
    reset_settings()


def synth(*args: str):
    return runner.invoke(app, ["synth", *args], env=ENV)


def snapshot(root: Path) -> dict[str, str]:
    """Every file (hidden ones included) under ``root`` with its content hash."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.mark.parametrize(
    ("option", "codes", "bad"),
    [("--provinces", "33,99", "99"), ("--kabupaten", "3302,3399", "3399"), ("--kabupaten", "33.98", "3398")],
)
def test_unknown_region_code_exits_2_and_names_it(tmp_path: Path, option: str, codes: str, bad: str) -> None:
    out = tmp_path / "out"
    result = synth("-n", "1000", option, codes, "--out", str(out), "--workers", "1")
    assert result.exit_code == 2, result.output
    assert bad in result.output
    assert "unknown" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert list(tmp_path.iterdir()) == []


def test_provinces_and_kabupaten_together_are_refused(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = synth("-n", "1000", "--provinces", "33", "--kabupaten", "3302", "--out", str(out))
    assert result.exit_code == 2, result.output
    assert "not both" in result.output
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-n", "1000", "--format", "xls"], "--format"),
        (["-n", "0"], "--persons must be at least 1"),
        ([], "--persons is required"),
    ],
)
def test_other_bad_arguments(tmp_path: Path, args: list[str], message: str) -> None:
    result = synth(*args, "--out", str(tmp_path / "out"), "--workers", "1")
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split()).replace("│", "").replace("  ", " ")
    assert list(tmp_path.iterdir()) == []


def test_existing_output_is_kept_without_force(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("keep me", encoding="utf-8")
    before = snapshot(tmp_path)
    result = synth(*SMALL, "--out", str(out))
    assert result.exit_code == 2, result.output
    assert "--force" in result.output
    assert snapshot(tmp_path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]

    result = synth(*SMALL, "--out", str(out), "--force")
    assert result.exit_code == 0, result.output
    assert not (out / "notes.txt").exists()
    assert (out / "manifest.json").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # the replaced copy is gone too


def _explode(self: ChunkSources) -> None:
    raise RuntimeError("vehicle registry export failed")


def test_a_failure_mid_run_leaves_no_partial_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ChunkSources, "kendaraan", _explode)
    out = tmp_path / "runs" / "out"
    result = synth(*SMALL, "--out", str(out))
    assert result.exit_code != 0
    assert isinstance(result.exception, RuntimeError)
    assert not out.exists()
    assert list(out.parent.iterdir()) == []  # no hidden .out.staging directory either


def test_a_failure_mid_run_keeps_the_previous_dataset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    assert synth(*SMALL, "--out", str(out)).exit_code == 0
    before = snapshot(tmp_path)
    monkeypatch.setattr(ChunkSources, "kendaraan", _explode)
    result = synth(*SMALL, "--seed", "3", "--out", str(out), "--force")
    assert isinstance(result.exception, RuntimeError)
    assert snapshot(tmp_path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_synth_writes_a_dataset_and_its_report(tmp_path: Path) -> None:
    out = tmp_path / "out"
    md = tmp_path / "calibration.md"
    result = synth(
        "-n",
        "1500",
        "--kabupaten",
        "34.71",
        "--format",
        "parquet",
        "--out",
        str(out),
        "--workers",
        "1",
        "--report",
        "--report-md",
        str(md),
    )
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["kabupaten"] == ["3471"]  # dotted codes are accepted
    assert manifest["format"] == "parquet"
    assert {f["path"] for f in manifest["files"] if f["kind"] == "source"} == {
        f"sources/{name}.parquet" for name in SOURCES
    }
    assert "1,500 living persons" in result.output
    assert "Calibration" in result.output
    report = json.loads((out / "calibration_report.json").read_text(encoding="utf-8"))
    assert {"metric", "target", "generated", "tolerance", "ok"} <= set(report[0])
    assert md.read_text(encoding="utf-8").startswith("| metric |")

    # --report alone reads an existing dataset
    (out / "calibration_report.json").unlink()
    again = synth("--out", str(out), "--report")
    assert again.exit_code == 0, again.output
    assert (out / "calibration_report.json").exists()


def test_bench_synth_prints_one_json_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    result = runner.invoke(app, ["bench", "synth", "--persons", "20000", "--workers", "1"], env=ENV)
    assert result.exit_code == 0, result.output
    last = result.stdout.strip().splitlines()[-1]
    payload = json.loads(last)
    assert {"stage", "persons", "source_rows", "seconds", "peak_rss_mb"} <= set(payload)
    assert payload["stage"] == "synth"
    assert payload["persons"] == 20_000
    assert payload["source_rows"] > 20_000  # SIAK alone lists everyone
    assert payload["seconds"] > 0
    assert payload["peak_rss_mb"] > 0
    assert list(scratch.iterdir()) == []  # the temporary dataset is removed
