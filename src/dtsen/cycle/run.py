"""The quarterly cycle: ordered steps, each checkpointed, so a killed run resumes where it stopped.

Every step writes into a hidden staging directory of the period's run directory; only when it has
finished is the directory renamed into place and the step recorded (with SHA-256 of every file it
wrote) in ``state.json``, itself replaced atomically. A kill at any moment therefore leaves either the
step committed or nothing of it, and ``resume`` redoes exactly the steps not committed. Steps are
deterministic functions of the frozen inputs and the committed earlier steps, so a resumed run ends
with the same snapshot as an uninterrupted one (``tests/test_cycle.py`` kills the run at every step).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dtsen import atomic, locks
from dtsen.atomic import sha256_file
from dtsen.config import get_settings
from dtsen.cycle import replaced_inputs
from dtsen.cycle.period import Period
from dtsen.logs import get_logger
from dtsen.tables import CycleStatus

log = get_logger(__name__)

#: Fault injection for the resume tests: kill the process once this step's output is staged (not committed).
FAULT_ENV = "DTSEN_CYCLE_KILL_AFTER"


class CycleError(RuntimeError):
    """The cycle cannot go on; the message says which step and why. Committed steps stay committed."""


@dataclass
class CycleContext:
    """What a step may read: the period, its frozen inputs and the committed output of earlier steps."""

    period: Period
    data_dir: Path
    run_dir: Path
    engine: str
    options: dict[str, Any] = field(default_factory=dict)
    run_id: str = ""

    def summary(self, step: str) -> dict[str, Any]:
        """The recorded summary of a committed earlier step."""
        state = json.loads((self.run_dir / "state.json").read_text(encoding="utf-8"))
        return state["steps"].get(step, {}).get("summary", {})

    def output(self, step: str) -> Path:
        path = self.run_dir / step
        if not path.is_dir():
            raise CycleError(f"step {step!r} has no committed output in {self.run_dir}")
        return path

    @property
    def inputs(self) -> dict[str, Any]:
        return json.loads((self.output("freeze") / "inputs.json").read_text(encoding="utf-8"))


StepFn = Callable[[CycleContext, Path], dict[str, Any]]


@dataclass(frozen=True)
class Step:
    name: str
    label: str  # shown on the progress bar (Bahasa Indonesia)
    run: StepFn
    former: tuple[str, ...] = ()  # names it had: a run recorded under one resumes (see CycleRunner.state)


@dataclass
class CycleResult:
    period: str
    status: CycleStatus  # published | noop
    run_dir: Path
    steps: dict[str, dict[str, Any]]
    resumed: list[str] = field(default_factory=list)


def cycles_dir(data_dir: Path | None = None) -> Path:
    return (data_dir or get_settings().data_dir) / "cycles"


def checksums(directory: Path) -> dict[str, str]:
    return {
        str(p.relative_to(directory)): sha256_file(p) for p in sorted(directory.rglob("*")) if p.is_file()
    }


def _write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    atomic.write_text(path, json.dumps(data, indent=2, default=str))


class CycleRunner:
    """Runs ``steps`` for one period in ``data_dir/cycles/<period>``; see the module docstring."""

    def __init__(
        self,
        period: Period,
        steps: list[Step],
        *,
        data_dir: Path | None = None,
        engine: str | None = None,
        options: dict[str, Any] | None = None,
        on_step: Callable[[str, str], None] | None = None,
    ) -> None:
        settings = get_settings()
        self.period = period
        self.steps = steps
        self.data_dir = data_dir or settings.data_dir
        self.run_dir = cycles_dir(self.data_dir) / str(period)
        self.engine = engine or settings.engine
        self.options = options or {}
        self.on_step = on_step or (lambda _name, _event: None)

    @property
    def state_path(self) -> Path:
        return self.run_dir / "state.json"

    def state(self) -> dict[str, Any] | None:
        """The recorded state, its steps under their current names (a step renamed since the run began
        is recorded under its former name in state.json until the next step commits)."""
        if not self.state_path.exists():
            return None
        state = json.loads(self.state_path.read_text(encoding="utf-8"))
        current = {old: step.name for step in self.steps for old in step.former}
        state["steps"] = {current.get(name, name): record for name, record in state["steps"].items()}
        return state

    def _adopt_renamed_outputs(self) -> None:
        """A step committed under a former name keeps its output: the directory takes the current name
        (one rename, so a kill leaves it under either name and the next resume finishes the move)."""
        for step in self.steps:
            for old in step.former:
                if (self.run_dir / old).is_dir() and not (self.run_dir / step.name).exists():
                    (self.run_dir / old).rename(self.run_dir / step.name)

    def run(self, *, force: bool = False, resume: bool = False) -> CycleResult:
        """Under the data dir's cycle lock (``dtsen.locks.LockHeldError`` if another run holds it), so
        a resume or --force never starts beside a live run; what a killed run left staged is cleared."""
        with locks.cycle_lock(self.data_dir):
            locks.remove_leftovers(self.run_dir)
            return self._run(force=force, resume=resume)

    def _run(self, *, force: bool, resume: bool) -> CycleResult:
        state = self.state()
        if state is not None and state.get("status") == CycleStatus.PUBLISHED and not force:
            log.info("period already published; nothing to do", period=str(self.period))
            return CycleResult(str(self.period), CycleStatus.NOOP, self.run_dir, state["steps"])
        if state is not None and force:
            self._set_aside()
            state = None
        if state is None:
            if resume:
                raise CycleError(f"period {self.period}: no interrupted run to resume (use `cycle run`)")
            state = self._new_state()
        elif not resume:
            raise CycleError(
                f"period {self.period} has an interrupted run (started {state['started_at']}); "
                "continue it with `dtsen cycle resume` or start over with --force"
            )
        else:
            # Options are part of the frozen run: a resume must not change them.
            self.options = state.get("options", self.options)
            self._adopt_renamed_outputs()
            replaced_inputs.take_up_replacements(self.run_dir, self.data_dir, state)  # a fixed broken input
        ctx = CycleContext(
            self.period, self.data_dir, self.run_dir, state["engine"], self.options, state["run_id"]
        )
        resumed = [s.name for s in self.steps if self._committed(state, s.name)]
        for step in self.steps:
            if self._committed(state, step.name):
                self.on_step(step.name, "skipped")
                continue
            self._run_step(step, ctx, state)
        state["status"] = CycleStatus.PUBLISHED
        state["finished_at"] = datetime.now(UTC).isoformat()
        _write_json_atomic(self.state_path, state)
        return CycleResult(str(self.period), CycleStatus.PUBLISHED, self.run_dir, state["steps"], resumed)

    def _new_state(self) -> dict[str, Any]:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        state = {
            "period": str(self.period),
            "status": CycleStatus.RUNNING,
            "engine": self.engine,
            "options": self.options,
            "started_at": datetime.now(UTC).isoformat(),
            "run_id": f"{self.period}-{datetime.now(UTC):%Y%m%dT%H%M%S%f}",
            "steps": {},
        }
        _write_json_atomic(self.state_path, state)
        return state

    def _set_aside(self) -> None:
        """--force keeps the earlier run (nothing is ever lost) beside the new one."""
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        target = self.run_dir.with_name(f".{self.run_dir.name}.replaced-{stamp}")
        self.run_dir.rename(target)
        log.info("earlier run kept aside", period=str(self.period), path=str(target))

    def _committed(self, state: dict[str, Any], name: str) -> bool:
        """A step counts as done only if recorded and its files are still exactly what was recorded."""
        record = state["steps"].get(name)
        if record is None:
            return False
        directory = self.run_dir / name
        if not directory.is_dir() or checksums(directory) != record["files"]:
            log.warning("committed step output changed on disk; redoing it", step=name)
            for later in list(state["steps"])[list(state["steps"]).index(name) :]:
                state["steps"].pop(later, None)
            return False
        return True

    def _run_step(self, step: Step, ctx: CycleContext, state: dict[str, Any]) -> None:
        final = self.run_dir / step.name
        shutil.rmtree(final, ignore_errors=True)  # renamed but never recorded: not committed
        staging = atomic.staging_dir(final)  # a failed step's staging stays for a look until the next run
        self.on_step(step.name, "start")
        log.info("step started", period=str(self.period), step=step.name)
        t0 = time.perf_counter()
        try:
            summary = step.run(ctx, staging)
        except Exception as exc:
            log.error("step failed", period=str(self.period), step=step.name, error=str(exc))
            raise CycleError(f"step {step.name!r} failed: {exc}") from exc
        seconds = time.perf_counter() - t0
        if os.environ.get(FAULT_ENV) == step.name:
            os.kill(os.getpid(), signal.SIGKILL)
        files = checksums(staging)
        atomic.commit_dir(staging, final)
        state["steps"][step.name] = {
            "seconds": round(seconds, 2),
            "finished_at": datetime.now(UTC).isoformat(),
            "summary": summary,
            "files": files,
        }
        _write_json_atomic(self.state_path, state)
        log.info("step committed", period=str(self.period), step=step.name, seconds=round(seconds, 2))
        self.on_step(step.name, "done")
