"""Charts as inline SVG, drawn in Python: no script, no font or network request, and they
print as sharply as the text around them. Each function returns one ``<svg>`` element."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

PALETTE = ("#2b6cb0", "#dd6b20", "#38a169", "#805ad5", "#d53f8c", "#319795", "#b7791f",
           "#e53e3e", "#4a5568", "#00a3c4")
FONT = 'font-family="system-ui, sans-serif" font-size="12"'


def _svg(width: int, height: int, body: list[str], label: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" '
            f'height="{height}" role="img" aria-label="{escape(label)}" {FONT}>'
            f"<title>{escape(label)}</title>" + "".join(body) + "</svg>")


def _text(x: float, y: float, text: str, anchor: str = "start", extra: str = "") -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" {extra}>{escape(text)}</text>'


def grouped_bars(labels: Sequence[str], series: Sequence[tuple[str, Sequence[float]]], *,
                 label: str, fmt: str = "{:.1%}") -> str:
    """Horizontal bars, one group per label, one bar per series (values from 0 up)."""
    left, bar, gap, width = 170, 12, 10, 640
    top = 24
    group = bar * len(series) + gap
    height = top + group * len(labels) + 10
    peak = max([v for _, values in series for v in values] + [1e-12])
    scale = (width - left - 70) / peak
    body = []
    for k, (name, _) in enumerate(series):
        x = left + k * 150
        body.append(f'<rect x="{x}" y="4" width="10" height="10" fill="{PALETTE[k % len(PALETTE)]}"/>')
        body.append(_text(x + 14, 13, name))
    for i, text in enumerate(labels):
        y = top + i * group
        body.append(_text(left - 6, y + bar * len(series) / 2 + 4, text, "end"))
        for k, (_, values) in enumerate(series):
            value = values[i]
            w = max(value * scale, 0)
            body.append(f'<rect x="{left}" y="{y + k * bar}" width="{w:.1f}" height="{bar - 2}" '
                        f'fill="{PALETTE[k % len(PALETTE)]}"><title>{escape(text)}: '
                        f'{escape(fmt.format(value))}</title></rect>')
            body.append(_text(left + w + 4, y + k * bar + bar - 3, fmt.format(value), extra='font-size="10"'))
    return _svg(width, height, body, label)


def lines(x_labels: Sequence[str], series: Sequence[tuple[str, Sequence[float | None]]], *,
          label: str) -> str:
    """One line per series over the runs (x), with a legend on the right."""
    left, top, plot_w, plot_h, legend = 50, 14, 460, 220, 180
    width, height = left + plot_w + legend, top + plot_h + 40
    values = [v for _, vs in series for v in vs if v is not None]
    peak = max(values + [1])
    n = max(len(x_labels) - 1, 1)

    def xy(i: int, v: float) -> tuple[float, float]:
        return left + plot_w * i / n, top + plot_h * (1 - v / peak)

    body = [f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#999"/>',
            f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="#999"/>',
            _text(left - 4, top + 4, f"{peak:,.0f}", "end"), _text(left - 4, top + plot_h, "0", "end")]
    for i, text in enumerate(x_labels):
        x, _ = xy(i, 0)
        body.append(_text(x, top + plot_h + 16, text, "middle", 'font-size="10"'))
    for k, (name, vs) in enumerate(series):
        color = PALETTE[k % len(PALETTE)]
        points = [xy(i, v) for i, v in enumerate(vs) if v is not None]
        if len(points) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
            body.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2"/>')
        for x, y in points:
            body.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{color}"/>')
        ly = top + 14 * k
        body.append(f'<rect x="{left + plot_w + 16}" y="{ly}" width="10" height="10" fill="{color}"/>')
        body.append(_text(left + plot_w + 30, ly + 9, name))
    return _svg(width, max(height, top + 14 * len(series) + 10), body, label)


def heatmap(rows: Sequence[str], columns: Sequence[str], values: Sequence[Sequence[float | None]],
            texts: Sequence[Sequence[str]], *, label: str, color: str = "43,108,176") -> str:
    """A grid of cells shaded by value in [0, 1], each with its text."""
    cell_w, cell_h, left, top = 64, 24, 170, 100
    width = left + cell_w * len(columns) + 10
    height = top + cell_h * len(rows) + 10
    body = []
    for j, name in enumerate(columns):
        x = left + j * cell_w + cell_w / 2
        body.append(f'<text transform="translate({x:.1f},{top - 6}) rotate(-40)" '
                    f'text-anchor="start">{escape(name)}</text>')
    for i, name in enumerate(rows):
        y = top + i * cell_h
        body.append(_text(left - 6, y + cell_h / 2 + 4, name, "end"))
        for j, value in enumerate(values[i]):
            x = left + j * cell_w
            alpha = 0.0 if value is None else max(0.0, min(1.0, value))
            ink = "#fff" if alpha > 0.55 else "#222"
            body.append(f'<rect x="{x}" y="{y}" width="{cell_w - 2}" height="{cell_h - 2}" '
                        f'fill="rgba({color},{alpha:.3f})" stroke="#ddd"><title>{escape(name)} / '
                        f'{escape(columns[j])}: {escape(texts[i][j])}</title></rect>')
            body.append(_text(x + cell_w / 2 - 1, y + cell_h / 2 + 4, texts[i][j], "middle",
                              f'fill="{ink}" font-size="10"'))
    return _svg(width, height, body, label)


def intervals(rows: Sequence[tuple[str, float, float, float]], *, label: str, unit: str = " pts",
              factor: float = 100) -> str:
    """A forest plot: each row's estimate with its interval, and the line of no effect."""
    left, top, plot_w, row_h = 170, 20, 420, 28
    width, height = left + plot_w + 170, top + row_h * len(rows) + 30
    span = max([abs(v) for _, e, lo, hi in rows for v in (e, lo, hi)] + [1e-9]) * 1.1

    def x(v: float) -> float:
        return left + plot_w * (v + span) / (2 * span)

    body = [f'<line x1="{x(0):.1f}" y1="{top - 8}" x2="{x(0):.1f}" y2="{height - 24}" stroke="#999" '
            'stroke-dasharray="4 3"/>',
            _text(x(-span), height - 8, f"{-span * factor:+.1f}{unit}", "start"),
            _text(x(0), height - 8, "0", "middle"),
            _text(x(span), height - 8, f"{span * factor:+.1f}{unit}", "end")]
    for i, (name, estimate, low, high) in enumerate(rows):
        y = top + i * row_h + row_h / 2
        color = PALETTE[2] if low > 0 else PALETTE[7] if high < 0 else PALETTE[8]
        body.append(_text(left - 8, y + 4, name, "end"))
        body.append(f'<line x1="{x(low):.1f}" y1="{y:.1f}" x2="{x(high):.1f}" y2="{y:.1f}" '
                    f'stroke="{color}" stroke-width="3"/>')
        body.append(f'<circle cx="{x(estimate):.1f}" cy="{y:.1f}" r="5" fill="{color}"/>')
        body.append(_text(left + plot_w + 8, y + 4,
                          f"{estimate * factor:+.1f} [{low * factor:+.1f}, {high * factor:+.1f}]"))
    return _svg(width, height, body, label)
