"""Server-rendered SVG charts of the maintenance pages (no JavaScript, no CDN, CSP-safe).

Every function returns one complete `<svg>` element built from presentation
attributes only (no `style` attributes or `<style>` elements, which the
Content-Security-Policy forbids); text is escaped here, so templates insert the
markup as is.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from html import escape

WIDTH, HEIGHT = 560, 260
LEFT, RIGHT, TOP, BOTTOM = 56, 14, 26, 40
AXIS, GRID, INK = "#5d6778", "#e3e6ec", "#1d2330"
BLUE, RED, GREEN, AMBER, GREY = "#2457c5", "#b3261e", "#1e7d45", "#9a6300", "#8a93a3"

Number = float | int
XValue = Number | dt.datetime


def _nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    if not math.isfinite(low) or not math.isfinite(high):
        return []
    if high <= low:
        high = low + 1.0
    raw = (high - low) / max(count, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = min((m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw), default=raw)
    first = math.ceil(low / step) * step
    ticks = []
    value = first
    while value <= high + step * 1e-9:
        ticks.append(round(value, 10))
        value += step
    return ticks


def _format(value: float) -> str:
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 10 or value == int(value):
        return f"{value:.0f}" if value == int(value) else f"{value:.1f}"
    return f"{value:.2f}".rstrip("0").rstrip(".")


class _Plot:
    """Maps data to the drawing area and collects SVG parts."""

    def __init__(self, *, title: str, x_range: tuple[float, float], y_range: tuple[float, float],
                 width: int = WIDTH, height: int = HEIGHT) -> None:
        self.title = title
        self.width, self.height = width, height
        self.x_low, self.x_high = x_range
        self.y_low, self.y_high = y_range
        if self.x_high <= self.x_low:
            self.x_high = self.x_low + 1.0
        if self.y_high <= self.y_low:
            self.y_high = self.y_low + 1.0
        self.parts: list[str] = []

    def x(self, value: float) -> float:
        return LEFT + (value - self.x_low) / (self.x_high - self.x_low) * (self.width - LEFT - RIGHT)

    def y(self, value: float) -> float:
        clipped = min(max(value, self.y_low), self.y_high)
        return self.height - BOTTOM - (clipped - self.y_low) / (self.y_high - self.y_low) * (self.height - TOP - BOTTOM)

    def axes(self, *, x_ticks: Sequence[tuple[float, str]], y_ticks: Sequence[tuple[float, str]],
             x_label: str, y_label: str) -> None:
        plot_w, plot_h = self.width - LEFT - RIGHT, self.height - TOP - BOTTOM
        self.parts.append(f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="#fff" stroke="#c9ced8"/>')
        for value, label in y_ticks:
            y = self.y(value)
            self.parts.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{self.width - RIGHT}" y2="{y:.1f}" stroke="{GRID}"/>'
                              f'<text x="{LEFT - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end" '
                              f'fill="{AXIS}">{escape(label)}</text>')
        for value, label in x_ticks:
            x = self.x(value)
            # A label at the right edge ends there instead of being cut off.
            anchor = "end" if x > self.width - RIGHT - 3.5 * len(label) else "middle"
            self.parts.append(f'<line x1="{x:.1f}" y1="{self.height - BOTTOM}" x2="{x:.1f}" '
                              f'y2="{self.height - BOTTOM + 4}" stroke="{AXIS}"/>'
                              f'<text x="{x:.1f}" y="{self.height - BOTTOM + 16}" font-size="11" '
                              f'text-anchor="{anchor}" fill="{AXIS}">{escape(label)}</text>')
        middle = (TOP + self.height - BOTTOM) / 2
        self.parts.append(f'<text x="{(LEFT + self.width - RIGHT) / 2:.0f}" y="{self.height - 6}" font-size="12" '
                          f'text-anchor="middle" fill="{INK}">{escape(x_label)}</text>'
                          f'<text x="14" y="{middle:.0f}" font-size="12" text-anchor="middle" fill="{INK}" '
                          f'transform="rotate(-90 14 {middle:.0f})">{escape(y_label)}</text>')

    def polyline(self, xs: Sequence[float], ys: Sequence[float], *, colour: str, width: float = 2.0) -> None:
        segment: list[str] = []
        for x, y in zip(xs, ys, strict=True):
            if y is None or not math.isfinite(y):
                self._flush(segment, colour, width)
                segment = []
                continue
            segment.append(f"{self.x(x):.1f},{self.y(y):.1f}")
        self._flush(segment, colour, width)

    def _flush(self, points: list[str], colour: str, width: float) -> None:
        if len(points) == 1:
            x, y = points[0].split(",")
            self.parts.append(f'<circle cx="{x}" cy="{y}" r="2.5" fill="{colour}"/>')
        elif points:
            self.parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="{width}" '
                              f'stroke-linejoin="round" points="{" ".join(points)}"/>')

    def hline(self, value: float, *, colour: str, label: str) -> None:
        y = self.y(value)
        self.parts.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{self.width - RIGHT}" y2="{y:.1f}" stroke="{colour}" '
                          f'stroke-dasharray="5 4"/><text x="{self.width - RIGHT - 4}" y="{y - 4:.1f}" font-size="11" '
                          f'text-anchor="end" fill="{colour}">{escape(label)}</text>')

    def legend(self, entries: Sequence[tuple[str, str]]) -> None:
        x = LEFT
        for label, colour in entries:
            self.parts.append(f'<rect x="{x}" y="{TOP - 16}" width="12" height="10" fill="{colour}"/>'
                              f'<text x="{x + 16}" y="{TOP - 7}" font-size="11" fill="{INK}">{escape(label)}</text>')
            x += 24 + 7 * len(label)

    def svg(self) -> str:
        return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {self.width} {self.height}" role="img" '
                f'aria-label="{escape(self.title)}" class="chart"><title>{escape(self.title)}</title>'
                + "".join(self.parts) + "</svg>")


def _time_axis(times: Sequence[dt.datetime]) -> tuple[list[float], list[tuple[float, str]], str]:
    seconds = [t.timestamp() for t in times]
    low, high = min(seconds), max(seconds)
    span = high - low
    fmt, label = ("%H:%M:%S", "time (UTC)") if span < 3 * 3600 else (("%d %b %H:%M", "time (UTC)") if span < 4 * 86400
                                                                      else ("%d %b", "date (UTC)"))
    ticks = [(low + span * i / 4, dt.datetime.fromtimestamp(low + span * i / 4, dt.UTC).strftime(fmt)) for i in range(5)]
    return seconds, ticks if span > 0 else ticks[:1], label


def time_series_svg(
    *, title: str, times: Sequence[dt.datetime], series: Sequence[tuple[str, Sequence[float | None], str]],
    y_label: str, thresholds: Sequence[tuple[float, str, str]] = (), y_range: tuple[float, float] | None = None,
    height: int = HEIGHT,
) -> str:
    """Lines over time (gaps where a value is missing) with dashed threshold lines."""
    if not times:
        return _empty(title)
    xs, x_ticks, x_label = _time_axis(times)
    values = [v for _, ys, _ in series for v in ys if v is not None and math.isfinite(v)]
    values += [t for t, _, _ in thresholds]
    if y_range is None:
        low, high = (min(values), max(values)) if values else (0.0, 1.0)
        pad = (high - low) * 0.08 or max(abs(high) * 0.01, 0.5)
        y_range = (low - pad, high + pad)
    plot = _Plot(title=title, x_range=(min(xs), max(xs)), y_range=y_range, height=height)
    plot.axes(x_ticks=x_ticks, y_ticks=[(v, _format(v)) for v in _nice_ticks(*y_range)], x_label=x_label, y_label=y_label)
    for value, label, colour in thresholds:
        plot.hline(value, colour=colour, label=label)
    for _label, ys, colour in series:
        plot.polyline(xs, [float("nan") if v is None else float(v) for v in ys], colour=colour)
    if len(series) > 1:
        plot.legend([(label, colour) for label, _, colour in series])
    return plot.svg()


def pr_curve_svg(*, points: Sequence[Sequence[float]], operating: tuple[float, float] | None, threshold: float | None,
                 base_rate: float | None = None) -> str:
    """Precision-recall curve from out-of-fold predictions, with the alert threshold's operating point."""
    plot = _Plot(title="Precision-recall curve (out-of-fold)", x_range=(0.0, 1.0), y_range=(0.0, 1.02), height=320)
    ticks = [(v, f"{v:.1f}") for v in (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)]
    plot.axes(x_ticks=ticks, y_ticks=ticks, x_label="Recall (failures caught)", y_label="Precision (alerts that were right)")
    if base_rate is not None:
        plot.hline(base_rate, colour=GREY, label=f"failure rate {base_rate:.3f}")
    plot.polyline([p[0] for p in points], [p[1] for p in points], colour=BLUE)
    if operating is not None:
        recall, precision = operating
        label = f"alert threshold {threshold:.2f}: precision {precision:.2f}, recall {recall:.2f}" if threshold is not None else ""
        plot.parts.append(f'<circle cx="{plot.x(recall):.1f}" cy="{plot.y(precision):.1f}" r="5" fill="{RED}"/>'
                          f'<text x="{plot.x(recall) - 8:.1f}" y="{plot.y(precision) + 18:.1f}" font-size="11" '
                          f'text-anchor="end" fill="{RED}">{escape(label)}</text>')
    return plot.svg()


