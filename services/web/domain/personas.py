"""Development sign-in personas (only offered when no identity provider is configured)."""

from __future__ import annotations

import re
from dataclasses import dataclass

OFFICIAL_ID = re.compile(r"^[A-Za-z0-9._:@-]{1,128}$")


@dataclass(frozen=True)
class Persona:
    role: str
    sub: str
    name: str
    org: str


# The demo (`lms demo`) leaves data for these ids, so every page shows something real.
PERSONAS = {
    "learner": Persona("learner", "demo-official", "김지민", "SEOUL-DIGITAL"),
    "instructor": Persona("instructor", "demo-instructor", "박서연", "SEOUL-ACADEMY"),
    "admin": Persona("admin", "admin-demo", "Demo Admin", "SEOUL-HR"),
}


@dataclass(frozen=True)
class DevSignIn:
    persona: str
    sub: str
    name: str
    org: str


def check_dev_sign_in(choice: DevSignIn) -> dict[str, str]:
    """Field -> message key for every bad field (empty when the choice is fine)."""
    errors = {}
    if choice.persona not in PERSONAS:
        errors["persona"] = "signin.persona.bad"
    if choice.sub and not OFFICIAL_ID.match(choice.sub):
        errors["sub"] = "signin.sub.bad"
    if len(choice.name) > 200:
        errors["name"] = "form.too_long"
    if len(choice.org) > 64:
        errors["org"] = "form.too_long"
    return errors
