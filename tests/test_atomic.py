"""The one atomic-write helper: a directory or file is the old one or the new one, never half of one."""

from __future__ import annotations

import hashlib
import stat
from pathlib import Path

import pytest

from dtsen import atomic


class BoomError(Exception):
    pass


def build(target: Path, files: dict[str, str], *, read_only: bool = False, fail: bool = False) -> None:
    """Write ``files`` (relative name -> text) through :func:`atomic.atomic_dir`, then maybe fail."""
    with atomic.atomic_dir(target) as staging:
        for name, text in files.items():
            (staging / name).parent.mkdir(parents=True, exist_ok=True)
            (staging / name).write_text(text)
        if read_only:  # as a snapshot is made before its rename
            for p in [*staging.rglob("*"), staging]:
                p.chmod(p.stat().st_mode & ~stat.S_IWUSR)
        if fail:
            raise BoomError


def test_atomic_dir_replaces_the_old_directory_and_leaves_nothing_beside_it(tmp_path: Path) -> None:
    target = tmp_path / "out"
    target.mkdir()
    (target / "old.txt").write_text("old")
    with atomic.atomic_dir(target) as staging:
        assert staging.parent == tmp_path
        assert staging.name.startswith(".")
        (staging / "sub").mkdir()
        (staging / "sub" / "new.txt").write_text("new")
        assert (target / "old.txt").read_text() == "old"  # untouched until the block ends
    assert sorted(p.relative_to(target).as_posix() for p in target.rglob("*")) == ["sub", "sub/new.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_atomic_dir_failure_keeps_the_old_directory(tmp_path: Path) -> None:
    target = tmp_path / "out"
    target.mkdir()
    (target / "old.txt").write_text("old")
    with pytest.raises(BoomError):
        build(target, {"half.txt": "half"}, fail=True)
    assert [p.name for p in target.iterdir()] == ["old.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_atomic_dir_clears_what_a_killed_run_left(tmp_path: Path) -> None:
    leftover = tmp_path / ".out.staging"
    leftover.mkdir()
    (leftover / "stale.txt").write_text("from a killed run")
    with atomic.atomic_dir(tmp_path / "out") as staging:
        assert list(staging.iterdir()) == []
        (staging / "a.txt").write_text("a")
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["a.txt"]
    assert not leftover.exists()


def test_atomic_dir_never_overwrites_when_told_not_to(tmp_path: Path) -> None:
    target = tmp_path / "v1"
    target.mkdir()
    with pytest.raises(FileExistsError), atomic.atomic_dir(target, replace=False):
        pass
    staging = atomic.staging_dir(target)
    with pytest.raises(FileExistsError):
        atomic.commit_dir(staging, target, replace=False)


def test_a_read_only_staging_directory_is_still_removed_on_failure(tmp_path: Path) -> None:
    with pytest.raises(BoomError):
        build(tmp_path / "snap", {"inner/f.parquet": "x"}, read_only=True, fail=True)
    assert list(tmp_path.iterdir()) == []


def write_then_fail(target: Path, text: str) -> None:
    with atomic.atomic_file(target) as temporary:
        temporary.write_text(text)
        raise BoomError


def test_atomic_file_replaces_or_leaves_the_target(tmp_path: Path) -> None:
    target = tmp_path / "state.json"
    atomic.write_text(target, "one")
    with pytest.raises(BoomError):
        write_then_fail(target, "two")
    assert target.read_text() == "one"
    atomic.write_text(target, "three")
    assert target.read_text() == "three"
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


def test_sha256_file_matches_hashlib(tmp_path: Path) -> None:
    data = bytes(range(256)) * 5000
    (tmp_path / "f").write_bytes(data)
    assert atomic.sha256_file(tmp_path / "f") == hashlib.sha256(data).hexdigest()
