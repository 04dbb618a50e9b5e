"""Ingestion of broken and hostile input files: each problem is named (file, line or row, field) and
nothing is lost. A file that cannot be used at all is a fatal error that publishes nothing and leaves
earlier batches alone; a row that cannot be used goes to quarantine; every other row is accepted.

Mappings are written per test into tmp dirs with only the columns the case needs (fewer fields keep the
ingest fast). Quarantine ``kolom`` is always the source column as the file names it (``NAMA``) and
``atribut`` the canonical field read from it (``nama``), for structural rejects and findings alike.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import tracemalloc
from datetime import date, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from dtsen.reference.nik import make_nik
from dtsen.sources.ingest import (
    BatchResult,
    IngestError,
    batches_dir,
    export_quarantine,
    ingest,
    quarantine_frame,
    safe_cell,
)
from dtsen.sources.mapping import Mapping, load_mapping
from dtsen.sources.readers import FileError, stage_file

DATE_FORMATS = ["%d/%m/%Y", "%Y-%m-%d", "%d-%m-%Y"]
FIELDS: dict[str, tuple[str, dict[str, Any]]] = {
    "IDDTKS": ("id_anggota_sumber", {"from": "IDDTKS", "required": True}),
    "NAMA": ("nama", {"from": "NAMA", "type": "name", "required": True}),
    "NIK": ("nik", {"from": "NIK", "type": "nik"}),
    "TGL_LAHIR": ("tanggal_lahir", {"from": "TGL_LAHIR", "type": "date", "formats": DATE_FORMATS}),
    "KODE_WILAYAH": ("kode_desa", {"from": "KODE_WILAYAH", "type": "region"}),
    "ALAMAT": ("alamat", {"from": "ALAMAT"}),
}
NIK = make_nik("330201", date(1990, 5, 17), 1, 1)
FORMULAS = ['=HYPERLINK("http://x","y")', "+cmd|' /C calc'!A0", "@SUM(1)"]


def make_mapping(
    directory: Path,
    columns: tuple[str, ...] = ("IDDTKS", "NAMA"),
    *,
    name: str = "uji",
    delimiter: str = ",",
    encoding: str = "utf-8",
    unknown: str = "keep",
    **read: Any,
) -> Mapping:
    """A small anggota mapping over ``columns`` (IDDTKS and NAMA are required)."""
    directory.mkdir(parents=True, exist_ok=True)
    spec = {
        "source": "dtks",
        "entity": "anggota",
        "record_id": "IDDTKS",
        "observed": date(2023, 12, 31),
        "unknown_columns": unknown,
        "read": {"delimiter": delimiter, "encoding": encoding, **read},
        "fields": dict(FIELDS[c] for c in columns),
    }
    path = directory / f"{name}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return load_mapping(path)


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        path.write_bytes(content.encode("utf-8"))
    else:
        path.write_bytes(content)
    return path


def accounted(result: BatchResult, expected: dict[str, set[int]]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Every expected row is in canonical output or in quarantine (never both, never neither), and the
    report's counts add up. Returns (canonical, quarantine)."""
    assert result.status == "committed"
    assert result.directory is not None
    canonical = pl.read_parquet(result.directory / "canonical" / "anggota.parquet")
    quarantine = pl.read_parquet(result.directory / "quarantine.parquet")
    assert canonical.select("berkas", "baris").is_unique().all()
    for berkas, lines in expected.items():
        accepted = set(canonical.filter(pl.col("berkas") == berkas)["baris"].to_list())
        rejected = set(quarantine.filter(pl.col("berkas") == berkas)["baris"].to_list())
        assert accepted.isdisjoint(rejected), (berkas, accepted & rejected)
        assert accepted | rejected == lines, (berkas, sorted(accepted), sorted(rejected))
    assert set(canonical["berkas"].to_list()) | set(quarantine["berkas"].to_list()) <= set(expected)
    report = result.report
    total = sum(len(v) for v in expected.values())
    assert report["rows_read"] == total
    assert report["accepted"] + report["rejected"] == total
    assert report["accepted"] == canonical.height
    assert report["rejected"] == quarantine.select("berkas", "baris").n_unique()
    return canonical, quarantine


def _manifest(result: BatchResult) -> dict[str, Any]:
    assert result.directory is not None
    return json.loads((result.directory / "manifest.json").read_text(encoding="utf-8"))


def rejects(quarantine: pl.DataFrame, kode: str) -> list[dict[str, Any]]:
    return quarantine.filter(pl.col("kode") == kode).sort("baris").to_dicts()


