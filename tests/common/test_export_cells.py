"""The kernel's CSV dialect, read back by Python's own csv reader: formula cells neutralised, CRLF."""

from __future__ import annotations

import csv
import io

import pytest

from services.common.export import csv_text, safe_cell


@pytest.mark.parametrize(
    ("cell", "written"),
    [
        ('=HYPERLINK("http://x","y")', '\'=HYPERLINK("http://x","y")'),
        ("+1+2", "'+1+2"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1+1", "'\t=1+1"),
        ("\r=1+1", "'\r=1+1"),
        ("\t\r\t@x", "'\t\r\t@x"),
        ("plain", "plain"),
        ("a=b", "a=b"),
        ("\tplain", "\tplain"),
        ("홍길동", "홍길동"),
        ("", ""),
        (-5, -5),
        (3.5, 3.5),
        (None, None),
    ],
)
def test_safe_cell(cell: object, written: object) -> None:
    assert safe_cell(cell) == written


def test_csv_text_is_crlf_and_reads_back() -> None:
    body = csv_text([["name", "n"], ["=cmd|' /C calc'!A0", -1], ["multi\nline", 2]])
    assert body.endswith("\r\n") and body.count("\r\n") == 3  # the embedded newline stays quoted, not CRLF
    rows = list(csv.reader(io.StringIO(body, newline="")))
    assert rows == [["name", "n"], ["'=cmd|' /C calc'!A0", "-1"], ["multi\nline", "2"]]
