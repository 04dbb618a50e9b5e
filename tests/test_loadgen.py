"""The bench's lean HTTP client against a tiny loopback server: bodies by length and by chunks, kept and
closed connections, a stale connection not reused, a server that hangs up."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from dtsen.store import loadgen
from dtsen.store.loadgen import LoadClientError, LoopbackClient


async def _serve(handler: object) -> tuple[asyncio.AbstractServer, int, list[int]]:
    """A server whose ``handler(request_head, body) -> bytes`` answers; returns the ports of the client
    connections it accepted (to count them)."""
    accepted: list[int] = []

    async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer.get_extra_info("peername")[1])
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.decode("latin-1").split("\r\n"):
                    if line.lower().startswith("content-length:"):
                        length = int(line.split(":", 1)[1])
                body = await reader.readexactly(length)
                answer = handler(head, body)  # type: ignore[operator]
                if answer is None:
                    break
                writer.write(answer)
                await writer.drain()
                if b"connection: close" in answer.lower():
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(connection, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1], accepted


def _run(scenario: Coroutine[Any, Any, None]) -> None:
    """``asyncio.run`` in a thread of its own: the browser tests' Playwright keeps an event loop running
    in the main thread of the test process."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, scenario).result()


def _echo(head: bytes, body: bytes) -> bytes:
    path = head.split(b" ", 2)[1]
    if path == b"/chunked":
        return b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhallo\r\n6\r\n dunia\r\n0\r\n\r\n"
    if path == b"/tutup":
        return b"HTTP/1.1 404 Not Found\r\ncontent-length: 5\r\nconnection: close\r\n\r\ntidak"
    if path == b"/putus":
        return None  # type: ignore[return-value]
    content = b"ok " + body
    return b"HTTP/1.1 201 Created\r\ncontent-type: text/plain\r\ncontent-length: %d\r\n\r\n%s" % (
        len(content),
        content,
    )


def test_form_post_keeps_its_connection_and_reads_every_body_shape() -> None:
    async def scenario() -> None:
        server, port, accepted = await _serve(_echo)
        client = LoopbackClient("127.0.0.1", port)
        try:
            posted = await client.post_form("/kirim", {"nik": "3171", "nama": "BUDI & SITI"})
            assert (posted.status, posted.text) == (201, "ok nik=3171&nama=BUDI+%26+SITI")
            assert posted.headers["content-type"] == "text/plain"
            chunked = await client.get("/chunked")
            assert chunked.body == b"hallo dunia"
            assert len(accepted) == 1  # both on one kept-alive connection
            closed = await client.get("/tutup")
            assert (closed.status, closed.body) == (404, b"tidak")
            await client.get("/lagi")
            assert len(accepted) == 2  # the server closed the first: a new one was opened
        finally:
            await client.aclose()
            server.close()

    _run(scenario())


def test_a_connection_idle_too_long_is_not_reused(monkeypatch: pytest.MonkeyPatch) -> None:
    async def scenario() -> None:
        server, port, accepted = await _serve(_echo)
        client = LoopbackClient("127.0.0.1", port)
        try:
            await client.get("/a")
            monkeypatch.setattr(loadgen, "_MAX_IDLE_SECONDS", 0.0)  # as if it had waited past the limit
            await client.get("/b")
            assert len(accepted) == 2
        finally:
            await client.aclose()
            server.close()

    _run(scenario())


def test_a_server_that_hangs_up_is_an_error() -> None:
    async def scenario() -> None:
        server, port, _ = await _serve(_echo)
        client = LoopbackClient("127.0.0.1", port)
        try:
            with pytest.raises(LoadClientError):
                await client.get("/putus")
        finally:
            await client.aclose()
            server.close()

    _run(scenario())