def flags_of(canonical: pl.DataFrame, baris: int) -> list[str]:
    return canonical.filter(pl.col("baris") == baris)["flags"].to_list()[0]


def snapshot(data_dir: Path) -> dict[str, str]:
    """Every path under batches/ (hidden ones included) with the sha256 of each file."""
    root = batches_dir(data_dir)
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
        for p in sorted(root.rglob("*"))
    }


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data dir holding one published batch: fatal errors must leave it exactly as it is."""
    root = tmp_path_factory.mktemp("registry")
    m = make_mapping(root / "mappings", name="earlier")
    good = write(root / "in" / "dtks_earlier.csv", "IDDTKS,NAMA\n1,BUDI\n2,SITI\n")
    result = ingest(m, [good], data_dir=root / "data", batch="earlier")
    assert result.status == "committed"
    return root / "data"


def fatal(m: Mapping, paths: list[Path], data_dir: Path) -> str:
    """Ingest must fail with IngestError, publish nothing, leave no staging dir and keep earlier batches."""
    before = snapshot(data_dir)
    assert "earlier/manifest.json" in before
    with pytest.raises(IngestError) as info:
        ingest(m, paths, data_dir=data_dir)
    assert snapshot(data_dir) == before
    return str(info.value)


# --- whole-file problems: fatal, nothing published ---------------------------------------------------


def test_empty_file_is_fatal_and_named(tmp_path: Path, registry: Path) -> None:
    path = write(tmp_path / "dtks_kosong.csv", b"")
    message = fatal(make_mapping(tmp_path), [path], registry)
    assert "dtks_kosong.csv" in message
    assert "empty file (0 bytes)" in message


@pytest.mark.parametrize(
    "content",
    [b"IDDTKS,NAMA\n", b"IDDTKS,NAMA", b"IDDTKS,NAMA\r\n\r\n\n"],
    ids=["newline", "no-newline", "blank-lines"],
)
def test_header_only_is_fatal_and_named(tmp_path: Path, registry: Path, content: bytes) -> None:
    path = write(tmp_path / "dtks_header.csv", content)
    message = fatal(make_mapping(tmp_path), [path], registry)
    assert message.startswith("dtks_header.csv: ")
    assert "header only, no data rows" in message


def test_missing_required_column_names_the_column(tmp_path: Path, registry: Path) -> None:
    m = make_mapping(tmp_path, ("IDDTKS", "NAMA", "NIK"))
    path = write(tmp_path / "dtks_tanpa_nama.csv", f"IDDTKS,NIK\n1,{NIK}\n")
    message = fatal(m, [path], registry)
    assert message == "dtks_tanpa_nama.csv: line 1: required column(s) missing: NAMA"
    # an optional column may be absent: read as empty, and the report says so
    path = write(tmp_path / "dtks_tanpa_nik.csv", "NAMA,IDDTKS\nBUDI,1\n")
    result = ingest(m, [path], data_dir=tmp_path / "data")
    canonical, _ = accounted(result, {"dtks_tanpa_nik.csv": {2}})
    assert canonical["nik"].to_list() == [None]
    assert (
        "dtks_tanpa_nik.csv: line 1: optional column(s) absent, read as empty: NIK" in result.report["notes"]
    )


def test_bad_file_in_a_multi_file_batch_publishes_nothing(tmp_path: Path, registry: Path) -> None:
    good = write(tmp_path / "dtks_baik.csv", "IDDTKS,NAMA\n1,BUDI\n")
    bad = write(tmp_path / "dtks_rusak.csv", "IDDTKS,X\n1,a\n")
    message = fatal(make_mapping(tmp_path), [good, bad], registry)
    assert message.startswith("dtks_rusak.csv: line 1: required column(s) missing: NAMA")


def test_binary_file_renamed_csv_is_a_file_error(tmp_path: Path, registry: Path) -> None:
    from openpyxl import Workbook

    book = Workbook()
    book.active.append(["IDDTKS", "NAMA"])
    book.save(tmp_path / "real.xlsx")
    path = write(tmp_path / "dtks_biner.csv", (tmp_path / "real.xlsx").read_bytes())
    m = make_mapping(tmp_path, encoding="auto", delimiter="auto")
    with pytest.raises(FileError, match=r"^dtks_biner\.csv: binary data"):
        stage_file(path, path.name, m, tmp_path / "staged.parquet")
    message = fatal(m, [path], registry)
    assert message.startswith("dtks_biner.csv: binary data")


# --- unknown columns ---------------------------------------------------------------------------------


def test_unknown_columns_keep_is_noted_in_the_report(tmp_path: Path) -> None:
    path = write(tmp_path / "dtks_extra.csv", "IDDTKS,NAMA,CATATAN\n1,BUDI,x\n2,SITI,\n")
    result = ingest(make_mapping(tmp_path, unknown="keep"), [path], data_dir=tmp_path / "data")
    canonical, _ = accounted(result, {"dtks_extra.csv": {2, 3}})
    assert canonical.height == 2
    note = "dtks_extra.csv: line 1: unknown columns keep: CATATAN"
    assert note in result.report["notes"]
    assert result.report["files"][0]["berkas"] == "dtks_extra.csv"
    assert [f["notes"] for f in _manifest(result)["files"]] == [[note]]
    assert result.directory is not None
    assert "CATATAN" in (result.directory / "report.html").read_text(encoding="utf-8")


def test_unknown_columns_ignore_ingests_the_known_ones(tmp_path: Path) -> None:
    path = write(tmp_path / "dtks_extra.csv", "IDDTKS,CATATAN,NAMA\n1,x,BUDI\n2,,SITI\n")
    result = ingest(make_mapping(tmp_path, unknown="ignore"), [path], data_dir=tmp_path / "data")
    canonical, quarantine = accounted(result, {"dtks_extra.csv": {2, 3}})
    assert quarantine.height == 0
    assert canonical.sort("baris")["nama"].to_list() == ["BUDI", "SITI"]
    assert not any("keep" in n for n in result.report["notes"])


def test_unknown_columns_reject_names_the_column(tmp_path: Path, registry: Path) -> None:
    path = write(tmp_path / "dtks_extra.csv", "IDDTKS,NAMA,CATATAN,LAIN\n1,BUDI,x,y\n")
    message = fatal(make_mapping(tmp_path, unknown="reject"), [path], registry)
    assert message.startswith("dtks_extra.csv: line 1: unknown column(s) not allowed")
    assert message.endswith(": CATATAN, LAIN")


# --- delimiter and encoding --------------------------------------------------------------------------

SEMICOLON = "IDDTKS;NAMA;ALAMAT\n1;BUDI;JL. MAWAR, 3\n2;SITI;DUSUN II\n"


def test_wrong_delimiter_hints_at_the_semicolon(tmp_path: Path, registry: Path) -> None:
    path = write(tmp_path / "dtks_titikkoma.csv", SEMICOLON)
    message = fatal(make_mapping(tmp_path, ("IDDTKS", "NAMA", "ALAMAT"), delimiter=","), [path], registry)
    assert message.startswith("dtks_titikkoma.csv: line 1: required column(s) missing: IDDTKS, NAMA")
    assert "is the delimiter ';'?" in message


def test_delimiter_auto_sniffs_the_semicolon(tmp_path: Path) -> None:
    path = write(tmp_path / "dtks_titikkoma.csv", SEMICOLON)
    m = make_mapping(tmp_path, ("IDDTKS", "NAMA", "ALAMAT"), delimiter="auto")
    result = ingest(m, [path], data_dir=tmp_path / "data")
    canonical, quarantine = accounted(result, {"dtks_titikkoma.csv": {2, 3}})
    assert quarantine.height == 0
    assert canonical.sort("baris")["alamat"].to_list() == ["JL. MAWAR, 3", "DUSUN II"]
    assert _manifest(result)["files"][0]["delimiter"] == ";"


LATIN = "IDDTKS,NAMA\n1,JOSÉ\n2,BUDI\n3,MUÑOZ\n4,SITI\n".encode("cp1252")


def test_cp1252_declared_utf8_quarantines_undecodable_lines(tmp_path: Path) -> None:
    path = write(tmp_path / "dtks_latin.csv", LATIN)
    result = ingest(make_mapping(tmp_path, encoding="utf-8"), [path], data_dir=tmp_path / "data")
    canonical, quarantine = accounted(result, {"dtks_latin.csv": {2, 3, 4, 5}})
    assert sorted(canonical["nama"].to_list()) == ["BUDI", "SITI"]
    bad = rejects(quarantine, "encoding_invalid")
    assert [(r["berkas"], r["baris"], r["kolom"], r["atribut"]) for r in bad] == [
        ("dtks_latin.csv", 2, "NAMA", "nama"),
        ("dtks_latin.csv", 4, "NAMA", "nama"),
    ]
    assert bad[0]["pesan"] == "dtks_latin.csv: line 2: byte 0xC9 at position 6 is not valid utf-8"
    assert bad[0]["raw"] == "1,JOS\\xc9"  # the undecodable byte is kept, spelled out
    assert result.report["rejected_by_reason"] == {"encoding_invalid": 2}


@pytest.mark.parametrize("encoding", ["auto", "cp1252"])
def test_cp1252_read_with_auto_or_declared_encoding(tmp_path: Path, encoding: str) -> None:
    path = write(tmp_path / "dtks_latin.csv", LATIN)
    result = ingest(make_mapping(tmp_path, encoding=encoding), [path], data_dir=tmp_path / "data")
    canonical, quarantine = accounted(result, {"dtks_latin.csv": {2, 3, 4, 5}})
    assert quarantine.height == 0
    assert canonical.sort("baris")["nama_asli"].to_list() == ["JOSÉ", "BUDI", "MUÑOZ", "SITI"]
    assert canonical.sort("baris")["nama"].to_list() == ["JOSE", "BUDI", "MUNOZ", "SITI"]
    allowed = {"cp1252"} if encoding == "cp1252" else {"cp1252", "iso8859-1", "iso8859-15"}  # auto: a guess
    assert _manifest(result)["files"][0]["encoding"] in allowed


def test_auto_encoding_looks_past_an_ascii_start(tmp_path: Path) -> None:
    """The encoding is guessed from the first 64 KB; Indonesian exports are nearly all ASCII, so a
    cp1252 name may come much later. A file whose only non-ASCII lines are not UTF-8 is re-read as
    cp1252; a file that also has real UTF-8 lines stays UTF-8 and quarantines the others."""
    m = make_mapping(tmp_path, encoding="auto")
    start = "IDDTKS,NAMA\n" + "".join(f"{i},BUDI SANTOSO\n" for i in range(6000))  # > 64 KB of ASCII
    late = write(
        tmp_path / "dtks_akhir.csv", start.encode("ascii") + "9000,JOSÉ\n9001,ANI\n".encode("cp1252")
    )
    staged = stage_file(late, late.name, m, tmp_path / "late.parquet")
    assert (staged.encoding, staged.rows, staged.rejects) == ("cp1252", 6002, [])
    assert staged.notes == [
        "dtks_akhir.csv: line 6002: not UTF-8 though the first 65,536 bytes are ASCII; read as cp1252"
    ]
    names = pq.read_table(staged.parquet).to_pydict()
    assert (names["NAMA"][-2], names["_baris"][-2]) == ("JOSÉ", 6002)

    mixed = write(tmp_path / "dtks_campur.csv", late.read_bytes() + "9002,MUÑOZ\n".encode())
    staged = stage_file(mixed, mixed.name, m, tmp_path / "mixed.parquet")
    assert (staged.encoding, staged.rows) == ("utf-8", 6002)
    assert [(r.berkas, r.baris, r.kolom, r.kode) for r in staged.rejects] == [
        ("dtks_campur.csv", 6002, "NAMA", "encoding_invalid")
    ]
    assert pq.read_table(staged.parquet)["NAMA"][-1].as_py() == "MUÑOZ"


# --- broken lines ------------------------------------------------------------------------------------


def test_truncated_last_line_is_quarantined(tmp_path: Path) -> None:
    path = write(tmp_path / "dtks_potong.csv", "IDDTKS,NAMA,ALAMAT\n1,BUDI,JL A\n2,SITI,JL B\n3,AN")
    m = make_mapping(tmp_path, ("IDDTKS", "NAMA", "ALAMAT"))
    result = ingest(m, [path], data_dir=tmp_path / "data")
    canonical, quarantine = accounted(result, {"dtks_potong.csv": {2, 3, 4}})
    assert sorted(canonical["baris"].to_list()) == [2, 3]
    (bad,) = rejects(quarantine, "field_count")
    assert (bad["berkas"], bad["baris"], bad["raw"]) == ("dtks_potong.csv", 4, "3,AN")
    assert bad["pesan"].startswith("dtks_potong.csv: line 4: 2 fields, fewer than the 3 in the header")


def test_unbalanced_quote_mid_file_costs_one_line(tmp_path: Path) -> None:
    content = (
        "IDDTKS,NAMA,ALAMAT\n"
        "1,BUDI,JL A\n"
        '2,"SITI,JL B\n'  # line 3: the quote never closes
        "3,ANI,JL C\n"
        '4,"DEWI, S",JL D\n'
        '5,EKO,"JL E\n'  # lines 6-7: one record with a newline inside quotes
        'RT 01"\n'
        "6,FIKRI,JL F\n"
        '7,GI"TA,JL G\n'  # line 9: a stray quote inside an unquoted field reads well on its own: kept
    )
    path = write(tmp_path / "dtks_kutip.csv", content)
    m = make_mapping(tmp_path, ("IDDTKS", "NAMA", "ALAMAT"))
    result = ingest(m, [path], data_dir=tmp_path / "data")
    canonical, quarantine = accounted(result, {"dtks_kutip.csv": {2, 3, 4, 5, 6, 8, 9}})
    (bad,) = quarantine.to_dicts()
    assert (bad["berkas"], bad["baris"], bad["kode"]) == ("dtks_kutip.csv", 3, "unbalanced_quote")
    assert bad["pesan"].startswith("dtks_kutip.csv: line 3: a quoted field is never closed")
    assert bad["raw"] == '2,"SITI,JL B'
    by_line = dict(zip(canonical["baris"].to_list(), canonical["alamat"].to_list(), strict=True))
    assert by_line == {2: "JL A", 4: "JL C", 5: "JL D", 6: "JL E\nRT 01", 8: "JL F", 9: "JL G"}


def test_ten_megabyte_field_is_rejected_without_blowing_memory(tmp_path: Path) -> None:
    huge = "X" * 10_000_000
    content = f"IDDTKS,NAMA\n1,BUDI\n2,{huge}\n3,SITI\n4,{'Y' * 100_000}\n5,ANI\n"
    path = write(tmp_path / "dtks_besar.csv", content)
    m = make_mapping(tmp_path)
    tracemalloc.start()
    try:
        staged = stage_file(path, path.name, m, tmp_path / "staged.parquet")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20_000_000, f"reading a 10 MB field took {peak:,} bytes of Python memory"
    assert staged.rows == 3
    result = ingest(m, [path], data_dir=tmp_path / "data")
    canonical, quarantine = accounted(result, {"dtks_besar.csv": {2, 3, 4, 5, 6}})
    assert sorted(canonical["nama"].to_list()) == ["ANI", "BUDI", "SITI"]
    too_long = rejects(quarantine, "field_too_long")
    assert [(r["berkas"], r["baris"], r["kolom"]) for r in too_long] == [
        ("dtks_besar.csv", 3, "NAMA"),
        ("dtks_besar.csv", 5, "NAMA"),
    ]
    assert too_long[0]["pesan"].startswith("dtks_besar.csv: line 3: ")
    assert too_long[1]["pesan"] == "dtks_besar.csv: line 5: column NAMA has 100,000 characters (limit 65,536)"
    assert max(len(r["raw"]) for r in too_long) <= 20_000  # the landed file keeps every byte


# --- row values --------------------------------------------------------------------------------------


def test_excel_scientific_nik_is_flagged_on_its_row(tmp_path: Path) -> None:
    content = f"IDDTKS,NAMA,NIK\n1,BUDI,{NIK}\n2,SITI,3.30201E+15\n3,ANI,{NIK[:-1]}2\n"
    path = write(tmp_path / "dtks_excel.csv", content)
    result = ingest(make_mapping(tmp_path, ("IDDTKS", "NAMA", "NIK")), [path], data_dir=tmp_path / "data")
    canonical, _ = accounted(result, {"dtks_excel.csv": {2, 3, 4}})
    assert flags_of(canonical, 3) == ["nik_excel_scientific"]
    assert canonical.filter(pl.col("baris") == 3)["nik"].to_list() == [None]  # digits were lost: no NIK
    assert flags_of(canonical, 2) == []
    assert flags_of(canonical, 4) == []
    assert result.report["warnings_by_code"] == {"nik_excel_scientific": 1}


def test_three_date_formats_parse_and_impossible_date_is_flagged(tmp_path: Path) -> None:
    content = (
        "IDDTKS,NAMA,TGL_LAHIR\n"
        "1,A,17/05/1990\n2,B,1990-05-17\n3,C,17-05-1990\n4,D,31/02/2020\n5,E,7/5/1990\n"
    )
    path = write(tmp_path / "dtks_tanggal.csv", content)
    m = make_mapping(tmp_path, ("IDDTKS", "NAMA", "TGL_LAHIR"))
    result = ingest(m, [path], data_dir=tmp_path / "data")
    canonical, _ = accounted(result, {"dtks_tanggal.csv": {2, 3, 4, 5, 6}})
    dates = dict(zip(canonical["baris"].to_list(), canonical["tanggal_lahir"].to_list(), strict=True))
    assert dates == {
        2: date(1990, 5, 17),
        3: date(1990, 5, 17),
        4: date(1990, 5, 17),
        5: None,
        6: date(1990, 5, 7),
    }
    assert flags_of(canonical, 5) == ["tanggal_lahir_invalid"]
    assert all(flags_of(canonical, b) == [] for b in (2, 3, 4, 6))


def test_unknown_region_code_is_flagged_on_its_row(tmp_path: Path) -> None:
    content = "IDDTKS,NAMA,KODE_WILAYAH\n1,BUDI,3302012001\n2,SITI,3302019999\n3,ANI,33.02.01.2001\n"
    path = write(tmp_path / "dtks_wilayah.csv", content)
    m = make_mapping(tmp_path, ("IDDTKS", "NAMA", "KODE_WILAYAH"))
    result = ingest(m, [path], data_dir=tmp_path / "data")
    canonical, _ = accounted(result, {"dtks_wilayah.csv": {2, 3, 4}})
    assert flags_of(canonical, 3) == ["kode_desa_unknown"]
    codes = dict(zip(canonical["baris"].to_list(), canonical["kode_desa"].to_list(), strict=True))
    assert codes == {2: "3302012001", 3: None, 4: "3302012001"}


def _with_duplicates(result: BatchResult) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(canonical, quarantine) of a batch whose only findings are duplicate rows: those are listed in
    quarantine and kept in the canonical table too (issue 14: duplicates are linked, not lost)."""
    assert result.status == "committed"
    assert result.directory is not None
    canonical = pl.read_parquet(result.directory / "canonical" / "anggota.parquet")
    quarantine = pl.read_parquet(result.directory / "quarantine.parquet")
    assert set(quarantine["kode"].to_list()) == {"duplicate_row"}
    flagged = canonical.filter(pl.col("flags").list.contains("duplicate_row"))["id_anggota"]
    # a duplicate's record key is its own (the source's own repeated IDs on differing rows are not ours)
    assert flagged.len() == quarantine.height
    assert canonical.filter(pl.col("id_anggota").is_in(flagged.to_list())).height == flagged.len()
    assert result.report["rejected"] == 0
    assert result.report["accepted"] == result.report["rows_read"] == canonical.height
    assert result.report["warnings_by_code"]["duplicate_row"] == quarantine.height
    return canonical, quarantine


