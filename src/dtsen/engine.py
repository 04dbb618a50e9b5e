"""The batch engine layer: one place that knows whether Ibis expressions run on DuckDB or Spark.

:func:`get_engine` returns a :class:`DuckDBEngine` or a :class:`SparkEngine`; both are an :class:`Engine`,
whose methods hold every difference between the backends (writing Parquet, reference tables, string
similarity, the Splink database, tuning). Pipeline code builds Ibis expressions, calls those methods and
never asks which engine it has; nothing else in the batch plane imports pyspark, and DuckDB used as a
local tool rather than as the engine comes from :func:`local_duckdb` or :func:`local_engine`.

Both engines write the same Parquet for the same expression: one file, zstd, the Arrow schema of the
expression with every column nullable (DuckDB would otherwise mark a column NOT NULL when its plan or the
statistics of its input prove it has no nulls, which depends on the data; Spark does the same for
literals). So a table's schema never depends on which engine, or which data, produced it.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import math
import queue
import shutil
import subprocess
import tempfile
import threading
import uuid
import weakref
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import duckdb
import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.parquet as pq

from dtsen.compilers import duckdb_compiler, spark_compiler
from dtsen.config import get_settings

if TYPE_CHECKING:
    from dtsen.config import Settings

COMPRESSION = "zstd"  # of the files dtsen writes (Spark's temporary part files keep its default)
# zstd level 1: the same size as the writer's default level on dtsen's tables, and 30% less CPU on the
# largest (provenance, ~57 M rows at 1 M persons: 13.3 -> 9.3 s)
COMPRESSION_LEVEL = 1
# Spark results computed from at most this many Parquet bytes are collected as Arrow (in memory a few times
# that); larger ones are written by the executors
SPARK_COLLECT_BYTES = 8 << 20
DUCKDB_UNITS = {"bytes": 1, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40, "PiB": 2**50}
BATCH_ROWS = 122_880  # DuckDB vector size x 60: about one Parquet row group
PREFETCH_BATCHES = 4  # batches computed ahead of the Parquet writer (prefetched)
# How far below its threshold a Jaro-Winkler similarity still passes. DuckDB's compiled function rounds
# j + 0.1 n (1 - j) once (a fused multiply-add), a port that rounds twice gives another last bit, so a
# pair exactly at a threshold (N ZULAIKHA / NUR ZULAIKHA: 23/25) was 0.92 on DuckDB and
# 0.9199999999999999 on Spark's SQL port, and 22 of 4.6 M records linked by another method at 1 M
# persons. Spark's UDF now fuses too; the margin keeps any port's ties on the same side. The values are
# fractions whose denominators divide 30 x both lengths x the matches: for names under 100 characters
# one is either equal to a threshold of up to three decimals or 3e-11 or more away from it, so the
# margin decides only exact ties, alike on both engines.
JW_MARGIN = 1e-12
# DuckDB's jaro_winkler_similarity as a Java UDF (src/dtsen/java), compiled on first use: the same value
# to the last bit on both engines, where Splink's jar counts half transpositions as fractions and a SQL
# port of DuckDB's function was 160x slower than a compiled one
SPARK_JW_CLASS = "dtsen.JaroWinkler"
JAVA_SOURCES = Path(__file__).parent / "java"

# Settings for the session dtsen starts itself (local mode: light, small shuffles) ...
SPARK_LOCAL_CONF: dict[str, str] = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
}
# ... and those that decide answers or whether a query fits, set on any session dtsen runs on. ANSI mode
# stays as it is (on in Spark 4): as on DuckDB, a failing CAST is an error and TRY_CAST is the lenient form.
SPARK_SQL_CONF: dict[str, str] = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
    "spark.sql.legacy.sizeOfNull": "false",  # size(NULL) is NULL, as on DuckDB
    # A broadcast join collects its build side into the driver, which must never hold a national table.
    # The planner sizes a Parquet scan by its file bytes (x this factor, default 1), but dtsen's zstd
    # Parquet holds 14-30x fewer bytes than its rows in memory (540x for provenance): at 1 M persons the
    # golden persons query broadcast work/order.parquet (4.6 M rows in a 9.2 MB file, under the 10 MB
    # threshold) and failed on the 4 GB driver. Scaled by 20, only what is really a few MB in memory is
    # broadcast (reference tables, cached in memory, are sized by their rows and still are); at run time
    # adaptive execution sizes shuffled sides by their actual row bytes against the same 10 MB.
    "spark.sql.sources.fileCompressionFactor": "20",
}


def nullable_schema(schema: pa.Schema) -> pa.Schema:
    """``schema`` with every field (and every list item) nullable."""
    return pa.schema([_nullable(f) for f in schema], metadata=schema.metadata)


def _nullable(f: pa.Field) -> pa.Field:
    t = f.type
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        item = _nullable(t.value_field)
        t = pa.list_(item) if pa.types.is_list(t) else pa.large_list(item)
    elif pa.types.is_struct(t):
        t = pa.struct([_nullable(c) for c in t])
    return f.with_type(t).with_nullable(True)


class Engine(ABC):
    """One batch backend. A subclass per backend owns every difference between them (how a result reaches
    Parquet, reference tables, string similarity, the Splink database, tuning); pipeline code calls these
    methods and never asks which engine it has. ``name`` is for manifests, logs and reports only."""

    name: ClassVar[str]

    def __init__(self, con: Any) -> None:
        self.con = con  # the Ibis backend

    @classmethod
    @abstractmethod
    def connect(cls, settings: Settings) -> Engine:
        """A new engine configured by ``settings``."""

    @classmethod
    def sources_at_once(cls, requested: int) -> int:
        """How many source batches to ingest side by side when ``requested`` are asked for."""
        return requested

    def read_parquet(self, path: Path | str) -> ir.Table:
        return self.con.read_parquet(str(path))

    @abstractmethod
    def memtable(self, table: pa.Table) -> ir.Table:
        """A small reference table usable in expressions of this engine."""

    def write_parquet(self, expr: ir.Table, path: Path) -> int:
        """Write ``expr`` to one Parquet file; returns the row count. The engine yields Arrow batches
        (:meth:`_batches`); one Python-side writer gives both engines the same file."""
        return self.write_parquet_parts([expr], path)

    def write_parquet_parts(self, exprs: list[ir.Table], path: Path) -> int:
        """Write ``exprs`` one after the other into one Parquet file (schema of the first; each keeps
        its own order, which a UNION ALL need not do on every engine); returns the row count."""
        path = Path(path)
        schema = nullable_schema(exprs[0].schema().to_pyarrow())
        batches = itertools.chain.from_iterable(self._batches(e, path) for e in exprs)
        return _write_batches(prefetched(batches), path, schema)

    @abstractmethod
    def _batches(self, expr: ir.Table, path: Path) -> Iterator[pa.RecordBatch]:
        """The rows of ``expr`` as Arrow batches (``path``: where the result goes, for scratch files)."""

    def write_work_parquet(self, expr: ir.Table, path: Path) -> None:
        """A work table only its writer reads back: the fastest way this engine has to Parquet, with
        no promise about the file's schema beyond the expression's column names."""
        self.write_parquet(expr, path)

    @abstractmethod
    def keep_in_lists(self) -> None:
        """From now on, compare values with IN lists of constants as written (ingest's conform pass
        projects a hundred of them: code lists, yes/no spellings)."""

    @abstractmethod
    def jaro_winkler(self, a: ir.StringValue, b: ir.StringValue) -> ir.FloatingValue:
        """Jaro-Winkler similarity (1 = equal); null when either side is null."""

    def jaro_winkler_at_least(
        self, a: ir.StringValue, b: ir.StringValue, threshold: float
    ) -> ir.BooleanValue:
        """Whether ``a`` and ``b`` are at least ``threshold`` similar, a value at the threshold passing on
        every engine whatever its last bit (:data:`JW_MARGIN`); null when either side is null."""
        return self.jaro_winkler(a, b) >= threshold - JW_MARGIN

    @abstractmethod
    def splink_api(self, views: Mapping[str, Path], tables: Mapping[str, str]) -> AbstractContextManager[Any]:
        """A Splink database API on this engine (a context manager) holding each Parquet file of
        ``views`` under its name, then each table of ``tables`` (name -> a SELECT both dialects read)
        in order."""

    def query_memory(self) -> int | None:
        """Bytes one query may hold in operators that do not spill (DuckDB's window); None when the
        engine spills whatever it holds (Spark), so callers need not split their queries."""
        return None

    def to_pyarrow(self, expr: ir.Expr) -> Any:
        return self.con.to_pyarrow(expr)

    def execute(self, expr: ir.Expr) -> Any:
        return self.con.execute(expr)


@ibis.udf.scalar.builtin(name="jaro_winkler_similarity")
def _jw_duckdb(a: str, b: str) -> float:  # type: ignore[empty-body]
    """DuckDB's jaro_winkler_similarity."""


@ibis.udf.scalar.builtin(name="dtsen_jaro_winkler")
def _jw_spark(a: str, b: str) -> float:  # type: ignore[empty-body]
    """DuckDB's Jaro-Winkler on Spark (:data:`SPARK_JW_CLASS`)."""


class DuckDBEngine(Engine):
    """DuckDB in this process: results stream out as Arrow batches."""

    name = "duckdb"

    def __init__(self, con: Any, memory_limit: str | None = None, threads: int | None = None) -> None:
        super().__init__(con)
        self.memory_limit = memory_limit
        self.threads = threads

    @classmethod
    def connect(cls, settings: Settings) -> DuckDBEngine:
        config: dict[str, Any] = {"memory_limit": settings.memory_limit}
        if settings.threads:
            config["threads"] = settings.threads
        con = ibis.duckdb.connect(**config)
        con.compiler = duckdb_compiler()
        return cls(con, settings.memory_limit, settings.threads or None)

    def memtable(self, table: pa.Table) -> ir.Table:
        return ibis.memtable(table)

    def query_memory(self) -> int:
        """DuckDB's memory_limit as it applies it (e.g. "8GB" is 7.4 GiB)."""
        value, unit = self.con.con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0].split()
        return int(float(value) * DUCKDB_UNITS[unit])

    def _batches(self, expr: ir.Table, path: Path) -> Iterator[pa.RecordBatch]:
        # ibis 12's to_pyarrow_batches calls a cursor method DuckDB 2 no longer has: stream the relation
        self.con._run_pre_execute_hooks(expr)
        relation = self.con.con.sql(self.con.compile(expr))
        reader = getattr(relation, "to_arrow_reader", None) or relation.fetch_arrow_reader  # DuckDB < 1.4
        yield from reader(BATCH_ROWS)

    def write_work_parquet(self, expr: ir.Table, path: Path) -> None:
        """DuckDB's own parallel Parquet writer: a fifth of the CPU of streaming Arrow batches to a
        Python-side writer."""
        self.con.to_parquet(expr, path, compression="snappy")  # read back once, soon: the cheaper codec

    def keep_in_lists(self) -> None:
        """DuckDB turns every IN list of 5+ constants into a hash join; with a hundred of them in one
        projection the joins cost more than the comparisons they replace."""
        self.con.raw_sql("SET disabled_optimizers = 'in_clause'")

    def jaro_winkler(self, a: ir.StringValue, b: ir.StringValue) -> ir.FloatingValue:
        return _jw_duckdb(a, b)

    @contextmanager
    def splink_api(self, views: Mapping[str, Path], tables: Mapping[str, str]) -> Iterator[Any]:
        """Splink on a connection of its own (with this engine's memory limit and threads), so its
        tables never meet the pipeline's; the tables are materialised, as Splink reads them many times."""
        from splink import DuckDBAPI

        con = local_duckdb(memory_limit=self.memory_limit, threads=self.threads)
        try:
            for name, path in views.items():
                con.read_parquet(str(path)).create_view(name)
            for name, sql in tables.items():
                con.execute(f"CREATE TABLE {name} AS {sql}")
            yield DuckDBAPI(connection=con)
        finally:
            con.close()


