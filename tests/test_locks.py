"""One cycle per data dir: run, resume and --force are refused beside a live run (naming its pid and host),
a dead holder's lock is taken over, and what a killed run left staged is cleared. The live run is a real
second process held inside a step by a pipe (no sleeps)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dtsen import locks
from dtsen.cycle.period import Period
from dtsen.cycle.run import CycleContext, CycleRunner, Step

CHILD = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from dtsen.cycle.period import Period
    from dtsen.cycle.run import CycleRunner, Step

    def first(ctx, out):
        (out / "a.txt").write_text("a")
        return {}

    def held(ctx, out):
        (out / "partial.txt").write_text("staged, not committed")
        print("inside", flush=True)
        sys.stdin.readline()  # the test lets the step finish (or kills the process here)
        return {}

    CycleRunner(Period.parse("2026Q1"), [Step("first", "1", first), Step("held", "2", held)],
                data_dir=Path(sys.argv[1])).run()
    print("finished", flush=True)
    """
)


def steps() -> list[Step]:
    def first(ctx: CycleContext, out: Path) -> dict:
        (out / "a.txt").write_text("a")
        return {}

    def held(ctx: CycleContext, out: Path) -> dict:
        return {}

    return [Step("first", "1", first), Step("held", "2", held)]


@pytest.fixture
def live_run(tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    """A cycle run in another process, stopped inside its second step until its stdin gets a line."""
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(tmp_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "inside"
    yield child
    if child.poll() is None:
        child.kill()
        child.wait()


def test_run_resume_and_force_are_refused_beside_a_live_run(
    tmp_path: Path, live_run: subprocess.Popen[str]
) -> None:
    runner = CycleRunner(Period.parse("2026Q1"), steps(), data_dir=tmp_path)
    for kw in ({}, {"resume": True}, {"force": True}):
        with pytest.raises(locks.LockHeldError) as refused:
            runner.run(**kw)
        message = str(refused.value)
        assert f"pid {live_run.pid}" in message
        assert socket.gethostname() in message
        assert "interrupted" not in message
    # nothing of the live run was touched: no set-aside copy, its staged step still there
    assert not [p for p in (tmp_path / "cycles").iterdir() if ".replaced-" in p.name]
    assert (tmp_path / "cycles" / "2026Q1" / ".held.staging" / "partial.txt").exists()

    assert live_run.stdin is not None
    assert live_run.stdout is not None
    live_run.stdin.write("go\n")
    live_run.stdin.flush()
    assert live_run.stdout.readline().strip() == "finished"
    assert live_run.wait() == 0
    assert runner.run().status == "noop"  # the lock is free again


def test_cli_names_the_holder(tmp_path: Path, live_run: subprocess.Popen[str], monkeypatch) -> None:
    from dtsen.cli.main import app
    from dtsen.config import reset_settings

    monkeypatch.setenv("DTSEN_DATA_DIR", str(tmp_path))
    reset_settings()
    try:
        result = CliRunner().invoke(app, ["cycle", "resume", "--period", "2026Q1"])
    finally:
        reset_settings()
    assert result.exit_code == 1
    text = " ".join(result.output.split())
    assert f"pid {live_run.pid}" in text
    assert "interrupted run" not in text


def test_a_killed_holder_is_taken_over_and_its_staging_cleared(
    tmp_path: Path, live_run: subprocess.Popen[str]
) -> None:
    live_run.send_signal(signal.SIGKILL)
    assert live_run.wait() == -signal.SIGKILL
    lock_file = tmp_path / locks.LOCKS_DIR / locks.CYCLE_LOCK
    assert locks.read_holder(lock_file)["pid"] == live_run.pid  # the dead holder's record stays
    staged = tmp_path / "cycles" / "2026Q1" / ".held.staging"
    assert staged.exists()

    result = CycleRunner(Period.parse("2026Q1"), steps(), data_dir=tmp_path).run(resume=True)
    assert result.status == "published"
    assert result.resumed == ["first"]
    assert not staged.exists()
    assert locks.read_holder(lock_file) == {}  # released: names nobody


def test_exclusive_lock_records_the_holder(tmp_path: Path) -> None:
    path = tmp_path / "x.lock"
    with locks.exclusive(path, command="dtsen test") as holder:
        assert holder.pid == os.getpid()
        assert locks.read_holder(path)["command"] == "dtsen test"
        # a second open file description conflicts, even in one process
        with pytest.raises(locks.LockHeldError, match=f"pid {os.getpid()}"), locks.exclusive(path):
            pass
