"""The client layer: every call the web app makes to placement, progress and certification.

Each call carries the signed-in person's own bearer token, exactly as any other frontend would;
the web app never reads a service's database. A problem answer becomes :class:`ApiError` (its
``errors`` grouped by field, for the form that caused it); a service that cannot be reached or
answers 502-504 becomes :class:`Outage`, so the page can say so and keep what was typed.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from http import HTTPStatus
from typing import Any
from urllib.parse import quote, urlencode

import httpx
import jwt
import msgspec

from services.common.observability import request_id_var
from services.web.domain.problems import slug_of
from services.web.http import Pool, Reply, Unreachable
from services.web.settings import Settings

Json = Any


class ApiError(Exception):
    """A 4xx/5xx problem answer from a service (``domain.problems`` says it in the page's language)."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        super().__init__(problem.get("detail") or problem.get("title") or f"HTTP {status}")
        self.status = status
        self.problem = problem
        self.slug = slug_of(problem)
        self.detail = str(problem.get("detail") or problem.get("title") or "")


class Outage(Exception):
    """A service could not be reached (or its gateway answered 502-504)."""

    def __init__(self, service: str) -> None:
        super().__init__(service)
        self.service = service


class Service:
    """One service's HTTP client: up to ``connections`` HTTP/1.1 connections kept alive and
    reused (:mod:`services.web.http`); every call forwards the page's request id. Downloads
    streamed to the browser go through httpx."""

    def __init__(self, name: str, base_url: str, timeout: float, connections: int = 100) -> None:
        self.name = name
        self.pool = Pool(base_url, size=connections, timeout=timeout)
        self.http = httpx.AsyncClient(base_url=base_url, timeout=timeout)

    async def call(
        self,
        method: str,
        path: str,
        token: str | None,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        sent = {"Accept": "application/json", **(headers or {})}
        if token:
            sent["Authorization"] = f"Bearer {token}"
        if request_id := request_id_var.get():
            sent["X-Request-ID"] = request_id
        if json is not None:
            content = msgspec.json.encode(json)
            sent.setdefault("Content-Type", "application/json")
        clean = {k: v for k, v in (params or {}).items() if v is not None and v != ""}
        target = f"{path}?{urlencode(clean, quote_via=quote)}" if clean else path
        try:
            response = await self.pool.request(method, target, sent, content)
        except Unreachable as exc:
            raise Outage(self.name) from exc
        if response.status_code in (502, 503, 504) and not response.headers.get("content-type", "").startswith(
            "application/problem+json"
        ):
            raise Outage(self.name)
        if response.status_code == 503:
            raise Outage(self.name)
        if response.status_code >= 400:
            try:
                problem = response.json()
            except msgspec.DecodeError:
                problem = {"title": HTTPStatus(response.status_code).phrase}
            raise ApiError(response.status_code, problem if isinstance(problem, dict) else {})
        return response

    async def json(self, method: str, path: str, token: str | None, **kwargs: Any) -> Json:
        response = await self.call(method, path, token, **kwargs)
        return response.json() if response.content else None

    async def stream(self, path: str, token: str | None) -> tuple[dict[str, str], AsyncIterator[bytes]]:
        """A download passed through to the browser (PDF, CSV) without holding it in memory."""
        sent = {"Authorization": f"Bearer {token}"} if token else {}
        if request_id := request_id_var.get():
            sent["X-Request-ID"] = request_id
        request = self.http.build_request("GET", path, headers=sent)
        try:
            response = await self.http.send(request, stream=True)
        except httpx.TransportError as exc:
            raise Outage(self.name) from exc
        if response.status_code >= 400:
            await response.aread()
            await response.aclose()
            if response.status_code in (502, 503, 504):
                raise Outage(self.name)
            raise ApiError(response.status_code, _problem(response))
        keep = {k: v for k, v in response.headers.items() if k in ("content-type", "content-disposition")}

        async def body() -> AsyncIterator[bytes]:
            try:
                async for chunk in response.aiter_bytes():
                    yield chunk
            finally:
                await response.aclose()

        return keep, body()

    async def aclose(self) -> None:
        await self.pool.aclose()
        await self.http.aclose()


def _problem(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {"title": response.reason_phrase}
    return body if isinstance(body, dict) else {}


def seg(value: str) -> str:
    """One path segment, encoded (official ids may hold characters a path must escape)."""
    return quote(str(value), safe="")


class Placement(Service):
    _rules: tuple[float, Json] | None = None

    async def rules(self, token: str) -> Json:
        """The diagnostic's rules (its length, the resume window): the same for everyone, kept a minute."""
        now = time.monotonic()
        if self._rules is None or self._rules[0] <= now:
            self._rules = (now + 60, await self.json("GET", "/v1/rules", token))
        return self._rules[1]

    async def start_session(self, token: str) -> Json:
        return await self.json("POST", "/v1/sessions", token)

    async def session(self, token: str, session_id: str) -> Json:
        return await self.json("GET", f"/v1/sessions/{seg(session_id)}", token)

    async def answer(self, token: str, session_id: str, position: int, item_id: str, choice: int) -> Json:
        body = {"position": position, "item_id": item_id, "choice": choice}
        return await self.json("POST", f"/v1/sessions/{seg(session_id)}/answers", token, json=body)

    async def results(self, token: str, official_id: str | None = None, limit: int = 20) -> Json:
        return await self.json("GET", "/v1/results", token, params={"official_id": official_id, "limit": limit})

    async def result(self, token: str, result_id: str) -> Json:
        return await self.json("GET", f"/v1/results/{seg(result_id)}", token)

    async def import_items(self, token: str, content: bytes, csv: bool) -> Json:
        kind = "text/csv" if csv else "application/json"
        return await self.json("POST", "/v1/items/import", token, content=content, headers={"Content-Type": kind})

    async def bank_versions(self, token: str) -> Json:
        return await self.json("GET", "/v1/bank/versions", token)

    async def publish_bank(self, token: str, note: str) -> Json:
        return await self.json("POST", "/v1/bank/versions", token, json={"note": note})

    async def stats(self, token: str, version: int | None = None) -> Json:
        return await self.json("GET", "/v1/admin/stats", token, params={"version": version})

    async def calibrate(self, token: str, model: str, min_responses: int) -> Json:
        body = {"model": model, "min_responses": min_responses}
        return await self.json("POST", "/v1/calibrations", token, json=body, headers={"Idempotency-Key": new_key()})

    async def calibration(self, token: str, calibration_id: str) -> Json:
        return await self.json("GET", f"/v1/calibrations/{seg(calibration_id)}", token)

    async def publish_calibration(self, token: str, calibration_id: str) -> Json:
        return await self.json("POST", f"/v1/calibrations/{seg(calibration_id)}/publish", token)


class Progress(Service):
    async def my_path(self, token: str) -> Json:
        return await self.json("GET", "/v1/me/path", token)

    async def sessions(self, token: str, **filters: Any) -> Json:
        return await self.json("GET", "/v1/sessions", token, params=filters)

    async def session(self, token: str, session_id: str) -> Json:
        return await self.json("GET", f"/v1/sessions/{seg(session_id)}", token)

    async def create_session(self, token: str, body: dict[str, Any], key: str) -> Json:
        return await self.json("POST", "/v1/sessions", token, json=body, headers={"Idempotency-Key": key})

    async def update_session(self, token: str, session_id: str, body: dict[str, Any]) -> Json:
        return await self.json("PATCH", f"/v1/sessions/{seg(session_id)}", token, json=body)

    async def my_enrolments(self, token: str) -> Json:
        return await self.json("GET", "/v1/me/enrolments", token)

    async def enrol(self, token: str, session_id: str, key: str) -> Json:
        path = f"/v1/sessions/{seg(session_id)}/enrolments"
        return await self.json("POST", path, token, json={}, headers={"Idempotency-Key": key})

    async def withdraw(self, token: str, enrolment_id: str) -> Json:
        return await self.json("POST", f"/v1/enrolments/{seg(enrolment_id)}/withdraw", token)

    async def roster(self, token: str, session_id: str) -> Json:
        return await self.json("GET", f"/v1/sessions/{seg(session_id)}/enrolments", token)

    async def attendance(self, token: str, session_id: str, day: str | None = None) -> Json:
        return await self.json("GET", f"/v1/sessions/{seg(session_id)}/attendance", token, params={"day": day})

    async def record_attendance(self, token: str, session_id: str, day: str, body: dict[str, Any]) -> Json:
        return await self.json("PUT", f"/v1/sessions/{seg(session_id)}/attendance/{seg(day)}", token, json=body)

    async def send_events(self, token: str, events: list[dict[str, Any]]) -> Json:
        return await self.json("POST", "/v1/events", token, json={"events": events})

    async def current_curriculum(self, token: str) -> Json:
        return await self.json("GET", "/v1/curricula/current", token)

    async def curricula(self, token: str) -> Json:
        return await self.json("GET", "/v1/curricula", token)

    async def curriculum(self, token: str, curriculum_id: str) -> Json:
        return await self.json("GET", f"/v1/curricula/{seg(curriculum_id)}", token)

    async def publish_curriculum(self, token: str, curriculum_id: str) -> Json:
        return await self.json("POST", f"/v1/curricula/{seg(curriculum_id)}/publish", token)

    async def recompute_job(self, token: str, job_id: str) -> Json:
        return await self.json("GET", f"/v1/recompute-jobs/{seg(job_id)}", token)

    async def report(self, token: str, name: str, by: str) -> Json:
        return await self.json("GET", f"/v1/reports/{seg(name)}", token, params={"by": by})

    async def reviews(self, token: str, cursor: str | None = None) -> Json:
        return await self.json("GET", "/v1/reviews", token, params={"cursor": cursor})

    async def clear_review(self, token: str, official_id: str, level: int) -> Json:
        return await self.json("POST", f"/v1/officials/{seg(official_id)}/levels/{level}/review", token)


class Certification(Service):
    async def my_certificates(self, token: str) -> Json:
        return await self.json("GET", "/v1/me/certificates", token)

    async def my_certificate(self, token: str, certificate_id: str) -> Json:
        return await self.json("GET", f"/v1/me/certificates/{seg(certificate_id)}", token)

    async def certificate(self, token: str, certificate_id: str) -> Json:
        return await self.json("GET", f"/v1/certificates/{seg(certificate_id)}", token)

    async def verify(self, serial: str) -> Json:
        return await self.json("GET", f"/v1/verify/{seg(serial)}", None)

    async def change_status(self, token: str, certificate_id: str, action: str, reason: str) -> Json:
        path = f"/v1/admin/certificates/{seg(certificate_id)}/{seg(action)}"
        return await self.json("POST", path, token, json={"reason": reason})

    async def search_certificates(self, token: str, q: str, cursor: str | None = None) -> Json:
        params = {"q": q, "limit": 20, **({"cursor": cursor} if cursor else {})}
        return await self.json("GET", "/v1/admin/certificates", token, params=params)

    async def audit(self, token: str, certificate_id: str) -> Json:
        return await self.json("GET", f"/v1/admin/certificates/{seg(certificate_id)}/audit", token)


class Services:
    """The three clients, opened once per process."""

    def __init__(self, settings: Settings) -> None:
        t, n = settings.api_timeout_seconds, settings.api_connections
        self.placement = Placement("placement", settings.placement_url, t, n)
        self.progress = Progress("progress", settings.progress_url, t, n)
        self.certification = Certification("certification", settings.certification_url, t, n)
        self.oidc = OidcProvider(settings) if settings.oidc_issuer else None

    async def aclose(self) -> None:
        for service in (self.placement, self.progress, self.certification):
            await service.aclose()
        if self.oidc is not None:
            await self.oidc.aclose()


def new_key() -> str:
    return str(uuid.uuid4())


class SignInFailed(Exception):
    """The provider refused the code, or its ID token did not verify."""


class OidcProvider:
    """The programme's OpenID provider: discovery, the code exchange and ID token verification."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.http = httpx.AsyncClient(timeout=settings.api_timeout_seconds)
        self.metadata: dict[str, Any] | None = None
        self.keys: jwt.PyJWKSet | None = None

    async def discover(self) -> dict[str, Any]:
        if self.metadata is None:
            url = f"{self.settings.oidc_issuer.rstrip('/')}/.well-known/openid-configuration"
            try:
                response = await self.http.get(url)
            except httpx.TransportError as exc:
                raise Outage("identity provider") from exc
            response.raise_for_status()
            self.metadata = response.json()
        return self.metadata

    async def exchange(self, code: str, verifier: str) -> dict[str, Any]:
        """Trade the authorization code (with its PKCE verifier) for tokens."""
        meta = await self.discover()
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.settings.oidc_redirect_url,
            "code_verifier": verifier,
        }
        if self.settings.oidc_resource:
            form["resource"] = self.settings.oidc_resource
        auth = (self.settings.oidc_client_id, self.settings.oidc_client_secret)
        try:
            response = await self.http.post(meta["token_endpoint"], data=form, auth=auth)
        except httpx.TransportError as exc:
            raise Outage("identity provider") from exc
        if response.status_code != 200:
            raise SignInFailed(f"token endpoint answered {response.status_code}: {response.text[:200]}")
        return dict(response.json())

    async def verify_id_token(self, id_token: str, nonce: str) -> dict[str, Any]:
        meta = await self.discover()
        try:
            kid = jwt.get_unverified_header(id_token).get("kid")
            key = await self._key(meta["jwks_uri"], kid)
            claims = jwt.decode(
                id_token,
                key,
                algorithms=["RS256", "PS256", "ES256", "ES384", "EdDSA"],
                audience=self.settings.oidc_client_id,
                issuer=meta["issuer"],
                options={"require": ["exp", "iat", "sub", "iss", "aud"]},
            )
        except jwt.PyJWTError as exc:
            raise SignInFailed(f"ID token refused: {exc}") from exc
        if claims.get("nonce") != nonce:
            raise SignInFailed("ID token nonce does not match this sign-in")
        return dict(claims)

    async def _key(self, jwks_uri: str, kid: str | None) -> Any:
        for refresh in (False, True):
            if self.keys is None or refresh:
                response = await self.http.get(jwks_uri)
                response.raise_for_status()
                self.keys = jwt.PyJWKSet.from_dict(response.json())
            for key in self.keys.keys:
                if kid is None or key.key_id == kid:
                    return key.key
        raise SignInFailed(f"no key {kid} in the provider's key set")

    async def aclose(self) -> None:
        await self.http.aclose()
