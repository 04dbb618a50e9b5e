"""Load a published snapshot into the serving database beside the served one, then switch in one transaction.

* **Checked first.** The snapshot's files are re-read against its manifest (:func:`dtsen.cycle.snapshot.verify`)
  before a row is written; a changed or missing file refuses the load.
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
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Engine, Table, delete, select, update
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError

from dtsen.logs import get_logger
from dtsen.sql import quote_literal
from dtsen.store.served import (
    FAMILY_HOUSING_COLUMNS,
    ServedEligibility,
    ServedFamily,
    ServedPerson,
    ServedProvenance,
    ServedProvenancePola,
    ServedSnapshot,
)

if TYPE_CHECKING:
    import duckdb

    from dtsen.cycle.snapshot import Snapshot

log = get_logger(__name__)

Progress = Callable[[str, int, int], None]  # (table, rows written so far, rows expected)

SNAPSHOT = cast(Table, ServedSnapshot.__table__)
FAMILY = cast(Table, ServedFamily.__table__)
PERSON = cast(Table, ServedPerson.__table__)
ELIGIBILITY = cast(Table, ServedEligibility.__table__)
PROVENANCE = cast(Table, ServedProvenance.__table__)
PROVENANCE_POLA = cast(Table, ServedProvenancePola.__table__)
#: Row tables in load order; deleting a snapshot's rows goes through all of them.
ROW_TABLES = (FAMILY, PERSON, ELIGIBILITY, PROVENANCE_POLA, PROVENANCE)
REQUIRED_FILES = ("families.parquet", "persons.parquet", "scores.parquet", "eligibility.parquet")
REGION_COLUMNS = ("kode_prov", "kode_kab", "kode_kec", "kode_desa")
#: Person columns kept as columns; the snapshot's other person columns go into ``atribut``.
PERSON_COLUMNS = frozenset(c.name for c in PERSON.columns) - {"snapshot_id", "nama_norm", "atribut"}
#: Family columns kept as columns (families.parquet side); the others go into ``atribut``.
FAMILY_COLUMNS = frozenset(
    ("id_keluarga_dtsen", "no_kk", "id_kepala", "jumlah_anggota", "alamat", "rt", "rw", "perkotaan",
     "konflik", *FAMILY_HOUSING_COLUMNS, *REGION_COLUMNS)
)  # fmt: skip
SCORE_COLUMNS = (
    "skor", "perkiraan_pengeluaran", "batas_bawah", "batas_atas", "peringkat", "desil_nasional",
    "desil_provinsi", "desil_kabkota", "p_desil_le4", "p_desil_le5", "borderline", "versi_model",
    "status_peringkat", "alasan_tidak_diperingkat", "model_peringkat",
)  # fmt: skip
BATCH_ROWS = 50_000
PG_LOCK_KEY = 0x647473656E_01  # "dtsen" + 1: pg_advisory_lock key of the served-snapshot loader


class SnapshotLoadError(RuntimeError):
    """A snapshot that could not be loaded; the previously served snapshot is still current."""


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


# -- the rows, shaped in DuckDB -------------------------------------------------------------------------
def _columns(con: duckdb.DuckDBPyConnection, path: Path) -> list[str]:
    return [row[0] for row in con.execute("DESCRIBE SELECT * FROM read_parquet(?)", [str(path)]).fetchall()]


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _json_object(alias: str, columns: list[str]) -> str:
    """A JSON object text of the given columns, null values left out (concat_ws skips NULLs)."""
    if not columns:
        return "NULL"
    parts = ", ".join(
        f"CASE WHEN {alias}.{_q(c)} IS NOT NULL THEN '{json.dumps(c)}:' || to_json({alias}.{_q(c)}) END"
        for c in columns
    )
    return f"'{{' || concat_ws(',', {parts}) || '}}'"


def _select(table: Table, expressions: dict[str, str]) -> str:
    """The SELECT list producing ``table``'s columns in order; columns the snapshot lacks are NULL."""
    return ", ".join(f"{expressions.get(c.name, 'NULL')} AS {_q(c.name)}" for c in table.columns)


