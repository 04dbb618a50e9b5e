"""The staff pages and their JSON twins on a served registry (SQLite and PostgreSQL): what the family
page shows against what the database holds, identifiers masked by role, search input checks; plus the
page logic on its own (an unranked family, certainty sentences, masking)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from dtsen.api.display import mask_identifier
from dtsen.api.family_page import certainty_sentence, family_view
from dtsen.api.staff_search import SearchForm, validate_search
from dtsen.auth.scope import Principal, Role

PASSWORD = "Staf-uji-2026!kata"  # noqa: S105 - throwaway accounts on a test database


@pytest.fixture(scope="module")
def world(
    db_factory: Callable[[], str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    from dtsen.api.app import create_app
    from dtsen.auth.accounts import create_user
    from dtsen.auth.policy import DEFAULT_POLICY, SESSION_COOKIE
    from dtsen.auth.sessions import create_session
    from dtsen.store.db import make_engine, session_scope
    from served_city import city_data_dir, ranked_families, served_database

    url = db_factory()
    served_database(url, city_data_dir(tmp_path_factory.getbasetemp()))
    engine = make_engine(url)
    target, other = ranked_families(engine, 2, poorest=True)
    now = datetime.now(UTC)
    sessions: dict[str, dict[str, Any]] = {}
    for name, role, regions in (
        ("operator", "operator_desa", (target.kode_desa,)),
        ("analis", "analis_bps", ()),
    ):
        with session_scope(engine=engine) as db:
            user = create_user(
                db,
                username=f"staf.{name}",
                full_name=name,
                role=role,
                regions=regions,
                password=PASSWORD,
                now=now,
                actor={"actor": "system:test", "actor_role": None},
            )
            created = create_session(db, user, now=now, policy=DEFAULT_POLICY)
            sessions[name] = {"cookie": {SESSION_COOKIE: created.token}, "csrf": created.row.csrf_token}
    app = create_app(url)
    with TestClient(app) as client:
        yield {"client": client, "engine": engine, "target": target, "other": other, "sessions": sessions}
    engine.dispose()


def as_user(world: dict[str, Any], name: str) -> TestClient:
    client: TestClient = world["client"]
    client.cookies.clear()
    for key, value in world["sessions"][name]["cookie"].items():
        client.cookies.set(key, value)
    return client


def test_family_json_matches_the_served_rows(world: dict[str, Any]) -> None:
    from dtsen.store.served import ServedEligibility, ServedFamily, ServedPerson, ServedSnapshot

    target = world["target"]
    data = as_user(world, "operator").get(f"/api/staf/keluarga/{target.id}").json()
    with world["engine"].connect() as connection:
        current = connection.scalar(select(ServedSnapshot.id).where(ServedSnapshot.is_current))
        family = connection.execute(
            select(ServedFamily).where(
                ServedFamily.snapshot_id == current, ServedFamily.id_keluarga_dtsen == target.id
            )
        ).one()
        members = connection.execute(
            select(ServedPerson.nik).where(
                ServedPerson.snapshot_id == current, ServedPerson.id_keluarga_dtsen == target.id
            )
        ).all()
        decisions = connection.execute(
            select(ServedEligibility).where(
                ServedEligibility.snapshot_id == current, ServedEligibility.id_keluarga_dtsen == target.id
            )
        ).all()
        periods = connection.scalars(
            select(ServedSnapshot.periode)
            .join(ServedFamily, ServedFamily.snapshot_id == ServedSnapshot.id)
            .where(ServedFamily.id_keluarga_dtsen == target.id)
            .order_by(ServedSnapshot.periode)
        ).all()
    assert data["snapshot_ref"] == "2026Q2/v1"
    assert [level["value"] for level in data["desil"]] == [
        family.desil_nasional,
        family.desil_provinsi,
        family.desil_kabkota,
    ]
    assert data["ranked"] is True
    assert data["p_desil_le4"] == pytest.approx(family.p_desil_le4)
    assert [item["kalimat"] for item in data["penjelasan"]] == [item["kalimat"] for item in family.penjelasan]
    assert sorted(m["nik"] for m in data["members"]) == sorted(m.nik for m in members)
    assert data["nik_full"] is True
    assert {row["program"] for row in data["programs"]} == {d.program for d in decisions}
    assert data["program_total"] == sum(d.nilai_tahunan or 0 for d in decisions if d.layak)
    assert data["program_total"] > 0  # the poorest family gets something
    assert [row["periode"] for row in data["history"]] == list(periods)
    family_provenance = data["provenance"][0]["rows"]
    assert family_provenance
    assert all(row["sumber"] and row["batch_id"] and row["tanggal_data"] for row in family_provenance)
    assert len(data["provenance"]) == 1 + len(members)


def test_home_json_says_who_where_and_what(world: dict[str, Any]) -> None:
    data = as_user(world, "operator").get("/api/staf").json()
    assert data["peran"] == "operator_desa"
    assert [region["kode"] for region in data["wilayah"]] == [world["target"].kode_desa]
    assert data["snapshot"]["ref"] == "2026Q2/v1"
    assert {item["izin"] for item in data["izin"]} >= {"person.search", "family.read"}
    page = as_user(world, "operator").get("/staf")
    assert "2026Q2/v1" in page.text
    world["client"].cookies.clear()
    assert "Data: snapshot 2026Q2/v1" in world["client"].get("/masuk").text  # every page's footer
    assert "Operator desa/kelurahan" in page.text


def test_unranked_family_page_says_why(world: dict[str, Any]) -> None:
    from dtsen.api.family_page import RANK_REASONS
    from served_city import unranked_family

    family_id, reason = unranked_family(world["engine"])
    data = as_user(world, "analis").get(f"/api/staf/keluarga/{family_id}").json()
    assert data["ranked"] is False
    assert data["alasan_tidak_diperingkat"] == reason
    assert data["alasan_teks"] == RANK_REASONS[reason]
    assert [level["value"] for level in data["desil"]] == [None, None, None]
    page = as_user(world, "analis").get(f"/staf/keluarga/{family_id}")
    assert "Tidak diperingkat." in page.text
    assert 'role="img"' not in page.text  # no desil strips, no factor bars, no line of empty points


def test_family_page_draws_its_charts(world: dict[str, Any]) -> None:
    target = world["target"]
    response = as_user(world, "operator").get(f"/staf/keluarga/{target.id}")
    assert response.status_code == 200
    html = response.text
    assert len(re.findall(r'<svg class="chart"[^>]*role="img"', html)) >= 6  # 3 desil, 2 bars, history
    assert "Desil nasional antar snapshot" in html
    assert "<script" not in html


def test_national_analyst_sees_masked_identifiers(world: dict[str, Any]) -> None:
    target = world["target"]
    data = as_user(world, "analis").get(f"/api/staf/keluarga/{target.id}").json()
    assert data["nik_full"] is False
    for member in data["members"]:
        assert member["nik"] is None or re.fullmatch(r"\d{6}\*{8}\d{2}", member["nik"])
    assert target.nik not in str(data)
    hits = as_user(world, "analis").post(
        "/api/staf/cari",
        json={"nik": target.nik},
        headers={"x-csrf-token": world["sessions"]["analis"]["csrf"]},
    )
    assert hits.status_code == 200
    assert hits.json()["hasil"][0]["nik"] == mask_identifier(target.nik)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"nik": "1234"}, None),  # schema: 422 from validation
        ({"nama": "Sri"}, "Pilih desa/kelurahan"),
        ({"nama": "H. Dr.", "kode_desa": "3471011001"}, "paling sedikit 3 huruf"),
        ({"nik": "0000000000000001"}, "tidak mungkin benar"),
    ],
)
def test_json_search_rejects_bad_input_in_bahasa(
    world: dict[str, Any], body: dict[str, str], message: str | None
) -> None:
    client = as_user(world, "operator")
    response = client.post(
        "/api/staf/cari", json=body, headers={"x-csrf-token": world["sessions"]["operator"]["csrf"]}
    )
    assert response.status_code == 422
    if message:
        assert message in response.json()["detail"]


def test_search_by_kk_and_by_name_within_the_village(world: dict[str, Any]) -> None:
    from dtsen.store.served import ServedPerson, ServedSnapshot

    target = world["target"]
    with world["engine"].connect() as connection:
        current = connection.scalar(select(ServedSnapshot.id).where(ServedSnapshot.is_current))
        person = connection.execute(
            select(ServedPerson.no_kk, ServedPerson.nama).where(
                ServedPerson.snapshot_id == current, ServedPerson.nik == target.nik
            )
        ).one()
    client = as_user(world, "operator")
    headers = {"x-csrf-token": world["sessions"]["operator"]["csrf"]}
    by_kk = client.post("/staf/cari", data={"jenis": "kk", "q": person.no_kk}, headers=headers)
    assert f"/staf/keluarga/{target.id}" in by_kk.text
    by_name = client.post(
        "/staf/cari",
        data={"jenis": "nama", "q": person.nama.title(), "desa": target.kode_desa},
        headers=headers,
    )
    assert by_name.status_code == 200
    assert f"/staf/keluarga/{target.id}" in by_name.text
    elsewhere = client.post(
        "/staf/cari",
        data={"jenis": "nama", "q": person.nama, "desa": world["other"].kode_desa},
        headers=headers,
    )
    assert elsewhere.status_code == 422
    assert "di luar wilayah Anda" in elsewhere.text


# -- the page logic alone ---------------------------------------------------------------------------------
OPERATOR = Principal(kind="user", name="op", role=Role.OPERATOR_DESA, regions=("3471011001",))
KEMENSOS = Principal(kind="user", name="km", role=Role.KEMENSOS)


@pytest.mark.parametrize(
    ("form", "field", "text"),
    [
        (SearchForm("nik", ""), "q", "Isi NIK"),
        (SearchForm("nik", "34710112abc"), "q", "hanya berisi angka"),
        (SearchForm("nik", "347101123"), "q", "16 angka"),
        (SearchForm("nik", "3471019999990001"), "q", "tidak mungkin benar"),
        (SearchForm("kk", "12"), "q", "16 angka"),
        (SearchForm("nama", "Sri", ""), "desa", "Pilih desa"),
        (SearchForm("nama", "Sri", "3404011001"), "desa", "di luar wilayah"),
        (SearchForm("nama", "<script>", "3471011001"), "q", "paling sedikit 3 huruf"),
        (SearchForm("semua", "x"), "jenis", "Pilih cara pencarian"),
    ],
)
def test_search_input_checks(form: SearchForm, field: str, text: str) -> None:
    criteria, errors = validate_search(form, OPERATOR)
    assert criteria == {}
    assert text in errors[field]


def test_search_input_accepted_forms() -> None:
    assert validate_search(SearchForm("nik", " 3471 0112 0390 0012 "), OPERATOR)[0] == {
        "nik": "3471011203900012"
    }
    assert validate_search(SearchForm("nama", "  Siti   Aminah ", "34.71.01.1001"), OPERATOR)[0] == {
        "nama": "Siti Aminah",
        "kode_desa": "3471011001",
    }
    assert validate_search(SearchForm("nama", "Siti", "3404011001"), KEMENSOS)[1] == {}  # national role


def test_identifier_mask() -> None:
    assert mask_identifier("3471011203900012") == "347101********12"
    assert mask_identifier(None) is None
    assert mask_identifier("123") == "***"


def test_certainty_in_words() -> None:
    assert certainty_sentence(0.97, 2, "id").startswith("Sangat yakin")
    assert certainty_sentence(0.75, 3, "id").startswith("Cukup yakin")
    assert certainty_sentence(0.5, 4, "id").startswith("Kurang pasti")
    assert certainty_sentence(None, 4, "en") == "Certainty cannot be calculated yet."


def test_unranked_family_shows_the_reason_and_no_desil() -> None:
    detail = {
        "snapshot": {"ref": "2026Q2/v1", "programs": {}},
        "family": {
            "id_keluarga_dtsen": "K1",
            "status_peringkat": "tidak_diperingkat",
            "alasan_tidak_diperingkat": "tanpa_observasi",
            "desil_nasional": None,
            "kode_desa": "3471011001",
        },
        "members": [
            {"id_dtsen": "P1", "nik": "3471011203900012", "hubungan": 1, "nama": "SITI", "status_padan": 1}
        ],
        "programs": [{"program": "pkh", "nama": "PKH", "layak": False, "alasan": ["tidak_diperingkat"]}],
        "family_provenance": {
            "alamat": {"sumber": "regsosek", "batch_id": "b1", "tanggal_data": "2022-10-31"}
        },
        "person_provenance": {},
    }
    history = [
        {
            "ref": "2026Q1/v1",
            "periode": "2026Q1",
            "desil_nasional": None,
            "status_peringkat": "tidak_diperingkat",
        }
    ]
    view = family_view(detail, history, KEMENSOS, "id")
    assert view["ranked"] is False
    assert "Regsosek" in view["alasan_teks"]
    assert view["history"][0]["status"] == "Tidak diperingkat"
    assert view["program_total"] == 0
    assert view["members"][0]["nik"] == "347101********12"  # Kemensos: masked
    assert view["provenance"][0]["groups"][0]["atribut"] == ["alamat"]
    english = family_view(detail, history, KEMENSOS, "en")
    assert "field survey" in english["alasan_teks"]


def test_program_reason_codes_in_words() -> None:
    from dtsen.api.family_page import reason_text

    assert reason_text("desil_masuk", "id") == "desil dalam sasaran"
    assert reason_text("komponen_anak_usia_dini", "id") == "komponen: anak usia dini"
    assert reason_text("kecuali_pemilik_mobil", "en") == "excluded: pemilik mobil"
    assert reason_text("batas_4_orang", "id") == "batas 4 orang"  # unknown codes stay readable
