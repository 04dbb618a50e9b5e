"""``dtsen bench serve``: load a cycle snapshot into PostgreSQL, then drive the running app on loopback.

1. A cycle snapshot of N persons (built once under the bench cache, like the other benches' inputs).
2. The load into the serving database, timed (``load_seconds``): ``DTSEN_DATABASE_URL`` if set, else a
   fresh database on 127.0.0.1:5432 that is dropped afterwards.
3. ``dtsen serve`` on 127.0.0.1 on a free port, started as its own process (the workers the command line
   asks for). The public pages' challenge is switched off and the Cek Status rate limits raised for that
   server only (``dtsen.api.challenge.BENCH_ENV``, the public pages' own bench settings), so
   one client can drive 200 requests a second through the same code path; CSRF stays on (the client
   does what a browser does: reads the form's token and cookie first).
4. An open-loop load at a fixed rate against three endpoints of that server, one after the other:
   ``GET /healthz`` first (no database, no template: the floor the other two stand on), then the
   citizen check (``POST /cek-status`` by NIK + name; every fifth request a wrong name, the miss path),
   then the staff search (``POST /staf/cari`` by NIK, from several signed-in dinsos officers of the most
   populous kab/kota), waiting between phases until the server has drained its backlog. Each request is
   sent at its scheduled time whether or not earlier ones have answered, and its latency counts from
   that time, so a stalled server shows as latency instead of as a slower send rate (no coordinated
   omission). The load is bounded (rate x seconds requests, a 10 s timeout each, a phase ends 15 s after
   its last send with what is still pending counted as errors) and stops by itself.

The client is Python because the requests need per-request NIKs, form tokens and cookies (wrk would
need a Lua script for each and paces closed-loop): :mod:`dtsen.store.loadgen`, a keep-alive HTTP/1.1
client on asyncio and uvloop that costs a fraction of what httpx did, since it runs on the same
machine and its CPU is taken from the server's. httpx is used for the set-up (form tokens, logins).
"""

from __future__ import annotations

import asyncio
import gc
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dtsen.atomic import atomic_dir
from dtsen.logs import get_logger

if TYPE_CHECKING:
    from dtsen.sharing.dci.bench_load import CpuMeter

log = get_logger(__name__)

PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
_HIDDEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def cycle_cached(persons: int, seed: int, cache: Path) -> Path:
    """A data_dir with one published cycle snapshot (2026Q1) of N persons, built once under ``cache``.

    Built under a staging name and renamed, so an interrupted build is redone, never reused. A data_dir
    kept by ``dtsen bench cycle --keep <cache>/cycle-N-seed`` is reused as it is.
    """
    from dtsen.cli.bench import synth_cached
    from dtsen.config import get_settings
    from dtsen.cycle import snapshot
    from dtsen.cycle.period import Period
    from dtsen.cycle.run import CycleRunner
    from dtsen.cycle.steps import STEPS

    data_dir = cache / f"cycle-{persons}-{seed}"
    if (data_dir / "snapshots" / "CURRENT").exists() and snapshot.current(data_dir) is not None:
        return data_dir
    source_dir = synth_cached(persons, seed, cache)
    with atomic_dir(data_dir) as staging:
        runner = CycleRunner(
            Period.parse("2026Q1"),
            STEPS,
            data_dir=staging,
            engine=get_settings().engine,
            options={"inbox": str(source_dir.resolve())},
        )
        runner.run()
    return data_dir


# -- the database -----------------------------------------------------------------------------------------
@dataclass
class BenchDatabase:
    url: str
    created: str | None  # the database this bench created (dropped at the end)


