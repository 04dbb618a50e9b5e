"""A broken event file copied at freeze: fixed at its source, the period resumes without --force."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from dtsen.atomic import sha256_file
from dtsen.cycle.inputs import freeze
from dtsen.cycle.period import Period
from dtsen.cycle.run import CycleContext, CycleError, CycleRunner, Step

BROKEN = "jenis,tanggal\nLAHIR,bukan-tanggal\n"
FIXED = "jenis,tanggal\nLAHIR,2026-02-01\n"


def steps(calls: list[str]) -> list[Step]:
    def step_freeze(ctx: CycleContext, out: Path) -> dict:
        calls.append("freeze")
        return {"inputs": freeze(ctx.data_dir, datetime.now(UTC), out)}

    def step_apply(ctx: CycleContext, out: Path) -> dict:
        calls.append("apply_events")
        for entry in ctx.inputs["events"]:
            text = (ctx.output("freeze") / entry["file"]).read_text(encoding="utf-8")
            if "bukan-tanggal" in text:
                raise ValueError(f"{entry['file']} row 2, field tanggal: 'bukan-tanggal' is not a date")
            (out / "applied.csv").write_text(text, encoding="utf-8")
        return {}

    return [Step("freeze", "beku", step_freeze), Step("apply_events", "peristiwa", step_apply)]


def test_a_fixed_event_file_is_taken_up_by_resume(tmp_path: Path) -> None:
    events = tmp_path / "events"
    events.mkdir()
    (events / "lahir.csv").write_text(BROKEN, encoding="utf-8")
    calls: list[str] = []
    runner = CycleRunner(Period.parse("2026Q1"), steps(calls), data_dir=tmp_path)
    with pytest.raises(CycleError, match="row 2, field tanggal"):
        runner.run()
    with pytest.raises(CycleError, match="row 2, field tanggal"):
        runner.run(resume=True)  # unchanged source: the frozen copy stays, the step fails the same way

    (events / "lahir.csv").write_text(FIXED, encoding="utf-8")
    result = runner.run(resume=True)
    assert result.status == "published"
    assert calls == ["freeze", "apply_events", "apply_events", "apply_events"]  # freeze kept, not redone
    frozen = runner.run_dir / "freeze"
    assert (frozen / "events" / "lahir.csv").read_text(encoding="utf-8") == FIXED
    assert (runner.run_dir / "apply_events" / "applied.csv").read_text(encoding="utf-8") == FIXED
    inputs = json.loads((frozen / "inputs.json").read_text(encoding="utf-8"))
    assert inputs["events"] == [{"file": "events/lahir.csv", "sha256": sha256_file(events / "lahir.csv")}]
    [replaced] = inputs["replaced"]
    assert replaced["file"] == "events/lahir.csv"
    assert replaced["sha256"] == sha256_file(events / "lahir.csv")
    assert replaced["sha256_before"] != replaced["sha256"]
    state = runner.state()
    assert state is not None
    assert state["steps"]["freeze"]["summary"]["inputs"] == inputs


def test_a_replacement_after_a_later_step_committed_redoes_it(tmp_path: Path) -> None:
    (tmp_path / "corrections").mkdir()
    source = tmp_path / "corrections" / "koreksi.csv"
    source.write_text("a\n1\n", encoding="utf-8")
    calls: list[str] = []

    def late(ctx: CycleContext, out: Path) -> dict:
        calls.append("late")
        raise ValueError("stopped after freeze")

    runner_steps = [*steps(calls), Step("late", "akhir", late)]
    runner = CycleRunner(Period.parse("2026Q1"), runner_steps, data_dir=tmp_path)
    with pytest.raises(CycleError, match="stopped after freeze"):
        runner.run()
    state = runner.state()
    assert state is not None
    assert set(state["steps"]) == {"freeze", "apply_events"}
    source.write_text("a\n2\n", encoding="utf-8")
    with pytest.raises(CycleError, match="stopped after freeze"):
        runner.run(resume=True)
    assert calls == ["freeze", "apply_events", "late", "apply_events", "late"]  # apply_events redone
