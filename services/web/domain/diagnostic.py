"""The diagnostic as a person sees it: its rules, how far along they are, and reading an answer form."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

RULES = ("diagnostic.rule.length", "diagnostic.rule.one", "diagnostic.rule.resume", "diagnostic.rule.nohelp")


@dataclass(frozen=True)
class Answer:
    position: int
    item_id: str
    choice: int


@dataclass(frozen=True)
class Progress:
    answered: int
    maximum: int
    percent: int


def progress(answered: int, maximum: int) -> Progress:
    """Items answered so far against the longest possible test (it usually stops earlier)."""
    return Progress(answered, maximum, min(100, round(100 * answered / maximum)))


def parse_answer(form: dict[str, str]) -> Answer | dict[str, str]:
    """The chosen option of the form, or field -> message key for what is missing or malformed."""
    errors: dict[str, str] = {}
    try:
        position = int(form.get("position", ""))
    except ValueError:
        position = 0
        errors["form"] = "diagnostic.stale"
    try:
        item_id = str(uuid.UUID(form.get("item_id", "")))
    except ValueError:
        item_id = ""
        errors["form"] = "diagnostic.stale"
    raw = form.get("choice", "")
    if not raw.isdigit() or not 0 <= int(raw) <= 5:
        errors["choice"] = "diagnostic.choose"
    if errors:
        return errors
    return Answer(position, item_id, int(raw))
