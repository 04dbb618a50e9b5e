"""Agencies subscribe to changes of their approved population; every publish pushes them the changes.

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

After each publish (:func:`after_publish`, called by the cycle once the snapshot is served, never
raising) :func:`push_changes` compares the new served snapshot with the previous one for every active
subscription in one grouped query per subscription (no per-family Python), and queues signed notify
pushes of :data:`BATCH` families each through :func:`dtsen.sharing.dci.outbox.enqueue`. A family is named
as the grant allows: its KK if approved (by-name), tokens (de-identified, the extract's salt), always the
``@id`` of :mod:`dtsen.sharing.dci.records`. A subscription remembers the last snapshot pushed, so a
retried publish pushes nothing twice; one whose grant ended or no longer shows the change, or whose client was revoked, is ended.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Integer, and_, case, func, or_, select
from sqlalchemy.orm import Session

from dtsen.auth.scope import Principal, Role, apply_scope
from dtsen.logs import get_logger
from dtsen.sharing.dci.crvs import SPEC, MessageRefusedError, ack
from dtsen.sharing.dci.errors import DciError
from dtsen.store import audit
from dtsen.store.dci_events import DciSubscription
from dtsen.store.identity import ApiClient
from dtsen.store.registry import ELIGIBILITY, FAMILY, SNAPSHOT

log = get_logger(__name__)

SUBSCRIBE_PATH = "/registry/subscribe"
UNSUBSCRIBE_PATH = "/registry/unsubscribe"
EVENT_TYPES = {"dtsen:desil_change": "desil", "dtsen:program_change": "program"}
RECORD_TYPE = "spdci:Group"
REGISTRY_TYPE = "ns:org:RegistryType:SocialRegistry"
BATCH = 500  # families per notify message
MAX_ITEMS = 20  # subscribe_request items in one message
CODE_ALPHABET = "abcdefghijkmnpqrstuvwxyz"  # letters only: codes go into audit details
ACTOR = {"actor": "system:dci", "actor_role": None}


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
        correlation = str(uuid.uuid4())
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
        answer = {
            "transaction_id": str(message.get("transaction_id", ""))[:99],
            "correlation_id": correlation,
            "subscribe_response": [
                {
                    "reference_id": item.reference_id,
                    "timestamp": _timestamp(now),
                    "status": "succ",
                    "subscriptions": [subscription_info(row, now)],
                    "locale": "eng",
                }
                for item, row in zip(accepted, rows, strict=True)
            ],
        }
        reply = envelope.header_for_reply(
            header,
            action="on-subscribe",
            status="succ",
            now=now,
            total_count=len(rows),
            completed_count=len(rows),
        )
        outbox.enqueue(
            session,
            client_pk=client.id,
            uri=uri,
            action="on-subscribe",
            header=reply,
            message=answer,
            correlation_id=correlation,
            now=now,
        )
        audit.record(
            session,
            actor=f"client:{client.client_id}",
            actor_role=client.role,
            action="subscribe",
            resource="dci_subscription",
            purpose="langganan",
            detail={
                "kode": [r.kode for r in rows],
                "perubahan": [r.perubahan for r in rows],
                "permintaan": grant.nomor,
                "correlation_id": correlation,
            },
            occurred_at=now,
        )
        session.commit()
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
        correlation = str(uuid.uuid4())
        answer = {
            "transaction_id": str(message.get("transaction_id", ""))[:99],
            "correlation_id": correlation,
            "timestamp": _timestamp(now),
            "status": "succ",
            "subscription_status": [{"code": code, "status": "unsubscribe"} for code in codes],
        }
        reply = envelope.header_for_reply(
            header,
            action="on-unsubscribe",
            status="succ",
            now=now,
            total_count=len(codes),
            completed_count=len(codes),
        )
        outbox.enqueue(
            session,
            client_pk=client.id,
            uri=uri,
            action="on-unsubscribe",
            header=reply,
            message=answer,
            correlation_id=correlation,
            now=now,
        )
        audit.record(
            session,
            actor=f"client:{client.client_id}",
            actor_role=client.role,
            action="unsubscribe",
            resource="dci_subscription",
            purpose="langganan",
            detail={"kode": codes, "correlation_id": correlation},
            occurred_at=now,
        )
        session.commit()
    except DciError as exc:
        _audit_refusal(session, client, "unsubscribe", exc, now)
        raise
    return ack(correlation, now)


# -- after a publish ---------------------------------------------------------------------------------------
@dataclass
class PushResult:
    snapshot: str
    previous: str | None
    subscriptions: int = 0  # active subscriptions looked at
    families: int = 0  # changed families pushed (summed over subscriptions)
    messages: int = 0  # notify messages queued
    ended: list[str] = field(default_factory=list)  # subscriptions ended (grant over, client revoked)

    def summary(self) -> dict[str, Any]:
        return {
            "snapshot": self.snapshot,
            "previous": self.previous,
            "subscriptions": self.subscriptions,
            "families": self.families,
            "messages": self.messages,
            "ended": len(self.ended),
        }


def _snapshots(session: Session, ref: str) -> tuple[Any, Any]:
    """The ready served snapshot ``ref`` and the ready one before it (None for the first)."""
    snap = session.execute(
        select(SNAPSHOT.c.id, SNAPSHOT.c.ref, SNAPSHOT.c.periode, SNAPSHOT.c.versi)
        .where(SNAPSHOT.c.ref == ref, SNAPSHOT.c.status == "ready")
        .order_by(SNAPSHOT.c.id.desc())
        .limit(1)
    ).one_or_none()
    if snap is None:
        raise ValueError(f"snapshot {ref!r} is not loaded (ready) in the serving database")
    before = or_(
        SNAPSHOT.c.periode < snap.periode,
        and_(SNAPSHOT.c.periode == snap.periode, SNAPSHOT.c.versi < snap.versi),
    )
    previous = session.execute(
        select(SNAPSHOT.c.id, SNAPSHOT.c.ref)
        .where(SNAPSHOT.c.status == "ready", before)
        .order_by(SNAPSHOT.c.periode.desc(), SNAPSHOT.c.versi.desc())
        .limit(1)
    ).one_or_none()
    return snap, previous


def _scopes(client: ApiClient, regions: Sequence[str], wilayah: Sequence[str]) -> list[Principal]:
    """The client's regions, the grant's, and the subscription's narrowing: each applied by apply_scope."""
    scopes = [
        Principal(kind="client", name=client.client_id, role=Role(client.role), regions=client.region_codes),
        Principal(kind="client", name=client.client_id, role=Role.KLIEN_INSTANSI, regions=tuple(regions)),
    ]
    if wilayah:
        scopes.append(
            Principal(kind="client", name=client.client_id, role=Role.KLIEN_INSTANSI, regions=tuple(wilayah))
        )
    return scopes


