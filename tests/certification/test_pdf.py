"""The printable certificate, checked with tools we did not write: poppler's ``pdffonts`` and
``pdftotext`` (every font embedded and subset, the text extracts as printed), two renderers
(poppler with no font available to it at all, and pdfium) drawing the same pixels, ``zxing-cpp``
reading the QR code, and pdfium listing the attached credentials."""

from __future__ import annotations

import os
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pypdfium2 as pdfium
import pytest
import zxingcpp
from PIL import Image, ImageChops, ImageStat
from PIL.ImageFilter import GaussianBlur

from services.certification.domain import pdf
from tests.certification.conftest import Service

SERVICE = "certification"
POPPLER = ("pdffonts", "pdftotext", "pdftoppm")
needs_poppler = pytest.mark.skipif(
    any(shutil.which(tool) is None for tool in POPPLER), reason="poppler-utils (pdffonts, pdftotext, pdftoppm) missing"
)


def facts(**kw: object) -> pdf.PrintFacts:
    base = dict(
        serial="LMS-2026-L2-000042-7",
        holder_name="공무원 데이터·AI 김민수",
        org="SEOUL-01",
        level=2,
        issued_at=datetime(2026, 5, 1, 6, 0, tzinfo=UTC),
        issuer_name="Public Officials Data & AI Academy",
        issuer_name_ko="공무원 데이터·AI 아카데미",
        verify_url="https://lms.example.go.kr/verify/LMS-2026-L2-000042-7",
        vc_jwt="header.payload.signature",
        credential_jsonld=b'{"@context":["https://www.w3.org/ns/credentials/v2"]}',
    )
    base.update(kw)
    return pdf.PrintFacts(**base)  # type: ignore[arg-type]


def run(*args: str, env: dict[str, str] | None = None) -> str:
    return subprocess.run(args, check=True, capture_output=True, text=True, env=env, timeout=120).stdout


def attachments(document: bytes) -> dict[str, bytes]:
    doc = pdfium.PdfDocument(document)
    return {
        doc.get_attachment(i).get_name(): bytes(doc.get_attachment(i).get_data())
        for i in range(doc.count_attachments())
    }


@needs_poppler
@pytest.mark.parametrize(
    ("status", "stamp"),
    [
        ("active", ()),
        ("revoked", ("취소됨", "REVOKED")),
        ("suspended", ("효력 정지", "SUSPENDED")),
        ("expired", ("유효기간 만료", "EXPIRED")),
        ("superseded", ("재발급됨", "SUPERSEDED")),
    ],
)
def test_fonts_embedded_text_extracts_stamps_and_bytes_repeat(tmp_path: Path, status: str, stamp: tuple) -> None:
    body = pdf.render(facts(status=status))
    assert body == pdf.render(facts(status=status))  # byte-identical on repeat
    path = tmp_path / "c.pdf"
    path.write_bytes(body)
    fonts = run("pdffonts", str(path)).splitlines()[2:]
    assert fonts, "no font listed"
    for line in fonts:  # name type encoding emb sub uni object ID
        emb, sub, uni = line.split()[-5:-2]
        assert (emb, sub, uni) == ("yes", "yes", "yes"), line
        assert "+" in line.split()[0]  # a subset tag
    text = run("pdftotext", "-enc", "UTF-8", str(path), "-")
    for printed in (
        "공무원 데이터·AI 김민수",  # U+00B7 survives
        "LMS-2026-L2-000042-7",  # the Latin serial, as typed by a verifier
        "위 사람은 레벨 2 「데이터 분석 실습」 과정을 이수하였음을 증명합니다.",
        "has completed Level 2: Data analysis practice.",
        "2026년 5월 1일",
        "공무원 데이터·AI 아카데미",
        "Public Officials Data & AI Academy",
        "https://lms.example.go.kr/verify/LMS-2026-L2-000042-7",
        *stamp,
    ):
        assert printed in text, (printed, text)
    for other in ("REVOKED", "SUSPENDED", "EXPIRED", "SUPERSEDED"):
        assert (other in text) == (other in stamp)


@needs_poppler
def test_poppler_without_any_font_draws_what_pdfium_draws(tmp_path: Path) -> None:
    """The embedded font is all a viewer needs: poppler with an empty font configuration (no
    Korean, no font at all) renders the same pixels as pdfium."""
    path = tmp_path / "c.pdf"
    path.write_bytes(pdf.render(facts(status="revoked")))
    config = tmp_path / "fonts.conf"
    config.write_text('<?xml version="1.0"?><!DOCTYPE fontconfig SYSTEM "fonts.dtd"><fontconfig></fontconfig>')
    env = {**os.environ, "FONTCONFIG_FILE": str(config), "FONTCONFIG_PATH": str(tmp_path)}
    run("pdftoppm", "-r", "100", "-png", "-singlefile", str(path), str(tmp_path / "poppler"), env=env)
    poppler = Image.open(tmp_path / "poppler.png").convert("L")
    pdfium_image = pdfium.PdfDocument(path.read_bytes())[0].render(scale=100 / 72).to_pil().convert("L")
    assert poppler.size == pdfium_image.size
    ink = ImageStat.Stat(pdfium_image.point(lambda v: 255 if v < 128 else 0)).mean[0] / 255
    assert ink > 0.02  # there is text and a QR code to compare
    # The renderers anti-alias and position glyph edges a little differently: compare what a
    # reader sees (blurred by 2 px); a missing, boxed or displaced glyph is a large local difference.
    blurred = ImageChops.difference(poppler.filter(GaussianBlur(2)), pdfium_image.filter(GaussianBlur(2)))
    assert ImageStat.Stat(blurred).mean[0] < 3.0  # 0-255 scale
    assert ImageStat.Stat(blurred.point(lambda v: 255 if v > 64 else 0)).mean[0] / 255 < 0.001


def test_qr_code_reads_back_and_credentials_are_attached() -> None:
    body = pdf.render(facts())
    image = pdfium.PdfDocument(body)[0].render(scale=3).to_pil()
    assert [r.text for r in zxingcpp.read_barcodes(image)] == [facts().verify_url]
    assert attachments(body) == {
        "credential.jwt": b"header.payload.signature",
        "credential.jsonld": facts().credential_jsonld,
    }


async def test_served_pdf_carries_both_credentials_and_follows_the_status(svc: Service) -> None:
    cert = (await svc.issue("pdf-state", level=1, name="홍길동")).json()
    me = svc.h("learner", sub="pdf-state")
    first = await svc.client.get(f"/v1/me/certificates/{cert['id']}/pdf", headers=me)
    assert first.headers["content-type"] == "application/pdf"
    files = attachments(first.content)
    assert files["credential.jwt"] == cert["credential"].encode()
    served = await svc.client.get(f"/v1/me/certificates/{cert['id']}/credential", headers=me)
    assert files["credential.jsonld"] == served.content
    r = await svc.client.post(
        f"/v1/admin/certificates/{cert['id']}/suspend", json={"reason": "check"}, headers=svc.h("admin")
    )
    assert r.status_code == 200
    suspended = await svc.client.get(f"/v1/me/certificates/{cert['id']}/pdf", headers=me)
    assert suspended.content != first.content
    text = "".join(page.get_textpage().get_text_range() for page in pdfium.PdfDocument(suspended.content))
    assert "효력 정지" in text and "SUSPENDED" in text and "홍길동" in text
