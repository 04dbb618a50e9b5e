"""Rate limits of the public pages, per client network and per NIK, kept in the serving database.

Why not slowapi: its storage backends are memory, Redis and Memcached. In-process memory is per worker
(four uvicorn workers would allow four times the limit, and a restart forgets it), and a registry
deployment should not need a Redis only for this. The per-NIK limit also needs a key taken from the
posted form (a keyed hash of the NIK, never the NIK), which slowapi's request-level key function does
not see before the body is parsed. The database is already shared by every worker, so the counters live
there (table ``rate_limit_counter``): one upsert and one two-row read per check, each on its own
short connection and committed at once (on PostgreSQL without waiting for the disk flush), so a refused
or failed request is still counted.

The algorithm is the sliding-window counter: hits are counted in fixed windows, and the estimate for the
last ``window`` seconds is ``previous * (1 - elapsed / window) + current``. It never lets more than
``limit`` hits through in any window-long span by more than the interpolation error, stores two rows per
key instead of one per hit, and old windows are swept now and then.

Keys are HMAC-SHA256 of ``bucket | value`` with a key derived from the deployment secret: the table
holds no IP address, NIK or tracking number. IPv6 clients are keyed by their /64 network (one
subscriber usually has a whole /64), IPv4 by address. Behind a reverse proxy, run uvicorn with
``--forwarded-allow-ips`` naming the proxy so ``request.client`` is the citizen, not the proxy.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import math
import secrets
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from fastapi import Request
from sqlalchemy import Engine, Table, and_, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from dtsen.config import get_settings
from dtsen.store.intake import RateLimitCounter

_TABLE: Table = RateLimitCounter.__table__  # type: ignore[assignment]
_CONTEXT = b"dtsen/ratelimit/v1\x00"
# One check in this many also deletes the bucket's windows that can no longer count.
_SWEEP_ONE_IN = 200


@dataclass(frozen=True)
class Limit:
    """At most ``hits`` in any ``window_seconds`` for one key of ``bucket``."""

    bucket: str
    hits: int
    window_seconds: int

    def describe(self) -> str:
        return f"{self.hits}/{self.window_seconds}s"


HOUR, DAY = 3600, 86400
# Mobile networks in Indonesia put many subscribers behind one carrier-grade NAT address, so the per-IP
# limits leave room for a busy warnet or a village office; the per-NIK limits are the tight ones.
DEFAULT_LIMITS: dict[str, Limit] = {
    limit.bucket: limit
    for limit in (
        Limit("cek_ip", 60, HOUR),  # Cek Status attempts per client network (malformed ones included)
        Limit("cek_nik", 10, DAY),  # Cek Status per NIK (or per desa + name in the region form)
        # Per name + the NIK's first 12 digits (kecamatan and birth date): someone who knows a person's
        # name, kecamatan and birth date and walks the 9,999 serials is stopped after 20 a day, from
        # however many addresses.
        Limit("cek_pola", 20, DAY),
        Limit("tanya_ip", 20, HOUR),  # attempts answered by the no-JavaScript question (cheaper to a bot)
        Limit("lacak_ip", 60, HOUR),
        Limit("lacak_nomor", 10, DAY),  # per tracking number
        Limit("datasaya_ip", 20, HOUR),
        Limit("datasaya_nik", 5, DAY),
        Limit("usul_ip", 10, HOUR),  # usulan/sanggahan submissions per client network
        Limit("usul_nik", 5, DAY),  # per reporter NIK
    )
}
LIMITS_ENV = "DTSEN_RATE_LIMITS"


class RateLimitedError(Exception):
    """Too many hits; ``retry_after`` is the whole seconds until the next one would be let through."""

    def __init__(self, limit: Limit, retry_after: int) -> None:
        super().__init__(f"rate limit {limit.bucket} {limit.describe()} reached")
        self.limit = limit
        self.retry_after = retry_after


def parse_limits(text: str | None) -> dict[str, Limit]:
    """The default limits with overrides from ``bucket=hits/seconds,...`` (``DTSEN_RATE_LIMITS``).

    ``dtsen bench serve`` raises the Cek Status limits this way (``cek_ip=100000000/3600``) so one
    loopback client can drive 200 requests a second through the same code path.
    """
    limits = dict(DEFAULT_LIMITS)
    for part in (text or "").split(","):
        part = part.strip()
        if not part:
            continue
        bucket, _, value = part.partition("=")
        hits, _, seconds = value.partition("/")
        bucket = bucket.strip()
        if bucket not in limits or not hits.strip().isdigit() or not seconds.strip().isdigit():
            known = ", ".join(sorted(limits))
            raise ValueError(f"{LIMITS_ENV}: {part!r} is not bucket=hits/seconds with a bucket among {known}")
        if int(hits) < 1 or int(seconds) < 1:
            raise ValueError(f"{LIMITS_ENV}: {part!r}: hits and seconds must be at least 1")
        limits[bucket] = Limit(bucket, int(hits), int(seconds))
    return limits


def configured_limits() -> dict[str, Limit]:
    import os

    return parse_limits(os.environ.get(LIMITS_ENV))


@lru_cache(maxsize=4)
def _derived_key(secret: str) -> bytes:
    return hashlib.sha256(_CONTEXT + secret.encode("utf-8")).digest()


def limit_key(bucket: str, value: str, *, secret: str | None = None) -> str:
    """The stored key of ``value`` in ``bucket``: a keyed hash, so the table names nobody."""
    key = _derived_key(secret if secret is not None else get_settings().resolved_secret_key())
    return hmac.new(key, f"{bucket}|{value}".encode(), hashlib.sha256).hexdigest()


def client_network(request: Request) -> str:
    """The client's address as rate limits see it: IPv4 address, IPv6 /64 network."""
    host = request.client.host if request.client else ""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host or "unknown"  # the test client's "testclient", a Unix socket
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def _upsert(connection: Connection, bucket: str, key: str, window_start: int) -> None:
    values = {"bucket": bucket, "key": key, "window_start": window_start, "hits": 1}
    dialect = connection.dialect.name
    insert: Any
    if dialect == "postgresql":
        insert = postgresql.insert(_TABLE).values(values)
    elif dialect == "sqlite":
        insert = sqlite.insert(_TABLE).values(values)
    else:  # pragma: no cover - the serving plane supports these two
        raise RuntimeError(f"rate limits need PostgreSQL or SQLite, not {dialect}")
    connection.execute(
        insert.on_conflict_do_update(
            index_elements=["bucket", "key", "window_start"], set_={"hits": _TABLE.c.hits + 1}
        )
    )


