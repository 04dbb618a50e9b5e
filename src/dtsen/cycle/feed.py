"""Reading and validating input feeds (event and correction files) with quarantine of bad rows.

Both feeds are CSV (header on line 1; encoding and delimiter detected by the ingest readers) or
Parquet, read as text and checked row by row; a row with any error (or a line that cannot be read: too
few fields, a NUL byte) goes to quarantine with the file, line, column, a reason code and a message, and
every other row is used. Nothing is lost: a quarantined row is kept with its values for correction.
"""

from __future__ import annotations

import json
import tempfile
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


FEED_MAX_FIELD = 1 << 16  # characters of one value; a longer one rejects its line (field_too_long)


def read_rows(
    path: Path, required: tuple[str, ...]
) -> tuple[list[tuple[int, dict[str, str | None]]], list[dict[str, Any]]]:
    """Rows of a feed file as text with their line numbers (CSV: the physical line, header line 1;
    Parquet: the row from 1), and the quarantine rows of the lines that could not be read at all.

    CSV is read by the ingest readers (:mod:`dtsen.sources.readers`): encoding (UTF-8, UTF-16/32,
    legacy) and delimiter detected, CR-only lines read, a truncated or NUL-holding line quarantined
    with its number. A file that cannot be used is a :class:`FeedError` naming it (and the line).
    """
    path = Path(path)
    if not path.is_file():
        raise FeedError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise FeedError(f"{path}: empty file (0 bytes)")
    if path.suffix.lower() == ".parquet":
        try:
            frame = pl.read_parquet(path).with_columns(pl.all().cast(pl.String))
        except (pl.exceptions.PolarsError, OSError) as exc:
            raise FeedError(f"{path}: not a readable Parquet file ({exc})") from exc
        columns = _feed_columns(path, frame.columns, required)
        rows = frame.rename(dict(zip(frame.columns, columns, strict=True))).to_dicts()
        return list(enumerate(rows, start=1)), []
    return _read_csv(path, required)


def _feed_columns(path: Path, names: list[str], required: tuple[str, ...]) -> list[str]:
    """The header as the feed reads it (trimmed, lower case); missing or repeated columns are fatal."""
    columns = [c.strip().lower() for c in names]
    dupes = sorted({c for c in columns if columns.count(c) > 1})
    if dupes:
        raise FeedError(f"{path}: line 1: duplicate column name(s): {', '.join(dupes)}")
    missing = [c for c in required if c not in columns]
    if missing:
        raise FeedError(
            f"{path}: missing column(s) {', '.join(missing)} in the header (line 1; "
            "see docs/events-and-corrections.md)"
        )
    return columns


def _read_csv(
    path: Path, required: tuple[str, ...]
) -> tuple[list[tuple[int, dict[str, str | None]]], list[dict[str, Any]]]:
    from dtsen.sources.readers import FileError, open_delimited, read_delimited

    with tempfile.TemporaryDirectory(prefix="dtsen-feed-") as tmp:
        try:
            text = open_delimited(path, str(path), "auto", "auto", Path(tmp))
            if not text.columns:
                raise FileError(f"{path}: line 1: no header")
            columns = _feed_columns(path, text.columns, required)
            if text.lines <= 1:
                return [], []
            staged = read_delimited(text, path.name, Path(tmp) / "feed.parquet", FEED_MAX_FIELD, "auto", [])
        except FileError as exc:
            raise FeedError(str(exc)) from exc
        frame = pl.read_parquet(staged.parquet)
    names = dict(zip(text.columns, columns, strict=True))
    lines = frame["_baris"].to_list()
    rows = frame.drop("_baris").rename(names).to_dicts()
    bad = [
        {
            "berkas": r.berkas,
            "baris": r.baris,
            "kolom": names.get(r.kolom or "", r.kolom),
            "kode": r.kode,
            "pesan": r.pesan,
            "raw": r.raw,
        }
        for r in staged.rejects
    ]
    return list(zip(lines, rows, strict=True)), bad


def quarantine_rows(path: Path, line: int, check: RowCheck) -> list[dict[str, Any]]:
    raw = json.dumps(check.row, ensure_ascii=False, default=str)
    return [
        {
            "berkas": Path(path).name,
            "baris": line,
            "kolom": p.column,
            "kode": p.code,
            "pesan": p.message,
            "raw": raw,
        }
        for p in check.problems
    ]


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
        rows, unreadable = read_rows(path, required)
        bad.extend(unreadable)
        for line, row in rows:
            parsed, check = parse(row)
            if parsed[key] is not None and parsed[key] in seen:
                check.fail(key, FeedProblem.ID_GANDA, f"{key} repeats an earlier {noun}")
            if check.problems:
                bad.extend(quarantine_rows(path, line, check))
                continue
            seen.add(parsed[key])
            good.append({**parsed, "berkas": path.name, "baris": line})
    return schema.frame(good), FEED_QUARANTINE.frame(bad), len(files)
