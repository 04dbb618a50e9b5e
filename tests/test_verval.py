"""Ground checks (verval) on a served registry, SQLite and PostgreSQL: the plan (unranked and uncertain
families first, the quota, no second visit in a period), what a visit changes, and the field form (only
the assigned pendamping, one move per idempotency key, photos stripped of their GPS tags, a position
outside Indonesia flagged, not refused)."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from dtsen.auth.scope import Principal, Role
from dtsen.store.cases import WorkflowCase, WorkflowStep
from dtsen.workflows import cases, verval

PASSWORD = "Verval-uji-2026!kata"  # noqa: S105 - throwaway accounts on a test database
KAB = "3471"
DINSOS = Principal(kind="user", name="dinsos.kota", role=Role.DINSOS, regions=(KAB,))


def _busiest_desa(engine: Engine) -> tuple[str, str]:
    """(desa with the most families worth a visit, another desa of the city)."""
    from dtsen.store.registry import FAMILY, SNAPSHOT

    with Session(engine) as session:
        rows = session.execute(
            select(
                FAMILY.c.kode_desa,
                FAMILY.c.status_peringkat,
                FAMILY.c.alasan_tidak_diperingkat,
                FAMILY.c.desil_nasional,
                FAMILY.c.p_desil_le4,
                FAMILY.c.p_desil_le5,
                FAMILY.c.borderline,
            ).join(SNAPSHOT, (SNAPSHOT.c.id == FAMILY.c.snapshot_id) & SNAPSHOT.c.is_current)
        ).all()
    counts: dict[str, int] = {}
    for row in rows:
        if verval.priority_of(row) is not None:
            counts[row.kode_desa] = counts.get(row.kode_desa, 0) + 1
    ranked = sorted(counts, key=lambda desa: (-counts[desa], desa))
    return ranked[0], ranked[1]


@pytest.fixture(scope="module")
def world(
    db_factory: Callable[[], str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    from dtsen.api.app import create_app
    from dtsen.auth.accounts import create_user
    from dtsen.auth.policy import DEFAULT_POLICY, SESSION_COOKIE
    from dtsen.auth.sessions import create_session
    from dtsen.store.db import make_engine, session_scope
    from served_city import city_data_dir, served_database

    url = db_factory()
    served_database(url, city_data_dir(tmp_path_factory.getbasetemp()))
    engine = make_engine(url)
    desa, other_desa = _busiest_desa(engine)
    now = datetime.now(UTC)
    logins: dict[str, dict[str, Any]] = {}
    for name, role, regions in (
        ("pdp.satu", Role.PENDAMPING, (desa,)),
        ("pdp.dua", Role.PENDAMPING, (desa,)),
        ("pdp.tiga", Role.PENDAMPING, (other_desa,)),
        ("dinsos.kota", Role.DINSOS, (KAB,)),
    ):
        with session_scope(engine=engine) as db:
            user = create_user(
                db,
                username=name,
                full_name=name,
                role=role,
                regions=regions,
                password=PASSWORD,
                now=now,
                actor={"actor": "system:test", "actor_role": None},
            )
            created = create_session(db, user, now=now, policy=DEFAULT_POLICY)
            logins[name] = {"cookie": {SESSION_COOKIE: created.token}, "csrf": created.row.csrf_token}
    app = create_app(url)
    app.state.upload_dir = tmp_path_factory.mktemp("unggahan")
    with TestClient(app) as client:
        yield {
            "client": client,
            "engine": engine,
            "desa": desa,
            "other_desa": other_desa,
            "logins": logins,
            "uploads": Path(app.state.upload_dir),
        }
    engine.dispose()


def as_user(world: dict[str, Any], name: str) -> TestClient:
    client: TestClient = world["client"]
    client.cookies.clear()
    for key, value in world["logins"][name]["cookie"].items():
        client.cookies.set(key, value)
    return client


# -- the plan ------------------------------------------------------------------------------------------------
def test_plan_puts_unranked_and_uncertain_first_within_the_quota(world: dict[str, Any]) -> None:
    desa = world["desa"]
    with Session(world["engine"], expire_on_commit=False) as session:
        found = verval.candidates(session, KAB, [desa])
        priorities = [c.priority for c in found]
        assert priorities == sorted(priorities, reverse=True)
        unranked = [c for c in found if c.alasan in ("tanpa_data", "tidak_diperingkat")]
        assert all(c.priority > 1.5 for c in unranked)
        assert found[: len(unranked)] == unranked  # no data at all: visited before any ranked family
        assert all(verval.MIN_PRIORITY <= c.priority <= 1.5 for c in found[len(unranked) :])

        opened = verval.plan_assignments(session, DINSOS, KAB, "2026Q3", 2, {desa: ["pdp.satu", "pdp.dua"]})
        assert len(opened) == min(4, len(found))
        assert [c.id_keluarga_dtsen for c in opened] == [c.id_keluarga_dtsen for c in found[: len(opened)]]
        per = {name: sum(1 for c in opened if c.assigned_to == name) for name in ("pdp.satu", "pdp.dua")}
        assert max(per.values()) <= 2
        assert all(c.jenis == "verval" and c.state == "ditugaskan" and c.kode_desa == desa for c in opened)
        # Again with the same quota: everyone is full. With a bigger one: only families not yet planned.
        assert (
            verval.plan_assignments(session, DINSOS, KAB, "2026Q3", 2, {desa: ["pdp.satu", "pdp.dua"]}) == []
        )
        more = verval.plan_assignments(session, DINSOS, KAB, "2026Q3", 3, {desa: ["pdp.satu", "pdp.dua"]})
        families = [c.id_keluarga_dtsen for c in (*opened, *more)]
        assert len(families) == len(set(families))
        assert len(more) == min(2, len(found) - len(opened))
        with pytest.raises(cases.CaseRefusedError):  # only the dinsos of the kab plans
            verval.plan_assignments(
                session,
                Principal(kind="user", name="pdp.satu", role=Role.PENDAMPING, regions=(desa,)),
                KAB,
                "2026Q3",
                2,
            )
        with pytest.raises(cases.CaseRefusedError):
            verval.plan_assignments(session, DINSOS, "3404", "2026Q3", 2)
        session.rollback()


def test_priority_formula() -> None:
    from types import SimpleNamespace as Row

    def row(p4: float | None, p5: float | None = None, borderline: bool = False, **kw: Any) -> Any:
        base = {"status_peringkat": "diperingkat", "alasan_tidak_diperingkat": None, "desil_nasional": 4}
        return Row(**{**base, **kw, "p_desil_le4": p4, "p_desil_le5": p5, "borderline": borderline})

    assert verval.priority_of(row(0.5)) == 1.0
    assert verval.priority_of(row(0.5, borderline=True)) == 1.5
    assert verval.priority_of(row(0.99, 0.99)) is None  # certain: not worth a visit
    assert verval.priority_of(row(0.95, 0.6)) == pytest.approx(0.8)  # near the desil-5 cut-off
    unranked = row(
        None,
        status_peringkat="tidak_diperingkat",
        alasan_tidak_diperingkat="tanpa_observasi",
        desil_nasional=None,
    )
    assert verval.priority_of(unranked) == verval.TANPA_DATA


# -- what a visit changes ------------------------------------------------------------------------------------
def _open_visit(world: dict[str, Any], pendamping: str = "pdp.satu") -> WorkflowCase:
    from dtsen.store.db import session_scope

    with session_scope(engine=world["engine"]) as session:
        family = verval.candidates(session, KAB, [world["desa"]])[-1]
        spec = cases.CaseInput(
            jenis="verval",
            periode="2026Q4",
            kode_desa=world["desa"],
            asal="dinsos",
            id_keluarga_dtsen=family.id_keluarga_dtsen,
            assigned_to=pendamping,
        )
        case = cases.open_case(session, DINSOS, spec)
        session.flush()
        session.expunge(case)
    return case


def test_observed_changes_only_what_differs_and_may_be_corrected(world: dict[str, Any]) -> None:
    from dtsen.reference.codes import Lantai

    case = _open_visit(world)
    with Session(world["engine"]) as session:
        served = verval.served_family(session, case.id_keluarga_dtsen)
        assert served is not None
        observed: dict[str, Any] = {name: served.get(name) for name in verval.HOUSING}
        # an asset the registry never observed stays unobserved (None), not "does not own"
        observed.update(
            {
                name: None if served.get(name) is None else bool(served.get(name))
                for name in verval.asset_fields()
            }
        )
        assert verval.observed_changes(session, case, observed) == []  # all as served: nothing changes
        new_floor = next(int(code) for code in Lantai if int(code) != served.get("lantai"))
        observed["lantai"] = new_floor
        observed["aset_mobil"] = not bool(served.get("aset_mobil"))
        observed["nik"] = "3471010101900001"  # identity: never a change
        observed["luas_lantai"] = None  # not observed
        changes = verval.observed_changes(session, case, observed)
    assert {change["atribut"] for change in changes} == {"lantai", "aset_mobil"}
    floor = next(change for change in changes if change["atribut"] == "lantai")
    assert floor == {
        "entitas": "family",
        "id": case.id_keluarga_dtsen,
        "atribut": "lantai",
        "nilai_baru": str(new_floor),
        "nilai_lama": None if served.get("lantai") is None else str(served["lantai"]),
    }
    notes = verval.member_notes(
        {
            "anggota": [
                {"id_dtsen": "A1", "keberadaan": "ada"},
                {"id_dtsen": "A2", "keberadaan": "meninggal"},
            ],
            "anggota_baru": [{"nama": "Bayi", "hubungan": 3, "tahun_lahir": 2026}],
        }
    )
    assert [note["keberadaan"] for note in notes] == ["meninggal", "baru"]


def test_gps_outside_indonesia_is_flagged() -> None:
    assert verval.check_gps(-7.8, 110.37)["tanda"] == []
    assert verval.check_gps(51.5, -0.12)["tanda"] == ["di_luar_indonesia"]
    assert "koordinat_tidak_sah" in verval.check_gps(120.0, 500.0)["tanda"]


# -- the field form ------------------------------------------------------------------------------------------
def _jpeg_with_gps() -> bytes:
    image = Image.new("RGB", (64, 48), (120, 80, 40))
    exif = Image.Exif()
    exif[0x010F] = "Kamera Uji"  # Make
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2], gps[3], gps[4] = "S", (7.0, 47.0, 0.0), "E", (110.0, 22.0, 0.0)
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif)
    data = out.getvalue()
    assert Image.open(io.BytesIO(data)).getexif().get_ifd(0x8825)  # the test photo does carry a position
    return data


def test_form_is_for_the_assigned_pendamping_only(world: dict[str, Any]) -> None:
    case = _open_visit(world)
    page = as_user(world, "pdp.satu").get(f"/staf/kunjungan/{case.id}")
    assert page.status_code == 200, page.text
    assert 'capture="environment"' in page.text
    assert 'name="kunci"' in page.text
    assert "/static/js/kunjungan.js" in page.text
    assert "<script>" not in page.text
    assert "geolocation=(self)" in page.headers["permissions-policy"]
    assert (
        as_user(world, "pdp.dua").get(f"/staf/kunjungan/{case.id}").status_code == 403
    )  # another pendamping
    assert as_user(world, "pdp.tiga").get(f"/staf/kunjungan/{case.id}").status_code == 404  # another village
    assert as_user(world, "pdp.satu").get("/staf/kunjungan/999999999").status_code == 404
    assert as_user(world, "pdp.satu").get("/static/js/kunjungan.js").status_code == 200


def test_post_twice_with_one_key_moves_once(world: dict[str, Any]) -> None:
    from dtsen.api.uploads import path_of
    from dtsen.reference.codes import Lantai

    case = _open_visit(world)
    client = as_user(world, "pdp.satu")
    with Session(world["engine"]) as session:
        served = verval.served_family(session, case.id_keluarga_dtsen) or {}
    new_floor = next(int(code) for code in Lantai if int(code) != served.get("lantai"))
    form = {
        "csrf_token": world["logins"]["pdp.satu"]["csrf"],
        "versi": str(case.version),
        "kunci": "uji-kunci-0123456789abcdef",
        "lantai": str(new_floor),
        "lat": "51.5",  # London: a phone with a stale fix
        "lon": "-0.12",
        "catatan": "Rumah sudah diplester.",
        "baru_nama_1": "Bayi Uji",
        "baru_hubungan_1": "3",
        "baru_tahun_1": "2026",
    }
    photo = _jpeg_with_gps()
    first = client.post(
        f"/staf/kunjungan/{case.id}", data=form, files=[("foto", ("rumah.jpg", photo, "image/jpeg"))]
    )
    assert first.status_code == 200, first.text
    again = client.post(
        f"/staf/kunjungan/{case.id}",
        data=form,
        files=[("foto", ("rumah.jpg", photo, "image/jpeg"))],
        headers={"accept": "application/json"},
    )
    assert again.status_code == 200, again.text
    assert again.json()["status"] == "dikunjungi"
    with Session(world["engine"]) as session:
        moved = session.get(WorkflowCase, case.id)
        assert moved is not None
        steps = session.scalar(
            select(func.count())
            .select_from(WorkflowStep)
            .where(WorkflowStep.case_id == case.id, WorkflowStep.action == "laporkan_kunjungan")
        )
        data = dict(moved.data)
    assert steps == 1
    assert moved.state == "dikunjungi"
    assert moved.version == case.version + 1
    assert {
        "entitas": "family",
        "id": case.id_keluarga_dtsen,
        "atribut": "lantai",
        "nilai_baru": str(new_floor),
        "nilai_lama": None if served.get("lantai") is None else str(served["lantai"]),
    } in data["perubahan"]
    assert data["gps"]["tanda"] == ["di_luar_indonesia"]  # flagged, and the visit was still taken
    assert {"keberadaan": "baru", "nama": "Bayi Uji", "hubungan": 3, "tahun_lahir": 2026} in data["anggota"]
    assert len(data["foto"]) == 1
    stored = path_of(world["uploads"], data["foto"][0]).read_bytes()
    with Image.open(io.BytesIO(stored)) as image:
        assert "exif" not in image.info
        assert not image.getexif()
    # A new form (another key) on a visited case: refused, nothing moves.
    late = client.post(f"/staf/kunjungan/{case.id}", data={**form, "kunci": "uji-kunci-lain-0123456789"})
    assert late.status_code == 409


def test_bad_input_is_a_bahasa_4xx(world: dict[str, Any]) -> None:
    case = _open_visit(world)
    client = as_user(world, "pdp.satu")
    base = {
        "csrf_token": world["logins"]["pdp.satu"]["csrf"],
        "versi": str(case.version),
        "kunci": "uji-kunci-salah-0123456789",
    }
    bad_code = client.post(
        f"/staf/kunjungan/{case.id}", data={**base, "lantai": "99"}, headers={"accept": "application/json"}
    )
    assert bad_code.status_code == 422
    assert bad_code.json()["detail"] == "Beberapa isian belum benar."
    not_photo = client.post(
        f"/staf/kunjungan/{case.id}",
        data=base,
        files=[("foto", ("rumah.jpg", b"MZ\x90\x00bukan foto", "image/jpeg"))],
    )
    assert not_photo.status_code == 415
    no_key = client.post(f"/staf/kunjungan/{case.id}", data={**base, "kunci": ""})
    assert no_key.status_code == 422
    with Session(world["engine"]) as session:
        assert session.get(WorkflowCase, case.id).state == "ditugaskan"  # type: ignore[union-attr]


def test_plan_page_for_the_dinsos(world: dict[str, Any]) -> None:
    client = as_user(world, "dinsos.kota")
    assert client.get("/staf/verval/rencana").status_code == 200
    csrf = world["logins"]["dinsos.kota"]["csrf"]
    assert client.post("/staf/verval/rencana", data={"csrf_token": csrf, "kuota": "0"}).status_code == 422
    done = client.post(
        "/staf/verval/rencana",
        data={"csrf_token": csrf, "kuota": "1"},
        headers={"accept": "application/json"},
    )
    assert done.status_code == 200, done.text
    assert done.json()["per_pendamping"]
    assert all(n == 1 for n in done.json()["per_pendamping"].values())
    refused = as_user(world, "pdp.satu").post(
        "/staf/verval/rencana", data={"csrf_token": world["logins"]["pdp.satu"]["csrf"], "kuota": "1"}
    )
    assert refused.status_code == 403
