"""An instructor's pages: their sessions, the roster, attendance for a day, assessment results."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime
from typing import Annotated, Any

from litestar import Request, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath
from litestar.response import Redirect, Template

from services.web.api.common import api, form_failure, lang_of, need, redirect, render
from services.web.client import ApiError, Outage
from services.web.domain import problems, teaching
from services.web.domain.fmt import SEOUL
from services.web.domain.i18n import translate

Form = Body(media_type=RequestEncodingType.URL_ENCODED)


def items(page: Any) -> list[dict[str, Any]]:
    return list(page.get("items", [])) if isinstance(page, dict) else list(page or [])


@get("/teach")
async def my_sessions(request: Request[Any, Any, Any]) -> Template:
    """The sessions the signed-in instructor teaches."""
    viewer = need(request, "instructor", "admin")
    listing = await api(request).progress.sessions(viewer.token, instructor_id=viewer.sub, limit=100)
    return render(request, "instructor/sessions.html", sessions=items(listing))


async def session_context(
    request: Request[Any, Any, Any], session_id: str, typed: dict[str, str] | None = None
) -> dict[str, Any]:
    """The session, roster and marks; during an outage, with ``typed``, the rows of the typed form (nothing lost)."""
    viewer = need(request, "instructor", "admin")
    progress = api(request).progress
    try:
        session, roster, marks = await asyncio.gather(
            progress.session(viewer.token, session_id),
            progress.roster(viewer.token, session_id),
            progress.attendance(viewer.token, session_id),
        )
    except Outage:
        if typed is None:
            raise
        rows = sorted({k.split("-", 1)[1] for k in typed if k.startswith(("mark-", "result-", "score-"))})
        session = {"id": session_id, "title": "", "level": -1, "days": []}
        roster, marks = [{"official_id": r, "status": "enrolled"} for r in rows], []
    enrolled = [e for e in items(roster) if e.get("status") == "enrolled"]
    waitlist = [e for e in items(roster) if e.get("status") == "waitlisted"]
    today = datetime.now(SEOUL).date()
    return {
        "session": session,
        "enrolled": enrolled,
        "waitlist": waitlist,
        "marks": items(marks),
        "days": teaching.session_days(session, today),
        "viewer_token": viewer.token,
    }


@get("/teach/{session_id:str}")
async def roster_page(request: Request[Any, Any, Any], session_id: FromPath[str]) -> Template:
    """A session: its roster (and waitlist), its days, and links to attendance and results."""
    ctx = await session_context(request, session_id)
    ctx.pop("viewer_token")
    return render(request, "instructor/roster.html", **ctx, notice=request.query_params.get("notice"))


@get("/teach/{session_id:str}/attendance/{day:str}")
async def attendance_page(request: Request[Any, Any, Any], session_id: FromPath[str], day: FromPath[str]) -> Template:
    """Attendance for one day as a tap-friendly grid."""
    ctx = await session_context(request, session_id)
    ctx.pop("viewer_token")
    current = {m["official_id"]: m["status"] for m in ctx["marks"] if m.get("day") == day}
    values = {f"mark-{k}": v for k, v in current.items()}
    return render(
        request, "instructor/attendance.html", **ctx, day_=day, current=current, values=values, marks_=teaching.MARKS
    )


@post("/teach/{session_id:str}/attendance/{day:str}", status_code=303)
async def record_attendance(
    request: Request[Any, Any, Any],
    session_id: FromPath[str],
    day: FromPath[str],
    data: Annotated[dict[str, str], Form],
) -> Template | Redirect:
    """Save the day's marks; a changed mark needs a reason (the API refuses it otherwise)."""
    lang = lang_of(request)
    ctx = await session_context(request, session_id, typed=data)
    token = ctx.pop("viewer_token")
    current = {m["official_id"]: m["status"] for m in ctx["marks"] if m.get("day") == day}
    grid = teaching.read_grid(data, [e["official_id"] for e in ctx["enrolled"]])
    failure: dict[str, Any] = {}
    if grid.errors:
        failure = {
            "problem": translate(lang, "form.fix"),
            "errors": {k: [translate(lang, v)] for k, v in grid.errors.items()},
        }
    else:
        body: dict[str, Any] = {"records": grid.records}
        if grid.reason:
            body["reason"] = grid.reason
        try:
            await api(request).progress.record_attendance(token, session_id, day, body)
        except (ApiError, Outage) as exc:
            failure = form_failure(exc, lang)
            if isinstance(exc, ApiError) and exc.slug == "reason-required":
                failure["errors"].setdefault("reason", []).append(translate(lang, "attendance.reason_needed"))
        else:
            return redirect(f"/teach/{session_id}", "saved")
    return render(
        request,
        "instructor/attendance.html",
        status_code=422,
        **ctx,
        day_=day,
        current=current,
        values=data,
        marks_=teaching.MARKS,
        **failure,
    )


@get("/teach/{session_id:str}/results")
async def results_page(request: Request[Any, Any, Any], session_id: FromPath[str]) -> Template:
    """Record assessment results (passed/failed, score) for the modules of the session's level."""
    ctx = await session_context(request, session_id)
    token = ctx.pop("viewer_token")
    curriculum = await api(request).progress.current_curriculum(token)
    modules = teaching.assessable_modules(curriculum, ctx["session"]["level"])
    return render(request, "instructor/results.html", **ctx, modules=modules, batch=uuid.uuid4().hex[:12])


@post("/teach/{session_id:str}/results", status_code=303)
async def record_results(
    request: Request[Any, Any, Any], session_id: FromPath[str], data: Annotated[dict[str, str], Form]
) -> Template | Redirect:
    """Send the typed results as learning events (one atomic batch)."""
    lang = lang_of(request)
    ctx = await session_context(request, session_id, typed=data)
    token = ctx.pop("viewer_token")
    try:
        curriculum = await api(request).progress.current_curriculum(token)
    except Outage:
        curriculum = {}
    modules = teaching.assessable_modules(curriculum, ctx["session"]["level"])
    if not modules and data.get("module"):
        modules = [{"code": data["module"], "title_ko": data["module"], "title_en": data["module"]}]
    officials = [e["official_id"] for e in ctx["enrolled"]]
    module = data.get("module", "")
    batch = data.get("batch") or uuid.uuid4().hex[:12]
    events, errors = teaching.assessment_events(data, officials, module, datetime.now(SEOUL), batch)
    if module not in {m["code"] for m in modules}:
        errors["module"] = "assessment.module"
    failure: dict[str, Any] = {}
    if errors:
        failure = {
            "problem": translate(lang, "form.fix"),
            "errors": {k: [translate(lang, v)] for k, v in errors.items()},
        }
    else:
        try:
            await api(request).progress.send_events(token, events)
        except (ApiError, Outage) as exc:
            failure = form_failure(exc, lang)
            if isinstance(exc, ApiError):  # events are reported by index: show them on the official's row
                by_index = {str(i): e["official_id"] for i, e in enumerate(events)}
                for entry in exc.problem.get("errors") or []:
                    if isinstance(entry, dict) and str(entry.get("index")) in by_index:
                        official = by_index[str(entry["index"])]
                        reason = problems.detail_text(str(entry.get("reason", "")), lang)
                        failure["errors"].setdefault(official, []).append(reason)
        else:
            return redirect(f"/teach/{session_id}", "saved")
    return render(
        request, "instructor/results.html", status_code=422, **ctx, modules=modules, batch=batch, values=data, **failure
    )


ROUTES = [my_sessions, roster_page, attendance_page, record_attendance, results_page, record_results]
