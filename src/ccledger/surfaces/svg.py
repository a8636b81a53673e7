"""Charts as SVG text, drawn on the server: no charting library, no script, nothing fetched.

The dashboard's pictures are few and plain (bars, stacked bars, progress meters, a 7 x 24 grid), so a hundred
lines of SVG serve them better than a JavaScript library would: the page works offline under a
strict Content-Security-Policy, the charts need no script, render the same in every browser, and
a test can read the figures back out of the markup. Every text is escaped.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape
from typing import NamedTuple

__all__ = ["PALETTE", "Meter", "heat_grid", "leaderboard", "meters", "money", "stacked_bars"]

PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#9c755f")
"""Series colours, in order (a colour-blind-safe set)."""

_FONT = 'font-family="system-ui, sans-serif" font-size="11"'
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def stacked_bars(
    labels: Sequence[str], series: Sequence[tuple[str, Sequence[float]]], *, unit: str = "$", axis_chars: int = 5
) -> str:
    """Columns over ``labels`` (days, weeks, months, blocks), each split by ``series`` (name, a value
    per label), with a legend; a column's title gives its total. The axis shows each label's last
    ``axis_chars`` characters (a day's MM-DD)."""
    width, height, left, bottom = 860, 240, 56, 40
    totals = [sum(values[i] for _, values in series) for i in range(len(labels))]
    top = max(totals, default=0) or 1
    step = (width - left - 10) / max(len(labels), 1)
    bar = max(step * 0.8, 1)
    legend_rows = (len(series) + 3) // 4
    every = math.ceil(len(labels) * axis_chars * 6.5 / (width - left - 10)) or 1  # axis labels that fit
    parts = [_open(width, height + 8 + 16 * legend_rows, "stacked-bars")]
    parts.append(f'<text x="4" y="14" {_FONT}>{escape(money(top, unit))}</text>')
    parts.append(f'<line x1="{left}" y1="{height - bottom}" x2="{width - 10}" y2="{height - bottom}" stroke="#999"/>')
    for i, label in enumerate(labels):
        x = left + i * step
        y: float = height - bottom
        for index, (name, values) in enumerate(series):
            size = values[i] / top * (height - bottom - 20)
            if size <= 0:
                continue
            y -= size
            colour = PALETTE[index % len(PALETTE)]
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{size:.1f}" fill="{colour}">'
                f"<title>{escape(label)} {escape(name)}: {escape(money(values[i], unit))}</title></rect>"
            )
        if i % every == 0:
            parts.append(f'<text x="{x:.1f}" y="{height - bottom + 14}" {_FONT}>{escape(label[-axis_chars:])}</text>')
    for index, (name, _) in enumerate(series):  # the legend, four to a row
        x, y = left + index % 4 * 200, height + 6 + index // 4 * 16
        colour = PALETTE[index % len(PALETTE)]
        parts.append(f'<rect x="{x}" y="{y}" width="10" height="10" fill="{colour}"/>')
        parts.append(f'<text x="{x + 14}" y="{y + 9}" {_FONT}>{escape(name[:28])}</text>')
    parts.append("</svg>")
    return "".join(parts)


def leaderboard(rows: Sequence[tuple[str, float, float]], *, unit: str = "$") -> str:
    """Horizontal bars, largest first: (name, dev value, prod value), the prod part stacked after."""
    width, line = 860, 22
    top = max((dev + prod for _, dev, prod in rows), default=0) or 1
    parts = [_open(width, line * max(len(rows), 1) + 4, "leaderboard")]
    for i, (name, dev, prod) in enumerate(rows):
        y = i * line + 2
        dev_width, prod_width = dev / top * 420, prod / top * 420
        parts.append(f'<text x="0" y="{y + 14}" {_FONT}>{escape(name[:48])}</text>')
        parts.append(_bar(330, y + 3, dev_width, PALETTE[0]))
        if prod_width:
            parts.append(_bar(330 + dev_width, y + 3, prod_width, PALETTE[1]))
        label = escape(money(dev + prod, unit))
        parts.append(f'<text x="{336 + dev_width + prod_width:.1f}" y="{y + 14}" {_FONT}>{label}</text>')
    parts.append("</svg>")
    return "".join(parts)