def open_database() -> BenchDatabase:
    """``DTSEN_DATABASE_URL`` if set, else a new database on the local PostgreSQL."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    configured = os.environ.get("DTSEN_DATABASE_URL")
    if configured:
        return BenchDatabase(configured, None)
    name = f"dtsen_bench_serve_{os.getpid()}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    return BenchDatabase(
        make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False), name
    )


def drop_database(db: BenchDatabase) -> None:
    if db.created is None:
        return
    from sqlalchemy import create_engine, text

    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{db.created}" WITH (FORCE)'))
    finally:
        admin.dispose()


@dataclass(frozen=True)
class Workload:
    citizens: list[tuple[str, str]]  # (nik, nama) of served persons
    staff_niks: list[str]  # NIKs inside the staff user's kab/kota
    kab: str
    families: int


def workload(url: str, size: int = 2000) -> Workload:
    """Persons to look up: a deterministic spread over the current snapshot (every k-th by id)."""
    from sqlalchemy import func, select
    from sqlalchemy.orm import Session

    from dtsen.store.db import make_engine
    from dtsen.store.served import ServedFamily, ServedPerson, ServedSnapshot

    engine = make_engine(url)
    try:
        with Session(engine) as session:
            current = session.scalar(select(ServedSnapshot.id).where(ServedSnapshot.is_current))
            people = select(ServedPerson).where(
                ServedPerson.snapshot_id == current, ServedPerson.nik.is_not(None)
            )
            total = session.scalar(select(func.count()).select_from(people.subquery())) or 0
            step = max(1, total // size)
            numbered = people.add_columns(
                func.row_number().over(order_by=ServedPerson.id_dtsen).label("n")
            ).subquery()
            rows = session.execute(
                select(numbered.c.nik, numbered.c.nama, numbered.c.kode_kab)
                .where(numbered.c.n % step == 0)
                .limit(size)
            ).all()
            kab = session.execute(
                select(ServedPerson.kode_kab, func.count())
                .where(ServedPerson.snapshot_id == current, ServedPerson.kode_kab.is_not(None))
                .group_by(ServedPerson.kode_kab)
                .order_by(func.count().desc())
                .limit(1)
            ).one()[0]
            staff = session.scalars(
                select(ServedPerson.nik)
                .where(
                    ServedPerson.snapshot_id == current,
                    ServedPerson.kode_kab == kab,
                    ServedPerson.nik.is_not(None),
                )
                .order_by(ServedPerson.id_dtsen)
                .limit(size)
            ).all()
            families = (
                session.scalar(
                    select(func.count()).select_from(ServedFamily).where(ServedFamily.snapshot_id == current)
                )
                or 0
            )
    finally:
        engine.dispose()
    return Workload([(r.nik, r.nama) for r in rows if r.nama], list(staff), kab, int(families))


def staff_users(url: str, kab: str, count: int) -> list[tuple[str, str]]:
    """``count`` dinsos accounts for ``kab`` with random passwords (created for this run): the search load
    comes from several officers, each with their own session, as it would in an office."""
    from dtsen.auth import accounts
    from dtsen.store.db import make_engine, session_scope

    users = [
        (f"bench.dinsos.{secrets.token_hex(3)}", secrets.token_urlsafe(18) + "aA1!") for _ in range(count)
    ]
    engine = make_engine(url)
    try:
        with session_scope(engine=engine) as session:
            for username, password in users:
                accounts.create_user(
                    session,
                    username=username,
                    full_name="Bench Dinsos",
                    role="dinsos",
                    regions=[kab],
                    password=password,
                    now=datetime.now(UTC),
                    actor={"actor": "bench:serve", "actor_role": None},
                )
    finally:
        engine.dispose()
    return users


# -- the server --------------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(
    url: str, data_dir: Path, port: int, workers: int, log_file: Path
) -> subprocess.Popen[bytes]:
    """``dtsen serve`` in its own process group; its output goes to ``log_file`` (an unread pipe would
    fill up and stall the server the moment it logs enough)."""
    from dtsen.api.challenge import BENCH_ENV

    env = {
        **os.environ,
        "DTSEN_DATABASE_URL": url,
        "DTSEN_DATA_DIR": str(data_dir),
        "DTSEN_SECRET_KEY": secrets.token_urlsafe(48),  # one key for every worker
        **BENCH_ENV,  # the public pages' own bench settings: challenge off, Cek Status limits out of reach
        "DTSEN_LOG_LEVEL": "WARNING",
    }
    command = [
        sys.executable,
        "-m",
        "dtsen.cli.main",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]
    with log_file.open("ab") as log_handle:
        return subprocess.Popen(  # noqa: S603 - our own CLI
            command,
            env=env,
            start_new_session=True,
            stdout=log_handle,
            stderr=subprocess.STDOUT,
        )


def wait_ready(base: str, server: subprocess.Popen[bytes], log_file: Path, timeout: float = 300) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            error = log_file.read_text(encoding="utf-8", errors="replace")[-2000:]
            raise RuntimeError(f"dtsen serve exited with {server.returncode}: {error}")
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"dtsen serve did not answer {base}/healthz within {timeout:.0f} s")


def stop_server(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


# -- the load ----------------------------------------------------------------------------------------------
def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


@dataclass
class PhaseResult:
    requests: int
    errors: int
    latencies: list[float]
    seconds: float
    checked: int = 0  # answers whose content was as expected (found / not found)
    unfinished: int = 0  # cancelled at the phase's deadline (counted in errors too)

    def summary(self) -> dict[str, Any]:
        ms = [v * 1000 for v in self.latencies] or [0.0]
        return {
            "requests": self.requests,
            "errors": self.errors,
            "p50_ms": round(_percentile(ms, 50), 1),
            "p95_ms": round(_percentile(ms, 95), 1),
            "p99_ms": round(_percentile(ms, 99), 1),
            "max_ms": round(max(ms), 1),
            "rps": round(self.requests / self.seconds, 1) if self.seconds else 0.0,
            "answers_checked": self.checked,
            "unfinished": self.unfinished,
        }


Request = Callable[[Any, int], Awaitable[bool | None]]  # (client, i) -> content ok? (None: not checked)


async def drive(
    client: Any,
    request: Request,
    rate: float,
    seconds: float,
    *,
    warmup: float = 2.0,
    max_in_flight: int = 256,
    grace: float = 15.0,
) -> PhaseResult:
    """Send ``rate`` x ``seconds`` requests at fixed times (after a short unmeasured warm-up). Requests
    still unanswered ``grace`` seconds after the last send are cancelled and counted as errors, so a
    stalled server ends the phase instead of the bench waiting on it."""
    if warmup > 0:
        await drive(client, request, rate, warmup, warmup=0, max_in_flight=max_in_flight, grace=grace)
    # perf_counter, not the loop's clock: uvloop's ticks in whole milliseconds.
    clock = time.perf_counter
    total = int(rate * seconds)
    gate = asyncio.Semaphore(max_in_flight)
    latencies: list[float] = []
    errors = checked = 0
    start = clock() + 0.05
    finished = start

    async def one(i: int) -> None:
        nonlocal errors, checked, finished
        scheduled = start + i / rate
        await asyncio.sleep(max(0.0, scheduled - clock()))
        async with gate:
            try:
                ok = await request(client, i)
            except (OSError, EOFError, ValueError):  # refused, reset, timed out, cut short, garbled
                ok = False
        now = clock()
        finished = max(finished, now)
        latencies.append(now - scheduled)
        if ok is False:
            errors += 1
        elif ok:
            checked += 1

    tasks = [asyncio.ensure_future(one(i)) for i in range(total)]
    _, pending = await asyncio.wait(tasks, timeout=seconds + grace)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    if pending:
        finished = clock()
    result = PhaseResult(total, errors + len(pending), latencies, finished - start, checked)
    result.unfinished = len(pending)
    return result


async def _form_token(client: Any, path: str) -> str:
    page = await client.get(path)
    if page.status_code != 200:
        raise RuntimeError(f"{path} answered {page.status_code}")
    found = _HIDDEN.search(page.text)
    if found is None:
        raise RuntimeError(f"no csrf_token in {path}")
    return found.group(1)


async def _drained(base: str, timeout: float = 60.0) -> None:
    """Wait until the server answers /healthz promptly again (the previous phase's backlog is gone)."""
    import httpx

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    async with httpx.AsyncClient(base_url=base, timeout=2.0) as probe:
        while loop.time() < deadline:
            try:
                started = loop.time()
                if (await probe.get("/healthz")).status_code == 200 and loop.time() - started < 0.05:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.5)