class SparkEngine(Engine):
    """Spark: results are written by the executors (or collected as Arrow when small); reference tables
    are cached temporary views; similarity functions come from Splink's jar."""

    name = "spark"

    def __init__(self, con: Any, session: Any) -> None:
        super().__init__(con)
        self.session = session  # the SparkSession the Ibis backend runs on
        self._input_bytes: dict[str, int] = {}  # table -> Parquet bytes it reads

    @classmethod
    def connect(cls, settings: Settings) -> SparkEngine:
        session = spark_session(settings.spark_master)
        for key, value in SPARK_SQL_CONF.items():  # also on a session that existed before ours
            session.conf.set(key, value)
        con = ibis.pyspark.connect(session)
        con.compiler = spark_compiler()
        return cls(con, session)

    @classmethod
    def sources_at_once(cls, requested: int) -> int:
        """One: Spark schedules its own cores across a source's queries."""
        return 1

    def keep_in_lists(self) -> None:
        """Nothing to do: Spark never turns an IN list into a join."""

    def read_parquet(self, path: Path | str) -> ir.Table:
        table = super().read_parquet(path)
        files = [Path(path)] if Path(path).is_file() else Path(path).rglob("*.parquet")
        self._input_bytes[table.get_name()] = sum(f.stat().st_size for f in files)
        return table

    def memtable(self, table: pa.Table) -> ir.Table:
        """A cached temporary view, once per session and content (every ingest asks for the same region
        codes)."""
        views = _SPARK_VIEWS.setdefault(self.session, {})
        key = _fingerprint(table)
        if key not in views or not self.session.catalog.tableExists(views[key]):
            name = f"dtsen_ref_{key[:24]}"
            self.session.createDataFrame(table).cache().createOrReplaceTempView(name)
            views[key] = name
        return self.con.table(views[key])

    def _batches(self, expr: ir.Table, path: Path) -> Iterator[pa.RecordBatch]:
        """The executors write their part files in parallel (nothing is collected on the driver), then
        their row groups are read one at a time; a result computed from under ``SPARK_COLLECT_BYTES``
        of Parquet is collected as Arrow instead."""
        self.con._run_pre_execute_hooks(expr)
        df = self.session.sql(self.con.compile(expr))
        if self._input_size(expr) <= SPARK_COLLECT_BYTES:  # one Arrow collect beats a distributed write
            yield from df.toArrow().to_batches()
            return
        parts_dir = path.with_name(f".{path.name}.parts-{uuid.uuid4().hex[:8]}")
        try:
            df.write.parquet(str(parts_dir))
            yield from _row_groups(sorted(parts_dir.glob("part-*.parquet")))
        finally:
            shutil.rmtree(parts_dir, ignore_errors=True)

    def _input_size(self, expr: ir.Table) -> float:
        """Parquet bytes ``expr`` reads (reference tables count as small; any other table as large); a
        query that unnests counts as large whatever it reads: it multiplies rows (family provenance is
        ~43 rows per family, 14 M rows from a 5 MB file at 1 M persons, and collecting them filled the
        4 GB driver)."""
        from ibis.expr import operations as ops

        if expr.op().find((ops.Unnest, ops.TableUnnest)):
            return math.inf
        views = set(_SPARK_VIEWS.get(self.session, {}).values())
        total = 0.0
        for leaf in expr.op().find((ops.DatabaseTable, ops.InMemoryTable)):
            if leaf.name in views:
                continue
            total += self._input_bytes.get(leaf.name, math.inf)
        return total

    def jaro_winkler(self, a: ir.StringValue, b: ir.StringValue) -> ir.FloatingValue:
        """DuckDB's Jaro-Winkler as dtsen's Java UDF (:data:`SPARK_JW_CLASS`)."""
        self._similarity_udfs()
        return _jw_spark(a, b)

    @contextmanager
    def splink_api(self, views: Mapping[str, Path], tables: Mapping[str, str]) -> Iterator[Any]:
        """Splink on this session: temporary views, the checkpoint directory Splink needs before
        predicting, and DuckDB's Jaro-Winkler in place of the one Splink registers from its jar."""
        from splink import SparkAPI

        self._similarity_udfs()
        context = self.session.sparkContext
        if not context.getCheckpointDir():
            context.setCheckpointDir(tempfile.mkdtemp(prefix="dtsen-spark-ckpt-", dir=work_dir()))
        for name, path in views.items():
            self.session.read.parquet(str(path)).createOrReplaceTempView(name)
        for name, sql in tables.items():
            self.session.sql(sql).createOrReplaceTempView(name)
        api = SparkAPI(spark_session=self.session)  # registers every function of Splink's jar
        self._register_jaro_winkler("jaro_winkler")
        yield api

    def _similarity_udfs(self) -> None:
        """Splink's similarity jar (its other functions) and dtsen's (:func:`udf_jar`) on the session, with
        DuckDB's Jaro-Winkler under dtsen's name. Once per session."""
        if self.session in _SPARK_JAR_READY:
            return
        from splink.backends.spark import similarity_jar_location

        jars = self.session.conf.get("spark.jars", "") or ""
        for jar in (similarity_jar_location(), str(udf_jar())):
            if jar not in jars:
                self.session.sql(f"ADD JAR '{jar}'")
        self._register_jaro_winkler("dtsen_jaro_winkler")
        _SPARK_JAR_READY.add(self.session)

    def _register_jaro_winkler(self, name: str) -> None:
        from pyspark.sql.types import DoubleType

        self.session.udf.registerJavaFunction(name, SPARK_JW_CLASS, DoubleType())


