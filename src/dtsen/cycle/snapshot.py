"""Immutable, versioned Parquet snapshots with a manifest, and an atomic switch of the current one.

Layout: ``data_dir/snapshots/<period>/v<N>/`` holds the published files and ``manifest.json`` (every file
with its rows, bytes and SHA-256; the inputs; the model version; created_at). ``data_dir/snapshots/CURRENT``
names the current snapshot (``2026Q1/v2``).

Publishing writes everything into a hidden staging directory, fsyncs it, renames it to ``v<N>`` (under a
lock, never over an existing version) and only then replaces ``CURRENT`` with ``os.replace``. A reader
resolves ``CURRENT`` once and reads one immutable directory, so it sees the old snapshot or the new one,
never a mix, and a crash at any point leaves the last published snapshot current and intact.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import re
import shutil
import stat
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from dtsen import __version__, atomic, locks
from dtsen.atomic import atomic_dir, sha256_file
from dtsen.config import get_settings
from dtsen.cycle import manifest_chain
from dtsen.cycle.period import Period
from dtsen.logs import get_logger

log = get_logger(__name__)

MANIFEST = "manifest.json"
CURRENT = "CURRENT"
VERSION_RE = re.compile(r"^v(\d+)$")
REF_RE = re.compile(r"^(\d{4}Q[1-4])(?:/v(\d+))?$")


class SnapshotError(ValueError):
    """A snapshot that cannot be published, found or read; the message says which and why."""


@dataclass(frozen=True)
class Snapshot:
    period: str
    version: int
    path: Path
    manifest: dict[str, Any]

    @property
    def ref(self) -> str:
        return f"{self.period}/v{self.version}"

    @property
    def files(self) -> list[str]:
        return [f["name"] for f in self.manifest.get("files", [])]

    def file(self, name: str) -> Path:
        """Path of a published file by its name in the manifest (e.g. ``beneficiaries/pkh.parquet``)."""
        if name not in self.files:
            raise SnapshotError(f"snapshot {self.ref} has no file {name!r} (has: {', '.join(self.files)})")
        return self.path / name

    def has(self, name: str) -> bool:
        return name in self.files


def snapshots_dir(data_dir: Path | None = None) -> Path:
    return Path(data_dir or get_settings().data_dir) / "snapshots"


@contextlib.contextmanager
def _lock(root: Path) -> Iterator[None]:
    """One publisher at a time per data_dir (an advisory lock; readers never take it)."""
    root.mkdir(parents=True, exist_ok=True)
    with (root / ".lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _versions(period_dir: Path) -> list[int]:
    if not period_dir.is_dir():
        return []
    return sorted(
        int(m.group(1)) for p in period_dir.iterdir() if (m := VERSION_RE.match(p.name)) and p.is_dir()
    )


def _expand(files: Mapping[str, Path]) -> list[tuple[str, Path]]:
    """Logical name -> file; a directory contributes each file under it as ``name/relative``."""
    out: list[tuple[str, Path]] = []
    for name, source in files.items():
        source = Path(source)
        clean = Path(name)
        if clean.is_absolute() or ".." in clean.parts or name in (MANIFEST, CURRENT):
            raise SnapshotError(f"file name {name!r}: a relative name inside the snapshot, not {MANIFEST}")
        if source.is_dir():
            for f in sorted(p for p in source.rglob("*") if p.is_file()):
                out.append((f"{name}/{f.relative_to(source).as_posix()}", f))
        elif source.is_file():
            out.append((clean.as_posix(), source))
        else:
            raise SnapshotError(f"file {name!r}: {source} does not exist")
    names = [n for n, _ in out]
    if len(set(names)) != len(names):
        raise SnapshotError("two inputs publish the same file name")
    return sorted(out)


def _rows(path: Path) -> int | None:
    if path.suffix != ".parquet":
        return None
    return int(pq.ParquetFile(path).metadata.num_rows)


def publish(
    files: Mapping[str, Path],
    period: str,
    *,
    data_dir: Path | None = None,
    inputs: Mapping[str, Any] | None = None,
    model_version: str | None = None,
    make_current: bool = True,
) -> Snapshot:
    """Publish ``files`` as the next version of ``period`` (a new, never reused ``v<N>``) and, unless
    ``make_current`` is false, make it the current snapshot. The sources are copied, not moved."""
    period = str(Period.parse(period))
    root = snapshots_dir(data_dir)
    entries = _expand(files)
    period_dir = root / period
    with _lock(root):
        for folder in [p for p in root.iterdir() if p.is_dir()]:  # no other publisher is alive under the lock
            locks.remove_leftovers(folder)  # so a staging folder is a killed one's
        period_dir.mkdir(parents=True, exist_ok=True)
        previous_manifest = manifest_chain.link_to_previous(root)
        version = (max(_versions(period_dir)) if _versions(period_dir) else 0) + 1
        target = period_dir / f"v{version}"
        if target.exists():  # impossible under the lock unless someone wrote by hand
            raise SnapshotError(f"{target} already exists; a published version is never overwritten")
        with atomic_dir(target, replace=False) as staging:
            listed = []
            for name, source in entries:
                dest = staging / name
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, dest)
                listed.append(
                    {
                        "name": name,
                        "rows": _rows(dest),
                        "bytes": dest.stat().st_size,
                        "sha256": sha256_file(dest),
                    }
                )
            manifest = {
                "period": period,
                "version": version,
                "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "dtsen_version": __version__,
                "model_version": model_version,
                "inputs": dict(inputs or {}),
                "files": listed,
                manifest_chain.FIELD: previous_manifest,
            }
            (staging / MANIFEST).write_text(
                json.dumps(manifest, indent=2, sort_keys=True, default=str), encoding="utf-8"
            )
            _make_read_only(staging)
        snapshot = Snapshot(period, version, target, manifest)
        manifest_chain.record_head(snapshot, root)
        if make_current:
            set_current(snapshot, data_dir=data_dir)
    log.info("snapshot published", snapshot=snapshot.ref, files=len(listed), current=make_current)
    return snapshot


def _make_read_only(directory: Path) -> None:
    for path in [*directory.rglob("*"), directory]:
        path.chmod(path.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


def set_current(snapshot: Snapshot, *, data_dir: Path | None = None) -> None:
    """Atomically make ``snapshot`` the current one (write a temporary pointer, fsync, os.replace)."""
    root = snapshots_dir(data_dir)
    atomic.write_text(root / CURRENT, snapshot.ref + "\n")


def _load(period: str, version: int, root: Path) -> Snapshot:
    path = root / period / f"v{version}"
    try:
        manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SnapshotError(f"snapshot {period}/v{version} does not exist") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise SnapshotError(f"snapshot {period}/v{version}: manifest unreadable ({exc})") from exc
    return Snapshot(period, version, path, manifest)


def current(data_dir: Path | None = None) -> Snapshot | None:
    """The current snapshot (the pointer is read once), or None before the first publish."""
    root = snapshots_dir(data_dir)
    try:
        ref = (root / CURRENT).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    m = REF_RE.match(ref)
    if m is None or m.group(2) is None:
        raise SnapshotError(f"{root / CURRENT}: {ref!r} is not a snapshot reference (YYYYQn/vN)")
    return _load(m.group(1), int(m.group(2)), root)


def list_snapshots(data_dir: Path | None = None) -> list[Snapshot]:
    """Every published snapshot, oldest period and version first."""
    root = snapshots_dir(data_dir)
    if not root.is_dir():
        return []
    out = []
    for period_dir in sorted(p for p in root.iterdir() if p.is_dir() and REF_RE.match(p.name)):
        out.extend(_load(period_dir.name, v, root) for v in _versions(period_dir))
    return out


def latest(period: str | None = None, data_dir: Path | None = None) -> Snapshot | None:
    """The highest version of ``period`` (default: of the newest period), or None."""
    snaps = list_snapshots(data_dir)
    if period is not None:
        period = str(Period.parse(period))
        snaps = [s for s in snaps if s.period == period]
    return snaps[-1] if snaps else None


def open_snapshot(ref: str | Path, data_dir: Path | None = None) -> Snapshot:
    """A snapshot by ``current``, ``2026Q1`` (its latest version), ``2026Q1/v2`` or a directory path."""
    text = str(ref).strip()
    if text.lower() == "current":
        snap = current(data_dir)
        if snap is None:
            raise SnapshotError("no snapshot has been published yet")
        return snap
    m = REF_RE.match(text.upper().replace("/V", "/v"))
    if m is not None:
        if m.group(2) is not None:
            return _load(m.group(1), int(m.group(2)), snapshots_dir(data_dir))
        snap = latest(m.group(1), data_dir)
        if snap is None:
            raise SnapshotError(f"no snapshot of period {m.group(1)}")
        return snap
    path = Path(ref)
    vm = VERSION_RE.match(path.name)
    if path.is_dir() and vm and REF_RE.match(path.parent.name):
        return _load(path.parent.name, int(vm.group(1)), path.parent.parent)
    raise SnapshotError(f"{ref!r}: not a snapshot (current, YYYYQn, YYYYQn/vN or a snapshot directory)")


def verify(snapshot: Snapshot) -> list[str]:
    """Problems found by re-reading every file: missing, extra, changed size or checksum (empty: intact)."""
    problems: list[str] = []
    listed = {f["name"]: f for f in snapshot.manifest.get("files", [])}
    present = {p.relative_to(snapshot.path).as_posix() for p in snapshot.path.rglob("*") if p.is_file()}
    present.discard(MANIFEST)
    for name in sorted(present - set(listed)):
        problems.append(f"{name}: not in the manifest")
    for name, entry in sorted(listed.items()):
        path = snapshot.path / name
        if not path.is_file():
            problems.append(f"{name}: missing")
            continue
        if path.stat().st_size != entry["bytes"]:
            problems.append(f"{name}: {path.stat().st_size} bytes, manifest says {entry['bytes']}")
        if sha256_file(path) != entry["sha256"]:
            problems.append(f"{name}: SHA-256 differs from the manifest")
    return problems
