"""Closing the loop between the workflow cases and the quarterly cycle.

* :func:`export_approved` writes the changes decided cases approved (and no cycle took yet) as one
  corrections file in the format of :mod:`dtsen.cycle.corrections`, so they reach the registry through
  the one corrections path (one format, one validation, provenance naming the case). The cycle calls it
  before freezing its inputs when a serving database is configured; ``dtsen workflows export`` too.
* :func:`record_outcomes` runs after a snapshot is published and loaded into the serving database: it
  records what the cycle did with each change (``diterapkan``, ``ditolak``, ...) and, for every approved
  case whose changes went in, the family's new desil and programs against the previous served snapshot,
  then closes the case (``catat_hasil``), which also tells the citizen on Lacak.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
from sqlalchemy import Table, and_, bindparam, func, or_, select, update
from sqlalchemy.orm import Session

from dtsen.logs import get_logger
from dtsen.store import audit
from dtsen.store.cases import ApprovedChange, WorkflowCase
from dtsen.store.registry import ELIGIBILITY, FAMILY, PERSON, ready_and_previous
from dtsen.store.staged import parquet_with_marks
from dtsen.tables import CORRECTION_FILE, FeedStatus
from dtsen.workflows import cases, moves

log = get_logger(__name__)

CHANGE: Table = ApprovedChange.__table__  # type: ignore[assignment]
BATCH = 10_000
# The correction kind (dtsen.cycle.corrections.KINDS) of each workflow's approved changes.
KIND_OF = {"usulan": "usulan", "sanggahan": "sanggahan", "verval": "verval"}
# Outcomes of the corrections path that are final; ``ditunda`` (decided after the cut-off) waits for the
# next cycle, which reads the same file again.
PENDING = FeedStatus.DITUNDA


@dataclass
class ExportResult:
    periode: str
    rows: int
    cases: int
    path: Path | None  # None: nothing to export
    by_jenis: dict[str, int] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        return {
            "periode": self.periode,
            "rows": self.rows,
            "cases": self.cases,
            "path": str(self.path) if self.path else None,
            "by_jenis": self.by_jenis,
        }


@dataclass
class OutcomeResult:
    snapshot: str
    changes_updated: int = 0
    cases_closed: int = 0
    cases_waiting: int = 0  # approved cases whose changes are not (all) in this snapshot yet
    failed: list[str] = field(default_factory=list)  # case numbers that could not be closed

    def summary(self) -> dict[str, Any]:
        return {
            "snapshot": self.snapshot,
            "changes_updated": self.changes_updated,
            "cases_closed": self.cases_closed,
            "cases_waiting": self.cases_waiting,
            "failed": self.failed[:20],
            "failed_count": len(self.failed),
        }


def _now(now: datetime | None) -> datetime:
    return (now or datetime.now(UTC)).astimezone(UTC)


# -- export ------------------------------------------------------------------------------------------------
def _pending_rows(session: Session, periode: str) -> Iterator[Sequence[Any]]:
    """Batches of not yet exported changes of cycles up to ``periode`` (plain rows, streamed)."""
    statement = (
        select(
            CHANGE.c.id,
            CHANGE.c.id_koreksi,
            CHANGE.c.jenis,
            CHANGE.c.entitas,
            CHANGE.c.target_id,
            CHANGE.c.atribut,
            CHANGE.c.nilai_baru,
            CHANGE.c.nilai_lama,
            CHANGE.c.nomor_keputusan,
            CHANGE.c.tanggal_keputusan,
            CHANGE.c.petugas,
            CHANGE.c.case_id,
            WorkflowCase.nomor,
        )
        .join(WorkflowCase, WorkflowCase.id == CHANGE.c.case_id)
        .where(CHANGE.c.periode <= periode, CHANGE.c.status.is_(None), CHANGE.c.exported_at.is_(None))
        .order_by(CHANGE.c.id)
    )
    result = session.execute(statement, execution_options={"yield_per": BATCH})
    yield from result.partitions()


def _batch_table(rows: Sequence[Any]) -> pa.Table:
    person = [r.entitas == "person" for r in rows]
    columns = {
        "id_koreksi": [r.id_koreksi for r in rows],
        "jenis": [KIND_OF[r.jenis] for r in rows],
        "id_dtsen": [r.target_id if p else None for r, p in zip(rows, person, strict=True)],
        "id_keluarga_dtsen": [None if p else r.target_id for r, p in zip(rows, person, strict=True)],
        "atribut": [r.atribut for r in rows],
        "nilai_baru": [r.nilai_baru for r in rows],
        "nilai_lama": [r.nilai_lama for r in rows],
        "sumber": [f"kasus {r.nomor}" for r in rows],  # provenance names the case
        "nomor_keputusan": [r.nomor_keputusan for r in rows],
        "tanggal_keputusan": [r.tanggal_keputusan.isoformat() for r in rows],
        "petugas": [r.petugas for r in rows],
        "keterangan": [f"Kasus {r.nomor}, disetujui oleh {r.petugas}" for r in rows],
    }
    return pa.table(columns, schema=CORRECTION_FILE.arrow)


def export_approved(
    session: Session, periode: str, out_dir: Path, *, now: datetime | None = None
) -> ExportResult:
    """Write every approved change of cycles up to ``periode`` not taken yet as one corrections file in
    ``out_dir`` (Parquet) and mark them exported; commits, so the file and the marks agree.

    Streamed in batches: 100k changes never sit in memory as ORM objects. The file is written under a
    hidden name and renamed only once the marks are flushed; if the commit fails it is removed, so a
    change is either in a file and marked, or in neither (and the next export takes it).
    """
    moment = _now(now)
    name = f"kasus-{periode}-{moment:%Y%m%dT%H%M%S%f}.parquet"
    case_ids: set[int] = set()
    by_jenis: dict[str, int] = {}
    marked: list[int] = []  # ids only; marked after the scan, which must not see its own updates
    with parquet_with_marks(session, out_dir / name, CORRECTION_FILE.arrow) as staged:
        for batch in _pending_rows(session, periode):
            staged.write(_batch_table(batch))
            marked.extend(r.id for r in batch)
            case_ids.update(r.case_id for r in batch)
            for r in batch:
                by_jenis[r.jenis] = by_jenis.get(r.jenis, 0) + 1
        if staged.empty:
            return ExportResult(periode, 0, 0, None)
        for start in range(0, len(marked), BATCH):
            chunk = marked[start : start + BATCH]
            session.execute(update(CHANGE).where(CHANGE.c.id.in_(chunk)).values(exported_at=moment))
        audit.record(
            session,
            **cases.SYSTEM.audit_fields(),
            action="export",
            resource="approved_change",
            purpose="siklus",
            detail={"periode": periode, "baris": staged.rows, "berkas": name},
        )
    rows, final = staged.rows, out_dir / name
    log.info("approved changes exported", periode=periode, rows=rows, cases=len(case_ids), file=name)
    return ExportResult(periode, rows, len(case_ids), final, dict(sorted(by_jenis.items())))


# -- outcomes ----------------------------------------------------------------------------------------------
def _update_statuses(session: Session, outcomes: pl.DataFrame | None) -> int:
    """Each exported change gets the cycle's outcome; a final one is never overwritten by a later cycle
    re-reading the same file (``sudah_diterapkan``), a deferred one (``ditunda``) is."""
    if outcomes is None or outcomes.height == 0:
        return 0
    prefixes = "|".join(cases.NUMBER_PREFIX.values())
    ours = outcomes.filter(pl.col("id_koreksi").str.contains(f"^({prefixes})-")).select(
        "id_koreksi", "status"
    )
    if ours.height == 0:
        return 0
    statement = (
        update(CHANGE)
        .where(
            CHANGE.c.id_koreksi == bindparam("k"),
            CHANGE.c.exported_at.is_not(None),
            or_(CHANGE.c.status.is_(None), CHANGE.c.status == PENDING),
        )
        .values(status=bindparam("s"))
    )
    updated = 0
    for chunk in ours.iter_slices(BATCH):
        params = [{"k": k, "s": s} for k, s in chunk.iter_rows()]
        updated += session.connection().execute(statement, params).rowcount or 0
    return updated


def _family_of(session: Session, snapshot_id: int, case: WorkflowCase, changes: list[Any]) -> str | None:
    if case.id_keluarga_dtsen:
        return case.id_keluarga_dtsen
    for c in changes:
        if c.entitas == "family":
            return str(c.target_id)
    for c in changes:  # a person's change: the family the person belongs to now
        family = session.scalar(
            select(PERSON.c.id_keluarga_dtsen).where(
                PERSON.c.snapshot_id == snapshot_id, PERSON.c.id_dtsen == c.target_id
            )
        )
        if family:
            return str(family)
    return None


def _standing(session: Session, snapshot_id: int | None, family: str | None) -> dict[str, Any] | None:
    if snapshot_id is None or family is None:
        return None
    row = session.execute(
        select(FAMILY.c.desil_nasional, FAMILY.c.status_peringkat, FAMILY.c.alasan_tidak_diperingkat).where(
            FAMILY.c.snapshot_id == snapshot_id, FAMILY.c.id_keluarga_dtsen == family
        )
    ).one_or_none()
    if row is None:
        return None
    programs = session.scalars(
        select(ELIGIBILITY.c.program)
        .where(
            ELIGIBILITY.c.snapshot_id == snapshot_id,
            ELIGIBILITY.c.id_keluarga_dtsen == family,
            ELIGIBILITY.c.layak.is_(True),
        )
        .order_by(ELIGIBILITY.c.program)
    ).all()
    return {
        "desil_nasional": row.desil_nasional,
        "status_peringkat": row.status_peringkat,
        "alasan_tidak_diperingkat": row.alasan_tidak_diperingkat,
        "program": list(programs),
    }


def case_outcome(
    session: Session, snap: Any, previous: Any, case: WorkflowCase, changes: list[Any]
) -> dict[str, Any]:
    """What the published snapshot says of the case's family, against the previous served snapshot."""
    family = _family_of(session, snap.id, case, changes)
    now_ = _standing(session, snap.id, family)
    before = _standing(session, previous.id if previous is not None else None, family)
    statuses: dict[str, int] = {}
    for c in changes:
        statuses[c.status or "tidak_diketahui"] = statuses.get(c.status or "tidak_diketahui", 0) + 1
    programs_now = set(now_["program"]) if now_ else set()
    programs_before = set(before["program"]) if before else set()
    return {
        "snapshot": snap.ref,
        "snapshot_sebelumnya": previous.ref if previous is not None else None,
        "id_keluarga_dtsen": family,
        "ditemukan": now_ is not None,
        "desil_nasional": now_["desil_nasional"] if now_ else None,
        "desil_sebelumnya": before["desil_nasional"] if before else None,
        "status_peringkat": now_["status_peringkat"] if now_ else None,
        "alasan_tidak_diperingkat": now_["alasan_tidak_diperingkat"] if now_ else None,
        "program": sorted(programs_now),
        "program_sebelumnya": sorted(programs_before),
        "program_masuk": sorted(programs_now - programs_before),
        "program_keluar": sorted(programs_before - programs_now),
        "perubahan": dict(sorted(statuses.items())),
    }


