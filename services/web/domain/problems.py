"""Every problem the services can answer, in the page's language (Korean and English).

A problem (RFC 9457) has a ``type`` slug (``urn:lms:problem:<slug>``) and, for bad fields or rows,
``errors`` entries with a ``message`` or ``reason``. Here:

- ``PROBLEMS``: every slug the services can return -> a title in Korean and English;
- ``DETAILS``: every field or row message the services write -> Korean (``{}`` in a key is a
  variable part, ``{0}``, ``{1}`` ... in the Korean text put them back). In English the service's
  own words are shown (they are written for people), as a sentence;
- ``VALIDATION``: msgspec's validation messages (every request body and parameter goes through
  it) -> Korean and English, with the type names said in words;
- :func:`form_errors`: every error of a problem, grouped by the form field it concerns, in the
  page's language, so a page shows all of them at once, each beside its field.

``tests/web/test_problem_texts.py`` collects the slugs and messages from the services' code and
fails when one is missing here.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from services.web.domain.i18n import translate

Text = tuple[str, str]  # (Korean, English)

PROBLEMS: dict[str, Text] = {
    # requests and access
    "validation": ("입력값을 확인하세요.", "Check the values entered."),
    "bad-request": ("요청이 올바르지 않습니다.", "The request is not valid."),
    "invalid-value": ("값이 범위를 벗어났거나 형식이 맞지 않습니다.", "A value is out of range or malformed."),
    "too-deep": ("값이 너무 깊게 중첩되어 있습니다.", "A value is nested too deeply."),
    "payload-too-large": ("보낸 내용이 너무 큽니다.", "What was sent is too large."),
    "not-json": ("JSON 객체만 합칠 수 있습니다.", "Only JSON objects can be merged."),
    "unauthenticated": ("다시 로그인하세요.", "Please sign in again."),
    "unauthorized": ("다시 로그인하세요.", "Please sign in again."),
    "forbidden": ("이 작업을 할 권한이 없습니다.", "You may not do this."),
    "not-found": ("찾을 수 없거나 볼 권한이 없습니다.", "Not found, or not yours to see."),
    "method-not-allowed": ("이 주소에서는 할 수 없는 요청입니다.", "This request is not possible here."),
    "rate-limited": ("요청이 너무 많습니다. 잠시 후 다시 시도하세요.", "Too many requests; try again shortly."),
    "too-many-requests": ("요청이 너무 많습니다. 잠시 후 다시 시도하세요.", "Too many requests; try again shortly."),
    "conflict": ("다른 변경과 겹쳤습니다. 다시 시도하세요.", "Another change got in the way; try again."),
    "retry": (
        "동시에 들어온 요청과 겹쳐 취소되었습니다. 다시 보내세요.",
        "It collided with another request; send it again.",
    ),
    "invalid-cursor": ("목록을 처음부터 다시 여세요.", "Open the list again from its start."),
    "idempotency-key-reused": (
        "같은 요청 키가 다른 내용으로 이미 쓰였습니다.",
        "This request key was already used with other content.",
    ),
    "invalid-idempotency-key": ("요청 키가 올바르지 않습니다.", "The request key is not valid."),
    "precondition-failed": ("그 사이에 내용이 바뀌었습니다.", "It changed in the meantime."),
    "precondition-required": ("바뀌지 않았음을 확인할 값이 필요합니다.", "A check that nothing changed is needed."),
    # the services themselves
    "internal": ("서비스에서 오류가 났습니다. 요청 번호를 알려 주세요.", "Something went wrong; quote the request id."),
    "internal-server-error": (
        "서비스에서 오류가 났습니다. 요청 번호를 알려 주세요.",
        "Something went wrong; quote the request id.",
    ),
    "database-unavailable": (
        "데이터베이스에 연결할 수 없습니다. 잠시 후 다시 시도하세요.",
        "The database cannot be reached; try again shortly.",
    ),
    "service-unavailable": ("서비스를 잠시 쓸 수 없습니다.", "The service is unavailable for a moment."),
    "not-ready": ("서비스가 아직 준비되지 않았습니다.", "The service is not ready yet."),
    # the diagnostic and the item bank
    "retake-cooldown": (
        "재응시 대기 기간이 아직 끝나지 않았습니다.",
        "The waiting time before a retake has not passed.",
    ),
    "session-ended": ("이미 끝난 진단평가입니다.", "This diagnostic has ended."),
    "session-expired": ("시간이 지나 진단평가가 끝났습니다.", "The diagnostic expired."),
    "not-current-item": ("지금 풀 문항이 아닙니다.", "That is not the current item."),
    "answer-already-recorded": ("이 문항의 답은 이미 기록되었습니다.", "This item's answer is already recorded."),
    "invalid-result-id": ("결과 ID가 올바르지 않습니다.", "The result id is not valid."),
    "no-active-bank": ("게시된 문항 은행이 없습니다.", "No item bank is published."),
    "bank-unusable": ("게시된 문항 은행에 낼 문항이 없습니다.", "The published item bank has no item to give."),
    "empty-bank": ("게시할 문항이 없습니다.", "There are no items to publish."),
    "invalid-import": ("잘못된 행이 있어 아무것도 가져오지 않았습니다.", "Nothing was imported: fix every listed row."),
    "invalid-item": ("문항에 잘못된 값이 있습니다.", "The item has invalid values."),
    "duplicate-code": ("같은 코드의 문항이 이미 있습니다.", "An item with this code exists."),
    "no-responses": ("보정할 응답이 아직 없습니다.", "There are no responses to calibrate yet."),
    # learning paths, sessions, attendance
    "no-learning-path": ("먼저 진단평가를 받으세요.", "Take the diagnostic first."),
    "placement-conflict": (
        "같은 진단 결과가 다른 내용으로 이미 들어왔습니다.",
        "This result arrived before with other content.",
    ),
    "session-full": ("자리가 없습니다.", "The session is full."),
    "session-started": (
        "이미 시작한 과정입니다. 다가오는 과정을 고르세요.",
        "The session has started; choose an upcoming one.",
    ),
    "already-enrolled": ("이 레벨에 이미 신청했습니다.", "You are already enrolled at this level."),
    "enrolment-closed": ("신청이 마감되었습니다.", "Enrolment is closed."),
    "not-current-level": ("지금 레벨의 과정만 신청할 수 있습니다.", "You can only enrol at your current level."),
    "seats-below-enrolled": ("정원을 신청 인원보다 적게 할 수 없습니다.", "Seats cannot go below the number enrolled."),
    "not-your-session": ("내가 맡은 과정만 다룰 수 있습니다.", "You may only work with sessions you teach."),
    "day-in-future": ("아직 오지 않은 날입니다.", "That day has not happened yet."),
    "day-outside-session": ("과정 기간에 속하지 않는 날입니다.", "That day is not a day of the session."),
    "duplicate-days": ("같은 날을 두 번 넣었습니다.", "A day is listed twice."),
    "duplicate-officials": ("같은 사람을 두 번 넣었습니다.", "An official is listed twice."),
    "not-enrolled": ("과정에 신청한 사람만 표시할 수 있습니다.", "Only enrolled officials can be marked."),
    "reason-required": ("사유가 필요합니다.", "A reason is needed."),
    "invalid-events": (
        "결과가 저장되지 않았습니다. 표시된 항목을 고치세요.",
        "Nothing was stored: fix every listed row.",
    ),
    "duplicate-event-ids": ("같은 ID의 기록을 두 번 보냈습니다.", "A record id was sent twice."),
    "event-conflict": (
        "같은 ID의 기록이 다른 내용으로 이미 있습니다.",
        "A record with this id exists with other content.",
    ),
    "unknown-module": ("이 레벨에 없는 모듈입니다.", "That module is not part of this level."),
    "already-waived": ("이미 면제되었습니다.", "It is already waived."),
    # curricula
    "invalid-curriculum": ("교육과정에 고칠 곳이 있습니다.", "The curriculum has problems to fix."),
    "curriculum-immutable": ("게시된 교육과정은 바꿀 수 없습니다.", "A published curriculum cannot change."),
    "not-a-draft": ("초안만 게시할 수 있습니다.", "Only a draft can be published."),
    "not-published": ("초안은 폐기할 수 없습니다.", "A draft cannot be retired."),
    "version-exists": ("같은 버전 이름이 이미 있습니다.", "This version label exists."),
    "no-published-curriculum": ("게시된 교육과정이 없습니다.", "No curriculum is published."),
    # certificates
    "invalid-level": ("레벨은 0부터 4까지입니다.", "The level must be 0 to 4."),
    "invalid-serial": ("수료증 일련번호 형식이 아닙니다.", "This is not a certificate serial."),
    "invalid-transition": (
        "지금 상태에서는 할 수 없는 변경입니다.",
        "That change is not possible in the current status.",
    ),
    "already-issued": ("이 레벨의 수료증이 이미 있습니다.", "A certificate for this level exists."),
    "already-superseded": ("이미 재발급된 수료증입니다.", "This certificate was already re-issued."),
    "official-mismatch": ("주소와 본문의 공무원 ID가 다릅니다.", "The official ids in the path and body differ."),
    "status-list-full": (
        "상태 목록 번호를 받지 못했습니다. 다시 시도하세요.",
        "No status-list index was free; try again.",
    ),
    "forbidden-target": ("그 주소로는 알림을 보낼 수 없습니다.", "Notifications cannot be sent there."),
    "subscription-disabled": ("구독이 꺼져 있습니다.", "The subscription is disabled."),
    # xAPI (learning record clients)
    "invalid-statement": ("xAPI 기록이 올바르지 않습니다.", "The xAPI statement is not valid."),
    "invalid-xapi-request": ("xAPI 요청이 올바르지 않습니다.", "The xAPI request is not valid."),
    "statement-conflict": (
        "같은 ID의 xAPI 기록이 다른 내용으로 있습니다.",
        "A statement with this id has other content.",
    ),
    "xapi-version-missing": ("xAPI 버전 헤더가 필요합니다.", "The xAPI version header is needed."),
    "xapi-version-unsupported": ("지원하지 않는 xAPI 버전입니다.", "That xAPI version is not supported."),
}

# a problem type this list does not know yet (a newer service): its status still says something
STATUS: dict[int, Text] = {
    400: ("요청이 올바르지 않습니다.", "The request is not valid."),
    401: ("다시 로그인하세요.", "Please sign in again."),
    403: ("이 작업을 할 권한이 없습니다.", "You may not do this."),
    404: ("찾을 수 없습니다.", "Not found."),
    409: ("지금 상태와 맞지 않습니다.", "This conflicts with the current state."),
    413: ("보낸 내용이 너무 큽니다.", "What was sent is too large."),
    422: ("지금은 받아들일 수 없는 값입니다.", "Not acceptable in the current state."),
    429: ("요청이 너무 많습니다. 잠시 후 다시 시도하세요.", "Too many requests; try again shortly."),
    500: ("서비스에서 오류가 났습니다.", "Something went wrong."),
    503: ("서비스를 잠시 쓸 수 없습니다.", "The service is unavailable for a moment."),
}

DETAILS: dict[str, str] = {
    # the kernel (every service)
    "Object missing required field": "필수 항목입니다.",
    "Object contains unknown field": "알 수 없는 항목입니다.",
    "invalid value": "올바른 값이 아닙니다.",
    "longer than {} characters": "{0}자보다 깁니다.",
    "needs a time zone offset, e.g. {}": "시간대 오프셋이 필요합니다 (예: {0}).",
    "is in the future": "미래 시각입니다.",
    "is more than {} years ago": "{0}년보다 더 전입니다.",
    # certification
    "expected 0-4": "0부터 4까지여야 합니다.",
    "one of {}": "다음 중 하나여야 합니다: {0}",
    "must be before issued_to": "issued_to보다 앞서야 합니다.",
    "differs from the path": "주소의 값과 다릅니다.",
    "unknown: {}": "알 수 없는 값: {0}",
    "not an absolute http(s) URL": "http(s)로 시작하는 절대 주소가 아닙니다.",
    "the host {} does not resolve": "호스트 {0}의 주소를 찾을 수 없습니다.",
    "the host {} resolves to a loopback, private or link-local address ({}); webhooks go to public addresses only": (
        "호스트 {0}이(가) 내부 주소({1})로 연결됩니다. 알림은 공개 주소로만 보냅니다."
    ),
    # placement: items and the diagnostic
    "invalid domain code": "올바른 영역 코드가 아닙니다.",
    "must be below {}": "{0}보다 작아야 합니다.",
    'must be a string or {{"ko": ..., "en": ...}}': '문자열 또는 {{"ko": ..., "en": ...}} 형식이어야 합니다.',
    "must not be empty": "비어 있으면 안 됩니다.",
    'must have "ko" and/or "en"': '"ko" 또는 "en"이 있어야 합니다.',
    "unknown languages {}; use ko and en": "알 수 없는 언어 {0}입니다. ko와 en을 쓰세요.",
    "every language must be a non-empty string": "모든 언어의 값은 비어 있지 않은 문자열이어야 합니다.",
    "must be an object with the item's fields": "문항 항목을 가진 객체여야 합니다.",
    "unknown field; expected {}": "알 수 없는 항목입니다. 가능한 항목: {0}",
    "is required": "필수 항목입니다.",
    "must be 1-64 characters of letters, digits, '.', '_' or '-'": "영문, 숫자, '.', '_', '-'로 1~64자여야 합니다.",
    "must be a domain code of at most 64 characters": "64자 이하의 영역 코드여야 합니다.",
    "unknown domain {}; use one of {} or define it first": (
        "알 수 없는 영역 {0}입니다. {1} 중 하나를 쓰거나 먼저 정의하세요."
    ),
    "must be a number (NaN is not one)": "숫자여야 합니다 (NaN은 숫자가 아닙니다).",
    "must be finite": "유한한 수여야 합니다.",
    "must be positive": "양수여야 합니다.",
    "must be in [0, 0.5)": "0 이상 0.5 미만이어야 합니다.",
    "must be between -10 and 10": "-10과 10 사이여야 합니다.",
    "must be at most 10": "10 이하여야 합니다.",
    "must be a list of 2 to 6 options": "보기 2~6개의 목록이어야 합니다.",
    "must be the integer index of the correct option": "정답 보기의 번호(정수)여야 합니다.",
    "the correct answer is option {}, but the item's options are numbered 0 to {}": (
        "정답이 보기 {0}번으로 되어 있지만, 이 문항의 보기 번호는 0~{1}번입니다."
    ),
    "must be one of {}": "다음 중 하나여야 합니다: {0}",
    "the file has no items": "파일에 문항이 없습니다.",
    "duplicate code {} (first on row {})": "코드 {0}이(가) 중복됩니다 (처음 나온 행: {1}).",
    "not valid JSON: {}": "올바른 JSON이 아닙니다: {0}",
    'expected a JSON list of items or {{"items": [...]}}': (
        '문항의 JSON 목록 또는 {{"items": [...]}} 형식이어야 합니다.'
    ),
    "CSV must be UTF-8": "CSV는 UTF-8이어야 합니다.",
    "the CSV has no header row": "CSV에 머리글 행이 없습니다.",
    # progress: attendance, events, curricula
    "not enrolled in this session": "이 과정에 신청하지 않았습니다.",
    "also listed at index {}": "{0}번째에도 있습니다.",
    "occurred_at needs a time zone (use UTC, ...Z)": "occurred_at에 시간대가 필요합니다 (UTC, ...Z).",
    "a {} event carries no score": "{0} 기록에는 점수가 없습니다.",
    "learners may only send their own events": "교육생은 자신의 기록만 보낼 수 있습니다.",
    "a learner cannot report {}: "
    "assessment results and attendance come from the assessment service, an instructor or an admin": (
        "교육생은 {0}을(를) 보고할 수 없습니다. 평가 결과와 출석은 평가 서비스, 강사 또는 관리자가 기록합니다."
    ),
    "instructors may only record results for officials they teach": (
        "강사는 자신이 가르치는 교육생의 결과만 기록할 수 있습니다."
    ),
    "module {} is not in a level you teach this official": "모듈 {0}은(는) 이 교육생에게 가르치는 레벨에 없습니다.",
    "an event with this id was already received with different content": (
        "같은 ID의 기록이 다른 내용으로 이미 들어왔습니다."
    ),
    "duplicate id in this batch (first at index {})": "같은 ID가 두 번 있습니다 (처음: {0}번째).",
    "must hold levels 0-4 once each, got {}": "레벨 0~4가 한 번씩 있어야 합니다 (받은 값: {0}).",
    "a level has at most one final assessment": "레벨마다 최종 평가는 하나까지입니다.",
    "module {} depends on a higher level's {}": "모듈 {0}이(가) 더 높은 레벨의 {1}에 의존합니다.",
    "module code {} is used twice": "모듈 코드 {0}이(가) 두 번 쓰였습니다.",
    "a final assessment needs min_score": "최종 평가에는 min_score가 필요합니다.",
    "rule {} takes no min_score": "규칙 {0}에는 min_score가 없습니다.",
    "a final assessment must be passed": "최종 평가는 통과해야 하는 규칙이어야 합니다.",
    "prerequisites form a cycle: {}": "선수 과목이 순환합니다: {0}",
    # progress: xAPI statements and documents
    "{}: given more than once": "{0}: 두 번 이상 주어졌습니다.",
    "activityId: must be an IRI": "activityId: IRI여야 합니다.",
    "registration: must be a UUID": "registration: UUID여야 합니다.",
    "{}: a signature's contentType is application/octet-stream": (
        "{0}: 서명의 contentType은 application/octet-stream입니다."
    ),
    "{}: no part with this sha2 and no fileUrl": "{0}: 이 sha2의 부분도 fileUrl도 없습니다.",
    "exists with different content": "다른 내용으로 이미 있습니다.",
    "the JWS algorithm must be RS256, RS384 or RS512, not {}": (
        "JWS 알고리즘은 RS256, RS384, RS512 중 하나여야 합니다 ({0} 아님)."
    ),
    "the JWS does not verify: {}": "JWS 서명이 검증되지 않습니다: {0}",
    "the JWS payload is not the statement it is attached to": "JWS 내용이 첨부된 기록과 다릅니다.",
    "the JWS payload is not the statement it is attached to (id differs)": (
        "JWS 내용이 첨부된 기록과 다릅니다 (ID가 다름)."
    ),
    "the signature attachment is not a JWS in compact serialization": "서명 첨부가 compact 직렬화 JWS가 아닙니다.",
    "text containing U+0000 (NUL) cannot be stored": "U+0000(NUL)이 든 텍스트는 저장할 수 없습니다.",
    "must be a JSON object": "JSON 객체여야 합니다.",
    "must be a string": "문자열이어야 합니다.",
    "must be an IRI (absolute, with a scheme)": "스킴이 있는 절대 IRI여야 합니다.",
    "must be an IRL (an absolute URL that can be looked up)": "조회할 수 있는 절대 URL(IRL)이어야 합니다.",
    'must be a "mailto:" IRI with an e-mail address': '전자우편 주소가 든 "mailto:" IRI여야 합니다.',
    "must be the hex SHA-1 of a mailto IRI (40 hex digits)": "mailto IRI의 SHA-1 16진수(40자리)여야 합니다.",
    "an Agent needs exactly one identifier (mbox, mbox_sha1sum, openid or account)": (
        "Agent에는 식별자(mbox, mbox_sha1sum, openid, account)가 정확히 하나 있어야 합니다."
    ),
    'must be "Group"': '"Group"이어야 합니다.',
    "a Group has at most one identifier": "Group의 식별자는 하나까지입니다.",
    "an anonymous Group (no identifier) must list its members": "식별자 없는 Group은 구성원을 나열해야 합니다.",
    'must be "Activity"': '"Activity"여야 합니다.',
    "interaction components need an interactionType": "상호작용 구성 요소에는 interactionType이 필요합니다.",
    "correctResponsesPattern needs an interactionType": "correctResponsesPattern에는 interactionType이 필요합니다.",
    "must be an ISO 8601 duration": "ISO 8601 기간이어야 합니다.",
    "must lie between -1 and 1": "-1과 1 사이여야 합니다.",
    "min must be less than max": "min은 max보다 작아야 합니다.",
    "must not be below min": "min보다 작으면 안 됩니다.",
    "must not be above max": "max보다 크면 안 됩니다.",
    "must be a UUID": "UUID여야 합니다.",
    "must be an RFC 5646 language tag": "RFC 5646 언어 태그여야 합니다.",
    "must be an array": "배열이어야 합니다.",
    "must be an ISO 8601 timestamp": "ISO 8601 시각이어야 합니다.",
    'must be "1.0.x" or "2.0.x"': '"1.0.x" 또는 "2.0.x"여야 합니다.',
    "is not a property xAPI allows here (property names are case sensitive)": (
        "xAPI가 여기서 허용하지 않는 속성입니다 (속성 이름은 대소문자를 구분합니다)."
    ),
    "is not an RFC 5646 language tag": "RFC 5646 언어 태그가 아닙니다.",
    "a language map's values are strings": "언어 맵의 값은 문자열입니다.",
    "extension keys must be IRIs": "확장 키는 IRI여야 합니다.",
    "must be an array of Agents": "Agent의 배열이어야 합니다.",
    "must be an array of strings": "문자열의 배열이어야 합니다.",
    "is not a component of a {} interaction": "{0} 상호작용의 구성 요소가 아닙니다.",
    "must be an array of interaction components": "상호작용 구성 요소의 배열이어야 합니다.",
    "must be true or false": "true 또는 false여야 합니다.",
    "must be a number": "숫자여야 합니다.",
    'must be "StatementRef"': '"StatementRef"여야 합니다.',
    "must be an Internet media type": "인터넷 미디어 유형이어야 합니다.",
    "must be an integer": "정수여야 합니다.",
    "must be a hex SHA-2 hash": "SHA-2 해시(16진수)여야 합니다.",
    "a voiding statement's object must be a StatementRef": "무효화 기록의 object는 StatementRef여야 합니다.",
    "must not be null": "null이면 안 됩니다.",
    "is required (a string)": "필수 항목입니다 (문자열).",
    "is required when the object is an Agent or Group": "object가 Agent나 Group이면 필수입니다.",
    "is only allowed when the object is an Activity": "object가 Activity일 때만 쓸 수 있습니다.",
    'must be "context{}"': '"context{0}"이어야 합니다.',
    "must be a non-empty array of IRIs": "비어 있지 않은 IRI 배열이어야 합니다.",
    "a Group authority is an anonymous Group of exactly two Agents (an OAuth consumer and user)": (
        "Group 권한 주체는 Agent 둘(OAuth 소비자와 사용자)로 된 익명 Group이어야 합니다."
    ),
    "ids within a component list must be unique": "구성 요소 목록 안의 ID는 서로 달라야 합니다.",
    "a StatementRef's id must be a UUID": "StatementRef의 id는 UUID여야 합니다.",
    "must be Activity, Agent, Group, StatementRef or SubStatement": (
        "Activity, Agent, Group, StatementRef, SubStatement 중 하나여야 합니다."
    ),
    "a SubStatement cannot contain a SubStatement": "SubStatement 안에 SubStatement를 둘 수 없습니다.",
}

# msgspec's messages (regular expressions; Korean and English with {0}, {1} ... for the groups)
VALIDATION: list[tuple[str, str, str]] = [
    (r"Expected `([^`]+)`, got `([^`]+)`", "{0} 값이어야 합니다 (받은 값: {1}).", "Must be {0} (got {1})."),
    (r"Object missing required field `([^`]+)`", "필수 항목 {0}이(가) 없습니다.", "{0} is required."),
    (r"Object contains unknown field `([^`]+)`", "알 수 없는 항목 {0}입니다.", "{0} is not a known field."),
    (r"Invalid enum value (.+)", "허용되지 않는 값입니다: {0}", "{0} is not one of the allowed values."),
    (r"Expected `[^`]+` >= (\S+)", "{0} 이상이어야 합니다.", "Must be at least {0}."),
    (r"Expected `[^`]+` > (\S+)", "{0}보다 커야 합니다.", "Must be more than {0}."),
    (r"Expected `[^`]+` <= (\S+)", "{0} 이하여야 합니다.", "Must be at most {0}."),
    (r"Expected `[^`]+` < (\S+)", "{0}보다 작아야 합니다.", "Must be less than {0}."),
    (r"Expected `[^`]+` that's a multiple of (\S+)", "{0}의 배수여야 합니다.", "Must be a multiple of {0}."),
    (r"Expected `[^`]+` of length >= (\d+)", "길이가 {0} 이상이어야 합니다.", "Must have a length of at least {0}."),
    (r"Expected `[^`]+` of length <= (\d+)", "길이가 {0} 이하여야 합니다.", "Must have a length of at most {0}."),
    (r"Expected `[^`]+` matching regex (.+)", "형식이 맞지 않습니다 ({0}).", "Does not match the expected form ({0})."),
    (r"Expected `datetime` with a timezone component", "시간대가 있는 일시여야 합니다.", "Needs a time zone offset."),
    (r"Expected `datetime` with no timezone component", "시간대 없는 일시여야 합니다.", "Must have no time zone."),
    (r"Invalid UUID", "UUID 형식이 아닙니다.", "Not a UUID."),
    (
        r"Invalid RFC3339 encoded datetime",
        "일시 형식(예: 2026-03-02T09:00:00+09:00)이 아닙니다.",
        "Not a date and time.",
    ),
    (r"Invalid RFC3339 encoded date", "날짜 형식(예: 2026-03-02)이 아닙니다.", "Not a date (e.g. 2026-03-02)."),
    (r"Invalid RFC3339 encoded time", "시각 형식(예: 09:00)이 아닙니다.", "Not a time (e.g. 09:00)."),
    (r"Invalid ISO8601 duration", "ISO 8601 기간 형식이 아닙니다.", "Not an ISO 8601 duration."),
    (r"Invalid decimal string", "십진수 형식이 아닙니다.", "Not a decimal number."),
    (r"Invalid base64 encoded string", "base64 형식이 아닙니다.", "Not base64."),
]

TYPE_WORDS: dict[str, Text] = {
    "int": ("정수", "a whole number"),
    "float": ("숫자", "a number"),
    "str": ("문자열", "text"),
    "bool": ("참/거짓", "true or false"),
    "array": ("목록", "a list"),
    "object": ("객체", "an object"),
    "null": ("빈 값", "empty"),
    "datetime": ("일시", "a date and time"),
    "date": ("날짜", "a date"),
    "time": ("시각", "a time"),
    "uuid": ("UUID", "a UUID"),
}


def _types(text: str, lang: str) -> str:
    """```int | null``` -> "정수 또는 빈 값" / "a whole number or empty"; other text as is."""
    words = [TYPE_WORDS.get(part.strip()) for part in text.split("|")]
    if not all(words):
        return text
    joiner = " 또는 " if lang == "ko" else " or "
    return joiner.join(w[0] if lang == "ko" else w[1] for w in words if w)


@lru_cache(maxsize=1)
def _patterns() -> list[tuple[re.Pattern[str], str, str | None]]:
    """DETAILS keys and VALIDATION as anchored regular expressions, longest first."""
    out: list[tuple[re.Pattern[str], str, str | None]] = []
    for key, ko in DETAILS.items():
        parts = re.split(r"(\{\{|\}\}|\{\})", key)
        regex = "".join({"{{": re.escape("{"), "}}": re.escape("}"), "{}": "(.+?)"}.get(p, re.escape(p)) for p in parts)
        out.append((re.compile(f"^{regex}$", re.S), ko, None))
    out.sort(key=lambda entry: -len(entry[0].pattern))
    out += [(re.compile(f"^{regex}$", re.S), ko, en) for regex, ko, en in VALIDATION]
    return out


def sentence(text: str) -> str:
    """A service's fragment as a sentence: a capital first letter and a full stop."""
    text = text.strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".!?)" else f"{text}."


