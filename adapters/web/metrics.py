"""``GET /metrics``: the bot in the Prometheus exposition format (docs/metrics.md).

``install(app, bot)`` adds the route. A scrape:

1. copies the core's in-memory counters on the event loop (:func:`core_snapshot`: a few dict
   copies, no I/O);
2. hands that copy to the metrics thread (one worker, its own read-only SQLite connection),
   which reads the database's gauges (three aggregate queries: about 50 ms at 10,000 monitors)
   and encodes everything with prometheus_client, negotiated by ``Accept``
   (``choose_encoder``: 0.0.4 by default, 1.0.0 or OpenMetrics when asked) and gzipped when
   ``Accept-Encoding`` allows;
3. answers with those bytes.

Steps 2's reading and encoding (some 1 s of CPU at 10,000 monitors, 70,000 samples) happen off
the event loop, so a scrape does not hold up due checks (``bench/web`` measures both). A scrape
is bounded: it gives up after :data:`TIMEOUT` seconds (interrupting the read) with a 503, and
more than :data:`MAX_QUEUED` scrapes at once are refused with a 503 at once, so a flood of
scrapes queues neither threads nor memory. A failure is one line of text, never a traceback.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import sqlite3
from typing import TYPE_CHECKING

from aiohttp import web

from bot.core import Bot
from bot.errors import StorageError
from bot.stats import (
    CoreSnapshot,
    SchedulerSnapshot,
    StoreGauges,
    gate_state,
    open_reader,
    read_gauges,
)

if TYPE_CHECKING:
    from adapters.web._exposition import Encoded, Renderer

log = logging.getLogger("check502.web.metrics")

PATH = "/metrics"
TIMEOUT = 8.0
"""Seconds a scrape may take before it is answered with a 503 (Prometheus's default
``scrape_timeout`` is 10 s)."""
MAX_QUEUED = 3
"""Scrapes in progress or waiting for the metrics thread; one more is refused at once."""


def install(app: web.Application, bot: Bot) -> None:
    """Serve ``GET /metrics`` for ``bot`` on ``app`` (and stop its thread on cleanup)."""
    exporter = Exporter(bot)
    app.router.add_get(PATH, exporter.handle)
    app.on_cleanup.append(exporter.close)


def core_snapshot(bot: Bot) -> CoreSnapshot:
    """The core's in-memory figures, copied (call on the event loop's thread)."""
    metrics = bot.schedule.metrics
    return CoreSnapshot(
        stats=bot.stats.snapshot(bot.surfaces),
        scheduler=SchedulerSnapshot(metrics.lag.snapshot(), metrics.skipped, metrics.shed),
        gate=gate_state(bot.monitoring.health, degraded=bot.monitoring.degraded),
        results_dropped=bot.check_faults.count,
        in_flight=bot.monitoring.in_flight,
        platforms=tuple(sorted(bot.surfaces)),
    )


class Exporter:
    """The ``/metrics`` handler and its thread."""

    def __init__(self, bot: Bot) -> None:
        from adapters.web import _exposition  # noqa: PLC0415 - prometheus_client only when served

        self.bot = bot
        self._renderer: Renderer = _exposition.Renderer()
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="check502-metrics"
        )
        self._reader: sqlite3.Connection | None = None
        """The metrics thread's own connection (opened there, used only there)."""
        self._queued = 0

    async def handle(self, request: web.Request) -> web.Response:
        if self._queued >= MAX_QUEUED:
            return _unavailable("too many scrapes at once; try again shortly")
        accept = request.headers.get("Accept", "")
        gzip_ok = _accepts_gzip(request.headers.get("Accept-Encoding", ""))
        core = core_snapshot(self.bot)
        now = self.bot.clock()
        loop = asyncio.get_running_loop()
        memory = self.bot.store.path == ":memory:"
        gauges: StoreGauges | None = None
        if memory:  # no second connection can see it (tests): read here, it is small
            try:
                gauges = read_gauges(self.bot.store.db.conn, now, path=":memory:")
            except StorageError as exc:
                return self._failed(exc)
        self._queued += 1
        job = self._pool.submit(self._scrape, core, gauges, now, accept, gzip_ok)
        # Counted down when the thread is done with it, not when this request gives up.
        job.add_done_callback(lambda _: loop.call_soon_threadsafe(self._done))
        try:
            async with asyncio.timeout(TIMEOUT):
                encoded = await asyncio.wrap_future(job)
        except TimeoutError:
            job.cancel()  # not started yet: it never will
            reader = self._reader
            if reader is not None:
                reader.interrupt()  # a read still running ends now
            log.warning("a /metrics scrape took over %s s; answered 503", TIMEOUT)
            return _unavailable(f"the metrics took over {TIMEOUT:g} s to read")
        except StorageError as exc:
            return self._failed(exc)
        except Exception:
            log.exception("a /metrics scrape failed")
            return web.Response(status=500, text="metrics failed; the details are in the log\n")
        headers = {"Content-Type": encoded.content_type, "Vary": "Accept, Accept-Encoding"}
        if encoded.gzipped:
            headers["Content-Encoding"] = "gzip"
        return web.Response(body=encoded.body, headers=headers)

    def _scrape(
        self,
        core: CoreSnapshot,
        gauges: StoreGauges | None,
        now: float,
        accept: str,
        gzip_ok: bool,
    ) -> Encoded:
        """In the metrics thread: read the database's gauges (unless given), encode."""
        if gauges is None:
            if self._reader is None:
                self._reader = open_reader(self.bot.store.path)
            gauges = read_gauges(self._reader, now, path=self.bot.store.path)
        return self._renderer.render(core, gauges, accept=accept, gzip_ok=gzip_ok)

    def _done(self) -> None:
        self._queued -= 1

    def _failed(self, exc: StorageError) -> web.Response:
        log.warning("a /metrics scrape could not read the database: %s", exc.line())
        return _unavailable(f"the database could not be read ({exc.reason})")

    async def close(self, _app: web.Application) -> None:
        """Stop the thread (after the scrape it may be encoding) and close its connection."""
        await asyncio.get_running_loop().run_in_executor(None, self._pool.shutdown, True)
        if self._reader is not None:
            self._reader.close()
            self._reader = None


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
