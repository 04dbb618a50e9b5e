"""Atomic writes: build beside the target under a hidden name, fsync, rename into place.

Every file or directory the batch plane publishes goes through here, so a run that fails or is killed
leaves the last good state: either the old output or the new one, never half of one. A directory is built
in ``.<name>.staging`` (a fixed name, so the next run clears what a killed one left) and swapped in; a
file is written under a unique hidden name (concurrent writers never share it) and ``os.replace``-d over
the target. Contents and the parent directory are fsynced before and after the rename, so a power loss
cannot leave a renamed entry pointing at unwritten data.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file's bytes, read in blocks (files may be larger than memory)."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    """Make a directory's entries (a create, a rename) durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_tree(directory: Path) -> None:
    """Every file, then every directory (deepest first, ``directory`` last); symlinks are not followed."""
    for root, _, files in os.walk(directory, topdown=False):
        for name in files:
            path = Path(root, name)
            if not path.is_symlink():
                fsync_file(path)
        fsync_dir(Path(root))


def remove_tree(path: Path) -> None:
    """Delete a directory even if it was made read-only (a snapshot being published)."""
    if not path.exists():
        return
    for root, _, _ in os.walk(path):  # top-down: a directory is made writable before it is entered
        with contextlib.suppress(OSError):
            os.chmod(root, os.stat(root).st_mode | stat.S_IWUSR)
    shutil.rmtree(path, ignore_errors=True)


def staging_dir(target: Path) -> Path:
    """The hidden sibling a new ``target`` directory is built in, emptied of anything a killed run left."""
    staging = target.with_name(f".{target.name}.staging")
    remove_tree(staging)
    staging.mkdir(parents=True)
    return staging


def commit_dir(staging: Path, target: Path, *, replace: bool = True) -> None:
    """fsync ``staging`` and rename it to ``target``. An existing ``target`` is moved aside first and
    deleted after (``replace``), or is an error (``FileExistsError``): a published version is never
    overwritten."""
    fsync_tree(staging)
    parent = target.parent
    if target.exists():
        if not replace:
            raise FileExistsError(f"{target} already exists")
        old = target.with_name(f".{target.name}.old-{uuid.uuid4().hex[:8]}")
        target.rename(old)
        staging.rename(target)
        fsync_dir(parent)
        remove_tree(old)
    else:
        staging.rename(target)
        fsync_dir(parent)


@contextlib.contextmanager
def atomic_dir(target: Path, *, replace: bool = True) -> Iterator[Path]:
    """Yield an empty staging directory; when the block ends without error it becomes ``target``
    (:func:`commit_dir`), on an error (or an interrupt) it is deleted and ``target`` is left as it was."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if not replace and target.exists():
        raise FileExistsError(f"{target} already exists")
    staging = staging_dir(target)
    try:
        yield staging
        commit_dir(staging, target, replace=replace)
    except BaseException:
        remove_tree(staging)
        raise


def commit_file(temporary: Path, target: Path) -> None:
    """fsync ``temporary`` and ``os.replace`` it over ``target`` (same file system), then the directory."""
    fsync_file(temporary)
    os.replace(temporary, target)
    fsync_dir(target.parent)


@contextlib.contextmanager
def atomic_file(target: Path) -> Iterator[Path]:
    """Yield a hidden path beside ``target`` to write (by any library); when the block ends without error
    it replaces ``target`` (:func:`commit_file`), on an error it is deleted and ``target`` is untouched."""
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        yield temporary
        commit_file(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def write_text(target: Path, text: str) -> None:
    """Replace ``target`` with ``text`` (UTF-8) atomically."""
    with atomic_file(target) as temporary:
        temporary.write_text(text, encoding="utf-8")


__all__ = [
    "atomic_dir",
    "atomic_file",
    "commit_dir",
    "commit_file",
    "fsync_dir",
    "fsync_file",
    "fsync_tree",
    "remove_tree",
    "sha256_file",
    "staging_dir",
    "write_text",
]
