"""Reading one landed file into a staged Parquet table of text columns, losing nothing.

Every data row becomes a staged row (all values as text, plus ``_baris``, its line number with the
header as line 1, or its spreadsheet row) or a structural reject that keeps the raw line, its number
and the reason. A well-formed CSV takes the fast path (DuckDB's strict reader straight to Parquet);
anything it refuses is re-read line by line in Python, so a stray quote or one undecodable byte costs
one row, not the file. A file that cannot be read at all raises :class:`FileError` with the file name.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from dtsen.logs import get_logger
from dtsen.sources.mapping import Mapping

log = get_logger(__name__)
DELIMITERS = [",", ";", "\t", "|"]
FLUSH_ROWS = 100_000
MAX_RECORD_LINES = 50  # a quoted field spanning more physical lines than this is an unbalanced quote
SAMPLE_BYTES = 1 << 16  # read to detect binary data, encoding and delimiter
RAW_KEEP_CHARS = 20_000  # raw text kept for a rejected row (the landed file keeps every byte)


# DuckDB connections for reading, deduplicating and counting: streaming work that needs little memory.
# Without a limit DuckDB keeps buffering up to 80% of RAM (a 1 M-row staging held 1.2 GB), so the
# process would grow with the file; with one it spills or streams instead.
HELPER_MEMORY = "512MB"


def duckdb_connect() -> duckdb.DuckDBPyConnection:
    """A private DuckDB connection with :data:`HELPER_MEMORY` as its memory limit."""
    return duckdb.connect(config={"memory_limit": HELPER_MEMORY})


class FileError(ValueError):
    """The whole file cannot be used; the message names the file and, where known, the line and column."""


@dataclass(frozen=True)
class Reject:
    berkas: str
    baris: int
    kolom: str | None
    kode: str
    pesan: str
    raw: str


@dataclass
class StagedFile:
    berkas: str
    parquet: Path
    rows: int
    columns: list[str]
    encoding: str
    delimiter: str | None
    rejects: list[Reject] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # file-level warnings (unknown columns, ...)
    fast_path: bool = False


def _sample(path: Path, size: int = SAMPLE_BYTES) -> bytes:
    with open(path, "rb") as handle:
        return handle.read(size)


def _is_binary(sample: bytes) -> bool:
    if b"\x00" in sample:
        return True
    control = sum(1 for b in sample if b < 32 and b not in (9, 10, 13))
    return len(sample) > 0 and control / len(sample) > 0.02


def detect_encoding(sample: bytes, declared: str) -> str:
    """The declared encoding, or UTF-8 when the sample decodes, else the best legacy guess."""
    if declared != "auto":
        try:
            codecs.lookup(declared)
        except LookupError as exc:
            raise FileError(f"unknown encoding {declared!r}") from exc
        return codecs.lookup(declared).name
    try:
        sample.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        if exc.reason == "unexpected end of data" and len(sample) >= SAMPLE_BYTES:  # cut by the sample's end
            return "utf-8"
    from charset_normalizer import from_bytes

    best = from_bytes(sample, cp_isolation=["cp1252", "latin_1", "iso8859_15", "utf_8"]).best()
    return codecs.lookup(best.encoding).name if best else "cp1252"


def sniff_delimiter(header: str, declared: str) -> str:
    if declared != "auto":
        if len(declared) != 1:
            raise FileError(f"delimiter must be one character, got {declared!r}")
        return declared
    counts = {d: header.count(d) for d in DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] > 0 else ","


def _count_lines(path: Path) -> tuple[int, bool]:
    """Physical lines and whether the file ends with a newline."""
    n, last = 0, b""
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            n += block.count(b"\n")
            last = block[-1:]
    return n + (0 if last in (b"\n", b"") else 1), last == b"\n"


def _check_header(columns: list[str], mapping: Mapping, berkas: str, delimiter: str) -> list[str]:
    notes: list[str] = []
    if not columns or all(not c for c in columns):
        raise FileError(f"{berkas}: line 1: no header")
    missing = [
        c for c in dict.fromkeys([*mapping.required_columns, *mapping.record_columns]) if c not in columns
    ]
    if missing:
        hint = ""
        if len(columns) == 1:
            other = [d for d in DELIMITERS if d != delimiter and d in columns[0]]
            if other:
                hint = f" (the header has no {delimiter!r}; is the delimiter {other[0]!r}?)"
        raise FileError(f"{berkas}: line 1: required column(s) missing: {', '.join(missing)}{hint}")
    known = set(mapping.source_columns)
    unknown = [c for c in columns if c not in known]
    if unknown:
        if mapping.unknown_columns == "reject":
            raise FileError(
                f"{berkas}: line 1: unknown column(s) not allowed by mapping {mapping.name}: {', '.join(unknown)}"
            )
        notes.append(f"{berkas}: line 1: unknown columns {mapping.unknown_columns}: {', '.join(unknown)}")
    dupes = sorted({c for c in columns if columns.count(c) > 1})
    if dupes:
        raise FileError(f"{berkas}: line 1: duplicate column name(s): {', '.join(dupes)}")
    return notes


def stage_file(
    path: Path, berkas: str, mapping: Mapping, out: Path, encoding: str | None = None
) -> StagedFile:
    """Read ``path`` (CSV, XLSX or Parquet) into ``out`` (Parquet of text columns + ``_baris``)."""
    suffix = path.suffix.lower()
    if not path.exists() or path.stat().st_size == 0:
        raise FileError(f"{berkas}: empty file (0 bytes)")
    if suffix in (".xlsx", ".xlsm"):
        staged = _stage_xlsx(path, berkas, mapping, out)
    elif suffix == ".parquet":
        staged = _stage_parquet(path, berkas, mapping, out)
    else:
        staged = _stage_csv(path, berkas, mapping, out, encoding or mapping.read.encoding)
    absent = [c for c in mapping.source_columns if c not in staged.columns]
    if absent:  # optional columns (required and record-id ones were checked with the header)
        _add_empty_columns(staged, absent)
        staged.notes.append(
            f"{berkas}: line 1: optional column(s) absent, read as empty: {', '.join(absent)}"
        )
    return staged


def _add_empty_columns(staged: StagedFile, names: list[str]) -> None:
    out = staged.parquet.with_name(staged.parquet.stem + "-full.parquet")
    extra = ", ".join(f"CAST(NULL AS VARCHAR) AS {duckdb_ident(c)}" for c in names)
    con = duckdb_connect()
    try:
        con.execute(
            f"COPY (SELECT *, {extra} FROM read_parquet({_quote(str(staged.parquet))})) "  # noqa: S608 - names quoted
            f"TO {_quote(str(out))} (FORMAT parquet, COMPRESSION zstd)"
        )
    finally:
        con.close()
    staged.parquet.unlink()
    staged.parquet = out
    staged.columns = [*staged.columns, *names]


# --- CSV ------------------------------------------------------------------------------------------


def _stage_csv(path: Path, berkas: str, mapping: Mapping, out: Path, declared: str) -> StagedFile:
    sample = _sample(path)
    if _is_binary(sample):
        raise FileError(f"{berkas}: binary data (NUL or control bytes), not a delimited text file")
    if not sample.strip():
        raise FileError(f"{berkas}: empty file (only whitespace)")
    encoding = detect_encoding(sample, declared)
    first_line = sample.split(b"\n", 1)[0].decode(encoding, errors="replace").lstrip("\ufeff").rstrip("\r")
    delimiter = sniff_delimiter(first_line, mapping.read.delimiter)
    header = next(csv.reader([first_line], delimiter=delimiter), [])
    columns = [c.strip() for c in header]
    notes = _check_header(columns, mapping, berkas, delimiter)
    lines, _ = _count_lines(path)
    if lines <= 1:
        raise FileError(f"{berkas}: header only, no data rows")
    if encoding in ("utf-8", "ascii"):
        staged = _fast_csv(path, berkas, columns, delimiter, out, lines, mapping.read.max_field_bytes)
        if staged is not None:
            staged.notes = notes
            return staged
    staged, multibyte = _slow_csv(
        path, berkas, columns, delimiter, encoding, out, mapping.read.max_field_bytes
    )
    bad = [r.baris for r in staged.rejects if r.kode == "encoding_invalid"]
    if declared == "auto" and encoding == "utf-8" and bad and not multibyte:
        # the sample was plain ASCII, later lines are not UTF-8 and no line is UTF-8 beyond ASCII: the file
        # is in a legacy encoding after all (a file mixing both keeps UTF-8 and quarantines the other lines)
        legacy = detect_encoding(_line_bytes(path, set(bad)), "auto")
        out.unlink()
        staged, _ = _slow_csv(path, berkas, columns, delimiter, legacy, out, mapping.read.max_field_bytes)
        notes.append(
            f"{berkas}: line {bad[0]}: not UTF-8 though the first {len(sample):,} bytes are ASCII; read as {legacy}"
        )
    if staged.rows == 0 and not staged.rejects:
        raise FileError(f"{berkas}: header only, no data rows (only blank lines after the header)")
    staged.notes = notes
    return staged


def _line_bytes(path: Path, wanted: set[int], size: int = SAMPLE_BYTES) -> bytes:
    """Up to ``size`` bytes of the wanted physical lines (a sample for encoding detection)."""
    out = b""
    for number, raw, _ in bounded_lines(path, size):
        if number in wanted:
            out += raw
        if len(out) >= size or number >= max(wanted):
            break
    return out[:size]


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _fast_csv(
    path: Path, berkas: str, columns: list[str], delimiter: str, out: Path, lines: int, max_field: int
) -> StagedFile | None:
    """DuckDB's strict parallel reader; ``None`` when the file needs the careful path."""
    col_types = "{" + ", ".join(f"{_quote(c)}: 'VARCHAR'" for c in columns) + "}"
    # one sequential pass (parallel=false keeps row_number() in line order); work files use snappy
    source = (
        f"read_csv({_quote(str(path))}, delim={_quote(delimiter)}, quote='\"', escape='\"', header=true, "
        f"columns={col_types}, strict_mode=true, null_padding=false, parallel=false, "
        f"max_line_size={max(max_field * 4, 2_097_152)})"
    )
    select = ", ".join(f"NULLIF({duckdb_ident(c)}, '') AS {duckdb_ident(c)}" for c in columns)
    length_check = " OR ".join(f"length({duckdb_ident(c)}) > {max_field}" for c in columns)
    con = duckdb_connect()
    try:
        con.execute(
            f"COPY (SELECT {select}, CAST(row_number() OVER () + 1 AS BIGINT) AS _baris FROM {source}) "  # noqa: S608 - names quoted
            f"TO {_quote(str(out))} (FORMAT parquet, COMPRESSION snappy)"
        )
        rows, oversized = con.execute(
            f"SELECT count(*), count(*) FILTER (WHERE {length_check}) FROM read_parquet({_quote(str(out))})"  # noqa: S608 - names quoted
        ).fetchone()  # type: ignore[misc]
        if oversized or rows != lines - 1:  # oversized fields or quoted newlines: line numbers need care
            out.unlink(missing_ok=True)
            return None
    except duckdb.Error as exc:
        log.info("careful CSV path", berkas=berkas, reason=type(exc).__name__)
        out.unlink(missing_ok=True)
        return None
    finally:
        con.close()
    return StagedFile(berkas, out, int(rows), columns, "utf-8", delimiter, fast_path=True)


