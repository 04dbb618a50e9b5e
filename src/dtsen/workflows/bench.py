"""``dtsen bench workflows``: the workflow service layer at the scale of a province's quarter.

1. N ground checks (verval) opened and moved through their states by the service layer (open, visit
   reported with a change, approved into an :class:`~dtsen.store.cases.ApprovedChange`), a village's 50
   at a time (``open_cases``/``act_many``, as a dinsos plans and approves a village's checks) -> cases/s;
   and a sample one case at a time (``open_case``/``act``, as single forms arrive) -> single cases/s;
2. filler cases bulk-copied (untimed) until the table holds ``total`` cases, spread over kab/kota;
3. the dinsos queue (:func:`dtsen.workflows.cases.queue`) of different kab/kota, timed -> p50/p95 ms;
4. the export of the N approved changes as one corrections file -> seconds.

Targets (issue 12): >= 500 cases/s, queue p95 <= 100 ms, export of 100k changes <= 30 s. Runs on
PostgreSQL: ``DTSEN_DATABASE_URL`` if set (it must hold no case yet: the bench fills and exports it),
else a new database on the local server, dropped at the end.
"""

from __future__ import annotations

import random
import shutil
import statistics
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from dtsen.auth.scope import Principal, Role
from dtsen.store.cases import WorkflowCase
from dtsen.workflows import cases, loop, moves

PERIODE = "2026Q3"
KABS = 40  # kab/kota the cases spread over
DESA_PER_KAB = 25
START = datetime(2026, 7, 1, 2, 0, tzinfo=UTC)
# Filler cases: open states of the three workflows, as a queue would see them.
FILLER_STATES = (
    ("usulan", "diterima"),
    ("usulan", "dikonfirmasi"),
    ("usulan", "kunjungan"),
    ("sanggahan", "diterima"),
    ("sanggahan", "dikunjungi"),
    ("verval", "ditugaskan"),
    ("usulan", "selesai"),
    ("sanggahan", "ditolak"),
)


def _kab(i: int) -> str:
    return f"{31 + i // 20:02d}{1 + i % 20:02d}"


def _desa(kab: str, j: int) -> str:
    return f"{kab}{1 + j // 5:02d}{2001 + j:04d}"  # kab, kecamatan, desa: 10 digits


def _villages() -> list[str]:
    return [_desa(_kab(i), j) for i in range(KABS) for j in range(DESA_PER_KAB)]


def _village_batches(count: int, batch: int) -> Iterator[tuple[str, range]]:
    """``count`` case numbers cut into batches of at most ``batch``, each within one village, villages in
    turn."""
    villages = _villages()
    n, turn = 0, 0
    while n < count:
        size = min(batch, count - n)
        yield villages[turn % len(villages)], range(n, n + size)
        n, turn = n + size, turn + 1


def move_cases(session: Session, count: int, *, batch: int = 50, seed: int = 1) -> float:
    """Open ``count`` verval cases and take each to ``disetujui`` through the service layer, a village's
    batch at a time as the work arrives (the dinsos plans a village's checks, its pendamping sends the
    visits, the dinsos approves them); seconds."""
    rng = random.Random(seed)
    started = time.perf_counter()
    for number, (desa, numbers) in enumerate(_village_batches(count, batch)):
        kab = desa[:4]
        dinsos = Principal(kind="user", name=f"dinsos_{kab}", role=Role.DINSOS, regions=(kab,))
        pendamping = Principal(kind="user", name=f"pdp_{desa}", role=Role.PENDAMPING, regions=(desa,))
        moment = START + timedelta(seconds=number)
        specs = [
            cases.CaseInput(
                "verval",
                PERIODE,
                desa,
                "dinsos",
                id_keluarga_dtsen=f"K{n:09d}",
                assigned_to=pendamping.name,
                priority=rng.random(),
            )
            for n in numbers
        ]
        opened = cases.open_cases(session, dinsos, specs, now=moment)
        visits = [
            moves.Move(
                case.id,
                1,
                {
                    "hasil": {"hadir": True},
                    "perubahan": [
                        {
                            "entitas": "family",
                            "id": case.id_keluarga_dtsen,
                            "atribut": "luas_lantai",
                            "nilai_baru": str(rng.randint(9, 90)),
                        }
                    ],
                },
            )
            for case in opened
        ]
        moves.act_many(session, pendamping, "laporkan_kunjungan", visits, now=moment)
        decisions = [
            moves.Move(move.case_id, 2, {"nomor_keputusan": f"400/{move.case_id}/2026"}) for move in visits
        ]
        moves.act_many(session, dinsos, "setujui", decisions, now=moment)
        session.commit()
        session.expunge_all()
    return time.perf_counter() - started


def move_cases_one_by_one(session: Session, count: int, *, offset: int, seed: int = 3) -> float:
    """The same work one case at a time (:func:`cases.open_case`, :func:`moves.act`), as single forms
    are sent from the pages; seconds."""
    rng = random.Random(seed)
    villages = _villages()
    started = time.perf_counter()
    for n in range(offset, offset + count):
        desa = villages[n % len(villages)]
        kab = desa[:4]
        dinsos = Principal(kind="user", name=f"dinsos_{kab}", role=Role.DINSOS, regions=(kab,))
        pendamping = Principal(kind="user", name=f"pdp_{desa}", role=Role.PENDAMPING, regions=(desa,))
        spec = cases.CaseInput(
            "verval",
            PERIODE,
            desa,
            "dinsos",
            id_keluarga_dtsen=f"K{n:09d}",
            assigned_to=pendamping.name,
            priority=rng.random(),
        )
        case = cases.open_case(session, dinsos, spec, now=START)
        change = {
            "entitas": "family",
            "id": spec.id_keluarga_dtsen,
            "atribut": "luas_lantai",
            "nilai_baru": "30",
        }
        case = moves.act(
            session,
            pendamping,
            case.id,
            "laporkan_kunjungan",
            version=case.version,
            fields={"hasil": {"hadir": True}, "perubahan": [change]},
            now=START,
        )
        moves.act(
            session,
            dinsos,
            case.id,
            "setujui",
            version=case.version,
            fields={"nomor_keputusan": f"400/{n}/2026"},
            now=START,
        )
        session.commit()
        session.expunge_all()
    return time.perf_counter() - started


