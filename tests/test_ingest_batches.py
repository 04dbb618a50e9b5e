"""Batches: published atomically or not at all, files landed immutably, the same content never twice.

One module-scoped batch of two files is the "earlier batch" the other tests must leave intact.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import stat
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import yaml

from dtsen.sources import ingest as ingest_module
from dtsen.sources.ingest import IngestError, batches_dir, committed_batches, ingest
from dtsen.sources.mapping import Mapping, load_mapping

FILE_A = "IDDTKS,NAMA\n1,BUDI\n2,SITI\n3,\n"  # line 4: no NAMA (quarantined)
FILE_B = "IDDTKS;NAMA\r\n10;ANI\r\n11;DEWI\r\n"


def make_mapping(directory: Path, name: str = "uji") -> Mapping:
    directory.mkdir(parents=True, exist_ok=True)
    spec = {
        "source": "dtks",
        "entity": "anggota",
        "record_id": "IDDTKS",
        "observed": date(2023, 12, 31),
        "read": {"delimiter": "auto", "encoding": "auto"},
        "fields": {
            "id_anggota_sumber": {"from": "IDDTKS", "required": True},
            "nama": {"from": "NAMA", "type": "name", "required": True},
        },
    }
    path = directory / f"{name}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return load_mapping(path)


def write(path: Path, content: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content.encode("utf-8"))
    return path


def snapshot(data_dir: Path) -> dict[str, str]:
    """Every path under batches/ (hidden ones included) with the sha256 of each file."""
    root = batches_dir(data_dir)
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
        for p in sorted(root.rglob("*"))
    }


def manifest(directory: Path) -> dict[str, Any]:
    return json.loads((directory / "manifest.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def earlier(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("batches")
    m = make_mapping(root / "mappings")
    paths = [write(root / "in" / "dtks_a.csv", FILE_A), write(root / "in" / "dtks_b.csv", FILE_B)]
    result = ingest(m, paths, data_dir=root / "data", batch="2024-01.dtks_awal", actor="uji")
    assert result.status == "committed"
    return {"root": root, "data": root / "data", "mapping": m, "paths": paths, "result": result}


# --- manifest and landing ----------------------------------------------------------------------------


def test_manifest_lists_files_and_landed_copies_are_read_only_and_identical(earlier: dict[str, Any]) -> None:
    result = earlier["result"]
    directory: Path = result.directory
    assert directory == batches_dir(earlier["data"]) / "2024-01.dtks_awal"
    assert result.batch_id == "2024-01.dtks_awal"
    meta = manifest(directory)
    assert meta["batch_id"] == "2024-01.dtks_awal"
    assert meta["mapping"] == "uji"
    assert meta["actor"] == "uji"
    assert meta["status"] == "committed"
    assert meta["rows"] == {"read": 5, "accepted": 4, "rejected": 1}
    expected_rows = {"dtks_a.csv": 3, "dtks_b.csv": 2}
    assert [f["name"] for f in meta["files"]] == ["dtks_a.csv", "dtks_b.csv"]
    for entry, source in zip(meta["files"], earlier["paths"], strict=True):
        content = source.read_bytes()
        assert entry["sha256"] == hashlib.sha256(content).hexdigest()
        assert entry["bytes"] == len(content)
        assert entry["rows"] == expected_rows[entry["name"]]
        landed = directory / entry["landed"]
        assert landed.parent == directory / "landing"
        assert landed.name.endswith("__" + entry["name"])
        assert landed.read_bytes() == content
        assert landed.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH) == 0
    assert [f["delimiter"] for f in meta["files"]] == [",", ";"]
    for output in meta["outputs"].values():
        assert (directory / output).is_file()
    assert json.loads((directory / "report.json").read_text(encoding="utf-8")) == result.report
    assert (directory / "report.html").is_file()
    assert not (directory / "work").exists()
    canonical = pl.read_parquet(directory / "canonical" / "anggota.parquet")
    assert canonical.select("berkas", "baris").sort("berkas", "baris").rows() == [
        ("dtks_a.csv", 2),
        ("dtks_a.csv", 3),
        ("dtks_b.csv", 2),
        ("dtks_b.csv", 3),
    ]
    assert set(canonical["batch_id"].to_list()) == {"2024-01.dtks_awal"}
    quarantine = pl.read_parquet(directory / "quarantine.parquet")
    assert quarantine.select("berkas", "baris", "kolom", "atribut", "kode").rows() == [
        ("dtks_a.csv", 4, "NAMA", "nama", "nama_missing")
    ]
    assert "2024-01.dtks_awal" in [m["batch_id"] for m in committed_batches(earlier["data"])]


# --- the same content twice --------------------------------------------------------------------------


def test_same_content_again_is_a_noop_that_says_so(earlier: dict[str, Any]) -> None:
    before = snapshot(earlier["data"])
    result = ingest(earlier["mapping"], earlier["paths"], data_dir=earlier["data"])
    assert result.status == "noop"
    assert result.directory is None
    assert result.notes == [
        "dtks_a.csv: already landed in batch 2024-01.dtks_awal (same content); skipped",
        "dtks_b.csv: already landed in batch 2024-01.dtks_awal (same content); skipped",
    ]
    assert snapshot(earlier["data"]) == before


def test_same_content_under_another_name_is_skipped(earlier: dict[str, Any], tmp_path: Path) -> None:
    renamed = shutil.copyfile(earlier["paths"][0], tmp_path / "dtks_salinan.csv")
    before = snapshot(earlier["data"])
    result = ingest(earlier["mapping"], [renamed], data_dir=earlier["data"])
    assert result.status == "noop"
    assert result.notes == [
        "dtks_salinan.csv: already landed in batch 2024-01.dtks_awal (same content); skipped"
    ]
    assert snapshot(earlier["data"]) == before

    # within one batch: the second copy is skipped, a file landed before is skipped, the new one is landed
    new = write(tmp_path / "dtks_baru.csv", "IDDTKS,NAMA\n20,EKO\n")
    copy = shutil.copyfile(new, tmp_path / "dtks_baru_lagi.csv")
    result = ingest(earlier["mapping"], [renamed, new, copy], data_dir=earlier["data"], batch="campuran")
    assert result.status == "committed"
    assert result.notes == [
        "dtks_salinan.csv: already landed in batch 2024-01.dtks_awal (same content); skipped",
        "dtks_baru_lagi.csv: same content as dtks_baru.csv in this batch; skipped",
    ]
    assert result.directory is not None
    assert [f["name"] for f in manifest(result.directory)["files"]] == ["dtks_baru.csv"]
    assert result.report["rows_read"] == 1
    assert all(note in result.report["notes"] for note in result.notes)
    assert sorted(p.name for p in (result.directory / "landing").iterdir()) == [
        f"{hashlib.sha256(new.read_bytes()).hexdigest()[:16]}__dtks_baru.csv"
    ]


# --- failures publish nothing ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "crash", [RuntimeError("disk full"), KeyboardInterrupt()], ids=["error", "interrupt"]
)
def test_crash_mid_batch_publishes_nothing(
    earlier: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, crash: BaseException
) -> None:
    kind = type(crash).__name__  # each run its own content (and batch name): nothing is a duplicate
    first = write(tmp_path / "dtks_satu.csv", f"IDDTKS,NAMA\n30,FAJAR {kind}\n")
    second = write(tmp_path / "dtks_dua.csv", f"IDDTKS,NAMA\n31,GITA {kind}\n")
    real = ingest_module._conform_file
    calls: list[str] = []

    def conform_then_crash(*args: Any) -> Path:
        calls.append(args[3].berkas)  # (engine, mapping, ctx, staged, work)
        if len(calls) == 2:
            raise crash
        return real(*args)

    monkeypatch.setattr(ingest_module, "_conform_file", conform_then_crash)
    before = snapshot(earlier["data"])
    with pytest.raises(type(crash)):
        ingest(earlier["mapping"], [first, second], data_dir=earlier["data"], batch=f"gagal-{kind}")
    assert calls == ["dtks_satu.csv", "dtks_dua.csv"]  # the first file was landed and conformed
    assert snapshot(earlier["data"]) == before  # no staging dir, no batch, earlier batch byte-identical
    assert not [p for p in batches_dir(earlier["data"]).iterdir() if p.name.startswith(".")]  # no staging

    monkeypatch.setattr(ingest_module, "_conform_file", real)
    retry = ingest(earlier["mapping"], [first], data_dir=earlier["data"], batch=f"gagal-{kind}")
    assert retry.status == "committed"  # the crash recorded nothing: the file landed before it ingests again
    assert retry.notes == []


@pytest.mark.parametrize(
    "name",
    ["", "../luar", "a/b", ".tersembunyi", "-awal", "dengan spasi", "baris\n", "x" * 82, "ümlaut", "a\\b"],
)
def test_batch_name_validation(tmp_path: Path, name: str) -> None:
    m = make_mapping(tmp_path)
    path = write(tmp_path / "dtks_a.csv", FILE_A)
    with pytest.raises(IngestError, match="batch name"):
        ingest(m, [path], data_dir=tmp_path / "data", batch=name)
    assert not batches_dir(tmp_path / "data").exists() or not any(batches_dir(tmp_path / "data").iterdir())


def test_batch_name_in_use_is_refused(earlier: dict[str, Any], tmp_path: Path) -> None:
    path = write(tmp_path / "dtks_lain.csv", "IDDTKS,NAMA\n40,HANA\n")
    before = snapshot(earlier["data"])
    with pytest.raises(IngestError, match=r"batch 2024-01\.dtks_awal already exists"):
        ingest(earlier["mapping"], [path], data_dir=earlier["data"], batch="2024-01.dtks_awal")
    assert snapshot(earlier["data"]) == before


def test_missing_input_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(IngestError, match=r"dtks_tidak_ada\.csv: no such file"):
        ingest(make_mapping(tmp_path), [tmp_path / "dtks_tidak_ada.csv"], data_dir=tmp_path / "data")
    with pytest.raises(IngestError, match="no files given"):
        ingest(make_mapping(tmp_path), [], data_dir=tmp_path / "data")
    assert not batches_dir(tmp_path / "data").exists()
