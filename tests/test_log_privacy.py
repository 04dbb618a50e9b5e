"""End to end: every command that touches personal data, run at DEBUG in text and JSON log formats, writes
no NIK, No. KK or full name of the synthetic population to its logs (or to its own output).

The commands run in the order of the quarterly demo: the reference checks, then the batch plane (ingest
with rejected rows, the 2026Q1 cycle, the 2026Q2 event feed and corrections, the 2026Q2 cycle, snapshots,
clerical review, quarantine). The identifiers are the generator's truth plus the event feed's newborns and
new cards, so the check covers what the commands actually handled, not a hand-picked example; a NIK is
also looked for as a spreadsheet would render it (``3.47101E+15``). The two views meant to show personal
data to a clerk (``--show-pii``, ``--show-raw``) must leak, which proves the detector sees real output.
"""

from __future__ import annotations

import csv
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
from dtsen.synth.generate import SynthRequest, generate
from dtsen.synth.params import SynthParams

runner = CliRunner()
FORMATS = ["text", "json"]
PERSONS = 3_000
TEXT_LINE = re.compile(r"^\d\d:\d\d:\d\d (DEBUG|INFO|WARNING|ERROR|CRITICAL) +([\w.]+): ")
SHOWS_PII = ["link review list --show-pii", "quarantine list --show-raw"]  # for the clerk, by design
# Every other command run: its output must hold no personal data.
MASKED = [
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
    "ingest",
    "ingest rejects",
    "quarantine list",
    "cycle run 2026Q1",
    "cycle run again",
    "synth-feeds",
    "events check",
    "events check bad",
    "corrections check",
    "events deaths",
    "cycle run 2026Q2",
    "cycle status",
    "snapshot list",
    "snapshot show",
    "snapshot show --json",
    "snapshot verify",
    "snapshot diff",
    "snapshot diff --json",
    "link review list",
]


@dataclass
class Session:
    """What one log format's run of all commands wrote: the log handler's text and every command's output."""

    fmt: str
    logs: str = ""
    outputs: dict[str, str] = field(default_factory=dict)
    exit_codes: dict[str, int] = field(default_factory=dict)
    dataset: Path = Path()
    inbox: Path = Path()
    data: Path = Path()


def _invoke(
    session: Session, env: dict[str, str | None], label: str, *args: str, stdin: str | None = None
) -> None:
    result = runner.invoke(cli_main.app, ["--log-level", "DEBUG", *args], env=env, input=stdin)
    session.outputs[label] = result.output
    session.exit_codes[label] = result.exit_code
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception


def _bad_siak(source: Path, out: Path) -> Path:
    """Eight real SIAK rows, four of them broken (15-digit NIK, 31 February, a cut line, an Excel NIK), so
    ingestion quarantines rows whose raw line holds a name, a NIK and a birth date."""
    with source.open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    head, body = rows[0], rows[1:9]
    col = {c: i for i, c in enumerate(head)}
    body[0][col["NIK"]] = body[0][col["NIK"]][:-1]
    body[1][col["TGL_LHR"]] = "31-02-1970"
    body[2] = body[2][: col["TGL_LHR"] + 1]
    body[3][col["NIK"]] = f"{int(body[3][col['NIK']]):.5E}"
    with out.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([head, *body])
    return out