def confusion_matrix_svg(*, tp: int, fp: int, fn: int, tn: int, threshold: float) -> str:
    """2x2 confusion matrix at the alert threshold (cells shaded by count)."""
    size, left, top = 120, 150, 50
    total = max(tp + fp + fn + tn, 1)
    cells = [(0, 0, tp, "failure, alerted", GREEN), (1, 0, fn, "failure, missed", RED),
             (0, 1, fp, "false alarm", AMBER), (1, 1, tn, "no failure, quiet", GREY)]
    title = f"Confusion matrix at alert threshold {threshold:.2f}"
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 420 330" role="img" aria-label="{escape(title)}" '
             f'class="chart"><title>{escape(title)}</title>',
             f'<text x="{left + size}" y="20" font-size="12" text-anchor="middle" fill="{INK}">predicted</text>',
             f'<text x="{left + size // 2}" y="40" font-size="11" text-anchor="middle" fill="{AXIS}">alert</text>',
             f'<text x="{left + size + size // 2}" y="40" font-size="11" text-anchor="middle" fill="{AXIS}">no alert</text>',
             f'<text x="{left - 10}" y="{top + size // 2 + 4}" font-size="11" text-anchor="end" fill="{AXIS}">failure</text>',
             f'<text x="{left - 10}" y="{top + size + size // 2 + 4}" font-size="11" text-anchor="end" '
             f'fill="{AXIS}">no failure</text>',
             f'<text x="24" y="{top + size}" font-size="12" text-anchor="middle" fill="{INK}" '
             f'transform="rotate(-90 24 {top + size})">actual</text>']
    for column, row, count, label, colour in cells:
        x, y = left + column * size, top + row * size
        opacity = 0.15 + 0.75 * (math.log1p(count) / math.log1p(total))
        parts.append(f'<rect x="{x}" y="{y}" width="{size}" height="{size}" fill="{colour}" fill-opacity="{opacity:.2f}" '
                     f'stroke="#fff" stroke-width="2"/>'
                     f'<text x="{x + size / 2}" y="{y + size / 2}" font-size="22" font-weight="700" text-anchor="middle" '
                     f'fill="{INK}">{count:,}</text>'
                     f'<text x="{x + size / 2}" y="{y + size / 2 + 20}" font-size="11" text-anchor="middle" '
                     f'fill="{INK}">{escape(label)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def rul_scatter_svg(*, pairs: Sequence[Sequence[float]], cap: int) -> str:
    """Predicted against true RUL of the test engines (last cycle each), with the ideal diagonal."""
    high = max([cap, *(max(p) for p in pairs)]) * 1.05 if pairs else float(cap)
    plot = _Plot(title="Predicted vs true remaining useful life (test engines)", x_range=(0.0, high),
                 y_range=(0.0, high), width=420, height=380)
    ticks = [(v, _format(v)) for v in _nice_ticks(0.0, high)]
    plot.axes(x_ticks=ticks, y_ticks=ticks, x_label="True RUL (cycles)", y_label="Predicted RUL (cycles)")
    plot.parts.append(f'<line x1="{plot.x(0):.1f}" y1="{plot.y(0):.1f}" x2="{plot.x(high):.1f}" y2="{plot.y(high):.1f}" '
                      f'stroke="{GREY}" stroke-dasharray="4 4"/>')
    plot.hline(float(cap), colour=AMBER, label=f"cap {cap}")
    for true, predicted in pairs:
        colour = RED if predicted > true else BLUE  # late predictions cost more (PHM08)
        plot.parts.append(f'<circle cx="{plot.x(true):.1f}" cy="{plot.y(predicted):.1f}" r="3" fill="{colour}" '
                          'fill-opacity="0.75"/>')
    plot.legend([("early (safe)", BLUE), ("late (costly)", RED)])
    return plot.svg()


def _empty(title: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} 60" role="img" aria-label="{escape(title)}" '
            f'class="chart"><title>{escape(title)}</title><text x="{WIDTH / 2}" y="34" font-size="13" '
            f'text-anchor="middle" fill="{AXIS}">no data yet</text></svg>')
