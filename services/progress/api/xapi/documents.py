"""The document resources: State (``/xapi/activities/state``), Activity Profile
(``/xapi/activities/profile``) and Agent Profile (``/xapi/agents/profile``): one document or the
ids of many (``since``), PUT, POST (JSON merge), DELETE, ETag concurrency."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import Controller, Request, Response, delete, get, head, post, put
from litestar.di import NamedDependency

from services.common.auth import Principal, allow
from services.common.errors import Problem
from services.progress.api.xapi import openapi as doc
from services.progress.api.xapi.common import (
    ERROR_HANDLERS,
    agent_key,
    bad,
    headers,
    params,
    time_param,
    version,
)
from services.progress.db import connect
from services.progress.domain.xapi.documents import is_json, json_object
from services.progress.domain.xapi.validate import is_iri, is_uuid
from services.progress.store import xapi_documents as store

ROLES = ("learner", "service", "admin")


@dataclass(frozen=True)
class Kind:
    name: str
    id_param: str
    scope_params: tuple[str, ...]
    multi_params: tuple[str, ...]
    profile: bool  # profiles' PUT needs If-Match or If-None-Match


STATE = Kind("state", "stateId", ("activityId", "agent", "registration"), ("since",), False)
ACTIVITY_PROFILE = Kind("activity_profile", "profileId", ("activityId",), ("since",), True)
AGENT_PROFILE = Kind("agent_profile", "profileId", ("agent",), ("since",), True)


def scope_of(
    request: Request[Any, Any, Any], principal: Principal, kind: Kind, *, many: bool
) -> tuple[store.Scope, dict[str, str]]:
    version(request)
    required = tuple(p for p in kind.scope_params if p != "registration")
    values = params(request, (*kind.scope_params, kind.id_param, *kind.multi_params), required=required)
    problems = []
    activity = values.get("activityId", "")
    if "activityId" in values and not is_iri(activity):
        problems.append("activityId: must be an IRI")
    registration = values.get("registration", "")
    if registration and not is_uuid(registration):
        problems.append("registration: must be a UUID")
    if problems:
        raise bad("; ".join(problems), problems)
    agent = agent_key(values["agent"]) if "agent" in values else ""
    if agent and not principal.has("service", "admin"):
        home = request.app.state.settings.xapi_account_homepage
        if agent != f"account:{home}|{principal.sub}":
            raise Problem(403, "forbidden", "Learners may only use their own documents.")
    elif not agent and not principal.has("service", "admin") and kind is ACTIVITY_PROFILE:
        if request.method != "GET" and request.method != "HEAD":
            raise Problem(403, "forbidden", "Activity profiles are written by service and admin clients.")
    if not many and kind.id_param not in values:
        raise bad(f"{kind.id_param}: is required")
    return store.Scope(kind.name, activity, agent, registration.lower()), values


async def read(request: Request[Any, Any, Any], principal: Principal, kind: Kind) -> Response[Any]:
    scope, values = scope_of(request, principal, kind, many=True)
    async with connect(request.app, transaction=False) as conn:
        if kind.id_param not in values:
            ids = await store.ids(conn, scope, time_param(values, "since"))
            return Response(ids, headers=headers(request))
        if "since" in values:
            raise bad(f"since: only with a request for many documents (without {kind.id_param})")
        document = await store.get(conn, scope, values[kind.id_param])
    if document is None:
        raise Problem(404, "not-found", f"No document {values[kind.id_param]!r} here.")
    answer = headers(
        request, ETag=f'"{document.etag}"', **{"Last-Modified": document.updated.strftime("%a, %d %b %Y %H:%M:%S GMT")}
    )
    return Response(document.content, media_type=document.content_type, headers=answer)


async def write(request: Request[Any, Any, Any], principal: Principal, kind: Kind, *, merge: bool) -> Response[None]:
    scope, values = scope_of(request, principal, kind, many=False)
    spoken = version(request)
    content = await request.body()
    content_type = request.headers.get("content-type", "application/octet-stream")
    if merge:
        if not is_json(content_type) or json_object(content) is None:
            raise bad("POST merges JSON: send a JSON object as application/json")
    async with connect(request.app) as conn:
        tag = await store.write(
            conn,
            scope,
            values[kind.id_param],
            content,
            content_type,
            merge=merge,
            if_match=request.headers.get("if-match"),
            if_none_match=request.headers.get("if-none-match"),
            overwrite="profile" if kind.profile else ("existing-409" if spoken.startswith("2") else "free"),
        )
    return Response(None, status_code=204, headers=headers(request, ETag=f'"{tag}"'))


async def remove(request: Request[Any, Any, Any], principal: Principal, kind: Kind) -> Response[None]:
    scope, values = scope_of(request, principal, kind, many=kind is STATE)
    async with connect(request.app) as conn:
        await store.delete(
            conn,
            scope,
            values.get(kind.id_param),
            if_match=request.headers.get("if-match"),
            if_none_match=request.headers.get("if-none-match"),
        )
    return Response(None, status_code=204, headers=headers(request))


def _controller(path: str, kind: Kind, label: str, documented: dict[str, Any]) -> type[Controller]:
    class DocumentController(Controller):
        exception_handlers = ERROR_HANDLERS
        opt = allow(*ROLES)
        dependencies = documented
        tags = ["xAPI"]

        @get("/")
        async def get_documents(
            self,
            request: Request[Any, Any, Any],
            principal: NamedDependency[Principal],
            xapi_params: NamedDependency[None],
            xapi_version: NamedDependency[None],
        ) -> Response[list[str] | bytes]:
            return await read(request, principal, kind)

        @head("/")
        async def head_documents(
            self,
            request: Request[Any, Any, Any],
            principal: NamedDependency[Principal],
            xapi_params: NamedDependency[None],
            xapi_version: NamedDependency[None],
        ) -> Response[None]:
            response = await read(request, principal, kind)
            return Response(None, headers=dict(response.headers), media_type=response.media_type)

        @put("/", status_code=204)
        async def put_document(
            self,
            request: Request[Any, Any, Any],
            principal: NamedDependency[Principal],
            xapi_params: NamedDependency[None],
            xapi_version: NamedDependency[None],
        ) -> Response[None]:
            return await write(request, principal, kind, merge=False)

        @post("/", status_code=204)
        async def post_document(
            self,
            request: Request[Any, Any, Any],
            principal: NamedDependency[Principal],
            xapi_params: NamedDependency[None],
            xapi_version: NamedDependency[None],
        ) -> Response[None]:
            return await write(request, principal, kind, merge=True)

        @delete("/", status_code=204)
        async def delete_documents(
            self,
            request: Request[Any, Any, Any],
            principal: NamedDependency[Principal],
            xapi_params: NamedDependency[None],
            xapi_version: NamedDependency[None],
        ) -> Response[None]:
            return await remove(request, principal, kind)

    DocumentController.path = path
    DocumentController.__name__ = DocumentController.__qualname__ = f"{label}Controller"
    for name, summary in (
        ("get_documents", f"One {label} document, or the ids of all (``since``)."),
        ("head_documents", f"The headers a GET of {label} documents would answer."),
        ("put_document", f"Store a {label} document (ETag preconditions)."),
        ("post_document", f"Merge a JSON {label} document into the stored one."),
        ("delete_documents", f"Delete a {label} document."),
    ):
        fn = getattr(DocumentController, name).fn
        fn.__doc__ = summary
        fn.__qualname__ = f"{label}Controller.{name}"  # operationIds and summaries name the resource
    return DocumentController


StateController = _controller("/xapi/activities/state", STATE, "State", doc.STATE)
ActivityProfileController = _controller(
    "/xapi/activities/profile", ACTIVITY_PROFILE, "ActivityProfile", doc.ACTIVITY_PROFILE
)
AgentProfileController = _controller("/xapi/agents/profile", AGENT_PROFILE, "AgentProfile", doc.AGENT_PROFILE)
