"""Every problem the services can answer has Korean and English words in the web app.

The slugs and field messages are collected from the services' code itself (not from a list kept
beside the translations), so a problem or message added to a service later fails this test until
``services/web/domain/problems.py`` says it in both languages. msgspec's own validation messages
are produced by asking msgspec to convert bad values to every kind of type the APIs declare.
"""

from __future__ import annotations

import ast
import re
import uuid
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from enum import Enum
from http import HTTPStatus
from pathlib import Path
from typing import Annotated, Any, Literal

import litestar.exceptions
import msgspec
import pytest

from services.web.domain import problems

SERVICES = Path(__file__).resolve().parents[2] / "services"
SKIP_DIRS = {"web", "migrations"}
SKIP_FILES = {"cli.py", "demo.py", "seed.py", "settings.py"}


def service_files() -> list[Path]:
    found = []
    for path in sorted(SERVICES.rglob("*.py")):
        parts = path.relative_to(SERVICES).parts
        if SKIP_DIRS & set(parts) or path.name in SKIP_FILES:
            continue
        found.append(path)
    return found


def templates(node: ast.AST | None) -> list[str]:
    """The text a string expression can produce, each variable part written ``{}``."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value.replace("{", "{{").replace("}", "}}")]
    if isinstance(node, ast.JoinedStr):
        text = ""
        for part in node.values:
            if isinstance(part, ast.Constant):
                text += str(part.value).replace("{", "{{").replace("}", "}}")
            else:
                text += "{}"
        return [text]
    if isinstance(node, ast.IfExp):
        return templates(node.body) + templates(node.orelse)
    return []


def is_message(text: str) -> bool:
    """Words for a person (not an identifier, nor only a composition of other messages)."""
    return " " in text and bool(re.search(r"[A-Za-z]{2}", text.replace("{}", "")))


def _slug_of(call: ast.Call) -> ast.AST | None:
    if len(call.args) > 1:
        return call.args[1]
    return next((k.value for k in call.keywords if k.arg == "slug"), None)


def collect() -> tuple[set[str], set[str]]:
    """(every problem slug, every field or row message) the services' code can produce."""
    slugs: set[str] = set()
    messages: set[str] = set()
    for path in service_files():
        tree = ast.parse(path.read_text(), str(path))
        for func in ast.walk(tree):
            if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            returns = ast.unparse(func.returns) if func.returns is not None else ""
            if returns in ("str | None", "list[str]"):  # a reason for a field or row (a fragment), or None
                for node in ast.walk(func):
                    if isinstance(node, ast.Return):
                        messages.update(t for t in templates(node.value) if t[:1].islower())
            calls = [n for n in ast.walk(func) if isinstance(n, ast.Call) and _name(n.func) == "Problem"]
            if any(not templates(_slug_of(c)) and _slug_of(c) is not None for c in calls):
                # a slug chosen at run time from a table in the same function: every entry of it
                for node in ast.walk(func):
                    if isinstance(node, ast.Dict):
                        for value in node.values:
                            slugs.update(t for t in templates(value) if re.fullmatch(r"[a-z]+(-[a-z]+)*", t))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                name = _name(node.func)
                if name == "Problem":
                    slugs.update(templates(_slug_of(node)))
                elif name == "bad" and len(node.args) == 2:  # bad(field, reason)
                    messages.update(templates(node.args[1]))
                elif name == "add" and len(node.args) == 2:  # checker.add(path, rule)
                    messages.update(templates(node.args[1]))
                elif name == "append" and isinstance(node.func, ast.Attribute) and node.args:
                    if ast.unparse(node.func.value) in ("problems", "errors"):
                        messages.update(templates(node.args[0]))
            elif isinstance(node, ast.Dict):
                keys = {k.value for k in node.keys if isinstance(k, ast.Constant)}
                if keys & {"field", "row", "index", "id", "official_id"}:  # one error entry
                    for key, value in zip(node.keys, node.values, strict=True):
                        if isinstance(key, ast.Constant) and key.value in ("message", "reason"):
                            messages.update(templates(value))
            elif isinstance(node, ast.Assign) and any(_name(t) == "CONSTRAINTS" for t in node.targets):
                for value in getattr(node.value, "values", []):  # constraint -> (slug, detail)
                    if isinstance(value, ast.Tuple):
                        slugs.update(templates(value.elts[0]))
    # Litestar's own exceptions, named as services/common/errors.py names them
    for exc in vars(litestar.exceptions).values():
        if isinstance(exc, type) and issubclass(exc, litestar.exceptions.HTTPException):
            phrase = HTTPStatus(exc.status_code).phrase.lower()
            slugs.add(re.sub(r"[^a-z]+", "-", phrase).strip("-"))
    return slugs, {m for m in messages if is_message(m)}


def _name(node: ast.AST) -> str:
    return node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else ""


def example(template: str) -> str:
    """A message as a service would send it: every variable part filled in."""
    return template.replace("{}", "'x'").replace("{{", "{").replace("}}", "}")


SLUGS, MESSAGES = collect()


def test_the_collection_finds_what_the_services_say() -> None:
    """The collector itself works (a guard against it silently finding nothing)."""
    assert {"validation", "session-full", "not-found", "invalid-import", "unauthenticated"} <= SLUGS
    assert len(SLUGS) >= 70
    assert {"must be positive", "not enrolled in this session", "must be an IRI (absolute, with a scheme)"} <= MESSAGES
    assert len(MESSAGES) >= 120


