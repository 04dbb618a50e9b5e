"""Snapshots: versioned and immutable, verified by checksum, published atomically (a reader running
during publishes only ever sees one whole snapshot), never overwritten, a failed publish leaves no trace."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dtsen.cycle import snapshot as snap
from dtsen.cycle.snapshot import SnapshotError, current, list_snapshots, open_snapshot, publish, verify

FILES = ("persons.parquet", "families.parquet", "eligibility.parquet", "beneficiaries/pkh.parquet")


def _outputs(directory: Path, marker: int, rows: int = 2000) -> dict[str, Path]:
    """Files whose every row carries ``marker``, so a reader can tell which publish it read."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "beneficiaries").mkdir(exist_ok=True)
    for name in FILES:
        pq.write_table(pa.table({"versi": [marker] * rows, "x": list(range(rows))}), directory / name)
    return {
        "persons.parquet": directory / "persons.parquet",
        "families.parquet": directory / "families.parquet",
        "eligibility.parquet": directory / "eligibility.parquet",
        "beneficiaries": directory / "beneficiaries",
    }


def test_publish_list_show_and_verify(tmp_path: Path) -> None:
    first = publish(
        _outputs(tmp_path / "o1", 1),
        "2026Q1",
        data_dir=tmp_path,
        inputs={"cutoff": "2026-03-31"},
        model_version="m1",
    )
    assert (first.ref, sorted(first.files)) == ("2026Q1/v1", sorted(FILES))
    assert first.manifest["model_version"] == "m1"
    assert first.manifest["inputs"] == {"cutoff": "2026-03-31"}
    assert {f["name"]: f["rows"] for f in first.manifest["files"]}["beneficiaries/pkh.parquet"] == 2000
    assert verify(first) == []
    second = publish(_outputs(tmp_path / "o2", 2), "2026Q2", data_dir=tmp_path)
    assert [s.ref for s in list_snapshots(tmp_path)] == ["2026Q1/v1", "2026Q2/v1"]
    assert current(tmp_path) == second
    assert open_snapshot("2026Q1", tmp_path).ref == "2026Q1/v1"
    assert open_snapshot("current", tmp_path).ref == "2026Q2/v1"
    assert open_snapshot(second.path, tmp_path).ref == "2026Q2/v1"
    with pytest.raises(SnapshotError, match="no snapshot of period 2025Q4"):
        open_snapshot("2025Q4", tmp_path)


def test_verify_detects_tampering(tmp_path: Path) -> None:
    published = publish(_outputs(tmp_path / "o", 1), "2026Q1", data_dir=tmp_path)
    target = published.path / "eligibility.parquet"
    target.chmod(0o644)
    pq.write_table(
        pa.table({"versi": [9] * 2000, "x": list(range(2000))}), target
    )  # same size class, other bytes
    (published.path / "beneficiaries").chmod(0o755)
    (published.path / "beneficiaries" / "pkh.parquet").unlink()
    published.path.chmod(0o755)
    (published.path / "extra.csv").write_text("x\n", encoding="utf-8")
    problems = verify(published)
    assert "eligibility.parquet: SHA-256 differs from the manifest" in problems
    assert "beneficiaries/pkh.parquet: missing" in problems
    assert "extra.csv: not in the manifest" in problems


def test_published_versions_are_never_overwritten(tmp_path: Path) -> None:
    one = publish(_outputs(tmp_path / "o1", 1), "2026Q1", data_dir=tmp_path)
    two = publish(_outputs(tmp_path / "o2", 2), "2026Q1", data_dir=tmp_path)
    assert (one.version, two.version) == (1, 2)
    assert pq.read_table(one.path / "persons.parquet")["versi"][0].as_py() == 1  # v1 untouched
    assert verify(one) == []
    assert verify(two) == []
    assert (one.path / "persons.parquet").stat().st_mode & 0o222 == 0  # published files are read-only
    assert one.path.stat().st_mode & 0o222 == 0


def test_failed_publish_leaves_the_current_snapshot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    good = publish(_outputs(tmp_path / "o1", 1), "2026Q1", data_dir=tmp_path)
    calls = {"n": 0}
    real = shutil.copyfile

    def failing(src: Path, dst: Path) -> Path:
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError("disk full")
        return real(src, dst)

    monkeypatch.setattr(snap.shutil, "copyfile", failing)
    with pytest.raises(OSError, match="disk full"):
        publish(_outputs(tmp_path / "o2", 2), "2026Q2", data_dir=tmp_path)
    assert current(tmp_path) == good
    assert [p.name for p in (tmp_path / "snapshots" / "2026Q2").iterdir()] == []  # no staging left


def test_reader_never_sees_a_partial_publish(tmp_path: Path) -> None:
    publish(_outputs(tmp_path / "o0", 0), "2026Q1", data_dir=tmp_path)
    sources = [_outputs(tmp_path / f"o{i}", i) for i in range(1, 9)]
    seen: dict[str, list[int]] = {}  # per reader: two readers appending to one list interleave
    errors: list[str] = []
    done = threading.Event()

    def reader() -> None:
        mine = seen.setdefault(threading.current_thread().name, [])
        while not done.is_set():
            s = current(tmp_path)
            assert s is not None
            markers = {pq.read_table(s.path / name)["versi"][0].as_py() for name in FILES}
            if len(markers) != 1 or len(s.files) != len(FILES):
                errors.append(f"{s.ref}: a mix of {markers}")
            mine.append(markers.pop())

    threads = [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    for i, files in enumerate(sources, start=1):
        publish(files, "2026Q1", data_dir=tmp_path)
        assert current(tmp_path).version == i + 1  # type: ignore[union-attr]
        if i % 4 == 0:  # both readers have read this version before the next publish: however loaded
            _wait_until(lambda v=i: len(seen) == 2 and all(m and m[-1] == v for m in seen.values()), done)
    done.set()
    for t in threads:
        t.join()
    assert not errors
    assert any(len(set(mine)) > 1 for mine in seen.values()), (
        "a reader should have seen more than one snapshot"
    )
    assert all(mine == sorted(mine) for mine in seen.values()), (
        "a reader never goes back to an older snapshot"
    )


def _wait_until(condition: Callable[[], bool], done: threading.Event, limit: float = 120.0) -> None:
    """Poll ``condition`` (the readers run in a loop, so it comes true); ``limit`` only stops a hang."""
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            done.set()
            raise AssertionError("the readers did not read the new version")
        time.sleep(0.001)


def test_cli_list_show_verify(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from dtsen.cli.main import app

    published = publish(_outputs(tmp_path / "o", 1), "2026Q1", data_dir=tmp_path)
    runner = CliRunner()
    listed = runner.invoke(app, ["snapshot", "list", "--data-dir", str(tmp_path)])
    assert listed.exit_code == 0
    assert "2026Q1/v1" in listed.output
    shown = runner.invoke(app, ["snapshot", "show", "2026Q1", "--json", "--data-dir", str(tmp_path)])
    assert shown.exit_code == 0
    assert '"version": 1' in shown.output
    assert runner.invoke(app, ["snapshot", "verify", "--data-dir", str(tmp_path)]).exit_code == 0
    target = published.path / "persons.parquet"
    target.chmod(0o644)
    target.write_bytes(b"tampered")
    failed = runner.invoke(app, ["snapshot", "verify", "all", "--data-dir", str(tmp_path)])
    assert failed.exit_code == 1
    assert "persons.parquet" in failed.output
    missing = runner.invoke(app, ["snapshot", "show", "2030Q1", "--data-dir", str(tmp_path)])
    assert missing.exit_code == 2