def udf_jar() -> Path:
    """dtsen's Java UDFs compiled into a jar, once per source version (in the temp dir: the driver ships it
    to the executors). Needs a JDK's ``javac`` and ``jar`` beside the JVM Spark runs on."""
    sources = sorted(JAVA_SOURCES.glob("*.java"))
    digest = hashlib.sha256(b"".join(f.read_bytes() for f in sources)).hexdigest()[:12]
    jar = Path(tempfile.gettempdir()) / f"dtsen-udf-{digest}.jar"
    if jar.exists():
        return jar
    import pyspark

    tools = {t: shutil.which(t) for t in ("javac", "jar")}
    if not all(tools.values()):
        raise RuntimeError("dtsen on Spark compiles its similarity function: a JDK's javac and jar not found")
    classpath = str(Path(pyspark.__file__).parent / "jars" / "*")
    with tempfile.TemporaryDirectory(prefix="dtsen-javac-") as tmp:
        classes, staged = Path(tmp) / "classes", Path(tmp) / "udf.jar"
        compile_ = [tools["javac"], "-nowarn", "--release", "17", "-cp", classpath, "-d", str(classes)]
        subprocess.run([*compile_, *map(str, sources)], check=True, capture_output=True)  # noqa: S603 - no shell
        package = [tools["jar"], "cf", str(staged), "-C", str(classes), "."]
        subprocess.run(package, check=True, capture_output=True)  # noqa: S603 - no shell
        staged_beside = jar.with_name(f".{jar.name}.{uuid.uuid4().hex}")
        shutil.copyfile(staged, staged_beside)
        staged_beside.replace(jar)  # atomic: a concurrent process sees no jar or a whole one
    return jar


