"""What a cycle reads: files waiting in the inbox are ingested, then the inputs are frozen.

Freezing records, once, which published batch of every source (the latest one landed up to the
cut-off), which civil-registration event files and which approved-correction files the period uses; the
event and correction files are copied into the run so a later edit of the inbox cannot change a
resumed run. Each source delivers a full extract per quarter, so the latest batch per mapping is the
source's state.
"""

from __future__ import annotations

import json
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dtsen.atomic import sha256_file
from dtsen.config import get_settings
from dtsen.engine import engine_class
from dtsen.sources.ingest import committed_batches, ingest
from dtsen.sources.mapping import builtin_mappings

#: Files a cycle picks up besides source batches, by kind: data_dir/<kind>/*.(csv|parquet)
SIDE_INPUTS = ("events", "corrections", "exclusions")
SIDE_SUFFIXES = {".csv", ".parquet", ".txt"}


class InboxError(ValueError):
    """The inbox holds something the cycle cannot ingest; the message names the path."""


def inbox_jobs(inbox: Path) -> list[tuple[str, list[Path]]]:
    """(mapping, files) pairs: a `dtsen synth` output (manifest.json) or one sub-folder per mapping."""
    manifest = inbox / "manifest.json"
    if manifest.exists():
        files = json.loads(manifest.read_text(encoding="utf-8"))["files"]
        return [(f["table"], [inbox / f["path"]]) for f in files if f["kind"] == "source"]
    known = set(builtin_mappings())
    jobs = []
    for sub in sorted(p for p in inbox.iterdir() if p.is_dir()):
        if sub.name not in known:
            raise InboxError(f"{sub}: no mapping named {sub.name!r} (known: {', '.join(sorted(known))})")
        files = sorted(p for p in sub.iterdir() if p.is_file() and not p.name.startswith("."))
        if files:
            jobs.append((sub.name, files))
    return jobs


def ingest_inbox(
    inbox: Path | None, data_dir: Path, engine: str, parallel: int | None = None
) -> dict[str, Any]:
    """Ingest every inbox file not yet landed (a landed file is a no-op, so a re-run is harmless);
    ``parallel`` sources at a time (default: the ``ingest_jobs`` setting)."""
    if inbox is None:
        return {"inbox": None, "batches": []}
    if not inbox.is_dir():
        raise InboxError(f"{inbox}: inbox directory does not exist")

    def one(job: tuple[str, list[Path]]) -> dict[str, Any]:
        mapping, files = job
        started = time.perf_counter()
        result = ingest(mapping, files, data_dir=data_dir, engine=engine)
        return {
            "mapping": mapping,
            "batch_id": result.batch_id,
            "status": result.status,
            "rows_read": result.report.get("rows_read", 0),
            "rejected": result.report.get("rejected", 0),
            "seconds": round(time.perf_counter() - started, 2),
        }

    # sources are independent batches: ``ingest_jobs`` at a time, largest first (one ingestion
    # alternates single-threaded steps and parallel queries; a second fills the idle core), as many as
    # the engine takes (Spark schedules its own cores: one source at a time)
    jobs = inbox_jobs(inbox)
    order = sorted(range(len(jobs)), key=lambda i: -sum(f.stat().st_size for f in jobs[i][1]))
    workers = engine_class(engine).sources_at_once(parallel or get_settings().ingest_jobs)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ingest") as pool:
        done = dict(zip(order, pool.map(one, [jobs[i] for i in order]), strict=True))
    return {"inbox": str(inbox), "batches": [done[i] for i in range(len(jobs))]}


def freeze(data_dir: Path, cutoff: datetime, out: Path) -> dict[str, Any]:
    """Write ``inputs.json`` (+ copies of side inputs) into ``out``; returns the inputs record."""
    latest: dict[str, dict[str, Any]] = {}
    for m in committed_batches(data_dir):
        if datetime.fromisoformat(m["created_at"]) <= cutoff:
            latest[m["mapping"]] = m  # oldest first, so the last one wins
    side: dict[str, list[dict[str, str]]] = {}
    for kind in SIDE_INPUTS:
        side[kind] = []
        folder = data_dir / kind
        if not folder.is_dir():
            continue
        for p in sorted(folder.iterdir()):
            if p.is_file() and p.suffix.lower() in SIDE_SUFFIXES:
                mtime = datetime.fromtimestamp(p.stat().st_mtime, UTC)
                if mtime > cutoff:
                    continue
                (out / kind).mkdir(exist_ok=True)
                shutil.copy2(p, out / kind / p.name)
                side[kind].append({"file": f"{kind}/{p.name}", "sha256": sha256_file(p)})
    inputs = {
        "cutoff": cutoff.isoformat(),
        "batches": {
            mapping: {
                "batch_id": m["batch_id"],
                "source": m["source"],
                "entity": m["entity"],
                "created_at": m["created_at"],
                "directory": str(data_dir / "batches" / m["batch_id"]),
            }
            for mapping, m in sorted(latest.items())
        },
        **side,
    }
    (out / "inputs.json").write_text(json.dumps(inputs, indent=2, sort_keys=True), encoding="utf-8")
    return inputs
