"""Reading the Dukcapil event feed: every row checked (file, line, column), bad rows quarantined.

One check for every path into the cycle: a file row and an event pushed over the DCI CRVS notify API
(:func:`check_row`) are validated the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from dtsen.cycle.feed import Problem, RowCheck, read_feed, rt_rw, village_code
from dtsen.logs import get_logger
from dtsen.reference.nik import check_kk, check_nik
from dtsen.tables import EVENTS, EventKind, FeedProblem

log = get_logger(__name__)

KINDS = tuple(EventKind)
REQUIRED = ("id_peristiwa", "jenis", "tanggal_peristiwa", "tanggal_lapor")


@dataclass
class EventFeed:
    events: pl.DataFrame  # valid rows, typed (tables.EVENTS)
    quarantine: pl.DataFrame  # one row per problem (tables.FEED_QUARANTINE)


def _identifier(
    check: RowCheck, column: str, checker: Callable[[str], Any], code: str, *, required: bool = False
) -> str | None:
    """A NIK or No. KK read with ``checker`` (check_nik / check_kk): its digits, or a finding ``code``."""
    value = check.text(column, required=required)
    if value is None:
        return None
    result = checker(value)
    if not result.valid:
        check.fail(column, code, f"{column}: {', '.join(result.codes)}")
        return None
    return result.digits


def _parse(row: dict[str, str | None]) -> tuple[dict[str, Any], RowCheck]:
    c = RowCheck(row)
    out: dict[str, Any] = {"id_peristiwa": c.text("id_peristiwa", required=True)}
    out["jenis"] = kind = c.kind(KINDS, str.upper)
    out["tanggal_peristiwa"] = c.date("tanggal_peristiwa", required=True)
    out["tanggal_lapor"] = c.date("tanggal_lapor", required=True)
    if out["tanggal_peristiwa"] and out["tanggal_lapor"] and out["tanggal_peristiwa"] > out["tanggal_lapor"]:
        c.fail(
            "tanggal_lapor", FeedProblem.LAPOR_SEBELUM_PERISTIWA, "tanggal_lapor is before tanggal_peristiwa"
        )
    need = {
        EventKind.LAHIR: ("nik", "nama", "jenis_kelamin"),
        EventKind.MATI: ("nik",),
        EventKind.PINDAH: ("kode_desa_tujuan",),
        EventKind.KAWIN: ("nik", "nik_pasangan"),
        EventKind.CERAI: ("nik", "nik_pasangan"),
        EventKind.PISAH_KK: ("no_kk", "no_kk_baru", "nik_anggota"),
    }.get(kind, ())
    for column in ("nik", "nik_ibu", "nik_pasangan"):
        out[column] = _identifier(c, column, check_nik, FeedProblem.NIK_TIDAK_VALID, required=column in need)
    for column in ("no_kk", "no_kk_baru"):
        out[column] = _identifier(c, column, check_kk, FeedProblem.KK_TIDAK_VALID, required=column in need)
    out["nama"] = c.text("nama", required="nama" in need)
    sex = c.text("jenis_kelamin", required="jenis_kelamin" in need)
    out["jenis_kelamin"] = None
    if sex is not None:
        if sex not in ("1", "2"):
            c.fail("jenis_kelamin", FeedProblem.KODE_TIDAK_DIKENAL, f"jenis_kelamin {sex!r}: 1 or 2")
        else:
            out["jenis_kelamin"] = int(sex)
    members = c.text("nik_anggota", required="nik_anggota" in need)
    out["nik_anggota"] = None
    if members is not None:
        niks = []
        for part in (p.strip() for p in members.split(";") if p.strip()):
            result = check_nik(part)
            if not result.valid:
                c.fail("nik_anggota", FeedProblem.NIK_TIDAK_VALID, f"nik_anggota: {', '.join(result.codes)}")
            else:
                niks.append(result.digits)
        out["nik_anggota"] = niks
    desa = c.text("kode_desa_tujuan", required="kode_desa_tujuan" in need)
    out["kode_desa_tujuan"] = None
    if desa is not None:
        code = village_code(desa)
        if code is None:
            c.fail(
                "kode_desa_tujuan",
                FeedProblem.DESA_TIDAK_DIKENAL,
                f"kode_desa_tujuan {desa!r} is not a village code",
            )
        else:
            out["kode_desa_tujuan"] = code
    for column in ("alamat_tujuan", "rt_tujuan", "rw_tujuan"):
        out[column] = c.text(column)
    for column in ("rt_tujuan", "rw_tujuan"):
        if out[column] is not None:
            padded = rt_rw(out[column])
            if padded is None:
                c.fail(column, FeedProblem.BUKAN_ANGKA, f"{column} must be digits")
            else:
                out[column] = padded
    if kind == EventKind.PINDAH and out["nik"] is None and out["no_kk"] is None:
        c.fail("nik", FeedProblem.WAJIB_KOSONG, "PINDAH needs no_kk (the whole family) or nik (one person)")
    if kind == EventKind.PINDAH and out["nik"] is not None and out["no_kk_baru"] is None:
        c.fail(
            "no_kk_baru",
            FeedProblem.WAJIB_KOSONG,
            "a person moving alone needs no_kk_baru (the card joined or issued)",
        )
    if kind == EventKind.LAHIR and out["no_kk"] is None and out["nik_ibu"] is None:
        c.fail(
            "no_kk", FeedProblem.WAJIB_KOSONG, "LAHIR needs no_kk or nik_ibu to place the child in a family"
        )
    if (
        kind in (EventKind.KAWIN, EventKind.CERAI)
        and out["nik"] is not None
        and out["nik"] == out["nik_pasangan"]
    ):
        c.fail("nik_pasangan", FeedProblem.PASANGAN_SAMA, "nik_pasangan equals nik")
    return out, c


def check_row(row: Mapping[str, Any]) -> tuple[dict[str, Any], list[Problem]]:
    """One event given as a mapping of column -> value (a row of a file, or an event pushed over DCI):
    its typed values and its problems, by the same check :func:`read_events` applies to every file row.

    Values are read as text, as a file's are (``None`` and blanks are empty); an event is valid only with
    no problem. ``nik_anggota`` may be a list or the file's ``;``-separated text.
    """
    text: dict[str, str | None] = {}
    for column, value in row.items():
        if value is None:
            text[str(column).strip().lower()] = None
        elif isinstance(value, list | tuple):
            text[str(column).strip().lower()] = ";".join(str(v) for v in value)
        else:
            text[str(column).strip().lower()] = str(value)
    values, check = _parse(text)
    return values, list(check.problems)


def read_events(paths: Path | Sequence[Path]) -> EventFeed:
    """Validate event files; good rows become typed events, bad rows go to quarantine (none is lost)."""
    events, quarantine, files = read_feed(
        paths, required=REQUIRED, parse=_parse, key="id_peristiwa", noun="event", schema=EVENTS
    )
    log.info("events read", files=files, events=events.height, quarantined=quarantine.height)
    return EventFeed(events, quarantine)


def event_files(paths: Iterable[Path]) -> list[Path]:
    """Event files among ``paths`` (CSV/Parquet), directories expanded, sorted for a stable order."""
    out: list[Path] = []
    for path in paths:
        path = Path(path)
        if path.is_dir():
            out.extend(sorted(p for p in path.iterdir() if p.suffix.lower() in (".csv", ".parquet")))
        else:
            out.append(path)
    return out
