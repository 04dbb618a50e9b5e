"""Period diff: entrants, exits and desil moves between two snapshots, each with its cause."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pytest
from polars.testing import assert_frame_equal

from dtsen.cycle.corrections import apply_corrections, read_corrections
from dtsen.cycle.diff import _digest, diff_snapshots
from dtsen.cycle.events import apply_events, read_events, sequential_ids
from dtsen.cycle.snapshot import Snapshot, publish
from dtsen.engine import Engine, get_engine
from dtsen.programs.decide import decide
from dtsen.programs.definition import load_programs
from dtsen.tables import PROVENANCE
from golden_frames import FAMILY_SCHEMA, PERSON_SCHEMA, SCORE_SCHEMA, frame, sample


def _publish(
    tmp_path: Path,
    name: str,
    persons: pl.DataFrame,
    families: pl.DataFrame,
    scores: pl.DataFrame,
    provenance: pl.DataFrame,
    period: str,
    model: str,
):
    d = tmp_path / name
    d.mkdir()
    for table, df in (
        ("persons", persons),
        ("families", families),
        ("scores", scores),
        ("provenance", provenance),
    ):
        df.write_parquet(d / f"{table}.parquet")
    programs = {c: v for c, v in load_programs().items() if c in ("pkh", "bpnt")}
    decide(d / "persons.parquet", d / "families.parquet", d / "scores.parquet", d / "out", programs=programs)
    files = {f"{t}.parquet": d / f"{t}.parquet" for t in ("persons", "families", "scores", "provenance")}
    files.update(
        {
            "eligibility.parquet": d / "out" / "eligibility.parquet",
            "programs.json": d / "out" / "programs.json",
        }
    )
    return publish(files, period, data_dir=tmp_path / "data", model_version=model)


def _every_change(tmp_path: Path) -> tuple[Snapshot, Snapshot]:
    """Q1 of the sample, and Q2 after a death, an upheld objection and a new model."""
    p, f, s = sample()
    persons, families, scores = frame(p, PERSON_SCHEMA), frame(f, FAMILY_SCHEMA), frame(s, SCORE_SCHEMA)
    q1 = _publish(tmp_path, "q1", persons, families, scores, PROVENANCE.empty(), "2026Q1", "m1")

    events = tmp_path / "e.csv"
    events.write_text(
        "id_peristiwa,jenis,tanggal_peristiwa,tanggal_lapor,nik\n"
        "E1,MATI,2026-04-02,2026-04-05,3302014101560003\n",
        encoding="utf-8",
    )
    corrections = tmp_path / "k.csv"
    corrections.write_text(
        "id_koreksi,jenis,id_keluarga_dtsen,atribut,nilai_baru,nomor_keputusan,tanggal_keputusan,petugas\n"
        "K1,sanggahan,f5,aset_mobil,tidak,BA/1,2026-05-01,PTG-1\n",
        encoding="utf-8",
    )
    cutoff = date(2026, 6, 30)
    p2, f2, ev = apply_events(persons, families, read_events(events), cutoff, new_id=sequential_ids("T"))
    p2, f2, kr = apply_corrections(p2, f2, read_corrections(corrections), cutoff, batch_id="2026Q2")
    # the new model moves f2 from desil 8 to 4 (nothing in its data changed) and f1 from 2 to 3
    s2 = scores.with_columns(
        pl.when(pl.col("id_keluarga_dtsen") == "f2")
        .then(4)
        .when(pl.col("id_keluarga_dtsen") == "f1")
        .then(3)
        .otherwise(pl.col("desil_nasional"))
        .cast(pl.Int8)
        .alias("desil_nasional"),
        pl.lit("m2").alias("versi_model"),
    )
    q2 = _publish(tmp_path, "q2", p2, f2, s2, pl.concat([ev.provenance, kr.provenance]), "2026Q2", "m2")
    return q1, q2


def test_diff_explains_every_change(tmp_path: Path) -> None:
    result = diff_snapshots(*_every_change(tmp_path))
    fam = {r["id_keluarga_dtsen"]: r for r in result.keluarga.to_dicts()}
    assert fam["f2"]["perubahan"] == "desil_naik" or fam["f2"]["perubahan"] == "desil_turun"
    assert (fam["f2"]["desil_lama"], fam["f2"]["desil_baru"], fam["f2"]["sebab_utama"]) == (8, 4, "model")
    assert fam["f1"]["sebab"] == ["model"]
    assert fam["f1"]["perubahan"] == "desil_naik"

    prog = {(r["program"], r["id_keluarga_dtsen"]): r for r in result.program.to_dicts()}
    death = prog[("pkh", "f3")]
    assert death["perubahan"] == "keluar"
    assert death["sebab_utama"] == "peristiwa"
    objection = prog[("bpnt", "f5")]  # the car objection was upheld: BPNT takes the family in
    assert objection["perubahan"] == "masuk"
    assert objection["sebab_utama"] == "koreksi"
    assert "kecuali_pemilik_mobil" in objection["alasan_lama"]
    assert "kecuali_pemilik_mobil" not in objection["alasan_baru"]
    newcomer = prog[("bpnt", "f2")]
    assert newcomer["perubahan"] == "masuk"
    assert newcomer["sebab"] == ["model"]

    summary = result.summary
    assert summary["model"] == {"lama": "m1", "baru": "m2"}
    assert summary["program"]["pkh"]["keluar"] == 1
    assert summary["program"]["pkh"]["sebab"] == {"model": 1, "peristiwa": 1}
    assert summary["program"]["bpnt"]["masuk"] == 2
    kab = result.wilayah.filter((pl.col("bagian") == "bpnt") & (pl.col("kode_kab") == "3301"))
    assert kab.select("perubahan", "sebab_utama", "jumlah").rows() == [("masuk", "koreksi", 1)]
    result.write(tmp_path / "diff")
    assert (tmp_path / "diff" / "diff.json").is_file()


def test_diff_work_table_goes_to_the_configured_work_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a cluster the executors write the diff's work table and read it back: it must be on the shared
    volume (``work_dir``), not the driver's temp dir; and it is removed afterwards."""
    from dtsen.config import reset_settings
    from dtsen.engine import DuckDBEngine

    work = tmp_path / "shared" / "scratch"
    monkeypatch.setenv("DTSEN_WORK_DIR", str(work))
    reset_settings()
    written: list[Path] = []
    original = DuckDBEngine.write_work_parquet

    def spy(self: DuckDBEngine, expr: Any, path: Path) -> None:
        written.append(path)
        original(self, expr, path)

    monkeypatch.setattr(DuckDBEngine, "write_work_parquet", spy)
    diff_snapshots(*_every_change(tmp_path), engine="duckdb")
    assert written
    assert all(work in path.parents for path in written)
    assert work.is_dir()
    assert not any(work.iterdir())


