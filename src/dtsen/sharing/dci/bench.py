"""``dtsen bench dci``: the DCI Social Registry API end to end on a loaded snapshot of N persons.

The set-up reuses ``dtsen bench serve``'s machinery (:mod:`dtsen.store.benchmark`): the cached cycle
snapshot, a fresh PostgreSQL database it is loaded into, ``dtsen serve`` on a free loopback port, and
the lean keep-alive client (:mod:`dtsen.store.loadgen`). Then, as an agency would be onboarded: an
approved by-name access request for the most populous province, a ``klien_instansi`` client bound to
that province with its Ed25519 envelope key, a loopback callback address, and the link between them.

Each NIK is asked for as ``response_entity`` Member (the person, with the family's desil, size and
program eligibility among its attributes; ``--entity Group`` returns the whole family instead).

1. **Sync search by NIK** (``/dci/registry/sync/search``, one item a message), every request a signed
   envelope with the client's bearer token. The envelopes are signed before timing (each has its own
   ``message_id``: replays are refused), so the client's cost is writing bytes. Two phases: a closed
   loop holding ``concurrency`` (100) requests in flight all the time, which measures capacity (``rps``)
   and the latency at that depth (``p95_ms``: with every request queued behind 99 others, it is about
   ``concurrency / rps``); and an open loop at ``rate`` requests a second with at most ``concurrency``
   in flight (latency below saturation). Every answer is checked (HTTP 200, the NIK in the record).
2. **Async batch**: one ``/dci/registry/search`` message of ``batch`` NIK items; ``batch_seconds`` runs
   from sending it to the signed ``on-search`` callback with every answer arriving at a small receiver in
   this process (the app's delivery loop answers and pushes it).
3. **By-name extract** of the request (the province) through
   :func:`dtsen.sharing.extracts.create_extract` (``extract_seconds``), after the server has stopped.

The agency and its signed messages: :mod:`dtsen.sharing.dci.bench_agency`; the sync loops, the batch and
its callback receiver: :mod:`dtsen.sharing.dci.bench_load`.
"""

from __future__ import annotations

import asyncio
import gc
import os
import secrets
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dtsen.sharing.dci.bench_agency import Agency, onboard, presign, token_for
from dtsen.sharing.dci.bench_load import CpuMeter, Receiver, batch_search, sync_phases


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    """Settings for the server process only (start_server copies this process's environment)."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def extract(url: str, data_dir: Path, agency: Agency, fmt: str) -> dict[str, Any]:
    """The request's by-name extract (the province) through create_extract, timed."""
    from dtsen.auth.scope import Principal, Role
    from dtsen.sharing.extracts import create_extract
    from dtsen.store.db import make_engine, session_scope

    admin = Principal("user", "bench-admin", Role.ADMIN_BPS)
    engine = make_engine(url)
    try:
        with (
            tempfile.TemporaryDirectory(prefix="dtsen-bench-dci-extract-") as root,
            session_scope(engine=engine) as session,
        ):
            start = time.perf_counter()
            made = create_extract(
                session,
                admin,
                agency.request_id,
                fmt,
                data_dir=data_dir,
                root=Path(root),
                secret=secrets.token_urlsafe(32),
            )
            seconds = time.perf_counter() - start
            size = (Path(root) / made.path).stat().st_size
            rows = made.rows
    finally:
        engine.dispose()
    return {
        "extract_seconds": round(seconds, 2),
        "extract_rows": rows,
        "extract_format": fmt,
        "extract_mb": round(size / 1e6, 1),
    }


def bench_dci(
    persons: int,
    seed: int,
    cache: Path,
    *,
    concurrency: int = 100,
    seconds: float = 20.0,
    rate: float = 100.0,
    batch: int = 10_000,
    workers: int = 2,
    extract_format: str = "csv",
    deliver_interval: float = 0.25,
    entity: str = "Member",
) -> dict[str, Any]:
    """Build or reuse the snapshot, load it, onboard the agency, serve, drive; the fields of the JSON line."""
    from sqlalchemy.engine import make_url

    from dtsen.store.benchmark import (
        cycle_cached,
        drop_database,
        event_loop_factory,
        free_port,
        load_served,
        open_database,
        start_server,
        stop_server,
        wait_ready,
    )

    data_dir = cycle_cached(persons, seed, cache)
    db = open_database()
    server = None
    try:
        loaded = load_served(db.url, data_dir)
        with Receiver() as receiver:
            agency = onboard(db.url, receiver.uri, sample=max(batch, 2000))
            port = free_port()
            log_file = cache / f"dci-{persons}.log"
            log_file.unlink(missing_ok=True)
            with _environment(
                {"DTSEN_DCI_DELIVER_IN_APP": "true", "DTSEN_DCI_DELIVER_INTERVAL": str(deliver_interval)}
            ):
                server = start_server(db.url, data_dir, port, workers, log_file)
            base = f"http://127.0.0.1:{port}"
            wait_ready(base, server, log_file)
            token = token_for(base, agency)
            now = datetime.now(UTC)  # signed now: a signature is valid for 5 minutes
            closed_pool = presign(agency, int(max(rate * 3, 600) * seconds), now=now, entity=entity)
            open_pool = presign(agency, int(rate * (seconds + 3)) + 10, now=now, entity=entity)
            gc.collect()
            gc.freeze()  # the snapshot load's objects: see dtsen.store.benchmark.bench_serve
            with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
                meter = CpuMeter(server.pid, make_url(db.url).database)
                sync = runner.run(
                    sync_phases(
                        base,
                        token,
                        (closed_pool, open_pool),
                        concurrency=concurrency,
                        seconds=seconds,
                        rate=rate,
                        meter=meter,
                    )
                )
            batched = batch_search(base, token, agency, receiver, batch, entity=entity)
        stop_server(server)
        server = None
        extracted = extract(db.url, data_dir, agency, extract_format)
    finally:
        if server is not None:
            stop_server(server)
        drop_database(db)
    closed = sync["closed"]
    return {
        "families": int(loaded.counts.get("served_family", 0)),
        "backend": loaded.backend,
        "snapshot": loaded.ref,
        "province": agency.province,
        "province_persons": agency.persons,
        "server_workers": workers,
        "response_entity": entity,
        # The figures: sync search by NIK with `concurrency` requests constantly in flight.
        "concurrency": concurrency,
        "p95_ms": closed["p95_ms"],
        "rps": closed["rps"],
        # In a closed loop p95 is about concurrency / rps: what p95 <= 100 ms at this depth needs.
        "rps_needed_for_p95_le_100_ms": round(concurrency * 1000 / 100),
        "server_cpu_ms_per_request": closed.get("server_cpu_ms_per_request"),
        # Below capacity: `rate` requests a second (at most `concurrency` in flight).
        "open_loop_rate_rps": sync["open"]["rate_rps"],
        "open_loop_p95_ms": sync["open"]["p95_ms"],
        "sync_closed_loop": closed,
        "sync_open_loop": sync["open"],
        **batched,
        **extracted,
        "targets": {
            "sync_p95_le_100_ms_closed_loop": closed["p95_ms"] <= 100,
            "sync_p95_le_100_ms_open_loop": sync["open"]["p95_ms"] <= 100,
            "batch_le_30_s": batched["batch_seconds"] <= 30,
            "extract_le_60_s": extracted["extract_seconds"] <= 60,
        },
        "client": (
            "dtsen.store.loadgen (asyncio + uvloop, keep-alive), loopback; envelopes signed before timing"
        ),
    }
