"""The registry's reads on the served test city (two snapshots), on SQLite and PostgreSQL: region scoping,
the audit entries each read writes, a family's history, and the public citizen check's name rule."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from dtsen.auth.scope import Principal, Role
from dtsen.cycle import snapshot as snapshots
from dtsen.store import citizen_check, registry
from dtsen.store.audit import subject_ref
from dtsen.store.models import AuditLog
from dtsen.store.person_names import mask_name, normalize_name

Q1, Q2 = "2026Q1/v1", "2026Q2/v1"
KAB = "3471"
OTHER_KAB = "3404"
ADMIN = Principal("user", "uji-admin", Role.ADMIN_BPS)
AUDITOR = Principal("user", "uji-auditor", Role.AUDITOR)
DINSOS = Principal("user", "uji-dinsos", Role.DINSOS, (KAB,))
DINSOS_ELSEWHERE = Principal("user", "uji-dinsos-sleman", Role.DINSOS, (OTHER_KAB,))


# -- names (no database) ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("Siti  Aminah", "SITI AMINAH"),
        ("  siti aminah ", "SITI AMINAH"),
        ("H. Moch. Soekarno, S.Pd", "MUHAMMAD SUKARNO"),
        ("HJ.TJITRA SALMAH", "CITRA SALMAH"),
        ("José d'Almeida", "JOSE DALMEIDA"),
        ("ＳＩＴＩ ＡＭＩＮＡＨ", "SITI AMINAH"),
        ("Abd. Rahman", "ABDUL RAHMAN"),
        ("12345", ""),
        ("", ""),
    ],
)
def test_normalize_name(given: str, expected: str) -> None:
    assert normalize_name(given) == expected
    assert normalize_name(expected) == expected  # idempotent


def test_mask_name_keeps_two_letters_a_word() -> None:
    assert mask_name("SITI AMINAH") == "SI** AM****"
    assert mask_name("AL") == "AL"
    assert mask_name(None) == ""


# -- the served city ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class City:
    engine: Engine
    data_dir: Path
    family: str  # ranked, in both snapshots, kode_desa set, a member with NIK and KK
    kode_desa: str
    nik: str
    nama: str
    no_kk: str
    other_desa: str  # another village of the city with people


def _pick(data_dir: Path) -> dict[str, Any]:
    q1, q2 = (snapshots.open_snapshot(ref, data_dir) for ref in (Q1, Q2))
    con = duckdb.connect()
    row = con.execute(
        f"""
        SELECT p.id_keluarga_dtsen, p.kode_desa, p.nik, p.nama, p.no_kk
        FROM read_parquet('{q2.file("persons.parquet")}') p
        JOIN read_parquet('{q2.file("families.parquet")}') f USING (id_keluarga_dtsen)
        JOIN read_parquet('{q2.file("scores.parquet")}') s USING (id_keluarga_dtsen)
        JOIN read_parquet('{q1.file("families.parquet")}') old USING (id_keluarga_dtsen)
        WHERE s.desil_nasional IS NOT NULL AND p.nik IS NOT NULL AND p.no_kk IS NOT NULL
          AND p.kode_desa = f.kode_desa AND length(p.nama) > 8
          AND (SELECT count(*) FROM read_parquet('{q2.file("persons.parquet")}') x
               WHERE x.kode_desa = p.kode_desa AND x.nama = p.nama) = 1
        ORDER BY p.id_dtsen LIMIT 1
        """  # noqa: S608
    ).fetchall()[0]
    other = con.execute(
        f"SELECT kode_desa FROM read_parquet('{q2.file('persons.parquet')}') "  # noqa: S608
        "WHERE kode_desa IS NOT NULL AND kode_desa <> ? GROUP BY 1 ORDER BY count(*) DESC LIMIT 1",
        [row[1]],
    ).fetchall()[0][0]
    return dict(zip(("family", "kode_desa", "nik", "nama", "no_kk"), row, strict=True)) | {
        "other_desa": other
    }


@pytest.fixture(scope="module")
def city(db_factory: Callable[[], str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[City]:
    from dtsen.store.db import make_engine
    from served_city import city_data_dir, served_database

    data_dir = city_data_dir(tmp_path_factory.getbasetemp())
    url = db_factory()
    served_database(url, data_dir)
    engine = make_engine(url)
    yield City(engine, data_dir, **_pick(data_dir))
    engine.dispose()


@pytest.fixture
def session(city: City) -> Iterator[Session]:
    with Session(city.engine) as s:
        yield s
        s.rollback()


def appended(session: Session, since: int) -> list[AuditLog]:
    session.flush()
    return list(session.scalars(select(AuditLog).where(AuditLog.id > since).order_by(AuditLog.id)))


def last_id(session: Session) -> int:
    return session.scalar(select(AuditLog.id).order_by(AuditLog.id.desc()).limit(1)) or 0


def persons_of(city: City, ref: str, where: str, *params: Any) -> list[tuple[Any, ...]]:
    snap = snapshots.open_snapshot(ref, city.data_dir)
    return duckdb.execute(
        f"SELECT id_dtsen, kode_desa FROM read_parquet('{snap.file('persons.parquet')}') WHERE {where} "  # noqa: S608
        "ORDER BY id_dtsen",
        list(params),
    ).fetchall()


# -- search ------------------------------------------------------------------------------------------------
def test_current_snapshot_is_the_newest_loaded(session: Session) -> None:
    info = registry.current_snapshot(session)
    assert info is not None
    assert info.ref == Q2
    assert info.counts["served_family"] > 0
    assert info.programs  # program names from programs.json
    assert [s.ref for s in registry.loaded_snapshots(session)] == [Q1, Q2]


def test_search_by_nik_inside_and_outside_the_region(city: City, session: Session) -> None:
    start = last_id(session)
    hits = registry.search_persons(session, DINSOS, nik=city.nik, purpose="verifikasi")
    assert [h.nik for h in hits] == [city.nik]
    assert hits[0].id_keluarga_dtsen == city.family
    entries = appended(session, start)
    assert [(e.action, e.actor, e.subject_ref, e.purpose) for e in entries] == [
        ("read", "user:uji-dinsos", subject_ref(city.nik), "verifikasi")
    ]
    start = last_id(session)
    assert registry.search_persons(session, DINSOS_ELSEWHERE, nik=city.nik) == []
    denied = appended(session, start)
    assert [(e.action, e.actor, e.subject_ref, e.region_kode) for e in denied] == [
        ("read_denied", "user:uji-dinsos-sleman", subject_ref(city.nik), city.kode_desa)
    ]
    operator_elsewhere = Principal("user", "uji-op", Role.OPERATOR_DESA, (city.other_desa,))
    assert registry.search_persons(session, operator_elsewhere, nik=city.nik) == []
    assert [h.nik for h in registry.search_persons(session, AUDITOR, nik=city.nik)] == [city.nik]
    start = last_id(session)
    assert registry.search_persons(session, ADMIN, nik="3471010101010001") == []  # absent: no entry
    assert appended(session, start) == []


def test_search_by_kk_returns_the_family_card(city: City, session: Session) -> None:
    expected = [pid for pid, _ in persons_of(city, Q2, "no_kk = ?", city.no_kk)]
    hits = registry.search_persons(session, DINSOS, no_kk=city.no_kk)
    assert sorted(h.id_dtsen for h in hits) == expected
    assert registry.search_persons(session, DINSOS_ELSEWHERE, no_kk=city.no_kk) == []


def test_search_by_name_and_village(city: City, session: Session) -> None:
    words = city.nama.split()
    spelled = "  ".join(reversed(words)).lower()  # any order, any case, extra spaces
    hits = registry.search_persons(session, DINSOS, nama=spelled, kode_desa=city.kode_desa)
    assert city.nik in [h.nik for h in hits]
    assert all(h.kode_desa == city.kode_desa for h in hits)
    only_first = registry.search_persons(session, DINSOS, nama=words[0], kode_desa=city.kode_desa, limit=500)
    assert len(only_first) >= len(hits)
    assert len(only_first) <= registry.SEARCH_LIMIT_MAX
    operator = Principal("user", "uji-op", Role.OPERATOR_DESA, (city.other_desa,))
    assert registry.search_persons(session, operator, nama=city.nama, kode_desa=city.kode_desa) == []


@pytest.mark.parametrize(
    "criteria",
    [
        {},
        {"nik": "3471010101010001", "no_kk": "3471010101010001"},
        {"nik": "34710101"},
        {"no_kk": "abc"},
        {"nama": "SITI"},
        {"nama": "SITI", "kode_desa": "3471"},
        {"nama": "1234", "kode_desa": "3471011001"},
    ],
)
def test_search_refuses_malformed_queries(session: Session, criteria: dict[str, str]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - the message is for the web layer's own wording
        registry.search_persons(session, ADMIN, **criteria)


# -- family page and history -------------------------------------------------------------------------------
def test_family_detail_in_region(city: City, session: Session) -> None:
    start = last_id(session)
    detail = registry.family_detail(session, DINSOS, city.family, purpose="halaman_keluarga")
    assert detail is not None
    assert detail.snapshot.ref == Q2
    assert detail.family["id_keluarga_dtsen"] == city.family
    assert detail.family["desil_nasional"] is not None
    assert {m["id_dtsen"] for m in detail.members} == {
        pid for pid, _ in persons_of(city, Q2, "id_keluarga_dtsen = ?", city.family)
    }
    assert detail.programs
    assert all(p["nama"] for p in detail.programs)
    assert detail.family_provenance
    assert all({"sumber", "batch_id", "tanggal_data"} <= set(v) for v in detail.family_provenance.values())
    assert set(detail.person_provenance) == {m["id_dtsen"] for m in detail.members}
    entries = appended(session, start)
    assert {e.action for e in entries} == {"read"}
    assert subject_ref(city.nik) in {e.subject_ref for e in entries}
    assert len(entries) == len(detail.members)


def test_family_outside_the_region_is_absent_and_audited(city: City, session: Session) -> None:
    start = last_id(session)
    assert registry.family_detail(session, DINSOS_ELSEWHERE, city.family, purpose="x") is None
    assert registry.family_history(session, DINSOS_ELSEWHERE, city.family) is None
    denied = appended(session, start)
    assert [(e.action, e.resource, e.region_kode) for e in denied] == [
        ("read_denied", "served_family", city.kode_desa),
        ("read_denied", "served_family_history", city.kode_desa),
    ]
    start = last_id(session)
    assert registry.family_detail(session, ADMIN, "K999999999999") is None  # absent: nothing to audit
    assert appended(session, start) == []


def test_family_history_spans_both_snapshots(city: City, session: Session) -> None:
    history = registry.family_history(session, DINSOS, city.family, purpose="riwayat")
    assert history is not None
    assert [h.ref for h in history] == [Q1, Q2]
    assert [h.is_current for h in history] == [False, True]
    for entry in history:
        scores = snapshots.open_snapshot(entry.ref, city.data_dir).file("scores.parquet")
        desil, members = duckdb.execute(
            f"SELECT desil_nasional, jumlah_anggota FROM read_parquet('{scores}') "  # noqa: S608
            "WHERE id_keluarga_dtsen = ?",
            [city.family],
        ).fetchall()[0]
        assert (entry.desil_nasional, entry.jumlah_anggota) == (desil, members)
        assert all({"program", "layak", "nilai_tahunan", "nama"} <= set(p) for p in entry.programs)


# -- the public citizen check ------------------------------------------------------------------------------
def test_citizen_status_answers_the_right_name_only(city: City, session: Session) -> None:
    start = last_id(session)
    found = citizen_check.citizen_status(session, city.nik, f"  {city.nama.lower()} ", None)
    assert found is not None
    assert found.snapshot_ref == Q2
    assert found.nama_tersamar == mask_name(city.nama)
    assert city.nama not in found.nama_tersamar
    assert found.desil is not None
    assert found.kepastian
    assert 1 <= len(found.alasan) <= 3
    assert all(p.layak for p in found.programs)
    assert all(p.nilai_triwulan == p.nilai_tahunan // 4 for p in found.programs if p.nilai_tahunan)
    assert [(e.actor, e.action, e.resource, e.subject_ref) for e in appended(session, start)] == [
        ("public:publik", "read", "cek_status", subject_ref(city.nik))
    ]

    start = last_id(session)
    assert citizen_check.citizen_status(session, city.nik, "NAMA YANG SALAH", None) is None
    assert [(e.action, e.subject_ref) for e in appended(session, start)] == [
        ("read_denied", subject_ref(city.nik))
    ]
    first_word = city.nama.split()[0]
    assert citizen_check.citizen_status(session, city.nik, first_word, None) is None  # a part is not the name

    # an unknown NIK does the same work as a wrong name (one read_denied entry), so timing tells nothing
    start = last_id(session)
    assert citizen_check.citizen_status(session, "3471010101010001", city.nama, None) is None
    assert [(e.action, e.region_kode) for e in appended(session, start)] == [("read_denied", None)]
    start = last_id(session)
    assert citizen_check.citizen_status(session, "not-a-nik", city.nama, None) is None
    assert appended(session, start) == []


def test_citizen_status_is_one_read_and_one_audit_append(city: City, session: Session) -> None:
    # The busiest request of the registry: the snapshot, person, family and programs come in one query,
    # and on PostgreSQL the audit append is one function call (migration 0005).
    from sqlalchemy import event

    sent: list[str] = []

    def count(_connection: Any, _cursor: Any, statement: str, *_: Any) -> None:
        sent.append(statement)

    event.listen(city.engine, "before_cursor_execute", count)
    try:
        session.execute(select(1))  # the transaction's first statement, not counted
        sent.clear()
        assert citizen_check.citizen_status(session, city.nik, city.nama, None) is not None
        assert citizen_check.citizen_status(session, city.nik, "NAMA YANG SALAH", None) is None
    finally:
        event.remove(city.engine, "before_cursor_execute", count)
    appends_each = 1 if city.engine.dialect.name == "postgresql" else 3
    assert len(sent) == 2 * (1 + appends_each), sent


def test_citizen_status_by_village_and_name(city: City, session: Session) -> None:
    found = citizen_check.citizen_status(session, None, city.nama, city.kode_desa)
    assert found is not None
    assert found.kode_desa == city.kode_desa
    assert citizen_check.citizen_status(session, None, city.nama, city.other_desa) is None
    assert citizen_check.citizen_status(session, None, city.nama, None) is None
    assert citizen_check.citizen_status(session, None, "", city.kode_desa) is None