@pytest.mark.parametrize("slug", sorted(SLUGS))
def test_every_problem_type_has_a_title_in_both_languages(slug: str) -> None:
    assert slug in problems.PROBLEMS, f"add {slug!r} to services/web/domain/problems.py PROBLEMS"
    ko, en = problems.PROBLEMS[slug]
    assert ko.strip() and en.strip()
    assert re.search("[가-힣]", ko), ko


@pytest.mark.parametrize("template", sorted(MESSAGES))
def test_every_field_message_has_korean_words(template: str) -> None:
    message = example(template)
    ko = problems.detail_text(message, "ko")
    assert ko != message and re.search("[가-힣]", ko), f"add {template!r} to services/web/domain/problems.py DETAILS"
    assert problems.detail_text(message, "en").strip()


class Colour(Enum):
    RED = "red"


class Inner(msgspec.Struct, forbid_unknown_fields=True):
    name: str


# every kind of type and constraint the APIs declare, and a value each one refuses
REFUSED: list[tuple[Any, Any]] = [
    (int, "x"),
    (int, 1.5),
    (float, "x"),
    (str, 1),
    (bool, "x"),
    (list[int], "x"),
    (dict[str, int], []),
    (None, 1),
    (Inner, 1),
    (Inner, {}),
    (Inner, {"name": "a", "other": 1}),
    (uuid.UUID, "x"),
    (datetime, "x"),
    (Annotated[datetime, msgspec.Meta(tz=True)], "2026-01-01T09:00:00"),
    (date, "x"),
    (time, "x"),
    (timedelta, "x"),
    (Decimal, "x"),
    (bytes, "!"),
    (Colour, "blue"),
    (Literal["a", "b"], "c"),
    (Literal[1, 2], 3),
    (Annotated[int, msgspec.Meta(ge=0)], -1),
    (Annotated[int, msgspec.Meta(gt=0)], 0),
    (Annotated[int, msgspec.Meta(le=9)], 10),
    (Annotated[int, msgspec.Meta(lt=9)], 9),
    (Annotated[int, msgspec.Meta(multiple_of=2)], 3),
    (Annotated[float, msgspec.Meta(ge=0.5)], 0.1),
    (Annotated[str, msgspec.Meta(min_length=2)], "a"),
    (Annotated[str, msgspec.Meta(max_length=2)], "abc"),
    (Annotated[str, msgspec.Meta(pattern="^[a-z]+$")], "A"),
    (Annotated[list[int], msgspec.Meta(min_length=1)], []),
    (Annotated[list[int], msgspec.Meta(max_length=1)], [1, 2]),
    (Annotated[dict[str, int], msgspec.Meta(max_length=1)], {"a": 1, "b": 2}),
    (Annotated[dict[str, int], msgspec.Meta(min_length=1)], {}),
    (Annotated[datetime, msgspec.Meta(tz=False)], "2026-01-01T09:00:00Z"),
    (int | None, "x"),
    (Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)], 2**70),
]


def msgspec_messages() -> list[str]:
    found = []
    for annotation, value in REFUSED:
        try:
            msgspec.convert(value, annotation, strict=True)
        except msgspec.ValidationError as exc:
            found.append(re.sub(r" - at `[^`]*`$", "", str(exc)))
        else:  # pragma: no cover - the table above is wrong
            raise AssertionError(f"{annotation} accepted {value!r}")
    return found


@pytest.mark.parametrize("message", msgspec_messages())
def test_every_msgspec_message_has_korean_words(message: str) -> None:
    ko = problems.detail_text(message, "ko")
    assert ko != message and re.search("[가-힣]", ko), f"add a pattern for {message!r} to VALIDATION"


def test_form_errors_puts_each_message_beside_its_field_in_the_page_language() -> None:
    problem = {
        "type": "urn:lms:problem:validation",
        "status": 400,
        "detail": "seats: Expected `int` >= 1; body.title: Object missing required field",
        "errors": [
            {"field": "seats", "source": "body", "message": "Expected `int` >= 1"},
            {"field": "records[2].status", "source": "body", "message": "Invalid enum value 'late'"},
            {"row": 3, "field": "a", "reason": "must be positive"},
            {"index": 0, "official_id": "o-1", "reason": "not enrolled in this session"},
            {"official_id": "o-2", "from": "absent", "to": "present"},
        ],
    }
    ko = problems.form_errors(problem, "ko")
    assert set(ko) == {"seats", "records", "a", "o-1", "o-2"}
    assert ko["o-2"] == ["결석 → 출석"]
    assert ko["seats"] == ["1 이상이어야 합니다."]
    assert all(re.search("[가-힣]", m) for ms in ko.values() for m in ms)
    assert "3" in ko["a"][0]  # the row is named
    en = problems.form_errors(problem, "en")
    assert en["o-1"] == ["Not enrolled in this session."]
    assert problems.problem_title("validation", 400, "ko") == problems.PROBLEMS["validation"][0]
    assert problems.problem_title("something-new", 409, "en") == problems.STATUS[409][1]
    unknown = problems.detail_text("a message no service sends", "ko")
    assert unknown == "a message no service sends"  # shown as the service said it, never lost