def desil_changes(session: Session, new_id: int, old_id: int, scopes: Sequence[Principal]) -> list[Any]:
    """(id_keluarga_dtsen, no_kk, sekarang, sebelumnya) of families in scope whose national desil differs
    between the two snapshots (entering or leaving the scope counts: the other side is null)."""
    in_new = FAMILY.c.snapshot_id == new_id
    now_ = func.max(case((in_new, FAMILY.c.desil_nasional)))
    before = func.max(case((FAMILY.c.snapshot_id == old_id, FAMILY.c.desil_nasional)))
    present = func.max(case((in_new, 1), else_=0))
    was = func.max(case((FAMILY.c.snapshot_id == old_id, 1), else_=0))
    statement = select(
        FAMILY.c.id_keluarga_dtsen,
        func.max(FAMILY.c.no_kk).label("no_kk"),
        now_.label("sekarang"),
        before.label("sebelumnya"),
    ).where(FAMILY.c.snapshot_id.in_((new_id, old_id)))
    for scope in scopes:
        statement = apply_scope(statement, scope, FAMILY)
    statement = (
        statement.group_by(FAMILY.c.id_keluarga_dtsen)
        .having(or_(now_.is_distinct_from(before), present != was))
        .order_by(FAMILY.c.id_keluarga_dtsen)
    )
    return list(session.execute(statement))


