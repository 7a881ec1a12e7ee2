"""Chart geometry for the overview page: per-minute series in, SVG coordinates out (pure).

The console's template draws the result as inline SVG (no JavaScript, no external assets); every
label goes through the template's autoescaping.

>>> chart = line_chart("flags", {"a": {0: 1.0, 60: 3.0}}, start=0, end=120, step=60)
>>> chart.series[0].points
'48.0,140.0 620.0,76.0'
>>> chart.series[0].total
4.0
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

PALETTE = ("#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed", "#0891b2", "#db2777",
           "#4b5563", "#65a30d", "#ea580c", "#0d9488", "#9333ea")
WINDOWS = {"1h": (3600, 60), "6h": (6 * 3600, 300), "24h": (86400, 900), "48h": (2 * 86400, 1800)}


@dataclass(frozen=True)
class Series:
    label: str
    color: str
    points: str
    total: float
    last: float
    peak: float


@dataclass(frozen=True)
class Chart:
    title: str
    #: Sampled levels (legend: now and peak) rather than counts per bucket (legend: total).
    gauge: bool
    width: int
    height: int
    left: int
    top: int
    bottom: int
    right: int
    series: tuple[Series, ...]
    y_ticks: tuple[tuple[float, str], ...]
    x_ticks: tuple[tuple[float, str], ...]

    @property
    def empty(self) -> bool:
        return not self.series


def bucketed(values: Mapping[int, float], start: int, end: int, step: int,
             gauge: bool) -> list[tuple[int, float | None]]:
    """Per-minute values grouped into ``step``-second buckets: counts add up, gauges take the
    highest sample (None where a gauge has no sample).

    >>> bucketed({0: 2, 60: 3, 120: 1}, 0, 180, 120, gauge=False)
    [(0, 5.0), (120, 1.0)]
    >>> bucketed({60: 3}, 0, 240, 120, gauge=True)
    [(0, 3.0), (120, None)]
    """
    buckets: dict[int, float | None] = {t: (None if gauge else 0.0) for t in range(start, end, step)}
    for minute, value in values.items():
        value = float(value)
        if start <= minute < end:
            slot = start + (minute - start) // step * step
            current = buckets[slot]
            if gauge:
                buckets[slot] = value if current is None else max(current, value)
            else:
                buckets[slot] = (current or 0.0) + value
    return sorted(buckets.items())


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    for m in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10000):
        if value <= m:
            return float(m)
    step = 10 ** (len(str(int(value))) - 1)
    return float((int(value) // step + 1) * step)


def _clock(ts: int) -> str:
    import time
    return time.strftime("%H:%M", time.gmtime(ts))


def line_chart(title: str, data: Mapping[str, Mapping[int, float]], *, start: int, end: int,
               step: int, gauge: bool = False, width: int = 640, height: int = 200) -> Chart:
    left, right, top, bottom = 48, 20, 12, 28
    plot_w, plot_h = width - left - right, height - top - bottom
    rows = {label: bucketed(values, start, end, step, gauge) for label, values in data.items()}
    rows = {k: v for k, v in rows.items() if any(y for _, y in v)} or {}
    peak = _nice_max(max((y or 0.0 for row in rows.values() for _, y in row), default=0.0))
    n = max(1, len(range(start, end, step)) - 1)

    def x(i: int) -> float:
        return round(left + plot_w * i / n, 1)

    def y(value: float) -> float:
        return round(top + plot_h * (1 - value / peak), 1)

    series = []
    for index, (label, row) in enumerate(sorted(rows.items())):
        points = " ".join(f"{x(i)},{y(v)}" for i, (_, v) in enumerate(row) if v is not None)
        values = [v for _, v in row if v is not None]
        series.append(Series(label, PALETTE[index % len(PALETTE)], points, total=sum(values),
                             last=values[-1] if values else 0.0, peak=max(values, default=0.0)))
    y_ticks = tuple((y(peak * f), f"{peak * f:g}") for f in (0, 0.5, 1))
    slots = list(range(start, end, step))
    marks = sorted({0, len(slots) // 2, len(slots) - 1}) if slots else []
    x_ticks = tuple((x(i), _clock(slots[i])) for i in marks)
    return Chart(title, gauge, width, height, left, top, height - bottom, width - right, tuple(series),
                 y_ticks, x_ticks)
