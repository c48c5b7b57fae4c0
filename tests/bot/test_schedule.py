"""The schedule's spreading: pure functions of the monitor id, the interval and the clock."""

from __future__ import annotations

import asyncio
import itertools
import time
import tracemalloc

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


async def test_the_backlog_grows_with_the_schedule_s_own_rate() -> None:
    """400 monitors every second come due at 400/s: with one slot held, all but one wait, and
    none is dropped (the backlog is 5 s of that rate), while a given backlog of 10 sheds the
    rest, so the scaled bound is what keeps them."""
    from bot.schedule import Schedule

    release = asyncio.Event()

    async def run(monitor_id: int) -> None:
        await release.wait()

    scaled = Schedule(run, concurrency=1)
    fixed = Schedule(run, concurrency=1, backlog=10)
    scaled.start([(i, 1) for i in range(1, 401)])
    fixed.start([(i, 1) for i in range(1, 401)])
    try:
        await until(lambda: fixed.metrics.shed >= 390, 5)
        await asyncio.sleep(1.2)  # a whole interval: every monitor came due at least once
        assert fixed.metrics.shed >= 390
        assert scaled.metrics.shed == 0
        assert scaled.metrics.skipped > 0  # the second period found them still waiting
    finally:
        release.set()
        scaled.shutdown()
        fixed.shutdown()


# ------------------------------------------------------------------------------ the heap


class _Runs:
    """What the schedule started: ``(monitor id, wall time)`` of each run."""

    def __init__(self) -> None:
        self.seen: list[tuple[int, float]] = []

    async def __call__(self, monitor_id: int) -> None:
        self.seen.append((monitor_id, time.time()))

    def of(self, monitor_id: int) -> list[float]:
        return [t for m, t in self.seen if m == monitor_id]


async def test_each_monitor_fires_on_its_phase_every_interval() -> None:
    from bot.schedule import Schedule

    runs = _Runs()
    schedule = Schedule(runs, concurrency=10)
    schedule.start([(1, 1), (2, 1), (3, 2)])
    try:
        await until(lambda: len(runs.of(3)) >= 2 and len(runs.of(1)) >= 4, 10)
    finally:
        schedule.shutdown()
    for monitor_id, every in ((1, 1), (2, 1), (3, 2)):
        times = runs.of(monitor_id)
        for t in times:  # on the phase, late by the loop's wake-up only (a loaded machine)
            late = (t - phase(monitor_id, every)) % every
            assert late < 0.4, (monitor_id, t, late)
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert all(abs(g - every) < 0.4 for g in gaps), (monitor_id, gaps)
    assert schedule.metrics.checks == len(runs.seen)


async def test_rechecks_replace_each_other_and_removal_ends_everything() -> None:
    from bot.schedule import Schedule

    runs = _Runs()
    schedule = Schedule(runs, concurrency=10)
    schedule.start([])
    try:
        schedule.add(7, 3600)  # its first run is up to an hour away
        schedule.recheck(7, 0.6)
        schedule.recheck(7, 0.2)  # replaces the pending one: one run, soon
        schedule.recheck(8, 0.4)
        schedule.recheck(9, 0.3)
        schedule.remove(9)  # gone before it fired
        await until(lambda: len(runs.seen) >= 2, 5)
        schedule.recheck(7, 30.0)  # a later one: the replaced entry must not fire it early
        await asyncio.sleep(0.8)  # past the replaced re-check's time
        assert [m for m, _ in runs.seen] == [7, 8]  # in due order, once each
        assert schedule.scheduled(7) and not schedule.scheduled(9)
        schedule.remove(7)
        schedule.recheck(7, 0.0)
        schedule.remove(7)
        await asyncio.sleep(0.3)
        assert [m for m, _ in runs.seen] == [7, 8]
        assert schedule.jobs == 0
    finally:
        schedule.shutdown()


async def test_a_tick_starts_the_runs_due_within_it_together() -> None:
    """With a tick (shards: ``bot.shards.TICK``), runs due within it start in one pass of the
    timer, none more than the tick late; without one, each starts at its own time."""
    from bot.schedule import Schedule

    for tick in (0.0, 0.6):
        runs = _Runs()
        schedule = Schedule(runs, concurrency=10, tick=tick)
        schedule.start([])
        try:
            asked = time.time()
            schedule.recheck(1, 0.1)
            schedule.recheck(2, 0.4)
            await until(lambda runs=runs: len(runs.seen) == 2, 5)
        finally:
            schedule.shutdown()
        (first,), (second,) = runs.of(1), runs.of(2)
        assert second - asked >= 0.4 - 0.01  # never early
        if tick:  # the timer slept the tick: both started together, within it of their time
            assert second - first < 0.1 and first - asked < 0.1 + tick + 0.3
        else:
            assert second - first > 0.2


async def test_an_earlier_entry_wakes_the_timer() -> None:
    from bot.schedule import Schedule

    runs = _Runs()
    schedule = Schedule(runs, concurrency=10)
    schedule.start([(1, 3600)])  # the timer sleeps up to an hour
    try:
        await asyncio.sleep(0.05)
        asked = time.time()
        schedule.recheck(2, 0.1)
        await until(lambda: bool(runs.of(2)), 3)
        assert runs.of(2)[0] - asked < 1.0
    finally:
        schedule.shutdown()


async def test_a_run_due_while_the_last_one_runs_is_skipped_and_counted() -> None:
    from bot.schedule import Schedule

    started: list[float] = []

    async def slow(monitor_id: int) -> None:
        started.append(time.time())
        await asyncio.sleep(2.5)

    schedule = Schedule(slow, concurrency=10)
    schedule.start([(1, 1)])
    try:
        await until(lambda: schedule.metrics.skipped >= 2, 10)
        assert len(started) == 1  # the second and third runs fell inside the first
    finally:
        schedule.shutdown()


async def test_start_of_100000_monitors_is_quick_and_bounded() -> None:
    from bot.schedule import Schedule

    runs = _Runs()
    schedule = Schedule(runs, concurrency=10)
    tracemalloc.start()
    started = time.process_time()
    try:
        schedule.start((i, 3600) for i in range(1, 100_001))
        took = time.process_time() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    try:
        assert schedule.jobs == 100_000 and schedule.entries == 100_000
        assert took < 2.0  # APScheduler took 2-5 s for 20,000
        assert peak < 60 * 1024 * 1024, peak  # a few hundred bytes a monitor
        # Churn leaves the heap bounded: stale entries are compacted away.
        for _ in range(15):
            for i in range(1, 100_001, 10):
                schedule.add(i, 3600)
                schedule.recheck(i, 3000.0)
        assert schedule.entries <= 2 * schedule.jobs + 64
    finally:
        schedule.shutdown()
