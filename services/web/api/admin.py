"""Admin pages: the programme overview with charts, sessions, curricula, the item bank, review
flags and certificates. Every action is a call to the owning service's admin API."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from litestar import Request, get, post
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotFoundException
from litestar.params import Body, FromPath, FromQuery
from litestar.response import Redirect, Stream, Template

from services.web.api.common import api, form_failure, lang_of, need, redirect, render
from services.web.client import ApiError, Outage, new_key
from services.web.domain import admin as dom
from services.web.domain import problems
from services.web.domain.i18n import translate

Form = Body(media_type=RequestEncodingType.URL_ENCODED)
Multipart = Body(media_type=RequestEncodingType.MULTI_PART)
REPORTS = {"capacity": ("level", "session"), "completion": ("level", "org"), "attendance": ("level", "session")}


def items(page: Any) -> list[dict[str, Any]]:
    return list(page.get("items", [])) if isinstance(page, dict) else list(page or [])


def failure_of(lang: str, errors: dict[str, str]) -> dict[str, Any]:
    return {"problem": translate(lang, "form.fix"), "errors": {k: [translate(lang, v)] for k, v in errors.items()}}


@get("/admin")
async def overview(request: Request[Any, Any, Any]) -> Template:
    """The programme at a glance: seats filled, the completion funnel by organisation, attendance."""
    viewer = need(request, "admin")
    progress = api(request).progress
    capacity, sessions, funnel, attendance = await asyncio.gather(
        progress.report(viewer.token, "capacity", "level"),
        progress.report(viewer.token, "capacity", "session"),
        progress.report(viewer.token, "completion", "org"),
        progress.report(viewer.token, "attendance", "level"),
    )
    lang = lang_of(request)
    level = translate(lang, "level.n", n="{n}")
    for rows in (capacity["rows"], attendance["rows"]):
        for r in rows:
            r["label"] = level.format(n=r["level"])
    for r in funnel["rows"]:
        r["label"] = f"{r.get('org') or '-'} · {level.format(n=r['level'])}"
    for r in sessions["rows"]:
        r["label"] = r.get("title") or r.get("session_id")
    return render(
        request,
        "admin/overview.html",
        capacity=capacity,
        sessions=sessions,
        funnel=funnel,
        attendance=attendance,
        capacity_bars=dom.report_bars(capacity["rows"], "label", "fill_rate", as_percent=True),
        session_bars=dom.report_bars(fullest(sessions["rows"]), "label", "fill_rate", as_percent=True),
        funnel_bars=dom.report_bars(funnel["rows"][:40], "label", "completion_rate", as_percent=True),
        attendance_bars=dom.report_bars(attendance["rows"], "label", "attendance_rate", as_percent=True),
    )


def fullest(rows: list[dict[str, Any]], n: int = 20) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda r: -(r.get("fill_rate") or 0))[:n]


@get("/admin/reports/{name:str}/csv")
async def report_csv(request: Request[Any, Any, Any], name: FromPath[str], by: FromQuery[str] = "level") -> Stream:
    """A report as CSV, streamed from progress."""
    viewer = need(request, "admin")
    if name not in REPORTS or by not in REPORTS[name]:
        raise NotFoundException()
    headers, body = await api(request).progress.stream(f"/v1/reports/{name}.csv?by={by}", viewer.token)
    disposition = headers.get("content-disposition", f'attachment; filename="{name}-by-{by}.csv"')
    return Stream(body, media_type="text/csv", headers={"Content-Disposition": disposition})


# --- sessions ---------------------------------------------------------------------------------


async def sessions_context(request: Request[Any, Any, Any], tolerate: bool = False) -> dict[str, Any]:
    """The session list; with ``tolerate``, an outage gives an empty list (the form being re-shown matters more)."""
    viewer = need(request, "admin")
    try:
        listing = await api(request).progress.sessions(
            viewer.token, upcoming=request.query_params.get("upcoming"), limit=200
        )
    except Outage:
        if not tolerate:
            raise
        listing = []
    return {"sessions": items(listing)}


@get("/admin/sessions")
async def sessions_page(request: Request[Any, Any, Any]) -> Template:
    """Every session with seats and waitlists, and a form to schedule one."""
    ctx = await sessions_context(request)
    return render(request, "admin/sessions.html", **ctx, key=new_key(), notice=request.query_params.get("notice"))


@post("/admin/sessions", status_code=303)
async def create_session(request: Request[Any, Any, Any], data: Annotated[dict[str, str], Form]) -> Template | Redirect:
    """Schedule a session (a retried form returns the first answer: the form carries its Idempotency-Key)."""
    viewer = need(request, "admin")
    lang = lang_of(request)
    parsed = dom.read_session_form(data, create=True)
    failure: dict[str, Any] = failure_of(lang, parsed.errors) if parsed.errors else {}
    if not failure:
        try:
            created = await api(request).progress.create_session(
                viewer.token, parsed.body, data.get("key") or new_key()
            )
        except (ApiError, Outage) as exc:
            failure = form_failure(exc, lang)
        else:
            return redirect(f"/admin/sessions/{created['id']}", "created")
    ctx = await sessions_context(request, tolerate=True)
    return render(request, "admin/sessions.html", status_code=422, **ctx, key=data.get("key"), values=data, **failure)


async def session_detail(
    request: Request[Any, Any, Any], session_id: str, typed: dict[str, str] | None = None
) -> dict[str, Any]:
    """A session and its roster; during an outage, with ``typed``, the form alone (nothing typed is lost)."""
    viewer = need(request, "admin")
    progress = api(request).progress
    try:
        session, roster = await asyncio.gather(
            progress.session(viewer.token, session_id), progress.roster(viewer.token, session_id)
        )
    except Outage:
        if typed is None:
            raise
        return {"session": {"id": session_id, "title": typed.get("title", ""), "level": "-", "days": []}, "roster": []}
    return {"session": session, "roster": items(roster)}


@get("/admin/sessions/{session_id:str}")
async def session_page(request: Request[Any, Any, Any], session_id: FromPath[str]) -> Template:
    """One session: edit it, its roster and waitlist."""
    ctx = await session_detail(request, session_id)
    s = ctx["session"]
    values = {
        k: "" if s.get(k) is None else str(s[k]) for k in ("title", "place", "instructor_id", "seats", "waitlist_limit")
    }
    values["enrolment_open"] = "on" if s.get("enrolment_open") else ""
    return render(request, "admin/session.html", **ctx, values=values, notice=request.query_params.get("notice"))


@post("/admin/sessions/{session_id:str}", status_code=303)
async def update_session(
    request: Request[Any, Any, Any], session_id: FromPath[str], data: Annotated[dict[str, str], Form]
) -> Template | Redirect:
    """Change place, instructor, seats, waitlist limit, open or close enrolment."""
    viewer = need(request, "admin")
    lang = lang_of(request)
    parsed = dom.read_session_form(data, create=False)
    failure: dict[str, Any] = failure_of(lang, parsed.errors) if parsed.errors else {}
    if not failure:
        try:
            await api(request).progress.update_session(viewer.token, session_id, parsed.body)
        except (ApiError, Outage) as exc:
            failure = form_failure(exc, lang)
        else:
            return redirect(f"/admin/sessions/{session_id}", "saved")
    ctx = await session_detail(request, session_id, typed=data)
    return render(request, "admin/session.html", status_code=422, **ctx, values=data, **failure)


# --- curricula --------------------------------------------------------------------------------


@get("/admin/curricula")
async def curricula_page(request: Request[Any, Any, Any]) -> Template:
    """Curriculum versions: draft, published, retired."""
    viewer = need(request, "admin")
    listing = await api(request).progress.curricula(viewer.token)
    return render(request, "admin/curricula.html", curricula=items(listing))


@get("/admin/curricula/{curriculum_id:str}")
async def curriculum_page(request: Request[Any, Any, Any], curriculum_id: FromPath[str]) -> Template:
    """One version: levels, courses, modules and rules; publish a draft."""
    viewer = need(request, "admin")
    curriculum = await api(request).progress.curriculum(viewer.token, curriculum_id)
    return render(request, "admin/curriculum.html", curriculum=curriculum)


@post("/admin/curricula/{curriculum_id:str}/publish", status_code=303)
async def publish_curriculum(request: Request[Any, Any, Any], curriculum_id: FromPath[str]) -> Template | Redirect:
    """Publish (the previous version retires) and watch the recompute job."""
    viewer = need(request, "admin")
    client = api(request).progress
    try:
        out = await client.publish_curriculum(viewer.token, curriculum_id)
    except (ApiError, Outage) as exc:
        curriculum = await client.curriculum(viewer.token, curriculum_id)
        return render(
            request,
            "admin/curriculum.html",
            status_code=409,
            curriculum=curriculum,
            **form_failure(exc, lang_of(request)),
        )
    job = out.get("recompute_job")
    return redirect(f"/admin/jobs/{job['id']}" if job else f"/admin/curricula/{curriculum_id}", "published")


@get("/admin/jobs/{job_id:str}")
async def job_page(request: Request[Any, Any, Any], job_id: FromPath[str]) -> Template:
    """The recompute job after a publish; the status part refreshes itself until the job is done."""
    viewer = need(request, "admin")
    job = await api(request).progress.recompute_job(viewer.token, job_id)
    template = "admin/job_status.html" if request.headers.get("hx-request") else "admin/job.html"
    return render(request, template, job=job, notice=request.query_params.get("notice"))


# --- item bank --------------------------------------------------------------------------------


async def items_context(request: Request[Any, Any, Any], tolerate: bool = False) -> dict[str, Any]:
    viewer = need(request, "admin")
    placement = api(request).placement
    versions, stats = await asyncio.gather(
        placement.bank_versions(viewer.token), placement.stats(viewer.token), return_exceptions=True
    )
    for value in (versions, stats):
        if isinstance(value, Outage) and not tolerate:
            raise value
    return {
        "versions": items(versions) if not isinstance(versions, Exception) else [],
        "stats": stats if not isinstance(stats, Exception) else None,
    }


@get("/admin/items")
async def items_page(request: Request[Any, Any, Any]) -> Template:
    """Import items (JSON or CSV), publish a bank version, item statistics with exposure, calibration."""
    ctx = await items_context(request)
    return render(request, "admin/items.html", **ctx, notice=request.query_params.get("notice"))


@post("/admin/items/import", status_code=200)
async def import_items(request: Request[Any, Any, Any], data: Annotated[dict[str, Any], Multipart]) -> Template:
    """Import a JSON or CSV file: all or nothing, every bad row listed."""
    viewer = need(request, "admin")
    lang = lang_of(request)
    upload = data.get("file")
    report = None
    failure: dict[str, Any] = {}
    rows: list[dict[str, Any]] = []
    if not isinstance(upload, UploadFile) or not upload.filename:
        failure = failure_of(lang, {"file": "items.file_needed"})
    else:
        content = await upload.read()
        is_csv = upload.filename.lower().endswith(".csv") or (upload.content_type or "").startswith("text/csv")
        try:
            report = await api(request).placement.import_items(viewer.token, content, is_csv)
        except (ApiError, Outage) as exc:
            failure = form_failure(exc, lang)
            if isinstance(exc, ApiError):
                rows = [
                    {**e, "reason": problems.detail_text(str(e.get("reason") or e.get("message") or ""), lang)}
                    for e in exc.problem.get("errors") or []
                    if isinstance(e, dict)
                ]
    ctx = await items_context(request, tolerate=True)
    return render(
        request,
        "admin/items.html",
        status_code=422 if failure else 200,
        **ctx,
        report=report,
        bad_rows=rows,
        **failure,
    )


@post("/admin/bank/versions", status_code=303)
async def publish_bank(request: Request[Any, Any, Any], data: Annotated[dict[str, str], Form]) -> Template | Redirect:
    """Publish the non-retired items as a new active bank version."""
    viewer = need(request, "admin")
    try:
        await api(request).placement.publish_bank(viewer.token, data.get("note", "")[:500])
    except (ApiError, Outage) as exc:
        ctx = await items_context(request, tolerate=True)
        return render(
            request, "admin/items.html", status_code=409, **ctx, values=data, **form_failure(exc, lang_of(request))
        )
    return redirect("/admin/items", "published")


@post("/admin/calibrations", status_code=303)
async def start_calibration(
    request: Request[Any, Any, Any], data: Annotated[dict[str, str], Form]
) -> Template | Redirect:
    """Run a calibration on all responses (a draft to review)."""
    viewer = need(request, "admin")
    model = data.get("model", "2pl")
    try:
        minimum = int(data.get("min_responses") or 30)
        run = await api(request).placement.calibrate(viewer.token, model, minimum)
    except ValueError:
        ctx = await items_context(request, tolerate=True)
        return render(
            request,
            "admin/items.html",
            status_code=422,
            **ctx,
            values=data,
            **failure_of(lang_of(request), {"min_responses": "form.number"}),
        )
    except (ApiError, Outage) as exc:
        ctx = await items_context(request, tolerate=True)
        return render(
            request, "admin/items.html", status_code=409, **ctx, values=data, **form_failure(exc, lang_of(request))
        )
    return redirect(f"/admin/calibrations/{run['id']}")


@get("/admin/calibrations/{calibration_id:str}")
async def calibration_page(request: Request[Any, Any, Any], calibration_id: FromPath[str]) -> Template:
    """Review a calibration: old and new parameters, standard errors and item fit."""
    viewer = need(request, "admin")
    run = await api(request).placement.calibration(viewer.token, calibration_id)
    return render(request, "admin/calibration.html", run=run, notice=request.query_params.get("notice"))


@post("/admin/calibrations/{calibration_id:str}/publish", status_code=303)
async def publish_calibration(request: Request[Any, Any, Any], calibration_id: FromPath[str]) -> Template | Redirect:
    """Apply the new parameters and publish a new bank version."""
    viewer = need(request, "admin")
    client = api(request).placement
    try:
        await client.publish_calibration(viewer.token, calibration_id)
    except (ApiError, Outage) as exc:
        run = await client.calibration(viewer.token, calibration_id)
        return render(
            request, "admin/calibration.html", status_code=409, run=run, **form_failure(exc, lang_of(request))
        )
    return redirect(f"/admin/calibrations/{calibration_id}", "published")


# --- review flags -----------------------------------------------------------------------------


@get("/admin/reviews")
async def reviews_page(request: Request[Any, Any, Any], cursor: FromQuery[str | None] = None) -> Template:
    """Completed levels that a recomputation flagged for review."""
    viewer = need(request, "admin")
    page = await api(request).progress.reviews(viewer.token, cursor)
    return render(
        request,
        "admin/reviews.html",
        reviews=items(page),
        next_cursor=page.get("next_cursor") if isinstance(page, dict) else None,
        notice=request.query_params.get("notice"),
    )


@post("/admin/reviews/{official_id:str}/{level:int}", status_code=303)
async def clear_review(request: Request[Any, Any, Any], official_id: FromPath[str], level: FromPath[int]) -> Redirect:
    """Clear a flag: the completion stands."""
    viewer = need(request, "admin")
    await api(request).progress.clear_review(viewer.token, official_id, level)
    return redirect("/admin/reviews", "saved")


# --- certificates -----------------------------------------------------------------------------


@get("/admin/certificates")
async def certificates_page(
    request: Request[Any, Any, Any], q: FromQuery[str] = "", cursor: FromQuery[str | None] = None
) -> Template:
    """Find certificates by serial, official id or name; see one's record and audit trail; change its status."""
    viewer = need(request, "admin")
    q = q.strip()
    cert, audit, found, more, failure = None, [], [], None, {}
    if q:
        client = api(request).certification
        try:
            certificate_id = q if _looks_like_uuid(q) else ""
            if not certificate_id:
                result = await client.search_certificates(viewer.token, q, cursor)
                found, more = items(result), result.get("next_cursor")
                if len(found) == 1 and not cursor:
                    certificate_id = str(found[0]["id"])
            if certificate_id:
                cert, trail = await asyncio.gather(
                    client.certificate(viewer.token, certificate_id), client.audit(viewer.token, certificate_id)
                )
                audit, found = items(trail), []
        except ApiError as exc:
            failure = form_failure(exc, lang_of(request))
        if cert is None and not found and not failure:
            failure = failure_of(lang_of(request), {"q": "certs.not_found"})
    return render(
        request,
        "admin/certificates.html",
        q=q,
        cert=cert,
        audit=audit,
        found=found,
        more=more,
        values={"q": q},
        notice=request.query_params.get("notice"),
        **failure,
    )


