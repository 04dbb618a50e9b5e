"""Snapshot -> serving database: counts, the one-transaction switch, failures, reloads, the publish hook.

Runs on SQLite and PostgreSQL. The snapshots are the test city's two quarterly cycles
(:mod:`served_city`, built once per pytest session); each test loads into its own new database.
"""

from __future__ import annotations

import json
import shutil
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from dtsen.atomic import sha256_file
from dtsen.auth.scope import Principal, Role
from dtsen.cycle import snapshot as snapshots
from dtsen.store import registry
from dtsen.store.db import make_engine, upgrade
from dtsen.store.person_names import normalize_name
from dtsen.store.served import ServedFamily, ServedPerson, ServedProvenance, ServedSnapshot
from dtsen.store.snapshot_load import (
    ROW_TABLES,
    SnapshotLoadError,
    load_after_publish,
    load_snapshot,
    prune_snapshots,
)

Q1, Q2 = "2026Q1/v1", "2026Q2/v1"
ADMIN = Principal("user", "uji-admin", Role.ADMIN_BPS)


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from served_city import city_data_dir

    return city_data_dir(tmp_path_factory.getbasetemp())


@pytest.fixture
def fresh(db_factory: Callable[[], str]) -> Any:
    """A new migrated database per test; its engine is disposed afterwards."""
    engines: list[Engine] = []

    def make() -> Engine:
        url = db_factory()
        upgrade(url)
        engines.append(make_engine(url))
        return engines[-1]

    yield make
    for engine in engines:
        engine.dispose()


def rows_of(engine: Engine, snapshot_id: int) -> dict[str, int]:
    with engine.connect() as connection:
        return {
            table.name: connection.execute(
                select(func.count()).select_from(table).where(table.c.snapshot_id == snapshot_id)
            ).scalar_one()
            for table in ROW_TABLES
        }


def snapshot_rows(engine: Engine) -> list[Any]:
    with engine.connect() as connection:
        return connection.execute(
            select(
                ServedSnapshot.id,
                ServedSnapshot.ref,
                ServedSnapshot.status,
                ServedSnapshot.is_current,
                ServedSnapshot.error,
            ).order_by(ServedSnapshot.id)
        ).all()


def current_ref(engine: Engine) -> str | None:
    with Session(engine) as session:
        info = registry.current_snapshot(session)
        return None if info is None else info.ref


def parquet_count(path: Path, sql: str = "SELECT count(*) FROM t") -> int:
    con = duckdb.connect()
    con.execute(f"CREATE VIEW t AS SELECT * FROM read_parquet('{path}')")  # noqa: S608
    return int(con.execute(sql).fetchall()[0][0])


def writable_copy(city: Path, target: Path, ref: str = Q2) -> Path:
    """A data dir holding a writable copy of one snapshot (published snapshots are read-only)."""
    period, version = ref.split("/")
    dest = target / "snapshots" / period / version
    shutil.copytree(city / "snapshots" / period / version, dest)
    for path in [dest, *dest.rglob("*")]:
        path.chmod(path.stat().st_mode | stat.S_IWUSR)
    return target


def test_counts_equal_the_parquet_rows_and_the_newest_is_current(fresh: Any, city: Path) -> None:
    engine = fresh()
    first = load_snapshot(engine, city, Q1)
    second = load_snapshot(engine, city, Q2)
    assert (first.status, second.status) == ("loaded", "loaded")
    snap = snapshots.open_snapshot(Q2, city)
    expected = {
        "served_family": parquet_count(snap.file("families.parquet")),
        "served_person": parquet_count(snap.file("persons.parquet")),
        "served_eligibility": parquet_count(snap.file("eligibility.parquet")),
        "served_provenance": parquet_count(
            snap.file("provenance.parquet"), "SELECT count(*) FROM (SELECT DISTINCT entitas, id FROM t)"
        ),
    }
    loaded = rows_of(engine, second.snapshot_id)
    for table, count in expected.items():
        assert loaded[table] == count == second.counts[table], table
    assert loaded["served_provenance_pola"] == second.counts["served_provenance_pola"] > 0
    assert second.counts["provenance_rows"] == parquet_count(snap.file("provenance.parquet"))
    assert [(r.ref, r.status, r.is_current) for r in snapshot_rows(engine)] == [
        (Q1, "ready", False),
        (Q2, "ready", True),
    ]
    assert rows_of(engine, first.snapshot_id)["served_family"] > 0  # the older snapshot stays for history


