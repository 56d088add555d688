"""The xAPI transport around the app, for ``/xapi`` paths:

- every answer carries ``X-Experience-API-Version``, also those made before a handler runs
  (401, 405, 413);
- the 1.0.3 alternate request syntax (``POST <resource>?method=GET|PUT|POST|DELETE`` with a form
  body carrying headers, parameters and ``content``) is rewritten into the ordinary request
  before authentication sees it, so every resource handles one shape. xAPI 2.0.0 dropped it: a
  request in 2.0 that uses it is refused."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl, urlencode

from litestar.types import ASGIApp, Receive, Scope, Send

FORM = "application/x-www-form-urlencoded"
HEADER_FIELDS = {
    "authorization",
    "x-experience-api-version",
    "content-type",
    "content-length",
    "if-match",
    "if-none-match",
}
METHODS = {"GET", "PUT", "POST", "DELETE", "HEAD"}


async def _refuse(send: Send, detail: str, version: str) -> None:
    body = json.dumps({"type": "about:blank", "title": "Bad Request", "status": 400, "detail": detail}).encode()
    start: Any = {
        "type": "http.response.start",
        "status": 400,
        "headers": [
            (b"content-type", b"application/problem+json"),
            (b"content-length", str(len(body)).encode()),
            (b"x-experience-api-version", version.encode()),
        ],
    }
    await send(start)
    end: Any = {"type": "http.response.body", "body": body}
    await send(end)


async def _read(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message: Any = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


def _with_version_header(send: Send, version: str) -> Send:
    async def sending(message: Any) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", []))
            if not any(k.lower() == b"x-experience-api-version" for k, _ in headers):
                headers.append((b"x-experience-api-version", version.encode()))
            message = {**message, "headers": headers}
        await send(message)

    return sending


def alternate_syntax(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        http: Any = scope
        if http["type"] != "http" or not http["path"].startswith("/xapi/"):
            await app(scope, receive, send)
            return
        sent_version = dict(http["headers"]).get(b"x-experience-api-version", b"").decode("latin-1")
        if sent_version.startswith(("1.0", "2.0")):
            answer = "1.0.3" if sent_version.startswith("1.0") else "2.0.0"
        else:
            answer = http["app"].state.settings.xapi_unversioned_answer
        send = _with_version_header(send, answer)
        query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        if not any(k == "method" for k, _ in query):
            await app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        version = headers.get("x-experience-api-version", "1.0.3")
        answer_version = "2.0.0" if version.startswith("2") else "1.0.3"
        if version.startswith("2"):
            await _refuse(send, "xAPI 2.0.0 has no alternate request syntax (method query parameter).", answer_version)
            return
        method = dict(query)["method"].upper()
        if http["method"] != "POST":
            await _refuse(send, "The alternate request syntax is sent as a POST.", answer_version)
            return
        if len(query) != 1 or method not in METHODS:
            await _refuse(
                send, "The alternate request syntax takes only ?method=GET|PUT|POST|DELETE in the URL.", answer_version
            )
            return
        if headers.get("content-type", "").split(";")[0].strip().lower() != FORM:
            await _refuse(send, f"The alternate request syntax sends its form as {FORM}.", answer_version)
            return
        form = parse_qsl((await _read(receive)).decode("utf-8", "replace"), keep_blank_values=True)
        content = b""
        params: list[tuple[str, str]] = []
        replaced = {k: v for k, v in headers.items() if k not in ("content-type", "content-length")}
        for key, value in form:
            if key.lower() in HEADER_FIELDS:
                replaced[key.lower()] = value
            elif key == "content":
                content = value.encode()
            else:
                params.append((key, value))
        if content:
            replaced.setdefault("content-type", "application/json")
        replaced["content-length"] = str(len(content))
        if replaced.get("x-experience-api-version", "").startswith("2"):
            await _refuse(send, "xAPI 2.0.0 has no alternate request syntax.", "2.0.0")
            return
        new_scope: dict[str, Any] = {
            **scope,
            "method": method,
            "query_string": urlencode(params).encode(),
            "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in replaced.items()],
        }
        sent = False

        async def replay() -> Any:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": content, "more_body": False}

        await app(new_scope, replay, send)  # type: ignore[arg-type]

    return middleware
