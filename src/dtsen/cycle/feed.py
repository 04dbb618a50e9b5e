"""Reading and validating input feeds (event and correction files) with quarantine of bad rows.

Both feeds are CSV (UTF-8, header on line 1) or Parquet, read as text and checked row by row; a row
with any error goes to quarantine with the file, line, column, a reason code and a message, and every
other row is used. Nothing is lost: a quarantined row is kept with its values for correction.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from dtsen.reference import regions
from dtsen.tables import FEED_QUARANTINE, Contract, FeedProblem


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
                self.problems.append(Problem(column, FeedProblem.WAJIB_KOSONG, f"{column} is required"))
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
                Problem(column, FeedProblem.TANGGAL_TIDAK_VALID, f"{column}: {value!r} is not YYYY-MM-DD")
            )
            return None

    def kind(self, kinds: tuple[str, ...], normalize: Callable[[str], str]) -> str:
        """The required ``jenis`` in the letter case its feed uses (``normalize``), one of ``kinds``."""
        kind = normalize(self.text("jenis", required=True) or "")
        if kind and kind not in kinds:
            self.fail("jenis", FeedProblem.JENIS_TIDAK_DIKENAL, f"jenis {kind!r}: one of {', '.join(kinds)}")
        return kind

    def fail(self, column: str, code: str, message: str) -> None:
        self.problems.append(Problem(column, code, message))


def village_code(text: str) -> str | None:
    """The 10-digit code of an existing village written as ``text`` (dotted or not), else None."""
    code = regions.normalize_code(text)
    return code if code is not None and len(code) == 10 and regions.exists(code) else None


def rt_rw(text: str) -> str | None:
    """An RT or RW number as the registry stores it (zero-padded to three digits), None if not digits."""
    return text.zfill(3) if text.isdigit() else None


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


Parser = Callable[[dict[str, str | None]], tuple[dict[str, Any], RowCheck]]


def read_feed(
    paths: Path | str | Sequence[Path | str],
    *,
    required: tuple[str, ...],
    parse: Parser,
    key: str,
    noun: str,
    schema: Contract,
) -> tuple[pl.DataFrame, pl.DataFrame, int]:
    """Check every row of the feed files with ``parse``: (valid rows as ``schema``, quarantine, files).

    A row whose ``key`` repeats an earlier valid row is quarantined (``id_ganda``) so a resent row is
    never applied twice; valid rows keep their file and line (``berkas``, ``baris``) for provenance.
    """
    files = [paths] if isinstance(paths, Path | str) else list(paths)
    good: list[dict[str, Any]] = []
    bad: list[dict[str, Any]] = []
    seen: set[str] = set()
    for file in files:
        path = Path(file)
        rows, first = read_rows(path, required)
        for i, row in enumerate(rows):
            parsed, check = parse(row)
            if parsed[key] is not None and parsed[key] in seen:
                check.fail(key, FeedProblem.ID_GANDA, f"{key} repeats an earlier {noun}")
            if check.problems:
                bad.extend(quarantine_rows(path, first + i, check))
                continue
            seen.add(parsed[key])
            good.append({**parsed, "berkas": path.name, "baris": first + i})
    return schema.frame(good), FEED_QUARANTINE.frame(bad), len(files)
