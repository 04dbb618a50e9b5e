"""Expensive test data built once per test run, also when pytest-xdist runs the suite on several workers.

Each xdist worker has a base temp dir of its own (``<run>/popen-gw0``, ``<run>/popen-gw1``), so a build
under ``tmp_path_factory.getbasetemp()`` would be done once per worker. :func:`build_once` builds under the
run's base temp dir instead (the workers' common parent; the base temp dir itself when xdist is off),
under an exclusive file lock: the first worker to ask builds, the others wait for it and reuse the result.
The lock is ``fcntl.flock`` (the kernel drops it if the builder dies, so no stale lock survives a crash);
a half-done build (no ``DONE`` marker) is wiped and done again.
"""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Callable
from pathlib import Path


def run_temp_dir(base_temp: Path) -> Path:
    """The directory every worker of this run shares: the parent of an xdist worker's base temp dir."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker and base_temp.name == f"popen-{worker}":
        return base_temp.parent
    return base_temp


def build_once(base_temp: Path, name: str, build: Callable[[Path], None]) -> Path:
    """``<run temp dir>/<name>``, made by ``build(root)`` unless a worker of this run already made it.

    ``base_temp`` is ``tmp_path_factory.getbasetemp()``; ``build`` fills the (new, empty) ``root``."""
    shared = run_temp_dir(base_temp)
    root = shared / name
    done = root / "DONE"
    if done.exists():  # written last, under the lock: a finished build
        return root
    with (shared / f"{name}.lock").open("w", encoding="ascii") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # blocks while another worker builds; released when closed
        if not done.exists():
            shutil.rmtree(root, ignore_errors=True)
            root.mkdir(parents=True)
            build(root)
            done.write_text("ok", encoding="ascii")
    return root