def record_outcomes(
    session: Session,
    snapshot_ref: str,
    corrections_outcomes: pl.DataFrame | None,
    *,
    now: datetime | None = None,
) -> OutcomeResult:
    """Record a published, served snapshot on the cases it settles; commits per batch of cases.

    A case in ``disetujui`` is closed when every change it approved was exported before the snapshot was
    published and none waits for a later cycle (``ditunda``); given the cycle's outcomes, every change
    must have one. A case that approved no change is closed by the first snapshot of its period or later.
    A case that cannot be closed (someone moved it meanwhile) is reported and left for the next run.
    """
    moment = _now(now)
    result = OutcomeResult(snapshot_ref)
    snap, previous = ready_and_previous(session, snapshot_ref)
    result.changes_updated = _update_statuses(session, corrections_outcomes)
    session.commit()
    published = snap.created_at
    candidates = select(WorkflowCase.id).where(
        WorkflowCase.state == "disetujui", WorkflowCase.periode <= snap.periode
    )
    ids = list(session.scalars(candidates.order_by(WorkflowCase.id)))
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        changes: dict[int, list[Any]] = {}
        for row in session.execute(
            select(
                CHANGE.c.case_id, CHANGE.c.entitas, CHANGE.c.target_id, CHANGE.c.status, CHANGE.c.exported_at
            )
            .where(CHANGE.c.case_id.in_(chunk))
            .order_by(CHANGE.c.id)
        ):
            changes.setdefault(row.case_id, []).append(row)
        for case_id in chunk:
            own = changes.get(case_id, [])
            settled = all(
                c.exported_at is not None
                and c.exported_at <= published
                and c.status != PENDING
                and (corrections_outcomes is None or c.status is not None)
                for c in own
            )
            if not settled:
                result.cases_waiting += 1
                continue
            case = session.get(WorkflowCase, case_id, populate_existing=True)
            if case is None:
                continue
            try:
                with session.begin_nested():
                    outcome = case_outcome(session, snap, previous, case, own)
                    moved = moves.act(
                        session,
                        cases.SYSTEM,
                        case.id,
                        "catat_hasil",
                        version=case.version,
                        fields={"snapshot": snapshot_ref},
                        now=moment,
                    )
                    moved.outcome = outcome
                    session.flush()
            except cases.CaseError as exc:
                log.warning("case outcome not recorded", kasus=case.nomor, reason=str(exc)[:200])
                result.failed.append(case.nomor)
                continue
            result.cases_closed += 1
        session.commit()
    log.info("case outcomes recorded", **result.summary() | {"failed": len(result.failed)})
    return result


