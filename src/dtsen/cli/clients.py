"""``dtsen clients``: machine clients (agency systems, Dukcapil) that get JWTs by client credentials.

The secret is printed once at ``add``; only its argon2id hash is kept, so a lost secret means a new client
(or ``rotate-secret``).
"""

from __future__ import annotations

from typing import Any

import typer

from dtsen.cli.db import URL_OPTION
from dtsen.cli.users import _now, _run, cli_actor

app = typer.Typer(help="Machine clients of the API (OAuth2 client credentials -> short-lived JWT).")


@app.command("add")
def add(
    name: str = typer.Argument(..., help="What the client is, e.g. 'Dinas Kesehatan DIY'."),
    scope: list[str] = typer.Option(
        ..., "--scope", help="Permission names it may use (repeat or space-separate)."
    ),
    region: list[str] = typer.Option([], "--region", help="Region codes it may read (repeat)."),
    role: str = typer.Option("klien_instansi", "--role", help="klien_instansi or dukcapil."),
    organisation: str | None = typer.Option(None, "--organisation", help="The agency behind it."),
    url: str | None = URL_OPTION,
) -> None:
    """Register a client and print its client_id and secret (the secret only this once)."""
    from dtsen.auth.clients import create_client

    def work(session: Any) -> tuple[str, str, str, str]:
        created = create_client(
            session,
            name=name,
            organisation=organisation,
            role=role,
            scopes=scope,
            regions=region,
            now=_now(),
            actor=cli_actor(),
        )
        client = created.client
        return client.client_id, created.secret, client.scopes, ",".join(client.region_codes) or "-"

    client_id, secret, scopes, regions = _run(url, work)
    typer.echo(f"client_id:     {client_id}")
    typer.echo(f"client_secret: {secret}")
    typer.echo(f"scopes:        {scopes}")
    typer.echo(f"regions:       {regions}")
    typer.echo("The secret is shown only now; store it in the client's secret store.")


@app.command("list")
def list_clients(url: str | None = URL_OPTION) -> None:
    """Every client, tab-separated: client_id, name, role, scopes, regions, state."""
    from dtsen.auth.clients import list_clients as all_clients

    def work(session: Any) -> list[tuple[str, ...]]:
        return [
            (
                client.client_id,
                client.name,
                client.role,
                client.scopes,
                ",".join(client.region_codes) or "-",
                "active" if client.active else f"revoked {client.revoked_at:%Y-%m-%dT%H:%MZ}",
            )
            for client in all_clients(session)
        ]

    rows = _run(url, work)
    if not rows:
        typer.echo("no clients")
        return
    typer.echo("client_id\tname\trole\tscopes\tregions\tstate")
    for row in rows:
        typer.echo("\t".join(row))


def _client(session: Any, client_id: str) -> Any:
    from dtsen.auth.accounts import AccountError
    from dtsen.auth.clients import get_client

    client = get_client(session, client_id)
    if client is None:
        raise AccountError(f"no client {client_id!r}")
    return client


@app.command("revoke")
def revoke(client_id: str = typer.Argument(...), url: str | None = URL_OPTION) -> None:
    """Revoke a client for good: no new tokens, and its live tokens are refused at their next use."""
    from dtsen.auth.clients import revoke_client

    def work(session: Any) -> None:
        client = _client(session, client_id)
        if not client.active:
            return
        revoke_client(session, client, now=_now(), actor=cli_actor())

    _run(url, work)
    typer.echo(f"client {client_id} revoked")


@app.command("rotate-secret")
def rotate(client_id: str = typer.Argument(...), url: str | None = URL_OPTION) -> None:
    """Give a client a new secret (printed once); the old one stops working at once."""
    from dtsen.auth.accounts import AccountError
    from dtsen.auth.clients import rotate_secret

    def work(session: Any) -> str:
        client = _client(session, client_id)
        if not client.active:
            raise AccountError(f"client {client_id} is revoked")
        return rotate_secret(session, client, now=_now(), actor=cli_actor())

    secret = _run(url, work)
    typer.echo(f"client_secret: {secret}")
    typer.echo("The secret is shown only now.")