def detail_text(message: str, lang: str) -> str:
    """One field or row message in ``lang``; a message nobody has translated yet is shown as the
    service wrote it (never dropped). ``path: message`` keeps its path and translates the rest."""
    for regex, ko, en in _patterns():
        found = regex.match(message)
        if found is None:
            continue
        groups = [_types(g, lang) for g in found.groups()]
        if lang == "ko":
            return ko.format(*groups)
        return en.format(*groups) if en is not None else sentence(message)
    if ": " in message:
        where, rest = message.split(": ", 1)
        translated = detail_text(rest, lang)
        if translated != rest:
            return f"{where}: {translated}"
    return message if lang == "ko" else sentence(message)


def problem_title(slug: str, status: int, lang: str) -> str:
    """The problem's title in ``lang``: by its type, else by its HTTP status."""
    pair = PROBLEMS.get(slug) or STATUS.get(status) or STATUS[500 if status >= 500 else 400]
    return pair[1] if lang == "en" else pair[0]


def slug_of(problem: dict[str, Any]) -> str:
    return str(problem.get("type", "")).rsplit(":", 1)[-1]


def field_name(raw: str) -> str:
    """``$.records[0].status`` / ``body.seats`` / ``seats`` -> ``seats`` or ``records``."""
    name = raw.removeprefix("$.").removeprefix("body.").removeprefix("$")
    return name.split(".")[0].split("[")[0] or "form"


def _mark(value: Any, lang: str) -> str:
    key = f"mark.{value}"
    word = translate(lang, key)
    return str(value) if word == key else word


def form_errors(problem: dict[str, Any], lang: str) -> dict[str, list[str]]:
    """Every error of ``problem``, by the form field it concerns (the first part of its path; an
    official's id for attendance; ``form`` for the rest), each in ``lang``; all of them at once."""
    grouped: dict[str, list[str]] = {}
    row_word = "행" if lang == "ko" else "Row"
    for entry in problem.get("errors") or []:
        if not isinstance(entry, dict):
            continue
        field = entry.get("field")
        where = field_name(str(field)) if field else str(entry.get("official_id") or entry.get("row") or "form")
        message = str(entry.get("message") or entry.get("reason") or "")
        text = detail_text(message, lang) if message else ""
        if not message and "from" in entry and "to" in entry:  # a recorded attendance mark to change
            text = f"{_mark(entry['from'], lang)} → {_mark(entry['to'], lang)}"
        if entry.get("row") is not None and entry.get("field"):
            text = f"{row_word} {entry['row']}: {text}"
        grouped.setdefault(where, []).append(text)
    return grouped
