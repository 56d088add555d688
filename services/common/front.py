"""The one middleware every request of a service passes first: a single pure-ASGI function that does,
in one walk over the headers, what used to be a stack of five middlewares.

- **request id**: a sane incoming ``X-Request-ID`` is kept, otherwise a new one is made; it is set
  in :data:`request_id_var` (log lines, problem bodies, outbox rows and peer calls read it from
  there) and echoed on the answer;
- **edge checks** (``edge.py``): 431 for oversized headers, 400 for NUL or lone surrogates in the
  path, query or a JSON body and for JSON nested too deep, ``X-Forwarded-For`` believed only from
  trusted proxies;
- **security headers** on every answer (and a strict CSP on HTML pages);
- **metrics**: ``lms_requests_total``, ``lms_requests_error_total`` and
  ``lms_request_duration_seconds`` by method, route template and status, and
  ``lms_requests_in_progress`` by service (probes and scrapes are not counted);
- **access log**: one JSON line per request (``event`` ``request``, or ``client_closed`` with status
  499 when the client gave up), carrying its ``request_id``, written by :class:`AccessLog`.
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import msgspec
import structlog
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import Counter, Gauge, Histogram

from services.common.edge import (
    _ALWAYS,
    _FORWARDED,
    _PAGE,
    EdgeError,
    Network,
    check_json,
    check_query,
    check_text,
    forwarded_client,
    refuse,
    scanned,
)
from services.common.observability import CLIENT_CLOSED, request_id_var

_VALID_ID = re.compile(rb"^[A-Za-z0-9._:\-]{1,128}$")
_UNCOUNTED = ("/health", "/metrics")  # probes and scrapes: neither counted nor logged
log = structlog.get_logger()


class AccessLog:
    """One JSON line per request on standard output, like the structlog lines beside it (``event``,
    ``service``, ``request_id``, ``level``, ``timestamp``), but encoded with msgspec and written in
    batches: lines of one event-loop turn are joined and written once at the end of that turn, so
    a busy server makes one write for many requests and an idle one writes at once."""

    def __init__(self, service: str, json: bool = True) -> None:
        self.service, self.json = service, json
        self.pending: list[bytes] = []
        self.encode = msgspec.json.Encoder().encode
        self._second, self._prefix = -1, ""

    def write(self, method: str, path: str, status: int, ms: float, request_id: str) -> None:
        if not self.json:  # development console: through structlog like every other line
            log.info("request", method=method, path=path, status=status, ms=ms, request_id=request_id)
            return
        line = {
            "event": "request",
            "method": method,
            "path": path,
            "status": status,
            "ms": ms,
            "service": self.service,
            "request_id": request_id,
            "level": "info",
            "timestamp": self.timestamp(),
        }
        if not self.pending:
            try:
                asyncio.get_running_loop().call_soon(self.flush)
            except RuntimeError:  # no loop (not expected in a server): write at once
                self.pending.append(self.encode(line))
                self.flush()
                return
        self.pending.append(self.encode(line))

    def timestamp(self) -> str:
        """Now as ISO 8601 in UTC with microseconds, like structlog's ``TimeStamper(fmt="iso", utc=True)``
        but with the date and time formatted once a second."""
        now = time.time()
        second = int(now)
        if second != self._second:
            self._second = second
            self._prefix = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S.")
        return f"{self._prefix}{int((now - second) * 1e6):06d}Z"

    def flush(self) -> None:
        if not self.pending:
            return
        data, self.pending = b"\n".join(self.pending) + b"\n", []
        stream = sys.stdout
        try:
            buffer = getattr(stream, "buffer", None)
            if buffer is not None:
                stream.flush()  # keep order with text written before
                buffer.write(data)
                buffer.flush()
            else:
                stream.write(data.decode())
                stream.flush()
        except (OSError, ValueError):
            pass  # a closed or broken stdout must not fail requests


class _Metrics:
    """The request metrics, registered once per process (tests build many apps in one process)."""

    _made: _Metrics | None = None

    def __init__(self) -> None:
        labels = ["method", "path", "status_code", "app_name"]
        self.count = Counter("lms_requests_total", "Total requests", labels)
        self.errors = Counter("lms_requests_error_total", "Total errors in requests", labels)
        self.time = Histogram("lms_request_duration_seconds", "Request duration, in seconds", labels)
        self.in_progress = Gauge(
            "lms_requests_in_progress", "Requests currently in progress", ["app_name"], multiprocess_mode="livesum"
        )
        self.in_flight: dict[str, list[int]] = {}

    def flight(self, service: str) -> list[int]:
        """The service's count of requests in progress, a one-item list the front middleware adds to
        and takes from; the gauge reads it when scraped (a gauge's inc and dec take a lock each)."""
        count = self.in_flight.get(service)
        if count is None:
            count = self.in_flight[service] = [0]
            self.in_progress.labels(service).set_function(lambda: count[0])
        return count

    @classmethod
    def get(cls) -> _Metrics:
        if cls._made is None:
            cls._made = cls()
        return cls._made


def front_middleware(
    app: ASGIApp,
    *,
    without_origin: ASGIApp | None = None,
    service: str,
    max_header_bytes: int,
    max_json_depth: int,
    max_body_bytes: int,
    trusted_proxies: tuple[Network, ...],
    access_log: AccessLog | None,
    headers: Sequence[tuple[bytes, bytes]] = _ALWAYS,
    page_headers: Sequence[tuple[bytes, bytes]] = _PAGE,
) -> ASGIApp:
    """Wrap a service's Litestar ``asgi_handler`` (outermost, so that answers made anywhere inside,
    401s included, carry the request id and the security headers): ``headers`` on every answer,
    ``page_headers`` also on HTML pages (the web app passes its own policy). ``without_origin``
    serves the requests that carry no ``Origin`` header (servers, peers, HR systems): the app inside
    Litestar's CORS middleware, which would only pass them through after building a headers mapping."""
    plain = without_origin or app
    always, page = list(headers), list(page_headers)
    metrics = _Metrics.get()
    in_flight = metrics.flight(service)
    # (method, route, status) -> (count, duration) children, so a request costs no label lookup
    children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def observe(method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        pair = children.get(key)
        if pair is None:
            labels = (method, route, str(status), service)
            pair = children[key] = (metrics.count.labels(*labels), metrics.time.labels(*labels))
        pair[0].inc()
        pair[1].observe(seconds)
        if status >= 500:
            metrics.errors.labels(method, route, str(status), service).inc()

    async def front(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        size, incoming, forwarded, content_type, origin = 0, b"", False, b"", False
        for name, value in scope["headers"]:
            size += len(name) + len(value)
            if name == b"x-request-id":
                incoming = value
            elif name == b"content-type":
                content_type = value
            elif name == b"origin":
                origin = True
            elif name in _FORWARDED:
                forwarded = True
        rid = incoming.decode() if incoming and _VALID_ID.match(incoming) else os.urandom(16).hex()
        token = request_id_var.set(rid)
        try:
            await serve(app if origin else plain, scope, receive, send, rid, size, forwarded, content_type)
        finally:
            request_id_var.reset(token)

    async def serve(
        inner: ASGIApp,
        scope: Scope,
        receive: Receive,
        send: Send,
        rid: str,
        size: int,
        forwarded: bool,
        content_type: bytes,
    ) -> None:
        path: str = scope["path"]
        method: str = scope["method"]  # type: ignore[typeddict-item]  # an http scope

        async def refused(error: EdgeError) -> None:
            await refuse(scope, send, error, rid)
            if access_log is not None:
                access_log.write(method, path, error.status, 0.0, rid)

        try:
            if size > max_header_bytes:
                raise EdgeError(431, "headers-too-large", f"The request headers exceed {max_header_bytes} bytes.")
            check_text(path, "path")
            if scope["query_string"]:
                check_query(scope["query_string"], max_json_depth)
        except EdgeError as error:
            await refused(error)
            return
        if forwarded:
            client = scope.get("client") or ("", 0)
            raw = scope["headers"]
            chain = b",".join(v for n, v in raw if n == b"x-forwarded-for").decode("latin-1")
            address = forwarded_client(client[0], chain, trusted_proxies) if chain else client[0]
            headers = [(n, v) for n, v in raw if n not in _FORWARDED]
            scope = {**scope, "headers": headers, "client": (address, client[1])}  # type: ignore[assignment]
        if method in ("POST", "PUT", "PATCH") and scanned(content_type.decode("latin-1")):
            chunks: list[bytes] = []
            total, more = 0, True
            while more:
                message = await receive()
                if message["type"] != "http.request":
                    break
                chunks.append(message.get("body", b""))
                total += len(chunks[-1])
                more = message.get("more_body", False)
                if total > max_body_bytes:
                    break  # the framework answers 413 for what is left
            body = b"".join(chunks)
            if not more:
                try:
                    check_json(body, max_json_depth)
                except EdgeError as error:
                    await refused(error)
                    return
            replayed = False
            outer = receive

            async def replay() -> Any:
                nonlocal replayed
                if not replayed:
                    replayed = True
                    return {"type": "http.request", "body": body, "more_body": more}
                return await outer()

            receive = replay

        counted = not path.startswith(_UNCOUNTED)
        started = time.perf_counter()
        status = 500
        closed = False  # the client went away before the answer was complete
        rid_header = (b"x-request-id", rid.encode())
        html_checked = path.startswith("/docs")  # the docs pages bring their own policy

        async def watched_receive() -> Any:
            nonlocal closed
            message = await receive()
            if message["type"] == "http.disconnect":
                closed = True
            return message

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                given = message.get("headers") or []
                extra = [*given, rid_header, *always]
                if page and not html_checked:
                    for name, value in given:
                        if name.lower() == b"content-type":
                            if value.startswith(b"text/html"):
                                extra += page
                            break
                message["headers"] = extra
            await send(message)

        if counted:
            in_flight[0] += 1
        try:
            await inner(scope, watched_receive, send_with_headers)
        except Exception:
            if not closed:
                raise  # nobody is left to answer when the client is gone: not a server error
        finally:
            if counted:
                in_flight[0] -= 1
            if closed:
                # 499 (nginx's "client closed request"): a client giving up is no server error
                log.info("client_closed", method=method, path=path, status=CLIENT_CLOSED, request_id=rid)
            elif counted:
                seconds = time.perf_counter() - started
                route = scope.get("path_template")
                if route is not None:  # routed (an unknown path would make a label per path)
                    observe(method, route, status, seconds)
                if access_log is not None:
                    access_log.write(method, path, status, round(seconds * 1000, 2), rid)

    return front
