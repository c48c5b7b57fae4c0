"""``check502-bot``: run the bot with the chat surfaces the environment configures.

Every setting comes from the environment (the README's settings table). The core's settings,
every configured surface's and the notification targets' (docs/notifications.md) are parsed
first, before the database opens and before any surface starts or connects: a bad setting
stops the bot there with one line naming the variable. So
does a database that cannot be used (one line naming the file and what to do) and a second bot
on the same database (naming the first one's PID). Exit codes: 0 stopped, 2 bad settings or an
unusable database, 3 an unexpected internal error.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any

from adapters.notify import NotifyConfig, build_notifiers
from adapters.registry import Configured, configure
from adapters.telegram.logs import redacted_logs
from adapters.web.config import WebConfig
from bot.core import Bot
from bot.errors import SettingsError, StorageError
from bot.monitorsfile import MonitorsFile, MonitorsFileError
from bot.monitorsfile import load as load_monitors_file
from bot.runtime import run
from bot.settings import Settings
from bot.storage import InstanceLock

log = logging.getLogger("check502")


async def _run(
    settings: Settings,
    surfaces: list[Configured[Any]],
    web: WebConfig,
    notify: NotifyConfig,
    monitors: MonitorsFile | None = None,
) -> None:
    lock = InstanceLock.acquire(settings.db_path)  # held until this process ends
    try:
        # httpx logs each request's URL at INFO: a webhook URL may carry a token.
        with redacted_logs(*notify.secrets):
            await _serve(settings, surfaces, web, notify, monitors)
    finally:
        lock.release()


def _load_monitors(settings: Settings, notify: NotifyConfig) -> MonitorsFile | None:
    """The monitors file, validated (raises :class:`MonitorsFileError`); None without one."""
    if settings.monitors_file is None:
        return None
    return load_monitors_file(
        Path(settings.monitors_file),
        targets=notify.names,
        min_interval=settings.min_interval,
        policy=settings.policy,
        regions=settings.available_regions,
    )


class _Reloader:
    """SIGHUP: the monitors file again, read and validated in a worker thread (a large file
    takes a second), applied on the loop; one reload at a time. An invalid file keeps the
    running monitors and logs one line."""

    def __init__(self, bot: Bot, settings: Settings, notify: NotifyConfig) -> None:
        self.bot = bot
        self.settings = settings
        self.notify = notify
        self.lock = asyncio.Lock()
        self.tasks: set[asyncio.Task[None]] = set()

    def __call__(self) -> None:
        task = asyncio.create_task(self.reload(), name="check502-reload")
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def reload(self) -> None:
        async with self.lock:
            try:
                monitors = await asyncio.to_thread(_load_monitors, self.settings, self.notify)
                if monitors is not None:
                    self.bot.load_monitors(monitors)
            except MonitorsFileError as exc:
                log.error("%s; the running monitors are kept", exc)
            except StorageError as exc:
                log.error("reloading %s failed: %s", self.settings.monitors_file, exc.line())


async def _serve(
    settings: Settings,
    surfaces: list[Configured[Any]],
    web: WebConfig,
    notify: NotifyConfig,
    monitors: MonitorsFile | None = None,
) -> None:
    try:
        bot = Bot(settings, notifiers=build_notifiers(notify))
    except OSError as exc:  # the database's own failures are StorageErrors already
        raise SettingsError(f"cannot start: {exc}") from None
    if monitors is not None:
        try:
            bot.load_monitors(monitors)  # before any surface starts the core
        except BaseException:
            bot.close()
            raise
    server = None
    if web.enabled:  # first, so that /healthz answers (and $PORT is bound) while surfaces connect
        from adapters.web.server import WebServer  # noqa: PLC0415 - aiohttp only with the server

        server = WebServer(bot, web, surfaces=[surface.name for surface in surfaces])
        try:
            await server.start()
        except BaseException:
            bot.close()
            raise
    # SIGTERM (a platform stopping the dyno or container) stops as Ctrl-C does: cleanly.
    task = asyncio.current_task()
    loop = asyncio.get_running_loop()
    if task is not None:
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signal.SIGTERM, task.cancel)
    if settings.monitors_file is not None:
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signal.SIGHUP, _Reloader(bot, settings, notify))
    try:
        await asyncio.gather(*(surface.run(bot, server) for surface in surfaces))
    except asyncio.CancelledError:
        log.warning("check502-bot: stopping")
    finally:
        if server is not None:
            await server.stop()
        await bot.stop()
        bot.close()


def main() -> int:
    logging.basicConfig(
        level=os.environ.get("CHECK502_LOG_LEVEL", "WARNING").upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # APScheduler logs a line per skipped run; the core counts them (Schedule.metrics).
    logging.getLogger("apscheduler").setLevel(logging.ERROR)
    try:
        # Everything parsed and checked before anything opens, connects or listens.
        settings = Settings.from_env(os.environ)
        surfaces = configure(os.environ, settings)
        needed_by = [surface.name for surface in surfaces if surface.needs_http]
        web = WebConfig.from_env(os.environ, needed_by=needed_by)
        notify = NotifyConfig.from_env(os.environ, ca_bundle=settings.ca_bundle)
        monitors = _load_monitors(settings, notify)
        run(_run(settings, surfaces, web, notify, monitors))
    except SettingsError as exc:
        for line in str(exc).splitlines():  # one line per bad variable
            sys.stderr.write(f"check502-bot: {line}\n")
        return 2
    except StorageError as exc:
        log.debug("the database failed", exc_info=True)
        sys.stderr.write(f"check502-bot: {exc.line()}\n")
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        log.debug("unexpected error", exc_info=True)
        sys.stderr.write(
            f"check502-bot: unexpected error ({type(exc).__name__}: {exc});"
            " set CHECK502_LOG_LEVEL=DEBUG for details\n"
        )
        return 3
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
