"""Statements as an LRS keeps them: agent identifiers (IFIs), the keys every GET filter matches,
the properties the LRS sets, equality of a replayed statement, and the ``ids``/``canonical``
formats. Pure functions over decoded JSON."""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Iterator
from typing import Any

import msgspec

from services.progress.domain.xapi.signature import hundredths
from services.progress.domain.xapi.validate import IFIS

SERVER_SET = ("stored", "authority", "version")


def ifi(agent: Any) -> str | None:
    """The inverse functional identifier of an Agent or identified Group as one string
    (``mbox:mailto:a@b``, ``account:<homePage>|<name>``...), or None for an anonymous Group."""
    if not isinstance(agent, dict):
        return None
    for key in IFIS:
        value = agent.get(key)
        if value is None:
            continue
        if key == "account" and isinstance(value, dict):
            return f"account:{value.get('homePage')}|{value.get('name')}"
        if key == "mbox_sha1sum" and isinstance(value, str):
            return f"mbox_sha1sum:{value.lower()}"
        return f"{key}:{value}"
    return None


def _agents(agent: Any) -> Iterator[str]:
    """The IFIs of an Agent or Group and, for a Group, of its members."""
    if not isinstance(agent, dict):
        return
    key = ifi(agent)
    if key:
        yield key
    for member in agent.get("member") or []:
        key = ifi(member)
        if key:
            yield key


def _activities(context: Any) -> Iterator[str]:
    if not isinstance(context, dict):
        return
    for items in (context.get("contextActivities") or {}).values():
        for activity in items if isinstance(items, list) else [items]:
            if isinstance(activity, dict) and isinstance(activity.get("id"), str):
                yield activity["id"]


def _context_agents(context: Any) -> Iterator[str]:
    if not isinstance(context, dict):
        return
    yield from _agents(context.get("instructor"))
    yield from _agents(context.get("team"))
    for item in context.get("contextAgents") or []:
        yield from _agents(item.get("agent"))
    for item in context.get("contextGroups") or []:
        yield from _agents(item.get("group"))


def filter_keys(statement: dict[str, Any], inherited: list[str] | tuple[str, ...] = ()) -> list[str]:
    """The keys the Statements GET filters match (``agent:``, ``verb:``, ``activity:``, ``reg:``,
    ``ragent:``, ``ractivity:``), plus ``actor:`` for read access. ``inherited`` are the keys of
    the statement a StatementRef object targets: a targeting statement meets a filter its target
    meets (recursively, as the target's keys already hold its own target's)."""
    keys: set[str] = {k for k in inherited if not k.startswith("actor:")}
    actor, obj = statement.get("actor"), statement.get("object") or {}
    kind = obj.get("objectType", "Activity")
    actor_key = ifi(actor)
    if actor_key:
        keys.add(f"actor:{actor_key}")
    for key in _agents(actor):
        keys.update((f"agent:{key}", f"ragent:{key}"))
    if isinstance(statement.get("verb"), dict):
        keys.add(f"verb:{statement['verb'].get('id')}")
    if kind == "Activity":
        keys.update((f"activity:{obj.get('id')}", f"ractivity:{obj.get('id')}"))
    elif kind in ("Agent", "Group"):
        for key in _agents(obj):
            keys.update((f"agent:{key}", f"ragent:{key}"))
    elif kind == "SubStatement":
        for key in _agents(obj.get("actor")):
            keys.add(f"ragent:{key}")
        inner = obj.get("object") or {}
        inner_kind = inner.get("objectType", "Activity")
        if inner_kind == "Activity":
            keys.add(f"ractivity:{inner.get('id')}")
        elif inner_kind in ("Agent", "Group"):
            keys.update(f"ragent:{k}" for k in _agents(inner))
        keys.update(f"ragent:{k}" for k in _context_agents(obj.get("context")))
        keys.update(f"ractivity:{a}" for a in _activities(obj.get("context")))
    context = statement.get("context")
    if isinstance(context, dict) and isinstance(context.get("registration"), str):
        keys.add(f"reg:{context['registration'].lower()}")
    keys.update(f"ragent:{k}" for k in _context_agents(context))
    keys.update(f"ractivity:{a}" for a in _activities(context))
    keys.update(f"ragent:{k}" for k in _agents(statement.get("authority")))
    return sorted(keys)


def ref_target(statement: dict[str, Any]) -> str | None:
    obj = statement.get("object")
    if isinstance(obj, dict) and obj.get("objectType") == "StatementRef" and isinstance(obj.get("id"), str):
        return obj["id"].lower()
    return None