def program_changes(
    session: Session, new_id: int, old_id: int, programs: Sequence[str], scopes: Sequence[Principal]
) -> list[Any]:
    """(id_keluarga_dtsen, program, sekarang, sebelumnya) where a family's eligibility for one of
    ``programs`` differs between the two snapshots (a family absent from one side is not eligible there)."""
    layak = case((ELIGIBILITY.c.layak.is_(True), 1), else_=0)
    now_ = func.max(case((ELIGIBILITY.c.snapshot_id == new_id, layak), else_=0), type_=Integer)
    before = func.max(case((ELIGIBILITY.c.snapshot_id == old_id, layak), else_=0), type_=Integer)
    statement = select(
        ELIGIBILITY.c.id_keluarga_dtsen,
        ELIGIBILITY.c.program,
        now_.label("sekarang"),
        before.label("sebelumnya"),
    ).where(ELIGIBILITY.c.snapshot_id.in_((new_id, old_id)), ELIGIBILITY.c.program.in_(list(programs)))
    for scope in scopes:
        statement = apply_scope(statement, scope, ELIGIBILITY)
    statement = (
        statement.group_by(ELIGIBILITY.c.id_keluarga_dtsen, ELIGIBILITY.c.program)
        .having(now_ != before)
        .order_by(ELIGIBILITY.c.id_keluarga_dtsen, ELIGIBILITY.c.program)
    )
    return list(session.execute(statement))


def _no_kk(session: Session, new_id: int, old_id: int, families: Sequence[str]) -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    ordered = sorted(set(families))
    for start in range(0, len(ordered), 1000):
        for row in session.execute(
            select(FAMILY.c.id_keluarga_dtsen, func.max(FAMILY.c.no_kk))
            .where(
                FAMILY.c.snapshot_id.in_((new_id, old_id)),
                FAMILY.c.id_keluarga_dtsen.in_(ordered[start : start + 1000]),
            )
            .group_by(FAMILY.c.id_keluarga_dtsen)
        ):
            found[row[0]] = row[1]
    return found


def _records(
    session: Session, sub: DciSubscription, grant: Any, new_id: int, old_id: int, scopes: Sequence[Principal]
) -> list[dict[str, Any]]:
    """One reg_records Group per changed family: its identifiers as the grant allows, and the change."""
    from dtsen.sharing.dci.records import CONTEXT, View, group_identifiers, token
    from dtsen.sharing.dci.search import RECORD_BASE

    changed: dict[str, dict[str, Any]] = {}
    if sub.perubahan == "desil":
        for row in desil_changes(session, new_id, old_id, scopes):
            changed[row.id_keluarga_dtsen] = {
                "no_kk": row.no_kk,
                "poverty_score": row.sekarang,
                "attributes": [{"poverty_score_before": row.sebelumnya}],
            }
    else:
        rows = program_changes(session, new_id, old_id, grant.programs, scopes)
        cards = _no_kk(session, new_id, old_id, [r.id_keluarga_dtsen for r in rows])
        for row in rows:
            entry = changed.setdefault(
                row.id_keluarga_dtsen, {"no_kk": cards.get(row.id_keluarga_dtsen), "attributes": []}
            )
            entry["attributes"] += [
                {f"layak_{row.program}": bool(row.sekarang)},
                {f"layak_{row.program}_before": bool(row.sebelumnya)},
            ]
    view = View.of(grant)  # what the grant shows, as the search answers build it
    out = []
    for family_id, change in changed.items():
        family = {"id_keluarga_dtsen": family_id, "no_kk": change["no_kk"]}
        ident = token(view.salt, family_id) if view.salt is not None else family_id
        record: dict[str, Any] = {
            "@context": CONTEXT,
            "@type": RECORD_TYPE,
            "@id": f"{RECORD_BASE}/group/{ident}",
            "group_identifier": group_identifiers(view, family),
            "group_type": "family",
        }
        if "poverty_score" in change:
            record["poverty_score"] = change["poverty_score"]
            record["poverty_score_type"] = "desil_nasional"
        record["additional_attributes"] = change["attributes"]
        out.append(record)
    return out


def _end(sub: DciSubscription, reason: str, now: datetime, result: PushResult) -> None:
    sub.status, sub.ended_at, sub.alasan = "berhenti", now, reason
    result.ended.append(sub.kode)


