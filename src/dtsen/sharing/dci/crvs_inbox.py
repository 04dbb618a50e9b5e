"""Dukcapil's vital events received over the DCI CRVS notify API (:mod:`dtsen.sharing.dci.crvs`), as the
rest of DTSEN reads them.

**Into the cycle**: :func:`export_received` writes the events received up to a cycle's cut-off as one
Parquet file per period in ``data_dir/events`` (the freeze copies it like any event file) and stamps them
with the period; re-exporting a period rewrites the same file with the same rows, sorted, so nothing is
read twice. :func:`received_deaths` is the frame ``deaths_in_snapshot`` needs: a death is reported the
moment it lands, before any cycle.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from dtsen.logs import get_logger
from dtsen.store import audit
from dtsen.store.dci_events import DciEventInbox
from dtsen.store.staged import parquet_with_marks
from dtsen.tables import EVENT_FILE, EVENTS

log = get_logger(__name__)

FILE_PREFIX = "dukcapil-dci-"
BATCH = 10_000
SYSTEM_ACTOR = {"actor": "system:siklus", "actor_role": None}


# -- into the cycle ---------------------------------------------------------------------------------------
@dataclass
class ExportResult:
    periode: str
    rows: int  # events in the period's file
    new: int  # of which stamped with the period now
    path: Path | None

    def summary(self) -> dict[str, Any]:
        return {
            "periode": self.periode,
            "rows": self.rows,
            "new": self.new,
            "path": str(self.path) if self.path else None,
        }


def export_file(out_dir: Path, periode: str) -> Path:
    return out_dir / f"{FILE_PREFIX}{periode}.parquet"


def _for_period(session: Session, periode: str, cutoff: datetime) -> Iterator[Sequence[Any]]:
    """The period's events (stamped before, or received up to the cut-off and not stamped), by id."""
    statement = (
        select(DciEventInbox.id, DciEventInbox.baris, DciEventInbox.periode_ekspor)
        .where(
            or_(
                DciEventInbox.periode_ekspor == periode,
                and_(DciEventInbox.periode_ekspor.is_(None), DciEventInbox.received_at <= cutoff),
            )
        )
        .order_by(DciEventInbox.id_peristiwa)
    )
    yield from session.execute(statement, execution_options={"yield_per": BATCH}).partitions()


def export_received(
    session: Session, periode: str, out_dir: Path, *, cutoff: datetime, now: datetime | None = None
) -> ExportResult:
    """Write the period's received events as ``dukcapil-dci-<periode>.parquet`` in ``out_dir`` and stamp
    the new ones with the period; commits, so the file and the stamps agree (the file is renamed into
    place only once the stamps are flushed and removed if the commit fails).

    An event belongs to exactly one period's file: the first export whose cut-off it precedes. The rows
    are sorted by event id and every column is text, so exporting a period again writes the same file.
    """
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    final = export_file(out_dir, periode)
    fresh: list[int] = []
    with parquet_with_marks(session, final, EVENT_FILE.arrow) as staged:
        for batch in _for_period(session, periode, cutoff):
            columns = {c: [r.baris.get(c) for r in batch] for c in EVENT_FILE.columns}
            staged.write(pa.table(columns, schema=EVENT_FILE.arrow))
            fresh.extend(r.id for r in batch if r.periode_ekspor is None)
        if staged.empty:
            return ExportResult(periode, 0, 0, None)
        for start in range(0, len(fresh), BATCH):
            chunk = fresh[start : start + BATCH]
            session.execute(
                update(DciEventInbox)
                .where(DciEventInbox.id.in_(chunk))
                .values(periode_ekspor=periode, exported_at=moment)
            )
        audit.record(
            session,
            **SYSTEM_ACTOR,
            action="export",
            resource="dci_event",
            purpose="siklus",
            detail={"periode": periode, "baris": staged.rows, "baru": len(fresh), "berkas": final.name},
            occurred_at=moment,
        )
    rows = staged.rows
    log.info("dukcapil events exported", periode=periode, rows=rows, new=len(fresh), file=final.name)
    return ExportResult(periode, rows, len(fresh), final)


def export_for_cycle(data_dir: Path, periode: str, cutoff: datetime) -> dict[str, Any] | None:
    """Before the cycle freezes its inputs: the events Dukcapil pushed join ``data_dir/events`` (None
    without a serving database). The file is dated no later than the cut-off so the freeze takes it.
    Errors are logged and returned, never raised: the cycle goes on with the files already there."""
    from dtsen.config import get_settings

    url = get_settings().database_url
    if not url:
        return None
    from dtsen.store.db import make_engine

    engine = make_engine(url)
    try:
        with Session(engine) as session:
            result = export_received(session, periode, data_dir / "events", cutoff=cutoff)
        if result.path is not None and result.path.stat().st_mtime > cutoff.timestamp():
            os.utime(result.path, (cutoff.timestamp(), cutoff.timestamp()))
        return {"status": "ok", **result.summary()}
    except Exception as exc:
        log.error("dukcapil events could not be exported", periode=periode, error=str(exc)[:500])
        return {"status": "failed", "error": str(exc)[:500]}
    finally:
        engine.dispose()


# -- reported at once -------------------------------------------------------------------------------------
#: The columns of the events frame that deaths_in_snapshot reads, typed as the feed's valid events.
DEATH_FRAME_SCHEMA = {
    c: EVENTS.polars[c] for c in ("id_peristiwa", "jenis", "tanggal_peristiwa", "tanggal_lapor", "nik")
}


def received_deaths(session: Session) -> pl.DataFrame:
    """Every death Dukcapil pushed, as the events frame :func:`dtsen.cycle.events.deaths_in_snapshot`
    reads (deaths the snapshot already shows drop out there: the person is no longer alive in it)."""
    rows = session.execute(
        select(
            DciEventInbox.id_peristiwa,
            DciEventInbox.jenis,
            DciEventInbox.tanggal_peristiwa,
            DciEventInbox.tanggal_lapor,
            DciEventInbox.nik,
        )
        .where(DciEventInbox.jenis == "MATI")
        .order_by(DciEventInbox.id_peristiwa)
    ).all()
    return pl.DataFrame([tuple(r) for r in rows], schema=DEATH_FRAME_SCHEMA, orient="row")


def reported_deaths(session: Session, niks: Sequence[str]) -> dict[str, date]:
    """NIK -> date of death for those of ``niks`` whose death Dukcapil pushed (the family page's flag)."""
    wanted = sorted({n for n in niks if n})
    if not wanted:
        return {}
    rows = session.execute(
        select(DciEventInbox.nik, DciEventInbox.tanggal_peristiwa).where(
            DciEventInbox.jenis == "MATI", DciEventInbox.nik.in_(wanted)
        )
    ).all()
    return {r.nik: r.tanggal_peristiwa for r in rows}
