"""The batch engine layer: one place that knows whether Ibis expressions run on DuckDB or Spark.

Pipeline code builds Ibis expressions and calls :meth:`Engine.read_parquet` / :meth:`Engine.write_parquet`;
nothing else in the batch plane imports duckdb or pyspark for transforms.

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
import re
import shutil
import string
import tempfile
import uuid
import weakref
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.parquet as pq

from dtsen.config import get_settings

COMPRESSION = "zstd"  # of the files dtsen writes (Spark's temporary part files keep its default)
# Spark results computed from at most this many Parquet bytes are collected as Arrow (in memory a few times
# that); larger ones are written by the executors
SPARK_COLLECT_BYTES = 8 << 20
BATCH_ROWS = 122_880  # DuckDB vector size x 60: about one Parquet row group

# Settings for the session dtsen starts itself (local mode: light, small shuffles) ...
SPARK_LOCAL_CONF: dict[str, str] = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.shuffle.partitions": "4",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
}
# ... and those that decide answers, set on any session dtsen runs on. ANSI mode stays as it is (on in
# Spark 4): as on DuckDB, a failing CAST is an error and TRY_CAST is the lenient form.
SPARK_SQL_CONF: dict[str, str] = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
    "spark.sql.legacy.sizeOfNull": "false",  # size(NULL) is NULL, as on DuckDB
}


# -- one regular expression dialect -----------------------------------------------------------------------
# DuckDB runs RE2, Spark runs java.util.regex; pipeline code writes RE2. The Spark compiler below rewrites
# every literal pattern so that Java gives RE2's answer: ``$`` is the end of the text (Java also matches
# before a final line terminator such as U+2028), ``\s`` leaves out the vertical tab, ``\b`` is ASCII, ``.``
# stops only at a newline, ``[[:alpha:]]`` and ``(?P<name>`` exist, ``&&`` in a class is literal, and in
# replacements ``\1`` is a group and ``$`` is a plain character.
_RE2_SPACE = "\\t\\n\\f\\r "  # RE2's \s: no vertical tab
_ASCII_WORD = "[0-9A-Za-z_]"
_OUTSIDE = {
    "s": f"[{_RE2_SPACE}]",
    "S": f"[^{_RE2_SPACE}]",
    "b": f"(?:(?<={_ASCII_WORD})(?!{_ASCII_WORD})|(?<!{_ASCII_WORD})(?={_ASCII_WORD}))",
    "B": f"(?:(?<={_ASCII_WORD})(?={_ASCII_WORD})|(?<!{_ASCII_WORD})(?!{_ASCII_WORD}))",
}
_POSIX = {
    "alnum": "Alnum", "alpha": "Alpha", "ascii": "ASCII", "blank": "Blank", "cntrl": "Cntrl", "digit": "Digit",
    "graph": "Graph", "lower": "Lower", "print": "Print", "punct": "Punct", "space": "Space", "upper": "Upper",
    "xdigit": "XDigit",
}  # fmt: skip
_POSIX_RE = re.compile(r"\[:(\^?)([a-z]+):\]")
_REPEAT_RE = re.compile(r"\{\d+(?:,\d*)?\}")
_FLAGS_RE = re.compile(r"\(\?([imsU]*)(?:-([imsU]*))?[:)]")


def re2_to_java(pattern: str) -> str:
    """An RE2 pattern rewritten for java.util.regex so that both match the same strings."""
    flags = "".join(f for m in _FLAGS_RE.finditer(pattern) for f in m.group(1))
    multiline, dotall = "m" in flags, "s" in flags
    out: list[str] = []
    i, n, in_class = 0, len(pattern), False
    while i < n:
        c = pattern[i]
        if c == "\\" and i + 1 < n:
            i = _escape(pattern, i, in_class, out)
        elif in_class:
            posix = _POSIX_RE.match(pattern, i) if c == "[" else None
            if posix and posix.group(2) in _POSIX:
                out.append(f"\\{'P' if posix.group(1) else 'p'}{{{_POSIX[posix.group(2)]}}}")
                i = posix.end()
                continue
            in_class = c != "]"
            out.append({"[": "\\[", "&": "\\&"}.get(c, c))  # Java: [ is a union, && an intersection
            i += 1
        elif c == "[":
            in_class, i = True, i + 1
            out.append("[^" if pattern.startswith("^", i) else "[")
            i += pattern.startswith("^", i)
            if pattern.startswith("]", i):  # a leading ] is a literal in RE2
                out.append("\\]")
                i += 1
        elif c == "(" and (flag_group := _FLAGS_RE.match(pattern, i)):
            on = flag_group.group(1) + ("u" if "i" in flag_group.group(1) else "")  # Unicode case folding
            off = f"-{flag_group.group(2)}" if flag_group.group(2) is not None else ""
            out.append(f"(?{on}{off}{pattern[flag_group.end() - 1]}")
            i = flag_group.end()
        else:
            if c == "$" and not multiline:
                out.append("\\z")  # Java's $ also matches before a final line terminator
            elif c == "." and not dotall:
                out.append("[^\\n]")  # Java's . also stops at \r, U+0085, U+2028, U+2029
            elif c == "{" and not _REPEAT_RE.match(pattern, i):
                out.append("\\{")  # a literal in RE2, an error in Java
            elif pattern.startswith("(?P<", i):
                out.append("(?<")
                i += 3
            else:
                out.append(c)
            i += 1
    return "".join(out)


def _escape(pattern: str, i: int, in_class: bool, out: list[str]) -> int:
    """Translate the escape at ``pattern[i]`` (a backslash) into ``out``; returns the next index."""
    nxt = pattern[i + 1]
    if nxt == "Q":  # \Q...\E: literal text in both
        end = pattern.find("\\E", i + 2)
        end = len(pattern) if end < 0 else end + 2
        out.append(pattern[i:end])
        return end
    if nxt in "pP" and i + 2 < len(pattern):  # \pL, \p{Greek}: Java wants 'Is' before a script name
        if pattern[i + 2] == "{":
            close = pattern.index("}", i + 3)
            name, end = pattern[i + 3 : close], close + 1
        else:
            name, end = pattern[i + 2], i + 3
        if name.startswith("^"):
            nxt, name = "P" if nxt == "p" else "p", name[1:]
        out.append(f"\\{nxt}{{{name if name.startswith('Is') else 'Is' + name}}}")
        return end
    octal = re.match(r"[1-7][0-7]{0,2}", pattern[i + 1 : i + 4])
    if octal:  # an octal character in RE2, a back reference in Java
        out.append(f"\\0{octal.group()}")
        return i + 1 + octal.end()
    if in_class and nxt == "s":
        out.append(_RE2_SPACE)
    elif not in_class and nxt in _OUTSIDE:
        out.append(_OUTSIDE[nxt])
    else:
        out.append("\\" + nxt)
    return i + 2


def re2_replacement_to_java(replacement: str) -> str:
    """RE2's rewrite string (``\\1`` a group, ``\\\\`` a backslash) as a Java replacement string."""
    out: list[str] = []
    i = 0
    while i < len(replacement):
        c = replacement[i]
        if c == "\\" and i + 1 < len(replacement):
            nxt = replacement[i + 1]
            out.append(f"${nxt}" if nxt.isdigit() else "\\" + nxt)
            i += 2
            continue
        out.append({"$": "\\$", "\\": "\\\\"}.get(c, c))
        i += 1
    return "".join(out)


