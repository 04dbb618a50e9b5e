"""The served row tables of one snapshot, in bulk: DuckDB reads the Parquet files and shapes the rows (JSON
columns, the ``atribut`` object, the compacted provenance); PostgreSQL receives them as CSV record batches
through ``COPY ... FROM STDIN`` (psycopg), SQLite through ``executemany`` in batches. Each table's row count
must equal its source's, or the load fails. :mod:`dtsen.store.snapshot_load` does the bookkeeping around it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, cast

from sqlalchemy import Engine, Table

from dtsen.sql import quote_ident, quote_literal
from dtsen.store.served import (
    FAMILY_HOUSING_COLUMNS,
    ServedEligibility,
    ServedFamily,
    ServedPerson,
    ServedProvenance,
    ServedProvenancePola,
)

if TYPE_CHECKING:
    import duckdb

    from dtsen.cycle.snapshot import Snapshot


Progress = Callable[[str, int, int], None]  # (table, rows written so far, rows expected)
FAMILY = cast(Table, ServedFamily.__table__)
PERSON = cast(Table, ServedPerson.__table__)
ELIGIBILITY = cast(Table, ServedEligibility.__table__)
PROVENANCE = cast(Table, ServedProvenance.__table__)
PROVENANCE_POLA = cast(Table, ServedProvenancePola.__table__)


#: Row tables in load order; deleting a snapshot's rows goes through all of them.
ROW_TABLES = (FAMILY, PERSON, ELIGIBILITY, PROVENANCE_POLA, PROVENANCE)
REGION_COLUMNS = ("kode_prov", "kode_kab", "kode_kec", "kode_desa")


#: Person columns kept as columns; the snapshot's other person columns go into ``atribut``.
PERSON_COLUMNS = frozenset(c.name for c in PERSON.columns) - {"snapshot_id", "nama_norm", "atribut"}


#: Family columns kept as columns (families.parquet side); the others go into ``atribut``.
FAMILY_COLUMNS = frozenset(
    (
        "id_keluarga_dtsen",
        "no_kk",
        "id_kepala",
        "jumlah_anggota",
        "alamat",
        "rt",
        "rw",
        "perkotaan",
        "konflik",
        *FAMILY_HOUSING_COLUMNS,
        *REGION_COLUMNS,
    )
)

SCORE_COLUMNS = (
    "skor",
    "perkiraan_pengeluaran",
    "batas_bawah",
    "batas_atas",
    "peringkat",
    "desil_nasional",
    "desil_provinsi",
    "desil_kabkota",
    "p_desil_le4",
    "p_desil_le5",
    "borderline",
    "versi_model",
    "status_peringkat",
    "alasan_tidak_diperingkat",
    "model_peringkat",
)

BATCH_ROWS = 50_000


class SnapshotLoadError(RuntimeError):
    """A snapshot that could not be loaded; the previously served snapshot is still current."""


# -- the rows, shaped in DuckDB ------------------------------------------------------------------------------
def _columns(con: duckdb.DuckDBPyConnection, path: Path) -> list[str]:
    return [row[0] for row in con.execute("DESCRIBE SELECT * FROM read_parquet(?)", [str(path)]).fetchall()]


def _json_object(alias: str, columns: list[str]) -> str:
    """A JSON object text of the given columns, null values left out (concat_ws skips NULLs)."""
    if not columns:
        return "NULL"
    parts = ", ".join(
        f"CASE WHEN {alias}.{quote_ident(c)} IS NOT NULL "
        f"THEN '{json.dumps(c)}:' || to_json({alias}.{quote_ident(c)}) END"
        for c in columns
    )
    return f"'{{' || concat_ws(',', {parts}) || '}}'"


def _select(table: Table, expressions: dict[str, str]) -> str:
    """The SELECT list producing ``table``'s columns in order; columns the snapshot lacks are NULL."""
    return ", ".join(f"{expressions.get(c.name, 'NULL')} AS {quote_ident(c.name)}" for c in table.columns)


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
            exprs[column] = f"f.{quote_ident(column)}"
        if "konflik" in fam:
            exprs["konflik"] = "CAST(to_json(f.konflik) AS VARCHAR)"
        for column in SCORE_COLUMNS:
            if column in score:
                exprs[column] = f"s.{quote_ident(column)}"
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
            exprs[column] = f"p.{quote_ident(column)}"
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
                exprs[column] = f"e.{quote_ident(column)}"
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
    """DuckDB SQL steps of :func:`dtsen.store.person_names.normalize_name`, each an expression of ``_n``
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


# -- writing -------------------------------------------------------------------------------------------------
def _write_postgresql(
    engine: Engine,
    table: Table,
    con: duckdb.DuckDBPyConnection,
    sql: str,
    total: int,
    progress: Progress | None,
) -> int:
    """Stream the rows of ``sql`` into ``table`` as CSV record batches through COPY FROM STDIN, in one
    transaction."""
    import io

    import pyarrow.csv as pacsv
    from psycopg.copy import QueuedLibpqWriter

    columns = ", ".join(quote_ident(c.name) for c in table.columns)
    options = pacsv.WriteOptions(include_header=False, batch_size=BATCH_ROWS)
    written = 0
    raw = engine.raw_connection()
    try:
        with raw.driver_connection.cursor() as cursor:  # type: ignore[union-attr]
            copy_sql = f"COPY {quote_ident(table.name)} ({columns}) FROM STDIN WITH (FORMAT csv)"
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


def _write_sqlite(
    engine: Engine,
    table: Table,
    con: duckdb.DuckDBPyConnection,
    sql: str,
    total: int,
    progress: Progress | None,
) -> int:
    """Insert the rows of ``sql`` into ``table`` with executemany, committing every batch (short write
    locks)."""
    names = [c.name for c in table.columns]
    columns = ", ".join(map(quote_ident, names))
    marks = ", ".join("?" * len(names))
    insert = f"INSERT INTO {quote_ident(table.name)} ({columns}) VALUES ({marks})"  # noqa: S608
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


def _parquet_rows(snap: Snapshot, name: str) -> int:
    for entry in snap.manifest.get("files", []):
        if entry["name"] == name and entry.get("rows") is not None:
            return int(entry["rows"])
    import pyarrow.parquet as pq

    return int(pq.ParquetFile(snap.file(name)).metadata.num_rows)


def load_rows(engine: Engine, snap: Snapshot, snapshot_id: int, progress: Progress | None) -> dict[str, int]:
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


def _write_checked(
    write: Callable[..., int],
    engine: Engine,
    table: Table,
    con: duckdb.DuckDBPyConnection,
    sql: str,
    expected: int,
    progress: Progress | None,
) -> int:
    written = write(engine, table, con, sql, expected, progress)
    if written != expected:
        raise SnapshotLoadError(f"{table.name}: {written} rows loaded, the snapshot has {expected}")
    return written
