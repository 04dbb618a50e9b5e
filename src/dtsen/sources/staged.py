"""What staging a file produces: the staged Parquet table of text columns (and its writer), the
structural rejects, and the error for a file that cannot be used at all."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from dtsen.engine import local_duckdb

FLUSH_ROWS = 100_000
RAW_KEEP_CHARS = 20_000  # raw text kept for a rejected row (the landed file keeps every byte)


# DuckDB connections for reading, deduplicating and counting: streaming work that needs little memory.
# Without a limit DuckDB keeps buffering up to 80% of RAM (a 1 M-row staging held 1.2 GB), so the
# process would grow with the file; with one it spills or streams instead.
HELPER_MEMORY = "512MB"


def duckdb_connect() -> duckdb.DuckDBPyConnection:
    """A private DuckDB connection with :data:`HELPER_MEMORY` as its memory limit (DuckDB whatever the batch
    engine: staging reads local files line by line, see :func:`dtsen.engine.local_duckdb`)."""
    return local_duckdb(memory_limit=HELPER_MEMORY)


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
    # A UTF-16/32 or CR-only file is read from a UTF-8 copy with LF line ends (same line numbers): raw
    # lines for quarantine come from that copy, not from the landed bytes.
    text: Path | None = None
    text_encoding: str | None = None

    def lines_source(self, landed: Path) -> tuple[Path, str]:
        """The file whose physical lines ``_baris`` numbers, and its encoding."""
        if self.text is not None:
            return self.text, self.text_encoding or self.encoding
        return landed, self.encoding


class ColumnWriter:
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