@dataclass
class _Source:
    """The snapshot's tables as DuckDB views, and the SELECT statement of each served table."""

    snap: Snapshot
    con: duckdb.DuckDBPyConnection
    snapshot_id: int
    sqlite: bool
    expected: dict[str, int] = field(default_factory=dict)

    def view(self, name: str, file: str) -> list[str]:
        path = self.snap.file(file)
        sql = f"CREATE OR REPLACE VIEW {name} AS SELECT * FROM read_parquet({quote_literal(path)})"  # noqa: S608
        self.con.execute(sql)
        return _columns(self.con, path)

    def _date(self, expr: str) -> str:
        # sqlite3 has no date adapter worth using (deprecated); SQLAlchemy's Date reads ISO text back.
        return f"CAST({expr} AS VARCHAR)" if self.sqlite else expr

    def families(self) -> str:
        fam = self.view("src_families", "families.parquet")
        score = set(self.view("src_scores", "scores.parquet"))
        exprs = {"snapshot_id": str(self.snapshot_id)}
        for column in FAMILY_COLUMNS & set(fam):
            exprs[column] = f"f.{_q(column)}"
        if "konflik" in fam:
            exprs["konflik"] = "CAST(to_json(f.konflik) AS VARCHAR)"
        for column in SCORE_COLUMNS:
            if column in score:
                exprs[column] = f"s.{_q(column)}"
        if "penjelasan" in score:
            exprs["penjelasan"] = "CAST(to_json(s.penjelasan) AS VARCHAR)"
        exprs["atribut"] = _json_object("f", [c for c in fam if c not in FAMILY_COLUMNS])
        return (
            f"SELECT {_select(FAMILY, exprs)} FROM src_families f "  # noqa: S608
            "LEFT JOIN src_scores s USING (id_keluarga_dtsen)"
        )

    def persons(self) -> str:
        cols = self.view("src_persons", "persons.parquet")
        exprs = {"snapshot_id": str(self.snapshot_id)}
        for column in PERSON_COLUMNS & set(cols):
            exprs[column] = f"p.{_q(column)}"
        if "tanggal_lahir" in cols:
            exprs["tanggal_lahir"] = self._date("p.tanggal_lahir")
        if "sumber_data" in cols:
            exprs["sumber_data"] = "CAST(to_json(p.sumber_data) AS VARCHAR)"
        exprs["nama_norm"] = "p._n"
        exprs["atribut"] = _json_object("p", [c for c in cols if c not in PERSON_COLUMNS])
        named = "SELECT *, upper(nama) AS _n FROM src_persons"
        for step in name_norm_steps():
            named = f"SELECT * REPLACE ({step} AS _n) FROM ({named})"  # noqa: S608
        return f"SELECT {_select(PERSON, exprs)} FROM ({named}) p"  # noqa: S608

    def eligibility(self) -> str:
        cols = self.view("src_eligibility", "eligibility.parquet")
        exprs = {"snapshot_id": str(self.snapshot_id)}
        for column in ("id_keluarga_dtsen", "program", "layak", "jumlah_penerima", "nilai_tahunan"):
            if column in cols:
                exprs[column] = f"e.{_q(column)}"
        if "alasan" in cols:
            exprs["alasan"] = "CAST(to_json(e.alasan) AS VARCHAR)"
        # the family's four codes (eligibility.parquet has province and kab/kota only)
        for column in REGION_COLUMNS:
            exprs[column] = f"coalesce(f.{column}, e.{column})" if column in cols else f"f.{column}"
        return (
            f"SELECT {_select(ELIGIBILITY, exprs)} FROM src_eligibility e "  # noqa: S608
            "LEFT JOIN src_families f USING (id_keluarga_dtsen)"
        )

    def prepare_provenance(self) -> bool:
        """Compact provenance.parquet into per-entity pattern ids and the distinct maps (DuckDB tables)."""
        if not self.snap.has("provenance.parquet"):
            return False
        self.view("src_provenance", "provenance.parquet")
        # An entity's pattern is the set of its (atribut, sumber, batch_id, tanggal_data) rows; XOR of the
        # rows' 64-bit hashes identifies the set (attributes are unique per entity) without sorting 57 M rows.
        self.con.execute(
            "CREATE OR REPLACE TEMP TABLE prov_entity AS SELECT entitas, id, "
            "bit_xor(hash(atribut, sumber, batch_id, tanggal_data)) AS h "
            "FROM src_provenance GROUP BY entitas, id"
        )
        self.con.execute(
            "CREATE OR REPLACE TEMP TABLE prov_pola AS SELECT h, "
            "CAST(row_number() OVER (ORDER BY h) AS INTEGER) AS pola, min(entitas) AS entitas, "
            "arg_min(id, entitas || id) AS id FROM prov_entity GROUP BY h"
        )
        # min(entitas) with arg_min over entitas||id picks one representative entity of each pattern
        self.con.execute(
            "CREATE OR REPLACE TEMP TABLE prov_pola_map AS SELECT r.pola, "
            "CAST(json_group_object(p.atribut, json_object('sumber', p.sumber, 'batch_id', p.batch_id, "
            "'tanggal_data', CAST(p.tanggal_data AS VARCHAR))) AS VARCHAR) AS atribut "
            "FROM prov_pola r JOIN src_provenance p ON p.entitas = r.entitas AND p.id = r.id GROUP BY r.pola"
        )
        return True

    def provenance_pola(self) -> str:
        return f"SELECT {self.snapshot_id} AS snapshot_id, pola, atribut FROM prov_pola_map"  # noqa: S608

    def provenance(self) -> str:
        exprs = {
            "snapshot_id": str(self.snapshot_id),
            "entitas": "e.entitas",
            "id": "e.id",
            "pola": "r.pola",
            **{c: f"coalesce(p.{c}, f.{c})" for c in REGION_COLUMNS},
        }
        return (
            f"SELECT {_select(PROVENANCE, exprs)} FROM prov_entity e JOIN prov_pola r USING (h) "  # noqa: S608
            "LEFT JOIN src_persons p ON e.entitas = 'person' AND p.id_dtsen = e.id "
            "LEFT JOIN src_families f ON e.entitas = 'family' AND f.id_keluarga_dtsen = e.id"
        )