def _bad_events(feed: Path, truth: Path, out: Path) -> Path:
    """Three events the feed check must reject, about real people: a death with a 15-digit NIK, a birth
    on 30 February with an unknown sex code, a marriage to oneself."""
    persons = pl.read_parquet(truth / "persons.parquet").head(2)
    nik, other = persons["nik"].to_list()
    columns = pl.read_csv(feed, n_rows=0).columns
    rows = [
        {
            "id_peristiwa": "EV-X-1",
            "jenis": "MATI",
            "tanggal_peristiwa": "2026-04-10",
            "tanggal_lapor": "2026-04-20",
            "nik": nik[:-1],
        },
        {
            "id_peristiwa": "EV-X-2",
            "jenis": "LAHIR",
            "tanggal_peristiwa": "2026-02-30",
            "tanggal_lapor": "2026-05-01",
            "nik": other,
            "nama": persons["nama"][1],
            "jenis_kelamin": "3",
            "nik_ibu": nik,
        },
        {
            "id_peristiwa": "EV-X-3",
            "jenis": "KAWIN",
            "tanggal_peristiwa": "2026-05-01",
            "tanggal_lapor": "2026-05-02",
            "nik": nik,
            "nik_pasangan": nik,
        },
    ]
    pl.DataFrame(
        [{c: r.get(c) for c in columns} for r in rows], schema=dict.fromkeys(columns, pl.String), orient="row"
    ).write_csv(out)
    return out


def _reference_commands(run: Session, env: dict[str, str | None], url: str) -> None:
    out = str(run.dataset)
    _invoke(
        run,
        env,
        "synth",
        "synth",
        "-n",
        str(PERSONS),
        "--kabupaten",
        "3471",
        "--seed",
        "3",
        "--out",
        out,
        "--workers",
        "1",
    )
    assert run.exit_codes["synth"] == 0, run.outputs["synth"]
    _invoke(run, env, "synth exists", "synth", "-n", "100", "--kabupaten", "3471", "--out", out)
    _invoke(run, env, "report", "synth", "--out", out, "--report")
    person = pl.read_parquet(run.dataset / "truth" / "persons.parquet").row(0, named=True)
    family = pl.read_parquet(run.dataset / "truth" / "families.parquet").row(0, named=True)
    nik, born, sex = person["nik"], person["tanggal_lahir"].isoformat(), str(person["jenis_kelamin"])
    _invoke(run, env, "check-nik", "reference", "check-nik", nik, "--birth-date", born, "--sex", sex)
    _invoke(
        run,
        env,
        "check-nik wrong",
        "reference",
        "check-nik",
        nik,
        "--birth-date",
        "1901-02-03",
        "--sex",
        "2" if sex == "1" else "1",
    )
    _invoke(run, env, "check-nik stdin", "reference", "check-nik", "-", stdin=nik + "\n")
    _invoke(run, env, "check-nik excel", "reference", "check-nik", f"{int(nik):.5E}")
    _invoke(run, env, "check-nik truncated", "reference", "check-nik", nik[:10] + nik[11:])
    _invoke(run, env, "check-kk", "reference", "check-nik", "--kk", family["no_kk"])
    _invoke(run, env, "db upgrade", "db", "upgrade", "--url", url)
    _invoke(run, env, "db load-regions", "db", "load-regions", "--url", url)


