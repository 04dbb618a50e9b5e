"""Programs as data: PKH amounts and the 4-person cap, PBI-JK's chronic patients, exclusion reason codes,
flag lists, quotas, outputs limited to each program's fields, and a new program added by a file."""

from __future__ import annotations

import hashlib
import shutil
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from dtsen.programs.decide import DecideError, decide
from dtsen.programs.definition import ProgramError, definitions_dir, load_program, load_programs
from dtsen.programs.flags import FlagListError, load_flag_list
from golden_frames import person, sample, write_golden


def _decide(tmp_path: Path, persons=None, families=None, scores=None, **kw) -> tuple[Path, pl.DataFrame]:
    p, f, s = sample()
    paths = write_golden(tmp_path / "in", persons or p, families or f, scores or s)
    out = tmp_path / "out"
    decide(*paths, out, **kw)
    return out, pl.read_parquet(out / "eligibility.parquet")


def only(*codes: str) -> dict:
    """Just these shipped programs (each program costs a few seconds of query compilation)."""
    return {c: v for c, v in load_programs().items() if c in codes}


def _row(elig: pl.DataFrame, program: str, fid: str) -> dict:
    rows = elig.filter((pl.col("program") == program) & (pl.col("id_keluarga_dtsen") == fid)).to_dicts()
    assert len(rows) == 1
    return rows[0]


@pytest.fixture(scope="module")
def decided(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pl.DataFrame]:
    return _decide(tmp_path_factory.mktemp("decide"))


def test_shipped_programs_load() -> None:
    programs = load_programs()
    assert set(programs) == {"pkh", "bpnt", "pbi_jk", "blt_kesra", "pip"}
    pkh = programs["pkh"][0]
    assert {c.code: c.amount for c in pkh.components} == {
        "ibu_hamil": 3_000_000,
        "anak_usia_dini": 3_000_000,
        "sd": 900_000,
        "smp": 1_500_000,
        "sma": 2_000_000,
        "disabilitas_berat": 2_400_000,
        "lanjut_usia": 2_400_000,
    }
    assert (pkh.max_persons, pkh.payments_per_year, pkh.target.max) == (4, 4, 4)
    assert programs["blt_kesra"][0].family_amount == 900_000
    assert programs["pbi_jk"][0].target.max == 5


def test_pkh_amounts_and_four_person_cap(decided: tuple[Path, pl.DataFrame]) -> None:
    out, elig = decided
    row = _row(elig, "pkh", "f1")
    # six components; the four highest count: pregnant 3.0M + child 0-6 3.0M + elderly 2.4M + SMP 1.5M
    assert row["layak"]
    assert row["jumlah_penerima"] == 4
    assert row["nilai_tahunan"] == 3_000_000 + 3_000_000 + 2_400_000 + 1_500_000
    assert "batas_4_orang" in row["alasan"]
    assert "komponen_sd" not in row["alasan"]
    listed = pl.read_parquet(out / "beneficiaries" / "pkh.parquet").to_dicts()
    assert [r["id_keluarga_dtsen"] for r in listed] == ["f1", "f3"]
    f1 = listed[0]
    assert f1["nilai_per_tahap"] == f1["nilai_tahunan"] // 4
    assert f1["komponen"] == ["anak_usia_dini", "ibu_hamil", "lanjut_usia", "smp"]
    assert f1["nama_kepala"] == "NAMA p11"
    assert _row(elig, "pkh", "f3")["nilai_tahunan"] == 2_400_000


