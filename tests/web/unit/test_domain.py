"""The web app's pure pieces: words, times, charts, forms, PKCE and claim mapping."""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from services.web.domain import admin, charts, diagnostic, fmt, i18n, oidc, teaching
from services.web.domain.personas import DevSignIn, check_dev_sign_in

TEMPLATES = Path(__file__).resolve().parents[3] / "services" / "web" / "templates"


def test_every_message_has_both_languages_and_every_template_key_exists() -> None:
    for key, (ko, en) in i18n.MESSAGES.items():
        assert ko.strip() and en.strip(), key
        assert set(re.findall(r"{(\w+)}", ko)) == set(re.findall(r"{(\w+)}", en)), key
    used = set()
    for template in TEMPLATES.rglob("*.html"):
        used |= set(re.findall(r"""\bt\(["']([a-z0-9_.-]+)["']""", template.read_text()))
    prefixes = {k for k in used if k.endswith(".")}  # t("status." ~ value): some key must start with it
    missing = sorted(k for k in used - prefixes if k not in i18n.MESSAGES)
    missing += sorted(p for p in prefixes if not any(k.startswith(p) for k in i18n.MESSAGES))
    assert not missing, missing


def test_translate_fills_values_and_keeps_unknown_keys() -> None:
    assert i18n.translate("en", "level.n", n=3) == "Level 3"
    assert i18n.translate("ko", "level.n", n=3) == "레벨 3"
    assert i18n.translate("en", "no.such.key") == "no.such.key"


def test_times_are_shown_in_seoul() -> None:
    moment = datetime(2026, 3, 1, 23, 30, tzinfo=UTC)
    assert fmt.seoul(moment, "en") == "2026-03-02 08:30 KST"
    assert fmt.seoul("2026-03-01T23:30:00Z", "ko") == "2026년 3월 2일 08:30"
    assert fmt.day("2026-03-02", "en") == "2026-03-02 (Mon)"
    assert fmt.day("2026-03-02", "ko") == "2026년 3월 2일 (월)"
    assert fmt.seoul(None, "en") == ""


def test_bars_scale_to_the_largest_or_a_fixed_maximum() -> None:
    out = charts.bars([("a", 2), ("b", 4), ("c", 0)])
    assert [b.width for b in out] == [50.0, 100.0, 0.0]
    assert charts.bars([("x", 0.25)], maximum=1.0, as_percent=True)[0].text == "25%"
    assert charts.bars([("x", 0.0)])[0].width == 0.0


def test_answer_form_is_read_or_every_problem_named() -> None:
    good = diagnostic.parse_answer({"position": "3", "item_id": "0190d7a0-0000-7000-8000-000000000001", "choice": "2"})
    assert isinstance(good, diagnostic.Answer) and good.choice == 2
    bad = diagnostic.parse_answer({"position": "x", "item_id": "nope", "choice": ""})
    assert bad == {"form": "diagnostic.stale", "choice": "diagnostic.choose"}
    assert diagnostic.progress(25, 50).percent == 50 and diagnostic.progress(30, 60).percent == 50


def test_attendance_grid_and_results_forms() -> None:
    grid = teaching.read_grid({"mark-a": "present", "mark-b": "bogus", "reason": " late bus "}, ["a", "b", "c"])
    assert grid.records == [{"official_id": "a", "status": "present"}]
    assert grid.errors == {"b": "attendance.bad_mark"} and grid.reason == "late bus"
    assert teaching.read_grid({}, ["a"]).errors == {"form": "attendance.none"}
    now = datetime(2026, 3, 2, tzinfo=UTC)
    form = {"result-a": "passed", "score-a": "88", "result-b": "failed", "score-b": "120", "score-c": "50"}
    events, errors = teaching.assessment_events(form, ["a", "b", "c"], "L0-Q", now, "batch1")
    assert [e["official_id"] for e in events] == ["a"] and events[0]["score"] == 88.0
    assert errors == {"b": "assessment.score", "c": "assessment.choose"}


def test_session_form_lists_every_bad_field() -> None:
    parsed = admin.read_session_form({"title": "", "days": "2026-02-30", "seats": "x", "level": "1"}, create=True)
    assert parsed.errors == {"title": "form.required", "days": "form.days", "seats": "form.number"}
    ok = admin.read_session_form(
        {"title": "T", "days": "2026-03-02, 2026-03-03", "seats": "20", "level": "2"}, create=True
    )
    assert not ok.errors and ok.body["days"] == ["2026-03-02", "2026-03-03"] and ok.body["seats"] == 20
    patch = admin.read_session_form({"title": "T", "seats": "25", "instructor_id": ""}, create=False)
    assert patch.body == {"title": "T", "place": "", "instructor_id": None, "seats": 25, "enrolment_open": False}


def test_dev_sign_in_checks_persona_and_id() -> None:
    assert check_dev_sign_in(DevSignIn("learner", "kim-01", "", "")) == {}
    assert check_dev_sign_in(DevSignIn("root", "bad id", "", "x" * 65)) == {
        "persona": "signin.persona.bad",
        "sub": "signin.sub.bad",
        "org": "form.too_long",
    }


def test_pkce_challenge_and_authorization_url() -> None:
    pending = oidc.new_pending()
    expected = base64.urlsafe_b64encode(hashlib.sha256(pending.verifier.encode()).digest()).rstrip(b"=").decode()
    assert oidc.challenge(pending.verifier) == expected
    url = oidc.authorization_url(
        "https://idp.example/auth", client_id="web", redirect_uri="https://lms/cb", scope="openid", pending=pending
    )
    query = parse_qs(urlsplit(url).query)
    assert query["code_challenge_method"] == ["S256"] and query["state"] == [pending.state]
    assert query["nonce"] == [pending.nonce] and "code_verifier" not in query


def test_claims_are_mapped_with_configured_names() -> None:
    names = oidc.ClaimNames(org="org_unit", roles="groups")
    person = oidc.person_from_claims({"sub": "s1", "name": "Kim", "org_unit": "C1", "groups": "learner hr"}, names)
    assert person == oidc.Person("s1", "Kim", "C1", ["learner"])
    assert oidc.person_from_claims({"sub": "s2", "groups": 5}, names).roles == []


def test_the_navigation_marks_the_link_of_the_page_it_is_on() -> None:
    from services.web.api.common import nav_of

    assert nav_of("/") == "home"
    assert nav_of("/diagnostic") == nav_of("/diagnostic/abc/answer") == "diagnostic"
    assert nav_of("/sessions") == "sessions"
    assert nav_of("/teach/s1/attendance/2026-01-05") == "teach"
    assert nav_of("/admin") == "admin"
    assert nav_of("/admin/sessions/s1") == "admin/sessions"
    assert nav_of("/admin/certificates") == "admin/certificates"
    assert nav_of("/signin") == "signin"  # no link of that name: none is marked
    base = (TEMPLATES / "base.html").read_text()
    marked = set(re.findall(r'nav == "([^"]+)"', base))
    assert marked == {"home", "diagnostic", "sessions", "certificates", "teach", "admin"} | {
        f"admin/{p}" for p in ("sessions", "curricula", "items", "reviews", "certificates")
    }
    for name in marked:  # each marked link is the one its name says
        assert re.search(rf'href="/{"" if name == "home" else name}" {{% if nav == "{name}" %}}', base), name
