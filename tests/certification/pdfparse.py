"""A tiny, independent reader for the embedded-file part of our PDFs (no PDF library needed)."""

from __future__ import annotations

import re
import zlib


def objects(pdf: bytes) -> dict[int, bytes]:
    return {int(m.group(1)): m.group(2) for m in re.finditer(rb"(\d+) 0 obj\s(.*?)endobj", pdf, re.S)}


def embedded_files(pdf: bytes) -> dict[str, bytes]:
    """name -> content of every file in the catalog's /EmbeddedFiles name tree."""
    objs = objects(pdf)
    out: dict[str, bytes] = {}
    for body in objs.values():
        tree = re.search(rb"/EmbeddedFiles\s*<<\s*/Names\s*\[(.*?)\]", body, re.S)
        if not tree:
            continue
        for name, ref in re.findall(rb"\((.*?)\)\s*(\d+) 0 R", tree.group(1)):
            spec = objs[int(ref)]
            stream_ref = re.search(rb"/EF\s*<<.*?/F (\d+) 0 R", spec, re.S)
            assert stream_ref, spec
            stream = objs[int(stream_ref.group(1))]
            length = re.search(rb"/Length (\d+)", stream)
            start = re.search(rb"stream\r?\n", stream)
            assert length and start, stream[:200]
            content = stream[start.end() : start.end() + int(length.group(1))]
            if b"/FlateDecode" in stream.split(b"stream")[0]:
                content = zlib.decompress(content)
            if b"/ASCII85Decode" in stream.split(b"stream")[0]:
                raise AssertionError("unexpected ASCII85 filter")
            out[name.decode()] = content
    return out


def page_content(pdf: bytes) -> bytes:
    """The decoded content stream(s) of the pages (ASCII85 and/or Flate filters)."""
    import base64

    out = b""
    for body in objects(pdf).values():
        head = body.split(b"stream", 1)[0]
        if b"/Length" not in head or b"/Filter" not in head or b"EmbeddedFile" in head:
            continue
        start = re.search(rb"stream\r?\n", body)
        length = re.search(rb"/Length (\d+)", head)
        assert start and length
        data = body[start.end() : start.end() + int(length.group(1))]
        if b"/ASCII85Decode" in head:
            data = base64.a85decode(data.strip().removesuffix(b"~>").removeprefix(b"<~"))
        if b"/FlateDecode" in head:
            data = zlib.decompress(data)
        out += data
    return out


def filled_rects(content: bytes) -> list[tuple[float, float, float, float]]:
    return [
        tuple(float(v) for v in m.groups())  # type: ignore[misc]
        for m in re.finditer(rb"(-?[\d.]+) (-?[\d.]+) (-?[\d.]+) (-?[\d.]+) re f\*?", content)
    ]