def push_changes(session: Session, snapshot_ref: str, *, secret: str, now: datetime) -> PushResult:
    """Queue the changes between ``snapshot_ref`` and the served snapshot before it for every active
    subscription not yet pushed this snapshot; commits per subscription."""
    from dtsen.sharing.dci import envelope, outbox
    from dtsen.sharing.dci.grant import grant_for

    snap, previous = _snapshots(session, snapshot_ref)
    result = PushResult(snap.ref, previous.ref if previous is not None else None)
    ids = list(
        session.scalars(
            select(DciSubscription.id)
            .where(
                DciSubscription.status == "aktif",
                or_(DciSubscription.last_snapshot.is_(None), DciSubscription.last_snapshot != snap.ref),
            )
            .order_by(DciSubscription.id)
        )
    )
    for sub_id in ids:
        sub = session.get(DciSubscription, sub_id)
        client = session.get(ApiClient, sub.client_pk) if sub is not None else None
        if sub is None or client is None:
            continue
        result.subscriptions += 1
        if not client.active or client.revoked_at is not None:
            _end(sub, "klien_dicabut", now, result)
            session.commit()
            continue
        try:
            grant = grant_for(session, client, secret=secret, now=now)
        except DciError:
            _end(sub, "akses_berakhir", now, result)
            session.commit()
            continue
        if grant.level == "aggregate" or (sub.perubahan == "desil" and "desil_nasional" not in grant.fields):
            _end(sub, "akses_berubah", now, result)  # re-granted under a request that no longer shows it
            session.commit()
            continue
        records = (
            []
            if previous is None
            else _records(
                session, sub, grant, snap.id, previous.id, _scopes(client, grant.regions, sub.wilayah or [])
            )
        )
        try:
            for start in range(0, len(records), BATCH):
                batch = records[start : start + BATCH]
                header = envelope.header_for_reply(
                    {"sender_id": client.client_id},
                    action="notify",
                    status="succ",
                    now=now,
                    total_count=len(batch),
                    completed_count=len(batch),
                )
                message = {
                    "transaction_id": sub.transaction_id or sub.kode,
                    "notify_event": [
                        {
                            "reference_id": uuid.uuid4().hex,
                            "timestamp": _timestamp(now),
                            "data": {
                                "version": "1.0.0",
                                "reg_type": REGISTRY_TYPE,
                                "reg_record_type": RECORD_TYPE,
                                "reg_event_type": sub.reg_event_type,
                                "reg_records": record,
                            },
                        }
                        for record in batch
                    ],
                }
                outbox.enqueue(
                    session,
                    client_pk=client.id,
                    uri=sub.notify_uri,
                    action="notify",
                    header=header,
                    message=message,
                    correlation_id=sub.kode,
                    now=now,
                )
                result.messages += 1
        except DciError:  # the notify URI was removed: nowhere to push to any more
            session.rollback()
            sub = session.get(DciSubscription, sub_id)
            assert sub is not None
            _end(sub, "uri_dicabut", now, result)
            session.commit()
            continue
        sub.last_snapshot = snap.ref
        result.families += len(records)
        audit.record(
            session,
            **ACTOR,
            action="notify_push",
            resource="dci_subscription",
            purpose="langganan",
            detail={
                "kode": sub.kode,
                "client_id": client.client_id,
                "permintaan": grant.nomor,
                "snapshot": snap.ref,
                "keluarga": len(records),
                "pesan": -(-len(records) // BATCH),
            },
            occurred_at=now,
        )
        session.commit()
    log.info("subscription changes queued", **result.summary())
    return result


def after_publish(ref: str) -> dict[str, Any] | None:
    """The cycle's call once ``ref`` is served: push changes to subscribers (None without a serving
    database). Errors are logged and returned, never raised; ``dtsen dci subscriptions push`` redoes it."""
    from dtsen.config import get_settings

    settings = get_settings()
    if not settings.database_url:
        return None
    from dtsen.store.db import make_engine

    engine = make_engine(settings.database_url)
    try:
        with Session(engine) as session:
            done = push_changes(session, ref, secret=settings.resolved_secret_key(), now=datetime.now(UTC))
        return {"status": "ok", **done.summary()}
    except Exception as exc:
        log.error("subscription changes could not be queued", snapshot=ref, error=str(exc)[:500])
        return {"status": "failed", "error": str(exc)[:500]}
    finally:
        engine.dispose()


def list_subscriptions(session: Session, client: ApiClient | None = None) -> list[DciSubscription]:
    statement = select(DciSubscription).order_by(DciSubscription.id)
    if client is not None:
        statement = statement.where(DciSubscription.client_pk == client.id)
    return list(session.scalars(statement))


__all__ = [
    "EVENT_TYPES",
    "PushResult",
    "after_publish",
    "desil_changes",
    "list_subscriptions",
    "program_changes",
    "push_changes",
    "subscribe",
    "subscription_info",
    "unsubscribe",
]
