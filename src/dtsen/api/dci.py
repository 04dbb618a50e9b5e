"""The DCI Social Registry API (``social_api_v1.0.0.yaml``) under ``/dci``: sync and async search, sync and
async txn/status. The logic is :mod:`dtsen.sharing.dci.protocol`; this router authenticates (bearer token
of a client holding ``dci.search``), reads the body, runs the logic in one unit of work, and turns a
refusal into the spec's answer with an audit entry that survives the rollback.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

import anyio
import anyio.to_thread
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import Session, lazyload, load_only

from dtsen.auth.deps import audit_path, authorize_here
from dtsen.auth.errors import audit_detached
from dtsen.auth.policy import clock_of
from dtsen.sharing.dci import protocol, txn_status
from dtsen.sharing.dci.envelope import key_id_hint, our_key
from dtsen.sharing.dci.errors import DciError
from dtsen.sharing.dci.search import CurrentSnapshot
from dtsen.store.db import finish, session_factory
from dtsen.store.dci import DciClientKey, DciGrant
from dtsen.store.identity import ApiClient
from dtsen.store.registry import SNAPSHOT
from dtsen.store.sharing import AccessRequest

router = APIRouter(prefix="/dci", tags=["dci"])

MAX_DCI_BODY = 8 * 1024 * 1024
# DCI requests in worker threads at once per process; the rest wait on the event loop, where waiting is
# free. With the default 40 threads, 100 searches in flight over two processes kept ~40 threads each
# contending for the GIL and for the 15 pooled connections: a search cost a fifth to a third more CPU
# (docs/benchmarks.md, DCI section).
DCI_THREADS = 8
# The app's own OpenAPI document only sketches the envelope; the DCI spec is the contract.
ENVELOPE_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["header", "message"],
                    "properties": {
                        "signature": {"type": "string"},
                        "header": {"type": "object"},
                        "message": {"type": "object"},
                    },
                }
            }
        },
    }
}
HANDLERS = {
    protocol.SYNC_SEARCH: protocol.sync_search,
    protocol.ASYNC_SEARCH: protocol.async_search,
    protocol.SYNC_TXN_STATUS: txn_status.sync_txn_status,
    protocol.ASYNC_TXN_STATUS: txn_status.async_txn_status,
}
ASYNC_PATHS = {protocol.ASYNC_SEARCH, protocol.ASYNC_TXN_STATUS}


def _limits(settings: Any) -> protocol.Limits:
    return protocol.Limits(
        page_size_max=int(settings.dci_page_size_max),
        batch_max=int(settings.dci_batch_max),
        sync_batch_max=int(settings.dci_sync_batch_max),
    )


def _refusal(
    request: Request, call: protocol.Call | None, body: Any, path: str, error: DciError
) -> JSONResponse:
    """The answer to a refused message (nothing it asked for was stored)."""
    if error.code.startswith("err."):
        return JSONResponse(error.http_body(), status_code=error.http_status)
    if path in ASYNC_PATHS or call is None:
        answer = protocol.ack(call, "", status="ERR", error=error) if call else error.http_body()
        return JSONResponse(answer, status_code=error.http_status)
    header = body.get("header") if isinstance(body, dict) else {}
    reply_action = protocol.REPLY_ACTIONS[protocol.ACTIONS[path]]
    message = protocol.rejection_message(path, body)
    signed = protocol.reply(
        call,
        header if isinstance(header, dict) else {},
        message,
        action=reply_action,
        status="rjct",
        total=0,
        completed=0,
        reason=error,
    )
    return JSONResponse(signed, status_code=error.http_status)


@dataclass
class _Loaded:
    """What the DCI routes read with the token's client, in the one query :func:`_client_loader` makes."""

    parsed: Any = None
    bad_body: DciError | None = None
    client: ApiClient | None = None
    keys: dict[str, DciClientKey | None] | None = None
    linked: AccessRequest | None = None
    snapshot: CurrentSnapshot | None = None  # the snapshot served now (None before the first load)
    fetched: bool = False


# The columns the checks read (the grant, the envelope key, the auth and audit fields): a narrower row
# is measurably cheaper to describe and load than the whole access request (23 columns).
_CLIENT_COLUMNS = (ApiClient.id, ApiClient.client_id, ApiClient.role, ApiClient.active, ApiClient.revoked_at)
_REQUEST_COLUMNS = (
    AccessRequest.id,
    AccessRequest.nomor,
    AccessRequest.level,
    AccessRequest.regions,
    AccessRequest.fields,
    AccessRequest.programs,
    AccessRequest.periode,
    AccessRequest.k_min,
    AccessRequest.tautan,
    AccessRequest.valid_from,
    AccessRequest.valid_until,
    AccessRequest.state,
)
_KEY_COLUMNS = (
    DciClientKey.id,
    DciClientKey.client_pk,
    DciClientKey.key_id,
    DciClientKey.public_jwk,
    DciClientKey.revoked_at,
)


@cache
def _client_query(with_key: bool) -> Select[Any]:
    """The client (``:client_id``) with its linked access request, the current snapshot and (``with_key``)
    the key ``:key_id``: built once, since building and keying the statement per request cost about as
    much as running it."""
    statement = (
        select(
            ApiClient,
            AccessRequest,
            SNAPSHOT.c.id,
            SNAPSHOT.c.ref,
            SNAPSHOT.c.created_at,
            *([DciClientKey] if with_key else []),
        )
        .outerjoin(DciGrant, DciGrant.client_pk == ApiClient.id)
        .outerjoin(AccessRequest, AccessRequest.id == DciGrant.request_id)
        .outerjoin(SNAPSHOT, SNAPSHOT.c.is_current)
        .where(ApiClient.client_id == bindparam("client_id"))
        .options(load_only(*_CLIENT_COLUMNS), lazyload(ApiClient.regions), load_only(*_REQUEST_COLUMNS))
        .limit(1)
    )
    if with_key:
        statement = statement.outerjoin(
            DciClientKey,
            (DciClientKey.client_pk == ApiClient.id) & (DciClientKey.key_id == bindparam("key_id")),
        ).options(load_only(*_KEY_COLUMNS))
    return statement


