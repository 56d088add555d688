"""The printable certificate: Korean and English, serial, QR code to the verification page, a
stamp when the certificate is revoked, suspended, superseded or expired (in both languages), and
the credential attached (the VC-JWT and the JSON-LD with its Data Integrity proof).

PDF/A-3b by fpdf2 (its PDF/A-3B compliance mode: XMP metadata, sRGB output intent, the
credentials as Associated Files). One font, Noto Sans KR (SIL Open Font License, from the
``pylopdf-fonts-ko`` package, which ships it with its licence), covers every character printed:
Hangul, Latin, digits and punctuation such as U+00B7. It is embedded as a subset of the glyphs
used, with a ToUnicode map, so every viewer draws the same glyphs with no system font and text
extraction gives back the text. Rendering is deterministic (fixed dates and identifiers), so the
same certificate in the same state always gives the same bytes."""

from __future__ import annotations

import hashlib
import io
import tempfile
from dataclasses import dataclass
from datetime import datetime
from functools import cache, lru_cache
from html import escape
from importlib.resources import files
from pathlib import Path
from zoneinfo import ZoneInfo

import segno
from fontTools import subset
from fontTools.ttLib import TTFont
from fpdf import FPDF
from fpdf.enums import Align, DocumentCompliance

from services.certification.domain.credential import LEVELS

SEOUL = ZoneInfo("Asia/Seoul")
FONT = "NotoSansKR"
JWT_ATTACHMENT = "credential.jwt"
JSONLD_ATTACHMENT = "credential.jsonld"
# The stamp printed over a certificate that is no longer valid, in both languages.
STAMPS = {
    "revoked": ("취소됨", "REVOKED"),
    "suspended": ("효력 정지", "SUSPENDED"),
    "superseded": ("재발급됨", "SUPERSEDED"),
    "expired": ("유효기간 만료", "EXPIRED"),
}
GOLD = (140, 110, 41)
RED = (190, 25, 25)


@dataclass(frozen=True)
class PrintFacts:
    serial: str
    holder_name: str
    org: str
    level: int
    issued_at: datetime
    issuer_name: str
    issuer_name_ko: str
    verify_url: str
    vc_jwt: str
    status: str = "active"  # active, revoked, suspended, superseded or expired
    credential_jsonld: bytes = b""


def font_path() -> Path:
    return Path(str(files("pylopdf_fonts_ko").joinpath("NotoSansKR-Regular.otf")))


@cache
def _font_bytes() -> bytes:
    return font_path().read_bytes()


@lru_cache(maxsize=64)
def _font_subset(characters: str) -> bytes:
    """Noto Sans KR cut down to ``characters`` first (the full font is 4.6 MB; fpdf2 then subsets
    what a page really uses). Cached: the labels are the same on every certificate."""
    font = TTFont(io.BytesIO(_font_bytes()), lazy=True)
    options = subset.Options()
    options.name_IDs = ["*"]
    options.notdef_outline = True
    options.recalc_timestamp = False
    options.layout_features = ["*"]
    subsetter = subset.Subsetter(options)
    subsetter.populate(text=characters)
    subsetter.subset(font)
    out = io.BytesIO()
    font.save(out)
    return out.getvalue()


def _lines(facts: PrintFacts) -> dict[str, str]:
    info = LEVELS[facts.level]
    issued = facts.issued_at.astimezone(SEOUL)
    stamp = STAMPS.get(facts.status)
    return {
        "title_ko": "수 료 증",
        "title_en": "Certificate of Completion",
        "name": facts.holder_name,
        "org": facts.org,
        "body_ko": f"위 사람은 레벨 {facts.level} 「{info.ko}」 과정을 이수하였음을 증명합니다.",
        "body_en": f"has completed Level {facts.level}: {info.en}.",
        "date_ko": f"{issued.year}년 {issued.month}월 {issued.day}일",
        "date_en": issued.strftime("Issued %d %B %Y (Asia/Seoul)"),
        "issuer_ko": facts.issuer_name_ko,
        "issuer_en": facts.issuer_name,
        "serial": f"일련번호 Serial: {facts.serial}",
        "verify": f"진위 확인 Verify: {facts.verify_url}",
        "note": "이 PDF에는 검증 가능한 전자 자격증명이 첨부되어 있습니다. This PDF carries its verifiable credential.",
        "stamp_ko": stamp[0] if stamp else "",
        "stamp_en": stamp[1] if stamp else "",
    }


def _qr(pdf: FPDF, data: str, x: float, y: float, size: float) -> None:
    """A vector QR code: one filled rectangle per run of dark modules in a row."""
    matrix = [[bool(v) for v in row] for row in segno.make(data, error="m").matrix_iter(border=0)]
    module = size / len(matrix)
    pdf.set_fill_color(0, 0, 0)
    for r, row in enumerate(matrix):
        c = 0
        while c < len(row):
            if row[c]:
                start = c
                while c < len(row) and row[c]:
                    c += 1
                pdf.rect(x + start * module, y + r * module, (c - start) * module, module, style="F")
            else:
                c += 1


def _centred(pdf: FPDF, y: float, size: float, text: str) -> None:
    if not text:
        return
    pdf.set_font(FONT, size=size)
    pdf.set_xy(20, y)
    pdf.cell(w=pdf.w - 40, h=size * 0.45, text=text, align=Align.C)


