"""Sign-in (OpenID Connect, or the development sign-in), sign-out and the language switch."""

from __future__ import annotations

import time
from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.enums import RequestEncodingType
from litestar.exceptions import PermissionDeniedException
from litestar.params import Body
from litestar.response import Redirect, Template

from services.common.auth import load_private_jwk, mint_token
from services.web.api.common import LANG_COOKIE, Viewer, current_viewer, lang_of, render, settings_of, sign_in
from services.web.domain.i18n import LANGS, translate
from services.web.domain.personas import PERSONAS, DevSignIn, check_dev_sign_in

Form = Body(media_type=RequestEncodingType.URL_ENCODED)
DEV_TTL = 8 * 3600


@get("/signin", name="signin")
async def signin_page(request: Request[Any, Any, Any]) -> Template | Redirect:
    """The sign-in page: the organisation's identity provider, or (locally) a development persona."""
    if current_viewer(request):
        return Redirect(path="/", status_code=303)
    settings = settings_of(request)
    return render(request, "signin.html", personas=PERSONAS, oidc=bool(settings.oidc_issuer))


@post("/auth/dev", status_code=303)
async def dev_sign_in(request: Request[Any, Any, Any], data: Annotated[dict[str, str], Form]) -> Response[Any]:
    """Development sign-in: a token minted with the development key for the chosen persona."""
    settings = settings_of(request)
    lang = lang_of(request)
    if not settings.dev_signin_enabled:
        raise PermissionDeniedException(translate(lang, "signin.dev.refused"))
    choice = DevSignIn(
        persona=data.get("persona", ""),
        sub=data.get("sub", "").strip(),
        name=data.get("name", "").strip(),
        org=data.get("org", "").strip(),
    )
    errors = check_dev_sign_in(choice)
    if errors:
        return render(
            request,
            "signin.html",
            status_code=422,
            personas=PERSONAS,
            oidc=False,
            errors={k: [translate(lang, v)] for k, v in errors.items()},
            values=data,
            problem=translate(lang, "form.fix"),
        )
    persona = PERSONAS[choice.persona]
    sub = choice.sub or persona.sub
    name = choice.name or persona.name
    org = choice.org or persona.org
    token = mint_token(
        load_private_jwk(settings.service_key_file),
        sub=sub,
        roles=[persona.role],
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        name=name,
        org=org,
        ttl=DEV_TTL,
    )
    sign_in(request, Viewer(sub, name, org, [persona.role], token, time.time() + DEV_TTL, dev=True))
    return Redirect(path="/", status_code=303)


@post("/signout", status_code=303)
async def sign_out(request: Request[Any, Any, Any]) -> Redirect:
    """Forget the session (the cookie is cleared)."""
    request.clear_session()
    return Redirect(path="/signin", status_code=303)


@post("/lang", status_code=303)
async def set_language(request: Request[Any, Any, Any], data: Annotated[dict[str, str], Form]) -> Redirect:
    """Switch between Korean and English; remembered for a year in a cookie."""
    lang = data.get("lang", "ko")
    back = data.get("next", "/")
    if not back.startswith("/") or back.startswith("//"):
        back = "/"
    response = Redirect(path=back, status_code=303)
    if lang in LANGS:
        settings = settings_of(request)
        response.set_cookie(
            LANG_COOKIE, lang, max_age=365 * 86400, secure=settings.cookie_secure, httponly=True, samesite="lax"
        )
    return response


ROUTES = [signin_page, dev_sign_in, sign_out, set_language]
