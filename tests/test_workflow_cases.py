"""The workflow service layer on SQLite and PostgreSQL: every transition of every workflow for allowed and
refused roles and regions, conflicts, idempotent moves, approval into changes, duplicates, the SLA clock."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from dtsen.auth.scope import Principal, Role
from dtsen.store import audit
from dtsen.store.cases import ApprovedChange, WorkflowCase, WorkflowStep
from dtsen.store.models import AuditLog
from dtsen.workflows import cases, moves
from dtsen.workflows.machine import WORKFLOWS
from workflow_world import add_pendamping

DESA = "3471011001"
OTHER_DESA = "3471011002"
OTHER_KAB_DESA = "3402011001"
START = datetime(2026, 7, 1, 2, 0, tzinfo=UTC)
NIK = "3471014101900001"

OPERATOR = Principal(kind="user", name="op_desa", role=Role.OPERATOR_DESA, regions=(DESA,))
OPERATOR_OTHER = Principal(kind="user", name="op_lain", role=Role.OPERATOR_DESA, regions=(OTHER_DESA,))
PENDAMPING = Principal(kind="user", name="pendamping1", role=Role.PENDAMPING, regions=(DESA,))
PENDAMPING_2 = Principal(kind="user", name="pendamping2", role=Role.PENDAMPING, regions=(DESA,))
DINSOS = Principal(kind="user", name="dinsos_kota", role=Role.DINSOS, regions=("3471",))
DINSOS_OTHER = Principal(kind="user", name="dinsos_lain", role=Role.DINSOS, regions=("3402",))
ANALIS = Principal(kind="user", name="analis", role=Role.ANALIS_BPS)
EVERYONE = (OPERATOR, OPERATOR_OTHER, PENDAMPING, PENDAMPING_2, DINSOS, DINSOS_OTHER, ANALIS, cases.SYSTEM)

FIELDS = {
    "pendamping": "pendamping1",
    "kasus_induk": "",  # filled per test
    "hasil": {"hadir": True},
    "musdes": "MUSDES-1",
    "alasan": "Rumah sudah diperbaiki",
    "nomor_keputusan": "400/123/2026",
    "snapshot": "2026Q3/v1",
}


@pytest.fixture(scope="module", autouse=True)
def _pendamping_accounts(engine: Engine) -> None:
    add_pendamping(engine, "pendamping1", DESA)
    add_pendamping(engine, "pendamping2", DESA)


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as s:
        yield s
        s.rollback()


def _open(session: Session, jenis: str = "usulan", kode_desa: str = DESA, **extra: object) -> WorkflowCase:
    spec = cases.CaseInput(
        jenis=jenis, periode="2026Q3", kode_desa=kode_desa, asal="desa", subject_nama="Siti Aminah", **extra
    )  # type: ignore[arg-type]
    case = cases.open_case(session, OPERATOR if kode_desa == DESA else DINSOS, spec, now=START)
    session.flush()
    return case


def _walk(session: Session, case: WorkflowCase, path: list[str]) -> WorkflowCase:
    """Take each action with a principal allowed to, returning the case at the end."""
    for action in path:
        transition = WORKFLOWS[case.jenis].transition(action)
        actor = next(
            p
            for p in EVERYONE
            if p.role in transition.roles
            and p.may_see_region(case.kode_desa)
            and (not transition.assigned_only or p.name == case.assigned_to)
        )
        case = moves.act(session, actor, case.id, action, version=case.version, fields=FIELDS, now=START)
    return case


PATHS = {
    "usulan": [
        "konfirmasi",
        "tugaskan_kunjungan",
        "laporkan_kunjungan",
        "setujui_musdes",
        "setujui",
        "catat_hasil",
    ],
    "sanggahan": ["konfirmasi", "periksa_lapangan", "laporkan_kunjungan", "setujui", "catat_hasil"],
    "verval": ["laporkan_kunjungan", "setujui", "catat_hasil"],
}


@pytest.mark.parametrize("jenis", sorted(WORKFLOWS))
def test_every_transition_for_every_role_and_region(session: Session, jenis: str) -> None:
    """Walk the workflow's main path; at every state, every action available there is tried by every
    principal: allowed exactly for its roles inside the region (and the assigned pendamping)."""
    workflow = WORKFLOWS[jenis]
    extra = {"assigned_to": "pendamping1"} if jenis == "verval" else {}
    case = _open(session, jenis, **extra)
    for action in PATHS[jenis]:
        for transition in workflow.available(case.state):
            for principal in EVERYONE:
                allowed = (
                    principal.role in transition.roles
                    and principal.may_see_region(case.kode_desa)
                    and (not transition.assigned_only or principal.name == case.assigned_to)
                )
                if allowed:
                    continue  # taking it would move the case; the walk below takes the path's action
                savepoint = session.begin_nested()
                with pytest.raises(cases.CaseError) as refused:
                    moves.act(
                        session,
                        principal,
                        case.id,
                        transition.action,
                        version=case.version,
                        fields=FIELDS,
                        now=START,
                    )
                savepoint.rollback()
                outside = not principal.may_see_region(case.kode_desa)
                assert refused.value.status == (404 if outside else 403), (transition.action, principal.name)
        case = _walk(session, case, [action])
    assert case.state == "selesai"
    assert case.closed_at is not None


def test_illegal_transition_conflict_and_idempotent_move(session: Session) -> None:
    case = _open(session)
    with pytest.raises(cases.CaseStateError):  # approving a proposal nobody visited
        moves.act(session, DINSOS, case.id, "setujui", version=case.version, fields=FIELDS, now=START)
    seen = case.version
    moves.act(session, OPERATOR, case.id, "konfirmasi", version=seen, now=START, idempotency_key="k-1")
    # the same form again (a double submit): nothing moves twice
    again = moves.act(
        session, OPERATOR, case.id, "konfirmasi", version=seen, now=START, idempotency_key="k-1"
    )
    assert again.state == "dikonfirmasi"
    assert again.version == seen + 1
    # another officer acting on what they saw before: a conflict, not an overwrite
    with pytest.raises(cases.CaseConflictError):
        moves.act(session, DINSOS, case.id, "tugaskan_kunjungan", version=seen, fields=FIELDS, now=START)
    with pytest.raises(cases.CaseInvalidError) as invalid:  # the pendamping is required
        moves.act(session, DINSOS, case.id, "tugaskan_kunjungan", version=seen + 1, fields={}, now=START)
    assert set(invalid.value.errors) == {"pendamping"}
    for stranger in ("tidak_ada", "op_desa"):  # no such account; not a pendamping of this village
        with pytest.raises(cases.CaseInvalidError) as invalid:
            moves.act(
                session,
                DINSOS,
                case.id,
                "tugaskan_kunjungan",
                version=seen + 1,
                fields={"pendamping": stranger},
                now=START,
            )
        assert set(invalid.value.errors) == {"pendamping"}
    steps = session.scalars(select(WorkflowStep).where(WorkflowStep.case_id == case.id)).all()
    assert [s.action for s in steps] == ["buka", "konfirmasi"]


def test_a_case_outside_the_region_is_absent_and_the_attempt_audited(session: Session) -> None:
    case = _open(session)
    before = session.scalar(select(AuditLog.id).order_by(AuditLog.id.desc()).limit(1))
    with pytest.raises(cases.CaseNotFoundError):
        cases.get_case(session, OPERATOR_OTHER, case.id)
    with pytest.raises(cases.CaseNotFoundError):
        cases.get_case(session, OPERATOR, 10**9)  # a case that does not exist answers the same
    denied = session.scalars(select(AuditLog).where(AuditLog.id > before)).all()
    assert [(e.action, e.actor) for e in denied] == [
        ("read_denied", "user:op_lain"),
        ("read_denied", "user:op_desa"),
    ]
    assert case.id not in [c.id for c in cases.queue(session, OPERATOR_OTHER)]
    assert case.id in [c.id for c in cases.queue(session, DINSOS)]
    with pytest.raises(cases.CaseRefusedError):  # nor may they open one there
        cases.open_case(session, OPERATOR_OTHER, cases.CaseInput("usulan", "2026Q3", DESA, "desa"), now=START)


def test_approval_turns_recorded_changes_into_checked_corrections(session: Session) -> None:
    perubahan = [
        {
            "entitas": "family",
            "id": "K-0001",
            "atribut": "luas_lantai",
            "nilai_baru": "24",
            "nilai_lama": "60",
        },
        {"entitas": "family", "id": "K-0001", "atribut": "sumber_penerangan", "nilai_baru": "3"},
    ]
    case = _open(session, "verval", assigned_to="pendamping1", id_keluarga_dtsen="K-0001")
    case = moves.act(
        session,
        PENDAMPING,
        case.id,
        "laporkan_kunjungan",
        version=case.version,
        fields={"hasil": {"hadir": True}, "perubahan": perubahan},
        now=START,
    )
    case = moves.act(
        session,
        DINSOS,
        case.id,
        "setujui",
        version=case.version,
        fields={"nomor_keputusan": "400/7/2026"},
        now=START,
    )
    changes = session.scalars(select(ApprovedChange).where(ApprovedChange.case_id == case.id)).all()
    assert [(c.atribut, c.nilai_baru, c.nilai_lama, c.petugas, c.periode) for c in changes] == [
        ("luas_lantai", "24", "60", "dinsos_kota", "2026Q3"),
        ("sumber_penerangan", "3", None, "dinsos_kota", "2026Q3"),
    ]
    assert changes[0].id_koreksi == f"{case.nomor}-01"
    assert str(changes[0].tanggal_keputusan) == "2026-07-01"

    # A change the corrections path would refuse is refused at approval, with nothing half-written.
    bad = _open(session, "verval", assigned_to="pendamping1")
    bad = moves.act(
        session,
        PENDAMPING,
        bad.id,
        "laporkan_kunjungan",
        version=bad.version,
        now=START,
        fields={
            "hasil": {"hadir": True},
            "perubahan": [{"entitas": "family", "id": "K-0002", "atribut": "nik", "nilai_baru": "1"}],
        },
    )
    savepoint = session.begin_nested()
    with pytest.raises(cases.CaseInvalidError) as invalid:
        moves.act(
            session,
            DINSOS,
            bad.id,
            "setujui",
            version=bad.version,
            fields={"nomor_keputusan": "400/8/2026"},
            now=START,
        )
    savepoint.rollback()
    assert set(invalid.value.errors) == {"perubahan_1"}
    session.refresh(bad)
    assert bad.state == "dikunjungi"


def test_many_moves_at_once_are_all_or_nothing(session: Session) -> None:
    opened = cases.open_cases(
        session,
        DINSOS,
        [
            cases.CaseInput(
                "verval", "2026Q3", DESA, "dinsos", id_keluarga_dtsen=f"K-9{n}", assigned_to="pendamping1"
            )
            for n in range(3)
        ],
        now=START,
    )
    assert [c.state for c in opened] == ["ditugaskan"] * 3
    visit = {
        "hasil": {"hadir": True},
        "perubahan": [{"entitas": "family", "id": "K-90", "atribut": "luas_lantai", "nilai_baru": "30"}],
    }
    moved = moves.act_many(
        session,
        PENDAMPING,
        "laporkan_kunjungan",
        [moves.Move(c.id, c.version, visit) for c in opened],
        now=START,
    )
    assert [c.state for c in moved] == ["dikunjungi"] * 3
    # one stale version among them: nothing moves
    stale = [moves.Move(c.id, 2, {"nomor_keputusan": "400/1"}) for c in moved[:2]]
    stale.append(moves.Move(moved[2].id, 1, {"nomor_keputusan": "400/1"}))
    savepoint = session.begin_nested()
    with pytest.raises(cases.CaseConflictError):
        moves.act_many(session, DINSOS, "setujui", stale, now=START)
    savepoint.rollback()
    session.expire_all()
    assert [session.get(WorkflowCase, c.id).state for c in opened] == ["dikunjungi"] * 3
    # one outside the region: refused as absent, nothing moves
    with pytest.raises(cases.CaseNotFoundError):
        moves.act_many(
            session, DINSOS_OTHER, "setujui", [moves.Move(c.id, 2, {"nomor_keputusan": "1"}) for c in opened]
        )
    done = moves.act_many(
        session,
        DINSOS,
        "setujui",
        [moves.Move(c.id, 2, {"nomor_keputusan": "400/2"}) for c in opened],
        now=START,
    )
    assert [c.state for c in done] == ["disetujui"] * 3
    assert session.scalars(
        select(ApprovedChange).where(ApprovedChange.case_id.in_([c.id for c in opened]))
    ).all()
    from dtsen.store.audit import verify_chain

    session.flush()
    assert verify_chain(session) == []


def test_a_second_proposal_for_the_same_family_is_joined(session: Session) -> None:
    first = _open(session, id_keluarga_dtsen="K-0100", nik=NIK)
    second = _open(session, id_keluarga_dtsen="K-0100", nik=NIK)
    assert (second.state, second.duplicate_of, second.closed_at is not None) == ("digabung", first.id, True)
    assert first.state == "diterima"
    other_period = cases.open_case(
        session,
        OPERATOR,
        cases.CaseInput("usulan", "2026Q4", DESA, "desa", id_keluarga_dtsen="K-0100"),
        now=START,
    )
    assert other_period.state == "diterima"  # another cycle's proposal is its own case
    # the audit trail names the person by reference only
    entries = session.scalars(select(AuditLog).where(AuditLog.subject_ref == audit.subject_ref(NIK))).all()
    assert {e.action for e in entries} == {"create"}
    assert all(NIK not in str(e.detail) for e in entries)


def test_sla_clock_acknowledgement_and_resolution(session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(cases.SLA_ENV, "usulan=10")
    case = _open(session)
    assert case.ack_due_at == START + timedelta(hours=72)
    assert case.due_at == START + timedelta(days=10)
    overdue = cases.QueueFilter(overdue_at=START + timedelta(hours=73))
    assert case.id in [c.id for c in cases.queue(session, DINSOS, overdue, limit=500)]
    assert case.id not in [
        c.id
        for c in cases.queue(
            session, DINSOS, cases.QueueFilter(overdue_at=START + timedelta(hours=71)), limit=500
        )
    ]
    case = moves.act(
        session, OPERATOR, case.id, "konfirmasi", version=case.version, now=START + timedelta(hours=1)
    )
    assert case.acknowledged_at == START + timedelta(hours=1)
    ids = [c.id for c in cases.queue(session, DINSOS, overdue, limit=500)]
    assert case.id not in ids  # acknowledged in time; the resolution clock still runs
    late = cases.QueueFilter(overdue_at=START + timedelta(days=11))
    assert case.id in [c.id for c in cases.queue(session, DINSOS, late, limit=500)]
    with pytest.raises(ValueError, match="DTSEN_SLA_DAYS"):
        cases.sla_days("usulan=0")


def test_the_documented_tables_are_the_machine() -> None:
    from pathlib import Path

    from dtsen.workflows.machine import describe

    text = (Path(__file__).parents[1] / "docs" / "workflows.md").read_text(encoding="utf-8")
    for workflow in WORKFLOWS.values():
        assert describe(workflow) in text, f"docs/workflows.md: regenerate the table of {workflow.name}"


def test_a_drawn_case_number_already_taken_is_drawn_again(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """32 random bits repeat within a busy period (the 100k-case bench hit one): a number taken in the
    database, or earlier in the same batch, is drawn again instead of failing the batch's insert."""
    first = _open(session, "verval", id_keluarga_dtsen="K-7000", assigned_to="pendamping1")
    taken = first.nomor.rsplit("-", 1)[1].lower()
    draws = iter([taken, "0000beef", "0000beef", taken, "0000cafe", "0000f00d"])
    monkeypatch.setattr(cases.secrets, "token_hex", lambda _n: next(draws))
    opened = cases.open_cases(
        session,
        DINSOS,
        [
            cases.CaseInput("verval", "2026Q3", DESA, "dinsos", id_keluarga_dtsen=f"K-70{n}")
            for n in range(1, 4)
        ],
        now=START,
    )
    session.flush()
    numbers = [case.nomor.rsplit("-", 1)[1] for case in opened]
    # first draws: taken (db), BEEF, BEEF (batch) -> the first and third drawn again: taken again, CAFE
    # -> the first once more: F00D
    assert numbers == ["0000F00D", "0000BEEF", "0000CAFE"]
    assert len({first.nomor, *(case.nomor for case in opened)}) == 4


