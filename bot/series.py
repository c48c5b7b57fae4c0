"""A monitor's history in equal buckets, from its hourly rollups: what a chart of ``history`` draws.

Two windows, both ending with the current hour: the last 24 h by hour, and the last 7 d by 6 h
(buckets start at 00, 06, 12 and 18 UTC, so a bucket means the same hours on every day). Each
bucket adds up its hours' checks and failures and merges their latency histograms
(:mod:`bot.histogram`), whose percentiles are within 2.92 % of the raw checks'. An hour with no
rollup row is a bucket of zero checks: gaps stay gaps.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from bot import histogram
from bot.model import Series, SeriesPoint

HOUR = 3600
DAY_BUCKETS = 24
WEEK_STEP_HOURS = 6
WEEK_BUCKETS = 28


def day_start(last_hour: int) -> int:
    """The first hour of the 24-hour window that ends with ``last_hour``."""
    return last_hour - (DAY_BUCKETS - 1)


def week_start(last_hour: int) -> int:
    """The first hour of the 7-day window of 6-hour buckets whose last holds ``last_hour``."""
    return (last_hour // WEEK_STEP_HOURS - (WEEK_BUCKETS - 1)) * WEEK_STEP_HOURS


def build(
    rows: Iterable[tuple[int, int, int, bytes | None]],
    first_hour: int,
    step_hours: int,
    count: int,
) -> Series:
    """``count`` buckets of ``step_hours`` from ``first_hour`` on, from rollup rows
    ``(hour, checks, failures, latency)``; rows outside the window are left out."""
    checks = [0] * count
    failures = [0] * count
    latency: list[list[bytes | None]] = [[] for _ in range(count)]
    for hour, n, failed, blob in rows:
        index = (hour - first_hour) // step_hours
        if not 0 <= index < count:
            continue
        checks[index] += n
        failures[index] += failed
        latency[index].append(blob)
    points = []
    for i in range(count):
        merged = histogram.merge(latency[i])
        points.append(
            SeriesPoint(
                start=datetime.fromtimestamp((first_hour + i * step_hours) * HOUR, UTC),
                checks=checks[i],
                failures=failures[i],
                p50_ms=histogram.percentile(merged, 0.50),
                p95_ms=histogram.percentile(merged, 0.95),
            )
        )
    return Series(step=step_hours * HOUR, points=tuple(points))