async def run_load(
    base: str,
    work: Workload,
    users: list[tuple[str, str]],
    rate: float,
    seconds: float,
    meter: CpuMeter | None = None,
) -> dict[str, dict[str, Any]]:
    """Each phase's latencies and, with a ``meter``, the CPU its requests cost the server and PostgreSQL
    (counted from the warm-up's end to the backlog's: latencies alone cannot tell a dearer request from
    a busier machine, CPU time per request can)."""
    import httpx

    from dtsen.sharing.dci.bench_load import per_request
    from dtsen.store.loadgen import LoopbackClient

    host, _, port = base.removeprefix("http://").partition(":")
    results: dict[str, dict[str, Any]] = {}

    async def measured(name: str, request: Request) -> None:
        client = LoopbackClient(host, int(port), max_connections=256, timeout=10.0)
        try:
            # The unmeasured warm-up first, so the meter counts only the measured requests.
            await drive(client, request, rate, 2.0, warmup=0)
            before = meter.totals() if meter is not None else {}
            results[name] = (await drive(client, request, rate, seconds, warmup=0)).summary()
        finally:
            await client.aclose()
        await _drained(base)
        if meter is not None:
            results[name].update(per_request(before, meter.totals(), results[name]["requests"]))

    async def healthz(client: Any, i: int) -> bool | None:
        return None if (await client.get("/healthz")).status == 200 else False

    await measured("noop", healthz)

    # The CSRF cookie and token a browser gets with the form.
    async with httpx.AsyncClient(base_url=base, timeout=10.0) as browser:
        token = await _form_token(browser, "/cek-status")
        cookie = "; ".join(f"{name}={value}" for name, value in browser.cookies.items())

    async def cek(client: Any, i: int) -> bool:
        nik, nama = work.citizens[i % len(work.citizens)]
        miss = i % 5 == 4
        answer = await client.post_form(
            "/cek-status",
            {
                "csrf_token": token,
                "cara": "nik",
                "nik": nik,
                "nama": "SALAH NAMA ORANG" if miss else nama,
            },
            headers={"cookie": cookie},
        )
        if answer.status != 200:
            return False
        expected = b'data-hasil="tidak_ditemukan"' if miss else b'data-hasil="ditemukan"'
        return expected in answer.body

    await measured("citizen_check", cek)

    officers: list[tuple[str, str]] = []  # (session cookie, the session's CSRF token)
    for username, password in users:
        async with httpx.AsyncClient(base_url=base, timeout=10.0) as login:
            login_token = await _form_token(login, "/masuk")
            signed_in = await login.post(
                "/masuk",
                data={"username": username, "password": password, "csrf_token": login_token, "next": "/staf"},
            )
            session_cookie = signed_in.cookies.get("dtsen_session")
            if signed_in.status_code != 303 or not session_cookie:
                raise RuntimeError(f"bench login failed: HTTP {signed_in.status_code}")
            login.cookies.set("dtsen_session", session_cookie)  # marked Secure: set by hand on loopback http
            officers.append((session_cookie, await _form_token(login, "/staf/cari")))

    async def cari(client: Any, i: int) -> bool:
        session_cookie, session_token = officers[i % len(officers)]
        nik = work.staff_niks[i % len(work.staff_niks)]
        answer = await client.post_form(
            "/staf/cari",
            {"csrf_token": session_token, "jenis": "nik", "q": nik},
            headers={"cookie": f"dtsen_session={session_cookie}"},
        )
        return answer.status == 200 and nik.encode() in answer.body

    await measured("staff_search", cari)
    return results