def render(facts: PrintFacts) -> bytes:
    lines = _lines(facts)
    characters = "".join(sorted(set("".join(lines.values())) | set(" 0123456789")))
    moment = facts.issued_at.replace(microsecond=0)
    pdf = FPDF(orientation="L", unit="mm", format="A4", enforce_compliance=DocumentCompliance.PDFA_3B)
    pdf.set_creation_date(moment)
    # A document id derived from the content, so repeated renders are byte-identical.
    pdf.file_id = lambda: _file_id(facts)  # type: ignore[method-assign]
    pdf.set_title(f"Certificate {facts.serial}")
    pdf.set_author(facts.issuer_name)
    pdf.set_subject(f"Level {facts.level}: {LEVELS[facts.level].en}")
    pdf.set_creator("LMS certification service")
    pdf.set_producer("LMS certification service")
    pdf.set_lang("ko")
    pdf.set_xmp_metadata(_xmp(facts, moment))
    pdf.set_auto_page_break(False)
    pdf.set_margins(0, 0, 0)
    with tempfile.TemporaryDirectory() as folder:
        subset_file = Path(folder) / "NotoSansKR-subset.otf"
        subset_file.write_bytes(_font_subset(characters))
        pdf.add_font(FONT, fname=str(subset_file))
        pdf.add_page()
        w, h = pdf.w, pdf.h
        pdf.set_draw_color(*GOLD)
        pdf.set_line_width(1.0)
        pdf.rect(10, 10, w - 20, h - 20)
        pdf.set_line_width(0.3)
        pdf.rect(13.5, 13.5, w - 27, h - 27)
        pdf.set_text_color(0, 0, 0)
        _centred(pdf, 28, 34, lines["title_ko"])
        _centred(pdf, 44, 18, lines["title_en"])
        _centred(pdf, 64, 26, lines["name"])
        _centred(pdf, 77, 11, lines["org"])
        _centred(pdf, 90, 14, lines["body_ko"])
        _centred(pdf, 99, 12, lines["body_en"])
        _centred(pdf, 114, 13, lines["date_ko"])
        _centred(pdf, 121, 11, lines["date_en"])
        _centred(pdf, 135, 16, lines["issuer_ko"])
        _centred(pdf, 143, 12, lines["issuer_en"])
        pdf.set_font(FONT, size=9)
        for y, key in ((170, "serial"), (176, "verify")):
            pdf.set_xy(21, y)
            pdf.cell(text=lines[key])
        pdf.set_font(FONT, size=7)
        pdf.set_xy(21, 182)
        pdf.cell(text=lines["note"])
        if lines["stamp_en"]:
            _stamp(pdf, lines["stamp_ko"], lines["stamp_en"])
        _qr(pdf, facts.verify_url, w - 21 - 34, h - 21 - 34, 34)
        pdf.embed_file(
            bytes=facts.vc_jwt.encode(),
            basename=JWT_ATTACHMENT,
            modification_date=moment,
            creation_date=moment,
            mime_type="application/jwt",
            associated_file_relationship="Alternative",
            desc="Open Badges 3.0 credential secured as a VC-JWT",
        )
        if facts.credential_jsonld:
            pdf.embed_file(
                bytes=facts.credential_jsonld,
                basename=JSONLD_ATTACHMENT,
                modification_date=moment,
                creation_date=moment,
                mime_type="application/vc",
                associated_file_relationship="Alternative",
                desc="Open Badges 3.0 credential with a Data Integrity proof (eddsa-rdfc-2022)",
            )
        return bytes(pdf.output())


def _stamp(pdf: FPDF, korean: str, english: str) -> None:
    """A red box in the upper right with the status in both languages (set level with the text,
    so text extraction reads it as it is printed)."""
    x, y, w, h = pdf.w - 21 - 66, 21.0, 66.0, 24.0
    pdf.set_draw_color(*RED)
    pdf.set_text_color(*RED)
    pdf.set_line_width(1.0)
    pdf.rect(x, y, w, h)
    pdf.set_font(FONT, size=17)
    pdf.set_xy(x, y + 2)
    pdf.cell(w=w, h=10, text=korean, align=Align.C)
    pdf.set_xy(x, y + 12)
    pdf.cell(w=w, h=10, text=english, align=Align.C)
    pdf.set_text_color(0, 0, 0)
    pdf.set_draw_color(*GOLD)


def _xmp(facts: PrintFacts, moment: datetime) -> str:
    """The PDF/A-3b XMP packet body, with the document's own dates (fpdf2 would stamp the
    render time, which would make every download differ)."""
    when = moment.isoformat(timespec="seconds")
    title = escape(f"Certificate {facts.serial}")
    subject = escape(f"Level {facts.level}: {LEVELS[facts.level].en}")
    author = escape(facts.issuer_name)
    return (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">'
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/"'
        ' xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmlns:pdf="http://ns.adobe.com/pdf/1.3/"'
        ' xmlns:pdfaid="http://www.aiim.org/pdfa/ns/id/"'
        f' xmp:CreatorTool="LMS certification service" xmp:CreateDate="{when}" xmp:ModifyDate="{when}"'
        f' xmp:MetadataDate="{when}" pdf:Producer="LMS certification service"'
        ' pdfaid:part="3" pdfaid:conformance="B">'
        f'<dc:title><rdf:Alt><rdf:li xml:lang="x-default">{title}</rdf:li></rdf:Alt></dc:title>'
        f"<dc:creator><rdf:Seq><rdf:li>{author}</rdf:li></rdf:Seq></dc:creator>"
        f'<dc:description><rdf:Alt><rdf:li xml:lang="x-default">{subject}</rdf:li></rdf:Alt></dc:description>'
        "</rdf:Description></rdf:RDF></x:xmpmeta>"
    )


def _file_id(facts: PrintFacts) -> str:
    digest = hashlib.md5(repr(facts).encode(), usedforsecurity=False).hexdigest().upper()
    return f"<{digest}><{digest}>"