_SPARK_VIEWS: weakref.WeakKeyDictionary[Any, dict[str, str]] = weakref.WeakKeyDictionary()
_SPARK_JAR_READY: weakref.WeakSet[Any] = weakref.WeakSet()


def _fingerprint(table: pa.Table) -> str:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return hashlib.sha256(sink.getvalue()).hexdigest()


def append_parquet(base: Path, extra: pa.Table, out: Path) -> int:
    """``base`` followed by the rows of ``extra`` as one file ``out``; returns the row count.

    Streamed one row group at a time, so a large table (provenance: ~57 M rows at 1 M persons) that a
    step extends by a few rows is never held in memory; with nothing to add the file is copied."""
    if not extra.num_rows:
        shutil.copyfile(base, out)
        return int(pq.ParquetFile(base).metadata.num_rows)
    schema = pq.read_schema(base)
    tail = extra.select(schema.names).to_batches(max_chunksize=BATCH_ROWS)
    return _write_batches(itertools.chain(_row_groups([base]), tail), out, schema)


def prefetched(batches: Iterator[pa.RecordBatch], depth: int = PREFETCH_BATCHES) -> Iterator[pa.RecordBatch]:
    """``batches``, produced by a thread of their own up to ``depth`` ahead of the caller. The engine
    computes the next batches while this thread encodes and compresses the last one into Parquet (both
    release the GIL): the Python-side writer is single-threaded, and without this the engine waits for
    it between batches (about a third of the wall time of a large write). An error in the producer is
    raised here; a consumer that stops early stops the producer."""
    slots: queue.Queue[Any] = queue.Queue(depth)
    stop = threading.Event()
    done = object()

    def offer(item: Any) -> bool:
        while not stop.is_set():
            try:
                slots.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for batch in batches:
                if not offer(batch):
                    return
        except BaseException as exc:  # handed to the consumer, raised there
            offer(exc)
            return
        offer(done)

    worker = threading.Thread(target=produce, name="dtsen-batches", daemon=True)
    worker.start()
    try:
        while True:
            item = slots.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        worker.join()


