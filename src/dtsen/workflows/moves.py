"""Moving a case: one action on one case (:func:`act`) or on many at once (:func:`act_many`), with every
rule of the workflow checked before anything is written. Opening and reading cases is
:mod:`dtsen.workflows.cases`.

* **Scope.** A case outside the actor's regions answers like a missing one
  (:class:`~dtsen.workflows.cases.CaseNotFoundError`), audited ``read_denied``.
* **Rules of the workflow** (:mod:`dtsen.workflows.machine`): the action must leave the case's state, the
  actor's role must be allowed to take it (a pendamping only on visits assigned to them), and the fields
  and documents it requires must be there. Refusals carry a Bahasa message (a msgid with parameters).
* **Concurrency.** The move is ``UPDATE ... WHERE id = :id AND version = :seen``: of two officers acting on
  the same case at once the second gets :class:`~dtsen.workflows.cases.CaseConflictError`, never a silent
  overwrite.
* **Idempotency.** A move sent with an idempotency key (the offline field form) happens once; the same key
  again returns the case as the first one left it.
* **Trail.** Every move is a :class:`~dtsen.store.cases.WorkflowStep` (actor, time, reason, fields) and an
  audit entry naming the person the case is about (free text stays out of the audit log).
* **Approval.** A transition marked ``approves`` turns the changes recorded on the case (``perubahan``:
  ``[{entitas, id, atribut, nilai_baru, nilai_lama}]``) into :class:`~dtsen.store.cases.ApprovedChange`
  rows, each checked as the corrections path checks a file row (the attribute may be corrected, the value
  has its type and is in its code list), so what a village decides is what the next cycle applies.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from dtsen.auth.scope import Principal, Role
from dtsen.store import audit
from dtsen.store.cases import ApprovedChange, WorkflowCase, WorkflowStep
from dtsen.web.i18n import N_
from dtsen.workflows.cases import (
    CASE,
    CaseConflictError,
    CaseInvalidError,
    CaseNotFoundError,
    CaseRefusedError,
    CaseStateError,
    Message,
    actor_fields,
    audit_denied,
    get_case,
    literal_in,
    mirror_request,
    now_utc,
    scoped,
    workflow_of,
)
from dtsen.workflows.machine import Transition


# -- moving --------------------------------------------------------------------------------------------------
def _missing(value: Any) -> bool:
    return (
        value is None
        or (isinstance(value, str) and not value.strip())
        or (isinstance(value, list | dict | tuple) and not value)
    )


@dataclass(frozen=True)
class Move:
    """One case to move, as the actor last saw it (``version``), with what the step records."""

    case_id: int
    version: int
    fields: Mapping[str, Any] = field(default_factory=dict)
    idempotency_key: str | None = None


def act(
    session: Session,
    principal: Principal,
    case_id: int,
    action: str,
    *,
    version: int,
    fields: Mapping[str, Any] | None = None,
    documents: Sequence[str] = (),
    reason: str | None = None,
    idempotency_key: str | None = None,
    now: datetime | None = None,
) -> WorkflowCase:
    """Take ``action`` on the case the actor last saw at ``version``; see the module docstring for the
    rules."""
    if idempotency_key:
        done = session.scalars(
            select(WorkflowStep).where(WorkflowStep.idempotency_key == idempotency_key)
        ).one_or_none()
        if done is not None:
            if done.case_id != case_id:
                raise CaseInvalidError({"formulir": (N_("Formulir ini sudah dipakai untuk kasus lain."), {})})
            return get_case(session, principal, case_id, purpose=action, audited=False)
    move = Move(case_id, version, dict(fields or {}), idempotency_key)
    (case,) = act_many(session, principal, action, [move], documents=documents, reason=reason, now=now)
    session.refresh(case)
    return case


_MOVED_COLUMNS = (
    "state",
    "version",
    "updated_at",
    "data",
    "acknowledged_at",
    "assigned_to",
    "duplicate_of",
    "closed_at",
)


def act_many(
    session: Session,
    principal: Principal,
    action: str,
    moves: Sequence[Move],
    *,
    documents: Sequence[str] = (),
    reason: str | None = None,
    now: datetime | None = None,
) -> list[WorkflowCase]:
    """Take ``action`` on many cases at once (a dinsos approving a village's checked visits), all or
    nothing: every rule of :func:`act` is checked for every case before anything is written, then the
    moves, their steps, their audit entries and approved changes are written in bulk. The cases returned
    are expired (their new values load on first use)."""
    if not moves:
        return []
    ids = [move.case_id for move in moves]
    found = {
        case.id: case
        for case in session.scalars(
            select(WorkflowCase).where(literal_in(WorkflowCase.id, ids), scoped(principal))
        )
    }
    for move in moves:
        if move.case_id not in found:
            audit_denied(session, principal, None, action)
            raise CaseNotFoundError
    moment = now_utc(now)
    updates: list[dict[str, Any]] = []
    steps: list[dict[str, Any]] = []
    entries: list[dict[str, Any]] = []
    approved: list[ApprovedChange] = []
    for move in moves:
        case = found[move.case_id]
        workflow = workflow_of(case.jenis)
        try:
            transition = workflow.transition(action)
        except KeyError:
            raise CaseStateError(N_("Tindakan ini tidak ada pada alur %(alur)s."), alur=case.jenis) from None
        if case.state not in transition.sources:
            raise CaseStateError(
                N_("Kasus ini berstatus '%(status)s': tindakan ini tidak dapat dilakukan lagi."),
                status=case.state,
            )
        check_actor(session, principal, case, transition)
        fields = dict(move.fields)
        errors: dict[str, Message] = {
            name: (N_("Wajib diisi."), {}) for name in transition.requires if _missing(fields.get(name))
        }
        errors.update(
            {
                f"dokumen_{kind}": (N_("Dokumen ini wajib dilampirkan."), {})
                for kind in transition.documents
                if kind not in documents
            }
        )
        if errors:
            raise CaseInvalidError(errors)
        target = workflow.state(transition.target)
        data = {**(case.data or {}), **fields}
        if fields.get("pendamping"):
            _check_pendamping(session, case, str(fields["pendamping"]))
        if transition.approves:  # checked before anything moves
            approved.extend(_approved_changes(principal, case, data, str(fields["nomor_keputusan"]), moment))
        first_ack = transition.acknowledges and case.acknowledged_at is None and principal.kind == "user"
        updates.append(
            {
                "b_id": case.id,
                "b_version": move.version,
                "state": target.name,
                "version": case.version + 1,
                "updated_at": moment,
                "data": data,
                "acknowledged_at": moment if first_ack else case.acknowledged_at,
                "assigned_to": str(fields["pendamping"]) if fields.get("pendamping") else case.assigned_to,
                "duplicate_of": _parent_id(session, principal, case, fields["kasus_induk"])
                if fields.get("kasus_induk")
                else case.duplicate_of,
                "closed_at": moment if target.terminal else case.closed_at,
            }
        )
        steps.append(
            {
                "case_id": case.id,
                "action": action,
                "from_state": case.state,
                "to_state": target.name,
                **actor_fields(principal),
                "at": moment,
                "reason": reason or fields.get("alasan") or None,
                "fields": fields or None,
                "idempotency_key": move.idempotency_key,
            }
        )
        entries.append(
            audit.entry(
                **principal.audit_fields(),
                action="transition",
                resource="workflow_case",
                subject=case.subject_ref,
                region_kode=case.kode_desa,
                purpose=case.jenis,
                occurred_at=moment,
                detail={"kasus": case.nomor, "aksi": action, "dari": case.state, "ke": target.name},
            )
        )
    statement = (
        update(CASE)
        .where(CASE.c.id == bindparam("b_id"), CASE.c.version == bindparam("b_version"))
        .values({name: bindparam(name) for name in _MOVED_COLUMNS})
    )
    moved = session.connection().execute(statement, updates)
    if moved.rowcount != len(updates):
        raise CaseConflictError
    session.execute(insert(WorkflowStep), steps)
    audit.record_entries(session, entries)  # one round trip for a single move on PostgreSQL
    session.add_all(approved)
    cases = [found[move.case_id] for move in moves]
    # Which cases carry a citizen's request, read before expiring: read after, it reloads every case.
    requested = [case.request_id is not None for case in cases]
    for case in cases:
        session.expire(case)
    for case, row, has_request in zip(cases, updates, requested, strict=True):
        if has_request:
            mirror_request(session, case, row["state"], moment, principal)
    return cases


def _check_pendamping(session: Session, case: WorkflowCase, username: str) -> None:
    """A visit goes to an active pendamping whose regions cover the case's village (else the case would
    vanish from every pendamping's list)."""
    from dtsen.store.identity import StaffUser

    user = session.scalars(select(StaffUser).where(StaffUser.username == username)).one_or_none()
    covers = (
        user is not None
        and user.active
        and user.role == Role.PENDAMPING.value
        and any(case.kode_desa.startswith(region) for region in user.region_codes)
    )
    if not covers:
        raise CaseInvalidError(
            {"pendamping": (N_("Pendamping ini tidak aktif atau tidak bertugas di desa kasus ini."), {})}
        )


def check_actor(session: Session, principal: Principal, case: WorkflowCase, transition: Transition) -> None:
    """Refuse (audited ``access_denied``) a role the transition does not allow, or a pendamping acting on
    a visit assigned to someone else: the one rule of who may act, shared with the field reports."""
    refused: str | None = None
    if principal.role not in transition.roles:
        refused = N_("Peran Anda tidak dapat melakukan tindakan ini.")
    elif transition.assigned_only and principal.name != case.assigned_to:
        refused = N_("Kunjungan ini ditugaskan kepada pendamping lain.")
    if refused is not None:
        audit.record(
            session,
            **principal.audit_fields(),
            action="access_denied",
            resource="workflow_case",
            subject=case.subject_ref,
            region_kode=case.kode_desa,
            purpose=transition.action,
            detail={"kasus": case.nomor},
        )
        raise CaseRefusedError(refused)


def _parent_id(session: Session, principal: Principal, case: WorkflowCase, nomor: Any) -> int:
    parent = session.scalars(
        select(WorkflowCase).where(WorkflowCase.nomor == str(nomor).strip().upper(), scoped(principal))
    ).one_or_none()
    if parent is None or parent.id == case.id or parent.jenis != case.jenis:
        raise CaseInvalidError(
            {"kasus_induk": (N_("Nomor kasus induk tidak ditemukan di wilayah Anda."), {})}
        )
    return parent.id


# -- approval -> the next cycle ----------------------------------------------------------------------------
def _approved_changes(
    principal: Principal, case: WorkflowCase, data: Mapping[str, Any], decision: str, moment: datetime
) -> list[ApprovedChange]:
    """The case's recorded changes as approved changes for its period's cycle (checked like a file row)."""
    from dtsen.cycle.corrections import correctable, parse_value

    changes = data.get("perubahan") or []
    errors: dict[str, Message] = {}
    rows: list[ApprovedChange] = []
    for number, change in enumerate(changes, start=1):
        entitas, target = str(change.get("entitas") or ""), str(change.get("id") or "")
        atribut, value = str(change.get("atribut") or ""), change.get("nilai_baru")
        try:
            if entitas not in ("person", "family") or not target:
                raise ValueError("entitas must be person or family, with its id")
            parse_value(correctable(entitas, atribut), "" if value is None else str(value))
        except ValueError as exc:
            errors[f"perubahan_{number}"] = (
                N_("Perubahan %(n)s tidak sah: %(alasan)s"),
                {"n": str(number), "alasan": str(exc)},
            )
            continue
        rows.append(
            ApprovedChange(
                id_koreksi=f"{case.nomor}-{number:02d}",
                case_id=case.id,
                jenis=case.jenis,
                entitas=entitas,
                target_id=target,
                atribut=atribut,
                nilai_baru=str(value),
                nilai_lama=None if change.get("nilai_lama") is None else str(change.get("nilai_lama")),
                nomor_keputusan=decision[:64],
                tanggal_keputusan=_local_date(moment, case.kode_prov),
                petugas=principal.name,
                periode=case.periode,
            )
        )
    if errors:
        raise CaseInvalidError(errors)
    return rows


def _local_date(moment: datetime, kode_prov: str) -> date:
    from dtsen.workflows.intake import local_time

    return local_time(moment, kode_prov)[0].date()
