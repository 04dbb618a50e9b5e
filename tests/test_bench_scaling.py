"""The scaling benchmark's pure parts: the exponent fit, the projection arithmetic, the table and chart,
resuming from the JSONL file, the per-step sampler, and a size whose process fails (fake child processes
that exit 1, are SIGKILLed or print no JSON). No cycle is run (the commands are measured by
hand, see docs/benchmarks.md "Scaling")."""

from __future__ import annotations

import contextlib
import json
import math
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

import psutil
import pytest
from typer.testing import CliRunner

from dtsen.cli.bench import app
from dtsen.cycle import scaling
from dtsen.cycle.scaling import (
    EFFICIENCY,
    NATIONAL_PERSONS,
    Fit,
    StepSampler,
    fit_exponent,
    fits,
    load_results,
    markdown,
    project,
    run_scaling,
    svg_chart,
)

SIZES = (20_000, 50_000, 100_000)


def record(persons: int, *, link_exponent: float = 1.2, engine: str = "duckdb") -> dict[str, Any]:
    """A cycle line shaped like ``bench cycle --profile``'s, with seconds growing by known exponents."""
    steps = {
        "ingest": 1e-4 * persons,  # exponent 1
        "freeze": 0.0,  # too fast to time: no logarithm
        "link": 2e-6 * persons**link_exponent,
        "publish": 0.5 * (persons / 20_000) ** 0.5,
    }
    profile = {
        name: {"seconds": secs, "peak_rss_mb": persons / 100, "spill_mb": persons / 1000}
        for name, secs in steps.items()
    }
    return {
        "stage": "cycle",
        "persons": persons,
        "engine": engine,
        "seconds": sum(steps.values()),
        "step_seconds": steps,
        "step_profile": profile,
        "profile_peak_rss_mb": persons / 100,
        "profile_spill_mb": persons / 1000,
        "seed": 1,
    }


def test_fit_recovers_known_exponents_and_counts_points() -> None:
    result = fits([record(n) for n in SIZES])
    ingest = result["ingest"]
    assert ingest is not None
    assert (ingest.exponent, ingest.intercept, ingest.points) == pytest.approx((1.0, math.log(1e-4), 3))
    assert result["link"] is not None
    assert result["link"].exponent == pytest.approx(1.2)
    assert result["publish"] is not None
    assert result["publish"].exponent == pytest.approx(0.5)
    assert result["freeze"] is None  # zero seconds everywhere: nothing to fit
    assert result["link"].seconds(1_000_000) == pytest.approx(2e-6 * 1_000_000**1.2)


def test_fit_leaves_out_zero_seconds_and_needs_two_sizes() -> None:
    fit = fit_exponent([(1e4, 0.0), (1e5, 10.0), (1e6, 100.0)])
    assert fit is not None
    assert fit.points == 2
    assert fit.exponent == pytest.approx(1.0)
    assert fit_exponent([(1e5, 10.0)]) is None
    assert fit_exponent([(1e5, 10.0), (1e5, 12.0)]) is None  # one size twice says nothing about growth


def test_fit_is_least_squares_on_noisy_points() -> None:
    # log-log points (0, 0), (1, 1.1), (2, 1.9): slope = 0.95 by the normal equations
    fit = fit_exponent([(1.0, 1.0), (math.e, math.exp(1.1)), (math.e**2, math.exp(1.9))])
    assert fit is not None
    assert fit.exponent == pytest.approx(0.95)
    assert fit.intercept == pytest.approx(0.05)


def test_projection_divides_one_machine_time_by_nodes_times_efficiency() -> None:
    linear = Fit(exponent=1.0, intercept=math.log(1e-6), points=3)  # 1 s per million persons
    rows = {r["step"]: r for r in project({"ingest": linear, "link": linear, "score": None, "total": linear})}
    assert set(rows) == {"ingest", "link", "score"}
    assert rows["ingest"]["one_machine_seconds"] == pytest.approx(NATIONAL_PERSONS / 1e6)
    assert rows["ingest"]["cluster_seconds"] == pytest.approx(289 / (32 * EFFICIENCY["scan"]), abs=0.05)
    assert rows["link"]["kind"] == "iterative"
    assert rows["link"]["cluster_seconds"] == pytest.approx(289 / (32 * 0.3), abs=0.05)
    assert rows["score"]["cluster_seconds"] is None
    assert rows["score"]["points"] == 0
    eight = project({"link": linear}, nodes=8, persons=100_000_000)[0]
    assert eight["cluster_seconds"] == pytest.approx(100 / (8 * 0.3), abs=0.05)


