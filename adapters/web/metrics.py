"""``GET /metrics``: the bot in the Prometheus exposition format (docs/metrics.md).

``install(app, bot)`` adds the route. A scrape:

1. copies the core's in-memory counters on the event loop (:func:`core_snapshot`: a few dict
   copies, no I/O);
2. sends that copy to the metrics worker, a process of its own (:mod:`adapters.web._scraper`),
   which reads the database's gauges on its own read-only connection (three aggregate queries,
   some 50 ms at 10,000 monitors) and encodes everything with prometheus_client, negotiated by
   ``Accept`` (``choose_encoder``: 0.0.4 by default, 1.0.0 or OpenMetrics when asked) and
   gzipped when ``Accept-Encoding`` allows;
3. answers with the bytes it gets back.

At 10,000 monitors step 2 is some 70,000 samples and about 1 s of CPU: in the bot's own process,
even in a thread, it would hold the GIL the event loop needs and delay due checks
(``bench/web`` measures that they are not). A scrape is bounded: once the worker has it, after
``timeout`` (:data:`TIMEOUT`) seconds it is answered with a 503 and the worker is killed and
replaced at once, in the background. Scrapes go to the worker one at a time; waiting for the
ones before, or for a worker's start (:data:`START_LIMIT`), is bounded too, and one more than
:data:`MAX_QUEUED` at once is refused with a 503 at once. A failure is one line of text, never a
traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import pickle
import struct
import sys

from aiohttp import web

from adapters.web._scraper import MAX_MESSAGE, READY, Encoded, Failure, Request
from bot.core import Bot
from bot.errors import StorageError
from bot.stats import CoreSnapshot, SchedulerSnapshot, StoreGauges, gate_state, read_gauges

log = logging.getLogger("check502.web.metrics")

PATH = "/metrics"
TIMEOUT = 20.0
"""Seconds a scrape may take before it is answered with a 503 and the worker replaced. At
10,000 monitors a scrape is about 1 s of CPU, and takes several seconds on busy cores (the
worker yields to the checks); the worker's start (once, 1–2 s) counts too."""
START_LIMIT = 30.0
"""Seconds a new worker may take to start (import prometheus_client and the core's modules:
1–2 s, more on busy cores), not counted in a scrape's :data:`TIMEOUT`."""
MAX_QUEUED = 3
"""Scrapes in progress or waiting for the worker; one more is refused at once."""
_LENGTH = struct.Struct(">I")


def install(app: web.Application, bot: Bot, *, timeout: float = TIMEOUT) -> None:
    """Serve ``GET /metrics`` for ``bot`` on ``app``; the worker starts with the app and stops
    at its cleanup. A scrape is answered within ``timeout`` seconds."""
    exporter = Exporter(bot, timeout=timeout)
    app.router.add_get(PATH, exporter.handle)
    app.on_startup.append(exporter.start)
    app.on_cleanup.append(exporter.close)


def core_snapshot(bot: Bot) -> CoreSnapshot:
    """The core's in-memory figures, copied (call on the event loop's thread)."""
    metrics = bot.check_metrics  # the shards' when they check, else the front's schedule
    return CoreSnapshot(
        stats=bot.stats.snapshot(bot.surfaces),
        scheduler=SchedulerSnapshot(metrics.lag.snapshot(), metrics.skipped, metrics.shed),
        gate=gate_state(bot.monitoring.health, degraded=bot.monitoring.degraded),
        results_dropped=bot.check_faults.count,
        in_flight=bot.monitoring.in_flight,
        platforms=tuple(sorted(bot.surfaces)),
    )


