"""Backup and restore drill, on SQLite and PostgreSQL: back up a served test city (data dir and serving
database), restore into an empty place, and the registry answers the same for sample NIKs; the snapshots
verify; a damaged backup restores nothing; a backup is refused while a cycle runs."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from dtsen import backup as backups
from dtsen import locks
from dtsen.auth.scope import Principal, Role
from dtsen.cli.main import app
from dtsen.cycle import manifest_chain
from dtsen.cycle import snapshot as snapshots
from dtsen.store import registry
from dtsen.store.db import make_engine

ADMIN = Principal("user", "uji-admin", Role.ADMIN_BPS)


def answers(url: str, niks: list[str]) -> list[tuple[Any, ...]]:
    """What the registry serves for ``niks``: the person's family, and that family's desil and members."""
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            out = []
            for nik in niks:
                [hit] = registry.search_persons(session, ADMIN, nik=nik, purpose="uji")
                family = registry.family_detail(session, ADMIN, str(hit.id_keluarga_dtsen), purpose="uji")
                assert family is not None
                out.append(
                    (
                        hit.id_dtsen,
                        hit.id_keluarga_dtsen,
                        family.snapshot.ref,
                        family.family["desil_nasional"],
                        family.family["desil_kabkota"],
                        sorted(m["id_dtsen"] for m in family.members),
                    )
                )
            session.rollback()
            return out
    finally:
        engine.dispose()


@pytest.fixture
def city(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, db_factory: Callable[[], str]
) -> dict[str, Any]:
    from served_city import city_data_dir, ranked_families, served_database

    data_dir = tmp_path / "data"
    shutil.copytree(city_data_dir(tmp_path_factory.getbasetemp()), data_dir, symlinks=True)
    url = db_factory()
    if url.startswith("sqlite"):
        url = f"sqlite:///{data_dir / 'dtsen.db'}"  # the default place: inside the data dir
    served_database(url, data_dir)
    engine = make_engine(url)
    try:
        niks = [f.nik for f in ranked_families(engine, 3) if f.nik]
    finally:
        engine.dispose()
    return {"data_dir": data_dir, "url": url, "niks": niks, "served": answers(url, niks)}


def test_restore_into_an_empty_place_serves_the_same_answers(
    city: dict[str, Any], tmp_path: Path, db_factory: Callable[[], str]
) -> None:
    out = tmp_path / "backup"
    result = CliRunner().invoke(
        app, ["backup", str(out), "--data-dir", str(city["data_dir"]), "--database-url", city["url"]]
    )
    assert result.exit_code == 0, result.output
    manifest = backups.read_manifest(out)
    backend = "sqlite" if city["url"].startswith("sqlite") else "postgresql"
    assert manifest["database"]["backend"] == backend
    assert not [f for f in manifest["files"] if "/.locks/" in f["path"] or f["path"].endswith("dtsen.db")]
    assert CliRunner().invoke(app, ["backup", str(out), "--verify"]).exit_code == 0

    restored = tmp_path / "restored"
    args = ["restore", str(out), "--data-dir", str(restored)]
    if backend == "postgresql":
        target = db_factory()  # a new, empty database: not migrated, pg_restore creates everything
        args += ["--database-url", target]
    else:
        target = f"sqlite:///{restored / 'dtsen.db'}"  # default: the same place in the new data dir
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output

    assert answers(target, city["niks"]) == city["served"]
    for snap in snapshots.list_snapshots(restored):
        assert snapshots.verify(snap) == []
    assert manifest_chain.verify_chain(snapshots.snapshots_dir(restored))[0] == []
    again = CliRunner().invoke(app, args)  # the place is no longer empty
    assert again.exit_code == 1
    assert "empty or new directory" in " ".join(again.output.split())


def test_a_damaged_backup_restores_nothing(city: dict[str, Any], tmp_path: Path) -> None:
    out = tmp_path / "backup"
    backups.backup(out, data_dir=city["data_dir"], database_url=None)
    victim = next(
        f["path"] for f in backups.read_manifest(out)["files"] if f["path"].endswith("scores.parquet")
    )
    data = bytearray((out / victim).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (out / victim).write_bytes(bytes(data))
    verified = CliRunner().invoke(app, ["backup", str(out), "--verify"])
    assert verified.exit_code == 1
    assert f"{victim}: SHA-256 differs" in " ".join(verified.output.split())
    with pytest.raises(backups.BackupError, match="damaged, nothing restored"):
        backups.restore(out, data_dir=tmp_path / "restored")
    assert not (tmp_path / "restored").exists()


HOLD = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from dtsen import locks
    with locks.cycle_lock(Path(sys.argv[1]), command="dtsen cycle run --period 2026Q3"):
        print("held", flush=True)
        sys.stdin.readline()
    """
)


def test_backup_is_refused_while_a_cycle_runs(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    (data_dir / "batches").mkdir(parents=True)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(data_dir)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(locks.LockHeldError, match=f"pid {holder.pid} on host {socket.gethostname()}"):
            backups.backup(tmp_path / "b", data_dir=data_dir, database_url=None)
        assert not (tmp_path / "b").exists()
    finally:
        holder.kill()
        holder.wait()
