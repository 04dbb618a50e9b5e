"""Load a published snapshot into the serving database beside the served one, then switch in one transaction.

* **Checked first.** The snapshot's files are re-read against its manifest
  (:func:`dtsen.cycle.snapshot.verify`) before a row is written; a changed or missing file refuses the load.
* **Beside, then switched.** Rows go in under a new ``served_snapshot`` row with status ``loading``,
  committed in batches so the load never holds the database's write lock for long (SQLite) and readers
  keep reading the current snapshot. One short transaction then clears the old ``is_current`` and sets
  the new one ``ready`` and current: a reader resolves the current snapshot once and sees old or new,
  never a mix.
* **Failure leaves the last good state.** A failed load deletes its rows and marks its row ``failed``;
  a killed one leaves ``loading`` rows that the next load (which holds the loader lock, so they cannot
  be another loader's) cleans up first. The previous snapshot stays current throughout.
* **Bulk, never row objects.** DuckDB reads the Parquet files and shapes the rows (JSON columns, the
  ``atribut`` object, the compacted provenance); PostgreSQL receives them as CSV record batches through
  ``COPY ... FROM STDIN`` (psycopg), SQLite through ``executemany`` in batches.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Engine, Table, delete, select, update
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError

from dtsen.logs import get_logger
from dtsen.sql import quote_ident
from dtsen.store.served import ServedSnapshot
from dtsen.store.snapshot_rows import ROW_TABLES, Progress, SnapshotLoadError, load_rows

if TYPE_CHECKING:
    from dtsen.cycle.snapshot import Snapshot

log = get_logger(__name__)
SNAPSHOT = cast(Table, ServedSnapshot.__table__)
REQUIRED_FILES = ("families.parquet", "persons.parquet", "scores.parquet", "eligibility.parquet")
PG_LOCK_KEY = 0x647473656E_01  # "dtsen" + 1: pg_advisory_lock key of the served-snapshot loader


@dataclass(frozen=True)
class LoadResult:
    """What a load did: ``status`` is ``loaded`` (new rows, now current), ``switched`` (already loaded,
    made current again) or ``unchanged`` (already the current snapshot)."""

    ref: str
    snapshot_id: int
    status: str
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    backend: str = ""

    def summary(self) -> str:
        rows = ", ".join(f"{name} {count:,}" for name, count in self.counts.items())
        what = {"loaded": "dimuat", "switched": "dijadikan aktif", "unchanged": "sudah aktif"}[self.status]
        return f"snapshot {self.ref} {what} (id {self.snapshot_id}; {rows}) dalam {self.seconds:.1f} dtk"


# -- bookkeeping ---------------------------------------------------------------------------------------------
def _manifest_sha256(snap: Snapshot) -> str:
    from dtsen.cycle.snapshot import MANIFEST

    return hashlib.sha256((snap.path / MANIFEST).read_bytes()).hexdigest()


def _created_at(snap: Snapshot) -> datetime:
    text = snap.manifest.get("created_at")
    try:
        value = datetime.fromisoformat(str(text))
    except ValueError:
        return datetime.now(UTC)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _program_names(snap: Snapshot) -> dict[str, str] | None:
    if not snap.has("programs.json"):
        return None
    try:
        data = json.loads(snap.file("programs.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    return {code: str(p.get("name") or code) for code, p in (data.get("programs") or {}).items()}


def _delete_rows(engine: Engine, snapshot_id: int) -> None:
    """Delete one snapshot's rows from every row table (each table its own short transaction)."""
    for table in ROW_TABLES:
        with engine.begin() as connection:
            connection.execute(delete(table).where(table.c.snapshot_id == snapshot_id))


def _mark_failed(engine: Engine, snapshot_id: int, error: str) -> None:
    with engine.begin() as connection:
        connection.execute(
            update(SNAPSHOT)
            .where(SNAPSHOT.c.id == snapshot_id)
            .values(status="failed", is_current=False, error=error[:2000])
        )


def _clean_interrupted(engine: Engine) -> None:
    """Rows of loads that were killed (status still ``loading``): delete them and mark the load failed.

    Called under the loader lock, so no other load is running."""
    with engine.connect() as connection:
        stale = (
            connection.execute(select(SNAPSHOT.c.id).where(SNAPSHOT.c.status == "loading")).scalars().all()
        )
    for snapshot_id in stale:
        log.warning("cleaning an interrupted snapshot load", snapshot_id=snapshot_id)
        _delete_rows(engine, snapshot_id)
        _mark_failed(engine, snapshot_id, "interrupted: the loading process ended before the switch")


