"""Mapping declarations refused at load with the file and key (issue 14): a 'from' list where one
column is read, YAML booleans where text is meant; and a date from parts with unknown-day codes."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dtsen.engine import Engine, get_engine
from dtsen.sources import transform
from dtsen.sources.ingest import reference_tables
from dtsen.sources.mapping import MappingError, load_mapping

HEAD = "source: siak\nentity: anggota\nfields:\n  id_keluarga: {from: FAM}\n"


def _write(tmp_path: Path, fields: str, head: str = HEAD) -> Path:
    path = tmp_path / "survey.yaml"
    path.write_text(head + fields, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "field",
    [
        # was 1905-xx-xx: the year alone, read as a date
        "tanggal_lahir: {from: [THN, BLN, TGL], type: date}",
        "nama: {from: [DEPAN, BELAKANG], type: name}",
        "nik: {from: [NIK, NIK2], type: nik}",
        "alamat: {from: [JALAN, DUSUN]}",
        "umur: {from: [UMUR, UMUR2], type: int}",
        "kode_desa: {from: [PROV, KAB, KEC, DESA], type: region}",  # several columns need pad
    ],
)
def test_a_from_list_is_refused_where_one_column_is_read(tmp_path: Path, field: str) -> None:
    path = _write(tmp_path, f"  {field}\n")
    with pytest.raises(MappingError) as exc:
        load_mapping(path)
    message = str(exc.value)
    assert str(path) in message
    assert repr(field.split(":")[0]) in message


def test_a_region_from_padded_parts_still_loads(tmp_path: Path) -> None:
    path = _write(tmp_path, "  kode_desa: {from: [PROV, KAB, KEC, DESA], type: region, pad: [2, 2, 2, 4]}\n")
    assert load_mapping(path).fields["kode_desa"].columns == ["PROV", "KAB", "KEC", "DESA"]


@pytest.mark.parametrize(
    ("fields", "key", "spelling"),
    [
        ("  status_hidup: {from: HIDUP, type: bool, map: {YA: true, NO: false}}\n", "map.NO", "NO"),
        ("  nama: {from: NO, type: name}\n", "fields.nama.from", "NO"),
        ("  hamil: {from: HAMIL, type: bool, false: [TIDAK, no]}\n", "false[1]", "no"),
        ("  umur: {from: UMUR, type: int, null_values: [off]}\n", "null_values[0]", "off"),
    ],
)
def test_a_yaml_boolean_where_text_is_meant_says_quote_it(
    tmp_path: Path, fields: str, key: str, spelling: str
) -> None:
    path = _write(tmp_path, fields)
    with pytest.raises(MappingError) as exc:
        load_mapping(path)
    message = str(exc.value)
    assert str(path) in message
    assert key in message
    assert f"YAML read {spelling} as" in message
    assert f"quote it ('{spelling}')" in message


def test_yes_and_no_are_fine_where_a_yes_or_no_is_meant(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "  status_hidup: {from: HIDUP, type: bool, required: yes, map: {A: yes, B: no}}\n"
        "  hamil: {from: HAMIL, type: bool, true: ['1', HAMIL], false: ['2', TIDAK]}\n",
    )
    mapping = load_mapping(path)
    assert mapping.fields["status_hidup"].map == {"A": True, "B": False}
    assert mapping.fields["hamil"].true == ["1", "HAMIL"]
    assert mapping.fields["hamil"].false == ["2", "TIDAK"]


@pytest.mark.parametrize(
    "fields",
    [
        "  tanggal_lahir: {from: [THN, BLN], type: date, parts: [year, month]}\n",
        "  tanggal_lahir: {from: [THN, BLN, TGL], type: date, parts: [year, month, month]}\n",
        "  tanggal_lahir: {from: TGL, type: date, unknown: [98]}\n",
        "  tanggal_lahir: {from: [THN, BLN, TGL], type: date, parts: [year, month, day], formats: ['%Y']}\n",
    ],
)
def test_bad_date_parts_are_refused(tmp_path: Path, fields: str) -> None:
    with pytest.raises(MappingError, match="tanggal_lahir"):
        load_mapping(_write(tmp_path, fields))


# (year, month, day) as written -> (tanggal_lahir, flags) with and without impute_day
PARTS = [
    (("1975", "8", "17"), date(1975, 8, 17), []),
    (("1975", "08", "98"), None, ["tanggal_lahir_partial"]),
    (("1975", "98", "98"), None, ["tanggal_lahir_partial"]),
    (("1975", "2", "30"), None, ["tanggal_lahir_invalid"]),
    (("75", "2", "3"), None, ["tanggal_lahir_invalid"]),
    (("1975", "13", "5"), None, ["tanggal_lahir_invalid"]),
    (("1975", "-1", "5"), None, ["tanggal_lahir_invalid"]),
    ((None, None, None), None, []),
    (("2090", "1", "5"), None, ["tanggal_lahir_future"]),
]


def _engine(name: str) -> Engine:
    if name == "spark":
        from dtsen.config import get_settings
        from dtsen.engine import spark_session

        try:
            spark_session(
                get_settings().spark_master, java_options="-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"
            )
        except Exception as exc:  # no Java here: the parity suite says why
            pytest.skip(f"Spark unavailable: {exc}")
    return get_engine(name)


@pytest.mark.parametrize(
    ("engine", "impute"),
    [("duckdb", False), ("duckdb", True), pytest.param("spark", True, marks=pytest.mark.spark)],
)
def test_a_date_from_parts_with_unknown_codes(tmp_path: Path, engine: str, impute: bool) -> None:
    option = ", impute_day: 15" if impute else ""
    path = _write(
        tmp_path,
        f"  tanggal_lahir: {{from: [THN, BLN, TGL], type: date, parts: [year, month, day], unknown: [98, 99]"
        f"{option}}}\n",
    )
    mapping = load_mapping(path)
    staged = tmp_path / "staged.parquet"
    columns = list(zip(*(written for written, _, _ in PARTS), strict=True))
    pq.write_table(
        pa.table(
            {
                "FAM": ["F1"] * len(PARTS),
                "THN": list(columns[0]),
                "BLN": list(columns[1]),
                "TGL": list(columns[2]),
                "_baris": pa.array(range(2, len(PARTS) + 2), pa.int64()),
            }
        ),
        staged,
    )
    eng = _engine(engine)
    prefixes, regions, codes = reference_tables(eng)
    ctx = transform.Context(
        "b1", "survey.csv", date(2024, 5, 17), prefixes, regions, codes, today=date(2024, 5, 17)
    )
    current = eng.read_parquet(staged)
    for step, fn in (
        ("text", transform.text),
        ("prepare", transform.prepare),
        ("derive", transform.derive),
        ("conform", transform.conform),
    ):
        out = tmp_path / f"{step}.parquet"
        eng.write_parquet(fn(current, mapping, ctx), out)
        current = eng.read_parquet(out)
    rows = sorted(pq.read_table(out).to_pylist(), key=lambda r: r["baris"])
    expected = list(PARTS)
    if impute:
        expected[1] = (PARTS[1][0], date(1975, 8, 15), ["tanggal_lahir_day_imputed"])
    assert [(r["tanggal_lahir"], list(r["flags"])) for r in rows] == [(d, f) for _, d, f in expected]


def test_a_new_agency_is_its_own_source(tmp_path: Path) -> None:
    """A source need not pose as one of the shipped agencies: its name is the mapping's ``source``."""
    from dtsen.sources.ingest import ingest

    path = _write(
        tmp_path,
        "  nama: {from: NAMA, type: name, required: true}\n  nik: {from: NIK, type: nik}\n",
        head="source: dinsos_kota_x\nentity: anggota\nrecord_id: 'NO'\nfields:\n",
    )
    data = tmp_path / "survey.csv"
    data.write_text("NO,NAMA,NIK\n1,SITI AMINAH,3302034506850002\n2,\u0410HMAD,\n", encoding="utf-8")
    result = ingest(load_mapping(path), [data], data_dir=tmp_path / "data")
    assert result.directory is not None
    rows = pq.read_table(result.directory / "canonical" / "anggota.parquet").to_pylist()
    assert sorted((r["sumber"], r["id_anggota"], r["nama"]) for r in rows) == [
        ("dinsos_kota_x", "dinsos_kota_x:1", "SITI AMINAH"),
        ("dinsos_kota_x", "dinsos_kota_x:2", "AHMAD"),
    ]


