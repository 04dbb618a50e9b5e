"""The serving database on SQLite and PostgreSQL: migrations, regions, the audit chain and ``dtsen db``."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, event, func, inspect, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from dtsen.cli.db import app
from dtsen.config import reset_settings
from dtsen.reference.regions import regions
from dtsen.store import audit
from dtsen.store.db import (
    current_revision,
    downgrade,
    head_revision,
    make_engine,
    resolve_url,
    session_factory,
    session_scope,
    upgrade,
)
from dtsen.store.models import AuditLog, Region
from dtsen.store.regions import RegionLoad, load_regions
from dtsen.store.schema import Base

KEY = "test-key-not-a-secret"
NIK_A = "3302014507900001"
NIK_B = "3302010101850002"
TABLES = {"region", "audit_log", "audit_chain_head"}
LEVEL_COUNTS = {"provinsi": 38, "kabupaten": 514, "kecamatan": 7284, "desa": 83754}

runner = CliRunner()


@pytest.fixture(autouse=True)
def _settings(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    monkeypatch.setenv("DTSEN_SECRET_KEY", KEY)
    monkeypatch.setenv("DTSEN_DATA_DIR", str(tmp_path_factory.mktemp("data")))
    monkeypatch.delenv("DTSEN_DATABASE_URL", raising=False)
    reset_settings()
    yield
    reset_settings()


@pytest.fixture(scope="module")
def counted_first_load(engine: Engine) -> tuple[RegionLoad, int]:
    """The regions, loaded once per module database (tests that change them restore them), and how many
    statements the load sent to the database."""
    statements = 0

    def count(*_: object) -> None:
        nonlocal statements
        statements += 1

    event.listen(engine, "before_cursor_execute", count)
    try:
        with engine.begin() as connection:
            load = load_regions(connection)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return load, statements


@pytest.fixture(scope="module")
def first_load(counted_first_load: tuple[RegionLoad, int]) -> RegionLoad:
    return counted_first_load[0]


@pytest.fixture
def fresh(db_factory: Callable[[], str]) -> Iterator[Engine]:
    """A migrated database of its own, for tests that break the audit chain on purpose."""
    url = db_factory()
    upgrade(url)
    created = make_engine(url)
    try:
        yield created
    finally:
        created.dispose()


def _tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names())


def _record(engine: Engine, count: int, nik: str = NIK_A) -> list[int]:
    with session_scope(engine=engine) as session:
        return [
            audit.record(
                session,
                actor="operator-1",
                actor_role="operator_desa",
                action="read",
                resource="person",
                nik=nik,
                region_kode="3302012001",
                purpose="verval",
                detail={"step": i, "score": 0.7777777777777778, "big": 1e16},
            ).id
            for i in range(count)
        ]


def _verify(engine: Engine) -> list[audit.ChainProblem]:
    with session_scope(engine=engine) as session:
        return audit.verify_chain(session)


def _drop_append_only_guard(engine: Engine) -> None:
    """What an administrator with DDL rights could do before tampering."""
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("ALTER TABLE audit_log DISABLE TRIGGER USER"))
        else:
            connection.execute(text("DROP TRIGGER audit_log_no_update"))
            connection.execute(text("DROP TRIGGER audit_log_no_delete"))


# --- migrations -------------------------------------------------------------------------------------


def test_upgrade_from_empty_creates_the_schema(db_factory: Callable[[], str]) -> None:
    url = db_factory()
    assert current_revision(url) is None
    upgrade(url)
    assert current_revision(url) == head_revision()
    engine = make_engine(url)
    try:
        assert _tables(engine) >= TABLES
        with session_scope(engine=engine) as session:
            head = audit.chain_head(session)
        assert head == audit.ChainHead(row_count=0, last_id=None, last_hash="0" * 64)
        upgrade(url)  # at head already: nothing to do, no error
        assert current_revision(url) == head_revision()
    finally:
        engine.dispose()


def test_downgrade_to_base_and_upgrade_again(db_factory: Callable[[], str]) -> None:
    url = db_factory()
    upgrade(url)
    engine = make_engine(url)
    try:
        _record(engine, 2)
        downgrade(url, "base")
        assert current_revision(url) is None
        assert not (TABLES & _tables(engine))
        upgrade(url)  # recreating triggers and functions must not collide with leftovers
        assert _tables(engine) >= TABLES
        assert _verify(engine) == []
        assert _record(engine, 1)
    finally:
        engine.dispose()


def test_migrations_match_the_models(engine: Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_sqlite_engine_enforces_foreign_keys_and_uses_wal(engine: Engine) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite pragmas")
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_plain_postgresql_urls_use_psycopg() -> None:
    assert resolve_url("postgresql://u@h/db").drivername == "postgresql+psycopg"
    assert resolve_url("postgres://u@h/db").drivername == "postgresql+psycopg"
    assert resolve_url("sqlite:///x.db").drivername == "sqlite"


# --- regions ----------------------------------------------------------------------------------------


def test_load_regions_counts_levels_and_is_idempotent(
    engine: Engine, counted_first_load: tuple[RegionLoad, int]
) -> None:
    first_load, statements = counted_first_load
    assert first_load.by_level == LEVEL_COUNTS
    assert first_load.total == 91_590 == first_load.inserted + first_load.unchanged + first_load.updated
    assert statements < 91_590 // 100, f"{statements} statements: the bulk load went row by row"

    with engine.begin() as connection:
        again = load_regions(connection)
    assert (again.inserted, again.updated, again.unchanged, again.stale) == (0, 0, 91_590, 0)
    with Session(engine) as session:
        per_level = dict(session.execute(select(Region.level, func.count()).group_by(Region.level)).all())
    assert per_level == LEVEL_COUNTS


def test_load_regions_refreshes_changed_missing_and_stale_rows(
    engine: Engine, first_load: RegionLoad
) -> None:
    assert "99" not in set(regions()["kode"])
    with engine.begin() as connection:
        connection.execute(text("UPDATE region SET nama = 'Salah' WHERE kode = '3302'"))
        connection.execute(text("DELETE FROM region WHERE kode = '3302012001'"))
        connection.execute(
            text("INSERT INTO region (kode, nama, level, kode_prov) VALUES ('99', 'Bukan', 'provinsi', '99')")
        )
    with engine.begin() as connection:
        result = load_regions(connection)
    assert (result.inserted, result.updated, result.stale, result.pruned) == (1, 1, 1, 0)
    assert result.total == 91_591
    with engine.begin() as connection:
        pruned = load_regions(connection, prune=True)
    assert (pruned.stale, pruned.pruned, pruned.total) == (1, 1, 91_590)
    with Session(engine) as session:
        assert session.get(Region, "3302").nama == "Kabupaten Banyumas"


def test_region_hierarchy_supports_scoping(engine: Engine, first_load: RegionLoad) -> None:
    with Session(engine) as session:
        in_banyumas = session.scalars(select(Region.level).where(Region.kode_kab == "3302")).all()
        desa = session.get(Region, "3302012001")
        orphans = session.scalar(
            text(
                "SELECT count(*) FROM region r"
                " WHERE NOT EXISTS (SELECT 1 FROM region p WHERE p.kode = r.kode_prov)"
                " OR (r.kode_kab IS NOT NULL"
                " AND NOT EXISTS (SELECT 1 FROM region k WHERE k.kode = r.kode_kab))"
            )
        )
    assert in_banyumas.count("kabupaten") == 1
    assert in_banyumas.count("kecamatan") == 27
    assert in_banyumas.count("desa") > 300
    assert desa is not None
    assert (desa.kode_prov, desa.kode_kab, desa.kode_kec) == ("33", "3302", "330201")
    assert orphans == 0


@pytest.mark.parametrize(
    ("kode", "level", "prov", "kab", "kec"),
    [
        ("99A9", "kabupaten", "99", "99A9", None),  # not digits
        ("9901", "kecamatan", "99", "9901", "9901"),  # level does not match the code length
        ("9901", "kabupaten", "98", "9901", None),  # parent is not the code's prefix
        ("98", "provinsi", "98", "98", None),  # a province has no kabupaten
    ],
)
def test_region_constraints_reject_inconsistent_rows(
    engine: Engine, kode: str, level: str, prov: str, kab: str | None, kec: str | None
) -> None:
    assert kode not in set(regions()["kode"])  # so only a constraint, never the primary key, can refuse it
    row = Region(kode=kode, nama="X", level=level, kode_prov=prov, kode_kab=kab, kode_kec=kec)
    with pytest.raises(DBAPIError), Session(engine) as session, session.begin():
        session.add(row)


# --- audit ------------------------------------------------------------------------------------------


def test_subject_ref_is_keyed_stable_and_never_the_nik() -> None:
    ref = audit.subject_ref(NIK_A, key=KEY)
    assert len(ref) == 64
    assert int(ref, 16) >= 0
    assert NIK_A not in ref
    assert NIK_A[:8] not in ref
    assert ref == audit.subject_ref(NIK_A, key=KEY)
    assert ref == audit.subject_ref("3302 0145 0790 0001", key=KEY)
    assert ref == audit.subject_ref(int(NIK_A), key=KEY)
    assert ref == audit.subject_ref(NIK_A)  # the configured key (DTSEN_SECRET_KEY)
    assert ref != audit.subject_ref(NIK_A, key="another-key")
    assert ref != audit.subject_ref(NIK_B, key=KEY)
    with pytest.raises(ValueError, match="empty"):
        audit.subject_ref("  ", key=KEY)


def test_record_stores_no_nik_and_trail_finds_one_person(engine: Engine) -> None:
    _record(engine, 2, NIK_A)
    _record(engine, 1, NIK_B)
    with session_scope(engine=engine) as session:
        trail = audit.trail_for(session, "3302.0145.0790.0001")
        other = audit.trail_for(session, NIK_B)
        rows = session.execute(select(AuditLog.__table__)).all()
    assert len(trail) >= 2
    assert {entry.subject_ref for entry in trail} == {audit.subject_ref(NIK_A, key=KEY)}
    assert [entry.id for entry in trail] == sorted(entry.id for entry in trail)
    assert trail[-1].occurred_at.tzinfo is not None
    assert trail[-1].detail == {"step": 1, "score": 0.7777777777777778, "big": 1e16}
    assert len(other) >= 1
    assert all(NIK_A not in str(cell) and NIK_B not in str(cell) for row in rows for cell in row)
    assert _verify(engine) == []


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ({"detail": {"nik": NIK_A}}, "NIK-shaped"),
        ({"detail": {"kk": int(NIK_B)}}, "NIK-shaped"),
        ({"purpose": f"cek {NIK_A[:4]} {NIK_A[4:8]} {NIK_A[8:12]} {NIK_A[12:]}"}, "NIK-shaped"),
        ({"actor": NIK_A}, "NIK-shaped"),
        ({"subject": NIK_A}, "64 lowercase hex"),
        ({"nik": NIK_A, "subject": "0" * 64}, "not both"),
        ({"action": "Read Everything"}, "lowercase identifier"),
        ({"region_kode": "33.02"}, "region code"),
        ({"occurred_at": datetime(2025, 1, 1)}, "timezone-aware"),  # naive: its meaning depends on a clock
    ],
)
def test_record_refuses_identifiers_in_clear_and_malformed_fields(
    engine: Engine, fields: dict[str, object], match: str
) -> None:
    arguments: dict[str, object] = {"actor": "svc", "action": "read", **fields}
    with Session(engine) as session, pytest.raises(ValueError, match=match):
        audit.record(session, **arguments)  # type: ignore[arg-type]


def test_append_only_guard_refuses_update_and_delete(engine: Engine) -> None:
    entry_id = _record(engine, 1)[0]
    for statement in (
        "UPDATE audit_log SET actor = 'x' WHERE id = :id",
        "DELETE FROM audit_log WHERE id = :id",
    ):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as connection:
            connection.execute(text(statement), {"id": entry_id})
    assert _verify(engine) == []


def test_verify_chain_detects_a_modified_row(fresh: Engine) -> None:
    ids = _record(fresh, 5)
    assert _verify(fresh) == []
    _drop_append_only_guard(fresh)
    with fresh.begin() as connection:
        connection.execute(
            text("""UPDATE audit_log SET detail = '{"step": 99}' WHERE id = :id"""), {"id": ids[2]}
        )
    problems = _verify(fresh)
    assert [(p.row_id, p.kind) for p in problems] == [(ids[2], "modified")]

    # Recomputing the altered row's own hash only moves the break to the next row.
    with Session(fresh) as session:
        row = session.execute(select(AuditLog.__table__).where(AuditLog.id == ids[2])).one()._mapping
        forged = audit.row_hash(row["prev_hash"], row)
    with fresh.begin() as connection:
        connection.execute(
            text("UPDATE audit_log SET row_hash = :h WHERE id = :id"), {"h": forged, "id": ids[2]}
        )
    kinds = {(p.row_id, p.kind) for p in _verify(fresh)}
    assert (ids[3], "broken_link") in kinds
    assert (ids[2], "modified") not in kinds


def test_verify_chain_detects_deleted_middle_and_newest_rows(fresh: Engine) -> None:
    ids = _record(fresh, 5)
    _drop_append_only_guard(fresh)
    with fresh.begin() as connection:
        connection.execute(text("DELETE FROM audit_log WHERE id = :id"), {"id": ids[2]})
    problems = _verify(fresh)
    assert (ids[3], "broken_link") in {(p.row_id, p.kind) for p in problems}
    assert "count_mismatch" in {p.kind for p in problems}
    assert "modified" not in {p.kind for p in problems}

    with fresh.begin() as connection:
        connection.execute(text("DELETE FROM audit_log WHERE id = :id"), {"id": ids[4]})
    assert "head_mismatch" in {p.kind for p in _verify(fresh)}


def test_verify_chain_detects_rows_inserted_around_record(fresh: Engine) -> None:
    _record(fresh, 2)
    with fresh.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO audit_log (occurred_at, actor, action, prev_hash, row_hash)"
                " VALUES (:at, 'intruder', 'read', :h, :h)"
            ),
            {"at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f"), "h": "f" * 64},
        )
    assert [p.kind for p in _verify(fresh)] == ["unchained"]
    _record(fresh, 1)  # the next real append now follows the foreign row
    assert "broken_link" in {p.kind for p in _verify(fresh)}


def test_concurrent_appends_form_one_chain(fresh: Engine) -> None:
    threads, per_thread = 4, 10
    factory = session_factory(fresh)
    errors: list[BaseException] = []
    barrier = threading.Barrier(threads)

    def work(worker: int) -> None:
        try:
            barrier.wait()
            for i in range(per_thread):
                with factory() as session, session.begin():
                    audit.record(session, actor=f"worker-{worker}", action="read", detail={"i": i})
        except BaseException as exc:  # surfaced below: a thread's failure must fail the test
            errors.append(exc)

    pool = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    assert errors == []
    assert _verify(fresh) == []
    with Session(fresh) as session:
        head = audit.chain_head(session)
    assert head is not None
    assert head.row_count == threads * per_thread


def test_record_entries_keeps_their_order_in_one_statement_and_the_chain(fresh: Engine) -> None:
    """Entries appended together (PostgreSQL: up to CHAINED_MAX chained audit_append calls in one
    statement, more through record_many) land in the order given, each hashed on the one before, also
    with other threads appending at the same time."""
    statements: list[str] = []
    event.listen(fresh, "before_cursor_execute", lambda *args: statements.append(args[2]))
    expected: list[tuple[int, int]] = []
    for count in (1, 3, audit.CHAINED_MAX, audit.CHAINED_MAX + 1):
        statements.clear()
        with session_scope(engine=fresh) as session:
            entries = [
                audit.entry(actor="operator-1", action="read", nik=NIK_A, detail={"n": count, "i": i})
                for i in range(count)
            ]
            assert audit.record_entries(session, entries) == count
        expected += [(count, i) for i in range(count)]
        if fresh.dialect.name == "postgresql":
            assert len(statements) == (1 if count <= audit.CHAINED_MAX else 3)
    with Session(fresh) as session:
        details = list(session.scalars(select(AuditLog.detail).order_by(AuditLog.id)))
    assert [(d["n"], d["i"]) for d in details] == expected
    assert _verify(fresh) == []

    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            for i in range(5):
                with session_factory(fresh)() as session, session.begin():
                    audit.record_entries(
                        session, [audit.entry(actor=f"worker-{worker}", action="read", detail={"i": i})] * 3
                    )
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    pool = [threading.Thread(target=work, args=(n,)) for n in range(3)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    assert errors == []
    assert _verify(fresh) == []


# --- CLI --------------------------------------------------------------------------------------------


def test_cli_upgrade_load_tail_and_verify(db_factory: Callable[[], str]) -> None:
    url = db_factory()
    result = runner.invoke(app, ["current", "--url", url])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "none"

    result = runner.invoke(app, ["load-regions", "--url", url])
    assert result.exit_code == 1
    assert "dtsen db upgrade" in result.output

    result = runner.invoke(app, ["upgrade", "--url", url])
    assert result.exit_code == 0, result.output
    assert f"at revision {head_revision()}" in result.output
    assert runner.invoke(app, ["current", "--url", url]).stdout.strip() == f"{head_revision()} (head)"

    result = runner.invoke(app, ["load-regions", "--url", url])
    assert result.exit_code == 0, result.output
    assert "91590 inserted" in result.output
    assert "total" in result.output
    assert "91590" in result.stdout.splitlines()[-1]
    assert (
        "0 inserted, 0 updated, 91590 unchanged" in runner.invoke(app, ["load-regions", "--url", url]).output
    )

    assert runner.invoke(app, ["audit-tail", "--url", url]).stdout.strip() == "audit log is empty"
    engine = make_engine(url)
    try:
        ids = _record(engine, 3)
    finally:
        engine.dispose()
    result = runner.invoke(app, ["audit-tail", "--url", url, "--limit", "2"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("id\toccurred_at")
    assert [line.split("\t")[0] for line in lines[1:]] == [str(ids[1]), str(ids[2])]
    assert NIK_A not in result.output

    result = runner.invoke(app, ["audit-verify", "--url", url])
    assert result.exit_code == 0, result.output
    assert "intact: 3 entries" in result.output


def test_cli_detects_a_broken_chain(fresh: Engine) -> None:
    ids = _record(fresh, 3)
    _drop_append_only_guard(fresh)
    with fresh.begin() as connection:
        connection.execute(text("DELETE FROM audit_log WHERE id = :id"), {"id": ids[1]})
    url = fresh.url.render_as_string(hide_password=False)
    result = runner.invoke(app, ["audit-verify", "--url", url])
    assert result.exit_code == 1
    assert "broken" in result.output


def test_cli_uses_the_configured_database_url(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DTSEN_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    reset_settings()
    result = runner.invoke(app, ["current"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"{head_revision()} (head)"


def test_cli_reports_an_unreachable_database() -> None:
    result = runner.invoke(
        app, ["current", "--url", "postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2"]
    )
    assert result.exit_code == 1
    assert "error: database" in result.output


def test_db_commands_are_registered_on_the_main_app(engine: Engine) -> None:
    main = pytest.importorskip("dtsen.cli.main", exc_type=ImportError)
    url = engine.url.render_as_string(hide_password=False)
    result = runner.invoke(main.app, ["db", "current", "--url", url])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"{head_revision()} (head)"
