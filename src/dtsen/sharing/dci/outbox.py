"""Every push we make to another system (on-search and txn/on-status callbacks, notify to subscribers):
queued in ``dci_outbox`` inside the unit of work that decided it, delivered later by :func:`deliver_due`.

* Only to a URI registered for the client (:func:`allowed_uri`; an admin registers them with
  ``dtsen clients callback add``), checked when queued and again when sent, so a callback removed in
  between is not called.
* Signed at delivery time with our current key, so a retry after a key rotation verifies against the
  JWKS the receiver fetches then.
* Bounded retries with exponential back-off (:data:`BACKOFF_SECONDS`: 30 s, 1, 2, 4, 8 min), then
  ``gagal`` (given up; ``dtsen dci deliver`` reports it). Each attempt is audited.
* Several deliverers may run at once (the app's background task, a cron ``dtsen dci deliver``): a row is
  claimed by moving its ``next_attempt_at`` forward with a compare-and-set UPDATE, so only one sends it.

Delivery is a plain function: tests call it with an ``httpx.MockTransport``; nothing depends on the
background task's timing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from dtsen.logs import get_logger
from dtsen.sharing.dci.envelope import DciKey, envelope, our_key
from dtsen.sharing.dci.errors import DciError
from dtsen.store import audit
from dtsen.store.dci import DciCallback, DciOutbox
from dtsen.store.identity import ApiClient

log = get_logger(__name__)

__all__ = ["BACKOFF_SECONDS", "MAX_ATTEMPTS", "allowed_uri", "deliver_due", "enqueue"]

# Seconds to wait after the 1st, 2nd ... failed attempt; after the last attempt the push is given up.
BACKOFF_SECONDS = (30, 60, 120, 240, 480)
MAX_ATTEMPTS = len(BACKOFF_SECONDS) + 1
CLAIM_SECONDS = 120  # a claimed row is invisible to other deliverers this long (longer than one POST)
TIMEOUT_SECONDS = 10.0
ACTOR = {"actor": "system:dci", "actor_role": None}


def allowed_uri(session: Session, client_pk: int, uri: str) -> bool:
    """Whether ``uri`` is exactly one of the callback URIs registered for the client."""
    if not uri or len(uri) > 500:
        return False
    found = session.scalar(
        select(DciCallback.id).where(DciCallback.client_pk == client_pk, DciCallback.uri == uri)
    )
    return found is not None


def enqueue(
    session: Session,
    *,
    client_pk: int,
    uri: str,
    action: str,
    header: dict[str, Any],
    message: dict[str, Any],
    correlation_id: str,
    now: datetime,
) -> int:
    """Queue one push (delivered by :func:`deliver_due`, signed then); its id. err.sender_uri.invalid if
    ``uri`` is not registered for the client."""
    if not allowed_uri(session, client_pk, uri):
        raise DciError.transport(
            "err.sender_uri.invalid", "the callback URI is not registered for this client"
        )
    row = DciOutbox(
        client_pk=client_pk,
        uri=uri,
        action=action,
        correlation_id=correlation_id,
        header=header,
        message=message,
        state="antri",
        attempts=0,
        next_attempt_at=now,
        last_error=None,
        created_at=now,
        delivered_at=None,
    )
    session.add(row)
    session.flush()
    return row.id


def _claim(session: Session, row_id: int, *, now: datetime) -> bool:
    claimed = session.execute(
        update(DciOutbox)
        .where(DciOutbox.id == row_id, DciOutbox.state == "antri", DciOutbox.next_attempt_at <= now)
        .values(next_attempt_at=now + timedelta(seconds=CLAIM_SECONDS))
    )
    session.commit()
    return bool(getattr(claimed, "rowcount", 0) == 1)


def _post(http: httpx.Client, uri: str, body: dict[str, Any]) -> str | None:
    """None if the receiver took the push (2xx), else a short reason (no response body: it may echo
    personal data back)."""
    try:
        response = http.post(
            uri,
            content=json.dumps(body, ensure_ascii=False).encode(),
            headers={"content-type": "application/json"},
        )
    except httpx.HTTPError as exc:
        return f"transport error: {type(exc).__name__}"
    if 200 <= response.status_code < 300:
        return None
    return f"HTTP {response.status_code}"


def _deliver_one(session: Session, http: httpx.Client, row: DciOutbox, *, key: DciKey, now: datetime) -> str:
    """Try one claimed row; its outcome: sent | retry | failed."""
    client_id = session.scalar(select(ApiClient.client_id).where(ApiClient.id == row.client_pk))
    if not allowed_uri(session, row.client_pk, row.uri):
        error: str | None = "callback URI no longer registered"
        row.attempts = MAX_ATTEMPTS
    else:
        row.attempts += 1
        error = _post(http, row.uri, envelope(row.header, row.message, key, now=now))
    if error is None:
        row.state, row.delivered_at, row.last_error = "terkirim", now, None
        outcome = "sent"
    elif row.attempts >= MAX_ATTEMPTS:
        row.state, row.last_error = "gagal", error[:200]
        outcome = "failed"
    else:
        row.next_attempt_at = now + timedelta(seconds=BACKOFF_SECONDS[row.attempts - 1])
        row.last_error = error[:200]
        outcome = "retry"
    audit.record(
        session,
        **ACTOR,
        action="dci_push",
        resource="dci_outbox",
        detail={
            "client_id": client_id,
            "push": row.action,
            "outbox_id": row.id,
            "host": urlsplit(row.uri).hostname,
            "attempt": row.attempts,
            "outcome": outcome,
            "error": error,
        },
        occurred_at=now,
    )
    session.commit()
    return outcome


def deliver_due(
    session_factory: Callable[[], Session],
    *,
    now: datetime,
    transport: httpx.BaseTransport | None = None,
    limit: int = 100,
    key: DciKey | None = None,
) -> dict[str, int]:
    """POST every queued push due at ``now`` (at most ``limit``), each in its own transaction; counts of
    ``due``, ``sent``, ``retry`` (will be tried again), ``failed`` (given up) and ``skipped`` (another
    deliverer claimed it first)."""
    key = key or our_key()
    with session_factory() as session:
        due = list(
            session.scalars(
                select(DciOutbox.id)
                .where(DciOutbox.state == "antri", DciOutbox.next_attempt_at <= now)
                .order_by(DciOutbox.next_attempt_at, DciOutbox.id)
                .limit(limit)
            )
        )
    counts = {"due": len(due), "sent": 0, "retry": 0, "failed": 0, "skipped": 0}
    if not due:
        return counts
    with httpx.Client(transport=transport, timeout=TIMEOUT_SECONDS, follow_redirects=False) as http:
        for row_id in due:
            with session_factory() as session:
                if not _claim(session, row_id, now=now):
                    counts["skipped"] += 1
                    continue
                row = session.get(DciOutbox, row_id)
                if row is None:  # deleted between the claim and now
                    counts["skipped"] += 1
                    continue
                counts[_deliver_one(session, http, row, key=key, now=now)] += 1
    if counts["retry"] or counts["failed"]:
        log.warning("dci pushes not delivered", **{k: v for k, v in counts.items() if k != "due"})
    return counts
