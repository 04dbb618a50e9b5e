"""``dtsen ingest``: land files immutably, conform them to the canonical model, quarantine what fails.

A batch is one mapping applied to one or more files. Everything is built in a hidden staging
directory and published by one rename of ``batches/<batch_id>``, so a crash or a fatal error leaves no
half-ingested batch and every earlier batch untouched. A file whose content was already landed for the
same mapping is skipped and said so; a batch with nothing new is a no-op.
"""

from __future__ import annotations

import csv
import getpass
import io
import json
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

import polars as pl
import pyarrow as pa
from ibis.expr import operations as ops

from dtsen import locks
from dtsen.atomic import atomic_dir, sha256_file
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
    duckdb_connect,
    stage_file,
)
from dtsen.sources.transform import Context, conform, derive, prepare, text
from dtsen.sql import quote_ident, quote_literal
from dtsen.tables import SOURCE_QUARANTINE, BatchStatus

log = get_logger(__name__)
BATCH_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,80}$")


class IngestError(ValueError):
    """The batch was not ingested; nothing was published. The message says which file and why."""


@dataclass
class BatchResult:
    batch_id: str
    mapping: str
    status: BatchStatus
    directory: Path | None
    report: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def batches_dir(data_dir: Path | None = None) -> Path:
    return (data_dir or get_settings().data_dir) / "batches"


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
    heads = sorted({p[:2] for p in prefixes} | {p[:4] for p in prefixes} | set(prefixes))
    codes = sorted(set(regions.regions()["kode"].to_list()) | set(prefixes) | {p[:4] for p in prefixes})
    return pa.table({"kode": heads}), pa.table({"kode": codes}), frozenset(prefixes)


def reference_tables(engine: Engine) -> tuple[Any, Any, frozenset[str]]:
    """(NIK/KK prefixes with their 2- and 4-digit heads, region codes, the 6-digit prefixes) for
    :class:`~dtsen.sources.transform.Context`."""
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
    hashes = {p: sha256_file(p) for p in paths}
    # Under the mapping's landing lock (concurrent ingests of one file land it once, whatever the timing);
    # the first lander to find no other cleans what killed ones left staged.
    with locks.landing(root, m.name):
        landed = _landed_hashes(m.name, data_dir)
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
            return BatchResult(batch or "", m.name, BatchStatus.NOOP, None, notes=notes)
        now = datetime.now(UTC)
        batch_id = batch or f"{now:%Y%m%dT%H%M%S}-{m.name}-{hashes[todo[0]][:8]}"
        final = root / batch_id
        if final.exists():
            raise IngestError(f"batch {batch_id} already exists; choose another --batch name")
        started = time.perf_counter()
        with atomic_dir(final, replace=False) as staging:
            (staging / "landing").mkdir()
            (staging / "work").mkdir()
            (staging / "canonical").mkdir()
            with log_context(batch=batch_id, mapping=m.name):
                result = _run(
                    m, todo, hashes, staging, batch_id, now, engine, encoding, actor, notes, progress
                )
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
        log.info("batch published", batch=batch_id, mapping=m.name, rows=result["report"]["rows_read"])
        return BatchResult(batch_id, m.name, BatchStatus.COMMITTED, final, result["report"], notes)