def test_pbi_jk_keeps_catastrophic_patients_outside_desil(decided: tuple[Path, pl.DataFrame]) -> None:
    out, elig = decided
    kept = _row(elig, "pbi_jk", "f2")
    assert kept["layak"]
    assert "desil_di_luar" in kept["alasan"]
    assert "pertahankan_penyakit_katastropik" in kept["alasan"]
    assert kept["jumlah_penerima"] == 1
    assert kept["nilai_tahunan"] == 504_000
    listed = pl.read_parquet(out / "beneficiaries" / "pbi_jk.parquet")
    assert "p21" in listed["id_dtsen"].to_list()
    assert "p22" not in listed["id_dtsen"].to_list()
    assert listed.filter(pl.col("id_dtsen") == "p21")["komponen"].item() == "penyakit_katastropik"
    assert _row(elig, "pbi_jk", "f1")["jumlah_penerima"] == 6  # desil 2: every living member


def test_pbi_jk_without_catastrophic_disease_is_out(tmp_path: Path) -> None:
    p, _f, _s = sample()
    p = [r if r["id_dtsen"] != "p21" else {**r, "penyakit_kronis": 1} for r in p]  # hypertension only
    _, elig = _decide(tmp_path, persons=p, programs=only("pbi_jk"))
    row = _row(elig, "pbi_jk", "f2")
    assert not row["layak"]
    assert row["alasan"] == ["desil_di_luar"]


def test_exclusions_are_reason_codes_never_silent(decided: tuple[Path, pl.DataFrame]) -> None:
    _, elig = decided
    pns = _row(elig, "pkh", "f4")
    assert not pns["layak"]
    assert {"desil_masuk", "komponen_sd", "kecuali_asn_tni_polri", "kecuali_pemilik_mobil"} <= set(
        pns["alasan"]
    )
    car = _row(elig, "bpnt", "f5")
    assert not car["layak"]
    assert "kecuali_pemilik_mobil" in car["alasan"]
    review = _row(elig, "pbi_jk", "f5")  # PBI-JK sends car owners to review instead of dropping them
    assert review["layak"]
    assert "tinjau_pemilik_mobil" in review["alasan"]
    assert elig.height == 5 * 5  # every family x program has a row, eligible or not
    assert elig.filter(pl.col("alasan").list.len() == 0).is_empty()


def test_dead_persons_never_count(tmp_path: Path) -> None:
    p, _f, _s = sample()
    dead = {  # two ways a death shows: the flag without a date, and a date whose flag was never updated
        "p31": {"status_hidup": False, "tanggal_meninggal": None},
        "p12": {"status_hidup": True, "tanggal_meninggal": date(2026, 2, 1)},
    }
    p = [{**r, **dead.get(r["id_dtsen"], {})} for r in p]
    out, elig = _decide(tmp_path, persons=p, programs=only("pkh", "pbi_jk"))
    alone = _row(elig, "pkh", "f3")
    assert not alone["layak"]
    assert "tanpa_anggota_hidup" in alone["alasan"]
    f1 = _row(elig, "pkh", "f1")  # the pregnant mother died: the next four count
    assert f1["nilai_tahunan"] == 3_000_000 + 2_400_000 + 1_500_000 + 900_000
    assert "p12" not in pl.read_parquet(out / "beneficiaries" / "pbi_jk.parquet")["id_dtsen"].to_list()


def test_flag_list_by_nik_and_kk(tmp_path: Path) -> None:
    flags = tmp_path / "ppatk.csv"
    flags.write_text("nik,no_kk\n3302014101560003,\n,3302010101200001\n", encoding="utf-8")
    _out, elig = _decide(tmp_path, flag_lists=[flags], programs=only("blt_kesra"))
    for fid in ("f1", "f3"):
        row = _row(elig, "blt_kesra", fid)
        assert not row["layak"]
        assert "kecuali_ppatk" in row["alasan"]
    assert _row(elig, "blt_kesra", "f2")["alasan"] == ["desil_di_luar"]
    bad = tmp_path / "bad.csv"
    bad.write_text("nik\n3302014101560003\n12345\n", encoding="utf-8")
    with pytest.raises(FlagListError, match=r"bad\.csv: 1 bad row\(s\): line 3, nik"):
        load_flag_list(bad)


