"""Sign-in (OpenID Connect, or the development sign-in), sign-out and the language switch."""

from __future__ import annotations

import secrets
import time
from dataclasses import asdict
from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotFoundException, PermissionDeniedException
from litestar.params import Body, FromQuery, QueryParameter
from litestar.response import Redirect, Template

from services.common.auth import load_private_jwk, mint_token
from services.common.settings import data_dir
from services.web.api.common import LANG_COOKIE, Viewer, api, current_viewer, lang_of, render, settings_of, sign_in
from services.web.client import SignInFailed
from services.web.domain import oidc
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
        load_private_jwk(settings.dev_key_file or str(data_dir() / "keys" / "dev-private.jwk.json")),
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


@get("/auth/login")
async def oidc_login(request: Request[Any, Any, Any]) -> Redirect:
    """Start the authorization code flow with PKCE: to the provider, with state and nonce kept in the session."""
    settings = settings_of(request)
    provider = api(request).oidc
    if provider is None:
        raise NotFoundException()
    meta = await provider.discover()
    pending = oidc.new_pending()
    request.set_session({"oidc": asdict(pending)})
    url = oidc.authorization_url(
        meta["authorization_endpoint"],
        client_id=settings.oidc_client_id,
        redirect_uri=settings.oidc_redirect_url,
        scope=settings.oidc_scopes,
        pending=pending,
        resource=settings.oidc_resource,
    )
    return Redirect(path=url, status_code=303)


@get("/auth/callback")
async def oidc_callback(
    request: Request[Any, Any, Any],
    code: FromQuery[str] = "",
    returned_state: Annotated[str, QueryParameter(name="state")] = "",
    error: FromQuery[str] = "",
) -> Redirect | Template:
    """The provider's answer: check state, exchange the code (PKCE verifier), verify the ID token, sign in."""
    settings = settings_of(request)
    provider = api(request).oidc
    lang = lang_of(request)
    saved = request.session.get("oidc") if request.scope.get("session") is not None else None
    request.clear_session()
    if provider is None:
        raise NotFoundException()
    if (
        not isinstance(saved, dict)
        or error
        or not code
        or not secrets.compare_digest(returned_state, str(saved.get("state")))
    ):
        return render(
            request, "signin.html", status_code=400, personas={}, oidc=True, problem=translate(lang, "signin.failed")
        )
    pending = oidc.Pending(**saved)
    try:
        tokens = await provider.exchange(code, pending.verifier)
        claims = await provider.verify_id_token(str(tokens.get("id_token", "")), pending.nonce)
    except SignInFailed:
        return render(
            request, "signin.html", status_code=400, personas={}, oidc=True, problem=translate(lang, "signin.failed")
        )
    names = oidc.ClaimNames(settings.claim_sub, settings.claim_name, settings.claim_org, settings.claim_roles)
    person = oidc.person_from_claims(claims, names)
    expires = time.time() + float(tokens.get("expires_in") or 300)
    sign_in(request, Viewer(person.sub, person.name, person.org, person.roles, str(tokens["access_token"]), expires))
    return Redirect(path=pending.next if pending.next.startswith("/") else "/", status_code=303)


ROUTES = [signin_page, dev_sign_in, sign_out, set_language, oidc_login, oidc_callback]