def _filler_rows(count: int, seed: int) -> Iterator[tuple[Any, ...]]:
    rng = random.Random(seed)
    villages = _villages()
    for n in range(count):
        desa = villages[rng.randrange(len(villages))]
        jenis, state = FILLER_STATES[n % len(FILLER_STATES)]
        opened = START - timedelta(minutes=rng.randrange(200_000))
        closed = opened + timedelta(days=20) if state in ("selesai", "ditolak") else None
        yield (
            f"ISI-{n:09d}",
            jenis,
            "desa",
            state,
            1,
            PERIODE,
            desa[:2],
            desa[:4],
            desa[:6],
            desa,
            rng.random(),
            opened,
            opened,
            opened + timedelta(hours=72),
            opened + timedelta(days=60),
            closed,
            "{}",
        )


def fill_cases(engine: Any, count: int, *, seed: int = 2) -> None:
    """``count`` filler cases by COPY (untimed), then ANALYZE so the planner knows the table's size."""
    columns = (
        "nomor, jenis, asal, state, version, periode, kode_prov, kode_kab, kode_kec, kode_desa, priority, "
        "opened_at, updated_at, ack_due_at, due_at, closed_at, data"
    )
    raw = engine.raw_connection()
    try:
        with raw.cursor() as cursor, cursor.copy(f"COPY workflow_case ({columns}) FROM STDIN") as copy:
            for row in _filler_rows(count, seed):
                copy.write_row(row)
        raw.commit()
    finally:
        raw.close()
    with engine.connect() as connection:
        connection.execute(text("ANALYZE workflow_case"))
        connection.commit()


def time_queue(session: Session, repetitions: int) -> list[float]:
    """Milliseconds of the dinsos queue (first page) of ``repetitions`` kab/kota in turn."""
    kabs = [_kab(i) for i in range(KABS)]
    timings = []
    for n in range(repetitions):
        kab = kabs[n % len(kabs)]
        dinsos = Principal(kind="user", name=f"dinsos_{kab}", role=Role.DINSOS, regions=(kab,))
        started = time.perf_counter()
        page = cases.queue(session, dinsos, cases.QueueFilter(), limit=50)
        timings.append((time.perf_counter() - started) * 1000)
        if not page:
            raise RuntimeError(f"empty queue for kab {kab}")
        session.expunge_all()
    return timings


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def bench_workflows(count: int, *, total: int = 1_000_000, repetitions: int = 200) -> dict[str, Any]:
    from dtsen.store.benchmark import drop_database, open_database
    from dtsen.store.db import make_engine, upgrade

    db = open_database()
    try:
        upgrade(db.url)
        engine = make_engine(db.url)
        try:
            if engine.dialect.name != "postgresql":
                raise RuntimeError("dtsen bench workflows needs PostgreSQL")
            with Session(engine) as session:
                if session.scalar(select(func.count()).select_from(WorkflowCase)):
                    raise RuntimeError(
                        "DTSEN_DATABASE_URL already holds workflow cases: use an empty database"
                    )
                moved = move_cases(session, count)
                single = min(1000, max(1, count // 10))
                single_seconds = move_cases_one_by_one(session, single, offset=count)
            filler = max(0, total - count)
            started = time.perf_counter()
            fill_cases(engine, max(0, filler - single))
            fill_seconds = time.perf_counter() - started
            with Session(engine) as session:
                in_db = session.scalar(select(func.count()).select_from(WorkflowCase)) or 0
                time_queue(session, min(20, repetitions))  # warm the cache, as a serving database is
                timings = time_queue(session, repetitions)
            out = Path(tempfile.mkdtemp(prefix="dtsen-bench-export-"))
            try:
                with Session(engine) as session:
                    started = time.perf_counter()
                    exported = loop.export_approved(session, PERIODE, out)
                    export_seconds = time.perf_counter() - started
                size = exported.path.stat().st_size if exported.path else 0
            finally:
                shutil.rmtree(out, ignore_errors=True)
        finally:
            engine.dispose()
    finally:
        drop_database(db)
    return {
        "backend": "postgresql",
        "cases_moved": count,
        "transitions": count * 3,
        "batch": 50,
        "move_seconds": round(moved, 2),
        "cases_per_second": round(count / moved, 1) if moved else None,
        "single_cases_moved": single,
        "single_cases_per_second": round(single / single_seconds, 1) if single_seconds else None,
        "cases_in_db": in_db,
        "fill_seconds": round(fill_seconds, 2),
        "queue_repetitions": repetitions,
        "queue_p50_ms": round(statistics.median(timings), 2),
        "queue_p95_ms": round(_percentile(timings, 0.95), 2),
        "queue_max_ms": round(max(timings), 2),
        "export_rows": exported.rows,
        "export_seconds": round(export_seconds, 2),
        "export_mb": round(size / 1e6, 2),
        "targets": {"cases_per_second": 500, "queue_p95_ms": 100, "export_seconds": 30},
    }