def name_norm_steps() -> list[str]:
    """DuckDB SQL steps of :func:`dtsen.store.registry.normalize_name`, each an expression of ``_n``
    (start: ``upper(nama)``), applied one after another as nested SELECTs (so no step is repeated).

    A snapshot's ``nama`` went through ingestion's name pipeline for most sources, but not every source
    path canonicalises (a civil-registry event's name arrives as written), so the same rules
    (:mod:`dtsen.sources.names`: titles, canonical spellings, old spellings) run again here, in the
    engine, each only where its cheap pre-test matches. Non-ASCII letters are left to the pipeline.
    """
    from dtsen.sources import names as t

    canon = "_n"
    for pattern, repl in t.NAME_CANON:
        canon = f"regexp_replace({canon}, {quote_literal(pattern)}, {quote_literal(repl)}, 'g')"
    old = "_n"
    for before, after in t.NAME_OLD_SPELLING:
        old = f"replace({old}, {quote_literal(before)}, {quote_literal(after)})"
    return [
        f"CASE WHEN regexp_matches(_n, {quote_literal(t.HAS_SUFFIX_HINT)}) "
        f"THEN regexp_replace(_n, {quote_literal(t.SUFFIX_RE)}, '') ELSE _n END",
        "trim(regexp_replace(_n, '\\s+', ' ', 'g'))",
        f"CASE WHEN regexp_matches(_n, {quote_literal(t.HAS_PREFIX_HINT)}) "
        f"THEN regexp_replace(_n, {quote_literal(t.PREFIX_RE)}, '') ELSE _n END",
        "regexp_replace(_n, '[^A-Z'' ]', ' ', 'g')",
        f"CASE WHEN regexp_matches(_n, {quote_literal(t.HAS_CANON_HINT)}) THEN {canon} ELSE _n END",
        old,
        "nullif(trim(regexp_replace(replace(_n, '''', ''), '\\s+', ' ', 'g')), '')",
    ]


