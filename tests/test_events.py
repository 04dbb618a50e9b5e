"""Civil-registration events: validation with quarantine, every kind applied to the golden tables, the
cut-off, idempotence, a death removing a beneficiary at the next decision, and the at-once death report."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest

from dtsen.cycle.events import apply_events, deaths_in_snapshot, read_events, sequential_ids
from dtsen.cycle.snapshot import publish
from dtsen.programs.decide import decide
from dtsen.programs.definition import load_programs
from golden_frames import FAMILY_SCHEMA, PERSON_SCHEMA, frame, sample, write_golden

HEADER = (
    "id_peristiwa,jenis,tanggal_peristiwa,tanggal_lapor,nik,no_kk,nama,jenis_kelamin,nik_ibu,nik_pasangan,"
    "no_kk_baru,nik_anggota,kode_desa_tujuan,alamat_tujuan,rt_tujuan,rw_tujuan\n"
)
CUTOFF = date(2026, 6, 30)


def _feed(tmp_path: Path, *lines: str):
    path = tmp_path / "peristiwa.csv"
    path.write_text(HEADER + "".join(line + "\n" for line in lines), encoding="utf-8")
    return read_events(path)


def _tables():
    p, f, _ = sample()
    return frame(p, PERSON_SCHEMA), frame(f, FAMILY_SCHEMA)


def test_bad_rows_are_quarantined_with_file_line_and_column(tmp_path: Path) -> None:
    feed = _feed(
        tmp_path,
        "E1,MATI,2026-04-02,2026-04-05,3302014101560003,,,,,,,,,,,",
        "E2,MATI,2026-04-02,2026-04-05,330201410156000,,,,,,,,,,,",  # 15 digits
        "E3,ADOPSI,2026-04-02,2026-04-05,3302014101560003,,,,,,,,,,,",
        "E4,LAHIR,2026-04-02,2026-04-05,3302015004260001,,BAYI,3,3302014101850001,,,,,,,",
        "E5,PINDAH,2026-04-02,2026-04-01,,3302010101200001,,,,,,,9999999999,,,",
        "E1,MATI,2026-04-03,2026-04-05,3302010101600002,,,,,,,,,,,",
    )
    assert feed.events["id_peristiwa"].to_list() == ["E1"]
    q = {(r["baris"], r["kolom"], r["kode"]) for r in feed.quarantine.to_dicts()}
    assert (3, "nik", "nik_tidak_valid") in q
    assert (4, "jenis", "jenis_tidak_dikenal") in q
    assert (5, "jenis_kelamin", "kode_tidak_dikenal") in q
    assert (6, "tanggal_lapor", "lapor_sebelum_peristiwa") in q
    assert (6, "kode_desa_tujuan", "desa_tidak_dikenal") in q
    assert (7, "id_peristiwa", "id_ganda") in q
    assert set(feed.quarantine["berkas"]) == {"peristiwa.csv"}


def test_death_updates_person_and_reassigns_head(tmp_path: Path) -> None:
    persons, families = _tables()
    feed = _feed(tmp_path, "E1,MATI,2026-04-02,2026-04-05,3302010101600002,,,,,,,,,,,")
    p, f, report = apply_events(persons, families, feed, CUTOFF, new_id=sequential_ids("T"))
    dead = p.filter(pl.col("id_dtsen") == "p21").to_dicts()[0]
    assert (dead["status_hidup"], dead["tanggal_meninggal"], dead["status_padan"]) == (
        False,
        date(2026, 4, 2),
        5,
    )
    f2 = f.filter(pl.col("id_keluarga_dtsen") == "f2").to_dicts()[0]
    assert f2["id_kepala"] == "p22"
    assert f2["jumlah_anggota"] == 1
    assert p.filter(pl.col("id_dtsen") == "p22")["hubungan"].item() == 1
    prov = report.provenance.filter(pl.col("id") == "p21")
    assert set(prov["atribut"]) >= {"status_hidup", "tanggal_meninggal"}
    assert set(prov["sumber"]) == {"peristiwa_dukcapil"}
    assert set(prov["tanggal_data"]) == {date(2026, 4, 5)}
    again = apply_events(p, f, feed, CUTOFF, new_id=sequential_ids("T"))[2]
    assert again.outcomes["status"].to_list() == ["sudah_diterapkan"]
    assert again.provenance.is_empty()


def test_birth_move_marriage_and_split(tmp_path: Path) -> None:
    persons, families = _tables()
    feed = _feed(
        tmp_path,
        "E1,LAHIR,2026-04-10,2026-04-20,3302015004260009,,AYU LESTARI,2,3302014101850001,,,,,,,",
        "E2,PINDAH,2026-05-01,2026-05-03,,3302010101200003,,,,,,,3302012002,JL. MELATI 4,5,2",
        "E3,KAWIN,2026-05-05,2026-05-06,3302010101800004,,,,,3302014101620002,3302010505260001,,,,,",
        "E4,PISAH_KK,2026-05-07,2026-05-08,,3302010101200001,,,,,3302010705260001,3302010101150001;3302010101100001,,,,",
        "E5,MATI,2026-06-20,2026-07-03,3302010101800001,,,,,,,,,,,",  # registered after the cut-off
    )
    ids = sequential_ids("T")
    p, f, report = apply_events(persons, families, feed, CUTOFF, new_id=ids)
    status = dict(zip(report.outcomes["id_peristiwa"], report.outcomes["status"], strict=True))
    assert status == {
        "E1": "diterapkan",
        "E2": "diterapkan",
        "E3": "diterapkan",
        "E4": "diterapkan",
        "E5": "ditunda",
    }
    baby = p.filter(pl.col("nik") == "3302015004260009").to_dicts()[0]
    assert baby["id_dtsen"] == "TP000001"
    assert baby["id_keluarga_dtsen"] == "f1"
    assert baby["hubungan"] == 3
    assert baby["umur"] == 0
    assert baby["nama_ibu_kandung"] == "NAMA p12"
    moved = f.filter(pl.col("id_keluarga_dtsen") == "f3").to_dicts()[0]
    assert (moved["kode_desa"], moved["kode_kec"], moved["alamat"], moved["rt"]) == (
        "3302012002",
        "330201",
        "JL. MELATI 4",
        "005",
    )
    assert p.filter(pl.col("id_dtsen") == "p31")["kode_desa"].item() == "3302012002"
    couple = f.filter(pl.col("no_kk") == "3302010505260001").to_dicts()[0]
    assert couple["id_kepala"] == "p41"
    # p42 (10) was p41's child in f4: a child left with no adult follows the parent to the new card
    assert set(p.filter(pl.col("id_keluarga_dtsen") == couple["id_keluarga_dtsen"])["id_dtsen"]) == {
        "p41",
        "p22",
        "p42",
    }
    assert p.filter(pl.col("id_dtsen") == "p22")["status_kawin"].item() == 2
    split = f.filter(pl.col("no_kk") == "3302010705260001").to_dicts()[0]
    assert split["lantai"] == 6
    assert split["kode_desa"] == "3302012001"
    assert sorted(p.filter(pl.col("id_keluarga_dtsen") == split["id_keluarga_dtsen"])["id_dtsen"]) == [
        "p13",
        "p15",
    ]
    lineage = report.lineage.to_dicts()
    assert {(x["id_lama"], x["jenis"]) for x in lineage} == {
        ("f4", "pisah"),
        ("f1", "pisah"),
        ("f4", "pensiun"),
    }
    assert "f4" not in f["id_keluarga_dtsen"].to_list()  # emptied: retired, not published
    assert f.filter(pl.col("id_keluarga_dtsen") == "f1")["jumlah_anggota"].item() == 5  # 6 + baby - 2
    assert report.summary()["new_persons"] == 1
    assert report.summary()["new_families"] == 2
    assert p.height == persons.height + 1
    assert f.height == families.height + 2 - 1
    assert report.summary()["retired_families"] == 1
    assert p.schema == persons.schema
    assert f.schema == families.schema


def test_unknown_subjects_are_rejected_not_lost(tmp_path: Path) -> None:
    persons, families = _tables()
    feed = _feed(
        tmp_path,
        "E1,MATI,2026-04-02,2026-04-05,3302010101800099,,,,,,,,,,,",
        "E2,PISAH_KK,2026-05-07,2026-05-08,,3302010101200002,,,,,3302010705260002,3302010101150001,,,,",
    )
    p, _, report = apply_events(persons, families, feed, CUTOFF, new_id=sequential_ids("T"))
    assert report.outcomes.select("status", "alasan").rows() == [
        ("ditolak", "nik_tidak_ditemukan"),
        ("ditolak", "anggota_bukan_keluarga_asal"),
    ]
    assert p.equals(persons)


def test_a_death_removes_a_beneficiary_at_the_next_decide(tmp_path: Path) -> None:
    programs = {c: v for c, v in load_programs().items() if c in ("pkh", "pbi_jk")}
    p, f, s = sample()
    before = write_golden(tmp_path / "q1", p, f, s)
    decide(*before, tmp_path / "q1" / "out", programs=programs)
    q1 = pl.read_parquet(tmp_path / "q1" / "out" / "beneficiaries" / "pkh.parquet")
    assert "f3" in q1["id_keluarga_dtsen"].to_list()

    feed = _feed(
        tmp_path,
        "E1,MATI,2026-04-02,2026-04-05,3302014101560003,,,,,,,,,,,",
        "E2,MATI,2026-04-09,2026-04-12,3302014101850001,,,,,,,,,,,",
    )
    persons, families = frame(p, PERSON_SCHEMA), frame(f, FAMILY_SCHEMA)
    p2, f2, _ = apply_events(persons, families, feed, CUTOFF, new_id=sequential_ids("T"))
    (tmp_path / "q2").mkdir()
    p2.write_parquet(tmp_path / "q2" / "persons.parquet")
    f2.write_parquet(tmp_path / "q2" / "families.parquet")
    decide(
        tmp_path / "q2" / "persons.parquet",
        tmp_path / "q2" / "families.parquet",
        before[2],
        tmp_path / "q2" / "out",
        programs=programs,
    )
    pkh = pl.read_parquet(tmp_path / "q2" / "out" / "beneficiaries" / "pkh.parquet")
    assert "f3" not in pkh["id_keluarga_dtsen"].to_list()  # the widow of 70 died: her family is out
    assert pkh.filter(pl.col("id_keluarga_dtsen") == "f1")["komponen"].to_list()[0] == [
        "anak_usia_dini",
        "lanjut_usia",
        "sd",
        "smp",
    ]
    pbi = pl.read_parquet(tmp_path / "q2" / "out" / "beneficiaries" / "pbi_jk.parquet")
    assert "p12" not in pbi["id_dtsen"].to_list()
    assert "p31" not in pbi["id_dtsen"].to_list()
    # f3's only member died: the family is retired (lineage pensiun), so nothing is decided for it
    assert "f3" not in f2["id_keluarga_dtsen"].to_list()
    assert p2.filter(pl.col("id_dtsen") == "p31")["id_keluarga_dtsen"].item() == "f3"  # her last family
    elig = pl.read_parquet(tmp_path / "q2" / "out" / "eligibility.parquet")
    assert elig.filter(pl.col("id_keluarga_dtsen") == "f3").is_empty()


def test_deaths_in_snapshot_reports_beneficiaries_at_once(tmp_path: Path) -> None:
    programs = {c: v for c, v in load_programs().items() if c in ("pkh", "pbi_jk")}
    p, f, s = sample()
    paths = write_golden(tmp_path / "in", p, f, s)
    decide(*paths, tmp_path / "out", programs=programs)
    snapshot = publish(
        {
            "persons.parquet": paths[0],
            "families.parquet": paths[1],
            "scores.parquet": paths[2],
            "eligibility.parquet": tmp_path / "out" / "eligibility.parquet",
            "beneficiaries": tmp_path / "out" / "beneficiaries",
        },
        "2026Q1",
        data_dir=tmp_path,
    )
    feed = _feed(
        tmp_path,
        "E1,MATI,2026-04-02,2026-04-05,3302014101560003,,,,,,,,,,,",
        "E2,MATI,2026-04-02,2026-04-05,3302014101620002,,,,,,,,,,,",
    )
    report = deaths_in_snapshot(snapshot, feed)
    rows = {(r["id_dtsen"], r["program"], r["peran"]) for r in report.to_dicts()}
    # p31 heads a PKH family and is a PBI-JK member; p22 (f2) is not covered: only her husband is kept
    assert rows == {("p31", "pkh", "kepala"), ("p31", "pbi_jk", "penerima")}


def test_synthetic_feeds_are_deterministic_and_valid(tmp_path: Path) -> None:
    from dtsen.cycle.corrections import apply_corrections, read_corrections
    from dtsen.programs.benchmark import golden_from_truth
    from dtsen.synth.events import generate_corrections, generate_events
    from dtsen.synth.generate import SynthRequest, generate

    synth = tmp_path / "synth"
    generate(SynthRequest(persons=1500, out=synth, seed=5, kabupaten=["3302"], workers=1))
    a = generate_events(synth, tmp_path / "a.csv", seed=2)
    b = generate_events(synth, tmp_path / "b.csv", seed=2)
    assert a.read_bytes() == b.read_bytes()
    feed = read_events(a)
    assert {"MATI", "LAHIR"} <= set(feed.events["jenis"])
    assert feed.quarantine["kode"].is_in(["nik_tidak_valid"]).all()  # only the deliberate typos
    assert feed.events["tanggal_peristiwa"].min() >= date(2026, 4, 1)
    assert feed.events["tanggal_peristiwa"].max() <= date(2026, 6, 30)

    persons_path, families_path, _ = golden_from_truth(synth, tmp_path / "golden")
    persons, families = pl.read_parquet(persons_path), pl.read_parquet(families_path)
    # the vehicle registry still names some families as owners of a car they sold
    families = families.with_columns(
        (pl.col("aset_mobil") | (pl.int_range(pl.len()) % 40 == 0)).alias("aset_mobil")
    )
    families.write_parquet(families_path)
    applied = apply_events(persons, families, feed, CUTOFF, new_id=sequential_ids("S"))[2]
    assert applied.outcomes.filter(pl.col("status") == "ditolak").is_empty()  # the feed is true of the truth
    c1 = generate_corrections(synth, families_path, tmp_path / "k1.csv", seed=2)
    c2 = generate_corrections(synth, families_path, tmp_path / "k2.csv", seed=2)
    assert c1.read_bytes() == c2.read_bytes()
    corrections = read_corrections(c1)
    assert corrections.quarantine.is_empty()
    assert corrections.corrections.height > 0
    assert {"ground_check", "sanggahan"} <= set(corrections.corrections["jenis"])
    _, _, report = apply_corrections(persons, families, corrections, CUTOFF)
    assert set(report.outcomes["status"]) <= {"diterapkan", "sudah_diterapkan"}


@pytest.mark.parametrize("missing", ["jenis", "tanggal_lapor"])
def test_missing_required_column_names_the_file(tmp_path: Path, missing: str) -> None:
    path = tmp_path / "x.csv"
    cols = [c for c in HEADER.strip().split(",") if c != missing]
    path.write_text(",".join(cols) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=rf"x\.csv: missing column\(s\) {missing}"):
        read_events(path)