class Meter(NamedTuple):
    """One bar of :func:`meters`: how far along something is, as fractions of its whole."""

    name: str
    used: float  # 1.0 is the whole (a budget's amount, 100 % of a limit)
    projected: float | None = None  # where the pace so far ends the period, if known
    marks: Sequence[float] = ()  # thresholds to tick, e.g. (0.8, 1.0)
    text: str = ""  # what the bar says beside it


def meters(rows: Sequence[Meter]) -> str:
    """Progress bars: each one filled to ``used`` (red past the whole), a hollow bar to
    ``projected`` behind it, and a tick at each of ``marks``. The scale reaches the largest of
    them, at least the whole."""
    width, line, left, span = 860, 34, 260, 420
    scale = max([1.0, *(max(row.used, row.projected or 0) for row in rows)])
    parts = [_open(width, line * max(len(rows), 1) + 4, "meters")]
    for i, row in enumerate(rows):
        y = i * line + 4
        used = min(row.used, scale) / scale * span
        colour = PALETTE[3] if row.used >= 1 else PALETTE[0]
        parts.append(f'<text x="0" y="{y + 15}" {_FONT}>{escape(row.name[:40])}</text>')
        parts.append(f'<rect x="{left}" y="{y + 3}" width="{span}" height="16" fill="#eee"/>')
        if row.projected is not None:
            projected = min(row.projected, scale) / scale * span
            parts.append(
                f'<rect x="{left}" y="{y + 3}" width="{projected:.1f}" height="16" fill="none" '
                f'stroke="{PALETTE[1]}" stroke-dasharray="3 2"><title>projected {row.projected:.0%}</title></rect>'
            )
        parts.append(
            f'<rect x="{left}" y="{y + 5}" width="{used:.1f}" height="12" fill="{colour}">'
            f"<title>{escape(row.name)}: {row.used:.1%}</title></rect>"
        )
        for mark in (*row.marks, 1.0):
            x = left + min(mark, scale) / scale * span
            parts.append(f'<line x1="{x:.1f}" y1="{y}" x2="{x:.1f}" y2="{y + 22}" stroke="#555"/>')
        parts.append(f'<text x="{left + span + 8}" y="{y + 15}" {_FONT}>{escape(row.text)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def heat_grid(grid: Sequence[Sequence[float]], *, unit: str = "") -> str:
    """A weekday (Monday first) by hour grid, darker for more; a cell's title gives its value."""
    cell, left, top_margin = 30, 36, 16
    peak = max((value for row in grid for value in row), default=0) or 1
    parts = [_open(left + 24 * cell, top_margin + 7 * cell, "heat-grid")]
    for hour in range(0, 24, 3):
        parts.append(f'<text x="{left + hour * cell}" y="11" {_FONT}>{hour:02d}</text>')
    for day, row in enumerate(grid):
        y = top_margin + day * cell
        parts.append(f'<text x="0" y="{y + 19}" {_FONT}>{_DAYS[day]}</text>')
        for hour, value in enumerate(row):
            share = value / peak
            parts.append(
                f'<rect x="{left + hour * cell}" y="{y}" width="{cell - 2}" height="{cell - 2}" '
                f'fill="{PALETTE[2]}" fill-opacity="{0.08 + 0.92 * share:.3f}">'
                f"<title>{_DAYS[day]} {hour:02d}:00 {escape(money(value, unit))}</title></rect>"
            )
    parts.append("</svg>")
    return "".join(parts)


def _bar(x: float, y: float, width: float, colour: str) -> str:
    return f'<rect x="{x:.1f}" y="{y}" width="{width:.1f}" height="14" fill="{colour}"/>'


def _open(width: float, height: float, kind: str) -> str:
    return f'<svg class="{kind}" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img">'


def money(value: float | None, unit: str = "$") -> str:
    """A figure as the charts show it: dollars to the cent, anything else whole with its unit ("" for None)."""
    if value is None:
        return ""
    return f"${value:,.2f}" if unit == "$" else f"{value:,.0f}{unit}"
