"""Events and corrections applied to the share of the tables they touch (selected by the engine, the rest
streamed through) give exactly what they give over the whole tables: same rows, IDs, outcomes,
provenance and lineage, on DuckDB and Spark."""

from __future__ import annotations

import random
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from dtsen.cycle.corrections import apply_corrections, read_corrections
from dtsen.cycle.events import apply_events, read_events
from dtsen.cycle.events.subset import FAMILY_KEY, PERSON_KEY, select_touched, write_back
from dtsen.cycle.steps import _Allocator
from dtsen.engine import Engine, get_engine
from dtsen.reference.nik import make_nik
from dtsen.tables import LINEAGE
from golden_frames import FAMILY_SCHEMA, PERSON_SCHEMA, family, frame, person

EVENT_HEADER = (
    "id_peristiwa,jenis,tanggal_peristiwa,tanggal_lapor,nik,no_kk,nama,jenis_kelamin,nik_ibu,nik_pasangan,"
    "no_kk_baru,nik_anggota,kode_desa_tujuan,alamat_tujuan,rt_tujuan,rw_tujuan\n"
)
CORRECTION_HEADER = (
    "id_koreksi,jenis,id_dtsen,id_keluarga_dtsen,atribut,nilai_baru,nilai_lama,sumber,"
    "nomor_keputusan,tanggal_keputusan,petugas\n"
)
CUTOFF = date(2026, 6, 30)
VILLAGES = ("3302012001", "3302012002", "3302012003", "3302012004")
FAMILIES = 60


def _kk(n: int) -> str:
    return f"33020101012{n:05d}"


def _world(seed: int) -> tuple[pl.DataFrame, pl.DataFrame, list[list[dict[str, Any]]]]:
    """Families of 1-5 (IDs with gaps), villages whose urban flag families disagree on, and a dead
    duplicate of a living person's NIK in another family."""
    rng = random.Random(seed)
    persons: list[dict[str, Any]] = []
    families: list[dict[str, Any]] = []
    members: list[list[dict[str, Any]]] = []
    serial = 0
    for i in range(FAMILIES):
        fid = f"K{3 * i + 2:012d}"
        size = 1 if i % 7 == 0 else rng.randint(2, 5)
        rows = []
        for j in range(size):
            serial += 1
            pid = f"P{serial * 2:012d}"
            umur = rng.randint(30, 70) if j < 2 else rng.randint(1, 25)
            sex = 1 if j == 0 else rng.choice((1, 2)) if j > 1 else 2
            born = date(2026 - umur, rng.randint(1, 12), rng.randint(1, 28))
            rows.append(
                person(
                    pid,
                    fid,
                    make_nik("330201", born, sex, serial),
                    umur,
                    tanggal_lahir=born,
                    jenis_kelamin=sex,
                    hubungan=1 if j == 0 else 2 if j == 1 else 3,
                    status_kawin=2 if j < 2 and size > 1 else 1,
                )
            )
        desa = VILLAGES[i % len(VILLAGES)]
        for r in rows:
            r.update(kode_desa=desa, kode_kec=desa[:6], kode_kab=desa[:4], kode_prov=desa[:2])
        families.append(
            family(fid, _kk(i + 1), rows[0]["id_dtsen"], kode_desa=desa, perkotaan=rng.random() < 0.5)
        )
        persons += rows
        members.append(rows)
    dead = dict(members[5][-1], id_dtsen=f"P{serial * 2 + 1:012d}", id_keluarga_dtsen=families[9][FAMILY_KEY])
    persons.append({**dead, "status_hidup": False, "tanggal_meninggal": date(2020, 1, 1)})
    living = (
        pl.DataFrame({FAMILY_KEY: [p[FAMILY_KEY] for p in persons if p["status_hidup"]]})
        .group_by(FAMILY_KEY)
        .len()
    )
    f = frame(families, FAMILY_SCHEMA).drop("jumlah_anggota").join(living, on=FAMILY_KEY, how="left")
    f = f.with_columns(pl.col("len").fill_null(0).cast(pl.Int16).alias("jumlah_anggota")).select(
        list(FAMILY_SCHEMA)
    )
    return frame(persons, PERSON_SCHEMA).sort(PERSON_KEY), f.sort(FAMILY_KEY), members