@post("/admin/certificates/{certificate_id:str}/{action:str}", status_code=303)
async def change_certificate(
    request: Request[Any, Any, Any],
    certificate_id: FromPath[str],
    action: FromPath[str],
    data: Annotated[dict[str, str], Form],
) -> Template | Redirect:
    """Revoke, suspend or reinstate, with a reason."""
    viewer = need(request, "admin")
    if action not in ("revoke", "suspend", "reinstate"):
        raise NotFoundException()
    lang = lang_of(request)
    client = api(request).certification
    try:
        await client.change_status(viewer.token, certificate_id, action, data.get("reason", "").strip())
    except (ApiError, Outage) as exc:
        cert, trail = await asyncio.gather(
            client.certificate(viewer.token, certificate_id), client.audit(viewer.token, certificate_id)
        )
        failure = form_failure(exc, lang)
        if isinstance(exc, ApiError) and "reason" not in failure["errors"] and exc.status == 400:
            failure["errors"]["reason"] = [problems.problem_title(exc.slug, exc.status, lang)]
        return render(
            request,
            "admin/certificates.html",
            status_code=422,
            q=certificate_id,
            cert=cert,
            audit=items(trail),
            values={**data, "action": action},
            **failure,
        )
    return redirect(f"/admin/certificates?q={certificate_id}", "saved")


def _looks_like_uuid(value: str) -> bool:
    import uuid

    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


ROUTES = [
    overview,
    report_csv,
    sessions_page,
    create_session,
    session_page,
    update_session,
    curricula_page,
    curriculum_page,
    publish_curriculum,
    job_page,
    items_page,
    import_items,
    publish_bank,
    start_calibration,
    calibration_page,
    publish_calibration,
    reviews_page,
    clear_review,
    certificates_page,
    change_certificate,
]