def test_regional_quota_keeps_the_poorest(tmp_path: Path) -> None:
    programs = tmp_path / "programs"
    programs.mkdir()
    text = (definitions_dir() / "blt_kesra.yaml").read_text(encoding="utf-8")
    (programs / "blt_kesra.yaml").write_text(text + "quota: {level: kode_kab}\n", encoding="utf-8")
    p, f, _s = sample()
    p = [r if r["id_dtsen"] != "p41" else {**r, "pekerjaan_siak": 1} for r in p]
    f = [r if r["id_keluarga_dtsen"] != "f4" else {**r, "aset_mobil": False} for r in f]
    _, elig = _decide(tmp_path, persons=p, families=f, programs=programs, quotas={"blt_kesra": {"3302": 2}})
    # 3302 has three eligible families (f1 rank 10, f3 rank 1, f4 rank 20): f4 is beyond the quota
    assert [_row(elig, "blt_kesra", x)["layak"] for x in ("f1", "f3", "f4")] == [True, True, False]
    assert "di_luar_kuota" in _row(elig, "blt_kesra", "f4")["alasan"]
    with pytest.raises(DecideError, match="unknown program"):
        _decide(tmp_path / "x", programs=programs, quotas={"nope": {"3302": 1}})


def test_budget_totals_by_region(decided: tuple[Path, pl.DataFrame]) -> None:
    out, elig = decided
    budget = pl.read_parquet(out / "budget.parquet")
    eligible = elig.filter(pl.col("layak"))
    for program in ("pkh", "pbi_jk", "pip", "bpnt", "blt_kesra"):
        national = budget.filter((pl.col("program") == program) & (pl.col("tingkat") == "nasional"))
        expect = eligible.filter(pl.col("program") == program)["nilai_tahunan"].sum()
        assert national["nilai_tahunan"].item() == expect
        kab = budget.filter((pl.col("program") == program) & (pl.col("tingkat") == "kabkota"))
        assert kab["nilai_tahunan"].sum() == expect
    assert (
        budget.filter((pl.col("program") == "pbi_jk") & (pl.col("kode_kab") == "3301"))["keluarga"].item()
        == 1
    )


def test_beneficiary_lists_carry_only_the_program_fields(decided: tuple[Path, pl.DataFrame]) -> None:
    out, _ = decided
    for code, (program, _) in load_programs().items():
        listed = pl.read_parquet(out / "beneficiaries" / f"{code}.parquet")
        assert listed.columns == program.list_fields
    blt = pl.read_parquet(out / "beneficiaries" / "blt_kesra.parquet")
    assert "desil_nasional" not in blt.columns
    assert "nik" not in blt.columns


