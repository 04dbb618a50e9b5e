"""The auditor's pages on SQLite and PostgreSQL: search the trail by actor, action, resource, time and NIK
(the NIK never on the page, in a link or in the search's own audit entry), keyset pages, the chain check
(intact, then a tampered row reported), the CSV export (columns, rows that re-hash outside the database,
itself audited), the JSON twins, and who is refused."""

from __future__ import annotations

import csv
import io
import itertools
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, text

from dtsen.auth.scope import Role
from dtsen.store import audit
from dtsen.store.audit_search import EXPORT_COLUMNS, cells_to_fields
from dtsen.store.models import AuditLog

PASSWORD = "Audit-uji-2026!kata"  # noqa: S105 - throwaway accounts on a test database
NIK = "3471014501900003"
OTHER_NIK = "3471015502910004"
USERS = {
    "auditor": (Role.AUDITOR, ()),
    "admin": (Role.ADMIN_BPS, ()),
    "dinsos": (Role.DINSOS, ("3471",)),
}
ROW = 'data-label="Waktu"'  # one per result row (the header cells carry no data-label)


@pytest.fixture(scope="module")
def world(engine: Engine, db_url: str) -> Iterator[dict[str, Any]]:
    from dtsen.api.app import create_app
    from dtsen.auth.accounts import create_user
    from dtsen.auth.policy import DEFAULT_POLICY, SESSION_COOKIE
    from dtsen.auth.sessions import create_session
    from dtsen.store.db import session_scope

    now = datetime.now(UTC)
    sessions: dict[str, dict[str, Any]] = {}
    for name, (role, regions) in USERS.items():
        with session_scope(engine=engine) as db:
            user = create_user(
                db,
                username=f"audit.{name}",
                full_name=name,
                role=role,
                regions=regions,
                password=PASSWORD,
                now=now,
                actor={"actor": "system:test", "actor_role": None},
            )
            created = create_session(db, user, now=now, policy=DEFAULT_POLICY)
            sessions[name] = {"cookie": {SESSION_COOKIE: created.token}, "csrf": created.row.csrf_token}
    with TestClient(create_app(db_url)) as client:
        yield {"client": client, "engine": engine, "sessions": sessions}


def as_user(world: dict[str, Any], name: str) -> TestClient:
    client: TestClient = world["client"]
    client.cookies.clear()
    for key, value in world["sessions"][name]["cookie"].items():
        client.cookies.set(key, value)
    return client


def seed(engine: Engine, *entries: dict[str, Any]) -> None:
    from dtsen.store.db import session_scope

    with session_scope(engine=engine) as db:
        for fields in entries:
            audit.record(
                db, **{"action": "read", "resource": "served_family", "actor_role": "dinsos", **fields}
            )


def entries(engine: Engine, **where: Any) -> list[Any]:
    conditions = [getattr(AuditLog, key) == value for key, value in where.items()]
    with engine.connect() as connection:
        return list(connection.execute(select(AuditLog).where(*conditions).order_by(AuditLog.id)))


def no_nik(*texts: str) -> None:
    for value in texts:
        assert NIK not in value


def test_auditor_searches_by_actor_and_the_search_is_audited(world: dict[str, Any]) -> None:
    seed(
        world["engine"],
        {"actor": "user:pelaku.satu"},
        {"actor": "user:pelaku.satu", "action": "export"},
        {"actor": "user:pelaku.dua"},
    )
    page = as_user(world, "auditor").get("/staf/audit", params={"aktor": "pelaku.satu"})
    assert page.status_code == 200
    assert page.text.count(ROW) == 2
    assert "user:pelaku.satu" in page.text
    assert "user:pelaku.dua" not in page.text
    searches = entries(world["engine"], actor="user:audit.auditor", action="read", resource="audit_log")
    assert searches, "the search left no audit entry"
    last = searches[-1]
    assert last.actor_role == "auditor"
    assert last.detail["saringan"] == {"actor": "pelaku.satu"}
    assert last.detail["hasil"] == 2
    by_role = as_user(world, "auditor").get("/api/audit", params={"peran": "auditor", "sumber": "audit_log"})
    assert by_role.json()["entri"]
    assert {row["actor_role"] for row in by_role.json()["entri"]} == {"auditor"}
    # the menu and the staff home lead here
    assert 'href="/staf/audit"' in page.text
    home = as_user(world, "auditor").get("/staf")
    assert 'href="/staf/audit"' in home.text
    assert 'href="/staf/audit/ekspor"' in home.text


