"""Snapshot manifests chained by hash: an edited manifest or a broken chain fails `dtsen snapshot verify`,
snapshots published before chaining are said to be so, the head goes to the audit log, and a killed
publisher's staging is removed by the next publish."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from dtsen.cli.main import app
from dtsen.cycle import manifest_chain
from dtsen.cycle.snapshot import MANIFEST, Snapshot, publish, snapshots_dir
from test_snapshot import _outputs


def verify_cli(data_dir: Path, ref: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["snapshot", "verify", ref, "--data-dir", str(data_dir)])
    return result.exit_code, " ".join(result.output.split())


def edit_manifest(snap: Snapshot, change: dict) -> None:
    """What a tamperer does: rewrite manifest.json (still valid JSON, every file checksum still right)."""
    path = snap.path / MANIFEST
    snap.path.chmod(0o755)
    path.chmod(0o644)
    path.write_text(json.dumps({**json.loads(path.read_text(encoding="utf-8")), **change}, indent=2))


def test_each_manifest_links_the_previous_one_and_the_head_is_recorded(tmp_path: Path) -> None:
    one = publish(_outputs(tmp_path / "o1", 1), "2026Q1", data_dir=tmp_path)
    two = publish(_outputs(tmp_path / "o2", 2), "2026Q2", data_dir=tmp_path)
    three = publish(
        _outputs(tmp_path / "o3", 3), "2026Q1", data_dir=tmp_path
    )  # a rerun: v2 of an older period
    assert one.manifest[manifest_chain.FIELD] is None  # the first of the data dir
    assert two.manifest[manifest_chain.FIELD] == {
        "ref": one.ref,
        "manifest_sha256": manifest_chain.manifest_sha256(one),
    }
    assert three.manifest[manifest_chain.FIELD]["ref"] == two.ref  # publication order, not period order
    assert manifest_chain.read_head(snapshots_dir(tmp_path)) == {
        "ref": three.ref,
        "manifest_sha256": manifest_chain.manifest_sha256(three),
    }
    code, output = verify_cli(tmp_path, "all")
    assert code == 0, output
    assert "chain" not in output


@pytest.mark.parametrize("which", ["middle", "head"])
def test_an_edited_manifest_is_detected(tmp_path: Path, which: str) -> None:
    one = publish(_outputs(tmp_path / "o1", 1), "2026Q1", data_dir=tmp_path, model_version="m1")
    two = publish(_outputs(tmp_path / "o2", 2), "2026Q2", data_dir=tmp_path, model_version="m1")
    edited = one if which == "middle" else two
    edit_manifest(edited, {"model_version": "m2"})
    code, output = verify_cli(tmp_path, edited.ref)
    assert code == 1
    assert "manifest.json: SHA-256 differs from the one" in output
    assert "(the manifest was edited)" in output
    code, output = verify_cli(tmp_path, "all")
    assert code == 1
    assert f"{edited.ref}: manifest.json SHA-256 differs" in output


def test_a_removed_snapshot_breaks_the_chain(tmp_path: Path) -> None:
    from dtsen.atomic import remove_tree

    publish(_outputs(tmp_path / "o1", 1), "2026Q1", data_dir=tmp_path)
    middle = publish(_outputs(tmp_path / "o2", 2), "2026Q2", data_dir=tmp_path)
    publish(_outputs(tmp_path / "o3", 3), "2026Q3", data_dir=tmp_path)
    remove_tree(middle.path)
    code, output = verify_cli(tmp_path, "all")
    assert code == 1
    assert "names 2026Q2/v1, which does not exist (the chain is broken)" in output
    assert "2026Q1/v1: chained, but not reached" in output


def test_snapshots_from_before_chaining_are_reported_and_the_next_publish_starts_the_chain(
    tmp_path: Path,
) -> None:
    old = publish(_outputs(tmp_path / "o1", 1), "2026Q1", data_dir=tmp_path)
    manifest = json.loads((old.path / MANIFEST).read_text(encoding="utf-8"))
    del manifest[manifest_chain.FIELD]  # as written before manifests were chained
    edit_manifest(old, {})
    (old.path / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    (snapshots_dir(tmp_path) / manifest_chain.HEAD).unlink()
    code, output = verify_cli(tmp_path, "all")
    assert code == 0, output
    assert "published before manifests were chained" in output
    assert "the next publish starts the chain" in output

    new = publish(_outputs(tmp_path / "o2", 2), "2026Q2", data_dir=tmp_path)
    assert new.manifest[manifest_chain.FIELD]["ref"] == old.ref
    code, output = verify_cli(tmp_path, "all")
    assert code == 0, output
    assert "the chain starts at 2026Q1/v1" in output
    edit_manifest(old, {"model_version": "diubah"})  # now even the unchained one is vouched for
    assert verify_cli(tmp_path, old.ref)[0] == 1


@pytest.fixture
def fresh(db_factory: Callable[[], str]) -> Iterator[Engine]:
    """A migrated serving database of its own (its audit log starts empty)."""
    from dtsen.store.db import make_engine, upgrade

    url = db_factory()
    upgrade(url)
    created = make_engine(url)
    try:
        yield created
    finally:
        created.dispose()


def test_the_chain_head_is_written_to_the_audit_log(
    tmp_path: Path, fresh: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dtsen.config import reset_settings
    from dtsen.store import audit

    url = fresh.url.render_as_string(hide_password=False)
    monkeypatch.setenv("DTSEN_DATABASE_URL", url)
    reset_settings()
    try:
        publish(_outputs(tmp_path / "o1", 1), "2026Q1", data_dir=tmp_path)
        two = publish(_outputs(tmp_path / "o2", 2), "2026Q2", data_dir=tmp_path)
        assert manifest_chain.audited_head(url) == manifest_chain.read_head(snapshots_dir(tmp_path))
        assert manifest_chain.verify_chain(snapshots_dir(tmp_path), audit_url=url) == ([], [])
        from sqlalchemy.orm import Session

        with Session(fresh) as session:
            assert audit.verify_chain(session) == []  # the audit chain itself is intact
        # rewriting the newest manifest and the head file together is still caught by the audit log
        edit_manifest(two, {"model_version": "m9"})
        head = snapshots_dir(tmp_path) / manifest_chain.HEAD
        head.write_text(json.dumps({"ref": two.ref, "manifest_sha256": manifest_chain.manifest_sha256(two)}))
        problems, _ = manifest_chain.verify_chain(snapshots_dir(tmp_path), audit_url=url)
        assert problems == [
            f"{manifest_chain.HEAD} ({two.ref}) differs from the newest head in the audit log ({two.ref})"
        ]
    finally:
        reset_settings()


KILLED_PUBLISH = textwrap.dedent(
    """
    import shutil, sys
    from pathlib import Path
    from dtsen.cycle import snapshot
    real = shutil.copyfile

    def held(src, dst):
        print("inside", flush=True)
        sys.stdin.readline()
        return real(src, dst)

    snapshot.shutil.copyfile = held
    files = {p.name: p for p in Path(sys.argv[2]).iterdir()}
    snapshot.publish(files, "2026Q1", data_dir=Path(sys.argv[1]))
    """
)


def test_a_killed_publish_leaves_staging_that_the_next_publish_removes(tmp_path: Path) -> None:
    good = publish(_outputs(tmp_path / "o1", 1), "2026Q1", data_dir=tmp_path)
    source = tmp_path / "o2"
    _outputs(source, 2)
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED_PUBLISH, str(tmp_path), str(source)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "inside"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    period = snapshots_dir(tmp_path) / "2026Q1"
    assert [p.name for p in period.iterdir() if p.name.startswith(".")] == [".v2.staging"]
    publish(_outputs(tmp_path / "o3", 3), "2026Q2", data_dir=tmp_path)  # any later publish cleans it
    assert not [p.name for p in period.iterdir() if p.name.startswith(".")]
    assert (good.path / MANIFEST).exists()
