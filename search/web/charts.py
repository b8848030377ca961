"""Charts drawn on the server as inline SVG: no script, no CDN, readable on a phone (they scale to the width).

:func:`stacked_bars` draws one bar per day stacked by series (with a legend and the day's total on hover);
:func:`meter` draws a small horizontal gauge for a rate. Text is escaped; colours come from :data:`PALETTE`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

from markupsafe import Markup

PALETTE = ("#1f6feb", "#e8710a", "#2da44e", "#bf3989", "#8250df", "#d4a72c", "#0a7ea4", "#cf222e", "#6e7781",
           "#57606a")
OTHER = "其他"


def _nice_max(value: int) -> int:
    if value <= 5:
        return max(2, value + value % 2)
    step = 10 ** (len(str(value)) - 1)
    for mult in (1, 2, 2.5, 5, 10):
        top = int(step * mult)
        if top >= value:
            return top
    return value


def top_series(series: Mapping[str, Sequence[int]], keep: int = 7) -> dict[str, list[int]]:
    """The ``keep`` largest series, the rest summed into 其他."""
    ranked = sorted(series.items(), key=lambda kv: -sum(kv[1]))
    out = {k: list(v) for k, v in ranked[:keep] if sum(v)}
    rest = ranked[keep:]
    if rest and any(sum(v) for _, v in rest):
        out[OTHER] = [sum(col) for col in zip(*(v for _, v in rest), strict=True)]
    return out


def stacked_bars(
    days: Sequence[str], series: Mapping[str, Sequence[int]], *, title: str, unit: str = "篇",
    colors: Mapping[str, str] | None = None, height: int = 180,
) -> Markup:
    """One bar per day, stacked by series; ``days`` are ``YYYY-MM-DD``. An empty chart says so."""
    width = 640
    left, right, top, bottom = 36, 8, 8, 22
    plot_w, plot_h = width - left - right, height - top - bottom
    totals = [sum(s[i] for s in series.values()) for i in range(len(days))]
    peak = _nice_max(max(totals, default=0))
    n = max(1, len(days))
    slot = plot_w / n
    bar = max(2.0, slot * 0.72)
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}" '
        f'xmlns="http://www.w3.org/2000/svg" preserveAspectRatio="xMidYMid meet">',
        f"<title>{escape(title)}</title>",
    ]
    for frac in (0, 0.5, 1):
        if (peak * frac) % 1:
            continue  # only whole numbers on the axis
        y = top + plot_h * (1 - frac)
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#d0d7de" stroke-width="1"/>')
        parts.append(f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end" font-size="11" fill="#57606a">{int(peak * frac)}</text>')
    palette = dict(colors or {})
    for i, name in enumerate(series):
        palette.setdefault(name, PALETTE[i % len(PALETTE)])
    for i, day in enumerate(days):
        x = left + i * slot + (slot - bar) / 2
        y = top + plot_h
        tip = [f"{day}：共 {totals[i]} {unit}"] + [f"{k} {v[i]}" for k, v in series.items() if v[i]]
        parts.append(f"<g><title>{escape('；'.join(tip))}</title>")
        for name, values in series.items():
            v = values[i]
            if not v:
                continue
            h = plot_h * v / peak
            y -= h
            parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" fill="{palette[name]}"/>')
        parts.append("</g>")
        if i % max(1, n // 6) == 0 or i == n - 1:
            parts.append(
                f'<text x="{x + bar / 2:.1f}" y="{height - 6}" text-anchor="middle" font-size="11" fill="#57606a">'
                f"{escape(day[5:])}</text>"
            )
    if not any(totals):
        parts.append(f'<text x="{width / 2}" y="{top + plot_h / 2}" text-anchor="middle" font-size="14" fill="#57606a">这段时间没有数据</text>')
    parts.append("</svg>")
    legend = "".join(
        f'<span class="key"><svg viewBox="0 0 10 10" width="10" height="10" aria-hidden="true">'
        f'<rect width="10" height="10" rx="2" fill="{palette[name]}"/></svg> {escape(name)} {sum(series[name])}</span>'
        for name in series
        if sum(series[name])
    )
    return Markup("".join(parts) + (f'<p class="legend">{legend}</p>' if legend else ""))


def meter(rate: float | None, *, label: str) -> Markup:
    """A small gauge of a rate between 0 and 1 (``—`` when unknown)."""
    if rate is None:
        return Markup('<span class="muted">—</span>')
    pct = max(0.0, min(1.0, float(rate))) * 100
    color = "#2da44e" if pct >= 80 else "#d4a72c" if pct >= 50 else "#cf222e"
    return Markup(
        f'<svg class="meter" viewBox="0 0 100 10" role="img" aria-label="{escape(label)} {pct:.0f}%" '
        f'xmlns="http://www.w3.org/2000/svg"><rect width="100" height="10" rx="2" fill="#eaeef2"/>'
        f'<rect width="{pct:.1f}" height="10" rx="2" fill="{color}"/></svg> {pct:.0f}%'
    )