def _java_literal(text: str) -> str:
    """``text`` as a Java regular expression matching exactly it."""
    return "".join("\\" + c if c in string.punctuation or c == " " else c for c in text)


@cache
def _spark_compiler() -> Any:
    """Ibis' PySpark compiler with DuckDB's semantics where the two differ for pipeline code: RE2
    patterns (see :func:`re2_to_java`), ``split`` on a plain delimiter (Spark's SPLIT takes a regular
    expression) and an array index past the end giving NULL (an error on Spark in ANSI mode)."""
    import sqlglot.expressions as sge
    from ibis.backends.sql.compilers.pyspark import PySparkCompiler
    from ibis.expr import operations as ops

    def literal(node: Any) -> str | None:
        return node.value if isinstance(node, ops.Literal) and isinstance(node.value, str) else None

    class Compiler(PySparkCompiler):  # visit_<Op> is how ibis names its visitors
        def _pattern(self, node: Any, compiled: Any) -> Any:
            value = literal(node)
            return compiled if value is None else sge.convert(re2_to_java(value))

        def visit_RegexSearch(self, op: Any, *, arg: Any, pattern: Any) -> Any:  # noqa: N802
            return sge.paren(self.f.regexp_like(arg, self._pattern(op.pattern, pattern)), copy=False)

        def visit_RegexExtract(self, op: Any, *, arg: Any, pattern: Any, index: Any) -> Any:  # noqa: N802
            return self.f.regexp_extract(arg, self._pattern(op.pattern, pattern), index)

        def visit_RegexSplit(self, op: Any, *, arg: Any, pattern: Any) -> Any:  # noqa: N802
            return self.f.split(arg, self._pattern(op.pattern, pattern), -1)

        def visit_RegexReplace(self, op: Any, *, arg: Any, pattern: Any, replacement: Any) -> Any:  # noqa: N802
            value = literal(op.replacement)
            if value is not None:
                replacement = sge.convert(re2_replacement_to_java(value))
            return self.f.regexp_replace(arg, self._pattern(op.pattern, pattern), replacement)

        def visit_StringSplit(self, op: Any, *, arg: Any, delimiter: Any) -> Any:  # noqa: N802
            value = literal(op.delimiter)
            if value is not None:
                delimiter = sge.convert(_java_literal(value))
            return self.f.split(arg, delimiter, -1)

        def visit_ArrayIndex(self, op: Any, *, arg: Any, index: Any) -> Any:  # noqa: N802
            if isinstance(op.index, ops.Literal):
                return self.f.try_element_at(arg, index + 1 if op.index.value >= 0 else index)
            return self.if_(
                index >= 0, self.f.try_element_at(arg, index + 1), self.f.try_element_at(arg, index)
            )

        # Spark parses `a <> b IN (2, 3)` as `(a <> b) IN (2, 3)` (likewise RLIKE, LIKE, BETWEEN and IS
        # NULL), and ibis writes no parentheses there
        def visit_InValues(self, op: Any, **kw: Any) -> Any:  # noqa: N802
            return sge.paren(super().visit_InValues(op, **kw), copy=False)

        def visit_InSubquery(self, op: Any, **kw: Any) -> Any:  # noqa: N802
            return sge.paren(super().visit_InSubquery(op, **kw), copy=False)

        def visit_Between(self, op: Any, **kw: Any) -> Any:  # noqa: N802
            return sge.paren(super().visit_Between(op, **kw), copy=False)

        def visit_StringSQLLike(self, op: Any, **kw: Any) -> Any:  # noqa: N802
            return sge.paren(super().visit_StringSQLLike(op, **kw), copy=False)

        def visit_StringSQLILike(self, op: Any, **kw: Any) -> Any:  # noqa: N802
            return sge.paren(super().visit_StringSQLILike(op, **kw), copy=False)

        # NULL is NULL, as on DuckDB (ibis' PySpark compiler also counts a float NaN as null)
        def visit_IsNull(self, op: Any, *, arg: Any) -> Any:  # noqa: N802
            return sge.paren(arg.is_(sge.Null()), copy=False)

        def visit_NotNull(self, op: Any, *, arg: Any) -> Any:  # noqa: N802
            return sge.paren(arg.is_(sge.not_(sge.Null())), copy=False)

    return Compiler()