def _batch_commands(run: Session, env: dict[str, str | None], tmp: Path) -> None:
    """The quarterly demo on the same city. The inbox is the same population (same seed) with a Susenas
    sample large enough to train the welfare model (the default 1.5% of 3,000 persons is 19 households)."""
    generate(
        SynthRequest(
            persons=PERSONS,
            out=run.inbox,
            seed=3,
            kabupaten=["3471"],
            workers=1,
            params=SynthParams(susenas_sample_rate=0.2),
        )
    )
    inbox, rejects = str(run.inbox), str(tmp / "rejects")
    _invoke(run, env, "ingest", "ingest", "--synth", inbox)
    bad = _bad_siak(run.inbox / "sources" / "siak_penduduk.csv", tmp / "siak_rusak.csv")
    _invoke(run, env, "ingest rejects", "ingest", "siak_penduduk", str(bad), "--data-dir", rejects)
    _invoke(run, env, "quarantine list", "quarantine", "list", "--data-dir", rejects)
    _invoke(run, env, "quarantine list --show-raw", "quarantine", "list", "--show-raw", "--data-dir", rejects)
    _invoke(run, env, "cycle run 2026Q1", "cycle", "run", "--period", "2026Q1", "--inbox", inbox)
    assert run.exit_codes["cycle run 2026Q1"] == 0, run.outputs["cycle run 2026Q1"]
    _invoke(run, env, "cycle run again", "cycle", "run", "--period", "2026Q1")
    _invoke(run, env, "synth-feeds", "synth-feeds", "--synth", inbox, "--period", "2026Q2", "--seed", "3")
    feed = run.data / "events" / "peristiwa-2026Q2.csv"
    fixes = run.data / "corrections" / "koreksi-2026Q2.csv"
    _invoke(run, env, "events check", "events", "check", str(feed))
    bad_feed = _bad_events(feed, run.inbox / "truth", tmp / "peristiwa-rusak.csv")
    _invoke(run, env, "events check bad", "events", "check", str(bad_feed))
    _invoke(run, env, "corrections check", "corrections", "check", str(fixes))
    _invoke(run, env, "events deaths", "events", "deaths", str(feed))  # Q1 beneficiaries who died since
    _invoke(run, env, "cycle run 2026Q2", "cycle", "run", "--period", "2026Q2")
    _invoke(run, env, "cycle status", "cycle", "status", "--period", "2026Q2")
    _invoke(run, env, "snapshot list", "snapshot", "list")
    _invoke(run, env, "snapshot show", "snapshot", "show", "2026Q2")
    _invoke(run, env, "snapshot show --json", "snapshot", "show", "2026Q1", "--json")
    _invoke(run, env, "snapshot verify", "snapshot", "verify", "all")
    _invoke(run, env, "snapshot diff", "snapshot", "diff", "2026Q1", "2026Q2")
    _invoke(run, env, "snapshot diff --json", "snapshot", "diff", "2026Q1", "--json")
    review = str(run.data / "cycles" / "2026Q2" / "link" / "tables")
    _invoke(run, env, "link review list", "link", "review", "list", "--status", "all")  # the cycle's
    _invoke(run, env, "link review list --show-pii", "link", "review", "list", "--run", review, "--show-pii")


