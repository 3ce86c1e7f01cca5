"""Small inline-SVG charts for the report: horizontal bars, histograms with thresholds, lines.

Each function returns one `<svg class="chart">` element as a string: no plotting library, no script,
nothing fetched, so the page reads the same offline and in any browser.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape
from typing import Optional, Sequence

PALETTE = ["#3366cc", "#dc6c1f", "#2e9e5b", "#a23fb5", "#c9a227", "#1f9bb4", "#d0457a", "#6b7a8f"]
WIDTH = 720
FONT = 'font-family="system-ui, sans-serif" font-size="12"'


def _svg(height: int, body: list[str], label: str) -> str:
    return (f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{escape(label)}" '
            f'width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" {FONT}>'
            f'<title>{escape(label)}</title>{"".join(body)}</svg>')


def fmt(value: float) -> str:
    """A compact number: 1234567 → 1.23M, 25000 → 25k, 1000 → 1,000, 0.0421 → 0.0421."""
    if value == 0:
        return "0"
    magnitude = abs(value)
    for bound, unit, suffix in ((1e12, 1e12, "T"), (1e9, 1e9, "G"), (1e6, 1e6, "M"), (1e4, 1e3, "k")):
        if magnitude >= bound:
            return f"{value / unit:.3g}{suffix}"
    return f"{value:.4g}" if magnitude < 1 or value != int(value) else f"{int(value):,}"


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high]."""
    if high <= low:
        return [low]
    raw = (high - low) / count
    step = 10 ** math.floor(math.log10(raw))
    step *= next(m for m in (1, 2, 2.5, 5, 10) if m * step >= raw)
    first = math.ceil(low / step) * step
    return [first + i * step for i in range(int((high - first) / step + 1e-9) + 1)]


END = ' text-anchor="end"'
CHAR_W = 7.0  # a generous width of one 12 px character, for margins that hold their labels


def _fit(text: str, width: float) -> str:
    """`text` cut with an ellipsis to what `width` pixels hold."""
    room = max(int(width / CHAR_W), 4)
    return text if len(text) <= room else text[:room - 1] + "…"


