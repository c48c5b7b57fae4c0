"""``check502-worker --region NAME``: run one region's checks, taken from Redis.

Settings come from the environment, as the bot's do (the same ``CHECK502_*`` names, validated
the same way before anything connects): ``CHECK502_REDIS_URL`` (required), ``CHECK502_REGION``
(or ``--region``), ``CHECK502_RESOLVER``, ``CHECK502_CONTROL_URL``, ``CHECK502_ALLOW_NETWORKS``,
``CHECK502_CA_BUNDLE``, ``CHECK502_AUTH_VARS``, and the worker's own:

* ``CHECK502_WORKER_CONCURRENCY`` (default 100): checks run at once; also the jobs fetched
  per read, so fetched jobs do not age in a batch;
* ``CHECK502_WORKER_IDLE_TIMEOUT`` (default 3m): a job unacknowledged this long (its worker
  died) is taken over by another worker of the region, at its next read of a job;
* ``CHECK502_WORKER_STOP_GRACE`` (default 35s): on SIGTERM or Ctrl-C the worker stops taking
  jobs and gives the checks in flight this long to finish, then exits (jobs not finished are
  not acknowledged: another worker runs them).

Exit codes: 0 stopped, 2 bad settings, 1 Redis cannot be reached at start. The Redis password
is never printed or logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import RedisError
from taskiq.acks import AcknowledgeType
from taskiq.receiver import Receiver

from adapters.worker.probe import Prober
from bot import runtime
from bot.commands import REGION_NAME
from bot.commands.durations import setting_seconds
from bot.errors import SettingsError
from bot.regions.jobs import DEFAULT_IDLE_TIMEOUT, region_broker
from bot.settings import Settings

log = logging.getLogger("check502.worker")

USAGE = "usage: check502-worker --region NAME (or CHECK502_REGION=NAME)"


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    settings: Settings
    region: str
    concurrency: int = 100
    idle_timeout: float = DEFAULT_IDLE_TIMEOUT
    stop_grace: float = 35.0

    @property
    def redis_url(self) -> str:
        assert self.settings.redis_url is not None  # checked by from_env
        return self.settings.redis_url

    @classmethod
    def from_env(cls, argv: Sequence[str], env: Mapping[str, str]) -> WorkerConfig:
        """The worker's configuration; :class:`SettingsError` (one line) when anything is wrong."""
        region = _region_arg(argv) or env.get("CHECK502_REGION", "").strip()
        if not region:
            raise SettingsError(f"no region: {USAGE}")
        if not REGION_NAME.fullmatch(region):
            shown = region if len(region) <= 40 else region[:40] + "…"
            raise SettingsError(
                f"{shown!r} is not a region name (a-z, 0-9, -, at most 32 characters)"
            )
        settings = Settings.from_env(env)
        if settings.redis_url is None:
            raise SettingsError("CHECK502_REDIS_URL is not set: the worker takes its jobs there")
        if settings.regions and region not in settings.regions:
            raise SettingsError(
                f"region {region} is not one of CHECK502_REGIONS ({', '.join(settings.regions)})"
            )
        concurrency = 100
        if (v := env.get("CHECK502_WORKER_CONCURRENCY", "").strip()) != "":
            if not v.isdigit() or not 1 <= int(v) <= 10_000:
                raise SettingsError("CHECK502_WORKER_CONCURRENCY is a whole number from 1 to 10000")
            concurrency = int(v)
        idle = _duration(env, "CHECK502_WORKER_IDLE_TIMEOUT", DEFAULT_IDLE_TIMEOUT, minimum=1.0)
        grace = _duration(env, "CHECK502_WORKER_STOP_GRACE", 35.0, minimum=0.0)
        return cls(settings, region, concurrency, idle, grace)


def _region_arg(argv: Sequence[str]) -> str | None:
    args = list(argv)
    if not args:
        return None
    if args[0] in ("-h", "--help"):
        raise SettingsError(USAGE)
    if len(args) == 2 and args[0] == "--region":
        return args[1].strip()
    if len(args) == 1 and args[0].startswith("--region="):
        return args[0].partition("=")[2].strip()
    raise SettingsError(USAGE)