@pytest.fixture(scope="module", params=FORMATS)
def session(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Session:
    fmt = str(request.param)
    tmp = tmp_path_factory.mktemp(f"privacy_{fmt}")
    run = Session(fmt, dataset=tmp / "synth", inbox=tmp / "inbox", data=tmp / "data")
    buffer = io.StringIO()
    env = {
        "DTSEN_LOG_FORMAT": fmt,
        "DTSEN_LOG_LEVEL": None,
        "DTSEN_CONFIG": None,
        "DTSEN_DATABASE_URL": None,
        "DTSEN_DATA_DIR": str(run.data),
        "COLUMNS": "1000",  # Rich must not wrap a table cell: a NIK folded over two lines would go unseen
    }

    def configure(level: str = "INFO", log_format: str = "text", stream: object = None) -> None:
        configure_logging(level, log_format, buffer)  # every handler the CLI installs writes here

    root = logging.getLogger()
    old_level = root.level
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(cli_main, "configure_logging", configure)
            mp.chdir(tmp)
            _reference_commands(run, env, f"sqlite:///{tmp / 'dtsen.db'}")
            _batch_commands(run, env, tmp)
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
    """Thousands of true identifiers and names of the people the commands just handled: both generated
    populations (the same people) and the event feed's newborns, their NIKs and the new family cards."""
    truth = [session.dataset / "truth", session.inbox / "truth"]
    persons = pl.concat([pl.read_parquet(t / "persons.parquet", columns=["nik", "nama"]) for t in truth])
    families = pl.concat(
        [pl.read_parquet(t / "families.parquet", columns=["no_kk", "no_kk_now", "no_kk_2022"]) for t in truth]
    )
    feed = pl.read_csv(session.data / "events" / "peristiwa-2026Q2.csv", infer_schema=False)
    kk = pl.concat([*(families[c] for c in families.columns), feed["no_kk_baru"]]).drop_nulls()
    kk = kk.unique(maintain_order=True)
    niks = pl.concat([persons["nik"], feed.filter(pl.col("jenis") == "LAHIR")["nik"]]).drop_nulls()
    niks = niks.filter(niks.str.len_chars() == 16).unique(maintain_order=True)  # not a mistyped one
    names = pl.concat([persons["nama"], feed["nama"]]).drop_nulls().unique(maintain_order=True)
    return {  # in file order, so the guard test below picks the same people every run
        "nik": niks.to_list(),
        "nik_excel": [f"{int(n):.5E}" for n in niks],
        "kk": kk.to_list(),
        "kk_excel": [f"{int(k):.5E}" for k in kk],
        "nama": names.to_list(),
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
        "ingest": 0,
        "ingest rejects": 0,  # rejected rows are quarantined, not fatal
        "quarantine list": 0,
        "quarantine list --show-raw": 0,
        "cycle run 2026Q1": 0,
        "cycle run again": 0,  # a published period is a no-op
        "synth-feeds": 0,
        "events check": 0,
        "events check bad": 1,
        "corrections check": 0,
        "events deaths": 0,
        "cycle run 2026Q2": 0,
        "cycle status": 0,
        "snapshot list": 0,
        "snapshot show": 0,
        "snapshot show --json": 0,
        "snapshot verify": 0,
        "snapshot diff": 0,
        "snapshot diff --json": 0,
        "link review list": 0,
        "link review list --show-pii": 0,
    }, session.outputs


def test_logs_are_not_empty(session: Session) -> None:
    lines = [line for line in session.logs.splitlines() if line.strip()]
    assert len(lines) >= 3
    for message in (
        "synthetic population written",
        "database upgraded",
        "regions loaded",
        "batch published",
        "step committed",
        "linkage run published",
        "families scored",
        "programs decided",
        "snapshot published",
        "period already published",
        "events read",
        "events applied",
        "corrections applied",
    ):
        assert message in session.logs
    assert session.logs.count("snapshot published") == 2  # 2026Q1 and 2026Q2
    if session.fmt == "json":
        records = [json.loads(line) for line in lines]  # every line is one JSON object
        assert {"ts", "level", "logger", "msg"} <= set(records[0])
        loggers = {r["logger"] for r in records}
        assert {"dtsen.synth.generate", "dtsen.sources.ingest", "dtsen.cycle.run"} <= loggers
    else:  # every line starts a record or is an indented continuation (a traceback, or another
        # library's multi-line message such as Splink's training warnings)
        assert all(TEXT_LINE.match(line) or line.startswith((" ", "\t")) for line in lines), lines


def test_logs_hold_no_nik_kk_or_name(session: Session, secrets: dict[str, list[str]]) -> None:
    assert _leaks(session.logs, secrets) == {}


@pytest.mark.parametrize("label", MASKED)
def test_command_output_holds_no_nik_kk_or_name(
    session: Session, secrets: dict[str, list[str]], label: str
) -> None:
    output = session.outputs[label]
    assert output.strip()
    assert _leaks(output, secrets) == {}


def test_only_the_clerk_views_show_personal_data(session: Session, secrets: dict[str, list[str]]) -> None:
    """The opt-in views do print NIKs and names (so the detector sees real command output), every other
    command is in the parametrized test above, and the masked views list the same rows."""
    assert sorted(session.outputs) == sorted(MASKED + SHOWS_PII)
    for label in SHOWS_PII:
        assert {"nik", "nama"} <= set(_leaks(session.outputs[label], secrets)), label
    assert "Quarantine: 4 findings" in session.outputs["quarantine list"]
    assert session.outputs["quarantine list"].count("field_count") == 1  # the cut line, shape kept
    pairs = re.search(r"review queue: ([\d,]+) pairs", session.outputs["link review list"])
    assert pairs is not None
    assert int(pairs.group(1).replace(",", "")) > 0
    assert "**************" in session.outputs["link review list"]  # NIKs masked, last two digits kept


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
