"""The brief's small HTML pieces (pure): escaping, numbers in their unit, embedded PNGs and
horizontal bar charts drawn as inline SVG, so the page needs no script and loads nothing."""

from __future__ import annotations

import base64
import html
import math
import struct

BAD, GOOD, NEUTRAL, INK = "#d35400", "#2e8b57", "#95a5a6", "#1c2833"


def esc(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and not math.isfinite(value))


def fmt(value: object, unit: str = "count", signed: bool = False) -> str:
    """A number as the brief prints it, in its unit (ratio as %, ms, minutes, currency)."""
    if missing(value):
        return "—"
    v = float(value)  # type: ignore[arg-type]
    sign = "+" if signed else ""
    if unit == "ratio":
        return f"{v:{sign}.1%}"
    text = f"{v:{sign},.0f}" if abs(v) >= 100 or v == int(v) else f"{v:{sign},.1f}"
    suffix = {"milliseconds": " ms", "minutes": " min", "days": " days"}.get(unit, "")
    return text + suffix


def pct(value: object, signed: bool = True) -> str:
    return "—" if missing(value) else f"{float(value):{'+' if signed else ''}.0%}"  # type: ignore[arg-type]


def png_size(png: bytes) -> tuple[int, int] | None:
    if png[:8] != b"\x89PNG\r\n\x1a\n" or len(png) < 24:
        return None
    return struct.unpack(">II", png[16:24])


def image(png: bytes, alt: str) -> str:
    size = png_size(png)
    dims = f' width="{size[0]}" height="{size[1]}"' if size else ""
    data = base64.b64encode(png).decode("ascii")
    return f'<img alt="{esc(alt)}"{dims} src="data:image/png;base64,{data}">'


def bar_rows(rows: list[tuple[str, float | None, str, str]], *, centred: bool) -> str:
    """A horizontal bar chart as inline SVG: (label, value, colour, text after the bar) per
    row. `centred`: values are signed, bars grow left or right of a zero line; else from the
    left edge with a marker at 1 (100%)."""
    label_w, bar_w, text_w, row_h = 240, 300, 390, 26
    width, height = label_w + bar_w + text_w, row_h * len(rows) + 8
    values = [abs(v) for _, v, _, _ in rows if v is not None and math.isfinite(v)]
    top = max(values, default=1.0) or 1.0
    if not centred:
        top = max(top, 1.0) * 1.1
    zero = label_w + (bar_w / 2 if centred else 0)
    scale = (bar_w / 2 if centred else bar_w) / top
    shapes = [
        f'<line x1="{zero:.1f}" x2="{zero:.1f}" y1="0" y2="{height}" stroke="{INK}" '
        'stroke-width="1"/>'
    ]
    if not centred:  # the target line
        x = zero + scale
        shapes.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="0" y2="{height}" stroke="{INK}" '
            'stroke-dasharray="3,3"/>'
        )
    for n, (label, value, colour, note) in enumerate(rows):
        y = 4 + n * row_h
        shapes.append(f'<text x="0" y="{y + 17}">{esc(label)}</text>')
        if value is not None and math.isfinite(value):
            length = abs(value) * scale
            x = zero - length if value < 0 else zero
            shapes.append(
                f'<rect x="{x:.1f}" y="{y + 4}" width="{max(length, 1):.1f}" height="16" '
                f'fill="{colour}"/>'
            )
        shapes.append(f'<text x="{label_w + bar_w + 8}" y="{y + 17}">{esc(note)}</text>')
    return (
        f'<svg width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img">{"".join(shapes)}</svg>'
    )