def test_duplicate_rows_are_flagged_and_kept(tmp_path: Path) -> None:
    content = (
        "IDDTKS,NAMA,ALAMAT\n"
        "1,BUDI,JL A\n"  # 2: first
        "1,BUDI,JL A\n"  # 3: duplicate of 2
        "2,SITI,\n"  # 4: first
        "1,BUDI,JL A\n"  # 5: duplicate of 2
        "2,SITI,\n"  # 6: duplicate of 4 (empty field included)
        "2,SITI,JL B\n"  # 7: same id, different address: not a duplicate row
    )
    path = write(tmp_path / "dtks_ganda.csv", content)
    m = make_mapping(tmp_path, ("IDDTKS", "NAMA", "ALAMAT"))
    result = ingest(m, [path], data_dir=tmp_path / "data")
    canonical, quarantine = _with_duplicates(result)
    assert sorted(canonical["baris"].to_list()) == [2, 3, 4, 5, 6, 7]
    dupes = rejects(quarantine, "duplicate_row")
    assert [(r["berkas"], r["baris"], r["raw"]) for r in dupes] == [
        ("dtks_ganda.csv", 3, "1,BUDI,JL A"),
        ("dtks_ganda.csv", 5, "1,BUDI,JL A"),
        ("dtks_ganda.csv", 6, "2,SITI,"),
    ]
    assert dupes[0]["pesan"] == (
        "dtks_ganda.csv: line 3: identical in every column to line 2; kept and linked to the same person"
    )
    assert dupes[2]["pesan"].startswith("dtks_ganda.csv: line 6: identical in every column to line 4")
    keys = dict(canonical.select("baris", "id_anggota").iter_rows())
    assert (keys[2], keys[3], keys[6]) == ("dtks:1", "dtks:1#3", "dtks:2#6")
    assert (flags_of(canonical, 3), flags_of(canonical, 2)) == (["duplicate_row"], [])
    assert _manifest(result)["files"][0]["rows"] == 6
    assert _manifest(result)["files"][0]["duplicate_rows"] == 3


