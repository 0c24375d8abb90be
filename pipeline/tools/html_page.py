"""Self-contained HTML pages with inline SVG charts: the run report's and stats.html's style.

In: figures (numbers, labels, series). Out: HTML strings with no external
reference at all (no CDN, font, script or image URL), so a page opens offline
in any browser. `lang="ko"` and a Korean font fallback stack keep Hangul
readable on a machine without a Korean web font. Pure: no files, no imports
beyond the standard library.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence

FONT_STACK = (
    '"Noto Sans KR", "Noto Sans CJK KR", "Apple SD Gothic Neo", "Malgun Gothic", '
    '"NanumGothic", "Nanum Gothic", system-ui, sans-serif'
)
COLORS = ("#3b6fb6", "#e07b39", "#4f9d69", "#a05195", "#7a7a7a", "#c9a227")
MISSING = "—"

CSS = f"""
:root {{ color-scheme: light; }}
body {{ font-family: {FONT_STACK}; margin: 0; color: #1f2328; background: #f6f7f9; line-height: 1.45; }}
header {{ background: #1f3b63; color: #fff; padding: 18px 32px; }}
header h1 {{ margin: 0 0 4px; font-size: 22px; }}
header p {{ margin: 0; opacity: .85; font-size: 13px; }}
nav {{ padding: 8px 32px; background: #e9edf3; font-size: 13px; }}
nav a {{ margin-right: 14px; color: #1f3b63; }}
main {{ max-width: 1180px; margin: 0 auto; padding: 12px 24px 40px; }}
section {{ background: #fff; border: 1px solid #d8dde4; border-radius: 6px; margin: 16px 0; padding: 14px 20px; }}
section h2 {{ margin: 0 0 10px; font-size: 18px; color: #1f3b63; }}
section h3 {{ margin: 14px 0 6px; font-size: 15px; }}
table {{ border-collapse: collapse; margin: 6px 0 10px; font-size: 13px; }}
th, td {{ border-bottom: 1px solid #e3e6ea; padding: 4px 10px; text-align: left; vertical-align: top; white-space: nowrap; }}
td.long {{ white-space: normal; min-width: 220px; }}
th {{ background: #f0f3f7; font-weight: 600; }}
td.num, th.num {{ text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }}
tr.total td {{ font-weight: 600; border-top: 2px solid #c5ccd6; }}
tr.sub td:first-child {{ padding-left: 26px; }}
td.indent {{ padding-left: 26px; }}
td.zero {{ color: #9aa3ad; }}
.missing {{ color: #8a6d3b; background: #fcf8e3; border: 1px solid #f0e1b0; padding: 6px 10px; border-radius: 4px; }}
.note {{ color: #57606a; font-size: 12px; }}
.grid {{ display: flex; flex-wrap: wrap; gap: 18px; align-items: flex-start; }}
.grid > div {{ flex: 1 1 420px; min-width: 0; }}
.wrap {{ overflow-wrap: anywhere; word-break: break-all; }}
svg text {{ font-family: {FONT_STACK}; }}
code {{ font-size: 12px; background: #f0f3f7; padding: 1px 4px; border-radius: 3px; }}
"""


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


# ------------------------------------------------------------------ numbers


def fmt_int(value: float | int | None) -> str:
    return MISSING if value is None else f"{int(round(value)):,}"


def fmt_float(value: float | None, digits: int = 3) -> str:
    return MISSING if value is None else f"{value:,.{digits}f}"


def fmt_pct(value: float | None, digits: int = 1) -> str:
    return MISSING if value is None else f"{100 * value:.{digits}f}%"


def fmt_bytes(value: float | None) -> str:
    """Bytes in decimal units, as KorPatBERT's manual writes sizes (117 GB)."""
    if value is None:
        return MISSING
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if value >= size:
            return f"{value / size:,.1f} {unit}"
    return f"{int(value):,} B"


# ------------------------------------------------------------------ page parts


def page(title: str, subtitle: str, sections: Sequence[tuple[str, str, str]]) -> str:
    """A whole document; `sections` are (anchor, heading, body HTML)."""
    nav = "".join(f'<a href="#{esc(anchor)}">{esc(heading)}</a>' for anchor, heading, _ in sections)
    body = "".join(
        f'<section id="{esc(anchor)}"><h2>{esc(heading)}</h2>{content}</section>'
        for anchor, heading, content in sections
    )
    return (
        '<!doctype html>\n<html lang="ko"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{CSS}</style></head><body>"
        f"<header><h1>{esc(title)}</h1><p>{esc(subtitle)}</p></header>"
        f"<nav>{nav}</nav><main>{body}</main></body></html>\n"
    )


def missing(text: str) -> str:
    return f'<p class="missing">{esc(text)}</p>'


def note(text: str) -> str:
    return f'<p class="note">{esc(text)}</p>'


def grid(*blocks: str) -> str:
    return '<div class="grid">' + "".join(f"<div>{b}</div>" for b in blocks if b) + "</div>"


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def table(
    headers: Sequence[str],
    rows: Sequence[Sequence[object]],
    numeric: Sequence[bool] | None = None,
    row_classes: Sequence[str] | None = None,
) -> str:
    """Cells are escaped; ints get thousands separators; `numeric` columns align right.
    A cell that is already a `Raw` is inserted as is."""
    numeric = numeric or [False] * len(headers)
    head = "".join(
        f'<th class="{"num" if n else ""}">{esc(h)}</th>' for h, n in zip(headers, numeric, strict=True)
    )
    lines = []
    for i, row in enumerate(rows):
        cells = []
        for value, is_num in zip(row, numeric, strict=True):
            classes = ["num"] if is_num else []
            if _is_number(value) and value == 0:
                classes.append("zero")
            if isinstance(value, Raw) or len(str(value)) > 60:  # long text may wrap
                classes.append("long")
            text = (
                value
                if isinstance(value, Raw)
                else esc(fmt_int(value) if isinstance(value, int) and not isinstance(value, bool) else value)
            )
            cells.append(f'<td class="{" ".join(classes)}">{text}</td>')
        row_class = row_classes[i] if row_classes else ""
        lines.append(f'<tr class="{row_class}">{"".join(cells)}</tr>')
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(lines)}</tbody></table>"


class Raw(str):
    """HTML that `table` inserts without escaping."""


# ------------------------------------------------------------------ charts


def nice_ticks(top: float, count: int = 5) -> list[float]:
    """0 and round steps (1, 2, 2.5, 5 x 10^k) up to at least `top`."""
    if top <= 0:
        return [0.0, 1.0]
    raw = top / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    ticks = [0.0]
    while ticks[-1] < top - 1e-12:
        ticks.append(round(ticks[-1] + step, 12))
    return ticks


def _tick_label(value: float, percent: bool) -> str:
    if percent:
        return f"{100 * value:g}%"
    if abs(value) >= 1e6:
        return f"{value / 1e6:g}M"
    if abs(value) >= 1e4:
        return f"{value / 1e3:g}k"
    return f"{value:g}"


def _legend(names: Sequence[str], x: float, y: float, colors: dict[str, str] | None = None) -> str:
    items = []
    for i, name in enumerate(names):
        cx = x + i * 130
        color = (colors or {}).get(name, COLORS[i % len(COLORS)])
        items.append(
            f'<rect x="{cx:.0f}" y="{y - 9:.0f}" width="10" height="10" fill="{color}"/>'
            f'<text x="{cx + 14:.0f}" y="{y:.0f}" font-size="11">{esc(name)}</text>'
        )
    return "".join(items)


def _svg(width: int, height: int, body: str, label: str) -> str:
    return (
        f'<svg role="img" aria-label="{esc(label)}" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}">{body}</svg>'
    )


def bar_chart(
    categories: Sequence[str],
    series: dict[str, Sequence[float]],
    *,
    title: str,
    y_label: str = "",
    percent: bool = False,
    width: int = 560,
    height: int = 240,
) -> str:
    """Vertical bars per category, one colour per series (grouped side by side), with a y axis."""
    left, right, top, bottom = 56, 12, 28, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max([v for values in series.values() for v in values] + [0])
    ticks = nice_ticks(peak)
    scale = plot_h / ticks[-1] if ticks[-1] else 0
    parts = [f'<text x="{left}" y="16" font-size="12" font-weight="600">{esc(title)}</text>']
    for t in ticks:
        y = top + plot_h - t * scale
        parts.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" stroke="#e3e6ea"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" font-size="10" text-anchor="end">{_tick_label(t, percent)}</text>'
        )
    if y_label:
        parts.append(
            f'<text x="12" y="{top + plot_h / 2:.0f}" font-size="10" text-anchor="middle" '
            f'transform="rotate(-90 12 {top + plot_h / 2:.0f})">{esc(y_label)}</text>'
        )
    n = max(1, len(categories))
    slot = plot_w / n
    bar = max(1.0, (slot * 0.8) / max(1, len(series)))
    label_every = max(1, math.ceil(n / (plot_w / 34)))
    for i, category in enumerate(categories):
        x0 = left + i * slot + slot * 0.1
        for j, (name, values) in enumerate(series.items()):
            value = values[i] if i < len(values) else 0
            h = value * scale
            shown = f"{100 * value:.1f}%" if percent else f"{value:,}"
            parts.append(
                f'<rect x="{x0 + j * bar:.1f}" y="{top + plot_h - h:.1f}" width="{max(bar - 1, 0.5):.1f}" '
                f'height="{h:.1f}" fill="{COLORS[j % len(COLORS)]}"><title>{esc(name)} {esc(category)}: '
                f"{shown}</title></rect>"
            )
        if i % label_every == 0:
            parts.append(
                f'<text x="{left + (i + 0.5) * slot:.1f}" y="{top + plot_h + 14}" font-size="10" '
                f'text-anchor="middle">{esc(category)}</text>'
            )
    parts.append(
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="#57606a"/>'
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#57606a"/>'
    )
    if len(series) > 1:
        parts.append(_legend(list(series), left, height - 6))
    return _svg(width, height, "".join(parts), title)


def hbar_chart(
    labels: Sequence[str], values: Sequence[float], *, title: str, width: int = 560, label_width: int = 230
) -> str:
    """Horizontal bars (long labels: drop reasons, nouns), the value written at each bar's end."""
    row, top = 18, 26
    height = top + row * max(1, len(labels)) + 8
    peak = max(list(values) + [1])
    plot_w = width - label_width - 70
    parts = [f'<text x="4" y="16" font-size="12" font-weight="600">{esc(title)}</text>']
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = top + i * row
        w = plot_w * value / peak
        parts.append(
            f'<text x="{label_width - 6}" y="{y + 12}" font-size="11" text-anchor="end">{esc(label)}</text>'
            f'<rect x="{label_width}" y="{y + 2}" width="{w:.1f}" height="{row - 5}" fill="{COLORS[0]}"/>'
            f'<text x="{label_width + w + 4:.1f}" y="{y + 12}" font-size="10">{value:,}</text>'
        )
    return _svg(width, height, "".join(parts), title)


def line_chart(
    series: dict[str, Sequence[tuple[float, float]]],
    *,
    title: str,
    x_label: str = "step",
    percent: bool = False,
    width: int = 560,
    height: int = 240,
    colors: dict[str, str] | None = None,
) -> str:
    """Lines of (x, y) points on shared axes, y from 0; `colors` keeps a series' colour
    the same across charts."""
    left, right, top, bottom = 56, 14, 28, 46
    plot_w, plot_h = width - left - right, height - top - bottom
    points = [p for values in series.values() for p in values]
    x_max = max([p[0] for p in points] + [1])
    x_min = min([p[0] for p in points] + [0])
    y_ticks = nice_ticks(max([p[1] for p in points] + [0]))
    x_ticks = [t for t in nice_ticks(x_max - x_min, 6)]
    x_span = (x_max - x_min) or 1

    def sx(x: float) -> float:
        return left + plot_w * (x - x_min) / x_span

    def sy(y: float) -> float:
        return top + plot_h - plot_h * y / (y_ticks[-1] or 1)

    parts = [f'<text x="{left}" y="16" font-size="12" font-weight="600">{esc(title)}</text>']
    for t in y_ticks:
        parts.append(
            f'<line x1="{left}" y1="{sy(t):.1f}" x2="{left + plot_w}" y2="{sy(t):.1f}" stroke="#e3e6ea"/>'
            f'<text x="{left - 6}" y="{sy(t) + 4:.1f}" font-size="10" text-anchor="end">{_tick_label(t, percent)}</text>'
        )
    for t in x_ticks:
        x = x_min + t
        if x <= x_max:
            parts.append(
                f'<text x="{sx(x):.1f}" y="{top + plot_h + 14}" font-size="10" text-anchor="middle">'
                f"{_tick_label(x, False)}</text>"
            )
    parts.append(
        f'<text x="{left + plot_w / 2:.0f}" y="{top + plot_h + 28}" font-size="10" text-anchor="middle">'
        f"{esc(x_label)}</text>"
    )
    for j, (name, values) in enumerate(series.items()):
        color = (colors or {}).get(name, COLORS[j % len(COLORS)])
        coords = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in values)
        if len(values) > 1:
            parts.append(f'<polyline points="{coords}" fill="none" stroke="{color}" stroke-width="1.8"/>')
        for x, y in values[-1:] if len(values) > 1 else values:
            parts.append(
                f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="3" fill="{color}">'
                f"<title>{esc(name)} at {x:g}: {y:.4g}</title></circle>"
            )
    parts.append(
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="#57606a"/>'
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#57606a"/>'
    )
    parts.append(_legend(list(series), left, height - 4, colors))
    return _svg(width, height, "".join(parts), title)
