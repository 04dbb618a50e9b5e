"""``dtsen synth``: plan chunks of kabupaten, generate each, write every source and the truth, atomically.

Output goes to a hidden sibling directory first and is renamed into place at the end, so an
interrupted run never leaves a half-written dataset where a finished one is expected.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import polars as pl
import pyarrow.parquet as pq

from dtsen import __version__, atomic
from dtsen.atomic import sha256_file
from dtsen.config import get_settings
from dtsen.logs import configure_logging, get_logger
from dtsen.synth import calibration as calib_mod
from dtsen.synth.calibration import Calibration
from dtsen.synth.geography import allocate, select_kabupaten
from dtsen.synth.params import SynthParams
from dtsen.synth.population import generate_chunk
from dtsen.synth.sources import SOURCES, ChunkSources

log = get_logger(__name__)
Format = Literal["csv", "parquet", "xlsx"]
XLSX_MAX_ROWS = 1_048_575


class SynthError(ValueError):
    """A request the generator cannot satisfy (bad region code, output exists, xlsx too large)."""


@dataclass
class SynthRequest:
    persons: int
    out: Path
    seed: int = 1
    provinces: list[str] | None = None
    kabupaten: list[str] | None = None
    fmt: Format = "csv"
    force: bool = False
    workers: int = 2
    params: SynthParams = field(default_factory=SynthParams)


def plan(
    persons: int, provinces: list[str] | None, kabupaten: list[str] | None, chunk_persons: int
) -> list[pl.DataFrame]:
    """Persons per kabupaten (proportional to Dukcapil population), grouped into chunks of whole kabupaten."""
    if persons < 1:
        raise SynthError("--persons must be at least 1")
    try:
        kab = select_kabupaten(provinces, kabupaten)
    except ValueError as exc:
        raise SynthError(str(exc)) from exc
    n = allocate(persons, kab["total"].to_numpy().astype(float))
    kab = kab.with_columns(pl.Series("n", n)).filter(pl.col("n") > 0)
    chunks: list[pl.DataFrame] = []
    start, acc = 0, 0
    counts = kab["n"].to_list()
    for i, c in enumerate(counts):
        acc += c
        if acc >= chunk_persons or i == len(counts) - 1:
            chunks.append(kab[start : i + 1])
            start, acc = i + 1, 0
    return chunks


def _chunk_tables(args: tuple[pl.DataFrame, int, SynthParams, Calibration, int]) -> dict[str, Any]:
    kab, index, params, calibration, seed = args
    pop = generate_chunk(kab, index, params, calibration, seed)
    sources = ChunkSources(pop, params, index, seed)
    tables = {name: build() for name, build in sources.builders().items()}
    return {
        "families": pop.families_frame(),
        "persons": pop.persons_frame(),
        "sources": {name: (t.rows, t.truth) for name, t in tables.items()},
    }


def _pilot_families(args: tuple[pl.DataFrame, int, SynthParams, Calibration, int]) -> dict[str, np.ndarray]:
    kab, index, params, calibration, seed = args
    pop = generate_chunk(kab, index, params, calibration, seed)
    return {k: pop.families[k] for k in ("log_consumption", "kode_desa", "size")}


def _run_chunks(fn: Callable[[Any], Any], jobs: list[Any], workers: int) -> Iterator[Any]:
    """Chunks in order; in worker processes when asked (generation is CPU-bound NumPy)."""
    if workers <= 1 or len(jobs) <= 1:
        yield from map(fn, jobs)
        return
    # spawn, not fork: forking a process that has started Polars' thread pool can deadlock
    settings = get_settings()
    with ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=configure_logging,  # workers log through the same masking handler
        initargs=(settings.log_level, settings.log_format),
    ) as pool:
        yield from pool.map(fn, jobs)


def pilot_population(
    persons: int, seed: int, params: SynthParams, calibration: Calibration
) -> dict[str, np.ndarray]:
    """National family-level sample used only to calibrate the welfare model."""
    chunks = plan(persons, None, None, params.chunk_persons)
    jobs = [(kab, i, params, calibration, seed) for i, kab in enumerate(chunks)]
    parts = list(_run_chunks(_pilot_families, jobs, 2))
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


class TableWriter:
    """Appends chunks of one table to CSV, Parquet or XLSX, keeping the schema of the first chunk."""

    def __init__(self, path: Path, fmt: Format) -> None:
        self.path, self.fmt = path, fmt
        self.rows = 0
        self._schema: dict[str, pl.DataType] | None = None
        self._handle: Any = None

    def write(self, frame: pl.DataFrame) -> None:
        if self._schema is None:
            self._schema = dict(frame.schema)
        else:
            frame = frame.cast(self._schema)  # type: ignore[arg-type]
        if self.fmt == "csv":
            if self._handle is None:
                self._handle = open(self.path, "wb")  # noqa: SIM115 - closed in close()
                frame.write_csv(self._handle, include_header=True)
            else:
                frame.write_csv(self._handle, include_header=False)
        elif self.fmt == "parquet":
            table = frame.to_arrow()
            if self._handle is None:
                self._handle = pq.ParquetWriter(self.path, table.schema, compression="zstd")
            self._handle.write_table(table)
        else:
            if self.rows + frame.height > XLSX_MAX_ROWS:
                raise SynthError(
                    f"{self.path.name}: more than {XLSX_MAX_ROWS:,} rows do not fit in one Excel sheet; use "
                    "--format csv or parquet"
                )
            if self._handle is None:
                from openpyxl import Workbook

                self._handle = Workbook(write_only=True)
                self._sheet = self._handle.create_sheet(self.path.stem[:31])
                self._sheet.append(frame.columns)
            for row in frame.iter_rows():
                self._sheet.append(["" if v is None else v for v in row])
        self.rows += frame.height

    def close(self) -> None:
        if self._handle is None:
            return
        if self.fmt == "xlsx":
            self._handle.save(self.path)
        else:
            self._handle.close()


def generate(
    request: SynthRequest, progress: Callable[[int, int, int], None] | None = None
) -> dict[str, Any]:
    """Generate the dataset; returns the manifest. ``progress(done_chunks, total_chunks, persons_done)``."""
    out = request.out
    if out.exists() and any(out.iterdir()) and not request.force:
        raise SynthError(f"{out} exists and is not empty; use --force to replace it")
    calibration = calib_mod.load()
    params = request.params
    chunks = plan(request.persons, request.provinces, request.kabupaten, params.chunk_persons)
    staging = atomic.staging_dir(out)
    (staging / "sources").mkdir()
    (staging / "truth").mkdir()
    ext = {"csv": "csv", "parquet": "parquet", "xlsx": "xlsx"}[request.fmt]
    writers = {name: TableWriter(staging / "sources" / f"{name}.{ext}", request.fmt) for name in SOURCES}
    truth_writers = {
        "persons": TableWriter(staging / "truth" / "persons.parquet", "parquet"),
        "families": TableWriter(staging / "truth" / "families.parquet", "parquet"),
        **{name: TableWriter(staging / "truth" / f"links_{name}.parquet", "parquet") for name in SOURCES},
    }
    jobs = [(kab, i, params, calibration, request.seed) for i, kab in enumerate(chunks)]
    done_persons = 0
    first_line = (
        1 if request.fmt == "parquet" else 2
    )  # baris: line number with the header as line 1, as ingestion counts
    try:
        for i, result in enumerate(_run_chunks(_chunk_tables, jobs, request.workers)):
            truth_writers["persons"].write(result["persons"])
            truth_writers["families"].write(result["families"])
            for name, (rows, truth) in result["sources"].items():
                offset = writers[name].rows
                writers[name].write(rows)
                truth = truth.with_columns(
                    pl.Series("baris", first_line + np.arange(offset, offset + rows.height, dtype=np.int64))
                )
                truth_writers[name].write(truth.with_columns(pl.lit(f"{name}.{ext}").alias("berkas")))
            done_persons += int(chunks[i]["n"].sum())
            if progress:
                progress(i + 1, len(chunks), done_persons)
        for w in [*writers.values(), *truth_writers.values()]:
            w.close()
        manifest = _manifest(request, staging, writers, truth_writers, calibration, ext)
        (staging / "manifest.json").write_text(
            json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
    except BaseException:
        for w in [*writers.values(), *truth_writers.values()]:
            with contextlib.suppress(Exception):  # cleaning up after the real error, which is re-raised
                w.close()
        atomic.remove_tree(staging)
        raise
    atomic.commit_dir(staging, out)
    log.info("synthetic population written", persons=request.persons, chunks=len(chunks), out=str(out))
    return manifest


def _manifest(
    request: SynthRequest,
    staging: Path,
    writers: dict[str, TableWriter],
    truth: dict[str, TableWriter],
    calibration: Calibration,
    ext: str,
) -> dict[str, Any]:
    files = []
    for name, w in writers.items():
        files.append(
            {
                "path": f"sources/{name}.{ext}",
                "kind": "source",
                "source": SOURCES[name],
                "table": name,
                "format": request.fmt,
                "rows": w.rows,
                "sha256": sha256_file(w.path),
            }
        )
    for name, w in truth.items():
        files.append(
            {
                "path": f"truth/{w.path.name}",
                "kind": "truth",
                "table": name,
                "format": "parquet",
                "rows": w.rows,
                "sha256": sha256_file(w.path),
            }
        )
    return {
        "generator": f"dtsen {__version__}",
        "seed": request.seed,
        "persons": request.persons,
        "provinces": request.provinces,
        "kabupaten": request.kabupaten,
        "format": request.fmt,
        "reference_date": request.params.reference_date.isoformat(),
        "files": files,
        "params": request.params.model_dump(mode="json"),
        "calibration": {
            "noise_sd": calibration.noise_sd,
            "pilot_persons": calibration.pilot_persons,
            "pilot_seed": calibration.pilot_seed,
        },
    }