def test_a_new_program_is_a_new_file(tmp_path: Path) -> None:
    programs = tmp_path / "programs"
    programs.mkdir()
    shutil.copy(definitions_dir() / "pkh.yaml", programs)
    (programs / "atensi_lansia.yaml").write_text(
        "name: ATENSI lanjut usia\ntarget: {desil: desil_kabkota, max: 3}\nbenefit: components\n"
        "components:\n  - {code: lansia_70, label: Lansia 70+, when: {field: umur, min: 70}, "
        "amount: 2700000}\n"
        "exclusions: [asn_tni_polri]\nunit: orang\nlist_fields: [id_dtsen, nama, kode_desa, nilai_tahunan]\n",
        encoding="utf-8",
    )
    out, elig = _decide(tmp_path, programs=programs)
    assert set(elig["program"].unique()) == {"pkh", "atensi_lansia"}
    listed = pl.read_parquet(out / "beneficiaries" / "atensi_lansia.parquet")
    assert listed.to_dicts() == [
        {"id_dtsen": "p16", "nama": "NAMA p16", "kode_desa": "3302012001", "nilai_tahunan": 2_700_000},
        {"id_dtsen": "p31", "nama": "NAMA p31", "kode_desa": "3302012001", "nilai_tahunan": 2_700_000},
    ]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("when: {field: umurr, min: 60}", r"components\[0\]\.when: unknown anggota column 'umurr'"),
        ("when: {field: pekerjaan_siak, in: [5, 99]}", r"99 is not a code of PekerjaanSIAK"),
        ("when: {field: hamil, eq: 1}", r"hamil is true/false"),
        (
            "when: {field: aset_mobil, eq: true}",
            r"unknown anggota column 'aset_mobil' \(it is a keluarga column\)",
        ),
        ("when: {field: umur, min: 1, eq: 3}", r"give exactly one of eq, in, min/max, is_null"),
    ],
)
def test_bad_definitions_name_file_and_field(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "uji.yaml"
    path.write_text(
        "name: Uji\ntarget: {max: 4}\nbenefit: components\n"
        f"components:\n  - code: a\n    label: A\n    {body}\n    amount: 1\n"
        "list_fields: [id_keluarga_dtsen]\n",
        encoding="utf-8",
    )
    with pytest.raises(ProgramError, match=rf"uji\.yaml: .*{message}"):
        load_program(path)


def test_unknown_exclusion_and_list_field(tmp_path: Path) -> None:
    path = tmp_path / "uji.yaml"
    path.write_text(
        "name: Uji\ntarget: {max: 4}\nbenefit: family\nfamily_amount: 1\nexclusions: [judi]\n"
        "list_fields: [id_keluarga_dtsen]\n",
        encoding="utf-8",
    )
    with pytest.raises(ProgramError, match="'judi' is not in the exclusion catalog"):
        load_program(path)
    path.write_text(
        "name: Uji\ntarget: {max: 4}\nbenefit: family\nfamily_amount: 1\n"
        "list_fields: [id_keluarga_dtsen, nik]\n",
        encoding="utf-8",
    )
    with pytest.raises(
        ProgramError, match=r"list_fields\[1\]: 'nik' is not a field a keluarga list can carry"
    ):
        load_program(path)


def test_missing_input_column_is_a_clear_error(tmp_path: Path) -> None:
    p, f, s = sample()
    paths = write_golden(tmp_path / "in", p, f, s)
    pl.read_parquet(paths[0]).drop("pekerjaan_siak").write_parquet(paths[0])
    with pytest.raises(DecideError, match=r"persons \(program \w+\) lacks column\(s\) pekerjaan_siak"):
        decide(*paths, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_outputs_are_deterministic_and_replaced_whole(tmp_path: Path) -> None:
    p, f, s = sample()
    paths = write_golden(tmp_path / "in", p, f, s)
    digests = []
    for _ in range(2):
        decide(*paths, tmp_path / "out", programs=only("pkh", "pbi_jk"))
        files = sorted((tmp_path / "out").rglob("*.parquet"))
        digests.append(
            {x.relative_to(tmp_path).as_posix(): hashlib.sha256(x.read_bytes()).hexdigest() for x in files}
        )
    assert digests[0] == digests[1]
    assert sorted(x.name for x in tmp_path.iterdir()) == ["in", "out"]  # no staging left behind


def test_person_factory_matches_contract() -> None:
    row = person("p", "f", "3302010101800001", 30)
    assert row["status_hidup"] is True
    assert row["umur"] == 30


def test_cli_programs_list_and_check(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from dtsen.cli.main import app

    runner = CliRunner()
    listed = runner.invoke(app, ["programs", "list"])
    assert listed.exit_code == 0
    assert "pbi_jk" in listed.output
    ok = runner.invoke(app, ["programs", "check", str(definitions_dir() / "pkh.yaml")])
    assert ok.exit_code == 0
    assert "valid" in ok.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ntarget: {max: 11}\n", encoding="utf-8")
    failed = runner.invoke(app, ["programs", "check", str(bad)])
    assert failed.exit_code == 2