def _run(
    m: Mapping,
    paths: list[Path],
    hashes: dict[Path, str],
    staging: Path,
    batch_id: str,
    now: datetime,
    engine_name: str | None,
    encoding: str | None,
    actor: str | None,
    notes: list[str],
    progress: Callable[[str], None] | None,
) -> dict[str, Any]:
    eng = get_engine(engine_name)
    eng.keep_in_lists()  # the conform pass projects a hundred of them (code lists, yes/no spellings)
    prefixes, region_codes, prefix_codes = reference_tables(eng)
    files_meta: list[dict[str, Any]] = []
    staged_files: list[tuple[Path, StagedFile, Path, Path]] = []
    for path in paths:
        digest = hashes[path]
        landed = staging / "landing" / f"{digest[:16]}__{path.name}"
        shutil.copyfile(path, landed)
        landed.chmod(stat.S_IRUSR | stat.S_IRGRP)
        work = staging / "work" / digest[:16]
        work.mkdir()
        if progress:
            progress(f"reading {path.name}")
        try:
            staged = stage_file(landed, path.name, m, work / "staged.parquet", encoding)
        except FileError as exc:
            raise IngestError(str(exc)) from exc
        staged_files.append((path, staged, landed, work))
    duplicates = _duplicate_rows([(staged, landed) for _, staged, landed, _ in staged_files])
    canonical_parts: list[Path] = []
    quarantine: list[pa.Table] = []
    per_file: list[dict[str, Any]] = []
    for (path, staged, landed, work), dupes in zip(staged_files, duplicates, strict=True):
        ctx = Context(
            batch_id, staged.berkas, now.date(), prefixes, region_codes, prefix_codes, memtable=eng.memtable
        )
        if progress:
            progress(f"conforming {staged.berkas} ({staged.rows:,} rows)")
        accepted, errors = _conform_file(eng, m, ctx, staged, work)
        if dupes:
            _keep_duplicates(accepted, m, {r.baris for r in dupes})
        canonical_parts.append(accepted)
        quarantine.append(_quarantine_rows(staged, errors, landed, m, dupes))
        files_meta.append(
            {
                "name": staged.berkas,
                "sha256": hashes[path],
                "bytes": path.stat().st_size,
                "landed": f"landing/{landed.name}",
                "rows": staged.rows + len(staged.rejects),
                "rows_staged": staged.rows,
                "structural_rejects": len(staged.rejects),
                "encoding": staged.encoding,
                "delimiter": staged.delimiter,
                "fast_path": staged.fast_path,
                "notes": staged.notes,
                "duplicate_rows": len(dupes),
            }
        )
        per_file.append({"berkas": staged.berkas, "accepted": accepted, "errors": errors, "staged": staged})
    q = pa.concat_tables(quarantine) if quarantine else SOURCE_QUARANTINE.arrow.empty_table()
    import pyarrow.parquet as pq

    pq.write_table(q, staging / "quarantine.parquet", compression="zstd")
    from dtsen.sources.report import batch_report

    report = batch_report(batch_id, m, per_file, q, notes)  # before the parts move into place
    entity = ENTITIES[m.entity]
    _concat_parquet(canonical_parts, staging / "canonical" / f"{entity.name}.parquet")
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
        "status": BatchStatus.COMMITTED,
    }
    return {"report": report, "manifest": manifest}


def _actor() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry in some containers
        return "unknown"


