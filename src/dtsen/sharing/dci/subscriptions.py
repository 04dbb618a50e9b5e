"""Agencies subscribe to changes of their approved population: the subscribe and unsubscribe messages.

``/dci/registry/subscribe`` (registry core spec, async): a client of an approved, valid by-name or
de-identified access request subscribes to one kind of change per ``subscribe_request`` item, named by
``reg_event_type``:

* ``dtsen:desil_change`` -- a family's national desil changed (the grant must include ``desil_nasional``);
* ``dtsen:program_change`` -- a family's eligibility for one of the grant's programs changed.

``filter_type`` ``predicate`` with an empty ``filter`` covers the whole approved population (the grant's
regions within the client's); predicates ``region eq <code>`` (joined by ``or``) narrow it to regions
inside the grant's. ``header.sender_uri`` must be a callback URI registered for the client: the
on-subscribe answer (with each subscription ``code``) and every notify push go there. The call is taken
whole or refused whole (4xx with the spec's codes, audited, nothing stored); ``/dci/registry/unsubscribe``
ends subscriptions by code the same way and answers with on-unsubscribe.

What each publish pushes to the subscriptions stored here: :mod:`dtsen.sharing.dci.subscription_push`.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dtsen.sharing.dci.crvs import SPEC, MessageRefusedError, ack
from dtsen.sharing.dci.errors import DciError
from dtsen.store import audit
from dtsen.store.dci_events import DciSubscription
from dtsen.store.identity import ApiClient

SUBSCRIBE_PATH = "/registry/subscribe"
UNSUBSCRIBE_PATH = "/registry/unsubscribe"
EVENT_TYPES = {"dtsen:desil_change": "desil", "dtsen:program_change": "program"}
MAX_ITEMS = 20  # subscribe_request items in one message
CODE_ALPHABET = "abcdefghijkmnpqrstuvwxyz"  # letters only: codes go into audit details


def _timestamp(now: datetime) -> str:
    return now.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _new_code() -> str:
    return "lgn-" + "".join(secrets.choice(CODE_ALPHABET) for _ in range(16))


def _problem(reference: str, code: str, message: str) -> dict[str, str]:
    return {"code": code, "message": f"{reference}: {message}"[:999]}


def _audit_refusal(session: Session, client: ApiClient, action: str, exc: DciError, now: datetime) -> None:
    session.rollback()
    audit.record(
        session,
        actor=f"client:{client.client_id}",
        actor_role=client.role,
        action=f"{action}_refused",
        resource="dci_subscription",
        purpose="langganan",
        detail={"code": exc.code, "errors": len(getattr(exc, "errors", [1]))},
        occurred_at=now,
    )
    session.commit()


def _verified(
    session: Session, body: Any, *, client: ApiClient, action: str, path: str, now: datetime
) -> tuple[dict[str, Any], dict[str, Any]]:
    from dtsen.sharing.dci import envelope, spec

    envelope.verify(session, body, client=client, now=now)
    header, message = body["header"], body["message"]
    if header.get("action") != action:
        raise DciError.transport("err.request.bad", f"header.action must be {action}")
    try:
        spec.validate_request(SPEC, path, body)
    except ValueError as exc:
        raise DciError.transport("err.request.bad", f"not a {action} request of the spec: {exc}") from exc
    return header, message


def _reply(
    session: Session,
    client: ApiClient,
    header: dict[str, Any],
    message: dict[str, Any],
    *,
    action: str,
    uri: str,
    answer: dict[str, Any],
    count: int,
    detail: dict[str, Any],
    now: datetime,
) -> str:
    """Queue the on-``action`` answer of an accepted request (``header``, ``message``) to ``uri``, audit
    the call and commit: the one success path of subscribe and unsubscribe. Returns the correlation id."""
    from dtsen.sharing.dci import envelope, outbox

    correlation = str(uuid.uuid4())
    reply = envelope.header_for_reply(
        header,
        action=f"on-{action}",
        status="succ",
        now=now,
        total_count=count,
        completed_count=count,
    )
    outbox.enqueue(
        session,
        client_pk=client.id,
        uri=uri,
        action=f"on-{action}",
        header=reply,
        message={
            "transaction_id": str(message.get("transaction_id", ""))[:99],
            "correlation_id": correlation,
            **answer,
        },
        correlation_id=correlation,
        now=now,
    )
    audit.record(
        session,
        actor=f"client:{client.client_id}",
        actor_role=client.role,
        action=action,
        resource="dci_subscription",
        purpose="langganan",
        detail={**detail, "correlation_id": correlation},
        occurred_at=now,
    )
    session.commit()
    return correlation


def _regions_of(raw: Any, grant_regions: Sequence[str]) -> list[str]:
    """The region codes a subscribe filter narrows to ([] = the whole grant); ValueError otherwise."""
    if raw in (None, []):
        return []
    if not isinstance(raw, list) or len(raw) > 50:
        raise ValueError("filter: a list of at most 50 region predicates")
    codes: list[str] = []
    for element in raw:
        if not isinstance(element, Mapping):
            raise ValueError("filter: each element is an ExpPredicateWithCondition")
        if element.get("condition") not in (None, "or"):
            raise ValueError("filter: region predicates are joined by or")
        for key in ("expression1", "expression2"):
            expression = element.get(key)
            if expression is None:
                continue
            if (
                not isinstance(expression, Mapping)
                or expression.get("attribute_name") != "region"
                or expression.get("operator") != "eq"
            ):
                raise ValueError("filter: only region eq <code> is supported")
            code = str(expression.get("attribute_value", ""))
            if not code.isdigit() or len(code) not in (2, 4, 6, 10):
                raise ValueError("filter: a region code has 2, 4, 6 or 10 digits")
            if not any(code.startswith(region) for region in grant_regions):
                raise ValueError("filter: the region lies outside the approved regions")
            codes.append(code)
    return sorted(set(codes))


@dataclass
class _Item:
    reference_id: str
    timestamp: str
    criteria: dict[str, Any]
    perubahan: str
    wilayah: list[str]


def subscribe(
    session: Session, body: Any, *, client: ApiClient, secret: str, now: datetime
) -> dict[str, Any]:
    """Register the subscriptions of one subscribe message (all or none); commits and returns the ACK.
    The on-subscribe answer with the codes is queued to ``header.sender_uri``."""
    from dtsen.sharing.dci import envelope, outbox
    from dtsen.sharing.dci.grant import grant_for

    try:
        header, message = _verified(
            session, body, client=client, action="subscribe", path=SUBSCRIBE_PATH, now=now
        )
        uri = str(header.get("sender_uri") or "")
        if not outbox.allowed_uri(session, client.id, uri):
            raise DciError.transport("err.sender_uri.invalid", "sender_uri is not registered for this client")
        grant = grant_for(session, client, secret=secret, now=now)
        if grant.level == "aggregate":
            raise DciError.transport("err.request.forbidden", "an aggregate grant sees no families")
        items = message.get("subscribe_request") or []
        if not items or len(items) > MAX_ITEMS:
            raise DciError("rjct.total_count.invalid", f"1 to {MAX_ITEMS} subscribe_request items", 400)
        active = {
            (row.perubahan, tuple(row.wilayah or ()))
            for row in session.scalars(
                select(DciSubscription).where(
                    DciSubscription.client_pk == client.id, DciSubscription.status == "aktif"
                )
            )
        }
        accepted: list[_Item] = []
        errors: list[dict[str, str]] = []
        seen: set[str] = set()
        for index, item in enumerate(items):
            reference = str(item.get("reference_id") or "")[:64] or f"#{index + 1}"
            criteria = dict(item.get("subscribe_criteria") or {})
            if reference in seen:
                errors.append(_problem(reference, "rjct.reference_id.duplicate", "repeated in this message"))
                continue
            seen.add(reference)
            perubahan = EVENT_TYPES.get(str(criteria.get("reg_event_type", "")))
            if perubahan is None:
                errors.append(
                    _problem(
                        reference,
                        "rjct.notify_types.invalid",
                        f"reg_event_type: one of {', '.join(EVENT_TYPES)}",
                    )
                )
                continue
            if perubahan == "desil" and "desil_nasional" not in grant.fields:
                errors.append(
                    _problem(reference, "rjct.notify_types.invalid", "the grant does not show the desil")
                )
                continue
            if perubahan == "program" and not grant.programs:
                errors.append(_problem(reference, "rjct.notify_types.invalid", "the grant names no program"))
                continue
            if criteria.get("filter_type", "predicate") != "predicate":
                errors.append(
                    _problem(reference, "rjct.notify_details.invalid", "filter_type must be predicate")
                )
                continue
            try:
                wilayah = _regions_of(criteria.get("filter"), grant.regions)
            except ValueError as exc:
                errors.append(_problem(reference, "rjct.notify_details.invalid", str(exc)))
                continue
            if (perubahan, tuple(wilayah)) in active:
                errors.append(_problem(reference, "rjct.event.already_subscribed", "already subscribed"))
                continue
            active.add((perubahan, tuple(wilayah)))
            accepted.append(
                _Item(reference, str(item.get("timestamp") or _timestamp(now)), criteria, perubahan, wilayah)
            )
        if errors:
            raise MessageRefusedError(errors)
        envelope.remember_message(
            session,
            sender_id=header["sender_id"],
            message_id=header["message_id"],
            action="subscribe",
            now=now,
        )
        rows = [
            DciSubscription(
                kode=_new_code(),
                client_pk=client.id,
                request_id=grant.request_id,
                reference_id=item.reference_id,
                transaction_id=str(message.get("transaction_id", ""))[:99],
                reg_event_type=str(item.criteria["reg_event_type"]),
                perubahan=item.perubahan,
                kriteria=item.criteria,
                wilayah=item.wilayah,
                notify_uri=uri,
                status="aktif",
                alasan=None,
                last_snapshot=None,
                created_at=now,
                ended_at=None,
            )
            for item in accepted
        ]
        session.add_all(rows)
        session.flush()
        correlation = _reply(
            session,
            client,
            header,
            message,
            action="subscribe",
            uri=uri,
            answer={
                "subscribe_response": [
                    {
                        "reference_id": item.reference_id,
                        "timestamp": _timestamp(now),
                        "status": "succ",
                        "subscriptions": [subscription_info(row, now)],
                        "locale": "eng",
                    }
                    for item, row in zip(accepted, rows, strict=True)
                ]
            },
            count=len(rows),
            detail={
                "kode": [r.kode for r in rows],
                "perubahan": [r.perubahan for r in rows],
                "permintaan": grant.nomor,
            },
            now=now,
        )
    except DciError as exc:
        _audit_refusal(session, client, "subscribe", exc, now)
        raise
    return ack(correlation, now)


def subscription_info(row: DciSubscription, now: datetime) -> dict[str, Any]:
    """A ``SubscriptionInfo``. Its schema requires ``subscription_code``, ``timestamp`` and
    ``subscribe_criteria`` while its properties say ``code`` and the criteria's fields: both are given."""
    criteria = {
        k: v
        for k, v in row.kriteria.items()
        if k
        in (
            "version",
            "reg_type",
            "reg_event_type",
            "frequency",
            "filter_type",
            "filter",
            "notify_record_type",
        )
    }
    return {
        "version": "1.0.0",
        "code": row.kode,
        "subscription_code": row.kode,
        "status": "subscribe" if row.status == "aktif" else "unsubscribe",
        "timestamp": _timestamp(now),
        **criteria,
        "subscribe_criteria": criteria,
    }