@pytest.mark.parametrize("source", ["Dinsos Kota", "dinsos-kota", "", "1dinsos"])
def test_a_source_name_is_a_plain_identifier(tmp_path: Path, source: str) -> None:
    path = _write(
        tmp_path, "  nama: {from: NAMA, type: name}\n", head=f"source: '{source}'\nentity: anggota\nfields:\n"
    )
    with pytest.raises(MappingError, match="source"):
        load_mapping(path)


def test_rows_lost_to_a_required_field_are_explained(tmp_path: Path) -> None:
    """A register without KK numbers, read with a copied mapping marking id_keluarga required: the report
    says how many rows that cost and which key to change."""
    from dtsen.sources.ingest import ingest

    path = _write(
        tmp_path,
        "  id_keluarga: {from: KK, required: true}\n  nama: {from: NAMA, type: name}\n",
        head="source: dukcapil_kota\nentity: anggota\nrecord_id: ID\nfields:\n",
    )
    data = tmp_path / "register.csv"
    data.write_text("ID,KK,NAMA\n1,K1,SITI\n2,,BUDI\n3,,ANI\n", encoding="utf-8")
    result = ingest(load_mapping(path), [data], data_dir=tmp_path / "data")
    assert result.report["rejected_by_reason"] == {"id_keluarga_missing": 2}
    assert (
        "2 row(s) quarantined because fields.id_keluarga is required in mapping survey and was empty; "
        "if this source has no id_keluarga, remove 'required: true' there"
    ) in result.report["notes"]
