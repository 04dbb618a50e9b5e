"""End to end: every command that touches personal data, run at DEBUG in text and JSON log formats, writes
no NIK, No. KK or full name of the synthetic population to its logs (or to its own output).

The identifiers are the generator's truth, so the check covers what the commands actually handled, not a
hand-picked example; a NIK is also looked for as a spreadsheet would render it (``3.47101E+15``).
"""

from __future__ import annotations

import io
import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from dtsen.cli import main as cli_main
from dtsen.config import reset_settings
from dtsen.logs import configure_logging

runner = CliRunner()
FORMATS = ["text", "json"]
PERSONS = 3_000
TEXT_LINE = re.compile(r"^\d\d:\d\d:\d\d (DEBUG|INFO|WARNING|ERROR|CRITICAL) +[\w.]+: ")


@dataclass
class Session:
    """What one log format's run of all commands wrote: the log handler's text and every command's output."""

    fmt: str
    logs: str = ""
    outputs: dict[str, str] = field(default_factory=dict)
    exit_codes: dict[str, int] = field(default_factory=dict)
    dataset: Path = Path()


def _invoke(
    session: Session, env: dict[str, str | None], label: str, *args: str, stdin: str | None = None
) -> None:
    result = runner.invoke(cli_main.app, ["--log-level", "DEBUG", *args], env=env, input=stdin)
    session.outputs[label] = result.output
    session.exit_codes[label] = result.exit_code
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception


