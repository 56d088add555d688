"""RFC 9457 problem details for every error a service returns.

Raise :class:`Problem` from domain or handler code; every other exception (Litestar's own,
database integrity errors, crashes) is turned into a problem by :data:`exception_handlers`.
"""

from __future__ import annotations

import re
from http import HTTPStatus
from typing import Any

import asyncpg
import msgspec
import structlog
from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, NotAuthorizedException, ValidationException
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError

from services.common.types import TZ_EXAMPLE

log = structlog.get_logger()
PROBLEM_JSON = "application/problem+json"


def problem_type(slug: str) -> str:
    return f"urn:lms:problem:{slug}"


class Problem(Exception):
    """An error a client can act on: a stable ``slug``, a title, and a detail saying what to fix."""

    def __init__(
        self,
        status: int,
        slug: str,
        detail: str,
        *,
        title: str | None = None,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.slug = slug
        self.title = title or HTTPStatus(status).phrase
        self.detail = detail
        self.errors = errors
        self.headers = headers or {}
        self.extra = extra


class ProblemDetails(msgspec.Struct):
    """The documented shape of every error body (RFC 9457); a problem may carry more members."""

    type: str
    title: str
    status: int
    detail: str
    instance: str
    errors: list[dict[str, Any]] | None = None  # one entry per bad field or row: field, message, ...
    request_id: str | None = None


PROBLEM_STATUSES = {
    400: "The request is malformed or a field is invalid; `errors` lists each bad field.",
    401: "No valid bearer token.",
    403: "The token's roles may not do this.",
    404: "No such resource, or not yours to see.",
    409: "Conflicts with the current state (a duplicate, a replay with other content, a full session ...).",
    413: "The body is larger than the service accepts.",
    422: "Well-formed but not acceptable in the current state.",
    429: "Too many requests from this client; retry later.",
    503: "The database is not reachable, or the service is not ready; retry shortly.",
}


def document_problems(handlers: list[Any], *, public: Any) -> None:
    """Declare the problem+json error responses on every handler, for the OpenAPI document.
    Responses a handler declares itself win."""
    from litestar.openapi.datastructures import ResponseSpec

    for handler in handlers:
        media_type = getattr(handler, "media_type", "")
        if str(getattr(media_type, "value", media_type)).startswith("text/html"):
            # web pages answer errors as pages
            page = {
                status: ResponseSpec(data_container=str, description=PROBLEM_STATUSES[status], media_type="text/html")
                for status in (400, 404, 429)
            }
            handler.responses = {**page, **(handler.responses or {})}
            continue
        skip = {401, 403} if public(handler) else set()
        specs = {
            status: ResponseSpec(
                data_container=ProblemDetails, description=text, media_type=PROBLEM_JSON, generate_examples=False
            )
            for status, text in PROBLEM_STATUSES.items()
            if status not in skip
        }
        handler.responses = {**specs, **(handler.responses or {})}


def not_found(what: str, ident: object) -> Problem:
    return Problem(404, "not-found", f"No {what} with id {ident} exists, or you may not see it.")


def problem_response(request: Request[Any, Any, Any], problem: Problem) -> Response[Any]:
    from services.common.observability import request_id_var

    body: dict[str, Any] = {
        "type": problem_type(problem.slug),
        "title": problem.title,
        "status": problem.status,
        "detail": problem.detail,
        "instance": request.url.path,
    }
    if problem.errors is not None:
        body["errors"] = problem.errors
    body.update(problem.extra)
    rid = request_id_var.get()
    if rid:
        body["request_id"] = rid
    return Response(body, status_code=problem.status, media_type=PROBLEM_JSON, headers=problem.headers)


_AT = re.compile(r"^(?P<msg>.*?)(?: - at `(?P<path>[^`]*)`)?$")


def _plain(message: str) -> str:
    """msgspec's message in the words the API uses (a timestamp without an offset)."""
    if message.startswith("Expected `datetime` with a timezone component"):
        return f"needs a time zone offset, e.g. {TZ_EXAMPLE}"
    return message


def _validation_errors(exc: ValidationException) -> list[dict[str, Any]]:
    errors = []
    for item in exc.extra if isinstance(exc.extra, list) else []:
        if not isinstance(item, dict):
            continue
        message = str(item.get("message", "invalid value"))
        key = item.get("key")
        source = item.get("source")
        match = _AT.match(message)
        if match and match.group("path"):
            message = match.group("msg")
            path = match.group("path").removeprefix("$").lstrip(".")
            key = path or key
        errors.append({"field": key or "body", "source": str(source or "body"), "message": _plain(message)})
    return errors


def _body_errors(request: Request[Any, Any, Any]) -> list[dict[str, Any]]:
    """Every bad field of the JSON body at once (msgspec stops at the first): the decoded body is
    checked again field by field against the handler's ``data`` type, nested Structs and lists included."""
    from litestar.types import Empty
    from litestar.utils.scope.state import ScopeState

    body = ScopeState.from_scope(request.scope).json
    parameter = request.route_handler.parsed_fn_signature.parameters.get("data")
    if body is Empty or parameter is None:
        return []
    errors: list[dict[str, Any]] = []
    _check(parameter.annotation, body, "", errors)
    return errors


def _struct_type(annotation: Any) -> type[msgspec.Struct] | None:
    """The Struct class of ``annotation`` (``S``, ``S | None``, ``Annotated[S, ...]``), else None."""
    import typing

    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    if isinstance(annotation, type) and issubclass(annotation, msgspec.Struct):
        return annotation
    options = [a for a in typing.get_args(annotation) if a is not type(None)]
    if len(options) == 1 and len(typing.get_args(annotation)) == 2:
        return _struct_type(options[0])
    return None


def _list_of_structs(annotation: Any) -> tuple[Any, Any] | None:
    """For ``list[S]`` (maybe ``Annotated`` with length limits): the list without its item type, and ``S``."""
    import typing

    metas: list[Any] = []
    while typing.get_origin(annotation) is typing.Annotated:
        annotation, *more = typing.get_args(annotation)
        metas += more
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) is not list or len(args) != 1 or _struct_type(args[0]) is None:
        return None
    return (typing.Annotated[list[Any], *metas] if metas else list[Any]), args[0]


