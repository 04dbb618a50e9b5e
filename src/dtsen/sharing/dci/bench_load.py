"""The load of ``dtsen bench dci``: sync searches in a closed and an open loop, the async batch and the
loopback server its on-search callback arrives at, and the server's CPU per request.

Every answer is checked (HTTP 200, the NIK asked for in the record); the sync phases go through the lean
keep-alive client of :mod:`dtsen.store.loadgen` with envelopes signed beforehand
(:mod:`dtsen.sharing.dci.bench_agency`).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from dtsen.sharing.dci.bench_agency import Agency, search_item, signed_message

SYNC_PATH = "/dci/registry/sync/search"
ASYNC_PATH = "/dci/registry/search"
CALLBACK_PATH = "/dci/on-search"


class Receiver:
    """A loopback HTTP server taking on-search callbacks: for each, when it arrived and its message."""

    def __init__(self) -> None:
        self.arrived: dict[str, tuple[float, dict[str, Any]]] = {}
        self.sizes: dict[str, int] = {}
        self.event = threading.Event()
        received = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = json.loads(self.rfile.read(length))
                at = time.perf_counter()
                correlation = str((body.get("message") or {}).get("correlation_id", ""))
                received.sizes[correlation] = length
                received.arrived[correlation] = (at, body)
                received.event.set()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"message": {"ack_status": "ACK"}}')

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}{CALLBACK_PATH}"

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def wait_for(self, correlation: str, timeout: float) -> tuple[float, dict[str, Any]]:
        deadline = time.perf_counter() + timeout
        while correlation not in self.arrived:
            left = deadline - time.perf_counter()
            if left <= 0:
                raise RuntimeError(f"no on-search callback for {correlation} within {timeout:.0f} s")
            self.event.wait(min(left, 0.5))
            self.event.clear()
        return self.arrived[correlation]


async def closed_loop(
    client: Any, pool: list[tuple[str, bytes]], headers: dict[str, str], *, concurrency: int, seconds: float
) -> dict[str, Any]:
    """``concurrency`` requests in flight at all times for ``seconds`` (or until the pool is used up)."""
    from dtsen.store.benchmark import PhaseResult

    clock = time.perf_counter
    latencies: list[float] = []
    errors = checked = 0
    cursor = 0
    start = clock()
    deadline = start + seconds

    async def worker() -> None:
        nonlocal cursor, errors, checked
        while clock() < deadline and cursor < len(pool):
            nik, body = pool[cursor]
            cursor += 1
            sent = clock()
            try:
                answer = await client.request("POST", SYNC_PATH, body=body, headers=headers)
                ok = answer.status == 200 and nik.encode() in answer.body
            except (OSError, EOFError, ValueError):  # refused, reset, timed out, garbled
                ok = False
            latencies.append(clock() - sent)
            if ok:
                checked += 1
            else:
                errors += 1

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    result = PhaseResult(len(latencies), errors, latencies, clock() - start, checked)
    return {"concurrency": concurrency, **result.summary()}


async def open_loop(
    client: Any,
    pool: list[tuple[str, bytes]],
    headers: dict[str, str],
    *,
    rate: float,
    seconds: float,
    concurrency: int,
) -> dict[str, Any]:
    """A fixed rate, at most ``concurrency`` in flight (``dtsen bench serve``'s driver)."""
    from dtsen.store.benchmark import drive

    taken = iter(range(len(pool)))

    async def request(client_: Any, _i: int) -> bool:
        nik, body = pool[next(taken)]
        answer = await client_.request("POST", SYNC_PATH, body=body, headers=headers)
        return answer.status == 200 and nik.encode() in answer.body

    result = await drive(client, request, rate, seconds, max_in_flight=concurrency)
    return {"rate_rps": rate, "max_in_flight": concurrency, **result.summary()}


class CpuMeter:
    """CPU seconds used so far by the server (its process and workers) and by PostgreSQL's backends of the
    bench database: per request, what the capacity of a quiet machine would be, whatever else runs."""

    def __init__(self, server_pid: int, database: str | None) -> None:
        self.server_pid, self.database = server_pid, database

    def totals(self) -> dict[str, float]:
        import psutil

        def used(process: psutil.Process) -> float:
            try:
                times = process.cpu_times()
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                return 0.0
            return float(times.user + times.system)

        server = psutil.Process(self.server_pid)
        tree = [server, *server.children(recursive=True)]
        postgres = 0.0
        if self.database:
            for process in psutil.process_iter(["name", "cmdline"]):
                line = " ".join(process.info.get("cmdline") or [])
                if line.startswith("postgres:") and f" {self.database} " in f"{line} ":
                    postgres += used(process)
        return {"server": sum(used(p) for p in tree), "postgres": postgres}


def per_request(before: dict[str, float], after: dict[str, float], requests: int) -> dict[str, float]:
    n = max(1, requests)
    return {
        f"{name}_cpu_ms_per_request": round((after[name] - before[name]) * 1000 / n, 2) for name in before
    }


async def sync_phases(
    base: str,
    token: str,
    pools: tuple[list[tuple[str, bytes]], list[tuple[str, bytes]]],
    *,
    concurrency: int,
    seconds: float,
    rate: float,
    meter: CpuMeter,
) -> dict[str, Any]:
    from dtsen.store.benchmark import _drained
    from dtsen.store.loadgen import LoopbackClient

    host, _, port = base.removeprefix("http://").partition(":")
    headers = {"content-type": "application/json", "authorization": f"Bearer {token}"}
    client = LoopbackClient(host, int(port), max_connections=concurrency, timeout=30.0)
    try:
        before = meter.totals()
        closed = await closed_loop(client, pools[0], headers, concurrency=concurrency, seconds=seconds)
        closed.update(per_request(before, meter.totals(), closed["requests"]))
        await _drained(base)
        opened = await open_loop(
            client, pools[1], headers, rate=rate, seconds=seconds, concurrency=concurrency
        )
    finally:
        await client.aclose()
    await _drained(base)
    return {"closed": closed, "open": opened}


def batch_search(
    base: str,
    token: str,
    agency: Agency,
    receiver: Receiver,
    size: int,
    *,
    entity: str,
    timeout: float = 600.0,
) -> dict[str, Any]:
    """One async message of ``size`` NIK items: POST -> ACK -> on-search callback, timed end to end."""
    import httpx

    now = datetime.now(UTC)
    niks = (agency.niks * (size // max(1, len(agency.niks)) + 1))[:size]
    items = [search_item(nik, f"b{i}", now, entity) for i, nik in enumerate(niks)]
    body = signed_message(agency, "search", items, now=now, sender_uri=receiver.uri)
    start = time.perf_counter()
    acked = httpx.post(
        base + ASYNC_PATH,
        content=body,
        timeout=timeout,
        headers={"content-type": "application/json", "authorization": f"Bearer {token}"},
    )
    ack_seconds = time.perf_counter() - start
    if acked.status_code != 200 or acked.json()["message"]["ack_status"] != "ACK":
        raise RuntimeError(f"the batch was not acknowledged: HTTP {acked.status_code} {acked.text[:300]}")
    correlation = acked.json()["message"]["correlation_id"]
    arrived, callback = receiver.wait_for(correlation, timeout)
    callback_bytes = receiver.sizes.get(correlation, 0)
    answers = callback["message"]["search_response"]
    found = sum(1 for a in answers if a.get("status") == "succ" and a["data"]["reg_records"])
    return {
        "batch_items": size,
        "batch_seconds": round(arrived - start, 2),
        "batch_ack_seconds": round(ack_seconds, 2),
        "batch_request_mb": round(len(body) / 1e6, 1),
        "batch_callback_status": callback["header"]["status"],
        "batch_answers": len(answers),
        "batch_found": found,
        "batch_callback_mb": round(callback_bytes / 1e6, 1),
    }