def _duplicate_rows(files: list[tuple[StagedFile, Path]]) -> list[list[Reject]]:
    """Per file, its rows identical in every column to an earlier row of the batch (this file or an
    earlier one; a column a file lacks counts as empty), each as a ``duplicate_row`` finding naming that
    earlier row. The rows stay in the batch: several forms filed for one person are that person's
    records, and linkage puts them with the same person (:func:`_keep_duplicates` keeps their keys
    unique). Only rows that cannot be read are kept out of a batch.

    Rows are grouped by a 64-bit hash of all their values first: a batch without duplicates (the usual
    case) stops there, and only rows sharing a hash are compared value by value."""
    found: list[list[Reject]] = [[] for _ in files]
    live = [(i, s, landed) for i, (s, landed) in enumerate(files) if s.rows > 0]
    if sum(s.rows for _, s, _ in live) < 2:
        return found
    columns = list(dict.fromkeys(c for _, s, _ in live for c in s.columns))

    def rows(i: int, staged: StagedFile) -> str:
        values = ", ".join(
            quote_ident(c) if c in staged.columns else f"CAST(NULL AS VARCHAR) AS {quote_ident(c)}"
            for c in columns
        )
        source = f"read_parquet({quote_literal(staged.parquet)})"
        return f"SELECT {i} AS _f, _baris, {values} FROM {source}"  # noqa: S608 - names quoted

    hashed = " UNION ALL ".join(
        f"SELECT _f, _baris, hash({', '.join(quote_ident(c) for c in columns)}) AS _h FROM ({rows(i, s)})"  # noqa: S608
        for i, s, _ in live
    )
    con = duckdb_connect()
    try:
        con.execute(f"CREATE TEMP TABLE h AS SELECT _f, _baris, _h FROM ({hashed})")  # noqa: S608 - built above
        con.execute("CREATE TEMP TABLE shared AS SELECT _h FROM h GROUP BY _h HAVING count(*) > 1")
        if not con.execute("SELECT count(*) FROM shared").fetchone()[0]:  # type: ignore[index]
            return found
        candidates = " UNION ALL ".join(
            f"SELECT * FROM ({rows(i, s)}) WHERE (_f, _baris) IN "  # noqa: S608 - built above
            f"(SELECT (_f, _baris) FROM h SEMI JOIN shared USING (_h))"
            for i, s, _ in live
        )
        keys = ", ".join(quote_ident(c) for c in columns)  # PARTITION BY treats nulls as equal
        dupes = con.execute(
            f"SELECT _f, _baris, first_f, first_baris FROM (SELECT _f, _baris, "  # noqa: S608 - built above
            "first_value(_f) OVER w AS first_f, first_value(_baris) OVER w AS first_baris, "
            f"row_number() OVER w AS n FROM ({candidates}) "
            f"WINDOW w AS (PARTITION BY {keys} ORDER BY _f, _baris)) "
            "WHERE n > 1 ORDER BY _f, _baris"
        ).fetchall()
    finally:
        con.close()
    for i, staged, landed in live:
        mine = [(baris, ff, fb) for f, baris, ff, fb in dupes if f == i]
        if not mine:
            continue
        unit = "line" if staged.delimiter is not None else "row"
        raw = _raw_lines(landed, staged, {b for b, _, _ in mine})
        for baris, first_f, first_baris in mine:
            where = "" if first_f == i else f" of {files[first_f][0].berkas}"
            found[i].append(
                Reject(
                    staged.berkas,
                    baris,
                    None,
                    "duplicate_row",
                    f"{staged.berkas}: {unit} {baris}: identical in every column to {unit} "
                    f"{first_baris}{where}; kept and linked to the same person",
                    raw.get(baris, ""),
                )
            )
    return found


def _keep_duplicates(accepted: Path, m: Mapping, lines: set[int]) -> None:
    """Give the accepted duplicate rows (``lines``) a record key of their own (``<key>#<line>``: the
    first row keeps the plain key, so keys stay unique per batch) and the warning ``duplicate_row``.
    Written back with the table's own schema (the engine's canonical types)."""
    import pyarrow.parquet as pq

    table = pq.read_table(accepted)
    dup = pl.col("baris").is_in(sorted(lines))
    changed = pl.from_arrow(table).with_columns(  # type: ignore[union-attr]
        *[
            pl.when(dup).then(pl.format("{}#{}", k, "baris")).otherwise(pl.col(k)).alias(k)
            for k in ENTITIES[m.entity].key
        ],
        pl.when(dup)
        .then(pl.col("flags").list.concat(pl.lit(["duplicate_row"])))
        .otherwise("flags")
        .alias("flags"),
    )
    pq.write_table(changed.to_arrow().cast(table.schema), accepted, compression="zstd")


