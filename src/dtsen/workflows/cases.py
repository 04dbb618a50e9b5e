"""The service layer of the workflows: open a case, move it, read it, list a queue. Pages, the API, the CLI
and the bench all go through these functions, so every rule lives here once:

* **Scope.** A case outside the actor's regions answers exactly like a case that does not exist
  (:class:`CaseNotFoundError`), and the attempt is audited (``read_denied``).
* **Rules of the workflow** (:mod:`dtsen.workflows.machine`): the action must leave the case's state, the
  actor's role must be allowed to take it (a pendamping only on visits assigned to them), and the fields
  and documents it requires must be there. Refusals carry a Bahasa message (a msgid with parameters).
* **Concurrency.** The move is ``UPDATE ... WHERE id = :id AND version = :seen``: of two officers acting on
  the same case at once the second gets :class:`CaseConflictError`, never a silent overwrite.
* **Idempotency.** A move sent with an idempotency key (the offline field form) happens once; the same key
  again returns the case as the first one left it.
* **Trail.** Every move is a :class:`~dtsen.store.cases.WorkflowStep` (actor, time, reason, fields) and an
  audit entry naming the person the case is about (free text stays out of the audit log).
* **Approval.** A transition marked ``approves`` turns the changes recorded on the case (``perubahan``:
  ``[{entitas, id, atribut, nilai_baru, nilai_lama}]``) into :class:`~dtsen.store.cases.ApprovedChange`
  rows, each checked as the corrections path checks a file row (the attribute may be corrected, the value
  has its type and is in its code list), so what a village decides is what the next cycle applies.
* **Duplicates.** A second open usulan for the same family (or person) in one period is opened already
  joined to the first (state ``digabung``), so the citizen still gets a tracking number and the desa
  one case, not two.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, and_, bindparam, insert, or_, select, update
from sqlalchemy.orm import Session

from dtsen.auth.scope import Principal, Role, region_clause
from dtsen.store import audit
from dtsen.store.cases import ApprovedChange, WorkflowCase, WorkflowStep
from dtsen.store.intake import CitizenRequest, CitizenRequestEvent
from dtsen.web.i18n import N_
from dtsen.workflows.machine import WORKFLOWS, Transition, Workflow

CASE = cast(Table, WorkflowCase.__table__)
# UU 27/2022 (PDP): a request about one's data is acknowledged within 3 x 24 hours.
ACK_DEADLINE = timedelta(hours=72)
# Days from opening to a decision, per workflow; DTSEN_SLA_DAYS="sanggahan=14,usulan=45" overrides.
DEFAULT_SLA_DAYS = {"usulan": 60, "sanggahan": 30, "verval": 45}
SLA_ENV = "DTSEN_SLA_DAYS"
NUMBER_PREFIX = {"usulan": "USL", "sanggahan": "SGH", "verval": "VRV"}
ACKNOWLEDGED_KINDS = frozenset({"usulan", "sanggahan"})  # the requests the 3x24-hour clock applies to
Message = tuple[str, dict[str, str]]
# The quarterly cycle acts on cases (recording outcomes after publish) as this principal.
SYSTEM = Principal(kind="system", name="siklus", role=Role.ADMIN_BPS)


# -- errors ----------------------------------------------------------------------------------------------
class CaseError(Exception):
    """A refused request about a case: ``status`` for HTTP, ``message`` a msgid with parameters."""

    status = 400

    def __init__(self, message: str, **params: str) -> None:
        super().__init__(message % params if params else message)
        self.message: Message = (message, params)


class CaseNotFoundError(CaseError):
    status = 404

    def __init__(self) -> None:
        super().__init__(N_("Kasus tidak ditemukan di wilayah Anda."))


class CaseRefusedError(CaseError):
    status = 403


class CaseStateError(CaseError):
    status = 409


class CaseConflictError(CaseError):
    status = 409

    def __init__(self) -> None:
        super().__init__(
            N_(
                "Kasus ini baru saja diubah oleh petugas lain. Muat ulang halaman, periksa perubahannya, lalu "
                "ulangi bila masih perlu."
            )
        )


class CaseInvalidError(CaseError):
    status = 422

    def __init__(self, errors: Mapping[str, Message]) -> None:
        super().__init__(N_("Beberapa isian belum benar."))
        self.errors = dict(errors)


# -- settings --------------------------------------------------------------------------------------------
def sla_days(text: str | None = None) -> dict[str, int]:
    """Days to a decision per workflow: the defaults with ``jenis=days,...`` overrides (``DTSEN_SLA_DAYS``)."""
    days = dict(DEFAULT_SLA_DAYS)
    for part in (os.environ.get(SLA_ENV, "") if text is None else text).split(","):
        if not part.strip():
            continue
        name, _, value = part.partition("=")
        name, value = name.strip(), value.strip()
        if name not in days or not value.isdigit() or int(value) < 1:
            raise ValueError(f"{SLA_ENV}: {part!r} is not jenis=days with jenis among {', '.join(days)}")
        days[name] = int(value)
    return days


def workflow_of(jenis: str) -> Workflow:
    try:
        return WORKFLOWS[jenis]
    except KeyError:
        raise ValueError(f"no workflow {jenis!r}; known: {', '.join(WORKFLOWS)}") from None


def _now(now: datetime | None) -> datetime:
    return (now or datetime.now(UTC)).astimezone(UTC)


def target_period(session: Session, now: datetime | None = None) -> str:
    """The cycle a case opened now feeds: the quarter after the one being served (before anything is
    served, the quarter of today)."""
    from dtsen.cycle.period import Period
    from dtsen.store.registry import current_snapshot

    snapshot = current_snapshot(session)
    if snapshot is not None:
        return str(Period.parse(snapshot.periode).next())
    moment = _now(now)
    return f"{moment.year}Q{(moment.month - 1) // 3 + 1}"


def family_of_nik(session: Session, nik: str | None) -> tuple[str | None, str | None]:
    """``(id_keluarga_dtsen, kode_desa)`` of the person with this NIK in the served snapshot, if any."""
    from dtsen.store.registry import PERSON, SNAPSHOT

    if not nik:
        return None, None
    row = session.execute(
        select(PERSON.c.id_keluarga_dtsen, PERSON.c.kode_desa)
        .join(SNAPSHOT, and_(SNAPSHOT.c.id == PERSON.c.snapshot_id, SNAPSHOT.c.is_current))
        .where(PERSON.c.nik == nik)
        .limit(1)
    ).first()
    return (row.id_keluarga_dtsen, row.kode_desa) if row is not None else (None, None)


def _number(jenis: str, periode: str) -> str:
    return f"{NUMBER_PREFIX[jenis]}-{periode}-{secrets.token_hex(4).upper()}"


# -- opening -----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CaseInput:
    """What opening a case needs; ``nik`` is turned into its keyed reference and never stored."""

    jenis: str
    periode: str
    kode_desa: str
    asal: str
    kategori: str | None = None
    id_keluarga_dtsen: str | None = None
    nik: str | None = None
    subject_nama: str | None = None
    request_id: int | None = None
    assigned_to: str | None = None
    priority: float = 0.0
    data: dict[str, Any] = field(default_factory=dict)


def _regions(kode_desa: str) -> dict[str, str]:
    if len(kode_desa) != 10 or not kode_desa.isdigit():
        raise CaseInvalidError({"desa": (N_("Kode desa/kelurahan harus 10 angka."), {})})
    return {
        "kode_prov": kode_desa[:2],
        "kode_kab": kode_desa[:4],
        "kode_kec": kode_desa[:6],
        "kode_desa": kode_desa,
    }


def _open_duplicate(
    session: Session, jenis: str, periode: str, family: str | None, subject: str | None
) -> WorkflowCase | None:
    """An open case of the same workflow and period about the same family (or, without one, person)."""
    if jenis != "usulan" or not (family or subject):
        return None
    terminal = [state.name for state in workflow_of(jenis).states if state.terminal]
    same = WorkflowCase.id_keluarga_dtsen == family if family else WorkflowCase.subject_ref == subject
    return session.scalars(
        select(WorkflowCase)
        .where(
            WorkflowCase.jenis == jenis,
            WorkflowCase.periode == periode,
            same,
            WorkflowCase.state.not_in(terminal),
            WorkflowCase.duplicate_of.is_(None),
        )
        .order_by(WorkflowCase.id)
        .limit(1)
    ).one_or_none()


def open_case(
    session: Session, principal: Principal, spec: CaseInput, *, now: datetime | None = None
) -> WorkflowCase:
    """Open a case in its workflow's first state (or joined to an open duplicate); audited as ``create``.

    Staff may open cases only inside their regions; the public intake opens them as ``public:publik``.
    """
    return open_cases(session, principal, [spec], now=now)[0]


def open_cases(
    session: Session, principal: Principal, specs: Sequence[CaseInput], *, now: datetime | None = None
) -> list[WorkflowCase]:
    """Open many cases at once (a dinsos planning a quarter's ground checks), all or nothing: the rules of
    :func:`open_case` for each, with the cases, their first steps and their audit entries written in bulk."""
    moment = _now(now)
    days = sla_days()
    opened: list[WorkflowCase] = []
    joined: list[tuple[WorkflowCase, WorkflowCase]] = []  # (new, the open case it joins)
    in_batch: dict[tuple[str, str, str], WorkflowCase] = {}
    for spec in specs:
        workflow = workflow_of(spec.jenis)
        if spec.asal not in ("publik", "desa", "dinsos", "sistem"):
            raise ValueError(f"unknown origin {spec.asal!r}")
        regions = _regions(spec.kode_desa)
        if principal.kind != "public" and not principal.may_see_region(spec.kode_desa):
            _audit_denied(session, principal, spec.kode_desa, "create")
            raise CaseRefusedError(N_("Desa/kelurahan ini di luar wilayah Anda."))
        subject = audit.subject_ref(spec.nik) if spec.nik else None
        key = (spec.jenis, spec.periode, spec.id_keluarga_dtsen or subject or "")
        original = in_batch.get(key) if key[2] else None
        if original is None:
            original = _open_duplicate(session, spec.jenis, spec.periode, spec.id_keluarga_dtsen, subject)
        state = "digabung" if original is not None else workflow.initial
        case = WorkflowCase(
            nomor=_number(spec.jenis, spec.periode),
            jenis=spec.jenis,
            kategori=spec.kategori,
            asal=spec.asal,
            state=state,
            version=1,
            periode=spec.periode,
            **regions,
            id_keluarga_dtsen=spec.id_keluarga_dtsen,
            subject_ref=subject,
            subject_nama=spec.subject_nama,
            request_id=spec.request_id,
            assigned_to=spec.assigned_to,
            priority=spec.priority,
            opened_at=moment,
            updated_at=moment,
            ack_due_at=moment + ACK_DEADLINE if spec.jenis in ACKNOWLEDGED_KINDS else None,
            due_at=moment + timedelta(days=days[spec.jenis]),
            closed_at=moment if original else None,
            data=dict(spec.data),
        )
        opened.append(case)
        if original is not None:
            joined.append((case, original))
        elif spec.jenis == "usulan" and key[2]:
            in_batch[key] = case
    session.add_all(opened)
    session.flush()  # ids (one multi-row INSERT ... RETURNING on PostgreSQL)
    steps = [
        {
            "case_id": case.id,
            "action": "buka",
            "from_state": None,
            "to_state": case.state,
            **_actor(principal),
            "at": moment,
            "reason": None,
            "fields": None,
        }
        for case in opened
    ]
    for case, original in joined:
        case.duplicate_of = original.id
        steps.append(
            {
                "case_id": original.id,
                "action": "gabung_masuk",
                "from_state": original.state,
                "to_state": original.state,
                **_actor(principal),
                "at": moment,
                "reason": f"{case.nomor} digabungkan ke kasus ini",
                "fields": {"kasus": case.nomor},
            }
        )
    session.execute(insert(WorkflowStep), steps)
    audit.record_many(
        session,
        [
            audit.entry(
                **principal.audit_fields(),
                action="create",
                resource="workflow_case",
                subject=case.subject_ref,
                region_kode=case.kode_desa,
                purpose=case.jenis,
                detail={"kasus": case.nomor, "state": case.state},
                occurred_at=moment,
            )
            for case in opened
        ],
    )
    for case in opened:
        _mirror_request(session, case, case.state, moment, principal)
    return opened


def _actor(principal: Principal) -> dict[str, str | None]:
    fields = principal.audit_fields()
    return {"actor": fields["actor"], "actor_role": fields["actor_role"]}


def _audit_denied(session: Session, principal: Principal, region: str | None, what: str) -> None:
    audit.record(
        session,
        **principal.audit_fields(),
        action="read_denied",
        resource="workflow_case",
        region_kode=region if region and region.isdigit() else None,
        purpose=what,
    )


# -- reading -------------------------------------------------------------------------------------------------
def _scoped(principal: Principal) -> Any:
    return region_clause(principal, CASE)


def get_case(
    session: Session, principal: Principal, case_id: int, *, purpose: str = "kasus", audited: bool = True
) -> WorkflowCase:
    """The case if it lies inside the principal's regions; else :class:`CaseNotFoundError` (audited)."""
    case = session.scalars(
        select(WorkflowCase).where(WorkflowCase.id == case_id, _scoped(principal))
    ).one_or_none()
    if case is None:
        _audit_denied(session, principal, None, purpose)
        raise CaseNotFoundError
    if audited:
        audit.record(
            session,
            **principal.audit_fields(),
            action="read",
            resource="workflow_case",
            subject=case.subject_ref,
            region_kode=case.kode_desa,
            purpose=purpose,
            detail={"kasus": case.nomor},
        )
    return case


def steps_of(session: Session, case: WorkflowCase) -> list[WorkflowStep]:
    return list(
        session.scalars(select(WorkflowStep).where(WorkflowStep.case_id == case.id).order_by(WorkflowStep.id))
    )


@dataclass(frozen=True)
class QueueFilter:
    jenis: str | None = None
    states: tuple[str, ...] = ()
    assigned_to: str | None = None
    kode_desa: str | None = None
    overdue_at: datetime | None = None  # only cases past their acknowledgement or resolution deadline
    open_only: bool = True


def queue(
    session: Session,
    principal: Principal,
    filters: QueueFilter = QueueFilter(),
    *,
    limit: int = 50,
    offset: int = 0,
) -> list[WorkflowCase]:
    """The cases of the principal's regions, highest priority and oldest first (no personal data is read:
    names of the subjects are shown, which the queue's users already handle; unaudited like a list of
    tasks, while opening a case is audited)."""
    statement = select(WorkflowCase).where(_scoped(principal))
    if filters.jenis:
        statement = statement.where(WorkflowCase.jenis == filters.jenis)
    if filters.states:
        statement = statement.where(WorkflowCase.state.in_(filters.states))
    elif filters.open_only:
        statement = statement.where(WorkflowCase.closed_at.is_(None))
    if filters.assigned_to:
        statement = statement.where(WorkflowCase.assigned_to == filters.assigned_to)
    if filters.kode_desa:
        statement = statement.where(WorkflowCase.kode_desa == filters.kode_desa)
    if filters.overdue_at is not None:
        moment = filters.overdue_at
        statement = statement.where(
            WorkflowCase.closed_at.is_(None),
            or_(
                and_(WorkflowCase.acknowledged_at.is_(None), WorkflowCase.ack_due_at < moment),
                WorkflowCase.due_at < moment,
            ),
        )
    statement = statement.order_by(WorkflowCase.priority.desc(), WorkflowCase.opened_at, WorkflowCase.id)
    return list(session.scalars(statement.limit(max(1, min(limit, 500))).offset(max(0, offset))))


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
    """Take ``action`` on the case the actor last saw at ``version``; see the module docstring for the rules."""
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
        for case in session.scalars(select(WorkflowCase).where(WorkflowCase.id.in_(ids), _scoped(principal)))
    }
    for move in moves:
        if move.case_id not in found:
            _audit_denied(session, principal, None, action)
            raise CaseNotFoundError
    moment = _now(now)
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
        _check_actor(session, principal, case, transition)
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
                **_actor(principal),
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
    audit.record_many(session, entries)
    session.add_all(approved)
    cases = [found[move.case_id] for move in moves]
    for case in cases:
        session.expire(case)
    for case, row in zip(cases, updates, strict=True):
        if case.request_id is not None:
            _mirror_request(session, case, row["state"], moment, principal)
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


def _check_actor(session: Session, principal: Principal, case: WorkflowCase, transition: Transition) -> None:
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
        select(WorkflowCase).where(WorkflowCase.nomor == str(nomor).strip().upper(), _scoped(principal))
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


# -- the citizen's view ------------------------------------------------------------------------------------
def _mirror_request(
    session: Session, case: WorkflowCase, state: str, moment: datetime, principal: Principal
) -> None:
    """Keep the citizen's request (Lacak) in step with its case: its status and a history row."""
    if case.request_id is None:
        return
    request = session.get(CitizenRequest, case.request_id)
    if request is None:
        return
    workflow = workflow_of(case.jenis)
    label = workflow.state(state)
    if request.status == state and request.events:
        return
    request.status = state
    if case.acknowledged_at is not None and request.acknowledged_at is None:
        request.acknowledged_at = case.acknowledged_at
    actor = "publik" if principal.kind == "public" else (principal.role.value if principal.role else "sistem")
    session.add(
        CitizenRequestEvent(
            request_id=request.id, state=state, at=moment, actor=actor, note=label.public_label or label.label
        )
    )