def duckdb_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def bounded_lines(path: Path, limit: int) -> Iterator[tuple[int, bytes, bool]]:
    """(line number, bytes, overlong) per physical line; a line longer than ``limit`` bytes yields only its
    first ``limit`` bytes (the rest is skipped, never held in memory), so one huge line cannot exhaust it."""
    with open(path, "rb") as handle:
        number = 0
        while raw := handle.readline(limit):
            number += 1
            overlong = len(raw) >= limit and not raw.endswith(b"\n")
            if overlong:
                while (rest := handle.readline(limit)) and not rest.endswith(b"\n"):
                    pass
            yield number, raw, overlong


def _physical_lines(path: Path, encoding: str, limit: int) -> Iterator[tuple[int, str, str | None, bool]]:
    """(line number, text, decode problem, overlong) per physical line; undecodable bytes become
    surrogate escapes (see :func:`_printable`), so nothing is lost and the bad column can be found."""
    for number, raw, overlong in bounded_lines(path, limit):
        problem = None
        if overlong:
            text = raw.decode(encoding, errors="replace")  # a cut multi-byte character is not the problem
        else:
            try:
                text = raw.decode(encoding)
            except UnicodeDecodeError as exc:
                text = raw.decode(encoding, errors="surrogateescape")
                problem = f"byte 0x{raw[exc.start]:02X} at position {exc.start + 1} is not valid {encoding}"
        text = text.rstrip("\r\n")
        yield number, text.lstrip("\ufeff") if number == 1 else text, problem, overlong


