"""``dtsen bench ...``: performance measurements printed as one JSON line (last line of stdout)."""

from __future__ import annotations

import json
import resource
import shutil
import tempfile
import time
from pathlib import Path

import typer

app = typer.Typer(help="Benchmarks: each prints one JSON line with stage, sizes, seconds and peak memory.")


def peak_rss_mb() -> dict[str, float]:
    """Peak resident memory of this process and of its largest finished child (worker processes)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {
        "peak_rss_mb": round(own + children, 1),
        "peak_rss_main_mb": round(own, 1),
        "peak_rss_worker_mb": round(children, 1),
    }


def emit(result: dict) -> None:
    typer.echo(json.dumps(result, sort_keys=False))


def synth_cached(persons: int, seed: int, cache: Path) -> Path:
    """The synthetic population for a benchmark, generated once and kept under ``cache``."""
    from dtsen.synth.generate import SynthRequest, generate

    source_dir = cache / f"synth-{persons}-{seed}"
    if not (source_dir / "manifest.json").exists():
        generate(SynthRequest(persons=persons, out=source_dir, seed=seed, force=True))
    return source_dir


def ingested_cached(persons: int, seed: int, cache: Path) -> tuple[Path, Path]:
    """(synth dir, data_dir holding every source ingested), built once so later stages time only themselves.

    The data_dir is built under a staging name and renamed, so an interrupted build is redone, never reused.
    """
    from dtsen.atomic import atomic_dir
    from dtsen.config import get_settings
    from dtsen.cycle.inputs import ingest_inbox

    source_dir = synth_cached(persons, seed, cache)
    data_dir = cache / f"ingested-{persons}-{seed}"
    if not (data_dir / "batches").is_dir():
        with atomic_dir(data_dir) as staging:
            ingest_inbox(source_dir, staging, get_settings().engine)
    return source_dir, data_dir


@app.command("synth")
def bench_synth(
    persons: int = typer.Option(1_000_000, "--persons", "-n"),
    seed: int = typer.Option(1, "--seed"),
    fmt: str = typer.Option("csv", "--format"),
    workers: int = typer.Option(2, "--workers"),
    out: Path | None = typer.Option(
        None, "--out", help="Keep the output here (default: a temporary directory)."
    ),
) -> None:
    """Generate N persons nationally with every source and the truth; report throughput."""
    from dtsen.synth.generate import SynthRequest, generate

    target = out or Path(tempfile.mkdtemp(prefix="dtsen-bench-")) / "synth"
    start = time.perf_counter()
    manifest = generate(
        SynthRequest(persons=persons, out=target, seed=seed, fmt=fmt, force=True, workers=workers)
    )  # type: ignore[arg-type]
    seconds = time.perf_counter() - start
    source_rows = sum(f["rows"] for f in manifest["files"] if f["kind"] == "source")
    size_mb = sum(p.stat().st_size for p in (target / "sources").iterdir()) / 1e6
    if out is None:
        shutil.rmtree(target.parent, ignore_errors=True)
    emit(
        {
            "stage": "synth",
            "persons": persons,
            "source_rows": source_rows,
            "seconds": round(seconds, 2),
            "rows_per_second": round(source_rows / seconds),
            "source_mb": round(size_mb, 1),
            "format": fmt,
            "workers": workers,
            **peak_rss_mb(),
        }
    )


@app.command("ingest")
def bench_ingest(
    persons: int = typer.Option(1_000_000, "--persons", "-n"),
    seed: int = typer.Option(1, "--seed"),
    engine: str = typer.Option("duckdb", "--engine"),
    cache: Path = typer.Option(
        Path("data/bench"), "--cache", help="Where the generated input is kept between runs."
    ),
    jobs: int = typer.Option(
        2, "--jobs", min=1, help="Sources ingested at the same time (each is its own batch)."
    ),
) -> None:
    """Generate N persons (once, cached), then ingest every source file; time the ingestion only.

    Sources are independent batches, so ``--jobs`` of them run side by side (largest first), as in
    the cycle's ingest step (the same code): one ingestion alternates between single-threaded steps
    (compiling, writing Parquet) and parallel queries, and a second one fills the idle core."""
    from dtsen.cycle.inputs import ingest_inbox
    from dtsen.engine import engine_class

    source_dir = synth_cached(persons, seed, cache)
    target = Path(tempfile.mkdtemp(prefix="dtsen-bench-ingest-"))
    start = time.perf_counter()
    batches = ingest_inbox(source_dir, target, engine, parallel=jobs)["batches"]
    seconds = time.perf_counter() - start
    rows = sum(b["rows_read"] for b in batches)
    shutil.rmtree(target, ignore_errors=True)
    emit(
        {
            "stage": "ingest",
            "persons": persons,
            "source_rows": rows,
            "rows_per_second": round(rows / seconds),
            "seconds": round(seconds, 2),
            "rejected": sum(b["rejected"] for b in batches),
            "engine": engine,
            "jobs": engine_class(engine).sources_at_once(jobs),  # as ingest_inbox ran them
            "per_source_seconds": {b["mapping"]: b["seconds"] for b in batches},
            **peak_rss_mb(),
        }
    )


@app.command("link")
def bench_link(
    persons: int = typer.Option(1_000_000, "--persons", "-n"),
    seed: int = typer.Option(1, "--seed"),
    engine: str = typer.Option("duckdb", "--engine"),
    baseline_share: float = typer.Option(
        1.0,
        "--baseline-share",
        help="Share of kabupaten (all their records) Splink alone runs on; below 1 its time is "
        "extrapolated by row share, which flatters it (its blocks grow with the population).",
    ),
    cache: Path = typer.Option(Path("data/bench"), "--cache", help="Where the ingested input is kept."),
) -> None:
    """Link N persons' ingested sources (cached); time linkage only; score against truth; Splink alone."""
    from dtsen.linkage.benchmark import bench_link as run

    synth_dir, data_dir = ingested_cached(persons, seed, cache)
    emit(
        {
            "stage": "link",
            "persons": persons,
            "engine": engine,
            **run(synth_dir, data_dir, engine, baseline_share, seed),
            **peak_rss_mb(),
        }
    )


