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
RAW_KEEP_CHARS = 20_000  # raw text kept for a rejected row (the landed file keeps every byte)


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


def _sample(path: Path, size: int = 1 << 16) -> bytes:
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
        if exc.start > len(sample) - 4:  # a multi-byte character cut by the sample boundary
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
        for block in iter(lambda: handle.read(1 << 24), b""):
            n += block.count(b"\n")
            last = block[-1:]
    return n + (0 if last in (b"\n", b"") else 1), last == b"\n"


def _check_header(columns: list[str], mapping: Mapping, berkas: str, delimiter: str) -> list[str]:
    notes: list[str] = []
    if not columns or all(not c for c in columns):
        raise FileError(f"{berkas}: line 1: no header")
    missing = [c for c in mapping.required_columns if c not in columns]
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
        notes.append(f"unknown columns {mapping.unknown_columns}: {', '.join(unknown)}")
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
        return _stage_xlsx(path, berkas, mapping, out)
    if suffix == ".parquet":
        return _stage_parquet(path, berkas, mapping, out)
    return _stage_csv(path, berkas, mapping, out, encoding or mapping.read.encoding)


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
    staged = _slow_csv(path, berkas, columns, delimiter, encoding, out, mapping.read.max_field_bytes)
    staged.notes = notes
    return staged


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _fast_csv(
    path: Path, berkas: str, columns: list[str], delimiter: str, out: Path, lines: int, max_field: int
) -> StagedFile | None:
    """DuckDB's strict parallel reader; ``None`` when the file needs the careful path."""
    col_types = "{" + ", ".join(f"{_quote(c)}: 'VARCHAR'" for c in columns) + "}"
    source = (
        f"read_csv({_quote(str(path))}, delim={_quote(delimiter)}, quote='\"', escape='\"', header=true, "
        f"columns={col_types}, strict_mode=true, null_padding=false, max_line_size={max(max_field * 4, 2_097_152)}, "
        f"parallel=false)"
    )
    select = ", ".join(f"NULLIF({duckdb_ident(c)}, '') AS {duckdb_ident(c)}" for c in columns)
    length_check = " OR ".join(f"length({duckdb_ident(c)}) > {max_field}" for c in columns)
    con = duckdb.connect()
    try:
        con.execute("SET preserve_insertion_order = true")
        con.execute(f"CREATE TEMP VIEW src AS SELECT * FROM {source}")  # noqa: S608 - names quoted by duckdb_ident/_quote
        rows, oversized = con.execute(
            f"SELECT count(*), count(*) FILTER (WHERE {length_check}) FROM src"  # noqa: S608 - names quoted by duckdb_ident/_quote
        ).fetchone()  # type: ignore[misc]
        if oversized or rows != lines - 1:  # oversized fields or quoted newlines: line numbers need care
            return None
        con.execute(
            f"COPY (SELECT {select}, CAST(row_number() OVER () + 1 AS BIGINT) AS _baris FROM src) "  # noqa: S608 - names quoted by duckdb_ident/_quote
            f"TO {_quote(str(out))} (FORMAT parquet, COMPRESSION zstd)"
        )
    except duckdb.Error as exc:
        log.info("careful CSV path", berkas=berkas, reason=type(exc).__name__)
        return None
    finally:
        con.close()
    return StagedFile(berkas, out, int(rows), columns, "utf-8", delimiter, fast_path=True)


def duckdb_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _physical_lines(path: Path, encoding: str) -> Iterator[tuple[int, str, str | None]]:
    """(line number, text, decode problem) per physical line; undecodable bytes are escaped, not lost."""
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                text = raw.decode(encoding)
                problem = None
            except UnicodeDecodeError as exc:
                text = raw.decode(encoding, errors="backslashreplace")
                problem = f"byte 0x{raw[exc.start]:02X} at position {exc.start + 1} is not valid {encoding}"
            yield (
                number,
                text.rstrip("\r\n").lstrip("\ufeff") if number == 1 else text.rstrip("\r\n"),
                problem,
            )


def _slow_csv(
    path: Path, berkas: str, columns: list[str], delimiter: str, encoding: str, out: Path, max_field: int
) -> StagedFile:
    writer = _ColumnWriter(out, columns)
    rejects: list[Reject] = []
    width = len(columns)
    pending: list[tuple[int, str]] = []

    def emit(first_line: int, text: str) -> None:
        try:
            record = next(csv.reader(io.StringIO(text), delimiter=delimiter, strict=True), [])
        except csv.Error as exc:
            rejects.append(
                Reject(
                    berkas,
                    first_line,
                    None,
                    "csv_malformed",
                    f"{berkas}: line {first_line}: {exc}",
                    text[:RAW_KEEP_CHARS],
                )
            )
            return
        if len(record) != width:
            what = "fewer" if len(record) < width else "more"
            rejects.append(
                Reject(
                    berkas, first_line, None, "field_count",
                    f"{berkas}: line {first_line}: {len(record)} fields, {what} than the {width} in the header"
                    + (" (truncated line?)" if len(record) < width else ""),
                    text[:RAW_KEEP_CHARS],
                )
            )  # fmt: skip
            return
        for col, value in zip(columns, record, strict=True):
            if len(value) > max_field:
                rejects.append(
                    Reject(
                        berkas,
                        first_line,
                        col,
                        "field_too_long",
                        f"{berkas}: line {first_line}: column {col} has {len(value):,} characters (limit {max_field:,})",
                        text[:RAW_KEEP_CHARS],
                    )
                )
                return
        writer.add([v if v != "" else None for v in record], first_line)

    for number, text, problem in _physical_lines(path, encoding):
        if number == 1:
            continue
        if problem is not None:
            if pending:
                for n, t in pending:
                    rejects.append(
                        Reject(
                            berkas,
                            n,
                            None,
                            "unbalanced_quote",
                            f"{berkas}: line {n}: a quoted field is never closed",
                            t[:RAW_KEEP_CHARS],
                        )
                    )
                pending = []
            rejects.append(
                Reject(
                    berkas,
                    number,
                    None,
                    "encoding_invalid",
                    f"{berkas}: line {number}: {problem}",
                    text[:RAW_KEEP_CHARS],
                )
            )
            continue
        if not pending and text.strip() == "":
            continue  # blank line
        pending.append((number, text))
        joined = "\n".join(t for _, t in pending)
        if joined.count('"') % 2 == 0:
            emit(pending[0][0], joined)
            pending = []
        elif len(pending) >= MAX_RECORD_LINES or len(joined) > max_field * 4:
            first_n, first_t = pending[0]
            rejects.append(
                Reject(
                    berkas,
                    first_n,
                    None,
                    "unbalanced_quote",
                    f"{berkas}: line {first_n}: a quoted field is never closed",
                    first_t[:RAW_KEEP_CHARS],
                )
            )
            rest = pending[1:]
            pending = []
            for n, t in rest:  # resynchronise on the following lines
                pending.append((n, t))
                if "\n".join(x for _, x in pending).count('"') % 2 == 0:
                    emit(pending[0][0], "\n".join(x for _, x in pending))
                    pending = []
    for n, t in pending:
        rejects.append(
            Reject(
                berkas,
                n,
                None,
                "unbalanced_quote",
                f"{berkas}: line {n}: a quoted field is never closed (end of file)",
                t[:RAW_KEEP_CHARS],
            )
        )
    rows = writer.close()
    return StagedFile(berkas, out, rows, columns, encoding, delimiter, rejects)


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
    con = duckdb.connect()
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
