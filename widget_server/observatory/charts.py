"""The geometry of the dashboard's charts, computed on the server.

Charts are SVG drawn by a template from these plain values: no script, no
inline style (colours come from the stylesheet through classes), so they work
under a strict Content-Security-Policy and without JavaScript. Each chart
carries a title and a description for assistive technology, and the page
always puts the exact numbers in a table beside it. A hidden count (the
small-count rule) draws no bar and no point: it would show its size.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from widget_server.observatory.disclosure import Figure

#: The drawing's coordinate system; the stylesheet scales it to the page.
WIDTH = 640
ROW_HEIGHT = 26
LABEL_WIDTH = 250
VALUE_WIDTH = 70


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    text: str
    y: float
    width: float


@dataclass(frozen=True, slots=True)
class BarChart:
    id: str
    title: str
    desc: str
    width: int
    height: int
    bar_x: int
    bar_height: int
    bars: tuple[Bar, ...]


def bar_chart(id: str, title: str, items: Sequence[tuple[str, Figure]]) -> BarChart:
    """Horizontal bars, one per item, scaled to the largest shown count."""
    largest = max((f.count for _, f in items if not f.hidden), default=0) or 1
    span = WIDTH - LABEL_WIDTH - VALUE_WIDTH
    bars = tuple(
        Bar(
            label=_clip(label),
            text=str(figure),
            y=i * ROW_HEIGHT,
            width=0 if figure.hidden else round(span * figure.count / largest, 1),
        )
        for i, (label, figure) in enumerate(items)
    )
    described = "; ".join(f"{label}: {figure}" for label, figure in items) or "no data"
    return BarChart(
        id=id,
        title=title,
        desc=f"Horizontal bar chart. {described}.",
        width=WIDTH,
        height=max(len(items), 1) * ROW_HEIGHT,
        bar_x=LABEL_WIDTH,
        bar_height=ROW_HEIGHT - 8,
        bars=bars,
    )


@dataclass(frozen=True, slots=True)
class Series:
    name: str
    #: A CSS class: ``started``, ``completed``, ``reported``.
    css: str
    #: Runs of consecutive shown points, each a polyline's ``points`` attribute;
    #: a hidden count breaks the line.
    lines: tuple[str, ...]
    points: tuple[tuple[float, float], ...]


@dataclass(frozen=True, slots=True)
class Tick:
    at: float
    text: str


@dataclass(frozen=True, slots=True)
class LineChart:
    id: str
    title: str
    desc: str
    width: int
    height: int
    left: int
    top: int
    right: int
    bottom: int
    series: tuple[Series, ...]
    x_ticks: tuple[Tick, ...]
    y_ticks: tuple[Tick, ...]


def line_chart(
    id: str,
    title: str,
    labels: Sequence[str],
    series: Sequence[tuple[str, str, Sequence[Figure]]],
    *,
    height: int = 240,
) -> LineChart:
    """One line per series over ``labels`` (days or weeks), from zero to the largest count."""
    left, top, right, bottom = 56, 12, WIDTH - 12, height - 28
    largest = max((f.count for _, _, fs in series for f in fs if not f.hidden), default=0)
    top_value = _nice(largest)
    steps = max(len(labels) - 1, 1)

    def x(i: int) -> float:
        return round(left + (right - left) * (i / steps if len(labels) > 1 else 0.5), 1)

    def y(n: int) -> float:
        return round(bottom - (bottom - top) * n / top_value, 1)

    drawn = []
    for name, css, figures in series:
        runs: list[list[tuple[float, float]]] = [[]]
        for i, figure in enumerate(figures):
            if figure.hidden:
                runs.append([])
            else:
                runs[-1].append((x(i), y(figure.count)))
        lines = tuple(" ".join(f"{px},{py}" for px, py in run) for run in runs if len(run) > 1)
        points = tuple(p for run in runs for p in run)
        drawn.append(Series(name, css, lines, points))
    picks = sorted({0, len(labels) // 2, len(labels) - 1}) if labels else []
    summary = "; ".join(
        f"{name}: total {sum(f.count for f in figs if not f.hidden)}"
        + (" plus hidden small counts" if any(f.hidden for f in figs) else "")
        for name, _, figs in series
    )
    span = f"from {labels[0]} to {labels[-1]}" if labels else "no data"
    return LineChart(
        id=id,
        title=title,
        desc=f"Line chart {span}, {len(labels)} points. {summary}.",
        width=WIDTH,
        height=height,
        left=left,
        top=top,
        right=right,
        bottom=bottom,
        series=tuple(drawn),
        x_ticks=tuple(Tick(x(i), labels[i]) for i in picks),
        y_ticks=tuple(Tick(y(v), str(v)) for v in (0, top_value // 2, top_value)),
    )


def _nice(n: int) -> int:
    """A round axis maximum at least ``n``: 10, 20, 50, 100, 200, 500..."""
    step = 10
    while True:
        for factor in (1, 2, 5):
            if n <= step * factor:
                return step * factor
        step *= 10


def _clip(label: str, limit: int = 34) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"
