"""What travels through Redis between the coordinator and the probe workers.

* **Jobs** go to one Redis stream per region (``check502:probe:<region>``), through taskiq's
  ``RedisStreamBroker`` and the one shared task :data:`PROBE_TASK`: a JSON object
  (:class:`Job`) with the check to run, the round's key (``<monitor>:<due ms>``) and the
  round's deadline, after which a worker drops the job unrun (a backlog never runs stale checks).
  Consumer group ``check502``, read from ``0`` (a job queued before any worker started is still
  delivered), acknowledged **when executed** (after the result below is written): a job a dead
  worker held is claimed by another one of its region (taskiq-redis's ``XAUTOCLAIM`` after
  ``idle_timeout``) and runs again. At least once, so results are counted once by the
  coordinator, by (key, region).
* **Results** go back on one stream, ``check502:results`` (an ``XADD`` by the worker), which the
  coordinator reads with its own consumer group and acknowledges (``XACK`` + ``XDEL``) once the
  round they belong to was applied. Not taskiq's result backend: waiting on a result there polls
  one key per task every 0.2 s, which at a few thousand checks per second is more Redis commands
  than the checks themselves, and its default serializer is pickle.

Nothing here is pickled: jobs are JSON, diagnoses cross as :mod:`checks.wire`.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from redis.asyncio import Redis
from taskiq import AckableMessage, BrokerMessage, Context, TaskiqDepends, async_shared_broker
from taskiq_redis import RedisStreamBroker

from bot.commands import CommandError, Expect
from checks import Diagnosis, RequestSpec, UsageError
from checks.jsonout import request_from_dict, request_to_dict
from checks.wire import diagnosis_from_json, diagnosis_to_json

PROBE_TASK = "check502.probe"
RESULTS_STREAM = "check502:results"
GROUP = "check502"
"""The consumer group of every region's stream (and of the results stream)."""
MAX_JOB_SECONDS = 120.0
"""The longest a job may run in a worker (taskiq's ``timeout`` label): far above the longest
check (30 s, plus the worker's control check), far below the reclaim ``idle_timeout``."""
DEFAULT_IDLE_TIMEOUT = 180.0
"""Seconds a delivered job may stay unacknowledged before another worker of its region takes
it over (``CHECK502_WORKER_IDLE_TIMEOUT``)."""
STREAM_MAXLEN = 200_000
"""Entries each stream keeps at most (approximately): far above a worst backlog of 100,000
monitors' due checks; XACK does not delete, so an unbounded stream would only grow."""
_KEY = re.compile(r"[0-9]{1,18}:[0-9]{1,18}")
_REGION = re.compile(r"[a-z0-9-]{1,32}")


def queue_name(region: str) -> str:
    """The Redis stream of ``region``'s jobs."""
    return f"check502:probe:{region}"