@cache
def _duckdb_compiler() -> Any:
    """Ibis' DuckDB compiler, except that ``x.first(include_null=False).over(w)`` keeps its IGNORE NULLS:
    ibis rewrites a windowed first() into FIRST_VALUE and drops the flag on DuckDB (its PySpark compiler
    always ignores nulls), so the same expression meant different things on the two engines."""
    import sqlglot.expressions as sge
    from ibis.backends.sql.compilers.duckdb import DuckDBCompiler

    class Compiler(DuckDBCompiler):
        def visit_FirstValue(self, op: Any, *, arg: Any) -> Any:  # noqa: N802
            return sge.IgnoreNulls(this=self.f.first_value(arg))

    return Compiler()


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


@dataclass
class Engine:
    name: str
    con: Any
    _input_bytes: dict[str, int] = field(default_factory=dict, repr=False)  # Spark: table -> file size

    def read_parquet(self, path: Path | str) -> ir.Table:
        table = self.con.read_parquet(str(path))
        if self.name == "spark":
            files = [Path(path)] if Path(path).is_file() else Path(path).rglob("*.parquet")
            self._input_bytes[table.get_name()] = sum(f.stat().st_size for f in files)
        return table

    def memtable(self, table: pa.Table) -> ir.Table:
        """A small reference table usable in expressions of this engine. On Spark it becomes a cached
        temporary view, once per session and content (every ingest asks for the same region codes)."""
        if self.name != "spark":
            return ibis.memtable(table)
        session = self.con._session
        views = _SPARK_VIEWS.setdefault(session, {})
        key = _fingerprint(table)
        if key not in views or not session.catalog.tableExists(views[key]):
            name = f"dtsen_ref_{key[:24]}"
            session.createDataFrame(table).cache().createOrReplaceTempView(name)
            views[key] = name
        return self.con.table(views[key])

    def write_parquet(self, expr: ir.Table, path: Path) -> int:
        """Write ``expr`` to one Parquet file; returns the row count.

        DuckDB streams Arrow batches into the file. Spark writes its part files in parallel (nothing is
        collected on the driver), then their row groups are copied into the one file, one at a time;
        a result computed from under ``SPARK_COLLECT_BYTES`` of Parquet is collected as Arrow instead.
        """
        return self.write_parquet_parts([expr], path)

    def write_parquet_parts(self, exprs: list[ir.Table], path: Path) -> int:
        """Write ``exprs`` one after the other into one Parquet file (schema of the first; each keeps
        its own order, which a UNION ALL need not do on every engine); returns the row count."""
        path = Path(path)
        schema = nullable_schema(exprs[0].schema().to_pyarrow())
        batches = itertools.chain.from_iterable(self._batches(e, path) for e in exprs)
        return _write_batches(batches, path, schema)

    def _batches(self, expr: ir.Table, path: Path) -> Any:
        if self.name == "spark":
            yield from self._spark_batches(expr, path)
        else:
            yield from self._duckdb_batches(expr)

    def _duckdb_batches(self, expr: ir.Table) -> Any:
        # ibis 12's to_pyarrow_batches calls a cursor method DuckDB 2 no longer has: stream the relation
        self.con._run_pre_execute_hooks(expr)
        relation = self.con.con.sql(self.con.compile(expr))
        reader = getattr(relation, "to_arrow_reader", None) or relation.fetch_arrow_reader  # DuckDB < 1.4
        return reader(BATCH_ROWS)

    def _spark_batches(self, expr: ir.Table, path: Path) -> Any:
        self.con._run_pre_execute_hooks(expr)
        df = self.con._session.sql(self.con.compile(expr))
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
        """Parquet bytes ``expr`` reads (reference tables count as small; any other table as large)."""
        from ibis.expr import operations as ops

        views = set(_SPARK_VIEWS.get(self.con._session, {}).values())
        total = 0.0
        for leaf in expr.op().find((ops.DatabaseTable, ops.InMemoryTable)):
            if leaf.name in views:
                continue
            total += self._input_bytes.get(leaf.name, math.inf)
        return total

    def to_pyarrow(self, expr: ir.Expr) -> Any:
        return self.con.to_pyarrow(expr)

    def execute(self, expr: ir.Expr) -> Any:
        return self.con.execute(expr)


