"""An official's pages: home (the whole path), the diagnostic, sessions, certificates."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import segno
from litestar import Request, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath
from litestar.response import Redirect, Stream, Template

from services.web.api.common import api, form_failure, lang_of, need, pick, redirect, render
from services.web.client import ApiError, Outage, new_key
from services.web.domain import charts
from services.web.domain import diagnostic as dx
from services.web.domain.i18n import translate

Form = Body(media_type=RequestEncodingType.URL_ENCODED)


@get("/")
async def home(request: Request[Any, Any, Any]) -> Template | Redirect:
    """Home: the path of an official; instructors and admins go to their own start page."""
    viewer = need(request)
    if not viewer.has("learner"):
        return Redirect(path="/teach" if viewer.has("instructor") else "/admin", status_code=303)
    path_call = api(request).progress.my_path(viewer.token)
    certs_call = api(request).certification.my_certificates(viewer.token)
    path, certs = await asyncio.gather(path_call, certs_call, return_exceptions=True)
    for failure in (path, certs):
        if isinstance(failure, Outage) or (isinstance(failure, ApiError) and failure.status == 401):
            raise failure
    if isinstance(path, BaseException) and not (isinstance(path, ApiError) and path.slug == "no-learning-path"):
        raise path
    placed = not isinstance(path, BaseException)
    if isinstance(certs, BaseException):
        certs = []
    return render(
        request,
        "learner/home.html",
        dash=path if placed else None,
        certificates=certs,
        notice=request.query_params.get("notice"),
    )


@get("/diagnostic")
async def diagnostic_intro(request: Request[Any, Any, Any]) -> Template:
    """What the diagnostic is, how long it takes and its rules; start or resume."""
    viewer = need(request, "learner")
    limits = await api(request).placement.rules(viewer.token)
    return render(request, "learner/diagnostic_intro.html", rules=dx.RULES, limits=limits)


@post("/diagnostic/start", status_code=200)
async def diagnostic_start(request: Request[Any, Any, Any]) -> Template:
    """Start a diagnostic, or resume the open one where it was left: its first (or current) item is
    rendered from the start's own answer (no redirect and no second call; sending the form again
    resumes the same diagnostic)."""
    viewer = need(request, "learner")
    try:
        session = await api(request).placement.start_session(viewer.token)
    except (ApiError, Outage) as exc:
        return render(
            request,
            "learner/diagnostic_intro.html",
            status_code=409,
            rules=dx.RULES,
            limits=await api(request).placement.rules(viewer.token),
            **form_failure(exc, lang_of(request)),
        )
    return await render_session(request, viewer.token, session)


@get("/diagnostic/{session_id:str}")
async def diagnostic_item(request: Request[Any, Any, Any], session_id: FromPath[str]) -> Template:
    """The current item (one at a time, with progress), or the result once the diagnostic ended."""
    viewer = need(request, "learner")
    session = await api(request).placement.session(viewer.token, session_id)
    return await render_session(request, viewer.token, session)


async def render_session(
    request: Request[Any, Any, Any], token: str, session: dict[str, Any], **extra: Any
) -> Template:
    if session.get("result"):
        result = session["result"]
        probs = result.get("level_probabilities") or []
        return render(
            request,
            "learner/diagnostic_result.html",
            result=result,
            chart=charts.bars(
                [(translate(lang_of(request), "level.n", n=i), p) for i, p in enumerate(probs)],
                maximum=1.0,
                as_percent=True,
            ),
        )
    limits = await api(request).placement.rules(token)
    if session.get("status") != "active" or not session.get("current_item"):
        return render(
            request, "learner/diagnostic_intro.html", rules=dx.RULES, limits=limits, ended=session.get("status")
        )
    item = session["current_item"]
    lang = lang_of(request)
    return render(
        request,
        "learner/diagnostic_item.html",
        session=session,
        item=item,
        stem=pick(item.get("stem"), lang),
        options=[pick(option, lang) for option in item.get("options") or ()],
        progress=dx.progress(session.get("answered", 0), limits["max_items"]),
        **extra,
    )


@post("/diagnostic/{session_id:str}/answer", status_code=303)
async def diagnostic_answer(
    request: Request[Any, Any, Any], session_id: FromPath[str], data: Annotated[dict[str, str], Form]
) -> Template | Redirect:
    """Answer the current item; the next one (or the result) is rendered from the answer itself
    (no second call; sending the form again replays the first answer, which the API allows)."""
    viewer = need(request, "learner")
    lang = lang_of(request)
    answer = dx.parse_answer(data)
    client = api(request).placement
    if isinstance(answer, dict):
        session = await client.session(viewer.token, session_id)
        return await render_session(
            request, viewer.token, session, errors={k: [request_t(lang, v)] for k, v in answer.items()}, values=data
        )
    try:
        out = await client.answer(viewer.token, session_id, answer.position, answer.item_id, answer.choice)
    except ApiError as exc:
        if exc.slug == "not-current-item":  # answered elsewhere (another tab): show where it stands
            return Redirect(path=f"/diagnostic/{session_id}", status_code=303)
        session = await client.session(viewer.token, session_id)
        return await render_session(request, viewer.token, session, **form_failure(exc, lang), values=data)
    except Outage as exc:
        return render(
            request,
            "learner/diagnostic_retry.html",
            status_code=503,
            session_id=session_id,
            values=data,
            **form_failure(exc, lang),
        )
    session = {
        "id": session_id,
        "status": out["status"],
        "answered": out["answered"],
        "current_item": out.get("next_item"),
        "result": out.get("result"),
    }
    return await render_session(request, viewer.token, session)


def request_t(lang: str, key: str) -> str:
    return translate(lang, key)


@get("/sessions")
async def sessions_page(request: Request[Any, Any, Any]) -> Template:
    """Sessions open to the official (their current level), with seats left and their waitlist position."""
    viewer = need(request, "learner")
    progress = api(request).progress
    try:
        dash = await progress.my_path(viewer.token)
    except ApiError as exc:
        if exc.slug != "no-learning-path":
            raise
        dash = None
    level = dash.get("current_level") if dash else None
    listing = await progress.sessions(viewer.token, level=level, upcoming="true", limit=50)
    mine = dash["enrolments"] if dash else []  # the dashboard lists the official's enrolments
    return render(
        request,
        "learner/sessions.html",
        dash=dash,
        sessions=listing.get("items", []),
        enrolments=mine_by_session(mine),
        notice=request.query_params.get("notice"),
    )


def mine_by_session(enrolments: Any) -> dict[str, dict[str, Any]]:
    items = enrolments.get("items", enrolments) if isinstance(enrolments, dict) else enrolments
    return {e["session_id"]: e for e in items or [] if e.get("status") in ("enrolled", "waitlisted")}


@post("/sessions/{session_id:str}/enrol", status_code=303)
async def enrol(
    request: Request[Any, Any, Any], session_id: FromPath[str], data: Annotated[dict[str, str], Form]
) -> Template | Redirect:
    """Take a seat, or a place on the waitlist."""
    viewer = need(request, "learner")
    key = data.get("key") or new_key()
    try:
        enrolment = await api(request).progress.enrol(viewer.token, session_id, key)
    except (ApiError, Outage) as exc:
        return await sessions_with_problem(request, exc, session_id)
    notice = "enrolled" if enrolment.get("status") == "enrolled" else "waitlisted"
    return redirect("/sessions", notice)


@post("/enrolments/{enrolment_id:str}/withdraw", status_code=303)
async def withdraw(request: Request[Any, Any, Any], enrolment_id: FromPath[str]) -> Template | Redirect:
    """Give the seat (or waitlist place) back."""
    viewer = need(request, "learner")
    try:
        await api(request).progress.withdraw(viewer.token, enrolment_id)
    except (ApiError, Outage) as exc:
        return await sessions_with_problem(request, exc, None)
    return redirect("/sessions", "withdrawn")


async def sessions_with_problem(
    request: Request[Any, Any, Any], exc: ApiError | Outage, session_id: str | None
) -> Template:
    page = await sessions_page.fn(request)
    page.context.update(form_failure(exc, lang_of(request)))
    page.context["failed_session"] = session_id
    page.status_code = 409 if isinstance(exc, ApiError) else 503
    return page


@get("/certificates")
async def certificates(request: Request[Any, Any, Any]) -> Template:
    """The official's certificates: PDF, verification link and its QR code."""
    viewer = need(request, "learner")
    certs = await api(request).certification.my_certificates(viewer.token)
    items = certs.get("items", certs) if isinstance(certs, dict) else certs
    qr = {c["id"]: segno.make(c["verify_url"], error="m").svg_inline(scale=3, title=c["serial"]) for c in items}
    return render(request, "learner/certificates.html", certificates=items, qr=qr)


@get("/certificates/{certificate_id:str}/pdf")
async def certificate_pdf(request: Request[Any, Any, Any], certificate_id: FromPath[str]) -> Stream:
    """Download the printable PDF (fetched with the person's token; no token in any URL)."""
    viewer = need(request, "learner")
    headers, body = await api(request).certification.stream(f"/v1/me/certificates/{certificate_id}/pdf", viewer.token)
    headers.setdefault("content-disposition", f'attachment; filename="certificate-{certificate_id}.pdf"')
    return Stream(body, headers={"Content-Disposition": headers["content-disposition"]}, media_type="application/pdf")


ROUTES = [
    home,
    diagnostic_intro,
    diagnostic_start,
    diagnostic_item,
    diagnostic_answer,
    sessions_page,
    enrol,
    withdraw,
    certificates,
    certificate_pdf,
]
