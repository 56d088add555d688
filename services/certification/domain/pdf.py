"""The printable certificate: Korean and English, serial, QR code to the verification page, and the
VC-JWT embedded as a PDF file attachment. Rendering is deterministic (reportlab ``invariant=1``,
fixed document info, vector QR code), so the same certificate always gives the same bytes."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import segno
from reportlab.lib.colors import Color, black
from reportlab.lib.pagesizes import A4, landscape
from reportlab.pdfbase import pdfdoc
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.pdfmetrics import registerFont
from reportlab.pdfgen.canvas import Canvas

from services.certification.domain.credential import LEVELS

SEOUL = ZoneInfo("Asia/Seoul")
SERIF_KO = "HYSMyeongJo-Medium"
SANS_KO = "HYGothic-Medium"
ATTACHMENT_NAME = "credential.jwt"
_registered = False


def _fonts() -> None:
    global _registered
    if not _registered:
        registerFont(UnicodeCIDFont(SERIF_KO))
        registerFont(UnicodeCIDFont(SANS_KO))
        _registered = True


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
    status: str = "active"


def _embed(canvas: Canvas, name: str, data: bytes, description: str) -> None:
    """Attach ``data`` as an embedded file (document-level EmbeddedFiles name tree + /AF)."""
    doc = canvas._doc
    stream = pdfdoc.PDFStream(
        pdfdoc.PDFDictionary(
            {
                "Type": pdfdoc.PDFName("EmbeddedFile"),
                "Params": pdfdoc.PDFDictionary({"Size": len(data)}),
            }
        ),
        content=data,
    )
    stream_ref = doc.Reference(stream)
    filespec = pdfdoc.PDFDictionary(
        {
            "Type": pdfdoc.PDFName("Filespec"),
            "F": pdfdoc.PDFString(name),
            "UF": pdfdoc.PDFString(name),
            "Desc": pdfdoc.PDFString(description),
            "AFRelationship": pdfdoc.PDFName("Data"),
            "EF": pdfdoc.PDFDictionary({"F": stream_ref, "UF": stream_ref}),
        }
    )
    spec_ref = doc.Reference(filespec)
    names = pdfdoc.PDFDictionary(
        {"EmbeddedFiles": pdfdoc.PDFDictionary({"Names": pdfdoc.PDFArray([pdfdoc.PDFString(name), spec_ref])})}
    )
    doc.Catalog.Names = names
    doc.Catalog.AF = pdfdoc.PDFArray([spec_ref])
    doc.Catalog.__NoDefault__ = [*doc.Catalog.__NoDefault__, "AF"]


def _qr(canvas: Canvas, data: str, x: float, y: float, size: float) -> None:
    code = segno.make(data, error="m", micro=False)
    rows = [list(row) for row in code.matrix_iter(scale=1, border=0)]
    module = size / len(rows)
    canvas.setFillColor(black)
    for r, row in enumerate(rows):
        c = 0
        while c < len(row):
            if row[c]:
                start = c
                while c < len(row) and row[c]:
                    c += 1
                canvas.rect(x + start * module, y + size - (r + 1) * module, (c - start) * module, module, 0, 1)
            else:
                c += 1


def render(facts: PrintFacts) -> bytes:
    _fonts()
    info = LEVELS[facts.level]
    buf = io.BytesIO()
    width, height = landscape(A4)
    canvas = Canvas(buf, pagesize=(width, height), invariant=1, pageCompression=1, lang="ko")
    canvas.setTitle(f"Certificate {facts.serial}")
    canvas.setAuthor(facts.issuer_name)
    canvas.setSubject(f"Level {facts.level}: {info.en}")
    canvas.setCreator("LMS certification service")
    canvas.setProducer("LMS certification service")

    gold = Color(0.55, 0.43, 0.16)
    canvas.setStrokeColor(gold)
    canvas.setLineWidth(3)
    canvas.rect(28, 28, width - 56, height - 56)
    canvas.setLineWidth(0.8)
    canvas.rect(38, 38, width - 76, height - 76)

    cx = width / 2
    canvas.setFillColor(black)
    canvas.setFont(SERIF_KO, 34)
    canvas.drawCentredString(cx, height - 110, "수 료 증")
    canvas.setFont("Times-Roman", 20)
    canvas.drawCentredString(cx, height - 138, "Certificate of Completion")

    canvas.setFont(SERIF_KO, 26)
    canvas.drawCentredString(cx, height - 200, facts.holder_name)
    if facts.org:
        canvas.setFont(SANS_KO, 11)
        canvas.drawCentredString(cx, height - 220, facts.org)

    canvas.setFont(SERIF_KO, 15)
    canvas.drawCentredString(
        cx, height - 262, f"위 사람은 레벨 {facts.level} 「{info.ko}」 과정을 이수하였음을 증명합니다."
    )
    canvas.setFont("Times-Roman", 13)
    canvas.drawCentredString(cx, height - 284, f"has completed Level {facts.level}: {info.en}.")

    issued = facts.issued_at.astimezone(SEOUL)
    canvas.setFont(SERIF_KO, 13)
    canvas.drawCentredString(cx, height - 330, f"{issued.year}년 {issued.month}월 {issued.day}일")
    canvas.setFont("Times-Roman", 12)
    canvas.drawCentredString(cx, height - 348, issued.strftime("Issued %d %B %Y (Asia/Seoul)"))
    canvas.setFont(SERIF_KO, 16)
    canvas.drawCentredString(cx, height - 390, facts.issuer_name_ko)
    canvas.setFont("Times-Roman", 13)
    canvas.drawCentredString(cx, height - 408, facts.issuer_name)

    canvas.setFont(SANS_KO, 10)
    canvas.drawString(60, 86, f"일련번호 Serial: {facts.serial}")
    canvas.drawString(60, 70, f"진위 확인 Verify: {facts.verify_url}")
    canvas.setFont(SANS_KO, 8)
    canvas.drawString(
        60,
        54,
        "이 PDF에는 검증 가능한 전자 자격증명(VC-JWT)이 첨부되어 있습니다. This PDF carries its verifiable credential.",
    )
    if facts.status != "active":
        canvas.setFont("Helvetica-Bold", 28)
        canvas.setFillColor(Color(0.75, 0.1, 0.1))
        canvas.drawCentredString(cx, height - 460, f"{facts.status.upper()} · 효력 없음")
        canvas.setFillColor(black)
    _qr(canvas, facts.verify_url, width - 60 - 96, 52, 96)
    _embed(canvas, ATTACHMENT_NAME, facts.vc_jwt.encode(), "Open Badges 3.0 credential secured as VC-JWT")
    canvas.showPage()
    canvas.save()
    return buf.getvalue()