def outcomes_file(data_dir: Path, periode: str) -> Path | None:
    """The corrections outcomes the cycle of ``periode`` wrote, if that run is still on disk (its
    apply_events step, named ``consolidate`` in runs before 2026-12)."""
    for step in ("apply_events", "consolidate"):
        path = data_dir / "cycles" / periode / step / "corrections_outcomes.parquet"
        if path.is_file():
            return path
    return None


def overdue(session: Session, at: datetime) -> list[dict[str, Any]]:
    """Open cases past their acknowledgement or resolution deadline at ``at``, counted per kab and desa."""
    late_ack = and_(WorkflowCase.acknowledged_at.is_(None), WorkflowCase.ack_due_at < at)
    late_due = WorkflowCase.due_at < at
    rows = session.execute(
        select(
            WorkflowCase.kode_kab,
            WorkflowCase.kode_desa,
            WorkflowCase.jenis,
            func.count().filter(late_ack).label("lewat_tanggap"),
            func.count().filter(late_due).label("lewat_selesai"),
            func.count().label("kasus"),
        )
        .where(WorkflowCase.closed_at.is_(None), or_(late_ack, late_due))
        .group_by(WorkflowCase.kode_kab, WorkflowCase.kode_desa, WorkflowCase.jenis)
        .order_by(WorkflowCase.kode_kab, WorkflowCase.kode_desa, WorkflowCase.jenis)
    ).all()
    return [dict(row._mapping) for row in rows]


