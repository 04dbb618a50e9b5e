"""``dtsen events|corrections check`` and ``dtsen events deaths``: the between-cycle feeds.

Events and corrections are applied by the next cycle (they wait in ``data_dir/events`` and
``data_dir/corrections``); these commands validate a file the moment it arrives, and report at once which
current beneficiaries a death event concerns, so a program can stop paying before the next publish.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from dtsen.cli.progress import stderr

if TYPE_CHECKING:
    import polars as pl

events_app = typer.Typer(
    help="Dukcapil civil-registration event feeds (births, deaths, moves, marriages, KK splits)."
)
corrections_app = typer.Typer(help="Approved corrections (ground checks, verval, usulan, sanggahan).")


QUARANTINE_COLUMNS = ("berkas", "baris", "kolom", "kode", "pesan")
# shared by both `check` commands
REJECTED_OUT = typer.Option(None, "--out", help="Write the rejected rows (with reasons) here as CSV.")


def _quarantine_table(frame: pl.DataFrame, title: str) -> Table:
    table = Table(title=title)
    for col in QUARANTINE_COLUMNS:
        table.add_column(col)
    for row in frame.head(50).iter_rows(named=True):
        table.add_row(*(str(row.get(c, "")) for c in QUARANTINE_COLUMNS))
    return table


def _report(valid: int, quarantine: pl.DataFrame, what: str, out: Path | None) -> None:
    rejected = quarantine.height
    typer.echo(f"{valid} {what} valid, {rejected} rejected")
    if rejected:
        stderr.print(_quarantine_table(quarantine, f"ditolak / rejected {what}"))
        if out is not None:
            quarantine.write_csv(out)
            typer.echo(f"rejected rows written to {out}")
        raise typer.Exit(1)


@events_app.command("check")
def events_check(
    files: list[Path] = typer.Argument(..., help="Event files (CSV or Parquet)."),
    out: Path | None = REJECTED_OUT,
) -> None:
    """Validate event files; exit 1 and list file, line, column and reason of every rejected row."""
    from dtsen.cycle.events import read_events

    feed = read_events(files)
    _report(feed.events.height, feed.quarantine, "events", out)


@events_app.command("deaths")
def events_deaths(
    files: list[Path] = typer.Argument(..., help="Event files (CSV or Parquet)."),
    snapshot_ref: str | None = typer.Option(None, "--snapshot", help="Snapshot to check (default: current)."),
    out: Path | None = typer.Option(None, "--out", help="Write the affected beneficiaries here (Parquet)."),
    data_dir: Path | None = typer.Option(
        None, "--data-dir", help="Data directory (default: DTSEN_DATA_DIR)."
    ),
) -> None:
    """Beneficiaries of the current snapshot whom a death event concerns: reported now, removed at the next publish."""
    import polars as pl

    from dtsen.cycle import snapshot
    from dtsen.cycle.events import deaths_in_snapshot, read_events

    snap = snapshot.open_snapshot(snapshot_ref, data_dir) if snapshot_ref else snapshot.current(data_dir)
    if snap is None:
        raise typer.BadParameter("no snapshot published yet")
    feed = read_events(files)
    affected = deaths_in_snapshot(snap, feed)
    if out is not None:
        affected.write_parquet(out)
    table = Table(title=f"Penerima yang meninggal / deceased beneficiaries in {snap.ref}")
    for col in ("program", "peran", "keluarga", "nilai_tahunan"):
        table.add_column(col, justify="right" if col != "program" else "left")
    if affected.height:
        summary = (
            affected.group_by("program", "peran")
            .agg(pl.col("id_keluarga_dtsen").n_unique().alias("keluarga"), pl.col("nilai_tahunan").sum())
            .sort("program", "peran")
        )
        for row in summary.iter_rows(named=True):
            table.add_row(row["program"], row["peran"], str(row["keluarga"]), f"{row['nilai_tahunan']:,}")
    stderr.print(table)
    typer.echo(
        f"{affected['id_dtsen'].n_unique() if affected.height else 0} deceased persons in program lists"
    )


@corrections_app.command("check")
def corrections_check(
    files: list[Path] = typer.Argument(..., help="Correction files (CSV or Parquet)."),
    out: Path | None = REJECTED_OUT,
) -> None:
    """Validate correction files against the canonical model; exit 1 listing every rejected row."""
    from dtsen.cycle.corrections import read_corrections

    feed = read_corrections(files)
    _report(feed.corrections.height, feed.quarantine, "corrections", out)
