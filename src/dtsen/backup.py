"""Backup and restore of a deployment: the data dir and the serving database, verified by checksums.

A backup is a directory (built in a hidden staging folder and renamed, so it exists whole or not at all)::

    backup.json        what it holds: every file with its bytes and SHA-256, the database's backend
                       and versions
    data/...           the data dir (batches, cycles, snapshots, linkage state, models, the signing key)
    database.dump      PostgreSQL: ``pg_dump --format=custom`` (a consistent snapshot of the database)
    database.sqlite    SQLite: a copy made with SQLite's online backup API (consistent while in use)

It is taken under the data dir's cycle lock (refused while a cycle runs) and the ingest lock (waits for a
landing to finish), so no batch or snapshot is half in it. It holds the deployment's secrets (the signing
key, personal data): the directory is created mode 0700; store it encrypted.

``restore`` checks every file against ``backup.json`` first (a changed byte refuses the whole restore,
naming the file), writes the data dir into a place that must be empty, checks the copies again, then
loads the database into an empty one: ``pg_restore`` for PostgreSQL, the backup API for SQLite.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import inspect, text
from sqlalchemy.engine import URL, make_url

from dtsen import __version__, atomic, locks
from dtsen.atomic import sha256_file
from dtsen.logs import get_logger

log = get_logger(__name__)

MANIFEST = "backup.json"
DATA = "data"
PG_DUMP = "database.dump"
SQLITE = "database.sqlite"
FORMAT = 1
#: Not part of a backup: lock files, a killed writer's staging, temporary files of atomic writes.
SKIPPED_DIRS = (locks.LOCKS_DIR,)
SKIPPED_RE = re.compile(r"^\..*\.(staging|tmp)$|^\..*\.(old|staging)-[0-9a-f]+$")


class BackupError(RuntimeError):
    """The backup or restore cannot be done or trusted; the message says which file or tool and why."""


# -- database helpers -------------------------------------------------------------------------------------
def _url(url: str) -> URL:
    return make_url(url)


def _sqlite_path(url: URL) -> Path:
    if not url.database or url.database == ":memory:":
        raise BackupError(f"{url.render_as_string()}: an in-memory SQLite database cannot be backed up")
    return Path(url.database).resolve()


def _libpq(url: URL) -> tuple[str, dict[str, str]]:
    """(libpq connection URI without the password, environment with PGPASSWORD): the password stays out
    of the process list."""
    env = {**os.environ}
    if url.password is not None:
        env["PGPASSWORD"] = str(url.password)
    plain = url.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _tool(name: str) -> tuple[str, int]:
    """(path, major version) of a PostgreSQL client tool."""
    path = shutil.which(name)
    if path is None:
        raise BackupError(f"{name} not found on PATH: install the PostgreSQL client (postgresql-client)")
    done = subprocess.run([path, "--version"], capture_output=True, text=True, check=True)  # noqa: S603 - a tool on PATH
    out = done.stdout
    m = re.search(r"(\d+)(?:\.\d+)?", out)
    if m is None:
        raise BackupError(f"{name} --version said {out.strip()!r}: no version number")
    return path, int(m.group(1))


def _server_major(url: URL) -> tuple[int, str]:
    from dtsen.store.db import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            number = int(connection.execute(text("SHOW server_version_num")).scalar_one())
            version = str(connection.execute(text("SHOW server_version")).scalar_one())
    finally:
        engine.dispose()
    return number // 10000, version


def _has_tables(url: URL) -> list[str]:
    from dtsen.store.db import make_engine

    engine = make_engine(url)
    try:
        return sorted(inspect(engine).get_table_names())
    finally:
        engine.dispose()


# -- data dir ---------------------------------------------------------------------------------------------
def _data_files(data_dir: Path, skip: set[Path]) -> list[Path]:
    """Every file of the data dir to back up, relative, sorted; symlinks are not followed."""
    out: list[Path] = []
    for root, dirs, files in os.walk(data_dir):
        here = Path(root)
        dirs[:] = sorted(
            d for d in dirs if not SKIPPED_RE.match(d) and not (here == data_dir and d in SKIPPED_DIRS)
        )
        for name in sorted(files):
            path = here / name
            if SKIPPED_RE.match(name) or path.resolve() in skip or path.is_symlink():
                continue
            out.append(path.relative_to(data_dir))
    return out


def _entry(root: Path, relative: str) -> dict[str, Any]:
    path = root / relative
    return {"path": relative, "bytes": path.stat().st_size, "sha256": sha256_file(path)}


# -- backup -----------------------------------------------------------------------------------------------
def backup(out: Path, *, data_dir: Path, database_url: str | None) -> dict[str, Any]:
    """Back up ``data_dir`` and the database at ``database_url`` (None: none) into the new directory
    ``out``; returns the manifest. Refused while a cycle runs (:class:`dtsen.locks.LockHeldError`)."""
    data_dir = data_dir.resolve()
    if not data_dir.is_dir():
        raise BackupError(f"{data_dir}: data directory does not exist")
    if out.exists():
        raise BackupError(f"{out} already exists; a backup goes into a new directory")
    if out.resolve().is_relative_to(data_dir):
        raise BackupError(f"{out} is inside the data directory {data_dir}: put the backup elsewhere")
    url = _url(database_url) if database_url else None
    skip: set[Path] = set()
    if url is not None and url.get_backend_name() == "sqlite":
        db = _sqlite_path(url)
        skip = {Path(f"{db}{suffix}") for suffix in ("", "-wal", "-shm", "-journal")}  # copied by the API
    with (
        locks.cycle_lock(data_dir, command="dtsen backup"),
        locks.exclusive(data_dir / locks.LOCKS_DIR / "ingest.lock", command="dtsen backup", wait=True),
        atomic.atomic_dir(out, replace=False) as staging,
    ):
        staging.chmod(0o700)
        relative = _data_files(data_dir, skip)
        for rel in relative:
            target = staging / DATA / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(data_dir / rel, target)
        files = [_entry(staging, f"{DATA}/{rel.as_posix()}") for rel in relative]
        database = _backup_database(url, staging, data_dir) if url is not None else None
        if database is not None:
            files.append(_entry(staging, database["file"]))
        manifest = {
            "format": FORMAT,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "dtsen_version": __version__,
            "data_dir": str(data_dir),
            "database": database,
            "files": files,
        }
        (staging / MANIFEST).write_text(
            json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8"
        )
    log.info("backup written", path=str(out), files=len(files), database=(database or {}).get("backend"))
    return manifest


def _backup_database(url: URL, staging: Path, data_dir: Path) -> dict[str, Any] | None:
    if url.get_backend_name() == "sqlite":
        path = _sqlite_path(url)
        if not path.is_file():
            return None  # the default SQLite file was never created: nothing served yet
        source = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
        target = sqlite3.connect(staging / SQLITE)
        try:
            with target:
                source.backup(target)
            target.execute("PRAGMA journal_mode=DELETE")  # one self-contained file (no -wal beside it)
        finally:
            source.close()
            target.close()
        inside = path.is_relative_to(data_dir)
        return {
            "backend": "sqlite",
            "file": SQLITE,
            "sqlite_version": sqlite3.sqlite_version,
            # the default database lives in the data dir: restored at the same place in the new one
            "data_dir_path": path.relative_to(data_dir).as_posix() if inside else None,
        }
    if url.get_backend_name() != "postgresql":
        raise BackupError(f"database backend {url.get_backend_name()!r}: only PostgreSQL and SQLite")
    pg_dump, client = _tool("pg_dump")
    server, server_version = _server_major(url)
    if client < server:
        raise BackupError(
            f"pg_dump is version {client} but the server runs PostgreSQL {server_version}: pg_dump must be "
            f"at least the server's major version (install postgresql-client-{server})"
        )
    uri, env = _libpq(url)
    command = [pg_dump, "--format=custom", "--no-owner", "--file", str(staging / PG_DUMP), uri]
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)  # noqa: S603 - no shell
    if done.returncode != 0:
        raise BackupError(f"pg_dump failed (exit {done.returncode}): {done.stderr.strip()[-2000:]}")
    return {
        "backend": "postgresql",
        "file": PG_DUMP,
        "server_version": server_version,
        "pg_dump_major": client,
        "data_dir_path": None,
    }


# -- verify -----------------------------------------------------------------------------------------------
def read_manifest(backup_dir: Path) -> dict[str, Any]:
    try:
        manifest = json.loads((backup_dir / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BackupError(f"{backup_dir}: not a backup (no {MANIFEST})") from None
    except (OSError, ValueError) as exc:
        raise BackupError(f"{backup_dir / MANIFEST}: unreadable ({exc})") from exc
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{backup_dir / MANIFEST}: format {manifest.get('format')!r}, expected {FORMAT}")
    return manifest


def verify_backup(backup_dir: Path) -> list[str]:
    """Problems found by re-reading every file: missing, extra, changed size or SHA-256 (empty: intact)."""
    manifest = read_manifest(backup_dir)
    listed = {f["path"]: f for f in manifest["files"]}
    present = {p.relative_to(backup_dir).as_posix() for p in backup_dir.rglob("*") if p.is_file()}
    present.discard(MANIFEST)
    problems = [f"{name}: not in {MANIFEST}" for name in sorted(present - set(listed))]
    for name, entry in sorted(listed.items()):
        path = backup_dir / name
        if not path.is_file():
            problems.append(f"{name}: missing")
        elif path.stat().st_size != entry["bytes"]:
            problems.append(f"{name}: {path.stat().st_size} bytes, {MANIFEST} says {entry['bytes']}")
        elif sha256_file(path) != entry["sha256"]:
            problems.append(f"{name}: SHA-256 differs from {MANIFEST}")
    return problems


# -- restore ----------------------------------------------------------------------------------------------
def restore(backup_dir: Path, *, data_dir: Path, database_url: str | None = None) -> dict[str, Any]:
    """Restore ``backup_dir`` into ``data_dir`` (absent or empty) and its database into ``database_url``
    (an empty database; for SQLite a file that does not exist yet). A backup of the default SQLite
    database (inside the data dir) goes back to the same place in the new data dir when no URL is given.
    Nothing is written unless every file of the backup matches its checksum."""
    manifest = read_manifest(backup_dir)
    problems = verify_backup(backup_dir)
    if problems:
        raise BackupError(
            f"{backup_dir}: the backup is damaged, nothing restored: " + "; ".join(problems[:20])
        )
    data_dir = data_dir.resolve()
    if data_dir.exists():
        if not data_dir.is_dir() or any(data_dir.iterdir()):
            raise BackupError(f"{data_dir}: restore goes into an empty or new directory")
        data_dir.rmdir()
    database = manifest.get("database")
    url = _restore_target(database, data_dir, database_url)
    data_files = [f for f in manifest["files"] if f["path"].startswith(f"{DATA}/")]
    with atomic.atomic_dir(data_dir, replace=False) as staging:
        for entry in data_files:
            target = staging / entry["path"].removeprefix(f"{DATA}/")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(backup_dir / entry["path"], target)
            if sha256_file(target) != entry["sha256"]:
                raise BackupError(f"{target}: the copy differs from the backup (disk or copy error)")
    if database is not None and url is not None:
        _restore_database(database, backup_dir, url)
    log.info("backup restored", backup=str(backup_dir), data_dir=str(data_dir), files=len(data_files))
    return {
        "data_dir": str(data_dir),
        "files": len(data_files),
        "database": None if url is None else url.render_as_string(hide_password=True),
    }


def _restore_target(database: dict[str, Any] | None, data_dir: Path, database_url: str | None) -> URL | None:
    if database is None:
        return _url(database_url) if database_url else None
    if database_url is None:
        if database["backend"] == "sqlite" and database.get("data_dir_path"):
            return _url(f"sqlite:///{data_dir / database['data_dir_path']}")
        raise BackupError(f"the backup holds a {database['backend']} database: give the one to restore into")
    url = _url(database_url)
    if url.get_backend_name() != database["backend"]:
        raise BackupError(
            f"the backup holds a {database['backend']} database; {url.get_backend_name()} was given"
        )
    if database["backend"] == "sqlite" and _sqlite_path(url).exists():
        raise BackupError(f"{_sqlite_path(url)} exists: restore into a new database file")
    if database["backend"] == "postgresql":
        tables = _has_tables(url)
        if tables:
            raise BackupError(
                f"{url.render_as_string()} is not empty ({len(tables)} tables, e.g. {tables[0]}): "
                "restore into a new database"
            )
    return url


def _restore_database(database: dict[str, Any], backup_dir: Path, url: URL) -> None:
    source_file = backup_dir / database["file"]
    if database["backend"] == "sqlite":
        path = _sqlite_path(url)
        path.parent.mkdir(parents=True, exist_ok=True)
        # immutable: opened without locks or a -wal/-shm file beside the backup
        source = sqlite3.connect(f"{source_file.resolve().as_uri()}?mode=ro&immutable=1", uri=True)
        target = sqlite3.connect(path)
        try:
            with target:
                source.backup(target)
            check = target.execute("PRAGMA integrity_check").fetchone()[0]
        finally:
            source.close()
            target.close()
        if check != "ok":
            raise BackupError(f"{path}: integrity check after restore says {check!r}")
        return
    pg_restore, client = _tool("pg_restore")
    if client < int(database.get("pg_dump_major", 0)):
        raise BackupError(
            f"pg_restore is version {client} but the dump was made by pg_dump {database['pg_dump_major']}: "
            f"install postgresql-client-{database['pg_dump_major']} or newer"
        )
    uri, env = _libpq(url)
    options = ["--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction"]
    command = [pg_restore, *options, "--dbname", uri, str(source_file)]
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)  # noqa: S603 - no shell
    if done.returncode != 0:
        raise BackupError(f"pg_restore failed (exit {done.returncode}): {done.stderr.strip()[-2000:]}")


__all__ = ["BackupError", "backup", "read_manifest", "restore", "verify_backup"]