def test_duplicate_rows_across_the_files_of_a_batch(tmp_path: Path) -> None:
    """The rule is per batch: a row of the second file identical to one of the first is flagged and
    names the file it repeats; a column a file lacks counts as empty."""
    first = write(tmp_path / "dtks_satu.csv", "IDDTKS,NAMA,ALAMAT\n1,BUDI,JL A\n2,SITI,\n")
    second = write(
        tmp_path / "dtks_dua.csv",
        "IDDTKS,NAMA,ALAMAT\n3,ANI,JL C\n1,BUDI,JL A\n1,BUDI,JL A\n1,BUDI,JL B\n",
    )
    third = write(tmp_path / "dtks_tiga.csv", "IDDTKS,NAMA\n2,SITI\n4,DEWI\n")  # no ALAMAT: empty
    m = make_mapping(tmp_path, ("IDDTKS", "NAMA", "ALAMAT"))
    result = ingest(m, [first, second, third], data_dir=tmp_path / "data")
    canonical, quarantine = _with_duplicates(result)
    dupes = quarantine.filter(pl.col("kode") == "duplicate_row").sort("berkas", "baris")
    assert dupes.select("berkas", "baris", "kolom", "atribut", "raw").rows() == [
        ("dtks_dua.csv", 3, None, None, "1,BUDI,JL A"),
        ("dtks_dua.csv", 4, None, None, "1,BUDI,JL A"),
        ("dtks_tiga.csv", 2, None, None, "2,SITI"),
    ]
    kept = "; kept and linked to the same person"
    assert dupes["pesan"].to_list() == [
        f"dtks_dua.csv: line 3: identical in every column to line 2 of dtks_satu.csv{kept}",
        f"dtks_dua.csv: line 4: identical in every column to line 2 of dtks_satu.csv{kept}",
        f"dtks_tiga.csv: line 2: identical in every column to line 3 of dtks_satu.csv{kept}",
    ]
    assert canonical.height == 8
    flagged = canonical.filter(pl.col("flags").list.contains("duplicate_row"))
    assert sorted(flagged.select("berkas", "baris", "id_anggota").rows()) == [
        ("dtks_dua.csv", 3, "dtks:1#3"),
        ("dtks_dua.csv", 4, "dtks:1#4"),
        ("dtks_tiga.csv", 2, "dtks:2#2"),
    ]