def test_no_change_no_diff(tmp_path: Path) -> None:
    p, f, s = sample()
    persons, families, scores = frame(p, PERSON_SCHEMA), frame(f, FAMILY_SCHEMA), frame(s, SCORE_SCHEMA)
    empty = PROVENANCE.empty()
    a = _publish(tmp_path, "a", persons, families, scores, empty, "2026Q1", "m1")
    b = _publish(tmp_path, "b", persons, families, scores, empty, "2026Q2", "m1")
    result = diff_snapshots(a, b)
    assert result.keluarga.is_empty()
    assert result.program.is_empty()
    assert result.summary["keluarga"]["masuk"] == 0


def _data_changes(tmp_path: Path) -> tuple[Snapshot, Snapshot]:
    """Every family moves desil under the same model; four of them also changed data, each only in a
    list column or by a value turning null or a null turning into an empty string; everyone aged."""
    p, f, s = sample()
    persons, families, scores = frame(p, PERSON_SCHEMA), frame(f, FAMILY_SCHEMA), frame(s, SCORE_SCHEMA)
    q1 = _publish(tmp_path, "q1", persons, families, scores, PROVENANCE.empty(), "2026Q1", "m1")
    pid, fid = pl.col("id_dtsen"), pl.col("id_keluarga_dtsen")
    p2 = persons.with_columns(
        pl.col("umur") + 1,  # ages are left out of the comparison
        pl.when(pid == "p13")
        .then(pl.lit(["siak", "dtks"]))
        .otherwise(pl.col("sumber_data"))
        .alias("sumber_data"),
        pl.when(pid == "p51").then(pl.lit("")).otherwise(pl.col("nama_asli")).alias("nama_asli"),
    )
    f2 = families.with_columns(
        pl.when(fid == "f2").then(None).otherwise(pl.col("konflik")).alias("konflik"),  # [] -> null
        pl.when(fid == "f4").then(None).otherwise(pl.col("alamat")).alias("alamat"),
    )
    s2 = scores.with_columns((pl.col("desil_nasional") + 1).cast(pl.Int8))
    q2 = _publish(tmp_path, "q2", p2, f2, s2, PROVENANCE.empty(), "2026Q2", "m1")
    return q1, q2


