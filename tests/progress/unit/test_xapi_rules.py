"""xAPI rules without a database: statement validation, IFIs and filter keys, formats, document
preconditions and merges, multipart bodies, JWS signatures, durations."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

import jwt
import msgspec
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from services.progress.domain.xapi import documents, multipart
from services.progress.domain.xapi import statements as st
from services.progress.domain.xapi.progress import official_of, progress_fact
from services.progress.domain.xapi.signature import hundredths, signature_problem
from services.progress.domain.xapi.validate import parse_timestamp, statement_errors
from tests.progress.xapi_helpers import x5c_certificate

MBOX = {"objectType": "Agent", "mbox": "mailto:kim@example.com"}
ACTIVITY = {"objectType": "Activity", "id": "http://example.com/a"}
VERB = {"id": "http://adlnet.gov/expapi/verbs/experienced", "display": {"en-US": "experienced"}}


def stmt(**kw: Any) -> dict[str, Any]:
    return {"actor": MBOX, "verb": VERB, "object": ACTIVITY, **kw}


def errors(statement: Any, version: str = "1.0.3") -> list[str]:
    return statement_errors(statement, version)


@pytest.mark.parametrize(
    "actor",
    [
        {"mbox": "mailto:a@b.c"},
        {"mbox_sha1sum": "a" * 40},
        {"openid": "http://openid.example.com/u"},
        {"account": {"homePage": "http://example.com", "name": "u1"}},
        {"objectType": "Group", "member": [MBOX]},
        {"objectType": "Group", "mbox": "mailto:g@b.c", "member": []},
    ],
)
def test_every_ifi_and_groups_are_accepted(actor: dict[str, Any]) -> None:
    assert errors(stmt(actor=actor)) == []


@pytest.mark.parametrize(
    ("change", "rule"),
    [
        ({"actor": {"mbox": "kim@example.com"}}, "mailto"),
        ({"actor": {"mbox": "mailto:a@b.c", "openid": "http://x.y"}}, "exactly one identifier"),
        ({"actor": {"account": {"homePage": "example.com", "name": "u"}}}, "IRL"),
        ({"actor": {"account": {"homePage": "http://e.com"}}}, "name: is required"),
        ({"actor": {"objectType": "Group"}}, "must list its members"),
        ({"actor": {"objectType": "Group", "member": [{"objectType": "Group", "member": [MBOX]}]}}, '"Agent"'),
        ({"actor": {"objectType": "agent", "mbox": "mailto:a@b.c"}}, "objectType"),
        ({"verb": {"id": "not an iri"}}, "verb.id"),
        ({"verb": {"id": "http://v.com", "display": {"not a tag!": "x"}}}, "language tag"),
        ({"verb": {"id": "http://v.com", "Display": {}}}, "case sensitive"),
        ({"object": {"id": "http://a.com", "definition": {"moreInfo": "a.com/x"}}}, "moreInfo"),
        ({"object": {"id": "http://a.com", "definition": {"interactionType": "essay"}}}, "interactionType"),
        ({"object": {"id": "http://a.com", "definition": {"choices": []}}}, "need an interactionType"),
        ({"object": {"objectType": "Agent"}}, "exactly one identifier"),
        ({"object": {"mbox": "mailto:a@b.c"}}, "id: is required"),
        ({"object": {"objectType": "StatementRef", "id": "12"}}, "UUID"),
        ({"object": {**stmt(), "objectType": "SubStatement", "id": "x"}}, "object.id: is not a property"),
        (
            {"object": {"objectType": "SubStatement", **stmt(object={"objectType": "SubStatement", **stmt()})}},
            "cannot contain",
        ),
        ({"result": {"score": {"scaled": 1.5}}}, "between -1 and 1"),
        ({"result": {"score": {"raw": 5, "min": 6, "max": 10}}}, "below min"),
        ({"result": {"duration": "P4W1D"}}, "duration"),
        ({"result": {"success": "yes"}}, "true or false"),
        ({"result": {"extensions": {"key": 1}}}, "IRIs"),
        ({"context": {"registration": "nope"}}, "registration"),
        ({"context": {"revision": "1"}, "object": MBOX}, "only allowed when the object is an Activity"),
        ({"context": {"team": MBOX}}, "Group"),
        ({"context": {"contextActivities": {"parents": [ACTIVITY]}}}, "parents"),
        ({"timestamp": "2026-01-01"}, "timestamp"),
        ({"timestamp": "2026-01-01T10:00:00-00:00"}, "timestamp"),
        ({"id": "not-a-uuid"}, "UUID"),
        ({"version": "0.95"}, "version"),
        ({"authority": {"objectType": "Group", "mbox": "mailto:g@b.c", "member": [MBOX, MBOX]}}, "anonymous Group"),
        ({"attachments": [{"usageType": "http://u.com", "display": {"en": "x"}, "contentType": "text/plain"}]}, "sha2"),
        ({"verb": {"id": "http://adlnet.gov/expapi/verbs/voided"}}, "StatementRef"),
        ({"extra": 1}, "is not a property"),
        ({"result": None}, "null"),
    ],
)
def test_each_rule_is_named(change: dict[str, Any], rule: str) -> None:
    found = errors(stmt(**change))
    assert any(rule in e for e in found), found


def test_every_problem_is_listed_at_once() -> None:
    found = errors({"actor": {"mbox": "x"}, "verb": {"id": "y"}, "object": {"id": "z"}, "timestamp": "t"})
    assert len(found) == 4


def test_context_agents_only_in_2_0() -> None:
    context = {"contextAgents": [{"objectType": "contextAgent", "agent": MBOX}]}
    assert errors(stmt(context=context), "2.0.0") == []
    assert errors(stmt(context=context), "1.0.3")


def test_timestamps() -> None:
    assert parse_timestamp("2026-01-01T10:00:00Z") == dt.datetime(2026, 1, 1, 10, tzinfo=dt.UTC)
    assert parse_timestamp("2026-01-01T10:00:00.123+0900") is not None
    assert parse_timestamp("2026-01-01T10:00:00") is not None  # no offset: UTC
    assert parse_timestamp("2026-13-01T10:00:00Z") is None


def test_ifis_and_filter_keys() -> None:
    assert st.ifi({"mbox_sha1sum": "ABC"}) == "mbox_sha1sum:abc"
    assert st.ifi({"account": {"homePage": "http://h", "name": "n"}}) == "account:http://h|n"
    assert st.ifi({"objectType": "Group", "member": [MBOX]}) is None
    target = stmt(
        context={"registration": "0B0B0B0B-0000-4000-8000-000000000000", "instructor": {"mbox": "mailto:i@x.y"}}
    )
    keys = st.filter_keys(target)
    assert {"actor:mbox:mailto:kim@example.com", "agent:mbox:mailto:kim@example.com", "verb:" + VERB["id"]} <= set(keys)
    assert {"activity:http://example.com/a", "ragent:mbox:mailto:i@x.y"} <= set(keys)
    assert "reg:0b0b0b0b-0000-4000-8000-000000000000" in keys
    # a StatementRef inherits what its target matches, but not the target's actor (read access)
    ref = {
        "actor": {"mbox": "mailto:other@x.y"},
        "verb": {"id": "http://v"},
        "object": {"objectType": "StatementRef", "id": "x"},
    }
    inherited = st.filter_keys(ref, keys)
    assert "activity:http://example.com/a" in inherited and "actor:mbox:mailto:kim@example.com" not in inherited
    sub = stmt(
        object={"objectType": "SubStatement", **stmt(actor={"mbox": "mailto:s@x.y"}, object={"id": "http://in"})}
    )
    sub_keys = st.filter_keys(sub)
    assert "ragent:mbox:mailto:s@x.y" in sub_keys and "ractivity:http://in" in sub_keys
    assert "agent:mbox:mailto:s@x.y" not in sub_keys


def test_complete_and_formats() -> None:
    sent = stmt(
        context={"contextActivities": {"parent": {"id": "http://p", "definition": {"name": {"en": "P", "ko": "피"}}}}}
    )
    authority = {"objectType": "Agent", "account": {"homePage": "http://h", "name": "svc"}}
    full = st.complete(sent, statement_id="i", stored="2026-01-01T00:00:00Z", authority=authority, version="1.0.0")
    assert full["context"]["contextActivities"]["parent"][0]["id"] == "http://p"  # always an array
    assert full["timestamp"] == full["stored"] and full["authority"] == authority and full["version"] == "1.0.0"
    ids = st.formatted(full, "ids", {}, [])
    assert ids["verb"] == {"id": VERB["id"]} and ids["object"] == {"id": ACTIVITY["id"]}
    assert ids["actor"] == {"objectType": "Agent", "mbox": "mailto:kim@example.com"}
    canon = st.formatted(full, "canonical", {"http://p": {"name": {"en": "P", "ko": "피"}}}, ["ko"])
    assert canon["context"]["contextActivities"]["parent"][0]["definition"]["name"] == {"ko": "피"}
    assert st.parse_accept_language("en;q=0.5, ko, fr;q=0.9") == ["ko", "fr", "en"]
    # replay equality ignores what the LRS sets and precision beyond 0.01 s
    assert st.comparable({**sent, "stored": "x"}) == st.comparable(sent)
    a, b = stmt(result={"duration": "PT1.234S"}), stmt(result={"duration": "PT1.23999S"})
    assert st.comparable(a) == st.comparable(b)
    assert hundredths("P1DT4.5678S") == "P1DT4.56S"


def test_canonical_definitions_merge() -> None:
    merged = st.merge_definition(
        {"name": {"en": "A"}, "type": "http://t1"}, {"name": {"ko": "에이"}, "type": "http://t2"}
    )
    assert merged == {"name": {"en": "A", "ko": "에이"}, "type": "http://t2"}


def test_progress_facts() -> None:
    home = "https://lms.example.go.kr"
    actor = {"account": {"homePage": home, "name": "o1"}}
    assert official_of(actor, home) == "o1" and official_of(MBOX, home) is None
    assert official_of({"account": {"homePage": "http://other", "name": "o1"}}, home) is None
    passed = {
        "actor": actor,
        "verb": {"id": "http://adlnet.gov/expapi/verbs/passed"},
        "object": {"id": "urn:lms:module:M1"},
    }
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    assert progress_fact(passed, "o1", now, prefix="urn:lms:module:", trusted=False) is None
    fact = progress_fact(
        {**passed, "result": {"score": {"raw": 8, "min": 0, "max": 10}}},
        "o1",
        now,
        prefix="urn:lms:module:",
        trusted=True,
    )
    assert fact is not None and fact.module == "M1" and fact.score == 80.0


def test_document_preconditions_and_merge() -> None:
    check = documents.check_preconditions
    assert check("abc", '"abc"', None, overwrite="profile").status == 0
    assert check("abc", '"xyz"', None, overwrite="free").status == 412
    assert check(None, "*", None, overwrite="free").status == 412
    assert check("abc", None, "*", overwrite="free").status == 412
    assert check(None, None, "*", overwrite="profile").status == 0
    assert check("abc", None, None, overwrite="profile").status == 409
    assert check(None, None, None, overwrite="profile").status == 400
    assert check("abc", None, None, overwrite="existing-409").status == 409
    assert check("abc", None, None, overwrite="free").status == 0
    assert documents.merged(b'{"a":1,"b":1}', "application/json", b'{"b":2}', "application/json") == b'{"a":1,"b":2}'
    assert documents.merged(b"text", "text/plain", b'{"b":2}', "application/json") is None
    assert documents.etag(b"x") == hashlib.sha1(b"x").hexdigest()


def test_multipart_round_trip() -> None:
    body, content_type = multipart.build(b'{"a":1}', [("d" * 64, "text/plain", b"hello\r\nworld")])
    parts = multipart.parse(body, content_type)
    assert parts[0].content == b'{"a":1}' and parts[1].content == b"hello\r\nworld"
    assert parts[1].headers["x-experience-api-hash"] == "d" * 64
    assert multipart.matches(b"abc", hashlib.sha256(b"abc").hexdigest())
    assert multipart.matches(b"abc", hashlib.sha512(b"abc").hexdigest())
    assert not multipart.matches(b"abd", hashlib.sha256(b"abc").hexdigest())
    with pytest.raises(multipart.MultipartError):
        multipart.parse(b"--x\r\n\r\nno end", "multipart/mixed; boundary=x")


def test_signatures() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    statement = stmt(id="7f3a8d6e-7bd5-4d8f-9d3e-2a9c1e4b5f60")
    payload = msgspec.json.encode(statement)
    token = jwt.api_jws.encode(payload, key, algorithm="RS256", headers={"x5c": [x5c_certificate(key)]})
    assert signature_problem(token.encode(), statement) is None
    assert "not the statement" in str(signature_problem(token.encode(), stmt(verb={"id": "http://other"})))
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.api_jws.encode(payload, key, algorithm="RS256", headers={"x5c": [x5c_certificate(other)]})
    assert "does not verify" in str(signature_problem(forged.encode(), statement))
    es = jwt.api_jws.encode(payload, ec.generate_private_key(ec.SECP256R1()), algorithm="ES256")
    assert "RS256" in str(signature_problem(es.encode(), statement))
    assert "compact" in str(signature_problem(b"not a jws", statement))
