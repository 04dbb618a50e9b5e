"""Closing the loop on SQLite and PostgreSQL: approved changes exported as a corrections file the cycle
accepts, exported once; outcomes of a served snapshot recorded on the cases (and the citizen's request);
the SLA report of the CLI on a controlled clock."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from dtsen.auth.scope import Principal, Role
from dtsen.cycle.corrections import read_corrections
from dtsen.store.cases import ApprovedChange, WorkflowCase, WorkflowStep
from dtsen.store.intake import CitizenRequest, CitizenRequestEvent
from dtsen.store.served import ServedEligibility, ServedFamily, ServedSnapshot
from dtsen.workflows import cases, loop, moves

DESA = "3471011001"
OTHER_DESA = "3471021002"
START = datetime(2026, 7, 1, 2, 0, tzinfo=UTC)
OPERATOR = Principal(kind="user", name="op_desa", role=Role.OPERATOR_DESA, regions=(DESA, OTHER_DESA))
PENDAMPING = Principal(kind="user", name="pendamping1", role=Role.PENDAMPING, regions=(DESA,))
DINSOS = Principal(kind="user", name="dinsos_kota", role=Role.DINSOS, regions=("3471",))


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as s:
        for model in (
            ServedEligibility,
            ServedFamily,
            ServedSnapshot,
            ApprovedChange,
            WorkflowStep,
            WorkflowCase,
            CitizenRequestEvent,
            CitizenRequest,
        ):
            s.execute(delete(model))
        s.commit()
        yield s
        s.rollback()


def _verval(
    session: Session, family: str, changes: list[dict[str, str]], periode: str = "2026Q3"
) -> WorkflowCase:
    spec = cases.CaseInput(
        "verval", periode, DESA, "dinsos", id_keluarga_dtsen=family, assigned_to="pendamping1"
    )
    case = cases.open_case(session, DINSOS, spec, now=START)
    case = moves.act(
        session,
        PENDAMPING,
        case.id,
        "laporkan_kunjungan",
        version=case.version,
        fields={"hasil": {"hadir": True}, "perubahan": changes},
        now=START,
    )
    return moves.act(
        session,
        DINSOS,
        case.id,
        "setujui",
        version=case.version,
        fields={"nomor_keputusan": "400/7/2026"},
        now=START,
    )


def _request(session: Session) -> CitizenRequest:
    request = CitizenRequest(
        tracking_number="SGH-TEST-0001",
        idempotency_key="idem-0001",
        jenis="sanggahan",
        kategori="wrong_data",
        status="diterima",
        reporter_ref="a" * 64,
        reporter_nik_enc="x",
        reporter_nama="Siti Aminah",
        kode_prov=DESA[:2],
        kode_kab=DESA[:4],
        kode_kec=DESA[:6],
        kode_desa=DESA,
        alasan="Data rumah salah",
        received_at=START,
        ack_due_at=START + timedelta(hours=72),
    )
    session.add(request)
    session.flush()
    return request


def _sanggahan(
    session: Session, family: str, changes: list[dict[str, str]], request_id: int | None
) -> WorkflowCase:
    spec = cases.CaseInput(
        "sanggahan",
        "2026Q3",
        DESA,
        "publik",
        kategori="wrong_data",
        id_keluarga_dtsen=family,
        request_id=request_id,
    )
    case = cases.open_case(session, OPERATOR, spec, now=START)
    case = moves.act(session, OPERATOR, case.id, "konfirmasi", version=case.version, now=START)
    return moves.act(
        session,
        DINSOS,
        case.id,
        "setujui",
        version=case.version,
        now=START,
        fields={"nomor_keputusan": "400/9/2026", "alasan": "Sesuai dokumen", "perubahan": changes},
    )


def test_export_writes_a_corrections_file_the_cycle_accepts_once(session: Session, tmp_path: Path) -> None:
    first = _verval(
        session,
        "K-0001",
        [
            {
                "entitas": "family",
                "id": "K-0001",
                "atribut": "luas_lantai",
                "nilai_baru": "24",
                "nilai_lama": "60",
            },
            {"entitas": "family", "id": "K-0001", "atribut": "sumber_penerangan", "nilai_baru": "3"},
        ],
    )
    second = _sanggahan(
        session,
        "K-0002",
        [{"entitas": "person", "id": "P-0009", "atribut": "bekerja", "nilai_baru": "ya"}],
        None,
    )
    later = _verval(
        session,
        "K-0003",
        [{"entitas": "family", "id": "K-0003", "atribut": "luas_lantai", "nilai_baru": "30"}],
        periode="2026Q4",
    )
    session.commit()

    result = loop.export_approved(session, "2026Q3", tmp_path, now=START + timedelta(days=1))
    assert (result.rows, result.cases, result.by_jenis) == (3, 2, {"sanggahan": 1, "verval": 2})
    assert result.path is not None
    assert result.path.parent == tmp_path
    feed = read_corrections(result.path)
    assert feed.quarantine.height == 0
    rows = {r["id_koreksi"]: r for r in feed.corrections.iter_rows(named=True)}
    assert set(rows) == {f"{first.nomor}-01", f"{first.nomor}-02", f"{second.nomor}-01"}
    floor = rows[f"{first.nomor}-01"]
    assert (
        floor["jenis"],
        floor["entitas"],
        floor["id"],
        floor["atribut"],
        floor["nilai_baru"],
        floor["nilai_lama"],
        floor["nomor_keputusan"],
        floor["petugas"],
    ) == ("verval", "family", "K-0001", "luas_lantai", "24", "60", "400/7/2026", "dinsos_kota")
    assert str(floor["tanggal_keputusan"]) == "2026-07-01"
    assert first.nomor in floor["sumber"]
    assert "dinsos_kota" in floor["keterangan"]
    person = rows[f"{second.nomor}-01"]
    assert (person["jenis"], person["entitas"], person["id"], person["nilai_baru"]) == (
        "sanggahan",
        "person",
        "P-0009",
        "ya",
    )
    marked = session.scalars(select(ApprovedChange).where(ApprovedChange.exported_at.is_not(None))).all()
    assert {c.case_id for c in marked} == {first.id, second.id}

    # a second export repeats nothing; the later period's change waits for its own cycle
    again = loop.export_approved(session, "2026Q3", tmp_path, now=START + timedelta(days=2))
    assert (again.rows, again.path) == (0, None)
    assert len(list(tmp_path.glob("*.parquet"))) == 1
    q4 = loop.export_approved(session, "2026Q4", tmp_path, now=START + timedelta(days=3))
    assert q4.rows == 1
    assert q4.path is not None
    assert read_corrections(q4.path).corrections["id_koreksi"].to_list() == [f"{later.nomor}-01"]
    assert not list(tmp_path.glob(".*"))  # no staging leftovers


def _served(
    session: Session,
    ref: str,
    created: datetime,
    current: bool,
    family: str,
    desil: int,
    programs: dict[str, bool],
) -> None:
    periode, versi = ref.split("/")
    snap = ServedSnapshot(
        periode=periode,
        versi=int(versi[1:]),
        ref=ref,
        manifest_sha256="0" * 64,
        created_at=created,
        loaded_at=created,
        status="ready",
        is_current=current,
    )
    session.add(snap)
    session.flush()
    session.add(
        ServedFamily(
            snapshot_id=snap.id,
            id_keluarga_dtsen=family,
            kode_desa=DESA,
            kode_kab=DESA[:4],
            kode_kec=DESA[:6],
            kode_prov=DESA[:2],
            desil_nasional=desil,
            status_peringkat="diperingkat",
        )
    )
    for program, layak in programs.items():
        session.add(
            ServedEligibility(
                snapshot_id=snap.id, id_keluarga_dtsen=family, program=program, layak=layak, kode_desa=DESA
            )
        )
    session.flush()


def test_record_outcomes_closes_settled_cases_and_tells_the_citizen(session: Session, tmp_path: Path) -> None:
    request = _request(session)
    settled = _sanggahan(
        session,
        "K-0100",
        [{"entitas": "family", "id": "K-0100", "atribut": "luas_lantai", "nilai_baru": "20"}],
        request.id,
    )
    waiting = _verval(
        session,
        "K-0200",
        [{"entitas": "family", "id": "K-0200", "atribut": "luas_lantai", "nilai_baru": "18"}],
    )
    session.commit()
    exported = loop.export_approved(session, "2026Q3", tmp_path, now=START + timedelta(days=1))
    assert exported.rows == 2
    _served(
        session, "2026Q2/v1", START - timedelta(days=60), False, "K-0100", 3, {"PKH": True, "BPNT": False}
    )
    _served(session, "2026Q3/v1", START + timedelta(days=5), True, "K-0100", 2, {"PKH": True, "BPNT": True})
    session.commit()
    outcomes = pl.DataFrame(
        {
            "id_koreksi": [f"{settled.nomor}-01", f"{waiting.nomor}-01", "LAIN-1"],
            "status": ["diterapkan", "ditunda", "diterapkan"],
        }
    )

    result = loop.record_outcomes(session, "2026Q3/v1", outcomes, now=START + timedelta(days=6))
    assert (result.changes_updated, result.cases_closed, result.cases_waiting, result.failed) == (2, 1, 1, [])
    case = session.get(WorkflowCase, settled.id, populate_existing=True)
    assert case is not None
    assert (case.state, case.closed_at) == ("selesai", START + timedelta(days=6))
    assert case.outcome is not None
    assert (case.outcome["desil_nasional"], case.outcome["desil_sebelumnya"]) == (2, 3)
    assert (case.outcome["program"], case.outcome["program_masuk"], case.outcome["program_keluar"]) == (
        ["BPNT", "PKH"],
        ["BPNT"],
        [],
    )
    assert case.outcome["perubahan"] == {"diterapkan": 1}
    assert steps_of(session, case)[-1] == ("catat_hasil", "system:siklus", {"snapshot": "2026Q3/v1"})
    session.refresh(request)
    assert request.status == "selesai"
    assert request.events[-1].state == "selesai"
    still = session.get(WorkflowCase, waiting.id, populate_existing=True)
    assert still is not None
    assert still.state == "disetujui"  # its change waits for the next cycle
    statuses = {
        r.case_id: r.status for r in session.execute(select(ApprovedChange.case_id, ApprovedChange.status))
    }
    assert statuses == {settled.id: "diterapkan", waiting.id: "ditunda"}

    # again (a retried publish): nothing moves twice
    again = loop.record_outcomes(session, "2026Q3/v1", outcomes, now=START + timedelta(days=7))
    assert (again.cases_closed, again.cases_waiting) == (0, 1)
    with pytest.raises(ValueError, match="not loaded"):
        loop.record_outcomes(session, "2031Q1/v1", None)


def steps_of(session: Session, case: WorkflowCase) -> list[tuple[str, str, object]]:
    return [(s.action, s.actor, s.fields) for s in cases.steps_of(session, case)]


def test_sla_cli_on_a_controlled_clock(
    session: Session, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dtsen.cli.main import app

    monkeypatch.setenv("DTSEN_LOG_LEVEL", "WARNING")
    late = cases.open_case(session, OPERATOR, cases.CaseInput("usulan", "2026Q3", DESA, "desa"), now=START)
    answered = cases.open_case(
        session, OPERATOR, cases.CaseInput("usulan", "2026Q3", OTHER_DESA, "desa"), now=START
    )
    moves.act(session, OPERATOR, answered.id, "konfirmasi", version=answered.version, now=START)
    cases.open_case(
        session,
        DINSOS,
        cases.CaseInput("verval", "2026Q3", OTHER_DESA, "dinsos", assigned_to="pendamping1"),
        now=START,
    )
    session.commit()
    url = engine.url.render_as_string(hide_password=False)
    runner = CliRunner()

    at = (START + timedelta(hours=73)).isoformat()
    done = runner.invoke(app, ["workflows", "sla", "--at", at, "--json", "--url", url])
    assert done.exit_code == 0, done.output
    report = json.loads(done.output.strip().splitlines()[-1])
    assert (report["kasus"], report["lewat_tanggap"], report["lewat_selesai"]) == (1, 1, 0)
    assert report["per_kab"] == {"3471": 1}
    assert [(r["kode_desa"], r["jenis"]) for r in report["per_desa"]] == [(DESA, "usulan")]
    assert late.nomor not in done.output  # counts only

    at = (START + timedelta(days=50)).isoformat()  # the verval's 45 days have run out, the usulan's 60 not
    done = runner.invoke(app, ["workflows", "sla", "--at", at, "--json", "--url", url])
    report = json.loads(done.output.strip().splitlines()[-1])
    assert [
        (r["kode_desa"], r["jenis"], r["lewat_tanggap"], r["lewat_selesai"]) for r in report["per_desa"]
    ] == [(DESA, "usulan", 1, 0), (OTHER_DESA, "verval", 0, 1)]
    table = runner.invoke(app, ["workflows", "sla", "--at", at, "--url", url])
    assert table.exit_code == 0, table.output
    assert OTHER_DESA in table.output
    assert "total" in table.output
    assert runner.invoke(app, ["workflows", "sla", "--at", "kemarin", "--url", url]).exit_code == 2


def test_cycle_hooks_export_into_the_inbox_and_never_raise(
    session: Session, engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dtsen.config import reset_settings
    from dtsen.cycle.inputs import freeze

    case = _verval(
        session,
        "K-0300",
        [{"entitas": "family", "id": "K-0300", "atribut": "luas_lantai", "nilai_baru": "40"}],
    )
    session.commit()
    cutoff = datetime(2026, 9, 30, 16, 0, tzinfo=UTC)  # a cut-off before now: the file is dated to it
    monkeypatch.delenv("DTSEN_DATABASE_URL", raising=False)
    reset_settings()
    assert loop.export_for_cycle(tmp_path, "2026Q3", cutoff) is None  # no serving database: nothing
    monkeypatch.setenv("DTSEN_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    reset_settings()
    try:
        done = loop.export_for_cycle(tmp_path, "2026Q3", cutoff)
        assert done is not None
        assert (done["status"], done["rows"]) == ("ok", 1)
        frozen = tmp_path / "run"
        frozen.mkdir()
        inputs = freeze(tmp_path, cutoff, frozen)
        assert [c["file"] for c in inputs["corrections"]] == [f"corrections/{Path(done['path']).name}"]
        feed = read_corrections(frozen / inputs["corrections"][0]["file"])
        assert feed.corrections["id_koreksi"].to_list() == [f"{case.nomor}-01"]
        failed = loop.outcomes_for_cycle("2031Q1/v1", None)  # reported, not raised
        assert failed is not None
        assert failed["status"] == "failed"
        assert "2031Q1/v1" in failed["error"]
    finally:
        monkeypatch.delenv("DTSEN_DATABASE_URL")
        reset_settings()
