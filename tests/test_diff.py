"""Period diff: entrants, exits and desil moves between two snapshots, each with its cause."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl

from dtsen.cycle.corrections import apply_corrections, read_corrections
from dtsen.cycle.diff import diff_snapshots
from dtsen.cycle.events import apply_events, read_events, sequential_ids
from dtsen.cycle.snapshot import publish
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


def test_diff_explains_every_change(tmp_path: Path) -> None:
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

    result = diff_snapshots(q1, q2)
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
