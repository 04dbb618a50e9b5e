"""``dtsen db``: migrate the serving database, load the reference regions, read and verify the audit log.

Every command uses ``--url`` if given, else the configured ``DTSEN_DATABASE_URL``, else SQLite in
``data_dir``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

# SQLAlchemy, Alembic and the store are imported inside the commands: every dtsen command registers this
# sub-app, and importing them here cost each one of them over a second of start-up.

app = typer.Typer(
    help="Serving database: migrations, reference regions and the audit log.", no_args_is_help=True
)

URL_OPTION = typer.Option(
    None, "--url", help="SQLAlchemy URL (default: DTSEN_DATABASE_URL, else SQLite in data_dir)."
)


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=1)


@contextmanager
def _database_errors(url: str | None) -> Iterator[None]:
    """Turn driver errors (server down, wrong credentials, missing tables) into one line and exit 1."""
    from sqlalchemy.exc import DBAPIError

    from dtsen.store import db as store_db

    try:
        yield
    except DBAPIError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise _fail(f"database {store_db.display_url(url)}: {reason}") from exc


@contextmanager
def _session(url: str | None) -> Iterator[Session]:
    """A session on a short-lived engine: a CLI command should leave no pooled connections behind."""
    from dtsen.store import db as store_db

    engine = store_db.make_engine(url)
    try:
        with store_db.session_scope(engine=engine) as session:
            yield session
    finally:
        engine.dispose()


def _require_schema(url: str | None) -> None:
    from dtsen.store import db as store_db

    revision = store_db.current_revision(url)
    if revision is None:
        raise _fail(f"{store_db.display_url(url)} has no schema yet: run `dtsen db upgrade` first")
    head = store_db.head_revision()
    if revision != head:
        typer.echo(f"warning: database is at revision {revision}, this dtsen expects {head}", err=True)


@app.command()
def upgrade(
    url: str | None = URL_OPTION,
    revision: str = typer.Option("head", "--revision", help="Target revision (default: newest)."),
) -> None:
    """Create or migrate the schema (safe to rerun: an up-to-date database is left alone)."""
    from dtsen.store import db as store_db

    with _database_errors(url):
        store_db.upgrade(url, revision)
        typer.echo(f"{store_db.display_url(url)}: at revision {store_db.current_revision(url)}")


@app.command()
def current(url: str | None = URL_OPTION) -> None:
    """Print the schema revision of the database ("none" if never migrated)."""
    from dtsen.store import db as store_db

    with _database_errors(url):
        revision = store_db.current_revision(url)
    suffix = " (head)" if revision is not None and revision == store_db.head_revision() else ""
    typer.echo(f"{revision or 'none'}{suffix}")


@app.command("load-regions")
def load_regions_command(
    url: str | None = URL_OPTION,
    prune: bool = typer.Option(
        False, "--prune/--no-prune", help="Also delete codes that are no longer in the reference list."
    ),
) -> None:
    """Load or refresh the region table from the reference list (idempotent: a rerun changes nothing)."""
    from dtsen.store import db as store_db
    from dtsen.store.regions import load_regions

    with _database_errors(url):
        _require_schema(url)
        engine = store_db.make_engine(url)
        try:
            with engine.begin() as connection:
                result = load_regions(connection, prune=prune)
        finally:
            engine.dispose()
    typer.echo(
        f"regions: {result.inserted} inserted, {result.updated} updated, {result.unchanged} unchanged, "
        f"{result.stale} stale ({result.pruned} pruned) in {result.seconds:.2f}s"
    )
    for level, count in result.by_level.items():
        typer.echo(f"  {level:<10} {count:>6}")
    typer.echo(f"  {'total':<10} {result.total:>6}")


@app.command("audit-tail")
def audit_tail(
    url: str | None = URL_OPTION,
    limit: int = typer.Option(20, "--limit", "-n", min=1, max=100_000, help="How many newest entries."),
) -> None:
    """Print the newest audit entries, oldest first, tab-separated (subject references are shortened)."""
    from dtsen.store import audit

    with _database_errors(url):
        _require_schema(url)
        with _session(url) as session:
            entries = audit.tail(session, limit)
    if not entries:
        typer.echo("audit log is empty")
        return
    typer.echo("id\toccurred_at\tactor\trole\taction\tresource\tsubject\tregion\tpurpose")
    for entry in entries:
        cells = (
            str(entry.id),
            entry.occurred_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            entry.actor,
            entry.actor_role or "",
            entry.action,
            entry.resource or "",
            entry.subject_ref[:16] if entry.subject_ref else "",
            entry.region_kode or "",
            (entry.purpose or "").replace("\t", " ").replace("\n", " "),
        )
        typer.echo("\t".join(cells))


@app.command("audit-verify")
def audit_verify(url: str | None = URL_OPTION) -> None:
    """Check the audit hash chain; exit 1 and list the problems if any row was altered or removed."""
    from dtsen.store import audit

    with _database_errors(url):
        _require_schema(url)
        with _session(url) as session:
            problems = audit.verify_chain(session)
            head = audit.chain_head(session)
    if problems or head is None:
        for problem in problems:
            typer.echo(f"problem: {problem}", err=True)
        raise _fail(f"audit chain is broken ({len(problems)} problems)")
    typer.echo(f"audit chain intact: {head.row_count} entries, head {head.last_hash}")
