"""The workflow-case pages and their JSON twins on SQLite and PostgreSQL: each role's queue inside its
regions, the audited case page, actions as forms (303 and the new state; a stale version 409 and a missing
field 422 with their Bahasa messages), another village's case answered 404 and audited, the dashboard's
chart, and the same rules through ``/api/kasus``."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from dtsen.auth.scope import Principal, Role
from dtsen.store.models import AuditLog
from dtsen.workflows import cases

PASSWORD = "Kasus-uji-2026!kata"  # noqa: S105 - throwaway accounts on a test database
DESA = "3471011001"
OTHER_DESA = "3471011002"
CONFLICT = "baru saja diubah oleh petugas lain"
USERS = {
    "operator": (Role.OPERATOR_DESA, (DESA,)),
    "operator_lain": (Role.OPERATOR_DESA, (OTHER_DESA,)),
    "pendamping": (Role.PENDAMPING, (DESA,)),
    "dinsos": (Role.DINSOS, ("3471",)),
}


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
                username=f"kasus.{name}",
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


def open_case(world: dict[str, Any], kode_desa: str = DESA, jenis: str = "usulan", **extra: Any) -> Any:
    from dtsen.store.db import session_scope

    actor = Principal(kind="user", name="kasus.dinsos", role=Role.DINSOS, regions=("3471",))
    spec = cases.CaseInput(
        jenis=jenis,
        periode="2026Q3",
        kode_desa=kode_desa,
        asal="desa",
        subject_nama=f"Warga {kode_desa[-4:]} {extra.pop('nama', 'Uji')}",
        **extra,
    )
    with session_scope(engine=world["engine"]) as db:
        case = cases.open_case(db, actor, spec)
        db.flush()
        return case.id, case.nomor, case.version


def audits(engine: Engine, **where: Any) -> int:
    conditions = [getattr(AuditLog, key) == value for key, value in where.items()]
    with engine.connect() as connection:
        return int(connection.scalar(select(func.count()).select_from(AuditLog).where(*conditions)) or 0)


def post_action(world: dict[str, Any], user: str, case_id: int, **data: Any) -> Any:
    client = as_user(world, user)
    form = {
        "csrf_token": world["sessions"][user]["csrf"],
        "idempotency_key": f"k-{datetime.now(UTC).timestamp()}",
        **{key: str(value) for key, value in data.items()},
    }
    return client.post(f"/staf/kasus/{case_id}/aksi", data=form, follow_redirects=False)


def test_desa_operator_sees_only_their_village(world: dict[str, Any]) -> None:
    _, own, _ = open_case(world, DESA)
    _, other, _ = open_case(world, OTHER_DESA)
    page = as_user(world, "operator").get("/staf/kasus")
    assert page.status_code == 200
    assert own in page.text
    assert other not in page.text
    page = as_user(world, "operator_lain").get("/staf/kasus")
    assert other in page.text
    assert own not in page.text
    # a filter naming a village outside the region is refused, in Bahasa
    refused = as_user(world, "operator").get(f"/staf/kasus?desa={OTHER_DESA}")
    assert refused.status_code == 422
    assert "di luar wilayah Anda" in refused.text


def test_case_page_is_audited_and_konfirmasi_moves_it(world: dict[str, Any]) -> None:
    case_id, nomor, version = open_case(world)
    before = audits(world["engine"], action="read", resource="workflow_case", actor="user:kasus.operator")
    page = as_user(world, "operator").get(f"/staf/kasus/{case_id}")
    assert page.status_code == 200
    assert nomor in page.text
    assert "Diterima" in page.text
    assert 'name="aksi" value="konfirmasi"' in page.text
    assert f'name="version" value="{version}"' in page.text
    assert (
        audits(world["engine"], action="read", resource="workflow_case", actor="user:kasus.operator")
        == before + 1
    )

    moved = post_action(world, "operator", case_id, aksi="konfirmasi", version=version)
    assert moved.status_code == 303
    assert moved.headers["location"] == f"/staf/kasus/{case_id}"
    page = as_user(world, "operator").get(f"/staf/kasus/{case_id}")
    assert "Dikonfirmasi desa" in page.text
    assert "Konfirmasi diterima" in page.text  # the history names the step
    # the pendamping of the village is offered to assign the visit to
    assert re.search(r'<option value="kasus.pendamping"', page.text)

    # the same form again (stale version): a conflict in Bahasa, not a 500 and not a second move
    stale = post_action(
        world, "operator", case_id, aksi="tugaskan_kunjungan", version=version, pendamping="kasus.pendamping"
    )
    assert stale.status_code == 409
    assert CONFLICT in stale.text
    assert "Dikonfirmasi desa" in stale.text  # the page again, as it is now

    missing = post_action(world, "operator", case_id, aksi="tugaskan_kunjungan", version=version + 1)
    assert missing.status_code == 422
    assert "Wajib diisi." in missing.text

    unknown = post_action(
        world, "operator", case_id, aksi="tugaskan_kunjungan", version=version + 1, pendamping="orang.lain"
    )
    assert unknown.status_code == 422
    assert "Pendamping ini tidak aktif atau tidak bertugas di desa kasus ini." in unknown.text

    refused = post_action(
        world,
        "pendamping",
        case_id,
        aksi="tugaskan_kunjungan",
        version=version + 1,
        pendamping="kasus.pendamping",
    )
    assert refused.status_code == 403
    assert "Peran Anda tidak dapat melakukan tindakan ini." in refused.text

    assigned = post_action(
        world,
        "operator",
        case_id,
        aksi="tugaskan_kunjungan",
        version=version + 1,
        pendamping="kasus.pendamping",
    )
    assert assigned.status_code == 303
    # the pendamping's default queue: today's visits; the case page links the field form
    queue = as_user(world, "pendamping").get("/staf/kasus")
    assert "Kunjungan hari ini" in queue.text
    assert nomor in queue.text
    page = as_user(world, "pendamping").get(f"/staf/kasus/{case_id}")
    assert f'href="/staf/kunjungan/{case_id}"' in page.text


def test_another_villages_case_is_not_found_and_audited(world: dict[str, Any]) -> None:
    case_id, nomor, version = open_case(world, OTHER_DESA)
    before = audits(world["engine"], action="read_denied", actor="user:kasus.operator")
    page = as_user(world, "operator").get(f"/staf/kasus/{case_id}")
    assert page.status_code == 404
    assert nomor not in page.text
    assert "Kasus tidak ditemukan di wilayah Anda." in page.text
    assert audits(world["engine"], action="read_denied", actor="user:kasus.operator") == before + 1
    unknown = as_user(world, "operator").get("/staf/kasus/999999999")
    assert unknown.status_code == 404
    acted = post_action(world, "operator", case_id, aksi="konfirmasi", version=version)
    assert acted.status_code == 404
    assert audits(world["engine"], action="read_denied", actor="user:kasus.operator") == before + 3


def test_dinsos_queue_and_dashboard(world: dict[str, Any]) -> None:
    from sqlalchemy import update

    from dtsen.store.cases import WorkflowCase

    late_id, late, _ = open_case(world, DESA)
    with world["engine"].begin() as connection:  # opened long ago: both deadlines have passed
        connection.execute(
            update(WorkflowCase)
            .where(WorkflowCase.id == late_id)
            .values(
                ack_due_at=datetime.now(UTC) - timedelta(days=2), due_at=datetime.now(UTC) - timedelta(days=1)
            )
        )
    queue = as_user(world, "dinsos").get("/staf/kasus")
    assert queue.status_code == 200
    assert "Antrean verifikasi" in queue.text
    assert "lewat tenggat tanggapan atau penyelesaian" in queue.text
    overdue = as_user(world, "dinsos").get("/staf/kasus?terlambat=1&semua=1")
    assert "Kasus yang lewat tenggat" in overdue.text
    assert late in overdue.text
    assert "Terlambat ditanggapi" in overdue.text
    assert "Lewat tenggat" in overdue.text
    every = as_user(world, "dinsos").get("/staf/kasus?semua=1&jenis=usulan")
    assert every.status_code == 200
    assert "Semua kasus terbuka" in every.text
    board = as_user(world, "dinsos").get("/staf/kasus/dasbor")
    assert board.status_code == 200
    assert "<svg" in board.text
    assert 'role="img"' in board.text
    assert "Keterlambatan (SLA)" in board.text
    assert re.search(r"lewat 3×24 jam</dt><dd><span class=\"badge badge-bad\">\d", board.text)
    assert as_user(world, "operator").get("/staf/kasus/dasbor").status_code == 403


def test_json_api_list_and_act(world: dict[str, Any]) -> None:
    case_id, nomor, version = open_case(world, DESA)
    _, other, _ = open_case(world, OTHER_DESA)
    client = as_user(world, "operator")
    listed = client.get("/api/kasus?limit=100")
    assert listed.status_code == 200
    numbers = {row["nomor"] for row in listed.json()["kasus"]}
    assert nomor in numbers
    assert other not in numbers

    detail = client.get(f"/api/kasus/{case_id}").json()
    assert detail["state"] == "diterima"
    assert [action["aksi"] for action in detail["tindakan"]] == ["konfirmasi", "gabungkan"]
    headers = {"x-csrf-token": world["sessions"]["operator"]["csrf"]}
    done = client.post(
        f"/api/kasus/{case_id}/aksi", json={"aksi": "konfirmasi", "version": version}, headers=headers
    )
    assert done.status_code == 200, done.text
    assert done.json()["state"] == "dikonfirmasi"
    assert [step["action"] for step in done.json()["langkah"]] == ["buka", "konfirmasi"]
    stale = client.post(
        f"/api/kasus/{case_id}/aksi", json={"aksi": "konfirmasi", "version": version}, headers=headers
    )
    assert stale.status_code == 409  # the state has moved on: konfirmasi no longer applies
    conflict = client.post(
        f"/api/kasus/{case_id}/aksi",
        headers=headers,
        json={"aksi": "tugaskan_kunjungan", "version": version, "fields": {"pendamping": "kasus.pendamping"}},
    )
    assert conflict.status_code == 409
    assert CONFLICT in conflict.json()["detail"]
    missing = client.post(
        f"/api/kasus/{case_id}/aksi",
        headers=headers,
        json={"aksi": "tugaskan_kunjungan", "version": version + 1},
    )
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["field"] == "pendamping"
    other_id = open_case(world, OTHER_DESA)[0]
    assert client.get(f"/api/kasus/{other_id}").status_code == 404
    refused = client.post(
        f"/api/kasus/{other_id}/aksi", json={"aksi": "konfirmasi", "version": 1}, headers=headers
    )
    assert refused.status_code == 404
    assert refused.json()["detail"] == "Kasus tidak ditemukan di wilayah Anda."
