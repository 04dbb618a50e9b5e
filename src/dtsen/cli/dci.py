"""``dtsen dci``: the DCI delivery round for cron, and a test keypair for a client's developers."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from dtsen.cli.db import URL_OPTION

app = typer.Typer(help="DCI interoperability: deliver async answers and pushes, make a test keypair.")


@app.command("deliver")
def deliver(url: str | None = URL_OPTION) -> None:
    """Answer pending async searches, push due callbacks/notifications (bounded retries), prune old
    protocol state; prints one JSON line of counts. Run from cron when the app's own loop is off."""
    from datetime import UTC, datetime

    from dtsen.cli.db import _database_errors, _require_schema
    from dtsen.config import get_settings
    from dtsen.sharing.dci import background, protocol
    from dtsen.store.db import get_engine, session_factory

    settings = get_settings()
    with _database_errors(url):
        _require_schema(url)
        counts = background.run_once(
            session_factory(get_engine(url)),
            now=datetime.now(UTC),
            secret=settings.resolved_secret_key(),
            receiver_id=settings.dci_receiver_id,
            limits=protocol.Limits(
                settings.dci_page_size_max, settings.dci_batch_max, settings.dci_sync_batch_max
            ),
        )
    typer.echo(json.dumps(counts, sort_keys=True))
    if counts["pushes"]["failed"]:
        raise typer.Exit(1)


@app.command("keygen")
def keygen(
    out: Path = typer.Option(..., "--out", help="Where to write the private key (PEM, mode 0600)."),
) -> None:
    """Make an Ed25519 keypair for a client's test system: writes the private key, prints the public JWK
    to register with ``dtsen clients key add CLIENT --jwk '...'``. Production keys are made by the client."""
    import os

    from dtsen.sharing.dci.envelope import DciKey

    key = DciKey.generate()
    try:
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as exc:
        typer.echo(f"dtsen: {out} exists; not overwritten", err=True)
        raise typer.Exit(1) from exc
    with os.fdopen(fd, "wb") as handle:
        handle.write(key.private_pem())
    typer.echo(json.dumps(key.public_jwk(), sort_keys=True))


def _register_events() -> None:
    # Dukcapil's vital events and agencies' subscriptions (dtsen.cli.dci_events): our subscription to
    # Dukcapil's registry, and the agencies' subscriptions to us.
    from dtsen.cli import dci_events

    app.add_typer(dci_events.dukcapil_app, name="dukcapil")
    app.add_typer(dci_events.subscriptions_app, name="subscriptions")


_register_events()