@app.command("programs")
def bench_programs(
    persons: int = typer.Option(1_000_000, "--persons", "-n"),
    seed: int = typer.Option(1, "--seed"),
    engine: str = typer.Option("duckdb", "--engine"),
    cache: Path = typer.Option(Path("data/bench"), "--cache", help="Where the synthetic input is kept."),
) -> None:
    """Decide every shipped program for N persons (golden-shaped tables from the synthetic truth)."""
    from dtsen.programs.benchmark import bench_programs as run

    synth_dir = synth_cached(persons, seed, cache)
    with tempfile.TemporaryDirectory(prefix="dtsen-bench-programs-") as work:
        emit(
            {
                "stage": "programs",
                "persons": persons,
                "engine": engine,
                **run(synth_dir, Path(work), engine),
                **peak_rss_mb(),
            }
        )


@app.command("rank")
def bench_rank(
    persons: int = typer.Option(1_000_000, "--persons", "-n"),
    seed: int = typer.Option(1, "--seed"),
    engine: str = typer.Option("duckdb", "--engine"),
    cache: Path = typer.Option(Path("data/bench"), "--cache", help="Where the ingested input is kept."),
) -> None:
    """Train on the synthetic Susenas (timed apart), then time scoring + ranking of every registry family."""
    from dtsen.welfare.benchmark import bench_rank as run

    synth_dir, data_dir = ingested_cached(persons, seed, cache)
    with tempfile.TemporaryDirectory(prefix="dtsen-bench-rank-") as work:
        emit(
            {
                "stage": "rank",
                "persons": persons,
                "engine": engine,
                **run(synth_dir, data_dir, Path(work), engine, seed),
                **peak_rss_mb(),
            }
        )


