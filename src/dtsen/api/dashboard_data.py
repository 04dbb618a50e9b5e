"""The analyst dashboards' rows: the snapshot's small ``agregat/`` tables (read once per snapshot and
process), the principal's levels and region filter, and one dataset per section grouped with DuckDB. The
same rows feed the page's tables and charts and the CSV downloads.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from dtsen.api.display import region_name
from dtsen.auth.scope import REGION_COLUMN, Principal, region_clause
from dtsen.store.cases import WorkflowCase
from dtsen.web import i18n
from dtsen.web.i18n import N_

UNRANKED = N_("tidak diperingkat")


# Column headings (tables and CSV headers keep the column names; pages show these).
LABELS: dict[str, str] = {
    "kode_prov": N_("Provinsi"),
    "kode_kab": N_("Kabupaten/kota"),
    "kode_kec": N_("Kecamatan"),
    "kode_desa": N_("Desa/kelurahan"),
    "nama_wilayah": N_("Nama wilayah"),
    "desil": N_("Desil nasional"),
    "keluarga": N_("Keluarga"),
    "jiwa": N_("Jiwa"),
    "program": N_("Program"),
    "keluarga_dinilai": N_("Keluarga dinilai"),
    "keluarga_layak": N_("Keluarga layak"),
    "penerima": N_("Penerima"),
    "anggaran_tahunan": N_("Anggaran tahunan (Rp)"),
    "sumber": N_("Sumber"),
    "jenis": N_("Jenis"),
    "dibaca": N_("Dibaca"),
    "diterima": N_("Diterima"),
    "dengan_peringatan": N_("Dengan peringatan"),
    "ditolak": N_("Ditolak"),
    "karantina": N_("Karantina"),
    "persen_karantina": N_("% karantina"),
    "nik_valid": N_("NIK valid"),
    "status_padan": N_("Status padan"),
    "status": N_("Status"),
    "hidup": N_("Hidup"),
    "model": N_("Model"),
    "dipilih": N_("Dipilih"),
    "n": N_("n (survei)"),
    "exclusion_error_40": N_("Galat eksklusi 40%"),
    "inclusion_error_40": N_("Galat inklusi 40%"),
    "spearman": N_("Spearman"),
    "auc_targeting_curve": N_("AUC kurva penargetan"),
    "interval_coverage": N_("Cakupan interval"),
    "borderline_share": N_("Porsi di batas desil"),
    "dimensi": N_("Dimensi"),
    "kelompok": N_("Kelompok"),
    "need": N_("Porsi miskin"),
    "selected": N_("Porsi terpilih"),
    "parity": N_("Paritas"),
    "exclusion_error": N_("Galat eksklusi"),
    "bagian": N_("Bagian"),
    "perubahan": N_("Perubahan"),
    "sebab_utama": N_("Sebab utama"),
    "jumlah": N_("Jumlah"),
    "terbuka": N_("Kasus terbuka"),
    "tanggap_lewat": N_("Belum ditanggapi, lewat tenggat"),
    "selesai_lewat": N_("Belum selesai, lewat tenggat"),
}

STATUS_PADAN = {
    1: N_("Padan"),
    2: N_("Tidak padan"),
    3: N_("NIK tidak valid"),
    4: N_("NIK ganda"),
    5: N_("Meninggal"),
    6: N_("Pindah"),
    7: N_("Tidak ditemukan"),
    8: N_("Anggota baru"),
}


# -- the snapshot's aggregate tables, once per snapshot and process ------------------------------------------
_CACHE: dict[tuple[str, str], dict[str, pa.Table]] = {}
_CACHE_LOCK = threading.Lock()
CACHE_SNAPSHOTS = 4


def snapshot_tables(data_dir: Path, ref: str) -> dict[str, pa.Table] | None:
    """The aggregate tables of snapshot ``ref`` under ``data_dir`` (None when it is not on disk)."""
    from dtsen.cycle import aggregates
    from dtsen.cycle.snapshot import SnapshotError, open_snapshot

    key = (str(Path(data_dir).resolve()), ref)
    with _CACHE_LOCK:
        if key in _CACHE:
            return _CACHE[key]
        try:
            tables = aggregates.read(open_snapshot(ref, Path(data_dir)), Path(data_dir))
        except (SnapshotError, OSError):
            return None
        while len(_CACHE) >= CACHE_SNAPSHOTS:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = tables
        return tables


# -- scoping and levels --------------------------------------------------------------------------------------
def levels(principal: Principal) -> tuple[str, str]:
    """(chart level, table level) for a principal: national by province and kab/kota, a kab/kota by
    kab/kota and kecamatan, a desa by desa."""
    if principal.national or not principal.regions:
        return "kode_prov", "kode_kab"
    order = ["kode_prov", "kode_kab", "kode_kec", "kode_desa"]
    top = REGION_COLUMN.get(min(len(r) for r in principal.regions), "kode_desa")
    detail = order[min(order.index(top) + 1, len(order) - 1)]
    return top, detail


def scope_sql(principal: Principal, columns: Sequence[str]) -> tuple[str, list[str]]:
    """A DuckDB WHERE condition with its parameters: the same rule as :func:`dtsen.auth.scope.region_clause`
    (national: everything; otherwise a row whose region column of each bound code's level equals it)."""
    if principal.national:
        return "TRUE", []
    parts, params = [], []
    for region in principal.regions:
        column = REGION_COLUMN.get(len(region))
        if column is None or column not in columns:
            continue
        parts.append(f"{column} = ?")
        params.append(region)
    return ("(" + " OR ".join(parts) + ")", params) if parts else ("FALSE", [])


@dataclass
class View:
    """One request's reading of the aggregates."""

    principal: Principal
    tables: dict[str, pa.Table]
    session: Session
    now: datetime
    lang: str
    top: str = ""
    detail: str = ""
    con: duckdb.DuckDBPyConnection = field(init=False)

    def __post_init__(self) -> None:
        self.top, self.detail = levels(self.principal)
        self.con = duckdb.connect(config={"threads": 1})
        for name, table in self.tables.items():
            self.con.register(name, table)

    def t(self, message: str) -> str:
        return i18n.gettext(self.lang, message)

    def query(
        self, table: str, select_sql: str, group: Sequence[str], *, scoped: bool = True
    ) -> list[dict[str, Any]]:
        """``SELECT group..., select_sql FROM table WHERE scope GROUP BY group ORDER BY group`` as dicts."""
        if table not in self.tables:
            return []
        condition, params = (
            scope_sql(self.principal, self.tables[table].schema.names) if scoped else ("TRUE", [])
        )
        keys = ", ".join(group)
        head = f"{keys}, " if keys else ""
        tail = f" GROUP BY {keys} ORDER BY {keys} NULLS LAST" if keys else ""
        sql = f"SELECT {head}{select_sql} FROM {table} WHERE {condition}{tail}"  # noqa: S608 - constant names
        relation = self.con.execute(sql, params)
        names = [d[0] for d in relation.description]
        return [dict(zip(names, row, strict=True)) for row in relation.fetchall()]

    def close(self) -> None:
        self.con.close()


def _named(rows: list[dict[str, Any]], column: str) -> list[dict[str, Any]]:
    """Each row with ``nama_wilayah`` after its region code (names from the reference table)."""
    return [
        {
            column: r[column],
            "nama_wilayah": region_name(r[column]),
            **{k: v for k, v in r.items() if k != column},
        }
        for r in rows
    ]


# -- the datasets (the same rows feed the page's tables and the CSV downloads) -------------------------------
def desil(view: View, level: str) -> list[dict[str, Any]]:
    rows = view.query(
        "desil_wilayah", "sum(keluarga)::BIGINT AS keluarga, sum(jiwa)::BIGINT AS jiwa", [level, "desil"]
    )
    return _named(rows, level)


def program(view: View, level: str) -> list[dict[str, Any]]:
    rows = view.query(
        "program_wilayah",
        "sum(keluarga_dinilai)::BIGINT AS keluarga_dinilai, sum(keluarga_layak)::BIGINT AS keluarga_layak, "
        "sum(penerima)::BIGINT AS penerima, sum(anggaran_tahunan)::BIGINT AS anggaran_tahunan",
        ["program", level],
    )
    return _named(rows, level) if level else rows


def padan(view: View, level: str) -> list[dict[str, Any]]:
    rows = view.query("padan", "sum(jiwa)::BIGINT AS jiwa", [level, "status_padan", "hidup"])
    return _named(rows, level)


def quality(view: View, _level: str) -> list[dict[str, Any]]:
    rows = view.query("kualitas", "*", [], scoped=False)
    for row in rows:
        read = row.get("dibaca") or 0
        row["persen_karantina"] = round(100 * (row.get("karantina") or 0) / read, 2) if read else None
    return rows


def quality_codes(view: View, _level: str) -> list[dict[str, Any]]:
    return view.query(
        "kualitas_kode", "sum(jumlah)::BIGINT AS jumlah", ["sumber", "jenis", "kode"], scoped=False
    )


def accuracy(view: View, _level: str) -> list[dict[str, Any]]:
    return view.query("model_akurasi", "*", [], scoped=False)


def coverage(view: View, _level: str) -> list[dict[str, Any]]:
    return view.query("model_cakupan", "*", [], scoped=False)


def fairness(view: View, _level: str) -> list[dict[str, Any]]:
    return view.query("model_keadilan", "*", [], scoped=False)


def changes(view: View, _level: str) -> list[dict[str, Any]]:
    rows = view.query(
        "perubahan", "sum(jumlah)::BIGINT AS jumlah", ["bagian", "perubahan", "sebab_utama", "kode_kab"]
    )
    return _named(rows, "kode_kab")


def sla(view: View, level: str) -> list[dict[str, Any]]:
    """Open cases, and those past their acknowledgement or resolution deadline, by region (live)."""
    now, column = view.now, getattr(WorkflowCase, level)
    open_ = WorkflowCase.closed_at.is_(None)
    ack_late = and_(open_, WorkflowCase.acknowledged_at.is_(None), WorkflowCase.ack_due_at < now)
    due_late = and_(open_, WorkflowCase.due_at < now)
    statement = (
        select(
            column,
            func.sum(case((open_, 1), else_=0)),
            func.sum(case((ack_late, 1), else_=0)),
            func.sum(case((due_late, 1), else_=0)),
        )
        .where(region_clause(view.principal, WorkflowCase.__table__))  # type: ignore[arg-type]
        .group_by(column)
        .order_by(column)
    )
    rows = [
        {level: kode, "terbuka": int(a or 0), "tanggap_lewat": int(b or 0), "selesai_lewat": int(c or 0)}
        for kode, a, b, c in view.session.execute(statement)
    ]
    view.session.commit()
    return _named(rows, level)


# name -> (dataset, at the table level (True) or the chart level)
DATASETS: dict[str, Callable[[View, str], list[dict[str, Any]]]] = {
    "desil": desil,
    "program": program,
    "kualitas": quality,
    "kualitas_kode": quality_codes,
    "padan": padan,
    "model": accuracy,
    "model_cakupan": coverage,
    "keadilan": fairness,
    "perubahan": changes,
    "sla": sla,
}