# -- writing ----------------------------------------------------------------------------------------------
def _write_postgresql(engine: Engine, table: Table, con: duckdb.DuckDBPyConnection, sql: str,
                      total: int, progress: Progress | None) -> int:  # fmt: skip
    """Stream the rows of ``sql`` into ``table`` as CSV record batches through COPY FROM STDIN, one transaction."""
    import io

    import pyarrow.csv as pacsv
    from psycopg.copy import QueuedLibpqWriter

    columns = ", ".join(_q(c.name) for c in table.columns)
    options = pacsv.WriteOptions(include_header=False, batch_size=BATCH_ROWS)
    written = 0
    raw = engine.raw_connection()
    try:
        with raw.driver_connection.cursor() as cursor:  # type: ignore[union-attr]
            copy_sql = f"COPY {_q(table.name)} ({columns}) FROM STDIN WITH (FORMAT csv)"
            # A queued writer sends from its own thread, so DuckDB shapes the next batch while the server
            # parses this one (with the plain writer each write waited for the server).
            with cursor.copy(copy_sql, writer=QueuedLibpqWriter(cursor)) as copy:
                for batch in con.sql(sql).to_arrow_reader(BATCH_ROWS):
                    buffer = io.BytesIO()
                    pacsv.write_csv(batch, buffer, options)
                    copy.write(buffer.getbuffer())
                    written += batch.num_rows
                    if progress is not None:
                        progress(table.name, written, total)
            rows = cursor.rowcount
        raw.commit()
    except BaseException:
        raw.rollback()
        raise
    finally:
        raw.close()
    return int(rows) if rows is not None and rows >= 0 else written


def _write_sqlite(engine: Engine, table: Table, con: duckdb.DuckDBPyConnection, sql: str,
                  total: int, progress: Progress | None) -> int:  # fmt: skip
    """Insert the rows of ``sql`` into ``table`` with executemany, committing every batch (short write locks)."""
    names = [c.name for c in table.columns]
    insert = (
        f"INSERT INTO {_q(table.name)} ({', '.join(map(_q, names))}) VALUES ({', '.join('?' * len(names))})"  # noqa: S608
    )
    written = 0
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        result = con.execute(sql)
        while True:
            rows = result.fetchmany(BATCH_ROWS)
            if not rows:
                break
            cursor.executemany(insert, rows)
            raw.commit()
            written += len(rows)
            if progress is not None:
                progress(table.name, written, total)
        cursor.close()
    except BaseException:
        raw.rollback()
        raise
    finally:
        raw.close()
    return written


# -- bookkeeping ------------------------------------------------------------------------------------------
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


# -- the load ---------------------------------------------------------------------------------------------
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


