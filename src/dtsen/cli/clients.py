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


# -- DCI onboarding: envelope keys, callback URIs, the access request a client reads under ------------------
key_app = typer.Typer(help="A client's Ed25519 keys for DCI envelope signatures (public JWKs).")
callback_app = typer.Typer(help="The callback URIs we may push DCI answers and notifications to.")
app.add_typer(key_app, name="key")
app.add_typer(callback_app, name="callback")


@key_app.command("add")
def key_add(
    client_id: str = typer.Argument(...),
    jwk: str = typer.Option(..., "--jwk", help="The public JWK (kty OKP, crv Ed25519) as JSON, or @FILE."),
    key_id: str | None = typer.Option(None, "--key-id", help="The id its kidId names (default: thumbprint)."),
    url: str | None = URL_OPTION,
) -> None:
    """Register a public key; signatures name it as kidId="CLIENT|KEY_ID|ed25519"."""
    from pathlib import Path

    from dtsen.sharing.dci.onboarding import add_key

    text = Path(jwk[1:]).read_text(encoding="utf-8") if jwk.startswith("@") else jwk

    def work(session: Any) -> str:
        return add_key(
            session, _client(session, client_id), text, key_id=key_id, now=_now(), actor=cli_actor()
        ).key_id

    typer.echo(f"key_id: {_run(url, work)}")


@key_app.command("list")
def key_list(client_id: str = typer.Argument(...), url: str | None = URL_OPTION) -> None:
    """A client's keys, tab-separated: key_id, x (public key), state."""
    from dtsen.sharing.dci.onboarding import list_keys

    def work(session: Any) -> list[tuple[str, ...]]:
        return [
            (
                row.key_id,
                str(row.public_jwk.get("x")),
                "active" if row.revoked_at is None else f"revoked {row.revoked_at:%Y-%m-%dT%H:%MZ}",
            )
            for row in list_keys(session, _client(session, client_id))
        ]

    rows = _run(url, work)
    typer.echo("key_id\tx\tstate" if rows else "no keys")
    for row in rows:
        typer.echo("\t".join(row))


@key_app.command("revoke")
def key_revoke(
    client_id: str = typer.Argument(...), key_id: str = typer.Argument(...), url: str | None = URL_OPTION
) -> None:
    """Stop accepting signatures made with a key."""
    from dtsen.sharing.dci.onboarding import revoke_key

    _run(
        url,
        lambda session: revoke_key(
            session, _client(session, client_id), key_id, now=_now(), actor=cli_actor()
        ),
    )
    typer.echo(f"key {key_id} of {client_id} revoked")


@callback_app.command("add")
def callback_add(
    client_id: str = typer.Argument(...),
    uri: str = typer.Argument(..., help="https://..."),
    url: str | None = URL_OPTION,
) -> None:
    """Allow pushes (on-search, txn/on-status, notify) to this exact URI."""
    from dtsen.sharing.dci.onboarding import add_callback

    _run(
        url,
        lambda session: add_callback(
            session, _client(session, client_id), uri, now=_now(), actor=cli_actor()
        ),
    )
    typer.echo(f"callback registered for {client_id}")


@callback_app.command("list")
def callback_list(client_id: str = typer.Argument(...), url: str | None = URL_OPTION) -> None:
    """A client's callback URIs, one a line."""
    from dtsen.sharing.dci.onboarding import list_callbacks

    uris = _run(
        url, lambda session: [row.uri for row in list_callbacks(session, _client(session, client_id))]
    )
    typer.echo("\n".join(uris) if uris else "no callbacks")


@callback_app.command("remove")
def callback_remove(
    client_id: str = typer.Argument(...), uri: str = typer.Argument(...), url: str | None = URL_OPTION
) -> None:
    """Forget a callback URI (pushes still queued for it are not sent)."""
    from dtsen.sharing.dci.onboarding import remove_callback

    _run(
        url,
        lambda session: remove_callback(
            session, _client(session, client_id), uri, now=_now(), actor=cli_actor()
        ),
    )
    typer.echo(f"callback removed for {client_id}")


@app.command("grant")
def grant(
    client_id: str = typer.Argument(...),
    nomor: str = typer.Argument(..., help="AKSES-YYYY-NNNNNN"),
    url: str | None = URL_OPTION,
) -> None:
    """Link a client to the approved access request it reads under over DCI (replaces an earlier one)."""
    from dtsen.sharing.dci.onboarding import grant as link

    _run(
        url, lambda session: link(session, _client(session, client_id), nomor, now=_now(), actor=cli_actor())
    )
    typer.echo(f"{client_id} reads under {nomor.strip()}")