def test_data_changes_in_lists_and_nulls(tmp_path: Path) -> None:
    result = diff_snapshots(*_data_changes(tmp_path))
    causes = dict(result.keluarga.select("id_keluarga_dtsen", "sebab").iter_rows())
    assert causes == {
        "f1": ["perubahan_data"],  # a member's sumber_data gained an item
        "f2": ["perubahan_data"],  # konflik: an empty list became null
        "f3": ["pergeseran_peringkat"],  # only older
        "f4": ["perubahan_data"],  # alamat became null
        "f5": ["perubahan_data"],  # a member's nama_asli: null became an empty string
    }
    assert result.summary["keluarga"]["desil_naik"] == 5


def _digests(eng: Engine, rows: list[dict[str, Any]]) -> list[str]:
    schema = pa.schema(
        [("a", pa.string()), ("b", pa.string()), ("l", pa.list_(pa.string())), ("n", pa.list_(pa.int64()))]
    )
    t = eng.memtable(pa.Table.from_pylist([{"n": [1], **r} for r in rows], schema=schema))
    return eng.to_pyarrow(t.select(h=_digest(t))).column("h").to_pylist()


# rows a digest of joined texts could confuse: shifted boundaries, null against empty string, an empty list
# against a null one or [null], separators inside an item, nulls and numbers moving within a list
CONFUSABLE = [
    {"a": "ab", "b": "c", "l": ["x"]},
    {"a": "a", "b": "bc", "l": ["x"]},
    {"a": "a,b", "b": "c", "l": ["x"]},
    {"a": "a", "b": "b,c", "l": ["x"]},
    {"a": None, "b": "", "l": ["x"]},
    {"a": "", "b": None, "l": ["x"]},
    {"a": "", "b": "", "l": ["x"]},
    {"a": None, "b": None, "l": ["x"]},
    {"a": "a", "b": "b", "l": []},
    {"a": "a", "b": "b", "l": None},
    {"a": "a", "b": "b", "l": [None]},
    {"a": "a", "b": "b", "l": [""]},
    {"a": "a", "b": "b", "l": ["-"]},
    {"a": "a", "b": "b", "l": ["x,y"]},
    {"a": "a", "b": "b", "l": ["x", "y"]},
    {"a": "a", "b": "b", "l": ["xy"]},
    {"a": "a", "b": "b", "l": ["x", None]},
    {"a": "a", "b": "b", "l": [None, "x"]},
    {"a": "a", "b": "b1:x", "l": []},
    {"a": "a", "b": "b", "l": ["x"]},
    {"a": "a", "b": "b", "l": ["x"], "n": [1, 23]},
    {"a": "a", "b": "b", "l": ["x"], "n": [12, 3]},
    {"a": "a", "b": "b", "l": ["x"], "n": [None, 1]},
    {"a": "a", "b": "b", "l": ["x"], "n": [None]},
    {"a": "a", "b": "b", "l": ["x"], "n": None},
    {"a": "a", "b": "b", "l": ["x"], "n": []},
]


def test_digest_keeps_confusable_rows_apart() -> None:
    eng = get_engine("duckdb")
    assert len(set(_digests(eng, CONFUSABLE))) == len(CONFUSABLE)
    assert len(set(_digests(eng, CONFUSABLE[:1] * 2))) == 1


@pytest.mark.parametrize("case", [_every_change, _data_changes])
def test_spark_diff_matches_duckdb(
    tmp_path: Path, spark_engine: Engine, case: Callable[[Path], tuple[Snapshot, Snapshot]]
) -> None:
    old, new = case(tmp_path)
    duck, spark = diff_snapshots(old, new, engine="duckdb"), diff_snapshots(old, new, engine=spark_engine)
    for part in ("keluarga", "program", "wilayah"):
        assert_frame_equal(getattr(spark, part), getattr(duck, part))
    assert spark.summary == duck.summary
    assert len(set(_digests(spark_engine, CONFUSABLE))) == len(CONFUSABLE)
