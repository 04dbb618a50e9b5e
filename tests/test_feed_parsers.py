"""Parsers on exports the synthetic generator never writes (issue 14): UTF-16/32 text, NUL bytes in a
few fields, CR-only line ends, a header ending in a delimiter; and the event and correction checks,
which read files by the same rules and answer a file they cannot use with one line naming it."""

from __future__ import annotations

import codecs
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import typer
from typer.testing import CliRunner

from dtsen.cli.feeds import corrections_app, events_app
from dtsen.cycle.corrections import read_corrections
from dtsen.cycle.events import read_events
from dtsen.sources.ingest import ingest
from dtsen.sources.readers import FileError, stage_file
from test_ingest_bad_input import accounted, make_mapping, rejects, write

ROWS = "IDDTKS,NAMA,ALAMAT\n1,JOSÉ,JL A\n2,SITI,JL B\n3,,JL C\n"


# --- UTF-16 and UTF-32 -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "declared", "encoding"),
    [
        (ROWS.encode("utf-16"), "auto", "utf-16-le"),  # BOM, the way Excel writes "Unicode text"
        (ROWS.encode("utf-16"), "utf-16", "utf-16-le"),  # BOM and declared (issue 14: refused as binary)
        (ROWS.encode("utf-16-be"), "utf-16", "utf-16-be"),  # declared, no BOM: byte order from the NULs
        (ROWS.encode("utf-16-le"), "auto", "utf-16-le"),  # no BOM, not declared: the NULs are unambiguous
        (codecs.BOM_UTF32_LE + ROWS.encode("utf-32-le"), "auto", "utf-32-le"),
        (ROWS.encode("utf-32-be"), "utf-32", "utf-32-be"),
    ],
)
def test_utf16_and_utf32_are_read_by_bom_or_declared_encoding(
    tmp_path: Path, data: bytes, declared: str, encoding: str
) -> None:
    path = write(tmp_path / "dtks_unicode.csv", data)
    m = make_mapping(tmp_path, ("IDDTKS", "NAMA", "ALAMAT"), encoding=declared, delimiter="auto")
    result = ingest(m, [path], data_dir=tmp_path / "data")
    canonical, quarantine = accounted(result, {"dtks_unicode.csv": {2, 3, 4}})
    assert canonical.sort("baris")["nama_asli"].to_list() == ["JOSÉ", "SITI"]
    assert canonical.sort("baris")["alamat"].to_list() == ["JL A", "JL B"]
    (missing,) = rejects(quarantine, "nama_missing")
    assert (missing["baris"], missing["kolom"], missing["raw"]) == (4, "NAMA", "3,,JL C")
    assert result.directory is not None
    manifest = (result.directory / "manifest.json").read_text(encoding="utf-8")
    assert f'"encoding": "{encoding}"' in manifest


def test_utf16_undecodable_sequence_costs_its_line(tmp_path: Path) -> None:
    lone_surrogate = b"\x00\xd8"  # a UTF-16 LE high surrogate with no low one after it
    data = (
        codecs.BOM_UTF16_LE
        + "IDDTKS,NAMA\n1,BUDI\n2,SI".encode("utf-16-le")
        + lone_surrogate
        + "TI\n3,ANI\n".encode("utf-16-le")
    )
    path = write(tmp_path / "dtks_rusak16.csv", data)
    staged = stage_file(path, path.name, make_mapping(tmp_path, encoding="auto"), tmp_path / "s.parquet")
    assert pq.read_table(staged.parquet).to_pydict()["_baris"] == [2, 4]
    assert [(r.baris, r.kolom, r.kode) for r in staged.rejects] == [(3, "NAMA", "encoding_invalid")]
    assert "not valid utf-16-le" in staged.rejects[0].pesan


# --- NUL bytes, CR-only lines, trailing delimiter ----------------------------------------------------


