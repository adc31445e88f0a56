"""Charts for the HTML report as inline SVG, drawn here (no charting library, no script): a
supervisor's browser shows them offline, and the report file stays one self-contained page.
Pure: each function takes the numbers and returns an `<svg>` element as text."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from html import escape

WIDTH = 720
BAR = "#2b6cb0"
LINE = "#c05621"
PEAK = "#fefcbf"
GRID = "#e2e8f0"
TEXT = "#2d3748"


def _svg(height: int, body: list[str], label: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" '
        f'width="{WIDTH}" height="{height}" role="img" aria-label="{escape(label)}" '
        f'font-family="sans-serif" font-size="11" fill="{TEXT}">'
        f"<title>{escape(label)}</title>{''.join(body)}</svg>"
    )


def _nice_top(value: float) -> float:
    """A round axis maximum at or above `value` (1, 2, 5 × a power of ten)."""
    if value <= 0:
        return 1.0
    step = 1.0
    while step * 10 <= value:
        step *= 10
    for m in (1, 2, 5, 10):
        if m * step >= value:
            return m * step
    return 10 * step


def hourly(
    hours: Sequence[int],
    offered: Sequence[int],
    service: Sequence[float | None],
    label: str = "Calls offered and service level by hour of day",
) -> str:
    """Offered calls as bars (left axis) and service level as a line (right axis, 0–100 %)."""
    height, left, right, top, bottom = 260, 44, 44, 16, 30
    plot_w, plot_h = WIDTH - left - right, height - top - bottom
    peak = _nice_top(max(offered, default=0))
    slot = plot_w / max(1, len(hours))
    body = [_axis_lines(left, top, plot_w, plot_h, peak, right_percent=True)]
    points = []
    for i, (hour, n, sl) in enumerate(zip(hours, offered, service, strict=True)):
        x = left + i * slot
        h = plot_h * n / peak
        body.append(
            f'<rect class="bar" x="{x + slot * 0.15:.1f}" y="{top + plot_h - h:.1f}" '
            f'width="{slot * 0.7:.1f}" height="{h:.1f}" fill="{BAR}"><title>{hour:02d}:00 '
            f"{n} offered</title></rect>"
        )
        body.append(
            f'<text x="{x + slot / 2:.1f}" y="{height - 12}" text-anchor="middle">{hour:02d}</text>'
        )
        if sl is not None:
            points.append(f"{x + slot / 2:.1f},{top + plot_h * (1 - sl):.1f}")
    if points:
        body.append(
            f'<polyline class="service-level" points="{" ".join(points)}" fill="none" '
            f'stroke="{LINE}" stroke-width="2"/>'
        )
    body.append(_legend(left, 11, [("offered", BAR), ("service level", LINE)]))
    return _svg(height, body, label)


def shares(items: Sequence[tuple[str, int]], label: str) -> str:
    """Horizontal bars, one per item, with its count and share of the total."""
    total = sum(n for _, n in items) or 1
    row, left = 22, 170
    height = 16 + row * max(1, len(items))
    body = []
    for i, (name, n) in enumerate(items):
        y = 8 + i * row
        w = (WIDTH - left - 90) * n / total
        body.append(
            f'<text x="{left - 6}" y="{y + 13}" text-anchor="end">{escape(name)}</text>'
            f'<rect class="bar" x="{left}" y="{y + 2}" width="{w:.1f}" height="{row - 6}" '
            f'fill="{BAR}"/><text x="{left + w + 6:.1f}" y="{y + 13}">{n} '
            f"({100 * n / total:.1f} %)</text>"
        )
    if not items:
        body.append(f'<text x="{left}" y="22">no contacts in the period</text>')
    return _svg(height, body, label)


def daily(
    days: Sequence[date],
    offered: Sequence[int],
    label: str = "Calls offered by day",
    peak_months: tuple[int, ...] = (3, 4),
) -> str:
    """Offered calls per day as thin bars, the March–April moving season shaded, a tick at
    each month's first day."""
    height, left, top, bottom = 220, 44, 16, 30
    plot_w, plot_h = WIDTH - left - 16, height - top - bottom
    peak = _nice_top(max(offered, default=0))
    slot = plot_w / max(1, len(days))
    body = [_axis_lines(left, top, plot_w, plot_h, peak, right_percent=False)]
    for i, day in enumerate(days):
        x = left + i * slot
        if day.month in peak_months:
            body.append(
                f'<rect class="peak" x="{x:.2f}" y="{top}" width="{slot:.2f}" '
                f'height="{plot_h}" fill="{PEAK}"/>'
            )
        if day.day == 1 or i == 0:
            body.append(
                f'<text x="{x:.1f}" y="{height - 12}">{day.strftime("%b")}</text>'
                f'<line x1="{x:.1f}" y1="{top + plot_h}" x2="{x:.1f}" y2="{top + plot_h + 4}" '
                f'stroke="{TEXT}"/>'
            )
    for i, (day, n) in enumerate(zip(days, offered, strict=True)):
        h = plot_h * n / peak
        body.append(
            f'<rect class="bar" data-day="{day.isoformat()}" x="{left + i * slot:.2f}" '
            f'y="{top + plot_h - h:.2f}" width="{max(slot * 0.8, 0.6):.2f}" height="{h:.2f}" '
            f'fill="{BAR}"><title>{day.isoformat()}: {n}</title></rect>'
        )
    body.append(_legend(left, 11, [("offered", BAR), ("March–April season", "#ecc94b")]))
    return _svg(height, body, label)


def _axis_lines(
    left: int, top: int, plot_w: float, plot_h: float, peak: float, *, right_percent: bool
) -> str:
    parts = []
    for k in range(5):
        y = top + plot_h * k / 4
        value = peak * (4 - k) / 4
        parts.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w:.1f}" y2="{y:.1f}" '
            f'stroke="{GRID}"/><text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end">'
            f"{value:g}</text>"
        )
        if right_percent:
            parts.append(
                f'<text x="{left + plot_w + 4:.1f}" y="{y + 4:.1f}">{100 * (4 - k) // 4} %</text>'
            )
    return "".join(parts)


def _legend(x: int, y: int, entries: list[tuple[str, str]]) -> str:
    parts = []
    for name, colour in entries:
        parts.append(
            f'<rect x="{x}" y="{y - 9}" width="10" height="10" fill="{colour}"/>'
            f'<text x="{x + 14}" y="{y}">{escape(name)}</text>'
        )
        x += 24 + 7 * len(name)
    return "".join(parts)
