"""Applying the event feed: every event registered up to the cut-off, in event order, with its outcome,
the provenance of every attribute it changed and the lineage of families it created or retired."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import polars as pl

from dtsen.cycle.events.feed import EventFeed
from dtsen.cycle.events.handlers import HANDLERS, IdAllocator
from dtsen.cycle.events.overlay import Registry
from dtsen.logs import get_logger
from dtsen.tables import EVENT_OUTCOMES, LINEAGE, PROVENANCE, FeedStatus, OutcomeReason

log = get_logger(__name__)


@dataclass
class EventReport:
    outcomes: pl.DataFrame  # one row per event (tables.EVENT_OUTCOMES), status a FeedStatus
    provenance: pl.DataFrame  # entitas, id, atribut, sumber, batch_id, tanggal_data
    lineage: pl.DataFrame  # id_lama, id_baru, jenis (pisah), jenis_id, run
    new_persons: int = 0
    new_families: int = 0
    retired_families: int = 0  # emptied or all members dead: removed, lineage pensiun

    def summary(self) -> dict[str, Any]:
        counts: dict[str, dict[str, int]] = {}
        for row in self.outcomes.group_by("jenis", "status").len().iter_rows(named=True):
            counts.setdefault(row["jenis"], {})[row["status"]] = row["len"]
        return {
            "events": self.outcomes.height,
            "by_kind": {k: dict(sorted(v.items())) for k, v in sorted(counts.items())},
            "new_persons": self.new_persons,
            "new_families": self.new_families,
            "retired_families": self.retired_families,
            "attributes_changed": self.provenance.height,
        }


def apply_events(
    persons: pl.DataFrame,
    families: pl.DataFrame,
    events: EventFeed | pl.DataFrame,
    cutoff: date,
    *,
    new_id: IdAllocator,
    batch_id: str = "peristiwa",
    reference_date: date | None = None,
    urban: dict[str, bool] | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame, EventReport]:
    """Apply every event registered (``tanggal_lapor``) on or before ``cutoff``, oldest event first.

    Later events are reported ``ditunda`` (kept for the next cycle); events that cannot be applied
    (nobody with that NIK, a KK split naming a non-member) are ``ditolak`` with a reason; events already
    reflected in the tables are ``sudah_diterapkan``. ``reference_date`` (default ``cutoff``) is the
    date ages (``umur``) of new persons are computed at. ``urban``: the urban flag per village over the
    whole registry, when ``families`` is only the share the events touch (:mod:`.subset`).
    """
    frame = events.events if isinstance(events, EventFeed) else events
    reg = Registry(persons, families, batch_id, cutoff, reference_date, urban)
    outcomes: list[dict[str, Any]] = []
    new_persons = new_families = 0
    ordered = frame.sort("tanggal_peristiwa", "tanggal_lapor", "id_peristiwa")
    for event in ordered.iter_rows(named=True):
        outcome = {
            "id_peristiwa": event["id_peristiwa"],
            "jenis": event["jenis"],
            "id_dtsen": None,
            "id_keluarga_dtsen": None,
            "tanggal_lapor": event["tanggal_lapor"],
            "alasan": None,
        }
        if event["tanggal_lapor"] > cutoff:
            outcomes.append(
                {**outcome, "status": FeedStatus.DITUNDA, "alasan": OutcomeReason.SETELAH_BATAS_WAKTU}
            )
            continue
        handler = HANDLERS[event["jenis"]]
        status, reason, pid, fid, made = handler(reg, event, new_id, reference_date or cutoff)
        new_persons += made[0]
        new_families += made[1]
        outcomes.append(
            {**outcome, "status": status, "alasan": reason, "id_dtsen": pid, "id_keluarga_dtsen": fid}
        )
    retired = reg.settle_families(cutoff)
    report = EventReport(
        outcomes=EVENT_OUTCOMES.frame(outcomes),
        provenance=PROVENANCE.frame(reg.provenance),
        lineage=LINEAGE.frame(reg.lineage),
        new_persons=new_persons,
        new_families=new_families,
        retired_families=len(retired),
    )
    log.info("events applied", **{k: v for k, v in report.summary().items() if k != "by_kind"})
    families_out = reg.f.result().filter(~pl.col("id_keluarga_dtsen").is_in(retired))
    return reg.p.result(), families_out, report


def sequential_ids(prefix: str, start: int = 1) -> IdAllocator:
    """An allocator for tests and demos: ``<prefix>P000001`` / ``<prefix>K000001`` in call order."""
    counters = {"person": start, "family": start}

    def allocate(kind: str, _key: str | None) -> str:
        n = counters[kind]
        counters[kind] += 1
        return f"{prefix}{'P' if kind == 'person' else 'K'}{n:06d}"

    return allocate