@pytest.fixture(scope="module", params=FORMATS)
def session(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Session:
    fmt = str(request.param)
    tmp = tmp_path_factory.mktemp(f"privacy_{fmt}")
    run = Session(fmt, dataset=tmp / "synth")
    buffer = io.StringIO()
    env = {
        "DTSEN_LOG_FORMAT": fmt,
        "DTSEN_LOG_LEVEL": None,
        "DTSEN_CONFIG": None,
        "DTSEN_DATABASE_URL": None,
        "DTSEN_DATA_DIR": str(tmp / "data"),
    }

    def configure(level: str = "INFO", log_format: str = "text", stream: object = None) -> None:
        configure_logging(level, log_format, buffer)  # every handler the CLI installs writes here

    root = logging.getLogger()
    old_level = root.level
    out, url = str(run.dataset), f"sqlite:///{tmp / 'dtsen.db'}"
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(cli_main, "configure_logging", configure)
            mp.chdir(tmp)
            _invoke(run, env, "synth", "synth", "-n", str(PERSONS), "--kabupaten", "3471", "--seed", "3",
                    "--out", out, "--workers", "1")  # fmt: skip
            assert run.exit_codes["synth"] == 0, run.outputs["synth"]
            _invoke(run, env, "synth exists", "synth", "-n", "100", "--kabupaten", "3471", "--out", out)
            _invoke(run, env, "report", "synth", "--out", out, "--report")
            person = pl.read_parquet(run.dataset / "truth" / "persons.parquet").row(0, named=True)
            family = pl.read_parquet(run.dataset / "truth" / "families.parquet").row(0, named=True)
            nik, born, sex = person["nik"], person["tanggal_lahir"].isoformat(), str(person["jenis_kelamin"])
            _invoke(run, env, "check-nik", "reference", "check-nik", nik, "--birth-date", born, "--sex", sex)
            _invoke(run, env, "check-nik wrong", "reference", "check-nik", nik, "--birth-date", "1901-02-03",
                    "--sex", "2" if sex == "1" else "1")  # fmt: skip
            _invoke(run, env, "check-nik stdin", "reference", "check-nik", "-", stdin=nik + "\n")
            _invoke(run, env, "check-nik excel", "reference", "check-nik", f"{int(nik):.5E}")
            _invoke(run, env, "check-nik truncated", "reference", "check-nik", nik[:10] + nik[11:])
            _invoke(run, env, "check-kk", "reference", "check-nik", "--kk", family["no_kk"])
            _invoke(run, env, "db upgrade", "db", "upgrade", "--url", url)
            _invoke(run, env, "db load-regions", "db", "load-regions", "--url", url)
    finally:
        for handler in list(root.handlers):
            if getattr(handler, "_dtsen", False):
                root.removeHandler(handler)
        root.setLevel(old_level)
        reset_settings()
    run.logs = buffer.getvalue()
    return run


@pytest.fixture(scope="module")
def secrets(session: Session) -> dict[str, list[str]]:
    """Thousands of true identifiers and names of the people the commands just handled."""
    persons = pl.read_parquet(session.dataset / "truth" / "persons.parquet", columns=["nik", "nama"])
    families = pl.read_parquet(
        session.dataset / "truth" / "families.parquet", columns=["no_kk", "no_kk_now", "no_kk_2022"]
    )
    kk = pl.concat([families[c] for c in families.columns]).unique().to_list()
    niks = persons["nik"].to_list()
    return {
        "nik": niks,
        "nik_excel": [f"{int(n):.5E}" for n in niks],
        "kk": kk,
        "kk_excel": [f"{int(k):.5E}" for k in kk],
        "nama": persons["nama"].unique().to_list(),
    }


def _leaks(text: str, secrets: dict[str, list[str]]) -> dict[str, list[str]]:
    """Secrets found in ``text``: an identifier's first 12 digits (region and birth or issue date) with any
    separators, which also catches a float rendering that kept them; the 6-digit Excel rendering; a name
    as a whole word."""
    squeezed = re.sub(r"[\s.,\-/_'\"]", "", text)
    found: dict[str, list[str]] = {}
    for kind in ("nik", "kk"):
        found[kind] = [v for v in secrets[kind] if v[:12] in squeezed]
        found[f"{kind}_excel"] = [v for v in secrets[f"{kind}_excel"] if v in text]
    found["nama"] = [
        n for n in secrets["nama"] if n in text and re.search(rf"(?<!\w){re.escape(n)}(?!\w)", text)
    ]
    return {k: v for k, v in found.items() if v}


def test_the_secrets_are_real(secrets: dict[str, list[str]]) -> None:
    assert len(secrets["nik"]) > PERSONS
    assert len(secrets["kk"]) > PERSONS // 4  # ~3 persons a card
    assert len(secrets["nama"]) > PERSONS // 2
    assert all(re.fullmatch(r"\d{16}", n) for n in secrets["nik"])


def test_every_command_ran(session: Session) -> None:
    assert session.exit_codes == {
        "synth": 0,
        "synth exists": 2,
        "report": 0,
        "check-nik": 0,
        "check-nik wrong": 0,  # warnings only: the NIK is not reissued when a birth date is corrected
        "check-nik stdin": 0,
        "check-nik excel": 1,
        "check-nik truncated": 1,
        "check-kk": 0,
        "db upgrade": 0,
        "db load-regions": 0,
    }, session.outputs


def test_logs_are_not_empty(session: Session) -> None:
    lines = [line for line in session.logs.splitlines() if line.strip()]
    assert len(lines) >= 3
    for message in ("synthetic population written", "database upgraded", "regions loaded"):
        assert message in session.logs
    if session.fmt == "json":
        records = [json.loads(line) for line in lines]  # every line is one JSON object
        assert {"ts", "level", "logger", "msg"} <= set(records[0])
        assert any(r["logger"] == "dtsen.synth.generate" for r in records)
    else:
        assert all(TEXT_LINE.match(line) for line in lines if not line.startswith((" ", "\t"))), lines


def test_logs_hold_no_nik_kk_or_name(session: Session, secrets: dict[str, list[str]]) -> None:
    assert _leaks(session.logs, secrets) == {}


@pytest.mark.parametrize(
    "label",
    [
        "synth",
        "synth exists",
        "report",
        "check-nik",
        "check-nik wrong",
        "check-nik stdin",
        "check-nik excel",
        "check-nik truncated",
        "check-kk",
        "db upgrade",
        "db load-regions",
    ],
)
def test_command_output_holds_no_nik_kk_or_name(
    session: Session, secrets: dict[str, list[str]], label: str
) -> None:
    output = session.outputs[label]
    assert output.strip()
    assert _leaks(output, secrets) == {}


def test_the_leak_detector_finds_what_it_looks_for(secrets: dict[str, list[str]]) -> None:
    """Guards the guard: a log line quoting a NIK, a dotted KK, an Excel NIK or a name is caught."""
    nik, kk, name = secrets["nik"][7], secrets["kk"][3], secrets["nama"][5]
    dotted = f"{kk[:2]}.{kk[2:4]}.{kk[4:6]}.{kk[6:]}"
    assert "nik" in _leaks(f"x nik={nik}", secrets)
    assert "kk" in _leaks(f"x kk {dotted}", secrets)
    assert "nik" in _leaks(f"x {int(nik):.11E} y", secrets)  # a float that kept 12 digits
    assert "nik_excel" in _leaks(f"x {int(nik):.5E} y", secrets)
    assert "nama" in _leaks(f'{{"msg": "{name}"}}', secrets)
    assert _leaks("12:00:01 INFO dtsen.x: nothing personal rows=4,000 seconds=0.25", secrets) == {}