def test_search_by_action_resource_and_time_range(world: dict[str, Any]) -> None:
    wib = datetime.fromisoformat
    seed(
        world["engine"],
        {
            "actor": "user:waktu",
            "action": "update",
            "resource": "data_extract",
            "occurred_at": wib("2025-01-10T10:00:00+07:00"),
        },
        {
            "actor": "user:waktu",
            "action": "update",
            "resource": "access_request",
            "occurred_at": wib("2025-02-01T00:30:00+07:00"),
        },  # 1 Feb WIB, still 31 Jan in UTC
        {
            "actor": "user:waktu",
            "action": "update",
            "resource": "data_extract",
            "occurred_at": wib("2025-02-28T23:59:00+07:00"),
        },
        {
            "actor": "user:waktu",
            "action": "update",
            "resource": "data_extract",
            "occurred_at": wib("2025-03-01T00:00:00+07:00"),
        },
    )
    client = as_user(world, "auditor")
    february = client.get(
        "/api/audit", params={"aktor": "user:waktu", "dari": "2025-02-01", "sampai": "2025-02-28"}
    )
    assert february.status_code == 200, february.text
    got = [(row["resource"], row["occurred_at"][:10]) for row in february.json()["entri"]]
    assert got == [("data_extract", "2025-02-28"), ("access_request", "2025-01-31")]  # newest first, UTC
    extracts = client.get("/api/audit", params={"aksi": "update", "sumber": "data_extract"}).json()["entri"]
    assert len(extracts) == 3
    assert {row["action"] for row in extracts} == {"update"}
    page = client.get("/staf/audit", params={"aksi": "update", "sumber": "access_request"})
    assert page.text.count(ROW) == 1
    # an impossible range and a bad date are refused in Bahasa, not a 500
    reversed_range = client.get("/staf/audit", params={"dari": "2025-03-01", "sampai": "2025-02-01"})
    assert reversed_range.status_code == 422
    assert "Tanggal akhir harus sesudah tanggal awal." in reversed_range.text
    bad = client.get("/api/audit", params={"dari": "2025-13-45"}, headers={"accept": "application/json"})
    assert bad.status_code == 422
    assert "TTTT-BB-HH" in bad.json()["detail"]


def test_search_by_nik_never_shows_or_records_the_nik(world: dict[str, Any]) -> None:
    seed(
        world["engine"],
        {"actor": "user:petugas.a", "nik": NIK, "region_kode": "3471011001"},
        {"actor": "user:petugas.b", "nik": NIK, "action": "export"},
        {"actor": "user:petugas.a", "nik": OTHER_NIK},
    )
    ref = audit.subject_ref(NIK)
    client = as_user(world, "auditor")
    csrf = world["sessions"]["auditor"]["csrf"]
    page = client.post("/staf/audit", data={"csrf_token": csrf, "nik": NIK})
    assert page.status_code == 200
    assert page.text.count(ROW) == 2
    assert "user:petugas.b" in page.text
    no_nik(page.text)
    assert f"subjek={ref}" in page.text  # the links carry the keyed reference, not the NIK
    # the search's own entry names the person by reference only
    search = entries(world["engine"], actor="user:audit.auditor", resource="audit_log")[-1]
    assert search.subject_ref == ref
    assert search.detail["saringan"] == {"subjek": True}
    no_nik(str(search.detail), str(search.purpose))
    # the reference in a URL finds the same; the NIK in the JSON body too
    by_ref = client.get("/api/audit", params={"subjek": ref}).json()["entri"]
    assert len(by_ref) == 3  # two entries about the person and the search above
    by_body = client.post(
        "/api/audit/cari", json={"nik": NIK, "aksi": "export"}, headers={"x-csrf-token": csrf}
    ).json()["entri"]
    assert [row["actor"] for row in by_body] == ["user:petugas.b"]
    # a NIK typed where a name belongs is refused without echoing it (and nothing is recorded with it)
    wrong = client.post("/staf/audit", data={"csrf_token": csrf, "aktor": NIK})
    assert wrong.status_code == 422
    assert "Kolom pelaku tidak untuk NIK" in wrong.text
    no_nik(wrong.text)
    with world["engine"].connect() as connection:
        logged = connection.execute(text("SELECT actor, purpose, detail FROM audit_log")).all()
    no_nik(*(str(value) for row in logged for value in row))


def test_keyset_pages(world: dict[str, Any]) -> None:
    seed(world["engine"], *({"actor": "user:halaman", "detail": {"n": n}} for n in range(7)))
    client = as_user(world, "auditor")
    seen: list[int] = []
    url: str | None = "/staf/audit?aktor=user%3Ahalaman&batas=3"
    pages = 0
    while url:
        page = client.get(url)
        assert page.status_code == 200
        pages += 1
        seen += [
            int(found) for found in re.findall(r'<span class="mono small muted">#(\d+)</span>', page.text)
        ]
        found = re.search(r'href="(/staf/audit\?[^"]*sebelum=\d+[^"]*)" rel="next"', page.text)
        url = found.group(1).replace("&amp;", "&") if found else None
    assert pages == 3
    assert len(seen) == 7
    assert seen == sorted(seen, reverse=True)
    api = client.get("/api/audit", params={"aktor": "user:halaman", "batas": 5}).json()
    assert len(api["entri"]) == 5
    rest = client.get(
        "/api/audit", params={"aktor": "user:halaman", "batas": 5, "sebelum": api["sebelum"]}
    ).json()
    assert len(rest["entri"]) == 2
    assert rest["sebelum"] is None