def test_markdown_table_and_svg_chart() -> None:
    records = [record(n) for n in SIZES]
    step_fits = fits(records)
    text = markdown(records, project(step_fits), step_fits, {"cores": 2, "memory_gb": 24.0})
    rows = [line for line in text.splitlines() if line.startswith("| 100,000 |")]
    assert len(rows) == 1
    cells = [c.strip() for c in rows[0].strip("|").split("|")]
    assert cells[1] == "10.00"  # ingest seconds at 100 k
    assert cells[-2:] == ["0.98", "0.10"]  # peak GB (100,000 MB / 1024), spill GB
    assert "| **exponent** | 1.00 (n=3) | - | 1.20 (n=3) | 0.50 (n=3) |" in text
    assert "32 Spark nodes of 2 cores and 24 GB" in text
    assert "| link | iterative | 0.3 | 1.20 (3) |" in text
    svg = svg_chart(records)
    assert svg.startswith("<svg")
    assert svg.rstrip().endswith("</svg>")
    lines = re.findall(r'<polyline points="([^"]*)"', svg)
    assert len(lines) == 5  # ingest, freeze (no point), link, publish, total
    assert len(lines[2].split()) == 3  # link: one point per size
    assert lines[1] == ""  # freeze: no timed point


def test_scaling_runs_each_size_once_and_resumes_from_jsonl(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ran: list[int] = []

    def fake_run(persons: int, engine: str, seed: int, cache: Path, work_root: Path) -> dict[str, Any]:
        ran.append(persons)
        return record(persons, engine=engine)

    monkeypatch.setattr(scaling, "run_size", fake_run)
    out = tmp_path / "out"
    first = run_scaling(SIZES[:2], "duckdb", seed=1, cache=tmp_path / "cache", out=out, fresh=False)
    assert ran == [20_000, 50_000]
    assert first["reused"] == []
    assert first["exponents"]["link"] == {"exponent": 1.2, "points": 2}
    assert len(load_results(out / "results.jsonl")) == 2

    second = run_scaling(SIZES, "duckdb", seed=1, cache=tmp_path / "cache", out=out, fresh=False)
    assert ran == [20_000, 50_000, 100_000]  # only the new size ran
    assert second["reused"] == [20_000, 50_000]
    assert second["exponents"]["link"]["points"] == 3
    assert "| 100,000 |" in (out / "scaling-duckdb.md").read_text()
    assert (out / "scaling-duckdb.svg").read_text().startswith("<svg")

    run_scaling(SIZES[:1], "spark", seed=1, cache=tmp_path / "cache", out=out, fresh=False)
    assert ran[-1] == 20_000  # another engine's 20 k is not this engine's

    run_scaling(SIZES[:1], "duckdb", seed=1, cache=tmp_path / "cache", out=out, fresh=True)
    assert ran[-1] == 20_000
    assert len(load_results(out / "results.jsonl")) == 1
    assert len(list(out.glob("results-*.jsonl"))) == 1  # the old file is kept aside


def test_results_file_errors_name_the_line_and_field(tmp_path: Path) -> None:
    path = tmp_path / "results.jsonl"
    path.write_text(json.dumps(record(20_000)) + "\n{oops\n")
    with pytest.raises(ValueError, match=r"results.jsonl: line 2: not JSON"):
        load_results(path)
    path.write_text(json.dumps({"persons": 1, "engine": "duckdb"}) + "\n")
    with pytest.raises(ValueError, match=r"line 1: field 'step_profile' missing"):
        load_results(path)


def test_sampler_attributes_spill_and_memory_to_the_running_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))  # no other Spark's blockmgr-* counts
    (tmp_path / "tmp" / "blockmgr-1").mkdir()
    (tmp_path / "tmp" / "blockmgr-1" / "shuffle_0.data").write_bytes(b"\0" * 2**20)
    spill = tmp_path / ".tmp"
    spill.mkdir()
    (spill / "duckdb_temp_block").write_bytes(b"\0" * 3 * 2**20)
    with StepSampler(interval=60) as sampler:  # samples only at step starts here
        sampler.on_step("link", "start")
        sampler.on_step("link", "done")
        (spill / "duckdb_temp_block").unlink()
        sampler.on_step("score", "start")
        sampler.sample()
        sampler.on_step("score", "done")
        (spill / "later").write_bytes(b"\0" * 2**20)
        sampler.sample()  # between steps: counts for the run, not for a step
    profile = sampler.profile({"link": 1.5, "score": 0.2})
    assert profile["link"]["spill_mb"] == 4.0  # DuckDB's 3 MB and Spark's 1 MB
    assert profile["score"]["spill_mb"] == 1.0
    assert profile["link"]["seconds"] == 1.5
    assert profile["link"]["peak_rss_mb"] > 10  # this Python process at least
    assert sampler.peak_spill == 4 * 2**20


