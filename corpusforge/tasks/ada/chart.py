"""The before/after chart, as a self-contained SVG (no plotting library is installed, and
an SVG renders on the Hub and in any browser) plus unicode bars for markdown tables.

One panel per kind: a bar per pattern or category in rank order, the original count in
grey over the count after augmentation in blue, and the target as a red tick.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from corpusforge.tasks.ada.report import AdaReport, Entry

WIDTH, LABEL_W, ROW_H, PANEL_GAP = 900, 260, 16, 36
BLOCKS = " ▏▎▍▌▋▊▉█"


def bar(value: float, scale: float, width: int = 20) -> str:
    """A unicode bar of `value / scale * width` cells, to an eighth of a cell."""
    eighths = round(max(0.0, value) / scale * width * 8) if scale > 0 else 0
    full, rest = divmod(eighths, 8)
    return "█" * full + (BLOCKS[rest] if rest else "")


def distribution_svg(report: AdaReport, max_rows: int = 40) -> str:
    panels = [(f"Categories (top {min(max_rows, len(report.categories))} of "
               f"{len(report.categories)} by original rank)", report.categories[:max_rows]),
              (f"Patterns (top {min(20, len(report.patterns))} of {len(report.patterns)})",
               report.patterns[:20])]
    parts: list[str] = []
    y = 40
    for title, entries in panels:
        parts.append(_text(10, y, title, bold=True))
        y += 10
        parts.extend(_panel(entries, y))
        y += len(entries) * ROW_H + PANEL_GAP
    legend = (_rect(10, 12, 12, 10, "#9e9e9e") + _text(26, 21, "before")
              + _rect(90, 12, 12, 10, "#1f77b4") + _text(106, 21, "after")
              + _rect(160, 10, 2, 14, "#d62728") + _text(168, 21, "target"))
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{y}" '
            f'viewBox="0 0 {WIDTH} {y}" font-family="sans-serif" font-size="11">')
    return "\n".join([head, '<rect width="100%" height="100%" fill="white"/>', legend,
                      *parts, "</svg>"]) + "\n"


def _panel(entries: Sequence[Entry], top: int) -> list[str]:
    scale = max([max(e.after, e.target) for e in entries] or [1.0])
    plot_w = WIDTH - LABEL_W - 60
    out = []
    for i, e in enumerate(entries):
        y = top + i * ROW_H
        out.append(_text(LABEL_W - 6, y + 11, _clip(e.key), anchor="end"))
        out.append(_rect(LABEL_W, y + 2, e.after / scale * plot_w, ROW_H - 4, "#1f77b4"))
        out.append(_rect(LABEL_W, y + 2, e.before / scale * plot_w, ROW_H - 4, "#9e9e9e"))
        out.append(_rect(LABEL_W + e.target / scale * plot_w - 1, y, 2, ROW_H, "#d62728"))
        out.append(_text(LABEL_W + max(e.after, e.target) / scale * plot_w + 6, y + 11,
                         f"{e.before} → {e.after}"))
    return out


def _clip(label: str, n: int = 40) -> str:
    return label if len(label) <= n else label[:n - 1] + "…"


def _rect(x: float, y: float, w: float, h: float, fill: str) -> str:
    return f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(w, 0):.1f}" height="{h:.1f}" ' \
           f'fill="{fill}"/>'


def _text(x: float, y: float, s: str, *, anchor: str = "start", bold: bool = False) -> str:
    weight = ' font-weight="bold"' if bold else ""
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}"{weight}>{escape(s)}</text>'
