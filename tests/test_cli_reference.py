"""``dtsen reference``, driven through its own Typer app (main.py wires in sub-apps still being written)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from dtsen.canonical.docs import render_markdown
from dtsen.cli.reference import app, mask_identifier

runner = CliRunner()
NIK = "3302011203900012"  # Kab. Banyumas, 12-03-1990, male, serial 0012
NIK_WOMAN = "3302015203900012"


def test_data_model_prints_the_markdown() -> None:
    result = runner.invoke(app, ["data-model"])
    assert result.exit_code == 0, result.output
    assert result.output == render_markdown()


def test_data_model_writes_the_file(tmp_path: Path) -> None:
    out = tmp_path / "docs" / "data-model.md"
    result = runner.invoke(app, ["data-model", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_text(encoding="utf-8") == render_markdown()
    assert "7 entities" in result.output


def test_regions_lists_provinces_by_default() -> None:
    result = runner.invoke(app, ["regions"])
    assert result.exit_code == 0, result.output
    assert "Jawa Tengah" in result.output
    assert "38 of 38 shown" in result.output


def test_regions_below_a_parent_with_limit() -> None:
    result = runner.invoke(app, ["regions", "--parent", "33.02", "--limit", "3"])
    assert result.exit_code == 0, result.output
    assert "kecamatan in Kabupaten Banyumas" in result.output
    assert "33.02.01" in result.output
    assert "Lumbir" in result.output
    assert "3 of " in result.output


def test_regions_villages_show_desa_or_kelurahan() -> None:
    result = runner.invoke(app, ["regions", "--parent", "330201", "--level", "desa"])
    assert result.exit_code == 0, result.output
    assert "33.02.01.2001" in result.output
    assert "desa" in result.output


@pytest.mark.parametrize(
    "args",
    [["--parent", "9999"], ["--parent", "3302012001"], ["--parent", "3302", "--level", "provinsi"]],
)
def test_regions_rejects_bad_parent_or_level(args: list[str]) -> None:
    result = runner.invoke(app, ["regions", *args])
    assert result.exit_code == 2


def test_codes_lists_every_code_list() -> None:
    result = runner.invoke(app, ["codes"])
    assert result.exit_code == 0, result.output
    for name in ("Lantai", "DayaListrik", "PekerjaanSIAK", "JenisKendaraan", "StatusPadan"):
        assert name in result.output


@pytest.mark.parametrize("name", ["Lantai", "lantai"])
def test_codes_shows_one_list_by_name_or_column(name: str) -> None:
    result = runner.invoke(app, ["codes", name])
    assert result.exit_code == 0, result.output
    assert "Marmer/granit" in result.output
    assert "Earth" in result.output


def test_codes_shows_column_names_for_column_lists() -> None:
    result = runner.invoke(app, ["codes", "FungsiTubuh"])
    assert result.exit_code == 0, result.output
    assert "sulit_melihat" in result.output


def test_codes_unknown_name() -> None:
    result = runner.invoke(app, ["codes", "nothing_like_this"])
    assert result.exit_code == 2


def test_mask_identifier_keeps_only_the_last_four() -> None:
    assert mask_identifier(NIK) == "************0012"
    assert mask_identifier("1234") == "****"


def test_check_nik_valid_is_masked() -> None:
    result = runner.invoke(app, ["check-nik", NIK])
    assert result.exit_code == 0, result.output
    assert "************0012" in result.output
    assert "valid: yes" in result.output
    assert "Kabupaten Banyumas" in result.output
    assert NIK not in result.output
    assert "120390" not in result.output
    assert "330201" not in result.output


def test_check_nik_from_stdin() -> None:
    result = runner.invoke(app, ["check-nik", "-"], input=f"{NIK}\n")
    assert result.exit_code == 0, result.output
    assert "************0012" in result.output


def test_check_nik_mismatches_are_warnings() -> None:
    result = runner.invoke(app, ["check-nik", NIK_WOMAN, "--birth-date", "1990-03-13", "--sex", "1"])
    assert result.exit_code == 0, result.output
    assert "nik_birth_date_mismatch" in result.output
    assert "nik_sex_mismatch" in result.output
    assert "female" in result.output
    assert NIK_WOMAN not in result.output


def test_check_nik_invalid_exits_1_and_hides_digits() -> None:
    bad_date = "3302019903900012"
    result = runner.invoke(app, ["check-nik", bad_date])
    assert result.exit_code == 1
    assert "nik_birth_date_invalid" in result.output
    assert "990390" not in result.output
    assert "valid: no" in result.output


def test_check_nik_wrong_length() -> None:
    result = runner.invoke(app, ["check-nik", "33020112039000"])
    assert result.exit_code == 1
    assert "nik_length" in result.output
    assert "**********9000" in result.output


def test_check_kk() -> None:
    result = runner.invoke(app, ["check-nik", "--kk", NIK])
    assert result.exit_code == 0, result.output
    assert "No. KK ************0012" in result.output
    assert "sex" not in result.output


def test_check_kk_rejects_person_options() -> None:
    result = runner.invoke(app, ["check-nik", "--kk", NIK, "--sex", "1"])
    assert result.exit_code == 2


def test_check_nik_rejects_bad_sex() -> None:
    result = runner.invoke(app, ["check-nik", NIK, "--sex", "3"])
    assert result.exit_code == 2