def test_cli_rejects_bad_sizes_and_engines() -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["scaling", "--persons", "100000,lots"])
    assert result.exit_code != 0
    assert "not a comma list of integers" in result.output
    result = runner.invoke(app, ["cycle", "--persons", "1000", "--engine", "duckdb,flink"])
    assert result.exit_code != 0
    assert "unknown engine" in result.output


# --- a size whose process fails (issue 15) ------------------------------------------------------------------

#: Stands in for ``bench cycle --profile``: logs step starts and commits through dtsen's own logging (the
#: format the parent parses), then finishes with the JSON line in argv[3] or fails as argv[1] says.
FAKE_CHILD = """
import os, signal, subprocess, sys, time
from dtsen.logs import configure_logging, get_logger

mode, fmt, line, leftover = sys.argv[1:5]
configure_logging("INFO", fmt)
log = get_logger("dtsen.cycle.run")
log.info("step started", period="2026Q1", step="ingest")
log.info("step committed", period="2026Q1", step="ingest", seconds=1.5)
log.info("step started", period="2026Q1", step="link")
if mode == "ok":
    print(open(line).read())
elif mode == "exit1":
    log.error("step failed", period="2026Q1", step="link", error="disk full")
    sys.exit(1)
elif mode == "sigkill":  # like the OOM killer: no log line, no cleanup, a grandchild left behind
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    open(leftover, "w").write(str(sleeper.pid))
    time.sleep(1)  # long enough for the parent to sample the tree
    os.kill(os.getpid(), signal.SIGKILL)
elif mode == "nojson":
    print("cycle done, but no JSON here")
"""


class FakeChildren:
    """``child_command`` replaced by FAKE_CHILD, one behaviour per size; records the sizes that ran."""

    def __init__(self, tmp_path: Path, behaviour: dict[int, str]) -> None:
        self.tmp_path = tmp_path
        self.behaviour = behaviour
        self.ran: list[int] = []
        self.leftover = tmp_path / "leftover.pid"

    def __call__(self, persons: int, engine: str, seed: int, cache: Path, data_dir: Path) -> list[str]:
        self.ran.append(persons)
        line = self.tmp_path / f"line-{persons}.json"
        line.write_text(json.dumps(record(persons, engine=engine)))
        mode = self.behaviour[persons]
        fmt = "json" if mode == "sigkill" else "text"  # both of the runner's log formats are parsed
        return [sys.executable, "-c", FAKE_CHILD, mode, fmt, str(line), str(self.leftover)]


def _table_row(text: str, persons: int) -> list[str]:
    rows = [line for line in text.splitlines() if line.startswith(f"| {persons:,} |")]
    assert len(rows) == 1, text
    return [cell.strip() for cell in rows[0].strip("|").split("|")]