def comparable(statement: dict[str, Any]) -> bytes:
    """The part of a statement that must match for a replay with the same id to be accepted:
    everything but what the LRS sets (stored, authority, version)."""
    kept = {k: v for k, v in statement.items() if k not in SERVER_SET}
    if isinstance(kept.get("result"), dict) and isinstance(kept["result"].get("duration"), str):
        kept["result"] = {**kept["result"], "duration": hundredths(kept["result"]["duration"])}
    return msgspec.json.encode(kept, order="sorted")


def digest(statement: dict[str, Any]) -> str:
    """The content hash a replay is compared by (hex SHA-256 of :func:`comparable`, 32 digits)."""
    return hashlib.sha256(comparable(statement)).hexdigest()[:32]


def complete(
    statement: dict[str, Any], *, statement_id: str, stored: str, authority: dict[str, Any], version: str
) -> dict[str, Any]:
    """The statement as stored: its id, a timestamp (stored when absent), stored, the authority
    of the credentials that sent it and a version."""
    full = dict(statement)
    full["id"] = statement_id
    full.setdefault("timestamp", stored)
    full["stored"] = stored
    full["authority"] = authority
    full["version"] = statement.get("version") or version
    if isinstance(full.get("actor"), dict) and "objectType" not in full["actor"]:
        full["actor"] = {"objectType": "Agent", **full["actor"]}
    obj = full.get("object")
    if isinstance(obj, dict) and "objectType" not in obj:
        full["object"] = obj = {"objectType": "Activity", **obj}
    full["context"] = _context_arrays(full.get("context"))
    if isinstance(obj, dict) and obj.get("objectType") == "SubStatement":
        full["object"] = {**obj, "context": _context_arrays(obj.get("context"))}
    return {k: v for k, v in full.items() if v is not None or k not in ("context",)}


def _context_arrays(context: Any) -> Any:
    """Context activities are always answered as arrays, even when one was sent bare."""
    if not isinstance(context, dict) or not isinstance(context.get("contextActivities"), dict):
        return context
    activities = {k: v if isinstance(v, list) else [v] for k, v in context["contextActivities"].items()}
    return {**context, "contextActivities": activities}


# --- formats --------------------------------------------------------------------------------


def _agent_ids(agent: Any) -> Any:
    if not isinstance(agent, dict):
        return agent
    out: dict[str, Any] = {"objectType": agent.get("objectType", "Agent")}
    for key in IFIS:
        if key in agent:
            out[key] = agent[key]
            break
    if out["objectType"] == "Group" and "member" in agent and ifi(agent) is None:
        out["member"] = [_agent_ids(m) for m in agent["member"]]
    return out


def _object_ids(obj: Any) -> Any:
    if not isinstance(obj, dict):
        return obj
    kind = obj.get("objectType", "Activity")
    if kind == "Activity":
        return {"id": obj.get("id")}
    if kind in ("Agent", "Group"):
        return _agent_ids(obj)
    if kind == "SubStatement":
        return {**_statement_ids(obj), "objectType": "SubStatement"}
    return obj


def _statement_ids(statement: dict[str, Any]) -> dict[str, Any]:
    out = dict(statement)
    out["actor"] = _agent_ids(statement.get("actor"))
    if isinstance(statement.get("verb"), dict):
        out["verb"] = {"id": statement["verb"].get("id")}
    out["object"] = _object_ids(statement.get("object"))
    if "authority" in statement:
        out["authority"] = _agent_ids(statement["authority"])
    context = statement.get("context")
    if isinstance(context, dict):
        context = dict(context)
        for key in ("instructor", "team"):
            if key in context:
                context[key] = _agent_ids(context[key])
        if isinstance(context.get("contextActivities"), dict):
            context["contextActivities"] = {
                k: [_object_ids(a) for a in (v if isinstance(v, list) else [v])]
                for k, v in context["contextActivities"].items()
            }
        out["context"] = context
    return out


def pick_language(value: dict[str, str], accept: list[str]) -> dict[str, str]:
    """A language map reduced to the one entry the caller prefers (``Accept-Language`` order,
    then a primary-subtag match, then ``und``, then the first)."""
    if not value:
        return value
    lower = {k.lower(): k for k in value}
    for lang in accept:
        if lang == "*":
            break
        if lang.lower() in lower:
            key = lower[lang.lower()]
            return {key: value[key]}
        for tag, key in lower.items():
            if tag.split("-")[0] == lang.lower().split("-")[0]:
                return {key: value[key]}
    key = lower.get("und") or next(iter(value))
    return {key: value[key]}


