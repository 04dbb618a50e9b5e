"""Analyst dashboards: the aggregates published inside the snapshot agree with its rows, and the page and
its CSV downloads show each role only its regions."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from fastapi.testclient import TestClient

from dtsen.auth.scope import Principal, Role

PASSWORD = "Analisis-uji-2026!kata"  # noqa: S105 - throwaway accounts on a test database
KAB = "3471"


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from served_city import city_data_dir

    return city_data_dir(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="module")
def world(db_factory: Callable[[], str], city: Path) -> Iterator[dict[str, Any]]:
    from dtsen.api.app import create_app
    from dtsen.auth.accounts import create_user
    from dtsen.auth.policy import DEFAULT_POLICY, SESSION_COOKIE
    from dtsen.auth.sessions import create_session
    from dtsen.config import Settings
    from dtsen.store.db import make_engine, session_scope
    from dtsen.workflows.cases import CaseInput, open_cases
    from served_city import ranked_families, served_database

    url = db_factory()
    served_database(url, city)
    engine = make_engine(url)
    target = next(f for f in ranked_families(engine, 20) if f.kode_kab == KAB)
    other_kab = _other_kab(city)
    now = datetime.now(UTC)
    actor = {"actor": "system:test", "actor_role": None}
    sessions: dict[str, dict[str, str]] = {}
    for name, role, regions in (
        ("analis", Role.ANALIS_BPS, ()),
        ("dinsos", Role.DINSOS, (KAB,)),
        ("operator", Role.OPERATOR_DESA, (target.kode_desa,)),
        ("klien", Role.KLIEN_INSTANSI, (KAB,)),
    ):
        with session_scope(engine=engine) as db:
            user = create_user(
                db,
                username=f"analisis.{name}",
                full_name=name,
                role=role,
                regions=regions,
                password=PASSWORD,
                now=now,
                actor=actor,
            )
            created = create_session(db, user, now=now, policy=DEFAULT_POLICY)
            sessions[name] = {SESSION_COOKIE: created.token}
    # two overdue cases: one in the city, one in the other kab/kota
    admin = Principal(kind="user", name="uji", role=Role.ADMIN_BPS)
    with session_scope(engine=engine) as db:
        open_cases(
            db,
            admin,
            [
                CaseInput("verval", "2026Q2", target.kode_desa, "dinsos"),
                CaseInput("verval", "2026Q2", f"{other_kab}010001", "dinsos"),
            ],
            now=now - timedelta(days=90),
        )
    app = create_app(url, settings=Settings(data_dir=city))
    with TestClient(app) as client:
        yield {"client": client, "sessions": sessions, "target": target, "other_kab": other_kab}
    engine.dispose()


def _other_kab(city: Path) -> str:
    from dtsen.cycle import snapshot

    snap = snapshot.current(city)
    assert snap is not None
    kabs = pl.read_parquet(snap.file("agregat/desil_wilayah.parquet"))["kode_kab"].drop_nulls().unique()
    others = sorted(k for k in kabs.to_list() if k != KAB)
    assert others, "the test city has no family registered outside its kab/kota"
    return others[0]


def as_user(world: dict[str, Any], name: str) -> TestClient:
    client: TestClient = world["client"]
    client.cookies.clear()
    for key, value in world["sessions"][name].items():
        client.cookies.set(key, value)
    return client


def rows_of(response: Any) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.text)))


# -- the aggregates ------------------------------------------------------------------------------------------
def test_aggregates_are_published_inside_the_snapshot_and_agree_with_its_rows(city: Path) -> None:
    from dtsen.cycle import aggregates, snapshot

    for snap in snapshot.list_snapshots(city):
        assert snapshot.verify(snap) == []  # listed in the manifest, checksummed
        names = {n for n in snap.files if n.startswith("agregat/")}
        assert {
            f"agregat/{n}.parquet"
            for n in ("desil_wilayah", "program_wilayah", "padan", "kualitas", "model_akurasi", "perubahan")
        } <= names
        desil = pl.read_parquet(snap.file("agregat/desil_wilayah.parquet"))
        families = pl.read_parquet(snap.file("families.parquet"), columns=["id_keluarga_dtsen", "kode_kab"])
        scores = pl.read_parquet(snap.file("scores.parquet"), columns=["desil_nasional", "jumlah_anggota"])
        assert desil["keluarga"].sum() == families.height
        assert desil["jiwa"].sum() == scores["jumlah_anggota"].sum()
        ranked = scores.filter(pl.col("desil_nasional").is_not_null()).group_by("desil_nasional").len()
        by_desil = desil.filter(pl.col("desil").is_not_null()).group_by("desil").agg(pl.col("keluarga").sum())
        assert dict(ranked.iter_rows()) == dict(by_desil.iter_rows())
        per_kab = families.group_by("kode_kab").len()
        assert dict(per_kab.iter_rows()) == dict(
            desil.group_by("kode_kab").agg(pl.col("keluarga").sum()).iter_rows()
        )

        elig = pl.read_parquet(snap.file("eligibility.parquet"))
        programs = pl.read_parquet(snap.file("agregat/program_wilayah.parquet"))
        want = elig.group_by("program").agg(
            pl.col("layak").sum().alias("keluarga_layak"),
            pl.col("nilai_tahunan").filter(pl.col("layak")).sum().alias("anggaran_tahunan"),
        )
        got = programs.group_by("program").agg(
            pl.col("keluarga_layak").sum(), pl.col("anggaran_tahunan").sum()
        )
        assert want.sort("program").rows() == got.sort("program").rows()

        persons = pl.read_parquet(snap.file("persons.parquet"), columns=["status_padan"])
        padan = pl.read_parquet(snap.file("agregat/padan.parquet"))
        assert padan["jiwa"].sum() == persons.height
        assert padan.filter(pl.col("status_padan") == 5)["jiwa"].sum() == (persons["status_padan"] == 5).sum()

        accuracy = pl.read_parquet(snap.file("agregat/model_akurasi.parquet"))
        assert accuracy["dipilih"].sum() == 1  # the model that ranked the snapshot, beside the others
        # the same tables from the snapshot's own files (what an older snapshot gets on first read)
        computed = aggregates.compute_for(snap, city)
        assert pl.from_arrow(computed["desil_wilayah"]).equals(desil)

    first, second = snapshot.list_snapshots(city)[:2]
    assert pl.read_parquet(first.file("agregat/perubahan.parquet")).height == 0  # nothing before it
    changes = pl.read_parquet(second.file("agregat/perubahan.parquet"))
    diff = pl.read_parquet(city / "cycles" / second.period / "publish" / "diff" / "diff_wilayah.parquet")
    assert changes.equals(diff)  # the diff the publish step wrote for the report, the same
    report = (city / "cycles" / second.period / "publish" / "diff" / "diff.json").read_text()
    assert f'"baru": "{second.ref}"' in report


# -- the page and the downloads ------------------------------------------------------------------------------
def test_dashboard_renders_every_section_for_a_national_analyst(world: dict[str, Any]) -> None:
    page = as_user(world, "analis").get("/staf/analisis")
    assert page.status_code == 200, page.text
    for section in ("desil", "program", "kualitas", "padan", "model", "perubahan", "sla"):
        assert f'id="{section}"' in page.text
        assert f'href="/staf/analisis/{section}.csv"' in page.text
    assert page.text.count("data-plotly=") >= 6
    assert "<script>" not in page.text  # the figures travel in attributes; the CSP forbids inline scripts
    assert 'src="/staf/analisis/plotly.min.js' in page.text
    assert 'href="/staf/analisis"' in page.text  # the menu item


def test_csv_downloads_are_scoped_like_the_page(world: dict[str, Any]) -> None:
    other = world["other_kab"]
    analis = as_user(world, "analis")
    national = rows_of(analis.get("/staf/analisis/desil.csv"))
    assert {r["kode_kab"] for r in national} >= {KAB, other}
    sla_all = rows_of(analis.get("/staf/analisis/sla.csv"))
    assert {r["kode_kab"] for r in sla_all} >= {KAB, other}
    assert sum(int(r["selesai_lewat"]) for r in sla_all) >= 2

    dinsos = as_user(world, "dinsos")
    page = dinsos.get("/staf/analisis")
    assert page.status_code == 200
    assert other not in page.text
    for name in ("desil", "program", "padan", "sla", "perubahan"):
        rows = rows_of(dinsos.get(f"/staf/analisis/{name}.csv"))
        assert rows, name
        regions = {v for r in rows for k, v in r.items() if k.startswith("kode_")}
        assert all(code.startswith(KAB) for code in regions), (name, regions)
    kecamatan = rows_of(dinsos.get("/staf/analisis/desil.csv"))
    in_city = sum(int(r["keluarga"]) for r in national if r["kode_kab"] == KAB)
    assert sum(int(r["keluarga"]) for r in kecamatan) == in_city  # the same families, by kecamatan

    operator = as_user(world, "operator")
    desa = world["target"].kode_desa
    rows = rows_of(operator.get("/staf/analisis/desil.csv"))
    assert rows
    assert {r["kode_desa"] for r in rows} == {desa}
    assert rows_of(operator.get("/staf/analisis/perubahan.csv")) == []  # the diff is by kab/kota only


def test_who_may_not_read_statistics_and_bad_names(world: dict[str, Any]) -> None:
    client = as_user(world, "klien")  # an agency's account holds no stats.read
    assert client.get("/staf/analisis").status_code == 403
    assert client.get("/staf/analisis/desil.csv").status_code == 403
    analis = as_user(world, "analis")
    missing = analis.get("/staf/analisis/tidak_ada.csv")
    assert missing.status_code == 404
    assert "tidak ada" in missing.text
    js = analis.get("/staf/analisis/plotly.min.js")
    assert js.status_code == 200
    assert "private" in js.headers["cache-control"]
    assert "cdn" not in js.headers.get("content-type", "")
    client.cookies.clear()
    assert client.get("/staf/analisis/desil.csv", follow_redirects=False).status_code in {302, 303, 401}


def test_a_snapshot_not_on_disk_is_a_notice_not_an_error(
    db_factory: Callable[[], str], city: Path, tmp_path: Path
) -> None:
    from dtsen.api.app import create_app
    from dtsen.auth.accounts import create_user
    from dtsen.auth.policy import DEFAULT_POLICY, SESSION_COOKIE
    from dtsen.auth.sessions import create_session
    from dtsen.config import Settings
    from dtsen.store.db import make_engine, session_scope
    from served_city import served_database

    url = db_factory()
    served_database(url, city)
    engine = make_engine(url)
    now = datetime.now(UTC)
    with session_scope(engine=engine) as db:
        user = create_user(
            db,
            username="analisis.kosong",
            full_name="x",
            role=Role.KEMENSOS,
            regions=(),
            password=PASSWORD,
            now=now,
            actor={"actor": "system:test", "actor_role": None},
        )
        token = create_session(db, user, now=now, policy=DEFAULT_POLICY).token
    engine.dispose()
    with TestClient(create_app(url, settings=Settings(data_dir=tmp_path))) as client:
        client.cookies.set(SESSION_COOKIE, token)
        page = client.get("/staf/analisis")
        assert page.status_code == 200
        assert "Belum ada snapshot" in page.text
        assert client.get("/staf/analisis/desil.csv").status_code == 404