def _client_loader(session: Session, raw: bytes, loaded: _Loaded) -> Callable[[str], ApiClient | None]:
    """Reads the token's client together with the key its signature names, its linked access request and
    the snapshot served now, in one query (at most one row: one link per client, key ids unique per
    client, one current snapshot); the envelope, grant and search checks then judge these rows instead of
    fetching each. Runs only once the token's signature is verified, and parses the body first to learn
    the key id."""

    def load(client_id: str) -> ApiClient | None:
        loaded.parsed, loaded.bad_body = _parse(raw)
        key_id = key_id_hint(loaded.parsed)
        parameters = {"client_id": client_id, **({"key_id": key_id} if key_id else {})}
        row = session.execute(_client_query(key_id is not None), parameters).first()
        loaded.fetched = True
        if row is None:
            return None
        loaded.client, loaded.linked = row[0], row[1]
        loaded.snapshot = CurrentSnapshot(row[2], row[3], row[4]) if row[2] is not None else None
        loaded.keys = {key_id: row[5]} if key_id else None
        return loaded.client

    return load


def _parse(raw: bytes) -> tuple[Any, DciError | None]:
    if len(raw) > MAX_DCI_BODY:
        return None, DciError.transport("err.request.bad", "the message is too large")
    try:
        return json.loads(raw), None
    except (ValueError, UnicodeDecodeError):
        return None, DciError.transport("err.request.bad", "the body is not JSON")


def _handle(request: Request, raw: bytes, path: str) -> JSONResponse:
    """The whole request in one worker thread and one session: authenticate, admit, answer, commit."""
    app = request.app
    settings = app.state.settings
    now = clock_of(app)()
    session = session_factory(app.state.engine)()
    call: protocol.Call | None = None
    body: Any = None
    loaded = _Loaded()
    try:
        principal = authorize_here(
            request, session, "dci.search", load_client=_client_loader(session, raw, loaded)
        )
    except BaseException:
        finish(session, commit=False)
        raise
    try:
        if not loaded.fetched:  # not a bearer token (a browser session): refused below
            loaded.parsed, loaded.bad_body = _parse(raw)
        if loaded.client is None or principal.kind != "client":
            raise DciError.transport(
                "err.request.unauthorized", "only registered machine clients call the DCI API"
            )
        call = protocol.Call(
            session=session,
            client=loaded.client,
            principal=principal,
            now=now,
            secret=str(settings.resolved_secret_key()),
            receiver_id=settings.dci_receiver_id,
            key=our_key(app),
            limits=_limits(settings),
            keys=loaded.keys,
            linked=loaded.linked,
            linked_fetched=True,
            snapshot=loaded.snapshot,
        )
        if loaded.bad_body is not None:
            raise loaded.bad_body
        body = loaded.parsed
        answer = HANDLERS[path](call, body)
    except (DciError, protocol.Refused) as error:
        finish(session, commit=False)
        if isinstance(error, protocol.Refused):
            response = JSONResponse(error.answer.body, status_code=error.answer.status)
        else:
            response = _refusal(request, call, body, path, error)
        audit_detached(
            request,
            **principal.audit_fields(),
            action="dci_refused",
            resource="dci",
            detail={"path": audit_path(request), "code": error.code, "status": response.status_code},
            occurred_at=now,
        )
        return response
    except BaseException:
        finish(session, commit=False)
        raise
    finish(session, commit=True)
    return JSONResponse(answer.body, status_code=answer.status)


def _threads(app: Any) -> anyio.CapacityLimiter:
    """The worker threads DCI requests may hold at once in this process (:data:`DCI_THREADS`)."""
    limiter = getattr(app.state, "dci_threads", None)
    if not isinstance(limiter, anyio.CapacityLimiter):
        limiter = app.state.dci_threads = anyio.CapacityLimiter(DCI_THREADS)
    return limiter


async def _dci_search_permission() -> None:
    """Marks the DCI routes as needing ``dci.search`` (what :func:`dtsen.auth.permissions.permission_of`
    reads); the check itself is :func:`dtsen.auth.deps.authorize_here`, run in the route's worker thread."""


_dci_search_permission.permission = "dci.search"  # type: ignore[attr-defined]


def _route(path: str, summary: str) -> None:
    async def endpoint(request: Request, _: None = Depends(_dci_search_permission)) -> JSONResponse:
        raw = await request.body()
        return await anyio.to_thread.run_sync(_handle, request, raw, path, limiter=_threads(request.app))

    endpoint.__name__ = "dci_" + path.strip("/").replace("/", "_").replace("-", "_")
    endpoint.__doc__ = f"DCI Social Registry v1.0.0 ``POST {path}`` (see dtsen/sharing/dci/spec)."
    router.add_api_route(
        path,
        endpoint,
        methods=["POST"],
        summary=summary,
        openapi_extra=ENVELOPE_BODY,
        response_class=JSONResponse,
    )


_route(protocol.SYNC_SEARCH, "DCI: pencarian sinkron (sync/search)")
_route(protocol.ASYNC_SEARCH, "DCI: pencarian asinkron (search, jawaban lewat on-search)")
_route(protocol.SYNC_TXN_STATUS, "DCI: status transaksi sinkron (sync/txn/status)")
_route(protocol.ASYNC_TXN_STATUS, "DCI: status transaksi asinkron (txn/status, jawaban lewat txn/on-status)")
