"""Statement validation: every structural rule of xAPI 1.0.3 and 2.0.0 that an LRS must enforce.

:func:`statement_errors` walks a decoded statement and answers every problem it finds as
``"<path>: <rule>"`` strings (empty when the statement is valid), so one 400 names them all.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import msgspec

UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
# An absolute IRI: a scheme, a colon and no white space or characters IRIs forbid.
IRI_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:[^\s<>\"{}|\\^`]*$")
IRL_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://[^\s<>\"{}|\\^`]+$")
MAILTO_RE = re.compile(r"^mailto:[^@\s]+@[^@\s]+$")
SHA1_RE = re.compile(r"^[0-9a-fA-F]{40}$")
SHA2_RE = re.compile(r"^([0-9a-fA-F]{56}|[0-9a-fA-F]{64}|[0-9a-fA-F]{96}|[0-9a-fA-F]{128})$")
# RFC 5646 language tag (the common shapes: language, extlang, script, region, variants, extensions, private use).
LANG_RE = re.compile(
    r"^(([A-Za-z]{2,3}(-[A-Za-z]{3}){0,3}|[A-Za-z]{4,8})(-[A-Za-z]{4})?(-([A-Za-z]{2}|[0-9]{3}))?"
    r"(-([A-Za-z0-9]{5,8}|[0-9][A-Za-z0-9]{3}))*(-[0-9A-WY-Za-wy-z](-[A-Za-z0-9]{2,8})+)*(-[xX](-[A-Za-z0-9]{1,8})+)?"
    r"|[xX](-[A-Za-z0-9]{1,8})+|i-[A-Za-z]{2,8})$"
)
DURATION_RE = re.compile(
    r"^P(\d+(\.\d+)?W|(?!$)(\d+(\.\d+)?Y)?(\d+(\.\d+)?M)?(\d+(\.\d+)?D)?"
    r"(T(?=\d)(\d+(\.\d+)?H)?(\d+(\.\d+)?M)?(\d+(\.\d+)?S)?)?)$"
)
TIMESTAMP_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}(:?\d{2})?)?$")
OFFSET_HOURS, OFFSET_COMPACT = re.compile(r"[+-]\d{2}$"), re.compile(r"[+-]\d{4}$")
VERSION_RE = re.compile(r"^(1\.0(\.\d+)?|2\.0(\.\d+)?)$")
MIME_RE = re.compile(r"^[\w.+\-]+/[\w.+\-]+(\s*;.*)?$")

IFIS = ("mbox", "mbox_sha1sum", "openid", "account")
INTERACTION_TYPES = {
    "true-false": (),
    "choice": ("choices",),
    "fill-in": (),
    "long-fill-in": (),
    "matching": ("source", "target"),
    "performance": ("steps",),
    "sequencing": ("choices",),
    "likert": ("scale",),
    "numeric": (),
    "other": (),
}
COMPONENT_LISTS = ("choices", "scale", "source", "target", "steps")
SIGNATURE_USAGE = "http://adlnet.gov/expapi/attachments/signature"
VOIDED = "http://adlnet.gov/expapi/verbs/voided"


def is_iri(value: Any) -> bool:
    return isinstance(value, str) and bool(IRI_RE.match(value))


def is_irl(value: Any) -> bool:
    return isinstance(value, str) and bool(IRL_RE.match(value))


def is_uuid(value: Any) -> bool:
    return isinstance(value, str) and bool(UUID_RE.match(value))


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def parse_timestamp(value: Any) -> datetime | None:
    """An ISO 8601 timestamp as xAPI takes it (UTC when it names no offset), or None.
    A negative zero offset (``-00:00``) is refused as the specification asks."""
    if not isinstance(value, str) or not TIMESTAMP_RE.match(value) or value.endswith(("-00:00", "-0000", "-00")):
        return None
    text = value.replace("Z", "+00:00")
    if OFFSET_HOURS.search(text):
        text += ":00"
    elif OFFSET_COMPACT.search(text):
        text = text[:-2] + ":" + text[-2:]
    try:
        ts = datetime.fromisoformat(text)
    except ValueError:
        return None
    if ts.tzinfo is None:
        from datetime import UTC

        ts = ts.replace(tzinfo=UTC)
    return ts


class Checker:
    """Collects the problems of one statement."""

    def __init__(self, version: str) -> None:
        self.version = version
        self.errors: list[str] = []

    def add(self, path: str, rule: str) -> None:
        self.errors.append(f"{path}: {rule}")

    def keys(self, value: dict[str, Any], path: str, allowed: tuple[str, ...] | list[str]) -> None:
        for key, item in value.items():
            if key not in allowed:
                self.add(f"{path}.{key}", "is not a property xAPI allows here (property names are case sensitive)")
            elif item is None:
                self.add(f"{path}.{key}", "must not be null")

    def obj(self, value: Any, path: str) -> bool:
        if not isinstance(value, dict):
            self.add(path, "must be a JSON object")
            return False
        return True

    def string(self, value: Any, path: str) -> None:
        if not isinstance(value, str):
            self.add(path, "must be a string")

    def iri(self, value: Any, path: str) -> None:
        if not is_iri(value):
            self.add(path, "must be an IRI (absolute, with a scheme)")

    def irl(self, value: Any, path: str) -> None:
        if not is_irl(value):
            self.add(path, "must be an IRL (an absolute URL that can be looked up)")

    def lang_map(self, value: Any, path: str) -> None:
        if not self.obj(value, path):
            return
        for tag, text in value.items():
            if not LANG_RE.match(tag):
                self.add(f"{path}.{tag}", "is not an RFC 5646 language tag")
            if not isinstance(text, str):
                self.add(f"{path}.{tag}", "a language map's values are strings")

    def extensions(self, value: Any, path: str) -> None:
        if not self.obj(value, path):
            return
        for key in value:
            if not is_iri(key):
                self.add(f"{path}.{key}", "extension keys must be IRIs")

    # --- actors -----------------------------------------------------------------------

    def ifi(self, value: dict[str, Any], path: str) -> int:
        present = [k for k in IFIS if k in value]
        if "mbox" in value and not (isinstance(value["mbox"], str) and MAILTO_RE.match(value["mbox"])):
            self.add(f"{path}.mbox", 'must be a "mailto:" IRI with an e-mail address')
        if "mbox_sha1sum" in value and not (
            isinstance(value["mbox_sha1sum"], str) and SHA1_RE.match(value["mbox_sha1sum"])
        ):
            self.add(f"{path}.mbox_sha1sum", "must be the hex SHA-1 of a mailto IRI (40 hex digits)")
        if "openid" in value:
            self.iri(value["openid"], f"{path}.openid")
        if "account" in value and self.obj(value["account"], f"{path}.account"):
            account = value["account"]
            self.keys(account, f"{path}.account", ("homePage", "name"))
            if "homePage" not in account:
                self.add(f"{path}.account.homePage", "is required")
            elif account["homePage"] is not None:
                self.irl(account["homePage"], f"{path}.account.homePage")
            if "name" not in account:
                self.add(f"{path}.account.name", "is required")
            elif account["name"] is not None:
                self.string(account["name"], f"{path}.account.name")
        return len(present)

    def agent(self, value: Any, path: str, *, member: bool = False) -> None:
        if not self.obj(value, path):
            return
        kind = value.get("objectType", "Agent")
        if kind == "Group" and not member:
            self.group(value, path)
            return
        if kind != "Agent":
            self.add(f"{path}.objectType", 'must be "Agent"' + ("" if member else ' or "Group"'))
            return
        self.keys(value, path, ("objectType", "name", *IFIS))
        if "name" in value and value["name"] is not None:
            self.string(value["name"], f"{path}.name")
        if self.ifi(value, path) != 1:
            self.add(path, "an Agent needs exactly one identifier (mbox, mbox_sha1sum, openid or account)")

    def group(self, value: Any, path: str) -> None:
        if not self.obj(value, path):
            return
        if value.get("objectType") != "Group":
            self.add(f"{path}.objectType", 'must be "Group"')
            return
        self.keys(value, path, ("objectType", "name", "member", *IFIS))
        if "name" in value and value["name"] is not None:
            self.string(value["name"], f"{path}.name")
        count = self.ifi(value, path)
        if count > 1:
            self.add(path, "a Group has at most one identifier")
        if "member" in value and value["member"] is not None:
            if not isinstance(value["member"], list):
                self.add(f"{path}.member", "must be an array of Agents")
            else:
                for i, m in enumerate(value["member"]):
                    self.agent(m, f"{path}.member[{i}]", member=True)
        if count == 0 and not (isinstance(value.get("member"), list) and value["member"]):
            self.add(path, "an anonymous Group (no identifier) must list its members")

    # --- verb, object ------------------------------------------------------------------

    def verb(self, value: Any, path: str) -> None:
        if not self.obj(value, path):
            return
        self.keys(value, path, ("id", "display"))
        if "id" not in value:
            self.add(f"{path}.id", "is required")
        else:
            self.iri(value["id"], f"{path}.id")
        if "display" in value and value["display"] is not None:
            self.lang_map(value["display"], f"{path}.display")

    def activity(self, value: Any, path: str) -> None:
        if not self.obj(value, path):
            return
        if value.get("objectType", "Activity") != "Activity":
            self.add(f"{path}.objectType", 'must be "Activity"')
        self.keys(value, path, ("objectType", "id", "definition"))
        if "id" not in value:
            self.add(f"{path}.id", "is required")
        else:
            self.iri(value["id"], f"{path}.id")
        if "definition" in value and value["definition"] is not None:
            self.definition(value["definition"], f"{path}.definition")

    def definition(self, value: Any, path: str) -> None:
        if not self.obj(value, path):
            return
        allowed = (
            "name",
            "description",
            "type",
            "moreInfo",
            "extensions",
            "interactionType",
            "correctResponsesPattern",
        )
        self.keys(value, path, (*allowed, *COMPONENT_LISTS))
        for key in ("name", "description"):
            if value.get(key) is not None:
                self.lang_map(value[key], f"{path}.{key}")
        if value.get("type") is not None:
            self.iri(value["type"], f"{path}.type")
        if value.get("moreInfo") is not None:
            self.irl(value["moreInfo"], f"{path}.moreInfo")
        if value.get("extensions") is not None:
            self.extensions(value["extensions"], f"{path}.extensions")
        kind = value.get("interactionType")
        if kind is not None and (not isinstance(kind, str) or kind not in INTERACTION_TYPES):
            self.add(f"{path}.interactionType", f"must be one of {', '.join(INTERACTION_TYPES)}")
        if "correctResponsesPattern" in value and value["correctResponsesPattern"] is not None:
            pattern = value["correctResponsesPattern"]
            if not isinstance(pattern, list) or not all(isinstance(p, str) for p in pattern):
                self.add(f"{path}.correctResponsesPattern", "must be an array of strings")
        present = [k for k in COMPONENT_LISTS if k in value]
        if present and kind is None:
            self.add(path, "interaction components need an interactionType")
        if "correctResponsesPattern" in value and kind is None:
            self.add(path, "correctResponsesPattern needs an interactionType")
        for key in present:
            if isinstance(kind, str) and kind in INTERACTION_TYPES and key not in INTERACTION_TYPES[kind]:
                self.add(f"{path}.{key}", f"is not a component of a {kind} interaction")
            items = value[key]
            if not isinstance(items, list):
                self.add(f"{path}.{key}", "must be an array of interaction components")
                continue
            seen: set[Any] = set()
            for i, item in enumerate(items):
                where = f"{path}.{key}[{i}]"
                if not self.obj(item, where):
                    continue
                self.keys(item, where, ("id", "description"))
                if not isinstance(item.get("id"), str):
                    self.add(f"{where}.id", "is required (a string)")
                elif item["id"] in seen:
                    self.add(f"{where}.id", "ids within a component list must be unique")
                else:
                    seen.add(item["id"])
                if item.get("description") is not None:
                    self.lang_map(item["description"], f"{where}.description")

    def object(self, value: Any, path: str, *, sub: bool) -> None:
        if not self.obj(value, path):
            return
        kind = value.get("objectType", "Activity")
        if kind == "Activity":
            self.activity(value, path)
        elif kind in ("Agent", "Group"):
            if "objectType" not in value:
                self.add(f"{path}.objectType", "is required when the object is an Agent or Group")
            self.agent(value, path)
        elif kind == "StatementRef":
            self.keys(value, path, ("objectType", "id"))
            if not is_uuid(value.get("id")):
                self.add(f"{path}.id", "a StatementRef's id must be a UUID")
        elif kind == "SubStatement":
            if sub:
                self.add(f"{path}.objectType", "a SubStatement cannot contain a SubStatement")
                return
            self.statement(value, path, sub=True)
        else:
            self.add(f"{path}.objectType", "must be Activity, Agent, Group, StatementRef or SubStatement")

    # --- result, context, attachments -----------------------------------------------------

    def result(self, value: Any, path: str) -> None:
        if not self.obj(value, path):
            return
        self.keys(value, path, ("score", "success", "completion", "response", "duration", "extensions"))
        for key in ("success", "completion"):
            if key in value and value[key] is not None and not isinstance(value[key], bool):
                self.add(f"{path}.{key}", "must be true or false")
        if value.get("response") is not None:
            self.string(value["response"], f"{path}.response")
        if value.get("duration") is not None and not (
            isinstance(value["duration"], str) and DURATION_RE.match(value["duration"])
        ):
            self.add(f"{path}.duration", "must be an ISO 8601 duration")
        if value.get("extensions") is not None:
            self.extensions(value["extensions"], f"{path}.extensions")
        score = value.get("score")
        if score is None or not self.obj(score, f"{path}.score"):
            return
        where = f"{path}.score"
        self.keys(score, where, ("scaled", "raw", "min", "max"))
        for key in ("scaled", "raw", "min", "max"):
            if key in score and score[key] is not None and not is_number(score[key]):
                self.add(f"{where}.{key}", "must be a number")
        nums = {k: score[k] for k in ("scaled", "raw", "min", "max") if is_number(score.get(k))}
        if "scaled" in nums and not -1 <= nums["scaled"] <= 1:
            self.add(f"{where}.scaled", "must lie between -1 and 1")
        if "min" in nums and "max" in nums and nums["min"] >= nums["max"]:
            self.add(where, "min must be less than max")
        if "raw" in nums and "min" in nums and nums["raw"] < nums["min"]:
            self.add(f"{where}.raw", "must not be below min")
        if "raw" in nums and "max" in nums and nums["raw"] > nums["max"]:
            self.add(f"{where}.raw", "must not be above max")

    def context(self, value: Any, path: str, object_kind: str) -> None:
        if not self.obj(value, path):
            return
        allowed = ["registration", "instructor", "team", "contextActivities", "revision", "platform", "language"]
        allowed += ["statement", "extensions"]
        if self.version.startswith("2"):
            allowed += ["contextAgents", "contextGroups"]
        self.keys(value, path, allowed)
        if "registration" in value and value["registration"] is not None and not is_uuid(value["registration"]):
            self.add(f"{path}.registration", "must be a UUID")
        if value.get("instructor") is not None:
            self.agent(value["instructor"], f"{path}.instructor")
        if value.get("team") is not None:
            self.group(value["team"], f"{path}.team")
        for key in ("revision", "platform"):
            if value.get(key) is not None:
                self.string(value[key], f"{path}.{key}")
                if object_kind != "Activity":
                    self.add(f"{path}.{key}", "is only allowed when the object is an Activity")
        if value.get("language") is not None and not (
            isinstance(value["language"], str) and LANG_RE.match(value["language"])
        ):
            self.add(f"{path}.language", "must be an RFC 5646 language tag")
        ref = value.get("statement")
        if ref is not None and self.obj(ref, f"{path}.statement"):
            self.keys(ref, f"{path}.statement", ("objectType", "id"))
            if ref.get("objectType") != "StatementRef":
                self.add(f"{path}.statement.objectType", 'must be "StatementRef"')
            if not is_uuid(ref.get("id")):
                self.add(f"{path}.statement.id", "must be a UUID")
        if value.get("extensions") is not None:
            self.extensions(value["extensions"], f"{path}.extensions")
        activities = value.get("contextActivities")
        if activities is not None and self.obj(activities, f"{path}.contextActivities"):
            where = f"{path}.contextActivities"
            self.keys(activities, where, ("parent", "grouping", "category", "other"))
            for key, item in activities.items():
                items = item if isinstance(item, list) else [item]
                for i, activity in enumerate(items):
                    self.activity(activity, f"{where}.{key}[{i}]")
        for key, kind in (("contextAgents", "Agent"), ("contextGroups", "Group")):
            if value.get(key) is None:
                continue
            if not isinstance(value[key], list):
                self.add(f"{path}.{key}", "must be an array")
                continue
            for i, item in enumerate(value[key]):
                where = f"{path}.{key}[{i}]"
                if not self.obj(item, where):
                    continue
                self.keys(item, where, ("objectType", "agent" if kind == "Agent" else "group", "relevantTypes"))
                if item.get("objectType") != f"context{kind}":
                    self.add(f"{where}.objectType", f'must be "context{kind}"')
                member = item.get("agent" if kind == "Agent" else "group")
                if kind == "Agent":
                    self.agent(member, f"{where}.agent", member=True)
                else:
                    self.group(member, f"{where}.group")
                types = item.get("relevantTypes")
                if types is not None and (not isinstance(types, list) or not types or not all(map(is_iri, types))):
                    self.add(f"{where}.relevantTypes", "must be a non-empty array of IRIs")

    def attachments(self, value: Any, path: str) -> None:
        if not isinstance(value, list):
            self.add(path, "must be an array")
            return
        for i, item in enumerate(value):
            where = f"{path}[{i}]"
            if not self.obj(item, where):
                continue
            self.keys(item, where, ("usageType", "display", "description", "contentType", "length", "sha2", "fileUrl"))
            for key in ("usageType", "display", "contentType", "length", "sha2"):
                if key not in item:
                    self.add(f"{where}.{key}", "is required")
            if "usageType" in item:
                self.iri(item["usageType"], f"{where}.usageType")
            for key in ("display", "description"):
                if item.get(key) is not None:
                    self.lang_map(item[key], f"{where}.{key}")
            if "contentType" in item and not (
                isinstance(item["contentType"], str) and MIME_RE.match(item["contentType"])
            ):
                self.add(f"{where}.contentType", "must be an Internet media type")
            if "length" in item and not (isinstance(item["length"], int) and not isinstance(item["length"], bool)):
                self.add(f"{where}.length", "must be an integer")
            if "sha2" in item and not (isinstance(item["sha2"], str) and SHA2_RE.match(item["sha2"])):
                self.add(f"{where}.sha2", "must be a hex SHA-2 hash")
            if item.get("fileUrl") is not None:
                self.irl(item["fileUrl"], f"{where}.fileUrl")

    # --- the statement ----------------------------------------------------------------

    def statement(self, value: Any, path: str, *, sub: bool = False) -> None:
        if not self.obj(value, path):
            return
        common = ("actor", "verb", "object", "result", "context", "timestamp", "attachments")
        if sub:
            self.keys(value, path, ("objectType", *common))
        else:
            self.keys(value, path, ("id", *common, "stored", "authority", "version"))
        for key in ("actor", "verb", "object"):
            if key not in value:
                self.add(f"{path}.{key}", "is required")
        if not sub and "id" in value and not is_uuid(value["id"]):
            self.add(f"{path}.id", "must be a UUID")
        if value.get("actor") is not None:
            self.agent(value["actor"], f"{path}.actor")
        if value.get("verb") is not None:
            self.verb(value["verb"], f"{path}.verb")
        obj = value.get("object")
        if obj is not None:
            self.object(obj, f"{path}.object", sub=sub)
        kind = obj.get("objectType", "Activity") if isinstance(obj, dict) else ""
        if value.get("result") is not None:
            self.result(value["result"], f"{path}.result")
        if value.get("context") is not None:
            self.context(value["context"], f"{path}.context", kind)
        if "timestamp" in value and value["timestamp"] is not None and parse_timestamp(value["timestamp"]) is None:
            self.add(f"{path}.timestamp", "must be an ISO 8601 timestamp")
        if "stored" in value and value["stored"] is not None and parse_timestamp(value["stored"]) is None:
            self.add(f"{path}.stored", "must be an ISO 8601 timestamp")
        if value.get("authority") is not None:
            self.agent(value["authority"], f"{path}.authority")
            authority = value["authority"]
            if isinstance(authority, dict) and authority.get("objectType") == "Group":
                members = authority.get("member")
                if any(k in authority for k in IFIS) or not isinstance(members, list) or len(members) != 2:
                    self.add(
                        f"{path}.authority",
                        "a Group authority is an anonymous Group of exactly two Agents (an OAuth consumer and user)",
                    )
        if (
            "version" in value
            and value["version"] is not None
            and not (isinstance(value["version"], str) and VERSION_RE.match(value["version"]))
        ):
            self.add(f"{path}.version", 'must be "1.0.x" or "2.0.x"')
        if value.get("attachments") is not None:
            self.attachments(value["attachments"], f"{path}.attachments")
        verb = value.get("verb")
        if isinstance(verb, dict) and verb.get("id") == VOIDED and not sub:
            if not (isinstance(obj, dict) and obj.get("objectType") == "StatementRef"):
                self.add(f"{path}.object", "a voiding statement's object must be a StatementRef")


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def statement_errors(statement: Any, version: str = "1.0.3") -> list[str]:
    """Every rule ``statement`` breaks, as ``"<path>: <rule>"``; empty when it is valid."""
    checker = Checker(version)
    checker.statement(statement, "statement")
    if b"\\u0000" in msgspec.json.encode(statement) and _has_nul(statement):  # the cheap test first
        checker.add("statement", "text containing U+0000 (NUL) cannot be stored")
    return checker.errors


def agent_errors(agent: Any, path: str = "agent", version: str = "1.0.3") -> list[str]:
    checker = Checker(version)
    checker.agent(agent, path)
    return checker.errors