def test_nul_bytes_in_two_fields_quarantine_those_lines_only(tmp_path: Path) -> None:
    body = "".join(f"{i},WARGA {i},DUSUN {i}\n" for i in range(1, 41)).encode()
    body = body.replace(b"WARGA 7,", b"WAR\x00GA 7,").replace(b"DUSUN 20\n", b"DUS\x00UN 20\n")
    path = write(tmp_path / "dtks_nul.csv", b"IDDTKS,NAMA,ALAMAT\n" + body)
    m = make_mapping(tmp_path, ("IDDTKS", "NAMA", "ALAMAT"), encoding="auto", delimiter="auto")
    result = ingest(m, [path], data_dir=tmp_path / "data")
    canonical, quarantine = accounted(result, {"dtks_nul.csv": set(range(2, 42))})
    assert canonical.height == 38
    bad = rejects(quarantine, "nul_byte")
    assert [(r["baris"], r["kolom"], r["atribut"]) for r in bad] == [
        (8, "NAMA", "nama"),
        (21, "ALAMAT", "alamat"),
    ]
    assert bad[0]["pesan"] == "dtks_nul.csv: line 8: NUL byte in column(s) NAMA"
    assert bad[1]["raw"] == "20,WARGA 20,DUS\\x00UN 20"


@pytest.mark.parametrize("encoding", ["utf-8", "cp1252"])
def test_cr_only_line_endings_are_lines(tmp_path: Path, encoding: str) -> None:
    path = write(tmp_path / "dtks_mac.csv", ROWS.replace("\n", "\r").encode(encoding))
    m = make_mapping(tmp_path, ("IDDTKS", "NAMA", "ALAMAT"), encoding=encoding)
    result = ingest(m, [path], data_dir=tmp_path / "data")
    canonical, quarantine = accounted(result, {"dtks_mac.csv": {2, 3, 4}})
    assert canonical.sort("baris")["nama_asli"].to_list() == ["JOSÉ", "SITI"]
    (missing,) = rejects(quarantine, "nama_missing")
    assert (missing["baris"], missing["raw"]) == (4, "3,,JL C")  # the line, not the whole file
    assert "dtks_mac.csv: lines end with CR only (classic Mac); read as lines" in result.report["notes"]


def test_header_ending_in_a_delimiter_drops_the_unnamed_column(tmp_path: Path) -> None:
    content = "IDDTKS,NAMA,\n1,BUDI,\n2,SITI,\n3,ANI,CATATAN\n4,RINA\n"
    path = write(tmp_path / "dtks_koma.csv", content)
    result = ingest(make_mapping(tmp_path), [path], data_dir=tmp_path / "data")
    canonical, quarantine = accounted(result, {"dtks_koma.csv": {2, 3, 4, 5}})
    assert canonical.sort("baris")["nama"].to_list() == ["BUDI", "SITI"]
    assert [(r["baris"], r["kode"]) for r in quarantine.sort("baris").to_dicts()] == [
        (4, "field_count"),  # a value under no header name
        (5, "field_count"),  # fewer fields than the header
    ]
    assert any("header ends with 1 unnamed column(s)" in n for n in result.report["notes"])


def test_nameless_column_inside_the_header_is_a_file_error(tmp_path: Path) -> None:
    path = write(tmp_path / "dtks_lubang.csv", "IDDTKS,,NAMA\n1,x,BUDI\n")
    with pytest.raises(
        FileError, match=r"^dtks_lubang\.csv: line 1: column\(s\) 2 of the header have no name"
    ):
        stage_file(path, path.name, make_mapping(tmp_path), tmp_path / "s.parquet")


# --- event and correction checks ---------------------------------------------------------------------

EVENTS = "id_peristiwa,jenis,tanggal_peristiwa,tanggal_lapor,nik\n"
DEATH = "E{},MATI,2026-04-02,2026-04-05,3302014101560003\n"
CORRECTIONS = (
    "id_koreksi,jenis,id_keluarga_dtsen,atribut,nilai_baru,nomor_keputusan,tanggal_keputusan,petugas\n"
)
CORRECTION = "K{},ground_check,f1,lantai,8,BA/1,2026-05-01,PTG-1\n"