def hbars(rows: Sequence[tuple[str, float]], label: str, color: str = PALETTE[0],
          annotate: Optional[Sequence[str]] = None) -> str:
    """One horizontal bar per (name, value), longest = full width; values (or `annotate`) at the bar ends.
    The name column is as wide as the longest name (up to half the chart; longer names are cut, and
    whole in their tooltip)."""
    texts = [annotate[i] if annotate else fmt(value) for i, (_, value) in enumerate(rows)]
    left = min(max(120, CHAR_W * max((len(name) for name, _ in rows), default=0) + 16), WIDTH // 2)
    right = max(60, CHAR_W * max((len(t) for t in texts), default=0) + 12)
    row_h = 22
    height = row_h * len(rows) + 10
    top = max((v for _, v in rows), default=0) or 1
    body = []
    for i, (name, value) in enumerate(rows):
        y = 5 + i * row_h
        width = (WIDTH - left - right) * value / top
        body.append(f'<text x="{left - 8}" y="{y + 15}" text-anchor="end"><title>{escape(name)}</title>'
                    f'{escape(_fit(name, left - 12))}</text>'
                    f'<rect class="mark" x="{left}" y="{y + 3}" width="{max(width, 1):.1f}" height="{row_h - 6}" '
                    f'fill="{color}"/><text x="{left + width + 6:.1f}" y="{y + 15}">{escape(texts[i])}</text>')
    return _svg(height, body, label)


@dataclass(frozen=True)
class Bars:
    """One part of a stacked histogram: its name (in the legend), a count per bin, its colour."""

    name: str
    counts: Sequence[int]
    color: str


def histogram(edges: Sequence[float], parts: Sequence[Bars], label: str, log_x: bool = False,
              thresholds: Sequence[tuple[float, str]] = ()) -> str:
    """Stacked bars over [edges[i], edges[i+1]), one colour per part, with a legend; each threshold is a
    red line with its caption. The axis widens to take in a threshold near the data (within the data's
    span again, or a decade on a log scale); one further out is a caption at the edge it lies beyond."""
    left, right, top_pad, bottom = 56, 20, 26, 36
    height = 220
    plot_w, plot_h = WIDTH - left - right, height - top_pad - bottom
    lo, hi = edges[0], edges[-1]
    inside, beyond = [], []
    for value, caption in thresholds:
        near = (value > 0 and math.log10(max(hi, value) / min(lo, value)) <= math.log10(hi / lo) + 1) if log_x \
            else max(hi, value) - min(lo, value) <= 2 * (hi - lo)
        (inside if near else beyond).append((value, caption))
    lo, hi = min([lo] + [v for v, _ in inside]), max([hi] + [v for v, _ in inside])

    def x_of(value: float) -> float:
        if log_x:
            value, a, b = math.log10(max(value, lo)), math.log10(lo), math.log10(hi)
        else:
            a, b = lo, hi
        return left + plot_w * (min(max(value, a), b) - a) / ((b - a) or 1)

    totals = [sum(counts) for counts in zip(*(part.counts for part in parts))] if parts else []
    peak = max(totals, default=0) or 1
    body = [f'<line x1="{left}" y1="{top_pad + plot_h}" x2="{WIDTH - right}" y2="{top_pad + plot_h}" stroke="#555"/>']
    for tick in nice_ticks(0, peak, 4):
        y = top_pad + plot_h * (1 - tick / peak)
        body.append(f'<line x1="{left}" y1="{y:.1f}" x2="{WIDTH - right}" y2="{y:.1f}" stroke="#eee"/>'
                    f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{fmt(tick)}</text>')
    for i, (a, b) in enumerate(zip(edges, edges[1:])):
        x0, x1 = x_of(a), x_of(b)
        base = top_pad + plot_h
        for part in parts:
            n = part.counts[i]
            if n:
                h = plot_h * n / peak
                body.append(f'<rect class="mark" x="{x0:.1f}" y="{base - h:.1f}" width="{max(x1 - x0 - 1, 1):.1f}" '
                            f'height="{h:.1f}" fill="{part.color}"><title>{escape(part.name)}: {n:,}</title></rect>')
                base -= h
    x_ticks = ([10 ** e for e in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1)
                if lo <= 10 ** e <= hi] if log_x else nice_ticks(lo, hi))
    for tick in x_ticks:
        body.append(f'<text x="{x_of(tick):.1f}" y="{height - bottom + 16}" text-anchor="middle">{fmt(tick)}</text>')
    legend_x = WIDTH - right
    for part in reversed(parts):
        legend_x -= CHAR_W * len(part.name) + 24
        body.append(f'<rect x="{legend_x:.1f}" y="4" width="10" height="10" fill="{part.color}"/>'
                    f'<text x="{legend_x + 14:.1f}" y="13">{escape(part.name)}</text>')
    for i, (value, caption) in enumerate(inside):
        x = x_of(value)
        flip = x > left + plot_w * 0.6  # a caption right of its line would run off the chart
        body.append(f'<line class="threshold" x1="{x:.1f}" y1="{top_pad - 4}" x2="{x:.1f}" y2="{top_pad + plot_h}" '
                    f'stroke="#d62728" stroke-width="2" stroke-dasharray="5 3"/>'
                    f'<text x="{x - 4 if flip else x + 4:.1f}" y="{top_pad + 8 + 14 * i}" fill="#d62728"'
                    f'{END if flip else ""}>{escape(caption)}</text>')
    for i, (value, caption) in enumerate(beyond, start=len(inside)):
        above = value > hi
        body.append(f'<text class="threshold off-scale" x="{WIDTH - right if above else left + 4}" '
                    f'y="{top_pad + 8 + 14 * i}" fill="#d62728"{END if above else ""}>'
                    f'{"" if above else "← "}{escape(caption)}, off the scale{" →" if above else ""}</text>')
    return _svg(height, body, label)


@dataclass(frozen=True)
class Line:
    """One series of a line chart; lines of one `group` share a colour (e.g. a source asked and delivered)."""

    name: str
    xs: Sequence[float]
    ys: Sequence[float]
    group: str = ""
    dashed: bool = False


def lines(series: Sequence[Line], label: str, x_label: str, y_label: str,
          y_range: Optional[tuple[float, float]] = None) -> str:
    """Polylines over shared axes, with a legend under the plot."""
    left, right, top_pad, bottom = 64, 20, 14, 58
    height = 260
    plot_w, plot_h = WIDTH - left - right, height - top_pad - bottom
    xs_all = [x for line in series for x in line.xs]
    ys_all = [y for line in series for y in line.ys if math.isfinite(y)]
    if not xs_all or not ys_all:
        return _svg(40, ['<text x="10" y="24">no data</text>'], label)
    x_lo, x_hi = min(xs_all), max(xs_all)
    y_lo, y_hi = y_range or (min(ys_all), max(ys_all))
    if y_hi == y_lo:
        y_lo, y_hi = y_lo - 0.5, y_hi + 0.5

    def point(x: float, y: float) -> str:
        px = left + plot_w * (x - x_lo) / ((x_hi - x_lo) or 1)
        py = top_pad + plot_h * (1 - (y - y_lo) / (y_hi - y_lo))
        return f"{px:.1f},{py:.1f}"

    body = []
    for tick in nice_ticks(y_lo, y_hi):
        y = top_pad + plot_h * (1 - (tick - y_lo) / (y_hi - y_lo))
        body.append(f'<line x1="{left}" y1="{y:.1f}" x2="{WIDTH - right}" y2="{y:.1f}" stroke="#eee"/>'
                    f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{fmt(tick)}</text>')
    for tick in nice_ticks(x_lo, x_hi):
        x = left + plot_w * (tick - x_lo) / ((x_hi - x_lo) or 1)
        body.append(f'<text x="{x:.1f}" y="{top_pad + plot_h + 16}" text-anchor="middle">{fmt(tick)}</text>')
    body.append(f'<line x1="{left}" y1="{top_pad + plot_h}" x2="{WIDTH - right}" y2="{top_pad + plot_h}" stroke="#555"/>'
                f'<text x="{left + plot_w / 2}" y="{top_pad + plot_h + 32}" text-anchor="middle">{escape(x_label)}</text>'
                f'<text x="14" y="{top_pad + plot_h / 2}" text-anchor="middle" '
                f'transform="rotate(-90 14 {top_pad + plot_h / 2})">{escape(y_label)}</text>')
    colors: dict[str, str] = {}
    legend_x = left
    for line in series:
        color = colors.setdefault(line.group or line.name, PALETTE[len(colors) % len(PALETTE)])
        dash = ' stroke-dasharray="6 4"' if line.dashed else ""
        points = [point(x, y) for x, y in zip(line.xs, line.ys) if math.isfinite(y)]
        if len(points) < 3:  # too few for a line to show (an evaluation at the end of a short run)
            body += [f'<circle class="mark" cx="{p.split(",")[0]}" cy="{p.split(",")[1]}" r="3.5" fill="{color}"/>'
                     for p in points]
        body.append(f'<polyline class="mark" points="{" ".join(points)}" fill="none" stroke="{color}" '
                    f'stroke-width="2"{dash}/>'
                    f'<line x1="{legend_x}" y1="{height - 10}" x2="{legend_x + 22}" y2="{height - 10}" '
                    f'stroke="{color}" stroke-width="2"{dash}/>'
                    f'<text x="{legend_x + 26}" y="{height - 6}">{escape(line.name)}</text>')
        legend_x += 40 + 7 * len(line.name)
    return _svg(height, body, label)
