"""The session cookie's backend: a cookie once opened is kept (by its exact bytes) and not
decrypted again, yet an expired, tampered or foreign cookie still opens to no session."""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any

import pytest

from services.web.app import SessionConfig

MAX_AGE = 600


def backend(secret: bytes = b"k" * 32) -> Any:
    config = SessionConfig(secret=secret, key="lms_session", max_age=MAX_AGE)
    return config._backend_class(config=config)


def connection(chunks: list[bytes]) -> Any:
    names = ["lms_session"] if len(chunks) == 1 else [f"lms_session-{i}" for i in range(len(chunks))]
    return SimpleNamespace(cookies={n: c.decode() for n, c in zip(names, chunks, strict=True)}, scope={})


def test_a_cookie_is_opened_once_and_then_known_by_its_bytes() -> None:
    b = backend()
    chunks = b.dump_data({"viewer": {"sub": "official-1"}})
    plain = b.open(connection(chunks))
    assert b.deserialize_data(plain) == {"viewer": {"sub": "official-1"}}
    assert len(b.opened) == 1
    b.aesgcm = None  # a second page with the same cookie does not decrypt it again
    assert b.open(connection(chunks)) == plain


def test_expired_tampered_and_foreign_cookies_open_to_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    b = backend()
    chunks = b.dump_data({"viewer": {"sub": "official-1"}})
    assert b.open(connection(chunks))
    now = time.time()
    monkeypatch.setattr(time, "time", lambda: now + MAX_AGE + 5)  # known, but past its expiry
    assert b.open(connection(chunks)) == b""
    monkeypatch.undo()
    raw = chunks[0]
    tampered = raw[:10] + (b"AAAA" if raw[10:14] != b"AAAA" else b"BBBB") + raw[14:]
    assert b.open(connection([tampered])) == b""
    assert b.open(connection([b"not base64 at all!"])) == b""
    assert backend(b"x" * 32).open(connection(chunks)) == b""  # another secret: not a session here


def test_the_kept_cookies_are_bounded() -> None:
    b = backend()
    b.OPENED = 3
    for n in range(5):
        assert b.open(connection(b.dump_data({"n": n})))
    assert len(b.opened) == 3
