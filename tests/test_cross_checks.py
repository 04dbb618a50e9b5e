"""Checks across fields are data (src/dtsen/sources/cross_checks.yaml): each shipped check fires on the
rows it describes and not on a missing value, a check a mapping lacks a field for does not run unless it
assumes the value, and a bad checks file fails with the file, the entry and the key."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from dtsen.sources.cross_checks import CrossCheckError, builtin_cross_checks, load_cross_checks
from dtsen.sources.ingest import ingest
from dtsen.sources.mapping import Mapping

CROSS = {c.code for c in builtin_cross_checks()}


def _flags(
    tmp_path: Path, entity: str, fields: dict[str, dict], header: str, rows: list[str]
) -> list[set[str]]:
    """The cross-field flags of each row after a real ingestion with a mapping of ``fields``."""
    key = "id_keluarga" if entity == "keluarga" else "id_anggota_sumber"
    fields = {key: {"from": "ID", "required": True}, **fields}
    m = Mapping.model_validate(
        {"name": "t", "source": "regsosek", "entity": entity, "record_id": "ID", "fields": fields}
    )
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "rows.csv"
    path.write_text("\n".join([f"ID,{header}", *(f"r{i},{r}" for i, r in enumerate(rows))]) + "\n")
    result = ingest(m, [path], data_dir=tmp_path / "data")
    assert result.report["rejected"] == 0
    out = pl.read_parquet(result.directory / "canonical" / f"{entity}.parquet")  # type: ignore[operator]
    return [set(f) & CROSS for f in out["flags"].to_list()]


HOUSEHOLD = {
    "sumber_penerangan": {"from": "SP", "type": "code"},
    "daya_listrik": {"from": "D", "type": "code", "null_values": ["0"]},
    "status_bangunan": {"from": "SB", "type": "code"},
    "bukti_kepemilikan": {"from": "BK", "type": "code", "null_values": ["0"]},
    "aset_lemari_es": {"from": "ES", "type": "bool"},
    "aset_tabung_gas": {"from": "GAS", "type": "bool"},
    "bahan_bakar_masak": {"from": "BB", "type": "code"},
}


def test_household_checks(tmp_path: Path) -> None:
    rows = [  # SP, D, SB, BK, ES, GAS, BB
        ("1,2,1,1,1,1,2", set()),  # metered, owned, fridge, LPG 5.5 kg cooking on LPG 5.5 kg
        ("4,0,1,0,1,2,10", {"skip_alat_listrik_tanpa_listrik"}),  # fridge without electricity
        ("2,3,1,0,2,2,10", {"skip_daya_tanpa_meteran"}),  # meter power without a PLN meter
        (",3,,2,2,2,10", set()),  # lighting and tenure unknown: nothing to contradict
        ("1,2,2,1,2,2,10", {"skip_bukti_bukan_milik"}),  # proof of ownership of a rented home
        ("1,2,1,1,2,1,10", {"skip_tabung_gas_bahan_bakar"}),  # a 5.5 kg tank, cooking on wood
        ("1,2,1,1,2,2,3", {"skip_tabung_gas_bahan_bakar"}),  # cooking on LPG 12 kg without the tank
        ("1,2,1,1,2,1,", set()),  # fuel unknown
        ("1,2,1,1,2,,2", set()),  # tank unknown
    ]
    flags = _flags(tmp_path, "keluarga", HOUSEHOLD, "SP,D,SB,BK,ES,GAS,BB", [r for r, _ in rows])
    assert flags == [want for _, want in rows]


PERSON = {
    "jenis_kelamin": {"from": "JK", "type": "code"},
    "umur": {"from": "U", "type": "int", "min": 0, "max": 130},
    "hamil": {"from": "H", "type": "bool", "null_values": ["0"]},
    "jenjang_pendidikan": {"from": "J", "type": "code", "null_values": ["0"]},
}


@pytest.mark.parametrize("with_participation", [True, False])
def test_person_checks(tmp_path: Path, with_participation: bool) -> None:
    fields = dict(PERSON)
    if with_participation:
        fields["partisipasi_sekolah"] = {"from": "PS", "type": "code"}
    rows = [  # JK, U, H, J, PS
        ("2,30,1,0,2", set()),
        ("1,30,1,0,2", {"hamil_laki_laki"}),
        ("2,9,1,0,1", {"hamil_umur"}),
        ("2,56,1,0,2", {"hamil_umur"}),
        ("2,,1,0,2", set()),  # age unknown: not out of range
        (",30,1,0,2", set()),
        ("1,30,1,3,1", {"hamil_laki_laki", "sekolah_umur_sd"}),  # SD at 30, still in school
        # no longer in school: flagged only when the source cannot say so (assume: still in school)
        ("1,30,2,3,2", set() if with_participation else {"sekolah_umur_sd"}),
        ("1,25,2,3,1", set()),
    ]
    header = "JK,U,H,J,PS" if with_participation else "JK,U,H,J"
    lines = [r if with_participation else r.rsplit(",", 1)[0] for r, _ in rows]
    assert _flags(tmp_path, "anggota", fields, header, lines) == [want for _, want in rows]


def test_a_check_needs_its_fields(tmp_path: Path) -> None:
    fields = {
        "sumber_penerangan": HOUSEHOLD["sumber_penerangan"],
        "aset_lemari_es": HOUSEHOLD["aset_lemari_es"],
    }
    assert _flags(tmp_path, "keluarga", fields, "SP,ES", ["4,1"]) == [{"skip_alat_listrik_tanpa_listrik"}]
    only = {"aset_lemari_es": HOUSEHOLD["aset_lemari_es"]}
    assert _flags(tmp_path / "b", "keluarga", only, "ES", ["1"]) == [set()]


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("- {code: x, field: hamil, when: {field: hamil, eq: true}, sevrity: error}", r"\[0\]\[sevrity\]"),
        ("- {code: x, field: hamil, when: {field: hamill, eq: true}}", "no canonical entity has all of"),
        ("- {code: x, field: hamil, when: {field: hamil, eq: 1}}", r"\[0\] x\.when: hamil is true/false"),
        (
            "- {code: x, field: jenis_kelamin, when: {field: jenis_kelamin, in: [1, 3]}}",
            r"\[0\] x\.when: 3 is not a code of JenisKelamin",
        ),
        ("- {code: x, field: hamil, when: {field: hamil, eq: true}, assume: {umur: yes}}", "umur is numeric"),
        (
            "- {code: x, field: hamil, when: {all: [{field: hamil, eq: true}, {field: aset_ac, eq: true}]}}",
            "no canonical entity has all of hamil, aset_ac",
        ),
        ("- {code: X-1, field: hamil, when: {field: hamil, eq: true}}", r"\[0\] X-1\.code"),
        ("code: x", "one YAML list"),
    ],
)
def test_bad_checks_file(tmp_path: Path, entry: str, message: str) -> None:
    path = tmp_path / "checks.yaml"
    path.write_text(entry + "\n", encoding="utf-8")
    with pytest.raises(CrossCheckError, match=rf"checks\.yaml: .*{message}"):
        load_cross_checks(path)
