"""The whole cycle on a small synthetic city: run, no-op re-run, kill at every step and resume.

A base data_dir runs 2026Q1 once (ingest, Splink and welfare models trained and promoted). Then 2026Q2,
with civil-registration events and corrections, runs twice from copies of that base: once without
interruption, once killed (SIGKILL, in a subprocess) after each step in turn, resuming each time. The
published data files must be byte-identical.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from dtsen.cycle import snapshot
from dtsen.cycle.run import FAULT_ENV
from dtsen.cycle.steps import STEPS
from dtsen.synth.generate import SynthRequest, generate
from dtsen.synth.params import SynthParams

PERSONS = 4000
KAB = ["3471"]  # Kota Yogyakarta


def dtsen(data_dir: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "DTSEN_DATA_DIR": str(data_dir), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "dtsen.cli.main", *args],
        capture_output=True,
        text=True,
        env=full_env,
        check=False,
    )


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("cycle")
    synth = root / "synth"
    generate(
        SynthRequest(
            persons=PERSONS, out=synth, seed=11, kabupaten=KAB, params=SynthParams(susenas_sample_rate=0.2)
        )
    )
    data = root / "base"
    first = dtsen(data, "cycle", "run", "--period", "2026Q1", "--inbox", str(synth))
    assert first.returncode == 0, first.stderr[-3000:]
    q1 = snapshot.latest("2026Q1", data_dir=data)
    assert q1 is not None
    from dtsen.synth.events import generate_corrections, generate_events

    (data / "events").mkdir()
    (data / "corrections").mkdir()
    generate_events(synth, data / "events" / "peristiwa-2026Q2.csv", period="2026Q2", seed=3)
    generate_corrections(
        synth,
        q1.file("families.parquet"),
        data / "corrections" / "koreksi-2026Q2.csv",
        period="2026Q2",
        seed=3,
    )
    return {"root": root, "synth": synth, "base": data}


def data_files(snap: snapshot.Snapshot) -> dict[str, str]:
    return {f["name"]: f["sha256"] for f in snap.manifest["files"]}


def test_first_cycle_published_everything(base: dict[str, Path]) -> None:
    snap = snapshot.latest("2026Q1", data_dir=base["base"])
    assert snap is not None
    assert snapshot.verify(snap) == []
    for name in (
        "persons.parquet",
        "families.parquet",
        "scores.parquet",
        "eligibility.parquet",
        "lineage.parquet",
    ):
        assert snap.has(name)
    scores = pl.read_parquet(snap.file("scores.parquet"))
    families = pl.read_parquet(snap.file("families.parquet"))
    assert scores.height == families.height
    assert set(scores["desil_nasional"].drop_nulls().unique().to_list()) <= set(range(1, 11))
    state = json.loads((base["base"] / "cycles" / "2026Q1" / "state.json").read_text())
    assert list(state["steps"]) == [s.name for s in STEPS]
    assert (base["base"] / "linkage" / "ids.parquet").exists()  # promoted after publish
    report = base["base"] / "cycles" / "2026Q1" / "publish" / "report" / "report.html"
    assert "Laporan siklus DTSEN 2026Q1/v1" in report.read_text(encoding="utf-8")


def test_snapshot_ranks_and_explains_only_what_was_observed(base: dict[str, Path]) -> None:
    """Ranking integrity on a real cycle: every explanation sentence of the snapshot speaks of observed
    values only; no family without members, without an adult or without any observation is ranked or
    paid; desil covers exactly the ranked families."""
    from dtsen.welfare.features import SURVEY_ITEMS
    from dtsen.welfare.integrity import explanation_problems

    snap = snapshot.latest("2026Q1", data_dir=base["base"])
    assert snap is not None
    assert explanation_problems(snap.path).height == 0
    scores = pl.read_parquet(snap.file("scores.parquet"))
    families = pl.read_parquet(snap.file("families.parquet"))
    persons = pl.read_parquet(
        snap.file("persons.parquet"), columns=["id_keluarga_dtsen", "umur", "status_hidup"]
    )
    oldest = (
        persons.filter(pl.col("status_hidup").fill_null(True))
        .group_by("id_keluarga_dtsen")
        .agg(umur_maks=pl.col("umur").max())
    )
    j = scores.join(families.select("id_keluarga_dtsen", *SURVEY_ITEMS), on="id_keluarga_dtsen").join(
        oldest, on="id_keluarga_dtsen", how="left"
    )
    ranked = j.filter(pl.col("status_peringkat") == "diperingkat")
    assert ranked.height > 0.8 * j.height
    assert ranked["desil_nasional"].null_count() == 0
    assert j.filter(pl.col("status_peringkat") != "diperingkat")["desil_nasional"].null_count() == (
        j.height - ranked.height
    )
    assert ranked.filter(pl.col("jumlah_anggota") == 0).height == 0
    assert ranked.filter(pl.col("umur_maks") < 15).height == 0
    surveyed = pl.any_horizontal(pl.col(c).is_not_null() for c in SURVEY_ITEMS)
    assert set(ranked.filter(~surveyed)["model_peringkat"].unique()) <= {"administratif"}
    unranked = set(j.filter(pl.col("status_peringkat") != "diperingkat")["id_keluarga_dtsen"])
    elig = pl.read_parquet(snap.file("eligibility.parquet"))
    assert elig.filter(pl.col("id_keluarga_dtsen").is_in(list(unranked)) & pl.col("layak")).height == 0


def test_rerun_is_noop_unless_forced(base: dict[str, Path], tmp_path: Path) -> None:
    data = tmp_path / "d"
    shutil.copytree(base["base"], data, symlinks=True)
    again = dtsen(data, "cycle", "run", "--period", "2026Q1")
    assert again.returncode == 0, again.stderr[-2000:]
    assert "already published; nothing to do" in again.stdout
    assert [s.ref for s in snapshot.list_snapshots(data)] == ["2026Q1/v1"]


def test_killed_at_every_step_resumes_to_the_same_snapshot(base: dict[str, Path], tmp_path: Path) -> None:
    clean, killed = tmp_path / "clean", tmp_path / "killed"
    shutil.copytree(base["base"], clean, symlinks=True)
    shutil.copytree(base["base"], killed, symlinks=True)
    ok = dtsen(clean, "cycle", "run", "--period", "2026Q2")
    assert ok.returncode == 0, ok.stderr[-3000:]

    names = [s.name for s in STEPS]
    first = dtsen(killed, "cycle", "run", "--period", "2026Q2", env={FAULT_ENV: names[0]})
    assert first.returncode == -signal.SIGKILL
    for name in names[1:]:
        r = dtsen(killed, "cycle", "resume", "--period", "2026Q2", env={FAULT_ENV: name})
        assert r.returncode == -signal.SIGKILL, (name, r.stderr[-2000:])
        state = json.loads((killed / "cycles" / "2026Q2" / "state.json").read_text())
        assert name not in state["steps"]  # staged, never committed
    done = dtsen(killed, "cycle", "resume", "--period", "2026Q2")
    assert done.returncode == 0, done.stderr[-3000:]

    a, b = snapshot.latest("2026Q2", data_dir=clean), snapshot.latest("2026Q2", data_dir=killed)
    assert a is not None
    assert b is not None
    assert data_files(a) == data_files(b)
    # killed after publishing but before committing the step: the resume did not publish twice
    assert [s.ref for s in snapshot.list_snapshots(killed)] == ["2026Q1/v1", "2026Q2/v1"]
    assert snapshot.current(killed).ref == "2026Q2/v1"  # type: ignore[union-attr]


def test_second_cycle_applies_events_and_diffs(base: dict[str, Path], tmp_path: Path) -> None:
    data = tmp_path / "d2"
    shutil.copytree(base["base"], data, symlinks=True)
    r = dtsen(data, "cycle", "run", "--period", "2026Q2")
    assert r.returncode == 0, r.stderr[-3000:]
    run_dir = data / "cycles" / "2026Q2"
    outcomes = pl.read_parquet(run_dir / "apply_events" / "events_outcomes.parquet")
    applied = outcomes.filter(pl.col("status") == "diterapkan")
    assert applied.filter(pl.col("jenis") == "MATI").height > 0
    q1, q2 = snapshot.latest("2026Q1", data_dir=data), snapshot.latest("2026Q2", data_dir=data)
    assert q1 is not None
    assert q2 is not None
    # the same people keep their IDs: every Q1 person still alive is in Q2 under the same id_dtsen
    p1 = pl.read_parquet(q1.file("persons.parquet"), columns=["id_dtsen"])
    p2 = pl.read_parquet(q2.file("persons.parquet"), columns=["id_dtsen", "status_hidup"])
    assert p1.join(p2, on="id_dtsen", how="anti").height == 0
    # the dead are in no program at the Q2 publish
    dead = set(applied.filter(pl.col("jenis") == "MATI")["id_dtsen"].to_list())
    beneficiaries = pl.read_parquet(q2.file("beneficiaries/pkh.parquet"))
    if "id_dtsen" in beneficiaries.columns:
        assert not dead & set(beneficiaries["id_dtsen"].to_list())
    diff = json.loads((run_dir / "publish" / "diff" / "diff.json").read_text())
    assert diff
    report = json.loads((run_dir / "publish" / "report" / "report.json").read_text())
    assert report["diff"] == diff


def test_death_events_are_reported_at_once_and_bad_rows_named(base: dict[str, Path], tmp_path: Path) -> None:
    events = sorted((base["base"] / "events").glob("*.csv"))
    r = dtsen(base["base"], "events", "deaths", *map(str, events), "--out", str(tmp_path / "deaths.parquet"))
    assert r.returncode == 0, r.stderr[-2000:]
    affected = pl.read_parquet(tmp_path / "deaths.parquet")
    assert "deceased persons in program lists" in r.stdout
    assert str(affected["id_dtsen"].n_unique()) in r.stdout
    q1 = snapshot.latest("2026Q1", data_dir=base["base"])
    assert q1 is not None
    eligible = pl.read_parquet(q1.file("eligibility.parquet")).filter(pl.col("layak"))
    assert set(affected["id_keluarga_dtsen"].to_list()) <= set(eligible["id_keluarga_dtsen"].to_list())

    bad = tmp_path / "bad.csv"
    lines = events[0].read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    row = lines[1].split(",")
    row[header.index("jenis")] = "MENGHILANG"
    bad.write_text("\n".join([lines[0], ",".join(row)]) + "\n", encoding="utf-8")
    r = dtsen(base["base"], "events", "check", str(bad))
    assert r.returncode == 1
    assert "0 events valid, 1 rejected" in r.stdout
    assert "jenis" in r.stderr
    assert "bad.csv" in r.stderr


def test_the_cutoff_date_is_the_latest_calendar_date_in_indonesia(tmp_path: Path) -> None:
    # A decision taken at 06:00 WIB on 6 December is dated the 6th, while it is still the 5th in UTC: a
    # cut-off after it must count it, so the cut-off's date is read where the calendar is furthest ahead.
    from types import SimpleNamespace

    from dtsen.cycle.period import Period
    from dtsen.cycle.steps import _cutoff_date

    period = Period.parse("2026Q4")
    ctx = SimpleNamespace(run_dir=tmp_path, options={"cutoff": "2026-12-05T20:00:00+00:00"}, period=period)
    assert str(_cutoff_date(ctx)) == "2026-12-06"  # 05:00 WIT on the 6th
    ctx.options["cutoff"] = "2026-12-05T10:00:00+00:00"
    assert str(_cutoff_date(ctx)) == "2026-12-05"
    ctx.options["cutoff"] = "2026-12-05T23:30:00"  # no zone: as written
    assert str(_cutoff_date(ctx)) == "2026-12-05"
    ctx.options["cutoff"] = "2027-02-01T00:00:00+00:00"  # never past the period's end
    assert str(_cutoff_date(ctx)) == "2026-12-31"
