# ruff: noqa: S608  (SQL is assembled from constant fragments only; every value is a bound parameter)
"""A subset of the xAPI (1.0.3 / 2.0) Statements API, so e-learning content that speaks xAPI
works unchanged.

- ``GET /xapi/about`` (public) lists the versions spoken.
- ``POST /xapi/statements`` (one statement or an array; answers the ids) and
  ``PUT /xapi/statements?statementId=`` (answers 204); an existing id with the same content is a
  no-op, with different content a 409. Every request except /about must send
  ``X-Experience-API-Version``; every answer carries it.
- ``GET /xapi/statements`` by ``statementId`` or ``voidedStatementId`` (alone), or filtered by
  ``agent``, ``verb``, ``activity``, ``since`` (exclusive), ``until`` (inclusive), ``limit``,
  ``ascending``, paged with ``more``; answers carry ``X-Experience-API-Consistent-Through``.
- Actors must be accounts (``{"account": {"homePage", "name"}}``, ``name`` = official id);
  mbox, mbox_sha1sum and openid actors are refused with 400 (we keep no e-mail addresses).
- Voiding (verb ``http://adlnet.gov/expapi/verbs/voided`` with a ``StatementRef``) hides the
  target from queries and recomputes the official's progress.
- Verbs completed, passed, failed and attended on an activity ``<prefix><module code>`` drive
  progress (as learning events with id ``xapi:<statement id>``); other statements are stored.
  Passed, failed and attended drive progress only when sent with a service or admin token
  (content reporting through a server-side proxy): a learner's own token cannot certify an
  assessment result or attendance, such statements are stored only.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlencode

import msgspec
from litestar import Controller, Request, Response, get, post, put
from litestar.params import Parameter, QueryParameter

from services.common.auth import Principal, allow
from services.common.db import utcnow
from services.common.errors import Problem, exception_handlers
from services.common.moments import out_of_window
from services.common.pagination import decode_cursor, encode_cursor
from services.common.types import is_aware
from services.progress import engine
from services.progress.api.events import TRUSTED_VERBS, event_hash, recompute_officials, store_events
from services.progress.api.util import wake_relay
from services.progress.db import connect, iso
from services.progress.schemas import EventIn, VerbName

ADL = "http://adlnet.gov/expapi/verbs/"
VOIDED = ADL + "voided"
PROGRESS_VERBS: dict[str, VerbName] = {
    ADL + "completed": "completed",
    ADL + "passed": "passed",
    ADL + "failed": "failed",
    ADL + "attended": "attended",
}
VERSIONS = ["1.0.3", "2.0.0"]
ROLES = ("learner", "service", "admin")


def version_header(request: Request[Any, Any, Any]) -> dict[str, str]:
    sent = request.headers.get("x-experience-api-version", "")
    if not sent:
        raise Problem(400, "xapi-version-missing", "Send the X-Experience-API-Version header (1.0.3 or 2.0.0).")
    if not (sent.startswith("1.0") or sent.startswith("2.0")):
        raise Problem(
            400, "xapi-version-unsupported", f"X-Experience-API-Version {sent} is not spoken here; use 1.0.3."
        )
    return {"X-Experience-API-Version": "2.0.0" if sent.startswith("2.0") else "1.0.3"}


def bad(detail: str, index: int | None = None) -> Problem:
    errors = [{"index": index, "reason": detail}] if index is not None else None
    return Problem(400, "invalid-statement", detail, errors=errors)


def parse_time(value: Any, what: str, index: int | None = None) -> datetime:
    if not isinstance(value, str):
        raise bad(f"{what} must be an ISO 8601 timestamp", index)
    try:
        ts = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise bad(f"{what} {value!r} is not an ISO 8601 timestamp", index) from exc
    if not is_aware(ts):
        raise bad(f"{what} needs a time zone offset", index)
    return ts


def actor_name(actor: Any, index: int | None = None) -> str:
    if not isinstance(actor, dict):
        raise bad("actor must be an object", index)
    if any(k in actor for k in ("mbox", "mbox_sha1sum", "openid")):
        raise bad(
            'actors must be identified by account ({"account": {"homePage": ..., "name": <official id>}}); '
            "e-mail (mbox, mbox_sha1sum) and openid actors are not accepted",
            index,
        )
    if actor.get("objectType", "Agent") != "Agent":
        raise bad("only Agent actors are accepted (no groups)", index)
    account = actor.get("account")
    if not isinstance(account, dict) or not isinstance(account.get("name"), str) or not account["name"]:
        raise bad("actor.account with homePage and name (the official id) is required", index)
    if not isinstance(account.get("homePage"), str):
        raise bad("actor.account.homePage is required", index)
    if len(account["name"]) > 128:
        raise bad("actor.account.name is at most 128 characters", index)
    return str(account["name"])


class Prepared(msgspec.Struct):
    id: uuid.UUID
    statement: dict[str, Any]
    actor: str
    verb: str
    object_id: str
    timestamp: datetime
    digest: str
    voids: uuid.UUID | None


def prepare(raw: Any, index: int | None, principal: Principal, stored: datetime, home: str) -> Prepared:
    if not isinstance(raw, dict):
        raise bad("a statement must be a JSON object", index)
    statement = dict(raw)
    for key in ("stored", "authority", "version"):
        statement.pop(key, None)
    sid = statement.get("id")
    try:
        statement_id = uuid.UUID(sid) if sid is not None else uuid.uuid4()
    except (ValueError, TypeError, AttributeError) as exc:
        raise bad(f"id {sid!r} is not a UUID", index) from exc
    statement["id"] = str(statement_id)
    name = actor_name(statement.get("actor"), index)
    if not principal.has("service", "admin") and name != principal.sub:
        raise Problem(403, "forbidden", "Learners may only send statements about themselves.")
    verb = statement.get("verb")
    if not isinstance(verb, dict) or not isinstance(verb.get("id"), str) or not verb["id"]:
        raise bad("verb.id (an IRI) is required", index)
    obj = statement.get("object")
    if not isinstance(obj, dict) or not isinstance(obj.get("id"), str) or not obj["id"]:
        raise bad("object.id is required", index)
    voids = None
    if verb["id"] == VOIDED:
        if obj.get("objectType") != "StatementRef":
            raise bad("a voiding statement's object must be a StatementRef", index)
        try:
            voids = uuid.UUID(obj["id"])
        except ValueError as exc:
            raise bad("a StatementRef id must be a UUID", index) from exc
    timestamp = parse_time(statement["timestamp"], "timestamp", index) if "timestamp" in statement else stored
    digest = engine.content_hash(msgspec.json.encode(statement, order="sorted").decode())
    full = {
        **statement,
        "timestamp": iso(timestamp) if "timestamp" not in statement else statement["timestamp"],
        "stored": iso(stored),
        "authority": {"objectType": "Agent", "account": {"homePage": home, "name": principal.sub}},
        "version": "1.0.0",
    }
    return Prepared(statement_id, full, name, verb["id"], obj["id"], timestamp, digest, voids)


def score_of(statement: dict[str, Any]) -> float | None:
    result = statement.get("result")
    score = result.get("score") if isinstance(result, dict) else None
    if not isinstance(score, dict):
        return None
    if isinstance(score.get("scaled"), int | float):
        return max(0.0, min(100.0, float(score["scaled"]) * 100))
    raw, lo, hi = score.get("raw"), score.get("min"), score.get("max")
    if isinstance(raw, int | float):
        if isinstance(lo, int | float) and isinstance(hi, int | float) and hi > lo:
            return max(0.0, min(100.0, 100.0 * (raw - lo) / (hi - lo)))
        return max(0.0, min(100.0, float(raw)))
    return None


async def save(request: Request[Any, Any, Any], principal: Principal, raws: list[Any]) -> list[str]:
    stored = utcnow()
    home = request.app.state.settings.xapi_account_homepage
    prepared = [prepare(r, i, principal, stored, home) for i, r in enumerate(raws)]
    ids = [p.id for p in prepared]
    if len(set(ids)) != len(ids):
        raise bad("the same statement id appears twice in this request")
    prefix = request.app.state.settings.xapi_activity_prefix
    completed: list[Any] = []
    flagged_officials: list[str] = []
    async with connect(request.app) as conn:
        existing = {
            r["id"]: r["content_hash"]
            for r in await conn.fetch("SELECT id, content_hash FROM xapi_statement WHERE id = ANY($1::uuid[])", ids)
        }
        conflicts = [str(p.id) for p in prepared if p.id in existing and existing[p.id] != p.digest]
        if conflicts:
            raise Problem(
                409,
                "statement-conflict",
                f"Statement {conflicts[0]} already exists with different content; statements are immutable.",
                errors=[{"id": c, "reason": "exists with different content"} for c in conflicts],
            )
        new = [p for p in prepared if p.id not in existing]
        for p in new:
            if p.voids is None:
                continue
            target = await conn.fetchrow("SELECT verb_id, actor_name FROM xapi_statement WHERE id = $1", p.voids)
            if target is not None and target["verb_id"] == VOIDED:
                raise bad(f"statement {p.voids} is itself a voiding statement and cannot be voided")
            if target is not None and not principal.has("service", "admin") and target["actor_name"] != principal.sub:
                raise Problem(403, "forbidden", "Learners may only void their own statements.")
        if new:
            await conn.execute(
                """
                INSERT INTO xapi_statement (id, stored, timestamp, actor_name, verb_id, object_id, statement,
                                            content_hash, voided, voids)
                SELECT id, $2, ts, actor, verb, obj, st::jsonb, h, false, v
                FROM unnest($1::uuid[], $3::timestamptz[], $4::text[], $5::text[], $6::text[], $7::text[],
                            $8::text[], $9::uuid[]) AS t(id, ts, actor, verb, obj, st, h, v)
                ON CONFLICT (id) DO NOTHING
                """,
                [p.id for p in new],
                stored,
                [p.timestamp for p in new],
                [p.actor for p in new],
                [p.verb for p in new],
                [p.object_id for p in new],
                [msgspec.json.encode(p.statement).decode() for p in new],
                [p.digest for p in new],
                [p.voids for p in new],
            )
        targets = [p.voids for p in new if p.voids is not None]
        if targets:
            voided = await conn.fetch(
                "UPDATE xapi_statement SET voided = true WHERE id = ANY($1::uuid[]) AND verb_id <> $2 "
                "RETURNING id, actor_name",
                targets,
                VOIDED,
            )
            if voided:
                await conn.execute(
                    "UPDATE learning_event SET voided_at = coalesce(voided_at, now()) WHERE event_id = ANY($1::text[])",
                    [f"xapi:{r['id']}" for r in voided],
                )
                flagged_officials = sorted({r["actor_name"] for r in voided})
        curriculum = await engine.published(conn)
        events = []
        for p in new:
            verb = PROGRESS_VERBS.get(p.verb)
            if verb is None or curriculum is None or not p.object_id.startswith(prefix):
                continue
            if verb in TRUSTED_VERBS and not principal.has("service", "admin"):
                continue  # stored, but a learner's own token cannot certify a result or attendance
            code = p.object_id.removeprefix(prefix)
            if code not in curriculum.modules or out_of_window(p.timestamp):
                continue  # xAPI allows any timestamp: stored, but no learning event outside the window
            score = score_of(p.statement) if verb in ("passed", "failed", "completed") else None
            events.append(
                EventIn(
                    id=f"xapi:{p.id}", official_id=p.actor, module=code, verb=verb, occurred_at=p.timestamp, score=score
                )
            )
        if events and curriculum is not None:
            _, completed = await store_events(conn, curriculum, events, [event_hash(e) for e in events], "xapi")
        if flagged_officials:
            outcome = await recompute_officials(conn, flagged_officials)
            completed += outcome.completed
    if completed:
        wake_relay(request)
    return [str(i) for i in ids]


def _with_version(handler: Any) -> Any:
    def wrapped(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
        response: Response[Any] = handler(request, exc)
        response.headers.setdefault("X-Experience-API-Version", "1.0.3")
        return response

    return wrapped


# Every xAPI answer, errors included, carries X-Experience-API-Version.
XAPI_ERROR_HANDLERS = {k: _with_version(v) for k, v in exception_handlers.items()}


class XapiController(Controller):
    path = "/xapi"
    tags = ["xAPI"]
    exception_handlers = XAPI_ERROR_HANDLERS

    @get("/about", opt={"public": True})
    async def about(self) -> Response[Any]:
        """The xAPI versions this endpoint speaks."""
        return Response({"version": VERSIONS}, headers={"X-Experience-API-Version": "1.0.3"})

    @post("/statements", guards=[allow(*ROLES)], status_code=200)
    async def post_statements(self, request: Request[Any, Any, Any], principal: Principal) -> Response[Any]:
        """Store one statement or an array of them; answers the statement ids."""
        headers = version_header(request)
        try:
            body = msgspec.json.decode(await request.body())
        except msgspec.DecodeError as exc:
            raise bad("the request body is not valid JSON") from exc
        raws = body if isinstance(body, list) else [body]
        if not raws or len(raws) > 1000:
            raise bad("send between 1 and 1,000 statements")
        ids = await save(request, principal, raws)
        return Response(ids, status_code=200, headers=headers)

    @put("/statements", guards=[allow(*ROLES)], status_code=204)
    async def put_statement(
        self,
        request: Request[Any, Any, Any],
        principal: Principal,
        statement_id: Annotated[str | None, QueryParameter(name="statementId")] = None,
    ) -> Response[None]:
        """Store one statement under ``statementId``; 204 whether new or an identical replay."""
        headers = version_header(request)
        if not statement_id:
            raise bad("PUT needs the statementId query parameter")
        try:
            sid = uuid.UUID(statement_id)
            body = msgspec.json.decode(await request.body())
        except ValueError as exc:
            raise bad("statementId must be a UUID and the body valid JSON") from exc
        if not isinstance(body, dict):
            raise bad("PUT takes one statement object")
        if "id" in body and str(body["id"]).lower() != str(sid):
            raise bad("the statement's id differs from statementId")
        body["id"] = str(sid)
        await save(request, principal, [body])
        return Response(None, status_code=204, headers=headers)

    @get("/statements", guards=[allow(*ROLES)])
    async def get_statements(
        self,
        request: Request[Any, Any, Any],
        principal: Principal,
        statement_id: Annotated[str | None, QueryParameter(name="statementId")] = None,
        voided_statement_id: Annotated[str | None, QueryParameter(name="voidedStatementId")] = None,
        agent: str | None = Parameter(default=None),
        verb: str | None = Parameter(default=None),
        activity: str | None = Parameter(default=None),
        since: str | None = Parameter(default=None),
        until: str | None = Parameter(default=None),
        limit: int = Parameter(default=0, ge=0),
        ascending: bool = Parameter(default=False),
        cursor: str | None = Parameter(default=None),
    ) -> Response[Any]:
        """One statement by id, or a StatementResult with ``more`` paging."""
        headers = version_header(request)
        headers["X-Experience-API-Consistent-Through"] = iso(utcnow())
        own = None if principal.has("service", "admin") else principal.sub
        single = statement_id or voided_statement_id
        if single:
            others = set(request.query_params) - {"statementId", "voidedStatementId", "attachments", "format"}
            if (statement_id and voided_statement_id) or others:
                raise bad("statementId and voidedStatementId cannot be combined with other filters")
            try:
                sid = uuid.UUID(single)
            except ValueError as exc:
                raise bad("the statement id must be a UUID") from exc
            async with connect(request.app, transaction=False) as conn:
                row = await conn.fetchrow(
                    "SELECT statement::text AS s, stored, actor_name FROM xapi_statement "
                    "WHERE id = $1 AND voided = $2 AND ($3::text IS NULL OR actor_name = $3)",
                    sid,
                    voided_statement_id is not None,
                    own,
                )
            if row is None:
                raise Problem(404, "not-found", f"No statement {sid} exists, or you may not see it.", headers=headers)
            headers["Last-Modified"] = row["stored"].strftime("%a, %d %b %Y %H:%M:%S GMT")
            return Response(msgspec.json.decode(row["s"]), headers=headers)
        maximum = request.app.state.settings.xapi_max_limit
        page_size = maximum if limit == 0 else min(limit, maximum)
        where: list[str] = ["NOT voided"]
        args: list[Any] = []
        if agent is not None:
            try:
                name = actor_name(msgspec.json.decode(agent))
            except msgspec.DecodeError as exc:
                raise bad("agent must be a JSON Agent object") from exc
            args.append(name)
            where.append(f"actor_name = ${len(args)}")
        if own is not None:
            args.append(own)
            where.append(f"actor_name = ${len(args)}")
        if verb is not None:
            args.append(verb)
            where.append(f"verb_id = ${len(args)}")
        if activity is not None:
            args.append(activity)
            where.append(f"object_id = ${len(args)}")
        if since is not None:
            args.append(parse_time(since, "since"))
            where.append(f"stored > ${len(args)}")
        if until is not None:
            args.append(parse_time(until, "until"))
            where.append(f"stored <= ${len(args)}")
        after = decode_cursor(cursor)
        if after is not None:
            if not isinstance(after, int):
                raise Problem(400, "invalid-cursor", "The cursor is not one this service issued.")
            args.append(after)
            where.append(f"seq {'>' if ascending else '<'} ${len(args)}")
        args.append(page_size + 1)
        async with connect(request.app, transaction=False) as conn:
            rows = await conn.fetch(
                f"SELECT seq, statement::text AS s FROM xapi_statement WHERE {' AND '.join(where)} "
                f"ORDER BY seq {'ASC' if ascending else 'DESC'} LIMIT ${len(args)}",
                *args,
            )
        more = ""
        if len(rows) > page_size:
            rows = rows[:page_size]
            params = {k: v for k, v in request.query_params.items() if k != "cursor"}
            params["cursor"] = encode_cursor(rows[-1]["seq"])
            more = f"/xapi/statements?{urlencode(params)}"
        body = (
            b'{"statements":['
            + b",".join(r["s"].encode() for r in rows)
            + b'],"more":'
            + msgspec.json.encode(more)
            + b"}"
        )
        return Response(body, media_type="application/json", headers=headers)