_SURROGATE = re.compile("[\udc80-\udcff]")


def _field_lengths(text: str, delimiter: str) -> list[int]:
    """Length of each field of a CSV record that may be cut short (the last length is then partial),
    found with ``str.find`` only: the csv module would hold a long field at four bytes a character."""
    lengths: list[int] = []
    i, n = 0, len(text)
    while True:
        end = i
        if text.startswith('"', i):
            end = i + 1
            while (end := text.find('"', end)) != -1 and text.startswith('"', end + 1):
                end += 2
            if end == -1:  # cut inside a quoted field
                return [*lengths, n - i]
            end += 1
        end = text.find(delimiter, end)
        if end == -1:
            return [*lengths, n - i]
        lengths.append(end - i)
        i = end + 1


def _printable(text: str, encoding: str) -> str:
    """Text with surrogate-escaped bytes spelled as ``\\xNN`` (storable as UTF-8, still readable)."""
    if not _SURROGATE.search(text):
        return text
    return text.encode(encoding, errors="surrogateescape").decode(encoding, errors="backslashreplace")


def _slow_csv(
    path: Path, berkas: str, columns: list[str], delimiter: str, encoding: str, out: Path, max_field: int
) -> tuple[StagedFile, bool]:
    """Line by line: a record is one physical line, or several while a quoted field is open. A record
    that cannot be read is rejected whole (first line number, raw text) and reading resumes after it.
    Also says whether some line decoded to more than ASCII."""
    writer = _ColumnWriter(out, columns)
    rejects: list[Reject] = []
    width = len(columns)
    limit = max(max_field * (width + 1), 2_097_152)  # bytes of one physical line held in memory
    if csv.field_size_limit() < limit:
        csv.field_size_limit(limit)  # oversized fields are reported as field_too_long, not csv errors
    pending: list[tuple[int, str, str | None]] = []

    def reject(line: int, kolom: str | None, kode: str, pesan: str, raw: str) -> None:
        rejects.append(
            Reject(berkas, line, kolom, kode, f"{berkas}: line {line}: {pesan}", _printable(raw, encoding)[:RAW_KEEP_CHARS])
        )  # fmt: skip

    def parse(text: str, strict: bool = True) -> list[str]:
        return next(csv.reader(io.StringIO(text), delimiter=delimiter, strict=strict), [])

    def emit(first_line: int, text: str, problems: list[tuple[int, str]]) -> None:
        if problems:
            kolom = None
            try:
                record = parse(text)
                if len(record) == width:
                    kolom = next(
                        (c for c, v in zip(columns, record, strict=True) if _SURROGATE.search(v)), None
                    )
            except csv.Error:
                pass
            where = f" (line {problems[0][0]})" if problems[0][0] != first_line else ""
            reject(first_line, kolom, "encoding_invalid", problems[0][1] + where, text)
            return
        try:
            record = parse(text)
        except csv.Error as exc:
            reject(first_line, None, "csv_malformed", str(exc), text)
            return
        if len(record) != width:
            what = "fewer" if len(record) < width else "more"
            reject(
                first_line, None, "field_count",
                f"{len(record)} fields, {what} than the {width} in the header"
                + (" (truncated line?)" if len(record) < width else ""),
                text,
            )  # fmt: skip
            return
        for col, value in zip(columns, record, strict=True):
            if len(value) > max_field:
                reject(first_line, col, "field_too_long", f"column {col} has {len(value):,} characters (limit {max_field:,})", text)  # fmt: skip
                return
        writer.add([v if v != "" else None for v in record], first_line)

    def well_formed(text: str) -> bool:
        try:
            return len(parse(text)) == width
        except csv.Error:
            return False

    def feed(number: int, text: str, problem: str | None) -> None:
        nonlocal pending
        if not pending and problem is None and text.strip() == "":
            return  # blank line
        pending.append((number, text, problem))
        joined = "\n".join(t for _, t, _ in pending)
        if joined.count('"') % 2 == 0:
            if len(pending) > 1 and not well_formed(joined):
                resync()  # the quote that opened this record was a stray one closed by a later line's quote
                return
            record, pending = pending, []
            emit(record[0][0], joined, [(n, p) for n, _, p in record if p is not None])
        elif len(pending) >= MAX_RECORD_LINES or len(joined) > limit:
            resync()

    def resync(end: bool = False) -> None:
        """The first pending line opens a quote that never closes: reject it (or, when it reads well on its
        own, a stray quote inside an unquoted field, keep it), then re-read the lines after it."""
        nonlocal pending
        (first, text, problem), rest = pending[0], pending[1:]
        pending = []
        if well_formed(text):
            emit(first, text, [] if problem is None else [(first, problem)])
        else:
            reject(first, None, "unbalanced_quote", "a quoted field is never closed" + (" (end of file)" if end else ""), text)  # fmt: skip
        for number, line, issue in rest:
            feed(number, line, issue)

    multibyte = False
    for number, text, problem, overlong in _physical_lines(path, encoding, limit):
        multibyte = multibyte or (problem is None and not overlong and not text.isascii())
        if number == 1:
            continue
        if overlong:  # only its first ``limit`` bytes were read: reject it on its own
            while pending:
                resync()
            lengths = _field_lengths(text, delimiter)[:width]
            kolom = columns[next((i for i, n in enumerate(lengths) if n > max_field), len(lengths) - 1)]
            reject(
                number,
                kolom,
                "field_too_long",
                f"the line is longer than {limit:,} bytes (column {kolom})",
                text,
            )
            continue
        feed(number, text, problem)
    while pending:
        resync(end=True)
    rows = writer.close()
    return StagedFile(berkas, out, rows, columns, encoding, delimiter, rejects), multibyte


