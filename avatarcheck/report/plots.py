"""Small inline-SVG charts for the HTML report (numpy only, no matplotlib).

Charts come back as SVG markup to embed in the page, so a report folder stays self-contained:
no scripts, no external files. SVG text is escaped here; the caller marks it safe.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape

import numpy as np

from avatarcheck.render.colormaps import ratio_colors

# Okabe-Ito colours (colour-blind safe); the gate's variant roles get fixed ones across charts.
VARIANT_COLORS = {"reference": "#555555", "must-fail": "#D55E00", "must-pass": "#0072B2"}
_EXTRA_COLORS = ("#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")


def variant_color(role: str, index: int = 0) -> str:
    """A fixed CSS colour per variant role; anything else cycles through a colour-blind-safe list."""
    return VARIANT_COLORS.get(role, _EXTRA_COLORS[index % len(_EXTRA_COLORS)])


def rgb_hex(rgb: Sequence[float]) -> str:
    """(3,) float in [0, 1] -> "#rrggbb"."""
    return "#" + "".join(f"{int(round(min(max(float(c), 0.0), 1.0) * 255)):02x}" for c in rgb[:3])


# --- axes ---------------------------------------------------------------------------------------

def nice_step(span: float, n: int) -> float:
    """A 1/2/2.5/5 x 10^k step giving about ``n`` intervals over ``span`` (> 0)."""
    raw = span / max(n, 1)
    mag = 10.0 ** math.floor(math.log10(raw))
    for m in (1.0, 2.0, 2.5, 5.0, 10.0):
        if m * mag >= raw * (1 - 1e-9):
            return m * mag
    return 10.0 * mag


def nice_ticks(lo: float, hi: float, n: int = 5, *, expand: bool = False) -> tuple[float, float, list[float]]:
    """(lo', hi', ticks): tick values at a nice step; with ``expand`` lo/hi grow to tick multiples."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        lo, hi = 0.0, 1.0
    if hi <= lo:  # a flat series still needs a visible range
        hi = lo + (abs(lo) if lo else 1.0)
    step = nice_step(hi - lo, n)
    if expand:
        lo, hi = math.floor(lo / step + 1e-9) * step, math.ceil(hi / step - 1e-9) * step
    first = math.ceil(lo / step - 1e-9)
    ticks = [round(k * step, 12) for k in range(first, math.floor(hi / step + 1e-9) + 1)]
    return lo, hi, ticks


def fmt_tick(v: float) -> str:
    """Short tick label: 0.05, 1.5, 250, 1e+04 (no float noise)."""
    return f"{v:.4g}" if v else "0"


def _f(v: float) -> str:
    # One decimal is sub-pixel at report sizes and keeps long curves small.
    return f"{v:.1f}"


@dataclass(frozen=True)
class _Frame:
    """Plot-area geometry and data -> pixel mapping."""

    width: int
    height: int
    left: int
    right: int
    top: int
    bottom: int
    x0: float
    x1: float
    y0: float
    y1: float

    def px(self, x: float) -> float:
        return self.left + (x - self.x0) / (self.x1 - self.x0) * (self.width - self.left - self.right)

    def py(self, y: float) -> float:
        return self.height - self.bottom - (y - self.y0) / (self.y1 - self.y0) * (self.height - self.top - self.bottom)


def _axes(fr: _Frame, xticks: Sequence[float], yticks: Sequence[float], x_label: str, y_label: str) -> list[str]:
    """Grid lines, tick labels, the plot box and the axis labels."""
    out = ['<g class="axes" font-size="11" fill="#444">']
    yb, yt = fr.height - fr.bottom, fr.top
    for t in yticks:
        y = fr.py(t)
        out.append(f'<line x1="{fr.left}" y1="{_f(y)}" x2="{fr.width - fr.right}" y2="{_f(y)}" stroke="#e3e3e3"/>')
        out.append(f'<text x="{fr.left - 6}" y="{_f(y + 4)}" text-anchor="end">{escape(fmt_tick(t))}</text>')
    for t in xticks:
        x = fr.px(t)
        out.append(f'<line x1="{_f(x)}" y1="{yb}" x2="{_f(x)}" y2="{yb + 5}" stroke="#888"/>')
        out.append(f'<text x="{_f(x)}" y="{yb + 18}" text-anchor="middle">{escape(fmt_tick(t))}</text>')
    out.append(f'<rect x="{fr.left}" y="{yt}" width="{fr.width - fr.left - fr.right}" height="{yb - yt}" '
               'fill="none" stroke="#888"/>')
    out.append(f'<text x="{(fr.left + fr.width - fr.right) / 2:.1f}" y="{fr.height - 6}" '
               f'text-anchor="middle">{escape(x_label)}</text>')
    out.append(f'<text transform="translate(14 {(yt + yb) / 2:.1f}) rotate(-90)" '
               f'text-anchor="middle">{escape(y_label)}</text>')
    out.append("</g>")
    return out


