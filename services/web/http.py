"""The web app's HTTP/1.1 client for its calls to the APIs: kept-alive connections, reused.

Every page makes one to three API calls, so the client's own cost is part of every page's time.
httpx (configured with a keep-alive pool) spends about 0.7 ms of CPU per call on this machine
against 0.1 ms for the same request written straight to a kept-alive socket, so the calls that
make up the pages go through this small client instead: asyncio streams, httptools (already
installed with uvicorn) to read the answer, at most ``size`` connections per service, idle ones
dropped after ``idle`` seconds (before the services' own keep-alive timeout closes them). Downloads
streamed to the browser and the OpenID provider still use httpx.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any
from urllib.parse import urlsplit

import httptools
import msgspec


class Unreachable(Exception):
    """The service could not be reached, closed the connection, or did not answer in time."""


class Reply:
    """A complete answer: status, headers (lower-case names) and body."""

    __slots__ = ("content", "headers", "status_code")

    def __init__(self, status_code: int, headers: dict[str, str], content: bytes) -> None:
        self.status_code = status_code
        self.headers = headers
        self.content = content

    def json(self) -> Any:
        return msgspec.json.decode(self.content)


class _Reading:
    """httptools callbacks: collect one response."""

    def __init__(self) -> None:
        self.headers: dict[str, str] = {}
        self.body: list[bytes] = []
        self.done = False
        self.keep_alive = False
        self.parser = httptools.HttpResponseParser(self)

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        self.keep_alive = self.parser.should_keep_alive()  # (once the parser resets, it says False)
        self.done = True


class _Connection:
    __slots__ = ("idle_since", "reader", "used", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.idle_since = time.monotonic()
        self.used = False

    def close(self) -> None:
        self.writer.close()


class Pool:
    """Kept-alive HTTP/1.1 connections to one service (``http://host:port``)."""

    def __init__(self, base_url: str, *, size: int = 100, timeout: float = 5.0, idle: float = 4.0) -> None:
        url = urlsplit(base_url)
        if url.scheme != "http" or not url.hostname:
            raise ValueError(f"the web app's pool speaks plain http to the APIs, not {base_url!r}")
        self.host, self.port = url.hostname, url.port or 80
        self.prefix = url.path.rstrip("/")
        self.authority = url.netloc.encode()
        self.timeout, self.idle = timeout, idle
        self.slots = asyncio.Semaphore(size)
        self.free: list[_Connection] = []

    async def request(self, method: str, target: str, headers: dict[str, str], body: bytes | None = None) -> Reply:
        async with self.slots:
            try:
                async with asyncio.timeout(self.timeout):
                    return await self._exchange(method, target, headers, body)
            except (OSError, TimeoutError, httptools.HttpParserError) as exc:
                raise Unreachable(f"{self.host}:{self.port}: {exc!r}") from exc

    async def _exchange(self, method: str, target: str, headers: dict[str, str], body: bytes | None) -> Reply:
        head = [f"{method} {self.prefix}{target} HTTP/1.1\r\nHost: ".encode(), self.authority, b"\r\n"]
        for name, value in headers.items():
            head.append(f"{name}: {value}\r\n".encode())
        if body is not None or method in ("POST", "PUT", "PATCH"):
            head.append(f"Content-Length: {len(body or b'')}\r\n".encode())
        head.append(b"\r\n")
        message = b"".join(head) + (body or b"")
        while True:
            conn = self._reuse()
            reused = conn is not None
            if conn is None:
                conn = _Connection(*await asyncio.open_connection(self.host, self.port))
            try:
                reply, keep = await self._send(conn, message)
            except _ClosedBeforeAnswer:
                conn.close()
                if reused:  # the service closed an idle connection as we reused it: a fresh one
                    continue
                raise ConnectionResetError("the service closed the connection without answering") from None
            except BaseException:
                conn.close()
                raise
            if keep:
                conn.idle_since = time.monotonic()
                self.free.append(conn)
            else:
                conn.close()
            return reply

    def _reuse(self) -> _Connection | None:
        now = time.monotonic()
        while self.free:
            conn = self.free.pop()
            if now - conn.idle_since < self.idle and not conn.reader.at_eof() and not conn.writer.is_closing():
                return conn
            conn.close()
        return None

    async def _send(self, conn: _Connection, message: bytes) -> tuple[Reply, bool]:
        conn.writer.write(message)
        reading = _Reading()
        parser = reading.parser
        received = False
        while not reading.done:
            try:
                data = await conn.reader.read(65536)
            except (ConnectionResetError, BrokenPipeError):
                if not received:
                    raise _ClosedBeforeAnswer() from None
                raise
            if not data:
                if not received:
                    raise _ClosedBeforeAnswer()
                raise ConnectionResetError("the service closed the connection mid-answer")
            received = True
            parser.feed_data(data)
        return Reply(parser.get_status_code(), reading.headers, b"".join(reading.body)), reading.keep_alive

    async def aclose(self) -> None:
        for conn in self.free:
            conn.close()
        self.free.clear()


class _ClosedBeforeAnswer(Exception):
    pass
