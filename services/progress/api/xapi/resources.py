"""About, Activities (canonical definition) and Agents (Person object)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, head
from litestar.di import NamedDependency

from services.common.auth import Principal, allow
from services.progress.api.xapi import openapi as doc
from services.progress.api.xapi.common import ERROR_HANDLERS, VERSIONS, agent_param, bad, headers, params, version
from services.progress.db import connect
from services.progress.domain.xapi.statements import person
from services.progress.domain.xapi.validate import is_iri
from services.progress.schemas import XapiAbout, XapiActivity, XapiPerson
from services.progress.store import xapi_statements as store

ROLES = ("learner", "service", "admin")


async def _activity(request: Request[Any, Any, Any]) -> Response[Any]:
    version(request)
    activity_id = params(request, ("activityId",), required=("activityId",))["activityId"]
    if not is_iri(activity_id):
        raise bad("activityId: must be an IRI")
    async with connect(request.app, transaction=False) as conn:
        definition = await store.activity(conn, activity_id)
    body: dict[str, Any] = {"objectType": "Activity", "id": activity_id}
    if definition:
        body["definition"] = definition
    return Response(body, headers=headers(request))


async def _person(request: Request[Any, Any, Any]) -> Response[Any]:
    version(request)
    agent = agent_param(params(request, ("agent",), required=("agent",))["agent"])
    return Response(person(agent), headers=headers(request))


class XapiResourceController(Controller):
    path = "/xapi"
    tags = ["xAPI"]
    exception_handlers = ERROR_HANDLERS

    @get("/about", opt={"public": True})
    async def about(self, request: Request[Any, Any, Any]) -> Response[XapiAbout]:
        """The xAPI versions this LRS speaks."""
        return Response(XapiAbout(version=VERSIONS), headers=headers(request))

    @get("/activities", opt=allow(*ROLES), dependencies=doc.ACTIVITIES)
    async def get_activity(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        xapi_params: NamedDependency[None],
        xapi_version: NamedDependency[None],
    ) -> Response[XapiActivity]:
        """The canonical definition of an activity, merged from the statements that carry it."""
        return await _activity(request)

    @head("/activities", opt=allow(*ROLES), dependencies=doc.ACTIVITIES)
    async def head_activity(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        xapi_params: NamedDependency[None],
        xapi_version: NamedDependency[None],
    ) -> Response[None]:
        """The headers a GET of the activity would answer."""
        response = await _activity(request)
        return Response(None, headers=dict(response.headers))

    @get("/agents", opt=allow(*ROLES), dependencies=doc.AGENTS)
    async def get_agent(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        xapi_params: NamedDependency[None],
        xapi_version: NamedDependency[None],
    ) -> Response[XapiPerson]:
        """The Person object of an agent: every identifier and name the LRS knows for it."""
        return await _person(request)

    @head("/agents", opt=allow(*ROLES), dependencies=doc.AGENTS)
    async def head_agent(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        xapi_params: NamedDependency[None],
        xapi_version: NamedDependency[None],
    ) -> Response[None]:
        """The headers a GET of the agent would answer."""
        response = await _person(request)
        return Response(None, headers=dict(response.headers))
