"""When each monitor is checked: APScheduler 3's ``AsyncIOScheduler``, rebuilt from the table.

The monitors table is the source of truth: on start the schedule is rebuilt from it, and every
change (watch, unwatch) updates both. Each monitor gets a fixed phase within its interval,
derived from its id (multiplicative hashing by the golden ratio), so monitors spread evenly
over the interval instead of all firing at :00, and keep their phase across restarts.

Checks run under one concurrency bound; when more runs wait for it than ten times the bound,
further runs are dropped (and counted) rather than queued without limit, so an overloaded bot
stays responsive and stops quickly. Scheduling lag (how late a check starts against its planned
time, waiting for the bound included) is measured for ``bench/scheduler``.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from apscheduler.events import EVENT_JOB_MAX_INSTANCES, JobExecutionEvent
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.stats import LAG_BUCKETS, Histogram

log = logging.getLogger("check502.schedule")

_GOLDEN = (math.sqrt(5) - 1) / 2


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
    """Runs APScheduler skipped because the previous run of the monitor had not finished."""
    shed: int = 0
    """Runs dropped because ``backlog`` runs were already waiting for the concurrency bound."""
    lags: deque[float] = field(default_factory=lambda: deque(maxlen=200_000))
    lag: Histogram = field(default_factory=lambda: Histogram(LAG_BUCKETS))
    """Every lag since the start, in buckets (the deque keeps only the latest)."""


class Schedule:
    """One interval job per monitor, plus one-off re-check jobs."""

    def __init__(
        self,
        run: Callable[[int], Awaitable[object]],
        *,
        concurrency: int,
        backlog: int | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._run = run
        self._gate = asyncio.Semaphore(concurrency)
        self._concurrency = concurrency
        self._backlog = 10 * concurrency if backlog is None else backlog
        self._waiting = 0
        self._shed_logged = float("-inf")
        self._clock = clock
        self._anchors: dict[int, tuple[float, int]] = {}
        self.metrics = Metrics()
        self.scheduler = AsyncIOScheduler(
            timezone=UTC,
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )
        self.scheduler.add_listener(self._on_skip, EVENT_JOB_MAX_INSTANCES)

    def start(self, monitors: list[tuple[int, int]]) -> None:
        """Start with a job for each ``(id, every)``."""
        for monitor_id, every in monitors:
            self.add(monitor_id, every)
        self.scheduler.start()

    def shutdown(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)

    def add(self, monitor_id: int, every: int) -> None:
        start = first_run(monitor_id, every, self._clock())
        self._anchors[monitor_id] = (start, every)
        self.scheduler.add_job(
            self._scheduled,
            IntervalTrigger(seconds=every, start_date=datetime.fromtimestamp(start, UTC)),
            args=(monitor_id,),
            id=f"m{monitor_id}",
            replace_existing=True,
        )

    def remove(self, monitor_id: int) -> None:
        self._anchors.pop(monitor_id, None)
        for job_id in (f"m{monitor_id}", f"r{monitor_id}"):
            if self.scheduler.get_job(job_id) is not None:
                self.scheduler.remove_job(job_id)

    def recheck(self, monitor_id: int, delay: float) -> None:
        """Check the monitor once more after ``delay`` seconds (replacing a pending re-check)."""
        due = self._clock() + delay
        self.scheduler.add_job(
            self._once,
            DateTrigger(run_date=datetime.fromtimestamp(due, UTC)),
            args=(monitor_id, due),
            id=f"r{monitor_id}",
            replace_existing=True,
        )

    @property
    def jobs(self) -> int:
        return len(self.scheduler.get_jobs())

    async def _scheduled(self, monitor_id: int) -> None:
        anchor = self._anchors.get(monitor_id)
        now = self._clock()
        planned = now
        if anchor is not None and now >= anchor[0]:
            # The run this call was fired for: APScheduler starts the task as soon as it is
            # due, so only the wait for the gate below can be long, and it counts as lag.
            planned = now - (now - anchor[0]) % anchor[1]
        await self._gated(monitor_id, planned)

    async def _once(self, monitor_id: int, due: float) -> None:
        await self._gated(monitor_id, min(due, self._clock()))

    async def _gated(self, monitor_id: int, planned: float) -> None:
        if self._gate.locked() and self._waiting >= self._backlog:
            self._shed()
            return
        self._waiting += 1
        try:
            await self._gate.acquire()
        except asyncio.CancelledError:
            return  # shutting down: a run that never started ends quietly
        finally:
            self._waiting -= 1
        try:
            self._measure(max(0.0, self._clock() - planned))
            await self._guarded(monitor_id)
        finally:
            self._gate.release()

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

    def _on_skip(self, event: JobExecutionEvent) -> None:
        self.metrics.skipped += 1
