"""The public verification page: plain server-rendered HTML in Korean or English."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from html import escape
from zoneinfo import ZoneInfo

from services.certification.domain.credential import LEVELS
from services.common.text import neutralise_bidi

SEOUL = ZoneInfo("Asia/Seoul")

TEXT = {
    "en": {
        "title": "Certificate verification",
        "valid": "Valid",
        "revoked": "Revoked",
        "suspended": "Suspended",
        "expired": "Expired",
        "superseded": "Replaced by a newer certificate",
        "not-found": "No certificate has this serial",
        "invalid-serial": "This is not a valid serial (check digit mismatch)",
        "holder": "Holder",
        "level": "Level",
        "serial": "Serial",
        "issued": "Issued",
        "valid_until": "Valid until",
        "reason": "Reason",
        "replaced_by": "Replaced by",
        "issuer": "Issuer",
        "credential": "Machine-readable result",
        "switch": "한국어",
    },
    "ko": {
        "title": "수료증 진위 확인",
        "valid": "유효",
        "revoked": "취소됨",
        "suspended": "효력 정지됨",
        "expired": "만료됨",
        "superseded": "새 수료증으로 재발급됨",
        "not-found": "이 일련번호의 수료증이 없습니다",
        "invalid-serial": "올바른 일련번호가 아닙니다 (검증 숫자 불일치)",
        "holder": "수료자",
        "level": "레벨",
        "serial": "일련번호",
        "issued": "발급일",
        "valid_until": "유효기간",
        "reason": "사유",
        "replaced_by": "재발급 일련번호",
        "issuer": "발급 기관",
        "credential": "기계 판독용 결과",
        "switch": "English",
    },
}


@dataclass(frozen=True)
class PageFacts:
    serial: str
    status: str  # valid | revoked | suspended | expired | superseded | not-found | invalid-serial
    holder_name: str = ""
    level: int | None = None
    issued_at: datetime | None = None
    valid_until: datetime | None = None
    reason: str | None = None
    superseded_by: str | None = None
    issuer_name: str = ""


def choose_language(query: str | None, accept_language: str | None) -> str:
    if query in ("ko", "en"):
        return query
    best, best_q = "ko", -1.0
    for part in (accept_language or "").split(","):
        tag, _, params = part.strip().partition(";")
        lang = tag.strip().lower()[:2]
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        if lang in ("ko", "en") and q > best_q:
            best, best_q = lang, q
    return best


def _date(moment: datetime, lang: str) -> str:
    local = moment.astimezone(SEOUL)
    return f"{local.year}년 {local.month}월 {local.day}일" if lang == "ko" else local.strftime("%d %B %Y")


def render(facts: PageFacts, lang: str) -> str:
    t = TEXT[lang]
    other = "en" if lang == "ko" else "ko"
    colour = {"valid": "#1b7f3b"}.get(facts.status, "#b3261e")
    rows: list[tuple[str, str]] = [(t["serial"], facts.serial)]
    if facts.holder_name:
        rows.append((t["holder"], facts.holder_name))
    if facts.level is not None:
        info = LEVELS[facts.level]
        rows.append((t["level"], f"{facts.level} · {info.ko if lang == 'ko' else info.en}"))
    if facts.issued_at:
        rows.append((t["issued"], _date(facts.issued_at, lang)))
    if facts.valid_until:
        rows.append((t["valid_until"], _date(facts.valid_until, lang)))
    if facts.reason and facts.status in ("revoked", "suspended"):
        rows.append((t["reason"], facts.reason))
    if facts.superseded_by:
        rows.append((t["replaced_by"], facts.superseded_by))
    if facts.issuer_name:
        rows.append((t["issuer"], facts.issuer_name))
    table = "\n".join(f"<tr><th>{escape(k)}</th><td><bdi>{escape(neutralise_bidi(v))}</bdi></td></tr>" for k, v in rows)
    serial = escape(facts.serial, quote=True)
    return f"""<!doctype html>
<html lang="{lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(t["title"])} · {serial}</title>
<style>
body{{font-family:system-ui,"Noto Sans KR",sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;color:#1c1b1f}}
.status{{font-size:1.6rem;font-weight:700;color:{colour};border:2px solid {colour};
padding:.6rem 1rem;border-radius:.5rem}}
table{{border-collapse:collapse;margin-top:1rem;width:100%}}th{{text-align:left;padding:.4rem 1rem .4rem 0;width:35%}}
td{{padding:.4rem 0}}
</style>
</head>
<body>
<p><a href="?lang={other}" hreflang="{other}">{escape(t["switch"])}</a></p>
<h1>{escape(t["title"])}</h1>
<p class="status" data-status="{escape(facts.status, quote=True)}">{escape(t[facts.status])}</p>
<table>
{table}
</table>
<p><a href="/v1/verify/{serial}">{escape(t["credential"])}</a></p>
</body>
</html>
"""