def _feeds(tmp_path: Path, members: list[list[dict[str, Any]]]) -> tuple[Any, Any]:
    """Every kind of event, the cases the brief names among them, and corrections that reach the share
    (a merged ID, a retired family, a family moving its members)."""
    m = members
    nik = lambda f, j: m[f][j]["nik"]  # noqa: E731
    baby = make_nik("330201", date(2026, 4, 2), 2, 9001)
    baby2 = make_nik("330201", date(2026, 4, 9), 1, 9002)
    day = date(2026, 4, 1)
    lines = []

    def event(kind: str, **kw: str) -> None:
        n = len(lines)
        happened, reported = day + timedelta(days=n), day + timedelta(days=n + 2)
        cols = EVENT_HEADER.strip().split(",")[4:]
        values = {"id_peristiwa": f"E{n:03d}", "jenis": kind, "tanggal_peristiwa": str(happened)}
        values["tanggal_lapor"] = kw.pop("lapor", str(reported))
        lines.append(",".join([*values.values(), *(kw.get(c, "") for c in cols)]))

    event("LAHIR", nik=baby, no_kk=_kk(2), nama="BAYI SATU", jenis_kelamin="2", nik_ibu=nik(1, 1))  # by KK
    event("LAHIR", nik=baby2, nama="BAYI DUA", jenis_kelamin="1", nik_ibu=nik(3, 1))  # by the mother
    event("LAHIR", nik=nik(4, 0), nama="ADA", jenis_kelamin="1")  # NIK already there
    event("MATI", nik=nik(7, 0))  # the only member: the family retires
    event("MATI", nik=nik(8, 0))  # a head: the spouse heads the family
    event("MATI", nik=nik(5, len(m[5]) - 1))  # a living person whose NIK a dead duplicate shares
    event("MATI", nik=make_nik("330201", date(1970, 1, 1), 1, 9999))  # nobody: rejected
    event("PINDAH", no_kk=_kk(11), kode_desa_tujuan=VILLAGES[2], alamat_tujuan="JL. BARU 1")  # whole family
    event("PINDAH", nik=nik(12, 1), no_kk_baru=_kk(900), kode_desa_tujuan=VILLAGES[1])  # a new card
    event("PINDAH", nik=nik(13, 0), no_kk_baru=_kk(16), kode_desa_tujuan=VILLAGES[0])  # to another family
    event(
        "KAWIN",
        nik=nik(17, 2) if len(m[17]) > 2 else nik(17, 0),
        nik_pasangan=nik(18, 0),
        no_kk_baru=_kk(901),
    )
    event("CERAI", nik=nik(19, 0), nik_pasangan=nik(19, 1))
    split = [nik(20, 1), *(nik(20, j) for j in range(2, len(m[20])))]
    event("PISAH_KK", no_kk=_kk(21), no_kk_baru=_kk(902), nik_anggota=";".join(split))  # a KK split
    event("PISAH_KK", no_kk=_kk(22), no_kk_baru=_kk(903), nik_anggota=nik(30, 0))  # an outsider: rejected
    event("MATI", nik=nik(25, 0), lapor="2026-07-05")  # after the cut-off
    events = tmp_path / "peristiwa.csv"
    events.write_text(EVENT_HEADER + "".join(line + "\n" for line in lines), encoding="utf-8")
    fid = lambda f: m[f][0][FAMILY_KEY]  # noqa: E731
    corrections = tmp_path / "koreksi.csv"
    rows = [
        f"C1,verval,{m[2][0][PERSON_KEY]},,pekerjaan_siak,5,,,BA/1,2026-05-01,PTG",
        f"C2,ground_check,,{fid(24)},kode_desa,{VILLAGES[3]},,,BA/2,2026-05-02,PTG",  # members follow
        f"C3,ground_check,,{fid(7)},lantai,8,,,BA/3,2026-05-03,PTG",  # retired by a death
        "C4,ground_check,,K999999999991,lantai,8,,,BA/4,2026-05-04,PTG",  # merged into family 26
        "C5,verval,P999999999991,,pekerjaan_siak,5,,,BA/5,2026-05-05,PTG",  # nobody
        f"C6,verval,{m[12][1][PERSON_KEY]},,kode_desa,{VILLAGES[0]},,,BA/6,2026-05-06,PTG",  # moved
    ]
    corrections.write_text(CORRECTION_HEADER + "".join(r + "\n" for r in rows), encoding="utf-8")
    return read_events(events), read_corrections(corrections)


def _run(
    persons: pl.DataFrame,
    families: pl.DataFrame,
    feeds: tuple[Any, Any],
    lineage: pl.DataFrame,
    present: dict[str, int],
    urban: dict[str, bool] | None,
) -> tuple[pl.DataFrame, ...]:
    """The step's logic: events (IDs from the step's allocator), then corrections."""
    allocator = _Allocator({"person": 0, "family": 0}, present)
    p, f, report = apply_events(persons, families, feeds[0], CUTOFF, new_id=allocator, urban=urban)
    lineage = pl.concat([lineage, report.lineage])
    p, f, creport = apply_corrections(p, f, feeds[1], CUTOFF, lineage=lineage)
    return (
        p,
        f,
        report.outcomes,
        report.provenance,
        lineage,
        creport.outcomes,
        creport.provenance,
        allocator.frame("2026Q2"),
    )


