"""Small server-rendered SVG charts for the model card and monitoring pages (no JavaScript, no CDN).

Each function returns a complete `<svg>` element; every text is escaped and
every number formatted here, so templates can insert the markup as is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

WIDTH, HEIGHT = 420, 300
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 14, 40
COLOURS = ("#2457c5", "#c0392b", "#1e7d45", "#9a6300")


def _frame(*, title: str, x_label: str, y_label: str, x_ticks: Sequence[tuple[float, str]],
           y_ticks: Sequence[tuple[float, str]], body: str, legend: Sequence[tuple[str, str]],
           legend_bottom_right: bool = False) -> str:
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(title)}" class="chart">',
        f"<title>{escape(title)}</title>",
        f'<rect x="{LEFT}" y="{TOP}" width="{WIDTH - LEFT - RIGHT}" height="{HEIGHT - TOP - BOTTOM}" '
        'fill="#fff" stroke="#c9ced8"/>',
    ]
    for x, label in x_ticks:
        parts.append(f'<line x1="{x:.1f}" y1="{HEIGHT - BOTTOM}" x2="{x:.1f}" y2="{HEIGHT - BOTTOM + 4}" stroke="#5d6778"/>'
                     f'<text x="{x:.1f}" y="{HEIGHT - BOTTOM + 16}" font-size="11" text-anchor="middle" '
                     f'fill="#5d6778">{escape(label)}</text>')
    for y, label in y_ticks:
        parts.append(f'<line x1="{LEFT - 4}" y1="{y:.1f}" x2="{LEFT}" y2="{y:.1f}" stroke="#5d6778"/>'
                     f'<text x="{LEFT - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end" '
                     f'fill="#5d6778">{escape(label)}</text>')
    parts.append(body)
    parts.append(f'<text x="{(LEFT + WIDTH - RIGHT) / 2:.0f}" y="{HEIGHT - 6}" font-size="12" text-anchor="middle" '
                 f'fill="#1d2330">{escape(x_label)}</text>')
    parts.append(f'<text x="12" y="{(TOP + HEIGHT - BOTTOM) / 2:.0f}" font-size="12" text-anchor="middle" '
                 f'fill="#1d2330" transform="rotate(-90 12 {(TOP + HEIGHT - BOTTOM) / 2:.0f})">{escape(y_label)}</text>')
    for index, (label, colour) in enumerate(legend):
        if legend_bottom_right:  # curves that rise to the top-left leave this corner free
            y = HEIGHT - BOTTOM - 10 - 16 * (len(legend) - 1 - index)
            x, anchor, text_x = WIDTH - RIGHT - 22, "end", WIDTH - RIGHT - 27
        else:
            y = TOP + 14 + 16 * index
            x, anchor, text_x = LEFT + 10, "start", LEFT + 27
        parts.append(f'<rect x="{x}" y="{y - 9}" width="12" height="10" fill="{colour}"/>'
                     f'<text x="{text_x}" y="{y}" font-size="11" text-anchor="{anchor}" fill="#1d2330">{escape(label)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _x(value: float, low: float, high: float) -> float:
    return LEFT + (value - low) / (high - low or 1) * (WIDTH - LEFT - RIGHT)


def _y(value: float, low: float, high: float) -> float:
    return HEIGHT - BOTTOM - (value - low) / (high - low or 1) * (HEIGHT - TOP - BOTTOM)


def _unit_ticks() -> list[tuple[float, str]]:
    return [(v, f"{v:.1f}") for v in (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)]


def roc_svg(curves: Sequence[Mapping[str, Any]]) -> str:
    """ROC curves (false positive rate vs true positive rate) with the diagonal of a random model."""
    body = [f'<line x1="{_x(0, 0, 1):.1f}" y1="{_y(0, 0, 1):.1f}" x2="{_x(1, 0, 1):.1f}" y2="{_y(1, 0, 1):.1f}" '
            'stroke="#aab1bd" stroke-dasharray="4 4"/>']
    legend = []
    for index, curve in enumerate(curves):
        colour = COLOURS[index % len(COLOURS)]
        points = " ".join(f"{_x(f, 0, 1):.1f},{_y(t, 0, 1):.1f}" for f, t in zip(curve["fpr"], curve["tpr"], strict=True))
        body.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{points}"/>')
        legend.append((f"{curve['label']} (AUC {curve['auc']:.3f})", colour))
    ticks = _unit_ticks()
    return _frame(title="ROC curve on held-out folds", x_label="False positive rate (goods declined)",
                  y_label="True positive rate (bads caught)",
                  x_ticks=[(_x(v, 0, 1), t) for v, t in ticks], y_ticks=[(_y(v, 0, 1), t) for v, t in ticks],
                  body="".join(body), legend=legend, legend_bottom_right=True)


def histogram_svg(*, edges: Sequence[float], series: Sequence[tuple[str, Sequence[float]]], title: str,
                  x_label: str, y_label: str = "Share of applicants") -> str:
    """Overlaid histograms (shares per bin) of several groups on the same bins."""
    low, high = edges[0], edges[-1]
    top = max((max(values) for _, values in series if len(values)), default=1.0) * 1.1 or 1.0
    body = []
    legend = []
    for index, (label, values) in enumerate(series):
        colour = COLOURS[index % len(COLOURS)]
        for left, right, share in zip(edges[:-1], edges[1:], values, strict=True):
            x0, x1 = _x(left, low, high), _x(right, low, high)
            y = _y(share, 0, top)
            body.append(f'<rect x="{x0:.1f}" y="{y:.1f}" width="{max(x1 - x0 - 0.5, 0.5):.1f}" '
                        f'height="{HEIGHT - BOTTOM - y:.1f}" fill="{colour}" fill-opacity="0.45"/>')
        legend.append((label, colour))
    step = max(1, (len(edges) - 1) // 5)
    x_ticks = [(_x(e, low, high), f"{e:.0f}") for e in list(edges)[::step]]
    y_ticks = [(_y(v, 0, top), f"{v:.0%}") for v in (0, top / 2, top / 1.1)]
    return _frame(title=title, x_label=x_label, y_label=y_label, x_ticks=x_ticks, y_ticks=y_ticks,
                  body="".join(body), legend=legend)


def calibration_svg(rows: Sequence[Mapping[str, Any]]) -> str:
    """Mean predicted PD vs observed bad rate per probability bin; the diagonal is perfect calibration."""
    body = [f'<line x1="{_x(0, 0, 1):.1f}" y1="{_y(0, 0, 1):.1f}" x2="{_x(1, 0, 1):.1f}" y2="{_y(1, 0, 1):.1f}" '
            'stroke="#aab1bd" stroke-dasharray="4 4"/>']
    points = [(float(r["mean_predicted"]), float(r["observed_rate"]), int(r["count"])) for r in rows]
    if points:
        line = " ".join(f"{_x(p, 0, 1):.1f},{_y(o, 0, 1):.1f}" for p, o, _ in points)
        body.append(f'<polyline fill="none" stroke="{COLOURS[0]}" stroke-width="2" points="{line}"/>')
        for p, o, count in points:
            body.append(f'<circle cx="{_x(p, 0, 1):.1f}" cy="{_y(o, 0, 1):.1f}" r="3.5" fill="{COLOURS[0]}">'
                        f"<title>{count} applicants: predicted {p:.1%}, observed {o:.1%}</title></circle>")
    ticks = _unit_ticks()
    return _frame(title="Calibration on held-out folds", x_label="Predicted probability of default",
                  y_label="Observed bad rate", x_ticks=[(_x(v, 0, 1), t) for v, t in ticks],
                  y_ticks=[(_y(v, 0, 1), t) for v, t in ticks], body="".join(body),
                  legend=[("Scorecard", COLOURS[0])], legend_bottom_right=True)


def bars_svg(*, labels: Sequence[str], series: Sequence[tuple[str, Sequence[float]]], title: str) -> str:
    """Grouped bars of shares per bin (training sample vs recent applicants on the monitoring page)."""
    count = max(len(labels), 1)
    top = max((max(values) for _, values in series if len(values)), default=1.0) * 1.15 or 1.0
    band = (WIDTH - LEFT - RIGHT) / count
    width = band * 0.8 / max(len(series), 1)
    body = []
    legend = []
    for s, (name, values) in enumerate(series):
        colour = COLOURS[s % len(COLOURS)]
        for i, value in enumerate(values):
            x = LEFT + i * band + band * 0.1 + s * width
            y = _y(value, 0, top)
            body.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{width:.1f}" height="{HEIGHT - BOTTOM - y:.1f}" '
                        f'fill="{colour}"><title>{escape(labels[i])}: {value:.1%}</title></rect>')
        legend.append((name, colour))
    x_ticks = [(LEFT + (i + 0.5) * band, str(i + 1)) for i in range(count)]
    y_ticks = [(_y(v, 0, top), f"{v:.0%}") for v in (0, top / 2.3, top / 1.15)]
    return _frame(title=title, x_label="Bin (see table)", y_label="Share", x_ticks=x_ticks, y_ticks=y_ticks,
                  body="".join(body), legend=legend)
