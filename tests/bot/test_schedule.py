"""The schedule's spreading: pure functions of the monitor id, the interval and the clock."""

from __future__ import annotations

import asyncio
import itertools

from hypothesis import given
from hypothesis import strategies as st

from bot.schedule import first_run, phase
from tests.bot.conftest import until


def test_monitors_spread_evenly_over_their_interval() -> None:
    every = 60
    phases = sorted(phase(i, every) for i in range(1, 1001))
    gaps = [b - a for a, b in itertools.pairwise(phases)]
    # 1,000 monitors in 60 s: an even spread puts one every 0.06 s. No gap is much wider,
    # and no second of the minute holds more than a few percent of them.
    assert max(gaps) < 0.2
    per_second = [0] * every
    for p in phases:
        per_second[int(p)] += 1
    assert max(per_second) <= 2 * 1000 // every


def test_the_phase_is_stable_across_restarts() -> None:
    assert phase(42, 30) == phase(42, 30)
    assert first_run(42, 30, 1_000_000.0) == first_run(42, 30, 1_000_000.0)


@given(
    monitor_id=st.integers(1, 2**31 - 1),
    every=st.integers(1, 86400),
    now=st.floats(1e9, 2e9),
)
def test_the_first_run_is_the_next_time_on_the_phase(
    monitor_id: int, every: int, now: float
) -> None:
    start = first_run(monitor_id, every, now)
    assert now - 1e-6 <= start < now + every + 1e-6
    offset = (start - phase(monitor_id, every)) % every
    assert min(offset, every - offset) < 1e-3


async def test_an_overloaded_schedule_sheds_runs_instead_of_queueing_them() -> None:
    from bot.schedule import Schedule

    started: list[int] = []
    release = asyncio.Event()

    async def run(monitor_id: int) -> None:
        started.append(monitor_id)
        await release.wait()

    schedule = Schedule(run, concurrency=1, backlog=2)
    schedule.start([])
    try:
        for monitor_id in range(1, 6):
            schedule.recheck(monitor_id, 0.0)
        await until(lambda: schedule.metrics.shed >= 2, 5)
        await asyncio.sleep(0.1)
        assert started == [started[0]]  # one slot: one run at a time
        assert schedule.metrics.shed == 2  # two wait, the two beyond the backlog are dropped
        release.set()
        await until(lambda: len(started) == 3, 5)
    finally:
        schedule.shutdown()
