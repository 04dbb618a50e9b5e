"""``dtsen ingest``: land files immutably, conform them to the canonical model, quarantine what fails.

A batch is one mapping applied to one or more files. Everything is built in a hidden staging
directory and published by one rename of ``batches/<batch_id>``, so a crash or a fatal error leaves no
half-ingested batch and every earlier batch untouched. A file whose content was already landed for the
same mapping is skipped and said so; a batch with nothing new is a no-op.
"""

from __future__ import annotations

import csv
import getpass
import hashlib
import io
import json
import os
import re
import shutil
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pyarrow as pa

from dtsen.canonical import ENTITIES
from dtsen.config import get_settings
from dtsen.engine import Engine, get_engine
from dtsen.logs import get_logger, log_context
from dtsen.reference import regions
from dtsen.sources.mapping import Mapping, resolve_mapping
from dtsen.sources.readers import (
    RAW_KEEP_CHARS,
    FileError,
    Reject,
    StagedFile,
    bounded_lines,
    duckdb_ident,
    stage_file,
)
from dtsen.sources.transform import Context, conform, derive, flags_of, prepare, text

log = get_logger(__name__)
BATCH_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,80}$")
QUARANTINE_SCHEMA = pa.schema(
    [
        ("berkas", pa.string()),
        ("baris", pa.int64()),
        ("kolom", pa.string()),
        ("kode", pa.string()),
        ("pesan", pa.string()),
        ("raw", pa.string()),
    ]
)


class IngestError(ValueError):
    """The batch was not ingested; nothing was published. The message says which file and why."""


@dataclass
class BatchResult:
    batch_id: str
    mapping: str
    status: str  # committed | noop
    directory: Path | None
    report: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def batches_dir(data_dir: Path | None = None) -> Path:
    return (data_dir or get_settings().data_dir) / "batches"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def committed_batches(data_dir: Path | None = None) -> list[dict[str, Any]]:
    """Manifests of every published batch, oldest first."""
    root = batches_dir(data_dir)
    if not root.exists():
        return []
    out = []
    for d in sorted(root.iterdir()):
        manifest = d / "manifest.json"
        if d.is_dir() and not d.name.startswith(".") and manifest.exists():
            out.append(json.loads(manifest.read_text(encoding="utf-8")))
    return sorted(out, key=lambda m: m["created_at"])


def _landed_hashes(mapping: str, data_dir: Path | None) -> dict[str, str]:
    return {
        f["sha256"]: m["batch_id"]
        for m in committed_batches(data_dir)
        if m["mapping"] == mapping
        for f in m["files"]
    }


@cache
def _reference_arrow() -> tuple[pa.Table, pa.Table, frozenset[str]]:
    """The reference code tables, built once per process (the region data is cached and static)."""
    prefixes = sorted(regions.nik_prefixes())
    codes = sorted(set(regions.regions()["kode"].to_list()) | set(prefixes) | {p[:4] for p in prefixes})
    return pa.table({"kode": prefixes}), pa.table({"kode": codes}), frozenset(prefixes)


def reference_tables(engine: Engine) -> tuple[Any, Any, frozenset[str]]:
    prefixes, codes, prefix_codes = _reference_arrow()
    return engine.memtable(prefixes), engine.memtable(codes), prefix_codes


