"""The series a ``history`` chart draws, computed by the core from the rollups of a real SQLite
file and compared bucket by bucket with the same figures computed from the raw checks."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from bot.commands import History
from bot.core import Bot
from bot.model import Context, HistoryReply, Series
from bot.settings import Settings
from bot.storage import Store
from tests.bot.test_rollups import CHANNEL, DAY, HOUR, NOW, _checks, _close, _monitor, _record


def _history(tmp_path: Path, checks: list[dict[str, Any]], other: list[dict[str, Any]]) -> Any:
    settings = Settings(db_path=str(tmp_path / "bot.db"), control_url=None)
    store = Store.open(settings.db_path)
    bot = Bot(settings, store=store, clock=lambda: NOW)
    try:
        m = _monitor(store, 1)
        _record(store, m, checks)
        _record(store, _monitor(store, 2), other)  # another monitor's checks count nowhere
        return bot, m
    except BaseException:
        bot.close()
        raise


def _expected(checks: list[dict[str, Any]], start: float, step: float) -> tuple[Any, ...]:
    inside = [c for c in checks if start <= c["at"] < start + step]
    latencies = sorted(c["total_ms"] for c in inside if c["status"] is not None and "total_ms" in c)

    def rank(q: float) -> float | None:
        if not latencies:
            return None
        return latencies[min(len(latencies) - 1, max(0, round(q * (len(latencies) - 1))))]

    return len(inside), sum(1 for c in inside if not c["ok"]), rank(0.5), rank(0.95)


def _assert_matches(series: Series, checks: list[dict[str, Any]]) -> None:
    for point in series.points:
        n, failed, p50, p95 = _expected(checks, point.start.timestamp(), series.step)
        assert (point.checks, point.failures) == (n, failed), point.start
        assert _close(point.p50_ms, p50) and _close(point.p95_ms, p95), point.start


async def test_history_carries_hourly_and_six_hourly_series_from_the_rollups(
    tmp_path: Path,
) -> None:
    checks = _checks(11, NOW - 9 * DAY, NOW, step=400.0)
    bot, m = _history(tmp_path, checks, _checks(12, NOW - 2 * DAY, NOW, step=200.0))
    try:
        reply = await bot.handle(Context(CHANNEL, "ann"), History(m))
    finally:
        bot.close()
    assert isinstance(reply, HistoryReply), reply
    assert reply.day is not None and reply.week is not None
    this_hour = math.floor(NOW / HOUR) * HOUR

    day = reply.day
    assert day.step == 3600 and len(day.points) == 24
    assert day.points[-1].start.timestamp() == this_hour  # the current hour is the last bar
    assert day.points[0].start.timestamp() == this_hour - 23 * HOUR
    _assert_matches(day, checks)

    week = reply.week
    assert week.step == 6 * 3600 and len(week.points) == 28
    starts = [p.start.timestamp() for p in week.points]
    assert all(s % (6 * HOUR) == 0 for s in starts)  # 00/06/12/18 UTC
    assert starts[-1] <= NOW < starts[-1] + 6 * HOUR
    assert starts == [starts[0] + i * 6 * HOUR for i in range(28)]
    _assert_matches(week, checks)
    # The window holds the checks of the last 7 d; older ones are outside it.
    assert week.checks == sum(1 for c in checks if c["at"] >= starts[0])
    assert week.checks < len(checks)
    assert sum(p.failures for p in week.points) > 0
    assert reply.chartable


async def test_a_gap_is_a_bucket_of_no_checks_and_no_checks_is_nothing_to_chart(
    tmp_path: Path,
) -> None:
    # Checks in the last 3 hours only: every other bucket is empty, not left out.
    recent = _checks(13, math.floor(NOW / HOUR) * HOUR - 2 * HOUR, NOW, step=120.0)
    bot, m = _history(tmp_path, recent, [])
    try:
        reply = await bot.handle(Context(CHANNEL, "ann"), History(m))
        empty = await bot.handle(Context(CHANNEL, "ann"), History(m + 1))
    finally:
        bot.close()
    assert isinstance(reply, HistoryReply) and reply.day is not None
    assert [p.checks > 0 for p in reply.day.points] == [False] * 21 + [True] * 3
    assert all(p.p50_ms is None for p in reply.day.points[:21])
    assert reply.chartable
    assert isinstance(empty, HistoryReply) and empty.week is not None
    assert len(empty.week.points) == 28 and empty.week.checks == 0
    assert not empty.chartable
