"""DCI registry-core endpoints: Dukcapil's vital events in, agencies' subscriptions to changes.

* ``POST /dci/registry/notify``: Dukcapil (role ``dukcapil``, permission ``events.submit``) pushes births,
  deaths, marriages and divorces (:mod:`dtsen.sharing.dci.crvs`).
* ``POST /dci/registry/subscribe`` and ``/dci/registry/unsubscribe``: an agency client (permission
  ``dci.subscribe``) subscribes to desil / program changes of its approved population
  (:mod:`dtsen.sharing.dci.subscriptions`).

Each needs the bearer token *and* a signed envelope from the same client. An accepted message is
answered with the spec's acknowledgement (``{"message": {"ack_status": "ACK", ...}}``); a refused one with
the spec's ``HttpErrorResponse`` (``{"errors": [{"code", "message"}]}``) and a 4xx, after the service has
audited it and kept nothing of it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from dtsen.api.deps import db_session
from dtsen.auth.deps import requires
from dtsen.auth.policy import clock_of
from dtsen.auth.scope import Principal
from dtsen.sharing.dci.errors import DciError
from dtsen.store.identity import ApiClient

router = APIRouter(prefix="/dci/registry", tags=["dci"])
MAX_BODY = 4 * 1024 * 1024  # a notify of MAX_EVENTS events is far below this


def _error(exc: DciError) -> JSONResponse:
    return JSONResponse(exc.http_body(), status_code=exc.http_status)


def _client(db: Session, principal: Principal) -> ApiClient:
    client = db.scalar(select(ApiClient).where(ApiClient.client_id == principal.name))
    if principal.kind != "client" or client is None:
        raise DciError.transport("err.request.unauthorized", "DCI calls are made by registered API clients")
    return client


async def _body(request: Request) -> Any:
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise DciError.transport("err.request.bad", "the message is too large")
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise DciError.transport("err.request.bad", "the body is not JSON") from exc


async def _handle(
    request: Request,
    db: Session,
    principal: Principal,
    work: Callable[[Session, Any, ApiClient], dict[str, Any]],
) -> JSONResponse:
    try:
        body = await _body(request)
        client = _client(db, principal)
        answer = await run_in_threadpool(work, db, body, client)
    except DciError as exc:
        return _error(exc)
    return JSONResponse(answer)


@router.post("/notify", summary="DCI notify: Dukcapil pushes vital events")
async def notify(
    request: Request,
    db: Session = Depends(db_session),
    principal: Principal = Depends(requires("events.submit")),
) -> JSONResponse:
    """Births, deaths, marriages and divorces from Dukcapil; taken whole or refused whole."""
    from dtsen.sharing.dci import crvs

    now = clock_of(request.app)()

    def work(session: Session, body: Any, client: ApiClient) -> dict[str, Any]:
        result = crvs.receive_notify(session, body, client=client, now=now)
        return crvs.ack(result.correlation_id, now)

    return await _handle(request, db, principal, work)


@router.post("/subscribe", summary="DCI subscribe: changes of the approved population")
async def subscribe(
    request: Request,
    db: Session = Depends(db_session),
    principal: Principal = Depends(requires("dci.subscribe")),
) -> JSONResponse:
    """Subscribe to desil or program changes; the codes come in the on-subscribe callback."""
    from dtsen.sharing.dci import subscriptions

    now = clock_of(request.app)()
    secret = str(request.app.state.settings.resolved_secret_key())

    def work(session: Session, body: Any, client: ApiClient) -> dict[str, Any]:
        return subscriptions.subscribe(session, body, client=client, secret=secret, now=now)

    return await _handle(request, db, principal, work)


@router.post("/unsubscribe", summary="DCI unsubscribe: end subscriptions by code")
async def unsubscribe(
    request: Request,
    db: Session = Depends(db_session),
    principal: Principal = Depends(requires("dci.subscribe")),
) -> JSONResponse:
    """End subscriptions by code; confirmed in the on-unsubscribe callback."""
    from dtsen.sharing.dci import subscriptions

    now = clock_of(request.app)()

    def work(session: Session, body: Any, client: ApiClient) -> dict[str, Any]:
        return subscriptions.unsubscribe(session, body, client=client, now=now)

    return await _handle(request, db, principal, work)