@app.command("cycle")
def bench_cycle(
    persons: int = typer.Option(1_000_000, "--persons", "-n"),
    seed: int = typer.Option(1, "--seed"),
    engine: str = typer.Option(
        "duckdb", "--engine", help="An engine, or a comma list (duckdb,spark): one cycle each, same input."
    ),
    cache: Path = typer.Option(
        Path("data/bench"), "--cache", help="Where the generated input is kept between runs."
    ),
    keep: Path | None = typer.Option(
        None, "--keep", help="Keep the cycle's data_dir here (default: discarded; per engine: KEEP/<engine>)."
    ),
    profile: bool = typer.Option(
        False,
        "--profile",
        help="Also sample, per step, the process tree's peak RSS and the spill directories' peak size "
        "(what `bench scaling` records).",
    ),
) -> None:
    """One full quarterly cycle (ingest -> ... -> publish) of N persons from raw source files, timed per step.

    The welfare model is trained inside the cycle (the score step) the first time a survey is seen; its
    training time is reported apart from scoring. With several engines each runs the same cached input
    in turn (this process), and their step seconds are reported side by side; each engine's peak is then
    sampled during its own cycle, as the process's lifetime peak would carry the first engine's into the
    second's.
    """
    engines = [name.strip() for name in engine.split(",") if name.strip()]
    from dtsen.engine import ENGINES

    unknown = [name for name in engines if name not in ENGINES]
    if unknown or not engines:
        raise typer.BadParameter(f"unknown engine {unknown or engine!r} ({' or '.join(ENGINES)})")
    source_dir = synth_cached(persons, seed, cache)
    if len(engines) == 1:
        result = _cycle_once(persons, source_dir, engines[0], keep, profile)
        emit({"stage": "cycle", "persons": persons, "engine": engines[0], **result, **peak_rss_mb()})
        return
    runs = {
        name: _cycle_once(persons, source_dir, name, keep / name if keep else None, profile=True)
        for name in engines
    }
    steps = list(dict.fromkeys(step for run in runs.values() for step in run["step_seconds"]))
    emit(
        {
            "stage": "cycle",
            "persons": persons,
            "engines": runs,
            "step_seconds": {
                step: {name: runs[name]["step_seconds"].get(step) for name in runs} for step in steps
            },
            "seconds": {name: run["seconds"] for name, run in runs.items()},
            **peak_rss_mb(),
        }
    )


def _cycle_once(persons: int, source_dir: Path, engine: str, keep: Path | None, profile: bool) -> dict:
    """One timed cycle of the cached input on ``engine``; with ``profile``, per-step peaks are sampled."""
    import contextlib

    from dtsen.cycle.period import Period
    from dtsen.cycle.run import CycleRunner
    from dtsen.cycle.scaling import StepSampler
    from dtsen.cycle.steps import STEPS

    target = keep or Path(tempfile.mkdtemp(prefix="dtsen-bench-cycle-"))
    if keep is not None:
        shutil.rmtree(keep, ignore_errors=True)
    sampler = StepSampler() if profile else None
    start = time.perf_counter()
    with sampler or contextlib.nullcontext():
        result = CycleRunner(
            Period.parse("2026Q1"),
            STEPS,
            data_dir=target,
            engine=engine,
            options={"inbox": str(source_dir.resolve())},
            on_step=sampler.on_step if sampler else None,
        ).run()
    seconds = time.perf_counter() - start
    steps = {name: rec["seconds"] for name, rec in result.steps.items()}
    score = result.steps.get("score", {}).get("summary", {})
    integrity = _ranking_integrity(target, source_dir)
    if keep is None:
        shutil.rmtree(target, ignore_errors=True)
    measured: dict[str, object] = {
        "seconds": round(seconds, 2),
        "step_seconds": steps,
        "welfare_training_seconds": score.get("training_seconds"),
        "families": result.steps.get("apply_events", {}).get("summary", {}).get("families"),
        "ranking_integrity": integrity,
    }
    if sampler is not None:
        measured["step_profile"] = sampler.profile(steps)
        measured["profile_peak_rss_mb"] = round(sampler.peak_rss / 2**20, 1)
        measured["profile_spill_mb"] = round(sampler.peak_spill / 2**20, 1)
    return measured


