"""A batch of statements as received, turned into what the LRS stores: every rule checked (all
problems named at once), attachments matched to their parts and signatures verified, the
properties the LRS sets filled in, and the progress fact of each official's statement."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from services.progress.domain.xapi import statements as st
from services.progress.domain.xapi.progress import ProgressFact, official_of, progress_fact
from services.progress.domain.xapi.signature import signature_problem
from services.progress.domain.xapi.validate import SIGNATURE_USAGE, parse_timestamp, statement_errors

MAX_BATCH = 1000


class Invalid(ValueError):
    """The batch breaks rules (400); ``problems`` names each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems[:20]))
        self.problems = problems


class NotYours(PermissionError):
    """A learner's token sent a statement about someone else (403)."""


@dataclass
class Prepared:
    """One statement ready to store: completed, hashed, its progress fact; ``keys`` are its
    filter keys, filled by the store once the statements it targets are known."""

    id: uuid.UUID
    statement: dict[str, Any]
    digest: str
    timestamp: datetime
    official: str | None
    fact: ProgressFact | None
    keys: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Sender:
    """Who sends: the account name of the credentials, and whether they are trusted (service or
    admin) to send statements about anyone and to assert results."""

    name: str
    trusted: bool
    home: str

    @property
    def authority(self) -> dict[str, Any]:
        return {"objectType": "Agent", "account": {"homePage": self.home, "name": self.name}}


def attachment_problems(statements: list[dict[str, Any]], parts: dict[str, bytes]) -> list[str]:
    """Every attachment without a fileUrl has its part, every part belongs to an attachment, and
    every signature attachment holds a JWS that signs its statement."""
    problems, used = [], set()
    for i, s in enumerate(statements):
        for j, attachment in enumerate(s.get("attachments") or []):
            where = f"statement[{i}].attachments[{j}]"
            digest = attachment["sha2"].lower()
            if digest in parts:
                used.add(digest)
            elif "fileUrl" not in attachment:
                problems.append(f"{where}: no part with this sha2 and no fileUrl")
                continue
            if attachment["usageType"] != SIGNATURE_USAGE:
                continue
            if attachment["contentType"] != "application/octet-stream":
                problems.append(f"{where}: a signature's contentType is application/octet-stream")
            elif digest in parts and (why := signature_problem(parts[digest], s)):
                problems.append(f"{where}: {why}")
    return problems + [f"part {d}: no statement names this attachment" for d in parts if d not in used]


def prepare(
    raws: Any, *, version: str, parts: dict[str, bytes], sender: Sender, prefix: str, stored: datetime
) -> list[Prepared]:
    """The batch to store; raises :class:`Invalid` or :class:`NotYours`."""
    raws = raws if isinstance(raws, list) else [raws]
    if not raws or len(raws) > MAX_BATCH:
        raise Invalid([f"send between 1 and {MAX_BATCH:,} statements"])
    problems = [f"[{i}] {p}" for i, raw in enumerate(raws) for p in statement_errors(raw, version)]
    if problems:
        raise Invalid(problems)
    problems = attachment_problems(raws, parts)
    if problems:
        raise Invalid(problems)
    stamp = stored.isoformat().replace("+00:00", "Z")
    batch = []
    for raw in raws:
        sid = str(uuid.UUID(raw["id"])) if "id" in raw else str(uuid.uuid4())
        sent = {**raw, "id": sid}
        official = official_of(sent.get("actor"), sender.home)
        if not sender.trusted and official != sender.name:
            raise NotYours("Learners may only send statements about themselves.")
        full = st.complete(
            sent,
            statement_id=sid,
            stored=stamp,
            authority=sender.authority,
            version="2.0.0" if version.startswith("2") else "1.0.0",
        )
        timestamp = parse_timestamp(full["timestamp"]) or stored
        fact = progress_fact(full, official, timestamp, prefix=prefix, trusted=sender.trusted)
        batch.append(Prepared(uuid.UUID(sid), full, st.digest(sent), timestamp, official, fact))
    if len({b.id for b in batch}) != len(batch):
        raise Invalid(["the same statement id appears twice in this request"])
    return batch