def _svg_open(width: int, height: int, title: str, chart_id: str, css_class: str) -> str:
    # No xmlns: inline SVG in HTML gets its namespace from the parser, and the page stays free of URLs.
    return (f'<svg class="{css_class}" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
            f'role="img" aria-labelledby="{escape(chart_id)}-title" font-family="system-ui, sans-serif">'
            f'<title id="{escape(chart_id)}-title">{escape(title)}</title>')


# --- line chart -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Series:
    """One polyline: x (N,), y (N,) (non-finite points are skipped), a CSS colour, an optional dash."""

    label: str
    x: Sequence[float]
    y: Sequence[float]
    color: str
    dash: str | None = None


def _finite_points(s: Series) -> list[tuple[float, float]]:
    return [(float(x), float(y)) for x, y in zip(s.x, s.y) if math.isfinite(x) and math.isfinite(y)]


def _legend(series: Sequence[Series], left: int, y: int) -> list[str]:
    out, x = ['<g class="legend" font-size="12" fill="#222">'], left
    for s in series:
        dash = f' stroke-dasharray="{escape(s.dash)}"' if s.dash else ""
        out.append(f'<line x1="{x}" y1="{y}" x2="{x + 22}" y2="{y}" stroke="{escape(s.color)}" '
                   f'stroke-width="2.5"{dash}/>')
        out.append(f'<text x="{x + 27}" y="{y + 4}">{escape(s.label)}</text>')
        x += 40 + 7 * len(s.label)  # ~7 px per character at 12 px
    out.append("</g>")
    return out


def _moment_marks(fr: _Frame, markers: Sequence[tuple[float, str]]) -> list[str]:
    out = ['<g class="moments" font-size="11" fill="#333">']
    for i, (x, label) in enumerate(markers):
        if not fr.x0 <= x <= fr.x1:
            continue
        px = fr.px(x)
        out.append(f'<line class="moment" x1="{_f(px)}" y1="{fr.top}" x2="{_f(px)}" y2="{fr.height - fr.bottom}" '
                   'stroke="#333" stroke-dasharray="4 3"/>')
        # Staggered so that labels of nearby moments do not overprint.
        out.append(f'<text class="moment-label" x="{_f(px + 3)}" y="{fr.top + 12 + 13 * (i % 3)}" '
                   'stroke="#fff" stroke-width="3" paint-order="stroke">'
                   f'{escape(label)}</text>')
    out.append("</g>")
    return out


