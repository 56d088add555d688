"""How `lms serve` serves: how many processes (--workers, else LMS_WORKERS, else one) and the
protocol that writes an answer's headers and first body chunk at once."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import uvicorn

from services.common.server import HELD_MAX, JoinedWritesProtocol, workers_setting
from tests.support import free_port


def test_workers_from_the_option_the_environment_or_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LMS_WORKERS", raising=False)
    assert workers_setting(None) == 1
    monkeypatch.setenv("LMS_WORKERS", "3")
    assert workers_setting(None) == 3
    assert workers_setting(2) == 2
    assert workers_setting(0) == 1
    monkeypatch.setenv("LMS_WORKERS", "many")
    with pytest.raises(SystemExit, match="LMS_WORKERS"):
        workers_setting(None)


async def _app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """/small: one short answer; /big: a body longer than what is held back, in chunks;
    /later: headers now, the body only once the test has read the headers."""
    if scope["type"] != "http":
        return
    path = scope["path"]
    if path == "/later":
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await asyncio.wait_for(HEADERS_READ.wait(), 5)
        await send({"type": "http.response.body", "body": b"late", "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        return
    body = b'{"ok":true}' if path == "/small" else b"x" * (HELD_MAX * 3)
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    step = max(len(body) // 4, 1)
    for i in range(0, len(body), step):
        await send({"type": "http.response.body", "body": body[i : i + step], "more_body": i + step < len(body)})


HEADERS_READ = asyncio.Event()


async def _read_answer(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(int(v) for n, _, v in (h.partition(b": ") for h in head.split(b"\r\n")) if n == b"content-length")
    return head, await reader.readexactly(length)


async def test_joined_writes_keep_every_answer_whole_and_in_order() -> None:
    """The kernel's protocol writes headers and the first body chunk at once: short, long and
    pipelined answers arrive whole and in order, and the headers of an answer whose body comes later
    are not held back until it does."""
    HEADERS_READ.clear()
    port = free_port()
    config = uvicorn.Config(
        _app, host="127.0.0.1", port=port, http=JoinedWritesProtocol, log_config=None, lifespan="off"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /small HTTP/1.1\r\nHost: x\r\n\r\nGET /big HTTP/1.1\r\nHost: x\r\n\r\n")  # pipelined
        head, body = await _read_answer(reader)
        assert head.startswith(b"HTTP/1.1 200") and body == b'{"ok":true}'
        head, body = await _read_answer(reader)
        assert head.startswith(b"HTTP/1.1 200") and body == b"x" * (HELD_MAX * 3)
        writer.write(b"GET /later HTTP/1.1\r\nHost: x\r\n\r\n")
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)  # before any body was sent
        assert b"transfer-encoding: chunked" in head
        HEADERS_READ.set()
        assert await asyncio.wait_for(reader.readuntil(b"0\r\n\r\n"), 5) == b"4\r\nlate\r\n0\r\n\r\n"
        writer.close()
    finally:
        server.should_exit = True
        await task