def test_rows_carry_the_snapshot_values(fresh: Any, city: Path) -> None:
    engine = fresh()
    result = load_snapshot(engine, city, Q2)
    snap = snapshots.open_snapshot(Q2, city)
    con = duckdb.connect()
    family_id, desil, explanation, aset_mobil = con.execute(
        "SELECT s.id_keluarga_dtsen, s.desil_nasional, to_json(s.penjelasan)::VARCHAR, f.aset_mobil "  # noqa: S608
        f"FROM read_parquet('{snap.file('scores.parquet')}') s "
        f"JOIN read_parquet('{snap.file('families.parquet')}') f USING (id_keluarga_dtsen) "
        "WHERE s.desil_nasional IS NOT NULL AND f.aset_mobil IS NOT NULL ORDER BY 1 LIMIT 1"
    ).fetchall()[0]
    prov = con.execute(
        "SELECT atribut, sumber, batch_id, CAST(tanggal_data AS VARCHAR) "  # noqa: S608
        f"FROM read_parquet('{snap.file('provenance.parquet')}') WHERE entitas = 'family' AND id = ?",
        [family_id],
    ).fetchall()
    with Session(engine) as session:
        row = session.get(ServedFamily, (result.snapshot_id, family_id))
        assert row is not None
        assert row.desil_nasional == desil
        assert row.penjelasan == json.loads(explanation)
        assert row.atribut["aset_mobil"] is aset_mobil
        detail = registry.family_detail(session, ADMIN, family_id)
        assert detail is not None
        assert detail.family_provenance == {
            atribut: {"sumber": sumber, "batch_id": batch, "tanggal_data": tanggal}
            for atribut, sumber, batch, tanggal in prov
        }
        # the normalised name column agrees with the Python normaliser on every person
        names = session.execute(
            select(ServedPerson.nama, ServedPerson.nama_norm).where(
                ServedPerson.snapshot_id == result.snapshot_id
            )
        ).all()
        assert names
        assert all(normalize_name(nama) == (norm or "") for nama, norm in names)


def test_reload_is_a_noop_unless_forced_and_an_old_ref_switches_back(fresh: Any, city: Path) -> None:
    engine = fresh()
    q1 = load_snapshot(engine, city, Q1)
    q2 = load_snapshot(engine, city, Q2)
    again = load_snapshot(engine, city, Q2)
    assert (again.status, again.snapshot_id, again.counts) == ("unchanged", q2.snapshot_id, q2.counts)
    back = load_snapshot(engine, city, Q1)
    assert (back.status, back.snapshot_id) == ("switched", q1.snapshot_id)
    assert current_ref(engine) == Q1
    forced = load_snapshot(engine, city, Q2, force=True)
    assert forced.status == "loaded"
    assert forced.snapshot_id not in (q1.snapshot_id, q2.snapshot_id)
    assert current_ref(engine) == Q2
    assert [(r.ref, r.is_current) for r in snapshot_rows(engine)] == [(Q1, False), (Q2, True)]
    assert set(rows_of(engine, q2.snapshot_id).values()) == {0}  # the replaced copy is gone
    assert rows_of(engine, forced.snapshot_id) == {
        k: v for k, v in q2.counts.items() if k != "provenance_rows"
    }


def test_a_reader_during_a_load_sees_only_the_served_snapshot(fresh: Any, city: Path) -> None:
    engine = fresh()
    load_snapshot(engine, city, Q1)
    with Session(engine) as session:
        person = session.execute(
            select(ServedPerson.nik)
            .where(ServedPerson.nik.is_not(None))
            .order_by(ServedPerson.id_dtsen)
            .limit(1)
        ).scalar_one()
        before = registry.search_persons(session, ADMIN, nik=person)
        session.rollback()
    seen: list[tuple[str, int, str | None, list[Any]]] = []

    def reader(table: str, done: int, total: int) -> None:
        # another connection, mid-load: the new rows are committed beside, yet nothing of them is served
        with Session(engine) as session:
            loading = session.execute(
                select(ServedSnapshot.id).where(ServedSnapshot.status == "loading")
            ).scalar_one()
            rows = session.execute(
                select(func.count()).select_from(ServedPerson).where(ServedPerson.snapshot_id == loading)
            ).scalar_one()
            info = registry.current_snapshot(session)
            hits = registry.search_persons(session, ADMIN, nik=person)
            session.rollback()
        seen.append((table, rows, info.ref if info else None, hits))

    load_snapshot(engine, city, Q2, progress=reader)
    assert {ref for _, _, ref, _ in seen} == {Q1}
    assert all(hits == before for *_, hits in seen)
    assert any(table == "served_provenance" and rows > 0 for table, rows, _, _ in seen)  # persons were in
    assert current_ref(engine) == Q2


