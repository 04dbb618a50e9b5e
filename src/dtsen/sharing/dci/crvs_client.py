"""Our own subscription to Dukcapil's registry over the DCI CRVS API (``registry_core_api_v1.0.0.yaml``):
:func:`subscribe_message` / :func:`unsubscribe_message` build the spec's requests and
:func:`call_registry` sends them signed with our key.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from dtsen.sharing.dci.crvs import VITAL_EVENTS

SUBSCRIBE_PATH = "/registry/subscribe"
UNSUBSCRIBE_PATH = "/registry/unsubscribe"


def _timestamp(now: datetime) -> str:
    return now.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def subscribe_message(
    *, events: Sequence[str], regions: Sequence[str], now: datetime, transaction_id: str | None = None
) -> dict[str, Any]:
    """A ``SubscribeRequest`` for the vital ``events`` (VitalEventTypeEnum names) in ``regions`` (region
    codes; none: the whole country), one subscribe_request item per event type."""
    unknown = [e for e in events if e not in VITAL_EVENTS]
    if unknown:
        raise ValueError(f"unknown vital event(s) {', '.join(unknown)}; one of {', '.join(VITAL_EVENTS)}")
    predicates = [
        {
            "seq_num": i + 1,
            "expression1": {"attribute_name": "region", "operator": "eq", "attribute_value": code},
            **({"condition": "or"} if i + 1 < len(regions) else {}),
        }
        for i, code in enumerate(regions)
    ]
    stamp = _timestamp(now)
    return {
        "transaction_id": transaction_id or uuid.uuid4().hex,
        "subscribe_request": [
            {
                "reference_id": f"{event}-{uuid.uuid4().hex[:12]}",
                "timestamp": stamp,
                "subscribe_criteria": {
                    "version": "1.0.0",
                    "reg_type": "ns:org:RegistryType:Civil",
                    "reg_event_type": event,
                    "filter_type": "predicate",
                    "filter": predicates,
                    "notify_record_type": "spdci-extensions-dci:Person",
                },
                "locale": "ind",
            }
            for event in events
        ],
    }


def unsubscribe_message(
    codes: Sequence[str], *, now: datetime, transaction_id: str | None = None
) -> dict[str, Any]:
    """An ``UnSubscribeRequest``. The spec's schema requires ``timestamp`` and ``sunscription_codes``
    while naming the properties ``timesstamp`` and ``subscription_codes``: we send the codes under both
    names and ``timestamp``, so a registry reading either spelling understands us and the request
    validates against the schema as published."""
    codes = [str(c) for c in codes]
    if not codes:
        raise ValueError("give at least one subscription code")
    return {
        "transaction_id": transaction_id or uuid.uuid4().hex,
        "timestamp": _timestamp(now),
        "subscription_codes": codes,
        "sunscription_codes": codes,
    }


def request_header(
    action: str, *, receiver_id: str, sender_uri: str | None, total: int, now: datetime
) -> dict[str, Any]:
    """Our ``MsgHeader`` for a request to another registry."""
    from dtsen.config import get_settings

    header: dict[str, Any] = {
        "version": "1.0.0",
        "message_id": str(uuid.uuid4()),
        "message_ts": _timestamp(now),
        "action": action,
        "sender_id": get_settings().dci_receiver_id,
        "receiver_id": receiver_id,
        "total_count": total,
        "is_msg_encrypted": False,
    }
    if sender_uri:
        header["sender_uri"] = sender_uri
    return header


@dataclass
class RegistryAnswer:
    status_code: int
    body: Any
    request: dict[str, Any]


def call_registry(
    base_url: str,
    path: str,
    header: dict[str, Any],
    message: dict[str, Any],
    *,
    token: str,
    now: datetime,
    transport: httpx.BaseTransport | None = None,
    timeout: float = 30.0,
) -> RegistryAnswer:
    """POST a signed envelope (our key) to another registry's ``path``; the answer as received."""
    from dtsen.sharing.dci import envelope

    body = envelope.envelope(header, message, envelope.our_key(), now=now)
    with httpx.Client(transport=transport, timeout=timeout) as client:
        response = client.post(
            base_url.rstrip("/") + path, json=body, headers={"Authorization": f"Bearer {token}"}
        )
    try:
        answer: Any = response.json()
    except ValueError:
        answer = response.text[:2000]
    return RegistryAnswer(response.status_code, answer, body)
