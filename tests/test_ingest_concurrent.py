"""Two ingests of one file at once land it once; leftovers of a killed ingest are cleaned, a live one's not.

The first ingest is a real second process held inside its landing (after its files are staged) by a
pipe; the second runs here and is let go on once it is either finished or waiting for the landing lock
(seen through a wrapped ``flock``), so the test does not depend on timing.
"""

from __future__ import annotations

import fcntl
import json
import signal
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dtsen import locks
from dtsen.sources.ingest import batches_dir, committed_batches, ingest
from dtsen.sources.mapping import load_mapping
from dtsen.tables import BatchStatus
from test_ingest_batches import FILE_A, make_mapping, write

CHILD = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from dtsen.sources import ingest as ingest_module
    from dtsen.sources.mapping import load_mapping

    real = ingest_module._conform_file

    def held(*args):
        print("inside", flush=True)
        sys.stdin.readline()
        return real(*args)

    ingest_module._conform_file = held
    mapping, path, data_dir = load_mapping(Path(sys.argv[1])), Path(sys.argv[2]), Path(sys.argv[3])
    result = ingest_module.ingest(mapping, [path], data_dir=data_dir)
    print(json.dumps({"status": str(result.status), "notes": result.notes}), flush=True)
    """
)


@pytest.fixture
def world(tmp_path: Path) -> dict[str, Any]:
    mapping = make_mapping(tmp_path / "mappings")
    return {
        "mapping_path": tmp_path / "mappings" / "uji.yaml",
        "mapping": mapping,
        "file": write(tmp_path / "in" / "dtks_a.csv", FILE_A),
        "data": tmp_path / "data",
    }


@pytest.fixture
def held_ingest(world: dict[str, Any]) -> Iterator[subprocess.Popen[str]]:
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(world["mapping_path"]), str(world["file"]), str(world["data"])],
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


def test_the_same_file_ingested_twice_at_once_lands_once(
    world: dict[str, Any], held_ingest: subprocess.Popen[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    settled = threading.Event()  # the second ingest is finished, or waiting for the first
    real_flock = fcntl.flock

    def flock(handle: Any, operation: int) -> None:
        if operation == fcntl.LOCK_EX and Path(handle.name).name.startswith("ingest-"):
            settled.set()
        real_flock(handle, operation)

    monkeypatch.setattr(locks.fcntl, "flock", flock)
    second: dict[str, Any] = {}

    def run_second() -> None:
        try:
            second["result"] = ingest(world["mapping"], [world["file"]], data_dir=world["data"])
        finally:
            settled.set()

    thread = threading.Thread(target=run_second)
    thread.start()
    assert settled.wait(timeout=120)
    assert held_ingest.stdin is not None
    assert held_ingest.stdout is not None
    held_ingest.stdin.write("go\n")
    held_ingest.stdin.flush()
    first = json.loads(held_ingest.stdout.readline())
    assert held_ingest.wait() == 0
    thread.join()

    assert first["status"] == BatchStatus.COMMITTED
    result = second["result"]
    assert result.status == BatchStatus.NOOP
    assert result.notes == [result.notes[0]]
    assert "already landed in batch" in result.notes[0]
    assert len(committed_batches(world["data"])) == 1


def test_a_killed_ingest_leaves_staging_that_the_next_one_removes_but_not_a_live_ones(
    world: dict[str, Any], held_ingest: subprocess.Popen[str], tmp_path: Path
) -> None:
    batches = batches_dir(world["data"])
    live = [p for p in batches.iterdir() if p.name.endswith(".staging")]
    assert len(live) == 1
    other = make_mapping(tmp_path / "other", name="lain")
    # another mapping lands beside the held one: the held one's staging is not a leftover
    beside = ingest(
        other, [write(tmp_path / "in2" / "dtks_x.csv", "IDDTKS,NAMA\n7,RINA\n")], data_dir=world["data"]
    )
    assert beside.status == BatchStatus.COMMITTED
    assert live[0].exists()

    held_ingest.send_signal(signal.SIGKILL)
    assert held_ingest.wait() == -signal.SIGKILL
    assert live[0].exists()  # a killed ingest's staging stays ...
    again = ingest(load_mapping(world["mapping_path"]), [world["file"]], data_dir=world["data"])
    assert again.status == BatchStatus.COMMITTED  # ... nothing of it counted as landed ...
    assert not [p for p in batches.iterdir() if p.name.startswith(".")]  # ... and the next ingest removed it
