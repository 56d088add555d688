"""Answers a handler has already encoded, sent without Litestar's response building."""

from __future__ import annotations

from litestar.types import HTTPResponseBodyEvent, HTTPResponseStartEvent, Receive, Scope, Send

_JSON = (b"content-type", b"application/json")


class JSONBytes:
    """An answer of already-encoded JSON (``msgspec.json.encode`` output, a stored reply): a handler
    annotated ``-> JSONBytes`` returns an ASGI app that Litestar sends as it is, skipping the
    response object, its headers mapping and the encoder (a hot path's share of the request's CPU).
    Declare the documented body with ``responses={status: ResponseSpec(data_container=...)}``."""

    __slots__ = ("body", "status")

    def __init__(self, body: bytes, status: int = 200) -> None:
        self.body, self.status = body, status

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        start: HTTPResponseStartEvent = {
            "type": "http.response.start",
            "status": self.status,
            "headers": [_JSON, (b"content-length", str(len(self.body)).encode())],
        }
        await send(start)
        body: HTTPResponseBodyEvent = {"type": "http.response.body", "body": self.body, "more_body": False}
        await send(body)