class _ColumnWriter:
    """Accumulates rows of text and flushes them to Parquet in batches (bounded memory)."""

    def __init__(self, out: Path, columns: list[str]) -> None:
        self.out = out
        self.columns = columns
        self.schema = pa.schema(
            [*(pa.field(c, pa.string()) for c in columns), pa.field("_baris", pa.int64())]
        )
        self.buffer: list[list[str | None]] = [[] for _ in columns]
        self.lines: list[int] = []
        self.rows = 0
        self.writer = pq.ParquetWriter(out, self.schema, compression="zstd")

    def add(self, values: list[str | None], line: int) -> None:
        for buf, v in zip(self.buffer, values, strict=True):
            buf.append(v)
        self.lines.append(line)
        if len(self.lines) >= FLUSH_ROWS:
            self.flush()

    def flush(self) -> None:
        if not self.lines:
            return
        arrays = [pa.array(b, pa.string()) for b in self.buffer] + [pa.array(self.lines, pa.int64())]
        self.writer.write_table(pa.Table.from_arrays(arrays, schema=self.schema))
        self.rows += len(self.lines)
        self.buffer = [[] for _ in self.columns]
        self.lines = []

    def close(self) -> int:
        self.flush()
        self.writer.close()
        return self.rows


# --- XLSX and Parquet -----------------------------------------------------------------------------

