"""The web app's HTTP/1.1 pool against a real HTTP server on loopback: connections are kept and
reused, a connection the server closed while idle is replaced without losing the request, chunked
answers are read whole, and a server that cannot be reached is ``Unreachable``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest

from services.web.http import Pool, Unreachable
from tests.support import free_port


@dataclass
class Server:
    url: str
    connections: int = 0
    requests: list[bytes] = field(default_factory=list)
    close_after_answer: bool = False
    chunked: bool = False


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    port = free_port()
    state = Server(f"http://127.0.0.1:{port}")

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        state.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    (
                        int(line.split(b":")[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length")
                    ),
                    0,
                )
                body = await reader.readexactly(length)
                state.requests.append(head.split(b"\r\n")[0] + b" " + body)
                if state.chunked:
                    writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
                    writer.write(b'3\r\n{"a\r\n4\r\n": 1\r\n1\r\n}\r\n0\r\n\r\n')
                else:
                    writer.write(
                        b'HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 8\r\n\r\n{"a": 1}'
                    )
                await writer.drain()
                if state.close_after_answer:  # as a server does when its keep-alive timeout ends
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    listening = await asyncio.start_server(handle, "127.0.0.1", port)
    try:
        yield state
    finally:
        listening.close()
        await listening.wait_closed()


async def test_connections_are_kept_and_reused(server: Server) -> None:
    pool = Pool(server.url, size=4)
    for n in range(3):
        reply = await pool.request("POST", f"/v1/things?n={n}", {"Accept": "application/json"}, b'{"x": 1}')
        assert reply.status_code == 201 and reply.json() == {"a": 1}
        assert reply.headers["content-type"] == "application/json"
    assert server.connections == 1
    assert server.requests[2] == b'POST /v1/things?n=2 HTTP/1.1 {"x": 1}'
    await pool.aclose()


async def test_a_connection_the_server_closed_is_replaced_and_the_request_still_made(server: Server) -> None:
    server.close_after_answer = True
    pool = Pool(server.url, size=4)
    await pool.request("GET", "/one", {})
    await asyncio.sleep(0.05)  # the server has closed the idle connection by now
    reply = await pool.request("GET", "/two", {})
    assert reply.status_code == 201
    assert server.connections == 2
    assert [r.split(b" ")[1] for r in server.requests] == [b"/one", b"/two"]  # each request made once
    await pool.aclose()


async def test_a_chunked_answer_is_read_whole(server: Server) -> None:
    server.chunked = True
    pool = Pool(server.url)
    assert (await pool.request("GET", "/", {})).json() == {"a": 1}
    await pool.aclose()


async def test_a_server_nobody_listens_on_is_unreachable() -> None:
    pool = Pool(f"http://127.0.0.1:{free_port()}", timeout=2)
    with pytest.raises(Unreachable):
        await pool.request("GET", "/", {})
