"""The world of the workflow journeys (tests/browser/test_workflow_journeys.py): a small synthetic city with
one published quarter, served by a live uvicorn on a fresh database of each backend, and the next quarter's
cycle run by the CLI with that serving database configured (so approved changes are exported at freeze
and outcomes recorded after publish).

The periods follow the clock (in WIB, the time zone of the test city): the served snapshot is the quarter
before today's, so a case opened today targets today's quarter (:func:`dtsen.workflows.cases.target_period`)
and a decision taken today lies inside that quarter's cut-off. Fixed periods would put every decision after
its period's end and the cycle would rightly defer it (``ditunda``).

The served-city world (tests/served_city.py) is not reused: the journey's cycle publishes a new snapshot
into the data dir and the database, which must not leak into the other browser tests' shared server.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
from browser_kit import LiveServer
from sqlalchemy import Engine, and_, exists, select

from shared_build import build_once

PERSONS = 3000
KABUPATEN = ["3471"]  # Kota Yogyakarta
SEED = 11
WIB = timezone(timedelta(hours=7), "WIB")


def now_wib() -> datetime:
    return datetime.now(WIB)


def periods(moment: datetime | None = None) -> tuple[str, str]:
    """(the served quarter, the quarter its cases feed): the quarter before today's, and today's."""
    from dtsen.cycle.period import Period

    today = (moment or now_wib()).date()
    current = Period(today.year, (today.month - 1) // 3 + 1)
    return str(current.previous()), str(current)


def dtsen(data_dir: Path, *args: str, database_url: str | None = None) -> str:
    """``dtsen <args>`` in a subprocess on ``data_dir`` (and the serving database, if given); its stdout."""
    env = {key: value for key, value in os.environ.items() if key != "DTSEN_DATABASE_URL"}
    env["DTSEN_DATA_DIR"] = str(data_dir)
    if database_url:
        env["DTSEN_DATABASE_URL"] = database_url
    done = subprocess.run(
        [sys.executable, "-m", "dtsen.cli.main", *args], capture_output=True, text=True, env=env, check=False
    )
    assert done.returncode == 0, f"dtsen {' '.join(args)} failed:\n{done.stderr[-3000:]}"
    return done.stdout


def base_data_dir(base_temp: Path) -> Path:
    """A data dir with the served quarter published (built once per test run, shared by xdist workers;
    ``base_temp`` is ``tmp_path_factory.getbasetemp()``). Read-only: the journeys copy it."""
    served, _next = periods()

    def build(root: Path) -> None:
        from dtsen.synth.generate import SynthRequest, generate
        from dtsen.synth.params import SynthParams

        synth = root / "synth"
        generate(
            SynthRequest(
                persons=PERSONS,
                out=synth,
                seed=SEED,
                kabupaten=KABUPATEN,
                params=SynthParams(susenas_sample_rate=0.2),
            )
        )
        dtsen(root / "data", "cycle", "run", "--period", served, "--inbox", str(synth))

    return build_once(base_temp, f"journey-world-{served}", build) / "data"


def run_cycle(data_dir: Path, database_url: str, period: str, cutoff: datetime) -> dict[str, Any]:
    """``dtsen cycle run --period`` with the serving database configured; the publish summary (JSON)."""
    out = dtsen(
        data_dir,
        "cycle",
        "run",
        "--period",
        period,
        "--cutoff",
        cutoff.isoformat(timespec="seconds"),
        database_url=database_url,
    )
    return dict(json.loads(out.strip().splitlines()[-1]))


# -- the server ----------------------------------------------------------------------------------------------
def _free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    return sock


@contextmanager
def serve(db_url: str, data_dir: Path, upload_dir: Path) -> Iterator[LiveServer]:
    """The app on ``db_url`` (migrated, regions and the served snapshot loaded) on a free port."""
    import uvicorn

    from dtsen.api import challenge
    from dtsen.api.app import create_app
    from dtsen.cycle import snapshot
    from dtsen.store.db import make_engine, upgrade
    from dtsen.store.regions import load_regions
    from dtsen.store.snapshot_load import load_snapshot

    upgrade(db_url)
    engine = make_engine(db_url)
    with engine.begin() as connection:
        load_regions(connection)
    current = snapshot.current(data_dir)
    assert current is not None
    load_snapshot(engine, data_dir, current.ref)

    app = create_app(db_url)
    app.state.upload_dir = upload_dir
    app.state.challenge_settings = challenge.ChallengeSettings(14, 900)  # a cheap proof of work
    sock = _free_socket()
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    assert httpx.get(f"{url}/healthz", timeout=60).text == "ok"  # waits in the backlog until accepted
    try:
        yield LiveServer(url=url, db_url=db_url, engine=engine, data_dir=data_dir, app=app)
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()
        engine.dispose()


# -- the people of the journeys ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Resident:
    nik: str
    nama: str
    family: str
    kode_prov: str
    kode_kab: str
    kode_kec: str
    kode_desa: str


@dataclass(frozen=True)
class Cast:
    """Who the journeys are about, all in one desa: the family a resident proposes (usulan), the family a
    neighbour objects to as wrongly included (sanggahan: a program recipient of the lowest desil)."""

    kode_desa: str
    proposer: Resident  # proposes their own family
    proposed: str
    objector: Resident  # a neighbour (of the proposed family)
    objected: str
    objected_desil: int


def cast(engine: Engine) -> Cast:
    from dtsen.store.served import ServedEligibility, ServedFamily, ServedPerson, ServedSnapshot

    with engine.connect() as connection:
        current = connection.scalar(select(ServedSnapshot.id).where(ServedSnapshot.is_current))
        eligible = exists().where(
            ServedEligibility.snapshot_id == current,
            ServedEligibility.id_keluarga_dtsen == ServedFamily.id_keluarga_dtsen,
            ServedEligibility.layak.is_(True),
        )
        # the poorest recipient families (desil, then id): the first whose desa has another family
        recipients = connection.execute(
            select(ServedFamily.id_keluarga_dtsen, ServedFamily.kode_desa, ServedFamily.desil_nasional)
            .where(ServedFamily.snapshot_id == current, ServedFamily.desil_nasional.is_not(None), eligible)
            .order_by(ServedFamily.desil_nasional, ServedFamily.id_keluarga_dtsen)
            .limit(50)
        ).all()
        for objected, kode_desa, desil in recipients:
            neighbour = connection.execute(
                select(
                    ServedPerson.nik,
                    ServedPerson.nama,
                    ServedPerson.id_keluarga_dtsen,
                    ServedPerson.kode_prov,
                    ServedPerson.kode_kab,
                    ServedPerson.kode_kec,
                    ServedPerson.kode_desa,
                )
                .join(
                    ServedFamily,
                    and_(
                        ServedFamily.snapshot_id == ServedPerson.snapshot_id,
                        ServedFamily.id_keluarga_dtsen == ServedPerson.id_keluarga_dtsen,
                    ),
                )
                .where(
                    ServedPerson.snapshot_id == current,
                    ServedPerson.kode_desa == kode_desa,
                    ServedPerson.id_keluarga_dtsen != objected,
                    ServedPerson.nik.is_not(None),
                    ServedPerson.nama.is_not(None),
                    ServedFamily.desil_nasional.is_not(None),
                )
                .order_by(ServedFamily.desil_nasional, ServedPerson.id_dtsen)
                .limit(1)
            ).first()
            if neighbour is None:
                continue
            resident = Resident(*(str(value) for value in neighbour))
            return Cast(kode_desa, resident, resident.family, resident, str(objected), int(desil))
    raise AssertionError("the journey city has no desa with a recipient family and another family")