def _highest(ids: pl.Series) -> int:
    return int(ids.str.slice(1).cast(pl.Int64).max())  # type: ignore[arg-type]


def _through_subset(eng: Engine, tmp_path: Path, seed: int) -> None:
    persons, families, members = _world(seed)
    feeds = _feeds(tmp_path, members)
    gabung = {"id_lama": "K999999999991", "id_baru": members[26][0][FAMILY_KEY], "jenis": "gabung"}
    lineage = LINEAGE.frame([{**gabung, "jenis_id": "family", "run": "2026Q2"}])
    present = {"person": _highest(persons[PERSON_KEY]), "family": _highest(families[FAMILY_KEY])}
    whole = _run(persons, families, feeds, lineage, present, None)

    persons.write_parquet(tmp_path / "persons.parquet")
    families.write_parquet(tmp_path / "families.parquet")
    touched = select_touched(
        eng,
        tmp_path / "persons.parquet",
        tmp_path / "families.parquet",
        feeds[0].events,
        feeds[1].corrections,
        CUTOFF,
        lineage,
    )
    assert touched.highest == present
    assert touched.persons.height < persons.height / 2
    assert touched.families.height < families.height / 2
    part = _run(touched.persons, touched.families, feeds, lineage, touched.highest, touched.urban)
    n_persons = write_back(
        tmp_path / "persons.parquet",
        PERSON_KEY,
        touched.persons[PERSON_KEY],
        part[0],
        tmp_path / "p.parquet",
        batch_rows=7,  # many batches: changed rows land between, before and after them
    )
    n_families = write_back(
        tmp_path / "families.parquet",
        FAMILY_KEY,
        touched.families[FAMILY_KEY],
        part[1],
        tmp_path / "f.parquet",
        batch_rows=5,
    )
    p, f = pl.read_parquet(tmp_path / "p.parquet"), pl.read_parquet(tmp_path / "f.parquet")
    assert (n_persons, n_families) == (p.height, f.height)
    assert p.equals(whole[0].sort(PERSON_KEY))
    assert p.schema == persons.schema
    assert f.equals(whole[1].sort(FAMILY_KEY))
    assert f.schema == families.schema
    for a, b in zip(whole[2:], part[2:], strict=True):
        assert a.equals(b)

    outcomes = {r["id_peristiwa"]: (r["status"], r["alasan"]) for r in whole[2].iter_rows(named=True)}
    assert outcomes["E000"] == ("diterapkan", None)  # a birth into an existing family
    assert outcomes["E003"] == ("diterapkan", None)  # the only member died: the family retires
    assert outcomes["E006"] == ("ditolak", "nik_tidak_ditemukan")
    assert outcomes["E012"] == ("diterapkan", None)  # a KK split
    assert outcomes["E013"] == ("ditolak", "anggota_bukan_keluarga_asal")  # a member of another family
    assert outcomes["E014"][0] == "ditunda"
    assert members[7][0][FAMILY_KEY] not in f[FAMILY_KEY].to_list()
    reasons = {r["id_koreksi"]: (r["status"], r["alasan"]) for r in whole[5].iter_rows(named=True)}
    assert reasons["C3"] == ("ditolak", "id_pensiun")
    assert reasons["C4"] == ("diterapkan", None)
    assert whole[7].height == 5  # IDs issued: two births, a new card, a marriage's card, a split


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_touched_share_gives_what_the_whole_tables_give(tmp_path: Path, seed: int) -> None:
    _through_subset(get_engine("duckdb"), tmp_path, seed)


def test_the_touched_share_on_spark(tmp_path: Path, spark_engine: Engine) -> None:
    _through_subset(spark_engine, tmp_path, 1)


def test_write_back_refuses_a_table_not_sorted_by_id(tmp_path: Path) -> None:
    ids = pl.DataFrame({PERSON_KEY: ["P2", "P1"], "nama": ["B", "A"]})
    ids.write_parquet(tmp_path / "persons.parquet")
    with pytest.raises(ValueError, match="not sorted by id_dtsen"):
        write_back(
            tmp_path / "persons.parquet", PERSON_KEY, ids[PERSON_KEY][:0], ids[:0], tmp_path / "out.parquet"
        )