def ingest(
    mapping: Mapping | str,
    paths: list[Path],
    *,
    batch: str | None = None,
    data_dir: Path | None = None,
    engine: str | None = None,
    encoding: str | None = None,
    actor: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> BatchResult:
    """Land and conform ``paths`` with ``mapping``; returns the published batch (or a no-op)."""
    m = resolve_mapping(mapping) if isinstance(mapping, str) else mapping
    root = batches_dir(data_dir)
    if not paths:
        raise IngestError("no files given")
    for p in paths:
        if not p.is_file():
            raise IngestError(f"{p}: no such file")
    if batch is not None and not BATCH_NAME.fullmatch(batch):  # match() would let "name\n" through
        raise IngestError(f"batch name {batch!r}: use letters, digits, '.', '_' or '-' (max 81)")
    landed = _landed_hashes(m.name, data_dir)
    hashes = {p: sha256_file(p) for p in paths}
    notes = [
        f"{p.name}: already landed in batch {landed[h]} (same content); skipped"
        for p, h in hashes.items()
        if h in landed
    ]
    todo = [p for p in paths if hashes[p] not in landed]
    seen: dict[str, Path] = {}
    for p in list(todo):
        if hashes[p] in seen:
            notes.append(f"{p.name}: same content as {seen[hashes[p]].name} in this batch; skipped")
            todo.remove(p)
        seen.setdefault(hashes[p], p)
    if not todo:
        return BatchResult(batch or "", m.name, "noop", None, notes=notes)
    now = datetime.now(UTC)
    batch_id = batch or f"{now:%Y%m%dT%H%M%S}-{m.name}-{hashes[todo[0]][:8]}"
    final = root / batch_id
    if final.exists():
        raise IngestError(f"batch {batch_id} already exists; choose another --batch name")
    staging = root / f".staging-{batch_id}-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    (staging / "landing").mkdir(parents=True)
    (staging / "work").mkdir()
    (staging / "canonical").mkdir()
    started = time.perf_counter()
    try:
        with log_context(batch=batch_id, mapping=m.name):
            result = _run(m, todo, hashes, staging, batch_id, now, engine, encoding, actor, notes, progress)
        result["seconds"] = round(time.perf_counter() - started, 2)
        shutil.rmtree(staging / "work", ignore_errors=True)
        (staging / "report.json").write_text(
            json.dumps(result["report"], indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        (staging / "manifest.json").write_text(
            json.dumps(result["manifest"], indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        from dtsen.sources.report import write_html

        write_html(result["report"], staging / "report.html")
        staging.rename(final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    log.info("batch published", batch=batch_id, mapping=m.name, rows=result["report"]["rows_read"])
    return BatchResult(batch_id, m.name, "committed", final, result["report"], notes)


def _run(
    m: Mapping, paths: list[Path], hashes: dict[Path, str], staging: Path, batch_id: str, now: datetime,
    engine_name: str | None, encoding: str | None, actor: str | None, notes: list[str],
    progress: Callable[[str], None] | None,
) -> dict[str, Any]:  # fmt: skip
    eng = get_engine(engine_name)
    prefixes, region_codes, prefix_codes = reference_tables(eng)
    files_meta: list[dict[str, Any]] = []
    canonical_parts: list[Path] = []
    quarantine: list[pa.Table] = []
    per_file: list[dict[str, Any]] = []
    for path in paths:
        digest = hashes[path]
        landed = staging / "landing" / f"{digest[:16]}__{path.name}"
        shutil.copyfile(path, landed)
        landed.chmod(stat.S_IRUSR | stat.S_IRGRP)
        berkas = path.name
        work = staging / "work" / digest[:16]
        work.mkdir()
        if progress:
            progress(f"reading {berkas}")
        try:
            staged = stage_file(landed, berkas, m, work / "staged.parquet", encoding)
        except FileError as exc:
            raise IngestError(str(exc)) from exc
        _drop_duplicate_rows(staged, landed, work)
        ctx = Context(batch_id, berkas, now.date(), prefixes, region_codes, prefix_codes)
        if progress:
            progress(f"conforming {berkas} ({staged.rows:,} rows)")
        conformed = _conform_file(eng, m, ctx, staged, work)
        part, errors = _split(eng, conformed, work, m)
        canonical_parts.append(part)
        quarantine.append(_quarantine_rows(staged, errors, landed))
        files_meta.append(
            {
                "name": berkas, "sha256": digest, "bytes": path.stat().st_size, "landed": f"landing/{landed.name}",
                "rows": staged.rows + len(staged.rejects), "rows_staged": staged.rows, "structural_rejects": len(staged.rejects), "encoding": staged.encoding,
                "delimiter": staged.delimiter, "fast_path": staged.fast_path, "notes": staged.notes,
            }
        )  # fmt: skip
        per_file.append({"berkas": berkas, "conformed": conformed, "staged": staged})
    entity = ENTITIES[m.entity]
    out = staging / "canonical" / f"{entity.name}.parquet"
    _concat_parquet(canonical_parts, out)
    q = pa.concat_tables(quarantine) if quarantine else QUARANTINE_SCHEMA.empty_table()
    import pyarrow.parquet as pq

    pq.write_table(q, staging / "quarantine.parquet", compression="zstd")
    from dtsen.sources.report import batch_report

    report = batch_report(batch_id, m, per_file, q, notes)
    manifest = {
        "batch_id": batch_id,
        "mapping": m.name,
        "source": m.source,
        "entity": m.entity,
        "engine": eng.name,
        "actor": actor or _actor(),
        "created_at": now.isoformat(),
        "files": files_meta,
        "outputs": {"canonical": f"canonical/{entity.name}.parquet", "quarantine": "quarantine.parquet"},
        "rows": {"read": report["rows_read"], "accepted": report["accepted"], "rejected": report["rejected"]},
        "status": "committed",
    }
    return {"report": report, "manifest": manifest}


def _actor() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry in some containers
        return "unknown"


def _sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _drop_duplicate_rows(staged: StagedFile, landed: Path, work: Path) -> None:
    """Rows identical in every column to an earlier row of the same file are quarantined as
    ``duplicate_row`` (naming that earlier line); the staged table keeps the first occurrence only."""
    if staged.rows < 2:
        return
    source = f"read_parquet({_sql_string(str(staged.parquet))})"
    columns = [duckdb_ident(c) for c in staged.columns]
    same = " AND ".join(f"s.{c} IS NOT DISTINCT FROM g.{c}" for c in columns)  # null equals null
    con = duckdb.connect()
    try:
        # grouping first: the usual file has no duplicate and stops here, without a join
        con.execute(
            f"CREATE TEMP TABLE grp AS SELECT {', '.join(columns)}, min(_baris) AS _first FROM {source} "  # noqa: S608 - names quoted
            f"GROUP BY ALL HAVING count(*) > 1"
        )
        if not con.execute("SELECT count(*) FROM grp").fetchone()[0]:  # type: ignore[index]
            return
        con.execute(
            f"CREATE TEMP TABLE dup AS SELECT s._baris, g._first FROM {source} s JOIN grp g ON {same} "  # noqa: S608 - names quoted
            f"WHERE s._baris <> g._first"
        )
        dupes = con.execute("SELECT _baris, _first FROM dup ORDER BY _baris").fetchall()
        out = work / "deduplicated.parquet"
        con.execute(
            f"COPY (SELECT * FROM {source} ANTI JOIN dup USING (_baris) ORDER BY _baris) "  # noqa: S608 - names quoted
            f"TO {_sql_string(str(out))} (FORMAT parquet, COMPRESSION zstd)"
        )
    finally:
        con.close()
    unit = "line" if staged.delimiter is not None else "row"
    raw = _raw_lines(landed, staged, {b for b, _ in dupes})
    staged.rejects.extend(
        Reject(
            staged.berkas, baris, None, "duplicate_row",
            f"{staged.berkas}: {unit} {baris}: identical in every column to {unit} {first}; the first is kept",
            raw.get(baris, ""),
        )
        for baris, first in dupes
    )  # fmt: skip
    staged.parquet = out
    staged.rows -= len(dupes)


def _conform_file(eng: Engine, m: Mapping, ctx: Context, staged: StagedFile, work: Path) -> Path:
    """Materialized passes (see transform.py) -> ``conformed.parquet``. Text and parse run as one query:
    the text expressions are small, so inlining them costs less than writing the table once more."""
    current = eng.read_parquet(staged.parquet)
    eng.write_parquet(prepare(text(current, m, ctx), m, ctx), work / "prepared.parquet")
    current = eng.read_parquet(work / "prepared.parquet")
    eng.write_parquet(derive(current, m, ctx), work / "derived.parquet")
    current = eng.read_parquet(work / "derived.parquet")
    out = work / "conformed.parquet"
    eng.write_parquet(conform(current, m, ctx), out)
    return out


def _split(eng: Engine, conformed: Path, work: Path, m: Mapping) -> tuple[Path, Path]:
    t = eng.read_parquet(conformed)
    has_error = t._findings.filter(lambda x: x.startswith("error|")).length() > 0
    accepted = work / "accepted.parquet"
    errors = work / "errors.parquet"
    ok = t.filter(~has_error)
    ok = ok.mutate(flags=flags_of(ok._findings))
    keep = [c for c in ENTITIES[m.entity].field_names if c in ok.columns]
    eng.write_parquet(ok.select(*keep), accepted)
    eng.write_parquet(t.filter(has_error).select("_baris_sumber", "_findings"), errors)
    return accepted, errors


def _concat_parquet(parts: list[Path], out: Path) -> None:
    import pyarrow.parquet as pq

    writer = None
    try:
        for part in parts:
            pf = pq.ParquetFile(part)
            for i in range(pf.num_row_groups):
                table = pf.read_row_group(i)
                if writer is None:
                    writer = pq.ParquetWriter(out, table.schema, compression="zstd")
                writer.write_table(table.cast(writer.schema))
        if writer is None and parts:
            pq.write_table(pq.read_table(parts[0]), out)
    finally:
        if writer is not None:
            writer.close()


def _quarantine_rows(staged: StagedFile, errors: Path, landed: Path) -> pa.Table:
    """Rejected rows with file, line, field, reason and the original line text."""
    err = pl.read_parquet(errors)
    rows: list[dict[str, Any]] = [
        {
            "berkas": r.berkas,
            "baris": r.baris,
            "kolom": r.kolom,
            "kode": r.kode,
            "pesan": r.pesan,
            "raw": r.raw,
        }
        for r in staged.rejects
    ]
    if err.height:
        lines = _raw_lines(landed, staged, set(err["_baris_sumber"].to_list()))
        exploded = err.explode("_findings").filter(pl.col("_findings").str.starts_with("error|"))
        for baris, finding in exploded.iter_rows():
            _, code, kolom = finding.split("|", 2)
            unit = "line" if staged.delimiter is not None else "row"
            rows.append(
                {
                    "berkas": staged.berkas, "baris": baris, "kolom": kolom, "kode": code,
                    "pesan": f"{staged.berkas}: {unit} {baris}: {kolom}: {code.replace('_', ' ')}", "raw": lines.get(baris, ""),
                }
            )  # fmt: skip
    return pa.Table.from_pylist(rows, schema=QUARANTINE_SCHEMA)


def _raw_lines(landed: Path, staged: StagedFile, wanted: set[int]) -> dict[int, str]:
    """The original text of the wanted lines (CSV), or the row's values (XLSX/Parquet), in one pass."""
    if not wanted:
        return {}
    if staged.delimiter is None:
        frame = pl.read_parquet(staged.parquet).filter(pl.col("_baris").is_in(list(wanted)))
        cols = [c for c in frame.columns if c != "_baris"]
        return {
            r["_baris"]: json.dumps({c: r[c] for c in cols}, ensure_ascii=False)
            for r in frame.iter_rows(named=True)
        }
    out: dict[int, str] = {}
    last = max(wanted)
    for number, raw, _ in bounded_lines(landed, RAW_KEEP_CHARS * 4):
        if number in wanted:
            text = raw.decode(staged.encoding, errors="backslashreplace")
            out[number] = text.rstrip("\r\n")[:RAW_KEEP_CHARS]
        if number >= last:
            break
    return out


def quarantine_frame(batch_id: str | None = None, data_dir: Path | None = None) -> pl.DataFrame:
    """Quarantined rows of one batch or of every published batch, with the batch id."""
    frames = []
    for manifest in committed_batches(data_dir):
        if batch_id and manifest["batch_id"] != batch_id:
            continue
        path = batches_dir(data_dir) / manifest["batch_id"] / "quarantine.parquet"
        frames.append(pl.read_parquet(path).with_columns(pl.lit(manifest["batch_id"]).alias("batch_id")))
    if batch_id and not frames:
        raise IngestError(f"no published batch {batch_id!r}")
    if not frames:
        return pl.DataFrame(
            schema={**dict(pl.from_arrow(QUARANTINE_SCHEMA.empty_table()).schema), "batch_id": pl.String}
        )  # type: ignore[arg-type]
    return pl.concat(frames)


FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> object:
    """Neutralise spreadsheet formulas (CSV injection): a cell starting with = + - @ gets a leading quote."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def export_quarantine(frame: pl.DataFrame, out: Path) -> int:
    """Write quarantined rows as CSV for operators, with every cell made formula-safe."""
    out.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(frame.columns)
    for row in frame.iter_rows():
        writer.writerow([safe_cell(v) for v in row])
    out.write_text(buffer.getvalue(), encoding="utf-8")
    return frame.height
