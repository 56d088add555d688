"""The diagnostic: start or resume, read, answer."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, JSONBody

from services.common.auth import Principal, allow
from services.common.responses import JSONBytes
from services.placement.api.common import Caller, Session, versions
from services.placement.schemas import AnswerIn, AnswerOut, SessionOut
from services.placement.store import sessions as store


class SessionController(Controller):
    path = "/v1/sessions"
    tags = ["diagnostic"]
    opt = allow("learner")

    @post(
        "/",
        responses={200: ResponseSpec(data_container=SessionOut, description="The open diagnostic is resumed.")},
    )
    async def start_session(self, request: Request[Any, Any, Any], principal: Caller) -> Response[SessionOut]:
        """Start a diagnostic (201) or resume the open one (200).

        At most one is open per official. After a completed diagnostic a retake waits for the
        cooldown unless an admin granted one."""
        state = request.app.state
        out, created = await store.start(state.pool, versions(request), state.settings, principal, state.placement_live)
        if not created:
            return Response(out, status_code=200)
        return Response(out, status_code=201, headers={"Location": f"{self.path}/{out.id}"})

    @get("/{session_id:uuid}")
    async def get_session(
        self, request: Request[Any, Any, Any], session_id: FromPath[uuid.UUID], session: Session, principal: Caller
    ) -> SessionOut:
        """Read your session, with its current item (never the key or parameters)."""
        return await store.get(session, versions(request), request.app.state.settings, principal, session_id)

    @post(
        "/{session_id:uuid}/answers",
        status_code=200,
        responses={200: ResponseSpec(data_container=AnswerOut, description="The answer is recorded.")},
    )
    async def answer_item(
        self, request: Request[Principal, Any, Any], session_id: FromPath[uuid.UUID], data: JSONBody[AnswerIn]
    ) -> JSONBytes:
        """Answer the current item; get the next item or the result.

        Replaying the same answer returns the first response; a different item or position is a 409."""
        # the hot path: the caller straight from the auth middleware (no dependency to resolve) and
        # the encoded reply sent as it is
        state = request.app.state
        relay = getattr(state, "relay", None)
        body = await store.answer_fast(
            state.pool,
            versions(request),
            state.settings,
            request.user,
            session_id,
            data,
            relay.wake if relay is not None else None,
            state.placement_live,
        )
        return JSONBytes(body)
