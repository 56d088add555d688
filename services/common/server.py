"""How a service is served: uvicorn (uvloop, httptools), one process or ``workers`` processes
sharing the port, each building its own app (own pools, own relay: the relay's leases make
several relays safe).

uvicorn stays the server: in a same-run comparison (``bench/bench_kernel_servers.py``) granian
answered more requests a second by using a second core for its Rust threads, but spent as much or
more CPU per request (the kernel's README, "uvicorn or granian"). uvicorn writes an answer's status line and
headers with one system call and its body with another; on a small JSON answer each write costs
about as much as the kernel's middleware (a loopback write runs the receiver's TCP path too), so
the protocol below hands uvicorn a transport that holds the headers back until the first body
chunk and writes both at once (:class:`JoinedWrites`).
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

HELD_MAX = 16 * 1024  # a write at least this long (a large body chunk) is never held back


class JoinedWrites:
    """A transport in front of the connection's own: a short write (the status line and headers)
    is held until the next write (the body) and sent with it in one system call, or at the end of
    the event loop's current turn when no write follows (a streamed answer whose first chunk comes
    later). Order is kept: a held write always leaves before anything after it, and before close.
    Everything but ``write`` and ``close`` is the real transport's."""

    __slots__ = ("_held", "_loop", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport, self._loop, self._held = transport, loop, b""

    def write(self, data: bytes | bytearray | memoryview) -> None:
        held = self._held
        if held:
            self._held = b""
            self._transport.write(held + bytes(data))
        elif len(data) >= HELD_MAX:
            self._transport.write(data)
        else:
            self._held = bytes(data)
            self._loop.call_soon(self.flush)

    def flush(self) -> None:
        if self._held:
            held, self._held = self._held, b""
            if not self._transport.is_closing():
                self._transport.write(held)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class JoinedWritesProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol writing each answer's headers and first body chunk at once."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(JoinedWrites(transport, self.loop))  # type: ignore[arg-type]


def workers_setting(value: int | None) -> int:
    """``--workers``, else ``LMS_WORKERS``, else 1."""
    if value is not None:
        return max(1, value)
    raw = os.environ.get("LMS_WORKERS", "1")
    try:
        return max(1, int(raw))
    except ValueError as exc:
        raise SystemExit(f"Invalid value for LMS_WORKERS: {raw!r} is not a number") from exc


def run(app: Any, factory: str, *, host: str, port: int, workers: int = 1) -> None:
    """Serve ``app`` in this process, or, with several ``workers``, the app that ``factory``
    (``module:function``, called with no arguments) builds in each worker process."""
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "http": JoinedWritesProtocol,
        "log_config": None,
        "proxy_headers": False,  # the app believes X-Forwarded-For only from LMS_TRUSTED_PROXIES
        "access_log": False,  # the kernel's front middleware writes the access log
        "server_header": False,  # no "server: uvicorn" on every answer
        "timeout_graceful_shutdown": 10,
    }
    if workers > 1:
        uvicorn.run(factory, factory=True, workers=workers, **options)
    else:
        uvicorn.run(app, **options)