def test_failed_sizes_are_recorded_tabled_apart_and_run_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    children = FakeChildren(
        tmp_path,
        {20_000: "ok", 50_000: "ok", 100_000: "exit1", 200_000: "sigkill", 300_000: "nojson"},
    )
    monkeypatch.setattr(scaling, "child_command", children)
    out = tmp_path / "out"
    args = ["scaling", "--persons", "20000,50000,100000,200000,300000"]
    args += ["--cache", str(tmp_path / "cache"), "--out", str(out)]
    try:
        result = CliRunner().invoke(app, args)
        leftover = int(children.leftover.read_text())
        assert not psutil.pid_exists(leftover) or psutil.Process(leftover).status() == psutil.STATUS_ZOMBIE
    finally:
        if children.leftover.exists():
            with contextlib.suppress(psutil.Error):
                psutil.Process(int(children.leftover.read_text())).kill()

    assert children.ran == [20_000, 50_000, 100_000, 200_000, 300_000]  # the series went on
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)  # a message, no traceback
    message = result.stderr.strip().splitlines()[-1]
    assert message.startswith("bench scaling: 3 size(s) failed (duckdb 100,000 in link: exited 1: disk full;")
    assert "200,000 in link: killed by SIGKILL" in message
    assert "300,000 in link: exited 0 without a JSON line on stdout" in message
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["persons"] == [20_000, 50_000]
    assert [f["persons"] for f in summary["failed"]] == [100_000, 200_000, 300_000]

    runs = {r["persons"]: r for r in load_results(out / "results.jsonl")}
    assert [runs[n]["status"] for n in sorted(runs)] == ["finished", "finished", "failed", "failed", "failed"]
    exit1, killed, nojson = runs[100_000], runs[200_000], runs[300_000]
    assert (exit1["exit_code"], exit1["signal"], exit1["step"]) == (1, None, "link")
    assert exit1["reason"] == "exited 1: disk full"
    assert exit1["steps_done"] == {"ingest": 1.5}
    assert "step failed" in exit1["stderr_tail"]
    assert (killed["exit_code"], killed["signal"], killed["step"]) == (None, "SIGKILL", "link")
    assert killed["steps_done"] == {"ingest": 1.5}  # parsed from the JSON log format
    assert killed["peak_rss_mb"] > 0  # sampled while it lived
    assert (nojson["exit_code"], nojson["signal"], nojson["step"]) == (0, None, "link")
    for run in (exit1, killed, nojson):
        assert (run["engine"], run["seed"], run["seconds"] >= 0) == ("duckdb", 1, True)
        assert 0 < len(run["stderr_tail"]) <= scaling.STDERR_TAIL_CHARS

    text = (out / "scaling-duckdb.md").read_text()  # columns: persons, ingest, freeze, link, publish, ...
    assert _table_row(text, 20_000)[1] == "2.00"
    row = _table_row(text, 100_000)
    assert row[1:5] == ["1.50", "-", "**failed**", "-"]
    assert row[5].startswith("failed in link: exited 1: disk full after ")
    assert _table_row(text, 200_000)[5].startswith(
        "failed in link: killed by SIGKILL (the OOM killer's signal)"
    )
    assert _table_row(text, 300_000)[5].startswith("failed in link: exited 0 without a JSON line")
    assert "| **exponent** | 1.00 (n=2) | - | 1.20 (n=2) | 0.50 (n=2) |" in text  # failed sizes left out
    assert "| link | iterative | 0.3 | 1.20 (2) |" in text
    links = re.findall(r'<polyline points="([^"]*)"', (out / "scaling-duckdb.svg").read_text())
    assert len(links[2].split()) == 2  # link: the two finished sizes only

    children.behaviour.update({100_000: "ok", 200_000: "ok", 300_000: "ok"})
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 0, again.output
    assert children.ran[5:] == [100_000, 200_000, 300_000]  # only the failed sizes ran again
    text = (out / "scaling-duckdb.md").read_text()
    assert "failed" not in text
    assert "| **exponent** | 1.00 (n=5) |" in text
    assert len(load_results(out / "results.jsonl")) == 8  # the failures stay on record


def test_a_series_whose_every_size_fails_still_writes_its_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(scaling, "child_command", FakeChildren(tmp_path, {20_000: "exit1"}))
    out = tmp_path / "out"
    summary = run_scaling([20_000], "duckdb", seed=1, cache=tmp_path / "cache", out=out, fresh=False)
    assert summary["persons"] == []
    assert summary["failed"][0]["step"] == "link"
    assert summary["exponents"] == {"total": None}
    text = (out / "scaling-duckdb.md").read_text()
    assert _table_row(text, 20_000)[1:3] == ["1.50", "**failed**"]
    assert (out / "scaling-duckdb.svg").read_text().startswith("<svg")


def test_results_recorded_before_failures_were_recorded_still_load() -> None:
    # the series a `--fresh` run set aside: every line written before runs carried a status
    path = Path(__file__).parents[1] / "docs" / "benchmarks" / "scaling" / "results-20261206T181601.jsonl"
    records = load_results(path)
    assert records
    assert not any(scaling.is_failed(r) for r in records)
    assert scaling.finished(records, records[0]["persons"], records[0]["engine"], 1) is not None