_SPARK_VIEWS: weakref.WeakKeyDictionary[Any, dict[str, str]] = weakref.WeakKeyDictionary()


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


def _row_groups(parts: list[Path]) -> Any:
    for part in parts:
        pf = pq.ParquetFile(part)
        for i in range(pf.num_row_groups):
            yield from pf.read_row_group(i).to_batches()


def _write_batches(batches: Any, path: Path, schema: pa.Schema) -> int:
    rows = 0
    with pq.ParquetWriter(path, schema, compression=COMPRESSION) as writer:
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

    builder = SparkSession.builder.master(master).appName("dtsen")
    for key, value in {**SPARK_LOCAL_CONF, **SPARK_SQL_CONF}.items():
        builder = builder.config(key, value)
    if java_options:
        builder = builder.config("spark.driver.extraJavaOptions", java_options)
    session = (
        builder.config("spark.driver.memory", "4g")
        .config("spark.local.dir", tempfile.gettempdir())
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    # pyspark logs every failed query with its Java stack; the exception raised says the same
    logging.getLogger("SQLQueryContextLogger").setLevel(logging.CRITICAL)
    return session


def get_engine(name: str | None = None) -> Engine:
    settings = get_settings()
    name = name or settings.engine
    if name == "duckdb":
        config: dict[str, Any] = {"memory_limit": settings.memory_limit}
        if settings.threads:
            config["threads"] = settings.threads
        con = ibis.duckdb.connect(**config)
        con.compiler = _duckdb_compiler()
        return Engine("duckdb", con)
    if name == "spark":
        session = spark_session(settings.spark_master)
        for key, value in SPARK_SQL_CONF.items():  # also on a session that existed before ours
            session.conf.set(key, value)
        con = ibis.pyspark.connect(session)
        con.compiler = _spark_compiler()
        return Engine("spark", con)
    raise ValueError(f"unknown engine {name!r} (duckdb or spark)")
