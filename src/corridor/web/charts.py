"""Charts drawn on the server as inline SVG (no chart library, no script): a bar per
value, its geometry computed here in whole user units, the markup in
templates/_chart.html, which gives each chart a title, a description and a table of the
same figures as its text alternative."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

WIDTH = 640
HEIGHT = 200
AXIS = 24  # room under the bars for the day labels
LABELS_MAX = 7  # a label under at most this many bars (every n-th), so they never overlap


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Bar:
    x: int
    y: int
    width: int
    height: int
    label: str  # written under the bar when `labelled`
    text: str  # the value as the reader reads it (also the bar's tooltip)
    labelled: bool


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class BarChart:
    width: int
    height: int
    baseline: int
    bars: tuple[Bar, ...]


def bars(values: Sequence[tuple[str, int, str]], *, width: int = WIDTH,
         height: int = HEIGHT) -> BarChart:
    """Bars for (label, value, value text) in order, scaled so the largest fills the
    plot; a zero or negative value has no bar (its row stays in the table)."""
    n = max(1, len(values))
    slot = width // n
    gap = max(1, slot // 5)
    plot = height - AXIS
    top = max((v for _, v, _ in values), default=0)
    every = -(-len(values) // LABELS_MAX) or 1
    out = []
    for i, (label, value, text) in enumerate(values):
        h = (value * plot) // top if top > 0 and value > 0 else 0
        h = max(h, 1) if value > 0 else 0
        out.append(Bar(x=i * slot + gap // 2, y=plot - h, width=max(1, slot - gap), height=h,
                       label=label, text=text, labelled=i % every == 0))
    return BarChart(width=width, height=height, baseline=plot, bars=tuple(out))
