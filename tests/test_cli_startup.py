"""The CLI starts fast: ``dtsen --version``/``--help`` and every ``dtsen <group> --help`` import no heavy
library (checked in a fresh interpreter, not timed), and the lazily declared sub-commands match the real ones.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import typer.main
from typer.testing import CliRunner

from dtsen.cli import main as cli_main
from dtsen.cli.main import COMMANDS, LazyGroup, app

HEAVY = (
    "polars",
    "pyarrow",
    "duckdb",
    "ibis",
    "sqlalchemy",
    "pydantic_settings",
    "lightgbm",
    "pyspark",
    "fastapi",
    "dtsen.config",
)

# Runs each command line in this one interpreter; prints, per line, its exit code and the heavy modules it
# newly imported.
PROBE = """
import json, sys
from dtsen.cli.main import app
heavy = json.loads(sys.argv[1])
report = {}
for line in json.loads(sys.argv[2]):
    before, code = set(sys.modules), None
    try:
        app(line, prog_name="dtsen")
    except SystemExit as exit:
        code = exit.code
    new = set(sys.modules) - before
    imported = sorted(m for m in new if m.split(".")[0] in heavy or m in heavy)
    report[" ".join(line) or "(none)"] = [code or 0, imported]
print(json.dumps(report))
"""


def _heavy_imports(lines: list[list[str]], heavy: tuple[str, ...] = HEAVY) -> dict[str, list[object]]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(heavy), json.dumps(lines)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def test_version_and_help_import_no_heavy_library_nor_rich() -> None:
    report = _heavy_imports([["--version"], ["--help"], []], (*HEAVY, "rich", "pydantic"))
    # no arguments prints the help too, with click's usage-error exit code
    assert report == {"--version": [0, []], "--help": [0, []], "(none)": [2, []]}


def test_group_help_imports_no_heavy_library() -> None:
    lines = [[name, "--help"] for name in COMMANDS] + [["link", "review", "--help"]]
    report = _heavy_imports(lines)
    assert {line: outcome for line, outcome in report.items() if outcome != [0, []]} == {}


def _first_paragraph(text: str | None) -> str:
    """The first paragraph as --help shows it: line breaks inside it are rewrapped, so they do not count."""
    return " ".join((text or "").split("\n\n")[0].split())


@pytest.mark.parametrize("name", list(COMMANDS))
def test_declared_help_matches_the_real_command(name: str) -> None:
    group = typer.main.get_command(app)
    assert isinstance(group, LazyGroup)
    real = group.load(name)
    assert real.name == name
    assert not real.hidden
    assert not real.deprecated
    assert _first_paragraph(COMMANDS[name].help) == _first_paragraph(real.short_help or real.help)


def test_help_lists_every_command_without_loading_them(capsys: pytest.CaptureFixture[str]) -> None:
    group = typer.main.get_command(app)
    assert isinstance(group, LazyGroup)
    group.main(["--help"], prog_name="dtsen", standalone_mode=False)
    out = capsys.readouterr().out
    for name in COMMANDS:
        assert f"  {name} " in out
    assert not group._loaded


def test_a_sub_command_runs_and_typos_are_suggested() -> None:
    result = CliRunner().invoke(app, ["programs", "--help"])
    assert result.exit_code == 0, result.output
    assert "Program definitions (YAML)" in result.output
    typo = CliRunner().invoke(app, ["snapshots"])
    assert typo.exit_code == 2
    assert "Did you mean 'snapshot'?" in typo.output


def test_config_env_is_the_one_settings_read() -> None:
    from dtsen.config import CONFIG_ENV

    assert cli_main.CONFIG_ENV == CONFIG_ENV


def test_settings_load_when_a_command_runs_not_for_its_help(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dtsen.config import CONFIG_ENV, reset_settings

    monkeypatch.setenv(CONFIG_ENV, "")  # restored afterwards: --config below sets it
    missing = str(tmp_path / "missing.toml")
    try:
        helped = CliRunner().invoke(app, ["--config", missing, "programs", "list", "--help"])
        assert helped.exit_code == 0, helped.output
        ran = CliRunner().invoke(app, ["--config", missing, "programs", "list"])
        assert ran.exit_code != 0
        assert "missing.toml" in str(ran.exception)
    finally:
        reset_settings()


def test_bench_cli_prints_one_json_line_of_start_up_seconds() -> None:
    result = CliRunner().invoke(app, ["bench", "cli", "--runs", "1"])
    assert result.exit_code == 0, result.output
    line = json.loads(result.stdout.strip().splitlines()[-1])
    assert line["stage"] == "cli"
    assert line["runs"] == 1
    for key in ("version_min_s", "version_median_s", "help_min_s", "help_median_s"):
        assert line[key] > 0