def unsubscribe(session: Session, body: Any, *, client: ApiClient, now: datetime) -> dict[str, Any]:
    """End the client's subscriptions named in one unsubscribe message (all or none); commits, returns
    the ACK and queues on-unsubscribe to ``header.sender_uri`` (else the subscriptions' own URI)."""
    from dtsen.sharing.dci import envelope, outbox

    try:
        header, message = _verified(
            session, body, client=client, action="unsubscribe", path=UNSUBSCRIBE_PATH, now=now
        )
        codes = message.get("subscription_codes") or message.get("sunscription_codes") or []
        if not isinstance(codes, list) or not codes or len(codes) > 100:
            raise DciError("rjct.subscription_code.invalid", "subscription_codes: 1 to 100 codes", 400)
        codes = [str(c)[:64] for c in codes]
        rows = {
            row.kode: row
            for row in session.scalars(
                select(DciSubscription).where(
                    DciSubscription.client_pk == client.id, DciSubscription.kode.in_(codes)
                )
            )
        }
        errors = []
        for code in codes:
            row = rows.get(code)
            if row is None:
                errors.append(
                    _problem(code, "rjct.subscription_code.invalid", "no such subscription of this client")
                )
            elif row.status != "aktif":
                errors.append(_problem(code, "rjct.event.already_unsubscribed", "already ended"))
        if errors:
            raise MessageRefusedError(errors)
        uri = str(header.get("sender_uri") or "") or rows[codes[0]].notify_uri
        if not outbox.allowed_uri(session, client.id, uri):
            raise DciError.transport("err.sender_uri.invalid", "sender_uri is not registered for this client")
        envelope.remember_message(
            session,
            sender_id=header["sender_id"],
            message_id=header["message_id"],
            action="unsubscribe",
            now=now,
        )
        for code in codes:
            rows[code].status, rows[code].ended_at, rows[code].alasan = "berhenti", now, "unsubscribe"
        correlation = _reply(
            session,
            client,
            header,
            message,
            action="unsubscribe",
            uri=uri,
            answer={
                "timestamp": _timestamp(now),
                "status": "succ",
                "subscription_status": [{"code": code, "status": "unsubscribe"} for code in codes],
            },
            count=len(codes),
            detail={"kode": codes},
            now=now,
        )
    except DciError as exc:
        _audit_refusal(session, client, "unsubscribe", exc, now)
        raise
    return ack(correlation, now)


def list_subscriptions(session: Session, client: ApiClient | None = None) -> list[DciSubscription]:
    statement = select(DciSubscription).order_by(DciSubscription.id)
    if client is not None:
        statement = statement.where(DciSubscription.client_pk == client.id)
    return list(session.scalars(statement))


__all__ = [
    "EVENT_TYPES",
    "list_subscriptions",
    "subscribe",
    "subscription_info",
    "unsubscribe",
]
