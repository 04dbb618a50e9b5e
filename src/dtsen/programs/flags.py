"""Externally supplied flag lists (PPATK and the like): NIKs or KK numbers a program must not pay blindly.

A list is a CSV or Parquet file with a ``nik`` and/or ``no_kk`` column (other columns are kept out of the
pipeline). Every value is checked like an ingested identifier; one bad value rejects the whole list with
the file, line and column, because a silently shortened flag list would pay people it meant to stop.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pyarrow as pa

from dtsen.programs.definition import CODE_RE
from dtsen.reference.nik import check_kk, check_nik

MAX_REPORTED = 20


class FlagListError(ValueError):
    """A flag list that cannot be used; the message names the file, line and column."""


@dataclass(frozen=True)
class FlagList:
    name: str  # the code programs refer to (``list: ppatk``)
    nik: tuple[str, ...]
    no_kk: tuple[str, ...]
    source: str

    def tables(self) -> tuple[pa.Table, pa.Table]:
        """(NIKs, KK numbers) as one-column Arrow tables for the engine."""
        return (
            pa.table({"nik": pa.array(sorted(set(self.nik)), pa.string())}),
            pa.table({"no_kk": pa.array(sorted(set(self.no_kk)), pa.string())}),
        )


def _read(path: Path) -> tuple[pl.DataFrame, int]:
    """The file as text columns and the line number of its first row (2 for CSV: header is line 1)."""
    if path.suffix.lower() == ".parquet":
        frame = pl.read_parquet(path)
        return frame.with_columns(pl.all().cast(pl.String)), 1
    try:
        return pl.read_csv(path, infer_schema=False, encoding="utf8-lossy"), 2
    except (pl.exceptions.ComputeError, pl.exceptions.NoDataError) as exc:
        raise FlagListError(f"{path}: not a readable CSV ({exc})") from exc


def load_flag_list(path: Path, name: str | None = None) -> FlagList:
    """A flag list from ``path``; its name is ``name`` or the file stem (e.g. ``ppatk.csv`` -> ppatk)."""
    path = Path(path)
    name = name or path.stem.lower()
    if not CODE_RE.match(name):
        raise FlagListError(f"{path}: list name {name!r} must be lower-case letters, digits and _")
    if not path.is_file():
        raise FlagListError(f"{path}: no such file")
    frame, first_line = _read(path)
    frame = frame.rename({c: c.strip().lower() for c in frame.columns})
    columns = [c for c in ("nik", "no_kk") if c in frame.columns]
    if not columns:
        raise FlagListError(f"{path}: needs a nik or no_kk column (has {', '.join(frame.columns)})")
    problems: list[str] = []
    values: dict[str, list[str]] = {c: [] for c in ("nik", "no_kk")}
    rows = frame.select(columns).iter_rows()
    for i, row in enumerate(rows):
        line = first_line + i
        cells = dict(zip(columns, row, strict=True))
        if all(v is None or not str(v).strip() for v in cells.values()):
            problems.append(f"line {line}: no nik or no_kk")
            continue
        for column, raw in cells.items():
            if raw is None or not str(raw).strip():
                continue
            check = check_nik(raw) if column == "nik" else check_kk(raw)
            if not check.valid or check.digits is None:
                problems.append(f"line {line}, {column}: {', '.join(check.codes) or 'invalid'}")
            else:
                values[column].append(check.digits)
    if problems:
        more = f" (and {len(problems) - MAX_REPORTED} more)" if len(problems) > MAX_REPORTED else ""
        raise FlagListError(f"{path}: {len(problems)} bad row(s): {'; '.join(problems[:MAX_REPORTED])}{more}")
    return FlagList(name, tuple(values["nik"]), tuple(values["no_kk"]), str(path))
