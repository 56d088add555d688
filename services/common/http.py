"""HTTP client for calls to peer services: timeouts, retries with backoff for idempotent
requests, a service token, and the current request id passed on."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import httpx

from services.common.auth import ServiceTokens
from services.common.observability import request_id_var

RETRY_STATUSES = {502, 503, 504}
IDEMPOTENT = {"GET", "HEAD", "PUT", "DELETE", "OPTIONS"}


class PeerClient:
    def __init__(
        self,
        base_url: str,
        tokens: ServiceTokens | None,
        *,
        timeout: float = 5.0,
        retries: int = 2,
        backoff: float = 0.2,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.tokens = tokens
        self.retries = retries
        self.backoff = backoff
        self._client = httpx.AsyncClient(
            base_url=base_url,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 2.0)),
            transport=transport,
            limits=httpx.Limits(max_connections=50, max_keepalive_connections=20),
        )

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        headers: dict[str, str] | None = None,
        request_id: str | None = None,
        retries: int | None = None,
    ) -> httpx.Response:
        """Send one request. Idempotent methods are retried on connection errors and 502/503/504;
        the last response (or exception) is returned (or raised) to the caller."""
        sent = dict(headers or {})
        rid = request_id or request_id_var.get()
        if rid:
            sent["X-Request-ID"] = rid
        if self.tokens is not None:
            sent["Authorization"] = f"Bearer {self.tokens.get()}"
        attempts = 1 + (self.retries if retries is None else retries) if method.upper() in IDEMPOTENT else 1
        for attempt in range(attempts):
            last = attempt == attempts - 1
            try:
                response = await self._client.request(method, path, json=json, headers=sent)
            except (httpx.TransportError, httpx.TimeoutException):
                if last:
                    raise
            else:
                if response.status_code not in RETRY_STATUSES or last:
                    return response
            await asyncio.sleep(self.backoff * (2**attempt) * random.uniform(0.5, 1.0))
        raise AssertionError("unreachable")

    async def aclose(self) -> None:
        await self._client.aclose()