CLI = typer.Typer()
CLI.add_typer(events_app, name="events")
CLI.add_typer(corrections_app, name="corrections")


def _check(feed: str, *paths: Path) -> tuple[int, str]:
    """``dtsen events|corrections check PATHS``: exit code and output."""
    result = CliRunner().invoke(CLI, [feed, "check", *map(str, paths)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (
            "id_peristiwa,jenis,tanggal_peristiwa,nik\nE1,MATI,2026-04-02,1\n",
            "missing column(s) tanggal_lapor",
        ),
        ("", "empty file (0 bytes)"),
        ("PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00" * 40, "binary data"),
    ],
)
def test_events_check_names_an_unusable_file_in_one_line(tmp_path: Path, content: str, expected: str) -> None:
    path = write(tmp_path / "peristiwa.csv", content.encode("latin-1"))
    code, output = _check("events", path)
    assert code == 2
    assert "Traceback" not in output
    (line,) = [line for line in output.splitlines() if line.strip()]
    assert line.startswith(f"error: {path}: ")
    assert expected in line


def test_corrections_check_names_a_missing_column(tmp_path: Path) -> None:
    path = write(
        tmp_path / "koreksi.csv",
        CORRECTIONS.replace(",petugas", "") + "K1,verval,f1,lantai,8,BA,2026-05-01\n",
    )
    code, output = _check("corrections", path)
    assert code == 2
    assert output.startswith(f"error: {path}: missing column(s) petugas in the header (line 1")


@pytest.mark.parametrize("form", ["utf-16", "semicolon", "cr"])
def test_feeds_read_utf16_semicolon_and_cr_files(tmp_path: Path, form: str) -> None:
    def encode(text: str) -> bytes:
        if form == "semicolon":
            return text.replace(",", ";").encode()
        return text.encode("utf-16") if form == "utf-16" else text.replace("\n", "\r").encode()

    events = write(tmp_path / "peristiwa.csv", encode(EVENTS + DEATH.format(1)))
    feed = read_events(events)
    assert (feed.events["id_peristiwa"].to_list(), feed.quarantine.height) == (["E1"], 0)
    corrections = write(tmp_path / "koreksi.csv", encode(CORRECTIONS + CORRECTION.format(1)))
    cfeed = read_corrections(corrections)
    assert (cfeed.corrections["id_koreksi"].to_list(), cfeed.quarantine.height) == (["K1"], 0)
    assert _check("events", events)[0] == 0
    assert _check("corrections", corrections)[0] == 0


def test_truncated_last_line_of_an_events_file_is_quarantined(tmp_path: Path) -> None:
    path = write(tmp_path / "peristiwa.csv", EVENTS + DEATH.format(1) + DEATH.format(2) + "E3,MATI,2026-04-0")
    feed = read_events(path)
    assert feed.events["id_peristiwa"].to_list() == ["E1", "E2"]
    (row,) = feed.quarantine.to_dicts()
    assert (row["berkas"], row["baris"], row["kode"], row["raw"]) == (
        "peristiwa.csv",
        4,
        "field_count",
        "E3,MATI,2026-04-0",
    )
    assert row["pesan"].startswith("peristiwa.csv: line 4: 3 fields, fewer than the 5 in the header")
    code, output = _check("events", path)
    assert code == 1
    assert "1 rejected" in output


def test_nul_byte_in_a_correction_is_quarantined_with_its_column(tmp_path: Path) -> None:
    rows = "".join(CORRECTION.format(i) for i in range(1, 30)).replace(
        "K5,ground_check,f1,lantai,8,", "K5,ground_check,f1,lan\x00tai,8,"
    )
    feed = read_corrections(write(tmp_path / "koreksi.csv", CORRECTIONS + rows))
    assert feed.corrections.height == 28
    (row,) = feed.quarantine.to_dicts()
    assert (row["baris"], row["kolom"], row["kode"]) == (6, "atribut", "nul_byte")
