"""``dtsen backup`` and ``dtsen restore``: the data dir and the serving database, verified by checksums."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from dtsen.cli.progress import stderr


def _database_url(given: str | None, data_dir: Path | None) -> str | None:
    """The serving database: given, configured, else the default SQLite file of the data dir."""
    from dtsen.config import get_settings

    if given:
        return given
    settings = get_settings()
    if settings.database_url:
        return settings.database_url
    return f"sqlite:///{((data_dir or settings.data_dir) / 'dtsen.db').resolve()}"


def backup(
    out: Path = typer.Argument(..., help="New directory to write the backup into (or to check, --verify)."),
    data_dir: Path | None = typer.Option(
        None, "--data-dir", help="Data directory (default: DTSEN_DATA_DIR)."
    ),
    database_url: str | None = typer.Option(
        None,
        "--database-url",
        help="Serving database (default: DTSEN_DATABASE_URL, else the data dir's SQLite).",
    ),
    no_database: bool = typer.Option(False, "--no-database", help="Back up the data directory only."),
    verify: bool = typer.Option(False, "--verify", help="Only check an existing backup's checksums."),
) -> None:
    """Back up the data directory and the serving database (pg_dump / SQLite backup API) with a SHA-256
    manifest; refused while a cycle runs. --verify re-reads a backup: exit 1 on any changed file."""
    from dtsen.backup import BackupError, verify_backup
    from dtsen.backup import backup as run_backup
    from dtsen.config import get_settings
    from dtsen.locks import LockHeldError

    try:
        if verify:
            problems = verify_backup(out)
            for problem in problems:
                stderr.print(f"[red]{problem}[/red]")
            typer.echo(json.dumps({"backup": str(out), "intact": not problems, "problems": len(problems)}))
            if problems:
                raise typer.Exit(1)
            return
        directory = data_dir or get_settings().data_dir
        url = None if no_database else _database_url(database_url, directory)
        manifest = run_backup(out, data_dir=directory, database_url=url)
    except (BackupError, LockHeldError) as exc:
        stderr.print(f"[red]gagal / failed:[/red] {exc}")
        raise typer.Exit(1) from exc
    database = manifest["database"]
    typer.echo(
        json.dumps(
            {
                "backup": str(out),
                "files": len(manifest["files"]),
                "bytes": sum(f["bytes"] for f in manifest["files"]),
                "database": database["backend"] if database else None,
            }
        )
    )


def restore(
    source: Path = typer.Argument(..., help="A directory written by `dtsen backup`."),
    data_dir: Path = typer.Option(
        ..., "--data-dir", help="Where to restore the data directory (empty or new)."
    ),
    database_url: str | None = typer.Option(
        None,
        "--database-url",
        help="An empty database to restore into (SQLite: a new file); default for a backup of the data "
        "dir's own SQLite file: the same place in the restored data dir.",
    ),
) -> None:
    """Check every file of a backup against its checksums, then restore the data directory and the
    serving database into empty ones."""
    from dtsen.backup import BackupError
    from dtsen.backup import restore as run_restore

    try:
        summary = run_restore(source, data_dir=data_dir, database_url=database_url)
    except BackupError as exc:
        stderr.print(f"[red]gagal / failed:[/red] {exc}")
        raise typer.Exit(1) from exc
    typer.echo(json.dumps(summary))
