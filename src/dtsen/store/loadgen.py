"""A lean HTTP/1.1 client for ``dtsen bench serve``: keep-alive connections to one loopback server.

Written here rather than using httpx (which the rest of the bench uses for set-up) because the load
client shares the machine's cores with the server it measures. httpx cost 2.8 ms of CPU per Cek
Status at 60 requests a second and over 7 ms at 200 (its connection pool scans every connection per
request), which on a 2-core machine is a third of the capacity taken from the server. This client
costs a few hundred microseconds: it writes the request bytes, reads the head up to the blank line and
the body by ``Content-Length`` (or chunks), and keeps the connection for the next request. wrk would
cost less still but paces closed-loop and would need a Lua script for per-request NIKs, form tokens and
cookies. Loopback only, plain HTTP, no redirects, no cookie jar (the caller sends the ``Cookie`` header).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass
from urllib.parse import urlencode

_MAX_HEAD_BYTES = 64 * 1024
# A connection idle longer than this is closed instead of reused: uvicorn closes idle keep-alive
# connections after 5 s, and a request written to a connection the server is closing fails.
_MAX_IDLE_SECONDS = 3.0


class LoadClientError(OSError):
    """The server closed the connection or answered something that is not HTTP/1.1."""


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]  # lower-case names; a repeated header keeps its last value
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]


class LoopbackClient:
    """Up to ``max_connections`` keep-alive connections to ``host:port``; a request takes the idle one
    that has waited longest (so the load spreads over every connection and so over every server worker,
    as many citizens' phones would) or opens one, and waits when all are busy."""

    def __init__(self, host: str, port: int, *, max_connections: int = 256, timeout: float = 10.0) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self._idle: deque[tuple[float, Connection]] = deque()
        self._slots = asyncio.Semaphore(max_connections)
        self._host_header = f"{host}:{port}".encode("ascii")

    async def get(self, path: str, *, headers: dict[str, str] | None = None) -> Answer:
        return await self.request("GET", path, headers=headers)

    async def post_form(
        self, path: str, form: dict[str, str], *, headers: dict[str, str] | None = None
    ) -> Answer:
        body = urlencode(form).encode("ascii")
        extra = {"content-type": "application/x-www-form-urlencoded", **(headers or {})}
        return await self.request("POST", path, body=body, headers=extra)

    async def request(
        self, method: str, path: str, *, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> Answer:
        head = [f"{method} {path} HTTP/1.1".encode("ascii"), b"host: " + self._host_header]
        head.extend(f"{name}: {value}".encode("latin-1") for name, value in (headers or {}).items())
        if body or method in {"POST", "PUT", "PATCH"}:
            head.append(b"content-length: " + str(len(body)).encode("ascii"))
        payload = b"\r\n".join(head) + b"\r\n\r\n" + body
        async with self._slots:
            reader, writer = await self._connection()
            try:
                answer, keep = await asyncio.wait_for(self._exchange(reader, writer, payload), self.timeout)
            except BaseException:
                writer.close()
                raise
            if keep:
                self._idle.append((time.monotonic(), (reader, writer)))
            else:
                writer.close()
            return answer

    async def _connection(self) -> Connection:
        now = time.monotonic()
        while self._idle:
            since, connection = self._idle.popleft()
            if now - since < _MAX_IDLE_SECONDS:
                return connection
            connection[1].close()
        return await asyncio.open_connection(self.host, self.port, limit=_MAX_HEAD_BYTES)

    @staticmethod
    async def _exchange(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, payload: bytes
    ) -> tuple[Answer, bool]:
        writer.write(payload)
        try:
            raw = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as exc:
            raise LoadClientError("the server closed the connection") from exc
        lines = raw[:-4].decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
            raise LoadClientError(f"not an HTTP/1.1 answer: {lines[0][:80]!r}")
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = await _read_chunked(reader)
        else:
            body = await reader.readexactly(int(headers.get("content-length", "0") or 0))
        keep = headers.get("connection", "").lower() != "close"
        return Answer(int(parts[1]), headers, body), keep

    async def aclose(self) -> None:
        while self._idle:
            _, (_, writer) = self._idle.popleft()
            writer.close()


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    chunks: list[bytes] = []
    while True:
        size_line = await reader.readuntil(b"\r\n")
        size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
        if size == 0:
            await reader.readuntil(b"\r\n")  # the blank line after the last chunk (no trailers sent)
            return b"".join(chunks)
        chunks.append(await reader.readexactly(size))
        await reader.readexactly(2)
