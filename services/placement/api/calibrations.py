"""Calibration runs: estimate, review, publish."""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, JSONBody

from services.common.auth import allow
from services.common.idempotency import HEADER, idempotency_key
from services.placement.api.common import Caller, Session
from services.placement.models import CalibrationRun
from services.placement.schemas import CalibratedItem, CalibrationIn, CalibrationOut
from services.placement.store import bank as bank_store
from services.placement.store import calibration as store


def calibration_out(run: CalibrationRun, bank_version: int) -> CalibrationOut:
    return CalibrationOut(
        id=run.id,
        status=run.status,  # type: ignore[arg-type]
        model=run.model,  # type: ignore[arg-type]
        bank_version=bank_version,
        responses=run.responses,
        examinees=run.examinees,
        iterations=run.iterations,
        converged=run.converged,
        created_by=run.created_by,
        created_at=run.created_at,
        items=[msgspec.convert(i, CalibratedItem) for i in run.items],
        published_version=run.published_version_id,
        c_prior=None
        if run.c_prior_alpha is None or run.c_prior_beta is None
        else [run.c_prior_alpha, run.c_prior_beta],
    )


class CalibrationController(Controller):
    path = "/v1/calibrations"
    tags = ["calibration"]
    opt = allow("admin")

    @post(
        "/",
        responses={200: ResponseSpec(data_container=CalibrationOut, description="A retry: the first run.")},
    )
    async def run_calibration(
        self,
        request: Request[Any, Any, Any],
        session: Session,
        principal: Caller,
        data: JSONBody[CalibrationIn | None] = None,
    ) -> Response[CalibrationOut]:
        """Calibrate the items on every recorded response (a draft to review).

        Marginal maximum likelihood (EM) on scored and pretest responses; review old beside new
        with fit statistics, then publish it. Items with fewer than ``min_responses`` answers keep
        their parameters. A 3PL run uses the active bank version's Beta prior on c unless
        ``c_prior`` names one. An ``Idempotency-Key`` header makes a retry return the first run (200)."""
        data = data or CalibrationIn()
        key = idempotency_key(request.headers.get(HEADER))
        run, created = await store.run(
            session, principal.sub, data.model, data.min_responses, data.max_iterations, key, data.c_prior_tuple()
        )
        out = calibration_out(run, await bank_store.active_version_id(session))
        if not created:
            return Response(out, status_code=200)
        return Response(out, status_code=201, headers={"Location": f"{self.path}/{run.id}"})

    @get("/{run_id:uuid}")
    async def get_calibration(self, run_id: FromPath[uuid.UUID], session: Session) -> CalibrationOut:
        """Read a calibration run."""
        run = await store.get(session, run_id)
        return calibration_out(run, await bank_store.active_version_id(session))

    @post("/{run_id:uuid}/publish", status_code=200)
    async def publish_calibration(
        self, run_id: FromPath[uuid.UUID], session: Session, principal: Caller
    ) -> CalibrationOut:
        """Publish a draft's parameters as a new bank version (idempotent)."""
        run = await store.publish_run(session, run_id, principal.sub)
        return calibration_out(run, await bank_store.active_version_id(session))