@app.command("scaling")
def bench_scaling(
    persons: str = typer.Option(
        "100000,1000000,3000000,10000000", "--persons", "-n", help="Population sizes, a comma list."
    ),
    seed: int = typer.Option(1, "--seed"),
    engine: str = typer.Option("duckdb", "--engine", help="An engine, or a comma list: a series each."),
    cache: Path = typer.Option(Path("data/bench"), "--cache", help="Where the generated input is kept."),
    out: Path = typer.Option(
        Path("docs/benchmarks/scaling"), "--out", help="results.jsonl, scaling-<engine>.md and .svg."
    ),
    fresh: bool = typer.Option(
        False, "--fresh", help="Run every size again (the old results.jsonl is renamed aside, not reused)."
    ),
    nodes: int = typer.Option(32, "--nodes", min=1, help="Cluster nodes of the national projection."),
) -> None:
    """One profiled cycle per size, each in a fresh process (peak memory per size), appended to
    OUT/results.jsonl as it finishes (a later call reuses finished sizes); then the growth exponent per
    step, a table, a log-log chart and the national cycle projected onto a Spark cluster. A size whose
    process fails is recorded as failed and the series goes on; the exit code is then 1."""
    from dtsen.cycle.scaling import run_scaling

    try:
        sizes = [int(size.replace("_", "")) for size in persons.split(",") if size.strip()]
    except ValueError:
        raise typer.BadParameter(f"--persons: {persons!r} is not a comma list of integers") from None
    if not sizes or min(sizes) <= 0:
        raise typer.BadParameter(f"--persons: {persons!r}: give at least one positive size")
    engines = [name.strip() for name in engine.split(",") if name.strip()]
    summary = {
        name: run_scaling(sizes, name, seed=seed, cache=cache, out=out, fresh=fresh and i == 0, nodes=nodes)
        for i, name in enumerate(engines)
    }
    if len(engines) == 1:
        emit({"stage": "scaling", "engine": engines[0], **summary[engines[0]]})
    else:
        emit({"stage": "scaling", "engines": summary})
    failed = [(name, run) for name, result in summary.items() for run in result["failed"]]
    if failed:
        what = "; ".join(
            f"{name} {run['persons']:,}{' in ' + run['step'] if run['step'] else ''}: {run['reason']}"
            for name, run in failed
        )
        typer.echo(
            f"bench scaling: {len(failed)} size(s) failed ({what}); recorded in {out / 'results.jsonl'}, "
            "left out of the fit",
            err=True,
        )
        raise typer.Exit(1)


def _ranking_integrity(data_dir: Path, synth_dir: Path) -> dict[str, object]:
    """Ranking status counts, fabricated explanation sentences (must be 0) and desil 1 against the truth
    (measured after the timing, so it costs the cycle nothing)."""
    import polars as pl

    from dtsen.cycle.snapshot import current
    from dtsen.welfare.integrity import explanation_problems, truth_check

    snap = current(data_dir)
    if snap is None:
        return {}
    scores = pl.read_parquet(
        snap.file("scores.parquet"), columns=["alasan_tidak_diperingkat", "model_peringkat"]
    )
    truth = truth_check(snap.path, synth_dir)
    return {
        "status": {str(k): v for k, v in scores["alasan_tidak_diperingkat"].value_counts().iter_rows()},
        "model": {str(k): v for k, v in scores["model_peringkat"].value_counts().iter_rows()},
        "explanation_sentences_without_data": explanation_problems(snap.path).height,
        "desil1_not_bottom10_share": truth["desil1_setelah"]["porsi"],
        "unranked_truly_poor": truth["tidak_diperingkat"]["benar_miskin"],
        "unranked_not_poor": truth["tidak_diperingkat"]["bukan_miskin"],
    }


