"""``dtsen workflows export|sla|outcomes``: the cases' side of the quarterly cycle, and their deadlines.

Every command uses ``--url`` if given, else ``DTSEN_DATABASE_URL`` / the config file, else SQLite in
data_dir. ``dtsen cycle run`` does export and outcomes itself when a serving database is configured; these
commands are for a cycle run elsewhere, a retry, and the SLA report.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer

app = typer.Typer(help="Workflow cases: export approved changes, SLA report, outcomes after publish.")

URL_OPTION = typer.Option(
    None, "--url", help="SQLAlchemy URL (default: DTSEN_DATABASE_URL, else SQLite in data_dir)."
)


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=1)


def _moment(text: str | None) -> datetime:
    if not text:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise typer.BadParameter(f"{text!r} is not an ISO date/time") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _period(text: str) -> str:
    from dtsen.cycle.period import Period, PeriodError

    try:
        return str(Period.parse(text))
    except PeriodError as exc:
        raise typer.BadParameter(str(exc)) from exc


@app.command("export")
def export(
    periode: str = typer.Option(..., "--periode", help="The cycle to export for, e.g. 2026Q3."),
    out: Path = typer.Option(
        ..., "--out", help="Folder for the corrections file (e.g. data_dir/corrections)."
    ),
    url: str | None = URL_OPTION,
) -> None:
    """Write the approved changes not yet taken by a cycle as one corrections file; marks them exported."""
    from sqlalchemy.orm import Session

    from dtsen.store.db import make_engine
    from dtsen.workflows.loop import export_approved

    engine = make_engine(url)
    try:
        with Session(engine) as session:
            result = export_approved(session, _period(periode), out)
    finally:
        engine.dispose()
    typer.echo(json.dumps(result.summary(), default=str))


@app.command("sla")
def sla(
    at: str | None = typer.Option(None, "--at", help="Judge deadlines at this time (ISO; default now)."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object instead of a table."),
    url: str | None = URL_OPTION,
) -> None:
    """Open cases past their acknowledgement (3x24 hours) or resolution deadline, per kab/kota and desa."""
    from sqlalchemy.orm import Session

    from dtsen.store.db import make_engine
    from dtsen.workflows.loop import overdue

    moment = _moment(at)
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            rows = overdue(session, moment)
    finally:
        engine.dispose()
    totals: dict[str, Any] = {
        "kasus": sum(r["kasus"] for r in rows),
        "lewat_tanggap": sum(r["lewat_tanggap"] for r in rows),
        "lewat_selesai": sum(r["lewat_selesai"] for r in rows),
    }
    per_kab: dict[str, int] = {}
    for r in rows:
        per_kab[r["kode_kab"]] = per_kab.get(r["kode_kab"], 0) + r["kasus"]
    if as_json:
        typer.echo(json.dumps({"at": moment.isoformat(), **totals, "per_kab": per_kab, "per_desa": rows}))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Kasus melewati batas waktu per {moment:%Y-%m-%d %H:%M} UTC")
    for column in ("kab/kota", "desa/kel", "jenis", "lewat tanggap 3x24 jam", "lewat batas selesai", "kasus"):
        table.add_column(column, justify="right" if column.startswith(("lewat", "kasus")) else "left")
    for r in rows:
        table.add_row(
            r["kode_kab"],
            r["kode_desa"],
            r["jenis"],
            str(r["lewat_tanggap"]),
            str(r["lewat_selesai"]),
            str(r["kasus"]),
        )
    table.add_row(
        "[bold]total",
        "",
        "",
        str(totals["lewat_tanggap"]),
        str(totals["lewat_selesai"]),
        f"[bold]{totals['kasus']}",
    )
    Console(width=120).print(table)


@app.command("outcomes")
def outcomes(
    snapshot: str = typer.Option(..., "--snapshot", help="The served snapshot, e.g. 2026Q3/v1."),
    outcomes_file: Path | None = typer.Option(
        None, "--outcomes", help="corrections_outcomes.parquet (default: from the cycle run of its period)."
    ),
    data_dir: Path | None = typer.Option(
        None, "--data-dir", help="Where the cycle runs are (default: settings)."
    ),
    url: str | None = URL_OPTION,
) -> None:
    """Record a published, served snapshot on the approved cases: change outcomes, new desil and programs;
    settled cases are closed (also on the citizen's Lacak page)."""
    import polars as pl
    from sqlalchemy.orm import Session

    from dtsen.config import get_settings
    from dtsen.store.db import make_engine
    from dtsen.workflows.loop import outcomes_file as default_outcomes
    from dtsen.workflows.loop import record_outcomes

    path = outcomes_file or default_outcomes(data_dir or get_settings().data_dir, snapshot.split("/")[0])
    if outcomes_file is not None and not outcomes_file.is_file():
        raise _fail(f"{outcomes_file}: no such file")
    frame = pl.read_parquet(path) if path is not None else None
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            result = record_outcomes(session, snapshot, frame)
    except ValueError as exc:
        raise _fail(str(exc)) from exc
    finally:
        engine.dispose()
    typer.echo(json.dumps({**result.summary(), "outcomes": str(path) if path else None}))