def event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop when installed (uvicorn's standard extra brings it): the client's own overhead is
    CPU taken from the server it measures."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvicorn[standard] is a dependency
        return None
    return uvloop.new_event_loop


def load_served(url: str, data_dir: Path) -> Any:
    """Migrate the bench database, load the regions and the current snapshot (what the serving benches
    time as their load); the loader's result."""
    from dtsen.store.db import make_engine, upgrade
    from dtsen.store.regions import load_regions
    from dtsen.store.snapshot_load import load_snapshot

    upgrade(url)
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            load_regions(connection)
        return load_snapshot(engine, data_dir, "current", force=True)
    finally:
        engine.dispose()


def bench_serve(
    persons: int, seed: int, cache: Path, *, rate: float, seconds: float, workers: int, officers: int = 8
) -> dict[str, Any]:
    """Build or reuse the snapshot, load it (timed), serve it, drive it; the fields of the JSON line."""
    from sqlalchemy.engine import make_url

    from dtsen.sharing.dci.bench_load import CpuMeter

    data_dir = cycle_cached(persons, seed, cache)
    db = open_database()
    server = None
    try:
        loaded = load_served(db.url, data_dir)
        work = workload(db.url)
        users = staff_users(db.url, work.kab, officers)
        port = free_port()
        log_file = cache / f"serve-{persons}.log"
        log_file.unlink(missing_ok=True)
        server = start_server(db.url, data_dir, port, workers, log_file)
        base = f"http://127.0.0.1:{port}"
        wait_ready(base, server, log_file)
        # This process loaded the snapshot (DuckDB, Polars, Ibis): hundreds of thousands of long-lived
        # objects that each full collection of the client would walk, pausing it mid-phase and showing
        # as server latency (p95 269 ms against 6 ms from a fresh process). Freeze them first.
        gc.collect()
        gc.freeze()
        # CPU per request of the server and of the bench database's backends, beside the latencies.
        meter = CpuMeter(server.pid, make_url(db.url).database)
        with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
            phases = runner.run(run_load(base, work, users, rate, seconds, meter))
    finally:
        if server is not None:
            stop_server(server)
        drop_database(db)
    return {
        "families": work.families,
        "backend": loaded.backend,
        "snapshot": loaded.ref,
        "load_seconds": round(loaded.seconds, 2),
        "load_rows": dict(loaded.counts),
        "server_workers": workers,
        "staff_sessions": officers,
        "rate_rps": rate,
        "seconds_per_endpoint": seconds,
        "client": "dtsen.store.loadgen (asyncio + uvloop, keep-alive), open loop, loopback",
        **phases,
    }