@app.command("serve")
def bench_serve(
    persons: int = typer.Option(200_000, "--persons", "-n"),
    seed: int = typer.Option(1, "--seed"),
    rate: float = typer.Option(200.0, "--rate", min=1, help="Requests a second sent to each endpoint."),
    seconds: float = typer.Option(20.0, "--seconds", min=1, help="Measured seconds per endpoint."),
    workers: int = typer.Option(2, "--workers", min=1, help="Server processes (uvicorn workers)."),
    officers: int = typer.Option(8, "--officers", min=1, help="Staff sessions the search load comes from."),
    cache: Path = typer.Option(Path("data/bench"), "--cache", help="Where the cycle snapshot is kept."),
) -> None:
    """Load a cycle snapshot of N persons into PostgreSQL (timed), serve it, and drive the citizen check,
    the staff search and a no-op endpoint at a fixed rate on loopback; report latency percentiles."""
    from dtsen.store.benchmark import bench_serve as run

    emit(
        {
            "stage": "serve",
            "persons": persons,
            **run(persons, seed, cache, rate=rate, seconds=seconds, workers=workers, officers=officers),
            **peak_rss_mb(),
        }
    )


@app.command("workflows")
def bench_workflows(
    cases: int = typer.Option(100_000, "--cases", "-n", min=1, help="Cases moved through the service layer."),
    total: int = typer.Option(
        1_000_000, "--total", min=1, help="Cases in the database for the queue timing."
    ),
    repetitions: int = typer.Option(200, "--repetitions", min=1, help="Dinsos queue reads timed."),
) -> None:
    """Move N cases through their states via the service layer, fill the table to --total cases, time the
    dinsos queue and the export of the approved changes (PostgreSQL)."""
    from dtsen.workflows.bench import bench_workflows as run

    emit({"stage": "workflows", **run(cases, total=total, repetitions=repetitions), **peak_rss_mb()})


@app.command("dci")
def bench_dci(
    persons: int = typer.Option(1_000_000, "--persons", "-n"),
    seed: int = typer.Option(1, "--seed"),
    concurrency: int = typer.Option(100, "--concurrency", min=1, help="Sync searches kept in flight."),
    seconds: float = typer.Option(20.0, "--seconds", min=1, help="Measured seconds per sync phase."),
    rate: float = typer.Option(100.0, "--rate", min=1, help="Requests a second of the open-loop phase."),
    batch: int = typer.Option(10_000, "--batch", min=1, help="NIK items in the async batch search."),
    workers: int = typer.Option(2, "--workers", min=1, help="Server processes (uvicorn workers)."),
    extract_format: str = typer.Option("csv", "--extract-format", help="csv, parquet or xlsx."),
    entity: str = typer.Option("Member", "--entity", help="response_entity asked for: Member or Group."),
    cache: Path = typer.Option(Path("data/bench"), "--cache", help="Where the cycle snapshot is kept."),
) -> None:
    """Serve a snapshot of N persons and drive the DCI API on loopback with signed envelopes: sync search by
    NIK (p95, rps at N concurrent), an async batch of NIKs to its on-search callback, a by-name extract."""
    from dtsen.sharing.dci.bench import bench_dci as run

    emit(
        {
            "stage": "dci",
            "persons": persons,
            **run(
                persons,
                seed,
                cache,
                concurrency=concurrency,
                seconds=seconds,
                rate=rate,
                batch=batch,
                workers=workers,
                extract_format=extract_format,
                entity=entity,
            ),
            **peak_rss_mb(),
        }
    )


@app.command("cli")
def bench_cli(
    runs: int = typer.Option(10, "--runs", "-n", min=1, help="Start-ups timed per command line."),
) -> None:
    """Time the start-up of `dtsen --version` and `dtsen --help` (fresh interpreter each run): min/median
    seconds of N runs; the target is <= 0.5 s."""
    import statistics
    import subprocess
    import sys

    result: dict[str, object] = {"stage": "cli", "runs": runs}
    for flag in ("--version", "--help"):
        seconds = []
        for _ in range(runs):
            start = time.perf_counter()
            command = [sys.executable, "-m", "dtsen.cli.main", flag]
            subprocess.run(command, check=True, capture_output=True)  # noqa: S603 - our own CLI
            seconds.append(time.perf_counter() - start)
        key = flag.removeprefix("--")
        result[f"{key}_min_s"] = round(min(seconds), 3)
        result[f"{key}_median_s"] = round(statistics.median(seconds), 3)
    emit({**result, "target_s": 0.5})
