"""The bot's one HTTP server: every surface's endpoints, ``/healthz`` and ``/readyz``, one port.

The server starts before the surfaces (so a platform that wants ``$PORT`` bound within a minute
sees it bound while a surface still connects) and stops after them. A surface adds its
endpoints when it is built, with :meth:`WebServer.mount` (Slack's ``/slack/events`` and OAuth
pages, the Telegram webhook), and says whether it is connected with :meth:`WebServer.readiness`.
aiohttp's router is frozen once the server runs, so mounted endpoints live in a table that one
catch-all route looks up; the routes known before the start (the health endpoints and the
feature modules' :data:`INSTALLERS`) are ordinary aiohttp routes and take precedence.

``GET /healthz`` is 200 ``ok`` while the process runs. ``GET /readyz`` is 200 when the database
takes a write (:meth:`bot.storage.Store.write_probe`, bounded), the scheduler runs and every
configured surface says it is connected; else 503. Its JSON body names each part:
``{"ready": false, "checks": {"database": "ok", "scheduler": "ok", "slack": "starting"}}``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from http import HTTPStatus

from aiohttp import web

from adapters.web import metrics, pages
from adapters.web.config import WebConfig
from bot.core import Bot
from bot.errors import SettingsError, StorageError
from bot.shards import Shards

log = logging.getLogger("check502.web")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ReadyHook = Callable[[], Awaitable[str | None]]
"""A surface's readiness: None when connected, else the reason it is not (a few words)."""
Installer = Callable[[web.Application, Bot], None]
"""A feature module's ``install(app, bot)``: adds its routes to the app before it starts."""

INSTALLERS: tuple[Installer, ...] = (metrics.install, pages.install)
"""The web features' installers (``/metrics``, the status pages and badges), in order."""

OK = "ok"
STARTING = "starting"
CHECK_TIMEOUT = 2.0
"""Seconds each part of ``/readyz`` may take; a part that takes longer is not ready."""
PROBE_LOCK_WAIT = 0.5
"""Seconds the database probe waits for a lock another program holds. The probe runs on the
bot's own connection, on the event loop, so this is also how long it can hold the loop."""
PROBE_EVERY = 1.0
"""Seconds a database probe's answer is reused: a flood of ``/readyz`` is not a flood of writes."""
SHUTDOWN_TIMEOUT = 3.0
"""Seconds requests still running get to finish when the server stops."""


async def healthz(request: web.Request) -> web.Response:
    return web.Response(text="ok\n")