def test_batch_lookups_by_key_are_planned_with_their_keys(session: Session, engine: Engine) -> None:
    """The number check of an opening and the read of a batch's cases write their keys into the text
    (issue 16): bound, psycopg prepares them and PostgreSQL may keep a plan costed on a nearly empty
    table, a scan of every case per batch."""
    from sqlalchemy import event

    statements: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", seen)
    try:
        opened = cases.open_cases(
            session,
            DINSOS,
            [
                cases.CaseInput(
                    "verval",
                    "2026Q3",
                    DESA,
                    "dinsos",
                    id_keluarga_dtsen=f"K-71{n}",
                    assigned_to="pendamping1",
                )
                for n in range(2)
            ],
            now=START,
        )
        visit = {"hasil": {"hadir": True}}
        moved = moves.act_many(
            session,
            PENDAMPING,
            "laporkan_kunjungan",
            [moves.Move(c.id, c.version, visit) for c in opened],
            now=START,
        )
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert [c.state for c in moved] == ["dikunjungi"] * 2
    number_checks = [s for s in statements if "workflow_case.nomor IN" in s]
    assert number_checks
    assert "IN (" + ", ".join(f"'{c.nomor}'" for c in opened) + ")" in number_checks[-1]
    reads = [s for s in statements if "workflow_case.id IN" in s]
    assert len(reads) == 1
    assert "IN (" + ", ".join(str(c.id) for c in opened) + ")" in reads[0]