class Exporter:
    """The ``/metrics`` handler and its worker process."""

    def __init__(self, bot: Bot, *, timeout: float = TIMEOUT) -> None:
        self.bot = bot
        self.timeout = timeout
        self._worker: asyncio.subprocess.Process | None = None
        self._lock = asyncio.Lock()
        """Held while the worker starts or answers: one request on its pipe at a time."""
        self._queued = 0
        self._starting: set[asyncio.Task[None]] = set()

    async def start(self, _app: web.Application | None = None) -> None:
        """Start the worker now, so that a scrape does not wait for it (at the app's start, and
        after a worker was discarded); a failure is logged, and the next scrape tries again."""
        async with self._lock:
            try:
                await self._ensure_worker()
            except (OSError, TimeoutError, EOFError, ValueError) as exc:
                self._discard(restart=False)
                log.warning("the metrics worker did not start (%s); /metrics tries again", exc)

    async def handle(self, request: web.Request) -> web.Response:
        if self._queued >= MAX_QUEUED:
            return _unavailable("too many scrapes at once; try again shortly")
        self._queued += 1
        try:
            return await self._scrape(request)
        finally:
            self._queued -= 1

    async def _scrape(self, request: web.Request) -> web.Response:
        core = core_snapshot(self.bot)
        now = self.bot.clock()
        gauges: StoreGauges | None = None
        if self.bot.store.path == ":memory:":  # no other process can open it (tests): read here
            try:
                gauges = read_gauges(self.bot.store.db.conn, now, path=":memory:")
            except StorageError as exc:
                return self._failed(exc.reason)
        ask = Request(
            core,
            now,
            request.headers.get("Accept", ""),
            _accepts_gzip(request.headers.get("Accept-Encoding", "")),
            gauges,
        )
        try:
            # Behind the scrapes before this one, or a worker's start: bounded by both.
            async with asyncio.timeout(START_LIMIT + self.timeout):
                await self._lock.acquire()
        except TimeoutError:
            return _unavailable("the metrics worker is busy; try again shortly")
        try:
            try:
                await self._ensure_worker()
            except (OSError, TimeoutError, EOFError, ValueError) as exc:
                self._discard(restart=False)
                log.warning("the metrics worker did not start (%s)", exc)
                return _unavailable("the metrics worker did not start; try again")
            try:
                # The scrape's own limit, from when the worker is there to answer it.
                async with asyncio.timeout(self.timeout):
                    answer = await self._call(ask)
            except TimeoutError:
                log.warning(
                    "a /metrics scrape took over %s s; the worker is replaced", self.timeout
                )
                self._discard()
                return _unavailable(f"the metrics took over {self.timeout:g} s to read")
            except (OSError, EOFError, ValueError, pickle.PickleError) as exc:
                log.warning(
                    "the metrics worker failed (%s: %s); it is replaced", type(exc).__name__, exc
                )
                self._discard()
                return _unavailable("the metrics worker failed; try again")
            except asyncio.CancelledError:
                self._discard()  # its answer to this request would be read by the next one
                raise
        finally:
            self._lock.release()
        if isinstance(answer, Failure):
            if answer.storage:
                return self._failed(answer.message)
            log.error("a /metrics scrape failed in the worker: %s", answer.message)
            return web.Response(status=500, text="metrics failed; the details are in the log\n")
        if not isinstance(answer, Encoded):
            self._discard()
            return _unavailable("the metrics worker failed; try again")
        headers = {"Content-Type": answer.content_type, "Vary": "Accept, Accept-Encoding"}
        if answer.gzipped:
            headers["Content-Encoding"] = "gzip"
        return web.Response(body=answer.body, headers=headers)

    async def _ensure_worker(self) -> asyncio.subprocess.Process:
        """The worker, started (and its "ready" awaited, within :data:`START_LIMIT`) if there
        is none alive; the caller holds the lock."""
        worker = self._worker
        if worker is not None and worker.returncode is None:
            return worker
        worker = self._worker = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "adapters.web._scraper",
            self.bot.store.path,
            str(os.getpid()),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            limit=MAX_MESSAGE,
        )
        async with asyncio.timeout(START_LIMIT):
            ready = await _read(worker)
        if ready != READY:
            raise ValueError(f"the worker said {ready!r} at its start")
        return worker

    async def _call(self, request: Request) -> object:
        """One request to the worker and its answer (the caller holds the lock)."""
        worker = await self._ensure_worker()
        assert worker.stdin is not None
        data = pickle.dumps(request, protocol=pickle.HIGHEST_PROTOCOL)
        worker.stdin.write(_LENGTH.pack(len(data)) + data)
        await worker.stdin.drain()
        return await _read(worker)

    def _discard(self, *, restart: bool = True) -> None:
        """Kill the worker (the child watcher reaps it) and, with ``restart``, start a new one
        in the background, so that the next scrape finds it ready."""
        worker, self._worker = self._worker, None
        if worker is not None and worker.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                worker.kill()
        if restart:
            task = asyncio.get_running_loop().create_task(self.start())
            self._starting.add(task)
            task.add_done_callback(self._starting.discard)

    def _failed(self, reason: str) -> web.Response:
        log.warning("a /metrics scrape could not read the database (%s)", reason)
        return _unavailable(f"the database could not be read ({reason})")

    async def close(self, _app: web.Application | None = None) -> None:
        """Stop the worker: its stdin closes and it ends (killed if it does not, within 5 s)."""
        for task in list(self._starting):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        worker, self._worker = self._worker, None
        if worker is None or worker.returncode is not None:
            return
        assert worker.stdin is not None
        worker.stdin.close()
        try:
            async with asyncio.timeout(5):
                await worker.wait()
        except TimeoutError:
            worker.kill()
            await worker.wait()


async def _read(worker: asyncio.subprocess.Process) -> object:
    """The worker's next message (its "ready", or an answer)."""
    assert worker.stdout is not None
    head = await worker.stdout.readexactly(_LENGTH.size)
    (length,) = _LENGTH.unpack(head)
    if length > MAX_MESSAGE:
        raise ValueError(f"the worker sent {length} bytes")
    # From the worker this module started, over its own pipe.
    value: object = pickle.loads(await worker.stdout.readexactly(length))
    return value


def _unavailable(why: str) -> web.Response:
    return web.Response(
        status=503, text=f"metrics unavailable: {why}\n", headers={"Retry-After": "5"}
    )


def _accepts_gzip(header: str) -> bool:
    """``Accept-Encoding`` names gzip (or ``*``) without ``q=0``."""
    for part in header.split(","):
        name, _, params = part.partition(";")
        if name.strip().lower() not in ("gzip", "*"):
            continue
        q = params.strip().lower()
        if q.startswith("q="):
            try:
                return float(q[2:]) > 0
            except ValueError:
                return False
        return True
    return False
