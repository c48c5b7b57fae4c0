"""A ``history`` reply drawn as a PNG: latency p50/p95 and failures over 24 h and 7 d.

Shared by every surface: a chart is one more rendering of the core's :class:`HistoryReply`
(its ``day`` and ``week`` series), attached by each surface in its own way. matplotlib is
imported only when a chart is drawn, so starting the bot or ``check502 --help`` does not
pay for it; it draws with the Agg canvas on a figure of its own (no pyplot, no global state),
in one worker process (:func:`history_chart`), one chart at a time. A process, not a thread:
drawing costs 0.4–0.7 s of CPU, and in a thread it holds the GIL the event loop needs, which
delayed scheduled checks by up to half a second and inflated the phase timings of checks in
flight (``bench/charts`` prints both). The worker is spawned, so a program that embeds the bot
guards its main module with ``if __name__ == "__main__":`` as multiprocessing asks (the
``check502-bot`` entry points do); without it a chart fails in one log line.

The picture is 1000 × 500 px: a column per window (the last 24 h by hour, the last 7 d by 6 h),
latency in ms above (seconds from 10 s on; p50 and p95 lines; a gap where a bucket had no
response), failed checks
per bucket as bars below, times in UTC. A monitor with no check in the 7 days has no chart
(None); one whose checks all failed without a response has bars and an empty latency panel
that says so.
"""

from __future__ import annotations

import asyncio
import io
import logging
import math
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from adapters.present import ms
from bot.model import HistoryReply, Series

if TYPE_CHECKING:
    from matplotlib.axes import Axes

log = logging.getLogger("check502.charts")

WIDTH_PX = 1000
HEIGHT_PX = 500
DPI = 100
ALT_TEXT_LIMIT = 1000
"""Slack's limit of ``alt_txt``; the others take more."""

P50_COLOUR = "#1f77b4"
P95_COLOUR = "#ff7f0e"
FAILURE_COLOUR = "#d62728"
GRID_COLOUR = "#dddddd"

DRAW_TIMEOUT = 30.0
"""Seconds a chart may take, the worker's start (matplotlib's import) included."""


class _Drawer:
    """The one worker process that draws, started on the first chart (spawned: it shares no
    lock or thread with the bot) and at a lower priority than the checks. A worker that died is
    replaced by the next chart."""

    def __init__(self) -> None:
        self._pool: ProcessPoolExecutor | None = None

    async def draw(self, reply: HistoryReply) -> bytes:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=1, mp_context=multiprocessing.get_context("spawn"), initializer=_nice
            )
        pool = self._pool
        try:
            async with asyncio.timeout(DRAW_TIMEOUT):
                return await asyncio.get_running_loop().run_in_executor(pool, render_png, reply)
        except (BrokenProcessPool, TimeoutError):
            self.close(pool)
            raise

    def close(self, pool: ProcessPoolExecutor | None = None) -> None:
        """Stop the worker (``pool``: only if it is still that one)."""
        if self._pool is not None and pool in (None, self._pool):
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None


def _nice() -> None:
    os.nice(10)


_DRAWER = _Drawer()


@dataclass(frozen=True, slots=True)
class Chart:
    """A drawn chart and what a surface needs to attach it."""

    png: bytes
    filename: str
    """``check502-<id>-<UTC time>.png``: letters, digits, ``-`` and ``.`` only (a Discord
    ``attachment://`` name, a file name on any disk)."""
    title: str
    alt_text: str
    """What the picture shows, in words (screen readers; Slack's ``alt_txt``)."""


def host_of(url: str) -> str:
    try:
        return urlsplit(url).hostname or url
    except ValueError:  # a monitor's URL was checked when it was watched; still, never raise
        return url


def filename(monitor_id: int, at: datetime) -> str:
    return f"check502-{monitor_id}-{at.astimezone(UTC):%Y%m%dT%H%M%SZ}.png"


def title(reply: HistoryReply) -> str:
    return f"#{reply.monitor.id} {host_of(reply.monitor.url)}: latency and failures"


def alt_text(reply: HistoryReply) -> str:
    """The chart in one paragraph: each window's checks, failures and worst p95."""
    parts = [f"Chart of monitor #{reply.monitor.id} ({host_of(reply.monitor.url)}), times in UTC."]
    for name, series in (("Last 24 h", reply.day), ("Last 7 d", reply.week)):
        if series is None:
            continue
        failed = sum(p.failures for p in series.points)
        p95s = [p.p95_ms for p in series.points if p.p95_ms is not None]
        worst = f", worst p95 {ms(max(p95s))}" if p95s else ", no response"
        parts.append(f"{name}: {series.checks} checks, {failed} failed{worst}.")
    return " ".join(parts)[:ALT_TEXT_LIMIT]


