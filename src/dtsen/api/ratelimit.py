"""Rate limits of the public pages, per client network and per NIK, kept in the serving database.

Why not slowapi: its storage backends are memory, Redis and Memcached. In-process memory is per worker
(four uvicorn workers would allow four times the limit, and a restart forgets it), and a registry
deployment should not need a Redis only for this. The per-NIK limit also needs a key taken from the
posted form (a keyed hash of the NIK, never the NIK), which slowapi's request-level key function does
not see before the body is parsed. The database is already shared by every worker, so the counters live
there (table ``rate_limit_counter``). Every counter a request needs is counted at once, in its own
transaction committed at once, so a refused or failed request is still counted: on PostgreSQL one
autocommitted statement (upsert and read of the previous windows together) through the tally engine
(:func:`dtsen.store.db.make_tally_engine`).

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
from sqlalchemy import Engine, Table, TextClause, and_, delete, text
from sqlalchemy.engine import Connection

from dtsen.config import get_settings
from dtsen.store.db import retry_dropped
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


def tally_engine(request: Request) -> Engine:
    """The app's engine for counters (``app.state.tally_engine``, set by :func:`dtsen.api.app.create_app`);
    an app assembled without it (a test app of one router) counts through its ordinary engine, which is
    correct, only slower."""
    state = request.app.state
    return getattr(state, "tally_engine", None) or state.engine


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


@lru_cache(maxsize=16)
def _count_sql(dialect: str, rows: int) -> tuple[TextClause, TextClause]:
    """The upsert of ``rows`` windows (returning their hits) and the read of the windows before them.

    Written as SQL text, one per row count, because SQLAlchemy compiles a multi-row insert construct
    anew on every call (1.5 ms of a Cek Status), while a text clause is compiled once.
    """
    values = ", ".join(f"(:b{i}, :k{i}, :w{i}, 1)" for i in range(rows))
    earlier = ", ".join(f"(:b{i}, :k{i}, :p{i})" for i in range(rows))
    # Only placeholders and constant names are put together here; every value is a bound parameter.
    columns = "bucket, key, window_start, hits"
    upsert = (
        f"INSERT INTO rate_limit_counter ({columns}) VALUES {values} "  # noqa: S608
        "ON CONFLICT (bucket, key, window_start) DO UPDATE SET hits = rate_limit_counter.hits + 1 "
        f"RETURNING {columns}"
    )
    read = f"SELECT {columns} FROM rate_limit_counter WHERE (bucket, key, window_start) IN ({earlier})"  # noqa: S608
    if dialect == "postgresql":
        statement = f"WITH counted AS ({upsert}) SELECT {columns} FROM counted UNION ALL {read}"  # noqa: S608
        return text(statement), text("")
    if dialect == "sqlite":
        return text(upsert), text(read)
    raise RuntimeError(f"rate limits need PostgreSQL or SQLite, not {dialect}")  # pragma: no cover


def _count(connection: Connection, rows: list[dict[str, Any]]) -> dict[tuple[str, str, int], int]:
    """Add one hit to each row's window and return the hits of those windows and of the window before
    each: ``{(bucket, key, window_start): hits}``.

    PostgreSQL does it in one statement (the upsert in a CTE beside the read of the previous windows);
    SQLite, which has no data-modifying CTE, in two inside one transaction.
    """
    params: dict[str, Any] = {}
    for i, row in enumerate(rows):
        params |= {
            f"b{i}": row["bucket"],
            f"k{i}": row["key"],
            f"w{i}": row["window_start"],
            f"p{i}": row["window_start"] - row["window"],
        }
    first, second = _count_sql(connection.dialect.name, len(rows))
    found = connection.execute(first, params).all()
    if second.text:
        found += connection.execute(second, params).all()
    return {(row.bucket, row.key, row.window_start): row.hits for row in found}


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
    """Count one hit for each ``(limit, value)`` at once, then raise :class:`RateLimitedError` for the
    first that is over its limit (all are counted either way).

    Pass :func:`dtsen.store.db.make_tally_engine`'s engine: on PostgreSQL the whole check is then one
    autocommitted statement that does not wait for the disk flush (a counter is not worth one per
    request; a crash loses at most the last fraction of a second of hits).
    """
    now = time.time() if now is None else now
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for limit, value in checks:
        window = limit.window_seconds
        key = limit_key(limit.bucket, value)
        start = int(now // window) * window
        rows[(limit.bucket, key)] = {
            "bucket": limit.bucket,
            "key": key,
            "window_start": start,
            "hits": 1,
            "window": window,
        }

    def count() -> dict[tuple[str, str, int], int]:
        with engine.begin() as connection:
            counts = _count(connection, list(rows.values()))
            if secrets.randbelow(_SWEEP_ONE_IN) == 0:
                for row in rows.values():
                    connection.execute(
                        delete(_TABLE).where(
                            and_(
                                _TABLE.c.bucket == row["bucket"],
                                _TABLE.c.window_start < row["window_start"] - row["window"],
                            )
                        )
                    )
            return counts

    counts = retry_dropped(count)
    estimates = []
    for limit, value in checks:
        row = rows[(limit.bucket, limit_key(limit.bucket, value))]
        start, window = row["window_start"], row["window"]
        previous = counts.get((limit.bucket, row["key"], start - window), 0)
        current = counts.get((limit.bucket, row["key"], start), 0)
        elapsed = now - start
        estimate = previous * (1 - elapsed / window) + current
        if estimate > limit.hits:
            raise RateLimitedError(limit, _retry_after(limit, previous, current, elapsed))
        estimates.append(math.ceil(estimate))
    return estimates