_FLOAT_INT = re.compile(r"^-?\d+\.0$")


def _cell_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 2**53:
            return str(int(value))
        return repr(value)  # large floats keep their float spelling: a NIK that lost digits is flagged later
    if hasattr(value, "isoformat"):
        return value.isoformat()[:10] if getattr(value, "hour", 0) == 0 else value.isoformat()
    text = str(value)
    return text if text != "" else None


def _stage_xlsx(path: Path, berkas: str, mapping: Mapping, out: Path) -> StagedFile:
    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a damaged or mislabelled file
        raise FileError(f"{berkas}: not a readable .xlsx workbook ({type(exc).__name__}: {exc})") from exc
    try:
        sheet_opt = mapping.read.sheet
        sheet = (
            book.worksheets[sheet_opt]
            if isinstance(sheet_opt, int)
            else (book[sheet_opt] if sheet_opt else book.worksheets[0])
        )
        rows = sheet.iter_rows(values_only=True)
        header_row = next(rows, None)
        if header_row is None:
            raise FileError(f"{berkas}: empty workbook (sheet {sheet.title!r} has no rows)")
        columns = [str(c).strip() if c is not None else "" for c in header_row]
        while columns and columns[-1] == "":
            columns.pop()
        notes = _check_header(columns, mapping, berkas, ",")
        writer = _ColumnWriter(out, columns)
        rejects: list[Reject] = []
        width = len(columns)
        for number, row in enumerate(rows, start=2):
            values = [_cell_text(v) for v in row[:width]]
            extra = [v for v in row[width:] if v not in (None, "")]
            if all(v is None for v in values) and not extra:
                continue
            if extra:
                rejects.append(
                    Reject(
                        berkas,
                        number,
                        None,
                        "field_count",
                        f"{berkas}: row {number}: values beyond the last header column",
                        repr(row)[:RAW_KEEP_CHARS],
                    )
                )
                continue
            values += [None] * (width - len(values))
            long = next(
                (
                    c
                    for c, v in zip(columns, values, strict=True)
                    if v is not None and len(v) > mapping.read.max_field_bytes
                ),
                None,
            )
            if long:
                rejects.append(
                    Reject(
                        berkas,
                        number,
                        long,
                        "field_too_long",
                        f"{berkas}: row {number}: column {long} is too long",
                        repr(row)[:RAW_KEEP_CHARS],
                    )
                )
                continue
            writer.add(values, number)
        count = writer.close()
    finally:
        book.close()
    if count == 0 and not rejects:
        raise FileError(f"{berkas}: header only, no data rows")
    return StagedFile(berkas, out, count, columns, "xlsx", None, rejects, notes)


