"""The Statements resource: POST (one, an array, or ``multipart/mixed`` with attachments), PUT by
``statementId``, GET one or a filtered page with ``more``, HEAD."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import msgspec
from litestar import Controller, Request, Response, get, head, post, put
from litestar.di import NamedDependency

from services.common.auth import Principal, allow
from services.common.errors import Problem
from services.common.pagination import decode_cursor, encode_cursor
from services.progress.api.util import wake_relay
from services.progress.api.xapi import openapi as doc
from services.progress.api.xapi.common import (
    ERROR_HANDLERS,
    agent_key,
    bad,
    headers,
    own_key,
    params,
    time_param,
    version,
)
from services.progress.db import connect, iso
from services.progress.domain.xapi import intake, multipart
from services.progress.domain.xapi import statements as st
from services.progress.domain.xapi.validate import is_iri, is_uuid
from services.progress.schemas import XapiStatement, XapiStatementResult
from services.progress.store import xapi_statements as store

ROLES = ("learner", "service", "admin")
FILTERS = (
    "agent",
    "verb",
    "activity",
    "registration",
    "related_activities",
    "related_agents",
    "since",
    "until",
    "limit",
    "format",
    "attachments",
    "ascending",
    "cursor",
)
SINGLE = ("statementId", "voidedStatementId", "format", "attachments")


def _bool(values: dict[str, str], name: str) -> bool:
    value = values.get(name, "false")
    if value not in ("true", "false"):
        raise bad(f"{name}: must be true or false")
    return value == "true"


async def _body(request: Request[Any, Any, Any]) -> tuple[Any, dict[str, tuple[str, bytes]]]:
    """The decoded JSON and, for multipart/mixed, the attachment parts by their SHA-2."""
    content_type = request.headers.get("content-type", "")
    raw = await request.body()
    parts: dict[str, tuple[str, bytes]] = {}
    if content_type.lower().startswith("multipart/mixed"):
        try:
            found = multipart.parse(raw, content_type)
        except multipart.MultipartError as exc:
            raise bad(str(exc)) from exc
        if not found or not found[0].headers.get("content-type", "").lower().startswith("application/json"):
            raise bad("the first part of a multipart/mixed request must be the statements as application/json")
        raw = found[0].content
        for i, part in enumerate(found[1:], start=1):
            digest = part.headers.get("x-experience-api-hash", "")
            if not digest:
                raise bad(f"part {i}: needs an X-Experience-API-Hash header")
            if part.headers.get("content-transfer-encoding", "binary").lower() != "binary":
                raise bad(f"part {i}: Content-Transfer-Encoding must be binary")
            if not multipart.matches(part.content, digest):
                raise bad(f"part {i}: its content does not have the SHA-2 {digest}")
            parts[digest.lower()] = (part.headers.get("content-type", "application/octet-stream"), part.content)
    elif not content_type.lower().startswith("application/json"):
        raise bad("statements are sent as application/json or multipart/mixed")
    try:
        return msgspec.json.decode(raw), parts
    except msgspec.DecodeError as exc:
        raise bad("the request body is not valid JSON") from exc


async def save(
    request: Request[Any, Any, Any], principal: Principal, body: Any, parts: dict[str, tuple[str, bytes]]
) -> list[str]:
    """Validate and prepare the batch (domain), store it in one transaction (store)."""
    settings = request.app.state.settings
    sender = intake.Sender(principal.sub, principal.has("service", "admin"), settings.xapi_account_homepage)
    async with connect(request.app) as conn:
        # ``stored`` is the transaction's start, which X-Experience-API-Consistent-Through counts on
        stored = await store.transaction_start(conn)
        try:
            batch = intake.prepare(
                body,
                version=version(request),
                parts={digest: content for digest, (_, content) in parts.items()},
                sender=sender,
                prefix=settings.xapi_activity_prefix,
                stored=stored,
            )
        except intake.Invalid as exc:
            raise bad(str(exc), exc.problems) from exc
        except intake.NotYours as exc:
            raise Problem(403, "forbidden", str(exc)) from exc
        completed = await store.save(conn, batch, stored, parts, voider=None if sender.trusted else sender.authority)
    if completed:
        wake_relay(request)
    return [str(b.id) for b in batch]


async def read(request: Request[Any, Any, Any], principal: Principal) -> Response[Any]:
    """GET and HEAD: one statement or a page."""
    version(request)
    values = params(request, (*SINGLE, *FILTERS))
    fmt = values.get("format", "exact")
    if fmt not in ("ids", "exact", "canonical"):
        raise bad("format: must be ids, exact or canonical")
    with_attachments = _bool(values, "attachments")
    home = request.app.state.settings.xapi_account_homepage
    own = own_key(principal, home)
    accept = st.parse_accept_language(request.headers.get("accept-language", ""))
    answer = headers(request)
    single = values.get("statementId") or values.get("voidedStatementId")
    if "statementId" in values or "voidedStatementId" in values:
        others = set(values) - {"statementId", "voidedStatementId", "format", "attachments"}
        if ("statementId" in values and "voidedStatementId" in values) or others:
            raise bad("statementId and voidedStatementId cannot be combined with each other or with filters")
        if not is_uuid(single):
            raise bad("statementId: must be a UUID")
        async with connect(request.app, transaction=False) as conn:
            answer["X-Experience-API-Consistent-Through"] = iso(await store.consistent_through(conn))
            found = await store.one(conn, uuid.UUID(single), voided="voidedStatementId" in values, own=own)
            if found is None:
                raise Problem(404, "not-found", f"No statement {single} exists, or you may not see it.", headers=answer)
            statement = msgspec.json.decode(found[0])
            canon = await _canon(conn, [statement]) if fmt == "canonical" else {}
            answer["Last-Modified"] = found[1].strftime("%a, %d %b %Y %H:%M:%S GMT")
            one = st.formatted(statement, fmt, canon, accept)
            return await _respond(conn, msgspec.json.encode(one), [one], with_attachments, answer)
    keys = []
    if "agent" in values:
        keys.append(("ragent:" if _bool(values, "related_agents") else "agent:") + agent_key(values["agent"]))
    else:
        _bool(values, "related_agents")
    if "verb" in values:
        if not is_iri(values["verb"]):
            raise bad("verb: must be an IRI")
        keys.append("verb:" + values["verb"])
    if "activity" in values:
        if not is_iri(values["activity"]):
            raise bad("activity: must be an IRI")
        keys.append(("ractivity:" if _bool(values, "related_activities") else "activity:") + values["activity"])
    else:
        _bool(values, "related_activities")
    if "registration" in values:
        if not is_uuid(values["registration"]):
            raise bad("registration: must be a UUID")
        keys.append("reg:" + values["registration"].lower())
    if own:
        keys.append(own)
    try:
        limit = int(values.get("limit", "0"))
    except ValueError as exc:
        raise bad("limit: must be a non-negative integer") from exc
    if limit < 0:
        raise bad("limit: must be a non-negative integer")
    maximum = request.app.state.settings.xapi_max_limit
    query = store.Query(
        keys=keys,
        since=time_param(values, "since"),
        until=time_param(values, "until"),
        ascending=_bool(values, "ascending"),
        limit=maximum if limit == 0 else min(limit, maximum),
    )
    if "cursor" in values:
        query.after = _after(decode_cursor(values["cursor"]))
    async with connect(request.app, transaction=False) as conn:
        answer["X-Experience-API-Consistent-Through"] = iso(await store.consistent_through(conn))
        rows = await store.page(conn, query)
        more = ""
        if len(rows) > query.limit:
            rows = rows[: query.limit]
            kept = {k: v for k, v in values.items() if k != "cursor"}
            last = [rows[-1][0].isoformat(), rows[-1][1]]
            more = f"/xapi/statements?{urlencode({**kept, 'cursor': encode_cursor(last)})}"
        matched = [r[2] for r in rows if r[2] is not None]
        if fmt == "exact" and not with_attachments:
            body = (
                b'{"statements":['
                + b",".join(f.encode() for f in matched)
                + b'],"more":'
                + msgspec.json.encode(more)
                + b"}"
            )
            return Response(body, media_type="application/json", headers=answer)
        statements = [msgspec.json.decode(f) for f in matched]
        canon = await _canon(conn, statements) if fmt == "canonical" else {}
        shaped = [st.formatted(s, fmt, canon, accept) for s in statements]
        return await _respond(
            conn, msgspec.json.encode({"statements": shaped, "more": more}), shaped, with_attachments, answer
        )


def _after(cursor: Any) -> tuple[datetime, int]:
    """The (stored, seq) a ``more`` cursor holds."""
    try:
        stored, seq = cursor
        if isinstance(stored, str) and isinstance(seq, int) and not isinstance(seq, bool):
            at = datetime.fromisoformat(stored)
            if at.tzinfo is not None:
                return at, seq
    except (TypeError, ValueError):
        pass
    raise bad("cursor: is not one this service issued")


async def _canon(conn: Any, statements: list[dict[str, Any]]) -> dict[str, Any]:
    ids = sorted({a["id"] for s in statements for a in _all_activities(s)})
    return await store.canonical_definitions(conn, ids) if ids else {}


def _all_activities(statement: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    obj = statement.get("object") or {}
    if obj.get("objectType", "Activity") == "Activity":
        out.append(obj)
    elif obj.get("objectType") == "SubStatement":
        out += _all_activities(obj)
    for items in ((statement.get("context") or {}).get("contextActivities") or {}).values():
        out += items if isinstance(items, list) else [items]
    return [a for a in out if isinstance(a, dict) and isinstance(a.get("id"), str)]


async def _respond(
    conn: Any, body: bytes, statements: list[dict[str, Any]], with_attachments: bool, answer: dict[str, str]
) -> Response[Any]:
    if not with_attachments:
        return Response(body, media_type="application/json", headers=answer)
    digests = sorted({a["sha2"].lower() for s in statements for a in s.get("attachments") or [] if "sha2" in a})
    contents = await store.attachment_contents(conn, digests) if digests else []
    content, media_type = multipart.build(body, contents)
    return Response(content, media_type=media_type, headers=answer)


class StatementController(Controller):
    path = "/xapi/statements"
    tags = ["xAPI"]
    exception_handlers = ERROR_HANDLERS
    opt = allow(*ROLES)

    @post("/", status_code=200, dependencies=doc.VERSION_ONLY)
    async def post_statements(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        xapi_version: NamedDependency[None],
    ) -> Response[list[str]]:
        """Store one statement or an array (JSON, or multipart/mixed with attachments); answers the ids."""
        version(request)
        params(request, ())
        body, parts = await _body(request)
        ids = await save(request, principal, body, parts)
        return Response(ids, headers=headers(request))

    @put("/", status_code=204, dependencies=doc.PUT_STATEMENT)
    async def put_statement(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        xapi_params: NamedDependency[None],
        xapi_version: NamedDependency[None],
    ) -> Response[None]:
        """Store one statement under ``statementId``; 204 whether new or an identical replay."""
        version(request)
        values = params(request, ("statementId",), required=("statementId",))
        if not is_uuid(values["statementId"]):
            raise bad("statementId: must be a UUID")
        body, parts = await _body(request)
        if not isinstance(body, dict):
            raise bad("PUT takes one statement object")
        if "id" in body and str(body["id"]).lower() != values["statementId"].lower():
            raise bad("the statement's id differs from statementId")
        await save(request, principal, {**body, "id": values["statementId"]}, parts)
        return Response(None, status_code=204, headers=headers(request))

    @get("/", dependencies=doc.STATEMENTS)
    async def get_statements(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        xapi_params: NamedDependency[None],
        xapi_version: NamedDependency[None],
    ) -> Response[XapiStatementResult | XapiStatement]:
        """One statement (``statementId``/``voidedStatementId``) or a StatementResult with ``more``."""
        return await read(request, principal)

    @head("/", dependencies=doc.STATEMENTS)
    async def head_statements(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        xapi_params: NamedDependency[None],
        xapi_version: NamedDependency[None],
    ) -> Response[None]:
        """The headers a GET would answer, without the body."""
        response = await read(request, principal)
        return Response(None, headers=dict(response.headers), media_type=response.media_type)
