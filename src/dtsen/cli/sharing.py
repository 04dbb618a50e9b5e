"""``dtsen sharing expire``: end approved access requests whose validity has passed, on a schedule.

Access itself never waits for this command: every extract and download checks the request's dates
(410 after ``valid_until``), and the request pages expire due requests when they are built. The command
moves the requests to ``kedaluwarsa`` for everyone else (the state the reviewers, the agency and the
auditor see), one audited step per request, so run it daily from cron just after midnight WIB:

    5 0 * * *  dtsen sharing expire >> /var/log/dtsen/sharing-expire.log 2>&1

It uses ``--url`` if given, else ``DTSEN_DATABASE_URL`` / the config file, else SQLite in data_dir, and
prints one JSON line ``{"expired": n}``.
"""

from __future__ import annotations

import json

import typer

from dtsen.cli.db import URL_OPTION, _database_errors, _require_schema, _session

app = typer.Typer(help="Agency access requests: scheduled upkeep (expiry).")


@app.command("expire")
def expire(url: str | None = URL_OPTION) -> None:
    """Move every approved request past its ``valid_until`` (WIB) to ``kedaluwarsa``; audited per request."""
    from dtsen.sharing.review import expire_due

    with _database_errors(url):
        _require_schema(url)
        with _session(url) as session:
            moved = expire_due(session)
    typer.echo(json.dumps({"expired": moved}))
