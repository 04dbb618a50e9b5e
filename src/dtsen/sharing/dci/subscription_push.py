"""After each publish, every active agency subscription is pushed the changes of its population.

:func:`after_publish` (called by the cycle once the snapshot is served, never raising) runs
:func:`push_changes`: it compares the new served snapshot with the previous one for every active
subscription (registered by :mod:`dtsen.sharing.dci.subscriptions`) in one grouped query per
subscription (no per-family Python), and queues signed notify pushes of :data:`BATCH` families each
through :func:`dtsen.sharing.dci.outbox.enqueue`. A family is named as the grant allows: its KK if
approved (by-name), tokens (de-identified, the extract's salt), always the ``@id`` of
:mod:`dtsen.sharing.dci.records`. A subscription remembers the last snapshot pushed, so a retried publish
pushes nothing twice; one whose grant ended or no longer shows the change, or whose client was revoked,
is ended.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Integer, case, func, or_, select
from sqlalchemy.orm import Session

from dtsen.auth.scope import Principal, Role, apply_scope
from dtsen.logs import get_logger
from dtsen.sharing.dci.errors import DciError
from dtsen.store import audit
from dtsen.store.dci_events import DciSubscription
from dtsen.store.identity import ApiClient
from dtsen.store.registry import ELIGIBILITY, FAMILY, ready_and_previous

log = get_logger(__name__)

RECORD_TYPE = "spdci:Group"
REGISTRY_TYPE = "ns:org:RegistryType:SocialRegistry"
BATCH = 500  # families per notify message
ACTOR = {"actor": "system:dci", "actor_role": None}


def _timestamp(now: datetime) -> str:
    return now.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


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

    snap, previous = ready_and_previous(session, snapshot_ref)
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


__all__ = ["PushResult", "after_publish", "desil_changes", "program_changes", "push_changes"]
