"""The service layer of the workflows: open a case, read it, list a queue (moving one is
:mod:`dtsen.workflows.moves`). Pages, the API, the CLI and the bench all go through these functions, so
every rule lives in one place:

* **Scope.** A case outside the actor's regions answers exactly like a case that does not exist
  (:class:`CaseNotFoundError`), and the attempt is audited (``read_denied``).
* **Trail.** Opening a case is its first :class:`~dtsen.store.cases.WorkflowStep` and an audit entry
  naming the person the case is about (free text stays out of the audit log); the citizen's request
  (Lacak) follows its case (:func:`mirror_request`).
* **Duplicates.** A second open usulan for the same family (or person) in one period is opened already
  joined to the first (state ``digabung``), so the citizen still gets a tracking number and the desa
  one case, not two.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, and_, bindparam, insert, or_, select
from sqlalchemy.orm import Session

from dtsen.auth.scope import Principal, Role, region_clause
from dtsen.store import audit
from dtsen.store.cases import WorkflowCase, WorkflowStep
from dtsen.store.intake import CitizenRequest, CitizenRequestEvent
from dtsen.web.i18n import N_
from dtsen.workflows.machine import WORKFLOWS, Workflow

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
                "Kasus ini baru saja diubah oleh petugas lain. Muat ulang halaman, periksa perubahannya, "
                "lalu ulangi bila masih perlu."
            )
        )


class CaseInvalidError(CaseError):
    status = 422

    def __init__(self, errors: Mapping[str, Message]) -> None:
        super().__init__(N_("Beberapa isian belum benar."))
        self.errors = dict(errors)


# -- settings --------------------------------------------------------------------------------------------
def sla_days(text: str | None = None) -> dict[str, int]:
    """Days to a decision per workflow: the defaults with ``jenis=days,...`` overrides
    (``DTSEN_SLA_DAYS``)."""
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


def now_utc(now: datetime | None) -> datetime:
    """The moment a step is recorded at: the caller's clock (tests, the bench) or now, in UTC."""
    return (now or datetime.now(UTC)).astimezone(UTC)


def target_period(session: Session, now: datetime | None = None) -> str:
    """The cycle a case opened now feeds: the quarter after the one being served (before anything is
    served, the quarter of today)."""
    from dtsen.cycle.period import Period
    from dtsen.store.registry import current_snapshot

    snapshot = current_snapshot(session)
    if snapshot is not None:
        return str(Period.parse(snapshot.periode).next())
    moment = now_utc(now)
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


_NUMBERS_PER_QUERY = 900  # below SQLite's oldest bound-parameter limit (999)


def literal_in(column: Any, values: Sequence[Any]) -> Any:
    """``column IN (values)`` with the values written into the statement, for a batch's lookups by
    key (numbers drawn here, ids read back). With bound values psycopg prepares the statement after a
    few runs and PostgreSQL may keep a generic plan costed while the table was nearly empty (no
    statistics yet, as with autovacuum off): a sequential scan of every case per batch, which made
    moving cases slower as the table grew (issue 16). Each text differs, so each is planned with its
    values and reads the key's unique index."""
    keys = bindparam("keys", list(values), expanding=True, literal_execute=True, unique=True)
    return column.in_(keys)


def _unique_numbers(session: Session, cases: Sequence[WorkflowCase]) -> None:
    """Draw again every number already taken, in the database or earlier in this batch. Eight hex digits
    are 32 bits: by the birthday bound a period of ~77,000 cases of one kind holds a repeated number more
    often than not, and the unique index would then refuse the whole batch."""
    pending = list(cases)
    seen: set[str] = set()  # numbers of this batch already kept
    while pending:
        numbers = [case.nomor for case in pending]
        taken: set[str] = set()
        for start in range(0, len(numbers), _NUMBERS_PER_QUERY):
            chunk = numbers[start : start + _NUMBERS_PER_QUERY]
            taken.update(
                session.scalars(select(WorkflowCase.nomor).where(literal_in(WorkflowCase.nomor, chunk)))
            )
        clashes: list[WorkflowCase] = []
        for case in pending:
            if case.nomor in taken or case.nomor in seen:
                clashes.append(case)
            else:
                seen.add(case.nomor)
        for case in clashes:
            case.nomor = _number(case.jenis, case.periode)
        pending = clashes


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
    moment = now_utc(now)
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
            audit_denied(session, principal, spec.kode_desa, "create")
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
    _unique_numbers(session, opened)
    session.add_all(opened)
    session.flush()  # ids (one multi-row INSERT ... RETURNING on PostgreSQL)
    steps = [
        {
            "case_id": case.id,
            "action": "buka",
            "from_state": None,
            "to_state": case.state,
            **actor_fields(principal),
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
                **actor_fields(principal),
                "at": moment,
                "reason": f"{case.nomor} digabungkan ke kasus ini",
                "fields": {"kasus": case.nomor},
            }
        )
    session.execute(insert(WorkflowStep), steps)
    audit.record_entries(
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
        mirror_request(session, case, case.state, moment, principal)
    return opened


def actor_fields(principal: Principal) -> dict[str, str | None]:
    """Who took a step, as its row records it (the audit fields without the principal's kind)."""
    fields = principal.audit_fields()
    return {"actor": fields["actor"], "actor_role": fields["actor_role"]}


def audit_denied(session: Session, principal: Principal, region: str | None, what: str) -> None:
    """Audit a case the principal may not reach, as ``read_denied`` (the answer is a plain 404)."""
    audit.record(
        session,
        **principal.audit_fields(),
        action="read_denied",
        resource="workflow_case",
        region_kode=region if region and region.isdigit() else None,
        purpose=what,
    )


# -- reading -------------------------------------------------------------------------------------------------
def scoped(principal: Principal) -> Any:
    """The condition keeping a statement on the cases inside the principal's regions."""
    return region_clause(principal, CASE)


def get_case(
    session: Session, principal: Principal, case_id: int, *, purpose: str = "kasus", audited: bool = True
) -> WorkflowCase:
    """The case if it lies inside the principal's regions; else :class:`CaseNotFoundError` (audited)."""
    case = session.scalars(
        select(WorkflowCase).where(WorkflowCase.id == case_id, scoped(principal))
    ).one_or_none()
    if case is None:
        audit_denied(session, principal, None, purpose)
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
    statement = select(WorkflowCase).where(scoped(principal))
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


# -- the citizen's view ------------------------------------------------------------------------------------
def mirror_request(
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