def line_chart_svg(series: Sequence[Series], *, markers: Sequence[tuple[float, str]] = (), title: str,
                   x_label: str, y_label: str, chart_id: str, width: int = 1000, height: int = 320,
                   y_min: float = 0.0) -> str:
    """Inline SVG line chart: one ``<polyline>`` per series, a dashed ``line.moment`` per marker.

    markers: (x, label) vertical reference lines (the gate's moments). The y range starts at
    ``y_min`` and grows to a nice tick above the data; x spans the data and the markers.
    """
    pts = [_finite_points(s) for s in series]
    xs = [p[0] for ps in pts for p in ps] + [float(m[0]) for m in markers]
    ys = [p[1] for ps in pts for p in ps]
    x0, x1, xticks = nice_ticks(min(xs, default=0.0), max(xs, default=1.0), 8)
    y0, y1, yticks = nice_ticks(y_min, max(ys + [y_min]), 5, expand=True)
    fr = _Frame(width, height, left=64, right=16, top=34, bottom=40, x0=x0, x1=x1, y0=y0, y1=y1)
    out = [_svg_open(width, height, title, chart_id, "chart line-chart")]
    out += _axes(fr, xticks, yticks, x_label, y_label)
    out += _moment_marks(fr, markers)
    for s, ps in zip(series, pts):
        coords = " ".join(f"{_f(fr.px(x))},{_f(fr.py(y))}" for x, y in ps)
        dash = f' stroke-dasharray="{escape(s.dash)}"' if s.dash else ""
        out.append(f'<polyline class="series" data-label="{escape(s.label)}" points="{coords}" fill="none" '
                   f'stroke="{escape(s.color)}" stroke-width="1.8" stroke-linejoin="round"{dash}/>')
    out += _legend(series, fr.left, 16)
    out.append("</svg>")
    return "".join(out)


# --- histogram ------------------------------------------------------------------------------------

def histogram_svg(counts: Sequence[int], edges: Sequence[float], *, title: str, chart_id: str,
                  x_label: str = "scale ratio (edited / canonical)", ref: float | None = 1.0,
                  width: int = 760, height: int = 220, y_label: str = "vertices", fill: str | None = None) -> str:
    """Inline SVG bar chart of a histogram: counts (B,), edges (B + 1,) increasing.

    Bars are coloured like the ratio head image (``ratio_colors`` at the bin centre), or all ``fill`` when
    given; ``ref`` draws a dashed line (ratio 1 = unchanged density). Returns "" for an empty histogram.
    """
    c = np.asarray(counts, np.float64)
    e = np.asarray(edges, np.float64)
    if len(c) == 0:
        return ""
    if e.shape != (len(c) + 1,):
        raise ValueError(f"histogram_svg: {len(c)} counts need {len(c) + 1} edges, got {e.shape}")
    x0 = float(e[0])
    x1 = float(e[-1]) if e[-1] > e[0] else x0 + 1.0
    _, _, xticks = nice_ticks(x0, x1, 8)   # bars fill the plot: ticks inside the edges only
    y0, y1, yticks = nice_ticks(0.0, float(c.max()) if c.max() > 0 else 1.0, 4, expand=True)
    fr = _Frame(width, height, left=64, right=16, top=12, bottom=40, x0=x0, x1=x1, y0=y0, y1=y1)
    colors = [fill] * len(c) if fill else [rgb_hex(x) for x in ratio_colors(0.5 * (e[:-1] + e[1:]))]
    out = [_svg_open(width, height, title, chart_id, "chart histogram")]
    out += _axes(fr, xticks, yticks, x_label, y_label)
    out.append('<g class="bars" stroke="#666" stroke-width="0.5">')
    for k in range(len(c)):
        xa, xb, yt = fr.px(e[k]), fr.px(e[k + 1]), fr.py(c[k])
        out.append(f'<rect x="{_f(xa)}" y="{_f(yt)}" width="{_f(max(xb - xa, 0.5))}" '
                   f'height="{_f(fr.py(0) - yt)}" fill="{escape(colors[k])}"><title>'
                   f'{escape(fmt_tick(e[k]))} to {escape(fmt_tick(e[k + 1]))}: {int(c[k])}</title></rect>')
    out.append("</g>")
    if ref is not None and x0 <= ref <= x1:
        out.append(f'<line class="ref" x1="{_f(fr.px(ref))}" y1="{fr.top}" x2="{_f(fr.px(ref))}" '
                   f'y2="{fr.height - fr.bottom}" stroke="#222" stroke-dasharray="4 3"/>')
    out.append("</svg>")
    return "".join(out)


# --- safe-strength sweep ------------------------------------------------------------------------------

