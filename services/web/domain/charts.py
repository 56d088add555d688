"""Bar charts as plain numbers for SVG templates (no inline styles, so the CSP stays strict)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    width: float  # 0-100, share of the chart width
    text: str  # the number as shown beside the bar


def bars(rows: list[tuple[str, float]], *, maximum: float | None = None, as_percent: bool = False) -> list[Bar]:
    """Scale values against ``maximum`` (default: the largest value) into bar widths 0-100."""
    top = maximum if maximum is not None else max((v for _, v in rows), default=0.0)
    out = []
    for label, value in rows:
        width = 0.0 if top <= 0 else max(0.0, min(100.0, 100.0 * value / top))
        text = f"{value * 100:.0f}%" if as_percent else f"{value:g}"
        out.append(Bar(label, value, round(width, 1), text))
    return out


def most_likely(probabilities: list[float]) -> int:
    return max(range(len(probabilities)), key=lambda i: probabilities[i]) if probabilities else 0