def parse_accept_language(header: str) -> list[str]:
    ranked: list[tuple[float, int, str]] = []
    for i, part in enumerate(header.split(",")):
        lang, _, params = part.strip().partition(";")
        if not lang:
            continue
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        ranked.append((-q, i, lang.strip()))
    return [lang for _, _, lang in sorted(ranked)]


def _canonical_activity(activity: Any, canon: dict[str, Any], accept: list[str]) -> Any:
    if not isinstance(activity, dict) or activity.get("objectType", "Activity") != "Activity":
        return activity
    out = dict(activity)
    definition = canon.get(str(activity.get("id"))) or activity.get("definition")
    if definition is not None:
        out["definition"] = _languages(copy.deepcopy(definition), accept)
    return out


def _languages(definition: dict[str, Any], accept: list[str]) -> dict[str, Any]:
    for key in ("name", "description"):
        if isinstance(definition.get(key), dict):
            definition[key] = pick_language(definition[key], accept)
    for key in ("choices", "scale", "source", "target", "steps"):
        for item in definition.get(key) or []:
            if isinstance(item, dict) and isinstance(item.get("description"), dict):
                item["description"] = pick_language(item["description"], accept)
    return definition


def canonical(statement: dict[str, Any], canon: dict[str, Any], accept: list[str]) -> dict[str, Any]:
    """The ``canonical`` format: activity definitions as the LRS knows them best and every
    language map cut down to the caller's language."""
    out = dict(statement)
    if isinstance(out.get("verb"), dict) and isinstance(out["verb"].get("display"), dict):
        out["verb"] = {**out["verb"], "display": pick_language(out["verb"]["display"], accept)}
    obj = out.get("object")
    if isinstance(obj, dict) and obj.get("objectType") == "SubStatement":
        out["object"] = {**canonical(obj, canon, accept), "objectType": "SubStatement"}
    else:
        out["object"] = _canonical_activity(obj, canon, accept)
    context = out.get("context")
    if isinstance(context, dict) and isinstance(context.get("contextActivities"), dict):
        out["context"] = {
            **context,
            "contextActivities": {
                k: [_canonical_activity(a, canon, accept) for a in (v if isinstance(v, list) else [v])]
                for k, v in context["contextActivities"].items()
            },
        }
    if isinstance(out.get("attachments"), list):
        out["attachments"] = [
            {
                **a,
                **{k: pick_language(a[k], accept) for k in ("display", "description") if isinstance(a.get(k), dict)},
            }
            for a in out["attachments"]
        ]
    return out


def formatted(statement: dict[str, Any], fmt: str, canon: dict[str, Any], accept: list[str]) -> dict[str, Any]:
    if fmt == "ids":
        return _statement_ids(statement)
    if fmt == "canonical":
        return canonical(statement, canon, accept)
    return statement


def activities_of(statement: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every Activity in a statement (object, context activities, a sub-statement's) that
    carries a definition, for the canonical definitions the LRS keeps."""

    def walk(s: dict[str, Any]) -> Iterator[dict[str, Any]]:
        obj = s.get("object")
        if isinstance(obj, dict):
            if obj.get("objectType", "Activity") == "Activity":
                yield obj
            elif obj.get("objectType") == "SubStatement":
                yield from walk(obj)
        context = s.get("context")
        if isinstance(context, dict):
            for items in (context.get("contextActivities") or {}).values():
                yield from (a for a in (items if isinstance(items, list) else [items]) if isinstance(a, dict))

    yield from (a for a in walk(statement) if isinstance(a.get("definition"), dict) and isinstance(a.get("id"), str))


def merge_definition(old: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, Any]:
    """A canonical activity definition updated by a newer one: language maps merged (new
    entries win), everything else replaced by the newer value when present."""
    if not old:
        return new
    out = dict(old)
    for key, value in new.items():
        if key in ("name", "description", "extensions") and isinstance(value, dict) and isinstance(old.get(key), dict):
            out[key] = {**old[key], **value}
        else:
            out[key] = value
    return out


def person(agent: dict[str, Any]) -> dict[str, Any]:
    """The Agents resource's Person object for an agent: each property an array."""
    out: dict[str, Any] = {"objectType": "Person"}
    if isinstance(agent.get("name"), str):
        out["name"] = [agent["name"]]
    for key in IFIS:
        if key in agent:
            out[key] = [agent[key]]
    return out
