"""When each monitor is checked: one heap of due times, rebuilt from the table.

The monitors table is the source of truth: on start the schedule is rebuilt from it, and every
change (watch, unwatch) updates both. Each monitor gets a fixed phase within its interval,
derived from its id (multiplicative hashing by the golden ratio), so monitors spread evenly
over the interval instead of all firing at :00, and keep their phase across restarts. The due
times live in one ``heapq`` driven by one asyncio task (:class:`Schedule`); APScheduler runs
only the periodic jobs (retention, the sweep). Nothing here needs the database or the bot, so a
shard process runs the same schedule.

Checks run under one concurrency bound; when more runs wait for it than the backlog allows,
further runs are dropped (and counted) rather than queued without limit, so an overloaded bot
stays responsive and stops quickly. The backlog is ten times the bound or
:data:`BACKLOG_SECONDS` of the schedule's own rate, whichever is more: 100,000 monitors at 60 s
come due at 1,667 a second, and a start-up or a pause of a second must not drop runs that the
next seconds will absorb. Each monitor has at most one run waiting, so it is bounded whatever.
 Scheduling lag (how late a check starts against its planned
time, waiting for the bound included) is measured for ``bench/scheduler``.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.stats import LAG_BUCKETS, Histogram

log = logging.getLogger("check502.schedule")

_GOLDEN = (math.sqrt(5) - 1) / 2

BACKLOG_SECONDS = 5.0
"""Runs are dropped only when more than this many seconds of the schedule's checks wait."""


def phase(monitor_id: int, every: int) -> float:
    """The monitor's offset within its interval, in seconds: stable, and evenly spread."""
    return (monitor_id * _GOLDEN) % 1.0 * every


def first_run(monitor_id: int, every: int, now: float) -> float:
    """The next time at or after ``now`` that falls on the monitor's phase."""
    offset = phase(monitor_id, every)
    cycles = math.ceil((now - offset) / every)
    return offset + cycles * every


@dataclass(slots=True)
class Metrics:
    """Counters and the latest lags (bounded), read by bench/scheduler and ``/metrics``."""

    checks: int = 0
    skipped: int = 0
    """Runs not started because the previous run of the monitor had not finished."""
    shed: int = 0
    """Runs dropped because ``backlog`` runs were already waiting for the concurrency bound."""
    lags: deque[float] = field(default_factory=lambda: deque(maxlen=200_000))
    lag: Histogram = field(default_factory=lambda: Histogram(LAG_BUCKETS))
    """Every lag since the start, in buckets (the deque keeps only the latest)."""


