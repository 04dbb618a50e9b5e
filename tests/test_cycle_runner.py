"""The cycle runner's checkpoint contract, on small steps (the full pipeline is tests/test_cycle.py)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from dtsen.cycle import run as cycle_run
from dtsen.cycle.period import Period, PeriodError
from dtsen.cycle.run import CycleContext, CycleError, CycleRunner, Step


class Killed(BaseException):
    """Stands in for SIGKILL: not an Exception, so nothing in the runner catches it."""


def make_steps(calls: list[str], fail: set[str] | None = None) -> list[Step]:
    fail = fail if fail is not None else set()

    def first(ctx: CycleContext, out: Path) -> dict:
        calls.append("first")
        (out / "a.txt").write_text(f"{ctx.period}\n", encoding="utf-8")
        return {"rows": 1}

    def second(ctx: CycleContext, out: Path) -> dict:
        calls.append("second")
        if "second" in fail:
            raise ValueError("bad input in second")
        text = (ctx.output("first") / "a.txt").read_text(encoding="utf-8")
        (out / "b.txt").write_text(text * 2, encoding="utf-8")
        return {"rows": 2}

    def third(ctx: CycleContext, out: Path) -> dict:
        calls.append("third")
        (out / "c.txt").write_text((ctx.output("second") / "b.txt").read_text(encoding="utf-8").upper())
        return {}

    return [Step("first", "satu", first), Step("second", "dua", second), Step("third", "tiga", third)]


def outputs(run_dir: Path) -> dict[str, str]:
    return {str(p.relative_to(run_dir)): p.read_text() for p in sorted(run_dir.rglob("*.txt"))}


def test_period_parsing() -> None:
    p = Period.parse("2026q1")
    assert str(p) == "2026Q1"
    assert p.end.isoformat() == "2026-03-31"
    assert str(p.next()) == "2026Q2"
    assert str(Period.parse("2026Q4").next()) == "2027Q1"
    assert str(Period.parse("2026Q1").previous()) == "2025Q4"
    assert Period.parse("2026Q4").end.isoformat() == "2026-12-31"
    with pytest.raises(PeriodError, match="YYYYQn"):
        Period.parse("2026-1")


def test_run_then_rerun_is_noop_and_force_keeps_old_run(tmp_path: Path) -> None:
    calls: list[str] = []
    runner = CycleRunner(Period.parse("2026Q1"), make_steps(calls), data_dir=tmp_path)
    result = runner.run()
    assert result.status == "published"
    assert calls == ["first", "second", "third"]
    assert set(result.steps) == {"first", "second", "third"}
    assert all(s["files"] for s in result.steps.values())

    again = CycleRunner(Period.parse("2026Q1"), make_steps(calls), data_dir=tmp_path).run()
    assert again.status == "noop"
    assert calls == ["first", "second", "third"]

    forced = CycleRunner(Period.parse("2026Q1"), make_steps(calls), data_dir=tmp_path).run(force=True)
    assert forced.status == "published"
    kept = [p for p in (tmp_path / "cycles").iterdir() if p.name.startswith(".2026Q1.replaced-")]
    assert len(kept) == 1
    assert (kept[0] / "third" / "c.txt").exists()


def test_failed_step_keeps_earlier_steps_and_resume_continues(tmp_path: Path) -> None:
    calls: list[str] = []
    period = Period.parse("2026Q2")
    with pytest.raises(CycleError, match="step 'second' failed: bad input in second"):
        CycleRunner(period, make_steps(calls, {"second"}), data_dir=tmp_path).run()
    state = json.loads((tmp_path / "cycles" / "2026Q2" / "state.json").read_text())
    assert state["status"] == "running"
    assert list(state["steps"]) == ["first"]

    with pytest.raises(CycleError, match="interrupted run"):
        CycleRunner(period, make_steps(calls), data_dir=tmp_path).run()
    calls.clear()
    result = CycleRunner(period, make_steps(calls), data_dir=tmp_path).run(resume=True)
    assert result.status == "published"
    assert calls == ["second", "third"]
    assert result.resumed == ["first"]


def test_resume_without_a_run_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(CycleError, match="no interrupted run"):
        CycleRunner(Period.parse("2026Q3"), make_steps([]), data_dir=tmp_path).run(resume=True)


@pytest.mark.parametrize("kill_at", ["first", "second", "third"])
def test_kill_after_staging_then_resume_gives_identical_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kill_at: str
) -> None:
    period = Period.parse("2026Q1")
    clean = tmp_path / "clean"
    CycleRunner(period, make_steps([]), data_dir=clean).run()

    def fake_kill(pid: int, sig: int) -> None:
        raise Killed

    dirty = tmp_path / "dirty"
    monkeypatch.setenv(cycle_run.FAULT_ENV, kill_at)
    monkeypatch.setattr(os, "kill", fake_kill)
    with pytest.raises(Killed):
        CycleRunner(period, make_steps([]), data_dir=dirty).run()
    run_dir = dirty / "cycles" / "2026Q1"
    assert (run_dir / f".{kill_at}.staging").is_dir()  # staged, never committed
    assert not (run_dir / kill_at).exists()
    monkeypatch.delenv(cycle_run.FAULT_ENV)
    calls: list[str] = []
    CycleRunner(period, make_steps(calls), data_dir=dirty).run(resume=True)
    assert calls[0] == kill_at
    assert outputs(run_dir) == outputs(clean / "cycles" / "2026Q1")
    assert not list(run_dir.glob(".*.staging"))


def test_tampered_committed_step_is_redone(tmp_path: Path) -> None:
    period = Period.parse("2026Q1")
    calls: list[str] = []
    with pytest.raises(CycleError):
        CycleRunner(period, make_steps(calls, {"second"}), data_dir=tmp_path).run()
    (tmp_path / "cycles" / "2026Q1" / "first" / "a.txt").write_text("edited\n")
    calls.clear()
    CycleRunner(period, make_steps(calls), data_dir=tmp_path).run(resume=True)
    assert calls == ["first", "second", "third"]
    assert (tmp_path / "cycles" / "2026Q1" / "third" / "c.txt").read_text() == "2026Q1\n2026Q1\n".upper()


def test_run_interrupted_before_a_step_was_renamed_resumes_without_redoing_it(tmp_path: Path) -> None:
    """A period interrupted after ``second`` committed under its former name ``old_second``: resume keeps
    that output (moved under the new name) and runs only what is left."""
    period = Period.parse("2026Q1")
    calls: list[str] = []
    first, second, third = make_steps(calls)

    def broken(ctx: CycleContext, out: Path) -> dict:
        raise ValueError("killed here")

    before = [first, Step("old_second", "dua", second.run), Step("third", "tiga", broken)]
    with pytest.raises(CycleError):
        CycleRunner(period, before, data_dir=tmp_path).run()
    run_dir = tmp_path / "cycles" / "2026Q1"
    assert (run_dir / "old_second" / "b.txt").exists()

    calls.clear()
    renamed = Step("second", "dua", second.run, former=("old_second",))
    result = CycleRunner(period, [first, renamed, third], data_dir=tmp_path).run(resume=True)
    assert calls == ["third"]
    assert result.resumed == ["first", "second"]
    assert list(result.steps) == ["first", "second", "third"]
    assert not (run_dir / "old_second").exists()
    assert (run_dir / "third" / "c.txt").read_text() == "2026Q1\n2026Q1\n".upper()
    state = json.loads((run_dir / "state.json").read_text())
    assert list(state["steps"]) == ["first", "second", "third"]
