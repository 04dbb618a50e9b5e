"""``dtsen dci dukcapil subscribe|unsubscribe`` and ``dtsen dci subscriptions list|push``.

* ``dukcapil``: our own subscription to Dukcapil's CRVS registry (``/registry/subscribe`` and
  ``/registry/unsubscribe`` of the registry core spec), signed with our DCI key; Dukcapil then pushes the
  vital events to our ``/dci/registry/notify``.
* ``subscriptions``: agencies' subscriptions to changes of their approved population: list them, or push
  the changes of a served snapshot again (the cycle does it after every publish; a push already made for
  that snapshot is not repeated).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import typer

dukcapil_app = typer.Typer(help="Our subscription to Dukcapil's vital events (DCI CRVS registry).")
subscriptions_app = typer.Typer(help="Agencies' DCI subscriptions to desil and program changes.")

REGISTRY_URL = typer.Option(..., "--registry-url", help="Base URL of Dukcapil's DCI registry API.")
TOKEN = typer.Option(
    ..., "--token", envvar="DTSEN_DUKCAPIL_TOKEN", help="Bearer token Dukcapil issued to us."
)
RECEIVER = typer.Option("dukcapil", "--receiver-id", help="Dukcapil's DCI id (header.receiver_id).")
DB_URL = typer.Option(
    None, "--url", help="Serving database (default: DTSEN_DATABASE_URL, else SQLite in data_dir)."
)


def _audit(url: str | None, action: str, detail: dict[str, Any]) -> None:
    """The call's audit entry in the serving database (the call itself carries no personal data)."""
    from sqlalchemy.orm import Session

    from dtsen.cli.users import cli_actor
    from dtsen.store import audit
    from dtsen.store.db import make_engine

    engine = make_engine(url)
    try:
        with Session(engine) as session:
            audit.record(
                session,
                **cli_actor(),
                action=action,
                resource="dukcapil_registry",
                purpose="langganan",
                detail=detail,
            )
            session.commit()
    finally:
        engine.dispose()


def _report(answer: Any) -> None:
    typer.echo(json.dumps({"status_code": answer.status_code, "answer": answer.body}, ensure_ascii=False))
    if not 200 <= answer.status_code < 300:
        raise typer.Exit(1)


@dukcapil_app.command("subscribe")
def dukcapil_subscribe(
    registry_url: str = REGISTRY_URL,
    token: str = TOKEN,
    notify_uri: str = typer.Option(..., "--notify-uri", help="Our notify URL Dukcapil pushes to."),
    event: list[str] = typer.Option(
        ["live_birth", "death", "marriage", "divorce"], "--event", help="Vital events (VitalEventTypeEnum)."
    ),
    region: list[str] = typer.Option([], "--region", help="Region codes to limit to (default: all)."),
    receiver_id: str = RECEIVER,
    url: str | None = DB_URL,
) -> None:
    """Subscribe to Dukcapil's vital events; prints Dukcapil's answer (its codes come on on-subscribe)."""
    from dtsen.sharing.dci import crvs_client

    now = datetime.now(UTC)
    try:
        message = crvs_client.subscribe_message(events=event, regions=region, now=now)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    header = crvs_client.request_header(
        "subscribe",
        receiver_id=receiver_id,
        sender_uri=notify_uri,
        total=len(message["subscribe_request"]),
        now=now,
    )
    answer = crvs_client.call_registry(
        registry_url, crvs_client.SUBSCRIBE_PATH, header, message, token=token, now=now
    )
    _audit(
        url,
        "subscribe",
        {
            "events": list(event),
            "regions": list(region),
            "http": answer.status_code,
            "transaction_id": message["transaction_id"],
        },
    )
    _report(answer)


@dukcapil_app.command("unsubscribe")
def dukcapil_unsubscribe(
    codes: list[str] = typer.Argument(..., help="Subscription codes Dukcapil gave."),
    registry_url: str = REGISTRY_URL,
    token: str = TOKEN,
    receiver_id: str = RECEIVER,
    url: str | None = DB_URL,
) -> None:
    """End our subscriptions at Dukcapil by code; prints Dukcapil's answer."""
    from dtsen.sharing.dci import crvs_client

    now = datetime.now(UTC)
    message = crvs_client.unsubscribe_message(codes, now=now)
    header = crvs_client.request_header(
        "unsubscribe", receiver_id=receiver_id, sender_uri=None, total=len(codes), now=now
    )
    answer = crvs_client.call_registry(
        registry_url, crvs_client.UNSUBSCRIBE_PATH, header, message, token=token, now=now
    )
    _audit(url, "unsubscribe", {"codes": list(codes), "http": answer.status_code})
    _report(answer)


@subscriptions_app.command("list")
def subscriptions_list(url: str | None = DB_URL) -> None:
    """Every agency subscription: code, client, change, status, last snapshot pushed."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from dtsen.store.db import make_engine
    from dtsen.store.dci_events import DciSubscription
    from dtsen.store.identity import ApiClient

    engine = make_engine(url)
    try:
        with Session(engine) as session:
            rows = session.execute(
                select(DciSubscription, ApiClient.client_id)
                .join(ApiClient, ApiClient.id == DciSubscription.client_pk)
                .order_by(DciSubscription.id)
            ).all()
            typer.echo("kode\tclient\tperubahan\tstatus\twilayah\tlast_snapshot")
            for sub, client_id in rows:
                typer.echo(
                    f"{sub.kode}\t{client_id}\t{sub.perubahan}\t{sub.status}\t"
                    f"{','.join(sub.wilayah or []) or '-'}\t{sub.last_snapshot or '-'}"
                )
    finally:
        engine.dispose()


@subscriptions_app.command("push")
def subscriptions_push(
    snapshot_ref: str = typer.Argument(..., help="Served snapshot, e.g. 2026Q3/v1."),
    url: str | None = DB_URL,
) -> None:
    """Queue the changes of a served snapshot for every subscription not yet pushed it (then `dtsen dci
    deliver` sends them)."""
    from sqlalchemy.orm import Session

    from dtsen.config import get_settings
    from dtsen.sharing.dci.subscription_push import push_changes
    from dtsen.store.db import make_engine

    engine = make_engine(url)
    try:
        with Session(engine) as session:
            try:
                done = push_changes(
                    session, snapshot_ref, secret=get_settings().resolved_secret_key(), now=datetime.now(UTC)
                )
            except ValueError as exc:
                raise typer.BadParameter(str(exc)) from exc
    finally:
        engine.dispose()
    typer.echo(json.dumps(done.summary()))