async def history_chart(reply: HistoryReply, *, at: datetime | None = None) -> Chart | None:
    """The chart of ``reply``, drawn in the worker process; None when there is nothing to draw,
    or when drawing failed or took over :data:`DRAW_TIMEOUT` (logged in one line: the text reply
    stands without it)."""
    if not reply.chartable:
        return None
    try:
        png = await _DRAWER.draw(reply)
    except Exception as exc:  # noqa: BLE001 - a chart is an extra: its failure is one log line
        log.warning(
            "could not draw the chart of monitor #%s (%s: %s)",
            reply.monitor.id,
            type(exc).__name__,
            exc,
        )
        return None
    when = at or datetime.now(UTC)
    return Chart(png, filename(reply.monitor.id, when), title(reply), alt_text(reply))


def render_png(reply: HistoryReply) -> bytes:
    """The PNG (blocking: some 0.1–0.3 s of CPU, and about 1 s to import matplotlib once)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: PLC0415 - lazy, heavy
    from matplotlib.figure import Figure  # noqa: PLC0415

    fig = Figure(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI)
    FigureCanvasAgg(fig)
    fig.suptitle(f"check502 {title(reply)}", fontsize=12, fontweight="bold", y=0.985)
    # Fixed margins: a constrained layout costs some 200 ms more CPU per chart, and this
    # picture always has the same parts.
    grid = fig.add_gridspec(
        2,
        2,
        height_ratios=(3, 2),
        left=0.07,
        right=0.99,
        top=0.875,
        bottom=0.07,
        wspace=0.16,
        hspace=0.1,
    )
    for column, (series, heading) in enumerate(
        ((reply.day, "Last 24 h, hourly (UTC)"), (reply.week, "Last 7 days, per 6 h (UTC)"))
    ):
        if series is None:
            continue
        latency = fig.add_subplot(grid[0, column])
        failures = fig.add_subplot(grid[1, column], sharex=latency)
        _draw(series, heading, latency, failures)
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=DPI, metadata={"Software": None})
    return out.getvalue()


def _draw(series: Series, heading: str, latency: Axes, failures: Axes) -> None:
    # x is in hours since the epoch (UTC): ticks and their labels are placed here, in UTC,
    # whatever the machine's time zone.
    step = series.step / 3600
    starts = [p.start.timestamp() / 3600 for p in series.points]
    middles = [s + step / 2 for s in starts]
    checks = series.checks
    failed = sum(p.failures for p in series.points)
    latency.set_title(f"{heading} · {checks} checks, {failed} failed", fontsize=10)

    p50 = [_nan(p.p50_ms) for p in series.points]
    p95 = [_nan(p.p95_ms) for p in series.points]
    unit = "ms"
    if max((v for v in p95 if not math.isnan(v)), default=0.0) >= 10_000:
        # Tens of seconds: shown in seconds, so that tick labels stay short enough to read.
        unit, p50, p95 = "s", [v / 1000 for v in p50], [v / 1000 for v in p95]
    latency.plot(middles, p95, color=P95_COLOUR, marker="o", markersize=3, label="p95")
    latency.plot(middles, p50, color=P50_COLOUR, marker="o", markersize=3, label="p50")
    latency.set_ylabel(f"latency ({unit})")
    latency.set_ylim(bottom=0)
    latency.grid(True, color=GRID_COLOUR)
    if all(math.isnan(v) for v in p95):
        latency.text(
            0.5,
            0.5,
            "no response in this window",
            transform=latency.transAxes,
            ha="center",
            va="center",
            color="#555555",
        )
        latency.set_yticks([])
    else:
        latency.legend(loc="lower right", ncols=2, fontsize=8)
    latency.tick_params(labelbottom=False)

    most = max(p.failures for p in series.points)
    failures.bar(
        [s + step * 0.1 for s in starts],
        [p.failures for p in series.points],
        width=step * 0.8,
        align="edge",
        color=FAILURE_COLOUR,
    )
    failures.set_ylabel("failed checks")
    failures.set_ylim(bottom=0, top=max(1, most) * 1.15)
    if most < 5:
        failures.set_yticks(range(most + 1 if most else 2))
    failures.grid(True, axis="y", color=GRID_COLOUR)
    first, end = starts[0], starts[-1] + step
    failures.set_xlim(first, end)
    every, shown = (4, "%H:%M") if step < 6 else (24, "%a %d")
    ticks = [h for h in range(math.ceil(first), math.floor(end) + 1) if h % every == 0]
    failures.set_xticks(
        ticks, [datetime.fromtimestamp(h * 3600, UTC).strftime(shown) for h in ticks]
    )


def _nan(value: float | None) -> float:
    return math.nan if value is None else value