def _load_locked(engine: Engine, snap: Snapshot, force: bool, progress: Progress | None,
                 start: float) -> LoadResult:  # fmt: skip
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
        return LoadResult(snap.ref, loaded.id, status, dict(loaded.counts or {}),
                          time.perf_counter() - start, backend)  # fmt: skip

    problems = snapshots.verify(snap)
    if problems:
        raise SnapshotLoadError(
            f"snapshot {snap.ref} does not match its manifest, not loaded: " + "; ".join(problems[:5])
        )
    with engine.begin() as connection:
        snapshot_id = connection.execute(
            SNAPSHOT.insert()
            .values(
                periode=snap.period, versi=snap.version, ref=snap.ref, manifest_sha256=manifest_sha,
                versi_model=snap.manifest.get("model_version"), created_at=_created_at(snap),
                status="loading", is_current=False, programs=_program_names(snap),
            )
            .returning(SNAPSHOT.c.id)
        ).scalar_one()  # fmt: skip
    log.info("loading snapshot", snapshot=snap.ref, snapshot_id=snapshot_id, backend=backend)
    try:
        counts = _load_rows(engine, snap, snapshot_id, progress)
        if backend == "postgresql":
            from sqlalchemy import text

            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                for table in ROW_TABLES:
                    connection.execute(text(f"ANALYZE {_q(table.name)}"))
        _switch(engine, snapshot_id, counts)
    except BaseException as exc:
        log.error("snapshot load failed; the previous snapshot stays served", snapshot=snap.ref,
                  snapshot_id=snapshot_id, error=str(exc)[:500])  # fmt: skip
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
    log.info("snapshot loaded and served", snapshot=snap.ref, snapshot_id=snapshot_id,
             seconds=round(seconds, 2), **counts)  # fmt: skip
    return LoadResult(snap.ref, snapshot_id, "loaded", counts, seconds, backend)


def _parquet_rows(snap: Snapshot, name: str) -> int:
    for entry in snap.manifest.get("files", []):
        if entry["name"] == name and entry.get("rows") is not None:
            return int(entry["rows"])
    import pyarrow.parquet as pq

    return int(pq.ParquetFile(snap.file(name)).metadata.num_rows)


def _load_rows(engine: Engine, snap: Snapshot, snapshot_id: int, progress: Progress | None) -> dict[str, int]:
    """Write every row table; each table's row count must equal its source's, or the load fails."""
    import duckdb

    from dtsen.config import get_settings

    sqlite = engine.dialect.name == "sqlite"
    write = _write_sqlite if sqlite else _write_postgresql
    settings = get_settings()
    con = duckdb.connect(config={"memory_limit": settings.memory_limit})
    if settings.threads:
        con.execute(f"SET threads = {int(settings.threads)}")
    try:
        source = _Source(snap, con, snapshot_id, sqlite)
        plan: list[tuple[Table, str, int]] = [
            (FAMILY, source.families(), _parquet_rows(snap, "families.parquet")),
            (PERSON, source.persons(), _parquet_rows(snap, "persons.parquet")),
            (ELIGIBILITY, source.eligibility(), _parquet_rows(snap, "eligibility.parquet")),
        ]
        counts: dict[str, int] = {}
        for table, sql, expected in plan:
            counts[table.name] = _write_checked(write, engine, table, con, sql, expected, progress)
        if source.prepare_provenance():
            entities = int(con.execute("SELECT count(*) FROM prov_entity").fetchall()[0][0])
            patterns = int(con.execute("SELECT count(*) FROM prov_pola_map").fetchall()[0][0])
            counts[PROVENANCE_POLA.name] = _write_checked(
                write, engine, PROVENANCE_POLA, con, source.provenance_pola(), patterns, progress
            )
            counts[PROVENANCE.name] = _write_checked(
                write, engine, PROVENANCE, con, source.provenance(), entities, progress
            )
            counts["provenance_rows"] = _parquet_rows(snap, "provenance.parquet")
        return counts
    finally:
        con.close()


def _write_checked(write: Callable[..., int], engine: Engine, table: Table, con: duckdb.DuckDBPyConnection,
                   sql: str, expected: int, progress: Progress | None) -> int:  # fmt: skip
    written = write(engine, table, con, sql, expected, progress)
    if written != expected:
        raise SnapshotLoadError(f"{table.name}: {written} rows loaded, the snapshot has {expected}")
    return written


# -- the cycle's publish hook --------------------------------------------------------------------------
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
        log.error("published snapshot could not be loaded into the serving database", snapshot=ref,
                  error=str(exc)[:500])  # fmt: skip
        return {"status": "failed", "error": str(exc)[:500]}
    return {"status": result.status, "snapshot_id": result.snapshot_id, "seconds": round(result.seconds, 2),
            "counts": result.counts}  # fmt: skip


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