def _duration(env: Mapping[str, str], name: str, default: float, *, minimum: float) -> float:
    text = env.get(name, "").strip()
    if not text:
        return default
    value = setting_seconds(text)
    if value is None or value < minimum:
        raise SettingsError(f"{name}={text[:40]!r} is not a duration of at least {minimum:g} s")
    return value


async def serve(config: WorkerConfig, *, stop: asyncio.Event | None = None) -> int:
    """Take jobs until ``stop`` is set (SIGTERM / SIGINT set it when run as a program); the
    checks in flight get ``stop_grace`` to finish."""
    stop = stop or asyncio.Event()
    name = f"{config.region}@{socket.gethostname()}:{os.getpid()}"
    broker = region_broker(
        config.redis_url,
        config.region,
        idle_timeout=config.idle_timeout,
        count=config.concurrency,
        block=1.0,
        consumer=name,  # XPENDING names the process holding a job
    )
    redis = Redis.from_url(config.redis_url)
    prober = Prober(config.settings, config.region, redis, name=name, environ=os.environ)
    broker.state.prober = prober
    where = config.settings.redis_display
    try:
        await broker.startup()  # the consumer group, created from "0" if it is not there
    except (RedisError, OSError) as exc:
        await _close(broker, redis)
        print(
            f"check502-worker: cannot reach Redis at {where}: {_no_secret(exc, config)}",
            file=sys.stderr,
        )
        return 1
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    log.warning(
        "check502-worker: region %s, %s checks at once, jobs from %s, on %s",
        config.region,
        config.concurrency,
        where,
        runtime.loop_name(),
    )
    try:
        while not stop.is_set():
            receiver = Receiver(
                broker,
                validate_params=True,
                max_async_tasks=config.concurrency,
                max_prefetch=0,
                run_startup=False,
                ack_type=AcknowledgeType.WHEN_EXECUTED,
                wait_tasks_timeout=config.stop_grace,
            )
            listening = asyncio.ensure_future(receiver.listen(stop))
            stopping = asyncio.ensure_future(stop.wait())
            await asyncio.wait({listening, stopping}, return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
            if not listening.done():
                # The receiver waits up to stop_grace for the checks in flight; this bound
                # holds even if taskiq's own shutdown hangs (taskiq#646).
                await asyncio.wait({listening}, timeout=config.stop_grace + 5.0)
            if not listening.done():
                log.warning("checks still running after the stop grace: not acknowledged")
                listening.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await listening
                break
            failed = None if listening.cancelled() else listening.exception()
            if failed is not None and not stop.is_set():
                log.warning("taking jobs failed (%s): again in 1 s", _no_secret(failed, config))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 1.0)
    finally:
        await _close(broker, redis)
        log.warning(
            "check502-worker: stopped (%s checks done, %s stale jobs dropped)",
            prober.done,
            prober.stale,
        )
    return 0


async def _close(broker: object, redis: Redis) -> None:
    with contextlib.suppress(Exception):
        await broker.shutdown()  # type: ignore[attr-defined]
    with contextlib.suppress(Exception):
        await redis.aclose()


def _no_secret(exc: BaseException, config: WorkerConfig) -> str:
    text = str(exc) or type(exc).__name__
    url = config.settings.redis_url or ""
    display = config.settings.redis_display or ""
    return text.replace(url, display)[:300]


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(
        level=os.environ.get("CHECK502_LOG_LEVEL", "WARNING").upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # taskiq logs every job at INFO and its own shutdown steps at WARNING.
    logging.getLogger("taskiq").setLevel(logging.ERROR)
    try:
        config = WorkerConfig.from_env(sys.argv[1:] if argv is None else argv, os.environ)
    except SettingsError as exc:
        print(f"check502-worker: {exc}", file=sys.stderr)
        return 2
    try:
        return runtime.run(serve(config))
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