def _conform_file(eng: Engine, m: Mapping, ctx: Context, staged: StagedFile, work: Path) -> tuple[Path, Path]:
    """The four passes of transform.py as one query, each pass a named step (``view``) so nothing is
    inlined twice, written once as the checked table; then the accepted rows (canonical) and the
    rejected ones (line, findings, NIK) as two plain selections of it. Columns that are one constant
    for the whole file (nulls of fields the mapping lacks, batch and file names) are not written to
    the work table, only to the canonical one."""
    current = eng.read_parquet(staged.parquet)
    checked = conform(derive(prepare(text(current, m, ctx).view(), m, ctx).view(), m, ctx).view(), m, ctx)
    fields = ENTITIES[m.entity].field_names
    constants = {
        name: value.to_expr().name(name)
        for name, value in checked.op().values.items()
        if isinstance(value, ops.Literal) and name in fields
    }
    # a work table only this module reads back: the engine's fastest writer (published tables go through
    # Engine.write_parquet and its engine-independent schema)
    eng.write_work_parquet(checked.drop(*constants), work / "conformed.parquet")
    # the types of the expression, whatever the work file's writer made of them
    schema = checked.schema()
    conformed = eng.read_parquet(work / "conformed.parquet")
    conformed = conformed.cast({c: schema[c] for c in conformed.columns})
    accepted, errors = work / "accepted.parquet", work / "errors.parquet"
    keep = [constants[c] if c in constants else conformed[c] for c in fields if c in schema]
    eng.write_parquet(conformed.filter(~conformed._error).select(*keep), accepted)
    extra = ["nik"] if "nik" in conformed.columns else []
    eng.write_parquet(conformed.filter(conformed._error).select("_baris_sumber", "_findings", *extra), errors)
    return accepted, errors


def _concat_parquet(parts: list[Path], out: Path) -> None:
    """The batch's canonical table: one file's part is moved into place, several are appended."""
    import pyarrow.parquet as pq

    if len(parts) == 1:
        parts[0].rename(out)
        return
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


def _field_columns(m: Mapping) -> tuple[dict[str, str | None], dict[str, str]]:
    """(canonical field -> its source column(s), source column -> the field(s) read from it)."""
    columns = {name: (", ".join(fm.columns) or None) for name, fm in m.fields.items()}
    fields: dict[str, list[str]] = {}
    for name, fm in m.fields.items():
        for col in fm.columns:
            fields.setdefault(col, []).append(name)
    return columns, {col: ", ".join(names) for col, names in fields.items()}


def _quarantine_rows(
    staged: StagedFile, errors: Path, landed: Path, m: Mapping, duplicates: list[Reject] | None = None
) -> pa.Table:
    """Rejected rows with file, line, source column and canonical field, reason and the original line;
    then the ``duplicate_row`` findings (rows kept in the batch, listed for the clerk all the same)."""
    columns, fields = _field_columns(m)
    err = pl.read_parquet(errors, columns=["_baris_sumber", "_findings"])
    rows: list[dict[str, Any]] = [
        {
            "berkas": r.berkas,
            "baris": r.baris,
            "kolom": r.kolom,
            "atribut": fields.get(r.kolom) if r.kolom else None,
            "kode": r.kode,
            "pesan": r.pesan,
            "raw": r.raw,
        }
        for r in [*staged.rejects, *(duplicates or [])]
    ]
    if err.height:
        lines = _raw_lines(landed, staged, set(err["_baris_sumber"].to_list()))
        exploded = err.explode("_findings").filter(pl.col("_findings").str.starts_with("error|"))
        unit = "line" if staged.delimiter is not None else "row"
        for baris, finding in exploded.iter_rows():
            _, code, atribut = finding.split("|", 2)
            kolom = columns.get(atribut)
            where = f"{kolom} ({atribut})" if kolom else atribut
            rows.append(
                {
                    "berkas": staged.berkas,
                    "baris": baris,
                    "kolom": kolom,
                    "atribut": atribut,
                    "kode": code,
                    "pesan": f"{staged.berkas}: {unit} {baris}: {where}: {code.replace('_', ' ')}",
                    "raw": lines.get(baris, ""),
                }
            )
    return pa.Table.from_pylist(rows, schema=SOURCE_QUARANTINE.arrow)


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
    source, encoding = staged.lines_source(landed)  # a UTF-16 or CR-only file: its UTF-8/LF copy
    for number, raw, _ in bounded_lines(source, RAW_KEEP_CHARS * 4):
        if number in wanted:
            text = raw.decode(encoding, errors="backslashreplace")
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
        return pl.DataFrame(schema={**SOURCE_QUARANTINE.polars, "batch_id": pl.String})
    return pl.concat(frames, how="diagonal_relaxed")  # batches from before a column was added


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
