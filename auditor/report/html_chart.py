"""Inline SVG bar charts for the HTML report: where parameters and MACs go, by top-level block, then layer.

Each block is one bar, split into one segment per layer (hover: the layer and its share).  A model with
many blocks shows the largest ones, in model order, and one "other" bar for the rest.  Rendering only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from auditor.report.common import si_text

MAX_BARS = 24
BAR_HEIGHT, GAP, LABEL_WIDTH, BAR_WIDTH, VALUE_WIDTH = 16, 5, 150, 260, 150
SHADES = ("#3b6fb6", "#6d98d4", "#2a5290", "#8fb3e3")
"""Alternating segment colours, so neighbouring layers of one block stay distinguishable."""


@dataclass(frozen=True)
class Segment:
    """One layer's share of a block's bar."""

    label: str
    value: int


@dataclass(frozen=True)
class Bar:
    """One block: its name and its layers' values (None where a layer's value is unknown)."""

    label: str
    segments: tuple[Segment, ...]
    unknown: int = 0
    """Layers of the block whose value is unknown (MACs without shapes): the bar is a lower bound."""

    @property
    def total(self) -> int:
        return sum(s.value for s in self.segments)


def _keep(bars: Sequence[Bar]) -> list[Bar]:
    """At most MAX_BARS bars: the largest, in model order, and "other" summing the rest."""
    if len(bars) <= MAX_BARS:
        return list(bars)
    largest = sorted(range(len(bars)), key=lambda i: bars[i].total, reverse=True)[: MAX_BARS - 1]
    kept = [bars[i] for i in sorted(largest)]
    rest = [b for i, b in enumerate(bars) if i not in set(largest)]
    other = Bar(f"other ({len(rest)} blocks)", (Segment(f"{len(rest)} smaller blocks", sum(b.total for b in rest)),),
                sum(b.unknown for b in rest))
    return [*kept, other]


def bar_chart(title: str, unit: str, bars: Sequence[Bar], chart_id: str) -> str:
    """An <svg> of horizontal bars scaled to the largest block; empty-state text when every value is 0."""
    shown = _keep([b for b in bars if b.total or b.unknown])
    grand = sum(b.total for b in shown)
    if not shown or grand == 0:
        return f'<figure class="chart" id="{chart_id}"><figcaption>{escape(title)}</figcaption><p class="empty">no {escape(unit)} to show</p></figure>'
    peak = max(b.total for b in shown) or 1
    height = len(shown) * (BAR_HEIGHT + GAP) + GAP
    width = LABEL_WIDTH + BAR_WIDTH + VALUE_WIDTH
    rows = [_bar_row(i, bar, peak, grand, unit) for i, bar in enumerate(shown)]
    return (f'<figure class="chart" id="{chart_id}"><figcaption>{escape(title)}</figcaption>'
            f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
            f'role="img" aria-label="{escape(title)}">{"".join(rows)}</svg></figure>')


def _bar_row(index: int, bar: Bar, peak: int, grand: int, unit: str) -> str:
    y = GAP + index * (BAR_HEIGHT + GAP)
    parts = [f'<text x="{LABEL_WIDTH - 6}" y="{y + BAR_HEIGHT - 5}" text-anchor="end" class="label">'
             f"{escape(_short(bar.label))}<title>{escape(bar.label)}</title></text>"]
    x = float(LABEL_WIDTH)
    for number, segment in enumerate(bar.segments):
        w = BAR_WIDTH * segment.value / peak
        if w <= 0:
            continue
        share = 100 * segment.value / grand
        parts.append(f'<rect x="{x:.2f}" y="{y}" width="{w:.2f}" height="{BAR_HEIGHT}" '
                     f'fill="{SHADES[number % len(SHADES)]}"><title>{escape(segment.label)}: {segment.value:,} '
                     f"{escape(unit)} ({share:.1f}%)</title></rect>")
        x += w
    value = f"{si_text(bar.total)} ({100 * bar.total / grand:.1f}%)" + (" + unknown" if bar.unknown else "")
    parts.append(f'<text x="{x + 6:.2f}" y="{y + BAR_HEIGHT - 5}" class="value">{escape(value)}</text>')
    return "".join(parts)


def _short(label: str, limit: int = 24) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"