def _check(annotation: Any, value: Any, path: str, errors: list[dict[str, Any]]) -> None:
    """Append one error per bad field of ``value`` against ``annotation``, with its path."""
    struct = _struct_type(annotation)
    listed = _list_of_structs(annotation)
    if struct is not None and isinstance(value, dict):
        fields = msgspec.structs.fields(struct)
        for field in fields:
            where = f"{path}.{field.encode_name}" if path else field.encode_name
            if field.encode_name not in value:
                if field.required:
                    errors.append({"field": where, "source": "body", "message": "Object missing required field"})
                continue
            _check(field.type, value[field.encode_name], where, errors)
        if struct.__struct_config__.forbid_unknown_fields:
            known = {field.encode_name for field in fields}
            tag = struct.__struct_config__.tag_field
            for key in value:
                if key not in known and key != tag:
                    where = f"{path}.{key}" if path else str(key)
                    errors.append({"field": where, "source": "body", "message": "Object contains unknown field"})
        return
    if listed is not None and isinstance(value, list):
        outer, item = listed
        _check(outer, value, path, errors)  # its length limits
        for index, element in enumerate(value):
            _check(item, element, f"{path}[{index}]", errors)
        return
    try:
        msgspec.convert(value, annotation, strict=False)
    except msgspec.ValidationError as exc:
        match = _AT.match(str(exc))
        message, at = (match.group("msg"), match.group("path") or "$") if match else (str(exc), "$")
        errors.append({"field": path + at.removeprefix("$") or "body", "source": "body", "message": _plain(message)})
    except (TypeError, ValueError):  # a type msgspec cannot convert on its own: leave it to the first error
        pass


def _handle_problem(request: Request[Any, Any, Any], exc: Problem) -> Response[Any]:
    return problem_response(request, exc)


def _handle_validation(request: Request[Any, Any, Any], exc: ValidationException) -> Response[Any]:
    errors = _validation_errors(exc)
    if any(e["source"] == "body" for e in errors) and (body := _body_errors(request)):
        errors = [e for e in errors if e["source"] != "body"] + body
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors) or str(exc.detail)
    if not errors and "decode" in str(exc.detail).lower():
        detail = "The request body is not valid JSON."
    return problem_response(request, Problem(400, "validation", detail, title="Invalid request", errors=errors))


