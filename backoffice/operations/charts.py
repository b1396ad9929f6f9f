"""Server-rendered SVG charts for the operations dashboard.

No JavaScript and nothing fetched: the page works under the strict CSP, prints,
and shows its figures in the first response. Colours come from CSS classes
(app.css), every value is escaped, and each chart on the page sits beside a
table of the same numbers for screen readers and for copying.
"""

from dataclasses import dataclass

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext

WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 14, 34


@dataclass(frozen=True)
class Series:
    name: str
    # A CSS class naming the colour: "ok", "bad", "warn", "info", "brand".
    tone: str
    values: list[float | None]


def _nice_ceiling(value: float) -> float:
    """A round axis maximum at or above ``value`` (1, 2, 2.5 or 5 times a power of ten)."""
    if value <= 0:
        return 1.0
    power = 1.0
    while power * 10 <= value:
        power *= 10
    while power > value:
        power /= 10
    for step in (1, 2, 2.5, 5, 10):
        if step * power >= value:
            return step * power
    return 10 * power


def _number(value: float) -> str:
    return f"{value:,.0f}" if value >= 10 or value == int(value) else f"{value:,.2f}"


def _frame(title: str, top: float, unit: str, body: SafeString, labels: list[str]) -> SafeString:
    plot_h = HEIGHT - TOP - BOTTOM
    grid = format_html_join(
        "",
        '<line class="grid" x1="{}" x2="{}" y1="{}" y2="{}"/>'
        '<text class="axis" x="{}" y="{}" text-anchor="end">{}</text>',
        (
            (
                LEFT,
                WIDTH - RIGHT,
                TOP + plot_h * (1 - i / 4),
                TOP + plot_h * (1 - i / 4),
                LEFT - 6,
                TOP + plot_h * (1 - i / 4) + 4,
                _number(top * i / 4) + unit,
            )
            for i in range(5)
        ),
    )
    # At most about eight x labels, evenly spread, so they never overlap.
    step = max(1, len(labels) // 8 + (1 if len(labels) % 8 else 0))
    plot_w = WIDTH - LEFT - RIGHT
    slot = plot_w / max(len(labels), 1)
    ticks = format_html_join(
        "",
        '<text class="axis" x="{}" y="{}" text-anchor="middle">{}</text>',
        (
            (LEFT + slot * (i + 0.5), HEIGHT - BOTTOM + 16, label)
            for i, label in enumerate(labels)
            if i % step == 0
        ),
    )
    return format_html(
        '<svg class="chart" viewBox="0 0 {} {}" role="img" aria-label="{}">'
        "<title>{}</title>{}{}{}</svg>",
        WIDTH,
        HEIGHT,
        title,
        title,
        grid,
        body,
        ticks,
    )


def _legend(series: list[Series]) -> SafeString:
    return format_html(
        '<p class="chart-legend">{}</p>',
        format_html_join(" ", '<span class="key {}"></span>{}', ((s.tone, s.name) for s in series)),
    )


def bar_chart(*, title: str, labels: list[str], series: list[Series], unit: str = "") -> SafeString:
    """Grouped vertical bars: one group per label, one bar per series."""
    values = [v or 0 for s in series for v in s.values]
    top = _nice_ceiling(max(values, default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(len(labels), 1)
    bar_w = max(1.0, slot * 0.8 / max(len(series), 1))
    bars = []
    for i in range(len(labels)):
        for j, s in enumerate(series):
            value = s.values[i] or 0
            h = plot_h * value / top
            bars.append(
                (
                    s.tone,
                    round(LEFT + slot * i + slot * 0.1 + bar_w * j, 2),
                    round(TOP + plot_h - h, 2),
                    round(bar_w, 2),
                    round(h, 2),
                    f"{labels[i]}: {s.name} {_number(value)}{unit}",
                )
            )
    body = format_html_join(
        "",
        '<rect class="bar {}" x="{}" y="{}" width="{}" height="{}"><title>{}</title></rect>',
        bars,
    )
    return _frame(title, top, unit, body, labels) + _legend(series)


def line_chart(
    *, title: str, labels: list[str], series: list[Series], unit: str = ""
) -> SafeString:
    """One polyline per series; a missing value (None) breaks the line."""
    values = [v for s in series for v in s.values if v is not None]
    top = _nice_ceiling(max(values, default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(len(labels), 1)
    lines = []
    for s in series:
        run: list[str] = []
        for i, value in enumerate(s.values):
            if value is None:
                if run:
                    lines.append((s.tone, " ".join(run)))
                run = []
                continue
            x = LEFT + slot * (i + 0.5)
            y = TOP + plot_h * (1 - value / top)
            run.append(f"{x:.1f},{y:.1f}")
        if run:
            lines.append((s.tone, " ".join(run)))
    body = format_html_join("", '<polyline class="line {}" points="{}"/>', lines)
    return _frame(title, top, unit, body, labels) + _legend(series)


def horizontal_bars(*, title: str, items: list[tuple[str, float]], tone: str = "bad") -> SafeString:
    """One labelled bar per item, longest first, for counts by name (failure codes)."""
    if not items:
        return format_html('<p class="muted">{}</p>', gettext("Nothing to show."))
    row_h, label_w = 22, 170
    height = TOP + row_h * len(items) + 6
    top = _nice_ceiling(max(v for _, v in items))
    plot_w = WIDTH - label_w - RIGHT - 40
    rows = format_html_join(
        "",
        '<text class="axis" x="{}" y="{}" text-anchor="end">{}</text>'
        '<rect class="bar {}" x="{}" y="{}" width="{}" height="{}"><title>{}: {}</title></rect>'
        '<text class="axis" x="{}" y="{}">{}</text>',
        (
            (
                label_w - 8,
                TOP + row_h * i + 15,
                label,
                tone,
                label_w,
                TOP + row_h * i + 4,
                round(plot_w * value / top, 2),
                row_h - 8,
                label,
                _number(value),
                label_w + plot_w * value / top + 6,
                TOP + row_h * i + 15,
                _number(value),
            )
            for i, (label, value) in enumerate(items)
        ),
    )
    return format_html(
        '<svg class="chart" viewBox="0 0 {} {}" role="img" aria-label="{}">'
        "<title>{}</title>{}</svg>",
        WIDTH,
        height,
        title,
        title,
        rows,
    )