def _fails_at(table_name: str) -> Callable[[str, int, int], None]:
    def progress(table: str, done: int, total: int) -> None:
        if table == table_name:
            raise OSError("disk full (simulated)")

    return progress


def test_a_load_failing_midway_leaves_the_previous_snapshot_served(fresh: Any, city: Path) -> None:
    engine = fresh()
    q1 = load_snapshot(engine, city, Q1)
    with pytest.raises(SnapshotLoadError, match="disk full"):
        load_snapshot(engine, city, Q2, progress=_fails_at("served_eligibility"))
    rows = snapshot_rows(engine)
    assert [(r.ref, r.status, r.is_current) for r in rows] == [(Q1, "ready", True), (Q2, "failed", False)]
    assert "disk full" in rows[1].error
    assert set(rows_of(engine, rows[1].id).values()) == {0}  # the partial rows are cleaned up
    assert current_ref(engine) == Q1
    assert rows_of(engine, q1.snapshot_id)["served_person"] == q1.counts["served_person"]
    retried = load_snapshot(engine, city, Q2)  # a failed load does not count as loaded
    assert retried.status == "loaded"
    assert current_ref(engine) == Q2


def test_a_checksum_mismatch_is_refused_before_any_row(fresh: Any, city: Path, tmp_path: Path) -> None:
    engine = fresh()
    load_snapshot(engine, city, Q1)
    data = writable_copy(city, tmp_path / "data")
    scores = data / "snapshots" / "2026Q2" / "v1" / "scores.parquet"
    scores.write_bytes(scores.read_bytes()[:-100] + b"\0" * 100)
    with pytest.raises(SnapshotLoadError, match=r"scores\.parquet: SHA-256 differs"):
        load_snapshot(engine, data, Q2)
    assert [(r.ref, r.is_current) for r in snapshot_rows(engine)] == [(Q1, True)]


