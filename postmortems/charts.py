"""Small server-rendered SVG charts for the dashboard: no JavaScript, readable when printed.

Every text that reaches the SVG goes through format_html, and colours must be #hex (they are
staff-editable severity colours), so the markup cannot be broken out of.
"""

import math
from dataclasses import dataclass

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from incidents.core.formatting import safe_colour

WIDTH, HEIGHT = 560, 230
LEFT, RIGHT, TOP, BOTTOM = 52, 12, 14, 48


@dataclass(frozen=True)
class Series:
    label: str
    color: str
    values: list  # one per x label; None where there is no figure

    @property
    def safe_color(self) -> str:
        return safe_colour(self.color)


def _nice_max(value: float) -> float:
    """A round axis maximum at or above `value` (1, 2, 2.5, 5 times 10^n)."""
    if value <= 0:
        return 1
    exponent = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * exponent:
            return step * exponent
    return 10 * exponent


def _frame(labels: list[str], top: float, tick_label) -> tuple[list, float]:
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    parts = []
    for i in range(5):
        value = top * i / 4
        y = TOP + plot_h - plot_h * i / 4
        parts.append(
            format_html(
                '<line class="grid" x1="{}" x2="{}" y1="{}" y2="{}"/>'
                '<text class="tick" x="{}" y="{}" text-anchor="end">{}</text>',
                LEFT,
                WIDTH - RIGHT,
                f"{y:.1f}",
                f"{y:.1f}",
                LEFT - 6,
                f"{y + 4:.1f}",
                tick_label(value),
            )
        )
    slot = plot_w / max(len(labels), 1)
    for i, label in enumerate(labels):
        x = LEFT + slot * (i + 0.5)
        parts.append(
            format_html(
                '<text class="tick" x="{}" y="{}" text-anchor="middle">{}</text>',
                f"{x:.1f}",
                HEIGHT - BOTTOM + 16,
                label,
            )
        )
    return parts, slot


def _legend(series: list[Series]) -> SafeString:
    items = []
    x = LEFT
    for s in series:
        items.append(
            format_html(
                '<rect x="{}" y="{}" width="10" height="10" rx="2" fill="{}"/>'
                '<text class="legend" x="{}" y="{}">{}</text>',
                x,
                HEIGHT - 16,
                s.safe_color,
                x + 14,
                HEIGHT - 7,
                s.label,
            )
        )
        x += 22 + 7 * len(s.label) + 14
    return mark_safe("".join(items))


def _svg(title: str, body: list) -> SafeString:
    return format_html(
        '<svg class="tocsin-chart" viewBox="0 0 {} {}" role="img" aria-label="{}" '
        'xmlns="http://www.w3.org/2000/svg"><title>{}</title>{}</svg>',
        WIDTH,
        HEIGHT,
        title,
        title,
        mark_safe("".join(body)),
    )


def stacked_bars(title: str, labels: list[str], series: list[Series]) -> SafeString:
    """One bar per label, stacked by series (counts)."""
    totals = [sum(s.values[i] or 0 for s in series) for i in range(len(labels))]
    # Four whole-number intervals: counts never show as 2.5 incidents.
    top = max(4, math.ceil(max(totals, default=0) / 4) * 4)
    parts, slot = _frame(labels, top, lambda v: f"{v:g}")
    plot_h = HEIGHT - TOP - BOTTOM
    bar_w = min(slot * 0.56, 46)
    for i, label in enumerate(labels):
        x = LEFT + slot * (i + 0.5) - bar_w / 2
        base = TOP + plot_h
        for s in series:
            value = s.values[i] or 0
            if not value:
                continue
            h = plot_h * value / top
            base -= h
            parts.append(
                format_html(
                    '<rect x="{}" y="{}" width="{}" height="{}" fill="{}">'
                    "<title>{}: {} {}</title></rect>",
                    f"{x:.1f}",
                    f"{base:.1f}",
                    f"{bar_w:.1f}",
                    f"{h:.1f}",
                    s.safe_color,
                    label,
                    value,
                    s.label,
                )
            )
        if totals[i]:
            parts.append(
                format_html(
                    '<text class="value" x="{}" y="{}" text-anchor="middle">{}</text>',
                    f"{x + bar_w / 2:.1f}",
                    f"{base - 4:.1f}",
                    totals[i],
                )
            )
    parts.append(_legend(series))
    return _svg(title, parts)


def _minutes_label(minutes: float) -> str:
    if minutes >= 120:
        return f"{round(minutes / 60, 1):g}h"
    return f"{round(minutes, 1):g}m"


def _minutes_axis_max(value: float) -> float:
    """A round maximum in minutes, or in whole hours past two hours."""
    if value > 120:
        return _nice_max(value / 60) * 60
    return _nice_max(value)


def lines(title: str, labels: list[str], series: list[Series]) -> SafeString:
    """One line per series over the labels (values in minutes); gaps where a value is None."""
    top = _minutes_axis_max(max((v for s in series for v in s.values if v is not None), default=0))
    parts, slot = _frame(labels, top, _minutes_label)
    plot_h = HEIGHT - TOP - BOTTOM
    for s in series:
        points = []
        for i, value in enumerate(s.values):
            if value is None:
                continue
            x = LEFT + slot * (i + 0.5)
            y = TOP + plot_h - plot_h * value / top
            points.append((x, y, labels[i], value))
        if len(points) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y, _, _ in points)
            parts.append(
                format_html(
                    '<polyline points="{}" fill="none" stroke="{}" stroke-width="2.5"/>',
                    path,
                    s.safe_color,
                )
            )
        parts.append(
            format_html_join(
                "",
                '<circle cx="{}" cy="{}" r="4" fill="{}"><title>{}: {} {}</title></circle>',
                (
                    (f"{x:.1f}", f"{y:.1f}", s.safe_color, label, s.label, _minutes_label(v))
                    for x, y, label, v in points
                ),
            )
        )
    parts.append(_legend(series))
    return _svg(title, parts)
