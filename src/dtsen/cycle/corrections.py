"""Approved corrections: field results (ground check, verval) and decided proposals and objections.

Each row of a corrections file (CSV/Parquet, format in ``docs/events-and-corrections.md``) sets one
attribute of one golden person (``id_dtsen``) or family (``id_keluarga_dtsen``) to a new value, with the
decision that approved it (number, date, officer). :func:`read_corrections` checks every row against the
canonical model (the attribute exists and may be corrected, the value has the column's type and is in its
code list) and quarantines bad rows; :func:`apply_corrections` applies the approved ones decided up to the
cut-off, the latest decision winning, and writes a provenance row for every value it changed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from dtsen.canonical import ENTITIES, DType
from dtsen.canonical.model import Field
from dtsen.cycle.events.overlay import Overlay
from dtsen.cycle.feed import RowCheck, read_feed, rt_rw, village_code
from dtsen.logs import get_logger
from dtsen.tables import (
    CORRECTION_OUTCOMES,
    CORRECTIONS,
    PROVENANCE,
    FeedProblem,
    FeedStatus,
    LineageKind,
    OutcomeReason,
)

log = get_logger(__name__)

KINDS = ("ground_check", "verval", "usulan", "sanggahan")
REQUIRED = ("id_koreksi", "jenis", "atribut", "nilai_baru", "nomor_keputusan", "tanggal_keputusan", "petugas")
ENTITY_OF = {"person": "anggota", "family": "keluarga"}
# Attributes a correction may not set: identity is Dukcapil's (NIK, KK, name, birth date come through
# SIAK and events), keys and provenance are the pipeline's, derived codes follow kode_desa.
PROTECTED = frozenset(
    {
        "id_anggota",
        "id_anggota_sumber",
        "id_keluarga",
        "id_keluarga_sumber",
        "nik",
        "no_kk",
        "nama",
        "nama_asli",
        "tanggal_lahir",
        "status_hidup",
        "tanggal_meninggal",
        "sumber",
        "batch_id",
        "berkas",
        "baris",
        "tanggal_data",
        "flags",
        "gelar",
    }
)
TRUE = {"1", "true", "ya", "y", "t"}
FALSE = {"0", "false", "tidak", "n", "f", "2"}


@dataclass
class CorrectionFeed:
    corrections: pl.DataFrame  # valid rows (tables.CORRECTIONS), values still text (parse_value)
    quarantine: pl.DataFrame


@dataclass
class CorrectionReport:
    outcomes: pl.DataFrame  # one row per correction (tables.CORRECTION_OUTCOMES), status a FeedStatus
    provenance: pl.DataFrame

    def summary(self) -> dict[str, Any]:
        counts = self.outcomes.group_by("status").len().sort("status")
        return {
            "corrections": self.outcomes.height,
            "by_status": dict(counts.iter_rows()),
            "attributes_changed": self.provenance.height,
        }


def correctable(entitas: str, atribut: str) -> Field:
    """The canonical field a correction of ``entitas`` (person|family) may set; ValueError says why not."""
    entity = ENTITIES[ENTITY_OF[entitas]]
    if atribut not in entity:
        raise ValueError(f"{atribut!r} is not a column of {entity.name}")
    fld = entity.field(atribut)
    if atribut in PROTECTED or fld.derived_from is not None or fld.dtype is DType.STRING_LIST:
        why = f"derived from {fld.derived_from}" if fld.derived_from else "identity, key or provenance"
        raise ValueError(f"{atribut!r} cannot be corrected ({why})")
    return fld


def parse_value(fld: Field, text: str) -> Any:
    """``text`` as a value of ``fld`` (codes by number or label, booleans as ya/tidak); ValueError if not."""
    value = text.strip()
    if fld.code_list is not None:
        if value.lstrip("-").isdigit():
            code = int(value)
            if code not in fld.code_list.codes():
                raise ValueError(f"{code} is not a code of {fld.code_list.__name__}")
            return code
        member = fld.code_list.from_label(value)
        if member is None:
            raise ValueError(f"{value!r} is not a code or label of {fld.code_list.__name__}")
        return int(member)
    if fld.dtype is DType.BOOL:
        if value.lower() in TRUE:
            return True
        if value.lower() in FALSE:
            return False
        raise ValueError(f"{value!r} is not true/false (ya/tidak, 1/0)")
    if fld.dtype in (DType.INT8, DType.INT16, DType.INT32, DType.INT64, DType.MONEY):
        limit = {DType.INT8: 127, DType.INT16: 32_767, DType.INT32: 2**31 - 1}.get(fld.dtype, 2**63 - 1)
        number = int(value)
        if not -limit - 1 <= number <= limit:
            raise ValueError(f"{number} is out of range for {fld.dtype.value}")
        if fld.name != "jumlah_anggota" and number < 0:
            raise ValueError(f"{number} is negative")
        return number
    if fld.dtype is DType.FLOAT64:
        return float(value)
    if fld.dtype is DType.DATE:
        return date.fromisoformat(value)
    if fld.name == "kode_desa":
        code = village_code(value)
        if code is None:
            raise ValueError(f"{value!r} is not a village code")
        return code
    if fld.name in ("rt", "rw"):
        padded = rt_rw(value)
        if padded is None:
            raise ValueError(f"{value!r} must be digits")
        return padded
    return value


def _parse(row: dict[str, str | None]) -> tuple[dict[str, Any], RowCheck]:
    c = RowCheck(row)
    out: dict[str, Any] = {"id_koreksi": c.text("id_koreksi", required=True)}
    out["jenis"] = kind = c.kind(KINDS, str.lower)
    person, family = c.text("id_dtsen"), c.text("id_keluarga_dtsen")
    if (person is None) == (family is None):
        c.fail(
            "id_dtsen", FeedProblem.TARGET_TIDAK_JELAS, "give exactly one of id_dtsen and id_keluarga_dtsen"
        )
    out["entitas"] = "person" if person is not None else "family"
    out["id"] = person or family
    out["atribut"] = c.text("atribut", required=True)
    out["nilai_baru"] = c.text("nilai_baru", required=True)
    out["nilai_lama"] = c.text("nilai_lama")
    if out["atribut"] is not None and (person is None) != (family is None):
        try:
            fld = correctable(out["entitas"], out["atribut"])
        except ValueError as exc:
            c.fail("atribut", FeedProblem.ATRIBUT_TIDAK_VALID, str(exc))
        else:
            for column in ("nilai_baru", "nilai_lama"):
                if out[column] is not None:
                    try:
                        parse_value(fld, out[column])
                    except ValueError as exc:
                        c.fail(column, FeedProblem.NILAI_TIDAK_VALID, f"{column}: {exc}")
    out["sumber"] = c.text("sumber") or kind
    out["nomor_keputusan"] = c.text("nomor_keputusan", required=True)
    out["tanggal_keputusan"] = c.date("tanggal_keputusan", required=True)
    out["petugas"] = c.text("petugas", required=True)
    out["keterangan"] = c.text("keterangan")
    return out, c


def read_corrections(paths: Path | Sequence[Path]) -> CorrectionFeed:
    """Validate correction files; good rows are returned, bad rows quarantined (file, line, column)."""
    corrections, quarantine, _ = read_feed(
        paths, required=REQUIRED, parse=_parse, key="id_koreksi", noun="correction", schema=CORRECTIONS
    )
    return CorrectionFeed(corrections, quarantine)


def apply_corrections(
    persons: pl.DataFrame,
    families: pl.DataFrame,
    corrections: CorrectionFeed | pl.DataFrame,
    cutoff: date,
    *,
    batch_id: str = "koreksi",
    lineage: pl.DataFrame | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame, CorrectionReport]:
    """Apply corrections decided on or before ``cutoff``; for one attribute of one record the latest
    decision wins (the others are ``digantikan``). A ``nilai_lama`` that no longer matches the registry
    rejects the row (``nilai_lama_berbeda``): the data changed after the officer saw it.

    Corrections name the IDs of the snapshot the officer saw; ``lineage`` (this run's lineage.parquet
    rows) lets a correction of an ID merged since (``gabung``) reach the ID it merged into, and says
    why one of an ID retired since (``pensiun``: emptied, or every member died) is rejected
    (``id_pensiun``) rather than ``id_tidak_ditemukan``."""
    frame = corrections.corrections if isinstance(corrections, CorrectionFeed) else corrections
    tables = {"person": Overlay(persons, "id_dtsen"), "family": Overlay(families, "id_keluarga_dtsen")}
    index = {kind: {k: i for i, k in enumerate(t.base(t.key))} for kind, t in tables.items()}
    member_rows: dict[str, list[int]] = {}
    for i, fid in enumerate(tables["person"].base("id_keluarga_dtsen")):
        member_rows.setdefault(fid, []).append(i)
    outcomes: list[dict[str, Any]] = []
    provenance: list[dict[str, Any]] = []
    merged: dict[tuple[str, str], str] = {}
    retired: set[tuple[str, str]] = set()
    if lineage is not None and lineage.height:
        changed = lineage.filter(pl.col("jenis").is_in([LineageKind.GABUNG, LineageKind.PENSIUN]))
        for r in changed.iter_rows(named=True):
            if r["jenis"] == LineageKind.GABUNG and r["id_baru"] is not None:
                merged[(r["jenis_id"], r["id_lama"])] = r["id_baru"]
            elif r["jenis"] == LineageKind.PENSIUN:
                retired.add((r["jenis_id"], r["id_lama"]))

    def locate(kind: str, id_: str) -> int | None:
        """Row of ``id_`` or of the ID it was merged into (chains followed, cycles refused)."""
        seen = set()
        while id_ not in index[kind] and (kind, id_) in merged and id_ not in seen:
            seen.add(id_)
            id_ = merged[(kind, id_)]
        return index[kind].get(id_)

    ordered = frame.sort("tanggal_keputusan", "id_koreksi", descending=[True, False])
    decided: set[tuple[str, str, str]] = set()
    for c in ordered.iter_rows(named=True):
        out = {k: c[k] for k in ("id_koreksi", "jenis", "entitas", "id", "atribut", "nomor_keputusan")}
        if c["tanggal_keputusan"] > cutoff:
            outcomes.append(
                {**out, "status": FeedStatus.DITUNDA, "alasan": OutcomeReason.SETELAH_BATAS_WAKTU}
            )
            continue
        target = (c["entitas"], c["id"], c["atribut"])
        if target in decided:
            outcomes.append(
                {**out, "status": FeedStatus.DIGANTIKAN, "alasan": OutcomeReason.KEPUTUSAN_LEBIH_BARU}
            )
            continue
        decided.add(target)
        table = tables[c["entitas"]]
        row = locate(c["entitas"], c["id"])
        if row is None:
            why = (
                OutcomeReason.ID_PENSIUN
                if (c["entitas"], c["id"]) in retired
                else OutcomeReason.ID_TIDAK_DITEMUKAN
            )
            outcomes.append({**out, "status": FeedStatus.DITOLAK, "alasan": why})
            continue
        fld = correctable(c["entitas"], c["atribut"])
        if c["atribut"] not in table.frame.columns:
            outcomes.append(
                {**out, "status": FeedStatus.DITOLAK, "alasan": OutcomeReason.KOLOM_TIDAK_ADA_DI_TABEL}
            )
            continue
        new = parse_value(fld, c["nilai_baru"])
        current = table.get(row, c["atribut"])
        if c["nilai_lama"] is not None and parse_value(fld, c["nilai_lama"]) != current:
            outcomes.append({**out, "status": FeedStatus.DITOLAK, "alasan": OutcomeReason.NILAI_LAMA_BERBEDA})
            continue
        if current == new:
            outcomes.append({**out, "status": FeedStatus.SUDAH_DITERAPKAN, "alasan": None})
            continue
        sumber = f"koreksi_{c['jenis']}"
        changes: list[tuple[str, int, str, Any]] = [(c["entitas"], row, c["atribut"], new)]
        if c["atribut"] == "kode_desa":  # derived codes follow; a family's members move with it
            derived = {"kode_kec": new[:6], "kode_kab": new[:4], "kode_prov": new[:2]}
            rows = [(c["entitas"], row)]
            if c["entitas"] == "family":
                rows += [("person", r) for r in member_rows.get(table.get(row, table.key), [])]
            for kind, r in rows:
                for column, value in ({"kode_desa": new, **derived}).items():
                    changes.append((kind, r, column, value))
        for kind, r, column, value in changes:
            if tables[kind].set(r, column, value):
                provenance.append(
                    {
                        "entitas": kind,
                        "id": tables[kind].get(r, tables[kind].key),
                        "atribut": column,
                        "sumber": sumber,
                        "batch_id": batch_id,
                        "tanggal_data": c["tanggal_keputusan"],
                    }
                )
        outcomes.append({**out, "status": FeedStatus.DITERAPKAN, "alasan": None})
    report = CorrectionReport(CORRECTION_OUTCOMES.frame(outcomes), PROVENANCE.frame(provenance))
    log.info("corrections applied", **report.summary()["by_status"])
    return tables["person"].result(), tables["family"].result(), report
