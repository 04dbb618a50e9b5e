"""``dtsen serve``: run the web app, load published snapshots into the serving database, show what is served.

``dtsen serve`` alone starts uvicorn on :func:`dtsen.api.app.create_app`; the sub-commands manage the
served snapshots. Every command uses ``--url`` if given, else ``DTSEN_DATABASE_URL`` / the config file,
else SQLite in data_dir.
"""

from __future__ import annotations

import os
from pathlib import Path

import typer

app = typer.Typer(
    help="Serve the registry: the web app (no sub-command), and the snapshots it serves.",
    invoke_without_command=True,
)

URL_OPTION = typer.Option(
    None, "--url", help="SQLAlchemy URL (default: DTSEN_DATABASE_URL, else SQLite in data_dir)."
)


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=1)


def _use_url(url: str | None) -> None:
    """Make ``url`` the configured database for this process and the server workers it starts."""
    if url:
        from dtsen.config import reset_settings

        os.environ["DTSEN_DATABASE_URL"] = url
        reset_settings()


def _check_schema(url: str | None) -> None:
    from sqlalchemy.exc import DBAPIError

    from dtsen.store import db as store_db

    try:
        revision = store_db.current_revision(url)
    except DBAPIError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise _fail(f"database {store_db.display_url(url)}: {reason}") from exc
    if revision is None:
        raise _fail(f"{store_db.display_url(url)} has no schema yet: run `dtsen db upgrade` first")
    if revision != store_db.head_revision():
        raise _fail(
            f"{store_db.display_url(url)} is at revision {revision}, this dtsen needs "
            f"{store_db.head_revision()}: run `dtsen db upgrade`"
        )


@app.callback(invoke_without_command=True)
def serve(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8000, "--port", min=1, max=65535, help="TCP port."),
    workers: int = typer.Option(1, "--workers", min=1, help="Server processes (uvicorn workers)."),
    url: str | None = URL_OPTION,
) -> None:
    """Run the web app under uvicorn (the database must be migrated; load a snapshot to have data)."""
    if ctx.invoked_subcommand is not None:
        return
    import uvicorn

    _use_url(url)
    _check_schema(None)
    typer.echo(f"dtsen: melayani di http://{host}:{port}/ (Ctrl+C untuk berhenti)", err=True)
    uvicorn.run(
        "dtsen.api.app:app_factory",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        proxy_headers=False,
        server_header=False,
        log_level="warning",
    )


@app.command("load")
def load(
    snapshot: str = typer.Option(
        "current", "--snapshot", "-s", help="current, YYYYQn (its latest version) or YYYYQn/vN."
    ),
    force: bool = typer.Option(False, "--force", help="Load again even if this snapshot is loaded."),
    url: str | None = URL_OPTION,
    data_dir: Path | None = typer.Option(
        None, "--data-dir", help="Where the snapshots are (default: config)."
    ),
) -> None:
    """Load a published snapshot into the serving database beside the served one and switch to it."""
    from dtsen.cli.progress import progress_bar
    from dtsen.config import get_settings
    from dtsen.store.snapshot_load import SnapshotLoadError, load_snapshot

    _use_url(url)
    _check_schema(None)
    tasks: dict[str, int] = {}
    with progress_bar() as bar:

        def report(table: str, done: int, total: int) -> None:
            if table not in tasks:
                tasks[table] = bar.add_task(table, total=total, detail="")
            bar.update(tasks[table], completed=done)

        try:
            result = load_snapshot(
                None, data_dir or get_settings().data_dir, snapshot, force, progress=report
            )
        except SnapshotLoadError as exc:
            raise _fail(str(exc)) from exc
    typer.echo(result.summary())


@app.command("status")
def status(url: str | None = URL_OPTION) -> None:
    """The snapshots in the serving database: which one is served, what is loaded, what failed."""
    from rich.console import Console
    from rich.table import Table
    from sqlalchemy import select

    from dtsen.store import db as store_db
    from dtsen.store.served import ServedSnapshot

    _use_url(url)
    _check_schema(None)
    engine = store_db.make_engine(None)
    try:
        with store_db.session_scope(engine=engine) as session:
            rows = session.scalars(select(ServedSnapshot).order_by(ServedSnapshot.id)).all()
    finally:
        engine.dispose()
    if not rows:
        typer.echo("belum ada snapshot yang dimuat: jalankan `dtsen serve load`")
        return
    table = Table("id", "snapshot", "status", "aktif", "dimuat (UTC)", "keluarga", "orang")
    for row in rows:
        counts = row.counts or {}
        table.add_row(
            str(row.id),
            row.ref,
            row.status,
            "ya" if row.is_current else "",
            row.loaded_at.strftime("%Y-%m-%d %H:%M") if row.loaded_at else "",
            f"{counts.get('served_family', 0):,}" if counts else "",
            f"{counts.get('served_person', 0):,}" if counts else "",
        )
    Console().print(table)
    for row in rows:
        if row.error:
            typer.echo(f"{row.ref} (id {row.id}): {row.error}")


@app.command("prune")
def prune(
    keep: int = typer.Option(
        ..., "--keep", min=1, help="Ready snapshots to keep (the newest; current always)."
    ),
    url: str | None = URL_OPTION,
) -> None:
    """Delete older served snapshots (and failed loads), keeping the newest N and the current one."""
    from dtsen.store.snapshot_load import prune_snapshots

    _use_url(url)
    _check_schema(None)
    removed = prune_snapshots(None, keep)
    typer.echo(
        f"{len(removed)} snapshot dihapus dari basis data layanan"
        + (f": {', '.join(removed)}" if removed else "")
    )
