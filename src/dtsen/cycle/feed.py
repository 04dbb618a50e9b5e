"""Reading and validating input feeds (event and correction files) with quarantine of bad rows.

Both feeds are CSV (UTF-8, header on line 1) or Parquet, read as text and checked row by row; a row
with any error goes to quarantine with the file, line, column, a reason code and a message, and every
other row is used. Nothing is lost: a quarantined row is kept with its values for correction.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

QUARANTINE_SCHEMA: dict[str, pl.DataType] = {
    "berkas": pl.String(),
    "baris": pl.Int64(),
    "kolom": pl.String(),
    "kode": pl.String(),
    "pesan": pl.String(),
    "raw": pl.String(),
}


class FeedError(ValueError):
    """A feed file that cannot be read at all (missing, not CSV/Parquet, no header, missing columns)."""


@dataclass
class Problem:
    column: str
    code: str
    message: str


@dataclass
class RowCheck:
    """Collects the problems of one row while its values are parsed."""

    row: dict[str, str | None]
    problems: list[Problem] = field(default_factory=list)

    def text(self, column: str, *, required: bool = False) -> str | None:
        value = self.row.get(column)
        value = None if value is None else str(value).strip()
        if not value:
            if required:
                self.problems.append(Problem(column, "wajib_kosong", f"{column} is required"))
            return None
        return value

    def date(self, column: str, *, required: bool = False) -> date | None:
        value = self.text(column, required=required)
        if value is None:
            return None
        try:
            return date.fromisoformat(value)
        except ValueError:
            self.problems.append(
                Problem(column, "tanggal_tidak_valid", f"{column}: {value!r} is not YYYY-MM-DD")
            )
            return None

    def fail(self, column: str, code: str, message: str) -> None:
        self.problems.append(Problem(column, code, message))


def read_rows(path: Path, required: tuple[str, ...]) -> tuple[list[dict[str, str | None]], int]:
    """Rows of a feed file as text, with the line number of the first row (CSV 2, Parquet 1)."""
    path = Path(path)
    if not path.is_file():
        raise FeedError(f"{path}: no such file")
    try:
        if path.suffix.lower() == ".parquet":
            frame, first = pl.read_parquet(path).with_columns(pl.all().cast(pl.String)), 1
        else:
            frame, first = pl.read_csv(path, infer_schema=False, encoding="utf8"), 2
    except (pl.exceptions.PolarsError, OSError, UnicodeDecodeError) as exc:
        raise FeedError(f"{path}: not a readable CSV/Parquet file ({exc})") from exc
    frame = frame.rename({c: c.strip().lower() for c in frame.columns})
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise FeedError(
            f"{path}: missing column(s) {', '.join(missing)} (see docs/events-and-corrections.md)"
        )
    return frame.to_dicts(), first


def quarantine_rows(path: Path, line: int, check: RowCheck) -> list[dict[str, Any]]:
    raw = json.dumps(check.row, ensure_ascii=False, default=str)
    return [{"berkas": Path(path).name, "baris": line, "kolom": p.column, "kode": p.code, "pesan": p.message,
             "raw": raw} for p in check.problems]  # fmt: skip


def quarantine_frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    return (
        pl.DataFrame(rows, schema=QUARANTINE_SCHEMA, orient="row")
        if rows
        else pl.DataFrame(schema=QUARANTINE_SCHEMA)
    )
