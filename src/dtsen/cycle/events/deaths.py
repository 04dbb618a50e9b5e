"""Reported at once, before the next cycle: which published beneficiaries died according to the feed."""

from __future__ import annotations

import polars as pl

from dtsen.cycle.events.feed import EventFeed
from dtsen.cycle.snapshot import Snapshot
from dtsen.tables import DEATH_REPORT, EventKind


def deaths_in_snapshot(snapshot: Snapshot, events: EventFeed | pl.DataFrame) -> pl.DataFrame:
    """Published beneficiaries who died according to ``events``, one row per person and program.

    ``peran`` is ``penerima`` for a person on a per-person list (PBI-JK, PIP), ``kepala`` or ``anggota``
    for a member of an eligible family on a per-family list; ministries can stop payment before the next
    cycle takes the person out for good.
    """
    frame = events.events if isinstance(events, EventFeed) else events
    deaths = frame.filter(pl.col("jenis") == EventKind.MATI).select(
        "id_peristiwa", "tanggal_peristiwa", "tanggal_lapor", "nik"
    )
    if deaths.is_empty():
        return DEATH_REPORT.empty()
    persons = pl.scan_parquet(snapshot.file("persons.parquet")).select(
        "id_dtsen", "nik", "id_keluarga_dtsen", "status_hidup"
    )
    hit = (
        deaths.lazy()
        .join(persons.filter(pl.col("status_hidup").fill_null(True)), on="nik", how="inner")
        .drop("status_hidup")
        .collect()
    )
    if hit.is_empty():
        return DEATH_REPORT.empty()
    eligibility = pl.scan_parquet(snapshot.file("eligibility.parquet")).filter(pl.col("layak"))
    heads = pl.scan_parquet(snapshot.file("families.parquet")).select("id_keluarga_dtsen", "id_kepala")
    rows = (
        hit.lazy()
        .join(
            eligibility.select("program", "id_keluarga_dtsen", "nilai_tahunan", "kode_prov", "kode_kab"),
            on="id_keluarga_dtsen",
            how="inner",
        )
        .join(heads, on="id_keluarga_dtsen", how="left")
        .collect()
    )
    parts = []
    for program, group in rows.group_by("program", maintain_order=True):
        name = f"beneficiaries/{program[0]}.parquet"
        listed: set[str] = set()
        per_person = False
        if snapshot.has(name):
            cols = pl.read_parquet_schema(snapshot.file(name))
            if "id_dtsen" in cols:
                per_person = True
                listed = set(pl.read_parquet(snapshot.file(name), columns=["id_dtsen"])["id_dtsen"].to_list())
        if per_person:
            group = group.filter(pl.col("id_dtsen").is_in(list(listed))).with_columns(
                peran=pl.lit("penerima")
            )
        else:
            group = group.with_columns(
                peran=pl.when(pl.col("id_dtsen") == pl.col("id_kepala"))
                .then(pl.lit("kepala"))
                .otherwise(pl.lit("anggota"))
            )
        parts.append(group)
    out = pl.concat(parts) if parts else DEATH_REPORT.empty()
    return out.select(list(DEATH_REPORT.columns)).cast(DEATH_REPORT.polars).sort("id_peristiwa", "program")