def _row_groups(parts: list[Path]) -> Any:
    for part in parts:
        pf = pq.ParquetFile(part)
        for i in range(pf.num_row_groups):
            yield from pf.read_row_group(i).to_batches()


def _write_batches(batches: Any, path: Path, schema: pa.Schema) -> int:
    rows = 0
    with pq.ParquetWriter(
        path, schema, compression=COMPRESSION, compression_level=COMPRESSION_LEVEL
    ) as writer:
        for batch in batches:
            if batch.num_rows:
                writer.write_batch(_conform_batch(batch, schema))
                rows += batch.num_rows
    return rows


def _conform_batch(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    if batch.schema.equals(schema):
        return batch
    if batch.schema.names != schema.names:
        raise ValueError(f"engine returned columns {batch.schema.names}, expected {schema.names}")
    return pa.RecordBatch.from_arrays(
        [col.cast(f.type) for col, f in zip(batch.columns, schema, strict=True)], schema=schema
    )


@cache
def spark_session(master: str = "local[2]", java_options: str | None = None) -> Any:
    """One Spark session per process (start-up costs ~10-20 s); ``java_options`` for the driver JVM
    count only when this call starts it (tests use C1-only JIT, which warms up twice as fast)."""
    from pyspark.sql import SparkSession

    settings = get_settings()
    builder = SparkSession.builder.master(master).appName("dtsen")
    builder = builder.config("spark.sql.shuffle.partitions", str(settings.spark_shuffle_partitions))
    for key, value in {**SPARK_LOCAL_CONF, **SPARK_SQL_CONF}.items():
        builder = builder.config(key, value)
    if java_options:
        builder = builder.config("spark.driver.extraJavaOptions", java_options)
    session = (
        builder.config("spark.driver.memory", settings.spark_driver_memory)
        .config("spark.local.dir", tempfile.gettempdir())
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    # pyspark logs every failed query with its Java stack; the exception raised says the same
    logging.getLogger("SQLQueryContextLogger").setLevel(logging.CRITICAL)
    return session


ENGINES: dict[str, type[Engine]] = {"duckdb": DuckDBEngine, "spark": SparkEngine}


def engine_class(name: str | None = None) -> type[Engine]:
    """The engine class called ``name`` (default: the configured engine)."""
    name = name or get_settings().engine
    try:
        return ENGINES[name]
    except KeyError:
        raise ValueError(f"unknown engine {name!r} ({' or '.join(ENGINES)})") from None


def get_engine(name: str | None = None) -> Engine:
    """A new engine called ``name`` (default: the configured engine)."""
    return engine_class(name).connect(get_settings())


def work_dir() -> Path | None:
    """Where engine work tables go that a step reads back (``work_dir`` setting, made on first use);
    None is the system temp dir, which a cluster's executors cannot reach."""
    path = get_settings().work_dir
    if path is not None:
        path.mkdir(parents=True, exist_ok=True)
    return path


def local_engine() -> DuckDBEngine:
    """DuckDB in this process, whatever the configured engine, for a small frame that already lives in
    driver memory (a survey of a few thousand households, the few loose records of consolidation):
    shipping it to a Spark cluster would cost more than the computation."""
    return DuckDBEngine.connect(get_settings())


def local_duckdb(*, memory_limit: str | None = None, threads: int | None = None) -> duckdb.DuckDBPyConnection:
    """A plain DuckDB connection in this process, whatever the configured engine, for work that is
    DuckDB by design rather than a pipeline transform: staging a source file (DuckDB's CSV reader,
    line by line), deduplicating and counting staged files, training Splink on a sample (one thread for
    bit-identical parameters), small aggregates over local Parquet files. ``memory_limit`` and
    ``threads`` default to DuckDB's own (80% of RAM, every core)."""
    config: dict[str, Any] = {}
    if memory_limit:
        config["memory_limit"] = memory_limit
    if threads:
        config["threads"] = threads
    return duckdb.connect(config=config)