def test_accented_names_fold_to_ascii_and_keep_the_original(tmp_path: Path) -> None:
    """Standardized names fold accents as Unicode NFKD does (JOSÉ -> JOSE, not JOS); ``nama_asli``
    keeps the spelling of the file."""
    content = "IDDTKS,NAMA\n1,José María\n2,MUÑOZ\n3,Ｓｉｔｉ\n4,İrma ǰohan\n5,ĲSSEL\n6,Zaïd Ø\n"
    path = write(tmp_path / "dtks_aksen.csv", content)
    result = ingest(make_mapping(tmp_path), [path], data_dir=tmp_path / "data")
    canonical, _ = accounted(result, {"dtks_aksen.csv": {2, 3, 4, 5, 6, 7}})
    rows = canonical.sort("baris").select("nama", "nama_asli").rows()
    assert rows == [
        ("JOSE MARIA", "José María"),
        ("MUNOZ", "MUÑOZ"),
        ("SITI", "Ｓｉｔｉ"),
        ("IRMA JOHAN", "İrma ǰohan"),
        ("IJSSEL", "ĲSSEL"),
        ("ZAID O", "Zaïd Ø"),  # Ø has no decomposition: spelled O as ASCII names do
    ]


# --- CSV formula injection ---------------------------------------------------------------------------


