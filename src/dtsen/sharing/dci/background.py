"""The DCI work done in the background: answering pending async searches (:func:`process_pending`),
pushing what is due (:mod:`dtsen.sharing.dci.outbox`) and forgetting what is no longer needed
(:func:`prune`), one round of each in :func:`run_once`.

The app's delivery loop runs :func:`run_once` every ``dci_deliver_interval`` seconds in a worker
thread. Started only by :func:`dtsen.api.app.app_factory` (``dci_deliver_in_app``); with it off, run
``dtsen dci deliver`` from cron instead. Several server processes may each run it: rows are claimed
with compare-and-set updates, so nothing is answered or pushed twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from dtsen.auth.policy import clock_of
from dtsen.logs import get_logger
from dtsen.sharing.dci import outbox
from dtsen.sharing.dci.envelope import DciKey, header_for_reply, our_key
from dtsen.sharing.dci.errors import DciError
from dtsen.sharing.dci.protocol import (
    Limits,
    client_principal,
    header_status,
    message_timestamp,
    search_items,
)
from dtsen.store import audit
from dtsen.store.db import session_factory
from dtsen.store.dci import DciOutbox, DciSeenMessage, DciTransaction
from dtsen.store.identity import ApiClient

log = get_logger(__name__)

RETENTION_DAYS = 7  # finished transactions, delivered pushes and seen message ids are kept this long


def deliver_once(app: Any) -> dict[str, Any]:
    """One round on the app's database, with the app's clock, settings and key."""
    settings = app.state.settings
    return run_once(
        session_factory(app.state.engine),
        now=clock_of(app)(),
        secret=str(settings.resolved_secret_key()),
        receiver_id=settings.dci_receiver_id,
        limits=Limits(settings.dci_page_size_max, settings.dci_batch_max, settings.dci_sync_batch_max),
        key=our_key(app),
    )


async def _loop(app: Any, interval: float) -> None:
    while True:
        try:
            await run_in_threadpool(deliver_once, app)
        except Exception as exc:  # one bad round must not stop the next
            log.error("dci delivery round failed", error=type(exc).__name__)
        await asyncio.sleep(interval)


def start_delivery(app: Any) -> asyncio.Task[None]:
    """Start the loop on the running event loop; cancel the task to stop it."""
    return asyncio.get_running_loop().create_task(_loop(app, float(app.state.settings.dci_deliver_interval)))


def process_pending(
    session_factory: Callable[[], Session],
    *,
    now: datetime,
    secret: str,
    receiver_id: str,
    limits: Limits,
    limit: int = 20,
) -> dict[str, int]:
    """Answer pending async searches (each in its own transaction) and queue their on-search callbacks.
    Two runners may meet: whoever marks a transaction done first wins, the other rolls back."""
    counts = {"answered": 0, "refused": 0, "lost": 0}
    with session_factory() as session:
        pending = list(
            session.scalars(
                select(DciTransaction.id)
                .where(DciTransaction.state == "pdng", DciTransaction.action == "search")
                .order_by(DciTransaction.id)
                .limit(limit)
            )
        )
    for row_id in pending:
        with session_factory() as session:
            row = session.get(DciTransaction, row_id)
            client = session.get(ApiClient, row.client_pk) if row is not None else None
            if row is None or client is None or row.state != "pdng":
                continue
            principal = client_principal(client)
            header = dict(row.request_header)
            items = list(row.request_message.get("search_request", []))
            try:
                if not client.active or client.revoked_at is not None:
                    raise DciError("err.request.forbidden", "the client has been revoked", 403)
                from dtsen.sharing.dci.grant import grant_for

                grant = grant_for(session, client, secret=secret, now=now)
                answers = search_items(
                    session, principal, grant, items, now=now, page_size_max=limits.page_size_max
                )
                status, completed = header_status(answers)
                reason = None
            except DciError as error:
                session.rollback()
                row = session.get(DciTransaction, row_id)
                assert row is not None
                answers = [
                    {
                        "reference_id": str(item.get("reference_id", ""))[:99],
                        "timestamp": message_timestamp(now),
                        "status": "rjct",
                        "status_reason_message": f"{error.code}: {error.message}"[:999],
                    }
                    for item in items
                ]
                status, completed, reason = "rjct", len(items), error
            message = {
                "transaction_id": row.transaction_id,
                "correlation_id": row.correlation_id,
                "search_response": answers,
            }
            reply_header = header_for_reply(
                header,
                action="on-search",
                status=status,
                now=now,
                total_count=len(items),
                completed_count=completed,
                sender_id=receiver_id,
                reason_message=None if reason is None else f"{reason.code}: {reason.message}",
            )
            done = session.execute(
                update(DciTransaction)
                .where(DciTransaction.id == row_id, DciTransaction.state == "pdng")
                .values(
                    state=status, response_header=reply_header, response_message=message, completed_at=now
                )
            )
            if getattr(done, "rowcount", 0) != 1:
                session.rollback()
                counts["lost"] += 1
                continue
            if row.sender_uri and outbox.allowed_uri(session, client.id, row.sender_uri):
                outbox.enqueue(
                    session,
                    client_pk=client.id,
                    uri=row.sender_uri,
                    action="on-search",
                    header=reply_header,
                    message=message,
                    correlation_id=row.correlation_id,
                    now=now,
                )
            audit.record(
                session,
                **principal.audit_fields(),
                action="dci_answered",
                resource="dci",
                detail={
                    "correlation_id": row.correlation_id,
                    "status": status,
                    "items": len(items),
                    "reason": None if reason is None else reason.code,
                },
                occurred_at=now,
            )
            session.commit()
            counts["refused" if reason is not None else "answered"] += 1
    return counts


def prune(
    session_factory: Callable[[], Session], *, now: datetime, days: int = RETENTION_DAYS
) -> dict[str, int]:
    """Forget what is no longer needed: finished transactions (their answers hold personal data),
    delivered or abandoned pushes and seen message ids older than ``days``. A replay older than that is
    refused by its signature's expiry (at most an hour) long before."""
    cutoff = now - timedelta(days=days)
    with session_factory() as session:
        counts = {
            "transactions": session.execute(
                delete(DciTransaction).where(
                    DciTransaction.state != "pdng", DciTransaction.completed_at < cutoff
                )
            ).rowcount,  # type: ignore[attr-defined]
            "pushes": session.execute(
                delete(DciOutbox).where(DciOutbox.state != "antri", DciOutbox.created_at < cutoff)
            ).rowcount,  # type: ignore[attr-defined]
            "messages": session.execute(
                delete(DciSeenMessage).where(DciSeenMessage.received_at < cutoff)
            ).rowcount,  # type: ignore[attr-defined]
        }
        session.commit()
    return counts


def run_once(
    session_factory: Callable[[], Session],
    *,
    now: datetime,
    secret: str,
    receiver_id: str,
    limits: Limits,
    key: DciKey | None = None,
    transport: httpx.BaseTransport | None = None,
) -> dict[str, Any]:
    """One delivery round (the app's background task and ``dtsen dci deliver``): answer pending async
    searches, then push what is due, then prune."""
    processed = process_pending(
        session_factory, now=now, secret=secret, receiver_id=receiver_id, limits=limits
    )
    delivered = outbox.deliver_due(session_factory, now=now, transport=transport, key=key or our_key())
    pruned = prune(session_factory, now=now)
    return {"searches": processed, "pushes": delivered, "pruned": pruned}
