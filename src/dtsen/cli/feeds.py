"""``dtsen events|corrections check`` and ``dtsen events deaths``: the between-cycle feeds.

Events and corrections are applied by the next cycle (they wait in ``data_dir/events`` and
``data_dir/corrections``; events Dukcapil pushes over DCI notify wait in the serving database and join
them at the freeze); these commands validate a file the moment it arrives, and report at once which
current beneficiaries a death concerns (in files, or pushed), so a program can stop paying before the
next publish.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import typer
from rich.table import Table

from dtsen.cli.progress import stderr

if TYPE_CHECKING:
    import polars as pl

T = TypeVar("T")

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


def _read(reader: Callable[[list[Path]], T], files: list[Path]) -> T:
    """``reader(files)``; a file that cannot be read at all (missing, empty, binary, a required column
    absent) is one line on stderr naming the file (and line) and exit code 2, not a traceback."""
    from dtsen.cycle.feed import FeedError

    try:
        return reader(files)
    except FeedError as exc:
        typer.echo(f"error: {exc}", err=True)  # plain: a path or header may hold rich markup
        raise typer.Exit(2) from exc


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
    """Validate event files; exit 1 and list file, line, column and reason of every rejected row (exit 2:
    a file that cannot be read at all)."""
    from dtsen.cycle.events import read_events

    feed = _read(read_events, files)
    _report(feed.events.height, feed.quarantine, "events", out)


def _serving_url(url: str | None) -> str | None:
    """The serving database to read pushed events from: ``--url``, else the configured one (None: the
    files only, as the cycle's own hooks decide)."""
    from dtsen.config import get_settings

    return url or get_settings().database_url


def _received_deaths(url: str, snapshot_ref: str) -> pl.DataFrame:
    """Deaths Dukcapil pushed over DCI notify (audited: the operator reads who died)."""
    from sqlalchemy.orm import Session

    from dtsen.cli.users import cli_actor
    from dtsen.sharing.dci.crvs_inbox import received_deaths
    from dtsen.store import audit
    from dtsen.store.db import make_engine

    engine = make_engine(url)
    try:
        with Session(engine) as session:
            frame = received_deaths(session)
            audit.record(
                session,
                **cli_actor(),
                action="read",
                resource="dci_event",
                purpose="hentikan_bayar",
                detail={"jenis": "MATI", "peristiwa": frame.height, "snapshot": snapshot_ref},
            )
            session.commit()
        return frame
    finally:
        engine.dispose()


@events_app.command("deaths")
def events_deaths(
    files: list[Path] = typer.Argument(None, help="Event files (CSV or Parquet); none: pushed events only."),
    snapshot_ref: str | None = typer.Option(None, "--snapshot", help="Snapshot to check (default: current)."),
    out: Path | None = typer.Option(None, "--out", help="Write the affected beneficiaries here (Parquet)."),
    data_dir: Path | None = typer.Option(
        None, "--data-dir", help="Data directory (default: DTSEN_DATA_DIR)."
    ),
    url: str | None = typer.Option(
        None, "--url", help="Serving database with the events Dukcapil pushed (default: the configured one)."
    ),
) -> None:
    """Beneficiaries of the current snapshot whom a death concerns: in the files given and, when a serving
    database is configured, every death Dukcapil pushed over DCI notify. Reported now, removed at the next
    publish."""
    import polars as pl

    from dtsen.cycle import snapshot
    from dtsen.cycle.events import deaths_in_snapshot, read_events
    from dtsen.tables import EVENTS

    snap = snapshot.open_snapshot(snapshot_ref, data_dir) if snapshot_ref else snapshot.current(data_dir)
    if snap is None:
        raise typer.BadParameter("no snapshot published yet")
    columns = ["id_peristiwa", "jenis", "tanggal_peristiwa", "tanggal_lapor", "nik"]
    frames = [_read(read_events, files).events.select(columns)] if files else []
    serving = _serving_url(url)
    pushed = 0
    if serving is not None:
        received = _received_deaths(serving, snap.ref)
        pushed = received.height
        frames.append(received.select(columns).cast({c: EVENTS.polars[c] for c in columns}))
    if not frames:
        raise typer.BadParameter("give event files, or configure the serving database (--url)")
    events = pl.concat(frames).unique("nik", keep="first", maintain_order=True)  # one death a person
    affected = deaths_in_snapshot(snap, events)
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
    if serving is not None:
        typer.echo(f"{pushed} deaths pushed by Dukcapil over DCI notify")
    typer.echo(
        f"{affected['id_dtsen'].n_unique() if affected.height else 0} deceased persons in program lists"
    )


@corrections_app.command("check")
def corrections_check(
    files: list[Path] = typer.Argument(..., help="Correction files (CSV or Parquet)."),
    out: Path | None = REJECTED_OUT,
) -> None:
    """Validate correction files against the canonical model; exit 1 listing every rejected row (exit 2:
    a file that cannot be read at all)."""
    from dtsen.cycle.corrections import read_corrections

    feed = _read(read_corrections, files)
    _report(feed.corrections.height, feed.quarantine, "corrections", out)