# -- the cycle's calls (never raise: a case problem must not undo a cycle step) -----------------------------
def _serving_url() -> str | None:
    from dtsen.config import get_settings

    return get_settings().database_url


def export_for_cycle(data_dir: Path, periode: str, cutoff: datetime) -> dict[str, Any] | None:
    """Before the cycle freezes its inputs: export approved changes into ``data_dir/corrections`` when a
    serving database is configured (None if not). The file is dated no later than the cut-off so the
    freeze takes it (decisions after the cut-off are ``ditunda`` there and the file stays for the next
    cycle). Errors are logged and returned, never raised."""
    url = _serving_url()
    if not url:
        return None
    from dtsen.store.db import make_engine

    engine = make_engine(url)
    try:
        with Session(engine) as session:
            result = export_approved(session, periode, data_dir / "corrections")
        if result.path is not None and result.path.stat().st_mtime > cutoff.timestamp():
            os.utime(result.path, (cutoff.timestamp(), cutoff.timestamp()))
        return {"status": "ok", **result.summary()}
    except Exception as exc:  # the cycle goes on with the corrections already in the inbox
        log.error("approved changes could not be exported", periode=periode, error=str(exc)[:500])
        return {"status": "failed", "error": str(exc)[:500]}
    finally:
        engine.dispose()


def outcomes_for_cycle(ref: str, outcomes_path: Path | None) -> dict[str, Any] | None:
    """After the published snapshot is loaded into the serving database: record it on the cases (None
    without a serving database). Errors are logged and returned, never raised; ``dtsen workflows
    outcomes`` redoes it."""
    url = _serving_url()
    if not url:
        return None
    from dtsen.store.db import make_engine

    engine = make_engine(url)
    try:
        frame = (
            pl.read_parquet(outcomes_path) if outcomes_path is not None and outcomes_path.is_file() else None
        )
        with Session(engine) as session:
            return {"status": "ok", **record_outcomes(session, ref, frame).summary()}
    except Exception as exc:
        log.error("case outcomes could not be recorded", snapshot=ref, error=str(exc)[:500])
        return {"status": "failed", "error": str(exc)[:500]}
    finally:
        engine.dispose()