def _csv_quote(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


def test_formula_cells_are_never_exported_unescaped(tmp_path: Path) -> None:
    # NAMA first, so a raw line starts with the formula; rows 2-4 lack IDDTKS (quarantined), 5-7 are kept
    lines = [f"{_csv_quote(f)}," for f in FORMULAS] + [f"{_csv_quote(f)},{i}" for i, f in enumerate(FORMULAS)]
    path = write(tmp_path / "dtks_formula.csv", "NAMA,IDDTKS\n" + "\n".join(lines) + "\n-1,9\n")
    result = ingest(make_mapping(tmp_path), [path], data_dir=tmp_path / "data")
    canonical, quarantine = accounted(result, {"dtks_formula.csv": {2, 3, 4, 5, 6, 7, 8}})
    assert sorted(canonical.filter(pl.col("baris").is_in([5, 6, 7]))["nama_asli"].to_list()) == sorted(
        FORMULAS
    )
    assert set(quarantine["baris"].to_list()) >= {2, 3, 4, 8}

    frame = quarantine_frame(result.batch_id, tmp_path / "data")
    # make sure the export sees cells that *start* with each dangerous character
    frame = pl.concat(
        [frame, frame.head(1).with_columns(pl.Series("raw", ["\t=1+1"]), pl.Series("kolom", ["-2+3"]))]
    )
    frame = frame.with_columns(pl.col("raw").str.replace(r'^"(.*)",?$', "$1"))  # strip the CSV quoting
    assert {v[0] for v in frame["raw"].to_list()} >= {"=", "+", "@", "\t"}
    out = tmp_path / "export" / "karantina.csv"
    assert export_quarantine(frame, out) == frame.height
    text = out.read_text(encoding="utf-8")
    cells = [cell for row in csv.reader(io.StringIO(text)) for cell in row]
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
    for escaped in ("'=HYPERLINK", "'+cmd|", "'@SUM(1)", "'-2+3", "'\t=1+1"):
        assert escaped in text
    assert [safe_cell(v) for v in ("-1", 5, None, "BUDI")] == ["'-1", 5, None, "BUDI"]


# --- XLSX and Parquet --------------------------------------------------------------------------------


def test_xlsx_with_numeric_nik_and_date_cell(tmp_path: Path) -> None:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["IDDTKS", "NAMA", "NIK", "TGL_LAHIR"])
    sheet.append([1, "BUDI", int(NIK), datetime(1990, 5, 17)])  # row 2: NIK a number, a date cell
    sheet.append([None, None, None, None])  # row 3: blank, skipped
    sheet.append([3, "SITI", float(NIK), "17/05/1990"])  # row 4
    sheet.append([4, None, NIK, "1990-05-17"])  # row 5: no NAMA (required)
    path = tmp_path / "dtks_excel.xlsx"
    book.save(path)
    m = make_mapping(tmp_path, ("IDDTKS", "NAMA", "NIK", "TGL_LAHIR"))
    result = ingest(m, [path], data_dir=tmp_path / "data")
    canonical, quarantine = accounted(result, {"dtks_excel.xlsx": {2, 4, 5}})
    rows = canonical.sort("baris").select("baris", "id_anggota_sumber", "nik", "tanggal_lahir").rows()
    assert rows == [(2, "1", NIK, date(1990, 5, 17)), (4, "3", NIK, date(1990, 5, 17))]
    assert all(f == [] for f in canonical["flags"].to_list())
    (bad,) = quarantine.to_dicts()
    assert (bad["berkas"], bad["baris"], bad["kolom"], bad["atribut"], bad["kode"]) == (
        "dtks_excel.xlsx",
        5,
        "NAMA",
        "nama",
        "nama_missing",
    )
    assert bad["pesan"] == "dtks_excel.xlsx: row 5: NAMA (nama): nama missing"
    assert '"IDDTKS": "4"' in bad["raw"]


