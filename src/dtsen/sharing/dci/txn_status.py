"""The Social Registry's ``/registry/sync/txn/status`` and ``/registry/txn/status``: a client asks what
became of its earlier search transaction (by correlation id, transaction id or a list of reference ids)
and is answered at once or through an on-status callback. Admission is
:func:`dtsen.sharing.dci.protocol.admit`, as for searches.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from dtsen.sharing.dci import outbox
from dtsen.sharing.dci.envelope import header_for_reply
from dtsen.sharing.dci.errors import DciError
from dtsen.sharing.dci.protocol import (
    ASYNC_TXN_STATUS,
    SYNC_TXN_STATUS,
    Answer,
    Call,
    ack,
    admit,
    audit_accepted,
    callback_uri,
    message_timestamp,
    new_correlation_id,
    remember,
    reply,
)
from dtsen.store.dci import DciTransaction

TXN_LOOKBACK = 500  # a client's most recent transactions searched by reference_id_list


def _find(call: Call, request: dict[str, Any]) -> list[DciTransaction]:
    kind, value = request["attribute_type"], request["attribute_value"]
    mine = select(DciTransaction).where(DciTransaction.client_pk == call.client.id)
    if kind == "correlation_id" and isinstance(value, str):
        return list(call.session.scalars(mine.where(DciTransaction.correlation_id == value)))
    if kind == "transaction_id" and isinstance(value, str):
        latest = (
            mine.where(DciTransaction.transaction_id == value).order_by(DciTransaction.id.desc()).limit(1)
        )
        return list(call.session.scalars(latest))
    if kind == "reference_id_list" and isinstance(value, list):
        wanted = {str(reference) for reference in value}
        recent = mine.order_by(DciTransaction.id.desc()).limit(TXN_LOOKBACK)
        return [row for row in call.session.scalars(recent) if wanted & set(row.reference_ids or [])]
    raise DciError.transport("err.request.bad", f"attribute_value does not fit attribute_type {kind!r}")


def _status_of(row: DciTransaction, *, now: datetime, only: set[str] | None) -> dict[str, Any]:
    """A transaction's search status (the spec's SearchResponse shape), limited to ``only`` references."""
    if row.state != "pdng" and row.response_message is not None:
        answers = list(row.response_message.get("search_response", []))
    else:
        answers = [
            {"reference_id": reference, "timestamp": message_timestamp(row.created_at), "status": "pdng"}
            for reference in row.reference_ids
        ]
    if only is not None:
        answers = [answer for answer in answers if answer.get("reference_id") in only]
    return {
        "transaction_id": row.transaction_id,
        "correlation_id": row.correlation_id,
        "search_response": answers,
    }


def txn_status(call: Call, message: dict[str, Any]) -> tuple[int, dict[str, Any], str]:
    """(HTTP status, TxnStatusResponse message, header status) of a txn/status request."""
    request = message["txnstatus_request"]
    if request["txn_type"] != "search":
        raise DciError.transport("err.request.not_found", "only search transactions have a status here")
    rows = _find(call, request)
    only = (
        {str(v) for v in request["attribute_value"]}
        if request["attribute_type"] == "reference_id_list"
        else None
    )
    if not rows:
        missing = {
            "transaction_id": message["transaction_id"],
            "correlation_id": "",
            "search_response": [
                {
                    "reference_id": str(request["reference_id"]),
                    "timestamp": message_timestamp(call.now),
                    "status": "rjct",
                    "status_reason_code": "rjct.reference_id.invalid",
                    "status_reason_message": "no search transaction of this client matches",
                }
            ],
        }
        return 404, _txn_message(message, missing), "rjct"
    statuses = [_status_of(row, now=call.now, only=only) for row in rows]
    merged = {**statuses[0], "search_response": [a for status in statuses for a in status["search_response"]]}
    return 200, _txn_message(message, merged), "succ"


def _txn_message(message: dict[str, Any], status: dict[str, Any]) -> dict[str, Any]:
    return {
        "transaction_id": message["transaction_id"],
        "correlation_id": status["correlation_id"],
        "txnstatus_response": {"txn_type": "search", "txn_status": status},
    }


def sync_txn_status(call: Call, body: Any) -> Answer:
    header, message = admit(call, body, path=SYNC_TXN_STATUS)
    _check_count(header, 1)
    remember(call, header)
    code, answer, status = txn_status(call, message)
    audit_accepted(call, header, path=SYNC_TXN_STATUS, items=1, found=code == 200)
    out = reply(
        call,
        header,
        answer,
        action="txn-on-status",
        status=status,
        total=1,
        completed=1 if status == "succ" else 0,
        reason_message="no matching transaction" if status == "rjct" else None,
    )
    return Answer(code, out)


def _check_count(header: dict[str, Any], count: int) -> None:
    if header.get("total_count") != count:
        raise DciError("rjct.total_count.invalid", f"header.total_count must be {count}", 400)


def async_txn_status(call: Call, body: Any) -> Answer:
    header, message = admit(call, body, path=ASYNC_TXN_STATUS)
    _check_count(header, 1)
    uri = callback_uri(call, header)
    remember(call, header)
    code, answer, status = txn_status(call, message)
    correlation_id = new_correlation_id()
    reply_header = header_for_reply(
        header,
        action="txn-on-status",
        status=status,
        now=call.now,
        total_count=1,
        completed_count=1 if status == "succ" else 0,
        sender_id=call.receiver_id,
    )
    outbox.enqueue(
        call.session,
        client_pk=call.client.id,
        uri=uri,
        action="txn-on-status",
        header=reply_header,
        message=answer,
        correlation_id=correlation_id,
        now=call.now,
    )
    audit_accepted(
        call, header, path=ASYNC_TXN_STATUS, items=1, correlation_id=correlation_id, found=code == 200
    )
    return Answer(200, ack(call, correlation_id))