class StreamBroker(RedisStreamBroker):
    """taskiq-redis's stream broker with one Redis client for its queueing and acknowledging:
    the library builds a new client (and its table of ~170 response callbacks) for every XADD
    and every XACK, which was a third of a worker's CPU per check (``bench/workers``)."""

    def __init__(self, url: str, **kwargs: Any) -> None:
        super().__init__(url, **kwargs)
        self._client = Redis(connection_pool=self.connection_pool)
        self.claim_every = min(5.0, self.idle_timeout / 2000)
        """Seconds between two take-overs of dead workers' jobs (half the idle timeout, at
        most 5 s): a dead worker's job starts again within ``idle_timeout`` + this."""

    async def kick(self, message: BrokerMessage) -> None:
        queue = message.labels.get("queue_name") or self.queue_name
        await self._client.xadd(
            queue, {b"data": message.message}, maxlen=self.maxlen, approximate=self.approximate
        )

    def _ack_generator(self, id: str, queue_name: str) -> Callable[[], Awaitable[None]]:
        async def _ack() -> None:
            await self._client.xack(queue_name, self.consumer_group_name, id)

        return _ack

    async def shutdown(self) -> None:
        await self._client.aclose(close_connection_pool=False)
        await super().shutdown()

    async def listen(self) -> AsyncGenerator[AckableMessage, None]:
        """taskiq-redis's read loop, with the take-over of dead workers' jobs (XAUTOCLAIM,
        under the library's lock) at most every :attr:`claim_every` seconds instead of after
        every read that got a job: with several workers sharing a busy stream, each read is
        small, and the claim (a lock, a pipeline) cost more than the jobs it came with."""
        claimed = float("-inf")
        async with Redis(connection_pool=self.connection_pool) as conn:
            while True:
                fetched = await conn.xreadgroup(
                    self.consumer_group_name,
                    self.consumer_name,
                    {self.queue_name: ">"},
                    block=self.block,
                    noack=False,
                    count=self.count,
                )
                if not fetched:
                    continue
                for stream, batch in fetched:  # type: ignore[str-unpack]
                    for entry, fields in batch:  # type: ignore[str-unpack,union-attr]
                        yield AckableMessage(
                            data=fields[b"data"],  # type: ignore[index,arg-type]
                            ack=self._ack_generator(entry, stream),  # type: ignore[arg-type]
                        )
                now = time.monotonic()
                if now - claimed < self.claim_every:
                    continue
                claimed = now
                pipe = conn.pipeline()
                lock = pipe.lock(
                    f"autoclaim:{self.consumer_group_name}:{self.queue_name}",
                    timeout=self.unacknowledged_lock_timeout,
                )
                await lock.acquire()
                await pipe.xautoclaim(
                    name=self.queue_name,
                    groupname=self.consumer_group_name,
                    consumername=self.consumer_name,
                    min_idle_time=self.idle_timeout,
                    count=self.unacknowledged_batch_size,
                )
                await lock.release()
                results = await pipe.execute()
                for entry, fields in results[1][1]:
                    yield AckableMessage(
                        data=fields[b"data"], ack=self._ack_generator(entry, self.queue_name)
                    )


def region_broker(
    url: str,
    region: str,
    *,
    idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
    count: int = 100,
    block: float = 2.0,
    consumer: str | None = None,
) -> StreamBroker:
    """The taskiq broker of one region's queue, for the coordinator (kicks) and its workers
    (reads ``count`` jobs at a time, about the jobs one worker runs at once, so that fetched
    jobs do not age in a batch towards ``idle_timeout``)."""
    return StreamBroker(
        url,
        queue_name=queue_name(region),
        consumer_group_name=GROUP,
        consumer_id="0",
        xread_block=max(1, int(block * 1000)),
        xread_count=count,
        maxlen=STREAM_MAXLEN,
        approximate=True,
        idle_timeout=max(1, int(idle_timeout * 1000)),
        unacknowledged_batch_size=count,
        unacknowledged_lock_timeout=10.0,
        consumer_name=consumer,
    )