class WebServer:
    """The aiohttp app and its runner. Build, :meth:`start`, let surfaces mount, :meth:`stop`."""

    def __init__(
        self,
        bot: Bot,
        config: WebConfig,
        *,
        surfaces: Sequence[str] = (),
        installers: Sequence[Installer] = INSTALLERS,
    ) -> None:
        self.bot = bot
        self.config = config
        self._mounted: dict[str, dict[str, Handler]] = {}
        self._ready: dict[str, ReadyHook | None] = dict.fromkeys(surfaces)
        """Every configured surface; None until it gives its hook (it is still starting)."""
        self._probed: tuple[float, str | None] | None = None
        """When the database was last probed, and its answer."""
        self.app = web.Application()
        self.app.router.add_get("/healthz", healthz)
        self.app.router.add_get("/readyz", self._readyz)
        for install in installers:
            install(self.app, bot)
        self.app.router.add_route("*", "/{path:.*}", self._dispatch)
        self._runner: web.AppRunner | None = None

    # ---------------------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        """Listen on ``config.host`` and each of ``config.ports``; a port that cannot be bound
        is a :class:`SettingsError` naming it."""
        runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT)
        await runner.setup()
        self._runner = runner
        host = self.config.host
        for port in self.config.ports:
            try:
                await web.TCPSite(runner, host, port).start()
            except OSError as exc:
                await self.stop()
                raise SettingsError(
                    f"CHECK502_LISTEN={host} PORT={port}: cannot listen there"
                    f" ({exc.strerror or exc})"
                ) from None
        log.info("web: listening on %s", self.where)

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    @property
    def addresses(self) -> list[tuple[str, int]]:
        """The (host, port) pairs listened on; the real port when 0 was asked for."""
        if self._runner is None:
            return []
        return [(str(a[0]), int(a[1])) for a in self._runner.addresses]

    @property
    def where(self) -> str:
        """``host:port`` of each address, for log lines."""
        return ", ".join(f"{h}:{p}" for h, p in self.addresses)

    @property
    def url(self) -> str:
        """``http://host:port`` of the first address (for tests and log lines)."""
        host, port = self.addresses[0]
        return f"http://{host}:{port}"

    # --------------------------------------------------------------------- surfaces' hooks

    def mount(self, method: str, path: str, handler: Handler) -> None:
        """Serve ``method path`` with ``handler``, before or after the start."""
        method = method.upper()
        # A path an aiohttp route serves (``/healthz``, an installer's) would never reach it.
        taken = any(
            r.canonical == path for r in self.app.router.resources() if "{" not in r.canonical
        )
        if taken or method in self._mounted.get(path, {}):
            raise SettingsError(f"two endpoints want {method} {path}: give one another path")
        self._mounted.setdefault(path, {})[method] = handler

    def readiness(self, surface: str, hook: ReadyHook) -> None:
        """How ``surface`` says whether it is connected (its part of ``/readyz``)."""
        self._ready[surface] = hook

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        methods = self._mounted.get(request.path)
        if methods is None:
            if None in self._ready.values():  # a surface may not have mounted its path yet
                raise web.HTTPServiceUnavailable(text="starting\n", headers={"Retry-After": "1"})
            raise web.HTTPNotFound()
        handler = methods.get(request.method)
        if handler is None:
            raise web.HTTPMethodNotAllowed(request.method, sorted(methods))
        return await handler(request)

    # -------------------------------------------------------------------------- readiness

    async def _readyz(self, request: web.Request) -> web.Response:
        parts: dict[str, Awaitable[str | None]] = {
            "database": self._database(),
            "scheduler": self._scheduler(),
        }
        if self.bot.shards is not None:
            parts["shards"] = self._shards(self.bot.shards)
        for name, hook in self._ready.items():
            parts[name] = _starting() if hook is None else hook()
        answers = await asyncio.gather(*(_bounded(name, part) for name, part in parts.items()))
        checks = dict(zip(parts, answers, strict=True))
        ready = all(answer == OK for answer in checks.values())
        status = HTTPStatus.OK if ready else HTTPStatus.SERVICE_UNAVAILABLE
        return web.json_response({"ready": ready, "checks": checks}, status=status)

    async def _database(self) -> str | None:
        """The write probe's answer; at most one probe per :data:`PROBE_EVERY` seconds, however
        often ``/readyz`` is asked (each waits up to :data:`PROBE_LOCK_WAIT` on the loop)."""
        now = time.monotonic()
        if self._probed is None or now - self._probed[0] >= PROBE_EVERY:
            try:
                self.bot.store.write_probe(PROBE_LOCK_WAIT)
                answer = None
            except StorageError as exc:
                answer = f"not writable ({exc.reason})"
            self._probed = (time.monotonic(), answer)
        return self._probed[1]

    async def _scheduler(self) -> str | None:
        return None if self.bot.schedule.scheduler.running else "not running"

    @staticmethod
    async def _shards(shards: Shards) -> str | None:
        up = shards.up
        if up == shards.count:
            return None
        return STARTING if not shards.were_up else f"{up} of {shards.count} shards up"


async def _starting() -> str:
    return STARTING


async def _bounded(name: str, part: Awaitable[str | None]) -> str:
    """``part``'s answer as ``/readyz`` shows it: ``ok`` or the reason, within the bound."""
    try:
        async with asyncio.timeout(CHECK_TIMEOUT):
            reason = await part
    except TimeoutError:
        return f"no answer within {CHECK_TIMEOUT:g} s"
    except Exception as exc:  # noqa: BLE001 - a hook's bug is one "not ready", not a 500
        log.warning("readyz: the %s check failed (%s: %s)", name, type(exc).__name__, exc)
        return f"check failed ({type(exc).__name__})"
    return OK if reason is None else reason


async def always_ready() -> None:
    """The readiness of a surface that is connected once it runs (the console)."""
    return None


__all__ = ["INSTALLERS", "Handler", "Installer", "ReadyHook", "WebServer", "always_ready"]