def _retry_after(limit: Limit, previous: int, current: int, elapsed: float) -> int:
    """Seconds until the estimate falls below the limit again (assuming no further hits)."""
    window, allowed = limit.window_seconds, limit.hits - 1
    if current <= allowed and previous > 0:
        # Still in this window, once the previous window's weight has decayed enough.
        wait = window * (1 - (allowed - current) / previous) - elapsed
    else:
        # This window's own hits are too many: wait for it to end and for them to decay in the next.
        wait = (window - elapsed) + window * (1 - allowed / current if current else 0)
    return max(1, math.ceil(wait))


def hit(engine: Engine, limit: Limit, value: str, *, now: float | None = None) -> int:
    """Count one hit of ``value`` and raise :class:`RateLimitedError` if it is over ``limit``.

    Runs in its own transaction, committed before returning or raising: the hit stays counted whatever
    the request does next. Returns the estimated hits in the sliding window, this one included.
    """
    return hit_many(engine, [(limit, value)], now=now)[0]


def hit_many(engine: Engine, checks: list[tuple[Limit, str]], *, now: float | None = None) -> list[int]:
    """Count one hit for each ``(limit, value)`` in one transaction, then raise :class:`RateLimitedError`
    for the first that is over its limit (all are counted either way).

    On PostgreSQL the transaction commits with ``synchronous_commit = off``: a counter is not worth a
    disk flush per request (it was most of a Cek Status's time), and a crash loses at most the last
    fraction of a second of hits, which only lets a few more through once.
    """
    now = time.time() if now is None else now
    results: list[tuple[Limit, int, int, float]] = []
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
        for limit, value in checks:
            window = limit.window_seconds
            start = int(now // window) * window
            key = limit_key(limit.bucket, value)
            _upsert(connection, limit.bucket, key, start)
            rows = connection.execute(
                select(_TABLE.c.window_start, _TABLE.c.hits).where(
                    and_(
                        _TABLE.c.bucket == limit.bucket,
                        _TABLE.c.key == key,
                        _TABLE.c.window_start.in_([start - window, start]),
                    )
                )
            ).all()
            counts = {row.window_start: row.hits for row in rows}
            results.append((limit, counts.get(start - window, 0), counts.get(start, 0), now - start))
            if secrets.randbelow(_SWEEP_ONE_IN) == 0:
                connection.execute(
                    delete(_TABLE).where(
                        and_(_TABLE.c.bucket == limit.bucket, _TABLE.c.window_start < start - window)
                    )
                )
    estimates = []
    for limit, previous, current, elapsed in results:
        estimate = previous * (1 - elapsed / limit.window_seconds) + current
        if estimate > limit.hits:
            raise RateLimitedError(limit, _retry_after(limit, previous, current, elapsed))
        estimates.append(math.ceil(estimate))
    return estimates