def _handle_http(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    status = exc.status_code
    slug = {
        401: "unauthenticated",
        403: "forbidden",
        404: "not-found",
        405: "method-not-allowed",
        413: "payload-too-large",
        429: "rate-limited",
    }.get(status, re.sub(r"[^a-z]+", "-", HTTPStatus(status).phrase.lower()).strip("-"))
    headers = dict(exc.headers or {})
    if isinstance(exc, NotAuthorizedException):
        headers.setdefault("WWW-Authenticate", "Bearer")
    detail = exc.detail if exc.detail and exc.detail != HTTPStatus(status).phrase else ""
    if status == 404 and not detail:
        detail = f"Nothing is served at {request.method} {request.url.path}."
    if status == 413:
        detail = "The request body is larger than this service accepts."
    return problem_response(request, Problem(status, slug, detail or HTTPStatus(status).phrase, headers=headers))


def _handle_integrity(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """A unique, check or foreign-key constraint refused the write (SQLAlchemy or raw asyncpg).
    Constraints are the last line of defence behind the handlers' checks, so a race that slips
    past a check still gets a clear 409; a service names its constraints in
    ``ServiceSpec.constraint_problems`` to say what to fix."""
    cause = getattr(getattr(exc, "orig", None), "__cause__", None) or exc
    constraint = getattr(cause, "constraint_name", None)
    log.info("integrity_error", constraint=constraint, error=str(cause)[:300])
    known = getattr(request.app.state, "constraint_problems", {}) or {}
    slug, detail = known.get(constraint or "", ("conflict", "The request conflicts with existing data."))
    return problem_response(request, Problem(409, slug, detail, constraint=constraint))


def _handle_retry(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.warning("transaction_conflict", error=str(exc)[:300])
    return problem_response(
        request,
        Problem(
            503,
            "retry",
            "The request collided with a concurrent one and was rolled back entirely; send it again.",
            headers={"Retry-After": "1"},
        ),
    )


def _handle_data(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    return problem_response(request, Problem(400, "invalid-value", "A value is out of range or malformed."))


def _refused_value(exc: BaseException) -> bool:
    """The driver refused a parameter (e.g. a number too large for its column): bad input, not an outage."""
    seen: BaseException | None = exc
    for _ in range(5):
        seen = getattr(seen, "orig", None) or (seen.__cause__ if seen is not None else None)
        if seen is None:
            return False
        if isinstance(seen, ValueError | OverflowError):
            return True
    return False


_UNAVAILABLE = (
    asyncpg.PostgresConnectionError,  # also "the database system is starting up" (CannotConnectNow)
    asyncpg.exceptions.OperatorInterventionError,  # shutdown, crash, statement timeout (QueryCanceled)
    asyncpg.exceptions.InsufficientResourcesError,  # too many connections
    asyncpg.exceptions.ConnectionDoesNotExistError,
    OSError,  # refused or reset sockets, and client-side timeouts (TimeoutError)
)


def database_unavailable(exc: BaseException) -> bool:
    """The database could not be reached or did not answer in time (whatever wraps the cause)."""
    seen: BaseException | None = exc
    for _ in range(6):
        if seen is None:
            return False
        if isinstance(seen, (*_UNAVAILABLE, SQLAlchemyTimeoutError)):
            return True
        seen = getattr(seen, "orig", None) or seen.__cause__
    return False


def _handle_db_down(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    if _refused_value(exc):
        return _handle_data(request, exc)
    if (
        isinstance(exc, DBAPIError)
        and not exc.connection_invalidated
        and not isinstance(exc, OperationalError)
        and not database_unavailable(exc)
    ):
        return _handle_crash(request, exc)
    log.warning("database_unavailable", error=str(exc)[:300])
    return problem_response(
        request,
        Problem(
            503,
            "database-unavailable",
            "The database is not reachable right now; retry shortly.",
            headers={"Retry-After": "2"},
        ),
    )


def _handle_too_deep(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """A value nested too deeply to decode (the edge refuses deep JSON bodies; this catches the rest)."""
    return problem_response(request, Problem(400, "too-deep", "A value is nested too deeply."))


def _handle_crash(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.exception("unhandled_error", path=request.url.path)
    return problem_response(
        request,
        Problem(500, "internal", "Something went wrong on our side; quote the request id when reporting it."),
    )


exception_handlers: dict[Any, Any] = {
    # raw asyncpg, for the hot paths that bypass SQLAlchemy (most specific classes first: a
    # parameter the driver refuses is a client-side DataError, which is also an InterfaceError)
    asyncpg.exceptions._base.DataError: _handle_data,
    asyncpg.DataError: _handle_data,
    asyncpg.IntegrityConstraintViolationError: _handle_integrity,
    asyncpg.DeadlockDetectedError: _handle_retry,
    asyncpg.SerializationError: _handle_retry,
    asyncpg.PostgresConnectionError: _handle_db_down,
    asyncpg.InterfaceError: _handle_db_down,
    asyncpg.exceptions.OperatorInterventionError: _handle_db_down,
    asyncpg.exceptions.InsufficientResourcesError: _handle_db_down,
    Problem: _handle_problem,
    ValidationException: _handle_validation,
    HTTPException: _handle_http,
    IntegrityError: _handle_integrity,
    DataError: _handle_data,
    OperationalError: _handle_db_down,
    InterfaceError: _handle_db_down,
    DBAPIError: _handle_db_down,
    SQLAlchemyTimeoutError: _handle_db_down,  # no pooled connection within LMS_DB_ACQUIRE_TIMEOUT_SECONDS
    OSError: _handle_db_down,  # e.g. the database's socket is gone while it restarts
    OverflowError: _handle_data,  # e.g. a number too large for its column
    RecursionError: _handle_too_deep,
    Exception: _handle_crash,
}

__all__ = ["PROBLEM_JSON", "MediaType", "Problem", "exception_handlers", "not_found", "problem_response"]