@contextlib.contextmanager
def _loader_lock(engine: Engine) -> Iterator[None]:
    """One loader at a time per database: a PostgreSQL advisory lock, or a lock file beside SQLite's file."""
    if engine.dialect.name == "postgresql":
        from sqlalchemy import text

        with engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": PG_LOCK_KEY})
            connection.commit()
            try:
                yield
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": PG_LOCK_KEY})
                connection.commit()
        return
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        yield
        return
    with Path(f"{database}.load-lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _switch(engine: Engine, snapshot_id: int, counts: dict[str, int]) -> None:
    """The one transaction that makes ``snapshot_id`` the served snapshot."""
    with engine.begin() as connection:
        connection.execute(
            update(SNAPSHOT)
            .where(SNAPSHOT.c.is_current, SNAPSHOT.c.id != snapshot_id)
            .values(is_current=False)
        )
        connection.execute(
            update(SNAPSHOT)
            .where(SNAPSHOT.c.id == snapshot_id)
            .values(status="ready", is_current=True, loaded_at=datetime.now(UTC), counts=counts, error=None)
        )


def _engine_for(url_or_engine: str | URL | Engine | None) -> tuple[Engine, bool]:
    from dtsen.store.db import make_engine

    if isinstance(url_or_engine, Engine):
        return url_or_engine, False
    return make_engine(url_or_engine), True


# -- the load ------------------------------------------------------------------------------------------------
def load_snapshot(
    url_or_engine: str | URL | Engine | None,
    data_dir: Path | None = None,
    ref: str | None = None,
    force: bool = False,
    *,
    progress: Progress | None = None,
) -> LoadResult:
    """Load snapshot ``ref`` (default: the current published one) of ``data_dir`` and serve it.

    Already loaded (same ref and manifest): nothing is reloaded unless ``force``; it is made current
    again if it is not. Raises :class:`SnapshotLoadError` (previous snapshot still served) on any failure.
    """
    from dtsen.cycle import snapshot as snapshots

    start = time.perf_counter()
    try:
        snap = snapshots.open_snapshot(ref or "current", data_dir)
    except snapshots.SnapshotError as exc:
        raise SnapshotLoadError(str(exc)) from exc
    missing = [name for name in REQUIRED_FILES if not snap.has(name)]
    if missing:
        raise SnapshotLoadError(f"snapshot {snap.ref} lacks {', '.join(missing)}: not a cycle snapshot")
    engine, owned = _engine_for(url_or_engine)
    try:
        with _loader_lock(engine):
            try:
                _clean_interrupted(engine)
            except DBAPIError as exc:
                reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
                raise SnapshotLoadError(
                    f"serving database not ready ({reason}): run `dtsen db upgrade` first"
                ) from exc
            return _load_locked(engine, snap, force, progress, start)
    finally:
        if owned:
            engine.dispose()


def _load_locked(
    engine: Engine, snap: Snapshot, force: bool, progress: Progress | None, start: float
) -> LoadResult:
    from dtsen.cycle import snapshot as snapshots

    backend = engine.dialect.name
    manifest_sha = _manifest_sha256(snap)
    with engine.connect() as connection:
        same = connection.execute(
            select(SNAPSHOT.c.id, SNAPSHOT.c.is_current, SNAPSHOT.c.counts, SNAPSHOT.c.manifest_sha256)
            .where(SNAPSHOT.c.ref == snap.ref, SNAPSHOT.c.status == "ready")
            .order_by(SNAPSHOT.c.id.desc())
        ).all()
    # Published versions never change, so the same ref with the same manifest is the same data. (A
    # different manifest under the same ref comes from another data_dir: it is loaded and replaces it.)
    identical = [row for row in same if row.manifest_sha256 == manifest_sha]
    if identical and not force:
        loaded = identical[0]
        status = "unchanged" if loaded.is_current else "switched"
        if not loaded.is_current:
            _switch(engine, loaded.id, dict(loaded.counts or {}))
        log.info("snapshot already loaded", snapshot=snap.ref, snapshot_id=loaded.id, status=status)
        return LoadResult(
            snap.ref, loaded.id, status, dict(loaded.counts or {}), time.perf_counter() - start, backend
        )

    problems = snapshots.verify(snap)
    if problems:
        raise SnapshotLoadError(
            f"snapshot {snap.ref} does not match its manifest, not loaded: " + "; ".join(problems[:5])
        )
    with engine.begin() as connection:
        snapshot_id = connection.execute(
            SNAPSHOT.insert()
            .values(
                periode=snap.period,
                versi=snap.version,
                ref=snap.ref,
                manifest_sha256=manifest_sha,
                versi_model=snap.manifest.get("model_version"),
                created_at=_created_at(snap),
                status="loading",
                is_current=False,
                programs=_program_names(snap),
            )
            .returning(SNAPSHOT.c.id)
        ).scalar_one()
    log.info("loading snapshot", snapshot=snap.ref, snapshot_id=snapshot_id, backend=backend)
    try:
        counts = load_rows(engine, snap, snapshot_id, progress)
        if backend == "postgresql":
            from sqlalchemy import text

            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                for table in ROW_TABLES:
                    connection.execute(text(f"ANALYZE {quote_ident(table.name)}"))
        _switch(engine, snapshot_id, counts)
    except BaseException as exc:
        log.error(
            "snapshot load failed; the previous snapshot stays served",
            snapshot=snap.ref,
            snapshot_id=snapshot_id,
            error=str(exc)[:500],
        )
        with contextlib.suppress(Exception):
            _delete_rows(engine, snapshot_id)
            _mark_failed(engine, snapshot_id, f"{type(exc).__name__}: {exc}")
        if isinstance(exc, SnapshotLoadError | KeyboardInterrupt | SystemExit):
            raise
        if not isinstance(exc, Exception):
            raise
        raise SnapshotLoadError(f"snapshot {snap.ref} could not be loaded: {exc}") from exc
    for older in same:  # a forced (or changed) reload replaces the earlier copy of the same ref
        _delete_rows(engine, older.id)
        with engine.begin() as connection:
            connection.execute(delete(SNAPSHOT).where(SNAPSHOT.c.id == older.id))
    seconds = time.perf_counter() - start
    log.info(
        "snapshot loaded and served",
        snapshot=snap.ref,
        snapshot_id=snapshot_id,
        seconds=round(seconds, 2),
        **counts,
    )
    return LoadResult(snap.ref, snapshot_id, "loaded", counts, seconds, backend)


# -- the cycle's publish hook --------------------------------------------------------------------------------
def load_after_publish(data_dir: Path, ref: str) -> dict[str, Any] | None:
    """Load a just-published snapshot when a serving database is configured; never raises.

    A failed load is logged as an error and reported in the returned summary; the snapshot stays
    published (the files are the record; ``dtsen serve load`` can retry).
    """
    from dtsen.config import get_settings

    url = get_settings().database_url
    if not url:
        return None
    try:
        result = load_snapshot(url, data_dir, ref)
    except Exception as exc:  # the publish must not be undone by a serving problem
        log.error(
            "published snapshot could not be loaded into the serving database",
            snapshot=ref,
            error=str(exc)[:500],
        )
        return {"status": "failed", "error": str(exc)[:500]}
    return {
        "status": result.status,
        "snapshot_id": result.snapshot_id,
        "seconds": round(result.seconds, 2),
        "counts": result.counts,
    }


def prune_snapshots(url_or_engine: str | URL | Engine | None, keep: int) -> list[str]:
    """Delete served snapshots beyond the newest ``keep`` ready ones (never the current one) and the
    leftovers of failed loads; returns the refs removed. A family's history then starts later."""
    if keep < 1:
        raise ValueError("keep at least one snapshot")
    engine, owned = _engine_for(url_or_engine)
    try:
        with _loader_lock(engine):
            with engine.connect() as connection:
                rows = connection.execute(
                    select(SNAPSHOT.c.id, SNAPSHOT.c.ref, SNAPSHOT.c.status, SNAPSHOT.c.is_current).order_by(
                        SNAPSHOT.c.periode.desc(), SNAPSHOT.c.versi.desc(), SNAPSHOT.c.id.desc()
                    )
                ).all()
            ready = [r for r in rows if r.status == "ready"]
            kept = {r.id for r in ready[:keep]} | {r.id for r in rows if r.is_current}
            doomed = [r for r in rows if r.id not in kept and r.status != "loading"]
            for row in doomed:
                _delete_rows(engine, row.id)
                with engine.begin() as connection:
                    connection.execute(delete(SNAPSHOT).where(SNAPSHOT.c.id == row.id))
                log.info("served snapshot pruned", snapshot=row.ref, snapshot_id=row.id, status=row.status)
            return [f"{r.ref} ({r.status})" if r.status != "ready" else r.ref for r in doomed]
    finally:
        if owned:
            engine.dispose()
