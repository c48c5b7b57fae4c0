"""The coordinator: schedules the monitors checked from regions, sends each due check to every
region's workers, gathers their results and decides by quorum. It runs in the front process
(the only one that writes state) when ``CHECK502_REDIS_URL`` is set.

**A round** is one due check of one monitor, keyed ``<monitor id>:<due time in ms>``. At the
due time (a :class:`bot.schedule.Schedule` of its own, as local monitors have) one job per region
is queued (taskiq task id ``<key>:<region>``). The round collects results until every region
answered or ``timeout + CHECK502_REGION_GRACE`` passed, then :func:`bot.regions.quorum.decide`
gives the verdict and :meth:`bot.monitoring.Monitoring.apply` records it (state changes and
alerts as for a local check, each region's view in ``Outcome.regions``). An undecided round
(too few regions count) changes nothing. At most one round per monitor is in flight: a check
due while the previous round is still open is skipped (counted in ``metrics.busy``).

**Each result counts once.** Jobs are delivered at least once (a job a dead worker held runs
again elsewhere), so a result is kept only for an open round and a region that has not answered
in it; a duplicate, or a result for a round that is over, is dropped and counted. Results are
acknowledged (``XACK`` and ``XDEL``) after their round was applied.

**Regions that stop answering.** A region missing from :data:`SILENT_ROUNDS` rounds in a row is
*degraded*: each channel with monitors checked from it gets one ``region_degraded`` notice
through the outbox (once per episode; the episode is kept in ``meta``, so a restart does not
repeat it), and a ``region_restored`` one when it answers again. A missing region never counts
toward a quorum: it is never an outage of the target. A region whose own control check failed
answered (it is not degraded) but does not count either (:mod:`bot.regions.quorum`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from bot.codec import alert_to_dict
from bot.errors import StorageError
from bot.model import Alert, AlertKind, Channel, Monitor
from bot.monitoring import Applied, Monitoring
from bot.regions.jobs import (
    GROUP,
    RESULTS_STREAM,
    Job,
    Result,
    StreamBroker,
    probe,
    region_broker,
    tick,
)
from bot.regions.quorum import QuorumDecision, RegionResult, decide
from bot.schedule import Schedule
from bot.settings import Settings
from bot.storage import Store

log = logging.getLogger("check502.regions")

SILENT_ROUNDS = 2
"""Rounds in a row a region may miss before its channels are told it is degraded."""
_READ_COUNT = 500
_STOP_WAIT = 3.0
_Read = list[tuple[bytes, list[tuple[bytes, dict[bytes, bytes]]]]] | None
"""What XREADGROUP returns (redis-py types it loosely)."""
_META = "region_degraded:"


@dataclass(slots=True)
class RoundMetrics:
    """What the coordinator did, for tests, ``bench/workers`` and the log."""

    rounds: int = 0
    ok: int = 0
    failed: int = 0
    undecided: int = 0
    incomplete: int = 0
    """Rounds decided at their deadline with some region missing."""
    results: int = 0
    duplicates: int = 0
    """Results of a region already counted in its round (a job run twice): dropped."""
    late: int = 0
    """Results of a round already over (or of a coordinator's earlier life): dropped."""
    malformed: int = 0
    busy: int = 0
    """Due checks skipped because the monitor's previous round was still open."""
    send_failures: int = 0


@dataclass(slots=True)
class _Round:
    monitor: Monitor
    key: str
    deadline: float
    results: dict[str, Result] = field(default_factory=dict)
    entries: list[bytes] = field(default_factory=list)
    timer: asyncio.TimerHandle | None = None


class Coordinator:
    """Regional checks in the front process (see the module docstring)."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        monitoring: Monitoring,
        *,
        wake: Callable[[], None],
        clock: Callable[[], float] = time.time,
        consumer: str = "front",
    ) -> None:
        if settings.redis_url is None:
            raise ValueError("the coordinator needs CHECK502_REDIS_URL")
        self.store = store
        self.settings = settings
        self.monitoring = monitoring
        self.wake = wake
        """Called when alerts were queued: the outbox sender delivers them now."""
        self.clock = clock
        self.consumer = consumer
        self.metrics = RoundMetrics()
        self.decisions: deque[tuple[str, QuorumDecision]] = deque(maxlen=100)
        """The latest rounds' verdicts, by round key (for ``details`` and tests)."""
        self.schedule = Schedule(
            self.start_round, concurrency=settings.max_concurrent_checks, clock=clock
        )
        self._url = settings.redis_url
        self._redis = Redis.from_url(self._url)
        self._brokers: dict[str, StreamBroker] = {}
        self._rounds: dict[str, _Round] = {}
        self._open: dict[int, str] = {}
        """Monitor id → the key of its open round."""
        self._ids: set[int] = set()
        self._missed: dict[str, int] = {}
        """Region → rounds missed in a row."""
        self._episodes: dict[str, str | None] = {}
        """Region → its degraded episode (``meta``), read once per region."""
        self._acks: list[bytes] = []
        self._reader: asyncio.Task[None] | None = None
        self._stopping = False
        self._ticker: asyncio.Task[None] | None = None
        self.tick = 5.0
        """Seconds between two no-op jobs to each region that owes results of open rounds
        (see :func:`bot.regions.jobs.tick`): how soon a dead worker's job is taken over, at
        the least, once its ``idle_timeout`` has passed."""
        self._read_failed = float("-inf")

    # ---------------------------------------------------------------------------- lifecycle

    async def start(self, monitors: list[tuple[int, int]]) -> None:
        """Create every known region's queue and the results group, then schedule ``monitors``
        (``(id, every)``). Redis out of reach is logged, not fatal: each region's queue is
        created before its first job, and the results are read as soon as Redis answers."""
        try:
            for region in self.settings.regions:
                await self._broker(region)
            with contextlib.suppress(ResponseError):  # BUSYGROUP: it exists
                await self._redis.xgroup_create(RESULTS_STREAM, GROUP, id="0", mkstream=True)
        except (RedisError, OSError) as exc:
            log.warning(
                "Redis at %s cannot be reached (%s): regional checks wait for it",
                self.settings.redis_display,
                type(exc).__name__,
            )
        self._reader = asyncio.create_task(self._read(), name="check502-regions")
        self._ticker = asyncio.create_task(self._tick(), name="check502-regions-tick")
        self._ids = {mid for mid, _ in monitors}
        self.schedule.start(monitors)

    async def stop(self) -> None:
        self.schedule.shutdown()
        self._stopping = True
        for task in (self._reader, self._ticker):
            if task is not None:
                # Bounded: a cancellation that lands inside redis-py or taskiq can be swallowed
                # there (seen in bench/workers), and stop must not hang on it.
                task.cancel()
                done, _ = await asyncio.wait({task}, timeout=_STOP_WAIT)
                if not done:
                    log.warning("%s did not stop within %s s", task.get_name(), _STOP_WAIT)
                elif not task.cancelled() and task.exception() is not None:
                    log.warning("%s ended with %r", task.get_name(), task.exception())
        self._reader = self._ticker = None
        for rnd in self._rounds.values():
            if rnd.timer is not None:
                rnd.timer.cancel()
        self._rounds.clear()
        self._open.clear()
        with contextlib.suppress(RedisError, OSError):
            await self._flush_acks()
        for broker in self._brokers.values():
            with contextlib.suppress(RedisError, OSError):
                await broker.shutdown()
        with contextlib.suppress(RedisError, OSError):
            await self._redis.aclose()

    def owns(self, monitor_id: int) -> bool:
        """The monitor is scheduled here (checked from regions), not by the local schedule."""
        return monitor_id in self._ids

    def add(self, monitor_id: int, every: int) -> None:
        self._ids.add(monitor_id)
        self.schedule.add(monitor_id, every)

    def remove(self, monitor_id: int) -> None:
        self._ids.discard(monitor_id)
        self.schedule.remove(monitor_id)

    def recheck(self, monitor_id: int, delay: float) -> None:
        self.schedule.recheck(monitor_id, delay)

    @property
    def in_flight(self) -> int:
        """Rounds open now."""
        return len(self._rounds)

    def is_open(self, monitor_id: int) -> bool:
        """A round of the monitor is open (its next due check would be skipped)."""
        return monitor_id in self._open

    async def _broker(self, region: str) -> StreamBroker:
        broker = self._brokers.get(region)
        if broker is None:
            broker = region_broker(self._url, region)
            await broker.startup()  # the group exists before the first job is queued
            self._brokers[region] = broker
        return broker

    # ------------------------------------------------------------------------------- rounds

    async def start_round(self, monitor_id: int) -> None:
        """A due check: open a round and queue one job per region (returns at once: the
        round ends when the results are in, not in this call)."""
        if monitor_id in self._open:
            self.metrics.busy += 1
            return
        monitor = self.store.monitor(monitor_id)
        if monitor is None or not monitor.regions:
            return
        now = self.clock()
        key = f"{monitor.id}:{int(now * 1000)}"
        deadline = now + monitor.timeout + self.settings.region_grace
        rnd = _Round(monitor, key, deadline)
        self._rounds[key] = rnd
        self._open[monitor.id] = key
        self.metrics.rounds += 1
        loop = asyncio.get_running_loop()
        rnd.timer = loop.call_later(max(0.0, deadline - now), self._expire, key)
        for region in monitor.regions:
            job = Job(
                key=key,
                region=region,
                monitor_id=monitor.id,
                url=monitor.url,
                origin=monitor.origin,
                timeout=monitor.timeout,
                request=monitor.request,
                follow=monitor.follow,
                expect=monitor.expect,
                deadline=deadline,
            )
            try:
                broker = await self._broker(region)
                await (
                    probe.kicker()
                    .with_broker(broker)
                    .with_task_id(f"{key}:{region}")
                    .kiq(job.to_dict())
                )
            except Exception as exc:  # noqa: BLE001 - taskiq wraps Redis errors in SendTaskError
                # The region then misses this round: degraded if it keeps missing.
                self.metrics.send_failures += 1
                log.warning("could not queue %s's check for region %s: %s", key, region, exc)

    def _expire(self, key: str) -> None:
        rnd = self._rounds.get(key)
        if rnd is not None:
            rnd.timer = None
            self.metrics.incomplete += 1
            self._finish(rnd)

    def _receive(self, entry: bytes, fields: dict[bytes, bytes]) -> None:
        try:
            result = Result.from_fields(fields)
        except ValueError as exc:
            self.metrics.malformed += 1
            self._acks.append(entry)
            log.warning("dropped a result that cannot be read: %s", str(exc)[:200])
            return
        rnd = self._rounds.get(result.key)
        if rnd is None:
            self.metrics.late += 1
            self._acks.append(entry)
            return
        if result.region not in rnd.monitor.regions:
            self.metrics.malformed += 1
            self._acks.append(entry)
            return
        if result.region in rnd.results:
            self.metrics.duplicates += 1
            self._acks.append(entry)
            return
        self.metrics.results += 1
        rnd.results[result.region] = result
        rnd.entries.append(entry)
        if len(rnd.results) == len(rnd.monitor.regions):
            self._finish(rnd)

    def _finish(self, rnd: _Round) -> None:
        """Decide the round and apply the verdict (one transaction), then let its results be
        acknowledged."""
        if rnd.timer is not None:
            rnd.timer.cancel()
        self._rounds.pop(rnd.key, None)
        if self._open.get(rnd.monitor.id) == rnd.key:
            del self._open[rnd.monitor.id]
        try:
            self._apply(rnd)
        except StorageError as exc:
            log.warning("round %s could not be recorded: %s", rnd.key, exc)
        except Exception:
            log.exception("round %s failed", rnd.key)
        self._acks.extend(rnd.entries)

    def _apply(self, rnd: _Round) -> None:
        monitor = self.store.monitor(rnd.monitor.id)  # as it is now, not at the due time
        if monitor is None or monitor.regions != rnd.monitor.regions:
            return  # removed, or its regions changed meanwhile: the round is void
        results = {
            region: RegionResult(region, r.diagnosis, r.control_ok is not False)
            for region, r in rnd.results.items()
        }
        decision = decide(monitor, results)
        self.decisions.append((rnd.key, decision))
        if decision.state == "undecided" or decision.outcome is None:
            self.metrics.undecided += 1
            log.info(
                "round %s undecided: %s of %s regions count",
                rnd.key,
                decision.counted,
                len(monitor.regions),
            )
        else:
            if decision.state == "ok":
                self.metrics.ok += 1
            else:
                self.metrics.failed += 1
            applied = self.monitoring.apply(monitor, decision.outcome)
            self._after(monitor.id, applied)
        self._regions_seen(monitor, set(rnd.results))

    def _after(self, monitor_id: int, applied: Applied) -> None:
        if applied.recheck_after is not None:  # a first failure: confirmed by another round
            self.schedule.recheck(monitor_id, applied.recheck_after)
        if applied.alerts:
            self.wake()

    async def _tick(self) -> None:
        while not self._stopping:
            await asyncio.sleep(self.tick)
            owing = {
                region
                for rnd in self._rounds.values()
                for region in rnd.monitor.regions
                if region not in rnd.results
            }
            for region in sorted(owing):
                try:
                    broker = await self._broker(region)
                    await tick.kicker().with_broker(broker).kiq()
                except Exception as exc:  # noqa: BLE001 - taskiq wraps Redis errors
                    log.debug("tick to region %s failed: %s", region, exc)

    # ----------------------------------------------------------------------- results stream

    async def _read(self) -> None:
        """Read the results stream: first what this consumer was given and never acknowledged
        (a previous life's: dropped as late), then new results."""
        start = "0"
        while not self._stopping:
            try:
                got: _Read = await self._redis.xreadgroup(  # type: ignore[assignment]
                    GROUP,
                    self.consumer,
                    {RESULTS_STREAM: start},
                    count=_READ_COUNT,
                    block=1000,
                )
                entries = [e for _, batch in got for e in batch] if got else []
                if start == "0" and not entries:
                    start = ">"
                for entry, fields in entries:
                    self._receive(entry, fields)
                await self._flush_acks()
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                now = time.monotonic()
                if now - self._read_failed > 60:
                    log.warning("reading the regions' results failed: %s", exc)
                self._read_failed = now
                await asyncio.sleep(1.0)
                if "NOGROUP" in str(exc):
                    with contextlib.suppress(ResponseError, RedisError, OSError):
                        await self._redis.xgroup_create(
                            RESULTS_STREAM, GROUP, id="0", mkstream=True
                        )

    async def _flush_acks(self) -> None:
        if not self._acks:
            return
        acks, self._acks = self._acks, []
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.xack(RESULTS_STREAM, GROUP, *acks)
                pipe.xdel(RESULTS_STREAM, *acks)
                await pipe.execute()
        except BaseException:
            self._acks[:0] = acks  # again with the next batch
            raise

    # ------------------------------------------------------------------- degraded regions

    def _regions_seen(self, monitor: Monitor, answered: set[str]) -> None:
        for region in monitor.regions:
            if region in answered:
                self._missed.pop(region, None)
                if self._episode(region) is not None:
                    self._restored(region)
            else:
                missed = self._missed[region] = self._missed.get(region, 0) + 1
                if missed == SILENT_ROUNDS:
                    self._degraded(region, missed)

    def _episode(self, region: str) -> str | None:
        if region not in self._episodes:
            self._episodes[region] = self.store.get_meta(_META + region)
        return self._episodes[region]

    def _degraded(self, region: str, missed: int) -> None:
        if self._episode(region) is not None:
            return  # an episode already told (before a restart, say)
        now = self.clock()
        episode = f"{now:.6f}"
        log.warning("region %s degraded: no answer in %s rounds in a row", region, missed)
        detail = region
        with self.store.transaction():
            self.store.set_meta(_META + region, episode)
            for channel in self._channels(region):
                alert = Alert(
                    AlertKind.REGION_DEGRADED, datetime.fromtimestamp(now, UTC), detail=detail
                )
                key = f"region_degraded:{region}:{episode}:{_channel_key(channel)}"
                self.store.enqueue(channel, alert, key=key, now=now, payload=alert_to_dict(alert))
        self._episodes[region] = episode  # once committed
        self.wake()

    def _restored(self, region: str) -> None:
        episode = self._episode(region)
        if episode is None:
            return
        now = self.clock()
        log.warning("region %s answers again", region)
        with self.store.transaction():
            self.store.set_meta(_META + region, None)
            told = self.store.rows(
                "SELECT DISTINCT platform, workspace, channel FROM outbox WHERE key LIKE ?",
                (f"region_degraded:{region}:{episode}:%",),
            )
            for row in told:
                channel = Channel(row["platform"], row["workspace"], row["channel"])
                alert = Alert(
                    AlertKind.REGION_RESTORED, datetime.fromtimestamp(now, UTC), detail=region
                )
                key = f"region_restored:{region}:{episode}:{_channel_key(channel)}"
                self.store.enqueue(channel, alert, key=key, now=now, payload=alert_to_dict(alert))
        self._episodes[region] = None
        self.wake()

    def _channels(self, region: str) -> list[Channel]:
        rows = self.store.rows(
            "SELECT DISTINCT platform, workspace, channel FROM monitors"
            " WHERE ',' || regions || ',' LIKE ?",
            (f"%,{region},%",),
        )
        return [Channel(r["platform"], r["workspace"], r["channel"]) for r in rows]


def _channel_key(channel: Channel) -> str:
    return f"{channel.platform}:{channel.workspace}:{channel.channel}"
