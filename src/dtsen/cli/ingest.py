"""``dtsen ingest`` and ``dtsen quarantine``: land agency files, conform them, look after rejected rows."""

from __future__ import annotations

import json
import re
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from dtsen.cli.progress import stderr

console = Console()
quarantine_app = typer.Typer(help="Rows rejected at ingestion: list them, export them for correction.")


def ingest(
    source: str | None = typer.Argument(None, help="Mapping name (e.g. dtks) or a mapping .yaml file."),
    paths: list[Path] | None = typer.Argument(None, help="Files to ingest (CSV, XLSX, Parquet)."),
    batch: str | None = typer.Option(None, "--batch", help="Batch name (default: time-source-hash)."),
    encoding: str | None = typer.Option(
        None, "--encoding", help="Declare the file encoding (default: the mapping's, else detect)."
    ),
    engine: str | None = typer.Option(None, "--engine", help="duckdb or spark (default: DTSEN_ENGINE)."),
    synth: Path | None = typer.Option(
        None, "--synth", help="Ingest every source file of a `dtsen synth` output directory."
    ),
    data_dir: Path | None = typer.Option(
        None, "--data-dir", help="Data directory (default: DTSEN_DATA_DIR)."
    ),
) -> None:
    """Land files in an immutable batch, conform them to the canonical model, quarantine bad rows."""
    from dtsen.sources.ingest import IngestError
    from dtsen.sources.ingest import ingest as run
    from dtsen.sources.mapping import MappingError
    from dtsen.tables import BatchStatus

    jobs: list[tuple[str, list[Path]]] = []
    if synth is not None:
        manifest = json.loads((synth / "manifest.json").read_text(encoding="utf-8"))
        jobs = [(f["table"], [synth / f["path"]]) for f in manifest["files"] if f["kind"] == "source"]
    elif source and paths:
        jobs = [(source, list(paths))]
    else:
        raise typer.BadParameter("give SOURCE and PATH..., or --synth DIR")
    failed = False
    for mapping, files in jobs:
        try:
            with stderr.status(f"ingest {mapping}") as status:
                result = run(
                    mapping,
                    files,
                    batch=batch if len(jobs) == 1 else None,
                    data_dir=data_dir,
                    engine=engine,
                    encoding=encoding,
                    progress=lambda msg, s=status, m=mapping: s.update(f"{m}: {msg}"),
                )
        except (IngestError, MappingError) as exc:
            stderr.print(f"[red]error:[/red] {exc}")
            failed = True
            continue
        for note in result.notes:
            stderr.print(f"[yellow]note:[/yellow] {note}")
        if result.status == BatchStatus.NOOP:
            console.print(f"{mapping}: nothing new to ingest")
            continue
        r = result.report
        console.print(
            f"[bold]{mapping}[/bold] -> batch {result.batch_id}: {r['rows_read']:,} rows read, "
            f"{r['accepted']:,} accepted ({r['accepted_with_warnings']:,} with warnings), {r['rejected']:,} "
            "rejected"
            + (f"; NIK valid {100 * r['nik_valid_rate']:.1f}%" if r.get("nik_valid_rate") is not None else "")
        )
        for code, n in list(r["rejected_by_reason"].items())[:5]:
            console.print(f"    rejected {code}: {n:,}")
        console.print(f"    report: {result.directory / 'report.html'}")
    if failed:
        raise typer.Exit(2)


@quarantine_app.command("list")
def quarantine_list(
    batch: str | None = typer.Option(None, "--batch"),
    code: str | None = typer.Option(None, "--code", help="Only this reason code."),
    limit: int = typer.Option(50, "--limit"),
    show_raw: bool = typer.Option(
        False, "--show-raw", help="Show the original line unmasked (personal data)."
    ),
    data_dir: Path | None = typer.Option(None, "--data-dir"),
) -> None:
    """Rejected rows with file, line, field and reason (raw lines masked unless --show-raw)."""
    import polars as pl

    from dtsen.sources.ingest import IngestError, quarantine_frame

    try:
        frame = quarantine_frame(batch, data_dir)
    except IngestError as exc:
        stderr.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    if code:
        frame = frame.filter(pl.col("kode") == code)
    table = Table(title=f"Quarantine: {frame.height:,} findings")
    for col in ("batch_id", "berkas", "baris", "kolom", "kode", "raw"):
        table.add_column(col, overflow="fold")
    for row in frame.head(limit).iter_rows(named=True):
        raw = row["raw"] or ""
        raw = raw if show_raw else re.sub(r"\w", "*", raw)  # names, NIKs, dates: only the line's shape
        table.add_row(
            row["batch_id"], row["berkas"], str(row["baris"]), row["kolom"] or "", row["kode"], raw[:160]
        )
    console.print(table)


@quarantine_app.command("export")
def quarantine_export(
    out: Path = typer.Option(..., "--out", help="CSV file to write (formula-safe)."),
    batch: str | None = typer.Option(None, "--batch"),
    data_dir: Path | None = typer.Option(None, "--data-dir"),
) -> None:
    """Export rejected rows to CSV for correction and re-submission (cells never start with = + - @)."""
    from dtsen.sources.ingest import IngestError, export_quarantine, quarantine_frame

    try:
        n = export_quarantine(quarantine_frame(batch, data_dir), out)
    except IngestError as exc:
        stderr.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    console.print(f"{n:,} rows written to {out}")