class Schedule:
    """One heap of due times for every monitor (and its pending re-check), driven by one task.

    Heap entries are ``(due, seq, monitor_id, generation)``. A monitor's periodic entry and its
    pending re-check each carry a generation number; :meth:`add` (again), :meth:`remove` and a
    newer :meth:`recheck` only forget the generation, and the stale entry is skipped when it
    surfaces (the heap is compacted when stale entries outnumber live ones, so it holds at most
    about two entries per monitor). APScheduler's ``.scheduler`` runs the periodic jobs only
    (retention, the sweep): a job per monitor, re-sorted on every fire, cost 9 % of the core's
    CPU at 20,000 monitors and seconds to build.
    """

    def __init__(
        self,
        run: Callable[[int], Awaitable[object]],
        *,
        concurrency: int,
        backlog: int | None = None,
        clock: Callable[[], float] = time.time,
        tick: float = 0.0,
    ) -> None:
        self._run = run
        self._tick = tick
        """The shortest sleep of the timer between passes (0: until the next due time): runs
        due within it start together, at most ``tick`` late (``bot.shards.TICK``)."""
        self._gate = asyncio.Semaphore(concurrency)
        self._concurrency = concurrency
        self._backlog = 10 * concurrency if backlog is None else backlog
        self._scales = backlog is None
        """The backlog grows with the rate (:data:`BACKLOG_SECONDS`) unless one was given."""
        self._rate = 0.0
        """Periodic runs due per second: the sum of ``1 / every`` over the monitors."""
        self._waiting = 0
        """Runs fired and not yet holding a slot."""
        self._held = 0
        self._shed_logged = float("-inf")
        self._clock = clock
        self._heap: list[tuple[float, int, int, int]] = []
        self._periodic: dict[int, tuple[int, int]] = {}
        """Monitor id -> (every, generation) of its periodic entry."""
        self._rechecks: dict[int, int] = {}
        """Monitor id -> generation of its pending re-check."""
        self._busy: set[int] = set()
        """Monitors whose periodic run is waiting for the gate or running."""
        self._generation = itertools.count(1)
        self._seq = itertools.count()
        self._runs: set[asyncio.Task[None]] = set()
        self._timer: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self._next_due = math.inf
        """The due time the timer sleeps until (inf: none)."""
        self.metrics = Metrics()
        self.scheduler = AsyncIOScheduler(
            timezone=UTC,
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )

    def start(self, monitors: Iterable[tuple[int, int]]) -> None:
        """Start with each ``(id, every)`` on its phase: one heapify, however many."""
        now = self._clock()
        for monitor_id, every in monitors:
            generation = next(self._generation)
            self._forget(monitor_id)
            self._periodic[monitor_id] = (every, generation)
            self._rate += 1 / every
            due = first_run(monitor_id, every, now)
            self._heap.append((due, next(self._seq), monitor_id, generation))
        heapq.heapify(self._heap)
        self._wake = asyncio.Event()
        self._timer = asyncio.create_task(self._loop(), name="check502-schedule")
        self.scheduler.start()

    def shutdown(self) -> None:
        """Stop firing; runs in progress are cancelled (a check cut short records nothing)."""
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for task in list(self._runs):
            task.cancel()

    def add(self, monitor_id: int, every: int) -> None:
        """Check the monitor every ``every`` seconds on its phase (replacing its schedule)."""
        generation = next(self._generation)
        self._forget(monitor_id)
        self._periodic[monitor_id] = (every, generation)
        self._rate += 1 / every
        self._push(first_run(monitor_id, every, self._clock()), monitor_id, generation)

    def _forget(self, monitor_id: int) -> None:
        """The monitor's periodic entry no longer counts toward the rate."""
        old = self._periodic.pop(monitor_id, None)
        if old is not None:
            self._rate = max(0.0, self._rate - 1 / old[0])

    def remove(self, monitor_id: int) -> None:
        """No more checks of the monitor (its pending re-check goes too)."""
        self._forget(monitor_id)
        self._rechecks.pop(monitor_id, None)
        self._compact()

    def recheck(self, monitor_id: int, delay: float) -> None:
        """Check the monitor once more after ``delay`` seconds (replacing a pending re-check)."""
        generation = next(self._generation)
        self._rechecks[monitor_id] = generation
        self._push(self._clock() + delay, monitor_id, generation)

    def scheduled(self, monitor_id: int) -> bool:
        """The monitor has a periodic check in the heap."""
        return monitor_id in self._periodic

    @property
    def jobs(self) -> int:
        """Periodic jobs, monitors scheduled and re-checks pending."""
        return len(self.scheduler.get_jobs()) + len(self._periodic) + len(self._rechecks)

    @property
    def entries(self) -> int:
        """Heap entries, stale ones included (bounded: see :meth:`_compact`)."""
        return len(self._heap)

    # ------------------------------------------------------------------------------ the heap

    def _push(self, due: float, monitor_id: int, generation: int) -> None:
        heapq.heappush(self._heap, (due, next(self._seq), monitor_id, generation))
        if due < self._next_due and self._wake is not None:
            self._wake.set()  # the timer sleeps until a later time: wake it to sleep less
        self._compact()

    def _compact(self) -> None:
        """Drop stale entries once they outnumber live ones (amortised: O(1) per change)."""
        live = len(self._periodic) + len(self._rechecks)
        if len(self._heap) > 2 * live + 64:
            self._heap[:] = [e for e in self._heap if self._live(e[2], e[3])]
            heapq.heapify(self._heap)

    def _live(self, monitor_id: int, generation: int) -> bool:
        periodic = self._periodic.get(monitor_id)
        return (periodic is not None and periodic[1] == generation) or self._rechecks.get(
            monitor_id
        ) == generation

    async def _loop(self) -> None:
        wake = self._wake
        assert wake is not None
        heap = self._heap  # compacted in place: the same list for the task's life
        while True:
            now = self._clock()
            while heap and heap[0][0] <= now:
                due, _, monitor_id, generation = heapq.heappop(heap)
                periodic = self._periodic.get(monitor_id)
                if periodic is not None and periodic[1] == generation:
                    every = periodic[0]
                    # The next run on the phase after now: a run missed (a stopped loop, a
                    # clock jump) is not made up in a burst.
                    following = due + every
                    if following <= now:
                        following = due + math.ceil((now - due) / every) * every
                        if following <= now:
                            following += every
                    heapq.heappush(heap, (following, next(self._seq), monitor_id, generation))
                    if monitor_id in self._busy:
                        self.metrics.skipped += 1
                        continue
                    self._fire(monitor_id, due, periodic=True)
                elif self._rechecks.get(monitor_id) == generation:
                    del self._rechecks[monitor_id]
                    self._fire(monitor_id, min(due, now), periodic=False)
            self._next_due = heap[0][0] if heap else math.inf
            wake.clear()
            delay = self._next_due - self._clock()
            if delay > 0:
                delay = max(delay, self._tick)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(None if math.isinf(delay) else delay):
                        await wake.wait()
            else:
                await asyncio.sleep(0)  # let the runs just started begin

    def _fire(self, monitor_id: int, planned: float, *, periodic: bool) -> None:
        # Runs already fired but not yet holding a slot count as waiting, so a burst fired
        # in one pass of the timer sheds as a trickle would.
        backlog = self._backlog
        if self._scales:
            backlog = max(backlog, round(self._rate * BACKLOG_SECONDS))
        if self._waiting - (self._concurrency - self._held) >= backlog:
            self._shed()
            return
        self._waiting += 1
        if periodic:
            self._busy.add(monitor_id)
        task = asyncio.create_task(self._gated(monitor_id, planned, periodic))
        self._runs.add(task)
        task.add_done_callback(self._runs.discard)

    async def _gated(self, monitor_id: int, planned: float, periodic: bool) -> None:
        try:
            try:
                await self._gate.acquire()
            finally:
                self._waiting -= 1
            self._held += 1
            try:
                self._measure(max(0.0, self._clock() - planned))
                await self._guarded(monitor_id)
            finally:
                self._held -= 1
                self._gate.release()
        finally:
            if periodic:
                self._busy.discard(monitor_id)

    def _shed(self) -> None:
        """More is due than this machine can check: drop this run rather than queue it."""
        self.metrics.shed += 1
        now = time.monotonic()
        if now - self._shed_logged >= 60:
            self._shed_logged = now
            log.warning(
                "checks fall behind: %s runs wait for %s check slots; %s runs dropped so far",
                self._waiting,
                self._concurrency,
                self.metrics.shed,
            )

    def _measure(self, lag: float) -> None:
        self.metrics.checks += 1
        self.metrics.lags.append(lag)
        self.metrics.lag.observe(lag)

    async def _guarded(self, monitor_id: int) -> None:
        try:
            await self._run(monitor_id)
        except Exception:
            log.exception("check of monitor %s failed", monitor_id)
