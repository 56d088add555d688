"""Query and header parameters of the xAPI resources, for the OpenAPI document only: each
resource reads its parameters strictly from the query string itself (unknown or miscased names
are a 400 there), so every one is declared here as an optional string that Litestar never refuses."""

from __future__ import annotations

from typing import Annotated

from litestar.di import Provide
from litestar.params import HeaderParameter, QueryParameter

Q = str | None


def _version(
    version: Annotated[
        Q, HeaderParameter(name="X-Experience-API-Version", description="1.0.x or 2.0.0 (required)")
    ] = None,
) -> None:
    return None


def _statements(
    statement_id: Annotated[Q, QueryParameter(name="statementId", description="one statement")] = None,
    voided_statement_id: Annotated[
        Q, QueryParameter(name="voidedStatementId", description="one voided statement")
    ] = None,
    agent: Annotated[Q, QueryParameter(name="agent", description="JSON Agent or identified Group")] = None,
    verb: Annotated[Q, QueryParameter(name="verb", description="verb IRI")] = None,
    activity: Annotated[Q, QueryParameter(name="activity", description="activity IRI")] = None,
    registration: Annotated[Q, QueryParameter(name="registration", description="registration UUID")] = None,
    related_activities: Annotated[Q, QueryParameter(name="related_activities", description="true or false")] = None,
    related_agents: Annotated[Q, QueryParameter(name="related_agents", description="true or false")] = None,
    since: Annotated[Q, QueryParameter(name="since", description="stored after (ISO 8601)")] = None,
    until: Annotated[Q, QueryParameter(name="until", description="stored at or before (ISO 8601)")] = None,
    limit: Annotated[Q, QueryParameter(name="limit", description="page size, 0 = the largest")] = None,
    format_: Annotated[Q, QueryParameter(name="format", description="ids, exact or canonical")] = None,
    attachments: Annotated[Q, QueryParameter(name="attachments", description="true: multipart/mixed")] = None,
    ascending: Annotated[Q, QueryParameter(name="ascending", description="true or false")] = None,
    cursor: Annotated[Q, QueryParameter(name="cursor", description="the next page (from more)")] = None,
) -> None:
    return None


def _statement_id(statement_id: Annotated[Q, QueryParameter(name="statementId", description="UUID")] = None) -> None:
    return None


def _state(
    activity_id: Annotated[Q, QueryParameter(name="activityId", description="activity IRI")] = None,
    agent: Annotated[Q, QueryParameter(name="agent", description="JSON Agent")] = None,
    registration: Annotated[Q, QueryParameter(name="registration", description="registration UUID")] = None,
    state_id: Annotated[Q, QueryParameter(name="stateId", description="one document")] = None,
    since: Annotated[Q, QueryParameter(name="since", description="ids of documents updated after")] = None,
) -> None:
    return None


def _activity_profile(
    activity_id: Annotated[Q, QueryParameter(name="activityId", description="activity IRI")] = None,
    profile_id: Annotated[Q, QueryParameter(name="profileId", description="one document")] = None,
    since: Annotated[Q, QueryParameter(name="since", description="ids of documents updated after")] = None,
) -> None:
    return None


def _agent_profile(
    agent: Annotated[Q, QueryParameter(name="agent", description="JSON Agent")] = None,
    profile_id: Annotated[Q, QueryParameter(name="profileId", description="one document")] = None,
    since: Annotated[Q, QueryParameter(name="since", description="ids of documents updated after")] = None,
) -> None:
    return None


def _activity_id(
    activity_id: Annotated[Q, QueryParameter(name="activityId", description="activity IRI")] = None,
) -> None:
    return None


def _agent(agent: Annotated[Q, QueryParameter(name="agent", description="JSON Agent")] = None) -> None:
    return None


def documented(*functions: object) -> dict[str, Provide]:
    """Dependencies that only document parameters; a handler lists them as ``xapi_params: None``
    and ``xapi_version: None``."""
    names = ("xapi_params", "xapi_version")
    return {name: Provide(fn, sync_to_thread=False) for name, fn in zip(names, functions, strict=False)}  # type: ignore[arg-type]


STATEMENTS = documented(_statements, _version)
PUT_STATEMENT = documented(_statement_id, _version)
VERSION_ONLY = {"xapi_version": Provide(_version, sync_to_thread=False)}
STATE = documented(_state, _version)
ACTIVITY_PROFILE = documented(_activity_profile, _version)
AGENT_PROFILE = documented(_agent_profile, _version)
ACTIVITIES = documented(_activity_id, _version)
AGENTS = documented(_agent, _version)