@dataclass(frozen=True, slots=True)
class Job:
    """One region's check of one monitor in one round."""

    key: str
    """``<monitor id>:<due time in ms>``: the round it belongs to."""
    region: str
    monitor_id: int
    url: str
    origin: str | None
    timeout: float
    request: RequestSpec
    """Credentials by variable name: each worker reads the values from its own environment."""
    follow: bool
    expect: Expect
    deadline: float
    """When the round expires (epoch seconds): a job that starts after it is dropped unrun."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "region": self.region,
            "monitor": self.monitor_id,
            "url": self.url,
            "origin": self.origin,
            "timeout": self.timeout,
            "request": request_to_dict(self.request),
            "follow": self.follow,
            "expect": str(self.expect),
            "deadline": self.deadline,
        }

    @classmethod
    def from_dict(cls, data: object) -> Job:
        """The job :meth:`to_dict` wrote; ``ValueError`` for anything else."""
        keys = {"key", "region", "monitor", "url", "origin", "timeout", "request", "follow"}
        if not isinstance(data, dict) or set(data) != keys | {"expect", "deadline"}:
            raise ValueError("not a probe job")
        key, region, url, origin = data["key"], data["region"], data["url"], data["origin"]
        timeout, deadline, monitor = data["timeout"], data["deadline"], data["monitor"]
        if not (isinstance(key, str) and _KEY.fullmatch(key)):
            raise ValueError("a probe job's key is <monitor>:<due>")
        if not (isinstance(region, str) and _REGION.fullmatch(region)):
            raise ValueError("a probe job's region is a region name")
        if not isinstance(url, str) or not 0 < len(url) <= 4096:
            raise ValueError("a probe job's url is a string")
        if origin is not None and (not isinstance(origin, str) or len(origin) > 4096):
            raise ValueError("a probe job's origin is a string or null")
        if not _number(timeout) or not 0 < timeout <= 60:
            raise ValueError("a probe job's timeout is 0 to 60 s")
        if not _number(deadline) or isinstance(monitor, bool) or not isinstance(monitor, int):
            raise ValueError("a probe job's deadline and monitor are numbers")
        if not isinstance(data["follow"], bool) or not isinstance(data["expect"], str):
            raise ValueError("a probe job's follow is a boolean, its expect a string")
        request = data["request"]
        try:
            spec = request_from_dict(request) if request is not None else None
            expect = Expect.parse(data["expect"])
        except (KeyError, TypeError, ValueError, CommandError, UsageError) as exc:
            raise ValueError(f"a probe job's request or expect is invalid: {exc}") from None
        return cls(
            key=key,
            region=region,
            monitor_id=monitor,
            url=url,
            origin=origin,
            timeout=float(timeout),
            request=spec if spec is not None else RequestSpec(),
            follow=data["follow"],
            expect=expect,
            deadline=float(deadline),
        )


def _number(value: object) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )


@dataclass(frozen=True, slots=True)
class Result:
    """One region's answer for one round, as it travels on :data:`RESULTS_STREAM`."""

    key: str
    region: str
    diagnosis: Diagnosis
    control_ok: bool | None
    """The worker's own control check: True it reached its control target, False it did not
    (its network is broken: the result does not count), None not asked (the target answered,
    or the worker has no control target)."""
    worker: str = ""

    def fields(self) -> dict[str, str]:
        control = {True: "ok", False: "failed", None: "-"}[self.control_ok]
        return {
            "key": self.key,
            "region": self.region,
            "control": control,
            "worker": self.worker,
            "diagnosis": diagnosis_to_json(self.diagnosis),
        }

    @classmethod
    def from_fields(cls, fields: Mapping[bytes, bytes]) -> Result:
        """The result :meth:`fields` wrote (as redis-py reads it back); ``ValueError`` else."""
        try:
            key = fields[b"key"].decode()
            region = fields[b"region"].decode()
            control = {b"ok": True, b"failed": False, b"-": None}[fields[b"control"]]
            worker = fields.get(b"worker", b"").decode()[:200]
            raw = fields[b"diagnosis"]
        except (KeyError, UnicodeDecodeError, AttributeError):
            raise ValueError("not a probe result") from None
        if not _KEY.fullmatch(key) or not _REGION.fullmatch(region):
            raise ValueError("not a probe result: bad key or region")
        return cls(key, region, diagnosis_from_json(raw), control, worker)


TICK_TASK = "check502.tick"


@async_shared_broker.task(task_name=TICK_TASK, ack_type="when_executed")
async def tick() -> None:
    """Nothing: queued by the coordinator while a region has rounds open, because taskiq-redis
    takes over a dead worker's jobs (XAUTOCLAIM) only after a read that got a message; on a
    quiet stream a dead worker's job would wait for the next due check, too late for its round."""


class Prober(Protocol):
    """What a worker process puts in its broker's state to run the jobs it takes."""

    def __call__(self, job: dict[str, Any]) -> Awaitable[None]: ...


@async_shared_broker.task(
    task_name=PROBE_TASK,
    ack_type="when_executed",  # never when_received: a killed worker's job would be lost
    timeout=MAX_JOB_SECONDS,
)
async def probe(job: dict[str, Any], context: Context = TaskiqDepends()) -> None:  # noqa: B008
    """Run one job in a worker: the worker's :class:`Prober` (its broker's ``state.prober``)."""
    prober: Prober = context.state.prober
    await prober(job)