def _stage_parquet(path: Path, berkas: str, mapping: Mapping, out: Path) -> StagedFile:
    try:
        schema = pq.read_schema(path)
    except Exception as exc:  # pyarrow raises ArrowInvalid/OSError for non-Parquet bytes
        raise FileError(f"{berkas}: not a readable Parquet file ({exc})") from exc
    columns = list(schema.names)
    notes = _check_header(columns, mapping, berkas, ",")
    select = ", ".join(
        f"NULLIF(CAST({duckdb_ident(c)} AS VARCHAR), '') AS {duckdb_ident(c)}" for c in columns
    )
    con = duckdb_connect()
    try:
        con.execute("SET preserve_insertion_order = true")
        con.execute(
            f"COPY (SELECT {select}, CAST(row_number() OVER () AS BIGINT) AS _baris FROM read_parquet({_quote(str(path))})) "  # noqa: S608 - names quoted by duckdb_ident/_quote
            f"TO {_quote(str(out))} (FORMAT parquet, COMPRESSION zstd)"
        )
        rows = con.execute(f"SELECT count(*) FROM read_parquet({_quote(str(out))})").fetchone()[0]  # type: ignore[index]  # noqa: S608 - names quoted by duckdb_ident/_quote
    finally:
        con.close()
    if rows == 0:
        raise FileError(f"{berkas}: no data rows")
    return StagedFile(berkas, out, int(rows), columns, "parquet", None, [], notes, fast_path=True)
