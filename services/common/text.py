"""Pure text rules every service applies the same way (no I/O, no framework)."""

from __future__ import annotations

import unicodedata

_BIDI_CONTROLS = {"LRE", "RLE", "LRO", "RLO", "PDF", "LRI", "RLI", "FSI", "PDI"}


def neutralise_bidi(text: str) -> str:
    """Drop bidirectional formatting controls (RLO, LRI, ...), which could make a name on a page
    read differently from what is stored; pages isolate such values with ``<bdi>`` instead."""
    return "".join(ch for ch in text if unicodedata.bidirectional(ch) not in _BIDI_CONTROLS)
