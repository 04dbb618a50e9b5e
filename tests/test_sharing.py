"""Agency access requests on SQLite and PostgreSQL, through the pages: filing (refused without the security
statement), technical and substantive review, the BAST PDF, extracts at each level from the served
snapshot (suppression, tokens, approved fields only), downloads, expiry and another agency's request."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from dtsen.store.models import AuditLog
from dtsen.store.sharing import AccessExtract, AccessRequest

PASSWORD = "Akses-uji-2026!kata"  # noqa: S105 - throwaway accounts on a test database
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture(scope="module")
def world(
    db_factory: Callable[[], str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    from dtsen.api.app import create_app
    from dtsen.auth.accounts import create_user
    from dtsen.auth.policy import DEFAULT_POLICY, SESSION_COOKIE
    from dtsen.auth.sessions import create_session
    from dtsen.config import Settings
    from dtsen.store.db import make_engine, session_scope
    from served_city import city_data_dir, served_database

    url = db_factory()
    data = city_data_dir(tmp_path_factory.getbasetemp())
    served_database(url, data)
    engine = make_engine(url)
    now = datetime.now(UTC)
    users: dict[str, tuple[dict[str, str], str]] = {}
    for name, role, regions in (
        ("agensi", "klien_instansi", ("3471",)),
        ("lain", "klien_instansi", ("3404",)),
        ("bps", "admin_bps", ()),
        ("kemensos", "kemensos", ()),
    ):
        with session_scope(engine=engine) as db:
            user = create_user(
                db,
                username=f"akses.{name}",
                full_name=name,
                role=role,
                regions=regions,
                password=PASSWORD,
                now=now,
                actor={"actor": "system:test", "actor_role": None},
            )
            created = create_session(db, user, now=now, policy=DEFAULT_POLICY)
            users[name] = ({SESSION_COOKIE: created.token}, created.row.csrf_token)
    work = tmp_path_factory.mktemp("akses")
    app = create_app(url, settings=Settings(data_dir=work, secret_key="uji-rahasia-akses-0123456789"))  # noqa: S106
    app.state.upload_dir = work / "uploads"
    app.state.extract_dir = work / "extracts"
    app.state.snapshot_data_dir = data
    with TestClient(app) as client:
        yield {"client": client, "users": users, "engine": engine, "data": data}
    engine.dispose()


def as_user(world: dict[str, Any], name: str) -> tuple[TestClient, str]:
    client: TestClient = world["client"]
    client.cookies.clear()
    cookies, csrf = world["users"][name]
    for key, value in cookies.items():
        client.cookies.set(key, value)
    return client, csrf


def form(csrf: str, **overrides: str) -> dict[str, str]:
    today = date.today()
    values = {
        "csrf_token": csrf,
        "instansi": "Dinas Sosial Uji",
        "tujuan": "Perencanaan bantuan pangan",
        "dasar_hukum": "Inpres 4/2025",
        "level": "aggregate",
        "regions": "3471",
        "periode": "2026Q2",
        "valid_from": (today - timedelta(days=1)).isoformat(),
        "valid_until": (today + timedelta(days=30)).isoformat(),
    }
    values.update(overrides)
    return values


def file_request(world: dict[str, Any], who: str = "agensi", **overrides: str) -> int:
    client, csrf = as_user(world, who)
    done = client.post(
        "/akses",
        data=form(csrf, **overrides),
        follow_redirects=False,
        files={"pernyataan": ("pernyataan.pdf", PDF, "application/pdf")},
    )
    assert done.status_code == 303, done.text
    return int(done.headers["location"].split("?")[0].rsplit("/", 1)[1])


def approve(world: dict[str, Any], request_id: int) -> None:
    for who, action, field in (
        ("bps", "mulai_telaah", None),
        ("bps", "lulus_teknis", "catatan"),
        ("kemensos", "setujui", "alasan"),
    ):
        client, csrf = as_user(world, who)
        page = client.get(f"/staf/akses/{request_id}")
        assert page.status_code == 200
        version = re.search(r'name="version" value="(\d+)"', page.text).group(1)
        body = {"csrf_token": csrf, "tindakan": action, "version": version}
        if field:
            body[field] = "Lengkap dan sesuai"
        moved = client.post(f"/staf/akses/{request_id}/tindakan", data=body, follow_redirects=False)
        assert moved.status_code == 303, moved.text


def extract(world: dict[str, Any], request_id: int, fmt: str = "csv") -> tuple[int, bytes]:
    client, csrf = as_user(world, "agensi")
    made = client.post(f"/api/akses/{request_id}/ekstrak", data={"csrf_token": csrf, "format": fmt})
    assert made.status_code == 201, made.text
    extract_id = made.json()["id"]
    got = client.get(f"/akses/{request_id}/ekstrak/{extract_id}")
    assert got.status_code == 200, got.text
    return extract_id, got.content


def rows_of(content: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(content.decode("utf-8"))))


def test_refused_without_the_security_statement(world: dict[str, Any]) -> None:
    client, csrf = as_user(world, "agensi")
    refused = client.post("/akses", data=form(csrf), files={"x": ("", b"", "text/plain")})
    assert refused.status_code == 422
    assert "pernyataan keamanan data" in refused.text
    with world["engine"].connect() as db:
        assert db.scalar(select(AccessRequest.id)) is None


def test_the_journey_and_suppression(world: dict[str, Any]) -> None:
    request_id = file_request(world, programs="pkh")
    client, csrf = as_user(world, "kemensos")
    page = client.get(f"/staf/akses/{request_id}")
    version = re.search(r'name="version" value="(\d+)"', page.text).group(1)
    too_early = client.post(
        f"/staf/akses/{request_id}/tindakan",
        data={"csrf_token": csrf, "tindakan": "setujui", "alasan": "x", "version": version},
    )
    assert too_early.status_code == 409
    approve(world, request_id)
    agency, _csrf = as_user(world, "agensi")
    bast = agency.get(f"/akses/{request_id}/bast.pdf")
    assert bast.status_code == 200
    assert bast.content.startswith(b"%PDF")

    extract_id, content = extract(world, request_id)
    rows = rows_of(content)
    assert rows
    assert {"kode_wilayah", "desil", "jumlah_keluarga", "penerima_pkh", "disensor"} <= set(rows[0])
    for row in rows:
        for column in ("jumlah_keluarga", "penerima_pkh"):
            if row[column] != "":
                assert int(row[column]) == 0 or int(row[column]) >= 10, row
        if (
            row["disensor"] == "true"
        ):  # the small cells of the row are withheld (the whole row if its family count is)
            assert "" in (row["jumlah_keluarga"], row["penerima_pkh"])
    assert any(row["disensor"] == "false" for row in rows)
    _id, xlsx = extract(world, request_id, "xlsx")
    assert xlsx.startswith(b"PK")
    listed = agency.get(f"/api/akses/{request_id}").json()
    assert [item["downloads"] for item in listed["extracts"]][-1] == 1
    with Session(world["engine"]) as db:
        entry = db.scalars(
            select(AuditLog)
            .where(AuditLog.resource == "access_extract", AuditLog.action == "export")
            .order_by(AuditLog.id)
        ).first()
        assert entry is not None
        assert entry.detail["rows"] == len(rows)
    assert extract_id


def test_deidentified_tokens_differ_per_request_and_hide_the_nik(
    world: dict[str, Any], tmp_path: Path
) -> None:
    fields = "jenis_kelamin,kode_desa,desil_nasional"
    first, second = (file_request(world, level="deidentified", fields=fields) for _ in range(2))
    tables = []
    for request_id in (first, second):
        approve(world, request_id)
        _id, content = extract(world, request_id, "parquet")
        path = tmp_path / f"{request_id}.parquet"
        path.write_bytes(content)
        tables.append(duckdb.sql(f"SELECT * FROM read_parquet('{path}')").fetchall())  # noqa: S608
        columns = [c[0] for c in duckdb.sql(f"DESCRIBE SELECT * FROM read_parquet('{path}')").fetchall()]  # noqa: S608
        assert columns[:4] == ["token_nik", "token_kk", "token_keluarga", "tahun_lahir"]
        assert "nik" not in columns
        assert "tanggal_lahir" not in columns
    persons = world["data"] / "snapshots"
    niks = {
        row[0]
        for row in duckdb.sql(
            f"SELECT nik FROM read_parquet('{persons}/2026Q2/v1/persons.parquet')"  # noqa: S608
            " WHERE nik IS NOT NULL"
        ).fetchall()
    }
    first_tokens = {row[0] for row in tables[0] if row[0]}
    second_tokens = {row[0] for row in tables[1] if row[0]}
    assert len(first_tokens) == len(second_tokens) > 100
    assert not first_tokens & second_tokens
    assert not (first_tokens | second_tokens) & niks
    # Linkage only where approved: a request filed with a link to the first, once approved, gets its tokens.
    client, _csrf = as_user(world, "agensi")
    nomor = client.get(f"/api/akses/{first}").json()["nomor"]
    linked = file_request(world, level="deidentified", fields=fields, tautan=nomor)
    approve(world, linked)
    _id, content = extract(world, linked, "csv")
    assert {row["token_nik"] for row in rows_of(content) if row["token_nik"]} == first_tokens
    assert all(
        not any(str(nik) in str(value) for value in row) for row in tables[0][:50] for nik in list(niks)[:50]
    )


def test_byname_has_only_the_approved_fields(world: dict[str, Any]) -> None:
    request_id = file_request(world, level="byname", fields="nama,kode_desa", regions="347101")
    client, _csrf = as_user(world, "agensi")
    assert client.get(f"/akses/{request_id}").status_code == 200
    approve(world, request_id)
    _id, content = extract(world, request_id)
    rows = rows_of(content)
    assert rows
    assert set(rows[0]) == {"nama", "kode_desa"}
    assert all(row["kode_desa"].startswith("347101") for row in rows)


def test_download_after_expiry_is_refused_and_audited(world: dict[str, Any]) -> None:
    request_id = file_request(world)
    approve(world, request_id)
    extract_id, _content = extract(world, request_id)
    with world["engine"].begin() as db:
        db.execute(
            update(AccessRequest)
            .where(AccessRequest.id == request_id)
            .values(valid_until=date.today() - timedelta(days=1))
        )
    client, _csrf = as_user(world, "agensi")
    refused = client.get(f"/akses/{request_id}/ekstrak/{extract_id}")
    assert refused.status_code == 410
    assert "Masa berlaku akses" in refused.text
    with Session(world["engine"]) as db:
        assert db.scalar(select(AccessExtract.downloads).where(AccessExtract.id == extract_id)) == 1
        last = db.scalars(select(AuditLog).order_by(AuditLog.id.desc())).first()
        assert last is not None
        assert last.action == "access_denied"
        assert last.detail["reason"] == "expired"
    # The periodic sweep ends the request itself (the download refused it already on the day).
    from dtsen.sharing import review

    with Session(world["engine"]) as db:
        assert review.expire_due(db) >= 1
        db.commit()
        assert db.get(AccessRequest, request_id).state == "kedaluwarsa"
    assert client.get(f"/akses/{request_id}/ekstrak/{extract_id}").status_code == 410


def test_another_agencys_request_is_invisible(world: dict[str, Any]) -> None:
    request_id = file_request(world)
    other, csrf = as_user(world, "lain")
    assert other.get(f"/akses/{request_id}").status_code == 404
    assert other.get(f"/api/akses/{request_id}").status_code == 404
    made = other.post(f"/api/akses/{request_id}/ekstrak", data={"csrf_token": csrf, "format": "csv"})
    assert made.status_code == 404
    outside = other.post("/akses", data=form(csrf), files={"pernyataan": ("p.pdf", PDF, "application/pdf")})
    assert outside.status_code == 422  # regions outside its own
    client, csrf = as_user(world, "agensi")
    unknown = client.post(
        "/akses",
        data=form(csrf, programs="bukan_program"),
        files={"pernyataan": ("p.pdf", PDF, "application/pdf")},
    )
    assert unknown.status_code == 422
    assert "Kode program tidak dikenal" in unknown.text
