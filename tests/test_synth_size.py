"""`dtsen synth` says up front when its output is too small for a cycle to train the welfare model."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dtsen.cli.main import app
from dtsen.config import reset_settings
from dtsen.synth.survey_size import min_trainable_persons
from dtsen.welfare.train import MIN_SURVEY_HOUSEHOLDS

ENV = {"DTSEN_LOG_LEVEL": None, "DTSEN_LOG_FORMAT": None, "DTSEN_CONFIG": None}


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.chdir(tmp_path)
    root = logging.getLogger()
    level = root.level
    yield
    for handler in list(root.handlers):
        if getattr(handler, "_dtsen", False):
            root.removeHandler(handler)
    root.setLevel(level)
    reset_settings()


def survey_households(out: Path) -> int:
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    return next(f["rows"] for f in manifest["files"] if f["table"] == "susenas_rumah_tangga")


def synth(persons: int, out: Path):
    args = ["synth", "-n", str(persons), "--out", str(out), "--workers", "1", "--seed", "3"]
    return CliRunner().invoke(app, args, env=ENV)


def test_a_population_too_small_to_train_is_announced_before_generating(tmp_path: Path) -> None:
    minimum = min_trainable_persons()
    result = synth(5000, tmp_path / "small")
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert f"--persons 5,000 is below {minimum:,}" in text
    assert f"short of the {MIN_SURVEY_HOUSEHOLDS} the welfare model needs" in text
    assert text.index("warning") < text.index("living persons")  # said before the summary, not after
    assert survey_households(tmp_path / "small") < MIN_SURVEY_HOUSEHOLDS  # and it is true


def test_the_stated_minimum_gives_a_trainable_survey(tmp_path: Path) -> None:
    result = synth(min_trainable_persons(), tmp_path / "enough")
    assert result.exit_code == 0, result.output
    assert "warning" not in result.output
    assert survey_households(tmp_path / "enough") >= MIN_SURVEY_HOUSEHOLDS