def test_who_may_open_the_trail(world: dict[str, Any]) -> None:
    dinsos = as_user(world, "dinsos")
    for path in ("/staf/audit", "/staf/audit/verifikasi", "/staf/audit/ekspor", "/api/audit"):
        assert dinsos.get(path).status_code == 403, path
    admin = as_user(world, "admin")
    assert admin.get("/staf/audit").status_code == 200
    assert admin.get("/staf/audit/ekspor").status_code == 403  # reading is not exporting
    assert 'href="/staf/audit/ekspor' not in admin.get("/staf/audit").text  # no export link for a reader


def test_export_csv_rows_rehash_and_the_export_is_audited(world: dict[str, Any]) -> None:
    seed(
        world["engine"],
        {"actor": "user:ekspor", "nik": NIK, "purpose": "uji ekspor", "detail": {"x": [1, 2]}},
        {"actor": "user:ekspor", "region_kode": "3471"},
        {"actor": "user:lain"},
    )
    answer = as_user(world, "auditor").get("/staf/audit/ekspor", params={"aktor": "user:ekspor"})
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    assert "attachment" in answer.headers["content-disposition"]
    no_nik(answer.text)
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert tuple(rows[0].keys()) == EXPORT_COLUMNS
    assert [row["actor"] for row in rows] == ["user:ekspor", "user:ekspor"]
    assert int(rows[0]["id"]) < int(rows[1]["id"])  # chain order
    assert rows[0]["subject_ref"] == audit.subject_ref(NIK)
    for row in rows:  # an outside verifier needs no database and no secret
        assert audit.row_hash(row["prev_hash"], cells_to_fields(row)) == row["row_hash"]
    exported = entries(world["engine"], actor="user:audit.auditor", action="export", resource="audit_log")
    assert exported
    assert exported[-1].detail == {"saringan": {"actor": "user:ekspor"}, "format": "csv"}
    # the whole trail exports too, and each contiguous pair links up
    seed(world["engine"], *({"actor": f"user:isi.{n}"} for n in range(11)))
    everything = list(csv.DictReader(io.StringIO(as_user(world, "auditor").get("/staf/audit/ekspor").text)))
    assert len(everything) > 10
    for before, after in itertools.pairwise(everything):
        assert after["prev_hash"] == before["row_hash"]


def test_verify_page_intact_then_tampered(world: dict[str, Any]) -> None:
    """Last in the module: it breaks the chain."""
    seed(world["engine"], {"actor": "user:pelaku.dua", "action": "read"})
    client = as_user(world, "auditor")
    page = client.get("/staf/audit/verifikasi")
    assert page.status_code == 200
    assert "Rantai utuh." in page.text
    assert "Rantai rusak" not in page.text
    english = client.get("/staf/audit/verifikasi", params={"lang": "en"})
    assert english.status_code == 200
    assert "The chain is intact." in english.text
    client = as_user(world, "auditor")  # back to Bahasa (the language cookie is cleared)
    verified = entries(world["engine"], action="verify", resource="audit_log")
    assert verified
    assert verified[-1].detail["masalah"] == 0

    engine = world["engine"]
    victim = entries(engine, actor="user:pelaku.dua")[0]
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("ALTER TABLE audit_log DISABLE TRIGGER USER"))
        else:
            connection.execute(text("DROP TRIGGER audit_log_no_update"))
        connection.execute(
            text("UPDATE audit_log SET actor = 'user:orang.lain' WHERE id = :id"), {"id": victim.id}
        )
    page = client.get("/staf/audit/verifikasi")
    assert page.status_code == 200
    assert "Rantai rusak." in page.text
    assert f"#{victim.id}" in page.text
    assert "Isi baris diubah" in page.text


@pytest.mark.parametrize(
    "params",
    [
        {"dari": "0001-01-01"},
        {"sampai": "9999-12-31"},
        {"dari": "2025-01-01T25:00"},
        {"aktor": "nama\x00"},
        {"wilayah": "3471x"},
        {"sumber": "Served Family"},
        {"subjek": "abc"},
        {"peran": "raja"},
    ],
)
def test_bad_filters_are_refused_in_bahasa(world: dict[str, Any], params: dict[str, str]) -> None:
    client = as_user(world, "auditor")
    page = client.get("/staf/audit", params=params)
    assert page.status_code == 422
    assert "Yang perlu diperbaiki" in page.text
    for path in ("/api/audit", "/staf/audit/ekspor"):
        answer = client.get(path, params=params, headers={"accept": "application/json"})
        assert answer.status_code == 422, (path, answer.text)
        assert answer.json()["detail"]