def test_parquet_input_with_typed_columns(tmp_path: Path) -> None:
    table = pa.table(
        {
            "IDDTKS": pa.array([1, 2, 3], pa.int64()),
            "NAMA": ["BUDI", "SITI", None],
            "NIK": pa.array([int(NIK), None, int(NIK)], pa.int64()),
            "TGL_LAHIR": pa.array([date(1990, 5, 17), None, date(1990, 5, 17)], pa.date32()),
        }
    )
    path = tmp_path / "dtks_parquet.parquet"
    pq.write_table(table, path)
    m = make_mapping(tmp_path, ("IDDTKS", "NAMA", "NIK", "TGL_LAHIR"))
    result = ingest(m, [path], data_dir=tmp_path / "data")
    canonical, quarantine = accounted(result, {"dtks_parquet.parquet": {1, 2, 3}})
    rows = canonical.sort("baris").select("baris", "id_anggota_sumber", "nik", "tanggal_lahir").rows()
    assert rows == [(1, "1", NIK, date(1990, 5, 17)), (2, "2", None, None)]
    (bad,) = quarantine.to_dicts()
    assert (bad["berkas"], bad["baris"], bad["kolom"], bad["atribut"], bad["kode"]) == (
        "dtks_parquet.parquet",
        3,
        "NAMA",
        "nama",
        "nama_missing",
    )
    assert bad["pesan"] == "dtks_parquet.parquet: row 3: NAMA (nama): nama missing"