def sweep_chart_svg(strengths: Sequence[float], leak: Mapping[str, Sequence[float | None]],
                    passed: Mapping[str, Sequence[bool]], safe: Mapping[str, float | None], *,
                    threshold: float | None, title: str, chart_id: str, width: int = 1000, height: int = 300) -> str:
    """Inline SVG of a safe-strength sweep: leak max (worse eye, worst moment) against strength.

    strengths (N,) ascending; per correction: leak (N,) (None/NaN: the pull-back was refused, drawn
    as an x on the axis), passed (N,) (filled dot: every check passed; hollow: one failed), and its
    largest safe strength (a ring, ``g.safe`` with ``data-correction`` / ``data-strength``; None: no
    ring). ``threshold``: the gate's leak-max threshold, a dashed ``line.threshold``.
    """
    names = list(leak)
    clean = {c: [math.nan if v is None else float(v) for v in leak[c]] for c in names}
    ys = [v for c in names for v in clean[c] if math.isfinite(v)] + ([threshold] if threshold is not None else [])
    x0, x1, xticks = nice_ticks(min(strengths), max(strengths), 8)
    if x1 - x0 > 0:  # a little room so end points and rings are not cut by the box
        pad = 0.04 * (x1 - x0)
        x0, x1 = x0 - pad, x1 + pad
    else:
        x0, x1 = x0 - 0.5, x1 + 0.5
    y0, y1, yticks = nice_ticks(0.0, max(ys + [0.0]) * 1.05, 5, expand=True)
    fr = _Frame(width, height, left=64, right=16, top=34, bottom=40, x0=x0, x1=x1, y0=y0, y1=y1)
    out = [_svg_open(width, height, title, chart_id, "chart sweep-chart")]
    out += _axes(fr, xticks, yticks, "edit strength", "leak max (worse eye, worst moment)")
    if threshold is not None:
        y = _f(fr.py(threshold))
        out.append(f'<line class="threshold" data-value="{threshold:g}" x1="{fr.left}" y1="{y}" '
                   f'x2="{fr.width - fr.right}" y2="{y}" stroke="#222" stroke-dasharray="6 4"/>')
        out.append(f'<text x="{fr.width - fr.right - 4}" y="{_f(fr.py(threshold) - 4)}" text-anchor="end" '
                   f'font-size="11" fill="#222">leak max threshold {escape(fmt_tick(threshold))}</text>')
    series = []
    for i, c in enumerate(names):
        color = variant_color(c, i)
        s = safe.get(c)
        series.append(Series(f"{c}: " + ("none safe" if s is None else f"safe to {fmt_tick(s)}"), strengths,
                             clean[c], color))
        pts = [(x, y) for x, y in zip(strengths, clean[c]) if math.isfinite(y)]
        coords = " ".join(f"{_f(fr.px(x))},{_f(fr.py(y))}" for x, y in pts)
        out.append(f'<polyline class="series" data-label="{escape(c)}" points="{coords}" fill="none" '
                   f'stroke="{escape(color)}" stroke-width="1.8" stroke-linejoin="round"/>')
        for x, y, ok in zip(strengths, clean[c], passed[c]):
            if not math.isfinite(y):
                px, py = fr.px(x), fr.py(y0)
                out.append(f'<path class="refused" d="M{_f(px - 4)},{_f(py - 4)}l8,8m0,-8l-8,8" stroke="{color}" '
                           f'stroke-width="1.8"><title>{escape(c)} at {x:g}: refused</title></path>')
                continue
            fill = color if ok else "#fff"
            out.append(f'<circle class="point {"pass" if ok else "fail"}" cx="{_f(fr.px(x))}" cy="{_f(fr.py(y))}" '
                       f'r="3.5" fill="{fill}" stroke="{color}" stroke-width="1.5"><title>{escape(c)} at {x:g}: '
                       f'leak max {y:.3g}, {"passes" if ok else "fails"}</title></circle>')
        if s is not None:
            k = list(strengths).index(s)
            out.append(f'<g class="safe" data-correction="{escape(c)}" data-strength="{s:g}"><circle '
                       f'cx="{_f(fr.px(s))}" cy="{_f(fr.py(clean[c][k]))}" r="{8 + 2 * i}" fill="none" '
                       f'stroke="{color}" stroke-width="2"/><title>{escape(c)}: largest safe strength {s:g}'
                       '</title></g>')
    out += _legend(series, fr.left, 16)
    out.append("</svg>")
    return "".join(out)
