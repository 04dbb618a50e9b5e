"""The DCI Social Registry API (``social_api_v1.0.0.yaml``) under ``/dci``: sync and async search, sync and
async txn/status. The logic is :mod:`dtsen.sharing.dci.protocol`; this router authenticates (bearer token
of a client holding ``dci.search``), reads the body, runs the logic in one unit of work, and turns a
refusal into the spec's answer with an audit entry that survives the rollback.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from dtsen.auth.deps import audit_path, requires
from dtsen.auth.errors import audit_detached
from dtsen.auth.policy import clock_of
from dtsen.auth.scope import Principal
from dtsen.sharing.dci import protocol
from dtsen.sharing.dci.envelope import our_key
from dtsen.sharing.dci.errors import DciError
from dtsen.store.db import finish, session_factory
from dtsen.store.identity import ApiClient

router = APIRouter(prefix="/dci", tags=["dci"])

MAX_DCI_BODY = 8 * 1024 * 1024
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
    protocol.SYNC_TXN_STATUS: protocol.sync_txn_status,
    protocol.ASYNC_TXN_STATUS: protocol.async_txn_status,
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
    signed = protocol.reply(call, header if isinstance(header, dict) else {}, message, action=reply_action,
                            status="rjct", total=0, completed=0, reason=error)  # fmt: skip
    return JSONResponse(signed, status_code=error.http_status)


def _handle(request: Request, principal: Principal, raw: bytes, path: str) -> JSONResponse:
    app = request.app
    settings = app.state.settings
    now = clock_of(app)()
    session = session_factory(app.state.engine)()
    call: protocol.Call | None = None
    body: Any = None
    try:
        client = session.scalar(select(ApiClient).where(ApiClient.client_id == principal.name))
        if client is None or principal.kind != "client":
            raise DciError.transport(
                "err.request.unauthorized", "only registered machine clients call the DCI API"
            )
        call = protocol.Call(
            session=session,
            client=client,
            principal=principal,
            now=now,
            secret=str(settings.resolved_secret_key()),
            receiver_id=settings.dci_receiver_id,
            key=our_key(app),
            limits=_limits(settings),
        )
        if len(raw) > MAX_DCI_BODY:
            raise DciError.transport("err.request.bad", "the message is too large")
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise DciError.transport("err.request.bad", "the body is not JSON") from exc
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


def _route(path: str, summary: str) -> None:
    async def endpoint(
        request: Request, principal: Principal = Depends(requires("dci.search"))
    ) -> JSONResponse:
        raw = await request.body()
        return await run_in_threadpool(_handle, request, principal, raw, path)

    endpoint.__name__ = "dci_" + path.strip("/").replace("/", "_").replace("-", "_")
    endpoint.__doc__ = f"DCI Social Registry v1.0.0 ``POST {path}`` (see dtsen/sharing/dci/spec)."
    router.add_api_route(path, endpoint, methods=["POST"], summary=summary, openapi_extra=ENVELOPE_BODY,
                         response_class=JSONResponse)  # fmt: skip


_route(protocol.SYNC_SEARCH, "DCI: pencarian sinkron (sync/search)")
_route(protocol.ASYNC_SEARCH, "DCI: pencarian asinkron (search, jawaban lewat on-search)")
_route(protocol.SYNC_TXN_STATUS, "DCI: status transaksi sinkron (sync/txn/status)")
_route(protocol.ASYNC_TXN_STATUS, "DCI: status transaksi asinkron (txn/status, jawaban lewat txn/on-status)")
