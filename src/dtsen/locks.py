"""Process locks on a data directory: one cycle at a time, one lander per source, and safe cleanup.

A lock is ``fcntl.flock`` on a lock file, so the kernel releases it when its holder exits, however it
exits (a crash, SIGKILL, a reboot): a lock is never left stale. The holder writes its pid, host, command
and start time into the file, so a refused caller can say who holds it; a file naming a process that is
gone is simply taken over (the kernel had already released it). A directory left behind by a killed run
(a staging or set-aside folder) may be deleted only by someone holding the lock its owner held, since
then its owner is certainly not alive: :func:`remove_leftovers`.

``flock`` is per host: on a network file system (NFS) shared by several machines, run the cycle from one.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import socket
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from dtsen.atomic import remove_tree
from dtsen.logs import get_logger

log = get_logger(__name__)

LOCKS_DIR = ".locks"  # data_dir/.locks/: one file per lock, kept out of the directories they guard
CYCLE_LOCK = "cycle.lock"
#: Hidden folders a killed writer leaves: ``atomic`` staging and set-aside directories.
LEFTOVER_PATTERNS = (".*.staging", ".*.staging-*", ".*.old-*")  # ".staging-<id>": earlier releases


class LockHeldError(RuntimeError):
    """Another live process holds the lock; the message names its pid, host and command."""

    def __init__(self, path: Path, holder: dict[str, Any]) -> None:
        self.path = path
        self.holder = holder
        who = f"pid {holder.get('pid', '?')} on host {holder.get('host', '?')}"
        what = holder.get("command") or "?"
        since = holder.get("started_at") or "?"
        super().__init__(
            f"{path.parent} is in use by {who} (command: {what}; since {since}). Wait for it to finish, "
            f"or stop that process; the lock ({path}) is released when it exits."
        )


@dataclass(frozen=True)
class Holder:
    pid: int
    host: str
    command: str
    started_at: str

    def as_dict(self) -> dict[str, Any]:
        return {"pid": self.pid, "host": self.host, "command": self.command, "started_at": self.started_at}


def read_holder(path: Path) -> dict[str, Any]:
    """What the lock file says about its (last) holder; empty if nothing readable."""
    try:
        text = path.read_text(encoding="utf-8").strip()
        return json.loads(text) if text else {}
    except (OSError, ValueError):
        return {}


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _command() -> str:
    return " ".join([Path(sys.argv[0]).name, *sys.argv[1:]])[:300] if sys.argv else "python"


def _write_holder(handle: IO[str], command: str | None) -> Holder:
    holder = Holder(
        os.getpid(),
        socket.gethostname(),
        command or _command(),
        datetime.now(UTC).isoformat(timespec="seconds"),
    )
    handle.seek(0)
    handle.truncate()
    handle.write(json.dumps(holder.as_dict()) + "\n")
    handle.flush()
    os.fsync(handle.fileno())
    return holder


@contextlib.contextmanager
def exclusive(path: Path, *, command: str | None = None, wait: bool = False) -> Iterator[Holder]:
    """Hold the exclusive lock ``path`` for the block. Taken at once or :class:`LockHeldError` (naming the
    holder), unless ``wait``: then block until it is free. A previous holder that died is reported and
    replaced."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # "a+", not "w": the previous holder's record is read (a refusal names it) before it is replaced
    with open(path, "a+", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            raise LockHeldError(path, read_holder(path)) from None
        previous = read_holder(path)
        pid = int(previous.get("pid") or 0)
        if (
            pid
            and previous.get("host") == socket.gethostname()
            and pid != os.getpid()
            and not _pid_alive(pid)
        ):
            log.warning("stale lock taken over", lock=str(path), dead_pid=previous["pid"])
        holder = _write_holder(handle, command)
        try:
            yield holder
        finally:
            handle.seek(0)
            handle.truncate()  # a free lock names nobody
            handle.flush()
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextlib.contextmanager
def shared_cleaning(path: Path, directory: Path) -> Iterator[None]:
    """Hold ``path`` shared for the block (many writers into ``directory`` at once). The first writer to
    find nobody else there (an exclusive lock taken without waiting) first deletes the leftovers in
    ``directory``: no live writer can own them, since every writer holds this lock while it writes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pass
        else:
            remove_leftovers(directory)
        fcntl.flock(handle, fcntl.LOCK_SH)  # converting EX to SH, or waiting for a cleaner to finish
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def remove_leftovers(directory: Path, patterns: tuple[str, ...] = LEFTOVER_PATTERNS) -> list[Path]:
    """Delete the hidden staging / set-aside folders a killed writer left in ``directory``. Call only
    while holding the lock every writer of ``directory`` holds (so none of them is alive)."""
    if not directory.is_dir():
        return []
    removed = sorted({p for pattern in patterns for p in directory.glob(pattern) if p.is_dir()})
    for path in removed:
        remove_tree(path)
        log.info("leftover of an interrupted run removed", path=str(path))
    return removed


@contextlib.contextmanager
def landing(batches: Path, mapping: str) -> Iterator[None]:
    """Land into ``batches`` for ``mapping``: shared with other mappings' landers (sources of one cycle
    ingest side by side), exclusive per mapping and waited for, so a second lander of the same content
    finds it landed; leftovers of killed landers are cleaned first (:func:`shared_cleaning`)."""
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", mapping)
    folder = batches.parent / LOCKS_DIR
    with (
        shared_cleaning(folder / "ingest.lock", batches),
        exclusive(folder / f"ingest-{name}.lock", wait=True),
    ):
        yield


def cycle_lock(data_dir: Path, *, command: str | None = None) -> contextlib.AbstractContextManager[Holder]:
    """The one lock of ``data_dir`` for a cycle run, resume or --force: refused at once if held."""
    return exclusive(data_dir / LOCKS_DIR / CYCLE_LOCK, command=command)


__all__ = [
    "CYCLE_LOCK",
    "LOCKS_DIR",
    "Holder",
    "LockHeldError",
    "cycle_lock",
    "exclusive",
    "landing",
    "read_holder",
    "remove_leftovers",
    "shared_cleaning",
]