def test_a_corrupt_parquet_file_matching_its_manifest_fails_midway_and_is_cleaned(
    fresh: Any, city: Path, tmp_path: Path
) -> None:
    engine = fresh()
    load_snapshot(engine, city, Q1)
    data = writable_copy(city, tmp_path / "data")
    folder = data / "snapshots" / "2026Q2" / "v1"
    persons = folder / "persons.parquet"  # read after the families are in
    persons.write_bytes(persons.read_bytes()[: persons.stat().st_size // 2])
    manifest = json.loads((folder / "manifest.json").read_text())
    for entry in manifest["files"]:
        if entry["name"] == "persons.parquet":  # the manifest "fixed" to match: verify passes
            entry["sha256"], entry["bytes"] = sha256_file(persons), persons.stat().st_size
    (folder / "manifest.json").write_text(json.dumps(manifest))
    assert snapshots.verify(snapshots.open_snapshot(Q2, data)) == []
    with pytest.raises(SnapshotLoadError, match=r"persons\.parquet"):
        load_snapshot(engine, data, Q2)
    rows = snapshot_rows(engine)
    assert [(r.ref, r.status, r.is_current) for r in rows] == [(Q1, "ready", True), (Q2, "failed", False)]
    assert set(rows_of(engine, rows[1].id).values()) == {0}
    assert current_ref(engine) == Q1


def test_an_interrupted_load_is_cleaned_up_by_the_next_one(fresh: Any, city: Path) -> None:
    engine = fresh()
    q1 = load_snapshot(engine, city, Q1)
    # what a killed loader leaves: a 'loading' row and some of its rows
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO served_snapshot (id, periode, versi, ref, manifest_sha256, created_at, status,"
                " is_current) VALUES (99, '2026Q2', 1, '2026Q2/v1', :sha, :now, 'loading', false)"
            ),
            {"sha": "0" * 64, "now": "2026-07-01 00:00:00"},
        )
        connection.execute(
            text(
                "INSERT INTO served_provenance (snapshot_id, entitas, id, pola) "
                "VALUES (99, 'person', 'P1', 1), (99, 'person', 'P2', 1)"
            )
        )
    assert current_ref(engine) == Q1
    q2 = load_snapshot(engine, city, Q2)
    assert q2.status == "loaded"
    with engine.connect() as connection:
        stale = connection.execute(
            select(ServedSnapshot.status, ServedSnapshot.error).where(ServedSnapshot.id == 99)
        ).one()
        left = connection.execute(
            select(func.count()).select_from(ServedProvenance).where(ServedProvenance.snapshot_id == 99)
        ).scalar_one()
    assert stale.status == "failed"
    assert "interrupted" in stale.error
    assert left == 0
    assert sorted(prune_snapshots(engine, keep=1)) == [Q1, "2026Q2/v1 (failed)"]
    assert [(r.ref, r.is_current) for r in snapshot_rows(engine)] == [(Q2, True)]
    assert set(rows_of(engine, q1.snapshot_id).values()) == {0}


def test_missing_snapshot_and_unmigrated_database_give_clear_errors(
    fresh: Any, city: Path, db_factory: Any
) -> None:
    engine = fresh()
    with pytest.raises(SnapshotLoadError, match="2030Q1"):
        load_snapshot(engine, city, "2030Q1")
    with pytest.raises(SnapshotLoadError, match="not a snapshot"):
        load_snapshot(engine, city, "kemarin")
    bare = make_engine(db_factory())
    try:
        with pytest.raises(SnapshotLoadError, match="dtsen db upgrade"):
            load_snapshot(bare, city, Q1)
    finally:
        bare.dispose()


def test_publish_hook_loads_when_a_database_is_configured_and_never_raises(
    fresh: Any, city: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dtsen.config import reset_settings

    engine = fresh()
    monkeypatch.delenv("DTSEN_DATABASE_URL", raising=False)
    reset_settings()
    assert load_after_publish(city, Q1) is None  # nothing configured: nothing to do
    monkeypatch.setenv("DTSEN_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    reset_settings()
    try:
        done = load_after_publish(city, Q1)
        assert done is not None
        assert done["status"] == "loaded"
        assert done["counts"]["served_family"] > 0
        failed = load_after_publish(city, "2031Q1/v1")
        assert failed is not None
        assert failed["status"] == "failed"
        assert "2031Q1" in failed["error"]
    finally:
        monkeypatch.delenv("DTSEN_DATABASE_URL")
        reset_settings()
    assert current_ref(engine) == Q1


def test_cli_load_and_status(fresh: Any, city: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dtsen.cli.main import app
    from dtsen.config import reset_settings

    engine = fresh()
    url = engine.url.render_as_string(hide_password=False)
    monkeypatch.setenv("DTSEN_DATABASE_URL", url)  # --url sets it for the server workers; restored after
    monkeypatch.setenv("DTSEN_LOG_LEVEL", "WARNING")
    runner = CliRunner()
    loaded = runner.invoke(
        app, ["serve", "load", "--snapshot", "2026Q1", "--url", url, "--data-dir", str(city)]
    )
    assert loaded.exit_code == 0, loaded.output
    assert "snapshot 2026Q1/v1 dimuat" in loaded.output
    again = runner.invoke(app, ["serve", "load", "-s", "2026Q1", "--url", url, "--data-dir", str(city)])
    assert again.exit_code == 0
    assert "sudah aktif" in again.output
    missing = runner.invoke(app, ["serve", "load", "-s", "2030Q4", "--url", url, "--data-dir", str(city)])
    assert missing.exit_code == 1
    assert "2030Q4" in missing.output
    status = runner.invoke(app, ["serve", "status", "--url", url])
    assert status.exit_code == 0
    assert "2026Q1/v1" in status.output
    assert "ready" in status.output
    reset_settings()


@pytest.mark.slow
@pytest.mark.postgres
def test_bench_serve_prints_one_json_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The bench end to end at a small size: snapshot built, loaded into a fresh PostgreSQL database,
    served, driven; every phase reported (a scale run, so kept out of the default suite)."""
    import subprocess
    import sys

    monkeypatch.delenv("DTSEN_DATABASE_URL", raising=False)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "dtsen.cli.main",
            "--log-level",
            "WARNING",
            "bench",
            "serve",
            "--persons",
            "20000",
            "--rate",
            "20",
            "--seconds",
            "3",
            "--officers",
            "2",
            "--cache",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=1800,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["stage"] == "serve"
    assert result["backend"] == "postgresql"
    assert result["load_seconds"] > 0
    assert result["load_rows"]["served_person"] > 19_000
    for phase in ("noop", "citizen_check", "staff_search"):
        assert result[phase]["requests"] == 60
        assert result[phase]["errors"] == 0, phase
        assert 0 < result[phase]["p50_ms"] <= result[phase]["p95_ms"] <= result[phase]["p99_ms"]
        # CPU per request, the figure a loaded machine leaves comparable: the server's workers always
        # work; a check and a search also make PostgreSQL's backends of the bench database work.
        assert result[phase]["server_cpu_ms_per_request"] > 0, phase
    for phase in ("citizen_check", "staff_search"):
        assert result[phase]["postgres_cpu_ms_per_request"] > 0, phase
    assert result["citizen_check"]["answers_checked"] == 60  # found, or "not found" for the wrong names
