"""Reading one landed file into a staged Parquet table of text columns, losing nothing.

Every data row becomes a staged row (all values as text, plus ``_baris``, its line number with the
header as line 1, or its spreadsheet row) or a structural reject that keeps the raw line, its number
and the reason. A well-formed CSV takes the fast path (DuckDB's strict reader straight to Parquet);
anything it refuses is re-read line by line in Python, so a stray quote or one undecodable byte costs
one row, not the file. A file that cannot be read at all raises :class:`FileError` with the file name.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from dtsen.logs import get_logger
from dtsen.sources.encodings import (
    DELIMITERS,
    SAMPLE_BYTES,
    count_lines,
    detect_encoding,
    is_binary,
    read_sample,
    sniff_delimiter,
    utf8_copy,
    wide_encoding,
)
from dtsen.sources.mapping import Mapping
from dtsen.sources.staged import (
    RAW_KEEP_CHARS,
    ColumnWriter,
    FileError,
    Reject,
    StagedFile,
    duckdb_connect,
)
from dtsen.sql import quote_ident, quote_literal

log = get_logger(__name__)
MAX_RECORD_LINES = 50  # a quoted field spanning more physical lines than this is an unbalanced quote


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
                f"{berkas}: line 1: unknown column(s) not allowed by mapping {mapping.name}: "
                f"{', '.join(unknown)}"
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
    extra = ", ".join(f"CAST(NULL AS VARCHAR) AS {quote_ident(c)}" for c in names)
    con = duckdb_connect()
    try:
        con.execute(
            f"COPY (SELECT *, {extra} FROM read_parquet({quote_literal(staged.parquet)})) "  # noqa: S608 - names quoted
            f"TO {quote_literal(out)} (FORMAT parquet, COMPRESSION zstd)"
        )
    finally:
        con.close()
    staged.parquet.unlink()
    staged.parquet = out
    staged.columns = [*staged.columns, *names]


# --- CSV ------------------------------------------------------------------------------------------


@dataclass
class DelimitedText:
    """A delimited text file opened for reading: its lines are read from ``path`` (the file itself, or a
    UTF-8 copy with LF line ends of a UTF-16/32 or CR-only file, same line numbers) in ``read_encoding``;
    ``encoding`` is the file's own. ``width`` counts the unnamed columns of a header ending in a delimiter
    (``columns`` has only the named ones)."""

    path: Path
    encoding: str
    read_encoding: str
    delimiter: str
    columns: list[str]
    width: int
    lines: int
    nul: bool
    replaced: bool  # undecodable UTF-16/32 sequences became U+FFFD in the copy
    copied: bool
    notes: list[str] = field(default_factory=list)


def open_delimited(
    path: Path, berkas: str, declared_encoding: str, declared_delimiter: str, work: Path
) -> DelimitedText:
    """Detect encoding (BOM, UTF-16/32, UTF-8 or a legacy one), line ends and delimiter, and read the
    header; a file that is empty, binary or has a nameless column in its header is a :class:`FileError`.
    A copy, when one is needed, is written in ``work``."""
    sample = read_sample(path)
    try:
        wide = wide_encoding(sample, declared_encoding)
        if wide is None and is_binary(sample):
            hint = " (UTF-16 without a byte-order mark? declare the encoding)" if b"\x00" in sample else ""
            raise FileError(f"binary data (NUL or control bytes), not a delimited text file{hint}")
        if wide is not None:
            unit = 4 if "32" in wide[0] else 2
            head = sample[wide[1] :]
            head = head[: len(head) // unit * unit].decode(wide[0], errors="replace")
            if is_binary(head):
                raise FileError(f"binary data (control characters as {wide[0]}), not a delimited text file")
            encoding = wide[0]
        else:
            head = ""
            encoding = detect_encoding(sample, declared_encoding)
    except FileError as exc:
        raise FileError(f"{berkas}: {exc}") from exc
    if not (head.strip() if wide else sample.strip()):
        raise FileError(f"{berkas}: empty file (only whitespace)")
    cr_lines = ("\r" in head and "\n" not in head) if wide else (b"\r" in sample and b"\n" not in sample)
    source, read_encoding, replaced, notes = path, encoding, False, []
    if wide or cr_lines:
        source = work / f"{path.stem}-utf8{path.suffix}"
        replaced = utf8_copy(path, source, wide, cr_lines)
        read_encoding = "utf-8" if wide else encoding
        if cr_lines:
            notes.append(f"{berkas}: lines end with CR only (classic Mac); read as lines")
        sample = read_sample(source)
    first_line = (
        sample.split(b"\n", 1)[0].decode(read_encoding, errors="replace").lstrip("\ufeff").rstrip("\r")
    )
    delimiter = sniff_delimiter(source, first_line, read_encoding, declared_delimiter)
    columns = [c.strip() for c in next(csv.reader([first_line], delimiter=delimiter), [])]
    width = len(columns)
    while columns and columns[-1] == "":
        columns.pop()
    if columns and len(columns) < width:
        notes.append(
            f"{berkas}: line 1: the header ends with {width - len(columns)} unnamed column(s) (a trailing "
            f"{delimiter!r}); a value in them rejects its line"
        )
    nameless = [str(i + 1) for i, c in enumerate(columns) if c == ""]
    if nameless:
        raise FileError(f"{berkas}: line 1: column(s) {', '.join(nameless)} of the header have no name")
    lines, nul = count_lines(source)
    return DelimitedText(
        source,
        encoding,
        read_encoding,
        delimiter,
        columns,
        width,
        lines,
        nul,
        replaced,
        source != path,
        notes,
    )


def _stage_csv(path: Path, berkas: str, mapping: Mapping, out: Path, declared: str) -> StagedFile:
    text = open_delimited(path, berkas, declared, mapping.read.delimiter, out.parent)
    notes = [*text.notes, *_check_header(text.columns, mapping, berkas, text.delimiter)]
    if text.lines <= 1:
        raise FileError(f"{berkas}: header only, no data rows")
    staged = read_delimited(text, berkas, out, mapping.read.max_field_bytes, declared, notes)
    staged.notes = notes
    return staged


def read_delimited(
    text: DelimitedText, berkas: str, out: Path, max_field: int, declared: str, notes: list[str]
) -> StagedFile:
    """The fast path when DuckDB can read the file as it is, else the careful one (``notes`` gets a
    note when a file that looked UTF-8 is re-read in a legacy encoding)."""
    fast = text.read_encoding in ("utf-8", "ascii") and not (text.nul or text.replaced)
    staged = None
    if fast and text.width == len(text.columns):
        staged = _fast_csv(text.path, berkas, text.columns, text.delimiter, out, text.lines, max_field)
    if staged is None:
        staged, multibyte = _CarefulCsv(berkas, text, text.read_encoding, max_field).read(text.path, out)
        bad = [r.baris for r in staged.rejects if r.kode == "encoding_invalid"]
        if declared == "auto" and text.encoding == "utf-8" and bad and not multibyte:
            # the sample was plain ASCII, later lines are not UTF-8 and no line is UTF-8 beyond ASCII: the
            # file is in a legacy encoding after all (a file mixing both keeps UTF-8 and quarantines the
            # other lines)
            legacy = detect_encoding(_line_bytes(text.path, set(bad)), "auto")
            out.unlink()
            staged, _ = _CarefulCsv(berkas, text, legacy, max_field).read(text.path, out)
            notes.append(
                f"{berkas}: line {bad[0]}: not UTF-8 though the first {SAMPLE_BYTES:,} bytes are ASCII; "
                f"read as {legacy}"
            )
            text.encoding = legacy
        if staged.rows == 0 and not staged.rejects:
            raise FileError(f"{berkas}: header only, no data rows (only blank lines after the header)")
    staged.encoding = text.encoding
    if text.copied:
        staged.text = text.path
        staged.text_encoding = "utf-8" if text.encoding.startswith(("utf-16", "utf-32")) else staged.encoding
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


def _fast_csv(
    path: Path, berkas: str, columns: list[str], delimiter: str, out: Path, lines: int, max_field: int
) -> StagedFile | None:
    """DuckDB's strict parallel reader; ``None`` when the file needs the careful path."""
    col_types = "{" + ", ".join(f"{quote_literal(c)}: 'VARCHAR'" for c in columns) + "}"
    # one sequential pass (parallel=false keeps row_number() in line order); work files use snappy
    source = (
        f"read_csv({quote_literal(path)}, delim={quote_literal(delimiter)}, quote='\"', escape='\"', "
        f"header=true, columns={col_types}, strict_mode=true, null_padding=false, parallel=false, "
        f"max_line_size={max(max_field * 4, 2_097_152)})"
    )
    select = ", ".join(f"NULLIF({quote_ident(c)}, '') AS {quote_ident(c)}" for c in columns)
    length_check = " OR ".join(f"length({quote_ident(c)}) > {max_field}" for c in columns)
    con = duckdb_connect()
    try:
        con.execute(
            f"COPY (SELECT {select}, CAST(row_number() OVER () + 1 AS BIGINT) AS _baris FROM {source}) "  # noqa: S608 - names quoted
            f"TO {quote_literal(out)} (FORMAT parquet, COMPRESSION snappy)"
        )
        rows, oversized = con.execute(
            f"SELECT count(*), count(*) FILTER (WHERE {length_check}) FROM read_parquet({quote_literal(out)})"  # noqa: S608 - names quoted
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


class _CarefulCsv:
    """The careful CSV path, line by line: a record is one physical line, or several while a quoted
    field is open. A record that cannot be read is rejected whole (first line number, raw text) and
    reading resumes after it. ``pending`` holds the lines of the record being read."""

    def __init__(self, berkas: str, text: DelimitedText, encoding: str, max_field: int) -> None:
        self.berkas, self.columns, self.delimiter, self.encoding = (
            berkas,
            text.columns,
            text.delimiter,
            encoding,
        )
        self.max_field, self.width = max_field, text.width
        # a UTF-16/32 file read from its UTF-8 copy: U+FFFD stands for a sequence that did not decode
        self.replaced_from = text.encoding if text.replaced else None
        self.limit = max(max_field * (self.width + 1), 2_097_152)  # bytes of one physical line held in memory
        self.rejects: list[Reject] = []
        self.pending: list[tuple[int, str, str | None]] = []
        self.writer: ColumnWriter | None = None
        if csv.field_size_limit() < self.limit:
            csv.field_size_limit(
                self.limit
            )  # oversized fields are reported as field_too_long, not csv errors

    def read(self, path: Path, out: Path) -> tuple[StagedFile, bool]:
        """Stage ``path`` into ``out``; also says whether some line decoded to more than ASCII."""
        self.writer = ColumnWriter(out, self.columns)
        multibyte = False
        for number, text, problem, overlong in _physical_lines(path, self.encoding, self.limit):
            multibyte = multibyte or (problem is None and not overlong and not text.isascii())
            if number == 1:
                continue
            if overlong:  # only its first ``limit`` bytes were read: reject it on its own
                while self.pending:
                    self._resync()
                self._overlong(number, text)
                continue
            self._feed(number, text, problem)
        while self.pending:
            self._resync(end=True)
        rows = self.writer.close()
        staged = StagedFile(self.berkas, out, rows, self.columns, self.encoding, self.delimiter, self.rejects)
        return staged, multibyte

    def _reject(self, line: int, kolom: str | None, kode: str, pesan: str, raw: str) -> None:
        raw = _printable(raw, self.encoding)[:RAW_KEEP_CHARS]
        self.rejects.append(
            Reject(self.berkas, line, kolom, kode, f"{self.berkas}: line {line}: {pesan}", raw)
        )

    def _parse(self, text: str) -> list[str]:
        return next(csv.reader(io.StringIO(text), delimiter=self.delimiter, strict=True), [])

    def _well_formed(self, text: str) -> bool:
        try:
            return len(self._parse(text)) == self.width
        except csv.Error:
            return False

    def _overlong(self, number: int, text: str) -> None:
        lengths = _field_lengths(text, self.delimiter)[: self.width]
        index = next((i for i, n in enumerate(lengths) if n > self.max_field), len(lengths) - 1)
        kolom = self.columns[min(index, len(self.columns) - 1)]
        message = f"the line is longer than {self.limit:,} bytes (column {kolom})"
        self._reject(number, kolom, "field_too_long", message, text)

    def _emit(self, first_line: int, text: str, problems: list[tuple[int, str]]) -> None:
        """One complete record: a staged row, or a reject saying why not."""
        if problems:
            kolom = None
            try:
                record = self._parse(text)
                if len(record) == self.width:
                    pairs = zip(self.columns, record, strict=False)
                    kolom = next((c for c, v in pairs if _SURROGATE.search(v)), None)
            except csv.Error:
                pass
            where = f" (line {problems[0][0]})" if problems[0][0] != first_line else ""
            self._reject(first_line, kolom, "encoding_invalid", problems[0][1] + where, text)
            return
        try:
            record = self._parse(text)
        except csv.Error as exc:
            self._reject(first_line, None, "csv_malformed", str(exc), text)
            return
        if len(record) != self.width:
            what = "fewer" if len(record) < self.width else "more"
            message = f"{len(record)} fields, {what} than the {self.width} in the header"
            message += " (truncated line?)" if len(record) < self.width else ""
            self._reject(first_line, None, "field_count", message, text)
            return
        record, unnamed = record[: len(self.columns)], record[len(self.columns) :]
        if any(v.strip() for v in unnamed):
            message = f"a value after the last named column (the header names {len(self.columns)})"
            self._reject(first_line, None, "field_count", message, text)
            return
        for col, value in zip(self.columns, record, strict=True):
            if len(value) > self.max_field:
                message = f"column {col} has {len(value):,} characters (limit {self.max_field:,})"
                self._reject(first_line, col, "field_too_long", message, text)
                return
        nul = [c for c, v in zip(self.columns, record, strict=True) if "\x00" in v]
        if nul:
            message = f"NUL byte in column(s) {', '.join(nul)}"
            self._reject(first_line, nul[0], "nul_byte", message, text.replace("\x00", "\\x00"))
            return
        bad = [c for c, v in zip(self.columns, record, strict=True) if "\ufffd" in v]
        if bad and self.replaced_from is not None:
            message = f"a sequence that is not valid {self.replaced_from} in column {bad[0]}"
            self._reject(first_line, bad[0], "encoding_invalid", message, text)
            return
        assert self.writer is not None
        self.writer.add([v if v != "" else None for v in record], first_line)

    def _feed(self, number: int, text: str, problem: str | None) -> None:
        if not self.pending and problem is None and text.strip() == "":
            return  # blank line
        self.pending.append((number, text, problem))
        joined = "\n".join(t for _, t, _ in self.pending)
        if joined.count('"') % 2 == 0:
            if len(self.pending) > 1 and not self._well_formed(joined):
                self._resync()  # the quote that opened this record was a stray one closed by a later line's
                return
            record, self.pending = self.pending, []
            self._emit(record[0][0], joined, [(n, p) for n, _, p in record if p is not None])
        elif len(self.pending) >= MAX_RECORD_LINES or len(joined) > self.limit:
            self._resync()

    def _resync(self, end: bool = False) -> None:
        """The first pending line opens a quote that never closes: reject it (or, when it reads well on its
        own, a stray quote inside an unquoted field, keep it), then re-read the lines after it."""
        (first, text, problem), rest = self.pending[0], self.pending[1:]
        self.pending = []
        if self._well_formed(text):
            self._emit(first, text, [] if problem is None else [(first, problem)])
        else:
            message = "a quoted field is never closed" + (" (end of file)" if end else "")
            self._reject(first, None, "unbalanced_quote", message, text)
        for number, line, issue in rest:
            self._feed(number, line, issue)


# --- XLSX and Parquet -----------------------------------------------------------------------------


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
        writer = ColumnWriter(out, columns)
        rejects: list[Reject] = []
        width = len(columns)
        for number, row in enumerate(rows, start=2):
            values = [_cell_text(v) for v in row[:width]]
            extra = [v for v in row[width:] if v not in (None, "")]
            if all(v is None for v in values) and not extra:
                continue
            values += [None] * (width - len(values))
            limit = mapping.read.max_field_bytes
            long = next(
                (c for c, v in zip(columns, values, strict=True) if v is not None and len(v) > limit), None
            )
            if extra:
                kolom, kode, problem = None, "field_count", "values beyond the last header column"
            elif long:
                kolom, kode, problem = long, "field_too_long", f"column {long} is too long"
            else:
                writer.add(values, number)
                continue
            message = f"{berkas}: row {number}: {problem}"
            rejects.append(Reject(berkas, number, kolom, kode, message, repr(row)[:RAW_KEEP_CHARS]))
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
    select = ", ".join(f"NULLIF(CAST({quote_ident(c)} AS VARCHAR), '') AS {quote_ident(c)}" for c in columns)
    con = duckdb_connect()
    try:
        con.execute("SET preserve_insertion_order = true")
        con.execute(
            f"COPY (SELECT {select}, CAST(row_number() OVER () AS BIGINT) AS _baris "  # noqa: S608 - names quoted by dtsen.sql
            f"FROM read_parquet({quote_literal(path)})) "
            f"TO {quote_literal(out)} (FORMAT parquet, COMPRESSION zstd)"
        )
        rows = con.execute(f"SELECT count(*) FROM read_parquet({quote_literal(out)})").fetchone()[0]  # type: ignore[index]  # noqa: S608 - names quoted by dtsen.sql
    finally:
        con.close()
    if rows == 0:
        raise FileError(f"{berkas}: no data rows")
    return StagedFile(berkas, out, int(rows), columns, "parquet", None, [], notes, fast_path=True)
